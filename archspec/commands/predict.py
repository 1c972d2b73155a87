"""`archspec predict`: run a segmentation spec on images; write class-index masks and overlays."""
from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import OutsideOpt, SetOpt, ShapeOpt, _esc, app, err, guarded, load_graph, out
from archspec.errors import Location, SpecError

MASK_SUFFIX = "_mask.png"
OVERLAY_SUFFIX = "_overlay.png"


@app.command()
@guarded
def predict(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec of the model."),
    images: List[Path] = typer.Argument(..., metavar="IMAGE...", help="Images to segment (PNG, JPEG, ...)."),
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", metavar="CKPT",
                                           help="MindSpore checkpoint with the trained weights."),
    random_weights: bool = typer.Option(False, "--random-weights",
                                        help="Run with randomly initialized weights (to try the pipeline; "
                                             "the masks mean nothing)."),
    out_dir: Path = typer.Option(Path("predictions"), "--out", "-o", metavar="DIR",
                                 help="Folder for <stem>_mask.png and <stem>_overlay.png (created if needed)."),
    device: str = typer.Option("CPU", "--device", help="CPU, GPU or Ascend."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    allow_partial: bool = typer.Option(False, "--allow-partial",
                                       help="Load the checkpoint tensors that fit; keep the rest as initialized."),
    no_isa_fix: bool = typer.Option(False, "--no-isa-fix", help="Do not cap oneDNN at AVX2 on AVX-512 CPUs."),
    alpha: float = typer.Option(0.5, "--alpha", min=0.0, max=1.0, help="Opacity of the class colours in the overlay."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing output files."),
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Segment images: preprocess them as the spec says, run the model in GRAPH mode (BatchNorm folded,
    as deployed), and write a class-index mask and a colour overlay with a legend per image."""
    if weights is None and not random_weights:
        raise SpecError("predict needs trained weights: --weights CKPT", Location("--weights"),
                        hint="to try the pipeline without weights, pass --random-weights (the masks mean nothing)")
    if weights is not None and random_weights:
        raise SpecError("--weights and --random-weights exclude each other", Location("--random-weights"))

    # Every check that needs no MindSpore comes first, so mistakes are reported in a moment and
    # before anything is written.
    from archspec.spec.inference import image_task

    loaded, graph = load_graph(spec, set_, input_shape, allow_outside_imports)
    task = image_task(loaded, graph)
    targets = _targets(images, out_dir, force)
    if weights is not None:
        if not weights.exists():
            raise SpecError(f"checkpoint file not found: {weights}", Location("--weights"), hint="check the path")
        if weights.is_dir():
            raise SpecError(f"{weights} is a folder, not a checkpoint file", Location("--weights"))
    from archspec.runtime.images import check_images, open_image

    check_images(images, task.preprocess)  # decodes each once: unreadable files fail here, together

    from archspec.runtime.device import setup

    runtime = setup(device, "graph", isa_fix=not no_isa_fix)
    t0 = time.perf_counter()
    from archspec.lower import build_cell, compile_cell
    from archspec.runtime.predict import predict_masks, zeros_input

    net = build_cell(graph)
    if weights is not None:
        from archspec.runtime.weights import load_weights

        report = load_weights(net, weights, allow_partial=allow_partial)
        weights_text = report.summary()
    else:
        weights_text = "RANDOM weights (--random-weights): the masks and overlays mean nothing"
    # Run the deployed form: BatchNorm folded (a smaller graph that compiles faster) and, on CPU,
    # archspec's kernels where they are faster; the same numbers to float32 rounding.
    from archspec.lower.fold import deploy_cell
    from archspec.runtime.cpu_kernels import choose, count_winograd

    _, net = deploy_cell(net, options=choose(runtime.device).options)
    fast = count_winograd(net)
    pre, labels = task.preprocess, task.labels
    out.print(f"{graph.name}: input {pre.batch}x{pre.channels}x{pre.height}x{pre.width} ({pre.resize}), "
              f"{len(labels)} classes ({labels.source}), {runtime.device} GRAPH mode, BatchNorm folded"
              + (f", {fast} conv(s) on archspec's Winograd kernel" if fast else ""), highlight=False)
    if weights is None:
        err.print(f"[yellow]{_esc(weights_text)}[/yellow]", highlight=False)
    else:
        out.print(_esc(weights_text), highlight=False)
    with err.status("compiling the graph...") if err.is_terminal else contextlib.nullcontext():
        compile_cell(net, zeros_input(task))
    t1 = time.perf_counter()

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from archspec.runtime.images import class_shares, mask_image, overlay_image, write_pngs

    out_dir.mkdir(parents=True, exist_ok=True)
    columns = (TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True,
                  disable=len(images) < 2 or not err.is_terminal) as progress:
        bar = progress.add_task("predict", total=len(images))
        opened = (open_image(p, pre.channels) for p in images)
        for (path, (mask_path, overlay_path)), (img, mask) in zip(zip(images, targets),
                                                                  predict_masks(net, task, opened)):
            write_pngs([(mask_image(mask, labels), mask_path),
                        (overlay_image(img, mask, labels, alpha), overlay_path)])
            present = ", ".join(f"{labels.labels[k].name} {share * 100:.0f}%"
                                for k, share in class_shares(mask, len(labels))[:4])
            out.print(f"{_esc(str(path))} ({img.size[0]}x{img.size[1]}): {_esc(present)}", highlight=False)
            progress.advance(bar)
    t2 = time.perf_counter()
    n = len(images)
    out.print(f"wrote {n} mask(s) and {n} overlay(s) to {_esc(str(out_dir))}    "
              f"time: build+compile {t1 - t0:.1f} s, predict {(t2 - t1) / n * 1000:.0f} ms/image", highlight=False)


def _targets(images: List[Path], out_dir: Path, force: bool) -> list[tuple[Path, Path]]:
    """The two output files of each image; refuse name clashes, existing files (unless --force)
    and an output folder that cannot be written, before anything runs."""
    from archspec.errors import ErrorSink
    from archspec.runtime.images import check_out_dir

    check_out_dir(out_dir)
    sink = ErrorSink()
    owner: dict[str, Path] = {}
    targets = []
    for path in images:
        pair = (out_dir / f"{path.stem}{MASK_SUFFIX}", out_dir / f"{path.stem}{OVERLAY_SUFFIX}")
        targets.append(pair)
        if path.stem in owner and owner[path.stem] != path:
            sink.add(SpecError(f"{owner[path.stem]} and {path} would both write {pair[0].name}", Location(str(path)),
                               hint="rename one, or predict them into different --out folders"))
        owner.setdefault(path.stem, path)
        for target in pair:
            if target.exists() and not force:
                sink.add(SpecError(f"{target} already exists", Location("--out"), hint="pass --force to overwrite it"))
                break
    sink.raise_if_any()
    return targets
