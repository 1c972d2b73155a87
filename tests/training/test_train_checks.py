"""`train` checks everything before anything slow: each user mistake is one positioned SpecError,
raised before MindSpore is imported."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archspec.data import synthetic
from archspec.errors import SpecError, SpecErrors
from conftest import SPECS

REPO = Path(__file__).resolve().parents[2]
DLV3P = SPECS / "deeplabv3p_mobilenetv2.yaml"
SMALL = {"num_classes": 4, "width": 0.35, "iterations": 2, "batch_size": 2, "crop_size": 33, "eval_size": 64}


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return synthetic.write("voc", tmp_path_factory.mktemp("checks") / "voc", train=4, val=2, size=(24, 40))


def _error(tmp_path, data, **kw) -> SpecError:
    from archspec.training.planning import plan_run

    kw.setdefault("out", tmp_path / "run")
    overrides = {**SMALL, **kw.pop("overrides", {})}
    with pytest.raises((SpecError, SpecErrors)) as info:
        plan_run(kw.pop("spec", DLV3P), data, overrides=overrides, **kw)
    e = info.value
    return e.errors[0] if isinstance(e, SpecErrors) else e


def test_a_good_plan(voc, tmp_path):
    from archspec.training.planning import plan_run

    plan = plan_run(DLV3P, voc, overrides=SMALL, out=tmp_path / "run")
    assert (plan.layout, plan.task, plan.num_classes, plan.n_train, plan.total_steps) == ("voc", "segmentation", 4, 4, 2)
    assert plan.recipe_source.endswith("voc_deeplabv3p.yaml") and plan.eval_size == [64, 64]
    assert plan.spec_overrides == {"num_classes": 4, "width": 0.35} and plan.recipe["lr"] == 0.01


def test_o2_is_refused_on_cpu_at_its_place(voc, tmp_path):
    e = _error(tmp_path, voc, overrides={"amp_level": "O2"})
    assert "runs on Ascend, not on CPU" in e.message and e.loc.file == "--set"
    recipe = tmp_path / "r.yaml"
    recipe.write_text("archrecipe: 1\niterations: 2\namp_level: O2\n")
    e = _error(tmp_path, voc, recipe=recipe)
    assert (e.loc.file, e.loc.line, e.loc.col) == (str(recipe), 3, 12)


def test_set_keys_are_routed_with_did_you_mean_over_both(voc, tmp_path):
    e = _error(tmp_path, voc, overrides={"widht": 0.5})
    assert "did you mean 'width'" in e.hint
    e = _error(tmp_path, voc, overrides={"lrr": 0.5})
    assert "did you mean 'lr'" in e.hint
    e = _error(tmp_path, voc, overrides={"num_classes": 0})
    assert e.loc.file == "--set" and "num_classes" in e.message


def test_dataset_mistakes(voc, tmp_path):
    assert "fewer than one batch" in _error(tmp_path, voc, overrides={"batch_size": 8}).message
    assert "does not split evenly over 3 workers" in _error(tmp_path, voc, workers=3).message
    assert "is a segmentation net" in _error(tmp_path, synthetic.write("folders", tmp_path / "f", train=2, val=1)).message
    e = _error(tmp_path, voc, overrides={"eval_size": 32})
    assert "larger than eval_size 32x32" in e.message and e.loc.file == "--set"
    e = _error(tmp_path, voc, overrides={"class_weights": [1.0, 2.0]})
    assert "class_weights has 2 values for 4 classes" in e.message
    e = _error(tmp_path, voc, val_split="tset")
    assert "did you mean 'test'" not in e.hint and "has no split 'tset'" in e.message
    e = _error(tmp_path, voc, overrides={"ignore_index": 3})
    assert "is one of the 4 classes" in e.message and e.loc.file == "--set"
    e = _error(tmp_path, voc, overrides={"crop_size": 16000})  # too large to build: named by what set it
    assert "the limit for one tensor" in e.message and "crop_size" in e.hint and "--input-shape" not in e.hint


def test_train_and_val_problems_come_in_one_report(tmp_path):
    """A user fixing a dataset sees every bad file of both splits at once, not the val split's after
    fixing the train split's."""
    from archspec.training.planning import plan_run

    root = synthetic.write("list", tmp_path / "data", train=4, val=2, size=(24, 40))
    (root / "images" / "train_0001.png").unlink()
    (root / "masks" / "val_0000.png").unlink()
    with pytest.raises(SpecErrors) as info:
        plan_run(DLV3P, root, overrides=SMALL, out=tmp_path / "run")
    where = {(Path(e.loc.file).name, e.loc.line) for e in info.value.errors}
    assert where == {("train.txt", 2), ("val.txt", 1)}
    assert not (tmp_path / "run").exists()


def test_classifier_classes_must_match_the_folders(tmp_path):
    data = synthetic.write("folders", tmp_path / "f", train=6, val=2, num_classes=3, size=(32, 32))
    e = _error(tmp_path, data, spec=SPECS / "mobilenetv2.yaml",
               overrides={"num_classes": 5, "crop_size": 32, "eval_size": None, "batch_size": 2})
    assert "3 classes but the spec's output has 5" in e.message and "--set num_classes=3" in e.hint


def test_run_folder_and_weights(voc, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "log.jsonl").write_text("{}\n")
    e = _error(tmp_path, voc, out=tmp_path / "used")
    assert "already holds files" in e.message and "--resume" in e.hint
    torch_file = tmp_path / "w.pth"
    torch_file.write_bytes(b"x")
    e = _error(tmp_path, voc, weights=torch_file)
    assert "PyTorch" in e.message and "archspec weights import" in e.hint
    e = _error(tmp_path, voc, weights=tmp_path / "missing.ckpt")
    assert "not found" in e.message


def test_resume_keeps_what_decides_the_data_order(voc, tmp_path):
    from archspec.training.plan import load_plan
    from archspec.training.planning import resume_plan

    with pytest.raises(SpecError, match="not a training run"):
        resume_plan(tmp_path)
    from archspec.training.planning import plan_run

    run = tmp_path / "run"
    run.mkdir()
    plan_run(DLV3P, voc, overrides=SMALL, out=run).save(run)
    with pytest.raises(SpecError, match="no last.ckpt"):
        resume_plan(run)
    (run / "last.ckpt").write_bytes(b"")
    with pytest.raises(SpecError, match="keeps batch_size"):
        resume_plan(run, overrides={"batch_size": 4})
    with pytest.raises(SpecError, match="keeps its spec params"):
        resume_plan(run, overrides={"width": 0.5})
    longer = resume_plan(run, overrides={"iterations": 5, "lr": 0.001})
    assert (longer.total_steps, longer.recipe["lr"]) == (5, 0.001)
    assert load_plan(run).total_steps == 2  # the run file changes only when the run continues
    again = resume_plan(run, overrides={**SMALL, "iterations": 3})  # the starting command, with --resume added
    assert again.total_steps == 3
    moved = tmp_path / "moved"
    run.rename(moved)
    assert resume_plan(moved).out == str(moved.resolve())  # continues where the run is now
    (moved / "run.json").write_text("[1, 2]")
    with pytest.raises(SpecError, match="expected a JSON object"):
        resume_plan(moved)


def test_checks_run_without_importing_mindspore(voc, tmp_path):
    code = ("import sys\nfrom archspec.api.train import train\nfrom archspec.errors import SpecError\n"
            f"try:\n    train({str(DLV3P)!r}, {str(voc)!r}, out={str(tmp_path / 'r')!r}, "
            "overrides={'num_classes': 4, 'amp_level': 'O2'})\nexcept SpecError as e:\n    print(e.message)\n"
            "assert not any(m.startswith('mindspore') for m in sys.modules), 'mindspore imported'\n")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120, capture_output=True, text=True)
    assert "runs on Ascend" in out.stdout
