"""`archspec train` and `archspec eval` as a user runs them: a tiny run from a VOC folder to a
checkpoint, its evaluation table, and user mistakes as one message with exit status 2."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.data import synthetic
from tiny_specs import tiny_seg

ROOT = Path(__file__).resolve().parents[2]
TINY = tiny_seg(num_classes=3, dropout=False, labels="[background, disc, box]")


def archspec(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "archspec.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    base = tmp_path_factory.mktemp("cli")
    (base / "tiny.yaml").write_text(TINY)
    synthetic.write("voc", base / "voc", train=4, val=2, num_classes=3, size=(24, 32))
    return base


def test_train_then_eval_from_the_command_line(case):
    r = archspec("train", "tiny.yaml", "--data", "voc", "--out", "run", "--set", "iterations=4", "--set",
                 "batch_size=2", "--set", "crop_size=24", "--set", "log_interval=2", "--set", "eval_size=32", cwd=case)
    assert r.returncode == 0, r.stderr
    assert "tinyseg: trained 4 steps of 4 on 1 process(es)" in r.stdout
    assert "best miou" in r.stdout and (case / "run" / "best.ckpt").exists()
    assert "run folder run: last.ckpt" in r.stdout  # paths as the user typed them, not absolute
    assert "step 2: loss" in r.stderr and "images/s" in r.stderr  # progress, one line per log when piped
    r = archspec("eval", case / "tiny.yaml", "-w", case / "run" / "last.ckpt", "--data", case / "voc", "--size", "32",
                 "--json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["images"] == 2 and [c[0] for c in report["per_class"]] == ["background", "disc", "box"]
    best = json.loads((case / "run" / "log.jsonl").read_text().splitlines()[-1])["eval"]["miou"]
    assert report["miou"] == pytest.approx(best, abs=1e-12)  # the same weights and size as the run's last eval


@pytest.mark.parametrize("args, needle", [
    (["--set", "lrr=0.1"], "did you mean 'lr'"),
    (["--set", "amp_level=O2"], "runs on Ascend, not on CPU"),
    (["--recipe", "voc_deeplabv3"], "voc_deeplabv3p"),
    (["--data", "nowhere"], "does not exist"),
])
def test_train_mistakes_exit_2_with_one_message(case, args, needle):
    base = ["train", case / "tiny.yaml", "--out", case / "never"]
    if "--data" not in args:
        base += ["--data", case / "voc"]
    r = archspec(*base, *args)
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert not (case / "never").exists()
