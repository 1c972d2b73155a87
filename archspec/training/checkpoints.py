"""Training checkpoints: `last.ckpt` (weights + optimizer state + step, what `--resume` restores)
and `best.ckpt` (weights of the best evaluation so far).

Both are ordinary MindSpore `.ckpt` files in the spec's parameter names, written atomically
(archspec.weights.checkpoint.write_checkpoint: a temporary file renamed into place), so a failure
while writing (a full disk) leaves the previous file intact. Optimizer state is stored under names
MindSpore's own training checkpoints use and `load_weights` recognises as training state
(`moments.<param>` for SGD, `adam_m.<param>`/`adam_v.<param>` for AdamW, `global_step`,
`scale_sense`), so `archspec eval`, `predict` and `export` load `last.ckpt` like any checkpoint.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from archspec.errors import Location, SpecError

if TYPE_CHECKING:
    from archspec.training.step import Trainer

LAST = "last.ckpt"
BEST = "best.ckpt"


def _weights(trainer: Trainer) -> dict[str, np.ndarray]:
    masks = {d.mask.name for d in trainer.dropouts}
    return {p.name: p.asnumpy() for p in trainer.net.get_parameters() if p.name not in masks}


def _optimizer_slots(trainer: Trainer) -> list[tuple[str, list]]:
    opt = trainer.optimizer
    if trainer.kind == "sgd":
        return [("moments", list(opt.moments))]
    return [("adam_m", list(opt.exp_avg)), ("adam_v", list(opt.exp_avg_sq))]


def state_arrays(trainer: Trainer, step: int, with_optimizer: bool = True) -> dict[str, np.ndarray]:
    arrays = _weights(trainer)
    if with_optimizer:
        params = list(trainer.optimizer.parameters)
        for prefix, slots in _optimizer_slots(trainer):
            for p, s in zip(params, slots):
                arrays[f"{prefix}.{p.name}"] = s.asnumpy()
        scale = getattr(trainer.step, "scale_sense", None)
        if scale is not None:
            arrays["scale_sense"] = scale.asnumpy()
    arrays["global_step"] = np.asarray(step, np.int64)
    return arrays


def save(trainer: Trainer, path: Path, step: int, with_optimizer: bool = True) -> Path:
    """Write atomically; a failed write raises SpecError and leaves the previous file as it was."""
    from archspec.weights.checkpoint import write_checkpoint

    arrays = state_arrays(trainer, step, with_optimizer)
    try:
        return write_checkpoint(arrays, path, force=True, option="--out")
    except OSError as e:
        kept = " (the previous one is intact)" if path.exists() else ""
        raise SpecError(f"could not write checkpoint {path} at step {step}: {e.strerror or e}{kept}",
                        Location(str(path)), hint="free disk space, then continue with --resume") from None
    except SpecError as e:  # archspec.files: the disk refused the file (full, quota, read-only)
        kept = " (the previous one is intact)" if path.exists() else ""
        raise SpecError(f"could not write the checkpoint at step {step}: {e.message}{kept}", Location(str(path)),
                        hint="free disk space, then continue with --resume") from None


def restore(trainer: Trainer, path: Path) -> int:
    """Load weights and optimizer state from a `last.ckpt`; returns its step. Everything must fit."""
    from mindspore import Tensor

    from archspec.weights.checkpoint import read_checkpoint

    arrays = read_checkpoint(path, option="--resume")
    shown = str(path)
    targets = {p.name: p for p in trainer.net.get_parameters() if p.name not in {d.mask.name for d in trainer.dropouts}}
    params = list(trainer.optimizer.parameters)
    for prefix, slots in _optimizer_slots(trainer):
        targets.update({f"{prefix}.{p.name}": s for p, s in zip(params, slots)})
    missing = [n for n in targets if n not in arrays] + ([] if "global_step" in arrays else ["global_step"])
    wrong = [f"{n}: {list(arrays[n].shape)} vs {list(t.shape)}" for n, t in targets.items()
             if n in arrays and tuple(arrays[n].shape) != tuple(t.shape)]
    if missing or wrong:
        from archspec.weights.checkpoint import listing

        lines = ([listing("missing", missing)] if missing else []) + ([listing("shape differs", wrong)] if wrong else [])
        raise SpecError("the checkpoint does not hold this run's training state\n  " + "\n  ".join(lines),
                        Location(shown), hint="resume with the spec, recipe and --set values the run started with")
    for name, target in targets.items():
        target.set_data(Tensor(arrays[name].astype(np.float32 if arrays[name].dtype.kind == "f" else arrays[name].dtype)))
    step = int(arrays["global_step"])
    scale = getattr(trainer.step, "scale_sense", None)
    if scale is not None and "scale_sense" in arrays:
        scale.set_data(Tensor(arrays["scale_sense"]))
    if trainer.kind == "adamw":
        trainer.optimizer.state_step.set_data(Tensor(np.asarray(step, trainer.optimizer.state_step.asnumpy().dtype)))
    return step
