"""`archspec compile`: compile a spec in GRAPH_MODE; compile and run times, kernels by kind, for the
nn.Conv2dBnAct lowering and the separate-cells lowering side by side."""
from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, esc
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json, print_table


@command("compile")
def compile_command(
    spec: Path = opt.Spec,
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    jit_level: opt.JitLevelName = opt.JitLevel,
    dump_ir: Optional[Path] = typer.Option(None, "--dump-ir", metavar="DIR",
                                           help="Keep MindSpore's IR files of every compile pass in DIR (created if "
                                                "missing)."),
    device: opt.DeviceName = opt.Device,
    runs: int = typer.Option(5, "--runs", help="Runs after the first one; the steady-state time is their median."),
    seed: int = opt.Seed,
    separate: bool = typer.Option(True, "--separate/--no-separate",
                                  help="Also compile the separate-cells lowering (nn.Conv2d, nn.BatchNorm2d, "
                                       "activation) and show its kernels beside nn.Conv2dBnAct's: did the backend "
                                       "fuse anything?"),
    no_isa_fix: bool = opt.NoIsaFix,
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Build a spec and compile it in GRAPH_MODE; report compile and run times and the graph's kernels by kind,
    with nn.Conv2dBnAct cells and with separate conv/BN/activation cells side by side."""
    from archspec.api import compile as compile_spec

    with Progress(not as_json) as progress:
        r = compile_spec(spec, **opt.spec_inputs(set_, input_shape, allow_outside_imports), jit_level=jit_level.value,
                         device=device.value, runs=runs, dump_ir=dump_ir, isa_fix=not no_isa_fix, seed=seed,
                         separate=separate, on_event=progress.event)
    if as_json:
        data = r.to_dict()
        data["spec"] = str(spec)
        print_json(data)
        return
    _print_human(spec, r)


def _print_human(spec: Path, r) -> None:
    from rich.table import Table

    from archspec.graph.report import shape_text

    rep, g, sep = r.report, r.graph, r.separate
    title = f"{esc(g.name)} ({esc(spec)}): {r.device} GRAPH_MODE, jit level {rep.jit_level}"
    if rep.kernels is not None:
        both = sep is not None and sep.kernels is not None
        table = Table(title=title, header_style="bold")
        table.add_column("kind")
        table.add_column("kernels\nConv2dBnAct" if both else "kernels", justify="right")
        if both:
            table.add_column("kernels\nseparate", justify="right")
        table.add_column("graph nodes\nConv2dBnAct" if both else "graph nodes", justify="right")
        if both:
            table.add_column("graph nodes\nseparate", justify="right")
        reports = [rep, sep] if both else [rep]
        kinds = list(rep.kernels) + [k for x in reports for k in (x.kernels or {}) if k not in rep.kernels]
        kinds += [k for x in reports for k in (x.graph_nodes or {}) if k not in kinds]
        for kind in dict.fromkeys(kinds):
            cells = [str(x.kernels.get(kind, 0)) for x in reports]
            cells += [str((x.graph_nodes or {}).get(kind, 0)) if x.graph_nodes is not None else "-" for x in reports]
            table.add_row(kind, *cells)
        table.add_section()
        totals = [str(x.kernels_total) for x in reports]
        totals += [str(x.graph_nodes_total) if x.graph_nodes_total is not None else "-" for x in reports]
        table.add_row("total", *totals)
        print_table(table)
        if both:
            line(_fusion_verdict(r.backend_fused))
    else:
        line(title)
    inputs = ", ".join(f"{k} {shape_text(v)}" for k, v in g.inputs.items())
    convs = sum(1 for n in g.nodes if n.op == "conv")
    line(f"inputs: {inputs}    spec nodes: {len(g.nodes)} ({convs} conv)    CPU ISA: {r.cpu_isa}")
    steady = (f"    steady-state run: {rep.steady_run_s * 1000:.1f} ms (median of {rep.runs})"
              if rep.steady_run_s is not None else "")
    line(f"compile: {rep.compile_s:.2f} s    first run: {rep.first_run_s * 1000:.1f} ms{steady}")
    if sep is not None:
        sep_steady = f", steady-state {sep.steady_run_s * 1000:.1f} ms" if sep.steady_run_s is not None else ""
        line(f"separate cells: compile {sep.compile_s:.2f} s, first run {sep.first_run_s * 1000:.1f} ms{sep_steady}")
    if rep.ir_dir:
        line(f"IR files ({rep.ir_files}) in {rep.ir_dir}")
        if rep.final_graph:
            line(f"  final kernel graph: {rep.final_graph}")
        if rep.kernel_list:
            line(f"  kernels in launch order: {rep.kernel_list}")
    for note in r.notes:
        line(f"note: {note}")


def _fusion_verdict(fewer: int | None) -> str:
    if fewer is None:
        return ""
    if fewer == 0:
        return ("the backend fused nothing: nn.Conv2dBnAct launches the same kernels as separate cells (it is a "
                "container; conv, BatchNorm and activation stay kernels of their own)")
    if fewer > 0:
        return f"the backend fused: nn.Conv2dBnAct launches {fewer} fewer kernels than separate cells"
    return f"nn.Conv2dBnAct launches {-fewer} more kernels than separate cells"
