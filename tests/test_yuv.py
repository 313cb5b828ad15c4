"""RGB ↔ Y'CbCr conversion: exact at 10-bit 4:4:4, bounded at 8-bit, against independent formulas."""

import itertools

import numpy as np
import pytest

from bench.errors import CodecFailure, ConfigError
from bench_codecs import yuv

LATTICE = np.array(list(itertools.product(range(0, 256, 3), repeat=3)), dtype=np.uint8).reshape(-1, 86, 3)


@pytest.mark.parametrize("matrix", ["bt709", "bt601"])
@pytest.mark.parametrize("value_range", ["full", "limited"])
def test_10bit_444_is_exact(matrix, value_range):
    assert np.array_equal(yuv.roundtrip(LATTICE, matrix, value_range, 10, "444"), LATTICE)


@pytest.mark.parametrize("value_range,bound", [("full", 1), ("limited", 2)])
def test_8bit_444_error_is_bounded(value_range, bound):
    out = yuv.roundtrip(LATTICE, "bt709", value_range, 8, "444").astype(int)
    err = np.abs(out - LATTICE)
    assert err.max() <= bound and err.max() >= 1  # 8 bits lose information, but little


def test_known_values_bt709_full_and_limited():
    # Independent: BT.709 white/black/red by hand. Red: Y = 0.2126, Cr = 0.5
    px = np.array([[[255, 255, 255], [0, 0, 0], [255, 0, 0]]], dtype=np.uint8)
    y, cb, cr = yuv.rgb_to_ycbcr(px, "bt709", "full", 8)
    assert y.tolist() == [[255, 0, round(0.2126 * 255)]] and cb[0, :2].tolist() == [128, 128] and cr[0, 2] == 255
    y, cb, cr = yuv.rgb_to_ycbcr(px, "bt709", "limited", 10)
    assert y[0, :2].tolist() == [940, 64] and cb[0, 0] == 512 and cr[0, 2] == 960


def test_against_skimage_bt601_limited():
    from skimage.color import rgb2ycbcr  # BT.601 limited range, float output

    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    ours = np.stack(yuv.rgb_to_ycbcr(img, "bt601", "limited", 8), -1).astype(int)
    assert np.abs(ours - np.rint(rgb2ycbcr(img))).max() <= 1


def test_420_shapes_filter_and_odd_sizes():
    img = np.zeros((5, 7, 3), dtype=np.uint8)
    img[:, :, 2] = np.arange(7, dtype=np.uint8)[None] * 30  # blue ramp → Cb varies along x
    y, cb, cr = yuv.rgb_to_ycbcr(img, "bt709", "full", 10, "420")
    assert y.shape == (5, 7) and cb.shape == (3, 4) and cr.shape == (3, 4)
    full = yuv.rgb_to_ycbcr(img, "bt709", "full", 10, "444")[1].astype(float)
    # chroma is the 2×2 mean (before rounding): compare the first block
    assert abs(cb[0, 0] - full[:2, :2].mean()) <= 1
    assert yuv.roundtrip(img, "bt709", "full", 10, "420").shape == img.shape


def test_flat_colour_420_roundtrip_exact():
    img = np.full((8, 6, 3), (200, 30, 90), dtype=np.uint8)
    assert np.array_equal(yuv.roundtrip(img, "bt709", "full", 10, "420"), img)


@pytest.mark.parametrize("depth,chroma", [(8, "444"), (10, "444"), (10, "420")])
def test_yuv_file_roundtrip(tmp_path, depth, chroma):
    rng = np.random.default_rng(2)
    img = rng.integers(0, 256, (6, 10, 3), dtype=np.uint8)
    planes = yuv.rgb_to_ycbcr(img, "bt709", "full", depth, chroma)
    path = tmp_path / "a frame.yuv"
    yuv.write_yuv(path, planes, depth)
    ch, cw = yuv.chroma_shape(6, 10, chroma)
    assert path.stat().st_size == (60 + 2 * ch * cw) * (1 if depth == 8 else 2)
    back = yuv.read_yuv(path, 10, 6, depth, chroma)
    assert all(np.array_equal(a, b) for a, b in zip(planes, back))
    with pytest.raises(CodecFailure, match="expected"):
        yuv.read_yuv(path, 12, 6, depth, chroma)


def test_bad_format_and_reference_labels():
    with pytest.raises(ConfigError, match="bt709"):
        yuv.check_format("bt2020", "full", 8, "444")
    with pytest.raises(ConfigError, match="8 or 10"):
        yuv.check_format("bt709", "full", 12, "444")
    assert yuv.reference_label("bt709", "full", 8) == "ycbcr709-8bit-roundtrip"
    assert yuv.reference_label("bt601", "limited", 10, "420") == "ycbcr601-limited-10bit-420-roundtrip"
