"""Built-in ops: argument validation, shape and cost rules, lowering to MindSpore and numerics.

Numerical references are NumPy ports of PyTorch's definitions (conv2d, max/avg pooling,
F.interpolate, Hardswish/Hardsigmoid/GELU), so the lowered Cells are checked against PyTorch's
numbers without PyTorch installed.
"""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from pydantic import ValidationError

from archspec.graph.ir import Node
from archspec.ops import ShapeError, get, names

TOL = 1e-5


# ----------------------------------------------------------------------------- helpers
def build(op: str, args: dict, in_shapes):
    """Validate args, complete them, infer the shape and cost: what resolve does for one node."""
    d = get(op)
    in_shapes = [tuple(s) for s in in_shapes]
    a = d.complete(d.args(**args), in_shapes)
    shape = d.infer(a, in_shapes)
    return a, tuple(shape), d.cost(a, in_shapes, shape)


def node(op: str, args: dict, in_shapes, name: str = "n") -> Node:
    a, shape, (params, macs) = build(op, args, in_shapes)
    return Node(name=name, op=op, args=a, inputs=[f"x{i}" for i in range(len(in_shapes))],
                in_shapes=[tuple(s) for s in in_shapes], shape=shape, params=params, macs=macs)


def shape_error(op: str, args: dict, in_shapes) -> ShapeError:
    with pytest.raises(ShapeError) as ei:
        build(op, args, in_shapes)
    err = ei.value
    # resolve fills the {inK} placeholders with str.format: no other braces may appear
    names = {f"in{i}": f"x{i}" for i in range(len(in_shapes))}
    err.message.format(**names), err.hint.format(**names)
    return err


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------------------- NumPy references
def ref_conv(x, w, b, stride, pad, dil, groups):
    n, cin, h, wd = x.shape
    cout, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    y = np.zeros((n, cout, oh, ow), np.float64)
    og = cout // groups
    for g in range(groups):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                r0, c0 = i * dil[0], j * dil[1]
                patch = xs[:, :, r0:r0 + stride[0] * (oh - 1) + 1:stride[0], c0:c0 + stride[1] * (ow - 1) + 1:stride[1]]
                y[:, g * og:(g + 1) * og] += np.einsum("nchw,oc->nohw", patch, ws[:, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    return y


def ref_maxpool(x, k, s, p, out_hw):
    """PyTorch's max_pool2d: each window clipped to the input (padding acts as -inf)."""
    n, c, h, w = x.shape
    y = np.empty((n, c) + tuple(out_hw), x.dtype)
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            win = x[:, :, max(h0, 0):min(h0 + k[0], h), max(w0, 0):min(w0 + k[1], w)]
            y[:, :, oh, ow] = win.max(axis=(2, 3))
    return y


def ref_avgpool(x, k, s, p, out_hw, count_include_pad):
    """PyTorch's avg_pool2d CPU kernel (divisor rule included)."""
    n, c, h, w = x.shape
    y = np.empty((n, c) + tuple(out_hw), np.float64)
    for oh in range(out_hw[0]):
        for ow in range(out_hw[1]):
            h0, w0 = oh * s[0] - p[0], ow * s[1] - p[1]
            h1, w1 = min(h0 + k[0], h + p[0]), min(w0 + k[1], w + p[1])
            pool = (h1 - h0) * (w1 - w0)
            h0, w0, h1, w1 = max(h0, 0), max(w0, 0), min(h1, h), min(w1, w)
            div = pool if count_include_pad else (h1 - h0) * (w1 - w0)
            y[:, :, oh, ow] = x[:, :, h0:h1, w0:w1].sum(axis=(2, 3)) / div
    return y


def _src(out_len, in_len, align):
    d = np.arange(out_len, dtype=np.float64)
    if align:
        return d * ((in_len - 1) / (out_len - 1)) if out_len > 1 else np.zeros(out_len)
    return np.maximum((d + 0.5) * (in_len / out_len) - 0.5, 0.0)


def ref_bilinear(x, oh, ow, align):
    """PyTorch's upsample_bilinear2d (area_pixel_compute_source_index + linear weights)."""
    def axis(o, i):
        src = _src(o, i, align)
        i0 = np.minimum(np.floor(src).astype(int), i - 1)
        return i0, np.minimum(i0 + 1, i - 1), src - i0

    y0, y1, ly = axis(oh, x.shape[2])
    x0, x1, lx = axis(ow, x.shape[3])
    rows0, rows1 = x[:, :, y0], x[:, :, y1]
    ly, lx = ly[:, None], lx[None, :]
    top = (1 - lx) * rows0[..., x0] + lx * rows0[..., x1]
    bot = (1 - lx) * rows1[..., x0] + lx * rows1[..., x1]
    return (1 - ly) * top + ly * bot


def ref_nearest(x, oh, ow):
    """PyTorch's 'nearest': src = floor(dst * in / out)."""
    h, w = x.shape[2:]
    yi = np.minimum(np.floor(np.arange(oh) * (h / oh)).astype(int), h - 1)
    xi = np.minimum(np.floor(np.arange(ow) * (w / ow)).astype(int), w - 1)
    return x[:, :, yi][:, :, :, xi]


def ref_act(fn, x, alpha=0.01):
    from scipy.special import erf

    x = x.astype(np.float64)
    return {
        "relu": lambda: np.maximum(x, 0),
        "relu6": lambda: np.clip(x, 0, 6),
        "leakyrelu": lambda: np.where(x >= 0, x, alpha * x),
        "hswish": lambda: x * np.clip(x + 3, 0, 6) / 6,
        "hsigmoid": lambda: np.clip(x + 3, 0, 6) / 6,
        "sigmoid": lambda: 1 / (1 + np.exp(-x)),
        "tanh": lambda: np.tanh(x),
        "gelu": lambda: 0.5 * x * (1 + erf(x / math.sqrt(2))),
        "silu": lambda: x / (1 + np.exp(-x)),
    }[fn]()


# ----------------------------------------------------------------------------- registry
def test_all_builtin_ops_registered():
    assert set(names()) >= {"conv", "batchnorm", "act", "maxpool", "avgpool", "global_avgpool", "upsample",
                            "concat", "add", "mul", "dropout", "flatten", "dense", "identity"}
    assert get("upsample").ref_args == {"size_of": "size"}
    for op in ("concat", "add", "mul"):
        assert get(op).min_inputs == 2 and get(op).max_inputs is None


def test_examples_validate():
    for op in names():
        for ex in get(op).examples:
            get(op).args(**{k: v for k, v in ex.items() if k not in ("op", "in", "id")})


def test_ops_import_without_mindspore():
    code = ("import sys, archspec.ops as o; o.names(); "
            "assert 'mindspore' not in sys.modules, 'archspec.ops imported mindspore'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_shape_error_named_substitutes_producers():
    e = ShapeError("got {in0} [1] and {in1} [2]", hint="upsample {in1} to {in0}", arg="axis")
    n = e.named(["c5", "aspp_pool"])
    assert n.message == "got c5 [1] and aspp_pool [2]"
    assert n.hint == "upsample aspp_pool to c5"
    assert n.arg == "axis"


# ----------------------------------------------------------------------------- argument validation
@pytest.mark.parametrize("op,args", [
    ("conv", {"out": 8, "k": 0}),
    ("conv", {"out": 0, "k": 3}),
    ("conv", {"out": -8, "k": 3}),
    ("conv", {"out": 8, "k": 3, "stride": 0}),
    ("conv", {"out": 8, "k": [3, -1]}),
    ("conv", {"out": 8, "k": 3, "groups": 0}),
    ("conv", {"out": 8, "k": True}),
    ("conv", {"k": 3}),
    ("conv", {"out": 8, "k": 3, "kernel": 3}),
    ("conv", {"out": 8, "k": 3, "act": "swish"}),
    ("batchnorm", {"momentum": 1.5}),
    ("batchnorm", {"eps": 0}),
    ("batchnorm", {"affine": False}),
    ("act", {}),
    ("act", {"fn": "mish"}),
    ("maxpool", {"k": 0}),
    ("maxpool", {"k": 3, "stride": 0}),
    ("maxpool", {"k": 3, "padding": -1}),
    ("maxpool", {"k": 3, "padding": 2}),  # more than half the window
    ("maxpool", {"k": 3, "dilation": 2}),
    ("avgpool", {"k": -2}),
    ("avgpool", {"k": 2, "count_include_pad": "maybe"}),
    ("global_avgpool", {"k": 2}),
    ("upsample", {"mode": "bilinear"}),
    ("upsample", {"mode": "bicubic", "scale": 2}),
    ("upsample", {"mode": "bilinear", "scale": 0}),
    ("upsample", {"mode": "bilinear", "scale": -2}),
    ("upsample", {"mode": "bilinear", "scale": 2, "size": [4, 4]}),
    ("upsample", {"mode": "bilinear", "scale": 2, "size_of": "image"}),
    ("upsample", {"mode": "bilinear", "size": [0, 4]}),
    ("upsample", {"mode": "bilinear", "size": [4, 4, 4]}),
    ("upsample", {"mode": "nearest", "scale": 2, "align_corners": True}),
    ("concat", {"dim": 1}),
    ("add", {"alpha": 1}),
    ("mul", {"x": 1}),
    ("dropout", {"p": 1.0}),
    ("dropout", {"p": -0.1}),
    ("dropout", {"rate": 0.1}),
    ("flatten", {"start_dim": 1}),
    ("dense", {"out": 0}),
    ("dense", {"out": -1}),
    ("dense", {}),
    ("dense", {"out": 10, "units": 10}),
    ("identity", {"x": 1}),
])
def test_pydantic_rejects(op, args):
    with pytest.raises(ValidationError):
        get(op).args(**args)


def test_upsample_size_filled_from_size_of():
    # resolve fills `size` from the referenced node and keeps size_of for display;
    # a user who writes both gets an error instead
    op = get("upsample")
    a = op.args(mode="bilinear", size_of="image").model_copy(update={"size": (513, 513)})
    assert op.infer(op.complete(a, [(1, 21, 129, 129)]), [(1, 21, 129, 129)]) == (1, 21, 513, 513)
    with pytest.raises(ValidationError, match="not several"):
        op.args(mode="bilinear", size_of="image", size=(5, 5))


# ----------------------------------------------------------------------------- shape and cost rules
def test_conv_rules():
    a, shape, cost = build("conv", {"out": 64, "k": 7, "stride": 2, "bn": True, "act": "relu"}, [(1, 3, 224, 224)])
    assert a.padding == (3, 3) and a.bias is False
    assert shape == (1, 64, 112, 112)
    assert cost == (64 * 3 * 49 + 2 * 64, 64 * 3 * 49 * 112 * 112)
    a, shape, cost = build("conv", {"out": 256, "k": 3, "dilation": 6}, [(2, 2048, 33, 33)])
    assert a.padding == (6, 6) and a.bias is True and shape == (2, 256, 33, 33)
    assert cost == (256 * 2048 * 9 + 256, 2 * 256 * 2048 * 9 * 33 * 33)
    a, shape, cost = build("conv", {"k": 3, "stride": 2, "depthwise": True}, [(1, 32, 15, 15)])
    assert (a.groups, a.out, shape) == (32, 32, (1, 32, 8, 8))
    assert cost == (32 * 9 + 32, 32 * 9 * 64)
    _, shape, cost = build("conv", {"out": 8, "k": [1, 3], "groups": 2, "bias": False}, [(1, 4, 5, 6)])
    assert shape == (1, 8, 5, 6) and cost == (8 * 2 * 3, 8 * 2 * 3 * 30)


def test_conv_shape_errors():
    e = shape_error("conv", {"out": 8, "k": 3, "groups": 3}, [(1, 16, 8, 8)])
    assert e.arg == "groups" and "does not divide the 16 input channels" in e.message
    e = shape_error("conv", {"out": 10, "k": 3, "groups": 4}, [(1, 16, 8, 8)])
    assert e.arg == "groups" and "10 output channels" in e.message
    e = shape_error("conv", {"out": 8, "k": 7, "padding": 0}, [(1, 3, 5, 5)])
    assert "below 1 pixel" in e.message
    e = shape_error("conv", {"out": 8, "k": 3}, [(1, 48)])
    assert "4-D" in e.message


def test_batchnorm_rules():
    _, shape, cost = build("batchnorm", {}, [(2, 64, 7, 7)])
    assert shape == (2, 64, 7, 7) and cost == (128, 0)
    assert "4-D" in shape_error("batchnorm", {}, [(2, 64)]).message


def test_act_rules():
    for fn in ("relu", "gelu"):
        assert build("act", {"fn": fn}, [(1, 3, 4, 4)])[1:] == ((1, 3, 4, 4), (0, 0))
    assert build("act", {"fn": "relu"}, [(2, 10)])[1] == (2, 10)


def test_pool_rules():
    a, shape, cost = build("maxpool", {"k": 3, "stride": 2, "padding": 1}, [(1, 64, 112, 112)])
    assert shape == (1, 64, 56, 56) and cost == (0, 0)
    a, shape, _ = build("maxpool", {"k": 2}, [(1, 8, 7, 9)])
    assert a.stride == 2 and shape == (1, 8, 3, 4)
    assert build("maxpool", {"k": 2, "ceil_mode": True}, [(1, 8, 7, 9)])[1] == (1, 8, 4, 5)
    # PyTorch drops a ceil-mode window that would start in the right padding
    assert build("maxpool", {"k": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 1, 6, 6)])[1] == (1, 1, 4, 4)
    assert build("maxpool", {"k": 2, "stride": 2, "ceil_mode": True}, [(1, 1, 4, 4)])[1] == (1, 1, 2, 2)
    assert build("avgpool", {"k": [2, 3], "stride": 1}, [(1, 8, 5, 5)])[1] == (1, 8, 4, 3)
    assert build("global_avgpool", {}, [(2, 2048, 33, 33)])[1:] == ((2, 2048, 1, 1), (0, 0))


def test_pool_shape_errors():
    e = shape_error("maxpool", {"k": 3, "stride": 2}, [(1, 8, 2, 2)])
    assert "shrinks the 2x2 input below 1 pixel" in e.message
    assert "below 1 pixel" in shape_error("avgpool", {"k": 4, "ceil_mode": True}, [(1, 8, 3, 8)]).message
    assert "4-D" in shape_error("maxpool", {"k": 2}, [(1, 8)]).message
    assert "4-D" in shape_error("global_avgpool", {}, [(1, 8)]).message


def test_upsample_rules():
    assert build("upsample", {"mode": "bilinear", "scale": 4}, [(1, 256, 33, 33)])[1:] == ((1, 256, 132, 132), (0, 0))
    assert build("upsample", {"mode": "nearest", "scale": 0.5}, [(1, 8, 7, 9)])[1] == (1, 8, 3, 4)
    assert build("upsample", {"mode": "nearest", "scale": [2, 1.5]}, [(1, 8, 7, 9)])[1] == (1, 8, 14, 13)
    assert build("upsample", {"mode": "bilinear", "size": [513, 257]}, [(1, 21, 129, 65)])[1] == (1, 21, 513, 257)
    e = shape_error("upsample", {"mode": "bilinear", "scale": 0.1}, [(1, 8, 7, 9)])
    assert e.arg == "scale" and "below 1 pixel" in e.message
    e = shape_error("upsample", {"mode": "bilinear", "size_of": "image"}, [(1, 8, 7, 9)])
    assert e.arg == "size_of"
    assert "4-D" in shape_error("upsample", {"mode": "bilinear", "scale": 2}, [(1, 8)]).message


def test_concat_rules():
    shapes = [(1, 256, 33, 33)] * 4 + [(1, 256, 33, 33)]
    assert build("concat", {}, shapes)[1:] == ((1, 1280, 33, 33), (0, 0))
    assert build("concat", {"axis": -1}, [(1, 2, 3, 4), (1, 2, 3, 5)])[1] == (1, 2, 3, 9)
    assert build("concat", {"axis": 0}, [(1, 2, 3, 4), (2, 2, 3, 4)])[1] == (3, 2, 3, 4)
    assert build("concat", {}, [(2, 10), (2, 5)])[1] == (2, 15)


def test_concat_shape_errors():
    e = shape_error("concat", {}, [(1, 256, 33, 33), (1, 256, 33, 33), (1, 2048, 33, 33), (1, 256, 1, 1)])
    e = e.named(["aspp1", "aspp6", "c5", "aspp_pool"])
    assert e.message == ("op 'concat' needs inputs of equal height and width, "
                         "got aspp1 [1, 256, 33, 33] and aspp_pool [1, 256, 1, 1]")
    assert e.hint == "upsample aspp_pool to the size of aspp1 first (op: upsample, size_of: aspp1)"
    e = shape_error("concat", {}, [(1, 8, 4, 4), (2, 8, 4, 4)]).named(["a", "b"])
    assert "equal batch size" in e.message and "got a [1, 8, 4, 4] and b [2, 8, 4, 4]" in e.message
    e = shape_error("concat", {}, [(1, 8, 4, 4), (1, 8, 4, 5)])
    assert "equal width" in e.message
    e = shape_error("concat", {}, [(1, 8, 4, 4), (1, 8)])
    assert "equal rank" in e.message
    e = shape_error("concat", {"axis": 4}, [(1, 8, 4, 4), (1, 8, 4, 4)])
    assert e.arg == "axis"


def test_add_and_mul_rules():
    assert build("add", {}, [(1, 256, 56, 56)] * 3)[1:] == ((1, 256, 56, 56), (0, 0))
    e = shape_error("add", {}, [(1, 256, 56, 56), (1, 64, 56, 56)]).named(["conv3", "x"])
    assert e.message.startswith("op 'add' needs inputs of equal shape, got conv3 [1, 256, 56, 56] and x [1, 64, 56, 56]")
    assert "channels" in e.message and "projection" in e.hint
    assert "equal shape" in shape_error("add", {}, [(1, 8, 4, 4), (1, 8, 1, 1)]).message
    assert build("mul", {}, [(1, 64, 28, 28), (1, 64, 1, 1)])[1:] == ((1, 64, 28, 28), (0, 0))
    assert build("mul", {}, [(1, 64, 1, 1), (1, 64, 28, 28), (1, 64, 28, 28)])[1] == (1, 64, 28, 28)
    e = shape_error("mul", {}, [(1, 64, 28, 28), (1, 32, 1, 1)]).named(["feat", "gate"])
    assert "got feat [1, 64, 28, 28] and gate [1, 32, 1, 1]" in e.message
    assert "equal rank" in shape_error("mul", {}, [(1, 64, 28, 28), (1, 64)]).message


def test_misc_rules():
    assert build("dropout", {"p": 0.1}, [(1, 8, 4, 4)])[1:] == ((1, 8, 4, 4), (0, 0))
    assert build("identity", {}, [(1, 8, 4, 4)])[1:] == ((1, 8, 4, 4), (0, 0))
    assert build("flatten", {}, [(2, 8, 4, 4)])[1:] == ((2, 128), (0, 0))
    assert build("dense", {"out": 10}, [(2, 128)])[1:] == ((2, 10), (1290, 2 * 1280))
    assert build("dense", {"out": 10, "bias": False}, [(2, 128)])[2] == (1280, 2 * 1280)
    e = shape_error("dense", {"out": 10}, [(2, 2048, 7, 7)])
    assert "2-D" in e.message and e.hint.startswith("flatten or global_avgpool first")
    assert "flatten" in shape_error("flatten", {}, [(5,)]).message


# ----------------------------------------------------------------------------- lowering
@pytest.fixture(scope="module")
def ms():
    import mindspore

    mindspore.set_context(mode=mindspore.PYNATIVE_MODE)
    mindspore.set_seed(0)
    return mindspore


def lowered(n: Node):
    cell = get(n.op).lower(n)
    cell.set_train(False)
    return cell


def run(ms, cell, *xs):
    out = cell(*[ms.Tensor(x) for x in xs])
    return out.asnumpy()


def trainable(cell) -> int:
    return sum(int(np.prod(p.shape)) for p in cell.trainable_params())


LOWER_CASES = [
    ("conv", {"out": 8, "k": 3, "stride": 2, "bn": True, "act": "relu"}, [(1, 4, 9, 9)]),
    ("conv", {"out": 6, "k": [3, 1], "dilation": 2, "groups": 2}, [(2, 4, 7, 6)]),
    ("conv", {"k": 3, "depthwise": True, "bn": True, "act": "relu6"}, [(1, 5, 8, 8)]),
    ("conv", {"out": 4, "k": 1, "bn": True, "bias": True, "act": "gelu"}, [(1, 3, 5, 5)]),
    ("batchnorm", {}, [(2, 6, 4, 4)]),
    *[("act", {"fn": fn}, [(1, 3, 4, 5)]) for fn in
      ("relu", "relu6", "leakyrelu", "hswish", "hsigmoid", "sigmoid", "tanh", "gelu", "silu")],
    ("maxpool", {"k": 3, "stride": 2, "padding": 1}, [(1, 3, 10, 10)]),
    ("maxpool", {"k": 3, "stride": 2, "padding": 1}, [(1, 3, 9, 11)]),
    ("maxpool", {"k": 2}, [(1, 3, 7, 8)]),
    ("maxpool", {"k": [3, 2], "stride": [2, 1], "ceil_mode": True}, [(1, 2, 8, 7)]),
    ("maxpool", {"k": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 2, 6, 7)]),
    ("avgpool", {"k": 2}, [(1, 3, 8, 9)]),
    ("avgpool", {"k": 3, "stride": 1, "padding": 1}, [(1, 3, 6, 6)]),
    ("avgpool", {"k": 3, "stride": 2, "padding": 1, "count_include_pad": False}, [(1, 3, 7, 8)]),
    ("avgpool", {"k": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 2, 6, 7)]),
    ("avgpool", {"k": 2, "stride": 2, "ceil_mode": True, "count_include_pad": False}, [(1, 2, 5, 7)]),
    ("global_avgpool", {}, [(2, 4, 5, 7)]),
    ("upsample", {"mode": "bilinear", "scale": 2}, [(1, 2, 5, 7)]),
    ("upsample", {"mode": "bilinear", "size": [13, 9], "align_corners": True}, [(1, 2, 5, 7)]),
    ("upsample", {"mode": "bilinear", "size": [3, 4]}, [(1, 2, 5, 7)]),
    ("upsample", {"mode": "bilinear", "size": [3, 4], "align_corners": True}, [(1, 2, 5, 7)]),
    ("upsample", {"mode": "bilinear", "size": [1, 1], "align_corners": True}, [(1, 2, 5, 7)]),
    ("upsample", {"mode": "nearest", "size": [13, 9]}, [(1, 2, 5, 7)]),
    ("upsample", {"mode": "nearest", "scale": 0.5}, [(1, 2, 5, 7)]),
    ("concat", {}, [(1, 2, 4, 4), (1, 3, 4, 4), (1, 1, 4, 4)]),
    ("concat", {"axis": -1}, [(1, 2, 4, 4), (1, 2, 4, 2)]),
    ("add", {}, [(1, 2, 4, 4)] * 3),
    ("mul", {}, [(1, 3, 4, 4), (1, 3, 1, 1)]),
    ("mul", {}, [(1, 3, 1, 1), (1, 3, 4, 4), (1, 3, 4, 4)]),
    ("dropout", {"p": 0.5}, [(1, 3, 4, 4)]),
    ("flatten", {}, [(2, 3, 4, 5)]),
    ("dense", {"out": 7}, [(2, 12)]),
    ("dense", {"out": 7, "bias": False, "act": "hswish"}, [(2, 12)]),
    ("identity", {}, [(1, 3, 4, 4)]),
]


@pytest.mark.parametrize("op,args,in_shapes", LOWER_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(LOWER_CASES)])
def test_lowered_matches_inferred_shape_params_and_pytorch(ms, op, args, in_shapes):
    n = node(op, args, in_shapes)
    cell = lowered(n)
    assert trainable(cell) == n.params
    xs = [rand(*s, seed=i) for i, s in enumerate(in_shapes)]
    y = run(ms, cell, *xs)
    assert y.shape == n.shape
    ref = reference(n, cell, xs)
    if ref is not None:
        assert np.abs(y - ref).max() < TOL


def reference(n: Node, cell, xs):
    """PyTorch's result for the node, or None when only the shape is checked."""
    from archspec.ops.common import pair

    a, x = n.args, xs[0]
    if n.op == "conv":
        c = cell.conv
        y = ref_conv(x.astype(np.float64), c.weight.asnumpy().astype(np.float64),
                     c.bias.asnumpy() if a.bias else None, pair(a.stride), pair(a.padding),
                     pair(a.dilation), a.groups)
        if a.bn:  # inference with fresh statistics: mean 0, variance 1, gamma 1, beta 0
            y = y / math.sqrt(1 + a.eps)
        return ref_act(a.act, y) if a.act else y
    if n.op == "batchnorm":
        return x / math.sqrt(1 + a.eps)
    if n.op == "act":
        return ref_act(a.fn, x, a.alpha)
    if n.op == "maxpool":
        return ref_maxpool(x, pair(a.k), pair(a.stride), pair(a.padding), n.shape[2:])
    if n.op == "avgpool":
        return ref_avgpool(x, pair(a.k), pair(a.stride), pair(a.padding), n.shape[2:], a.count_include_pad)
    if n.op == "global_avgpool":
        return x.mean(axis=(2, 3), keepdims=True)
    if n.op == "upsample":
        if a.mode == "nearest":
            return ref_nearest(x, *n.shape[2:])
        return ref_bilinear(x.astype(np.float64), *n.shape[2:], a.align_corners)
    if n.op == "concat":
        return np.concatenate(xs, axis=a.axis)
    if n.op == "add":
        return sum(xs)
    if n.op == "mul":
        return np.prod(np.broadcast_arrays(*xs), axis=0)
    if n.op in ("dropout", "identity"):
        return x
    if n.op == "flatten":
        return x.reshape(x.shape[0], -1)
    if n.op == "dense":
        d = cell
        y = x @ d.weight.asnumpy().T + (d.bias.asnumpy() if a.bias else 0)
        return ref_act(a.act, y) if a.act else y
    return None


def test_activations_over_a_range(ms):
    x = np.linspace(-6, 6, 1201, dtype=np.float32)[None]
    for fn in ("hswish", "hsigmoid", "gelu", "leakyrelu", "silu"):
        n = node("act", {"fn": fn, "alpha": 0.2}, [x.shape])
        assert np.abs(run(ms, lowered(n), x) - ref_act(fn, x, 0.2)).max() < TOL, fn


def test_resnet_stem_maxpool_matches_pytorch(ms):
    x = rand(2, 4, 16, 15, seed=3)
    x[:, :, 0, :] = -50.0  # the -inf padding must never win against real (negative) values
    n = node("maxpool", {"k": 3, "stride": 2, "padding": 1}, [x.shape])
    y = run(ms, lowered(n), x)
    assert y.shape == (2, 4, 8, 8)
    assert np.array_equal(y, ref_maxpool(x, (3, 3), (2, 2), (1, 1), (8, 8)))


def test_bilinear_large_upsample_matches_pytorch(ms):
    # DeepLab's final x4 upsample and the ASPP pooling branch (1x1 -> HxW)
    for align in (False, True):
        x = rand(1, 3, 17, 17, seed=4)
        n = node("upsample", {"mode": "bilinear", "size": [65, 65], "align_corners": align}, [x.shape])
        assert np.abs(run(ms, lowered(n), x) - ref_bilinear(x.astype(np.float64), 65, 65, align)).max() < TOL
        x = rand(1, 3, 1, 1, seed=5)
        n = node("upsample", {"mode": "bilinear", "size": [9, 9], "align_corners": align}, [x.shape])
        assert np.abs(run(ms, lowered(n), x) - np.broadcast_to(x, (1, 3, 9, 9))).max() < TOL


def test_conv_init_is_pytorch_default(ms):
    n = node("conv", {"out": 64, "k": 3}, [(1, 32, 8, 8)])
    c = lowered(n).conv
    bound = 1 / math.sqrt(32 * 9)
    w, b = c.weight.asnumpy(), c.bias.asnumpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.95 * bound
    assert np.abs(b).max() <= bound and np.abs(b).max() > 0.5 * bound
    d = lowered(node("dense", {"out": 64}, [(1, 100)]))
    assert np.abs(d.weight.asnumpy()).max() <= 0.1 and np.abs(d.bias.asnumpy()).max() <= 0.1


def test_batchnorm_momentum_follows_pytorch(ms):
    """momentum 0.01 (PyTorch): running_mean = 0.99 * running_mean + 0.01 * batch_mean."""
    x = rand(4, 3, 5, 5, seed=7) + 2.0
    for op, args in [("batchnorm", {"momentum": 0.01, "eps": 1e-3}),
                     ("conv", {"out": 3, "k": 1, "bn": True, "momentum": 0.01})]:
        cell = lowered(node(op, args, [x.shape]))
        bn = cell if op == "batchnorm" else cell.batchnorm
        cell.set_train(True)
        y = run(ms, cell, x)
        batch = (x if op == "batchnorm" else y)  # conv: check against what BN saw, recomputed below
        if op == "conv":
            w = cell.conv.weight.asnumpy()[:, :, 0, 0]
            batch = np.einsum("nchw,oc->nohw", x, w)
        else:
            assert math.isclose(bn.eps, 1e-3)
        expect = 0.01 * batch.mean(axis=(0, 2, 3))
        assert np.abs(bn.moving_mean.asnumpy() - expect).max() < 1e-5, op


def test_dropout_is_identity_at_inference_only(ms):
    n = node("dropout", {"p": 0.5}, [(1, 64, 8, 8)])
    cell = lowered(n)
    x = np.ones((1, 64, 8, 8), np.float32)
    assert np.array_equal(run(ms, cell, x), x)
    cell.set_train(True)
    y = run(ms, cell, x)
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7


def test_multi_input_cells_in_graph_mode(ms):
    """The lowering layer calls cell(*inputs); that must compile in GRAPH_MODE too."""
    from mindspore import nn

    class Three(nn.Cell):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def construct(self, a, b, c):
            return self.inner(a, b, c)

    shapes = [(1, 2, 4, 4), (1, 2, 4, 4), (1, 2, 1, 1)]
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        y = run(ms, Three(lowered(node("concat", {}, [shapes[0]] * 3))), xs[0], xs[1], xs[0])
        assert np.array_equal(y, np.concatenate([xs[0], xs[1], xs[0]], axis=1))
        y = run(ms, Three(lowered(node("add", {}, [shapes[0]] * 3))), xs[0], xs[1], xs[0])
        assert np.abs(y - (2 * xs[0] + xs[1])).max() < TOL
        y = run(ms, Three(lowered(node("mul", {}, shapes))), *xs)
        assert np.abs(y - xs[0] * xs[1] * xs[2]).max() < TOL
        # single-input Cells with constant-folded branches (padding, rescale) compile too
        for op, args in [("maxpool", {"k": 3, "stride": 2, "padding": 1, "ceil_mode": True}),
                         ("avgpool", {"k": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
                         ("upsample", {"mode": "bilinear", "scale": 2}),
                         ("upsample", {"mode": "nearest", "scale": 2}),
                         ("global_avgpool", {}),
                         ("act", {"fn": "hswish"})]:
            n = node(op, args, [(1, 2, 7, 6)])
            x = rand(1, 2, 7, 6, seed=9)
            y = run(ms, lowered(n), x)
            assert y.shape == n.shape
            ref = reference(n, None, [x])
            assert np.abs(y - ref).max() < TOL, op
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)


# ONNX export is what the Ascend ATC path needs. Known gaps in MindSpore 2.10 (documented in
# archspec/ops/cells.py): bilinear upsample (ResizeBilinearV2) and exact GELU (Erf); both export
# to MindIR.
EXPORT_CASES = [
    ("conv", {"out": 4, "k": 3, "stride": 2, "bn": True, "act": "hswish"}, [(1, 2, 8, 8)], True),
    ("conv", {"k": 3, "depthwise": True, "act": "relu6"}, [(1, 2, 8, 8)], True),
    ("batchnorm", {}, [(1, 2, 8, 8)], True),
    ("act", {"fn": "hsigmoid"}, [(1, 2, 8, 8)], True),
    ("act", {"fn": "gelu"}, [(1, 2, 8, 8)], False),
    ("maxpool", {"k": 3, "stride": 2, "padding": 1, "ceil_mode": True}, [(1, 2, 8, 8)], True),
    ("avgpool", {"k": 3, "stride": 2, "padding": 1, "count_include_pad": False}, [(1, 2, 8, 8)], True),
    ("global_avgpool", {}, [(1, 2, 8, 8)], True),
    ("upsample", {"mode": "nearest", "scale": 2}, [(1, 2, 8, 8)], True),
    ("upsample", {"mode": "bilinear", "scale": 2}, [(1, 2, 8, 8)], False),
    ("concat", {}, [(1, 2, 8, 8)] * 3, True),
    ("mul", {}, [(1, 2, 8, 8), (1, 2, 1, 1)], True),
    ("dense", {"out": 3, "act": "relu"}, [(1, 8)], True),
]


@pytest.mark.parametrize("op,args,in_shapes,onnx", EXPORT_CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(EXPORT_CASES)])
def test_export(ms, tmp_path, op, args, in_shapes, onnx):
    cell = lowered(node(op, args, in_shapes))
    xs = [ms.Tensor(np.zeros(s, np.float32)) for s in in_shapes]
    ms.export(cell, *xs, file_name=str(tmp_path / "m"), file_format="MINDIR")
    assert (tmp_path / "m.mindir").exists()
    if onnx:
        ms.export(cell, *xs, file_name=str(tmp_path / "m"), file_format="ONNX")
        assert (tmp_path / "m.onnx").exists()
    else:
        with pytest.raises(Exception, match="ResizeBilinearV2|Erf"):
            ms.export(cell, *xs, file_name=str(tmp_path / "m"), file_format="ONNX")
