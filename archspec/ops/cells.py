"""MindSpore Cells that the built-in ops lower to, where no stock `mindspore.nn` Cell fits.

This module imports MindSpore at import time: only the ops' `lower` functions import it, so
`archspec.ops` itself stays MindSpore-free.

Every Cell here takes the node's inputs as separate positional arguments and works in both
PYNATIVE_MODE and GRAPH_MODE. Multi-input Cells use `construct(self, *xs)`: MindSpore 2.10's
graph compiler unrolls the varargs for the fixed number of inputs at each call site (tested in
tests/ops/test_ops.py under GRAPH_MODE, and exported to MindIR and ONNX).

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

import mindspore
import numpy as np
from mindspore import Parameter, Tensor, nn, ops


def torch_default_init(fan_in: int):
    """(weight_init, bias_init) of PyTorch's default for conv, transposed conv and linear layers:
    weight kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)), bias U(+-1/sqrt(fan_in)). MindSpore's
    HeUniform reads fan_in from the weight's shape as PyTorch does (dim 1 times the kernel)."""
    from mindspore.common.initializer import HeUniform, Uniform

    return HeUniform(negative_slope=math.sqrt(5)), Uniform(scale=1.0 / math.sqrt(fan_in))


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


def _window_pads(in_shape, k, s, p, out_hw) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) padding that makes a 'valid' pooling window give `out_hw`."""
    eh = _tail_pad(in_shape[2], k[0], s[0], p[0], out_hw[0])
    ew = _tail_pad(in_shape[3], k[1], s[1], p[1], out_hw[1])
    return (p[0], p[0] + eh, p[1], p[1] + ew)


class MaxPool2d(nn.Cell):
    """PyTorch-exact max pooling: -inf padding (+ tail padding for ceil_mode), then 'valid' pooling.

    `nn.MaxPool2d(pad_mode='pad', padding=p)` computes the same numbers but lowers to
    MaxPool3DWithArgmax, which does not export to ONNX; this form exports (Concat + MaxPool).
    """

    def __init__(self, in_shape, k, s, p, out_hw) -> None:
        super().__init__()
        pads = _window_pads(in_shape, k, s, p, out_hw)
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
    at borders, or ceil_mode windows that overhang the padding). PyTorch's divisor is a product of
    a row and a column divisor, so the rescale is two vectors (one per axis), not a table of the
    output's size (which at 30000x30000 would be gigabytes)."""

    def __init__(self, in_shape, k, s, p, out_hw, count_include_pad: bool) -> None:
        super().__init__()
        h, w = in_shape[2], in_shape[3]
        pads = _window_pads(in_shape, k, s, p, out_hw)
        self.has_pad = any(pads)
        self.pad = ConstPad2d(in_shape, pads, 0.0) if self.has_pad else None
        self.pool = nn.AvgPool2d(kernel_size=tuple(k), stride=tuple(s), pad_mode="valid")
        rows = k[0] / avgpool_divisors(h, k[0], s[0], p[0], out_hw[0], count_include_pad)
        cols = k[1] / avgpool_divisors(w, k[1], s[1], p[1], out_hw[1], count_include_pad)
        self.has_rows = bool((rows != 1.0).any())
        self.has_cols = bool((cols != 1.0).any())
        self.rows = Tensor(rows.reshape(1, 1, -1, 1).astype(np.float32)) if self.has_rows else None
        self.cols = Tensor(cols.reshape(1, 1, 1, -1).astype(np.float32)) if self.has_cols else None

    def construct(self, x):
        if self.has_pad:
            x = self.pad(x)
        x = self.pool(x)
        if self.has_rows:
            x = x * ops.cast(self.rows, x.dtype)
        if self.has_cols:
            x = x * ops.cast(self.cols, x.dtype)
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


class SeparableMatMul(nn.Cell):
    """y = Ry @ x @ Rx^T over H and W of an NCHW input, with constant matrices Ry (OH, H) and
    Rx (OW, W): a linear map of each channel's image that acts on rows and columns separately.
    Exports as two ONNX MatMul nodes. The base of bilinear resizing and adaptive average pooling."""

    def __init__(self, ry: np.ndarray, rx: np.ndarray) -> None:
        super().__init__()
        self.ry = Tensor(np.ascontiguousarray(ry, dtype=np.float32))
        self.rxt = Tensor(np.ascontiguousarray(np.asarray(rx, dtype=np.float32).T))

    def construct(self, x):
        dt = x.dtype
        x = ops.matmul(x, ops.cast(self.rxt, dt))  # (N, C, H, W) @ (W, OW): along the width
        return ops.matmul(ops.cast(self.ry, dt), x)  # (OH, H) @ (N, C, H, OW): along the height


class BilinearMatMul(SeparableMatMul):
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
        super().__init__(bilinear_matrix(int(in_hw[0]), int(out_hw[0]), bool(align_corners)),
                         bilinear_matrix(int(in_hw[1]), int(out_hw[1]), bool(align_corners)))


def adaptive_avg_matrix(n_in: int, n_out: int) -> np.ndarray:
    """The (n_out, n_in) matrix of PyTorch's adaptive average pooling along one axis: output i
    averages inputs floor(i * n_in / n_out) up to (excluding) ceil((i + 1) * n_in / n_out), so
    bins overlap by a pixel where n_out does not divide n_in."""
    m = np.zeros((n_out, n_in), np.float64)
    for i in range(n_out):
        start, end = (i * n_in) // n_out, -(-((i + 1) * n_in) // n_out)
        m[i, start:end] = 1.0 / (end - start)
    return m.astype(np.float32)


class AdaptiveAvgPool(SeparableMatMul):
    """PyTorch's AdaptiveAvgPool2d to a static output size, as two MatMuls with its bin weights
    (exact bin rule for every size pair; exports to MindIR and ONNX)."""

    def __init__(self, in_hw, out_hw) -> None:
        super().__init__(adaptive_avg_matrix(int(in_hw[0]), int(out_hw[0])),
                         adaptive_avg_matrix(int(in_hw[1]), int(out_hw[1])))


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


class Sub(nn.Cell):
    """a - b with broadcasting of size-1 dimensions (as Mul)."""

    def construct(self, a, b):
        return a - b


# ----------------------------------------------------------------------------- layout
def reshape(x, shape: tuple[int, ...]):
    """ops.reshape for a value that may be a graph output: MindSpore 2.10's ONNX exporter does not
    give a Reshape that produces a graph output the output's name (onnxruntime then rejects the
    file: "Graph output ... does not exist"), so reshape to shape + (1,) and Squeeze that axis."""
    return ops.squeeze(ops.reshape(x, shape + (1,)), -1)


class Rearrange(nn.Cell):
    """Reshape -> transpose -> reshape with static shapes (None: no such step): reshape, permute,
    pixel_shuffle and pixel_unshuffle. Exports as ONNX Reshape/Transpose."""

    def __init__(self, out_shape=None, before=None, perm=None) -> None:
        super().__init__()
        self.before = _ints(before)
        self.perm = _ints(perm)
        self.out_shape = _ints(out_shape)

    def construct(self, x):
        if self.before is not None:
            x = ops.reshape(x, self.before)
        if self.perm is not None:
            x = ops.transpose(x, self.perm)
        if self.out_shape is not None:
            x = reshape(x, self.out_shape)
        return x


def _ints(v):
    return tuple(int(d) for d in v) if v is not None else None


def pixel_shuffle_steps(in_shape, r):
    """(before, perm, out) of PyTorch's pixel_shuffle: (N, C*rh*rw, H, W) -> (N, C, H*rh, W*rw);
    `r` is a factor or (rh, rw)."""
    n, c, h, w = (int(d) for d in in_shape)
    rh, rw = (int(r[0]), int(r[1])) if isinstance(r, (tuple, list)) else (int(r), int(r))
    return (n, c // (rh * rw), rh, rw, h, w), (0, 1, 4, 2, 5, 3), (n, c // (rh * rw), h * rh, w * rw)


def pixel_unshuffle_steps(in_shape, r: int):
    """(before, perm, out) of PyTorch's pixel_unshuffle: (N, C, H*r, W*r) -> (N, C*r*r, H, W)."""
    n, c, h, w = (int(d) for d in in_shape)
    return (n, c, h // r, r, w // r, r), (0, 1, 3, 5, 2, 4), (n, c * r * r, h // r, w // r)


# ----------------------------------------------------------------------------- heads
class Softmax(nn.Cell):
    """Softmax along `axis` as exp(x - max) / sum, from exportable primitives: MindSpore 2.10
    exports nn.Softmax over a non-last axis to ONNX as Transpose -> Softmax -> Transpose with
    the first Transpose's input misnamed, which onnxruntime rejects."""

    def __init__(self, axis: int) -> None:
        super().__init__()
        self.axis = int(axis)

    def construct(self, x):
        e = ops.exp(x - x.max(axis=self.axis, keepdims=True))
        return e / e.sum(axis=self.axis, keepdims=True)


class Argmax(nn.Cell):
    """Index of the largest value along `axis`, as int32 (ONNX ArgMax + Cast); `out_shape` keeps
    the axis as size 1 (keepdims) when it says so. Ties: the first index, as PyTorch."""

    def __init__(self, axis: int, out_shape) -> None:
        super().__init__()
        self.argmax = ops.Argmax(axis=int(axis), output_type=mindspore.int32)
        self.out_shape = tuple(int(d) for d in out_shape)

    def construct(self, x):
        return reshape(self.argmax(x), self.out_shape)


# ----------------------------------------------------------------------------- normalisation
class _AffineNorm(nn.Cell):
    """Shared by GroupNorm and ChannelLayerNorm: optional per-channel `gamma`, `beta` of shape (C,)
    (as PyTorch's weight and bias), applied along axis 1 of a rank-`rank` input."""

    def __init__(self, channels: int, rank: int, eps: float, affine: bool) -> None:
        super().__init__()
        self.eps = float(eps)
        self.affine = bool(affine)
        self.channel_shape = (1, int(channels)) + (1,) * (int(rank) - 2)
        if self.affine:
            self.gamma = Parameter(Tensor(np.ones(channels, np.float32)), name="gamma")
            self.beta = Parameter(Tensor(np.zeros(channels, np.float32)), name="beta")

    def normalise(self, x, axis):
        """(x - mean) / sqrt(var + eps) over `axis` (two-pass variance, as PyTorch)."""
        d = x - x.mean(axis=axis, keep_dims=True)
        return d / ops.sqrt((d * d).mean(axis=axis, keep_dims=True) + self.eps)

    def scale_shift(self, y):
        if self.affine:
            y = y * ops.reshape(self.gamma, self.channel_shape) + ops.reshape(self.beta, self.channel_shape)
        return y


class GroupNorm(_AffineNorm):
    """PyTorch's GroupNorm from exportable primitives (MindSpore 2.10 cannot export nn.GroupNorm
    to ONNX): statistics per sample over each group of C/groups channels and all positions."""

    def __init__(self, in_shape, groups: int, eps: float, affine: bool) -> None:
        super().__init__(int(in_shape[1]), len(in_shape), eps, affine)
        self.in_shape = tuple(int(d) for d in in_shape)
        self.grouped = (self.in_shape[0], int(groups), -1)

    def construct(self, x):
        y = reshape(self.normalise(ops.reshape(x, self.grouped), 2), self.in_shape)
        return self.scale_shift(y)


class ChannelLayerNorm(_AffineNorm):
    """LayerNorm over the channels (axis 1) at each position, as ConvNeXt's channels-first LayerNorm."""

    def __init__(self, in_shape, eps: float, affine: bool) -> None:
        super().__init__(int(in_shape[1]), len(in_shape), eps, affine)

    def construct(self, x):
        return self.scale_shift(self.normalise(x, 1))


# ----------------------------------------------------------------------------- conv units
class ConvUnit(nn.Cell):
    """conv -> BatchNorm (optional) -> activation (optional), with nn.Conv2dBnAct's attribute
    names (`conv`, `batchnorm`, `activation`) so parameters are named as a conv's are. For
    convolutions nn.Conv2dBnAct cannot hold (transposed ones), and for the separate-cells
    lowering of ordinary ones (`conv.cells=separate`)."""

    def __init__(self, conv: nn.Cell, out_channels: int, bn: bool, momentum: float, eps: float, act) -> None:
        super().__init__()
        self.conv = conv
        self.has_bn = bool(bn)
        self.batchnorm = nn.BatchNorm2d(int(out_channels), eps=eps, momentum=momentum) if bn else None
        self.has_act = act is not None
        self.activation = act

    def construct(self, x):
        x = self.conv(x)
        if self.has_bn:
            x = self.batchnorm(x)
        if self.has_act:
            x = self.activation(x)
        return x


def zero_insert_matrix(n_in: int, stride: int, pad_before: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) 0/1 matrix that spreads n_in values `stride` apart after `pad_before` zeros
    (negative: that many leading positions cropped) in a line of n_out."""
    m = np.zeros((n_out, n_in), np.float32)
    for i in range(n_in):
        j = pad_before + i * stride
        if 0 <= j < n_out:
            m[j, i] = 1.0
    return m


class ConvTransposeAsConv(nn.Cell):
    """A transposed convolution computed by ordinary convolutions (`conv_transpose.kernel=conv`),
    for ONNX: MindSpore 2.10 writes ONNX ConvTranspose with a 4-value output_shape attribute that
    onnxruntime rejects. The parameters are those of nn.Conv2dTranspose (`weight` (in, out/groups,
    kh, kw), `bias`), so weights move between the two lowerings.

    - kernel == stride, no padding, dilation 1 (learned 2x upsampling as in U-Net): every input
      pixel writes its own k x k patch, so it is a 1x1 conv to out*kh*kw channels followed by
      a pixel shuffle; the same MACs as the transposed conv.
    - otherwise: the input spread `stride` apart with zeros and padded by dilation*(k-1)-padding
      (+ output_padding at the end), as two constant 0/1 MatMuls, then a stride-1 conv with the
      kernel flipped and its in/out axes swapped per group. Costs up to stride^2 times the MACs.
    The kernel rearrangement runs on the weight tensor (small), so it exports as a few ONNX
    Transpose/Reshape (and, for the flip, Slice) nodes in front of Conv.
    """

    def __init__(self, in_shape, out_channels: int, k, stride, padding, output_padding, dilation, groups: int,
                 has_bias: bool, weight_init, bias_init) -> None:
        super().__init__()
        from mindspore.common.initializer import initializer

        n, cin, h, w = (int(d) for d in in_shape)
        cout, g = int(out_channels), int(groups)
        kh, kw = (int(v) for v in k)
        self.weight = Parameter(initializer(weight_init, (cin, cout // g, kh, kw), mindspore.float32), name="weight")
        self.has_bias = bool(has_bias)
        self.bias = Parameter(initializer(bias_init, (cout,), mindspore.float32), name="bias") if has_bias else None
        self.groups = g
        # weight (in, out/g, kh, kw) viewed per group: (g, in/g, out/g, kh, kw)
        self.grouped = (g, cin // g, cout // g, kh, kw)
        self.bias_shape = (1, cout, 1, 1)
        self.depth_to_space = (tuple(stride) == (kh, kw) and tuple(padding) == (0, 0)
                               and tuple(output_padding) == (0, 0) and tuple(dilation) == (1, 1))
        if self.depth_to_space:
            # 1x1 conv weight (g * out/g * kh * kw, in/g, 1, 1), output channels ordered (out, kh, kw)
            self.perm = (0, 2, 3, 4, 1)
            self.conv_weight_shape = (cout * kh * kw, cin // g, 1, 1)
            before, perm, out = pixel_shuffle_steps((n, cout * kh * kw, h, w), (kh, kw))
            self.shuffle = Rearrange(out, before, perm)
            self.dilation = (1, 1)
        else:
            self.perm = (0, 2, 1, 3, 4)
            self.conv_weight_shape = (cout, cin // g, kh, kw)
            self.flip = ops.ReverseV2(axis=(2, 3))
            self.dilation = tuple(int(d) for d in dilation)
            spread = []
            for size, s, kk, p, op, d in zip((h, w), stride, (kh, kw), padding, output_padding, dilation):
                before = d * (kk - 1) - p
                length = (size - 1) * s + 1 + 2 * before + op
                spread.append(zero_insert_matrix(size, s, before, length))
            self.spread = SeparableMatMul(spread[0], spread[1])

    def construct(self, x):
        w = ops.reshape(ops.transpose(ops.reshape(self.weight, self.grouped), self.perm), self.conv_weight_shape)
        if self.depth_to_space:
            y = self.shuffle(ops.conv2d(x, w, groups=self.groups))
        else:
            y = ops.conv2d(self.spread(x), self.flip(w), dilation=self.dilation, groups=self.groups)
        if self.has_bias:
            y = y + ops.reshape(self.bias, self.bias_shape)
        return y


__all__ = [
    "Add", "AdaptiveAvgPool", "Argmax", "AvgPool2d", "BilinearMatMul", "ChannelLayerNorm", "Concat", "ConstPad2d",
    "ConvTransposeAsConv", "ConvUnit", "GELU", "GlobalAvgPool", "GroupNorm", "HSigmoid", "HSwish", "MaxPool2d", "Mul",
    "Rearrange", "Resize", "SeparableMatMul", "Softmax", "Sub", "activation", "adaptive_avg_matrix",
    "avgpool_divisors", "bilinear_matrix", "pixel_shuffle_steps", "pixel_unshuffle_steps", "zero_insert_matrix",
]

