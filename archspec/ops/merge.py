"""concat, add, mul, sub: ops that merge two or more inputs.

Broadcasting: `add` needs equal shapes (a residual that silently broadcast would hide a wrong
branch); `mul` and `sub` broadcast size-1 dimensions (gating, subtracting a mean).

Error messages name inputs with the `{inK}` placeholders that resolve fills with producer names
(see registry.ShapeError). Lowered Cells take the inputs as separate positional arguments.
"""
from __future__ import annotations

from archspec.ops.common import WholeInt, fmt, norm_axis
from archspec.ops.registry import OpArgs, OpDef, ShapeError, register

_DIM_NAMES = {4: ("batch size", "channels", "height", "width"), 2: ("batch size", "features")}


def _dims_phrase(shape_len: int, dims: list[int]) -> str:
    names = _DIM_NAMES.get(shape_len)
    if names is None:
        return "size in dimension" + ("s " if len(dims) > 1 else " ") + ", ".join(str(d) for d in dims)
    words = [names[d] for d in dims]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _same_rank(op: str, in_shapes) -> None:
    r0 = len(in_shapes[0])
    for i, s in enumerate(in_shapes[1:], 1):
        if len(s) != r0:
            raise ShapeError(f"op '{op}' needs inputs of equal rank, got {{in0}} {fmt(in_shapes[0])} "
                             f"and {{in{i}}} {fmt(s)}",
                             hint="flatten/dense make 2-D tensors; merge tensors of the same kind")


# ----------------------------------------------------------------------------- concat
class ConcatArgs(OpArgs):
    axis: WholeInt = 1  # channels; negative counts from the end


def infer_concat(a: ConcatArgs, in_shapes):
    _same_rank("concat", in_shapes)
    first = in_shapes[0]
    ax = norm_axis(a.axis, len(first))
    for i, s in enumerate(in_shapes[1:], 1):
        bad = [d for d in range(len(first)) if d != ax and s[d] != first[d]]
        if bad:
            hint = ""
            if len(first) == 4 and ax == 1 and set(bad) <= {2, 3}:
                hint = f"upsample {{in{i}}} to the size of {{in0}} first (op: upsample, size_of: {{in0}})"
            raise ShapeError(
                f"op 'concat' needs inputs of equal {_dims_phrase(len(first), bad)}, "
                f"got {{in0}} {fmt(first)} and {{in{i}}} {fmt(s)}",
                hint=hint or f"all inputs must agree in every dimension but axis {a.axis}",
            )
    out = list(first)
    out[ax] = sum(s[ax] for s in in_shapes)
    return tuple(out)


def lower_concat(node):
    from archspec.ops.cells import Concat

    return Concat(node.args.axis % len(node.shape))


# ----------------------------------------------------------------------------- add
class AddArgs(OpArgs):
    pass


def infer_add(a, in_shapes):
    _same_rank("add", in_shapes)
    first = in_shapes[0]
    for i, s in enumerate(in_shapes[1:], 1):
        if tuple(s) != tuple(first):
            bad = [d for d in range(len(first)) if s[d] != first[d]]
            hint = "a projection shortcut (conv k: 1 with the right out and stride) makes them match"
            raise ShapeError(
                f"op 'add' needs inputs of equal shape, got {{in0}} {fmt(first)} and {{in{i}}} {fmt(s)} "
                f"(they differ in {_dims_phrase(len(first), bad)})",
                hint=hint if bad and set(bad) <= {1, 2, 3} else "",
            )
    return tuple(first)


def lower_add(node, kernel: str = "addn"):
    from archspec.ops.cells import Add

    return Add(chain=kernel == "chain")


# ----------------------------------------------------------------------------- mul
class MulArgs(OpArgs):
    pass


def _broadcast(op: str, in_shapes, hint: str):
    _same_rank(op, in_shapes)
    out = list(in_shapes[0])
    for i, s in enumerate(in_shapes[1:], 1):
        for d, (m, n) in enumerate(zip(out, s)):
            if m == n or n == 1:
                continue
            if m == 1:
                out[d] = n
                continue
            raise ShapeError(
                f"op '{op}' needs inputs of equal shape or with size 1 where they differ (broadcasting), "
                f"got {{in0}} {fmt(in_shapes[0])} and {{in{i}}} {fmt(s)}", hint=hint)
    return tuple(out)


def infer_mul(a, in_shapes):
    return _broadcast("mul", in_shapes,
                      "for channel gating (squeeze-excite) the gate is [N, C, 1, 1]: global_avgpool then 1x1 convs")


def lower_mul(node):
    from archspec.ops.cells import Mul

    return Mul()


# ----------------------------------------------------------------------------- sub
class SubArgs(OpArgs):
    pass


def infer_sub(a, in_shapes):
    return _broadcast("sub", in_shapes,
                      "size-1 dimensions broadcast: [N, C, H, W] - [N, C, 1, 1] subtracts per channel")


def lower_sub(node):
    from archspec.ops.cells import Sub

    return Sub()


register(OpDef(
    name="concat", args=ConcatArgs, infer=infer_concat, lower=lower_concat,
    min_inputs=2, max_inputs=None,
    doc="concatenate inputs along an axis (default 1, channels); all other dimensions must agree",
    examples=[{"op": "concat", "in": ["a", "b"]}],
))
register(OpDef(
    name="add", args=AddArgs, infer=infer_add, lower=lower_add,
    min_inputs=2, max_inputs=None, lower_options={"kernel": ("addn", "chain")},
    doc="element-wise sum of inputs of equal shape (residual connections)",
    examples=[{"op": "add", "in": ["a", "b"]}],
))
register(OpDef(
    name="mul", args=MulArgs, infer=infer_mul, lower=lower_mul,
    min_inputs=2, max_inputs=None,
    doc="element-wise product; size-1 dimensions broadcast (e.g. [N,C,H,W] * [N,C,1,1] gating)",
    examples=[{"op": "mul", "in": ["features", "gate"]}],
))
register(OpDef(
    name="sub", args=SubArgs, infer=infer_sub, lower=lower_sub, min_inputs=2, max_inputs=2,
    doc="element-wise difference of two inputs, the first minus the second; size-1 dimensions broadcast as in mul",
    examples=[{"op": "sub", "in": ["x", "mean"]}],
))
