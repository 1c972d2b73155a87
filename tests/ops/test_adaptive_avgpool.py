"""adaptive_avgpool against PyTorch's AdaptiveAvgPool2d, sizes that divide and that do not (bins
overlap), and larger than the input: numbers in PYNATIVE, GRAPH, MindIR and ONNX; errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from archspec.ops import ShapeError, get
from archspec.ops.common import pair
from conftest import HEAD, assert_at, one_error, pos, write
from opcheck import Case, check_family, make_node


def torch_adaptive(node, w):
    return torch.nn.AdaptiveAvgPool2d(pair(node.args.size))


def test_numbers_match_pytorch_in_every_mode_and_export(ms, tmp_path):
    cases = [Case(f"p{i}", "adaptive_avgpool", {"size": size}, [shape], torch_adaptive) for i, (size, shape) in
             enumerate([(3, (1, 3, 9, 12)),  # divides
                        ([3, 5], (2, 2, 10, 7)),  # does not divide: overlapping bins
                        (6, (1, 2, 4, 5)),  # larger than the input
                        ([1, 1], (1, 4, 5, 3)),  # global
                        ([2, 1], (1, 2, 7, 1))])]
    check_family(ms, tmp_path, cases)


def test_bin_matrix_is_pytorchs_rule():
    from archspec.ops.cells import adaptive_avg_matrix

    for n_in in range(1, 14):
        for n_out in range(1, 14):
            eye = torch.eye(n_in).reshape(n_in, 1, 1, n_in)  # each input position alone
            w = torch.nn.functional.adaptive_avg_pool2d(eye, (1, n_out))[:, 0, 0, :].numpy().T
            assert np.allclose(adaptive_avg_matrix(n_in, n_out), w, rtol=0, atol=1e-7), (n_in, n_out)


def test_shape_and_cost():
    n = make_node("p", "adaptive_avgpool", {"size": [2, 3]}, [(2, 16, 33, 33)])
    assert (n.shape, n.params, n.macs) == ((2, 16, 2, 3), 0, 0)


@pytest.mark.parametrize("args", [{}, {"size": 0}, {"size": [2, 0]}, {"size": [1, 2, 3]}, {"size": True},
                                  {"size": 2, "k": 2}])
def test_bad_arguments_are_rejected(args):
    with pytest.raises(ValidationError):
        get("adaptive_avgpool").args(**args)


def test_errors(tmp_path):
    with pytest.raises(ShapeError, match="4-D"):
        make_node("p", "adaptive_avgpool", {"size": 2}, [(1, 16)])
    path = write(tmp_path, "t.yaml", HEAD + "graph:\n  - {id: pool, op: adaptive_avgpool, size: [2, -3]}\n")
    assert_at(one_error(path), path, *pos(path, "[2, -3]"))
