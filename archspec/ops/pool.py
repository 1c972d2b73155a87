"""maxpool, avgpool, global_avgpool, adaptive_avgpool: PyTorch-semantics pooling over H and W of an
NCHW tensor.

Padding is symmetric as in PyTorch (max pooling pads with -inf, average pooling with zeros and
`count_include_pad` deciding the divisor), `stride` defaults to the kernel size, and `ceil_mode`
uses PyTorch's output-size rule. Pool dilation is not supported (MindSpore's exportable pooling
has none). `adaptive_avgpool` is PyTorch's AdaptiveAvgPool2d: output i of an axis averages
inputs floor(i*in/out) to ceil((i+1)*in/out), bins that overlap where out does not divide in.
Lowerings: `archspec/ops/cells.py` (MaxPool2d, AvgPool2d, GlobalAvgPool, AdaptiveAvgPool, the
last as two MatMuls with the bin weights, which exports everywhere).
"""
from __future__ import annotations

from typing import Optional

from pydantic import model_validator

from archspec.ops.common import IntPair, NonNegPair, need_4d, pair, spatial_out
from archspec.ops.registry import OpArgs, OpDef, register


class PoolArgs(OpArgs):
    k: IntPair  # window size
    stride: Optional[IntPair] = None  # default: k
    padding: NonNegPair = 0  # per side, symmetric (PyTorch): at most half the window
    ceil_mode: bool = False

    @model_validator(mode="after")
    def _check(self):
        k, p = pair(self.k), pair(self.padding)
        if p[0] > k[0] // 2 or p[1] > k[1] // 2:
            raise ValueError(f"padding {list(p)} must be at most half the window {list(k)} "
                             "(PyTorch's rule; a window must not lie entirely in the padding)")
        return self


class AvgPoolArgs(PoolArgs):
    count_include_pad: bool = True  # PyTorch's default: padded zeros count in the divisor


def complete(a: PoolArgs, in_shapes) -> PoolArgs:
    return a.model_copy(update={"stride": a.k}) if a.stride is None else a


def _infer(op: str):
    def infer(a: PoolArgs, in_shapes):
        x = in_shapes[0]
        need_4d(x, op)
        stride = a.stride if a.stride is not None else a.k
        oh, ow = spatial_out(x, pair(a.k), pair(stride), pair(a.padding), (1, 1), op, a.ceil_mode)
        return (x[0], x[1], oh, ow)

    return infer


def lower_max(node):
    from archspec.ops.cells import MaxPool2d

    a = node.args
    return MaxPool2d(node.in_shapes[0], pair(a.k), pair(a.stride), pair(a.padding), node.shape[2:])


def lower_avg(node):
    from archspec.ops.cells import AvgPool2d

    a = node.args
    return AvgPool2d(node.in_shapes[0], pair(a.k), pair(a.stride), pair(a.padding), node.shape[2:],
                     a.count_include_pad)


class GlobalPoolArgs(OpArgs):
    pass


def infer_global(a, in_shapes):
    x = in_shapes[0]
    need_4d(x, "global_avgpool")
    return (x[0], x[1], 1, 1)


def lower_global(node):
    from archspec.ops.cells import GlobalAvgPool

    return GlobalAvgPool()


class AdaptivePoolArgs(OpArgs):
    size: IntPair  # output [height, width], or one number for both


def infer_adaptive(a: AdaptivePoolArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "adaptive_avgpool")
    return (x[0], x[1]) + pair(a.size)


def lower_adaptive(node):
    from archspec.ops.cells import AdaptiveAvgPool

    return AdaptiveAvgPool(node.in_shapes[0][2:], node.shape[2:])


register(OpDef(
    name="maxpool", args=PoolArgs, infer=_infer("maxpool"), lower=lower_max, complete=complete,
    doc="2-D max pooling (PyTorch semantics: -inf padding, stride defaults to k)",
    examples=[{"op": "maxpool", "k": 3, "stride": 2, "padding": 1}],
))
register(OpDef(
    name="avgpool", args=AvgPoolArgs, infer=_infer("avgpool"), lower=lower_avg, complete=complete,
    doc="2-D average pooling (PyTorch semantics: zero padding, count_include_pad, stride defaults to k)",
    examples=[{"op": "avgpool", "k": 2}, {"op": "avgpool", "k": 3, "stride": 1, "padding": 1}],
))
register(OpDef(
    name="global_avgpool", args=GlobalPoolArgs, infer=infer_global, lower=lower_global,
    doc="mean over height and width: (N, C, H, W) -> (N, C, 1, 1)",
    examples=[{"op": "global_avgpool"}],
))
register(OpDef(
    name="adaptive_avgpool", args=AdaptivePoolArgs, infer=infer_adaptive, lower=lower_adaptive,
    doc="average pooling to a fixed output size [h, w] (PyTorch AdaptiveAvgPool2d bins, any sizes)",
    examples=[{"op": "adaptive_avgpool", "size": 6}, {"op": "adaptive_avgpool", "size": [2, 3]}],
))
