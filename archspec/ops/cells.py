"""MindSpore Cells that the built-in ops lower to, where no stock `mindspore.nn` Cell fits.

This module imports MindSpore at import time: only the ops' `lower` functions import it, so
`archspec.ops` itself stays MindSpore-free.

Every Cell here takes the node's inputs as separate positional arguments and works in both
PYNATIVE_MODE and GRAPH_MODE. Multi-input Cells use `construct(self, *xs)`: MindSpore 2.10's
graph compiler unrolls the varargs for the fixed number of inputs at each call site (tested in
tests/test_ops.py under GRAPH_MODE, and exported to MindIR and ONNX).

Shapes are static (archspec infers them before lowering), so Cells may hold constants sized for
their input, such as padding borders.

ONNX export notes (MindSpore 2.10 CPU, `mindspore.export(..., file_format="ONNX")`):
  - exportable: ReLU, ReLU6, LeakyReLU, Sigmoid, Tanh, SiLU, BatchNorm2d, Conv2d, Dense, Flatten,
    Dropout, Identity, MaxPool/AvgPool ('valid'), ReduceMean, Concat, AddN, Mul,
    ResizeNearestNeighbor (as ONNX Resize asymmetric/floor = PyTorch 'nearest'), MatMul.
  - not exportable: HSwish/HSigmoid primitives (so hswish/hsigmoid are composed from ReLU6 here),
    Erf (so exact GELU does not export), ResizeBilinearV2 (bilinear upsample; see Resize and BilinearMatMul),
    PadV3 (`ops.pad`), MaxPool3DWithArgmax (`nn.MaxPool2d(pad_mode='pad')`), AvgPool3D
    (`nn.AvgPool2d(pad_mode='pad')`). ConstantPadND exports but has no CPU kernel in PyNative mode,
    so padding for pools is done by concatenating constant borders (ConstPad2d).
"""
from __future__ import annotations

import math

import numpy as np
from mindspore import Tensor, nn, ops


# ----------------------------------------------------------------------------- activations
class HSwish(nn.Cell):
    """PyTorch's Hardswish, x * relu6(x + 3) / 6, from exportable primitives."""

    def __init__(self) -> None:
        super().__init__()
        self.relu6 = nn.ReLU6()

    def construct(self, x):
        return x * self.relu6(x + 3.0) / 6.0


class HSigmoid(nn.Cell):
    """PyTorch's Hardsigmoid, relu6(x + 3) / 6, from exportable primitives."""

    def __init__(self) -> None:
        super().__init__()
        self.relu6 = nn.ReLU6()

    def construct(self, x):
        return self.relu6(x + 3.0) / 6.0


class GELU(nn.Cell):
    """Exact (erf) GELU, PyTorch's default. Note: `nn.GELU()` and `nn.get_activation('gelu')`
    default to the tanh approximation in MindSpore (max error ~5e-4). Erf does not export to ONNX."""

    def construct(self, x):
        return ops.gelu(x, approximate="none")


def activation(fn: str | None, alpha: float = 0.01):
    """The Cell for an activation name in registry.ACTIVATIONS (None -> None)."""
    if fn is None:
        return None
    table = {
        "relu": nn.ReLU,
        "relu6": nn.ReLU6,
        "sigmoid": nn.Sigmoid,
        "tanh": nn.Tanh,
        "silu": nn.SiLU,
        "gelu": GELU,
        "hswish": HSwish,
        "hsigmoid": HSigmoid,
    }
    if fn == "leakyrelu":
        return nn.LeakyReLU(float(alpha))
    return table[fn]()


# ----------------------------------------------------------------------------- padding, pooling
def _border(shape, value) -> Tensor:
    return Tensor(np.full(shape, value, dtype=np.float32))


class ConstPad2d(nn.Cell):
    """Pads H and W of a static-shape NCHW input with a constant (top, bottom, left, right).

    Done by concatenating constant borders: works on CPU in PyNative and Graph mode and exports
    to ONNX (as Concat), unlike `ops.pad` (PadV3) and ConstantPadND (see module notes).
    """

    def __init__(self, in_shape, pads, value: float) -> None:
        super().__init__()
        n, c, h, w = (int(d) for d in in_shape)
        t, b, l, r = (int(p) for p in pads)
        hh = h + t + b
        self.top = _border((n, c, t, w), value) if t else None
        self.bottom = _border((n, c, b, w), value) if b else None
        self.left = _border((n, c, hh, l), value) if l else None
        self.right = _border((n, c, hh, r), value) if r else None

    def construct(self, x):
        x = self._wrap(self.top, x, self.bottom, 2)
        return self._wrap(self.left, x, self.right, 3)

    def _wrap(self, before, x, after, axis: int):
        """x between the constant borders `before` and `after` (None: no border) along `axis`."""
        dt = x.dtype
        if before is not None and after is not None:
            return ops.concat((ops.cast(before, dt), x, ops.cast(after, dt)), axis)
        if before is not None:
            return ops.concat((ops.cast(before, dt), x), axis)
        if after is not None:
            return ops.concat((x, ops.cast(after, dt)), axis)
        return x


def _tail_pad(size: int, k: int, s: int, p: int, out: int) -> int:
    """Extra padding after the symmetric `p` so a 'valid' window gives `out` outputs (ceil_mode)."""
    return max(0, (out - 1) * s + k - (size + 2 * p))


class MaxPool2d(nn.Cell):
    """PyTorch-exact max pooling: -inf padding (+ tail padding for ceil_mode), then 'valid' pooling.

    `nn.MaxPool2d(pad_mode='pad', padding=p)` computes the same numbers but lowers to
    MaxPool3DWithArgmax, which does not export to ONNX; this form exports (Concat + MaxPool).
    """

    def __init__(self, in_shape, k, s, p, out_hw) -> None:
        super().__init__()
        h, w = in_shape[2], in_shape[3]
        eh = _tail_pad(h, k[0], s[0], p[0], out_hw[0])
        ew = _tail_pad(w, k[1], s[1], p[1], out_hw[1])
        pads = (p[0], p[0] + eh, p[1], p[1] + ew)
        self.has_pad = any(pads)
        self.pad = ConstPad2d(in_shape, pads, -math.inf) if self.has_pad else None
        self.pool = nn.MaxPool2d(kernel_size=tuple(k), stride=tuple(s), pad_mode="valid")

    def construct(self, x):
        if self.has_pad:
            x = self.pad(x)
        return self.pool(x)


def avgpool_divisors(size: int, k: int, s: int, p: int, out: int, count_include_pad: bool) -> np.ndarray:
    """Per-output-position divisor of PyTorch's avg_pool2d along one axis (its CPU kernel's rule)."""
    d = np.empty(out, dtype=np.float64)
    for o in range(out):
        start = o * s - p
        end = min(start + k, size + p)
        full = end - start
        start, end = max(start, 0), min(end, size)
        d[o] = full if count_include_pad else (end - start)
    return d


class AvgPool2d(nn.Cell):
    """PyTorch-exact average pooling: zero padding, 'valid' pooling (divides by k*k), then a
    constant per-position rescale where PyTorch divides by something else (count_include_pad=False
    at borders, or ceil_mode windows that overhang the padding)."""

    def __init__(self, in_shape, k, s, p, out_hw, count_include_pad: bool) -> None:
        super().__init__()
        h, w = in_shape[2], in_shape[3]
        eh = _tail_pad(h, k[0], s[0], p[0], out_hw[0])
        ew = _tail_pad(w, k[1], s[1], p[1], out_hw[1])
        pads = (p[0], p[0] + eh, p[1], p[1] + ew)
        self.has_pad = any(pads)
        self.pad = ConstPad2d(in_shape, pads, 0.0) if self.has_pad else None
        self.pool = nn.AvgPool2d(kernel_size=tuple(k), stride=tuple(s), pad_mode="valid")
        dh = avgpool_divisors(h, k[0], s[0], p[0], out_hw[0], count_include_pad)
        dw = avgpool_divisors(w, k[1], s[1], p[1], out_hw[1], count_include_pad)
        rescale = (k[0] * k[1]) / np.outer(dh, dw)
        self.has_rescale = not np.allclose(rescale, 1.0, rtol=0, atol=0)
        self.rescale = Tensor(rescale[None, None].astype(np.float32)) if self.has_rescale else None

    def construct(self, x):
        if self.has_pad:
            x = self.pad(x)
        x = self.pool(x)
        if self.has_rescale:
            x = x * ops.cast(self.rescale, x.dtype)
        return x


class GlobalAvgPool(nn.Cell):
    """Mean over H and W, keeping them: (N, C, H, W) -> (N, C, 1, 1). Exports as ReduceMean."""

    def __init__(self) -> None:
        super().__init__()
        self.mean = ops.ReduceMean(keep_dims=True)

    def construct(self, x):
        return self.mean(x, (2, 3))


# ----------------------------------------------------------------------------- resize
class Resize(nn.Cell):
    """Resize H, W to a static size, numerically equal to PyTorch's F.interpolate(size=...).

    bilinear: `ops.ResizeBilinearV2(align_corners=a, half_pixel_centers=not a)` (what
      `ops.interpolate(mode='bilinear')` uses). half_pixel_centers=True is PyTorch's
      align_corners=False rule (src = (dst + 0.5) * in/out - 0.5, clamped at 0); align_corners=True
      is src = dst * (in - 1)/(out - 1). Matches a NumPy port of PyTorch's formula to ~1e-6.
      Does NOT export to ONNX in MindSpore 2.10 ("ResizeBilinearV2 operator ... is not support
      for exporting onnx"); MindIR export works. `mint.nn.functional.interpolate` (UpsampleBilinear2D)
      has no CPU kernel. The exportable alternative is `BilinearMatMul` (upsample's lowering
      option `bilinear: matmul`, which `archspec export --format onnx` selects).
    nearest: `ops.ResizeNearestNeighbor(size)` = PyTorch 'nearest' (src = floor(dst * in/out));
      exports to ONNX as Resize(coordinate_transformation_mode=asymmetric, nearest_mode=floor).
      (`ops.interpolate(mode='nearest')` uses ResizeNearestNeighborV2, which does not export.)
    """

    def __init__(self, size, mode: str, align_corners: bool) -> None:
        super().__init__()
        self.size = (int(size[0]), int(size[1]))
        self.bilinear = mode == "bilinear"
        if self.bilinear:
            self.resize = ops.ResizeBilinearV2(align_corners=bool(align_corners),
                                               half_pixel_centers=not align_corners)
        else:
            self.resize = ops.ResizeNearestNeighbor(self.size, align_corners=False)

    def construct(self, x):
        if self.bilinear:
            return self.resize(x, self.size)
        return self.resize(x)


def bilinear_matrix(n_in: int, n_out: int, align_corners: bool) -> np.ndarray:
    """The (n_out, n_in) float32 matrix of PyTorch's 1-D linear interpolation weights.

    Bit-identical to the weights PyTorch's CPU `upsample_bilinear2d` uses (compared for every
    size pair up to 39 and DeepLab's 65/129/257/513/1025): the scale is a float32 in/out (or
    (in-1)/(out-1)), the source coordinate `scale * (dst + 0.5) - 0.5` is rounded once (PyTorch's
    compiled fused multiply-add; float64 holds the product exactly), clamped at 0, and the two
    weights are `1 - l` and `l` in float32. Each row has at most two non-zero entries.
    """
    f32 = np.float32
    dst = np.arange(n_out, dtype=np.float64)
    if align_corners:
        scale = f32(n_in - 1) / f32(n_out - 1) if n_out > 1 else f32(0)
        src = (np.float64(scale) * dst).astype(f32)
    else:
        scale = f32(n_in) / f32(n_out)
        src = np.maximum((np.float64(scale) * (dst + 0.5) - 0.5).astype(f32), f32(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    l1 = np.clip(src - i0.astype(f32), f32(0), f32(1)).astype(f32)
    l0 = (f32(1) - l1).astype(f32)
    m = np.zeros((n_out, n_in), f32)
    rows = np.arange(n_out)
    m[rows, i0] += l0
    m[rows, np.minimum(i0 + 1, n_in - 1)] += l1  # a separate statement: i0 == i1 at the border adds up
    return m


class BilinearMatMul(nn.Cell):
    """Bilinear resize as two MatMuls with constant interpolation matrices: y = Ry @ x @ Rx^T.

    The `matmul` lowering of `upsample` (mode bilinear), chosen for ONNX export: it exports as
    two ONNX MatMul nodes (opset 11), where ResizeBilinearV2 does not export at all. Its weights
    are PyTorch's exactly (`bilinear_matrix`), so it matches PyTorch at least as closely as
    `Resize` does (which uses MindSpore's own coordinate arithmetic; both within ~1e-5 of
    F.interpolate on N(0, 1) inputs at 129 -> 513, this one within ~5e-7). It costs
    C*(H*W*OW + OH*H*OW) MACs instead of ~4 per output value: slower than ResizeBilinearV2 on
    MindSpore's CPU backend (benchmarks/bilinear_resize.py, docs/BENCHMARKS.md), so it is not the default.
    """

    def __init__(self, in_hw, out_hw, align_corners: bool) -> None:
        super().__init__()
        self.ry = Tensor(bilinear_matrix(int(in_hw[0]), int(out_hw[0]), bool(align_corners)))
        self.rxt = Tensor(np.ascontiguousarray(bilinear_matrix(int(in_hw[1]), int(out_hw[1]), bool(align_corners)).T))

    def construct(self, x):
        dt = x.dtype
        x = ops.matmul(x, ops.cast(self.rxt, dt))  # (N, C, H, W) @ (W, OW): along the width
        return ops.matmul(ops.cast(self.ry, dt), x)  # (OH, H) @ (N, C, H, OW): along the height


# ----------------------------------------------------------------------------- merging
class Concat(nn.Cell):
    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = int(axis)

    def construct(self, *xs):
        return ops.concat(xs, self.axis)


class Add(nn.Cell):
    """Element-wise sum of equal-shape inputs: one AddN kernel, or (`chain=True`, add's lowering
    option `kernel: chain`) a chain of binary Adds.

    The chain is for ONNX export: MindSpore 2.10 exports AddN as binary Adds anyway, but leaves a
    dead SequenceConstruct node for AddN's input tuple in the file (an op converters such as ATC
    need not accept); the chain exports as plain Adds.
    """

    def __init__(self, chain: bool = False) -> None:
        super().__init__()
        self.chain = bool(chain)

    def construct(self, *xs):
        if self.chain:
            y = xs[0]
            for t in xs[1:]:
                y = y + t
            return y
        return ops.addn(xs)


class Mul(nn.Cell):
    """Element-wise product with broadcasting of size-1 dimensions (squeeze-excite gating)."""

    def construct(self, *xs):
        y = xs[0]
        for t in xs[1:]:
            y = y * t
        return y


__all__ = [
    "Add", "AvgPool2d", "BilinearMatMul", "Concat", "ConstPad2d", "GELU", "GlobalAvgPool", "HSigmoid", "HSwish",
    "MaxPool2d", "Mul", "Resize", "activation", "avgpool_divisors", "bilinear_matrix",
]

