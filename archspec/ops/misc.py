"""dropout, flatten, dense, identity."""
from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field

from archspec.ops.common import FiniteFloat, PosInt, activation_export_check, fmt
from archspec.ops.registry import Activation, OpArgs, OpDef, Param, ParamTable, ShapeError, register


# ----------------------------------------------------------------------------- dropout
class DropoutArgs(OpArgs):
    p: Annotated[FiniteFloat, Field(ge=0.0, lt=1.0)] = 0.5  # probability of zeroing an element


def _same(a, in_shapes):
    return tuple(in_shapes[0])


def lower_dropout(node):
    from mindspore import nn

    # MindSpore 2.x: nn.Dropout(p=...) (keep_prob is deprecated); identity unless the Cell is training.
    return nn.Dropout(p=float(node.args.p))


# ----------------------------------------------------------------------------- flatten
class FlattenArgs(OpArgs):
    pass


def infer_flatten(a, in_shapes):
    x = in_shapes[0]
    if len(x) < 2:
        raise ShapeError(f"op 'flatten' needs an input with a batch dimension and more, got shape {fmt(x)}")
    return (x[0], math.prod(x[1:]))


def lower_flatten(node):
    from archspec.ops.cells import Rearrange

    return Rearrange(node.shape)  # nn.Flatten as a graph output would not export to ONNX (see cells.reshape)


# ----------------------------------------------------------------------------- dense
class DenseArgs(OpArgs):
    out: PosInt  # output features
    bias: bool = True
    act: Activation = None
    alpha: FiniteFloat = 0.01  # leakyrelu negative slope


def infer_dense(a: DenseArgs, in_shapes):
    x = in_shapes[0]
    if len(x) != 2:
        raise ShapeError(f"op 'dense' needs a 2-D (N, features) input, got shape {fmt(x)}",
                         hint="flatten or global_avgpool first" + (" (then flatten)" if len(x) == 4 else ""))
    return (x[0], a.out)


def parameters_dense(a: DenseArgs, in_shapes) -> ParamTable:
    table = {"weight": Param((a.out, in_shapes[0][1]), True, "weight")}  # nn.Dense: (out, in), as torch
    if a.bias:
        table["bias"] = Param((a.out,), True, "bias")
    return table


def macs_dense(a: DenseArgs, in_shapes, out_shape) -> int:
    n, fin = in_shapes[0]
    return n * fin * a.out


def lower_dense(node):
    from mindspore import nn

    from archspec.ops.cells import activation, torch_default_init

    a = node.args
    fin = node.in_shapes[0][1]
    weight_init, bias_init = torch_default_init(fin)  # nn.Linear's
    return nn.Dense(fin, a.out, weight_init=weight_init, bias_init=bias_init, has_bias=a.bias,
                    activation=activation(a.act, a.alpha))


def kind_dense(node) -> str:
    return "dense" + (f"+{node.args.act}" if node.args.act else "")


# ----------------------------------------------------------------------------- identity
class IdentityArgs(OpArgs):
    pass


def lower_identity(node):
    from mindspore import nn

    return nn.Identity()


register(OpDef(
    name="dropout", args=DropoutArgs, infer=_same, lower=lower_dropout,
    doc="dropout with probability p in [0, 1) while training; identity at inference",
    examples=[{"op": "dropout", "p": 0.1}],
))
register(OpDef(
    name="flatten", args=FlattenArgs, infer=infer_flatten, lower=lower_flatten,
    doc="flatten all dimensions but the batch: (N, C, H, W) -> (N, C*H*W)",
    examples=[{"op": "flatten"}],
))
register(OpDef(
    name="dense", args=DenseArgs, infer=infer_dense, parameters=parameters_dense, macs=macs_dense, lower=lower_dense,
    kind=kind_dense,
    export_check=activation_export_check("act"),
    doc="fully connected layer on a 2-D (N, features) input (+ activation); lowered to nn.Dense",
    examples=[{"op": "dense", "out": 1000}],
))
register(OpDef(
    name="identity", args=IdentityArgs, infer=_same, lower=lower_identity,
    doc="passes its input through unchanged (a named junction in the graph)",
    examples=[{"op": "identity"}],
))
