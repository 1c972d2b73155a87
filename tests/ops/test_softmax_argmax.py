"""softmax and argmax against PyTorch: numbers (argmax exactly, int32) in PYNATIVE, GRAPH, MindIR
and ONNX; shapes with and without keepdims; axis errors positioned in the spec."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from archspec.ops import ShapeError, get
from conftest import HEAD, assert_at, one_error, pos, write
from opcheck import Case, check_family, make_node


def torch_softmax(node, w):
    return lambda x: torch.softmax(x, dim=node.args.axis)


def torch_argmax(node, w):
    return lambda x: torch.argmax(x, dim=node.args.axis, keepdim=node.args.keepdims).to(torch.int32)


def test_numbers_match_pytorch_in_every_mode_and_export(ms, tmp_path):
    cases = [
        Case("sm", "softmax", {}, [(2, 5, 3, 4)], torch_softmax),
        Case("sm_last", "softmax", {"axis": -1}, [(3, 7)], torch_softmax),
        Case("am", "argmax", {}, [(2, 5, 3, 4)], torch_argmax, exact=True),
        Case("am_keep", "argmax", {"keepdims": True}, [(1, 4, 3, 3)], torch_argmax, exact=True),
        Case("am_last", "argmax", {"axis": -1}, [(3, 7)], torch_argmax, exact=True),
    ]
    check_family(ms, tmp_path, cases)


def test_argmax_is_int32_and_ties_pick_the_first(ms):
    import numpy as np

    from archspec.ops.registry import get as op

    n = make_node("am", "argmax", {}, [(1, 3, 1, 2)])
    x = np.array([[[[1.0, 5.0]], [[2.0, 5.0]], [[2.0, 1.0]]]], np.float32)
    y = op("argmax").lower(n)(ms.Tensor(x))
    assert str(y.dtype) == "Int32" and y.asnumpy().tolist() == [[[1, 0]]]


def test_shapes():
    assert make_node("am", "argmax", {}, [(1, 21, 65, 65)]).shape == (1, 65, 65)
    assert make_node("am", "argmax", {"keepdims": True}, [(1, 21, 65, 65)]).shape == (1, 1, 65, 65)
    assert make_node("am", "argmax", {"axis": 0}, [(4, 10)]).shape == (10,)
    assert make_node("sm", "softmax", {}, [(1, 21, 65, 65)]).shape == (1, 21, 65, 65)
    with pytest.raises(ShapeError) as e:
        make_node("am", "argmax", {"axis": 2}, [(4, 10)])
    assert e.value.arg == "axis"


@pytest.mark.parametrize("op,args", [("softmax", {"axis": 1.5}), ("softmax", {"dim": 1}),
                                     ("argmax", {"keepdims": "sometimes"}), ("argmax", {"axis": "c"})])
def test_bad_arguments_are_rejected(op, args):
    with pytest.raises(ValidationError):
        get(op).args(**args)


def test_axis_error_is_positioned(tmp_path):
    path = write(tmp_path, "t.yaml", HEAD + "graph:\n  - {id: classes, op: argmax, axis: 4}\n")
    err = one_error(path)
    assert_at(err, path, *pos(path, "4}"))
    assert "axis 4 is out of range for 4-D inputs" in err.message
