"""Shape arithmetic and argument types shared by the ops.

Cost convention (every op's `cost`): (trainable parameters, MACs). MACs count multiply-adds of
convolutions (plain and transposed) and dense layers only (one MAC = one multiply plus one add;
"FLOPs" = 2 * MACs, the convention of the VainF DeepLabV3+ table and the DeepLab paper's
"multiply-adds"). Normalisations, activations, softmax, pooling, resizing, reshaping and
element-wise ops count 0 MACs. Parameters count what PyTorch's `sum(p.numel() for p in
m.parameters())` counts: weights, biases, BN/GroupNorm/LayerNorm gamma and beta; BN running
statistics are buffers and are not counted. The count is derived from each op's parameter
table (`OpDef.parameters`, see registry.py).
"""
from __future__ import annotations

from typing import Annotated, Union

from pydantic import AllowInfNan, BeforeValidator, Field

from archspec import limits
from archspec.ops.registry import ShapeError

MAX_ARG_INT = limits.TENSOR_ELEMENTS  # a kernel, stride, dilation, channel count or dimension


def _reject_bool(v):
    # YAML reads yes/no/on/off/true/false as booleans and pydantic would take True for 1.
    if isinstance(v, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(v, float):  # pydantic would take 32.0 for 32; `/` always makes floats
        raise ValueError(f"expected a whole number, got {v!r} (in expressions, use // for integer division)")
    if isinstance(v, int) and abs(v) > MAX_ARG_INT:  # MindSpore's C++ ints are 64-bit; no size reaches this
        raise ValueError(f"{v:.3g} is out of range: op arguments are at most {MAX_ARG_INT:,} in size")
    return v


def _number(v):
    if isinstance(v, bool):  # YAML's yes/no/on/off; pydantic would take True for 1.0
        raise ValueError("expected a number, got a boolean")
    return v


# Every float argument of every op: nan and inf are never a slope, an epsilon, a momentum or a scale.
FiniteFloat = Annotated[float, BeforeValidator(_number), AllowInfNan(False)]
PosFiniteFloat = Annotated[float, BeforeValidator(_number), AllowInfNan(False), Field(gt=0)]
WholeInt = Annotated[int, BeforeValidator(_reject_bool)]  # any integer, no booleans or floats
PosInt = Annotated[int, BeforeValidator(_reject_bool), Field(gt=0)]
NonNegInt = Annotated[int, BeforeValidator(_reject_bool), Field(ge=0)]
IntPair = Union[PosInt, tuple[PosInt, PosInt]]  # 3 or [3, 5] (height, width)
NonNegPair = Union[NonNegInt, tuple[NonNegInt, NonNegInt]]


def pair(v: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        return int(v[0]), int(v[1])
    return int(v), int(v)


def fmt(shape) -> str:
    """A shape as users see it in messages: [1, 256, 33, 33]."""
    return str([int(d) for d in shape])


def need_4d(shape: tuple[int, ...], op: str) -> None:
    if len(shape) != 4:
        raise ShapeError(
            f"op '{op}' needs a 4-D NCHW input, got shape {fmt(shape)}",
            hint="flatten/dense produce 2-D tensors; put spatial ops before them",
        )


def norm_axis(axis: int, rank: int) -> int:
    """`axis` (negative counts from the end) as an index into a rank-`rank` shape; ShapeError at
    the argument `axis` when out of range."""
    if not -rank <= axis < rank:
        raise ShapeError(f"axis {axis} is out of range for {rank}-D inputs", arg="axis",
                         hint=f"use an axis in [{-rank}, {rank - 1}]; 1 is channels")
    return axis % rank


def window_out(size: int, k: int, stride: int, pad: int, dilation: int = 1, ceil: bool = False) -> int:
    """Output length of a sliding window, as PyTorch computes it."""
    span = size + 2 * pad - dilation * (k - 1) - 1
    if span < 0:
        return 0  # the (padded) input is smaller than one window
    if ceil:
        out = -(-span // stride) + 1
        if (out - 1) * stride >= size + pad:  # last window must start inside the input or left pad
            out -= 1
        return out
    return span // stride + 1


def spatial_out(shape, k, stride, pad, dilation=(1, 1), op="conv", ceil=False) -> tuple[int, int]:
    h, w = shape[2], shape[3]
    oh = window_out(h, k[0], stride[0], pad[0], dilation[0], ceil)
    ow = window_out(w, k[1], stride[1], pad[1], dilation[1], ceil)
    if oh < 1 or ow < 1:
        raise ShapeError(
            f"op '{op}' shrinks the {h}x{w} input below 1 pixel (kernel {k[0]}x{k[1]}, "
            f"stride {stride[0]}x{stride[1]}, padding {pad[0]}x{pad[1]}, dilation {dilation[0]}x{dilation[1]})",
            hint="use a larger input (--input-shape), a smaller kernel or stride, or more padding",
        )
    return oh, ow


# Activations whose lowering MindSpore 2.10 cannot export, per format (see ops/cells.py).
UNEXPORTABLE_ACTIVATIONS = {"onnx": {"gelu": "exact GELU uses Erf, which MindSpore 2.10's ONNX exporter does not support"}}


def activation_export_check(arg: str):
    """An OpDef.export_check for ops whose activation is the argument `arg` (act: fn; conv, dense: act)."""

    def check(node, fmt: str, options) -> str:
        fn = getattr(node.args, arg, None)
        reason = UNEXPORTABLE_ACTIVATIONS.get(fmt, {}).get(fn)
        return f"activation '{fn}': {reason}" if reason else ""

    return check
