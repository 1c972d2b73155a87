"""The op registry owns parameter names and shapes: `Graph.parameters()` (no MindSpore) equals the
built Cell's `get_parameters()` (names, shapes, order, trainable or not) for every shipped spec,
unfused, fused and BN-folded, and each node's parameter count is its table's trainable total."""
from __future__ import annotations

import math

import numpy as np
import pytest

import archspec
from archspec.graph.passes import fold_bn, fold_bn_weights
from conftest import SPECS, small_first

SHIPPED = sorted(p.name for p in SPECS.glob("*.yaml"))
SMALL_INPUT = {"image": (1, 3, 65, 65)}


def graphs_of(name: str):
    spec = archspec.load(SPECS / name)
    fused = archspec.resolve(spec, SMALL_INPUT)
    return {"unfused": archspec.resolve(spec, SMALL_INPUT, fuse=False), "fused": fused, "folded": fold_bn(fused)}


def cell_table(net) -> list[tuple[str, tuple[int, ...], bool]]:
    return [(p.name, tuple(int(d) for d in p.shape), bool(p.requires_grad)) for p in net.get_parameters()]


def graph_table(graph) -> list[tuple[str, tuple[int, ...], bool]]:
    return [(name, tuple(p.shape), p.trainable) for name, p in graph.parameters().items()]


def test_parameter_table_needs_no_mindspore():
    import subprocess
    import sys

    code = ("import sys, archspec; from pathlib import Path; "
            f"g = archspec.resolve(archspec.load({str(SPECS / 'resnet50.yaml')!r}), {{'image': (1, 3, 65, 65)}}); "
            "s = g.parameter_shapes(); assert s['conv1.conv.weight'] == (64, 3, 7, 7), s; "
            "assert 'conv1.batchnorm.moving_mean' in s and 'conv1.batchnorm.moving_mean' not in "
            "g.parameter_shapes(trainable_only=True); "
            "assert 'mindspore' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name", small_first(SHIPPED))
def test_registry_names_and_shapes_equal_the_built_cell(ms, name):
    from archspec.lower import build_cell

    for form, graph in graphs_of(name).items():
        expected = graph_table(graph)
        assert expected, f"{name} ({form}) has no parameters"
        assert cell_table(build_cell(graph)) == expected, f"{name} ({form})"
        # the reported count is the table's trainable total, node by node
        for n in graph.nodes:
            table = n.parameters()
            assert n.params == sum(math.prod(p.shape) for p in table.values() if p.trainable), n.name
        assert graph.total_params == sum(math.prod(s) for s in graph.parameter_shapes(trainable_only=True).values())


def test_fold_bn_weights_produces_exactly_the_folded_graphs_parameters():
    graphs = graphs_of("deeplabv3p_mobilenetv2.yaml")
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(s).astype(np.float32) for k, s in graphs["fused"].parameter_shapes().items()}
    for k in arrays:
        if k.endswith("moving_variance"):
            arrays[k] = np.abs(arrays[k]) + 0.5
    folded = fold_bn_weights(graphs["fused"], arrays)
    want = graphs["folded"].parameter_shapes()
    assert {k: v.shape for k, v in folded.items()} == want
