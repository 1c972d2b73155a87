"""Evaluation metrics by their standard definitions (NumPy only).

Segmentation: one confusion matrix accumulated over the whole split (rows: ground truth, columns:
prediction; pixels labelled with the ignore index are left out), then per class
IoU_c = TP_c / (TP_c + FP_c + FN_c), mIoU = the mean over the classes present (those with
TP + FP + FN > 0, i.e. in the ground truth or the predictions), pixel accuracy = trace / total.
Not averaged per image.

Classification: top-1 and top-5 accuracy over the split.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class ConfusionMatrix:
    def __init__(self, num_classes: int, ignore_index: int = 255) -> None:
        self.n = num_classes
        self.ignore = ignore_index
        self.counts = np.zeros((num_classes, num_classes), np.int64)

    def update(self, pred: np.ndarray, target: np.ndarray) -> None:
        """Add predicted and true class maps of the same shape (any batch layout)."""
        if pred.shape != target.shape:
            raise ValueError(f"prediction {pred.shape} and target {target.shape} differ in shape")
        t = target.reshape(-1).astype(np.int64)
        p = pred.reshape(-1).astype(np.int64)
        keep = t != self.ignore
        t, p = t[keep], p[keep]
        if t.size and (t.max() >= self.n or t.min() < 0):
            raise ValueError(f"target holds class {int(t.max())}, beyond the {self.n} classes")
        self.counts += np.bincount(t * self.n + p, minlength=self.n * self.n).reshape(self.n, self.n)

    def iou(self) -> np.ndarray:
        """Per-class IoU; NaN for classes neither in the ground truth nor predicted."""
        tp = np.diag(self.counts).astype(np.float64)
        union = self.counts.sum(0) + self.counts.sum(1) - tp
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(union > 0, tp / np.maximum(union, 1), np.nan)

    def miou(self) -> float:
        iou = self.iou()
        return float(np.nanmean(iou)) if np.isfinite(iou).any() else float("nan")

    def pixel_accuracy(self) -> float:
        total = self.counts.sum()
        return float(np.trace(self.counts) / total) if total else float("nan")


@dataclass
class TopK:
    correct1: int = 0
    correct5: int = 0
    total: int = 0

    def update(self, topk: np.ndarray, target: np.ndarray) -> None:
        """`topk`: (N, k) class indices, best first (k >= 1); `target`: (N,)."""
        hit = topk == target.reshape(-1, 1)
        self.correct1 += int(hit[:, :1].any(1).sum())
        self.correct5 += int(hit[:, :5].any(1).sum())
        self.total += int(target.size)

    @property
    def top1(self) -> float:
        return self.correct1 / self.total if self.total else float("nan")

    @property
    def top5(self) -> float:
        return self.correct5 / self.total if self.total else float("nan")
