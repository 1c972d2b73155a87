"""`archspec specs`: what the installed library holds (specs, block libraries, weight maps)."""
from __future__ import annotations

from archspec.cli import options as opt
from archspec.cli.app import command, esc
from archspec.cli.render import line, print_json, print_table


@command()
def specs(as_json: bool = opt.Json) -> None:
    """List the installed specs, block libraries and weight maps, by the names a spec uses for them
    (imports: [archspec:lib/resnet.yaml], extends: archspec:deeplabv3p.yaml)."""
    from rich.table import Table

    from archspec.api import specs as installed

    got = installed()
    if as_json:
        print_json(got.to_json())
        return
    if got.root is None:
        line("no installed library (archspec was installed without its specs)")
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
            table.add_row(esc(e.ref), *(esc(cell(e)) for _, cell in columns))
        print_table(table)
    where = f"installed in {got.root}" if got.root else "no installed library"
    path = ", ".join(str(p) for p in got.search_path) or "(not set)"
    line(f"{where}; ARCHSPEC_PATH: {path}")
