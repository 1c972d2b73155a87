"""pad: constant padding of the height and width of an NCHW tensor.

`pad` is one number (every side), `[h, w]` (top and bottom by h, left and right by w) or
`[top, bottom, left, right]` (the order MindSpore's Conv2d `padding` uses; note that PyTorch's
`F.pad(x, (left, right, top, bottom))` lists the width first). `value` (0.0) is the constant.
It is what VainF's MobileNetV2 does before each inverted residual (`F.pad(x, fixed_padding(3, d))`),
where the padded border then goes through the 1x1 expansion conv.

0 parameters, 0 MACs. Lowering: `archspec/ops/cells.py` ConstPad2d (constant borders concatenated:
works on CPU in PyNative and Graph mode and exports to MindIR and ONNX, as Concat).
"""
from __future__ import annotations

import math
from typing import Annotated, Union

from pydantic import BeforeValidator, field_validator

from archspec.ops.common import NonNegInt, need_4d
from archspec.ops.registry import OpArgs, OpDef, register


def _reject_bool(v):
    if isinstance(v, bool):  # YAML's yes/no/true/false must not become 1.0/0.0
        raise ValueError("expected a number, got a boolean")
    return v


Pads = Union[NonNegInt, tuple[NonNegInt, NonNegInt], tuple[NonNegInt, NonNegInt, NonNegInt, NonNegInt]]


class PadArgs(OpArgs):
    pad: Pads  # n (all sides), [h, w] (symmetric per axis) or [top, bottom, left, right]
    value: Annotated[float, BeforeValidator(_reject_bool)] = 0.0  # the constant written into the border

    @field_validator("value")
    @classmethod
    def _not_nan(cls, v: float) -> float:
        if math.isnan(v):
            raise ValueError("value must be a number, not NaN")
        return v


def pads(a: PadArgs) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of `pad`, whichever form it was written in."""
    p = a.pad
    if isinstance(p, (tuple, list)):
        if len(p) == 2:
            return int(p[0]), int(p[0]), int(p[1]), int(p[1])
        return tuple(int(v) for v in p)  # type: ignore[return-value]
    return int(p), int(p), int(p), int(p)


def infer(a: PadArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "pad")
    t, b, l, r = pads(a)
    return (x[0], x[1], x[2] + t + b, x[3] + l + r)


def lower(node):
    from archspec.ops.cells import ConstPad2d

    return ConstPad2d(node.in_shapes[0], pads(node.args), float(node.args.value))


def kind(node) -> str:
    return "pad"


register(OpDef(
    name="pad", args=PadArgs, infer=infer, lower=lower, kind=kind,
    doc="constant padding of height and width: pad = n, (h, w) or (top, bottom, left, right) pixels of value",
    examples=[{"op": "pad", "pad": 1}, {"op": "pad", "pad": [0, 1, 0, 1]}, {"op": "pad", "pad": [2, 1], "value": -1.0}],
))
