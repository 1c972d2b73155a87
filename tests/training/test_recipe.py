"""Recipes: the shipped ones load with their published settings; mistakes are positioned
(file:line:col or --set) with did-you-mean; --set values are typed; the schedule's numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest

from archspec.errors import SpecError, SpecErrors
from archspec.training.recipe import load_recipe, shipped
from archspec.training.schedule import learning_rates

HEAD = "archrecipe: 1\n"


def _write(tmp_path, text):
    p = tmp_path / "r.yaml"
    p.write_text(HEAD + text)
    return p


def _one(fn, *a, **k) -> SpecError:
    with pytest.raises((SpecError, SpecErrors)) as info:
        fn(*a, **k)
    e = info.value
    errs = list(e.errors) if isinstance(e, SpecErrors) else [e]
    assert len(errs) == 1, [x.render() for x in errs]
    return errs[0]


def test_shipped_recipes_have_the_published_settings():
    assert shipped() == ["cityscapes_deeplabv3p", "imagenet_classifier", "voc_deeplabv3p"]
    voc = load_recipe("voc_deeplabv3p")
    assert (voc.optimizer, voc.lr, voc.momentum, voc.schedule, voc.power, voc.iterations, voc.batch_size,
            voc.crop, voc.scale_range, voc.weight_decay) == ("sgd", 0.01, 0.9, "poly", 0.9, 30000, 16, (513, 513),
                                                             [0.5, 2.0], 1e-4)
    cs = load_recipe("cityscapes_deeplabv3p")
    assert (cs.lr, cs.crop, cs.eval_hw) == (0.1, (768, 768), (1024, 2048))
    cls = load_recipe("imagenet_classifier")
    assert (cls.lr, cls.batch_size, cls.schedule, cls.epochs, cls.label_smoothing, cls.decay_bn_and_bias) == \
        (0.1, 256, "cosine", 120, 0.1, False)


def test_unknown_key_in_a_file_is_positioned_with_did_you_mean(tmp_path):
    p = _write(tmp_path, "iterations: 10\nmomentun: 0.8\n")
    e = _one(load_recipe, p)
    assert (e.loc.file, e.loc.line, e.loc.col) == (str(p), 3, 1)
    assert "unknown key 'momentun'" in e.message and "did you mean 'momentum'" in e.hint


def test_bad_value_is_positioned_at_the_value(tmp_path):
    p = _write(tmp_path, "iterations: 10\noptimizer: adam\n")
    e = _one(load_recipe, p)
    assert (e.loc.line, e.loc.col) == (3, 12) and "'sgd' or 'adamw'" in e.message


def test_set_overrides_are_typed_and_named(tmp_path):
    r = load_recipe("voc_deeplabv3p", {"lr": "0.02", "crop_size": "[257, 321]", "flip": "false",
                                       "weight_decay": "1e-5"})
    assert (r.lr, r.crop, r.flip, r.weight_decay) == (0.02, (257, 321), False, 1e-5)
    e = _one(load_recipe, "voc_deeplabv3p", {"lrr": "1"})
    assert e.loc.file == "--set" and "did you mean 'lr'" in e.hint
    e = _one(load_recipe, "voc_deeplabv3p", {"lr": "-1"})
    assert e.loc.file == "--set" and "greater than 0" in e.message


def test_epochs_on_the_command_line_replace_iterations():
    r = load_recipe("voc_deeplabv3p", {"epochs": "3", "batch_size": "4"})
    assert (r.iterations, r.epochs, r.total_steps(10)) == (None, 3, 6)


def test_length_crop_and_scale_checks(tmp_path):
    e = _one(load_recipe, _write(tmp_path, "lr: 0.1\n"))
    assert "exactly one of iterations and epochs" in e.message
    e = _one(load_recipe, _write(tmp_path, "iterations: 5\ncrop_size: [4, 300]\n"))
    assert "from 8 to" in e.message and e.path == "crop_size" and e.loc.line == HEAD.count("\n") + 2
    e = _one(load_recipe, _write(tmp_path, "iterations: 5\nscale_range: [2.0, 0.5]\n"))
    assert "low <= high" in e.message and e.loc.line == HEAD.count("\n") + 2


@pytest.mark.parametrize("key, value, words", [
    ("lr", "inf", "finite"), ("lr", ".nan", "finite"), ("lr", "true", "boolean"), ("lr", "1e300", "at most 1000"),
    ("eps", ".inf", "finite"),
    ("betas", "[1.5, 0.9]", "below 1"), ("scale_range", "[0.5, .inf]", "finite"),
    ("class_weights", "[.nan, 1]", "finite"), ("crop_size", "100000", "from 8 to"), ("batch_size", "2.0", "whole"),
    ("warmup_iterations", "100", "longer than the run's 10 iterations"), ("min_lr", "1", "above lr"),
])
def test_absurd_values_are_refused_where_they_were_given(key, value, words):
    e = _one(load_recipe, "voc_deeplabv3p", {"iterations": "10", key: value})
    assert words in e.message and e.loc.file == "--set" and e.path.startswith(key), e.render()


def test_a_schedule_of_a_billion_steps_costs_nothing_up_front():
    lrs = learning_rates(load_recipe("voc_deeplabv3p", {"iterations": str(10**9)}), 10**9)
    assert len(lrs) == 10**9 and lrs[0] == pytest.approx(0.01) and lrs[10**9 - 1] < 1e-9
    with pytest.raises(IndexError):
        lrs[10**9]


def test_recipe_not_found_suggests_shipped_ones():
    e = _one(load_recipe, "voc_deeplabv3")
    assert e.loc.file == "--recipe" and "voc_deeplabv3p" in e.hint


def test_not_yaml_and_tags_are_refused(tmp_path):
    p = tmp_path / "r.yaml"
    p.write_text("archrecipe: 1\nlr: !!python/object:os.system x\n")
    e = _one(load_recipe, p)
    assert "not allowed" in e.message and e.loc.line == 2


def test_poly_cosine_and_warmup_numbers():
    r = load_recipe("voc_deeplabv3p", {"iterations": "100"})
    lrs = learning_rates(r, 100)
    assert len(lrs) == 100 and lrs[0] == pytest.approx(0.01)
    assert lrs[50] == pytest.approx(0.01 * 0.5 ** 0.9, rel=1e-6)
    assert lrs[99] == pytest.approx(0.01 * 0.01 ** 0.9, rel=1e-5)
    r = load_recipe("voc_deeplabv3p", {"iterations": "20", "schedule": "cosine", "warmup_iterations": "10",
                                       "warmup_factor": "0.1", "min_lr": "0.001"})
    lrs = learning_rates(r, 20)
    np.testing.assert_allclose(lrs[:10], 0.01 * (0.1 + 0.9 * np.arange(10) / 10), rtol=1e-6)
    assert lrs[10] == pytest.approx(0.01)
    assert lrs[15] == pytest.approx(0.001 + 0.009 * 0.5 * (1 + math.cos(math.pi * 5 / 10)), rel=1e-6)


def test_an_empty_recipe_or_a_folder_is_named_as_a_recipe(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    e = _one(load_recipe, tmp_path / "empty.yaml")
    assert e.message == "the file is empty" and "archrecipe: 1" in e.hint
    e = _one(load_recipe, tmp_path)
    assert "recipe file" in e.message and "spec" not in e.message
