"""Issue 13 item 9: average pooling's border rescale is two vectors (PyTorch's divisor is a row
divisor times a column divisor), so building at 30000x30000 needs no table of the output's size;
and the rescale still matches PyTorch."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import peak_rss_growth_mb

import archspec


SPEC = """\
archspec: 1
name: pool
input: {image: [1, 1, SIZE, SIZE]}
graph:
  - {op: avgpool, k: 3, stride: 2, padding: 1, count_include_pad: false, ceil_mode: true}
  - {op: act, fn: relu}
"""


def test_building_a_30000_square_avgpool_needs_no_output_sized_table(ms, tmp_path):
    p = tmp_path / "pool.yaml"
    p.write_text(SPEC.replace("SIZE", "30000"))
    graph = archspec.resolve(archspec.load(p))
    grew, result = peak_rss_growth_mb(lambda: archspec.build(graph))
    assert result.graph.nodes[0].shape == (1, 1, 15001, 15001)
    assert grew < 200, f"building grew the peak memory by {grew} MB"  # the table alone was 1.7 GB


def test_the_separable_rescale_matches_pytorch(ms, tmp_path):
    torch = pytest.importorskip("torch")
    p = tmp_path / "pool.yaml"
    p.write_text(SPEC.replace("SIZE", "33").replace("1, 1, 33", "1, 2, 33"))
    net = archspec.build(archspec.resolve(archspec.load(p))).net
    x = np.random.default_rng(0).standard_normal((1, 2, 33, 33)).astype(np.float32)
    got = net(ms.Tensor(x)).asnumpy()
    want = torch.relu(torch.nn.functional.avg_pool2d(torch.from_numpy(x), 3, 2, 1, ceil_mode=True,
                                                     count_include_pad=False)).numpy()
    assert got.shape == want.shape and np.abs(got - want).max() <= 1e-6 * max(1.0, np.abs(want).max())
