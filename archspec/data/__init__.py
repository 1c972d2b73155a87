"""Datasets in the layouts users already have (Pascal VOC, Cityscapes, list files, class folders),
read in place; augmentations; batches through `mindspore.dataset`, sharded per rank.

    split = open_split("data/VOC2012", "train")       # layouts.py: list the samples (no decoding)
    report = scan_split(split)                        # scan.py: every header, all problems at once
    for images, masks in train_batches(split, task, seed=0, epoch=0, start_batch=0, local_batch=8):
        ...                                           # loader.py (imports MindSpore)

`layouts`, `scan` and `transforms` need no MindSpore; `loader` imports it when it builds a pipeline.
"""
from archspec.data.layouts import LAYOUTS, Sample, Split, detect_layout, open_split

__all__ = ["LAYOUTS", "Sample", "Split", "detect_layout", "open_split"]
