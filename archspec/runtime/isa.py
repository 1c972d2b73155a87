"""The oneDNN ISA fix for MindSpore's CPU backend.

On AVX-512 machines MindSpore 2.10's oneDNN picks a *reference* 3x3 convolution
(`DNNL_VERBOSE=1` prints `jit_uni_ncsp:conv+ref:any`), about 100x slower than the `x64:gemm:jit`
kernel it picks when capped at AVX2. oneDNN reads `ONEDNN_MAX_CPU_ISA` once, when it first
dispatches a kernel, so this must run before MindSpore executes anything; the CLI calls it
before importing MindSpore. This module must not import MindSpore itself.
"""
from __future__ import annotations

import os
import platform

ENV_VAR = "ONEDNN_MAX_CPU_ISA"
DISABLE_VAR = "ARCHSPEC_NO_ISA_FIX"  # set to 1 to keep oneDNN's own choice
FIX_VALUE = "AVX2"


def cpu_has_avx512() -> bool:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return "avx512f" in line.split()
    except OSError:
        return False
    return False


def apply_isa_fix(enabled: bool = True) -> str:
    """Cap oneDNN at AVX2 on AVX-512 CPUs unless the user chose otherwise. Returns what was done."""
    if ENV_VAR in os.environ:
        return f"kept {ENV_VAR}={os.environ[ENV_VAR]} (set by the user)"
    if not enabled or os.environ.get(DISABLE_VAR, "") not in ("", "0"):
        return "off (oneDNN picks its own kernels)"
    if not cpu_has_avx512():
        return "not needed (no AVX-512)"
    os.environ[ENV_VAR] = FIX_VALUE
    return f"{ENV_VAR}={FIX_VALUE} (AVX-512 CPU: avoids oneDNN's reference convolution)"
