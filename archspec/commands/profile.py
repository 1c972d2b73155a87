"""`archspec profile`: speed and memory per execution mode, each in its own process; `--ops` per-op times.

The engine is `archspec.runtime.profile` (no MindSpore in this process: the workers import it).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Optional

import typer

from archspec.cli import OutsideOpt, SetOpt, ShapeOpt, _esc, app, err, guarded, load_graph, out


@app.command()
@guarded
def profile(
    spec: Path = typer.Argument(..., metavar="SPEC", help="The spec to profile."),
    set_: Optional[List[str]] = SetOpt,
    input_shape: Optional[List[str]] = ShapeOpt,
    weights: Optional[Path] = typer.Option(None, "--weights", metavar="CKPT",
                                           help="Weights to load (default: random, seeded, identical in every mode)."),
    modes: str = typer.Option("pynative,graph,graph-fold,mindir", "--modes", metavar="MODE,...",
                              help="Modes to run, each in its own process: pynative, graph, graph-fold (BN folded "
                                   "into conv weights), mindir (exported and reloaded as nn.GraphCell). The first "
                                   "is the reference for output differences."),
    device: str = typer.Option("CPU", "--device", help="CPU, GPU or Ascend."),
    jit_level: Optional[str] = typer.Option(None, "--jit-level", metavar="O0|O1|O2",
                                            help="Graph jit level of the GRAPH modes (default O0; O2, the whole-graph "
                                                 "sink, only on Ascend)."),
    iters: int = typer.Option(10, "--iters", "-n", help="Timed iterations per mode."),
    warmup: int = typer.Option(2, "--warmup", "-w", help="Untimed calls after the first call."),
    seed: int = typer.Option(0, "--seed", help="Seed of the random weights and input."),
    json_path: Optional[Path] = typer.Option(None, "--json", metavar="FILE", help="Also write the full report as JSON."),
    no_isa_fix: bool = typer.Option(False, "--no-isa-fix", help="Do not cap oneDNN at AVX2 (shows MindSpore's "
                                                                "out-of-the-box CPU speed)."),
    no_winograd: bool = typer.Option(False, "--no-winograd", help="graph-fold on CPU: keep MindSpore's own conv for "
                                                                  "every layer instead of archspec's NumPy Winograd "
                                                                  "kernel for large 3x3 convs."),
    ops: bool = typer.Option(False, "--ops", help="Per-op breakdown of the graph mode with MindSpore's profiler."),
    top: int = typer.Option(15, "--top", help="Rows of the per-op tables."),
    trace: Optional[Path] = typer.Option(None, "--trace", metavar="DIR",
                                         help="Keep the profiler's output in DIR: archspec_trace.json (spec node names) "
                                              "for Perfetto or chrome://tracing, trace_view.json for MindStudio "
                                              "Insight, per-kernel CSVs."),
    ops_replay: bool = typer.Option(False, "--ops-replay", help="With --ops: time each node alone in PYNATIVE "
                                                                "instead of running the profiler."),
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", help="Stop a worker after this long."),
    allow_outside_imports: bool = OutsideOpt,
) -> None:
    """Time the model in several execution modes, each in its own process, with identical weights and input:
    first call (compile), median, p10, p90, min, images/s, peak memory, speedup and output difference."""
    from archspec.fileio import check_target
    from archspec.runtime.profile import ProfileRequest, WorkerFailed, check_request, parse_modes, run_profile

    req = ProfileRequest(spec=str(spec), modes=parse_modes(modes), device=device, jit_level=jit_level, iters=iters,
                         warmup=warmup, seed=seed, weights=str(weights) if weights else None, isa_fix=not no_isa_fix,
                         winograd=not no_winograd, ops=ops, top=top, trace_dir=str(trace) if trace else None, ops_replay=ops_replay,
                         timeout=timeout, allow_outside_imports=allow_outside_imports)
    check_request(req)  # bad arguments fail here, before the spec is even loaded
    if json_path is not None:
        check_target(json_path, force=True, option="--json")
    from archspec.spec.params import parse_set_options

    _, graph = load_graph(spec, set_, input_shape, allow_outside_imports)
    req.overrides = parse_set_options(set_ or [])
    req.input_shapes = {k: list(v) for k, v in graph.inputs.items()}

    try:
        with _Progress() as progress:
            report = run_profile(req, graph, on_event=progress.event)
    except WorkerFailed as e:
        err.print(f"[red]error:[/red] {_esc(str(e))}", highlight=False)
        err.print("  the other modes' results are not shown; run that mode alone (--modes) to reproduce it",
                  highlight=False)
        raise typer.Exit(1)
    if not req.trace_dir and report.get("ops"):
        report["ops"].pop("trace_files", None)
        report["ops"].pop("trace_dir", None)
    print_report(report)
    if json_path is not None:
        from archspec.fileio import write_text

        write_text(json_path, json.dumps(report, indent=2) + "\n", force=True, option="--json")
        out.print(f"wrote {_esc(str(json_path))}", highlight=False)


class _Progress:
    """A rich progress bar per worker, fed by the engine's events (stderr; off when not a terminal)."""

    def __init__(self) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(TextColumn("{task.fields[label]:<20}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[phase]}"), TimeElapsedColumn(), console=err,
                                 disable=not err.is_terminal)
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> "_Progress":
        self.progress.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.progress.__exit__(*exc)

    def event(self, kind: str, name: str, **data: Any) -> None:
        p = self.progress
        if kind == "stage":
            self.tasks[name] = p.add_task("", total=data.get("total") or 1, label=data.get("label", name), phase="starting")
        elif name not in self.tasks:
            return
        elif kind == "phase":
            p.update(self.tasks[name], phase=data.get("text", ""))
        elif kind == "advance":
            p.advance(self.tasks[name], data.get("n", 1))
        elif kind == "done":
            task = self.tasks[name]
            p.update(task, completed=p.tasks[task].total, phase="done")


def _f(v: Any, fmt: str = "{:.1f}", none: str = "-") -> str:
    return none if v is None else fmt.format(v)


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 1000 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def _print_wide(renderable) -> None:
    """Print a table at its natural width when the output is not a terminal (files, pipes, CI logs), so
    numbers are never cut; a terminal gets rich's fitting."""
    if out.is_terminal:
        out.print(renderable)
        return
    from rich.measure import Measurement

    need = Measurement.get(out, out.options.update_width(10_000), renderable).maximum
    saved = out.width
    out.width = max(saved, need)  # print(width=) is capped at the console's width
    try:
        out.print(renderable)
    finally:
        out.width = saved


def print_report(report: dict[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    from archspec.report import human

    shape = ", ".join(f"{k} {'x'.join(map(str, v))}" for k, v in report["inputs"].items())
    title = (f"{report['name']} on {report['device']}: {shape}, {human(report['macs'])}MACs; "
             f"times in ms, {report['iters']} timed runs after {report['warmup']} warm-up")
    table = Table(title=_esc(title), header_style="bold", box=box.SIMPLE_HEAD)
    for col, just in (("mode", "left"), ("first call", "right"), ("median", "right"), ("p10", "right"),
                      ("p90", "right"), ("min", "right"), ("img/s", "right"), ("peak RSS", "right")):
        table.add_column(col, justify=just)
    has_dev = any(r.get("device_peak_mb") for r in report["modes"])
    if has_dev:
        table.add_column("device peak", justify="right")
    table.add_column("speedup", justify="right")
    table.add_column("max abs diff", justify="right")
    for r in report["modes"]:
        row = [r["mode"], _ms(r["first_call_ms"]), _ms(r["median_ms"]), _ms(r["p10_ms"]), _ms(r["p90_ms"]),
               _ms(r["min_ms"]), _f(r["images_per_s"], "{:.2f}" if (r["images_per_s"] or 0) < 100 else "{:.0f}"),
               _f(r["peak_rss_mb"], "{:.0f} MB")]
        if has_dev:
            row.append(_f(r.get("device_peak_mb"), "{:.0f} MB"))
        row.append(_f(r["speedup_vs_pynative"], "{:.2f}x"))
        row.append("reference" if r["mode"] == report["reference_mode"] else f"{r['max_abs_diff']:.1e}")
        table.add_row(*row)
    _print_wide(table)
    base = [r["base_rss_mb"] for r in report["modes"] if r.get("base_rss_mb")]
    notes = [f"weights: {report['weights']}; input: seeded random (seed {report['seed']}); one process per mode.",
             "first call includes graph compilation in the GRAPH modes; each time is one forward pass with the "
             "outputs copied to host.",
             "peak RSS is each worker's high-water mark, MindSpore itself included"
             + (f" (about {min(base):.0f} MB after import and device setup)." if base else "."),
             "speedup is PYNATIVE's median over the mode's median; max abs diff is against the "
             f"{report['reference_mode']} output, whose largest magnitude is {_ref_scale(report)}."]
    if report["device"] == "CPU":
        notes.append(f"CPU oneDNN ISA: {report['cpu_isa']}.")
    fold = next((r for r in report["modes"] if r.get("cpu_kernels")), None)
    if fold:
        k = fold["cpu_kernels"]
        if k["winograd_convs"] or not k["options"]:
            notes.append(f"graph-fold CPU kernels: {k['reason']}; {k['winograd_convs']} conv(s) use it.")
        else:
            from archspec.ops.conv import WINOGRAD_RULE

            notes.append(f"graph-fold CPU kernels: none; no conv qualifies for the Winograd kernel ({WINOGRAD_RULE}).")
    jl = report.get("jit_level")
    notes.append(f"graph jit level: {jl}; MindSpore {report['mindspore']}; {report['machine']['cpu']}, "
                 f"{report['machine']['cores']} cores.")
    notes += [f"note: {n}." for n in report.get("notes", [])]
    for n in notes:
        out.print(f"  {_esc(n)}", highlight=False)
    if report.get("ops"):
        print_ops(report["ops"])


def _ref_scale(report: dict[str, Any]) -> str:
    ref = next(r for r in report["modes"] if r["mode"] == report["reference_mode"])
    return f"{ref['output_max_abs']:.3g}"


def print_ops(ops: dict[str, Any]) -> None:
    from rich.table import Table

    top = int(ops.get("top", 15))
    total = ops.get("total_ms_per_step") or 0.0
    out.print()
    out.print(f"[bold]per-op breakdown[/bold] ({_esc(ops['profiled_mode'])} mode): {_esc(ops['source'])}",
              highlight=False)
    if ops.get("why") and ops["method"] == "replay":
        out.print(f"  replay because: {_esc(str(ops['why']))}", highlight=False)
    if ops["method"] == "profiler":
        out.print(f"  {total:.2f} ms of kernel time per step over {ops['steps']} profiled step(s); "
                  f"{100 * ops.get('traced_to_nodes', 0):.0f}% of it traced to spec nodes", highlight=False)
        t = Table(title=f"top {min(top, len(ops['kernels']))} kernels by time", header_style="bold")
        for col, just in (("#", "right"), ("spec node", "left"), ("node kind", "left"), ("kernel", "left"),
                          ("type", "left"), ("ms/step", "right"), ("share", "right")):
            t.add_column(col, justify=just)
        for i, k in enumerate(ops["kernels"][:top], 1):
            t.add_row(str(i), _esc(k["node"] or "-"), _esc(k["node_kind"] or ""), _esc(k["short"]), _esc(k["type"]),
                      f"{k['ms_per_step']:.3f}", f"{100 * k['share']:.1f}%")
        _print_wide(t)
        t = Table(title="by op type", header_style="bold")
        for col, just in (("type", "left"), ("kernels", "right"), ("ms/step", "right"), ("share", "right")):
            t.add_column(col, justify=just)
        for g in ops["by_type"][:top]:
            t.add_row(_esc(g["type"]), str(g["kernels"]), f"{g['ms_per_step']:.3f}", f"{100 * g['share']:.1f}%")
        _print_wide(t)
    else:
        out.print(f"  {total:.2f} ms summed over nodes (each timed alone, so this exceeds a real forward pass)",
                  highlight=False)
        t = Table(title=f"top {min(top, len(ops['by_node']))} nodes by time", header_style="bold")
        for col, just in (("#", "right"), ("spec node", "left"), ("node kind", "left"), ("ms", "right"),
                          ("share", "right")):
            t.add_column(col, justify=just)
        for i, r in enumerate(ops["by_node"][:top], 1):
            t.add_row(str(i), _esc(r["node"]), _esc(r["node_kind"]), f"{r['ms_per_step']:.3f}", f"{100 * r['share']:.1f}%")
        _print_wide(t)
    if ops.get("trace_files"):
        out.print(f"  trace kept in {_esc(ops['trace_dir'])}:", highlight=False)
        for f in ops["trace_files"]:
            out.print(f"    {_esc(f)}", highlight=False)
