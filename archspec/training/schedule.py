"""Learning rate per optimizer step (no MindSpore), computed when the step asks for it: a run of
any length costs no memory up front.

The loop indexes it with the step counter saved in every checkpoint, so a resumed run continues
the schedule where it stopped.

    poly:     lr * (1 - t / T) ** power           (DeepLab)
    cosine:   min_lr + (lr - min_lr) * (1 + cos(pi * t / T)) / 2
    constant: lr
with a linear warm-up from lr * warmup_factor to lr over the first warmup_iterations steps
(t counts from the end of the warm-up, T the steps after it); poly never goes below min_lr.
Values are rounded to float32, the optimizer's learning-rate type.
"""
from __future__ import annotations

import math

import numpy as np

from archspec.training.recipe import Recipe


class LearningRates:
    """`lrs[step]` for 0 <= step < total_steps (and slices, as NumPy arrays)."""

    def __init__(self, recipe: Recipe, total_steps: int) -> None:
        self.recipe = recipe
        self.total = total_steps
        self.warm = min(recipe.warmup_iterations, total_steps)
        self.rest = max(total_steps - self.warm, 1)

    def __len__(self) -> int:
        return self.total

    def __getitem__(self, step):
        if isinstance(step, slice):
            return np.array([self[i] for i in range(*step.indices(self.total))], dtype=np.float32)
        if not 0 <= step < self.total:
            raise IndexError(f"step {step} outside the schedule's {self.total} steps")
        r = self.recipe
        if step < self.warm:
            value = r.lr * (r.warmup_factor + (1.0 - r.warmup_factor) * step / self.warm)
        else:
            t = (step - self.warm) / self.rest
            if r.schedule == "poly":
                value = max(r.lr * (1.0 - t) ** r.power, r.min_lr)
            elif r.schedule == "cosine":
                value = r.min_lr + (r.lr - r.min_lr) * 0.5 * (1.0 + math.cos(math.pi * t))
            else:
                value = r.lr
        return float(np.float32(value))


def learning_rates(recipe: Recipe, total_steps: int) -> LearningRates:
    return LearningRates(recipe, total_steps)
