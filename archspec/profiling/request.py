"""What `archspec profile` is asked to do, checked before any worker starts (no MindSpore)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from archspec.errors import Location, SpecError
from archspec.files import make_folder

MODES = ("pynative", "graph-separate", "graph", "graph-fold", "mindir")
MODE_LABELS = {
    "pynative": "PYNATIVE",
    "graph-separate": "GRAPH, separate conv/BN/act cells",
    "graph": "GRAPH, nn.Conv2dBnAct",
    "graph-fold": "GRAPH, BN folded",
    "mindir": "MindIR (GraphCell)",
}
# The lowering options a mode builds its net with (OpDef.lower_options); the others use the defaults.
MODE_LOWERING = {"graph-separate": {"conv.cells": "separate"}}
DEFAULT_MODES = ",".join(MODES)
PROGRESS_MARK = "@@archspec-progress "  # worker -> parent progress lines on the worker's stdout
MAX_OPS_STEPS = 10
REPLAY_ROUNDS, REPLAY_CALLS = 3, 5


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
    allow_nonfinite: bool = False  # load weights holding NaN or inf (--allow-nonfinite)
    isa_fix: bool = True
    ops: bool = False
    top: int = 15
    trace_dir: str | None = None
    ops_replay: bool = False
    timeout: float | None = None  # seconds per worker; None waits as long as it takes


# --------------------------------------------------------------------------- argument checks


def parse_modes(text: str) -> list[str]:
    """'pynative,graph' -> ['pynative', 'graph'], 'all' -> every mode; unknown or repeated names
    are SpecErrors."""
    from archspec.errors import did_you_mean

    if str(text).strip().lower() == "all":
        return list(MODES)
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
    from archspec.runtime.host import canonical_device, check_jit_level

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
        req.trace_dir = str(make_folder(t, "--trace").resolve())
    if req.timeout is not None and req.timeout <= 0:
        raise SpecError("--timeout must be positive", Location("--timeout"))


def ops_mode(modes: list[str]) -> str | None:
    """The mode whose worker runs the profiler: graph, else graph-fold."""
    for m in ("graph", "graph-fold"):
        if m in modes:
            return m
    return None


