"""`archspec weights ...`: import weights trained elsewhere, and look into weight files."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import OutsideOpt, SetOpt, _esc, app, guarded, load_graph, out

weights_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None,
    help="Weights: import a PyTorch (or safetensors/npz) state_dict as a MindSpore checkpoint; list a weight file.",
)
app.add_typer(weights_app, name="weights")


@weights_app.command("import")
@guarded
def import_(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec whose parameters receive the weights."),
    source: Path = typer.Argument(..., metavar="SOURCE",
                                  help="A PyTorch state_dict (.pth/.pt/.bin, needs PyTorch), .safetensors, .npz, "
                                       "or a MindSpore .ckpt with other names."),
    out_path: Path = typer.Option(..., "--out", "-o", metavar="CKPT", help="The MindSpore checkpoint to write (.ckpt)."),
    map_path: Optional[Path] = typer.Option(
        None, "--map", metavar="MAP.yaml",
        help="Weight map: ordered rename rules from the source's names to the spec's. Default: "
             "maps/<name>.yaml in the spec's folder, <name> being the spec's `name:` (specs/deeplabv3p.yaml -> "
             "specs/maps/deeplabv3p_resnet50.yaml); specs/maps/ ships maps for VainF's DeepLabV3+ and "
             "torchvision's ResNet-50 and MobileNetV2."),
    set_: Optional[List[str]] = SetOpt,
    force: bool = typer.Option(False, "--force", help="Overwrite an existing output file."),
    allow_partial: bool = typer.Option(
        False, "--allow-partial",
        help="Write the tensors that fit and report the rest (e.g. a backbone, or a head with another number of "
             "classes) instead of failing."),
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Rename a state_dict onto SPEC's parameter names by a weight map, check every name and shape against the
    network SPEC builds, and write a MindSpore checkpoint. Every source tensor no rule takes, every spec
    parameter left without a value and every rule that matches nothing is reported; then nothing is written.
    BatchNorm num_batches_tracked counters are ignored; BN momentum and eps are spec hyper-parameters that
    already follow PyTorch's convention, so nothing needs converting."""
    from archspec.runtime.weight_import import import_weights

    from archspec.fileio import check_target

    check_target(out_path, force, "--out")  # before the slow part
    _, graph = load_graph(spec, set_, None, allow_outside_imports)
    report = import_weights(graph, source, out_path, map_path=map_path, force=force, allow_partial=allow_partial)
    for line in report.lines():
        out.print(_esc(line), highlight=False)


@weights_app.command("show")
@guarded
def show(
    file: Path = typer.Argument(..., metavar="FILE", help="A .ckpt, .pth/.pt, .safetensors or .npz file."),
    grep: Optional[str] = typer.Option(None, "--grep", metavar="TEXT", help="Only names containing TEXT."),
) -> None:
    """List the tensors of a weight file: name, shape, data type (for writing weight maps)."""
    import numpy as np

    from archspec.runtime.weight_import import read_source

    arrays, notes = read_source(file)
    for note in notes:
        out.print(_esc(note), highlight=False)
    count = 0
    total = 0
    for name, arr in arrays.items():
        if grep and grep not in name:
            continue
        count += 1
        total += int(np.prod(arr.shape, dtype=np.int64))
        out.print(f"{_esc(name)}  {list(arr.shape)}  {arr.dtype}", highlight=False)
    out.print(f"{count} tensors, {total:,} values", highlight=False)
