"""act: an element-wise activation function (the names in registry.ACTIVATIONS).

Numerics follow PyTorch: gelu is the exact erf form (MindSpore's nn.GELU defaults to the tanh
approximation), hswish = x * relu6(x + 3) / 6, hsigmoid = relu6(x + 3) / 6, leakyrelu's slope
defaults to 0.01. See `archspec/ops/cells.py` for the Cells and their ONNX exportability.
"""
from __future__ import annotations

from typing import get_args

from archspec.ops.common import FiniteFloat, activation_export_check
from archspec.ops.registry import Activation, OpArgs, OpDef, register

ActName = get_args(Activation)[0]  # the Literal of registry.ACTIVATIONS, without None


class ActArgs(OpArgs):
    fn: ActName
    alpha: FiniteFloat = 0.01  # leakyrelu negative slope (PyTorch's default); ignored by the others


def infer(a: ActArgs, in_shapes):
    return tuple(in_shapes[0])


def lower(node):
    from archspec.ops.cells import activation

    return activation(node.args.fn, node.args.alpha)


register(OpDef(
    name="act", args=ActArgs, infer=infer, lower=lower, export_check=activation_export_check("fn"),
    doc="element-wise activation: " + ", ".join(get_args(ActName)),
    examples=[{"op": "act", "fn": "relu"}, {"op": "act", "fn": "leakyrelu", "alpha": 0.2}],
))
