"""Bad input gets one clear line (or a documented lossless conversion), never a wrong number."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.errors import ImageError
from bench.plan.images import file_sha256, load_rgb8, size_requirement


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


def handmade_png(width: int, height: int, bit_depth: int, raw: bytes) -> bytes:
    """An RGB PNG with the given header and pixel data, written without Pillow."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, 2, 0, 0, 0))
    return png + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def test_16_bit_rgb_png_is_refused(tmp_path, rgb):
    # Hand-made 16-bit RGB PNG (Pillow would silently read it as 8 bits).
    height, width = 4, 4
    raw = b"".join(b"\x00" + bytes(width * 6) for _ in range(height))
    (tmp_path / "rgb16.png").write_bytes(handmade_png(width, height, 16, raw))
    with pytest.raises(ImageError, match="16-bit PNG"):
        load_rgb8(tmp_path / "rgb16.png")


def test_one_pixel_image_is_refused(tmp_path):
    with pytest.raises(ImageError, match=r"1×1.*at least 161×161"):
        load_rgb8(save(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8)))


def test_too_small_without_ms_ssim_does_not_blame_ms_ssim(tmp_path):
    with pytest.raises(ImageError, match=r"dot\.png: image is 1×1, below the 8×8") as info:
        load_rgb8(save(tmp_path / "dot.png", np.zeros((1, 1, 3), np.uint8)), min_side=8)
    assert "MS-SSIM" not in str(info.value)


def test_too_small_names_the_metric_that_needs_the_size(tmp_path, rgb):
    side, needed_by = size_requirement(["psnr_rgb", "lpips"])
    with pytest.raises(ImageError, match=r"s\.png: image is 20×10; LPIPS .* needs at least 31×31") as info:
        load_rgb8(save(tmp_path / "s.png", rgb[:10, :20]), min_side=side, needed_by=needed_by)
    assert "MS-SSIM" not in str(info.value)
    assert size_requirement(["psnr_rgb"]) == (1, None)
    assert size_requirement(["lpips", "ms_ssim"])[0] == 161


def test_decompression_bomb_names_the_file(tmp_path):
    # 40000×40000 declared in the header: Pillow refuses it on open, before decoding anything.
    (tmp_path / "bomb.png").write_bytes(handmade_png(40000, 40000, 8, b""))
    with pytest.raises(ImageError, match=r"bomb\.png: refused as a possible decompression bomb \(Image size") as info:
        load_rgb8(tmp_path / "bomb.png")
    assert "\n" not in str(info.value)


def test_digest_is_cached_per_file_version(tmp_path, monkeypatch):
    import os
    import time

    import bench.plan.images

    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    calls = []
    real = bench.plan.images._hash_file
    monkeypatch.setattr(bench.plan.images, "_hash_file", lambda p: calls.append(p) or real(p))
    first = file_sha256(path)
    assert file_sha256(path) == first and len(calls) == 1
    # same size, mtime set back: the change of ctime (or inode) still makes it a new version
    stat = path.stat()
    time.sleep(0.05)  # past the file system's timestamp granularity
    path.write_bytes(b"two")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_sha256(path) != first and len(calls) == 2


def test_small_images_pass_when_ms_ssim_is_off(tmp_path, rgb):
    assert load_rgb8(save(tmp_path / "s.png", rgb[:40, :50]), min_side=8).shape == (40, 50, 3)


def test_non_image_with_png_name(tmp_path):
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ImageError, match=r"notes\.png: not an image"):
        load_rgb8(tmp_path / "notes.png")


def test_odd_size_is_fine(tmp_path, photo):
    odd = photo[:333, :301]
    assert load_rgb8(save(tmp_path / "odd.png", odd)).shape == (333, 301, 3)
