"""`archspec profile`: speed and memory per execution mode, each in its own process; `--ops` per-op times."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer

from archspec.cli import options as opt
from archspec.cli.app import command, err, esc, out
from archspec.cli.progress import Progress
from archspec.cli.render import line, print_json, print_table


@command()
def profile(
    spec: Path = opt.Spec,
    set_: Optional[List[str]] = opt.Set,
    input_shape: Optional[List[str]] = opt.InputShape,
    weights: Optional[Path] = typer.Option(None, "--weights", "-w", metavar="CKPT",
                                           help="Weights to load (default: random, seeded, identical in every mode)."),
    allow_nonfinite: bool = opt.AllowNonfinite,
    modes: Optional[str] = typer.Option(None, "--modes", metavar="MODE,...",
                                        help="Modes to run, each in its own process (default: all, in this order): "
                                             "pynative, graph-separate (GRAPH with separate conv/BN/act cells), graph "
                                             "(GRAPH with nn.Conv2dBnAct), graph-fold (BN folded into conv weights), "
                                             "mindir (exported and reloaded as nn.GraphCell). The first is the "
                                             "reference for output differences."),
    device: opt.DeviceName = opt.Device,
    jit_level: opt.JitLevelName = opt.JitLevel,
    iters: int = typer.Option(10, "--iters", "-n", help="Timed iterations per mode."),
    warmup: int = typer.Option(2, "--warmup", help="Untimed calls after the first call."),
    seed: int = opt.Seed,
    no_isa_fix: bool = typer.Option(False, "--no-isa-fix",
                                    help="Do not cap oneDNN at AVX2 (shows MindSpore's out-of-the-box CPU speed)."),
    ops: bool = typer.Option(False, "--ops", help="Per-op breakdown of the graph mode with MindSpore's profiler."),
    top: int = typer.Option(15, "--top", help="Rows of the per-op tables."),
    trace: Optional[Path] = typer.Option(None, "--trace", metavar="DIR",
                                         help="Keep the profiler's output in DIR: archspec_trace.json (spec node names) "
                                              "for Perfetto or chrome://tracing, trace_view.json for MindStudio "
                                              "Insight, per-kernel CSVs."),
    ops_replay: bool = typer.Option(False, "--ops-replay",
                                    help="With --ops: time each node alone in PYNATIVE instead of running the profiler."),
    timeout: Optional[float] = typer.Option(None, "--timeout", metavar="SECONDS", help="Stop a worker after this long."),
    as_json: bool = opt.Json,
    allow_outside_imports: bool = opt.Outside,
) -> None:
    """Time the model in several execution modes, each in its own process, with identical weights and input:
    first call (compile), median, p10, p90, images/s, peak memory, speedup and output difference."""
    from archspec.api import WorkerFailed, profile as run_profile

    try:
        with Progress() as progress:
            report = run_profile(spec, **opt.spec_inputs(set_, input_shape, allow_outside_imports), modes=modes or "all",
                                 device=device.value, jit_level=jit_level.value, iters=iters, warmup=warmup, seed=seed,
                                 weights=weights, allow_nonfinite=allow_nonfinite, isa_fix=not no_isa_fix, ops=ops, top=top, trace_dir=trace,
                                 ops_replay=ops_replay, timeout=timeout, on_event=progress.event)
    except WorkerFailed as e:
        err.print(f"[red]error:[/red] {esc(e)}")
        err.print("  the other modes' results are not shown; run that mode alone (--modes) to reproduce it")
        raise typer.Exit(1)
    if as_json:
        print_json(report.to_dict())
        return
    print_report(report)


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 1000 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 0.1 else f"{v:.3f}"


def _f(v: Any, fmt: str) -> str:
    return "-" if v is None else fmt.format(v)


def print_report(report) -> None:
    """The modes side by side, in at most 80 columns; then what the numbers mean."""
    from rich.table import Table

    from archspec.graph.report import human, shape_text

    shape = ", ".join(f"{k} {shape_text(v)}" for k, v in report.inputs.items())
    line(f"{report.name} on {report.device}: {shape}, {human(report.macs)}MACs; times in ms, "
         f"{report.iters} timed runs after {report.warmup} warm-up")
    table = Table(header_style="bold", box=None, padding=(0, 1), pad_edge=False)
    has_dev = any(r.get("device_peak_mb") for r in report.modes)
    # 80 columns: with the device-memory column, img/s (batch over median) gives way (it is in --json)
    columns = ["mode", "first", "median", "p10", "p90"] + ([] if has_dev else ["img/s"]) + ["RSS MB", "+base"]
    for col in columns + (["dev"] if has_dev else []) + ["speed", "diff"]:
        table.add_column(col, justify="left" if col == "mode" else "right", no_wrap=True)
    for r in report.modes:
        ips = r["images_per_s"]
        row = [r["mode"], _ms(r["first_call_ms"]), _ms(r["median_ms"]), _ms(r["p10_ms"]), _ms(r["p90_ms"])]
        if not has_dev:
            row.append(_f(ips, "{:.2f}" if (ips or 0) < 100 else "{:.0f}"))
        row += [_f(r["peak_rss_mb"], "{:.0f}"), _f(r.get("rss_above_base_mb"), "{:+.0f}")]
        if has_dev:
            row.append(_f(r.get("device_peak_mb"), "{:.0f}"))
        row += [_f(r["speedup_vs_pynative"], "{:.2f}x"),
                "ref" if r["mode"] == report.reference_mode else f"{r['max_abs_diff']:.1e}"]
        table.add_row(*row)
    print_table(table)
    base = [r["base_rss_mb"] for r in report.modes if r.get("base_rss_mb")]
    ref = report.mode(report.reference_mode)
    notes = [f"weights: {report.weights}; input: seeded random (seed {report.seed}); one process per mode.",
             "first: the first call, which includes graph compilation in the GRAPH modes; each time is one forward "
             "pass with the outputs copied to host; min and raw times are in --json.",
             "RSS MB: each worker's peak resident memory, MindSpore itself included; +base: that peak above the "
             "worker's own base, its RSS after importing MindSpore and setting up the device"
             + (f" ({_span(base)} MB)." if base else ".")
             + (" dev: MindSpore's peak device memory, MB." if has_dev else ""),
             *_memory_notes(report),
             f"speed: PYNATIVE's median over the mode's median; diff: max abs difference from the "
             f"{report.reference_mode} output (ref), whose largest magnitude is {ref['output_max_abs']:.3g}."]
    if report.device == "CPU":
        notes.append(f"CPU oneDNN ISA: {report.cpu_isa}.")
    notes.append(f"graph jit level: {report.jit_level}; MindSpore {report.mindspore}; {report.machine['cpu']}, "
                 f"{report.machine['cores']} cores.")
    notes += [f"note: {n}." for n in report.notes]
    for n in notes:
        line(f"  {n}")
    if report.ops:
        print_ops(report.ops)


def _memory_notes(report) -> list[str]:
    """Whether the deployed form (graph-fold) stayed within the plain graph's memory."""
    by = {r["mode"]: r for r in report.modes}
    if "graph" not in by or "graph-fold" not in by:
        return []
    fold, graph = by["graph-fold"].get("rss_above_base_mb"), by["graph"].get("rss_above_base_mb")
    if fold is None or graph is None:
        return []
    if fold <= graph:
        return [f"memory: graph-fold (the deployed form) peaks {graph - fold:.0f} MB lower above base than graph."]
    return [f"memory: graph-fold (the deployed form) peaks {fold - graph:.0f} MB HIGHER above base than graph."]


def _span(values: list[float]) -> str:
    lo, hi = f"{min(values):.0f}", f"{max(values):.0f}"
    return lo if lo == hi else f"{lo}-{hi}"


def print_ops(ops: dict[str, Any]) -> None:
    from rich.table import Table

    top = int(ops.get("top", 15))
    total = ops.get("total_ms_per_step") or 0.0
    out.print()
    out.print(f"[bold]per-op breakdown[/bold] ({esc(ops['profiled_mode'])} mode): {esc(ops['source'])}")
    if ops.get("why") and ops["method"] == "replay":
        line(f"  replay because: {ops['why']}")
    if ops["method"] == "profiler":
        line(f"  {total:.2f} ms of kernel time per step over {ops['steps']} profiled step(s); "
             f"{100 * ops.get('traced_to_nodes', 0):.0f}% of it traced to spec nodes")
        t = Table(title=f"top {min(top, len(ops['kernels']))} kernels by time", header_style="bold")
        for col, just in (("#", "right"), ("spec node", "left"), ("node kind", "left"), ("kernel", "left"),
                          ("type", "left"), ("ms/step", "right"), ("share", "right")):
            t.add_column(col, justify=just)
        for i, k in enumerate(ops["kernels"][:top], 1):
            t.add_row(str(i), esc(k["node"] or "-"), esc(k["node_kind"] or ""), esc(k["short"]), esc(k["type"]),
                      f"{k['ms_per_step']:.3f}", f"{100 * k['share']:.1f}%")
        print_table(t)
        t = Table(title="by op type", header_style="bold")
        for col, just in (("type", "left"), ("kernels", "right"), ("ms/step", "right"), ("share", "right")):
            t.add_column(col, justify=just)
        for g in ops["by_type"][:top]:
            t.add_row(esc(g["type"]), str(g["kernels"]), f"{g['ms_per_step']:.3f}", f"{100 * g['share']:.1f}%")
        print_table(t)
    else:
        line(f"  {total:.2f} ms summed over nodes (each timed alone, so this exceeds a real forward pass)")
        t = Table(title=f"top {min(top, len(ops['by_node']))} nodes by time", header_style="bold")
        for col, just in (("#", "right"), ("spec node", "left"), ("node kind", "left"), ("ms", "right"),
                          ("share", "right")):
            t.add_column(col, justify=just)
        for i, r in enumerate(ops["by_node"][:top], 1):
            t.add_row(str(i), esc(r["node"]), esc(r["node_kind"]), f"{r['ms_per_step']:.3f}", f"{100 * r['share']:.1f}%")
        print_table(t)
    if ops.get("trace_files"):
        line(f"  trace kept in {ops['trace_dir']}:")
        for f in ops["trace_files"]:
            line(f"    {f}")
