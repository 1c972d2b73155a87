"""Augmentations (deterministic per sample, image and mask kept aligned, padding that never
counts) and the mindspore.dataset pipeline (order from seed and epoch, shards that add up to the
single-process batches, resume from a batch, dataset errors that cross worker processes)."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from archspec.data import synthetic
from archspec.data.layouts import open_split
from archspec.data.loader import Task, epoch_order, eval_batches, train_batches
from archspec.data.transforms import ClsAugment, SegAugment, cls_eval, normalize, seg_eval, seg_train
from archspec.errors import SpecError
from archspec.spec.inference import Preprocess

PRE = Preprocess(resize="letterbox", mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                 pad_value=(124, 116, 104), channel_order="RGB", interpolation="bilinear", input_name="image",
                 batch=1, channels=3, height=32, width=32)


def _marked_image(w=20, h=14):
    """An image whose red channel encodes x and green encodes y, and a mask equal to x % 4."""
    xs, ys = np.meshgrid(np.arange(w), np.arange(h))
    pixels = np.stack([xs * 10, ys * 10, np.full_like(xs, 50)], -1).astype(np.uint8)
    return Image.fromarray(pixels), (xs % 4).astype(np.uint8)


def _unnormalize(x):
    mean = np.asarray(PRE.mean, np.float32)[:, None, None] * 255
    std = np.asarray(PRE.std, np.float32)[:, None, None] * 255
    return x * std + mean


def test_normalize_matches_what_predict_feeds():
    from archspec.prediction.images import to_input

    img, _ = _marked_image(32, 32)
    pre = Preprocess(**{**PRE.__dict__, "resize": "none"})
    ours = normalize(np.asarray(img, np.float32), pre)
    theirs, _ = to_input(img, pre)
    np.testing.assert_allclose(ours, theirs, atol=1e-6)
    bgr = Preprocess(**{**pre.__dict__, "channel_order": "BGR"})
    np.testing.assert_allclose(normalize(np.asarray(img, np.float32), bgr), to_input(img, bgr)[0], atol=1e-6)


def test_seg_train_keeps_image_and_mask_aligned_and_is_deterministic():
    img, mask = _marked_image()
    aug = SegAugment(crop=(16, 16), scale=(1.0, 1.0), flip=True)
    flips = set()
    for seed in range(12):
        x, y = seg_train(img, mask, np.random.default_rng(seed), aug, PRE)
        x2, y2 = seg_train(img, mask, np.random.default_rng(seed), aug, PRE)
        np.testing.assert_array_equal(x, x2)
        np.testing.assert_array_equal(y, y2)
        assert x.shape == (3, 16, 16) and y.shape == (16, 16) and y.dtype == np.int32
        red = np.rint(_unnormalize(x)[0])
        valid = y != 255
        # the mask is x % 4 and red is 10 x: wherever the image is (not padding) they agree
        np.testing.assert_array_equal((red[valid] / 10).astype(int) % 4, y[valid])
        flips.add(bool(red[0, 0] > red[0, -1]) if valid[0, 0] and valid[0, -1] else None)
    assert {True, False} <= flips


def test_padding_is_the_mean_and_the_ignore_label():
    img, mask = _marked_image(10, 6)
    x, y = seg_eval(img, mask, 12, 16, PRE, 255)
    assert x.shape == (3, 12, 16)
    assert np.all(y[6:, :] == 255) and np.all(y[:, 10:] == 255)
    np.testing.assert_allclose(x[:, 6:, :], 0, atol=1e-6)  # the mean colour normalises to 0
    np.testing.assert_array_equal(y[:6, :10], mask)


def test_random_scale_resizes_masks_without_new_values():
    img, mask = _marked_image(40, 30)
    aug = SegAugment(crop=(24, 24), scale=(0.5, 2.0))
    for seed in range(6):
        _, y = seg_train(img, mask, np.random.default_rng(seed), aug, PRE)
        assert set(np.unique(y)) <= {0, 1, 2, 3, 255}


def test_cls_eval_centre_crop_of_a_uniform_image_is_uniform():
    img = Image.new("RGB", (50, 30), (200, 10, 90))
    x = cls_eval(img, ClsAugment(crop=(16, 16)), PRE)
    assert x.shape == (3, 16, 16)
    np.testing.assert_allclose(_unnormalize(x)[:, 5, 5], [200, 10, 90], atol=1e-3)


# --------------------------------------------------------------------------- pipeline


@pytest.fixture(scope="module")
def voc(tmp_path_factory):
    return synthetic.write("voc", tmp_path_factory.mktemp("pipe") / "voc", train=12, val=3, size=(24, 32))


def _task(crop=16):
    return Task("segmentation", PRE, 4, SegAugment(crop=(crop, crop)), 255)


def _collect(split, **kw):
    return [(x, y) for x, y in train_batches(split, _task(), seed=3, **kw)]


def test_order_depends_on_seed_and_epoch_only():
    a = epoch_order(12, 4, seed=3, epoch=0)
    np.testing.assert_array_equal(a, epoch_order(12, 4, seed=3, epoch=0))
    assert sorted(a) == list(range(12))
    assert not np.array_equal(a, epoch_order(12, 4, seed=3, epoch=1))
    assert len(epoch_order(13, 4, seed=3, epoch=0)) == 12  # whole global batches only


def test_two_shards_make_the_single_process_batches(voc):
    split = open_split(voc, "train")
    single = _collect(split, epoch=1, start_batch=0, local_batch=4)
    r0 = _collect(split, epoch=1, start_batch=0, local_batch=2, rank=0, world=2)
    r1 = _collect(split, epoch=1, start_batch=0, local_batch=2, rank=1, world=2)
    assert len(single) == len(r0) == len(r1) == 3
    for (xs, ys), (x0, y0), (x1, y1) in zip(single, r0, r1):
        # global positions r + 2j: rank 0 holds samples 0 and 2 of the global batch, rank 1 holds 1 and 3
        np.testing.assert_array_equal(xs[0::2], x0)
        np.testing.assert_array_equal(xs[1::2], x1)
        np.testing.assert_array_equal(ys[1::2], y1)


def test_resume_from_a_batch_gives_the_rest_of_the_epoch(voc):
    split = open_split(voc, "train")
    full = _collect(split, epoch=2, start_batch=0, local_batch=4)
    tail = _collect(split, epoch=2, start_batch=1, local_batch=4, workers=2)
    assert len(tail) == 2
    for (xa, ya), (xb, yb) in zip(full[1:], tail):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_a_bad_mask_in_a_worker_process_is_reported_with_its_line(voc, tmp_path):
    import shutil

    root = tmp_path / "voc"
    shutil.copytree(voc, root)
    listing = root / "ImageSets" / "Segmentation" / "train.txt"
    name = listing.read_text().splitlines()[4]
    mask = np.asarray(Image.open(root / "SegmentationClass" / f"{name}.png")).copy()
    mask[0, 0] = 17
    Image.fromarray(mask).save(root / "SegmentationClass" / f"{name}.png")
    with pytest.raises(SpecError) as info:
        _collect(open_split(root, "train"), epoch=0, start_batch=0, local_batch=4, workers=2)
    e = info.value
    assert (e.loc.file, e.loc.line) == (str(listing), 5)
    assert "has values 17" in e.message and f"{name}.png" in e.message


def test_eval_batches_cover_the_split_in_order(voc):
    split = open_split(voc, "val")
    got = list(eval_batches(split, _task(), (32, 32), batch=2))
    assert [x.shape[0] for x, _ in got] == [2, 1]
    assert all(x.shape[1:] == (3, 32, 32) for x, _ in got)
