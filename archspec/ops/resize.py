"""upsample: resize H and W (bilinear or nearest) to a scale, a fixed size, or another node's size.

Semantics are PyTorch's `F.interpolate` with an explicit output size:
  - `scale` s: output = floor(in * s) per axis, then resized to that size. This equals PyTorch's
    `scale_factor=s` whenever in * s is a whole number (x2, x4, ...); for fractional results
    PyTorch (without recompute_scale_factor) maps coordinates with 1/s instead of in/out.
  - `size` [h, w]: that size.
  - `size_of` NAME: the height and width of node or graph input NAME. Resolve checks the name
    (it is listed in `ref_args`) and fills `size` from NAME's shape before `complete`/`infer`
    run, so `size`, when set, is the truth; `size_of` stays only for display.
  - `align_corners` (bilinear only) as in PyTorch; False is PyTorch's and VainF's default.
Lowering (option `bilinear`, chosen when the graph is lowered; the graph stays the same):
  - `resize` (default): cells.Resize, MindSpore's ResizeBilinearV2. Does not export to ONNX in
    MindSpore 2.10.
  - `matmul`: cells.BilinearMatMul, two MatMuls with PyTorch's interpolation weights. Exports to
    ONNX; `archspec export --format onnx` selects it. Slower on MindSpore's CPU backend.
"""
from __future__ import annotations

import math
from typing import Literal, Optional, Union

from pydantic import model_validator

from archspec.ops.common import PosFiniteFloat, PosInt, fmt, need_4d
from archspec.ops.registry import OpArgs, OpDef, ShapeError, register


class UpsampleArgs(OpArgs):
    mode: Literal["bilinear", "nearest"]
    scale: Optional[Union[PosFiniteFloat, tuple[PosFiniteFloat, PosFiniteFloat]]] = None
    size: Optional[tuple[PosInt, PosInt]] = None  # [height, width]
    size_of: Optional[str] = None  # name of a node or graph input whose H, W to take
    align_corners: bool = False

    @model_validator(mode="after")
    def _check(self) -> "UpsampleArgs":
        if self.scale is None and self.size is None and self.size_of is None:
            raise ValueError("upsample needs one of 'scale', 'size' or 'size_of'")
        if sum(v is not None for v in (self.scale, self.size, self.size_of)) > 1:
            raise ValueError("give one of 'scale', 'size' or 'size_of', not several")
        if self.align_corners and self.mode != "bilinear":
            raise ValueError("align_corners applies to mode: bilinear only")
        return self


def _scales(a: UpsampleArgs) -> tuple[float, float]:
    s = a.scale
    return (float(s[0]), float(s[1])) if isinstance(s, (tuple, list)) else (float(s), float(s))


def infer(a: UpsampleArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "upsample")
    if a.size is not None:
        oh, ow = int(a.size[0]), int(a.size[1])
    elif a.scale is not None:
        sh, sw = _scales(a)
        oh, ow = math.floor(x[2] * sh), math.floor(x[3] * sw)
        if oh < 1 or ow < 1:
            raise ShapeError(f"op 'upsample' with scale {a.scale} shrinks the {x[2]}x{x[3]} input "
                             f"of shape {fmt(x)} below 1 pixel", arg="scale",
                             hint="use a larger scale, or 'size' / 'size_of' for an explicit size")
    else:  # size_of that resolve has not turned into a size
        raise ShapeError(f"op 'upsample': the size of '{a.size_of}' is unknown here", arg="size_of",
                         hint="size_of must name a graph input or an earlier node")
    return (x[0], x[1], oh, ow)


def lower(node, bilinear: str = "resize"):
    from archspec.ops.cells import BilinearMatMul, Resize

    a = node.args
    if a.mode == "bilinear" and bilinear == "matmul":
        return BilinearMatMul(node.in_shapes[0][2:], node.shape[2:], a.align_corners)
    return Resize(node.shape[2:], a.mode, a.align_corners)


def export_check(node, fmt: str, options: dict[str, str]) -> str:
    if fmt == "onnx" and node.args.mode == "bilinear" and options.get("bilinear") != "matmul":
        return ("bilinear upsample lowered with ResizeBilinearV2, which MindSpore 2.10 cannot export to ONNX; "
                "lower it with the lowering option upsample.bilinear=matmul")
    return ""


register(OpDef(
    name="upsample", args=UpsampleArgs, infer=infer, lower=lower,
    ref_args={"size_of": "size"}, lower_options={"bilinear": ("resize", "matmul")}, export_check=export_check,
    doc="resize height and width (bilinear | nearest) by 'scale', to 'size' [h, w], or to the size of "
        "another node ('size_of'); PyTorch F.interpolate numerics",
    examples=[{"op": "upsample", "mode": "bilinear", "size_of": "image"},
              {"op": "upsample", "mode": "bilinear", "scale": 4, "align_corners": True},
              {"op": "upsample", "mode": "nearest", "size": [64, 64]}],
))
