"""HEVC intra through HEIF: x265 (bundled in the pillow-heif wheel) at a fixed QP, decoded by libde265.

A BPG-like anchor that installs from PyPI alone, labelled for what it is: bytes are the whole
HEIF file, so the container's few hundred bytes of boxes count towards bpp (BPG's header is
smaller). Chroma 4:4:4 by default; RGB↔YCbCr conversion is libheif's default.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure, ConfigError

CHROMA = ("444", "422", "420")


class HevcHeifCodec(Codec):
    name = "hevc-x265-heif"
    rate_parameter = "qp"
    default_rates = (22, 27, 32, 37, 42, 47)
    rate_range = (0, 51)
    param_defaults = {"chroma": "444", "preset": "", "tune": "psnr"}
    param_types = {"chroma": ValueType(str, choices=CHROMA)}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if str(self.params["chroma"]) not in CHROMA:
            raise ConfigError(f"codec {self.name}: chroma must be one of {', '.join(CHROMA)}")

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            import pillow_heif
        except ImportError:
            return "pillow-heif is not installed (pip install pillow-heif)"
        if "x265" not in pillow_heif.libheif_info().get("encoders", {}):
            return "this pillow-heif build has no x265 encoder"
        return None

    def _encoder_params(self, rate: float) -> dict[str, str]:
        params = {"x265:qp": str(int(rate)), "tune": str(self.params["tune"])}
        if self.params["preset"]:
            params["preset"] = str(self.params["preset"])
        return params

    def version(self) -> str:
        import pillow_heif

        info = pillow_heif.libheif_info()
        return f"pillow-heif {pillow_heif.__version__}, libheif {info['libheif']}, {info['encoders']['x265']}, {info['decoders'].get('libde265', '')}"

    def describe(self, rate: float) -> str:
        return (f"pillow_heif.from_bytes('RGB', size, pixels).save(buffer, chroma={self.params['chroma']!r}, "
                f"enc_params={self._encoder_params(rate)!r})")

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        import pillow_heif

        heif = pillow_heif.from_bytes(mode="RGB", size=(image.shape[1], image.shape[0]), data=np.ascontiguousarray(image).tobytes())
        buffer = io.BytesIO()
        heif.save(buffer, quality=50, chroma=int(self.params["chroma"]), enc_params=self._encoder_params(rate))
        return buffer.getvalue()

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        import pillow_heif

        try:
            heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        except (ValueError, RuntimeError) as exc:
            raise CodecFailure(f"{self.name}: cannot decode ({exc})") from None
        return np.asarray(heif.to_pillow().convert("RGB"))
