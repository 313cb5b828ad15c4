"""Bad input gets one clear line (or a documented lossless conversion), never a wrong number."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.errors import ImageError
from bench.images import load_rgb8


@pytest.fixture
def rgb(photo) -> np.ndarray:
    return photo[:200, :240]


def save(path, array, mode=None, **kwargs):
    Image.fromarray(array, mode).save(path, **kwargs) if mode else Image.fromarray(array).save(path, **kwargs)
    return path


def test_rgb_png_loads_exactly(tmp_path, rgb):
    assert np.array_equal(load_rgb8(save(tmp_path / "a.png", rgb)), rgb)


def test_path_with_spaces(tmp_path, rgb):
    folder = tmp_path / "my photos"
    folder.mkdir()
    assert np.array_equal(load_rgb8(save(folder / "a b.png", rgb)), rgb)


def test_truncated_png(tmp_path, rgb):
    data = save(tmp_path / "a.png", rgb).read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"cut\.png: corrupt or truncated"):
        load_rgb8(tmp_path / "cut.png")


def test_greyscale_is_refused(tmp_path, rgb):
    with pytest.raises(ImageError, match=r"grey\.png: greyscale.*convert"):
        load_rgb8(save(tmp_path / "grey.png", rgb[..., 0]))


def test_opaque_rgba_drops_alpha_losslessly(tmp_path, rgb):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    assert np.array_equal(load_rgb8(save(tmp_path / "a.png", rgba)), rgb)


def test_transparent_rgba_is_refused(tmp_path, rgb):
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 128, np.uint8)])
    with pytest.raises(ImageError, match="transparency"):
        load_rgb8(save(tmp_path / "t.png", rgba))


def test_palette_image_expands_losslessly(tmp_path, rgb):
    palette = Image.fromarray(rgb).quantize(64)
    palette.save(tmp_path / "p.png")
    assert np.array_equal(load_rgb8(tmp_path / "p.png"), np.asarray(palette.convert("RGB")))


def test_16_bit_png_is_refused(tmp_path, rgb):
    # Pillow cannot write 16-bit RGB; a 16-bit greyscale PNG has the same IHDR bit depth field.
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(tmp_path / "deep.png")
    with pytest.raises(ImageError, match=r"deep\.png: 16-bit PNG"):
        load_rgb8(tmp_path / "deep.png")


def test_16_bit_rgb_png_is_refused(tmp_path, rgb):
    # Hand-made 16-bit RGB PNG (Pillow would silently read it as 8 bits).
    import struct
    import zlib

    height, width = 4, 4
    raw = b"".join(b"\x00" + bytes(width * 6) for _ in range(height))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")
    (tmp_path / "rgb16.png").write_bytes(png)
    with pytest.raises(ImageError, match="16-bit PNG"):
        load_rgb8(tmp_path / "rgb16.png")


def test_one_pixel_image_is_refused(tmp_path):
    with pytest.raises(ImageError, match=r"1×1.*at least 161×161"):
        load_rgb8(save(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8)))


def test_small_images_pass_when_ms_ssim_is_off(tmp_path, rgb):
    assert load_rgb8(save(tmp_path / "s.png", rgb[:40, :50]), min_side=8).shape == (40, 50, 3)


def test_non_image_with_png_name(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        load_rgb8(tmp_path / "notes.png")


def test_odd_size_is_fine(tmp_path, photo):
    odd = photo[:333, :301]
    assert load_rgb8(save(tmp_path / "odd.png", odd)).shape == (333, 301, 3)
