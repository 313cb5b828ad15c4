"""JPEG 2000 (OpenJPEG), AVIF (libavif + aom) and JPEG XL (libjxl) through ``imagecodecs``.

All three are in the imagecodecs wheel, so they run on every machine the harness installs on.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure


def _imagecodecs():
    import imagecodecs

    return imagecodecs


class _ImagecodecsCodec(Codec):
    #: ``imagecodecs`` function prefix: ``jpeg2k``, ``avif`` or ``jpegxl``.
    prefix: ClassVar[str]

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            codecs = _imagecodecs()
        except ImportError:
            return "imagecodecs is not installed (pip install imagecodecs)"
        if not getattr(codecs, cls.prefix.upper()).available:
            return f"this imagecodecs build has no {cls.prefix} support"
        return None

    def version(self) -> str:
        codecs = _imagecodecs()
        return f"imagecodecs {codecs.__version__}, {getattr(codecs, self.prefix + '_version')()}"

    def _encode_options(self, rate: float) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self, rate: float) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in self._encode_options(rate).items())
        return f"imagecodecs.{self.prefix}_encode(image, {options})"

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        return bytes(getattr(_imagecodecs(), self.prefix + "_encode")(image, **self._encode_options(rate)))

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        decoded = np.asarray(getattr(_imagecodecs(), self.prefix + "_decode")(data))
        if decoded.dtype != np.uint8 or decoded.ndim != 3 or decoded.shape[2] != 3:
            raise CodecFailure(f"{self.name}: decoded {decoded.shape} {decoded.dtype}, expected H×W×3 uint8")
        return decoded


class Jpeg2000Codec(_ImagecodecsCodec):
    """JPEG 2000 (OpenJPEG), irreversible 9/7 wavelet with the RGB→YCbCr transform.

    The rate is OpenJPEG's fixed-quality target (``tcp_distoratio``): the PSNR in dB it aims for.
    """

    name = "jpeg2000"
    prefix = "jpeg2k"
    rate_parameter = "target_psnr_db"
    default_rates = (26, 28, 30, 32, 34, 36, 38, 40, 42)
    rate_range = (1, 100)

    def _encode_options(self, rate: float) -> dict[str, Any]:
        return {"level": int(rate), "codecformat": "j2k", "reversible": False}


class AvifCodec(_ImagecodecsCodec):
    """AVIF (libavif with aom), 4:4:4 by default; rate is libavif's quality 0–100."""

    name = "avif"
    prefix = "avif"
    default_rates = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    rate_range = (0, 100)
    param_defaults = {"speed": 6, "pixelformat": "444"}
    param_types = {"speed": ValueType(int, low=0, high=10), "pixelformat": ValueType(str, choices=("444", "422", "420", "400"))}

    def _encode_options(self, rate: float) -> dict[str, Any]:
        return {"level": int(rate), "speed": int(self.params["speed"]), "pixelformat": str(self.params["pixelformat"])}


class JpegXlCodec(_ImagecodecsCodec):
    """JPEG XL (libjxl), VarDCT; rate is libjxl's quality 0–100 (mapped to a Butteraugli distance)."""

    name = "jpegxl"
    prefix = "jpegxl"
    default_rates = (10, 20, 30, 40, 50, 60, 70, 80, 90)
    rate_range = (0, 100)
    param_defaults = {"effort": 7}
    param_types = {"effort": ValueType(int, low=1, high=10)}

    def _encode_options(self, rate: float) -> dict[str, Any]:
        return {"level": int(rate), "effort": int(self.params["effort"])}
