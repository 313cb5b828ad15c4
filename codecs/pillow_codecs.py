"""JPEG (libjpeg-turbo) and WebP (libwebp) through Pillow, in process.

These are the calls CompressAI's ``compressai.utils.bench`` makes, so rows agree with it at
equal quality; the README records that check.
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import numpy as np
import PIL
from PIL import Image, features

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure, ConfigError

#: Pillow's names for chroma subsampling in JPEG.save.
JPEG_SUBSAMPLING = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}


class _PillowCodec(Codec):
    format: ClassVar[str]
    #: Pillow feature name whose version identifies the underlying library.
    feature: ClassVar[str]
    library: ClassVar[str]
    rate_parameter = "quality"
    rate_range = (0, 100)

    def _save_options(self, rate: float) -> dict[str, Any]:
        raise NotImplementedError

    def version(self) -> str:
        return f"Pillow {PIL.__version__}, {self.library} {features.version(self.feature)}"

    def describe(self, rate: float) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self._save_options(rate).items())
        return f"PIL.Image.fromarray(image).save(buffer, format={self.format!r}, {options})"

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        buffer = io.BytesIO()
        Image.fromarray(image, "RGB").save(buffer, format=self.format, **self._save_options(rate))
        return buffer.getvalue()

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            if im.format != self.format:
                raise CodecFailure(f"{self.name}: decoder got a {im.format} stream")
            return np.asarray(im.convert("RGB"))


class JpegCodec(_PillowCodec):
    """Baseline JPEG via libjpeg-turbo; 4:2:0 chroma by default (Pillow's and CompressAI's)."""

    name = "jpeg"
    format = "JPEG"
    feature = "libjpeg_turbo"
    library = "libjpeg-turbo"
    default_rates = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
    rate_range = (1, 100)
    param_defaults = {"subsampling": "4:2:0", "optimize": False}
    param_types = {"subsampling": ValueType(str, choices=tuple(JPEG_SUBSAMPLING))}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["subsampling"] not in JPEG_SUBSAMPLING:
            raise ConfigError(f"codec jpeg: subsampling must be one of {sorted(JPEG_SUBSAMPLING)}")

    def _save_options(self, rate: float) -> dict[str, Any]:
        return {
            "quality": int(rate),
            "subsampling": JPEG_SUBSAMPLING[self.params["subsampling"]],
            "optimize": bool(self.params["optimize"]),
        }


class WebpCodec(_PillowCodec):
    """Lossy WebP via libwebp; ``method`` 4 is cwebp's and Pillow's default effort."""

    name = "webp"
    format = "WEBP"
    feature = "webp"
    library = "libwebp"
    default_rates = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
    param_defaults = {"method": 4}
    param_types = {"method": ValueType(int, low=0, high=6)}  # libwebp's effort levels

    def _save_options(self, rate: float) -> dict[str, Any]:
        return {"quality": int(rate), "method": int(self.params["method"]), "lossless": False}
