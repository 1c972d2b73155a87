"""`archspec profile`: speed and memory of one spec in several execution modes, side by side.

The parent (this module) never imports MindSpore. Every measurement runs in its own process
(`python -m archspec.runtime.profile_worker JOB.json`), so modes cannot share compiled graphs,
caches, allocator pools or a memory high-water mark:

1. a *prepare* worker sets up the device (an absent device is a clean error here, before anything
   is timed), builds the network once, loads `--weights` (or draws random weights with a fixed
   seed, BatchNorm statistics included, so folding BN is a real test), and saves the weights as a
   checkpoint in spec parameter names; when `mindir` is asked for it also exports the MindIR;
2. one worker per mode loads that same checkpoint (identical weights by construction) and the same
   seeded input, runs warm-up calls, then timed calls with outputs copied to host (`.asnumpy()`),
   and reports the times, its peak RSS and its output;
3. with `--ops`, the GRAPH (or GRAPH + folded BN) worker then runs MindSpore's profiler
   (`mindspore.profiler.profile`); if that gives no usable per-op times, a separate PYNATIVE worker
   replays the nodes one by one and times each (labelled as such).

Modes:
  pynative    the SpecNet in PYNATIVE mode, kernel by kernel
  graph       the SpecNet compiled in GRAPH mode (jit level O0 unless --jit-level; O2 only on Ascend)
  graph-fold  GRAPH mode on `fold_bn(graph)` with `fold_bn_weights`: BatchNorm folded into conv
  mindir      the SpecNet exported to MindIR, loaded with `mindspore.load` + `nn.GraphCell`

What MindSpore 2.10's profiler gives on CPU (measured): in GRAPH mode
`mindspore.profiler.profile(activities=[ProfilerActivity.CPU], schedule=..., on_trace_ready=
tensorboard_trace_handler(dir))` writes `<worker>_<timestamp>_ascend_ms/` with
`FRAMEWORK/cpu_op_detail_info_0.csv` (one row per kernel: full scope name such as
`Default/nodes-CellList/3-Conv2dBnAct/conv-Conv2d/Conv2D-op0`, occurrences, total ms),
`cpu_op_type_info_0.csv` (per op type), `cpu_op_execute_timestamp_0.txt`, and
`ASCEND_PROFILER_OUTPUT/trace_view.json` (Chrome trace format). In PYNATIVE mode and for a MindIR
GraphCell the rows carry no Cell scope (`Default/Conv2D-op2`), so kernels cannot be traced back to
spec nodes; that is why `--ops` profiles a GRAPH mode.
"""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from archspec.errors import Location, SpecError
from archspec.fileio import write_probe

MODES = ("pynative", "graph", "graph-fold", "mindir")
MODE_LABELS = {
    "pynative": "PYNATIVE",
    "graph": "GRAPH",
    "graph-fold": "GRAPH, BN folded",
    "mindir": "MindIR (GraphCell)",
}
GRAPH_MODES = ("graph", "graph-fold", "mindir")
DEFAULT_MODES = "pynative,graph,graph-fold,mindir"
PROGRESS_MARK = "@@archspec-progress "  # worker -> parent progress lines on the worker's stdout
MAX_OPS_STEPS = 10
REPLAY_ROUNDS, REPLAY_CALLS = 3, 5

Event = Callable[..., None]


class WorkerFailed(Exception):
    """A worker process crashed or died (not a user mistake): names the mode, quotes its stderr."""

    def __init__(self, label: str, returncode: int | None, stderr_tail: str, detail: str = "") -> None:
        self.label = label
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        how = detail or (f"exited with status {returncode}" if returncode is not None else "did not finish")
        text = f"the {label} worker {how}"
        if stderr_tail.strip():
            text += "; last lines of its stderr:\n" + stderr_tail.rstrip()
        super().__init__(text)


@dataclass
class ProfileRequest:
    """Everything `run_profile` needs; plain data so it can go to a worker as JSON."""

    spec: str
    overrides: dict[str, str] = field(default_factory=dict)
    input_shapes: dict[str, list[int]] | None = None
    allow_outside_imports: bool = False
    modes: list[str] = field(default_factory=lambda: parse_modes(DEFAULT_MODES))
    device: str = "CPU"
    jit_level: str | None = None
    iters: int = 10
    warmup: int = 2
    seed: int = 0
    weights: str | None = None
    isa_fix: bool = True
    winograd: bool = True  # graph-fold on CPU may use archspec's Winograd kernel (runtime.cpu_kernels)
    ops: bool = False
    top: int = 15
    trace_dir: str | None = None
    ops_replay: bool = False
    timeout: float | None = None  # seconds per worker; None waits as long as it takes


# --------------------------------------------------------------------------- argument checks


def parse_modes(text: str) -> list[str]:
    """'pynative,graph' -> ['pynative', 'graph']; unknown or repeated names are SpecErrors."""
    from archspec.errors import did_you_mean

    modes: list[str] = []
    for raw in str(text).split(","):
        m = raw.strip().lower().replace("_", "-")
        if not m:
            continue
        if m not in MODES:
            raise SpecError(f"unknown mode '{raw.strip()}'", Location("--modes"),
                            hint=did_you_mean(m, MODES) or "modes are " + ", ".join(MODES))
        if m in modes:
            raise SpecError(f"mode '{m}' is listed twice", Location("--modes"))
        modes.append(m)
    if not modes:
        raise SpecError("no mode given", Location("--modes"), hint="for example --modes pynative,graph")
    return modes


def check_request(req: ProfileRequest) -> None:
    """Reject bad arguments before any worker starts (the device's presence is checked by the
    prepare worker, the only place that may import MindSpore)."""
    from archspec.runtime.device import canonical_device, check_jit_level

    req.device = canonical_device(req.device)
    req.modes = parse_modes(",".join(req.modes))
    if req.iters < 1:
        raise SpecError(f"--iters must be at least 1, got {req.iters}", Location("--iters"))
    if req.warmup < 0:
        raise SpecError(f"--warmup must be 0 or more, got {req.warmup}", Location("--warmup"))
    if req.top < 1:
        raise SpecError(f"--top must be at least 1, got {req.top}", Location("--top"))
    req.jit_level = check_jit_level(req.jit_level, req.device)  # O0 by default; O2 only on Ascend
    if req.weights is not None:
        w = Path(req.weights)
        if not w.is_file():
            raise SpecError(f"weights file {w} not found" if not w.exists() else f"{w} is not a file",
                            Location("--weights"))
        req.weights = str(w.resolve())
    if (req.trace_dir or req.ops_replay) and not req.ops:
        raise SpecError("--trace and --ops-replay go with --ops", Location("--trace" if req.trace_dir else "--ops-replay"),
                        hint="add --ops")
    if req.ops and ops_mode(req.modes) is None:
        raise SpecError("--ops profiles a GRAPH mode, but --modes has neither graph nor graph-fold",
                        Location("--ops"), hint="add graph to --modes")
    if req.trace_dir is not None:
        t = Path(req.trace_dir)
        if t.exists() and not t.is_dir():
            raise SpecError(f"{t} exists and is not a folder", Location("--trace"))
        parent = t if t.exists() else t.parent
        if not parent.exists():
            raise SpecError(f"folder {parent} does not exist", Location("--trace"), hint=f"create it first: mkdir -p {parent}")
        problem = write_probe(parent)
        if problem:
            raise SpecError(f"folder {parent} is not writable ({problem})", Location("--trace"))
        req.trace_dir = str(t.resolve())
    if req.timeout is not None and req.timeout <= 0:
        raise SpecError("--timeout must be positive", Location("--timeout"))


def ops_mode(modes: list[str]) -> str | None:
    """The mode whose worker runs the profiler: graph, else graph-fold."""
    for m in ("graph", "graph-fold"):
        if m in modes:
            return m
    return None


# --------------------------------------------------------------------------- the run


def run_profile(req: ProfileRequest, graph, on_event: Event | None = None) -> dict[str, Any]:
    """Profile `graph` (resolved from `req.spec`) in every mode of `req`; the report as a dict.

    `on_event(kind, **data)` is called with ("stage", name=, label=, total=) when a worker starts,
    ("phase", name=, text=) and ("advance", name=, n=) while it runs, and ("done", name=).
    Raises SpecError for user mistakes (also those a worker finds, such as an absent device) and
    WorkerFailed when a worker crashes.
    """
    import numpy as np

    check_request(req)
    emit = on_event or (lambda kind, **data: None)
    work = Path(tempfile.mkdtemp(prefix="archspec-profile-"))
    try:
        # The same input for every mode, drawn here from the seed.
        rng = np.random.default_rng(req.seed)
        inputs = {name: rng.standard_normal(tuple(shape)).astype(np.float32) for name, shape in graph.inputs.items()}
        np.savez(work / "inputs.npz", **inputs)
        base = {
            "spec": str(Path(req.spec).resolve()), "overrides": req.overrides, "input_shapes": req.input_shapes,
            "allow_outside_imports": req.allow_outside_imports, "device": req.device, "jit_level": req.jit_level,
            "isa_fix": req.isa_fix, "winograd": req.winograd, "seed": req.seed, "inputs": str(work / "inputs.npz"),
            "ckpt": str(work / "weights.ckpt"), "mindir": str(work / "model") if "mindir" in req.modes else None,
        }

        emit("stage", name="prepare", label="prepare", total=1)
        prep = run_worker({**base, "kind": "prepare", "weights": req.weights}, "prepare", work, emit, req.timeout)
        emit("advance", name="prepare", n=1)
        emit("done", name="prepare")

        results: list[dict[str, Any]] = []
        ops_in = ops_mode(req.modes) if req.ops else None
        for mode in req.modes:
            job = {**base, "kind": "mode", "mode": mode, "iters": req.iters, "warmup": req.warmup,
                   "outputs": str(work / f"out-{mode}.npz"), "ops": None}
            if mode == ops_in and not req.ops_replay:
                job["ops"] = {"steps": max(1, min(req.iters, MAX_OPS_STEPS)),
                              "trace_dir": req.trace_dir or str(work / "trace")}
            steps = 1 + req.warmup + req.iters + (1 if job["ops"] else 0)
            emit("stage", name=mode, label=MODE_LABELS[mode], total=steps)
            res = run_worker(job, mode, work, emit, req.timeout)
            res["mode"], res["label"] = mode, MODE_LABELS[mode]
            results.append(res)
            emit("done", name=mode)

        _compare(results, work, graph)
        ops = None
        if ops_in is not None:
            ops = next(r for r in results if r["mode"] == ops_in).pop("ops", None)
            if req.ops_replay or not ops or not ops.get("kernels"):
                why = ("asked for with --ops-replay" if req.ops_replay else
                       (ops or {}).get("error") or "the profiler reported no op times")
                name = "replay"
                emit("stage", name=name, label="per-node replay", total=len(graph.nodes))
                job = {**base, "kind": "replay", "fold": ops_in == "graph-fold", "runs": REPLAY_ROUNDS,
                       "calls": REPLAY_CALLS}
                ops = run_worker(job, name, work, emit, req.timeout)["ops"]
                ops["why"] = why
                emit("done", name=name)
            ops["profiled_mode"] = ops_in
            ops["top"] = req.top
        for r in results:
            r.pop("ops", None)

        return {
            "spec": str(req.spec), "name": graph.name, "device": req.device,
            "inputs": {k: list(v) for k, v in graph.inputs.items()},
            "outputs": {o: list(graph.shape_of(o)) for o in graph.outputs},
            "params": graph.total_params, "macs": graph.total_macs,
            "iters": req.iters, "warmup": req.warmup, "seed": req.seed,
            "weights": prep["weights"], "jit_level": prep["jit_level"], "cpu_isa": prep["isa"],
            "notes": prep.get("notes", []),
            "mindspore": prep["mindspore"], "available_devices": prep["available"],
            "reference_mode": req.modes[0], "machine": machine_info(),
            "modes": results, "ops": ops,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compare(results: list[dict[str, Any]], work: Path, graph) -> None:
    """Max abs difference of each mode's output against the first mode's; speedup vs PYNATIVE."""
    import numpy as np

    def outputs(mode: str) -> list:
        with np.load(work / f"out-{mode}.npz") as z:
            return [z[f"arr_{i}"] for i in range(len(z.files))]

    ref = outputs(results[0]["mode"])
    scale = max((float(np.max(np.abs(a))) for a in ref if a.size), default=0.0)
    pyn = next((r for r in results if r["mode"] == "pynative"), None)
    macs = graph.total_macs
    for r in results:
        got = outputs(r["mode"])
        if len(got) != len(ref) or any(a.shape != b.shape for a, b in zip(got, ref)):
            raise WorkerFailed(r["mode"], 0, "", detail=f"returned outputs of shapes {[a.shape for a in got]}, "
                                                         f"the {results[0]['mode']} worker {[a.shape for a in ref]}")
        diff = max((float(np.max(np.abs(a.astype(np.float64) - b.astype(np.float64)))) for a, b in zip(got, ref)
                    if a.size), default=0.0)
        r["max_abs_diff"] = diff
        r["rel_diff"] = diff / scale if scale > 0 else diff
        r["output_max_abs"] = max((float(np.max(np.abs(a))) for a in got if a.size), default=0.0)
        r["speedup_vs_pynative"] = (pyn["median_ms"] / r["median_ms"]) if pyn and r["median_ms"] > 0 else None
        # graph MACs already count the whole batch
        r["gflops_per_s"] = (2 * macs / 1e9) / (r["median_ms"] / 1e3) if r["median_ms"] > 0 else None
    for r in results:
        r["reference_mode"] = results[0]["mode"]


# --------------------------------------------------------------------------- workers


def run_worker(job: dict[str, Any], label: str, work: Path, emit: Event, timeout: float | None = None) -> dict[str, Any]:
    """Run one worker process on `job`; its result dict. SpecError / WorkerFailed on failure."""
    job = dict(job, result=str(work / f"result-{label}.json"))
    job_path = work / f"job-{label}.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    result_path = Path(job["result"])
    if result_path.exists():
        result_path.unlink()
    stderr_path = work / f"stderr-{label}.txt"
    cmd = [sys.executable, "-m", "archspec.runtime.profile_worker", str(job_path)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with open(stderr_path, "w", encoding="utf-8", errors="replace") as errf:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errf, stdin=subprocess.DEVNULL, text=True,
                                encoding="utf-8", errors="replace", bufsize=1, env=env)
        timer = None
        if timeout:
            import threading

            timer = threading.Timer(timeout, proc.kill)
            timer.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith(PROGRESS_MARK):
                    try:
                        ev = json.loads(line[len(PROGRESS_MARK):])
                    except ValueError:
                        continue
                    if "phase" in ev:
                        emit("phase", name=label, text=ev["phase"])
                    if "advance" in ev:
                        emit("advance", name=label, n=int(ev["advance"]))
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if timer is not None:
                timer.cancel()
    tail = _tail(stderr_path)
    if result_path.exists():
        try:
            payload = json.loads(result_path.read_text(encoding="utf-8"))
        except ValueError:
            payload = None
        if payload and not payload.get("ok"):
            e = payload.get("error", {})
            loc = e.get("loc")
            raise SpecError(e.get("message", "failed"), Location(**loc) if loc else None, e.get("path", ""),
                            e.get("hint", ""))
        if payload and rc == 0:
            return payload["result"]
    if timeout and rc is not None and rc < 0:
        raise WorkerFailed(label, rc, tail, detail=f"was stopped after the {timeout:g} s timeout")
    if rc is not None and rc < 0:
        import signal

        try:
            name = signal.Signals(-rc).name
        except ValueError:
            name = f"signal {-rc}"
        raise WorkerFailed(label, rc, tail, detail=f"was killed by {name}"
                           + (" (out of memory?)" if name == "SIGKILL" else ""))
    raise WorkerFailed(label, rc, tail)


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    kept = [ln for ln in text.splitlines() if ln.strip()]
    return "\n".join(kept[-lines:])


# --------------------------------------------------------------------------- per-op results


_SCOPE_NODE = re.compile(r"(?:^|/)nodes-CellList/(\d+)-")


def node_index_of_scope(full_name: str) -> int | None:
    """'Default/nodes-CellList/3-Conv2dBnAct/conv-Conv2d/Conv2D-op12' -> 3 (the CellList index,
    which is the node's position in `SpecNet.nodes`, i.e. in the graph's node order)."""
    m = _SCOPE_NODE.search(full_name)
    return int(m.group(1)) if m else None


def kernel_short_name(full_name: str) -> str:
    """The part of a kernel's scope name below its node: 'conv-Conv2d/Conv2D-op12'."""
    m = _SCOPE_NODE.search(full_name)
    if not m:
        return full_name
    rest = full_name[m.end():]
    return rest.split("/", 1)[1] if "/" in rest else rest


def parse_profiler_output(run_dir: str | Path, steps: int, node_names: list[str],
                          node_kinds: list[str]) -> dict[str, Any] | None:
    """Per-kernel times from one profiler run folder (`*_ascend_ms`); None when it has none.

    Reads `ASCEND_PROFILER_OUTPUT/kernel_details.csv` (device kernels, Ascend/GPU: columns
    Name, Type, Duration(us)) when present, else `FRAMEWORK/cpu_op_detail_info_*.csv` (CPU kernels:
    full_op_name, op_type, op_occurrences, op_total_time(ms)). Times are per profiled step.
    """
    run_dir = Path(run_dir)
    rows: dict[str, dict[str, Any]] = {}
    source = ""
    kd = sorted(run_dir.rglob("kernel_details*.csv"))
    if kd:
        source = "kernel_details.csv"
        for path in kd:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.DictReader(f):
                    name = (row.get("Name") or "").strip()
                    try:
                        dur_ms = float(row.get("Duration(us)") or 0) / 1000.0
                    except ValueError:
                        continue
                    r = rows.setdefault(name, {"type": (row.get("Type") or "").strip(), "calls": 0, "total_ms": 0.0})
                    r["calls"] += 1
                    r["total_ms"] += dur_ms
    else:
        files = sorted(run_dir.rglob("cpu_op_detail_info_*.csv"))
        source = "cpu_op_detail_info.csv"
        for path in files:
            with open(path, newline="", encoding="utf-8", errors="replace") as f:
                for row in csv.DictReader(f):
                    name = (row.get("full_op_name") or row.get("op_name") or "").strip()
                    try:
                        total = float(row.get("op_total_time(ms)") or 0)
                        calls = int(float(row.get("op_occurrences") or 0))
                    except ValueError:
                        continue
                    r = rows.setdefault(name, {"type": (row.get("op_type") or "").strip(), "calls": 0, "total_ms": 0.0})
                    r["calls"] += calls
                    r["total_ms"] += total
    rows = {k: v for k, v in rows.items() if k}
    if not rows:
        return None
    steps = max(1, steps)
    total = sum(r["total_ms"] for r in rows.values()) / steps
    kernels = []
    for name, r in rows.items():
        i = node_index_of_scope(name)
        node = node_names[i] if i is not None and 0 <= i < len(node_names) else None
        ms = r["total_ms"] / steps
        kernels.append({"kernel": name, "short": kernel_short_name(name), "type": r["type"], "node": node,
                        "node_index": i if node is not None else None,
                        "node_kind": node_kinds[i] if node is not None else None,
                        "calls_per_step": r["calls"] / steps, "ms_per_step": ms,
                        "share": ms / total if total > 0 else 0.0})
    kernels.sort(key=lambda k: -k["ms_per_step"])
    return {"source": f"MindSpore profiler ({source})", "method": "profiler", "steps": steps,
            "total_ms_per_step": total, "kernels": kernels, "by_type": _group(kernels, "type"),
            "by_node": _group([k for k in kernels if k["node"]], "node"),
            "traced_to_nodes": sum(k["ms_per_step"] for k in kernels if k["node"]) / total if total > 0 else 0.0}


def _group(kernels: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    total = sum(k["ms_per_step"] for k in kernels) or 1.0
    groups: dict[str, dict[str, Any]] = {}
    for k in kernels:
        g = groups.setdefault(k[key], {key: k[key], "kernels": 0, "ms_per_step": 0.0})
        if key == "node":
            g["node_kind"] = k["node_kind"]
        g["kernels"] += 1
        g["ms_per_step"] += k["ms_per_step"]
    out = sorted(groups.values(), key=lambda g: -g["ms_per_step"])
    for g in out:
        g["share"] = g["ms_per_step"] / total
    return out


def write_node_trace(run_dir: str | Path, node_names: list[str]) -> Path | None:
    """`archspec_trace.json` beside the profiler's `trace_view.json`: the same Chrome trace events with
    numeric `ts`/`dur` (MindSpore writes them as strings, which not every viewer accepts) and each
    kernel's spec node in its `args` and name (`stem: Conv2D-op0`). None when there is no trace."""
    run_dir = Path(run_dir)
    src = next(iter(sorted(run_dir.rglob("trace_view.json"))), None)
    if src is None:
        return None
    try:
        events = json.loads(src.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if isinstance(events, dict):
        events = events.get("traceEvents", [])
    for ev in events:
        if not isinstance(ev, dict):
            continue
        for k in ("ts", "dur"):
            if isinstance(ev.get(k), str):
                try:
                    ev[k] = float(ev[k])
                except ValueError:
                    pass
        name = ev.get("name")
        if ev.get("ph") == "X" and isinstance(name, str):
            i = node_index_of_scope(name)
            if i is not None and 0 <= i < len(node_names):
                ev.setdefault("args", {})["spec_node"] = node_names[i]
                ev.setdefault("args", {})["scope"] = name
                ev["name"] = f"{node_names[i]}: {name.rsplit('/', 1)[-1]}"
    dst = src.parent / "archspec_trace.json"
    dst.write_text(json.dumps({"traceEvents": events, "displayTimeUnit": "ms"}), encoding="utf-8")
    return dst


def trace_files(run_dir: str | Path) -> list[str]:
    """The files of a profiler run worth opening, as paths."""
    run_dir = Path(run_dir)
    wanted = ("archspec_trace.json", "trace_view.json", "kernel_details.csv", "op_statistic.csv", "cpu_op_detail_info_*.csv",
              "cpu_op_type_info_*.csv")
    found: list[str] = []
    for pattern in wanted:
        found += [str(p) for p in sorted(run_dir.rglob(pattern))]
    return found


# --------------------------------------------------------------------------- helpers


def summarize_times(times_s: list[float]) -> dict[str, float]:
    """Median, p10, p90, min, mean in ms (linear-interpolated percentiles)."""
    ms = sorted(t * 1000.0 for t in times_s)

    def pct(p: float) -> float:
        if len(ms) == 1:
            return ms[0]
        k = (len(ms) - 1) * p
        lo = int(k)
        hi = min(lo + 1, len(ms) - 1)
        return ms[lo] + (ms[hi] - ms[lo]) * (k - lo)

    return {"median_ms": statistics.median(ms), "p10_ms": pct(0.10), "p90_ms": pct(0.90), "min_ms": ms[0],
            "mean_ms": statistics.fmean(ms)}


def machine_info() -> dict[str, Any]:
    import platform

    from archspec.runtime.isa import cpuinfo_value

    cpu = cpuinfo_value("model name") or platform.processor() or platform.machine()
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}
