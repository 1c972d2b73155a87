"""`archspec schema` and `archspec ops`: what a spec may say."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, esc
from archspec.cli.render import line, print_json, print_table


@command()
def schema(
    out_path: Optional[Path] = typer.Option(None, "--out", "-o", help="Write to a file instead of stdout."),
    force: bool = opt.Force,
) -> None:
    """Print the JSON Schema of the spec format (for editor completion and checking)."""
    from archspec.api import schema as spec_schema

    text = spec_schema(out_path, force=force)
    if out_path is None:
        sys.stdout.write(text)
    else:
        line(f"wrote {out_path}")


@command()
def ops(as_json: bool = opt.Json) -> None:
    """List the ops a spec can use, with their arguments and defaults."""
    from rich.table import Table

    from archspec.api import list_ops

    found = list_ops()
    if as_json:
        print_json([{"op": o.name, "doc": o.doc, "args": [{"name": n, "default": d, "required": r} for n, d, r in o.args]}
                    for o in found])
        return
    table = Table(header_style="bold", show_lines=True)
    table.add_column("op")
    table.add_column("arguments (default)", ratio=2)
    table.add_column("what it does", ratio=1)
    for o in found:
        args = ", ".join(n if r else f"{n} ({d!r})" for n, d, r in o.args)
        table.add_row(o.name, esc(args), esc(o.doc))
    print_table(table)
