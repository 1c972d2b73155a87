"""Checkpoints in and out of a built SpecNet (archspec/runtime/weights.py) and `archspec build
--weights/--allow-partial/--save-ckpt`. No PyTorch needed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import archspec
from archspec.errors import SpecError

REPO = Path(__file__).resolve().parents[2]
SPECS = REPO / "specs"

TINY = """\
archspec: 1
name: tiny
params: {num_classes: 5, width: 8}
input: {image: [1, 3, 16, 16]}
graph:
  - {id: stem, op: conv, out: "${width}", k: 3, stride: 2, bn: true, act: relu}
  - {id: body, op: conv, out: "${width}", k: 3, bn: true, act: relu}
  - {id: pool, op: global_avgpool}
  - {id: flat, op: flatten}
  - {id: fc, op: dense, out: "${num_classes}"}
outputs: [fc]
"""


@pytest.fixture(scope="module")
def tiny_spec(tmp_path_factory):
    p = tmp_path_factory.mktemp("spec") / "tiny.yaml"
    p.write_text(TINY)
    return p


def build(spec_path, **overrides):
    return archspec.build(archspec.resolve(archspec.load(spec_path, overrides=overrides))).net


def params_of(net) -> dict[str, np.ndarray]:
    return {p.name: p.data.asnumpy().copy() for p in net.get_parameters()}


def randomize(ms, net, seed=0):
    rng = np.random.default_rng(seed)
    for p in net.get_parameters():
        value = rng.uniform(0.5, 1.5, p.shape) if "variance" in p.name else rng.standard_normal(p.shape)
        p.set_data(ms.Tensor(value.astype(np.float32)))


def only_files(folder: Path) -> list[str]:
    return sorted(f.name for f in folder.iterdir())


# --------------------------------------------------------------------------------------------
# round trips


def test_save_load_round_trip_gives_identical_outputs(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import load_weights, save_weights

    a, b = build(tiny_spec), build(tiny_spec)
    randomize(ms, a, 1)
    path = save_weights(a, tmp_path / "a.ckpt")
    assert only_files(tmp_path) == ["a.ckpt"]
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # like any file the user writes, not mkstemp's 0600
    report = load_weights(b, path)
    assert (report.loaded, report.total, report.skipped, report.source) == (12, 12, [], str(path))
    assert report.summary() == f"loaded 12/12 parameters from {path}"
    for name, value in params_of(a).items():
        np.testing.assert_array_equal(params_of(b)[name], value)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((1, 3, 16, 16)).astype(np.float32))
    np.testing.assert_array_equal(a(x).asnumpy(), b(x).asnumpy())


def test_files_are_mindspore_checkpoints_both_ways(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import load_weights, read_checkpoint, save_weights

    net = build(tiny_spec)
    randomize(ms, net, 2)
    ours = save_weights(net, tmp_path / "ours.ckpt")
    loaded = ms.load_checkpoint(str(ours), crc_check=True)  # MindSpore reads ours, CRC included
    assert list(loaded) == [p.name for p in net.get_parameters()]
    for name, value in params_of(net).items():
        np.testing.assert_array_equal(loaded[name].asnumpy(), value)
    theirs = tmp_path / "theirs.ckpt"
    ms.save_checkpoint(net, str(theirs))
    arrays = read_checkpoint(theirs)
    assert set(arrays) == set(loaded)
    fresh = build(tiny_spec)
    assert load_weights(fresh, theirs).loaded == 12


def test_save_refuses_to_overwrite_and_wrong_suffix(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import save_weights

    net = build(tiny_spec)
    target = save_weights(net, tmp_path / "w.ckpt")
    with pytest.raises(SpecError, match="already exists") as info:
        save_weights(net, target)
    assert "--force" in info.value.hint
    save_weights(net, target, force=True)
    with pytest.raises(SpecError, match=r"should end in \.ckpt"):
        save_weights(net, tmp_path / "w.bin")
    save_weights(net, tmp_path / "new" / "w.ckpt")  # a missing folder is created, as with mkdir -p
    assert only_files(tmp_path) == ["new", "w.ckpt"] and only_files(tmp_path / "new") == ["w.ckpt"]


def test_failed_write_leaves_nothing(ms, tmp_path):
    from archspec.weights.checkpoint import write_checkpoint

    with pytest.raises(SpecError, match="data type"):
        write_checkpoint({"ok": np.zeros(3, np.float32), "bad": np.zeros(2, np.complex64)}, tmp_path / "x.ckpt")
    assert only_files(tmp_path) == []


# --------------------------------------------------------------------------------------------
# strictness


def test_strict_load_lists_missing_unexpected_and_mismatched_in_one_error(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import load_weights, write_checkpoint

    net = build(tiny_spec)
    good = params_of(net)
    arrays = dict(good)
    del arrays["stem.conv.weight"], arrays["body.batchnorm.gamma"]  # 2 missing
    arrays["fc.weight"] = np.zeros((7, 8), np.float32)  # 1 of another shape
    arrays["extra.weight"] = np.zeros(3, np.float32)  # 2 unexpected
    arrays["head.bias"] = np.zeros(3, np.float32)
    arrays["epoch_num"] = np.array([3], np.int32)  # training bookkeeping: ignored
    arrays["moments.fc.bias"] = np.zeros(5, np.float32)  # optimizer state: ignored
    path = write_checkpoint(arrays, tmp_path / "bad.ckpt")
    fresh = build(tiny_spec)
    before = params_of(fresh)
    with pytest.raises(SpecError) as info:
        load_weights(fresh, path)
    e = info.value
    assert e.loc.file == str(path)
    assert "(2 missing, 1 of another shape, 2 unexpected)" in e.message
    assert "missing from the checkpoint (2): stem.conv.weight, body.batchnorm.gamma" in e.message
    assert "shape differs (1): fc.weight: checkpoint [7, 8], network [5, 8]" in e.message
    assert "not in the network (2): extra.weight, head.bias" in e.message
    assert "epoch_num" not in e.message and "moments" not in e.message
    assert "--allow-partial" in e.hint
    for name, value in params_of(fresh).items():  # a failed strict load changes nothing
        np.testing.assert_array_equal(value, before[name])


def test_long_lists_show_the_first_few_and_the_count(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import load_weights, write_checkpoint

    arrays = {f"other.{i}.weight": np.zeros(2, np.float32) for i in range(30)}
    path = write_checkpoint(arrays, tmp_path / "other.ckpt")
    with pytest.raises(SpecError) as info:
        load_weights(build(tiny_spec), path)
    msg = info.value.message
    assert "no tensor of the checkpoint fits network 'tiny'" in msg
    assert "not in the network (30): other.0.weight" in msg and "... and 22 more" in msg
    assert "missing from the checkpoint (12)" in msg and "... and 4 more" in msg
    assert "weights import" in info.value.hint


def test_allow_partial_for_a_new_number_of_classes(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import load_weights, save_weights

    src = build(tiny_spec)
    randomize(ms, src, 3)
    path = save_weights(src, tmp_path / "five.ckpt")
    seven = build(tiny_spec, num_classes=7)
    with pytest.raises(SpecError, match="of another shape"):
        load_weights(seven, path)
    before = params_of(seven)
    report = load_weights(seven, path, allow_partial=True)
    assert (report.loaded, report.total) == (10, 12)
    assert report.mismatched == ["fc.weight: checkpoint [5, 8], network [7, 8]", "fc.bias: checkpoint [5], network [7]"]
    assert report.skipped == ["fc.weight: shape [5, 8] in the checkpoint, [7, 8] in the network",
                              "fc.bias: shape [5] in the checkpoint, [7] in the network"]
    assert "skipped 2 of another shape (kept as initialized)" in report.summary()
    after, source = params_of(seven), params_of(src)
    for name in after:
        expected = before[name] if name.startswith("fc.") else source[name]
        np.testing.assert_array_equal(after[name], expected)


def test_allow_partial_still_refuses_a_checkpoint_with_nothing_that_fits(ms, tiny_spec, tmp_path):
    from archspec.weights.checkpoint import load_weights, write_checkpoint

    path = write_checkpoint({"x.weight": np.zeros(2, np.float32)}, tmp_path / "x.ckpt")
    with pytest.raises(SpecError, match="no tensor of the checkpoint fits"):
        load_weights(build(tiny_spec), path, allow_partial=True)


# --------------------------------------------------------------------------------------------
# damaged and wrong files


@pytest.fixture(scope="module")
def good_ckpt(ms, tiny_spec, tmp_path_factory):
    from archspec.weights.checkpoint import save_weights

    return save_weights(build(tiny_spec), tmp_path_factory.mktemp("good") / "good.ckpt")


def damaged(kind: str, good: Path, folder: Path) -> Path:
    data = good.read_bytes()
    p = folder / f"{kind}.ckpt"
    if kind == "truncated":
        p.write_bytes(data[: len(data) // 2])
    elif kind == "truncated_inside_a_tensor":
        p.write_bytes(data[: len(data) - 40])
    elif kind == "bitflip":
        b = bytearray(data)
        b[len(b) // 2] ^= 0x55
        p.write_bytes(bytes(b))
    elif kind == "garbage":
        p.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "pytorch_name":
        p = folder / "weights.pth"
        p.write_bytes(data)
    elif kind == "folder":
        p = folder / "dir.ckpt"
        p.mkdir()
    elif kind == "missing":
        p = folder / "nope.ckpt"
    return p


DAMAGE = {
    "truncated": "truncated", "truncated_inside_a_tensor": "truncated", "bitflip": "CRC32 check failed",
    "garbage": "not a readable MindSpore checkpoint", "empty": "the file is empty",
    "pytorch_name": "looks like a PyTorch", "folder": "a folder", "missing": "not found",
}


@pytest.mark.parametrize("kind", sorted(DAMAGE))
def test_damaged_checkpoints_are_one_clean_error(ms, tiny_spec, good_ckpt, tmp_path, kind):
    from archspec.weights.checkpoint import load_weights

    path = damaged(kind, good_ckpt, tmp_path)
    with pytest.raises(SpecError) as info:
        load_weights(build(tiny_spec), path)
    assert DAMAGE[kind] in info.value.message, info.value.render()
    assert info.value.loc.file == str(path)


# --------------------------------------------------------------------------------------------
# the CLI


def cli(*args):
    from archspec.cli.app import app

    return CliRunner().invoke(app, [str(a) for a in args])


def test_build_save_ckpt_then_weights_round_trip(ms, tmp_path):
    spec = SPECS / "mobilenetv2.yaml"
    out = tmp_path / "init.ckpt"
    r = cli("build", spec, "--set", "size=32", "--save-ckpt", out)
    assert r.exit_code == 0, r.output
    assert f"wrote {out} (262 tensors)" in r.stdout and out.is_file()
    again = cli("build", spec, "--set", "size=32", "--save-ckpt", out)
    assert again.exit_code == 2 and "--force" in again.stderr
    r = cli("build", spec, "--set", "size=32", "--weights", out, "--json")
    assert r.exit_code == 0, r.output
    import json

    assert json.loads(r.stdout)["weights"] == [f"loaded 262/262 parameters from {out}"]
    r = cli("build", spec, "--set", "size=32", "--set", "num_classes=10", "--weights", out)
    assert r.exit_code == 2
    assert "(2 of another shape)" in r.stderr and "fc.weight: checkpoint [1000, 1280], network [10, 1280]" in r.stderr
    assert "--allow-partial" in r.stderr and "Traceback" not in r.output
    r = cli("build", spec, "--set", "size=32", "--set", "num_classes=10", "--weights", out, "--allow-partial")
    assert r.exit_code == 0, r.output
    assert "loaded 260/262 parameters" in r.stdout and "shape differs (2): fc.weight" in r.stdout
    assert only_files(tmp_path) == ["init.ckpt"]


def test_build_allow_partial_needs_weights(ms):
    r = cli("build", SPECS / "mobilenetv2.yaml", "--set", "size=32", "--allow-partial")
    assert r.exit_code == 2 and "--allow-partial needs --weights" in r.stderr


def test_build_with_a_corrupt_checkpoint_in_a_fresh_process(good_ckpt, tmp_path):
    """The real command line: exit 2, one message, no traceback, no MindSpore log noise."""
    path = damaged("truncated", good_ckpt, tmp_path)
    r = subprocess.run([sys.executable, "-m", "archspec.cli", "build", str(SPECS / "mobilenetv2.yaml"),
                        "--set", "size=32", "--weights", str(path)], capture_output=True, text=True, timeout=600,
                       cwd=REPO)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip() and not line.startswith("archspec: ")]
    assert lines[0].startswith(f"{path}: not a readable MindSpore checkpoint"), r.stderr
    assert len(lines) == 2 and lines[1].startswith("  hint:"), r.stderr
    assert "Traceback" not in r.stderr + r.stdout
