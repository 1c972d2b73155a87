"""`archspec graph`: draw the resolved graph (.dot, or .svg/.png/.pdf through Graphviz)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command
from archspec.cli.render import line


@command()
def graph(
    spec: Path = opt.Spec,
    out_path: Path = typer.Option(..., "--out", "-o", help="Output file: .dot, or .svg/.png/.pdf (needs Graphviz's dot)."),
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    force: bool = opt.Force,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Draw the resolved graph: one box per node (ConvBnAct units as one), blocks as clusters."""
    from archspec.api import draw

    written = draw(spec, out_path, **opt.spec_inputs(set_, input_shape, allow_outside_imports), force=force)
    line(f"wrote {written}")
