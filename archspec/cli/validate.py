"""`archspec validate`: check specs without building anything (no MindSpore import)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, debug, print_errors
from archspec.cli.render import line, print_json
from archspec.errors import SpecError, SpecErrors


@command()
def validate(
    specs: List[Path] = typer.Argument(..., metavar="SPEC...", help="Spec files to check."),
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    allow_outside_imports: bool = opt.Outside,
    as_json: bool = opt.Json,
) -> None:
    """Check specs without building anything: structure, params, references, shapes, preprocess and labels.
    Exit 2 on any mistake."""
    from archspec.api import validate as check
    from archspec.graph.report import human

    failed, results = False, []
    kwargs = opt.spec_inputs(set_, input_shape, allow_outside_imports)
    for path in specs:
        try:
            graph = check(path, **kwargs)
        except (SpecError, SpecErrors) as e:
            if debug():
                raise
            failed = True
            print_errors(e)
            results.append({"spec": str(path), "ok": False, "errors": [x.render() for x in getattr(e, "errors", [e])]})
            continue
        results.append({"spec": str(path), "ok": True, "name": graph.name, "nodes": len(graph.nodes),
                        "params": graph.total_params, "macs": graph.total_macs})
        if not as_json:
            line(f"ok {path}: {graph.name}, {len(graph.nodes)} nodes, {graph.total_params:,} params, "
                 f"{human(graph.total_macs, 'MACs')}")
    if as_json:
        print_json(results)
    if failed:
        raise typer.Exit(2)
