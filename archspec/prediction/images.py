"""Images in and out for `archspec predict`: reading (with clear errors for files that are not
images), the spec's preprocessing, mapping class scores back to the original image, and drawing
the class-index mask and the colour overlay with its legend.

NumPy and Pillow only; no MindSpore. Pillow is imported when this module is, so import it inside
the functions that need it (the CLI does).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps, UnidentifiedImageError

from archspec import limits
from archspec.errors import ErrorSink, Location, SpecError
from archspec.files import atomic_path, open_regular
from archspec.spec.inference import Preprocess
from archspec.spec.labels import Labels

_RESAMPLE = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC,
             "nearest": Image.Resampling.NEAREST}


# --------------------------------------------------------------------------- reading


def open_image(path: str | Path, channels: int = 3) -> Image.Image:
    """Read and fully decode an image, upright (EXIF orientation applied), as RGB (or L for one
    channel). Every way a file can fail to be an image is a SpecError naming the file.

    Bounded: a regular file of at most `limits.IMAGE_FILE_BYTES`, and at most
    `limits.IMAGE_PIXELS` pixels, checked from its header before anything is decoded. 16-bit
    greyscale is scaled to 8 bits (not clipped to white); 32-bit integer and float images, which
    have no standard pixel range, are refused."""
    p = Path(path)
    where = Location(str(p))
    try:
        with open_regular(p, limits.IMAGE_FILE_BYTES, loc=where, what="image",
                          hint="check the path (relative to the current folder)") as f, warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(f) as img:
                _check_pixels(img, where)
                img.load()  # decode now: a truncated or corrupt file fails here, not halfway through a run
                img = ImageOps.exif_transpose(img)
                return _to_8bit(img, where).convert("RGB" if channels == 3 else "L")
    except SpecError as e:
        if "is a folder" in e.message:
            e.hint = f"to predict every image in it: {p}/*.png"
        raise
    except UnidentifiedImageError:
        raise SpecError("not an image Pillow can read", where,
                        hint="formats: PNG, JPEG, BMP, TIFF, WebP, ...") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise SpecError(f"image too large to open safely: {e}", where) from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:  # truncated data, bad chunks, broken headers
        raise SpecError(f"cannot decode the image (truncated or corrupt?): {e}", where) from None


def _check_pixels(img: Image.Image, where: Location) -> None:
    w, h = img.size
    if w * h > limits.IMAGE_PIXELS:
        raise limits.LimitError(f"the image is {w}x{h} ({w * h:,} pixels); the limit is {limits.IMAGE_PIXELS:,} "
                                "pixels", where, hint="scale it down first (the model sees it at its input size)")


def _to_8bit(img: Image.Image, where: Location) -> Image.Image:
    """8-bit pixels: 16-bit greyscale scaled by 255/65535 (Pillow's convert would clip it to 255)."""
    if img.mode.startswith("I;16"):
        wide = np.asarray(img).astype(np.uint32)
        return Image.fromarray(((wide * 255 + 32767) // 65535).astype(np.uint8), "L")
    if img.mode in ("I", "F"):
        kind = "32-bit integer" if img.mode == "I" else "floating-point"
        raise SpecError(f"{kind} pixels have no standard range to scale to 0..255", where,
                        hint="save the image with 8 or 16 bits per channel")
    return img


def check_images(paths: Sequence[str | Path], pre: Preprocess) -> list[tuple[int, int]]:
    """Open every image once before anything runs; report all unreadable ones together.
    Returns the (width, height) of each."""
    sink = ErrorSink(cap=50)
    sizes: list[tuple[int, int]] = []
    for path in paths:
        try:
            img = open_image(path, pre.channels)
        except SpecError as e:
            sink.add(e)
            sizes.append((0, 0))
            continue
        sizes.append(img.size)
        if pre.resize == "none" and img.size != (pre.width, pre.height):
            sink.add(SpecError(f"image is {img.size[0]}x{img.size[1]} but preprocess resize: none needs the input "
                               f"size {pre.width}x{pre.height}", Location(str(path)),
                               hint="use resize: letterbox or stretch in the spec's preprocess:, or --input-shape"))
    sink.raise_if_any()
    return sizes


# --------------------------------------------------------------------------- preprocessing


@dataclass(frozen=True)
class Placement:
    """Where an image went in the input tensor: its original size and the box (x0, y0, x1, y1),
    in input pixels, that its content covers (all of it unless letterboxed)."""

    size: tuple[int, int]  # original (width, height)
    box: tuple[int, int, int, int]


def placement(size: tuple[int, int], pre: Preprocess) -> Placement:
    w0, h0 = size
    W, H = pre.width, pre.height
    if pre.resize == "letterbox":
        scale = min(W / w0, H / h0)
        nw, nh = max(1, min(W, round(w0 * scale))), max(1, min(H, round(h0 * scale)))
        x0, y0 = (W - nw) // 2, (H - nh) // 2
        return Placement(size, (x0, y0, x0 + nw, y0 + nh))
    return Placement(size, (0, 0, W, H))  # stretch, or none (the image already has the input size)


def to_input(img: Image.Image, pre: Preprocess) -> tuple[np.ndarray, Placement]:
    """The (C, H, W) float32 input for one image: resized as the spec says, padded with
    pad_value, channels in the model's order, ((pixel / 255) - mean) / std."""
    place = placement(img.size, pre)
    x0, y0, x1, y1 = place.box
    size = (x1 - x0, y1 - y0)
    resized = img if img.size == size else img.resize(size, _RESAMPLE[pre.interpolation])
    pixels = np.asarray(resized, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pre.channels == 3 and pre.channel_order == "BGR":
        pixels = pixels[:, :, ::-1]
    canvas = np.empty((pre.height, pre.width, pre.channels), np.float32)
    canvas[:] = np.asarray(pre.pad_value, np.float32)
    canvas[y0:y1, x0:x1] = pixels
    mean = np.asarray(pre.mean, np.float32) * 255.0
    std = np.asarray(pre.std, np.float32) * 255.0
    return np.ascontiguousarray(((canvas - mean) / std).transpose(2, 0, 1)), place


# --------------------------------------------------------------------------- postprocessing


def class_map(scores: np.ndarray, place: Placement, input_hw: tuple[int, int]) -> np.ndarray:
    """Per-pixel class indices at the original image size, from one image's (C, h, w) scores.

    The box the image covers (letterbox padding removed, scaled to the output's resolution) is
    cut out and resized bilinearly to the original size channel by channel, keeping a running
    arg-max, so memory stays at a few planes of the original size whatever the number of classes.
    Cutting first keeps the padding's scores from bleeding into the image's edge pixels."""
    c, h, w = scores.shape
    H, W = input_hw
    sx, sy = w / W, h / H
    x0, y0, x1, y1 = place.box
    bx0, by0, bx1, by1 = x0 * sx, y0 * sy, x1 * sx, y1 * sy
    cx0, cy0 = int(np.floor(bx0)), int(np.floor(by0))
    cx1, cy1 = min(w, int(np.ceil(bx1))), min(h, int(np.ceil(by1)))
    box = (bx0 - cx0, by0 - cy0, bx1 - cx0, by1 - cy0)
    size = place.size
    same = size == (cx1 - cx0, cy1 - cy0) and box == (0.0, 0.0, float(size[0]), float(size[1]))
    best = None
    index = np.zeros((size[1], size[0]), np.uint8 if c <= 256 else np.uint16)
    better = np.empty(index.shape, bool)
    for k in range(c):
        plane = np.ascontiguousarray(scores[k, cy0:cy1, cx0:cx1], dtype=np.float32)
        if not same:
            plane = np.asarray(Image.fromarray(plane).resize(size, Image.Resampling.BILINEAR, box=box))
        if best is None:
            best = np.array(plane)
            continue
        np.greater(plane, best, out=better)  # strict: ties go to the lower class index, as argmax does
        np.copyto(best, plane, where=better)
        index[better] = k
        del plane
    return index


def class_shares(mask: np.ndarray, n_classes: int) -> list[tuple[int, float]]:
    """(class index, fraction of pixels) of the classes present, largest first."""
    flat = mask.reshape(-1)
    counts = np.zeros(max(n_classes, int(flat.max(initial=0)) + 1), np.int64)
    for i in range(0, flat.size, 1 << 20):  # bincount casts to int64: in chunks, not a copy 8x the mask
        part = np.bincount(flat[i:i + (1 << 20)])
        counts[:part.size] += part
    total = max(1, int(mask.size))
    present = [(int(k), int(v) / total) for k, v in enumerate(counts) if v]
    return sorted(present, key=lambda kv: (-kv[1], kv[0]))


# --------------------------------------------------------------------------- drawing


def mask_image(mask: np.ndarray, labels: Labels) -> Image.Image:
    """The class-index mask: a palette ("P") PNG whose pixel values are class indices and whose
    palette gives the class colours (as VOC's own masks); 16-bit greyscale past 256 classes."""
    if mask.dtype == np.uint8:
        img = Image.frombytes("P", (mask.shape[1], mask.shape[0]), np.ascontiguousarray(mask).tobytes())
        img.putpalette(labels.palette())
        return img
    return Image.fromarray(mask.astype(np.uint16))  # mode "I;16"


def label_font(size: int):
    try:
        return ImageFont.load_default(size=size)  # Pillow's bundled font (FreeType builds)
    except (TypeError, OSError, ImportError):
        return ImageFont.load_default()


def overlay_image(img: Image.Image, mask: np.ndarray, labels: Labels, alpha: float = 0.5) -> Image.Image:
    """The image blended with its class colours, with a legend (colour swatch, name, share) of
    the classes present in the top-left corner. Same size as the image."""
    rgb = np.asarray(img.convert("RGB"))
    colors = np.asarray(labels.colors, np.float32) * alpha
    blended = np.empty_like(rgb)
    rows = max(1, (1 << 18) // max(1, rgb.shape[1]))  # in bands of ~256k pixels: float copies stay small
    for y in range(0, rgb.shape[0], rows):
        band = rgb[y:y + rows].astype(np.float32) * (1.0 - alpha) + colors[mask[y:y + rows]]
        blended[y:y + rows] = np.clip(np.rint(band), 0, 255)
    out = Image.fromarray(blended)
    entries = [(labels.labels[k].name, labels.labels[k].color, share) for k, share in class_shares(mask, len(labels))]
    return draw_legend(out, entries)


def draw_legend(img: Image.Image, entries: Sequence[tuple[str, tuple[int, int, int], float]]) -> Image.Image:
    """Draw a legend box (on a translucent dark background) into the top-left corner; rows that
    do not fit the image are summarized as "+N more"."""
    if not entries:
        return img
    w, h = img.size
    size = int(min(max(10, round(min(w, h) / 32)), 28))
    font = label_font(size)
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    asc = draw.textbbox((0, 0), "Ag", font=font)
    line = (asc[3] - asc[1]) + max(2, size // 4)
    pad = max(2, size // 4)
    swatch = max(4, line - max(2, size // 4))
    fit = max(1, (h - 2 * pad - 2) // line)
    rows = [f"{name} {share * 100:.0f}%" if share < 0.995 else name for name, _, share in entries]
    shown = list(zip(entries, rows))
    more = 0
    if len(shown) > fit:
        more = len(shown) - (fit - 1)
        shown = shown[: fit - 1]
    texts = [t for _, t in shown] + ([f"+{more} more"] if more else [])
    text_w = max(draw.textlength(t, font=font) for t in texts)
    box_w = int(pad + swatch + pad + text_w + pad)
    box_h = int(pad + line * len(texts) + pad // 2)
    draw.rectangle((0, 0, min(w, box_w) - 1, min(h, box_h) - 1), fill=(0, 0, 0, 150))
    y = pad
    for (name, color, _), text in shown:
        draw.rectangle((pad, y, pad + swatch - 1, y + swatch - 1), fill=(*color, 255), outline=(255, 255, 255, 255))
        draw.text((pad + swatch + pad, y + (swatch - (asc[3] - asc[1])) // 2 - asc[1]), text, font=font,
                  fill=(255, 255, 255, 255))
        y += line
    if more:
        draw.text((pad + swatch + pad, y - asc[1]), texts[-1], font=font, fill=(255, 255, 255, 255))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


# --------------------------------------------------------------------------- writing


def write_pngs(images: Iterable[tuple[Image.Image, Path]], force: bool = False) -> None:
    """Write several PNGs all or nothing: each into a temporary file beside its target, then all
    renamed into place once every one is complete (onto existing files only with `force`)."""
    from contextlib import ExitStack

    with ExitStack() as stack:
        for img, path in images:
            tmp = stack.enter_context(atomic_path(path, suffix=".png", replace=force))
            img.save(tmp, format="PNG")
