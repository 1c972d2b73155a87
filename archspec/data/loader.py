"""Training and evaluation batches through `mindspore.dataset.GeneratorDataset`.

Order and augmentation are functions of the recipe's seed and the epoch, never of process state:

* epoch e visits `permutation(seed, e)` of the split, cut to whole global batches;
* sample k's augmentation draws from `default_rng([seed, e, k])`;
* rank r of W takes positions r, r + W, r + 2W, ... of that order (MindSpore's DistributedSampler
  with `num_shards`/`shard_id` and no shuffle), so global batch b is the same samples whatever the
  number of ranks: rank r's local batch b holds positions b*G + r + W*j (G the global batch);
* a run resumed at step s starts epoch s // steps_per_epoch at batch s % steps_per_epoch.

A dataset error inside a worker process (a bad mask value, an unreadable image) cannot cross
MindSpore's pipeline as a SpecError: it travels as text between markers and `data_errors` turns it
back into the SpecError, with its file and list line.
"""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import numpy as np

from archspec.data import scan, transforms
from archspec.data.layouts import Split
from archspec.errors import Location, SpecError
from archspec.spec.inference import Preprocess

_MARK = "<<archspec-data-error>>"


def steps_per_epoch(n_samples: int, global_batch: int) -> int:
    return n_samples // global_batch


def epoch_order(n_samples: int, global_batch: int, seed: int, epoch: int) -> np.ndarray:
    """The sample indices epoch `epoch` visits, in order (whole global batches only)."""
    perm = np.random.default_rng([seed, epoch]).permutation(n_samples)
    return perm[: steps_per_epoch(n_samples, global_batch) * global_batch]


@dataclass(frozen=True)
class Task:
    """What a sample turns into: the task, its augmentation and the spec's preprocessing."""

    kind: str  # "segmentation" or "classification"
    pre: Preprocess
    num_classes: int
    augment: transforms.SegAugment | transforms.ClsAugment
    ignore_index: int = 255


def _reraise(e: SpecError):
    payload = json.dumps({"message": e.message, "hint": e.hint, "path": e.path,
                          "loc": [e.loc.file, e.loc.line, e.loc.col] if e.loc else None})
    raise RuntimeError(f"{_MARK}{payload}{_MARK}") from None


class TrainSource:
    """Random-access source: item i is sample order[i], augmented with its own generator."""

    def __init__(self, split: Split, order: np.ndarray, task: Task, seed: int, epoch: int) -> None:
        self.samples = split.samples
        self.order = order
        self.task = task
        self.seed = seed
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int):
        k = int(self.order[i])
        s = self.samples[k]
        rng = np.random.default_rng([self.seed, self.epoch, k])
        t = self.task
        try:
            img = scan.read_image(s.image, s.origin)
            if t.kind == "classification":
                return transforms.cls_train(img, rng, t.augment, t.pre), np.int32(s.target)
            mask = scan.read_mask(s.target, s.origin, t.num_classes, t.ignore_index)
            return transforms.seg_train(img, mask, rng, t.augment, t.pre)
        except SpecError as e:
            _reraise(e)


class EvalSource:
    """Sequential source for evaluation: segmentation images padded to (height, width) with the
    padding ignored; classification images resized and centre-cropped."""

    def __init__(self, split: Split, task: Task, size: tuple[int, int]) -> None:
        self.samples = split.samples
        self.task = task
        self.size = size

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, i: int):
        s = self.samples[i]
        t = self.task
        try:
            img = scan.read_image(s.image, s.origin)
            if t.kind == "classification":
                return transforms.cls_eval(img, t.augment, t.pre), np.int32(s.target)
            mask = scan.read_mask(s.target, s.origin, t.num_classes, t.ignore_index)
            return transforms.seg_eval(img, mask, *self.size, t.pre, t.ignore_index)
        except SpecError as e:
            _reraise(e)


def _dataset(source, batch: int, workers: int, rank: int = 0, world: int = 1, drop_remainder: bool = True):
    import mindspore.dataset as ds

    data = ds.GeneratorDataset(source, column_names=["image", "target"], shuffle=False,
                               num_parallel_workers=max(1, workers), python_multiprocessing=workers > 1,
                               num_shards=world if world > 1 else None, shard_id=rank if world > 1 else None)
    return data.batch(batch, drop_remainder=drop_remainder)


def train_batches(split: Split, task: Task, *, seed: int, epoch: int, start_batch: int, local_batch: int,
                  rank: int = 0, world: int = 1, workers: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images, targets) NumPy batches of one epoch for this rank, from global batch `start_batch`."""
    global_batch = local_batch * world
    order = epoch_order(len(split), global_batch, seed, epoch)[start_batch * global_batch:]
    if len(order) == 0:
        return
    data = _dataset(TrainSource(split, order, task, seed, epoch), local_batch, workers, rank, world)
    with data_errors():
        for image, target in data.create_tuple_iterator(num_epochs=1, output_numpy=True):
            yield image, target


def eval_batches(split: Split, task: Task, size: tuple[int, int], batch: int,
                 workers: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images, targets) of the whole split in order; the last batch may be smaller."""
    data = _dataset(EvalSource(split, task, size), batch, workers, drop_remainder=False)
    with data_errors():
        for image, target in data.create_tuple_iterator(num_epochs=1, output_numpy=True):
            yield image, target


@contextmanager
def data_errors():
    """Turn a dataset error that crossed MindSpore's pipeline back into its SpecError."""
    try:
        yield
    except RuntimeError as e:
        found = re.search(re.escape(_MARK) + "(.*?)" + re.escape(_MARK), str(e), re.S)
        if not found:
            raise
        d = json.loads(found.group(1))
        loc = Location(*d["loc"]) if d["loc"] else None
        raise SpecError(d["message"], loc, d["path"], d["hint"]) from None
