"""Every shipped spec builds into a MindSpore Cell that matches its graph: same parameter count,
one nn.Conv2dBnAct per conv+bn, no loose Conv2d -> BatchNorm2d pair, and equal outputs in
PYNATIVE and GRAPH mode. Small input sizes keep this fast; the structure does not depend on size."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.graph.passes import count_conv_bn_act
from conftest import small_first

SPECS = Path(__file__).resolve().parents[2] / "specs"
SMALL = {"deeplabv3p.yaml": 65, "deeplabv3p_resnet101.yaml": 65, "deeplabv3p_mobilenetv2.yaml": 65,
         "resnet50.yaml": 64, "mobilenetv2.yaml": 64, "unet.yaml": 65}


def small_graph(name: str, **overrides):
    spec = archspec.load(SPECS / name, overrides={"size": SMALL[name], **overrides})
    return archspec.resolve(spec)


def test_every_spec_is_covered():
    shipped = {p.name for p in SPECS.glob("*.yaml")}
    assert shipped == set(SMALL), "add new specs to SMALL so they are built in tests"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_cell_matches_graph(ms, name):
    from archspec.lower import build_cell, count_fused, find_unfused_conv_bn

    graph = small_graph(name)
    net = build_cell(graph)
    assert sum(int(p.size) for p in net.trainable_params()) == graph.total_params
    assert count_fused(net) == count_conv_bn_act(graph) > 0
    assert find_unfused_conv_bn(net) == []
    names = [p.name for p in net.get_parameters()]
    assert len(names) == len(set(names))
    assert names == [p.name for p in build_cell(graph).get_parameters()], "names must be stable across builds"


def test_full_size_param_counts_do_not_depend_on_input_size():
    for name in SMALL:
        big = archspec.resolve(archspec.load(SPECS / name))
        assert big.total_params == small_graph(name).total_params, name


@pytest.mark.parametrize("name", small_first(["deeplabv3p_mobilenetv2.yaml", "deeplabv3p.yaml"]))
def test_pynative_equals_graph_mode(ms, name):
    from archspec.lower import build_cell

    graph = small_graph(name, output_stride=8)
    net = build_cell(graph)
    x = ms.Tensor(np.random.default_rng(0).standard_normal(graph.inputs["image"]).astype(np.float32))
    ms.set_context(mode=ms.PYNATIVE_MODE)
    eager = net(x).asnumpy()
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        compiled = net(x).asnumpy()
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    assert eager.shape == (1, 21, SMALL[name], SMALL[name])
    scale = float(np.abs(eager).max())
    assert scale > 0
    assert float(np.abs(eager - compiled).max()) <= 1e-5 * max(1.0, scale)


def test_separate_conv_bn_act_entries_become_one_conv2dbnact(ms, tmp_path):
    from archspec.lower import build_cell, count_fused, find_unfused_conv_bn

    spec = tmp_path / "chain.yaml"
    spec.write_text(
        "archspec: 1\nname: chain\ninput: {x: [1, 3, 16, 16]}\ngraph:\n"
        "  - {id: c1, op: conv, out: 8, k: 3, bias: false}\n"
        "  - {id: bn1, op: batchnorm}\n"
        "  - {id: r1, op: act, fn: relu}\n"
        "  - {id: c2, op: conv, out: 8, k: 3, bias: false}\n"
        "  - {id: bn2, op: batchnorm}\n"              # bn2 is read twice: c2 may absorb bn2 but not the act
        "  - {id: r2, op: act, fn: relu}\n"
        "  - {id: sum, op: add, in: [r2, bn2]}\n"
    )
    graph = archspec.resolve(archspec.load(spec))
    unfused = archspec.resolve(archspec.load(spec), fuse=False)
    assert [n.name for n in graph.nodes] == ["c1", "c2", "r2", "sum"]
    assert graph.node("c1").kind == "conv+bn+relu"
    assert graph.node("c2").kind == "conv+bn"
    assert graph.node("r2").inputs == ["c2"] and graph.node("sum").inputs == ["r2", "c2"]
    assert graph.total_params == unfused.total_params
    fused_net, plain_net = build_cell(graph), build_cell(unfused)
    assert count_fused(fused_net) == 2 and find_unfused_conv_bn(fused_net) == []
    # Same numbers: load the unfused model's weights into the fused one by matching roles.
    rng = np.random.default_rng(1)
    plain = {p.name: p for p in plain_net.get_parameters()}
    for p in plain.values():
        p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, p.shape).astype(np.float32)))
    for p in fused_net.get_parameters():
        node, _, rest = p.name.partition(".")
        source = {"c1": "bn1", "c2": "bn2"}[node] if rest.startswith("batchnorm.") else node
        key = f"{source}.{rest.removeprefix('batchnorm.')}" if rest.startswith("batchnorm.") else p.name
        p.set_data(plain[key].data)
    x = ms.Tensor(rng.standard_normal((1, 3, 16, 16)).astype(np.float32))
    diff = np.abs(fused_net(x).asnumpy() - plain_net(x).asnumpy()).max()
    assert diff < 1e-5
