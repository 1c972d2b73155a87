"""The `train` verb: a spec, a dataset folder and a recipe in; a run folder with checkpoints, a log
and curves out.

    report = archspec.train("specs/deeplabv3p_mobilenetv2.yaml", "data/VOC2012",
                            overrides={"num_classes": 21, "lr": 0.02}, out="runs/voc")

Every check happens before anything slow (no MindSpore import until they pass): the spec and its
`--set` values, the recipe, the dataset (layout, splits, every image and mask header), the
starting weights' file, the run folder (`archspec.training.planning`). User mistakes raise
SpecError. `overrides` holds both spec params and recipe keys (`--set` on the command line); a key
both know is written `spec.NAME` or `recipe.NAME`.

Where it runs: in this process (workers=1); as one rank when this process is an msrun worker
(`msrun ... archspec train ...`); or on `workers` msrun processes started for you.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Callable, Mapping

from archspec.errors import Location, SpecError, SpecErrors
from archspec.training.report import TrainReport

__all__ = ["TrainReport", "train"]


def train(spec, data=None, recipe=None, weights=None, out=None, resume=None, workers: int = 1,
          overrides: Mapping[str, Any] | None = None, *, layout: str | None = None, train_split: str = "train",
          val_split: str | None = "val", device: str = "CPU", mode: str = "graph", allow_nonfinite: bool = False,
          on_event: Callable | None = None) -> TrainReport:
    """Train `spec` on the dataset folder `data`; see the module docstring. Returns a TrainReport."""
    from archspec.training import launch  # the planning and the loop import the data pipeline (Pillow, NumPy)
    from archspec.training.planning import plan_run, resume_plan

    distributed = launch.under_msrun()
    rank, world = 0, 1
    if distributed:  # joining the cluster first tells this process its rank
        from archspec.runtime.host import setup

        setup(device, mode)
        rank, world = launch.init_distributed()
    if distributed and world > 1 and resume is None and out is None:
        raise SpecError("under msrun, give the run folder with --out", Location("--out"),
                        hint="every process must name the same folder (only rank 0 writes to it)")
    existed = out is not None and Path(out).exists()  # a new run accepts it only empty
    if resume is not None:
        if out is not None and Path(out).resolve() != Path(resume).resolve():
            raise SpecError("--out and --resume name different folders", Location("--out"),
                            hint="a resumed run continues in its own folder; leave out --out")
        plan = resume_plan(resume, spec, overrides, workers=world if distributed else workers)
    else:
        if data is None:
            raise SpecError("no dataset given", Location("--data"), hint="pass the dataset folder: --data DIR")
        plan = plan_run(spec, data, recipe, weights=weights, out=out, workers=world if distributed else workers,
                        overrides=overrides, layout=layout, train_split=train_split, val_split=val_split,
                        device=device, mode=mode, rank=rank, allow_nonfinite=allow_nonfinite)
    folder = Path(plan.out)
    try:
        if rank == 0:
            folder.mkdir(parents=True, exist_ok=True)
            plan.save(folder)
        if plan.workers > 1 and not distributed:
            return launch.launch(folder, plan.workers, on_event)
        if not distributed:
            from archspec.runtime.host import setup

            setup(plan.device, plan.mode)
        from archspec.training.loop import run

        return run(plan, on_event=on_event if rank == 0 else None, rank=rank, world=world)
    except (SpecError, SpecErrors, KeyboardInterrupt):
        if resume is None and rank == 0:
            _discard_unstarted(folder, keep_folder=existed)
        raise


def _discard_unstarted(folder: Path, keep_folder: bool) -> None:
    """A new run stopped by a user mistake (or Ctrl-C) before its first checkpoint: leave its folder as
    it was found, empty or absent, so the same command runs again once the cause is fixed. The folder
    was empty when the run started, so all it holds is the run's own."""
    import shutil

    from archspec.training.checkpoints import LAST

    if not folder.is_dir() or (folder / LAST).exists():
        return  # steps were kept: `--resume` continues them
    for child in folder.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)
    if not keep_folder:
        with contextlib.suppress(OSError):
            folder.rmdir()
