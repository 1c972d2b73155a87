"""softmax, argmax: along one axis, by default 1 (the channels: class scores of a segmenter).

- softmax: PyTorch's softmax(dim=axis), computed as exp(x - max) / sum (cells.Softmax: exports
  to MindIR and ONNX, where MindSpore 2.10's own Softmax export over a non-last axis is broken).
- argmax: the index of the largest value along `axis`, as **int32** (boards and post-processing
  want 32-bit class maps; ONNX's ArgMax gives int64 and MindSpore's exporter adds the Cast).
  The axis is removed, as `torch.argmax(x, dim)` does: scores [N, C, H, W] give a class map
  [N, H, W]; `keepdims: true` keeps it as size 1, [N, 1, H, W]. Ties pick the first index, as
  PyTorch. Archspec's graph carries shapes, not dtypes: resolution refuses a float op reading a
  class map (only reshape, permute and flatten may), so it is a graph output, typically the deploy
  head `archspec export --argmax` adds.
0 parameters, 0 MACs.
"""
from __future__ import annotations

from archspec.ops.common import WholeInt, norm_axis
from archspec.ops.registry import OpArgs, OpDef, register


class SoftmaxArgs(OpArgs):
    axis: WholeInt = 1  # negative counts from the end


class ArgmaxArgs(SoftmaxArgs):
    keepdims: bool = False  # keep the reduced axis as size 1


def infer_softmax(a: SoftmaxArgs, in_shapes):
    x = in_shapes[0]
    norm_axis(a.axis, len(x))
    return tuple(x)


def infer_argmax(a: ArgmaxArgs, in_shapes):
    x = list(in_shapes[0])
    ax = norm_axis(a.axis, len(x))
    if a.keepdims:
        x[ax] = 1
    else:
        del x[ax]
    return tuple(x)


def lower_softmax(node):
    from archspec.ops.cells import Softmax

    return Softmax(node.args.axis % len(node.shape))


def lower_argmax(node):
    from archspec.ops.cells import Argmax

    return Argmax(node.args.axis % len(node.in_shapes[0]), node.shape)


register(OpDef(
    name="softmax", args=SoftmaxArgs, infer=infer_softmax, lower=lower_softmax,
    doc="softmax along an axis (default 1, channels)",
    examples=[{"op": "softmax"}, {"op": "softmax", "axis": -1}],
))
register(OpDef(
    name="argmax", args=ArgmaxArgs, infer=infer_argmax, lower=lower_argmax,
    doc="index of the largest value along an axis (default 1: the class map), int32; the axis is removed "
        "unless keepdims",
    examples=[{"op": "argmax"}, {"op": "argmax", "axis": 1, "keepdims": True}],
))
