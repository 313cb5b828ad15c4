"""The cached reference side of MS-SSIM and LPIPS gives the library's values, cold and warm, and
never serves one reference's state for another."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

import bench.metrics as metrics
from bench.metrics import measure, measure_many
from bench.metrics.cache import LruCache, content_key
from bench.metrics.lpips_alex import lpips_distance
from bench.metrics.msssim import ms_ssim, reference_pyramid

TOLERANCE = 1e-6
QUALITIES = (10, 40, 90)
#: Odd sizes and the smallest one MS-SSIM's five scales allow (H × W).
SHAPES = ((161, 203), (257, 171), (161, 161))
TORCH = ["ms_ssim", "lpips"]


@pytest.fixture(autouse=True)
def cold_caches():
    metrics.PYRAMIDS.clear()
    metrics.FEATURES.clear()
    yield
    metrics.PYRAMIDS.clear()
    metrics.FEATURES.clear()


def kodak_crop(kodak_dir, number: int, shape: tuple[int, int], top: int = 0, left: int = 0) -> np.ndarray:
    image = np.asarray(Image.open(kodak_dir / f"kodim{number:02d}.png").convert("RGB"))
    crop = image[top:top + shape[0], left:left + shape[1]].copy()
    crop.setflags(write=False)  # as the executor's cached images are
    return crop


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def library_values(reference: np.ndarray, decoded: np.ndarray) -> dict[str, float]:
    return {"ms_ssim": ms_ssim(reference, decoded), "lpips": lpips_distance(reference, decoded)}


def assert_close(values: dict[str, float], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        assert values[name] == pytest.approx(value, abs=TOLERANCE), name


@pytest.mark.parametrize("shape", SHAPES)
def test_cached_values_equal_the_library_cold_and_warm(kodak_dir, shape):
    reference = kodak_crop(kodak_dir, 5, shape, top=100, left=200)
    decoded = [jpeg(reference, q) for q in QUALITIES]
    expected = [library_values(reference, image) for image in decoded]
    cold = [measure(reference, image, TORCH) for image in decoded]
    assert (metrics.PYRAMIDS.misses, metrics.PYRAMIDS.hits) == (1, len(QUALITIES) - 1)
    assert (metrics.FEATURES.misses, metrics.FEATURES.hits) == (1, len(QUALITIES) - 1)
    warm = [measure(reference, image, TORCH) for image in decoded]
    assert metrics.PYRAMIDS.misses == metrics.FEATURES.misses == 1
    for cold_values, warm_values, library in zip(cold, warm, expected):
        assert_close(cold_values, library)
        assert warm_values == cold_values


@pytest.mark.parametrize("shape", SHAPES)
def test_batched_values_equal_the_library(kodak_dir, shape, monkeypatch):
    reference = kodak_crop(kodak_dir, 23, shape, top=37, left=11)
    decoded = [jpeg(reference, q) for q in (*QUALITIES, 100)]
    monkeypatch.setattr(metrics, "BATCH_PIXELS", 3 * shape[0] * shape[1])  # batches of 3 and 1
    rows = measure_many(reference, decoded, ["psnr_rgb", *TORCH])
    assert [list(row) for row in rows] == [["psnr_rgb", "ms_ssim", "lpips", "ms_ssim_db"]] * len(decoded)
    for row, image in zip(rows, decoded):
        assert_close(row, library_values(reference, image))
        assert row["psnr_rgb"] == measure(reference, image, ["psnr_rgb"])["psnr_rgb"]
    assert metrics.PYRAMIDS.misses == metrics.FEATURES.misses == 1


def test_same_shape_other_reference_never_hits(kodak_dir):
    first = kodak_crop(kodak_dir, 5, (161, 203))
    others = [kodak_crop(kodak_dir, 5, (161, 203), top=1), kodak_crop(kodak_dir, 19, (161, 203))]
    one_pixel = first.copy()
    one_pixel[80, 100, 1] ^= 1
    decoded = jpeg(first, 30)
    measure(first, decoded, TORCH)
    for number, other in enumerate([*others, one_pixel], start=2):
        assert_close(measure(other, decoded, TORCH), library_values(other, decoded))
        assert metrics.PYRAMIDS.misses == metrics.FEATURES.misses == number
        assert metrics.PYRAMIDS.hits == metrics.FEATURES.hits == 0


def test_uncached_path_is_the_library(kodak_dir):
    reference = kodak_crop(kodak_dir, 12, (161, 161))
    decoded = jpeg(reference, 20)
    values = measure(reference, decoded, ["psnr_y", *TORCH], cache=False)
    assert {k: values[k] for k in TORCH} == library_values(reference, decoded)
    assert len(metrics.PYRAMIDS) == len(metrics.FEATURES) == 0


def test_mismatched_shapes_and_too_small_images_are_refused(kodak_dir):
    reference = kodak_crop(kodak_dir, 3, (161, 161))
    with pytest.raises(ValueError, match="decoded image"):
        measure(reference, reference[:, :160], ["ms_ssim"])
    with pytest.raises(ValueError, match="larger than 160"):
        reference_pyramid(reference[:160])


def test_content_key_follows_content_not_identity():
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert content_key(image) == content_key(image.copy())
    assert content_key(image[5:25, 3:13]) == content_key(np.ascontiguousarray(image[5:25, 3:13]))
    assert content_key(image) != content_key(image.reshape(30, 40, 3))  # same bytes, other shape
    assert content_key(image) != content_key(image.astype(np.int8))  # same bytes, other dtype
    changed = image.copy()
    changed[-1, -1, -1] ^= 1
    assert content_key(image) != content_key(changed)


def test_lru_cache_evicts_the_least_recently_used():
    cache: LruCache[str] = LruCache(capacity=2)
    built = []

    def build(key: str):
        return lambda: built.append(key) or key.upper()

    assert [cache.get(k, build(k)) for k in ("a", "b", "a", "c", "a", "b")] == ["A", "B", "A", "C", "A", "B"]
    assert built == ["a", "b", "c", "b"]  # "b" was evicted by "c"; "a" stayed as recently used
    assert (cache.hits, cache.misses, len(cache)) == (2, 4, 2)
