"""conv: 2-D convolution with optional BatchNorm and activation, lowered as one nn.Conv2dBnAct."""
from __future__ import annotations

from typing import Optional

from pydantic import PositiveFloat, model_validator

from archspec.ops.common import IntPair, NonNegPair, PosInt, activation_export_check, need_4d, pair, spatial_out
from archspec.ops.registry import Activation, OpArgs, OpDef, ShapeError, register


class ConvArgs(OpArgs):
    out: Optional[PosInt] = None  # output channels; depthwise convs default to the input's
    k: IntPair  # kernel size
    stride: IntPair = 1
    dilation: IntPair = 1
    groups: PosInt = 1
    depthwise: bool = False  # groups = out = input channels
    padding: Optional[NonNegPair] = None  # default: dilation*(k-1)//2 per side
    bias: Optional[bool] = None  # default: no bias when bn is on, bias otherwise
    bn: bool = False
    act: Activation = None
    alpha: float = 0.01  # leakyrelu negative slope (PyTorch's default)
    eps: PositiveFloat = 1e-5  # BatchNorm epsilon
    momentum: float = 0.1  # BatchNorm momentum, PyTorch convention (MindSpore's is 1 - this)

    @model_validator(mode="after")
    def _check(self) -> "ConvArgs":
        if self.out is None and not self.depthwise:
            raise ValueError("'out' (output channels) is required unless depthwise: true")
        if not 0.0 <= self.momentum <= 1.0:
            raise ValueError("momentum must be within [0, 1] (PyTorch convention: weight of the new batch)")
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


def infer(a: ConvArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "conv")
    cin = x[1]
    if cin % a.groups:
        raise ShapeError(f"groups={a.groups} does not divide the {cin} input channels", arg="groups",
                         hint="groups must divide both input and output channels (depthwise: true sets groups to the input channels)")
    if a.out % a.groups:
        raise ShapeError(f"groups={a.groups} does not divide the {a.out} output channels", arg="groups",
                         hint="groups must divide both input and output channels")
    oh, ow = spatial_out(x, pair(a.k), pair(a.stride), pair(a.padding), pair(a.dilation), "conv")
    return (x[0], a.out, oh, ow)


def cost(a: ConvArgs, in_shapes, out_shape):
    kh, kw = pair(a.k)
    cin = in_shapes[0][1]
    weights = a.out * (cin // a.groups) * kh * kw
    params = weights + (a.out if a.bias else 0) + (2 * a.out if a.bn else 0)
    macs = weights * out_shape[2] * out_shape[3] * out_shape[0]
    return params, macs


def lower(node):
    import math

    from mindspore import nn
    from mindspore.common.initializer import HeUniform, Uniform

    from archspec.ops.cells import activation

    a = node.args
    k, s, d, p = pair(a.k), pair(a.stride), pair(a.dilation), pair(a.padding)
    cin = node.in_shapes[0][1]
    fan_in = (cin // a.groups) * k[0] * k[1]
    return nn.Conv2dBnAct(
        in_channels=cin,
        out_channels=a.out,
        kernel_size=k,
        stride=s,
        pad_mode="pad",  # explicit symmetric padding, as PyTorch pads
        padding=(p[0], p[0], p[1], p[1]),  # MindSpore order: top, bottom, left, right
        dilation=d,
        group=a.groups,
        has_bias=bool(a.bias),
        # PyTorch's default conv init: weight kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)),
        # bias U(+-1/sqrt(fan_in))
        weight_init=HeUniform(negative_slope=math.sqrt(5)),
        bias_init=Uniform(scale=1.0 / math.sqrt(fan_in)),
        has_bn=a.bn,
        momentum=1.0 - a.momentum,
        eps=a.eps,
        # a Cell, not the name: Conv2dBnAct's get_activation('gelu') is the tanh approximation
        activation=activation(a.act, a.alpha),
    )


export_check = activation_export_check("act")


def kind(node) -> str:
    a = node.args
    parts = ["conv"] + (["bn"] if a.bn else []) + ([a.act] if a.act else [])
    return "+".join(parts)


register(OpDef(
    name="conv", args=ConvArgs, infer=infer, cost=cost, lower=lower, complete=complete, kind=kind,
    export_check=export_check,
    doc="2-D convolution (+ BatchNorm + activation); lowered to one nn.Conv2dBnAct",
    examples=[{"op": "conv", "out": 64, "k": 3, "stride": 2, "bn": True, "act": "relu"}],
))
