"""The separate-cells lowering (`conv.cells=separate`): nn.Conv2d + nn.BatchNorm2d + activation as
cells of their own, the "original model" the fused nn.Conv2dBnAct form is measured against. Same
parameter names as the fused form and the registry (checkpoints load into either), same numbers."""
from __future__ import annotations

import numpy as np
import pytest

import archspec
from conftest import SPECS, conv_spec

SHIPPED = sorted(p.name for p in SPECS.glob("*.yaml"))
SEPARATE = {"conv.cells": "separate"}

TINY = conv_spec("sep", 20, ["{id: stem, op: conv, out: 8, k: 3, stride: 2}",
                             "{id: dw, op: conv, out: 8, k: 3, depthwise: true, act: relu6}",
                             "{id: pw, op: conv, out: 12, k: 1, act: gelu}",
                             "{id: biased, op: conv, out: 12, k: 3, bn: false, act: null}",
                             "{id: add, op: add, in: [pw, biased]}"], "add")


def _table(net):
    return [(p.name, tuple(int(d) for d in p.shape), bool(p.requires_grad)) for p in net.get_parameters()]


@pytest.mark.parametrize("name", SHIPPED)
def test_separate_cells_keep_the_registry_names(ms, name):
    """For every shipped spec: no Conv2dBnAct in the separate form, and the parameter table (names,
    shapes, order, trainable) equals the fused Cell's and `Graph.parameters()`."""
    from archspec.lower import build_cell, count_fused

    graph = archspec.resolve(archspec.load(SPECS / name), {"image": (1, 3, 65, 65)})
    separate = build_cell(graph, options=SEPARATE)
    assert separate.lower_options["conv.cells"] == "separate"
    assert count_fused(separate) == 0
    want = [(n, tuple(p.shape), p.trainable) for n, p in graph.parameters().items()]
    assert _table(separate) == want == _table(build_cell(graph))


def test_separate_cells_compute_the_same_numbers_and_load_the_same_checkpoint(ms, tmp_path):
    from mindspore import nn

    from archspec.lower import build_cell, find_unfused_conv_bn, run
    from archspec.lower.fold import load_arrays, net_arrays

    spec = tmp_path / "sep.yaml"
    spec.write_text(TINY, encoding="utf-8")
    graph = archspec.resolve(archspec.load(spec))
    fused = build_cell(graph)
    rng = np.random.default_rng(0)
    for p in fused.get_parameters():  # non-trivial BN statistics, so BN really computes something
        p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, tuple(p.shape)).astype(np.float32)))
    ckpt = tmp_path / "w.ckpt"
    ms.save_checkpoint(fused, str(ckpt))

    separate = build_cell(graph, options=SEPARATE)
    # really separate: a Conv2d followed by a BatchNorm2d outside any Conv2dBnAct, per conv with bn
    assert len(find_unfused_conv_bn(separate)) == 3
    assert not any(isinstance(c, nn.Conv2dBnAct) for _, c in separate.cells_and_names())
    not_loaded, _ = ms.load_param_into_net(separate, ms.load_checkpoint(str(ckpt)), strict_load=True)
    assert not_loaded == []
    x = ms.Tensor(rng.standard_normal((1, 3, 20, 20)).astype(np.float32))
    want, got = run(fused, x).asnumpy(), run(separate, x).asnumpy()
    assert np.abs(want).max() > 0.1
    # the same kernels in the same order: equal to the last bit
    np.testing.assert_array_equal(got, want)

    # and the other way round: net_arrays of one loads into the other
    again = build_cell(graph)
    load_arrays(again, net_arrays(separate))
    np.testing.assert_array_equal(run(again, x).asnumpy(), want)


def test_default_lowering_stays_fused(ms, tmp_path):
    from archspec.lower import build_cell, count_fused, find_unfused_conv_bn

    spec = tmp_path / "sep.yaml"
    spec.write_text(TINY, encoding="utf-8")
    net = build_cell(archspec.resolve(archspec.load(spec)))
    assert net.lower_options["conv.cells"] == "fused"
    assert count_fused(net) == 3 and find_unfused_conv_bn(net) == []
