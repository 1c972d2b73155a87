"""batchnorm, groupnorm, layernorm: normalisation of the channels (axis 1).

- batchnorm: 2-D batch normalisation of an NCHW tensor, lowered to nn.BatchNorm2d.
- groupnorm: PyTorch's nn.GroupNorm: per sample, over each group of C/groups channels and all
  positions; input (N, C, ...).
- layernorm: over the channels at each position, as ConvNeXt's channels-first LayerNorm
  (for a 2-D (N, C) input, PyTorch's nn.LayerNorm(C)).
groupnorm and layernorm are composed from exportable primitives (cells.GroupNorm,
cells.ChannelLayerNorm; MindSpore 2.10 cannot export nn.GroupNorm to ONNX) and keep their affine
`gamma` and `beta` as (C,) vectors, PyTorch's `weight` and `bias`. 0 MACs.
"""
from __future__ import annotations

from pydantic import model_validator

from archspec.ops.common import FiniteFloat, PosFiniteFloat, PosInt, fmt, need_4d
from archspec.ops.registry import OpArgs, OpDef, Param, ParamTable, ShapeError, bn_params, register


class BatchNormArgs(OpArgs):
    eps: PosFiniteFloat = 1e-5
    momentum: FiniteFloat = 0.1  # PyTorch convention (weight of the new batch); MindSpore's is 1 - this

    @model_validator(mode="after")
    def _check(self) -> "BatchNormArgs":
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError("momentum must be within [0, 1] (PyTorch convention: weight of the new batch)")
        return self


def infer(a: BatchNormArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "batchnorm")
    return tuple(x)


def parameters(a: BatchNormArgs, in_shapes) -> ParamTable:
    # gamma and beta are trainable; running mean/variance are buffers (not counted, as in PyTorch).
    # 0 MACs (the default rule): inference folds BN into the preceding conv.
    return bn_params("", in_shapes[0][1])


def lower(node):
    from mindspore import nn

    a = node.args
    return nn.BatchNorm2d(node.in_shapes[0][1], eps=a.eps, momentum=1.0 - a.momentum)


register(OpDef(
    name="batchnorm", args=BatchNormArgs, infer=infer, parameters=parameters, lower=lower,
    doc="batch normalisation over channels (PyTorch momentum convention); lowered to nn.BatchNorm2d",
    examples=[{"op": "batchnorm"}, {"op": "batchnorm", "eps": 1e-3, "momentum": 0.01}],
))


# ----------------------------------------------------------------------------- groupnorm, layernorm
class LayerNormArgs(OpArgs):
    eps: PosFiniteFloat = 1e-5  # PyTorch's default (ConvNeXt uses 1e-6)
    affine: bool = True  # per-channel gamma (1) and beta (0)


class _Groups(OpArgs):
    groups: PosInt  # channels are split into this many groups; must divide them


class GroupNormArgs(LayerNormArgs, _Groups):  # fields: groups, then eps and affine
    pass


def _channels(x, op: str) -> int:
    if len(x) < 2:
        raise ShapeError(f"op '{op}' needs an input with a batch and a channel dimension, got shape {fmt(x)}")
    return x[1]


def infer_groupnorm(a: GroupNormArgs, in_shapes):
    x = in_shapes[0]
    c = _channels(x, "groupnorm")
    if c % a.groups:
        raise ShapeError(f"groups={a.groups} does not divide the {c} channels of {fmt(x)}", arg="groups",
                         hint="use a divisor of the channels (groups: 1 normalises all channels together)")
    return tuple(x)


def infer_layernorm(a: LayerNormArgs, in_shapes):
    _channels(in_shapes[0], "layernorm")
    return tuple(in_shapes[0])


def affine_parameters(a: LayerNormArgs, in_shapes) -> ParamTable:
    if not a.affine:
        return {}
    c = (int(in_shapes[0][1]),)
    return {"gamma": Param(c, True, "gamma"), "beta": Param(c, True, "beta")}


def lower_groupnorm(node):
    from archspec.ops.cells import GroupNorm

    a = node.args
    return GroupNorm(node.in_shapes[0], a.groups, a.eps, a.affine)


def lower_layernorm(node):
    from archspec.ops.cells import ChannelLayerNorm

    return ChannelLayerNorm(node.in_shapes[0], node.args.eps, node.args.affine)


register(OpDef(
    name="groupnorm", args=GroupNormArgs, infer=infer_groupnorm, parameters=affine_parameters, lower=lower_groupnorm,
    doc="group normalisation (PyTorch nn.GroupNorm): per sample over groups of channels and all positions",
    examples=[{"op": "groupnorm", "groups": 32}, {"op": "groupnorm", "groups": 8, "eps": 1e-6, "affine": False}],
))
register(OpDef(
    name="layernorm", args=LayerNormArgs, infer=infer_layernorm, parameters=affine_parameters, lower=lower_layernorm,
    doc="layer normalisation over the channels at each position (ConvNeXt's channels-first LayerNorm)",
    examples=[{"op": "layernorm"}, {"op": "layernorm", "eps": 1e-6}],
))
