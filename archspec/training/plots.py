"""Pictures of a run, drawn with Pillow (no plotting library): the loss and evaluation curves
(`curves.png`) and a confusion matrix (`confusion.png`). Written atomically."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw

from archspec.files import atomic_path
from archspec.prediction.images import label_font

PANEL = (560, 300)
MARGIN = (64, 28, 20, 40)  # left, top, right, bottom
GRID = (225, 225, 225)
INK = (30, 30, 30)
LINE = [(31, 119, 180), (214, 39, 40), (44, 160, 44), (148, 103, 189)]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        return [lo]
    step = 10 ** math.floor(math.log10((hi - lo) / n))
    for mult in (1, 2, 5, 10):
        if (hi - lo) / (step * mult) <= n:
            step *= mult
            break
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def _panel(title: str, series: Sequence[tuple[str, Sequence[float], Sequence[float]]]) -> Image.Image:
    img = Image.new("RGB", PANEL, "white")
    d = ImageDraw.Draw(img)
    font = label_font(12)
    left, top, right, bottom = MARGIN
    x0, y0, x1, y1 = left, top, PANEL[0] - right, PANEL[1] - bottom
    d.text((left, 6), title, fill=INK, font=font)
    pts = [(x, y) for _, xs, ys in series for x, y in zip(xs, ys) if math.isfinite(y)]
    if not pts:
        d.text((x0 + 10, (y0 + y1) // 2), "no data", fill=INK, font=font)
        return img
    xmin, xmax = min(p[0] for p in pts), max(p[0] for p in pts)
    ymin, ymax = min(p[1] for p in pts), max(p[1] for p in pts)
    if xmax == xmin:
        xmax = xmin + 1
    if ymax == ymin:
        ymin, ymax = ymin - 0.5, ymax + 0.5
    pad = (ymax - ymin) * 0.05
    ymin, ymax = ymin - pad, ymax + pad

    def sx(x):
        return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0)

    def sy(y):
        return y1 - (y - ymin) / (ymax - ymin) * (y1 - y0)

    for t in _ticks(ymin, ymax):
        d.line([(x0, sy(t)), (x1, sy(t))], fill=GRID)
        d.text((4, sy(t) - 7), f"{t:.3g}", fill=INK, font=font)
    for t in _ticks(xmin, xmax):
        d.line([(sx(t), y0), (sx(t), y1)], fill=GRID)
        d.text((sx(t) - 10, y1 + 6), f"{t:.6g}", fill=INK, font=font)
    d.rectangle([x0, y0, x1, y1], outline=INK)
    d.text((x1 - 30, y1 + 20), "step", fill=INK, font=font)
    for k, (name, xs, ys) in enumerate(series):
        color = LINE[k % len(LINE)]
        line = [(sx(x), sy(y)) for x, y in zip(xs, ys) if math.isfinite(y)]
        if len(line) > 1:
            d.line(line, fill=color, width=2)
        for p in line if len(line) < 40 else line[-1:]:
            d.ellipse([p[0] - 2, p[1] - 2, p[0] + 2, p[1] + 2], fill=color)
    x = x1  # the legend, right-aligned on the title line, clear of the curves
    for k in reversed(range(len(series))):
        name = series[k][0]
        x -= int(d.textlength(name, font=font)) + 22
        d.line([(x, 13), (x + 14, 13)], fill=LINE[k % len(LINE)], width=3)
        d.text((x + 18, 6), name, fill=INK, font=font)
    return img


def draw_curves(panels: Sequence[tuple[str, Sequence[tuple[str, Sequence[float], Sequence[float]]]]],
                path: Path) -> Path:
    """One panel per (title, [(series name, steps, values), ...]), stacked vertically."""
    images = [_panel(title, series) for title, series in panels]
    out = Image.new("RGB", (PANEL[0], PANEL[1] * len(images)), "white")
    for i, im in enumerate(images):
        out.paste(im, (0, PANEL[1] * i))
    with atomic_path(path, suffix=".png") as tmp:
        out.save(tmp, format="PNG")
    return path


def draw_confusion(counts: np.ndarray, names: Sequence[str], path: Path, max_cell: int = 28) -> Path:
    """Rows (ground truth) normalised to 1, as a white-to-blue heat map with class names."""
    n = counts.shape[0]
    cell = max(3, min(max_cell, 700 // max(n, 1)))
    font = label_font(max(8, min(12, cell - 2)))
    label_w = 0 if cell < 9 else 8 + max(int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(s, font=font))
                                           for s in names)
    caption = "rows: ground truth, columns: prediction (row-normalised)"
    caption_w = int(ImageDraw.Draw(Image.new("L", (1, 1))).textlength(caption, font=label_font(11)))
    size = (max(label_w + n * cell, caption_w) + 10, label_w + n * cell + 40)
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, np.maximum(rows, 1), dtype=np.float64)
    for i in range(n):
        for j in range(n):
            v = share[i, j]
            color = (int(255 - 247 * v), int(255 - 207 * v), int(255 - 148 * v))
            x, y = label_w + j * cell, label_w + i * cell
            d.rectangle([x, y, x + cell - 1, y + cell - 1], fill=color)
        if label_w:
            d.text((4, label_w + i * cell), names[i], fill=INK, font=font)
            col = Image.new("RGBA", (label_w, cell), (0, 0, 0, 0))
            ImageDraw.Draw(col).text((4, 0), names[i], fill=INK, font=font)
            img.paste(col.rotate(90, expand=True), (label_w + i * cell, 0), col.rotate(90, expand=True))
    d.text((4, label_w + n * cell + 8), caption, fill=INK, font=label_font(11))
    with atomic_path(path, suffix=".png") as tmp:
        img.save(tmp, format="PNG")
    return path
