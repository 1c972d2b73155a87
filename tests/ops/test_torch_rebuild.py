"""benchmarks/torch_from_graph.py, the generic PyTorch rebuild of a graph, takes its weight names
from the op registry (`Graph.parameters()` roles): with archspec's weights it computes archspec's
numbers for a spec that uses the new ops and for the U-Net, and its parameter count agrees."""
from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import archspec
from conftest import HEAD, REPO, SPECS, write
from opcheck import randomize

ZOO = HEAD + """graph:
  - {id: c, op: conv, out: 8, k: 3, bn: true, act: relu}
  - {id: up, op: conv_transpose, out: 8, k: 3, stride: 2, padding: 1, output_padding: 1, groups: 2}
  - {id: bn, op: batchnorm}
  - {id: gn, op: groupnorm, groups: 2}
  - {id: ln, op: layernorm, eps: 1.0e-6}
  - {id: pool, op: adaptive_avgpool, size: [5, 7]}
  - {id: mean, op: global_avgpool, in: gn}
  - {id: centred, op: sub, in: [gn, mean]}
  - {id: down, op: pixel_unshuffle, factor: 2}
  - {id: shuffle, op: pixel_shuffle, factor: 2}
  - {id: probs, op: softmax}
  - {id: nhwc, op: permute, dims: [0, 2, 3, 1]}
  - {id: rows, op: reshape, shape: [-1, 8]}
  - {id: classes, op: argmax, in: shuffle}
  - {id: flat, op: flatten, in: pool}
  - {id: fc, op: dense, out: 4}
outputs: [rows, classes, fc]
"""


@pytest.fixture(scope="module")
def torch_graph():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        from torch_from_graph import TorchGraph
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    return TorchGraph


@pytest.mark.parametrize("which", ["zoo", "unet"])
def test_torch_rebuild_matches_archspec(ms, tmp_path, torch_graph, which):
    from archspec.lower import build_cell

    if which == "zoo":
        graph = archspec.resolve(archspec.load(write(tmp_path, "zoo.yaml", ZOO)))
        assert [n.kind for n in graph.nodes][:3] == ["conv+bn+relu", "conv_transpose+bn", "groupnorm"]
    else:
        graph = archspec.resolve(archspec.load(SPECS / "unet.yaml", overrides={"base": 4, "size": 35}))
    net = build_cell(graph)
    arrays = randomize(net)
    model = torch_graph(graph).eval()
    assert model.load_archspec_weights(arrays) == len(arrays)
    assert sum(p.numel() for p in model.parameters()) == graph.total_params
    x = np.random.default_rng(0).standard_normal(graph.inputs["image"]).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x))
    got = net(ms.Tensor(x))
    want, got = (want, got) if isinstance(got, tuple) else ((want,), (got,))
    for name, w, g in zip(graph.outputs, want, got):
        w, g = w.numpy(), g.asnumpy()
        assert g.shape == w.shape and g.dtype == w.dtype, name
        assert np.abs(g.astype(np.float64) - w).max() <= 1e-5 * max(np.abs(w).max(), 1), name
