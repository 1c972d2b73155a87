"""Augmentations and normalisation, in NumPy and Pillow, driven by an explicit random generator so
that a sample's augmentation depends only on (seed, epoch, sample index): the same in every
worker process, after a resume, and on every rank.

Segmentation (training), as in the DeepLab papers: random scale, then the image padded with the
mean colour and the mask with the ignore label up to the crop size, a random crop, a random
horizontal flip. Classification: Inception-style random resized crop and flip for training;
evaluation resizes the shorter side to crop / crop_pct and takes the centre crop.

Normalisation is the spec's `preprocess:` (archspec.spec.inference.Preprocess): channels in the
model's order, ((pixel / 255) - mean) / std, NCHW float32, exactly what `archspec predict` feeds.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from archspec.spec.inference import Preprocess

_BILINEAR = Image.Resampling.BILINEAR
_NEAREST = Image.Resampling.NEAREST


@dataclass(frozen=True)
class SegAugment:
    crop: tuple[int, int]  # (height, width)
    scale: tuple[float, float] = (0.5, 2.0)
    flip: bool = True
    ignore_index: int = 255


@dataclass(frozen=True)
class ClsAugment:
    crop: tuple[int, int]
    scale: tuple[float, float] = (0.08, 1.0)  # area fraction of the random resized crop
    ratio: tuple[float, float] = (3 / 4, 4 / 3)
    flip: bool = True
    crop_pct: float = 0.875  # evaluation: resize to crop / crop_pct, then centre crop


def normalize(pixels: np.ndarray, pre: Preprocess) -> np.ndarray:
    """(H, W, 3) RGB pixels (0..255) -> (C, H, W) float32 in the model's channel order."""
    x = pixels.astype(np.float32, copy=False)
    if pre.channel_order == "BGR":
        x = x[:, :, ::-1]
    mean = np.asarray(pre.mean, np.float32) * 255.0
    std = np.asarray(pre.std, np.float32) * 255.0
    return np.ascontiguousarray(((x - mean) / std).transpose(2, 0, 1))


def pad_to(pixels: np.ndarray, mask: np.ndarray, height: int, width: int, pre: Preprocess,
           ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Pad image (with the mean colour: 0 after normalisation) and mask (with the ignore label)
    at the bottom and right to at least (height, width)."""
    h, w = mask.shape
    if h >= height and w >= width:
        return pixels, mask
    H, W = max(h, height), max(w, width)
    canvas = np.empty((H, W, 3), np.float32)
    canvas[:] = np.asarray(pre.mean, np.float32) * 255.0  # the exact mean, so padding normalises to 0
    canvas[:h, :w] = pixels
    padded = np.full((H, W), ignore_index, mask.dtype)
    padded[:h, :w] = mask
    return canvas, padded


def seg_train(img: Image.Image, mask: np.ndarray, rng: np.random.Generator, aug: SegAugment,
              pre: Preprocess) -> tuple[np.ndarray, np.ndarray]:
    """Random scale, pad, random crop and flip; returns (C, h, w) float32 and (h, w) int32."""
    s = rng.uniform(*aug.scale)
    w0, h0 = img.size
    size = (max(1, round(w0 * s)), max(1, round(h0 * s)))
    if size != img.size:
        img = img.resize(size, _BILINEAR)
        mask = np.asarray(Image.fromarray(mask).resize(size, _NEAREST))
    ch, cw = aug.crop
    pixels, mask = pad_to(np.asarray(img, np.float32), mask, ch, cw, pre, aug.ignore_index)
    H, W = mask.shape
    y = int(rng.integers(0, H - ch + 1))
    x = int(rng.integers(0, W - cw + 1))
    pixels, mask = pixels[y:y + ch, x:x + cw], mask[y:y + ch, x:x + cw]
    if aug.flip and rng.random() < 0.5:
        pixels, mask = pixels[:, ::-1], mask[:, ::-1]
    return normalize(pixels, pre), np.ascontiguousarray(mask, dtype=np.int32)


def seg_eval(img: Image.Image, mask: np.ndarray, height: int, width: int, pre: Preprocess,
             ignore_index: int) -> tuple[np.ndarray, np.ndarray]:
    """Evaluation input: the image unscaled, padded at the bottom/right to (height, width); the
    padding's mask is the ignore label, so it never counts."""
    pixels, mask = pad_to(np.asarray(img, np.float32), mask, height, width, pre, ignore_index)
    return normalize(pixels, pre), np.ascontiguousarray(mask, dtype=np.int32)


def cls_train(img: Image.Image, rng: np.random.Generator, aug: ClsAugment, pre: Preprocess) -> np.ndarray:
    """Random resized crop (area and aspect ratio sampled as torchvision does) and flip."""
    w0, h0 = img.size
    area = w0 * h0
    box = None
    for _ in range(10):
        target = area * rng.uniform(*aug.scale)
        ratio = math.exp(rng.uniform(math.log(aug.ratio[0]), math.log(aug.ratio[1])))
        w = round(math.sqrt(target * ratio))
        h = round(math.sqrt(target / ratio))
        if 0 < w <= w0 and 0 < h <= h0:
            x = int(rng.integers(0, w0 - w + 1))
            y = int(rng.integers(0, h0 - h + 1))
            box = (x, y, x + w, y + h)
            break
    if box is None:  # fall back to the centre crop of the whole image
        box = _centre_box(w0, h0, min(w0, h0), min(w0, h0))
    ch, cw = aug.crop
    out = img.resize((cw, ch), _BILINEAR, box=box)
    if aug.flip and rng.random() < 0.5:
        out = out.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return normalize(np.asarray(out, np.float32), pre)


def cls_eval(img: Image.Image, aug: ClsAugment, pre: Preprocess) -> np.ndarray:
    """Resize the shorter side to crop / crop_pct, keep the centre crop."""
    ch, cw = aug.crop
    short = round(min(ch, cw) / aug.crop_pct)
    w0, h0 = img.size
    scale = short / min(w0, h0)
    size = (max(cw, round(w0 * scale)), max(ch, round(h0 * scale)))
    img = img.resize(size, _BILINEAR)
    return normalize(np.asarray(img.crop(_centre_box(*size, cw, ch)), np.float32), pre)


def _centre_box(w0: int, h0: int, w: int, h: int) -> tuple[int, int, int, int]:
    x, y = (w0 - w) // 2, (h0 - h) // 2
    return (x, y, x + w, y + h)
