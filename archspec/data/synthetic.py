"""A small synthetic dataset in each supported layout, for tests, the README walkthrough and the
benchmarks (no download needed):

    python -m archspec.data.synthetic voc data/voc --train 24 --val 8

Images are noisy backgrounds with coloured shapes, one shape kind and colour per class (class 1 a
disc, 2 a box, 3 a triangle, ...), so a small net learns them in a few hundred steps; masks mark
each shape with its class and a one-pixel "void" ring with 255, as VOC's masks do. Classification
images hold one shape, of their class.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from archspec.spec.labels import voc_color

COLORS = [(40, 40, 40), (220, 60, 60), (60, 200, 80), (70, 90, 230), (230, 200, 40), (200, 70, 220)]


def _shape(draw: ImageDraw.ImageDraw, kind: int, box: tuple[int, int, int, int], fill) -> None:
    x0, y0, x1, y1 = box
    if kind % 3 == 1:
        draw.ellipse(box, fill=fill)
    elif kind % 3 == 2:
        draw.rectangle(box, fill=fill)
    else:
        draw.polygon([((x0 + x1) // 2, y0), (x1, y1), (x0, y1)], fill=fill)


def scene(rng: np.random.Generator, size: tuple[int, int], num_classes: int,
          objects: int = 2) -> tuple[Image.Image, np.ndarray]:
    """An RGB image and its class-index mask (uint8, 255 on the object borders)."""
    w, h = size
    base = rng.normal(COLORS[0], 12, (h, w, 3)).clip(0, 255).astype(np.uint8)
    img = Image.fromarray(base)
    mask = Image.new("L", size, 0)
    ring = Image.new("L", size, 0)
    di, dm, dr = ImageDraw.Draw(img), ImageDraw.Draw(mask), ImageDraw.Draw(ring)
    for _ in range(objects):
        c = int(rng.integers(1, num_classes))
        s = int(rng.integers(min(w, h) // 4, min(w, h) // 2 + 1))
        x0, y0 = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
        box = (x0, y0, x0 + s, y0 + s)
        color = tuple(int(v) for v in np.clip(np.array(COLORS[c % len(COLORS)]) + rng.integers(-20, 21, 3), 0, 255))
        _shape(dr, c, (x0 - 1, y0 - 1, x0 + s + 1, y0 + s + 1), 255)
        _shape(dr, c, box, 0)  # the ring is what the slightly larger shape adds
        _shape(di, c, box, color)
        _shape(dm, c, box, c)
    m = np.asarray(mask).copy()
    m[np.asarray(ring) == 255] = 255
    return img, m


def classify_image(rng: np.random.Generator, size: tuple[int, int], label: int) -> Image.Image:
    w, h = size
    img = Image.fromarray(rng.normal(COLORS[0], 12, (h, w, 3)).clip(0, 255).astype(np.uint8))
    s = int(rng.integers(min(w, h) // 2, min(w, h) - 2))
    x0, y0 = int(rng.integers(0, w - s)), int(rng.integers(0, h - s))
    _shape(ImageDraw.Draw(img), label + 1, (x0, y0, x0 + s, y0 + s), COLORS[(label + 1) % len(COLORS)])
    return img


def _palette_png(mask: np.ndarray) -> Image.Image:
    img = Image.fromarray(mask, mode="L").convert("P")
    img.putpalette([v for i in range(256) for v in voc_color(i)])
    return img


def _sizes(rng, n, lo, hi):
    return [(int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))) for _ in range(n)]


def write(layout: str, root: str | Path, *, train: int = 24, val: int = 8, num_classes: int = 4,
          size: tuple[int, int] = (40, 64), seed: int = 0) -> Path:
    """Write a synthetic dataset in `layout` (voc, cityscapes, list or folders) under `root`.
    Segmentation image sides are drawn from `size` (min, max); returns root."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    splits = {"train": train, "val": val}
    for split, n in splits.items():
        for i, wh in enumerate(_sizes(rng, n, *size)):
            name = f"{split}_{i:04d}"
            if layout == "folders":
                label = i % num_classes
                folder = root / split / f"class_{label}"
                folder.mkdir(parents=True, exist_ok=True)
                classify_image(rng, wh, label).save(folder / f"{name}.png")
                continue
            img, mask = scene(rng, wh, num_classes)
            if layout == "voc":
                for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
                    (root / sub).mkdir(parents=True, exist_ok=True)
                img.save(root / "JPEGImages" / f"{name}.jpg", quality=95)
                _palette_png(mask).save(root / "SegmentationClass" / f"{name}.png")
                with open(root / "ImageSets" / "Segmentation" / f"{split}.txt", "a") as f:
                    f.write(name + "\n")
            elif layout == "cityscapes":
                city = "synth"
                (root / "leftImg8bit" / split / city).mkdir(parents=True, exist_ok=True)
                (root / "gtFine" / split / city).mkdir(parents=True, exist_ok=True)
                img.save(root / "leftImg8bit" / split / city / f"{city}_{i:06d}_000019_leftImg8bit.png")
                Image.fromarray(mask, mode="L").save(
                    root / "gtFine" / split / city / f"{city}_{i:06d}_000019_gtFine_labelTrainIds.png")
            elif layout == "list":
                (root / "images").mkdir(parents=True, exist_ok=True)
                (root / "masks").mkdir(parents=True, exist_ok=True)
                img.save(root / "images" / f"{name}.png")
                Image.fromarray(mask, mode="L").save(root / "masks" / f"{name}.png")
                with open(root / f"{split}.txt", "a") as f:
                    f.write(f"images/{name}.png masks/{name}.png\n")
            else:
                raise ValueError(f"unknown layout {layout!r}")
    return root


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m archspec.data.synthetic", description=__doc__.split("\n\n")[0])
    p.add_argument("layout", choices=["voc", "cityscapes", "list", "folders"])
    p.add_argument("root")
    p.add_argument("--train", type=int, default=24)
    p.add_argument("--val", type=int, default=8)
    p.add_argument("--classes", type=int, default=4)
    p.add_argument("--min-size", type=int, default=40)
    p.add_argument("--max-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if Path(a.root).exists() and any(Path(a.root).iterdir()):
        p.error(f"{a.root} exists and is not empty")
    write(a.layout, a.root, train=a.train, val=a.val, num_classes=a.classes, size=(a.min_size, a.max_size),
          seed=a.seed)
    print(f"wrote a synthetic {a.layout} dataset ({a.train} train, {a.val} val) to {a.root}")


if __name__ == "__main__":
    main()
