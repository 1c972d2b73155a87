"""`archspec train`: train a spec on a dataset folder with a recipe; checkpoints, log and curves."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, esc
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json, shown


class TrainProgress(Progress):
    """The training stage's line shows step, loss, learning rate, images/s and the time left."""

    def event(self, kind: str, name: str = "", **data: Any) -> None:
        super().event(kind, name, **data)
        if kind == "advance" and name in self.labels and "loss" in data:
            eta = data.get("eta_s")
            left = "" if eta is None else f", {_duration(eta)} left"
            ips = data.get("images_per_s")
            self.phase(name, f"step {data['step']}: loss {data['loss']:.4f}, lr {data['lr']:.3g}"
                              + (f", {ips:.1f} images/s" if ips else "") + left)


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


@command()
def train(
    spec: Path = opt.Spec,
    data: Optional[Path] = typer.Option(None, "--data", "-d", metavar="DIR",
                                        help="The dataset folder: Pascal VOC, Cityscapes, list files (train.txt, "
                                             "val.txt) or class folders; read in place."),
    recipe: Optional[str] = typer.Option(None, "--recipe", "-r", metavar="RECIPE",
                                         help="A recipe file, or a shipped one by name (voc_deeplabv3p, "
                                              "cityscapes_deeplabv3p, imagenet_classifier); default: by the "
                                              "dataset's layout."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", metavar="CKPT",
                                           help="Starting weights (.ckpt in the spec's names); the tensors that fit "
                                                "are loaded, e.g. an ImageNet backbone."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="RUN",
                                       help="The run folder (default: runs/<spec name>, numbered if taken)."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="RUN",
                                          help="Continue an interrupted run from its last.ckpt."),
    workers: int = typer.Option(1, "--workers", min=1, help="Data-parallel processes, started with msrun."),
    set_: Optional[List[str]] = typer.Option(None, "--set", "-s", metavar="NAME=VALUE",
                                             help="Override a spec param or a recipe key (repeatable), e.g. "
                                                  "--set num_classes=4 --set lr=0.02."),
    layout: Optional[opt.LayoutName] = opt.Layout,
    train_split: str = typer.Option("train", "--split", help="The training split."),
    val_split: str = typer.Option("val", "--val-split", help="The split evaluated during training ('' for none)."),
    device: opt.DeviceName = opt.Device,
    pynative: bool = typer.Option(False, "--pynative", help="Run the steps op by op instead of compiled."),
    allow_nonfinite: bool = opt.AllowNonfinite,
    as_json: bool = opt.Json,
) -> None:
    """Train SPEC on a dataset with a recipe: GRAPH-mode steps, log.jsonl and curves.png in the run
    folder, last.ckpt (resumable) and best.ckpt, evaluation on the val split."""
    from archspec.api import train as run_train

    with TrainProgress(not as_json) as progress:
        r = run_train(spec, data, recipe, weights=weights, out=out, resume=resume, workers=workers,
                      overrides=opt.overrides(set_), layout=opt.value(layout), train_split=train_split,
                      val_split=val_split or None, device=device.value, mode="pynative" if pynative else "graph",
                      allow_nonfinite=allow_nonfinite, on_event=progress.event)
    if as_json:
        print_json(r)
        return
    what = f"{r.steps} steps" if r.started_at == 0 else f"steps {r.started_at + 1}-{r.steps}"
    speed = f", {r.images_per_s:.1f} images/s" if r.images_per_s else ""
    line(f"{r.spec}: trained {what} of {r.total_steps} on {r.world} process(es){speed}; last loss "
         f"{r.last_loss:.4f}" if r.last_loss is not None else f"{r.spec}: nothing left to train")
    if r.weights:
        line(f"starting weights: {shown(r.weights)}")
    if r.best:
        metric = "miou" if "miou" in r.best else "top1"
        line(f"best {metric} {r.best[metric]:.4f} at step {r.best['step']}: {shown(r.best_checkpoint)}")
    line(f"run folder {shown(r.run)}: last.ckpt, log.jsonl" + (", curves.png" if r.curves else ""))
    for note in r.notes:
        line(f"note: {note}")
    if r.ranks_agree is False:
        from archspec.cli.app import err

        err.print(f"[yellow]the {r.world} processes ended with different weights[/yellow] ({esc(shown(r.run))})")
