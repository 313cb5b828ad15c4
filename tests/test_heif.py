"""The registry-installable HEVC-intra anchor (x265 via pillow-heif): real, 4:4:4, QP-controlled."""

from __future__ import annotations

import numpy as np
import pytest

from bench.codec import codec_class, make_codec
from bench.errors import ConfigError
from bench.metrics.psnr import psnr_rgb

reason = codec_class("hevc-x265-heif").unavailable_reason()
pytestmark = pytest.mark.skipif(reason is not None, reason=reason or "")


def test_qp_controls_rate_and_quality(photo):
    codec = make_codec("hevc-x265-heif", {"preset": "ultrafast"})
    image = photo[:128, :192]
    results = []
    for qp in (22, 37):
        data = codec.encode(image, qp)
        decoded = codec.decode(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        results.append((len(data), psnr_rgb(image, decoded)))
    assert results[0][0] > results[1][0] and results[0][1] > results[1][1] + 3
    assert "x265:qp" in codec.describe(22) and "x265" in codec.version()


def test_chroma_format_shows_in_the_heif_brand(photo):
    # 'heix' is HEVC Range Extensions (needed for 4:4:4); 'heic' is Main profile 4:2:0.
    for chroma, brand in (("444", b"ftypheix"), ("420", b"ftypheic")):
        data = make_codec("hevc-x265-heif", {"preset": "ultrafast", "chroma": chroma}).encode(photo[:64, :64], 30)
        assert data[4:12] == brand


def test_bad_chroma_is_a_config_error():
    with pytest.raises(ConfigError, match="chroma"):
        make_codec("hevc-x265-heif", {"chroma": "411"})
