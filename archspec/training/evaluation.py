"""Evaluating a spec's network on a split, at an input size of its own.

The spec is re-resolved at the evaluation size (`archspec.resolve(spec, {"image": (N, 3, H, W)})`;
parameter names and shapes do not depend on H and W, so weights trained on crops load as they are).
Segmentation: every image is evaluated unscaled, padded at the bottom and right to one fixed size
(by default the largest image of the split) with the mean colour, its padding labelled "ignore",
so one compiled network serves the whole split and the numbers are those of the image itself (as
DeepLab's own evaluation pads VOC images to 513x513). The class per pixel (arg-max) is computed
inside the network, so only class maps come back to the host. Classification: resize the shorter
side to crop / crop_pct and take the centre crop; top-1 and top-5 inside the network.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from archspec.data.layouts import Split
from archspec.data.loader import Task, eval_batches
from archspec.training.metrics import ConfusionMatrix, TopK


@dataclass
class EvalResult:
    task: str
    split: str
    images: int
    size: tuple[int, int]  # network input (height, width)
    seconds: float
    miou: float | None = None
    pixel_accuracy: float | None = None
    iou: list[float | None] = field(default_factory=list)  # per class; None: not present
    confusion: np.ndarray | None = None
    top1: float | None = None
    top5: float | None = None

    @property
    def images_per_s(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else float("nan")

    @property
    def metric(self) -> tuple[str, float]:
        """The number that picks the best checkpoint: mIoU, or top-1 accuracy."""
        return ("miou", self.miou) if self.task == "segmentation" else ("top1", self.top1)

    def summary(self) -> dict:
        out = {"split": self.split, "images": self.images, "images_per_s": round(self.images_per_s, 3)}
        if self.task == "segmentation":
            out.update(miou=self.miou, pixel_accuracy=self.pixel_accuracy)
        else:
            out.update(top1=self.top1, top5=self.top5)
        return out


def _head(net, segmentation: bool, k: int):
    """The net followed by the per-pixel arg-max (segmentation) or the top-k classes."""
    from mindspore import nn, ops

    class ClassMap(nn.Cell):
        def __init__(self, net):
            super().__init__(auto_prefix=False)
            self.net = net

        def construct(self, x):
            return ops.argmax(self.net(x), 1)

    class TopClasses(nn.Cell):
        def __init__(self, net, k):
            super().__init__(auto_prefix=False)
            self.net = net
            self.k = k

        def construct(self, x):
            return ops.topk(self.net(x), self.k)[1]

    return ClassMap(net) if segmentation else TopClasses(net, k)


class Evaluator:
    """A network for evaluation at (batch, C, H, W), fed a split; weights copied in by name."""

    def __init__(self, spec, split: Split, task: Task, size: tuple[int, int], batch: int, workers: int = 1) -> None:
        from archspec.graph import spec_graph

        self.split, self.task, self.size, self.batch, self.workers = split, task, size, batch, workers
        pre = task.pre
        graph = spec_graph(spec, {pre.input_name: (batch, pre.channels, *size)})
        self.graph = graph
        from archspec.lower import build_cell

        self.net = build_cell(graph)
        self.net.set_train(False)
        self.head = _head(self.net, task.kind == "segmentation", min(5, task.num_classes))
        self.head.set_train(False)

    def load_from(self, net) -> None:
        """Copy the weights of a (training) net with the same parameter names."""
        from mindspore import Tensor

        source = {p.name: p for p in net.get_parameters()}
        for p in self.net.get_parameters():
            p.set_data(Tensor(source[p.name].asnumpy()))

    def run(self, on_batch=None) -> EvalResult:
        """Evaluate the split; `on_batch(n)` after each batch of n images."""
        from mindspore import Tensor

        t = self.task
        seg = t.kind == "segmentation"
        cm = ConfusionMatrix(t.num_classes, t.ignore_index) if seg else None
        topk = None if seg else TopK()
        start = time.perf_counter()
        images = 0
        for x, y in eval_batches(self.split, t, self.size, self.batch, self.workers):
            n = x.shape[0]
            if n < self.batch:  # the last batch: pad, so the compiled shape holds
                x = np.concatenate([x, np.zeros((self.batch - n, *x.shape[1:]), x.dtype)])
            out = self.head(Tensor(x)).asnumpy()[:n]
            if seg:
                cm.update(out, y)
            else:
                topk.update(out, y)
            images += n
            if on_batch is not None:
                on_batch(n)
        seconds = time.perf_counter() - start
        result = EvalResult(t.kind, self.split.name, images, self.size, seconds)
        if seg:
            result.miou, result.pixel_accuracy = cm.miou(), cm.pixel_accuracy()
            result.iou = [None if np.isnan(v) else float(v) for v in cm.iou()]
            result.confusion = cm.counts
        else:
            result.top1, result.top5 = topk.top1, topk.top5
        return result
