"""The GRAPH-mode training loop on a tiny spec: log, checkpoints, curves; a NaN loss stops the run
and keeps the last good checkpoint; a full disk keeps the previous checkpoint; an interrupted run
resumed ends with the weights of an uninterrupted one."""
from __future__ import annotations

import errno
import json
import math

import numpy as np
import pytest
from PIL import Image

from archspec.data import synthetic
from archspec.errors import SpecError
from tiny_specs import tiny_seg

TINY = tiny_seg()
BASE = {"batch_size": 4, "crop_size": 24, "log_interval": 1, "lr": 0.05, "data_workers": 1, "eval_size": 48}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    base = tmp_path_factory.mktemp("loop")
    spec = base / "tiny.yaml"
    spec.write_text(TINY)
    data = synthetic.write("voc", base / "voc", train=8, val=3, size=(24, 40))
    return spec, data


def _train(tiny, out, **overrides):
    from archspec.api.train import train

    spec, data = tiny
    on_event = overrides.pop("on_event", None)
    return train(spec, data, out=out, overrides={**BASE, **overrides}, on_event=on_event)


def _log(run):
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def test_a_run_writes_its_log_checkpoints_and_curves(tiny, tmp_path):
    from archspec.weights.checkpoint import load_weights, read_checkpoint

    events = []
    run = tmp_path / "run"
    report = _train(tiny, run, iterations=8, eval_interval=4, on_event=lambda k, **d: events.append((k, d)))
    assert (report.steps, report.total_steps, report.started_at) == (8, 8, 0)
    log = _log(run)
    assert [e["step"] for e in log if "loss" in e] == list(range(1, 9))
    assert [e["step"] for e in log if "eval" in e] == [4, 8]
    first = log[0]
    assert set(first) >= {"step", "epoch", "loss", "lr", "images_per_s"} and first["lr"] == pytest.approx(0.05)
    ev = [e["eval"] for e in log if "eval" in e][-1]
    assert 0 <= ev["miou"] <= 1 and 0 <= ev["pixel_accuracy"] <= 1 and ev["images"] == 3
    assert report.best["miou"] == max(e["eval"]["miou"] for e in log if "eval" in e)
    assert int(read_checkpoint(run / "last.ckpt")["global_step"]) == 8
    assert any(k.startswith("moments.") for k in read_checkpoint(run / "last.ckpt"))
    assert not any(k.startswith("moments.") for k in read_checkpoint(run / "best.ckpt"))
    assert Image.open(run / "curves.png").size[1] > 300  # loss and evaluation panels
    plan = json.loads((run / "run.json").read_text())
    assert plan["recipe"]["lr"] == 0.05 and plan["spec_name"] == "tinyseg"
    kinds = [k for k, _ in events]
    assert kinds[0] == "stage" and kinds[1] == "phase" and kinds[-1] == "done"
    assert all(d.get("name") == "train" for _, d in events)
    adv = [d for k, d in events if k == "advance"]
    assert sum(d["n"] for d in adv) == 8 and all({"loss", "lr", "images_per_s", "eta_s"} <= set(d) for d in adv)
    # last.ckpt and best.ckpt load strictly into the spec's net, at another input size
    import archspec
    from archspec.lower import build_cell

    spec = archspec.load(tiny[0])
    net = build_cell(archspec.resolve(spec, {"image": (1, 3, 40, 56)}))
    for name in ("last.ckpt", "best.ckpt"):
        r = load_weights(net, run / name)
        assert r.loaded == r.total and not r.skipped


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, tmp_path):
    from archspec.weights.checkpoint import read_checkpoint
    from archspec.training.loop import TrainingStopped

    run = tmp_path / "run"
    spec = tmp_path / "nobn.yaml"  # without BatchNorm the largest learning rate a recipe takes diverges
    spec.write_text(tiny_seg(bn_param=True))
    with pytest.raises(TrainingStopped) as info:
        _train((spec, tiny[1]), run, iterations=12, lr=1000, checkpoint_interval=2, bn=False)
    e = info.value
    stopped = [x for x in _log(run) if "stopped" in x][0]
    assert f"at step {stopped['step']}" in e.message and "last good checkpoint" in e.message and "lr" in e.hint
    ckpt = read_checkpoint(run / "last.ckpt")
    assert int(ckpt["global_step"]) < stopped["step"]
    assert all(np.isfinite(v).all() for v in ckpt.values())
    assert (run / "curves.png").exists()


def test_a_new_run_that_fails_before_its_first_checkpoint_leaves_its_folder_as_found(tiny, tmp_path):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"not a checkpoint")
    from archspec.api.train import train

    spec, data = tiny
    for out, existed in ((tmp_path / "new", False), (tmp_path / "empty", True)):
        if existed:
            out.mkdir()
        with pytest.raises(SpecError, match="not a readable MindSpore checkpoint"):
            train(spec, data, out=out, weights=bad, overrides={**BASE, "iterations": 1})
        assert out.exists() == existed and (not existed or not any(out.iterdir()))
    report = _train(tiny, tmp_path / "new", iterations=1)  # the same command runs again, once fixed
    assert report.steps == 1


def test_a_bad_validation_mask_keeps_the_steps_trained(tiny, tmp_path):
    import shutil

    spec, data = tiny
    copy = shutil.copytree(data, tmp_path / "voc")
    mask = sorted((copy / "SegmentationClass").glob("val_*.png"))[0]
    pixels = np.array(Image.open(mask))
    pixels[0, 0] = 200  # neither a class of the tiny net nor 255
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(mask)
    run = tmp_path / "run"
    with pytest.raises(SpecError, match="neither a class"):
        _train((spec, copy), run, iterations=3)
    from archspec.weights.checkpoint import read_checkpoint

    assert int(read_checkpoint(run / "last.ckpt")["global_step"]) == 3  # written before the evaluation


def test_a_full_disk_while_checkpointing_leaves_the_previous_checkpoint(tiny, tmp_path, monkeypatch):
    import archspec.weights.checkpoint as weights_mod
    from archspec.weights.checkpoint import read_checkpoint

    run = tmp_path / "run"
    real_open = open
    calls = {"n": 0}

    class Full:
        """A file on a disk that fills up after a few kilobytes."""

        def __init__(self, f):
            self.f, self.left = f, 4096

        def write(self, data):
            if len(data) > self.left:
                raise OSError(errno.ENOSPC, "No space left on device")
            self.left -= len(data)
            return self.f.write(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    def fake_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        if "w" in mode and str(path).endswith(".ckpt") and "last" in str(path):
            calls["n"] += 1
            if calls["n"] >= 2:
                return Full(f)
        return f

    monkeypatch.setattr(weights_mod, "open", fake_open, raising=False)
    with pytest.raises(SpecError) as info:
        _train(tiny, run, iterations=6, checkpoint_interval=2)
    assert "No space left on device" in info.value.message and "previous one is intact" in info.value.message
    assert int(read_checkpoint(run / "last.ckpt")["global_step"]) == 2
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []  # no temporary files left


def test_an_interrupted_run_resumed_ends_where_an_uninterrupted_one_does(tiny, tmp_path):
    from archspec.api.train import train
    from archspec.weights.checkpoint import read_checkpoint

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _train(tiny, whole, iterations=10)  # 8 samples, batch 4: the resume crosses epochs

    def interrupt(kind, **d):
        if kind == "advance" and d["step"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _train(tiny, parts, iterations=10, on_event=interrupt)
    assert int(read_checkpoint(parts / "last.ckpt")["global_step"]) == 3  # saved on the interrupt
    report = train(tiny[0], resume=parts)
    assert (report.started_at, report.steps) == (3, 10)
    a, b = read_checkpoint(whole / "last.ckpt"), read_checkpoint(parts / "last.ckpt")
    assert set(a) == set(b)
    worst = max(float(np.abs(a[k].astype(np.float64) - b[k]).max()) for k in a)
    assert worst <= 1e-6
    la = [e["loss"] for e in _log(whole) if "loss" in e]
    lb = [e["loss"] for e in _log(parts) if "loss" in e]
    assert la == pytest.approx(lb, abs=1e-6)
    assert not math.isnan(report.last_loss)


def test_starting_weights_load_what_fits(tiny, tmp_path):
    """A checkpoint of another head (4 classes) starts a 5-class run: everything but the classifier loads."""
    from archspec.weights.checkpoint import read_checkpoint

    from archspec.api.train import train

    spec, data = tiny
    train(spec, data, out=tmp_path / "a", overrides={**BASE, "iterations": 1}, val_split=None)
    report = train(spec, data, out=tmp_path / "b", weights=tmp_path / "a" / "last.ckpt", val_split=None,
                   overrides={**BASE, "iterations": 1, "num_classes": 5})
    start = read_checkpoint(tmp_path / "a" / "last.ckpt")
    assert "loaded 10/12 parameters" in report.weights and "2 of another shape" in report.weights
    assert "training-state entries" in report.weights  # a.last.ckpt's momentum and step, ignored
    assert start["logits.conv.weight"].shape[0] == 4
