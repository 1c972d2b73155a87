"""Metrics by their standard definitions, against counts written out by hand."""
from __future__ import annotations

import numpy as np
import pytest

from archspec.training.metrics import ConfusionMatrix, TopK


def test_confusion_matrix_against_hand_counts():
    target = np.array([[0, 0, 1, 255],
                       [1, 1, 2, 2]])
    pred = np.array([[0, 1, 1, 2],
                     [1, 0, 2, 0]])
    cm = ConfusionMatrix(4)
    cm.update(pred, target)
    # rows truth, cols prediction; the 255 pixel is left out
    expected = np.array([[1, 1, 0, 0],
                         [1, 2, 0, 0],
                         [1, 0, 1, 0],
                         [0, 0, 0, 0]])
    np.testing.assert_array_equal(cm.counts, expected)
    # IoU = TP / (TP + FP + FN): class 0: 1 / (1 + 2 + 1); class 1: 2 / (2 + 1 + 1); class 2: 1 / (1 + 0 + 1)
    iou = cm.iou()
    np.testing.assert_allclose(iou[:3], [1 / 4, 2 / 4, 1 / 2])
    assert np.isnan(iou[3])  # neither in the truth nor predicted: not averaged
    assert cm.miou() == pytest.approx((1 / 4 + 2 / 4 + 1 / 2) / 3)
    assert cm.pixel_accuracy() == pytest.approx(4 / 7)


def test_accumulated_over_the_split_not_averaged_per_image():
    cm = ConfusionMatrix(2)
    cm.update(np.array([1, 1, 1, 1]), np.array([1, 1, 1, 1]))  # image 1: class 1 perfect
    cm.update(np.array([0]), np.array([1]))  # image 2: one pixel of class 1 missed
    assert cm.iou()[1] == pytest.approx(4 / 5)  # per image it would be mean(1, 0) = 0.5
    assert cm.iou()[0] == 0.0  # predicted once, never true


def test_top_k():
    t = TopK()
    t.update(np.array([[2, 0, 1], [0, 1, 2], [1, 2, 0]]), np.array([2, 2, 0]))
    assert (t.top1, t.top5) == (pytest.approx(1 / 3), 1.0)
