"""conv: 2-D convolution with optional BatchNorm and activation, lowered as one nn.Conv2dBnAct.

Lowering option `conv.cells`: `fused` (default, the product's form) is one `nn.Conv2dBnAct`;
`separate` is `nn.Conv2d`, `nn.BatchNorm2d` and the activation as cells of their own (in a
`ConvUnit`, whose children have Conv2dBnAct's names, so parameter names and checkpoints are the
same): the "original model" that `archspec profile`'s graph-separate mode and `archspec compile`
set against the fused form. Both compute the same numbers."""
from __future__ import annotations

from typing import Optional

from pydantic import model_validator

from archspec.ops.common import (FiniteFloat, IntPair, NonNegPair, PosFiniteFloat, PosInt, activation_export_check,
                                 need_4d, pair, spatial_out)
from archspec.ops.registry import Activation, OpArgs, OpDef, Param, ParamTable, ShapeError, bn_params, register


class BnActArgs(OpArgs):
    """The arguments every conv unit (conv, conv_transpose) ends with: bias, BatchNorm, activation.

    An op's argument model lists this base FIRST (`class ConvArgs(BnActArgs, _ConvShape)`), so
    these fields come after the op's own in the field order (`archspec ops`, the JSON schema)."""

    bias: Optional[bool] = None  # default: no bias when bn is on, bias otherwise
    bn: bool = False
    act: Activation = None
    alpha: FiniteFloat = 0.01  # leakyrelu negative slope (PyTorch's default)
    eps: PosFiniteFloat = 1e-5  # BatchNorm epsilon
    momentum: FiniteFloat = 0.1  # BatchNorm momentum, PyTorch convention (MindSpore's is 1 - this)

    @model_validator(mode="after")
    def _check_momentum(self) -> "BnActArgs":
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError("momentum must be within [0, 1] (PyTorch convention: weight of the new batch)")
        return self


class _ConvShape(OpArgs):
    out: Optional[PosInt] = None  # output channels; depthwise convs default to the input's
    k: IntPair  # kernel size
    stride: IntPair = 1
    dilation: IntPair = 1
    groups: PosInt = 1
    depthwise: bool = False  # groups = out = input channels
    padding: Optional[NonNegPair] = None  # default: dilation*(k-1)//2 per side


class ConvArgs(BnActArgs, _ConvShape):
    @model_validator(mode="after")
    def _check(self) -> "ConvArgs":
        if self.out is None and not self.depthwise:
            raise ValueError("'out' (output channels) is required unless depthwise: true")
        if self.depthwise and "groups" in self.model_fields_set:
            raise ValueError("give either depthwise: true (groups = the input channels) or groups, not both")
        return self


def complete(a: ConvArgs, in_shapes) -> ConvArgs:
    cin = in_shapes[0][1] if len(in_shapes[0]) > 1 else 0
    changes = {}
    if a.depthwise:
        changes["groups"] = cin
        if a.out is None:
            changes["out"] = cin
    k, d = pair(a.k), pair(a.dilation)
    if a.padding is None:
        changes["padding"] = ((d[0] * (k[0] - 1)) // 2, (d[1] * (k[1] - 1)) // 2)
    if a.bias is None:
        changes["bias"] = not a.bn
    return a.model_copy(update=changes) if changes else a


def check_groups(a, cin: int, hint: str = "") -> None:
    """ShapeError when `a.groups` does not divide the input channels or `a.out`."""
    if cin % a.groups:
        raise ShapeError(f"groups={a.groups} does not divide the {cin} input channels", arg="groups",
                         hint="groups must divide both input and output channels" + hint)
    if a.out % a.groups:
        raise ShapeError(f"groups={a.groups} does not divide the {a.out} output channels", arg="groups",
                         hint="groups must divide both input and output channels")


def infer(a: ConvArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "conv")
    check_groups(a, x[1], " (depthwise: true sets groups to the input channels)")
    oh, ow = spatial_out(x, pair(a.k), pair(a.stride), pair(a.padding), pair(a.dilation), "conv")
    return (x[0], a.out, oh, ow)


def conv_unit_params(weight_shape: tuple[int, ...], out: int, bias: bool, bn: bool) -> ParamTable:
    """Parameters of a conv unit (nn.Conv2dBnAct and its look-alikes: attributes `conv`,
    `batchnorm`): the conv's weight and bias, then the BatchNorm's four tensors."""
    table = {"conv.weight": Param(tuple(int(d) for d in weight_shape), True, "weight")}
    if bias:
        table["conv.bias"] = Param((int(out),), True, "bias")
    if bn:
        table.update(bn_params("batchnorm.", out))
    return table


def parameters(a: ConvArgs, in_shapes) -> ParamTable:
    kh, kw = pair(a.k)
    return conv_unit_params((a.out, in_shapes[0][1] // a.groups, kh, kw), a.out, bool(a.bias), a.bn)


def macs(a: ConvArgs, in_shapes, out_shape) -> int:
    kh, kw = pair(a.k)
    weights = a.out * (in_shapes[0][1] // a.groups) * kh * kw
    return weights * out_shape[2] * out_shape[3] * out_shape[0]


def scale_out_channels(a: ConvArgs, weight, scale):
    return weight * scale.reshape(-1, 1, 1, 1)  # weight (out, in/groups, kh, kw)


def lower(node, cells: str = "fused"):
    from mindspore import nn

    from archspec.ops.cells import ConvUnit, activation, torch_default_init

    a = node.args
    k, s, d, p = pair(a.k), pair(a.stride), pair(a.dilation), pair(a.padding)
    cin = node.in_shapes[0][1]
    weight_init, bias_init = torch_default_init((cin // a.groups) * k[0] * k[1])
    conv = dict(
        in_channels=cin,
        out_channels=a.out,
        kernel_size=k,
        stride=s,
        pad_mode="pad",  # explicit symmetric padding, as PyTorch pads
        padding=(p[0], p[0], p[1], p[1]),  # MindSpore order: top, bottom, left, right
        dilation=d,
        group=a.groups,
        has_bias=bool(a.bias),
        weight_init=weight_init,  # PyTorch's default init
        bias_init=bias_init,
    )
    # a Cell, not the name: Conv2dBnAct's get_activation('gelu') is the tanh approximation
    act = activation(a.act, a.alpha)
    if cells == "separate":
        return ConvUnit(nn.Conv2d(**conv), a.out, a.bn, 1.0 - a.momentum, a.eps, act)
    return nn.Conv2dBnAct(**conv, has_bn=a.bn, momentum=1.0 - a.momentum, eps=a.eps, activation=act)


activation_check = export_check = activation_export_check("act")


def kind(node) -> str:
    """conv+bn+relu, conv_transpose+bn, ...: a conv unit with what it carries."""
    a = node.args
    parts = [node.op] + (["bn"] if a.bn else []) + ([a.act] if a.act else [])
    return "+".join(parts)


register(OpDef(
    name="conv", args=ConvArgs, infer=infer, parameters=parameters, macs=macs, lower=lower, complete=complete,
    kind=kind, export_check=export_check, scale_out_channels=scale_out_channels,
    lower_options={"cells": ("fused", "separate")},
    doc="2-D convolution (+ BatchNorm + activation); lowered to one nn.Conv2dBnAct",
    examples=[{"op": "conv", "out": 64, "k": 3, "stride": 2, "bn": True, "act": "relu"}],
))
