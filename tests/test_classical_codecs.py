"""In-process classical codecs: real bitstreams, the settings they claim, and agreement with
CompressAI's own benchmark code at equal quality (1e-3 bpp, 0.01 dB)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.codec import make_codec, registered_codecs
from bench.errors import ConfigError
from bench.metrics.psnr import psnr_rgb


@pytest.mark.parametrize("name", ["jpeg", "webp", "jpeg2000", "avif", "jpegxl"])
def test_round_trip_and_monotone_rate(name, photo):
    codec = make_codec(name)
    image = photo[:200, :264]
    low, high = codec.default_rates[1], codec.default_rates[-2]
    sizes, quality = [], []
    for rate in (low, high):
        data = codec.encode(image, rate)
        decoded = codec.decode(data)
        assert decoded.shape == image.shape and decoded.dtype == np.uint8
        sizes.append(len(data))
        quality.append(psnr_rgb(image, decoded))
    assert sizes[0] < sizes[1] and quality[0] < quality[1]
    assert codec.version()


def test_jpeg_subsampling_is_what_the_stream_says(photo):
    for mode, sampling in (("4:2:0", ((2, 2), (1, 1), (1, 1))), ("4:4:4", ((1, 1), (1, 1), (1, 1)))):
        data = make_codec("jpeg", {"subsampling": mode}).encode(photo, 75)
        with Image.open(io.BytesIO(data)) as im:
            assert tuple((c[1], c[2]) for c in im.layer) == sampling


def test_webp_is_lossy():
    image = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    codec = make_codec("webp")
    assert not np.array_equal(codec.decode(codec.encode(image, 75)), image)


def test_avif_defaults_to_444(photo):
    import imagecodecs

    data = make_codec("avif").encode(photo[:128, :128], 50)
    assert b"av1C" in data and len(imagecodecs.avif_decode(data).shape) == 3


def test_unknown_parameter_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown parameter"):
        make_codec("jpeg", {"qualty": 3})
    with pytest.raises(ConfigError, match="subsampling"):
        make_codec("jpeg", {"subsampling": "4:1:1"})


def test_builtin_codecs_are_registered():
    assert {"jpeg", "webp", "jpeg2000", "avif", "jpegxl"} <= set(registered_codecs())


@pytest.mark.parametrize(("name", "compressai_codec"), [("jpeg", "JPEG"), ("webp", "WebP")])
def test_agrees_with_compressai_bench(name, compressai_codec, kodak_dir):
    from compressai.utils.bench import codecs as compressai_codecs

    reference = getattr(compressai_codecs, compressai_codec)(None)
    ours = make_codec(name)
    for image_name in ("kodim01.png", "kodim23.png"):
        path = kodak_dir / image_name
        image = np.asarray(Image.open(path).convert("RGB"))
        for quality in (10, 50, 90):
            theirs = reference.run(str(path), quality, metrics=["psnr-rgb"])
            data = ours.encode(image, quality)
            bpp = len(data) * 8 / (image.shape[0] * image.shape[1])
            assert bpp == pytest.approx(theirs["bpp"], abs=1e-3)
            assert psnr_rgb(image, ours.decode(data)) == pytest.approx(theirs["psnr-rgb"], abs=0.01)
