"""`archspec build` (the Cell, with weights in and out) and `archspec resolve` (the graph alone)."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json, timings_line


@command()
def build(
    spec: Path = opt.Spec,
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    weights: Optional[Path] = opt.Weights,
    allow_partial: bool = opt.AllowPartial,
    allow_nonfinite: bool = opt.AllowNonfinite,
    save_ckpt: Optional[Path] = typer.Option(None, "--save-ckpt", metavar="PATH",
                                             help="Write the network's weights (as initialized, or as loaded by "
                                                  "--weights) to a MindSpore checkpoint (.ckpt)."),
    force: bool = opt.Force,
    device: opt.DeviceName = opt.Device,
    no_isa_fix: bool = opt.NoIsaFix,
    graph: bool = typer.Option(False, "--graph", help="Also print every node's arguments (as `archspec resolve`)."),
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Resolve a spec and build the MindSpore Cell; print every node's shape, params and MACs."""
    from archspec.api import build as build_net
    from archspec.graph.report import graph_summary, graph_table, human, shape_text

    with Progress(not as_json) as progress:
        r = build_net(spec, **opt.spec_inputs(set_, input_shape, allow_outside_imports), weights=weights,
                      allow_partial=allow_partial, allow_nonfinite=allow_nonfinite, save_ckpt=save_ckpt, force=force,
                      device=device.value, isa_fix=not no_isa_fix, on_event=progress.event)
    g = r.graph
    weight_lines = _weight_lines(r)
    if as_json:
        print_json({**graph_summary(g), "cell_params": r.cell_params, "conv2dbnact_cells": r.conv2dbnact_cells,
                    "unfused_conv_bn": r.unfused_conv_bn, "timings_s": {k: round(v, 4) for k, v in r.timings.items()},
                    "cpu_isa": r.cpu_isa, "device": r.device, **({"weights": weight_lines} if weight_lines else {})})
        return
    if graph:
        line(graph_table(g))
    else:
        _node_table(g, spec)
    inputs = ", ".join(f"{k} {shape_text(v)}" for k, v in g.inputs.items())
    outputs = ", ".join(f"{k} {shape_text(g.shape_of(k))}" for k in g.outputs)
    line(f"inputs: {inputs}    outputs: {outputs}")
    line(f"params: {g.total_params:,} (cell: {r.cell_params:,})    MACs: {human(g.total_macs)} "
         f"({human(2 * g.total_macs, 'FLOPs')})")
    line(f"nn.Conv2dBnAct cells with BN: {r.conv2dbnact_cells}    conv+bn pairs outside one: {len(r.unfused_conv_bn)}")
    for text in weight_lines:
        line(text)
    line(timings_line(r.timings))


def _weight_lines(r) -> list[str]:
    lines = r.weights.lines() if r.weights is not None else []
    if r.saved is not None:
        lines.append(f"wrote {r.saved} ({r.saved_tensors} tensors)")
    return lines


def _node_table(g, spec: Path) -> None:
    from rich.table import Table

    from archspec.cli.app import esc
    from archspec.cli.render import print_table
    from archspec.graph.report import args_text, human, shape_text

    table = Table(title=f"{esc(g.name)} ({esc(spec)})", header_style="bold", box=None, padding=(0, 1))
    for col, just in (("node", "left"), ("op", "left"), ("args", "left"), ("output", "left"), ("params", "right"),
                      ("MACs", "right")):
        table.add_column(col, justify=just, overflow="fold")
    for n in g.nodes:
        table.add_row(esc(n.name), esc(n.kind), esc(args_text(n)), shape_text(n.shape), f"{n.params:,}", human(n.macs))
    table.add_section()
    table.add_row("total", f"{len(g.nodes)} nodes", "", "", f"{g.total_params:,}", human(g.total_macs))
    print_table(table)


@command()
def resolve(
    spec: Path = opt.Spec,
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Print the resolved graph, one line per node: op, inputs, arguments, output shape, params, MACs
    (no MindSpore import)."""
    from archspec.api import validate as check
    from archspec.graph.report import graph_summary, graph_table

    g = check(spec, **opt.spec_inputs(set_, input_shape, allow_outside_imports))
    if as_json:
        print_json(graph_summary(g))
    else:
        line(graph_table(g))
