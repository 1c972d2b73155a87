"""`archspec specs`: what the installed library holds (specs, block libraries, weight maps)."""
from __future__ import annotations

import json

import typer

from archspec.cli import _esc, app, guarded, out


@app.command()
@guarded
def specs(as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables.")) -> None:
    """List the installed specs, block libraries and weight maps, by the names a spec uses for them
    (imports: [archspec:lib/resnet.yaml], extends: archspec:deeplabv3p.yaml)."""
    from rich.table import Table

    from archspec.spec.library import ENV, installed

    got = installed()
    if as_json:
        print(json.dumps(got.to_json(), indent=2))
        return
    if got.root is None:
        out.print("no installed library (archspec was installed without its specs)", highlight=False)
    tables = (("specs", got.specs, ("name", lambda e: e.name), ("description", lambda e: e.summary)),
              ("block libraries", got.libraries, ("blocks", lambda e: ", ".join(b for b, _ in e.blocks))),
              ("weight maps", got.maps, ("description", lambda e: e.summary)))
    for title, entries, *columns in tables:
        if not entries:
            continue
        table = Table(title=title, title_justify="left", header_style="bold")
        table.add_column("name in a spec", no_wrap=True)
        for header, _ in columns:
            table.add_column(header, no_wrap=header != "description")
        for e in entries:
            table.add_row(_esc(e.ref), *(_esc(cell(e)) for _, cell in columns))
        out.print(table)
    where = f"installed in {got.root}" if got.root else "no installed library"
    path = ", ".join(str(p) for p in got.search_path) or "(not set)"
    out.print(_esc(f"{where}; {ENV}: {path}"), highlight=False)
