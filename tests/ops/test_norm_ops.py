"""groupnorm and layernorm (over channels, ConvNeXt style) against PyTorch's nn.GroupNorm and
nn.LayerNorm: numbers in PYNATIVE, GRAPH, MindIR and ONNX, parameters, argument errors."""
from __future__ import annotations

import pytest
import torch
from pydantic import ValidationError

from archspec.ops import ShapeError, get
from conftest import HEAD, assert_at, one_error, pos, write
from opcheck import Case, check_family, make_node


def torch_groupnorm(node, w):
    a = node.args
    m = torch.nn.GroupNorm(a.groups, node.in_shapes[0][1], eps=a.eps, affine=a.affine)
    if a.affine:
        m.weight.copy_(w["gamma"]), m.bias.copy_(w["beta"])
    return m


class ChannelsFirstLayerNorm(torch.nn.Module):
    """nn.LayerNorm over C of an (N, C, ...) tensor: move C last, normalise, move it back."""

    def __init__(self, channels: int, eps: float, affine: bool) -> None:
        super().__init__()
        self.ln = torch.nn.LayerNorm(channels, eps=eps, elementwise_affine=affine)

    def forward(self, x):
        dims = list(range(x.dim()))
        last = dims[:1] + dims[2:] + [1]
        return self.ln(x.permute(*last)).permute(*[last.index(d) for d in dims])


def torch_layernorm(node, w):
    a = node.args
    m = ChannelsFirstLayerNorm(node.in_shapes[0][1], a.eps, a.affine)
    if a.affine:
        m.ln.weight.copy_(w["gamma"]), m.ln.bias.copy_(w["beta"])
    return m


def test_numbers_match_pytorch_in_every_mode_and_export(ms, tmp_path):
    cases = [
        Case("gn", "groupnorm", {"groups": 2}, [(2, 6, 5, 4)], torch_groupnorm),
        Case("gn_plain", "groupnorm", {"groups": 3, "eps": 1e-3, "affine": False}, [(1, 9, 4, 4)], torch_groupnorm),
        Case("gn_one", "groupnorm", {"groups": 1}, [(2, 4, 3, 3)], torch_groupnorm),  # = LayerNorm over C, H, W
        Case("gn_2d", "groupnorm", {"groups": 4}, [(3, 8)], torch_groupnorm),
        Case("ln", "layernorm", {"eps": 1e-6}, [(2, 6, 5, 4)], torch_layernorm),
        Case("ln_plain", "layernorm", {"affine": False}, [(1, 5, 3, 2)], torch_layernorm),
        Case("ln_2d", "layernorm", {}, [(4, 7)], torch_layernorm),
    ]
    for c in cases:  # an offset and a scale the statistics must remove
        c.inputs = [(3.0 + 2.0 * torch.randn(c.in_shapes[0], generator=torch.Generator().manual_seed(1))).numpy()]
    check_family(ms, tmp_path, cases)


def test_parameters_and_shapes():
    n = make_node("gn", "groupnorm", {"groups": 32}, [(1, 256, 8, 8)])
    assert n.shape == (1, 256, 8, 8) and n.params == 512 and n.macs == 0
    assert {k: (p.shape, p.role) for k, p in n.parameters().items()} == {"gamma": ((256,), "gamma"),
                                                                         "beta": ((256,), "beta")}
    assert make_node("gn", "groupnorm", {"groups": 32, "affine": False}, [(1, 256, 8, 8)]).params == 0
    assert make_node("ln", "layernorm", {}, [(2, 96, 4, 4)]).params == 192


@pytest.mark.parametrize("op,args", [
    ("groupnorm", {}),
    ("groupnorm", {"groups": 0}),
    ("groupnorm", {"groups": 2, "eps": 0}),
    ("groupnorm", {"groups": 2, "num_groups": 2}),
    ("layernorm", {"eps": -1e-5}),
    ("layernorm", {"affine": "maybe"}),
    ("layernorm", {"axis": 1}),
])
def test_bad_arguments_are_rejected(op, args):
    with pytest.raises(ValidationError):
        get(op).args(**args)


def test_shape_errors():
    with pytest.raises(ShapeError) as e:
        make_node("gn", "groupnorm", {"groups": 5}, [(1, 16, 4, 4)])
    assert e.value.arg == "groups" and "does not divide the 16 channels" in e.value.message
    with pytest.raises(ShapeError):
        make_node("ln", "layernorm", {}, [(16,)])


def test_errors_are_positioned_in_the_spec(tmp_path):
    path = write(tmp_path, "t.yaml", HEAD + "graph:\n  - {id: gn, op: groupnorm, groups: 5}\n")
    err = one_error(path)
    assert_at(err, path, *pos(path, "5}"))
    path = write(tmp_path, "u.yaml", HEAD + "graph:\n  - {id: ln, op: layernorm, eps: 0}\n")
    assert_at(one_error(path), path, *pos(path, "0}"))
