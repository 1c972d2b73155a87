"""Learning rate per optimizer step, as one array computed up front (NumPy, no MindSpore).

The optimizer indexes it with its own step counter (`global_step`), which is saved in every
checkpoint, so a resumed run continues the schedule where it stopped.

    poly:     lr * (1 - t / T) ** power           (DeepLab)
    cosine:   min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2
    constant: lr
with a linear warm-up from lr * warmup_factor to lr over the first warmup_iterations steps
(t counts from the end of the warm-up, T the steps after it); poly never goes below min_lr.
"""
from __future__ import annotations

import numpy as np

from archspec.training.recipe import Recipe


def learning_rates(recipe: Recipe, total_steps: int) -> np.ndarray:
    warm = min(recipe.warmup_iterations, total_steps)
    rest = total_steps - warm
    t = np.arange(rest, dtype=np.float64)
    T = max(rest, 1)
    if recipe.schedule == "poly":
        lrs = np.maximum(recipe.lr * (1.0 - t / T) ** recipe.power, recipe.min_lr)
    elif recipe.schedule == "cosine":
        lrs = recipe.min_lr + (recipe.lr - recipe.min_lr) * 0.5 * (1.0 + np.cos(np.pi * t / T))
    else:
        lrs = np.full(rest, recipe.lr)
    if warm:
        ramp = recipe.lr * (recipe.warmup_factor + (1.0 - recipe.warmup_factor) * np.arange(warm) / warm)
        lrs = np.concatenate([ramp, lrs])
    return lrs.astype(np.float32)
