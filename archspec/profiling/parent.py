"""`archspec profile`: speed and memory of one spec in several execution modes, side by side.

The parent (this module) never imports MindSpore. Every measurement runs in its own process
(`python -m archspec.profiling.worker JOB.json`), so modes cannot share compiled graphs,
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

Modes (the rows of the table that motivates the product, side by side):
  pynative        the SpecNet in PYNATIVE mode, kernel by kernel
  graph-separate  GRAPH mode with conv, BatchNorm and activation as separate cells (`conv.cells=separate`)
  graph           the SpecNet compiled in GRAPH mode, conv units as nn.Conv2dBnAct (jit level O0 unless
                  --jit-level; O2 only on Ascend)
  graph-fold      GRAPH mode on `fold_bn(graph)` with `fold_bn_weights`: BatchNorm folded into conv
  mindir          the SpecNet exported to MindIR, loaded with `mindspore.load` + `nn.GraphCell`
Every mode but mindir builds its net straight from the checkpoint (`lower.fold.from_checkpoint`:
no random initial weights, the unfolded net never built for graph-fold, one copy of the weights
at a time), so the peak memory of a mode is what that form of the model needs.

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

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from archspec.errors import Location, SpecError
from archspec.profiling.request import (
    MAX_OPS_STEPS,
    MODE_LABELS,
    PROGRESS_MARK,
    REPLAY_CALLS,
    REPLAY_ROUNDS,
    ProfileRequest,
    check_request,
    ops_mode,
)
from archspec.progress import Event
from archspec.spec.library import named_file
from archspec.runtime.isa import machine_info


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
            "spec": str(named_file(req.spec)[0].resolve()), "overrides": req.overrides, "input_shapes": req.input_shapes,
            "allow_outside_imports": req.allow_outside_imports, "device": req.device, "jit_level": req.jit_level,
            "isa_fix": req.isa_fix, "seed": req.seed, "inputs": str(work / "inputs.npz"),
            "ckpt": str(work / "weights.ckpt"), "mindir": str(work / "model") if "mindir" in req.modes else None,
        }

        emit("stage", name="prepare", label="prepare", total=1)
        prep = run_worker({**base, "kind": "prepare", "weights": req.weights,
                           "allow_nonfinite": req.allow_nonfinite}, "prepare", work, emit, req.timeout)
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
    cmd = [sys.executable, "-m", "archspec.profiling.worker", str(job_path)]
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


