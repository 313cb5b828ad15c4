"""The names of the distortion metrics, apart from the code that computes them.

Configuration and flags are checked against these names; importing ``bench.metrics`` itself
loads torch (MS-SSIM, LPIPS), which a command that only reads the store must not pay for.
"""

from __future__ import annotations

from bench.errors import ConfigError

#: Metrics computed in numpy, as functions of (original, decoded) (``bench.metrics.NUMPY_METRICS``).
NUMPY_METRIC_NAMES = ("psnr_rgb", "psnr_y")
#: Metrics computed in torch, which also take the device to run on.
TORCH_METRICS = ("ms_ssim", "lpips")
#: PSNR of the float reconstruction (learned codecs' ``decode_float``; the 8-bit image for codecs
#: without one). Opt-in: papers report it, a decoded file cannot show it.
FLOAT_METRIC = "psnr_rgb_float"
ALL_METRICS = NUMPY_METRIC_NAMES + TORCH_METRICS + (FLOAT_METRIC,)


def validate(names: list[str]) -> list[str]:
    unknown = sorted(set(names) - set(ALL_METRICS))
    if unknown:
        raise ConfigError(f"unknown metric(s) {unknown}; known: {', '.join(ALL_METRICS)}")
    return list(names)
#: Metrics the tables and figures of stored rows support (``bench.analysis.aggregate.QUALITY_METRICS``):
#: MS-SSIM in dB, not raw, so differences at high quality stay visible.
ANALYSIS_METRICS = ("psnr_rgb", "psnr_y", "ms_ssim_db", "lpips", "psnr_rgb_float")
#: Every metric column a row may hold (``bench.schema.METRIC_COLUMNS``), for commands that read one column.
STORED_METRICS = ("psnr_rgb", "psnr_y", "ms_ssim", "ms_ssim_db", "lpips", "psnr_rgb_float")
