"""`archspec diff A B`: what changed between two specs' resolved graphs."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, esc, out
from archspec.cli.render import print_json

_STYLE = {"+": "green", "-": "red", "~": "yellow"}


@command()
def diff(
    a: Path = typer.Argument(..., metavar="A", help="The spec before the edit."),
    b: Path = typer.Argument(..., metavar="B", help="The spec after the edit."),
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Compare two specs' resolved graphs (--set and --input-shape apply to both): nodes added, removed,
    renamed, changed arguments, inputs and shapes, and the params/MACs delta per node and in total."""
    from archspec.api import diff as diff_specs

    result = diff_specs(a, b, **opt.spec_inputs(set_, input_shape, allow_outside_imports))
    if as_json:
        print_json(result.to_json())
        return
    for text in result.lines():
        style = _STYLE.get(text[:1]) if text[1:2] == " " else None
        out.print(f"[{style}]{esc(text)}[/{style}]" if style else esc(text))
