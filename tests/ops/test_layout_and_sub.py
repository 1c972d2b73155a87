"""sub, reshape, permute, pixel_shuffle and pixel_unshuffle against PyTorch: numbers in PYNATIVE,
GRAPH, MindIR and ONNX (also as graph outputs, which MindSpore's ONNX exporter mishandles for a
final Reshape); shape rules and positioned errors."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from archspec.ops import ShapeError, get
from conftest import HEAD, assert_at, one_error, pos, write
from opcheck import Case, check_family, make_node


def torch_sub(node, w):
    return lambda a, b: a - b


def torch_reshape(node, w):
    return lambda x: x.reshape(x.shape[0], *node.args.shape)


def torch_permute(node, w):
    return lambda x: x.permute(*node.args.dims)


def torch_shuffle(node, w):
    return torch.nn.PixelShuffle(node.args.factor) if node.op == "pixel_shuffle" else torch.nn.PixelUnshuffle(
        node.args.factor)


def torch_flatten(node, w):
    return lambda x: torch.flatten(x, 1)


def test_numbers_match_pytorch_in_every_mode_and_export(ms, tmp_path):
    cases = [
        Case("sub", "sub", {}, [(1, 3, 4, 4), (1, 3, 1, 1)], torch_sub),
        Case("sub_rev", "sub", {}, [(1, 3, 1, 4), (1, 3, 4, 4)], torch_sub),
        Case("reshape", "reshape", {"shape": [3, -1]}, [(2, 6, 2, 2)], torch_reshape),
        Case("reshape4", "reshape", {"shape": [2, 3, 4]}, [(1, 24)], torch_reshape),
        Case("nhwc", "permute", {"dims": [0, 2, 3, 1]}, [(2, 3, 4, 5)], torch_permute),
        Case("shuffle", "pixel_shuffle", {"factor": 2}, [(1, 8, 3, 5)], torch_shuffle),
        Case("unshuffle", "pixel_unshuffle", {"factor": 3}, [(2, 2, 6, 3)], torch_shuffle),
        Case("flatten", "flatten", {}, [(2, 3, 2, 2)], torch_flatten),
    ]
    check_family(ms, tmp_path, cases)


def test_shape_rules():
    assert make_node("r", "reshape", {"shape": [256, -1]}, [(2, 256, 8, 8)]).shape == (2, 256, 64)
    assert make_node("p", "permute", {"dims": [0, 2, 3, 1]}, [(1, 3, 4, 5)]).shape == (1, 4, 5, 3)
    assert make_node("s", "pixel_shuffle", {"factor": 2}, [(1, 12, 5, 6)]).shape == (1, 3, 10, 12)
    assert make_node("u", "pixel_unshuffle", {"factor": 2}, [(1, 3, 10, 12)]).shape == (1, 12, 5, 6)
    assert make_node("d", "sub", {}, [(1, 8, 4, 4), (1, 8, 1, 1)]).shape == (1, 8, 4, 4)


@pytest.mark.parametrize("op,args,in_shapes,arg,needle", [
    ("reshape", {"shape": [5, -1]}, [(1, 6, 2, 2)], "shape", "cannot hold the 24 values"),
    ("reshape", {"shape": [5, 5]}, [(1, 6, 2, 2)], "shape", "product must be 24"),
    ("permute", {"dims": [0, 2, 1]}, [(1, 6, 2, 2)], "dims", "not a permutation of the 4 dimensions"),
    ("permute", {"dims": [0, 1, 1, 3]}, [(1, 6, 2, 2)], "dims", "not a permutation"),
    ("pixel_shuffle", {"factor": 2}, [(1, 6, 2, 2)], "factor", "channels divisible by 4"),
    ("pixel_unshuffle", {"factor": 2}, [(1, 6, 3, 2)], "factor", "height and width divisible by 2"),
    ("sub", {}, [(1, 6, 2, 2), (1, 3, 2, 2)], None, "broadcasting"),
])
def test_shape_errors(op, args, in_shapes, arg, needle):
    with pytest.raises(ShapeError) as e:
        make_node("n", op, args, in_shapes)
    assert e.value.arg == arg and needle in e.value.message + e.value.hint


@pytest.mark.parametrize("op,args", [
    ("reshape", {"shape": []}), ("reshape", {"shape": [-1, -1]}), ("reshape", {"shape": [0, 4]}),
    ("reshape", {"shape": [2.0, 4]}), ("reshape", {"shape": [-2, 4]}), ("permute", {"dims": [0, -1]}),
    ("permute", {}), ("pixel_shuffle", {"factor": 0}), ("pixel_unshuffle", {}), ("sub", {"alpha": 1}),
])
def test_bad_arguments_are_rejected(op, args):
    with pytest.raises(ValidationError):
        get(op).args(**args)


def test_errors_are_positioned_in_the_spec(tmp_path):
    path = write(tmp_path, "t.yaml", HEAD + "graph:\n  - {id: r, op: reshape, shape: [5, -1]}\n")
    assert_at(one_error(path), path, *pos(path, "[5, -1]"))
    path = write(tmp_path, "u.yaml", HEAD + "graph:\n  - {id: r, op: reshape, shape: [-1, -1]}\n")
    assert_at(one_error(path), path, *pos(path, "[-1, -1]"))
    path = write(tmp_path, "v.yaml", HEAD + "graph:\n  - {id: d, op: sub, in: [image, image, image]}\n")
    assert "takes 2 input(s), got 3" in one_error(path).message
