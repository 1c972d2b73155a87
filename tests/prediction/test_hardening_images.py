"""Issue 13 (hardening), images: the image reader takes regular files only, bounds the pixels from
the header before decoding anything, scales 16-bit greyscale instead of clipping it to white, and
the overlay is drawn without full-size float copies of the image."""
from __future__ import annotations

import os
import struct
import tracemalloc
import zlib

import numpy as np
import pytest
from conftest import time_limit
from PIL import Image

from archspec import limits
from archspec.errors import SpecError
from archspec.prediction.images import open_image, overlay_image


def png_header_only(path, width: int, height: int) -> None:
    """A PNG that declares width x height (8-bit RGB) and holds no pixel data: only its header can
    be read, so anything that tries to decode it fails, and anything that allocates for it shows."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def test_a_fifo_or_device_image_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "a.png"
    os.mkfifo(fifo)
    with time_limit(5), pytest.raises(SpecError, match="FIFO"):
        open_image(fifo)
    link = tmp_path / "z.png"
    os.symlink("/dev/zero", link)
    with time_limit(5), pytest.raises(SpecError, match="a device"):
        open_image(link)


def test_the_pixel_bound_is_checked_from_the_header_before_decoding(tmp_path):
    p = tmp_path / "huge.png"
    png_header_only(p, 9400, 9400)  # the 88-megapixel image
    tracemalloc.start()
    with time_limit(5), pytest.raises(limits.LimitError) as info:
        open_image(p)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "9400x9400" in info.value.message and f"{limits.IMAGE_PIXELS:,}" in info.value.message
    assert info.value.loc.file == str(p) and peak < 5 * 2**20


def test_the_pixel_bound_is_the_limit_exactly(tmp_path, monkeypatch):
    p = tmp_path / "x.png"
    Image.new("RGB", (65, 65), (10, 20, 30)).save(p)
    monkeypatch.setattr(limits, "IMAGE_PIXELS", 65 * 65)
    assert open_image(p).size == (65, 65)
    monkeypatch.setattr(limits, "IMAGE_PIXELS", 65 * 65 - 1)
    with pytest.raises(limits.LimitError):
        open_image(p)


def test_16_bit_greyscale_is_scaled_not_saturated(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16).repeat(4, axis=0)
    p = tmp_path / "g16.png"
    Image.fromarray(values).save(p)
    assert Image.open(p).mode == "I;16"
    for channels, shape in ((3, (4, 4, 3)), (1, (4, 4))):
        got = np.asarray(open_image(p, channels))
        assert got.shape == shape
        row = got[0] if channels == 1 else got[0, :, 0]
        assert row.tolist() == [0, 1, 128, 255]


def test_32_bit_and_float_images_are_refused_clearly(tmp_path):
    p = tmp_path / "f.tiff"
    Image.fromarray(np.ones((4, 4), np.float32)).save(p)
    with pytest.raises(SpecError, match="no standard range"):
        open_image(p)


def test_the_overlay_makes_no_full_size_float_copies():
    from archspec.spec.labels import default_labels

    img = Image.new("RGB", (2000, 1500), (90, 120, 200))
    mask = (np.arange(2000 * 1500) % 21).astype(np.uint8).reshape(1500, 2000)
    labels = default_labels(21)
    tracemalloc.start()
    out = overlay_image(img, mask, labels, 0.5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert out.size == img.size
    rgb = 2000 * 1500 * 3
    assert peak < 4 * rgb, f"peak {peak / 2**20:.0f} MB for a {rgb / 2**20:.0f} MB image"
    a = np.asarray(img, np.float32) * 0.5 + np.asarray(labels.colors, np.float32)[mask] * 0.5
    want = np.clip(np.rint(a), 0, 255).astype(np.uint8)
    got = np.asarray(out)
    assert (got[:, 1000:] == want[:, 1000:]).all()  # right of the legend

