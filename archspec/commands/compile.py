"""`archspec compile`: build a spec, compile it in GRAPH_MODE, time it and count its kernels."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import List, Optional

import typer

from archspec.cli import NoIsaFixOpt, OutsideOpt, SetOpt, ShapeOpt, _esc, app, guarded, load_graph, out


@app.command("compile")
@guarded
def compile_command(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec to compile."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    jit_level: str = typer.Option("O0", "--jit-level", metavar="O0|O1|O2",
                                  help="Graph jit level: O0 kernel by kernel, O1 plus automatic operator fusion "
                                       "(where the backend supports it), O2 whole-graph sink (Ascend only)."),
    dump_ir: Optional[Path] = typer.Option(None, "--dump-ir", metavar="DIR",
                                           help="Keep MindSpore's IR files of every compile pass in DIR (created "
                                                "if missing)."),
    device: str = typer.Option("CPU", "--device", help="CPU, GPU or Ascend."),
    runs: int = typer.Option(5, "--runs", min=1, help="Runs after the first one; the steady-state time is their median."),
    no_isa_fix: bool = NoIsaFixOpt,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON report instead of tables."),
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Build a spec and compile it in GRAPH_MODE; report compile and run times and the graph's kernels by kind."""
    from archspec.runtime.compile import check_ir_dir, prepare_ir_capture
    from archspec.runtime.device import canonical_device, check_jit_level

    # Mistakes in the command line fail before anything slow.
    dev = canonical_device(device)
    level = check_jit_level(jit_level, dev)
    if dump_ir is not None:
        dump_ir = check_ir_dir(dump_ir).resolve()
    timings: dict[str, float] = {}
    _, graph = load_graph(spec, set_, input_shape, allow_outside_imports, timings=timings)

    # Before MindSpore starts: IR capture (read once by MindSpore) and the oneDNN ISA fix.
    prepare_ir_capture(full=dump_ir is not None)
    from archspec.runtime.device import setup

    t0 = time.perf_counter()
    runtime = setup(dev, "graph", level, isa_fix=not no_isa_fix)
    t1 = time.perf_counter()
    import numpy as np
    from mindspore import Tensor

    from archspec.lower import build_cell
    from archspec.runtime.compile import compile as compile_net

    net = build_cell(graph)
    rng = np.random.default_rng(0)
    inputs = [Tensor(rng.standard_normal(shape).astype(np.float32)) for shape in graph.inputs.values()]
    t2 = time.perf_counter()
    report = compile_net(net, inputs, level, runs=runs, ir_dir=dump_ir)
    timings.update(setup_mindspore=t1 - t0, lower=t2 - t1, compile=report.compile_s, first_run=report.first_run_s)
    if report.steady_run_s is not None:
        timings["steady_run"] = report.steady_run_s

    convs = sum(1 for n in graph.nodes if n.op == "conv")
    summary = {
        "name": graph.name,
        "spec": str(spec),
        "device": runtime.device,
        "mode": "graph",
        "jit_level": report.jit_level,
        "cpu_isa": runtime.isa,
        "inputs": {k: list(v) for k, v in graph.inputs.items()},
        "outputs": {o: list(graph.shape_of(o)) for o in graph.outputs},
        "spec_nodes": len(graph.nodes),
        "spec_conv_nodes": convs,
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "steady_runs": report.runs,
        "kernels": report.kernels,
        "kernels_total": report.kernels_total,
        "graph_nodes": report.graph_nodes,
        "graph_nodes_total": report.graph_nodes_total,
        "ir": ({"dir": report.ir_dir, "files": report.ir_files, "final_graph": report.final_graph,
                "kernel_list": report.kernel_list} if report.ir_dir else None),
        "notes": runtime.notes + report.notes,
    }
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    _print_human(spec, graph, summary, report)


def _print_human(spec: Path, graph, summary: dict, report) -> None:
    from rich.table import Table

    title = f"{graph.name} ({_esc(str(spec))}): {summary['device']} GRAPH_MODE, jit level {report.jit_level}"
    if report.kernels is not None:
        table = Table(title=title, header_style="bold")
        table.add_column("kind")
        table.add_column("kernels", justify="right")
        table.add_column("graph nodes", justify="right")
        nodes = report.graph_nodes or {}
        kinds = list(report.kernels) + [k for k in nodes if k not in report.kernels]
        for kind in kinds:
            table.add_row(kind, str(report.kernels.get(kind, 0)), str(nodes[kind]) if kind in nodes else "-")
        table.add_section()
        table.add_row("total", str(report.kernels_total),
                      str(report.graph_nodes_total) if report.graph_nodes_total is not None else "-")
        out.print(table)
    else:
        out.print(title, highlight=False)
    inputs = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in summary["inputs"].items())
    out.print(f"inputs: {inputs}    spec nodes: {summary['spec_nodes']} ({summary['spec_conv_nodes']} conv)    "
              f"CPU ISA: {_esc(summary['cpu_isa'])}", highlight=False)
    steady = (f"    steady-state run: {report.steady_run_s * 1000:.1f} ms (median of {report.runs})"
              if report.steady_run_s is not None else "")
    out.print(f"compile: {report.compile_s:.2f} s    first run: {report.first_run_s * 1000:.1f} ms{steady}",
              highlight=False)
    if report.ir_dir:
        out.print(f"IR files ({report.ir_files}) in {_esc(report.ir_dir)}", highlight=False)
        if report.final_graph:
            out.print(f"  final kernel graph: {_esc(report.final_graph)}", highlight=False)
        if report.kernel_list:
            out.print(f"  kernels in launch order: {_esc(report.kernel_list)}", highlight=False)
    for note in summary["notes"]:
        out.print(f"note: {_esc(note)}", highlight=False)
