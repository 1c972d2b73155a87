"""PyTorch weights imported into archspec's specs give the same outputs as PyTorch.

Reference models: tests/oracles/torch_ref.py (VainF DeepLabV3+, torchvision ResNet-50/MobileNetV2 layouts)
with random weights and random, non-trivial BatchNorm statistics (`randomize_bn`). Their
state_dicts go through `archspec weights import` (the CLI and the Python function) with the maps
shipped in specs/maps/, are loaded into the spec's network, and the outputs are compared on the
same random input in PYNATIVE and GRAPH mode.

How close is "the same"? Error = max |archspec - exact| / max |exact|, where "exact" is the
PyTorch model run in float64. Bound: 1e-4, or 1.5 x PyTorch's OWN float32 error when that is
larger. The second clause matters for ResNet-50: float32 rounding grows with depth, and PyTorch's
float32 output of these random ResNet-50 DeepLabV3+ models is itself 0.4-1.4e-4 away from the
float64 result (measured over seeds), so a flat 1e-4 against PyTorch's float32 output would test
rounding luck, not the import. A wrong mapping (swapped BN statistics, a transposed or shifted
tensor) gives errors of order 1 (checked below).

The MobileNetV2 reference pads like torchvision and our spec (padding inside each conv), with the
dilation placed as VainF places it; VainF's own MobileNetV2 pads differently (see README).
"""
from __future__ import annotations

import copy
import functools
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import archspec  # noqa: E402
from archspec.errors import SpecError, SpecErrors  # noqa: E402

import torch_ref as R  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"
MAPS = SPECS / "maps"
TOL = 1e-4
SMALL = 65


@pytest.fixture(scope="module")
def ms():
    mindspore = pytest.importorskip("mindspore")
    from archspec.runtime.host import setup

    setup("CPU", "pynative")
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    return mindspore


# --------------------------------------------------------------------------------------------
# reference models


def deeplab_mobilenet_tv_padding(output_stride: int, decoder_convs: int, num_classes: int = 21):
    """VainF's deeplabv3plus_mobilenet (same module names and dilations), torchvision padding."""
    net = R.mobilenet_v2(output_stride=output_stride, vainf_padding=False)
    net.low_level_features = net.features[:4]
    net.high_level_features = net.features[4:-1]
    net.features = None
    net.classifier = None
    body = R.IntermediateLayerGetter(net, {"high_level_features": "out", "low_level_features": "low_level"})
    rates = [6, 12, 18] if output_stride == 16 else [12, 24, 36]
    head = R.DeepLabHeadV3Plus(320, 24, num_classes, rates, decoder_convs=decoder_convs)
    return R.DeepLabV3(body, head)


@functools.lru_cache(maxsize=None)
def reference(backbone: str, output_stride: int, decoder_convs: int, seed: int = 0, num_classes: int = 21):
    """A random reference model in eval mode (cached: tests share it and never modify it)."""
    torch.manual_seed(seed)
    if backbone == "resnet50":
        model = R.deeplabv3plus("resnet50", num_classes, output_stride, decoder_convs=decoder_convs)
    else:
        model = deeplab_mobilenet_tv_padding(output_stride, decoder_convs, num_classes)
    return R.randomize_bn(model.eval(), seed=seed).eval()


DEEPLAB_SPEC = {"resnet50": SPECS / "deeplabv3p.yaml", "mobilenetv2": SPECS / "deeplabv3p_mobilenetv2.yaml"}


def run_torch(model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float32 and float64 outputs of `model` (eval mode) for `x`."""
    with torch.no_grad():
        y32 = model(torch.from_numpy(x)).numpy()
        y64 = copy.deepcopy(model).double()(torch.from_numpy(x).double()).numpy()
    return y32, y64


def assert_exact(y: np.ndarray, y32: np.ndarray, y64: np.ndarray, what: str) -> float:
    scale = float(np.abs(y64).max())
    assert scale > 0.1, f"{what}: degenerate reference output (max {scale})"
    err = float(np.abs(y - y64).max()) / scale
    torch_err = float(np.abs(y32 - y64).max()) / scale  # PyTorch's own float32 rounding
    bound = max(TOL, 1.5 * torch_err)
    vs_torch32 = float(np.abs(y - y32).max()) / scale
    print(f"{what}: archspec vs exact {err:.2e}, PyTorch float32 vs exact {torch_err:.2e}, "
          f"archspec vs PyTorch float32 {vs_torch32:.2e} (bound {bound:.2e})")
    assert err <= bound, f"{what}: relative error {err:.3g} > {bound:.3g}"
    return err


def run_both_modes(ms, net, x: np.ndarray) -> dict[str, np.ndarray]:
    outs = {}
    t = ms.Tensor(x)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    outs["pynative"] = net(t).asnumpy()
    ms.set_context(mode=ms.GRAPH_MODE)
    try:
        outs["graph"] = net(t).asnumpy()
    finally:
        ms.set_context(mode=ms.PYNATIVE_MODE)
    return outs


def cli(*args):
    from typer.testing import CliRunner

    from archspec.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])


def n_params(net) -> int:
    return sum(1 for _ in net.get_parameters())


def files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------------------------
# exactness: DeepLabV3+


CASES = [  # backbone, output stride, decoder convs, through the CLI?
    ("resnet50", 16, 1, True),  # VainF's released layout
    ("mobilenetv2", 16, 1, False),
    ("mobilenetv2", 8, 2, False),  # OS8, and the paper's two decoder convs
]


@pytest.mark.parametrize("backbone, output_stride, decoder_convs, via_cli", [
    pytest.param(*c, id=f"{c[0]}-os{c[1]}-dec{c[2]}", marks=[pytest.mark.slow] if c[1] == 8 else []) for c in CASES])
def test_deeplab_import_is_exact(ms, tmp_path, backbone, output_stride, decoder_convs, via_cli):
    from archspec.weights.importer import import_weights
    from archspec.weights.checkpoint import load_weights

    model = reference(backbone, output_stride, decoder_convs)
    src = tmp_path / "model.pth"
    torch.save(model.state_dict(), src)
    out = tmp_path / "model.ckpt"
    sets = {"size": SMALL, "output_stride": output_stride, "decoder_convs": decoder_convs}
    graph = archspec.resolve(archspec.load(DEEPLAB_SPEC[backbone], overrides=sets))
    net = archspec.build(graph).net
    if via_cli:
        args = ["weights", "import", DEEPLAB_SPEC[backbone], src, "--out", out]
        for k, v in sets.items():
            args += ["--set", f"{k}={v}"]
        r = cli(*args)
        assert r.exit_code == 0, r.output
        assert f"mapped {n_params(net)} of the {n_params(net)} parameters" in r.stdout
        assert "num_batches_tracked" in r.stdout and f"wrote {out}" in r.stdout
    else:
        report = import_weights(graph, src, out)
        assert report.complete and report.written == report.total == n_params(net)
        assert len(report.ignored) == sum(1 for k in model.state_dict() if k.endswith("num_batches_tracked"))
    assert files(tmp_path) == ["model.ckpt", "model.pth"]
    assert load_weights(net, out).loaded == n_params(net)

    x = np.random.default_rng(0).standard_normal((1, 3, SMALL, SMALL)).astype(np.float32)
    y32, y64 = run_torch(model, x)
    for mode, y in run_both_modes(ms, net, x).items():
        assert y.shape == y64.shape == (1, 21, SMALL, SMALL)
        assert_exact(y, y32, y64, f"{backbone} OS{output_stride} dec{decoder_convs} {mode}")


@pytest.mark.slow
@pytest.mark.parametrize("backbone", ["resnet50", "mobilenetv2"])
def test_deeplab_import_is_exact_at_513(ms, tmp_path, backbone):
    from archspec.weights.importer import import_weights
    from archspec.weights.checkpoint import load_weights

    model = reference(backbone, 16, 1)
    src = tmp_path / "model.pth"
    torch.save(model.state_dict(), src)
    graph = archspec.resolve(archspec.load(DEEPLAB_SPEC[backbone], overrides={"decoder_convs": 1}))
    net = archspec.build(graph).net
    import_weights(graph, src, tmp_path / "model.ckpt")
    load_weights(net, tmp_path / "model.ckpt")
    x = np.random.default_rng(1).standard_normal((1, 3, 513, 513)).astype(np.float32)
    y32, y64 = run_torch(model, x)
    for mode, y in run_both_modes(ms, net, x).items():
        assert_exact(y, y32, y64, f"{backbone} 513x513 {mode}")


def test_a_wrong_mapping_is_far_outside_the_bound(ms, tmp_path):
    """The bound is tight enough to catch mapping mistakes: swap running_mean and running_var."""
    from archspec.weights.importer import import_weights
    from archspec.weights.checkpoint import load_weights

    model = reference("mobilenetv2", 16, 1)
    mp = tmp_path / "swap.yaml"
    text = (MAPS / "deeplabv3p_mobilenetv2.yaml").read_text()
    mp.write_text(text.replace("include: [lib/vainf_deeplabv3p_head.yaml]",
                               "include: [head.yaml]"))
    head = (MAPS / "lib" / "vainf_deeplabv3p_head.yaml").read_text()
    (tmp_path / "head.yaml").write_text(head.replace(
        '- {from: "classifier.project.1.{p:bn}", to: "decoder.project.batchnorm.{p}"}',
        '- {from: "classifier.project.1.{p:swapped}", to: "decoder.project.batchnorm.{p}"}').replace(
        "tables:\n", "tables:\n  swapped: {weight: gamma, bias: beta, running_mean: moving_variance, "
                     "running_var: moving_mean}\n"))
    src = tmp_path / "m.pth"
    torch.save(model.state_dict(), src)
    graph = archspec.resolve(archspec.load(DEEPLAB_SPEC["mobilenetv2"], overrides={"size": SMALL, "decoder_convs": 1}))
    net = archspec.build(graph).net
    import_weights(graph, src, tmp_path / "m.ckpt", map_path=mp)
    load_weights(net, tmp_path / "m.ckpt")
    x = np.random.default_rng(0).standard_normal((1, 3, SMALL, SMALL)).astype(np.float32)
    y32, y64 = run_torch(model, x)
    err = float(np.abs(net(ms.Tensor(x)).asnumpy() - y64).max() / np.abs(y64).max())
    assert err > 100 * TOL


# --------------------------------------------------------------------------------------------
# exactness: the classifiers, torchvision layout


@pytest.mark.parametrize("name", ["resnet50", "mobilenetv2"])
def test_classifier_import_is_exact(ms, tmp_path, name):
    from archspec.weights.importer import import_weights
    from archspec.weights.checkpoint import load_weights

    torch.manual_seed(0)
    model = R.resnet(50) if name == "resnet50" else R.mobilenet_v2()
    R.randomize_bn(model.eval(), seed=0, input_shape=(2, 3, 64, 64))
    with torch.no_grad():  # give the classifier a visible bias
        last = model.fc if name == "resnet50" else model.classifier[1]
        last.bias.uniform_(-0.5, 0.5)
    src = tmp_path / f"{name}.pth"
    torch.save(model.state_dict(), src)
    graph = archspec.resolve(archspec.load(SPECS / f"{name}.yaml", overrides={"size": 64}))
    net = archspec.build(graph).net
    report = import_weights(graph, src, tmp_path / "m.ckpt")  # map chosen by the spec's name
    assert report.map == str(MAPS / f"{name}.yaml") and report.complete
    load_weights(net, tmp_path / "m.ckpt")
    x = np.random.default_rng(0).standard_normal((1, 3, 64, 64)).astype(np.float32)
    y32, y64 = run_torch(model.eval(), x)
    ms.set_context(mode=ms.PYNATIVE_MODE)
    assert_exact(net(ms.Tensor(x)).asnumpy(), y32, y64, f"{name} classifier")


# --------------------------------------------------------------------------------------------
# sources and partial imports


@pytest.fixture(scope="module")
def mbv2_dec1(tmp_path_factory):
    """A VainF-layout MobileNetV2 DeepLabV3+ (1 decoder conv) state_dict, and the spec graph for it."""
    folder = tmp_path_factory.mktemp("mbv2")
    model = reference("mobilenetv2", 16, 1)
    state = model.state_dict()
    src = folder / "vainf.pth"
    torch.save(state, src)
    return folder, src, state


def small_graph(backbone="mobilenetv2", **sets):
    sets = {"size": SMALL, "decoder_convs": 1, **sets}
    return archspec.resolve(archspec.load(DEEPLAB_SPEC[backbone], overrides=sets))


def test_safetensors_npz_and_training_checkpoints_give_the_same_checkpoint(ms, mbv2_dec1, tmp_path):
    from safetensors.torch import save_file

    from archspec.weights.importer import import_weights

    _, src, state = mbv2_dec1
    graph = small_graph()
    ref = import_weights(graph, src, tmp_path / "pth.ckpt")
    floats = {k: v for k, v in state.items() if v.is_floating_point()}
    save_file(floats, str(tmp_path / "w.safetensors"))
    R.export_state_dict_npz(reference("mobilenetv2", 16, 1), tmp_path / "w.npz")
    torch.save({"model_state": {"module." + k: v for k, v in state.items()}, "cur_itrs": 30000,
                "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.01}]}}, tmp_path / "train.pth")
    expected = (tmp_path / "pth.ckpt").read_bytes()
    for name in ("w.safetensors", "w.npz", "train.pth"):
        out = tmp_path / (name + ".ckpt")
        report = import_weights(graph, tmp_path / name, out)
        assert report.written == ref.written
        assert out.read_bytes() == expected, name
        if name == "train.pth":
            assert any("'model_state' entry" in n for n in report.notes)
            assert any("'module.' prefix" in n for n in report.notes)


def test_new_number_of_classes_with_allow_partial(ms, mbv2_dec1, tmp_path):
    from archspec.weights.checkpoint import load_weights

    _, src, _ = mbv2_dec1
    spec = DEEPLAB_SPEC["mobilenetv2"]
    base = ["--set", f"size={SMALL}", "--set", "decoder_convs=1", "--set", "num_classes=19"]
    r = cli("weights", "import", spec, src, "--out", tmp_path / "c19.ckpt", *base)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "2 tensor(s) have another shape" in r.stderr
    assert "decoder.classifier.conv.weight: source classifier.classifier.3.weight [21, 256, 1, 1], spec [19, 256, 1, 1]" \
        in r.stderr
    assert "num_classes=19" in r.stderr and "--allow-partial" in r.stderr
    assert files(tmp_path) == []
    r = cli("weights", "import", spec, src, "--out", tmp_path / "c19.ckpt", *base, "--allow-partial")
    assert r.exit_code == 0, r.output
    assert "mapped 295 of the 297 parameters" in r.stdout and "skipped, shape differs (2)" in r.stdout
    net = archspec.build(small_graph(num_classes=19)).net
    with pytest.raises(SpecError, match="2 missing"):
        load_weights(net, tmp_path / "c19.ckpt")
    report = load_weights(net, tmp_path / "c19.ckpt", allow_partial=True)
    assert report.missing == ["decoder.classifier.conv.weight", "decoder.classifier.conv.bias"]


def test_imagenet_backbone_into_deeplab(ms, tmp_path):
    """torchvision ResNet-50 classifier weights -> DeepLabV3+ backbone, with the classifier's map."""
    from archspec.weights.importer import import_weights

    torch.manual_seed(0)
    src = tmp_path / "resnet50.pth"
    torch.save(R.resnet(50).state_dict(), src)
    graph = small_graph("resnet50")
    with pytest.raises(SpecErrors) as info:
        import_weights(graph, src, tmp_path / "bb.ckpt", map_path=MAPS / "resnet50.yaml")
    assert any("gives 'fc.weight'" in e.message for e in info.value.errors)
    report = import_weights(graph, src, tmp_path / "bb.ckpt", map_path=MAPS / "resnet50.yaml", allow_partial=True)
    assert report.written == 265 and report.total == 307
    assert report.unknown == ["fc.weight (from fc.weight)", "fc.bias (from fc.bias)"]
    assert all(m.startswith(("aspp.", "decoder.")) for m in report.missing)


# --------------------------------------------------------------------------------------------
# bad input: exit 2, one clean message, no traceback, nothing written


class Custom:  # a class weights_only=True must refuse to build
    def __init__(self):
        self.x = 1


class RunsCode:  # unpickling this would run code (create a marker file)
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def bad_source(kind: str, folder: Path, good: Path) -> Path:
    p = folder / f"{kind}.pth"
    if kind == "custom_class":
        torch.save({"w": torch.zeros(2), "obj": Custom()}, p)
    elif kind == "runs_code":
        torch.save({"w": torch.zeros(2), "x": RunsCode(str(folder / "PWNED"))}, p)
    elif kind == "truncated":
        data = good.read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif kind == "garbage":
        p.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    elif kind == "no_state_dict":
        torch.save({"epoch": 3, "note": "x"}, p)
    elif kind == "npz_with_objects":
        p = folder / "objects.npz"
        np.savez(p, a=np.array([{"x": 1}], dtype=object))
    elif kind == "unknown_suffix":
        p = folder / "weights.h5"
        p.write_bytes(b"\x89HDF")
    elif kind == "missing":
        p = folder / "nope.pth"
    return p


BAD_SOURCES = {
    "custom_class": "refused to load: the file holds Python objects, not only tensors (it names",
    "runs_code": "refused to load: the file holds Python objects",
    "truncated": "not a readable PyTorch file",
    "garbage": "not a readable PyTorch file",
    "no_state_dict": "holds no state_dict",
    "npz_with_objects": "not a readable .npz archive",
    "unknown_suffix": "cannot tell the file format",
    "missing": "weights file not found",
}


@pytest.mark.parametrize("kind", sorted(BAD_SOURCES))
def test_bad_sources_are_one_clean_message(ms, mbv2_dec1, tmp_path, kind):
    _, good, _ = mbv2_dec1
    work = tmp_path / "work"
    work.mkdir()
    src = bad_source(kind, work, good)
    before = files(work)
    out = work / "out.ckpt"
    r = cli("weights", "import", DEEPLAB_SPEC["mobilenetv2"], src, "--out", out, "--set", f"size={SMALL}")
    assert r.exit_code == 2, r.output
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert lines and lines[0].startswith(f"{src}: ") and BAD_SOURCES[kind] in lines[0], r.stderr
    assert len(lines) <= 2 and all(line.startswith("  hint:") for line in lines[1:]), r.stderr
    assert "Traceback" not in r.output
    assert files(work) == before, "nothing written, no temporary file left"
    assert not (work / "PWNED").exists(), "code in the pickle must never run"


def test_a_rule_that_matches_nothing_names_its_file_and_line(ms, mbv2_dec1, tmp_path):
    _, src, _ = mbv2_dec1
    mp = tmp_path / "maps" / "m.yaml"
    mp.parent.mkdir()
    shutil.copytree(MAPS / "lib", mp.parent / "lib")
    text = (MAPS / "deeplabv3p_mobilenetv2.yaml").read_text() + \
        '  - {from: "backbone.low_level_features.99.weight", to: stem.conv.weight}\n'
    mp.write_text(text)
    line = text.count("\n")
    out = tmp_path / "out.ckpt"
    r = cli("weights", "import", DEEPLAB_SPEC["mobilenetv2"], src, "--out", out, "--map", mp,
            "--set", f"size={SMALL}", "--set", "decoder_convs=1")
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines[0] == (f"{mp}:{line}:5: rule 'backbone.low_level_features.99.weight -> stem.conv.weight' "
                        f"matches no tensor of {src}"), r.stderr
    assert lines[1].startswith("  hint: source names like it: backbone.low_level_features.")
    assert len(lines) == 2, r.stderr
    assert not out.exists() and files(tmp_path) == ["maps"]


def test_wrong_decoder_convs_is_explained(ms, mbv2_dec1, tmp_path):
    from archspec.weights.importer import import_weights

    _, src, _ = mbv2_dec1
    with pytest.raises(SpecErrors) as info:
        import_weights(small_graph(decoder_convs=2), src, tmp_path / "o.ckpt")
    text = "\n".join(e.render() for e in info.value.errors)
    assert "classifier.classifier.{i:int}.{p} -> decoder.classifier.conv.{p}' matches no tensor" in text
    assert "decoder.fuse.1.conv.weight: source classifier.classifier.3.weight [21, 256, 1, 1], spec [256, 256, 3, 3]" \
        in text
    assert "decoder_convs=2" in text
    assert files(tmp_path) == []


def test_missing_default_map_and_existing_output(ms, mbv2_dec1, tmp_path):
    _, src, _ = mbv2_dec1
    spec = tmp_path / "mine.yaml"
    spec.write_text((SPECS / "mobilenetv2.yaml").read_text().replace("name: mobilenetv2", "name: mine")
                    .replace("imports: [lib/mobilenetv2.yaml]", f"imports: [{SPECS / 'lib' / 'mobilenetv2.yaml'}]"))
    r = cli("weights", "import", spec, src, "--out", tmp_path / "o.ckpt", "--allow-outside-imports")
    assert r.exit_code == 2 and f"no weight map for spec 'mine': looked for {tmp_path / 'maps' / 'mine.yaml'}" in r.stderr
    assert "--map" in r.stderr
    (tmp_path / "o.ckpt").write_bytes(b"keep me")
    r = cli("weights", "import", DEEPLAB_SPEC["mobilenetv2"], src, "--out", tmp_path / "o.ckpt")
    assert r.exit_code == 2 and "already exists" in r.stderr and "--force" in r.stderr
    assert (tmp_path / "o.ckpt").read_bytes() == b"keep me"
    r = cli("weights", "import", DEEPLAB_SPEC["mobilenetv2"], src, "--out", tmp_path / "o.bin")
    assert r.exit_code == 2 and "should end in .ckpt" in r.stderr


def test_weights_show_lists_tensors(ms, mbv2_dec1):
    _, src, state = mbv2_dec1
    r = cli("weights", "show", src, "--grep", "classifier.classifier")
    assert r.exit_code == 0, r.output
    assert "classifier.classifier.3.weight  [21, 256, 1, 1]  float32" in r.stdout
    picked = [v for k, v in state.items() if "classifier.classifier" in k]
    assert r.stdout.strip().endswith(f"{len(picked)} tensors, {sum(v.numel() for v in picked):,} values")


def test_weights_import_in_a_fresh_process_refuses_a_custom_pickle(mbv2_dec1, tmp_path):
    """The real command line (exit status, stderr) for the weights_only refusal."""
    _, good, _ = mbv2_dec1
    src = bad_source("custom_class", tmp_path, good)
    r = subprocess.run([sys.executable, "-m", "archspec.cli", "weights", "import",
                        str(DEEPLAB_SPEC["mobilenetv2"]), str(src), "--out", str(tmp_path / "o.ckpt")],
                       capture_output=True, text=True, timeout=600, cwd=REPO)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 2 and "refused to load" in lines[0] and "test_weights_import.Custom" in lines[0], r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert files(tmp_path) == ["custom_class.pth"]
