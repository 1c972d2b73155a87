"""Data-parallel training through MindSpore's own launcher, msrun.

Under msrun (its processes have `MS_ROLE=MS_WORKER`, or `MS_SCHED` for the scheduler msrun starts
with the same command), `init_distributed` joins the cluster
(`mindspore.communication.init()`) and sets data-parallel mode with averaged gradients; the
training step's `grad_reducer` then all-reduces the gradients. `launch` is the convenience behind
`train(..., workers=N)`: it starts

    msrun --worker_num=N --local_worker_num=N --master_port=P --log_dir=RUN/msrun --join=True \\
          python -m archspec.training.worker RUN/run.json

on a free port, turns rank 0's `log.jsonl` into progress events while the workers run, and returns
rank 0's report (`RUN/result.json`) or raises the first worker's error (`RUN/error.json`).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from archspec.errors import Location, SpecError

RESULT = "result.json"
ERROR = "error.json"
POLL_S = 1.0


def under_msrun() -> bool:
    """A process msrun started: a worker, or its scheduler, which runs the same command and must
    join the cluster too (its `init()` serves the cluster and ends the process when the job ends)."""
    return os.environ.get("MS_ROLE") in ("MS_WORKER", "MS_SCHED")


def init_distributed() -> tuple[int, int]:
    """Join the msrun cluster; (rank, world size). Call after the host setup."""
    import mindspore
    from mindspore.communication import get_group_size, get_rank, init

    init()
    mindspore.set_auto_parallel_context(parallel_mode=mindspore.ParallelMode.DATA_PARALLEL, gradients_mean=True)
    return get_rank(), get_group_size()


def weights_agree(net) -> bool:
    """Whether every rank holds the same trainable weights (bit for bit): each rank's SHA-256 of
    them, all-gathered. BatchNorm's moving statistics are left out: each rank keeps its own, from
    its own batches (rank 0's are the ones saved)."""
    import hashlib

    import numpy as np
    from mindspore import Tensor, ops

    digest = hashlib.sha256()
    for p in net.trainable_params():
        digest.update(np.ascontiguousarray(p.asnumpy()).tobytes())
    mine = np.frombuffer(digest.digest(), dtype=np.int32).copy()
    every = ops.AllGather()(Tensor(mine)).asnumpy().reshape(-1, mine.size)
    return bool((every == every[0]).all())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def msrun_executable() -> str:
    here = Path(sys.executable).with_name("msrun")
    found = str(here) if here.exists() else shutil.which("msrun")
    if not found:
        raise SpecError("msrun (MindSpore's distributed launcher) was not found", Location("--workers"),
                        hint="it comes with MindSpore; check that the MindSpore environment's bin folder is on PATH")
    return found


def msrun_command(workers: int, port: int, log_dir: Path, run_file: Path) -> list[str]:
    return [msrun_executable(), f"--worker_num={workers}", f"--local_worker_num={workers}",
            f"--master_port={port}", f"--log_dir={log_dir}", "--join=True",
            "python", "-m", "archspec.training.worker", str(run_file)]


def launch(run_folder: Path, workers: int, on_event: Callable | None = None):
    """Run the plan in `run_folder/run.json` on `workers` msrun processes; rank 0's TrainReport."""
    from archspec.training.report import TrainReport
    from archspec.training.plan import RUN_FILE, load_plan
    from archspec.training.runlog import read_log

    emit = on_event or (lambda kind, **data: None)
    for name in (RESULT, ERROR):
        (run_folder / name).unlink(missing_ok=True)
    log_dir = run_folder / "msrun"
    cmd = msrun_command(workers, free_port(), log_dir, run_folder / RUN_FILE)
    plan = load_plan(run_folder)
    emit("stage", name="train", label=f"training {plan.spec_name} on {workers} processes", total=plan.total_steps)
    emit("phase", name="train", text=f"starting {workers} workers with msrun (logs in {log_dir})")
    env = dict(os.environ)
    # msrun runs the literal command `python`: this interpreter's, with this archspec importable
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in [str(Path(__file__).resolve().parents[2]),
                                                   env.get("PYTHONPATH", "")] if p)
    with open(run_folder / "msrun.out", "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        seen = 0
        try:
            while proc.poll() is None:
                time.sleep(POLL_S)
                seen = _forward(read_log(run_folder / "log.jsonl"), seen, emit)
        except BaseException:
            proc.terminate()
            proc.wait(30)
            raise
    _forward(read_log(run_folder / "log.jsonl"), seen, emit)
    if (run_folder / ERROR).exists():
        d = json.loads((run_folder / ERROR).read_text(encoding="utf-8"))
        loc = Location(*d["loc"]) if d.get("loc") else None
        raise SpecError(d["message"], loc, d.get("path", ""), d.get("hint", ""))
    if not (run_folder / RESULT).exists():
        raise SpecError(f"the msrun workers failed (exit status {proc.returncode})", Location("--workers"),
                        hint=f"see the worker logs in {log_dir} and {run_folder / 'msrun.out'}")
    data = json.loads((run_folder / RESULT).read_text(encoding="utf-8"))
    emit("done", name="train")
    return TrainReport(**data)


def _forward(entries: list[dict], seen: int, emit) -> int:
    """Progress events for log entries not forwarded yet."""
    for i in range(seen, len(entries)):
        e = entries[i]
        before = [x["step"] for x in entries[:i] if "loss" in x and "eval" not in x]
        if "eval" in e:
            emit("phase", name="train", text=f"step {e['step']}: " + ", ".join(
                f"{k} {v:.4f}" for k, v in e["eval"].items() if isinstance(v, float) and k != "images_per_s"))
        elif "loss" in e:
            emit("advance", name="train", n=e["step"] - (before[-1] if before else 0), step=e["step"], loss=e["loss"],
                 lr=e.get("lr"),
                 images_per_s=e.get("images_per_s"))
    return len(entries)
