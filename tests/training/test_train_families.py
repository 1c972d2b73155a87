"""The loss falls over a few steps for every shipped spec family (DeepLabV3+ with ResNet and
MobileNetV2 backbones, the ResNet-50 and MobileNetV2 classifiers), from scratch, at tiny sizes.

The same 4 samples form every batch (no random scale or flip; classifier images have the crop's
size), so a working step must lower the loss (the classifiers' BatchNorm sees 4 values per channel
at their 1x1 last stages, so they take small steps: AdamW for MobileNetV2, SGD at lr 0.003 for
ResNet-50); PYNATIVE mode keeps these quick (the GRAPH-mode step is tested in test_train_loop.py and
test_train_slow.py)."""
from __future__ import annotations

import json
import shutil

import pytest

from archspec.data import synthetic
from conftest import SPECS

FIXED = {"batch_size": 4, "iterations": 5, "log_interval": 1, "scale_range": [1.0, 1.0], "flip": False,
         "data_workers": 1, "eval_interval": 0, "momentum": 0.9}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    base = tmp_path_factory.mktemp("families")
    # MobileNetV2's classifier dropout makes its loss noisy over 5 steps: a child spec turns it off
    (base / "lib").mkdir()
    shutil.copy(SPECS / "mobilenetv2.yaml", base)
    shutil.copy(SPECS / "lib" / "mobilenetv2.yaml", base / "lib")
    (base / "mobilenetv2_nodrop.yaml").write_text(
        "archspec: 1\nname: mobilenetv2_nodrop\nextends: mobilenetv2.yaml\npatch:\n  dropout: {p: 0.0}\n")
    return {"nodrop": base / "mobilenetv2_nodrop.yaml","voc": synthetic.write("voc", base / "voc", train=4, val=1, num_classes=3, size=(36, 40)),
            "folders": synthetic.write("folders", base / "cls", train=4, val=1, num_classes=3, size=(32, 32))}


CASES = [
    ("deeplabv3p_mobilenetv2.yaml", "voc", {"num_classes": 3, "width": 0.35, "crop_size": 33, "lr": 0.05}),
    ("deeplabv3p.yaml", "voc", {"num_classes": 3, "crop_size": 33, "lr": 0.02, "aspp_channels": 32}),
    ("nodrop", "folders", {"num_classes": 3, "width": 0.35, "crop_size": 32, "optimizer": "adamw",
                                     "lr": 0.001, "weight_decay": 0.0}),
    ("resnet50.yaml", "folders", {"num_classes": 3, "crop_size": 32, "lr": 0.003}),
]


@pytest.mark.parametrize("spec,layout,sets", [
    pytest.param(*case, id=name, marks=[pytest.mark.slow] if "resnet50" in name else [])  # ResNets: -m slow
    for case, name in zip(CASES, ["deeplabv3p_mobilenetv2", "deeplabv3p_resnet50", "mobilenetv2", "resnet50"])])
def test_loss_falls(data, tmp_path, spec, layout, sets):
    from archspec.api.train import train

    report = train(data.get(spec, SPECS / spec), data[layout], out=tmp_path / "run", overrides={**FIXED, **sets}, val_split=None,
                   mode="pynative")
    losses = [json.loads(line)["loss"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert len(losses) == 5 and report.steps == 5
    assert min(losses[-2:]) < 0.7 * losses[0], losses
