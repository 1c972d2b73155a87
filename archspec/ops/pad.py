"""pad: constant padding of the height and width of an NCHW tensor.

`pad` is one number (every side), `[h, w]` (top and bottom by h, left and right by w) or
`[top, bottom, left, right]` (the order MindSpore's Conv2d `padding` uses; note that PyTorch's
`F.pad(x, (left, right, top, bottom))` lists the width first). `value` (0.0) is the constant.
Instead of `pad`, `size: [h, w]` or `size_of: NAME` (a node or graph input, whose height and
width resolve fills into `size`) pads up to that size, half of the difference before and the
rest after (top/left get diff // 2): what U-Net implementations do to an upsampled map whose
skip connection is a pixel larger (milesial/Pytorch-UNet's `Up`), so odd input sizes work.
It is what VainF's MobileNetV2 does before each inverted residual (`F.pad(x, fixed_padding(3, d))`),
where the padded border then goes through the 1x1 expansion conv.

0 parameters, 0 MACs. Lowering: `archspec/ops/cells.py` ConstPad2d (constant borders concatenated:
works on CPU in PyNative and Graph mode and exports to MindIR and ONNX, as Concat).
"""
from __future__ import annotations

import math
from typing import Annotated, Optional, Union

from pydantic import BeforeValidator, field_validator, model_validator

from archspec.ops.common import NonNegInt, PosInt, fmt, need_4d
from archspec.ops.registry import OpArgs, OpDef, ShapeError, register


def _reject_bool(v):
    if isinstance(v, bool):  # YAML's yes/no/true/false must not become 1.0/0.0
        raise ValueError("expected a number, got a boolean")
    return v


Pads = Union[NonNegInt, tuple[NonNegInt, NonNegInt], tuple[NonNegInt, NonNegInt, NonNegInt, NonNegInt]]


class PadArgs(OpArgs):
    pad: Optional[Pads] = None  # n (all sides), [h, w] (symmetric per axis) or [top, bottom, left, right]
    value: Annotated[float, BeforeValidator(_reject_bool)] = 0.0  # the constant written into the border
    size: Optional[tuple[PosInt, PosInt]] = None  # pad up to [height, width] (instead of `pad`)
    size_of: Optional[str] = None  # pad up to the height and width of this node or input

    @field_validator("value")
    @classmethod
    def _not_nan(cls, v: float) -> float:
        if math.isnan(v):
            raise ValueError("value must be a number, not NaN")
        return v

    @model_validator(mode="after")
    def _one_way(self) -> "PadArgs":
        given = [k for k in ("pad", "size", "size_of") if getattr(self, k) is not None]
        if not given:
            raise ValueError("pad needs one of 'pad' (pixels per side), 'size' or 'size_of' (pad up to a size)")
        if len(given) > 1:  # (resolve fills size from size_of after this check)
            raise ValueError(f"give one of 'pad', 'size' or 'size_of', not {' and '.join(given)}")
        return self


def complete(a: PadArgs, in_shapes) -> PadArgs:
    """Pads from `size` (filled from size_of by resolve): diff // 2 before, the rest after."""
    if a.size is None:
        return a
    x = in_shapes[0]
    need_4d(x, "pad")
    dh, dw = a.size[0] - x[2], a.size[1] - x[3]
    if dh < 0 or dw < 0:
        what = f"the size of '{a.size_of}'" if a.size_of else "size"
        raise ShapeError(f"op 'pad' cannot pad the {x[2]}x{x[3]} input {fmt(x)} up to {what}, "
                         f"{a.size[0]}x{a.size[1]}: it is smaller", arg="size_of" if a.size_of else "size",
                         hint="pad only grows; crop with a strided op or resize with upsample")
    return a.model_copy(update={"pad": (dh // 2, dh - dh // 2, dw // 2, dw - dw // 2)})


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
    if a.pad is None:  # size_of that resolve has not turned into a size
        raise ShapeError(f"op 'pad': the size of '{a.size_of}' is unknown here", arg="size_of",
                         hint="size_of must name a graph input or an earlier node")
    t, b, l, r = pads(a)
    return (x[0], x[1], x[2] + t + b, x[3] + l + r)


def lower(node):
    from archspec.ops.cells import ConstPad2d

    return ConstPad2d(node.in_shapes[0], pads(node.args), float(node.args.value))


def kind(node) -> str:
    return "pad"


register(OpDef(
    name="pad", args=PadArgs, infer=infer, lower=lower, kind=kind, complete=complete, ref_args={"size_of": "size"},
    doc="constant padding of height and width: pad = n, (h, w) or (top, bottom, left, right) pixels of value; "
        "or up to 'size' (h, w) or the size of another node ('size_of'), centred",
    examples=[{"op": "pad", "pad": 1}, {"op": "pad", "pad": [0, 1, 0, 1]}, {"op": "pad", "pad": [2, 1], "value": -1.0},
              {"op": "pad", "size_of": "skip"}],
))
