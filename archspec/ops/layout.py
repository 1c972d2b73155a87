"""reshape, permute, pixel_shuffle, pixel_unshuffle: move values around without computing.

- reshape: `shape` lists the dimensions AFTER the batch, which is kept: a [N, 256, 8, 8] input
  with `shape: [256, -1]` gives [N, 256, 64]. One entry may be -1 (inferred). Keeping the batch
  out of the spec means `--input-shape` may change it without editing the spec.
- permute: `dims` is a permutation of ALL dimensions, batch included, as PyTorch's
  `x.permute(*dims)`: [0, 2, 3, 1] turns NCHW into NHWC.
- pixel_shuffle / pixel_unshuffle: PyTorch's, with `factor` r: [N, C*r*r, H, W] <-> [N, C, H*r, W*r].
All lower to cells.Rearrange (Reshape and Transpose with static shapes; export everywhere).
0 parameters, 0 MACs.
"""
from __future__ import annotations

import math
from typing import Annotated

from pydantic import Field, field_validator

from archspec.ops.common import NonNegInt, PosInt, WholeInt, fmt, need_4d
from archspec.ops.registry import OpArgs, OpDef, ShapeError, register


# ----------------------------------------------------------------------------- reshape
class ReshapeArgs(OpArgs):
    shape: Annotated[tuple[WholeInt, ...], Field(min_length=1)]  # after the batch; one -1 allowed

    @field_validator("shape")
    @classmethod
    def _dims(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if any(d == 0 or d < -1 for d in v):
            raise ValueError(f"shape {list(v)}: every dimension must be positive or -1 (inferred)")
        if list(v).count(-1) > 1:
            raise ValueError(f"shape {list(v)}: at most one dimension can be -1")
        return v


def infer_reshape(a: ReshapeArgs, in_shapes):
    x = in_shapes[0]
    total = math.prod(x[1:])
    known = math.prod(d for d in a.shape if d != -1)
    fits = total % known == 0 if -1 in a.shape else total == known
    if not fits:
        raise ShapeError(f"op 'reshape': shape {list(a.shape)} cannot hold the {total} values per sample of "
                         f"input {fmt(x)}", arg="shape",
                         hint="shape lists the dimensions after the batch; their product must be "
                              f"{total} (or use -1 for one of them)")
    return (x[0],) + tuple(total // known if d == -1 else d for d in a.shape)


def lower_reshape(node):
    from archspec.ops.cells import Rearrange

    return Rearrange(node.shape)


# ----------------------------------------------------------------------------- permute
class PermuteArgs(OpArgs):
    dims: Annotated[tuple[NonNegInt, ...], Field(min_length=1)]  # a permutation of all dimensions


def infer_permute(a: PermuteArgs, in_shapes):
    x = in_shapes[0]
    if sorted(a.dims) != list(range(len(x))):
        raise ShapeError(f"op 'permute': dims {list(a.dims)} is not a permutation of the {len(x)} dimensions "
                         f"of input {fmt(x)}", arg="dims",
                         hint=f"list each of 0..{len(x) - 1} once, the batch (0) included, e.g. [0, 2, 3, 1] "
                              "for NCHW -> NHWC")
    return tuple(x[d] for d in a.dims)


def lower_permute(node):
    from archspec.ops.cells import Rearrange

    return Rearrange(perm=node.args.dims)


# ----------------------------------------------------------------------------- pixel shuffle
class PixelShuffleArgs(OpArgs):
    factor: PosInt  # r: the upscale (pixel_shuffle) or downscale (pixel_unshuffle) factor


def infer_shuffle(a: PixelShuffleArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "pixel_shuffle")
    r = a.factor
    if x[1] % (r * r):
        raise ShapeError(f"op 'pixel_shuffle': factor {r} needs channels divisible by {r * r}, "
                         f"got {x[1]} in {fmt(x)}", arg="factor")
    return (x[0], x[1] // (r * r), x[2] * r, x[3] * r)


def infer_unshuffle(a: PixelShuffleArgs, in_shapes):
    x = in_shapes[0]
    need_4d(x, "pixel_unshuffle")
    r = a.factor
    if x[2] % r or x[3] % r:
        raise ShapeError(f"op 'pixel_unshuffle': factor {r} needs height and width divisible by {r}, "
                         f"got {x[2]}x{x[3]} in {fmt(x)}", arg="factor")
    return (x[0], x[1] * r * r, x[2] // r, x[3] // r)


def lower_shuffle(node):
    from archspec.ops.cells import Rearrange, pixel_shuffle_steps

    before, perm, out = pixel_shuffle_steps(node.in_shapes[0], node.args.factor)
    return Rearrange(out, before, perm)


def lower_unshuffle(node):
    from archspec.ops.cells import Rearrange, pixel_unshuffle_steps

    before, perm, out = pixel_unshuffle_steps(node.in_shapes[0], node.args.factor)
    return Rearrange(out, before, perm)


register(OpDef(
    name="reshape", args=ReshapeArgs, infer=infer_reshape, lower=lower_reshape,
    doc="reshape, batch kept: 'shape' lists the dimensions after the batch (one may be -1)",
    examples=[{"op": "reshape", "shape": [256, -1]}],
))
register(OpDef(
    name="permute", args=PermuteArgs, infer=infer_permute, lower=lower_permute,
    doc="reorder all dimensions, batch included (PyTorch x.permute(*dims))",
    examples=[{"op": "permute", "dims": [0, 2, 3, 1]}],
))
for _name, _infer, _lower, _shapes in [
        ("pixel_shuffle", infer_shuffle, lower_shuffle, "[N, C*r*r, H, W] -> [N, C, H*r, W*r]"),
        ("pixel_unshuffle", infer_unshuffle, lower_unshuffle, "[N, C, H*r, W*r] -> [N, C*r*r, H, W]")]:
    register(OpDef(name=_name, args=PixelShuffleArgs, infer=_infer, lower=_lower,
                   doc=f"PyTorch {_name}: {_shapes} with factor r", examples=[{"op": _name, "factor": 2}]))
