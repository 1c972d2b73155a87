"""Segmentation inference on images with a built SpecNet:

    task = image_task(spec, graph)                    # archspec.spec.inference: preprocess + labels
    net = archspec.build(graph)                       # after archspec.runtime.host.setup(...)
    for img, mask in predict_masks(net, task, images):  # PIL images in, with their class-index
        ...                                             # masks (original size, one class per pixel)

Images are fed in batches of the input's batch size N (the last batch padded), the class scores
of the first output are mapped back to each image's original size (letterbox padding removed),
and the class with the highest score wins. Imports MindSpore.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np

from archspec.prediction.images import class_map, to_input
from archspec.spec.inference import ImageTask


def zeros_input(task: ImageTask):
    from mindspore import Tensor

    pre = task.preprocess
    return Tensor(np.zeros((pre.batch, pre.channels, pre.height, pre.width), np.float32))


def scores(net, batch: np.ndarray) -> np.ndarray:
    """Run the net on an (N, C, H, W) float32 batch; the first output as a NumPy array."""
    from mindspore import Tensor

    from archspec.lower import run

    out = run(net, Tensor(batch))
    if isinstance(out, (tuple, list)):
        out = out[0]
    return out.asnumpy()


def predict_masks(net, task: ImageTask, images: Iterable) -> Iterator[tuple[object, np.ndarray]]:
    """(image, class-index mask) for each image, in order; masks are uint8 (uint16 past 256
    classes) at the image's original size."""
    pre = task.preprocess
    pending: list = []

    def flush() -> Iterator[tuple[object, np.ndarray]]:
        batch = np.zeros((pre.batch, pre.channels, pre.height, pre.width), np.float32)
        for i, (_, arr, _) in enumerate(pending):
            batch[i] = arr
        result = scores(net, batch)
        done = list(pending)
        pending.clear()
        for i, (img, _, place) in enumerate(done):
            yield img, class_map(result[i], place, (pre.height, pre.width))

    for img in images:
        pending.append((img, *to_input(img, pre)))
        if len(pending) == pre.batch:
            yield from flush()
    if pending:
        yield from flush()
