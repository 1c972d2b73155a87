"""Reading dataset files safely, and the upfront scan that finds bad input before training starts.

Bounds (untrusted input): regular files only (a FIFO or device would block or never end), at most
`MAX_FILE_BYTES` per file, and the pixel bound of the image reader `archspec predict` uses
(Pillow's decompression-bomb limit, `PIL.Image.MAX_IMAGE_PIXELS`; see prediction/images.py).

`scan_split` opens every image and mask *header* (no pixel decoding; a few ms per pair, in a
thread pool) and reports, all in one error: missing or unreadable files (named, with the list
line they come from), images and masks of different sizes, masks that are not class-index images
(palette or greyscale). Mask *values* need the pixels: they are checked when a mask is read
(`read_mask`), which names the file, its list line and the bad values.
"""
from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from archspec.data.layouts import Sample, Split, is_regular_file
from archspec.errors import ErrorSink, Location, SpecError

MAX_FILE_BYTES = 256 * 1024 * 1024
MASK_MODES = ("P", "L", "I;16", "I")  # class indices: palette, 8-bit grey, 16/32-bit grey
_EXIF_ORIENTATION = 0x0112
_ROTATED = (5, 6, 7, 8)  # EXIF orientations that swap width and height


@dataclass(frozen=True)
class ScanReport:
    """What the header scan found: per sample (width, height) of its image."""

    sizes: list[tuple[int, int]]

    @property
    def largest(self) -> tuple[int, int]:
        """(height, width) that holds every image of the split."""
        return max(h for _, h in self.sizes), max(w for w, _ in self.sizes)


def _error(what: str, path: Path, problem: str, origin: Location, hint: str = "") -> SpecError:
    """Positioned at the sample's origin (its list line, or the image itself), naming the file."""
    return SpecError(f"{what} {path}: {problem}", origin, hint=hint)


def _check_file(what: str, path: Path, origin: Location) -> None:
    if not path.exists():
        raise _error(what, path, "not found", origin, hint="check the dataset folder and the list")
    if not is_regular_file(path):
        raise _error(what, path, "not a regular file", origin)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise _error(what, path, f"{size} bytes; the limit is {MAX_FILE_BYTES}", origin)


def _open(what: str, path: Path, origin: Location) -> Image.Image:
    """Pillow image opened lazily (header read, pixels not decoded), within the pixel bound."""
    _check_file(what, path, origin)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except UnidentifiedImageError:
        raise _error(what, path, "not an image Pillow can read", origin) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise _error(what, path, f"too large to open safely: {e}", origin) from None
    except (OSError, SyntaxError, ValueError) as e:
        raise _error(what, path, f"unreadable: {e}", origin) from None


def image_size(path: Path, origin: Location) -> tuple[int, int]:
    """(width, height) of an image as read upright (EXIF orientation applied), from its header."""
    with _open("image", path, origin) as img:
        w, h = img.size
        try:
            rotated = img.getexif().get(_EXIF_ORIENTATION) in _ROTATED
        except Exception:  # noqa: BLE001 - a broken EXIF block is not our concern here
            rotated = False
    return (h, w) if rotated else (w, h)


def mask_header(path: Path, origin: Location) -> tuple[int, int]:
    """(width, height) of a mask, checking it holds class indices."""
    with _open("mask", path, origin) as img:
        if img.mode not in MASK_MODES:
            raise _error("mask", path, f"is a {img.mode} image; a mask holds one class index per pixel", origin,
                         hint="save masks as palette (P) or greyscale (L) PNGs whose pixel values are class "
                              "indices (255: ignore), as VOC's SegmentationClass and Cityscapes' labelTrainIds are")
        return img.size


def read_image(path: Path, origin: Location) -> Image.Image:
    """The decoded RGB image (upright), as `archspec predict` reads it."""
    from archspec.prediction.images import open_image

    _check_file("image", path, origin)
    try:
        return open_image(path, 3)
    except SpecError as e:
        raise _error("image", path, e.message, origin, e.hint) from None


def read_mask(path: Path, origin: Location, num_classes: int, ignore_index: int = 255) -> np.ndarray:
    """The mask's class indices (H, W) as uint8 (int32 past 255 classes), every value checked to be
    a class (0..num_classes-1) or the ignore label."""
    img = _open("mask", path, origin)
    with img:
        if img.mode not in MASK_MODES:
            mask_header(path, origin)  # raises the explanation
        try:
            img.load()
        except (OSError, SyntaxError, ValueError, EOFError) as e:
            raise _error("mask", path, f"cannot decode (truncated or corrupt?): {e}", origin) from None
        values = np.asarray(img)
    bad = (values >= num_classes) & (values != ignore_index)
    if bad.any():
        found = np.unique(values[bad])
        shown = ", ".join(str(int(v)) for v in found[:6]) + (", ..." if len(found) > 6 else "")
        raise _error("mask", path, f"has values {shown}: neither a class (0..{num_classes - 1}) nor the ignore "
                     f"label {ignore_index}", origin,
                     hint="masks hold class indices; check num_classes (--set num_classes=N) or the mask files")
    return values.astype(np.uint8 if num_classes <= 255 else np.int32, copy=False)


def _scan_one(sample: Sample) -> tuple[int, int]:
    size = image_size(sample.image, sample.origin)
    if isinstance(sample.target, Path):
        msize = mask_header(sample.target, sample.origin)
        if msize != size:
            raise _error("mask", sample.target, f"is {msize[0]}x{msize[1]} but its image {sample.image} is "
                         f"{size[0]}x{size[1]}", sample.origin, hint="an image and its mask must have the same size")
    return size


def scan_split(split: Split, threads: int = 8, sink: ErrorSink | None = None) -> ScanReport:
    """Open every image (and mask) header of a split; one error listing every problem found. With
    `sink`, the problems are added to it instead (a caller reporting several splits at once)."""
    own = sink is None
    sink = ErrorSink(cap=50) if own else sink
    sizes: list[tuple[int, int]] = []

    def one(sample: Sample):
        try:
            return _scan_one(sample)
        except SpecError as e:
            return e

    with ThreadPoolExecutor(max_workers=threads) as pool:
        for got in pool.map(one, split.samples, chunksize=64):
            if isinstance(got, SpecError):
                sink.add(got)
                sizes.append((0, 0))
            else:
                sizes.append(got)
    if own:
        sink.raise_if_any()
    return ScanReport(sizes)
