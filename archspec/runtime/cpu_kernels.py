"""Which of archspec's own CPU kernels a deployed (BN-folded) model uses on this machine.

Today that is the NumPy Winograd kernel for large 3x3 convs (`archspec.kernels.winograd`,
lowering option `conv.winograd=on`). It multiplies with NumPy's BLAS, so it is chosen only when
that BLAS runs kernels for AVX2 or newer: with OpenBLAS's SSE3 fallback it would be slower than
MindSpore's own convolution (see `archspec.runtime.isa.apply_blas_fix`).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CpuKernels:
    options: dict[str, str]  # lowering options for build_cell / deploy_cell
    reason: str  # why they were (not) chosen, for reports


def choose(device: str, enabled: bool = True) -> CpuKernels:
    from archspec.runtime.isa import blas_is_slow, numpy_blas_core

    if device != "CPU":
        return CpuKernels({}, f"not on {device}: archspec's CPU kernels run on the host only")
    if not enabled:
        return CpuKernels({}, "off (--no-winograd)")
    core = numpy_blas_core()
    if blas_is_slow(core):
        return CpuKernels({}, f"off: NumPy's OpenBLAS runs its {core} kernels, too slow to beat MindSpore's conv "
                              "(set OPENBLAS_CORETYPE=Haswell or SkylakeX if the CPU has AVX2 or AVX-512)")
    return CpuKernels({"conv.winograd": "on"}, f"Winograd F(2x2,3x3) for large 3x3 convs, NumPy BLAS: {core or 'not OpenBLAS'}")


def count_winograd(cell) -> int:
    """How many convs of a built Cell run the Winograd kernel."""
    from archspec.ops.cells import WinogradConv2d

    return sum(1 for _, c in cell.cells_and_names() if isinstance(c, WinogradConv2d))
