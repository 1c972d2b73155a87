"""One measurement process of `archspec profile`: `python -m archspec.profiling.worker JOB.json`.

The job (written by `archspec.profiling.parent.run_worker`) says what to do:

* `prepare`: set up the device (a clean error when it is absent), build the net, load `--weights`
  or draw seeded random weights, save them as a checkpoint; export the MindIR when asked.
* `mode`: time one mode (pynative, graph-separate, graph, graph-fold, mindir) on the prepared
  weights and input, the net built straight from the checkpoint (`lower.fold.from_checkpoint`);
  optionally run MindSpore's profiler afterwards (`ops`).
* `replay`: PYNATIVE per-node timing, the fallback of `--ops` when the profiler gives nothing.

Progress goes to stdout as lines starting with `PROGRESS_MARK`; the result goes to the job's
`result` file as `{"ok": true, "result": {...}}`, or `{"ok": false, "error": {...}}` for a user
mistake (SpecError). Anything else is a crash: traceback on stderr, non-zero exit, no result.
"""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from archspec.errors import SpecError, SpecErrors, error_head
from archspec.profiling.profiler import parse_profiler_output, summarize_times, trace_files, write_node_trace
from archspec.profiling.request import MODE_LOWERING, PROGRESS_MARK

perf = time.perf_counter


def emit(**event: Any) -> None:
    sys.stdout.write(PROGRESS_MARK + json.dumps(event) + "\n")
    sys.stdout.flush()


# --------------------------------------------------------------------------- common steps


def _setup(job: dict[str, Any], mode: str):
    from archspec.runtime.host import setup

    return setup(job["device"], mode, job.get("jit_level"), isa_fix=job.get("isa_fix", True))


def load_graph(job: dict[str, Any]):
    """The job's spec, resolved as the parent resolved it (params, input shapes)."""
    from archspec.graph import spec_graph
    from archspec.spec.loader import load

    spec = load(job["spec"], job.get("overrides") or {}, allow_outside_imports=job.get("allow_outside_imports", False),
                override_source="--set")
    shapes = job.get("input_shapes")
    return spec_graph(spec, {k: tuple(v) for k, v in shapes.items()} if shapes else None)


def _inputs(job: dict[str, Any], graph):
    import numpy as np
    from mindspore import Tensor

    with np.load(job["inputs"]) as z:
        return [Tensor(z[name]) for name in graph.inputs]


def _materialize(out) -> list:
    """Wait for and copy the output(s) to host: the timed unit of work ends here."""
    items = out if isinstance(out, (tuple, list)) else (out,)
    return [t.asnumpy() for t in items]


def _rss_mb() -> float | None:
    """This process's peak resident set size so far (the high-water mark), in MB.

    Linux: VmHWM of /proc/self/status, the high-water mark of this process's own memory map.
    Not getrusage's ru_maxrss: the kernel carries the parent's high-water mark into it across
    fork + exec, so a worker started from a large process (a notebook, a test run) would report
    the parent's peak instead of its own.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    except ImportError:  # Windows
        try:
            import psutil

            info = psutil.Process().memory_info()
            return getattr(info, "peak_wset", info.rss) / (1024 * 1024)
        except ImportError:
            return None


def _device_peak_mb(device: str) -> float | None:
    """Peak device memory of MindSpore's pool (Ascend/GPU); None on CPU, which reports 0."""
    if device == "CPU":
        return None
    try:
        import mindspore

        peak = mindspore.runtime.max_memory_allocated()
    except Exception:  # noqa: BLE001 (an older runtime without the API: unknown)
        return None
    return peak / (1024 * 1024) if peak else None


def _randomize_bn(net, seed: int) -> None:
    """Non-trivial BatchNorm statistics (fresh BN is the identity, which would hide folding bugs)."""
    import numpy as np
    from mindspore import Tensor

    rng = np.random.default_rng(seed + 1)
    for p in net.get_parameters():
        name = p.name.rsplit(".", 1)[-1]
        shape = tuple(p.shape)
        if name == "gamma" or name == "moving_variance":
            p.set_data(Tensor(rng.uniform(0.5, 1.5, shape).astype(np.float32)))
        elif name == "beta" or name == "moving_mean":
            p.set_data(Tensor(rng.normal(0.0, 0.1, shape).astype(np.float32)))


# --------------------------------------------------------------------------- jobs


def prepare(job: dict[str, Any]) -> dict[str, Any]:
    emit(phase="device setup")
    rt = _setup(job, "graph")
    import mindspore

    from archspec.lower import build_cell

    graph = load_graph(job)
    emit(phase="building")
    mindspore.set_seed(int(job["seed"]))
    net = build_cell(graph)
    if job.get("weights"):
        from archspec.weights.checkpoint import load_weights

        emit(phase="loading weights")
        load_weights(net, job["weights"], allow_partial=False,
                     allow_nonfinite=bool(job.get("allow_nonfinite")))
        weights = job["weights"]
    else:
        _randomize_bn(net, int(job["seed"]))
        weights = f"random (seed {job['seed']}, BatchNorm statistics randomized)"
    mindspore.save_checkpoint(net, job["ckpt"])
    export_s = None
    if job.get("mindir"):
        emit(phase="exporting MindIR")
        t = perf()
        mindspore.export(net, *_inputs(job, graph), file_name=job["mindir"], file_format="MINDIR")
        export_s = perf() - t
    return {"weights": weights, "jit_level": rt.jit_level, "isa": rt.isa, "available": list(rt.available),
            "mindspore": mindspore.__version__, "pid": os.getpid(), "export_s": export_s,
            "notes": list(getattr(rt, "notes", []) or [])}


def time_mode(job: dict[str, Any]) -> dict[str, Any]:
    mode = job["mode"]
    emit(phase="device setup")
    rt = _setup(job, "pynative" if mode == "pynative" else "graph")
    import mindspore
    import numpy as np
    from mindspore import nn

    from archspec.lower import run
    from archspec.lower.fold import from_checkpoint

    base_rss = _rss_mb()
    graph = load_graph(job)
    xs = _inputs(job, graph)
    emit(phase="loading MindIR" if mode == "mindir" else "building")
    t0 = perf()
    if mode == "mindir":
        runner = nn.GraphCell(mindspore.load(job["mindir"] + ".mindir"))
        runner.set_jit_config(mindspore.JitConfig(jit_level=rt.jit_level))
        call = runner
    else:
        _, net = from_checkpoint(graph, job["ckpt"], fold=mode == "graph-fold", options=MODE_LOWERING.get(mode))
        if mode != "pynative":
            net.set_jit_config(mindspore.JitConfig(jit_level=rt.jit_level))

        def call(*args):
            return run(net, *args)
    build_s = perf() - t0

    emit(phase="first call" + (" (compiles)" if mode != "pynative" else ""))
    t = perf()
    outs = _materialize(call(*xs))
    first_s = perf() - t
    emit(advance=1)
    if job["warmup"]:
        emit(phase="warm-up")
    for _ in range(int(job["warmup"])):
        _materialize(call(*xs))
        emit(advance=1)
    emit(phase="timing")
    times = []
    for _ in range(int(job["iters"])):
        t = perf()
        outs = _materialize(call(*xs))
        times.append(perf() - t)
        emit(advance=1)
    peak_rss = _rss_mb()
    np.savez(job["outputs"], *outs)
    batch = next(iter(graph.inputs.values()))[0] if graph.inputs else 1
    stats = summarize_times(times)
    result: dict[str, Any] = {
        "pid": os.getpid(), "device": rt.device, "exec_mode": "PYNATIVE" if mode == "pynative" else "GRAPH",
        "jit_level": None if mode == "pynative" else rt.jit_level, "cpu_isa": rt.isa,
        "build_s": build_s, "first_call_ms": first_s * 1000.0, **stats,
        "images_per_s": batch / (stats["median_ms"] / 1000.0) if stats["median_ms"] > 0 else None,
        "batch": batch, "times_ms": [t * 1000.0 for t in times],
        "base_rss_mb": base_rss, "peak_rss_mb": peak_rss, "device_peak_mb": _device_peak_mb(rt.device),
        "rss_above_base_mb": peak_rss - base_rss if peak_rss is not None and base_rss is not None else None,
        "output_shapes": [list(o.shape) for o in outs],
    }
    if job.get("ops"):
        emit(phase="profiling ops")
        result["ops"] = profile_ops(call, xs, graph, rt.device, job["ops"], mode)
        emit(advance=1)
    return result


def profile_ops(call, xs, graph, device: str, cfg: dict[str, Any], mode: str) -> dict[str, Any]:
    """Run MindSpore's profiler over `cfg['steps']` calls; per-kernel times traced to spec nodes."""
    from mindspore.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

    steps = int(cfg["steps"])
    trace_dir = Path(cfg["trace_dir"])
    trace_dir.mkdir(parents=True, exist_ok=True)
    before = {p.name for p in trace_dir.iterdir()}
    activities = [ProfilerActivity.CPU]
    kwargs: dict[str, Any] = {}
    if device == "Ascend":
        from mindspore.profiler import AicoreMetrics, ProfilerLevel, _ExperimentalConfig

        activities.append(ProfilerActivity.NPU)
        # Level0: the leanest level that records every device kernel (kernel_details.csv).
        kwargs["experimental_config"] = _ExperimentalConfig(profiler_level=ProfilerLevel.Level0,
                                                            aic_metrics=AicoreMetrics.AiCoreNone)
    elif device == "GPU":
        activities.append(ProfilerActivity.GPU)
    worker = f"archspec-{mode}"  # the handler appends _<pid>_<timestamp>_ascend_ms
    try:
        with profile(activities=activities, schedule=schedule(wait=0, warmup=1, active=steps, repeat=1),
                     on_trace_ready=tensorboard_trace_handler(str(trace_dir), worker_name=worker), **kwargs) as prof:
            for _ in range(steps + 1):
                _materialize(call(*xs))
                prof.step()
    except Exception as exc:  # noqa: BLE001 (the timing results stand; the parent falls back to a replay)
        return {"error": f"the profiler failed: {type(exc).__name__}: {error_head(exc)}"}
    new = [p for p in trace_dir.iterdir() if p.name not in before and p.is_dir()]
    if not new:
        return {"error": f"the profiler wrote nothing to {trace_dir}"}
    run_dir = max(new, key=lambda p: p.stat().st_mtime)
    parsed = parse_profiler_output(run_dir, steps, [n.name for n in graph.nodes], [n.kind for n in graph.nodes])
    if parsed is None:
        return {"error": f"the profiler's output ({run_dir}) has no per-op times", "trace_dir": str(run_dir)}
    parsed["trace_dir"] = str(run_dir)
    write_node_trace(run_dir, [n.name for n in graph.nodes])
    parsed["trace_files"] = trace_files(run_dir)
    return parsed


def replay(job: dict[str, Any]) -> dict[str, Any]:
    """Each node alone on its real input in PYNATIVE mode: median over rounds of back-to-back calls."""
    emit(phase="device setup")
    rt = _setup(job, "pynative")
    from archspec.graph.ir import last_readers
    from archspec.lower.fold import from_checkpoint

    graph, net = from_checkpoint(load_graph(job), job["ckpt"], fold=bool(job.get("fold")))
    xs = _inputs(job, graph)
    n_in = len(xs)
    values: list[Any] = list(xs) + [None] * len(graph.nodes)
    last_use = last_readers(net.node_inputs, len(values))
    keep = set(net.output_index)
    runs = max(1, int(job.get("runs", 3)))
    calls = max(1, int(job.get("calls", 5)))
    rows = []
    emit(phase="replaying nodes")
    for i, node in enumerate(graph.nodes):
        cell = net.nodes[i]
        args = [values[v] for v in net.node_inputs[i]]
        out = cell(*args)
        _materialize(out)  # warm-up (first-call kernel setup is not timed)
        times = []
        for _ in range(runs):
            # `calls` calls back to back, then one wait: PYNATIVE dispatches asynchronously, and a wait per
            # call would add the (on a busy machine, tens of ms) wake-up latency of each sync to every node.
            t = perf()
            for _ in range(calls):
                out = cell(*args)
            _materialize(out)
            times.append((perf() - t) / calls)
        values[n_in + i] = out
        for v in set(net.node_inputs[i]):
            if last_use[v] == i and v not in keep:
                values[v] = None
        ms = summarize_times(times)["median_ms"]
        rows.append({"node": node.name, "node_index": i, "node_kind": node.kind, "op": node.op,
                     "ms_per_step": ms, "macs": node.macs})
        emit(advance=1)
    total = sum(r["ms_per_step"] for r in rows)
    for r in rows:
        r["share"] = r["ms_per_step"] / total if total > 0 else 0.0
    rows.sort(key=lambda r: -r["ms_per_step"])
    return {"ops": {"source": f"timed per-node replay in PYNATIVE (each node alone on its real input; median of "
                              f"{runs} rounds of {calls} calls and one wait); not the profiler",
                    "method": "replay", "steps": runs, "total_ms_per_step": total, "by_node": rows,
                    "kernels": [], "by_type": [], "traced_to_nodes": 1.0, "device": rt.device}}


JOBS = {"prepare": prepare, "mode": time_mode, "replay": replay}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        sys.stderr.write("usage: python -m archspec.profiling.worker JOB.json\n")
        return 2
    job = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    kind = job.get("kind")
    if kind not in JOBS:
        raise ValueError(f"unknown job kind {kind!r}")
    try:
        payload = {"ok": True, "result": JOBS[kind](job)}
    except (SpecError, SpecErrors) as exc:
        e = exc.errors[0] if isinstance(exc, SpecErrors) and exc.errors else exc
        payload = {"ok": False, "error": {
            "message": e.message if isinstance(e, SpecError) else str(e),
            "hint": getattr(e, "hint", ""), "path": getattr(e, "path", ""),
            "loc": ({"file": e.loc.file, "line": e.loc.line, "col": e.loc.col}
                    if getattr(e, "loc", None) else None)}}
    tmp = job["result"] + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(payload, f)
    os.replace(tmp, job["result"])
    return 0


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: MindSpore's exit hooks can be slow, and the result is on disk.
    os._exit(code)
