"""`archspec diff A B`: what changed between two specs' resolved graphs."""
from __future__ import annotations

import json
from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import OutsideOpt, SetOpt, ShapeOpt, _esc, app, guarded, load_graph, out

_STYLE = {"+": "green", "-": "red", "~": "yellow"}


@app.command()
@guarded
def diff(
    a: Path = typer.Argument(..., metavar="A", help="The spec before the edit."),
    b: Path = typer.Argument(..., metavar="B", help="The spec after the edit."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of text."),
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Compare two specs' resolved graphs (--set and --input-shape apply to both): nodes added, removed,
    renamed, changed arguments, inputs and shapes, and the params/MACs delta per node and in total."""
    from archspec.graph.diff import diff as diff_graphs

    _, ga = load_graph(a, set_, input_shape, allow_outside_imports, fuse=False)
    _, gb = load_graph(b, set_, input_shape, allow_outside_imports, fuse=False)
    result = diff_graphs(ga, gb)
    if as_json:
        print(json.dumps(result.to_json(), indent=2))
        return
    for line in result.lines():
        style = _STYLE.get(line[:1]) if line[1:2] == " " else None
        out.print(f"[{style}]{_esc(line)}[/{style}]" if style else _esc(line), highlight=False)
