"""conv_transpose: 2-D transposed convolution (PyTorch's nn.ConvTranspose2d), with optional BatchNorm
and activation like `conv`.

Semantics, shapes and init are PyTorch's: output size (H - 1)*stride - 2*padding +
dilation*(k - 1) + output_padding + 1; weight (in, out/groups, kh, kw); default init
U(+-1/sqrt(out/groups*kh*kw)) for weight and bias. `padding` defaults to 0 (PyTorch's default;
it is not the "same" padding of `conv`); `output_padding` must be smaller than the stride or the
dilation (PyTorch's rule). A `conv_transpose -> batchnorm -> act` chain fuses into one node as
conv's does, and its BatchNorm folds into the weight for deployment.

MACs: in * out/groups * kh * kw per input pixel (each input value meets every kernel tap once).

Lowering (option `kernel`, chosen when the graph is lowered; graph, parameters and numbers stay):
  - `transpose` (default): nn.Conv2dTranspose (Conv2DBackpropInput). MindIR exports; ONNX does
    not load (MindSpore 2.10 writes ConvTranspose's output_shape attribute with 4 values,
    onnxruntime wants 2).
  - `conv`: cells.ConvTransposeAsConv, ordinary convolutions (a 1x1 conv and a pixel shuffle
    when kernel == stride, as in U-Net's 2x2/2 upsampling). Exports to ONNX;
    `archspec export --format onnx` selects it.
Both sit in cells.ConvUnit (attributes `conv`, `batchnorm`, `activation`), so parameters are
named as a conv's: `conv.weight`, `conv.bias`, `batchnorm.*`.
"""
from __future__ import annotations

from pydantic import ValidationInfo, field_validator

from archspec.ops.common import IntPair, NonNegPair, PosInt, fmt, need_4d, pair
from archspec.ops.conv import BnActArgs, activation_check, check_groups, conv_unit_params, kind
from archspec.ops.registry import OpArgs, OpDef, ParamTable, ShapeError, register


class _ConvTransposeShape(OpArgs):
    out: PosInt  # output channels
    k: IntPair  # kernel size
    stride: IntPair = 1
    dilation: IntPair = 1
    padding: NonNegPair = 0  # removed from each side of the output (PyTorch's meaning)
    output_padding: NonNegPair = 0  # added at the bottom and right: picks among the sizes a stride allows
    groups: PosInt = 1

    @field_validator("output_padding")
    @classmethod
    def _below_stride_or_dilation(cls, v, info: ValidationInfo):
        s, d = info.data.get("stride"), info.data.get("dilation")
        if s is None or d is None:  # already reported
            return v
        if any(o >= si and o >= di for o, si, di in zip(pair(v), pair(s), pair(d))):
            raise ValueError(f"output_padding {list(pair(v))} must be smaller than the stride {list(pair(s))} "
                             f"or the dilation {list(pair(d))} (PyTorch's rule)")
        return v


class ConvTransposeArgs(BnActArgs, _ConvTransposeShape):
    pass


def complete(a: ConvTransposeArgs, in_shapes) -> ConvTransposeArgs:
    return a.model_copy(update={"bias": not a.bn}) if a.bias is None else a


def out_size(size: int, k: int, s: int, p: int, op: int, d: int) -> int:
    return (size - 1) * s - 2 * p + d * (k - 1) + op + 1


def infer(a: ConvTransposeArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "conv_transpose")
    check_groups(a, x[1])
    k, s, p, op, d = pair(a.k), pair(a.stride), pair(a.padding), pair(a.output_padding), pair(a.dilation)
    oh, ow = (out_size(x[2 + i], k[i], s[i], p[i], op[i], d[i]) for i in range(2))
    if oh < 1 or ow < 1:
        raise ShapeError(f"op 'conv_transpose': padding {list(p)} leaves no output of the {x[2]}x{x[3]} input "
                         f"{fmt(x)} (output {oh}x{ow})", arg="padding",
                         hint="padding removes that many pixels from each side of the output; use less")
    return (x[0], a.out, oh, ow)


def parameters(a: ConvTransposeArgs, in_shapes) -> ParamTable:
    kh, kw = pair(a.k)
    return conv_unit_params((in_shapes[0][1], a.out // a.groups, kh, kw), a.out, bool(a.bias), a.bn)


def macs(a: ConvTransposeArgs, in_shapes, out_shape) -> int:
    n, cin, h, w = in_shapes[0]
    kh, kw = pair(a.k)
    return n * h * w * cin * (a.out // a.groups) * kh * kw


def scale_out_channels(a: ConvTransposeArgs, weight, scale):
    cin, og, kh, kw = weight.shape  # output channel g*og + j sits at [g*cin/groups:(g+1)*cin/groups, j]
    g = a.groups
    return (weight.reshape(g, cin // g, og, kh, kw) * scale.reshape(g, 1, og, 1, 1)).reshape(weight.shape)


def lower(node, kernel: str = "transpose"):
    from mindspore import nn

    from archspec.ops.cells import ConvTransposeAsConv, ConvUnit, activation, torch_default_init

    a = node.args
    cin = node.in_shapes[0][1]
    k, s, p, op, d = pair(a.k), pair(a.stride), pair(a.padding), pair(a.output_padding), pair(a.dilation)
    weight_init, bias_init = torch_default_init((a.out // a.groups) * k[0] * k[1])
    if kernel == "conv":
        conv = ConvTransposeAsConv(node.in_shapes[0], a.out, k, s, p, op, d, a.groups, bool(a.bias),
                                   weight_init, bias_init)
    else:
        # MindSpore appends output_padding as zeros after cropping `padding` from both ends, where
        # PyTorch keeps computed values there: crop less at the end, append only what is left.
        end = [max(p[i] - op[i], 0) for i in range(2)]
        extra = tuple(max(op[i] - p[i], 0) for i in range(2))
        conv = nn.Conv2dTranspose(cin, a.out, k, stride=s, pad_mode="pad", padding=(p[0], end[0], p[1], end[1]),
                                  output_padding=extra, dilation=d, group=a.groups, has_bias=bool(a.bias),
                                  weight_init=weight_init, bias_init=bias_init)
    return ConvUnit(conv, a.out, a.bn, 1.0 - a.momentum, a.eps, activation(a.act, a.alpha))


def export_check(node, fmt: str, options: dict[str, str]) -> str:
    if fmt == "onnx" and options.get("kernel", "transpose") == "transpose":
        return ("nn.Conv2dTranspose's ONNX export in MindSpore 2.10 is unusable (ConvTranspose with a 4-value "
                "output_shape, which onnxruntime rejects); lower it with conv_transpose.kernel=conv")
    return activation_check(node, fmt, options)


register(OpDef(
    name="conv_transpose", args=ConvTransposeArgs, infer=infer, parameters=parameters, macs=macs, lower=lower,
    complete=complete, kind=kind, export_check=export_check, lower_options={"kernel": ("transpose", "conv")},
    scale_out_channels=scale_out_channels,
    doc="2-D transposed convolution (PyTorch nn.ConvTranspose2d) (+ BatchNorm + activation); "
        "learned upsampling: k: 2, stride: 2 doubles height and width",
    examples=[{"op": "conv_transpose", "out": 64, "k": 2, "stride": 2},
              {"op": "conv_transpose", "out": 32, "k": 3, "stride": 2, "padding": 1, "output_padding": 1,
               "bn": True, "act": "relu"}],
))
