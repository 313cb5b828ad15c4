"""What ``bench codecs`` shows of every built-in codec, known without importing one.

Each codec class lives beside heavy imports (torch and CompressAI for the learned codecs, the
imaging bindings for the classical ones). This module imports only the standard library and
``subprocess_runner`` (itself standard library only), so listing the codecs, their rates and
whether they can run here takes milliseconds: an installed module is looked up with
``importlib.util.find_spec``, a binary on PATH, a learned codec's default weights as a file.
Each listing is registered in the ``bench.codec_listings`` entry-point group under its codec's
name; ``tests/test_codec_listings.py`` keeps every field equal to its class's attribute.

The demo weights' names live here too (``bench_codecs.inn`` imports them), so the file a learned
codec's listing checks is the one its defaults load.
"""

from __future__ import annotations

from importlib.util import find_spec
from pathlib import Path
from typing import Callable

from bench.registry import CodecListing
from bench_codecs import subprocess_runner as sp

#: Folder of the demo weights shipped with the package.
WEIGHTS = Path(__file__).resolve().parent / "inn" / "weights"
#: A checkpoint setting ``demo:NAME`` names a file shipped in WEIGHTS. The defaults use it so that
#: the setting, which is part of every row key, is the same in every checkout and installation
#: (an absolute path would make a store resume nowhere else); the file's hash is in the version.
DEMO_PREFIX = "demo:"
DEMO_INVCOMPRESS = (f"{DEMO_PREFIX}invcompress-lambda0.0130-1118steps.pt",)
DEMO_IAT = f"{DEMO_PREFIX}iat-theta1.2e-3-maps-1181steps.pt"
DEMO_ILC = f"{DEMO_PREFIX}ilc-lambda0.013-4917steps.pt"
DEMO_PROBDEC = f"{DEMO_PREFIX}probdec-lambda4-14min.pt"
DEMO_QMAP = f"{DEMO_PREFIX}qmap-theta1e-3-1749steps.pt"


def module_installed(module: str, package: str) -> Callable[[], str | None]:
    """A check that ``module`` can be imported (looked up, not imported); ``package``: what to install."""
    def check() -> str | None:
        return None if find_spec(module) is not None else f"{package} is not installed (pip install {package})"
    return check


def learned(*settings: str) -> Callable[[], str | None]:
    """A learned codec's check: torch importable and its default weights (``demo:`` settings) present."""
    def check() -> str | None:
        if find_spec("torch") is None:
            return "torch is not installed (see the README for the pinned torch and torchvision pair)"
        missing = [s for s in settings if not (WEIGHTS / s.removeprefix(DEMO_PREFIX)).is_file()]
        if missing:
            return (f"default weights {', '.join(missing)} missing from {WEIGHTS}: reinstall bench, "
                    "or set params.checkpoint(s) to your own weights in bench.toml")
        return None
    return check


def bpg_unavailable() -> str | None:
    """BPG needs ``bpgenc`` and ``bpgdec`` (``$BENCH_BPGENC``/``$BENCH_BPGDEC`` or PATH)."""
    missing = [n for n, env in (("bpgenc", "BENCH_BPGENC"), ("bpgdec", "BENCH_BPGDEC"))
               if sp.find_binary(None, env, n) is None]
    if missing:
        return (f"{' and '.join(missing)} not found on PATH: build libbpg 0.9.8 and put the binaries on "
                "PATH or set BENCH_BPGENC/BENCH_BPGDEC (docs/reference-codecs.md)")
    return None


def vtm_unavailable() -> str | None:
    """VTM needs ``EncoderApp`` and ``DecoderApp`` (``$BENCH_VTM_DIR``, their own variables or PATH)."""
    missing = [n for n in ("EncoderApp", "DecoderApp")
               if sp.find_binary(None, f"BENCH_VTM_{n.upper()}", n, folder_env="BENCH_VTM_DIR") is None]
    if missing:
        return (f"VTM {' and '.join(missing)} not found: build VTM-12.1 and set BENCH_VTM_DIR to its bin folder "
                "or put the apps on PATH (docs/reference-codecs.md)")
    return None


PILLOW_RATES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
QP_RATES = (22, 27, 32, 37, 42, 47)
QUALITY_RATES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
IMAGECODECS = module_installed("imagecodecs", "imagecodecs")

JPEG = CodecListing("jpeg", "quality", PILLOW_RATES)
WEBP = CodecListing("webp", "quality", PILLOW_RATES)
JPEG2000 = CodecListing("jpeg2000", "target_psnr_db", (26, 28, 30, 32, 34, 36, 38, 40, 42), unavailable=IMAGECODECS)
AVIF = CodecListing("avif", "quality", QUALITY_RATES, unavailable=IMAGECODECS)
JPEGXL = CodecListing("jpegxl", "quality", QUALITY_RATES, unavailable=IMAGECODECS)
HEVC_HEIF = CodecListing("hevc-x265-heif", "qp", QP_RATES, unavailable=module_installed("pillow_heif", "pillow-heif"))
BPG = CodecListing("bpg", "qp", QP_RATES, unavailable=bpg_unavailable)
VTM = CodecListing("vtm", "qp", QP_RATES, unavailable=vtm_unavailable)
VVENC = CodecListing("vvc-vvenc-420", "qp", QP_RATES, unavailable=module_installed("imageio_ffmpeg", "imageio-ffmpeg"))
INVCOMPRESS = CodecListing("invcompress", "model_index", tuple(range(1, len(DEMO_INVCOMPRESS) + 1)), learned=True,
                           unavailable=learned(*DEMO_INVCOMPRESS))
IAT = CodecListing("iat", "level", tuple(round(i / 20, 4) for i in range(21)), learned=True,
                   unavailable=learned(DEMO_IAT))
QMAP = CodecListing("qmap", "level", tuple(round(i / 10, 4) for i in range(11)), learned=True,
                    unavailable=learned(DEMO_QMAP))
ILC = CodecListing("ilc", "model_index", (1,), learned=True, unavailable=learned(DEMO_ILC))
PROBDEC = CodecListing("probdec", "model_index", (1,), learned=True, unavailable=learned(DEMO_PROBDEC))

#: The quantisation steps CompressAI's eval_model drives its variable-rate models with, coarse to
#: fine (``bench_codecs.compressai_codecs`` imports them).
EVAL_MODEL_QUANT_STEPS = (10.0, 7.1715, 5.1832, 3.7211, 2.6833, 1.9305, 1.3897, 1.0)
#: CompressAI's codecs need torch and compressai importable; their zoo weights are fetched (and
#: checked) on first use, and a missing file is a row's one-line error naming the URL.
COMPRESSAI = module_installed("compressai", "compressai==1.2.8")


def _zoo(name: str, qualities: int) -> CodecListing:
    return CodecListing(name, "quality", tuple(range(1, qualities + 1)), learned=True, unavailable=COMPRESSAI)


def _zoo_vbr(name: str) -> CodecListing:
    return CodecListing(name, "quant_step", EVAL_MODEL_QUANT_STEPS, learned=True, unavailable=COMPRESSAI)


BMSHJ2018_FACTORIZED = _zoo("bmshj2018-factorized", 8)
BMSHJ2018_HYPERPRIOR = _zoo("bmshj2018-hyperprior", 8)
MBT2018_MEAN = _zoo("mbt2018-mean", 8)
MBT2018 = _zoo("mbt2018", 8)
CHENG2020_ANCHOR = _zoo("cheng2020-anchor", 6)
CHENG2020_ATTN = _zoo("cheng2020-attn", 6)
BMSHJ2018_HYPERPRIOR_VBR = _zoo_vbr("bmshj2018-hyperprior-vbr")
MBT2018_MEAN_VBR = _zoo_vbr("mbt2018-mean-vbr")
MBT2018_VBR = _zoo_vbr("mbt2018-vbr")
COMPRESSAI_MODEL = CodecListing("compressai-model", "model_index", (1,), learned=True, unavailable=COMPRESSAI)
