"""VVC reference software VTM (``EncoderApp``/``DecoderApp``), all-intra, one frame.

The papers compare with VTM-12.1 intra at 4:4:4. The image is converted to planar Y'CbCr 4:4:4
with :mod:`bench_codecs.yuv` (BT.709, full range), written at ``input_bit_depth`` (10 by default:
exact for 8-bit RGB), coded at ``bit_depth`` (the internal depth), decoded at the input depth and
converted back; bpp counts the bitstream file. Sizes that are not a multiple of the minimum CU
size (8) are padded by the encoder (``--ConformanceWindowMode=1``) and cropped by the conformance
window.

Configuration profiles (``profile``):

* ``vtm-intra`` (default): VTM's own ``cfg/encoder_intra_vtm.cfg``, the file the JVET common test
  conditions and CompressAI's published VTM points use, fast-search settings included (LCTUFast,
  PBIntraFast, ISPFast, FastMIP, FastLFNST, AMaxBT). It ships with VTM's sources, not with bench:
  it is found beside the binaries (a ``cfg`` folder in the binary's folder or any folder above
  it), or named by ``config_file`` or ``$BENCH_VTM_CFG``.
* ``bench-intra``: the configuration this module writes (``INTRA_CFG``): the same intra tools
  without the fast-search settings, so slower and slightly better (the project's profile before
  ``vtm-intra``).

The SHA-256 of the exact configuration text enters ``version()``, so editing the file invalidates
stored rows, and the row's ``command`` is the literal command line with that hash.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from bench.codec import Codec, ValueType
from bench.errors import CodecFailure, CodecUnavailable, ConfigError
from bench_codecs import listings
from bench_codecs import subprocess_runner as sp
from bench_codecs import yuv

#: The all-intra configuration (one frame). Coding-tool switches follow the JVET common test
#: conditions for all-intra; anything not listed keeps the encoder's default.
INTRA_CFG = """\
# written by bench (bench_codecs.vtm): all-intra, one frame
FramesToBeEncoded : 1
FrameRate : 1
IntraPeriod : 1
DecodingRefreshType : 1
GOPSize : 1
CTUSize : 128
MinQTLumaISlice : 8
MinQTChromaISliceInChromaSamples : 4
MaxMTTHierarchyDepthISliceL : 3
MaxMTTHierarchyDepthISliceC : 3
DualITree : 1
RDOQ : 1
RDOQTS : 1
DepQuant : 1
SAO : 1
ALF : 1
LMCSEnable : 1
LMCSSignalType : 0
LMCSUpdateCtrl : 1
LMCSOffset : 2
TransformSkip : 1
TransformSkipFast : 1
TransformSkipLog2MaxSize : 5
MTS : 1
MTSIntraMaxCand : 4
LFNST : 1
ISP : 1
MRL : 1
MIP : 1
LMChroma : 1
JointCbCr : 1
ChromaTS : 1
SameCQPTablesForAllChroma : 1
QpInValCb : 17 27 32 44
QpOutValCb : 17 29 34 41
SEIDecodedPictureHash : 0
"""

#: Configuration profiles: VTM's own intra file (found at run time) or the one written above.
PROFILES = ("vtm-intra", "bench-intra")
#: Where VTM's source tree keeps the official all-intra configuration.
OFFICIAL_CFG = Path("cfg") / "encoder_intra_vtm.cfg"
#: Folders above the binary's searched for ``cfg/encoder_intra_vtm.cfg`` (bin/umake/gcc-x/x86_64/release).
SEARCH_DEPTH = 6

#: Minimum CU size: the picture must be a multiple of it; the encoder pads and signals cropping.
MIN_CU = 8


class VtmCodec(yuv.RoundTripReference, Codec):
    name = "vtm"
    rate_parameter = "qp"
    default_rates = (22, 27, 32, 37, 42, 47)
    rate_range = (-12, 63)
    param_defaults = {
        "encoder_app": "EncoderApp", "decoder_app": "DecoderApp", "chroma": "444",
        "bit_depth": 10, "input_bit_depth": 10, "matrix": "bt709", "range": "full", "timeout_s": 3600,
        "psnr_reference": "original", "profile": "vtm-intra", "config_file": "",
    }
    param_types = {
        "chroma": ValueType(str, choices=yuv.CHROMA_FORMATS), "bit_depth": ValueType(int, choices=yuv.BIT_DEPTHS),
        "input_bit_depth": ValueType(int, choices=yuv.BIT_DEPTHS), "profile": ValueType(str, choices=PROFILES),
        "matrix": ValueType(str, choices=tuple(yuv.MATRICES)), "range": ValueType(str, choices=yuv.RANGES),
        "timeout_s": ValueType(float, low=1, high=sp.MAX_TIMEOUT_S), "psnr_reference": ValueType(str, choices=yuv.PSNR_REFERENCES),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        p = self.params
        yuv.check_format(p["matrix"], p["range"], int(p["bit_depth"]), str(p["chroma"]))
        yuv.check_format(p["matrix"], p["range"], int(p["input_bit_depth"]), str(p["chroma"]))
        if p["config_file"] and p["profile"] != "vtm-intra":
            raise ConfigError(f"codec {self.name}: config_file is the file of profile \"vtm-intra\"; "
                              f"profile {p['profile']!r} writes its own configuration")
        self._check_reference()

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return listings.vtm_unavailable()

    def _binary(self, key: str, name: str) -> str:
        configured = self.params[key]
        found = sp.find_binary(configured if os.sep in configured else None, f"BENCH_VTM_{name.upper()}", name,
                               folder_env="BENCH_VTM_DIR") or sp.find_binary(configured, None, name)
        if found is None:
            raise CodecUnavailable(f"codec {self.name}: {name} not found (set BENCH_VTM_DIR, params.{key} or PATH)")
        return found

    def reference_format(self) -> tuple[str, str, int, str]:
        # CompressAI's published VTM points: BT.709, full range, 8-bit round trip.
        return self.params["matrix"], self.params["range"], 8, "444"

    def _official_cfg(self) -> Path:
        """VTM's ``encoder_intra_vtm.cfg``: ``config_file``, ``$BENCH_VTM_CFG``, or beside the binary."""
        named = self.params["config_file"] or os.environ.get("BENCH_VTM_CFG", "")
        if named:
            path = Path(named).expanduser()
            if not path.is_file():
                source = "params.config_file" if self.params["config_file"] else "BENCH_VTM_CFG"
                raise CodecUnavailable(f"codec {self.name}: {source} {named!r} is not a file; name VTM's "
                                       f"cfg/encoder_intra_vtm.cfg")
            return path
        folder = Path(self._binary("encoder_app", "EncoderApp")).resolve().parent
        for candidate in [folder, *folder.parents][:SEARCH_DEPTH + 1]:
            if (candidate / OFFICIAL_CFG).is_file():
                return candidate / OFFICIAL_CFG
        raise CodecUnavailable(
            f"codec {self.name}: VTM's {OFFICIAL_CFG} (profile vtm-intra) not found beside {folder}; set "
            "BENCH_VTM_CFG or params.config_file to it, or use params.profile = \"bench-intra\"")

    @cached_property
    def configuration(self) -> tuple[str, str]:
        """(file name as passed to EncoderApp, exact text) of the profile's configuration."""
        if self.params["profile"] == "bench-intra":
            return "intra.cfg", INTRA_CFG
        path = self._official_cfg()
        try:
            return str(path), path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CodecUnavailable(f"codec {self.name}: cannot read {path}: {exc}") from None

    def configuration_sha256(self) -> str:
        return hashlib.sha256(self.configuration[1].encode()).hexdigest()

    def version(self) -> str:
        banner = sp.probe_version(self._binary("encoder_app", "EncoderApp"), ("--help",), "VTM")
        return f"{banner}; {self.params['profile']} cfg sha256 {self.configuration_sha256()[:16]}"

    @staticmethod
    def padded(height: int, width: int) -> tuple[int, int]:
        """The coded size: each side rounded up to the minimum CU size."""
        return -(-height // MIN_CU) * MIN_CU, -(-width // MIN_CU) * MIN_CU

    def encode_args(self, cfg: str, source: str, target: str, width: int, height: int, rate: float) -> list[str]:
        p = self.params
        depth, input_depth = int(p["bit_depth"]), int(p["input_bit_depth"])
        return [self._binary("encoder_app", "EncoderApp"), "-c", cfg, "-i", source, "-b", target, "-o", "",
                f"--SourceWidth={width}", f"--SourceHeight={height}", f"--InputBitDepth={input_depth}",
                f"--OutputBitDepth={input_depth}", f"--InternalBitDepth={depth}",
                f"--InputChromaFormat={p['chroma']}", f"--ChromaFormatIDC={p['chroma']}",
                "--ConformanceWindowMode=1", f"--QP={int(rate)}", "--FramesToBeEncoded=1", "--FrameRate=1"]

    def describe(self, rate: float) -> str:
        """The literal encoder command (W, H: the image's size) and the configuration's hash."""
        command = sp.command_text(self.encode_args(self.configuration[0], "input.yuv", "out.bin", 0, 0, rate))
        return (command.replace("--SourceWidth=0 --SourceHeight=0", "--SourceWidth=W --SourceHeight=H")
                + f"  # {self.params['profile']} cfg sha256 {self.configuration_sha256()}")

    def encode(self, image: np.ndarray, rate: float) -> bytes:
        p = self.params
        height, width = image.shape[:2]
        input_depth = int(p["input_bit_depth"])
        planes = yuv.rgb_to_ycbcr(image, p["matrix"], p["range"], input_depth, str(p["chroma"]))
        with sp.task_dir("vtm-enc") as folder:
            source, target = folder / "input frame.yuv", folder / "out.bin"
            cfg = folder / "intra.cfg"
            cfg.write_text(self.configuration[1])  # the exact text hashed into the version, whatever the file does later
            yuv.write_yuv(source, planes, input_depth)
            args = self.encode_args(str(cfg), str(source), str(target), width, height, rate)
            sp.run(args, float(p["timeout_s"]), f"codec {self.name}", cwd=folder)
            return sp.read_output(target, f"codec {self.name}", args[0])

    def decode(self, data: bytes, **decoder_options: Any) -> np.ndarray:
        p = self.params
        depth = int(p["input_bit_depth"])  # decoded at the depth the input had
        with sp.task_dir("vtm-dec") as folder:
            source, target = folder / "in.bin", folder / "decoded frame.yuv"
            source.write_bytes(data)
            binary = self._binary("decoder_app", "DecoderApp")
            sp.run([binary, "-b", str(source), "-o", str(target), "-d", str(depth)],
                   float(p["timeout_s"]), f"codec {self.name}", cwd=folder)
            sp.read_output(target, f"codec {self.name}", binary)
            width, height = picture_size(source)
            planes = read_frame(target, width, height, depth, str(p["chroma"]), f"codec {self.name}", binary)
        return yuv.ycbcr_to_rgb(planes, p["matrix"], p["range"], depth, str(p["chroma"]))


def picture_size(bitstream: Path, timeout_s: float = 60.0) -> tuple[int, int]:
    """Cropped picture size of a VVC bitstream, read by the FFmpeg of ``imageio-ffmpeg``.

    ``decode`` receives the bitstream alone and DecoderApp does not print the size; FFmpeg's VVC
    parser reads it from the SPS (conformance window applied) without adding bytes to the stream.
    """
    import re

    import imageio_ffmpeg

    try:
        _, _, stderr = sp.communicate([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-f", "vvc", "-i", str(bitstream)],
                                      timeout_s)
    except subprocess.TimeoutExpired:
        raise CodecFailure(f"{bitstream.name}: FFmpeg timed out after {timeout_s:g} s reading the VVC picture size") from None
    match = re.search(r"Video: vvc.*?, (\d+)x(\d+)", stderr.decode(errors="replace"))
    if not match:
        raise CodecFailure(f"{bitstream.name}: FFmpeg could not read the VVC picture size: {sp.one_line(stderr)}")
    return int(match.group(1)), int(match.group(2))


def read_frame(path: Path, width: int, height: int, depth: int, chroma: str, what: str, binary: str) -> yuv.Planes:
    """The decoded frame a tool wrote; a file of the wrong size is the tool's fault, named so."""
    try:
        return yuv.read_yuv(path, width, height, depth, chroma)
    except CodecFailure as exc:
        raise CodecFailure(f"{what}: {sp.one_line(Path(binary).name)} exited 0 but its output is not one "
                           f"{width}x{height} frame ({exc}); check the binary") from None
