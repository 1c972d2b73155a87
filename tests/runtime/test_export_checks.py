"""Export verification compares like with like: the written file against the in-memory model it was
written from (tight: the same model, only the runtime differs), and folding against the model as
built (float32 rounding of a changed arithmetic: looser). Each number is reported and checked on
its own, so a broken file cannot hide under folding's tolerance and a bad fold is named as such."""
from __future__ import annotations

import json

import numpy as np
import pytest

import archspec
from archspec.runtime import export as ex
from conftest import conv_spec

SPEC = conv_spec("chk", 24, ["{id: stem, op: conv, out: 8, k: 3, stride: 2}",
                             "{id: dw, op: conv, out: 8, k: 3, depthwise: true, act: relu6}",
                             "{id: pw, op: conv, out: 16, k: 1}", "{id: up, op: upsample, mode: bilinear, scale: 2}",
                             "{id: head, op: conv, out: 5, k: 1, bn: false, act: null}"], "head")


@pytest.fixture(scope="module")
def ms():
    mindspore = pytest.importorskip("mindspore")
    from archspec.runtime.host import setup

    setup("CPU", "pynative")
    return mindspore


@pytest.fixture
def model(ms, tmp_path):
    """(graph, net) with non-trivial BatchNorm statistics, so folding really changes the arithmetic."""
    from archspec.lower import build_cell

    path = tmp_path / "chk.yaml"
    path.write_text(SPEC, encoding="utf-8")
    graph = archspec.resolve(archspec.load(path))
    ms.set_seed(0)
    net = build_cell(graph)
    rng = np.random.default_rng(3)
    for p in net.get_parameters():
        leaf = p.name.rsplit(".", 1)[-1]
        if leaf in ("gamma", "moving_variance"):
            p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, tuple(p.shape)).astype(np.float32)))
        elif leaf in ("beta", "moving_mean"):
            p.set_data(ms.Tensor(rng.normal(0, 0.2, tuple(p.shape)).astype(np.float32)))
    return graph, net


def by_kind(checks, kind):
    return [c for c in checks if c.kind == kind]


def test_mindir_reports_the_file_and_the_folding_separately(model, tmp_path):
    graph, net = model
    report = ex.export(graph, net, "mindir", tmp_path / "m")
    folding, files = by_kind(report.checks, "model"), by_kind(report.checks, "file")
    assert [c.output for c in folding] == [c.output for c in files] == ["head"]
    assert all(c.passed for c in report.checks)
    # the file runs MindSpore's own kernels on the same folded model: no difference at all
    assert report.file_max_abs_diff == files[0].max_abs_diff == 0.0
    assert files[0].tolerance == pytest.approx(ex.FILE_RTOL["mindir"] * files[0].scale)
    # folding changes the arithmetic: float32 rounding, far below its tolerance
    assert 0 < report.fold_max_abs_diff == folding[0].max_abs_diff < 1e-5 * folding[0].scale
    assert folding[0].tolerance == pytest.approx(ex.FOLD_RTOL * folding[0].scale)
    assert ex.FILE_RTOL["mindir"] < ex.FOLD_RTOL
    v = json.loads(report.manifest_path.read_text())["verification"]
    assert v["file"] == {"against": "the in-memory model that was exported", "rtol": ex.FILE_RTOL["mindir"],
                         "max_abs_diff": 0.0}
    assert v["folding"]["rtol"] == ex.FOLD_RTOL and v["folding"]["max_abs_diff"] == report.fold_max_abs_diff
    assert [c["kind"] for c in v["checks"]] == ["model", "file"]


def test_onnx_file_is_checked_against_the_folded_model(model, tmp_path):
    pytest.importorskip("onnxruntime")
    graph, net = model
    report = ex.export(graph, net, "onnx", tmp_path / "m")
    files = by_kind(report.checks, "file")
    assert report.verified_with.startswith("onnxruntime") and files[0].what == report.verified_with
    assert files[0].passed and files[0].tolerance == pytest.approx(ex.FILE_RTOL["onnx"] * files[0].scale)
    assert by_kind(report.checks, "model")[0].passed  # folding and the MatMul upsampling


def test_a_corrupted_file_fails_the_file_check_while_folding_passes(model, tmp_path, monkeypatch):
    """The exporter writes a model with one weight off by 1%: folding is fine, the file is not."""
    graph, net = model
    real_write = ex._write

    def corrupting_write(exp_net, *args, **kwargs):
        p = next(p for p in exp_net.get_parameters() if p.name == "pw.conv.weight")
        p.set_data(p * 1.01)
        return real_write(exp_net, *args, **kwargs)

    monkeypatch.setattr(ex, "_write", corrupting_write)
    with pytest.raises(ex.VerificationError) as info:
        ex.export(graph, net, "mindir", tmp_path / "m")
    checks = info.value.checks
    assert all(c.passed for c in by_kind(checks, "model"))
    assert not any(c.passed for c in by_kind(checks, "file"))
    text = str(info.value)
    assert "the written MINDIR does not compute what the in-memory model" in text
    assert "folding is within its tolerance" in text and "Nothing was written" in text
    # 1% of one weight: far below what the old single check (1e-4 of the scale, against the
    # unfolded model) would have had to absorb from folding on real weights, yet caught
    assert by_kind(checks, "file")[0].max_abs_diff < 0.1 * by_kind(checks, "file")[0].scale
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chk.yaml"]


def test_a_bad_fold_fails_the_folding_check_while_the_file_matches(model, tmp_path, monkeypatch):
    """Folding that forgets the BN mean in one bias: the file faithfully holds the (wrong) folded
    model, so the file check passes and the folding check names the fault."""
    from archspec.lower import fold

    graph, net = model
    real_fold = fold.fold_bn_weights

    def bad_fold(g, weights, **kw):
        out = real_fold(g, weights, **kw)
        out["pw.conv.bias"] = out["pw.conv.bias"] + 0.5
        return out

    monkeypatch.setattr(fold, "fold_bn_weights", bad_fold)
    with pytest.raises(ex.VerificationError) as info:
        ex.export(graph, net, "mindir", tmp_path / "m")
    checks = info.value.checks
    assert not any(c.passed for c in by_kind(checks, "model"))
    assert all(c.passed for c in by_kind(checks, "file")) and by_kind(checks, "file")[0].max_abs_diff == 0.0
    text = str(info.value)
    assert text.startswith("verification failed: folding BatchNorm") and "itself matches the in-memory model" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chk.yaml"]


def test_without_verify_a_bad_fold_stops_before_writing(model, tmp_path, monkeypatch):
    from archspec.lower import fold

    graph, net = model
    real_fold = fold.fold_bn_weights
    monkeypatch.setattr(fold, "fold_bn_weights",
                        lambda g, w, **kw: {k: v * 2 if k == "pw.conv.weight" else v
                                            for k, v in real_fold(g, w, **kw).items()})
    written = []
    monkeypatch.setattr(ex, "_write", lambda *a: written.append(a))
    with pytest.raises(ex.VerificationError, match="folding BatchNorm"):
        ex.export(graph, net, "mindir", tmp_path / "m", verify=False)
    assert written == []
