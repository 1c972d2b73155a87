"""`evaluate` against metrics computed by hand, with networks whose prediction is known: a 1x1
conv with identity weights predicts, per pixel, the colour channel that is largest (segmentation);
a pooled dense layer with identity weights, the largest mean colour (classification). Images of
several sizes exercise the padding (ignored), the last, partial batch, and the CSV and picture."""
from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import Image

from archspec.errors import SpecError

SEG = """\
archspec: 1
name: argmax_rgb
input: {image: [1, 3, 16, 16]}
graph:
  - {id: head, op: conv, out: 3, k: 1, bias: true}
outputs: [head]
preprocess: {mean: [0.0, 0.0, 0.0], std: [1.0, 1.0, 1.0]}
labels: [red, green, blue]
"""
CLS = """\
archspec: 1
name: mean_rgb
input: {image: [1, 3, 16, 16]}
graph:
  - {id: pool, op: global_avgpool}
  - {id: flat, op: flatten}
  - {id: fc, op: dense, out: 3}
outputs: [fc]
preprocess: {mean: [0.0, 0.0, 0.0], std: [1.0, 1.0, 1.0]}
"""


def _pixels(rng, h, w):
    """Random colours whose largest channel is unique (no ties for arg-max)."""
    while True:
        px = rng.integers(0, 256, (h, w, 3)).astype(np.uint8)
        top = np.sort(px, axis=-1)
        if np.all(top[..., 2] > top[..., 1]):
            return px


@pytest.fixture(scope="module")
def seg_case(tmp_path_factory):
    from archspec.weights.checkpoint import write_checkpoint

    base = tmp_path_factory.mktemp("eval")
    (base / "spec.yaml").write_text(SEG)
    write_checkpoint({"head.conv.weight": np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1),
                      "head.conv.bias": np.zeros(3, np.float32)}, base / "w.ckpt")
    rng = np.random.default_rng(5)
    data = base / "data"
    (data / "img").mkdir(parents=True)
    lines = []
    for i, (h, w) in enumerate([(9, 13), (16, 11), (12, 12)]):
        Image.fromarray(_pixels(rng, h, w)).save(data / "img" / f"{i}.png")
        mask = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(h, w), p=[0.3, 0.3, 0.3, 0.1])
        Image.fromarray(mask).save(data / "img" / f"{i}_m.png")
        lines.append(f"img/{i}.png img/{i}_m.png")
    (data / "val.txt").write_text("\n".join(lines) + "\n")
    return base


def _hand_confusion(data):
    cm = np.zeros((3, 3), np.int64)
    for line in (data / "val.txt").read_text().split("\n"):
        if not line:
            continue
        img, mask = line.split()
        px = np.asarray(Image.open(data / img))
        m = np.asarray(Image.open(data / mask))
        for y in range(m.shape[0]):
            for x in range(m.shape[1]):
                if m[y, x] != 255:
                    cm[m[y, x], int(np.argmax(px[y, x]))] += 1
    return cm


def test_segmentation_metrics_agree_with_a_hand_computed_confusion_matrix(seg_case, tmp_path):
    from archspec.api.evaluate import evaluate

    cm = _hand_confusion(seg_case / "data")
    report = evaluate(seg_case / "spec.yaml", seg_case / "w.ckpt", seg_case / "data", "val", batch=2,
                      out=tmp_path / "eval")
    tp = np.diag(cm)
    iou = tp / (cm.sum(0) + cm.sum(1) - tp)
    assert report.images == 3 and report.size == (16, 13)  # the largest height and width of the split
    assert report.miou == pytest.approx(iou.mean(), abs=1e-12)
    assert report.pixel_accuracy == pytest.approx(tp.sum() / cm.sum(), abs=1e-12)
    assert [name for name, _ in report.per_class] == ["red", "green", "blue"]
    assert [v for _, v in report.per_class] == pytest.approx(list(iou), abs=1e-12)
    rows = list(csv.reader(open(report.confusion_csv)))
    assert rows[0] == ["truth \\ prediction", "red", "green", "blue"]
    np.testing.assert_array_equal(np.array([r[1:] for r in rows[1:]], int), cm)
    assert Image.open(report.confusion_png).size[0] > 3 * 20
    assert report.images_per_s > 0


def test_evaluation_size_may_be_larger_and_never_smaller_than_the_images(seg_case):
    from archspec.api.evaluate import evaluate

    cm = _hand_confusion(seg_case / "data")
    report = evaluate(seg_case / "spec.yaml", seg_case / "w.ckpt", seg_case / "data", size=(24, 20))
    assert report.size == (24, 20) and report.pixel_accuracy == pytest.approx(np.trace(cm) / cm.sum())
    with pytest.raises(SpecError, match="larger than the evaluation size 12x12") as info:
        evaluate(seg_case / "spec.yaml", seg_case / "w.ckpt", seg_case / "data", size=12)
    assert info.value.loc.file == "--size"
    with pytest.raises(SpecError, match="would have") as info:  # too large to build: the option that set it
        evaluate(seg_case / "spec.yaml", seg_case / "w.ckpt", seg_case / "data", size=(60000, 60000))
    assert info.value.loc.file == "--size" and "--input-shape" not in info.value.hint


def test_classification_top1_top5_by_hand(tmp_path):
    from archspec.api.evaluate import evaluate
    from archspec.weights.checkpoint import write_checkpoint

    (tmp_path / "spec.yaml").write_text(CLS)
    write_checkpoint({"fc.weight": np.eye(3, dtype=np.float32), "fc.bias": np.zeros(3, np.float32)},
                     tmp_path / "w.ckpt")
    colours = {"a": [(200, 10, 10), (10, 10, 200)], "b": [(10, 200, 10), (10, 220, 10)], "c": [(10, 10, 250)]}
    right = 0
    for split in ("train", "val"):
        for k, (name, cols) in enumerate(colours.items()):
            (tmp_path / "d" / split / name).mkdir(parents=True)
            for i, c in enumerate(cols):
                Image.new("RGB", (20, 17), c).save(tmp_path / "d" / split / name / f"{i}.png")
                right += split == "val" and int(np.argmax(c)) == k
    report = evaluate(tmp_path / "spec.yaml", tmp_path / "w.ckpt", tmp_path / "d", "val",
                      overrides=None, batch=2)
    assert report.task == "classification" and report.images == 5
    assert report.top1 == pytest.approx(right / 5) and report.top5 == 1.0


def test_evaluate_checks_before_building(seg_case, tmp_path):
    from archspec.api.evaluate import evaluate

    with pytest.raises(SpecError, match="weights not found"):
        evaluate(seg_case / "spec.yaml", tmp_path / "nope.ckpt", seg_case / "data")
    with pytest.raises(SpecError, match="has no split 'test'"):
        evaluate(seg_case / "spec.yaml", seg_case / "w.ckpt", seg_case / "data", "test")
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"\x00" * 40)
    with pytest.raises(SpecError, match="not a readable MindSpore checkpoint|holds no tensors"):
        evaluate(seg_case / "spec.yaml", bad, seg_case / "data")
    from archspec.weights.checkpoint import write_checkpoint

    other = write_checkpoint({"head.conv.weight": np.ones((5, 3, 1, 1), np.float32),
                              "head.conv.bias": np.zeros(5, np.float32)}, tmp_path / "other.ckpt")
    with pytest.raises(SpecError, match="does not fit|no tensor of the checkpoint fits") as info:
        evaluate(seg_case / "spec.yaml", other, seg_case / "data")
    assert "--allow-partial" not in info.value.hint  # eval has no such option: its hint does not offer it
    with pytest.raises(SpecError):  # a failed evaluation leaves no folders behind
        evaluate(seg_case / "spec.yaml", other, seg_case / "data", out=tmp_path / "eval" / "out")
    assert not (tmp_path / "eval").exists()
