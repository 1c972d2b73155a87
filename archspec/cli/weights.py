"""`archspec weights import` and `archspec weights show`."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import app, command
from archspec.cli.render import line, print_json

weights_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, context_settings={"help_option_names": ["-h", "--help"]},
    help="Weights: import a PyTorch (or safetensors/npz) state_dict as a MindSpore checkpoint; list a weight file.",
)
app.add_typer(weights_app, name="weights")


@command("import", weights_app)
def import_(
    spec: Path = opt.Spec,
    source: Path = typer.Argument(..., metavar="SOURCE",
                                  help="A PyTorch state_dict (.pth/.pt/.bin, needs PyTorch), .safetensors, .npz, or a "
                                       "MindSpore .ckpt with other names."),
    out_path: Path = typer.Option(..., "--out", "-o", metavar="CKPT", help="The MindSpore checkpoint to write (.ckpt)."),
    map_path: Optional[Path] = typer.Option(
        None, "--map", metavar="MAP.yaml",
        help="Weight map: ordered rename rules from the source's names to the spec's. Default: maps/<name>.yaml in "
             "the spec's folder, <name> being the spec's `name:`; specs/maps/ ships maps for VainF's DeepLabV3+ and "
             "torchvision's ResNet-50 and MobileNetV2."),
    set_: Optional[List[str]] = opt.Set,
    force: bool = opt.Force,
    allow_partial: bool = typer.Option(
        False, "--allow-partial",
        help="Write the tensors that fit and report the rest (e.g. a backbone, or a head with another number of "
             "classes) instead of failing."),
    allow_nonfinite: bool = opt.AllowNonfinite,
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Rename a state_dict onto SPEC's parameter names by a weight map, check every name and shape, and write
    a MindSpore checkpoint. Everything unmapped, unused or mismatched is reported; then nothing is written."""
    from archspec.api import import_weights

    report = import_weights(spec, source, out_path, map_path=map_path, overrides=opt.overrides(set_),
                            allow_outside_imports=allow_outside_imports, force=force, allow_partial=allow_partial,
                            allow_nonfinite=allow_nonfinite)
    if as_json:
        print_json(report)
        return
    for text in report.lines():
        line(text)


@command("show", weights_app)
def show(
    file: Path = typer.Argument(..., metavar="FILE", help="A .ckpt, .pth/.pt, .safetensors or .npz file."),
    grep: Optional[str] = typer.Option(None, "--grep", metavar="TEXT", help="Only names containing TEXT."),
    as_json: bool = opt.Json,
) -> None:
    """List the tensors of a weight file: name, shape, data type (for writing weight maps)."""
    from archspec.api import show_weights

    listing = show_weights(file, grep)
    if as_json:
        print_json(listing)
        return
    for note in listing.notes:
        line(note)
    for name, shape, dtype in listing.tensors:
        line(f"{name}  {list(shape)}  {dtype}")
    line(f"{len(listing.tensors)} tensors, {listing.values:,} values")
