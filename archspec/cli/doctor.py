"""`archspec doctor`: what this machine has (MindSpore and its devices, MindSpore Lite, CANN, Graphviz,
ONNX Runtime, PyTorch, the CPU's ISA, NumPy's BLAS) and what each command needs of it."""
from __future__ import annotations

from archspec.cli import options as opt
from archspec.cli.app import command, esc
from archspec.cli.render import line, print_json, print_table


@command()
def doctor(as_json: bool = opt.Json) -> None:
    """Check this machine: what archspec's commands use, what is missing for each, and how to get it.
    MindSpore is imported in a child process, so a broken install is reported, not fatal."""
    from rich.table import Table

    from archspec.api import doctor as check_machine

    report = check_machine()
    if as_json:
        print_json(report.to_dict())
        return
    have = Table(title="this machine", title_justify="left", header_style="bold")
    for col in ("component", "status", "version", "detail"):
        have.add_column(col, no_wrap=col != "detail")
    for c in report.components:
        status = "ok" if c.ok else ("present, not usable" if c.found else "missing")
        have.add_row(c.name, status, esc(c.version or "-"), esc(c.detail))
    print_table(have)
    for c in report.components:
        if c.fix:
            line(f"  {c.name}: {c.fix}")
    needs = Table(title="what each command needs", title_justify="left", header_style="bold")
    for col in ("command", "needs", "missing"):
        needs.add_column(col, no_wrap=col == "command")
    for n in report.commands:
        extra = f" (uses {', '.join(n.optional)} when present)" if n.optional else ""
        missing = ", ".join(n.missing) if n.missing else "ready"
        needs.add_row(esc(n.command), esc(", ".join(n.needs) + extra), esc(missing + (f"; {n.note}" if n.note else "")))
    print_table(needs)
    line("details and fixes: docs/DEPLOY.md (the board), the README's quickstart (this machine)")
