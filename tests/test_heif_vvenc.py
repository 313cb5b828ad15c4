"""Registry-installable anchors: HEVC (x265 via pillow-heif) and VVC (VVenC via imageio-ffmpeg)."""

import numpy as np
import pytest

from bench.codec import make_codec
from bench.metrics.psnr import psnr_rgb
from bench_codecs.vvenc import VvencCodec


def mse_psnr(a, b):  # independent of bench.metrics
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


@pytest.fixture
def crop(photo):
    return np.ascontiguousarray(photo[160:288, 192:352])


def test_vvenc_rate_distortion_monotone(crop):
    reason = VvencCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    codec = make_codec("vvc-vvenc-420", {"preset": "faster"})
    sizes, quality = [], []
    for qp in (27, 42):
        data = codec.encode(crop, qp)
        decoded = codec.decode(data)
        assert decoded.shape == crop.shape and decoded.dtype == np.uint8
        assert np.array_equal(decoded, codec.decode(data))
        sizes.append(len(data))
        quality.append(mse_psnr(crop, decoded))
        assert abs(psnr_rgb(crop, decoded) - quality[-1]) < 1e-6
    assert sizes[0] > sizes[1] and quality[0] > quality[1] + 2 and quality[0] > 33
    assert "-c:v libvvenc -qp 27" in codec.describe(27)
    assert codec.version().startswith("imageio-ffmpeg ")


def test_hevc_heif_rate_distortion_monotone(crop):
    from bench_codecs.heif import HevcHeifCodec

    reason = HevcHeifCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    codec = make_codec("hevc-x265-heif", {})
    low, high = (codec.encode(crop, qp) for qp in (42, 22))
    assert len(high) > len(low)
    assert mse_psnr(crop, codec.decode(high)) > mse_psnr(crop, codec.decode(low)) + 3
