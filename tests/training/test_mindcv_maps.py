"""MindCV checkpoints as starting weights: the shipped maps rename every tensor of MindCV 0.3.0's
`mobilenet_v2_100` and `resnet50` onto the spec's parameters, and the spec's net then computes
what MindCV's does (random weights and BatchNorm statistics, so a mismapped tensor shows).

The name check runs everywhere, on the names and shapes recorded from MindCV 0.3.0
(mindcv_0.3.0_names.json, `source` says how); the numerical comparison needs MindCV itself and is
skipped without it: MindCV is not a test dependency (an old release, whose import registers 275
models and pulls tqdm, for a check of two data files); models are created with pretrained=False."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SPECS

NAMES = json.loads((Path(__file__).parent / "mindcv_0.3.0_names.json").read_text())["models"]
CASES = [("mobilenet_v2_100", "mobilenetv2.yaml"), ("resnet50", "resnet50.yaml")]


@pytest.mark.parametrize("model,spec", CASES)
def test_every_recorded_mindcv_tensor_maps_onto_the_spec(tmp_path, model, spec):
    from archspec import import_weights

    arrays = {name: np.zeros(shape, np.float32) for name, shape in NAMES[model]}
    np.savez(tmp_path / "w.npz", **arrays)
    report = import_weights(SPECS / spec, tmp_path / "w.npz", None, map_path=SPECS / "maps" / f"mindcv_{model}.yaml")
    assert report.complete and report.written == report.total == len(arrays)


def _mindcv():
    return pytest.importorskip("mindcv")


def _randomize(model, seed=0):
    from mindspore import Tensor

    rng = np.random.default_rng(seed)
    for p in model.get_parameters():
        shape = tuple(p.shape)
        if p.name.endswith("moving_variance"):
            value = rng.uniform(0.5, 1.5, shape)
        elif p.name.endswith("gamma"):
            value = rng.uniform(0.5, 1.5, shape)
        else:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else 1
            value = rng.normal(0, 1 / np.sqrt(fan_in), shape) if len(shape) > 1 else rng.normal(0, 0.1, shape)
        p.set_data(Tensor(value.astype(np.float32)))


def _import_and_compare(ms, tmp_path, model, spec, map_name, overrides, swap=None):
    import archspec
    from archspec.lower import build_cell
    from archspec.weights.checkpoint import load_weights

    _randomize(model)
    model.set_train(False)
    src = tmp_path / "mindcv.ckpt"
    ms.save_checkpoint(model, str(src))
    report = archspec.import_weights(SPECS / spec, src, tmp_path / "spec.ckpt", map_path=SPECS / "maps" / map_name,
                            overrides=overrides)
    assert report.complete and report.written == report.total
    net = build_cell(archspec.resolve(archspec.load(SPECS / spec, overrides)))
    assert load_weights(net, tmp_path / "spec.ckpt").loaded == report.total
    net.set_train(False)
    x = ms.Tensor(np.random.default_rng(1).normal(size=(1, 3, 64, 64)).astype(np.float32))
    ours = net(x).asnumpy()
    if swap is not None:
        theirs_before = model(x).asnumpy()
        swap(model)
    theirs = model(x).asnumpy()
    scale = float(np.abs(theirs).max())
    assert float(np.abs(ours - theirs).max()) <= 1e-4 * scale
    return (theirs_before if swap is not None else theirs), ours, scale


def test_mindcv_mobilenet_v2_100_imports_exactly(ms, tmp_path):
    model = _mindcv().create_model("mobilenet_v2_100", pretrained=False, num_classes=10)
    _import_and_compare(ms, tmp_path, model, "mobilenetv2.yaml", "mindcv_mobilenet_v2_100.yaml",
                        {"num_classes": 10, "size": 64})


def test_mindcv_resnet50_imports_every_tensor(ms, tmp_path):
    """Exact once MindCV's stem max-pool pads like torchvision's; with its own "same" padding the
    numbers differ (the one architectural difference, stated in the map)."""
    from mindspore import nn

    def torchvision_pool(model):
        model.max_pool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="pad", padding=1)

    model = _mindcv().create_model("resnet50", pretrained=False, num_classes=10)
    before, ours, scale = _import_and_compare(ms, tmp_path, model, "resnet50.yaml", "mindcv_resnet50.yaml",
                                              {"num_classes": 10, "size": 64}, swap=torchvision_pool)
    assert float(np.abs(before - ours).max()) > 1e-3 * scale
