"""The deployed form (graph-fold) never costs more memory than the plain graph: each mode's worker
builds its net straight from the checkpoint (no random initial weights, the unfolded net never
built, BN folded in place), so its peak is what that form of the model needs.

One profile of a spec whose weights (23.6 MB in 11 convs) dominate its activations (8x8 input):
before this was fixed, graph-fold held the unfolded arrays, the folded copy and the freshly drawn
initial weights at once and peaked about 12 MB above graph; now it peaks about 9 MB below."""
from __future__ import annotations

import archspec
from conftest import conv_spec

LAYERS = conv_spec("layers", 8, [f"{{id: c{i}, op: conv}}" for i in range(11)], "c10",
                   conv="{bn: true, act: relu, out: 256, k: 3}")


def test_graph_fold_peaks_no_higher_than_graph_above_the_base(tmp_path):
    import numpy as np

    spec = tmp_path / "layers.yaml"
    spec.write_text(LAYERS, encoding="utf-8")
    # A big parent (as a notebook or a test run is): the kernel carries a parent's high-water mark
    # into its children's getrusage peak across fork + exec; the workers must report their own.
    ballast = np.ones(2**28, np.float32)  # 1 GiB, touched
    report = archspec.profile(spec, modes="graph,graph-fold", iters=1, warmup=0)
    del ballast
    graph, fold = report.mode("graph"), report.mode("graph-fold")
    for m in (graph, fold):
        # the base is MindSpore after import and device setup (~400-520 MB on CPU), not the parent's 1 GiB
        assert 200 < m["base_rss_mb"] < m["peak_rss_mb"] < 1000
        assert m["rss_above_base_mb"] == m["peak_rss_mb"] - m["base_rss_mb"]
    weights_mb = report.params * 4 / 2**20
    assert graph["rss_above_base_mb"] > weights_mb  # the weights are in there, once
    # Compared above each worker's own base, so the import's share cannot hide a difference.
    assert fold["rss_above_base_mb"] <= graph["rss_above_base_mb"], (fold, graph)
