"""`export(..., argmax=True)`: the written MindIR/ONNX outputs the int32 class map [N, H, W] of the
first output, verified against the argmax of the built net's scores with the near-tie rule; a
wrong class map is refused and nothing is written. (The CLI flag `archspec export --argmax` is
the lead's; this is the API.)"""
from __future__ import annotations

import json

import numpy as np
import pytest

import archspec
from archspec.errors import SpecError
from archspec.graph.passes import argmax_head
from conftest import SPECS

UNET = {"base": 4, "num_classes": 5, "size": 33}


@pytest.fixture(scope="module")
def unet(ms):
    from archspec.lower import build_cell

    graph = archspec.resolve(archspec.load(SPECS / "unet.yaml", overrides=UNET))
    ms.set_seed(0)
    net = build_cell(graph)
    # PyTorch's default init shrinks the signal layer by layer, so the head's bias alone would
    # decide the class everywhere; without it the class map varies with the input
    for p in net.get_parameters():
        if p.name == "outc.conv.bias":
            p.set_data(ms.Tensor(np.zeros(p.shape, np.float32)))
    return graph, net


def test_argmax_head_pass():
    graph = archspec.resolve(archspec.load(SPECS / "unet.yaml", overrides=UNET))
    head = argmax_head(graph)
    assert head.outputs == ["classes"] and head.shape_of("classes") == (1, 33, 33)
    assert head.nodes[-1].op == "argmax" and head.nodes[-1].inputs == ["outc"] and head.nodes[-1].args.axis == 1
    assert head.total_params == graph.total_params and graph.outputs == ["outc"]  # the input graph is unchanged
    flat = archspec.resolve(archspec.load(SPECS / "resnet50.yaml", overrides={"size": 32}))
    assert argmax_head(flat).shape_of("classes") == (1,)


@pytest.mark.parametrize("fmt", ["mindir", "onnx"])
def test_export_writes_the_class_map(ms, tmp_path, unet, fmt):
    import onnxruntime as ort

    from archspec.runtime.export import export

    graph, net = unet
    report = export(graph, net, fmt, tmp_path / "m", argmax=True)
    assert report.argmax and report.outputs == {"classes": (1, 33, 33)}
    assert all(c.passed for c in report.checks)
    # the file's class map against the folded model's scores; folding itself is checked on the scores
    assert [(c.kind, c.classes) for c in report.checks] == [("model", False), ("file", True)]
    manifest = json.loads(report.manifest_path.read_text())
    assert manifest["outputs"] == [{"name": "classes", "shape": [1, 33, 33], "dtype": "int32"}]
    assert manifest["argmax_head"] is True and "mismatched" in manifest["verification"]["checks"][-1]
    x = np.random.default_rng(5).standard_normal((1, 3, 33, 33)).astype(np.float32)
    want = net(ms.Tensor(x)).asnumpy().argmax(axis=1)
    if fmt == "mindir":
        got = ms.nn.GraphCell(ms.load(str(report.path)))(ms.Tensor(x)).asnumpy()
    else:
        session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
        assert [o.name for o in session.get_outputs()] == ["classes"]
        got = session.run(None, {"image": x})[0]
    assert got.dtype == np.int32 and got.shape == (1, 33, 33)
    assert (got == want).mean() > 0.999  # equal but for near-ties (none expected with random weights)
    assert len(np.unique(want)) > 1  # the check is not trivially passed by a constant map


def test_wrong_class_map_is_refused_and_nothing_written(ms, tmp_path, unet, monkeypatch):
    from archspec.runtime import export as ex

    graph, net = unet

    def shifted(path, fmt, graph, arrays, xs):
        what, outs = real(path, fmt, graph, arrays, xs)
        return what, [(outs[0] + 1) % UNET["num_classes"]]

    real = ex._run_artifact
    monkeypatch.setattr(ex, "_run_artifact", shifted)
    with pytest.raises(ex.VerificationError, match="class map 'classes': .* positions pick a class"):
        ex.export(graph, net, "mindir", tmp_path / "m", argmax=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_the_near_tie_rule():
    from archspec.runtime.export import VerificationError, _compare_classes

    scores = np.zeros((1, 3, 1, 4))
    scores[0, :, 0, :] = [[1.0, 0.0, 5.0, 2.0], [0.99995, 0.0, 1.0, 2.5], [0.0, 3.0, 4.9, 1.0]]
    best = scores.argmax(axis=1).astype(np.int32)  # [[0, 2, 0, 1]]
    ok = _compare_classes("c", scores, best, "t", 1e-4)
    assert ok.passed and ok.mismatched == 0 and ok.max_abs_diff == 0.0
    tie = best.copy()
    tie[0, 0, 0] = 1  # 0.99995 vs 1.0: gap 5e-5 <= 2 * 1e-4 * 5
    c = _compare_classes("c", scores, tie, "t", 1e-4)
    assert c.passed and c.mismatched == 1 and abs(c.max_abs_diff - 5e-5) < 1e-12
    wrong = best.copy()
    wrong[0, 0, 2] = 2  # 4.9 vs 5.0: gap 0.1 > 1e-3
    c = _compare_classes("c", scores, wrong, "t", 1e-4)
    assert not c.passed and c.mismatched == 1
    assert not _compare_classes("c", scores, np.full_like(best, 7), "t", 1e-4).passed  # not a class
    with pytest.raises(VerificationError, match="int32"):
        _compare_classes("c", scores, best.astype(np.int64), "t", 1e-4)
    with pytest.raises(VerificationError, match="shape"):
        _compare_classes("c", scores, best[:, :, :2], "t", 1e-4)


def test_argmax_head_needs_a_channel_axis():
    from archspec.graph.ir import Graph

    with pytest.raises(SpecError, match="--argmax needs a first output with a channel axis"):
        argmax_head(Graph(name="g", inputs={"x": (4,)}, nodes=[], outputs=["x"]))
