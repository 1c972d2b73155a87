"""conv_transpose against PyTorch's nn.ConvTranspose2d: shapes, MACs, parameters, init, argument
errors; numbers in PYNATIVE, GRAPH, MindIR and ONNX (both lowerings), BN fusion and folding."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from archspec.ops import ShapeError, get
from archspec.ops.common import pair
from conftest import HEAD, assert_at, one_error, pos, write
from opcheck import Case, check_family, make_node


def torch_conv_transpose(node, w):
    a = node.args
    m = torch.nn.ConvTranspose2d(node.in_shapes[0][1], a.out, pair(a.k), stride=pair(a.stride),
                                 padding=pair(a.padding), output_padding=pair(a.output_padding),
                                 groups=a.groups, bias=bool(a.bias), dilation=pair(a.dilation))
    m.weight.copy_(w["conv.weight"])
    if a.bias:
        m.bias.copy_(w["conv.bias"])
    layers = [m]
    if a.bn:
        bn = torch.nn.BatchNorm2d(a.out, eps=a.eps)
        bn.weight.copy_(w["batchnorm.gamma"]), bn.bias.copy_(w["batchnorm.beta"])
        bn.running_mean.copy_(w["batchnorm.moving_mean"]), bn.running_var.copy_(w["batchnorm.moving_variance"])
        layers.append(bn)
    if a.act:
        layers.append(torch.nn.ReLU() if a.act == "relu" else torch.nn.LeakyReLU(a.alpha))
    return torch.nn.Sequential(*layers)


CASES = [
    ("unet_up", {"out": 4, "k": 2, "stride": 2}, (1, 6, 5, 7)),  # kernel == stride: 1x1 conv + shuffle
    ("s2_p1_op1", {"out": 6, "k": 3, "stride": 2, "padding": 1, "output_padding": 1}, (1, 4, 6, 5)),
    ("grouped_bn", {"out": 6, "k": [3, 2], "stride": [2, 1], "groups": 2, "bn": True, "act": "relu"}, (2, 4, 4, 5)),
    ("dilated", {"out": 3, "k": 3, "stride": 3, "dilation": 2, "padding": [2, 1], "bias": False}, (1, 2, 4, 4)),
    ("k4_s2_grouped", {"out": 4, "k": 4, "stride": 2, "groups": 4, "padding": 1, "act": "leakyrelu"}, (1, 4, 3, 3)),
    ("crop", {"out": 2, "k": 1, "stride": 1, "padding": [0, 0]}, (1, 3, 4, 4)),
]


def test_numbers_match_pytorch_in_every_mode_and_export(ms, tmp_path):
    cases = [Case(name, "conv_transpose", args, [shape], torch_conv_transpose) for name, args, shape in CASES]
    graph = check_family(ms, tmp_path, cases)
    # the ONNX lowering took both of its paths
    from archspec.lower import build_cell
    from archspec.ops.cells import ConvTransposeAsConv

    onnx_net = build_cell(graph, options={"conv_transpose.kernel": "conv"})
    convs = [c.conv for c in onnx_net.nodes]
    assert all(isinstance(c, ConvTransposeAsConv) for c in convs)
    assert [c.depth_to_space for c in convs] == [True, False, False, False, False, True]


def test_shape_and_macs_follow_pytorch():
    n = make_node("up", "conv_transpose", {"out": 64, "k": 2, "stride": 2}, [(1, 128, 16, 16)])
    assert n.shape == (1, 64, 32, 32) and n.args.bias is True and n.args.padding == 0
    assert n.params == 128 * 64 * 4 + 64  # weight (in, out, 2, 2) + bias
    assert n.macs == 16 * 16 * 128 * 64 * 4  # each input pixel meets every tap once
    n = make_node("t", "conv_transpose", {"out": 6, "k": 3, "stride": 2, "padding": 1, "output_padding": 1,
                                          "groups": 2, "bn": True}, [(2, 4, 7, 5)])
    assert n.shape == tuple(torch.nn.ConvTranspose2d(4, 6, 3, 2, 1, 1, groups=2)(torch.zeros(2, 4, 7, 5)).shape)
    assert n.args.bias is False and n.params == 4 * 3 * 9 + 2 * 6
    assert dict(n.parameters())["conv.weight"].shape == (4, 3, 3, 3)
    assert n.kind == "conv_transpose+bn"


@pytest.mark.parametrize("args", [
    {"k": 2},
    {"out": 0, "k": 2},
    {"out": 4, "k": 2, "stride": 2, "output_padding": 2},  # not below stride or dilation
    {"out": 4, "k": 2, "depthwise": True},
    {"out": 4, "k": 2, "momentum": 2.0},
    {"out": 4, "k": 2, "act": "swish"},
])
def test_bad_arguments_are_rejected(args):
    with pytest.raises(ValidationError):
        get("conv_transpose").args(**args)


def test_shape_errors_name_the_argument():
    with pytest.raises(ShapeError) as e:
        make_node("t", "conv_transpose", {"out": 4, "k": 3, "groups": 3}, [(1, 6, 4, 4)])
    assert e.value.arg == "groups" and "4 output channels" in e.value.message
    with pytest.raises(ShapeError) as e:
        make_node("t", "conv_transpose", {"out": 4, "k": 1, "padding": 1}, [(1, 6, 2, 2)])
    assert e.value.arg == "padding" and "leaves no output" in e.value.message


def test_errors_are_positioned_in_the_spec(tmp_path):
    path = write(tmp_path, "t.yaml", HEAD + "graph:\n"
                 "  - {id: up, op: conv_transpose, out: 8, k: 2, stride: 2, output_padding: 3}\n")
    err = one_error(path)
    assert "smaller than the stride [2, 2]" in err.message
    assert_at(err, path, *pos(path, "3}"))
    path = write(tmp_path, "g.yaml", HEAD + "graph:\n  - {id: up, op: conv_transpose, out: 8, k: 2, groups: 5}\n")
    err = one_error(path)
    assert_at(err, path, *pos(path, "5}"))
    assert "groups=5" in err.message


def test_init_is_pytorch_default(ms):
    from archspec.ops.registry import get as op

    for kernel in ("transpose", "conv"):
        n = make_node("t", "conv_transpose", {"out": 32, "k": 2, "stride": 2}, [(1, 64, 4, 4)])
        unit = op("conv_transpose").lower(n, kernel=kernel)
        bound = 1 / np.sqrt(32 * 4)  # PyTorch: fan_in = weight.size(1) * k * k
        w, b = unit.conv.weight.asnumpy(), unit.conv.bias.asnumpy()
        assert w.shape == (64, 32, 2, 2)
        assert 0.9 * bound < np.abs(w).max() <= bound and 0.5 * bound < np.abs(b).max() <= bound, kernel


def test_fusion_and_bn_folding(ms, tmp_path):
    import archspec
    from archspec.graph.passes import fold_bn, fold_bn_weights
    from archspec.lower import build_cell
    from archspec.lower.fold import load_arrays, net_arrays
    from opcheck import randomize

    path = write(tmp_path, "f.yaml", HEAD + "graph:\n"
                 "  - {id: up, op: conv_transpose, out: 6, k: 3, stride: 2, padding: 1, groups: 3, bias: true}\n"
                 "  - {id: bn, op: batchnorm}\n"
                 "  - {id: relu, op: act, fn: relu}\n")
    graph = archspec.resolve(archspec.load(path))
    assert [n.kind for n in graph.nodes] == ["conv_transpose+bn+relu"]
    net = build_cell(graph)
    randomize(net)
    x = ms.Tensor(np.random.default_rng(0).standard_normal(graph.inputs["image"]).astype(np.float32))
    folded = fold_bn(graph)
    assert folded.nodes[0].kind == "conv_transpose+relu"
    fnet = build_cell(folded)
    load_arrays(fnet, fold_bn_weights(graph, net_arrays(net)))
    want, got = net(x).asnumpy(), fnet(x).asnumpy()
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
