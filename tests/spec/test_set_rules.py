"""What --set may change: a derived param is refused at the --set, naming its sources; and the
labels check gives the same answer in validate and predict, with or without --set."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import archspec
from archspec.errors import SpecError
from archspec.spec.inference import check_spec, image_task
from conftest import catch, write

REPO = Path(__file__).resolve().parents[2]
DEEPLAB = REPO / "specs" / "deeplabv3p.yaml"
MBV2 = REPO / "specs" / "deeplabv3p_mobilenetv2.yaml"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "archspec", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)


def test_setting_a_derived_param_names_its_source():
    r = cli("validate", DEEPLAB, "--set", "os16=true")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.startswith("--set: params.os16: os16 is derived from output_stride; set that")
    assert "deeplabv3p.yaml:15" in r.stderr  # where os16 is defined, in the hint
    (e,) = catch(archspec.load, MBV2, {"vainf": True})  # from Python too
    assert e.message == "vainf is derived from padding_style; set that" and e.loc.file == "overrides"


def test_derived_param_with_several_sources_and_settable_computed_defaults(tmp_path):
    p = write(tmp_path, "a.yaml", """\
archspec: 1
name: a
params:
  h: 8
  w: 8
  area: "${h * w}"
  half: {type: int, default: "${h // 2}"}
input: {x: [1, 3, "${h}", "${w}"]}
graph:
  - {op: conv, out: "${half}", k: 1}
""")
    (e,) = catch(archspec.load, p, {"area": "4"}, override_source="--set")
    assert e.message == "area is derived from h and w; set those"
    spec = archspec.load(p, {"half": "3"}, override_source="--set")  # declared with a type: a default, settable
    assert spec.values["half"] == 3


def test_labels_rule_is_the_same_in_validate_and_predict():
    spec = archspec.load(MBV2, {"num_classes": 19, "size": 65})
    graph = archspec.resolve(spec)
    (from_validate,) = catch(check_spec, spec, graph)
    (from_predict,) = catch(image_task, spec, graph)
    assert from_validate.render() == from_predict.render()
    assert "label set 'voc' has 21 classes but output 'out' has 19 channels" in from_validate.message
    assert "labels: cityscapes" in from_validate.hint
    r = cli("validate", MBV2, "--set", "num_classes=19")  # the CLI calls the same check
    assert r.returncode == 2 and "label set 'voc' has 21 classes" in r.stderr
    # a --set that keeps the classes is fine in both
    spec = archspec.load(MBV2, {"size": 129})
    graph = archspec.resolve(spec)
    check_spec(spec, graph)
    assert len(image_task(spec, graph).labels) == 21
    assert cli("validate", MBV2, "--set", "size=129").returncode == 0


def test_a_child_spec_with_its_labels_passes_both(tmp_path):
    p = write(tmp_path, "city.yaml", "archspec: 1\nname: city\nextends: archspec:deeplabv3p_mobilenetv2.yaml\n"
                                     "params: {num_classes: 19, size: 65}\nlabels: cityscapes\n")
    spec = archspec.load(p)
    graph = archspec.resolve(spec)
    check_spec(spec, graph)
    assert image_task(spec, graph).labels.names[0] == "road"
    with pytest.raises(SpecError, match="19 channels"):
        check_spec(archspec.load(MBV2, {"num_classes": 19}), archspec.resolve(archspec.load(MBV2, {"num_classes": 19})))
