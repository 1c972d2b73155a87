"""Export: MindIR of every shipped spec reloads and matches, ONNX of DeepLabV3+ matches in
onnxruntime, BatchNorm folding is exact, the bilinear MatMul lowering is PyTorch's arithmetic,
and every bad input is one clean message with nothing written.

Small inputs keep this fast (the structure, and so what is exported, does not depend on size).
Nets are built once per module.
"""
from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import archspec
from archspec.errors import SpecError, SpecErrors
from conftest import small_first

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"
SMALL = {"deeplabv3p.yaml": 65, "deeplabv3p_resnet101.yaml": 65, "deeplabv3p_mobilenetv2.yaml": 65,
         "resnet50.yaml": 64, "mobilenetv2.yaml": 64, "unet.yaml": 65}
RTOL = 1e-4


@pytest.fixture(scope="module")
def ms():
    mindspore = pytest.importorskip("mindspore")
    from archspec.runtime.host import setup

    setup("CPU", "pynative")
    return mindspore


@functools.lru_cache(maxsize=None)
def built(name: str, seed: int = 0, **overrides):
    """(spec, graph, net) of a shipped spec at its small size; built once per module."""
    import mindspore

    from archspec.lower import build_cell

    spec = archspec.load(SPECS / name, overrides={"size": SMALL[name], **overrides})
    graph = archspec.resolve(spec)
    mindspore.set_seed(seed)
    return spec, graph, build_cell(graph)


def rand(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def close(got, ref, rtol=RTOL):
    scale = float(np.abs(ref).max())
    assert scale > 0
    diff = float(np.abs(got.astype(np.float64) - ref).max())
    assert diff <= rtol * scale, f"max abs diff {diff:.3g} > {rtol} x output scale {scale:.3g}"
    return diff


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def archspec_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "archspec", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=900)


def test_every_spec_is_covered():
    assert {p.name for p in SPECS.glob("*.yaml")} == set(SMALL), "add new specs to SMALL so their export is tested"


# ----------------------------------------------------------------------------- MindIR of every spec
@pytest.mark.parametrize("name", small_first(SMALL))
def test_mindir_of_every_spec_reloads_and_matches(ms, tmp_path, name):
    from archspec.runtime.export import export

    spec, graph, net = built(name)
    report = export(graph, net, "mindir", tmp_path / "model", spec=spec)
    assert report.path == tmp_path / "model.mindir" and report.manifest_path == tmp_path / "model.mindir.json"
    assert listing(tmp_path) == ["model.mindir", "model.mindir.json"]  # no temporary files left
    assert report.max_abs_diff is not None and all(c.passed for c in report.checks)
    assert report.fold_bn and report.bn_folded > 0 and report.params < report.params_unfolded

    # independently of export's own check: reload and run on another input
    x = rand(graph.inputs["image"], seed=7)
    reloaded = ms.nn.GraphCell(ms.load(str(report.path)))
    close(reloaded(ms.Tensor(x)).asnumpy(), net(ms.Tensor(x)).asnumpy())

    m = json.loads(report.manifest_path.read_text())
    assert m["artifact"]["sha256"] == hashlib.sha256(report.path.read_bytes()).hexdigest()
    assert m["spec"]["sha256"] == spec.sha256 == hashlib.sha256((SPECS / name).read_bytes()).hexdigest()
    assert [f["path"] for f in m["spec"]["files"]] == spec.files
    assert m["params"]["size"] == SMALL[name]
    assert m["inputs"] == [{"name": "image", "shape": list(graph.inputs["image"]), "dtype": "float32"}]
    assert [o["name"] for o in m["outputs"]] == graph.outputs
    assert m["fold_bn"] is True and m["parameters"]["as_built"] == graph.total_params
    assert m["weights"]["source"] == "random init, seed 0"
    assert m["versions"]["archspec"] == archspec.__version__ and m["versions"]["mindspore"] == ms.__version__
    assert m["verification"]["file"]["max_abs_diff"] == report.file_max_abs_diff
    assert m["verification"]["folding"]["max_abs_diff"] == report.fold_max_abs_diff
    assert m["verification"]["ran_with"].startswith("reloaded MindIR")


# ----------------------------------------------------------------------------- ONNX
def test_onnx_of_deeplabv3p_matches_in_onnxruntime(ms, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    onnx = pytest.importorskip("onnx")
    from archspec.runtime.export import export

    spec, graph, net = built("deeplabv3p.yaml")
    report = export(graph, net, "onnx", tmp_path / "dl.onnx", spec=spec)
    assert listing(tmp_path) == ["dl.onnx", "dl.onnx.json"]
    assert report.verified_with.startswith("onnxruntime")
    assert report.lowering["upsample.bilinear"] == "matmul"
    assert net.lower_options["upsample.bilinear"] == "resize", "the user's net is not changed"

    model = onnx.load(str(report.path))
    onnx.checker.check_model(model)
    ops = {n.op_type for n in model.graph.node}
    # plain opset-11 ops that ATC's ONNX parser knows; no dead SequenceConstruct from AddN
    assert ops <= {"Conv", "Relu", "Add", "MatMul", "Concat", "MaxPool", "ReduceMean"}, ops
    assert [i.name for i in model.graph.input] == ["image"] and [o.name for o in model.graph.output] == ["out"]

    x = rand(graph.inputs["image"], seed=11)
    session = ort.InferenceSession(str(report.path), providers=["CPUExecutionProvider"])
    close(session.run(None, {"image": x})[0], net(ms.Tensor(x)).asnumpy())


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["mindir", "onnx"])
def test_full_size_deeplabv3p_exports_and_matches(ms, tmp_path, fmt):
    """The deployment artifact itself: 513x513 (about 30 s each on a 2-core CPU)."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    from archspec.lower import build_cell
    from archspec.runtime.export import export

    spec = archspec.load(SPECS / "deeplabv3p.yaml")
    graph = archspec.resolve(spec)
    net = build_cell(graph)
    randomize_bn(net, seed=2)
    report = export(graph, net, fmt, tmp_path / "dl", spec=spec)
    assert report.outputs == {"out": (1, 21, 513, 513)}
    assert report.max_abs_diff is not None and all(c.passed for c in report.checks)
    assert listing(tmp_path) == [f"dl.{fmt}", f"dl.{fmt}.json"]


def test_onnx_refuses_gelu_naming_the_node_before_writing(ms, tmp_path):
    from archspec.runtime.export import check_exportable, export

    spec_path = tmp_path / "g.yaml"
    spec_path.write_text("archspec: 1\nname: g\ninput: {image: [1, 3, 16, 16]}\ngraph:\n"
                         "  - {id: stem, op: conv, out: 8, k: 3, act: gelu}\n"
                         "  - {id: head, op: conv, out: 4, k: 1}\n"
                         "  - {id: gate, op: act, fn: gelu, in: stem}\n"  # stem has two readers: no fusion
                         "  - {id: cat, op: concat, in: [head, gate]}\n")
    graph = archspec.resolve(archspec.load(spec_path))
    check_exportable(graph, "mindir")  # fine for MindIR
    with pytest.raises(SpecErrors) as info:
        check_exportable(graph, "onnx")
    errs = info.value.errors
    assert [e.message.split("'")[1] for e in errs] == ["stem", "gate"]
    assert "Erf" in errs[0].message and errs[0].loc.line == 5 and "--format mindir" in errs[0].hint
    from archspec.lower import build_cell

    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(SpecErrors):
        export(graph, build_cell(graph), "onnx", out / "g.onnx")
    assert listing(out) == []


# ----------------------------------------------------------------------------- bilinear as MatMuls
RESIZE_CASES = [((1, 256, 33, 33), (129, 129)), ((1, 21, 129, 129), (513, 513)), ((2, 3, 7, 9), (5, 13)),
                ((1, 4, 1, 1), (9, 9)), ((1, 2, 10, 3), (1, 3))]


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("in_shape,size", RESIZE_CASES)
def test_bilinear_matmul_matches_resize_lowering(ms, in_shape, size, align):
    from archspec.ops.cells import BilinearMatMul, Resize

    x = ms.Tensor(rand(in_shape))
    mm = BilinearMatMul(in_shape[2:], size, align)(x).asnumpy()
    rs = Resize(size, "bilinear", align)(x).asnumpy()
    assert mm.shape == rs.shape == in_shape[:2] + size
    # ResizeBilinearV2's own coordinate arithmetic differs from PyTorch's by up to ~1e-5 at 129 -> 513
    assert np.abs(mm - rs).max() <= 2e-5 * max(1.0, float(np.abs(rs).max()))


@pytest.mark.parametrize("align", [False, True])
@pytest.mark.parametrize("in_shape,size", RESIZE_CASES)
def test_bilinear_matmul_is_pytorch_exact(ms, in_shape, size, align):
    torch = pytest.importorskip("torch")
    from archspec.ops.cells import BilinearMatMul

    x = rand(in_shape)
    ref = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode="bilinear",
                                          align_corners=align).numpy()
    mm = BilinearMatMul(in_shape[2:], size, align)(ms.Tensor(x)).asnumpy()
    assert np.abs(mm - ref).max() <= 1e-6 * max(1.0, float(np.abs(ref).max()))


def test_bilinear_matrix_is_pytorchs_weights():
    torch = pytest.importorskip("torch")
    from archspec.ops.cells import bilinear_matrix

    for n_in in [1, 2, 3, 5, 7, 17, 33, 65, 129]:
        for n_out in [1, 2, 3, 4, 9, 31, 65, 129, 513]:
            for align in (False, True):
                eye = torch.eye(n_in).reshape(1, n_in, 1, n_in)  # channel c = unit vector c along the width
                w = torch.nn.functional.interpolate(eye, size=(1, n_out), mode="bilinear", align_corners=align)
                assert np.array_equal(bilinear_matrix(n_in, n_out, align), w[0, :, 0, :].numpy().T), (n_in, n_out, align)


def test_upsample_lowering_option_keeps_graph_and_params(ms):
    from archspec.lower import build_cell
    from archspec.ops.cells import BilinearMatMul, Resize

    _, graph, net = built("deeplabv3p_mobilenetv2.yaml")
    mm = build_cell(graph, options={"upsample.bilinear": "matmul"})
    kinds = lambda n: {type(c).__name__ for c in n.nodes}  # noqa: E731
    assert "BilinearMatMul" in kinds(mm) and "Resize" not in kinds(mm) and "Resize" in kinds(net)
    assert [p.name for p in mm.get_parameters()] == [p.name for p in net.get_parameters()]
    assert isinstance(mm.nodes[-1], BilinearMatMul) and isinstance(net.nodes[-1], Resize)
    assert mm.lower_options == {"add.kernel": "addn", "conv.cells": "fused", "conv_transpose.kernel": "transpose",
                                "upsample.bilinear": "matmul"}


@pytest.mark.parametrize("options,needle", [
    ({"upsampel.bilinear": "matmul"}, "did you mean 'upsample'"),
    ({"upsample.bilinaer": "matmul"}, "did you mean 'upsample.bilinear'"),
    ({"upsample.bilinear": "cubic"}, "must be one of resize, matmul"),
    ({"concat.bilinear": "matmul"}, "has no lowering options"),
])
def test_unknown_lowering_options_are_clean_errors(options, needle):
    from archspec.ops.registry import lower_options

    with pytest.raises(SpecError) as info:
        lower_options(options)
    assert needle in info.value.render()


# ----------------------------------------------------------------------------- BatchNorm folding
def randomize_bn(net, seed):
    """Non-trivial BatchNorm statistics and affine parameters (fresh ones fold to almost nothing)."""
    rng = np.random.default_rng(seed)
    from mindspore import Tensor

    for p in net.get_parameters():
        n = p.shape[0] if p.shape else 0
        if p.name.endswith("batchnorm.gamma"):
            p.set_data(Tensor(rng.uniform(0.5, 1.5, n).astype(np.float32)))
        elif p.name.endswith("batchnorm.beta"):
            p.set_data(Tensor(rng.normal(0, 0.2, n).astype(np.float32)))
        elif p.name.endswith("batchnorm.moving_mean"):
            p.set_data(Tensor(rng.normal(0, 0.2, n).astype(np.float32)))
        elif p.name.endswith("batchnorm.moving_variance"):
            p.set_data(Tensor(rng.uniform(0.5, 2.0, n).astype(np.float32)))


@pytest.mark.parametrize("name", ["deeplabv3p_mobilenetv2.yaml", "resnet50.yaml"])
def test_fold_bn_is_exact_with_nontrivial_statistics(ms, name):
    from archspec.graph.passes import count_conv_bn_act, fold_bn
    from archspec.lower import build_cell
    from archspec.lower.fold import deploy_cell

    spec = archspec.load(SPECS / name, overrides={"size": SMALL[name]})
    graph = archspec.resolve(spec)
    ms.set_seed(3)
    net = build_cell(graph)
    randomize_bn(net, seed=5)
    folded_graph, folded = deploy_cell(net)
    assert not any(isinstance(c, ms.nn.BatchNorm2d) for _, c in folded.cells_and_names())
    assert count_conv_bn_act(folded_graph) == 0
    # parameter count: each BN loses gamma and beta (2 per channel); convs without a bias gain one
    folded_params = sum(int(p.size) for p in folded.trainable_params())
    removed = sum(n.shape[1] for n in graph.nodes if n.op == "conv" and n.args.bn and n.args.bias)
    assert folded_params == folded_graph.total_params == fold_bn(graph).total_params
    assert folded_params == graph.total_params - sum(n.shape[1] for n in graph.nodes if n.op == "conv" and n.args.bn) - removed
    for seed in (1, 2):
        x = ms.Tensor(rand(graph.inputs["image"], seed=seed))
        ref = net(x).asnumpy()
        assert float(np.abs(ref).max()) > 1e-3
        close(folded(x).asnumpy(), ref)
    # the net as built is unchanged and keeps its BatchNorms
    assert any(isinstance(c, ms.nn.BatchNorm2d) for _, c in net.cells_and_names())


def test_export_folds_loaded_statistics_and_reports_counts(ms, tmp_path):
    from archspec.lower import build_cell
    from archspec.runtime.export import export

    spec = archspec.load(SPECS / "mobilenetv2.yaml", overrides={"size": 32})
    graph = archspec.resolve(spec)
    net = build_cell(graph)
    randomize_bn(net, seed=9)
    folded = export(graph, net, "mindir", tmp_path / "f.mindir", spec=spec)
    plain = export(graph, net, "mindir", tmp_path / "p.mindir", spec=spec, fold=False)
    assert plain.params == plain.params_unfolded == graph.total_params and plain.bn_folded == 0
    assert folded.params < folded.params_unfolded and folded.bn_folded == 52
    x = ms.Tensor(rand(graph.inputs["image"], seed=4))
    ref = net(x).asnumpy()
    for r in (folded, plain):
        close(ms.nn.GraphCell(ms.load(str(r.path)))(x).asnumpy(), ref)
    assert json.loads(folded.manifest_path.read_text())["parameters"] == {"exported": folded.params,
                                                                          "as_built": graph.total_params}


# ----------------------------------------------------------------------------- failures leave nothing
def test_verification_failure_writes_nothing(ms, tmp_path, monkeypatch):
    import archspec.runtime.export as ex

    _, graph, net = built("mobilenetv2.yaml")
    real = ex._run_artifact

    def wrong(*args, **kwargs):
        what, outs = real(*args, **kwargs)
        return what, [o + 0.01 * np.abs(o).max() for o in outs]

    monkeypatch.setattr(ex, "_run_artifact", wrong)
    with pytest.raises(ex.VerificationError) as info:
        ex.export(graph, net, "mindir", tmp_path / "m.mindir")
    assert "max abs diff" in str(info.value) and "Nothing was written" in str(info.value)
    assert listing(tmp_path) == []


def test_exporter_failure_midway_writes_nothing(ms, tmp_path, monkeypatch):
    import archspec.runtime.export as ex

    _, graph, net = built("mobilenetv2.yaml")

    def half(net, *inputs, file_name, file_format):
        Path(file_name + ".mindir").write_bytes(b"half a file")
        raise RuntimeError("disk full")

    monkeypatch.setattr(ms, "export", half)
    monkeypatch.setattr(ex, "_locate_unexportable", lambda *a: None)
    with pytest.raises(RuntimeError, match="disk full"):
        ex.export(graph, net, "mindir", tmp_path / "m.mindir")
    assert listing(tmp_path) == []


def test_cli_verification_failure_is_exit_1(ms, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    import archspec.runtime.export as ex
    from archspec.cli.app import app

    monkeypatch.setattr(ex, "_run_artifact", lambda *a, **k: ("broken", [np.full((1, 1000), 9.0, np.float32)]))
    r = CliRunner().invoke(app, ["export", str(SPECS / "mobilenetv2.yaml"), "--set", "size=32",
                                 "--out", str(tmp_path / "m.mindir")])
    assert r.exit_code == 1, r.output
    assert "verification failed" in r.output and "Traceback" not in r.output
    assert listing(tmp_path) == []


# ----------------------------------------------------------------------------- the command line
def test_cli_export_writes_artifact_and_manifest_and_refuses_overwrite(tmp_path):
    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path) == ["mobilenetv2.mindir", "mobilenetv2.mindir.json"]  # default --out
    assert "BatchNorm folded into 52 convolutions: params 3,504,872 -> " in r.stdout
    assert "reloaded MindIR" in r.stdout and "max abs diff" in r.stdout
    m = json.loads((tmp_path / "mobilenetv2.mindir.json").read_text())
    assert m["spec"]["path"].endswith("mobilenetv2.yaml") and m["fold_bn"] and m["params"]["size"] == 32
    before = (tmp_path / "mobilenetv2.mindir").read_bytes()

    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr and "--force" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert (tmp_path / "mobilenetv2.mindir").read_bytes() == before

    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", "--no-fold-bn", "--force", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path) == ["mobilenetv2.mindir", "mobilenetv2.mindir.json"]
    assert json.loads((tmp_path / "mobilenetv2.mindir.json").read_text())["fold_bn"] is False


def unwritable_folder(tmp_path: Path) -> Path:
    d = tmp_path / "readonly"
    d.mkdir()
    d.chmod(0o555)
    if not os.access(d, os.W_OK) and os.geteuid() != 0:
        return d
    if os.path.isdir("/proc/sys") and not os.access("/proc/sys", os.W_OK):  # root: a read-only mount
        return Path("/proc/sys")
    pytest.skip("no unwritable folder available (running as root without a read-only mount)")


BAD = [
    (["--format", "tflite"], "unknown export format 'tflite'"),
    (["--format", "onxx"], "did you mean 'onnx'"),
    (["--format", "air"], "needs an Ascend device"),
    (["--input-shape", "1,3,0,32"], "positive integers"),
    (["--input-shape", "1,-3,32,32"], "positive integers"),
    (["--out", "{tmp}/m.onnx"], "suffix of another format"),
    (["--allow-partial"], "--allow-partial needs --weights"),
    (["--weights", "{tmp}/nope.ckpt"], "checkpoint file not found"),
    (["--device", "TPU"], "--device"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[b[1][:24] for b in BAD])
def test_cli_bad_input_is_one_clean_message_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "out"
    out.mkdir()
    args = [a.replace("{tmp}", str(out)) for a in args]
    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", *args, cwd=out)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert listing(out) == []


def test_cli_air_message_says_what_to_use_instead(tmp_path):
    r = archspec_cli("export", SPECS / "deeplabv3p.yaml", "--format", "air", cwd=tmp_path)
    assert r.returncode == 2
    assert "--format mindir" in r.stderr and "--format onnx" in r.stderr and "ATC" in r.stderr
    assert listing(tmp_path) == []


def test_cli_unwritable_output_folder(tmp_path):
    folder = unwritable_folder(tmp_path)
    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", "--out", folder / "m.mindir", cwd=tmp_path)
    assert r.returncode == 2 and "is not writable" in r.stderr and "Traceback" not in r.stderr
    assert not (folder / "m.mindir").exists() and not (folder / "m.mindir.json").exists()


def test_cli_gelu_to_onnx_names_the_node(tmp_path):
    spec = tmp_path / "g.yaml"
    spec.write_text("archspec: 1\nname: g\ninput: {image: [1, 3, 16, 16]}\ngraph:\n"
                    "  - {id: stem, op: conv, out: 8, k: 3, bn: true, act: gelu}\n")
    r = archspec_cli("export", spec, "--format", "onnx", cwd=tmp_path)
    assert r.returncode == 2
    assert f"{spec}:5:" in r.stderr and "node 'stem'" in r.stderr and "Erf" in r.stderr
    assert listing(tmp_path) == ["g.yaml"]


# ----------------------------------------------------------------------------- --weights
@pytest.fixture(scope="module")
def checkpoints(ms, tmp_path_factory):
    """mobilenetv2 (size 32) checkpoints: a matching one, one for 10 classes, one with renamed tensors."""
    from archspec.lower import build_cell
    from archspec.weights.checkpoint import save_weights, write_checkpoint

    folder = tmp_path_factory.mktemp("ckpt")
    ms.set_seed(42)
    net = build_cell(archspec.resolve(archspec.load(SPECS / "mobilenetv2.yaml", overrides={"size": 32})))
    randomize_bn(net, seed=1)
    save_weights(net, folder / "good.ckpt")
    ten = build_cell(archspec.resolve(archspec.load(SPECS / "mobilenetv2.yaml",
                                                    overrides={"size": 32, "num_classes": 10})))
    save_weights(ten, folder / "ten.ckpt")
    arrays = {p.name.replace("s2.", "stage2."): p.asnumpy() for p in net.get_parameters()}
    write_checkpoint(arrays, folder / "renamed.ckpt")
    return folder


def test_cli_weights_are_folded_exported_and_recorded(tmp_path, checkpoints):
    ckpt = checkpoints / "good.ckpt"
    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", "--weights", ckpt,
                     "--out", tmp_path / "m", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert listing(tmp_path) == ["m.mindir", "m.mindir.json"]
    w = json.loads((tmp_path / "m.mindir.json").read_text())["weights"]
    assert w["source"] == "checkpoint" and w["path"] == str(ckpt)
    assert w["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert str(ckpt) in r.stdout


@pytest.mark.parametrize("ckpt,needles", [
    ("ten.ckpt", ["shape differs", "fc.weight", "--allow-partial"]),
    ("renamed.ckpt", ["missing from the checkpoint", "s2.0.", "not in the network", "stage2.0."]),
])
def test_cli_weights_that_do_not_fit_are_listed_and_nothing_is_written(tmp_path, checkpoints, ckpt, needles):
    out = tmp_path / "out"
    out.mkdir()
    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", "--weights", checkpoints / ckpt,
                     "--out", out / "m.mindir", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    for needle in needles:
        assert needle in r.stderr, (needle, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    assert listing(out) == []


def test_cli_allow_partial_records_what_was_skipped(tmp_path, checkpoints):
    r = archspec_cli("export", SPECS / "mobilenetv2.yaml", "--set", "size=32", "--set", "num_classes=1000",
                     "--weights", checkpoints / "ten.ckpt", "--allow-partial", "--out", tmp_path / "m", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    w = json.loads((tmp_path / "m.mindir.json").read_text())["weights"]
    assert w["source"] == "checkpoint" and "partial" in w["note"]
    assert any("fc.weight" in s for s in w["skipped"])
