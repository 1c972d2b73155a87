"""One place that sets up MindSpore: device, execution mode and graph jit level.

Uses MindSpore 2.10's current APIs (`mindspore.set_device`, `mindspore.jit(..., jit_level=)`),
not the deprecated `device_target` context key. On CPU the oneDNN ISA fix is applied before
MindSpore is imported (see isa.py).
"""
from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass

from archspec.errors import Location, SpecError
from archspec.runtime.isa import apply_isa_fix

DEVICES = ("CPU", "GPU", "Ascend")
MODES = ("pynative", "graph")
JIT_LEVELS = ("O0", "O1", "O2")  # O2 (whole-graph sink) is Ascend-only


@dataclass
class Runtime:
    device: str
    mode: str
    jit_level: str
    isa: str
    available: tuple[str, ...]


def canonical_device(device: str) -> str:
    for d in DEVICES:
        if device.lower() == d.lower():
            return d
    raise SpecError(f"unknown device '{device}'", Location("--device"), hint="use CPU, GPU or Ascend")


def available_devices() -> tuple[str, ...]:
    import mindspore

    found = []
    for d in DEVICES:
        # is_available() probes the backend plug-ins, which print load failures for absent
        # devices to the C++ log; keep that noise out of the user's terminal.
        with _quiet():
            try:
                ok = bool(mindspore.hal.is_available(d))
            except Exception:  # noqa: BLE001  (a missing plug-in means "not available")
                ok = False
        if ok:
            found.append(d)
    return tuple(found)


def setup(device: str = "CPU", mode: str = "graph", jit_level: str | None = None, isa_fix: bool = True) -> Runtime:
    """Select device and mode for this process. Clear errors for anything not available."""
    device = canonical_device(device)
    mode = mode.lower()
    if mode not in MODES:
        raise SpecError(f"unknown mode '{mode}'", Location("--mode"), hint="use pynative or graph")
    level = jit_level or ("O2" if device == "Ascend" else "O0")
    if level not in JIT_LEVELS:
        raise SpecError(f"unknown jit level '{level}'", Location("--jit-level"), hint="use O0, O1 or O2")
    if level == "O2" and device != "Ascend":
        raise SpecError("jit level O2 (whole-graph sink) runs only on Ascend", Location("--jit-level"),
                        hint="use O0 or O1 on CPU and GPU")
    isa = apply_isa_fix(isa_fix) if device == "CPU" else "not applicable"
    os.environ.setdefault("GLOG_v", "3")  # MindSpore's C++ log: errors only
    import mindspore

    available = available_devices()
    if device not in available:
        raise SpecError(f"device {device} is not available here (available: {', '.join(available) or 'none'})",
                        Location("--device"),
                        hint="install the MindSpore build for that device and its drivers (CANN for Ascend), "
                             "or run on " + (available[0] if available else "CPU"))
    _set_device(mindspore, device)
    mindspore.set_context(mode=mindspore.GRAPH_MODE if mode == "graph" else mindspore.PYNATIVE_MODE)
    return Runtime(device=device, mode=mode, jit_level=level, isa=isa, available=available)


def _set_device(mindspore, device: str) -> None:
    """set_device, tolerating a process whose runtime already runs on that device."""
    try:
        mindspore.set_device(device)
    except RuntimeError:
        # MindSpore refuses set_device once kernels have run, even for the same target; only
        # a different device is a real problem.
        current = mindspore.get_context("device_target")
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
