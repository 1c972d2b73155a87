"""`archspec predict`: segment images; write class-index masks and overlays."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, err, esc
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json


@command()
def predict(
    spec: Path = opt.Spec,
    images: List[Path] = typer.Argument(..., metavar="IMAGE...", help="Images to segment (PNG, JPEG, ...)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", metavar="CKPT",
                                           help="MindSpore checkpoint with the trained weights."),
    random_weights: bool = typer.Option(False, "--random-weights",
                                        help="Run with randomly initialized weights (to try the pipeline; the masks "
                                             "mean nothing)."),
    out_dir: Path = typer.Option(Path("predictions"), "--out", "-o", metavar="DIR",
                                 help="Folder for <stem>_mask.png and <stem>_overlay.png (created if needed)."),
    device: opt.DeviceName = opt.Device,
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    allow_partial: bool = opt.AllowPartial,
    allow_nonfinite: bool = opt.AllowNonfinite,
    no_isa_fix: bool = opt.NoIsaFix,
    alpha: float = typer.Option(0.5, "--alpha", help="Opacity of the class colours in the overlay (0..1)."),
    force: bool = opt.Force,
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Segment images: preprocess them as the spec says, run the model in GRAPH mode (BatchNorm folded,
    as deployed), and write a class-index mask and a colour overlay with a legend per image."""
    from archspec.api import predict as run_predict

    with Progress(not as_json) as progress:
        r = run_predict(spec, images, weights=weights, random_weights=random_weights, out_dir=out_dir,
                        **opt.spec_inputs(set_, input_shape, allow_outside_imports), allow_partial=allow_partial,
                        allow_nonfinite=allow_nonfinite, device=device.value, isa_fix=not no_isa_fix, alpha=alpha, force=force,
                        on_event=progress.event)
    if as_json:
        print_json(r)
        return
    n, c, h, w = r.input_shape
    line(f"{r.model}: input {n}x{c}x{h}x{w} ({r.resize}), {len(r.labels)} classes ({r.labels_source}), "
         f"{r.device} GRAPH mode, BatchNorm folded")
    if r.random_weights:
        err.print(f"[yellow]{esc(r.weights)}[/yellow]")
    else:
        line(r.weights)
    for item in r.images:
        present = ", ".join(f"{name} {share * 100:.0f}%" for name, share in item.classes[:4])
        line(f"{item.image} ({item.size[0]}x{item.size[1]}): {present}")
    k = len(r.images)
    per_image = r.timings.get("predict", 0.0) / max(1, k)
    line(f"wrote {k} mask(s) and {k} overlay(s) to {out_dir}    time: build+compile "
         f"{r.timings.get('build', 0) + r.timings.get('compile', 0):.1f} s, predict {per_image * 1000:.0f} ms/image")
