"""`archspec eval`: evaluate weights on a dataset split; mIoU and per-class IoU, or top-1/top-5."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, esc
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json, print_table


@command("eval")
def eval_(
    spec: Path = opt.Spec,
    weights: Path = typer.Option(..., "--weights", "-w", metavar="CKPT", help="The checkpoint to evaluate."),
    data: Path = typer.Option(..., "--data", "-d", metavar="DIR", help="The dataset folder (read in place)."),
    split: str = typer.Option("val", "--split", help="The split to evaluate."),
    size: Optional[str] = typer.Option(None, "--size", metavar="H,W",
                                       help="Network input size; segmentation images are padded to it (default: "
                                            "the largest image of the split), classification images resized and "
                                            "centre-cropped (default: the spec's input size)."),
    batch: int = typer.Option(1, "--batch", min=1, help="Images per network call."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="DIR",
                                       help="Write confusion.csv and confusion.png here (segmentation)."),
    layout: Optional[opt.LayoutName] = opt.Layout,
    set_: Optional[List[str]] = opt.Set,
    device: opt.DeviceName = opt.Device,
    allow_nonfinite: bool = opt.AllowNonfinite,
    as_json: bool = opt.Json,
) -> None:
    """Evaluate SPEC with trained weights on a split, at any input size: mIoU over the classes present,
    per-class IoU and pixel accuracy from one confusion matrix over the split (ignore label 255 left
    out), or top-1/top-5 for classifiers; images per second."""
    from archspec.api import evaluate

    with Progress(not as_json) as progress:
        r = evaluate(spec, weights, data, split, overrides=opt.overrides(set_), layout=opt.value(layout),
                     size=_size(size), batch=batch, out=out, device=device.value, allow_nonfinite=allow_nonfinite,
                     on_event=progress.event)
    if as_json:
        print_json(r)
        return
    line(f"{r.spec} on {r.data} ({r.split}, {r.images} images) at {r.size[0]}x{r.size[1]}, "
         f"{r.images_per_s:.2f} images/s; {r.weights_summary}")
    if r.task == "classification":
        line(f"top-1 {r.top1:.4f}  top-5 {r.top5:.4f}")
        return
    from rich.table import Table

    table = Table(header_style="bold", box=None, padding=(0, 1))
    table.add_column("class")
    table.add_column("IoU", justify="right")
    for name, iou in r.per_class:
        table.add_row(esc(name), "-" if iou is None else f"{iou:.4f}")
    table.add_section()
    table.add_row("[bold]mIoU[/bold]", f"[bold]{r.miou:.4f}[/bold]")
    table.add_row("pixel accuracy", f"{r.pixel_accuracy:.4f}")
    print_table(table)
    if r.confusion_csv:
        line(f"confusion matrix: {r.confusion_csv}, {r.confusion_png}")


def _size(text: Optional[str]):
    if text is None:
        return None
    from archspec.errors import Location, SpecError

    try:
        parts = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        parts = []
    if len(parts) not in (1, 2):
        raise SpecError(f"--size expects H,W or one side, got {text!r}", Location("--size"))
    return parts[0] if len(parts) == 1 else tuple(parts)
