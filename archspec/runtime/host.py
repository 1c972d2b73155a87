"""The one host setup: device, execution mode, graph jit level and the CPU ISA fix.

Every entry point that runs MindSpore goes through `setup()`: the CLI's commands (through the API
verbs), the API verbs themselves, and the profile workers.

Uses MindSpore 2.10's current APIs: `mindspore.set_device` (not the deprecated `device_target`
context key), `mindspore.device_context.<device>.is_available()` (not the deprecated
`mindspore.hal.is_available`). The jit level itself is given to each compiled Cell (see
`archspec.runtime.compile`), not to a global context key.

On CPU the oneDNN ISA fix is applied before MindSpore runs its first kernel (see isa.py). MindSpore writes
`rank_0/om/analyze_fail.ir` into the current folder when a graph fails to compile; setup points
that at archspec's scratch folder (`MS_OM_PATH`) unless the user chose a place, so commands never
litter the user's folder.
"""
from __future__ import annotations

import contextlib
import io
import os
import tempfile
from dataclasses import dataclass, field

from archspec.errors import Location, SpecError
from archspec.runtime.isa import apply_isa_fix

DEVICES = ("CPU", "GPU", "Ascend")
MODES = ("pynative", "graph")
# O0: kernel by kernel, no optional optimisation; O1: plus common optimisations and automatic
# operator fusion; O2: whole-graph sink through GE (Ascend only, deprecated by MindSpore since 2.9).
JIT_LEVELS = ("O0", "O1", "O2")
DEFAULT_JIT_LEVEL = "O0"
OM_PATH_VAR = "MS_OM_PATH"  # where MindSpore writes rank_<id>/om/analyze_fail.ir on a failed compile


@dataclass
class Runtime:
    device: str
    mode: str
    jit_level: str
    isa: str
    available: tuple[str, ...]
    notes: list[str] = field(default_factory=list)


def canonical_device(device: str) -> str:
    for d in DEVICES:
        if device.lower() == d.lower():
            return d
    raise SpecError(f"unknown device '{device}'", Location("--device"), hint="use CPU, GPU or Ascend")


def check_jit_level(level: str | None, device: str) -> str:
    """Validate a jit level for `device` (no MindSpore import); returns the level to use."""
    level = (level or DEFAULT_JIT_LEVEL).upper()
    if level not in JIT_LEVELS:
        raise SpecError(f"unknown jit level '{level}'", Location("--jit-level"), hint="use O0, O1 or O2 (Ascend only)")
    if level == "O2" and device != "Ascend":
        raise SpecError(f"jit level O2 (whole-graph sink) runs only on Ascend, not on {device}", Location("--jit-level"),
                        hint="use O0 or O1 on CPU and GPU")
    return level


def scratch_dir(name: str) -> str:
    """A per-user folder under the system temp dir for MindSpore's side files (created lazily)."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return os.path.join(tempfile.gettempdir(), f"archspec-{uid}", name)


def available_devices() -> tuple[str, ...]:
    import mindspore.device_context as dc

    found = []
    for d in DEVICES:
        module = {"CPU": "cpu", "GPU": "gpu", "Ascend": "ascend"}[d]
        # is_available() reports plug-in load failures of absent devices through MindSpore's
        # logger and the C++ log; keep that noise out of the user's terminal.
        with _quiet():
            try:
                ok = bool(getattr(dc, module).is_available())
            except Exception:  # noqa: BLE001  (a missing plug-in means "not available")
                ok = False
        if ok:
            found.append(d)
    return tuple(found)


def setup(device: str = "CPU", mode: str = "graph", jit_level: str | None = None, isa_fix: bool = True,
          seed: int | None = None) -> Runtime:
    """Select device and mode for this process (and seed MindSpore's random init when `seed` is
    given). Clear errors for anything not available.

    Call it before MindSpore runs anything: the oneDNN ISA fix (CPU) only takes effect then.
    """
    device = canonical_device(device)
    mode = mode.lower()
    if mode not in MODES:
        raise SpecError(f"unknown mode '{mode}'", Location("--mode"), hint="use pynative or graph")
    level = check_jit_level(jit_level, device)
    isa = apply_isa_fix(isa_fix) if device == "CPU" else "not applicable"
    os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ log: errors only
    os.environ.setdefault(OM_PATH_VAR, scratch_dir("om"))  # analyze_fail.ir goes here, not into the cwd
    import mindspore

    available = available_devices()
    if device not in available:
        raise SpecError(f"device {device} is not available here (available: {', '.join(available) or 'none'})",
                        Location("--device"),
                        hint="install the MindSpore build for that device and its drivers (CANN for Ascend), "
                             "or run on " + (available[0] if available else "CPU"))
    _set_device(mindspore, device)
    mindspore.set_context(mode=mindspore.GRAPH_MODE if mode == "graph" else mindspore.PYNATIVE_MODE)
    if seed is not None:
        mindspore.set_seed(seed)
    notes = []
    if level == "O2":
        notes.append("jit level O2 (GE whole-graph sink) is deprecated by MindSpore since 2.9")
    return Runtime(device=device, mode=mode, jit_level=level, isa=isa, available=available, notes=notes)


def _set_device(mindspore, device: str) -> None:
    """set_device, tolerating a process whose runtime already runs on that device."""
    try:
        mindspore.set_device(device)
    except RuntimeError:
        # MindSpore refuses set_device once kernels have run, even for the same target; only
        # a different device is a real problem.
        current = mindspore.get_current_device().device_target
        if current != device:
            raise SpecError(f"this process already runs on {current}; it cannot switch to {device}",
                            Location("--device"), hint="start a new process for another device") from None


@contextlib.contextmanager
def _quiet():
    """Silence C-level stdout/stderr (MindSpore's plug-in loader prints there)."""
    saved = []
    try:
        for fd in (1, 2):
            saved.append((fd, os.dup(fd)))
        devnull = os.open(os.devnull, os.O_WRONLY)
        for fd, _ in saved:
            os.dup2(devnull, fd)
        os.close(devnull)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)
