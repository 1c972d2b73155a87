"""The oneDNN ISA fix for MindSpore's CPU backend, and what the host CPU is.

On AVX-512 machines MindSpore 2.10's oneDNN picks a *reference* 3x3 convolution
(`DNNL_VERBOSE=1` prints `jit_uni_ncsp:conv+ref:any`), about 100x slower than the `x64:gemm:jit`
kernel it picks when capped at AVX2. oneDNN reads `ONEDNN_MAX_CPU_ISA` once, when it first
dispatches a kernel, so the fix must be applied before MindSpore executes anything:
`archspec.runtime.host.setup()` does it, and every entry point goes through that setup.

This module imports neither MindSpore nor NumPy when it is imported (`numpy_blas_core` imports
NumPy when called).
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os
import platform

ENV_VAR = "ONEDNN_MAX_CPU_ISA"
DISABLE_VAR = "ARCHSPEC_NO_ISA_FIX"  # set to 1 to keep oneDNN's own choice
FIX_VALUE = "AVX2"



@functools.lru_cache(maxsize=None)
def cpuinfo_value(key: str) -> str | None:
    """The first `key: value` of /proc/cpuinfo ("model name", "flags"); None where there is none."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                name, sep, value = line.partition(":")
                if sep and name.strip() == key:
                    return value.strip()
    except OSError:
        pass
    return None


def cpu_flags() -> set[str]:
    """The x86 CPU flags from /proc/cpuinfo (empty elsewhere)."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return set()
    return set((cpuinfo_value("flags") or "").split())


def cpu_has_avx512() -> bool:
    return "avx512f" in cpu_flags()


def numpy_blas_core() -> str | None:
    """The core NumPy's bundled OpenBLAS runs ("SkylakeX", "Prescott", ...), for diagnostics; None
    when NumPy uses another BLAS or the library cannot be found. Imports NumPy."""
    import numpy

    here = os.path.dirname(numpy.__file__)
    for lib in sorted(glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))
                      + glob.glob(os.path.join(here, ".dylibs", "*openblas*"))):
        try:
            handle = ctypes.CDLL(lib)
        except OSError:
            continue
        # NumPy 1.x bundles openblas64_ (symbol suffix 64_), NumPy 2 scipy-openblas (prefix scipy_)
        for symbol in ("openblas_get_corename64_", "openblas_get_corename", "scipy_openblas_get_corename64_",
                       "scipy_openblas_get_corename"):
            fn = getattr(handle, symbol, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode("ascii", "replace").strip()
    return None


def apply_isa_fix(enabled: bool = True) -> str:
    """Cap oneDNN at AVX2 on AVX-512 CPUs unless the user chose otherwise. Returns what was done."""
    if ENV_VAR in os.environ:
        return _kept(ENV_VAR)
    if not enabled or os.environ.get(DISABLE_VAR, "") not in ("", "0"):
        return "off (oneDNN picks its own kernels)"
    if not cpu_has_avx512():
        return "not needed (no AVX-512)"
    return _set(ENV_VAR, FIX_VALUE)


_DESCRIPTIONS = {
    ENV_VAR: "AVX-512 CPU: avoids oneDNN's reference convolution",
}


def _marker(var: str) -> str:
    # Remembers that archspec set `var`, also for child processes (profile workers inherit it).
    return f"ARCHSPEC_SET_{var}"


def _set(var: str, value: str) -> str:
    os.environ[var] = value
    os.environ[_marker(var)] = value
    return f"{var}={value} ({_DESCRIPTIONS[var]})"


def _kept(var: str) -> str:
    value = os.environ[var]
    if os.environ.get(_marker(var)) == value:
        return f"{var}={value} ({_DESCRIPTIONS[var]})"
    return f"kept {var}={value} (set by the user)"


def machine_info() -> dict:
    """The host's CPU model, core count, platform and Python, for reports and benchmarks."""
    cpu = cpuinfo_value("model name") or platform.processor() or platform.machine()
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version()}
