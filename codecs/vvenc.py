"""VVC through VVenC (Fraunhofer's fast encoder), as bundled in the ``imageio-ffmpeg`` wheel.

Not VTM: VVenC is a different, faster encoder, and FFmpeg's libvvenc takes 4:2:0 10-bit only, so
the curve is labelled ``vvc-vvenc-420``. RGB → Y'CbCr with :mod:`bench_codecs.yuv` (BT.709 full
range 10-bit, 4:2:0 by 2×2 mean, stated there), fed as raw frames; decoded by the same FFmpeg's
native VVC decoder to raw 4:2:0 10-bit and converted back. bpp counts the raw ``.266`` stream.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bench.codec import Codec, ValueType
from bench.errors import ConfigError
from bench_codecs import subprocess_runner as sp
from bench_codecs import yuv

PIX_FMT = "yuv420p10le"
PRESETS = ("faster", "fast", "medium", "slow", "slower")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


class VvencCodec(yuv.RoundTripReference, Codec):
    name = "vvc-vvenc-420"
    rate_parameter = "qp"
    default_rates = (22, 27, 32, 37, 42, 47)
    rate_range = (0, 63)
    param_defaults = {"preset": "medium", "matrix": "bt709", "range": "full", "timeout_s": 600,
                      "psnr_reference": "original"}
    param_types = {
        "preset": ValueType(str, choices=PRESETS), "matrix": ValueType(str, choices=tuple(yuv.MATRICES)),
        "range": ValueType(str, choices=yuv.RANGES), "timeout_s": ValueType(float, low=1, high=sp.MAX_TIMEOUT_S),
        "psnr_reference": ValueType(str, choices=yuv.PSNR_REFERENCES),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.params["preset"] not in PRESETS:
            raise ConfigError(f"codec {self.name}: preset must be one of {', '.join(PRESETS)}")
        yuv.check_format(self.params["matrix"], self.params["range"], 10, "420")
        self._check_reference()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        try:
            exe = ffmpeg_exe()
        except Exception as exc:  # noqa: BLE001 - any failure to find the binary is the same answer
            return f"imageio-ffmpeg is not installed or has no binary ({type(exc).__name__}): pip install imageio-ffmpeg"
        if "libvvenc" not in sp.probe_version(exe, ("-hide_banner", "-encoders"), "libvvenc"):
            return "the FFmpeg of imageio-ffmpeg has no libvvenc encoder: pip install 'imageio-ffmpeg>=0.6'"
        return None

    def version(self) -> str:
        import imageio_ffmpeg

        return f"imageio-ffmpeg {imageio_ffmpeg.__version__}, {sp.probe_version(ffmpeg_exe(), ('-version',), 'ffmpeg version')}"

    def reference_format(self) -> tuple[str, str, int, str]:
        return self.params["matrix"], self.params["range"], 10, "420"

    def encode_args(self, source: str, target: str, width: int, height: int, rate: float) -> list[str]:
        return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", PIX_FMT,
                "-s", f"{width}x{height}", "-i", source, "-frames:v", "1", "-c:v", "libvvenc",
                "-qp", str(int(rate)), "-preset", self.params["preset"], "-f", "vvc", target]

    def describe(self, rate: float) -> str:
        return sp.command_text(self.encode_args("input.yuv", "out.266", 0, 0, rate)).replace("-s 0x0", "-s WxH")

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        height, width = image.shape[:2]
        if height % 2 or width % 2:
            raise ConfigError(f"codec {self.name}: 4:2:0 needs even sizes, got {width}x{height}")
        planes = yuv.rgb_to_ycbcr(image, self.params["matrix"], self.params["range"], 10, "420")
        with sp.task_dir("vvenc") as folder:
            source, target = folder / "input frame.yuv", folder / "out.266"
            yuv.write_yuv(source, planes, 10)
            args = self.encode_args(str(source), str(target), width, height, rate)
            sp.run(args, float(self.params["timeout_s"]), f"codec {self.name}")
            return sp.read_output(target, f"codec {self.name}", args[0])

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        from bench_codecs.vtm import picture_size, read_frame

        with sp.task_dir("vvdec") as folder:
            source, target = folder / "in.266", folder / "decoded frame.yuv"
            source.write_bytes(data)
            width, height = picture_size(source)
            binary = ffmpeg_exe()
            sp.run([binary, "-hide_banner", "-loglevel", "error", "-y", "-f", "vvc", "-i", str(source),
                    "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", PIX_FMT, str(target)],
                   float(self.params["timeout_s"]), f"codec {self.name}")
            sp.read_output(target, f"codec {self.name}", binary)
            planes = read_frame(target, width, height, 10, "420", f"codec {self.name}", binary)
        return yuv.ycbcr_to_rgb(planes, self.params["matrix"], self.params["range"], 10, "420")
