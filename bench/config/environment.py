"""The software and hardware a report was made with, and what its rows record of theirs.

A table in a paper is only reproducible with the versions that produced it: the report prints
the libraries and machine of the process that wrote it beside what every row recorded (harness
version and commit, host, device, codec versions and binaries).
"""

from __future__ import annotations

import os
import platform
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

#: Libraries whose versions change numbers (codecs, metrics, interpolation).
LIBRARIES = ("bench", "torch", "torchvision", "compressai", "Pillow", "numpy", "scipy", "scikit-image", "lpips",
             "pytorch-msssim", "pillow-heif", "imagecodecs", "bjontegaard", "pandas", "pyarrow", "matplotlib")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if not torch.cuda.is_available():
        return "none visible to torch"
    return ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))


def machine() -> dict[str, str]:
    """Python, OS, CPU, GPU and the versions of the libraries that shape the numbers."""
    info = {"Python": platform.python_version(), "platform": platform.platform(),
            "CPU": f"{_cpu_model()} ({os.cpu_count()} logical cores)", "GPU": _gpu()}
    for name in LIBRARIES:
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "not installed"
    return info


#: The row columns ``recorded`` reads (a command that shows them reads them from the store).
RECORDED_COLUMNS = ("codec_impl", "codec_version", "harness_version", "git_commit", "host", "device", "created_utc")


def recorded(rows: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """What the rows say about where they were measured: codec versions, runs and devices."""
    codecs = (rows.groupby(["dataset", "codec", "codec_impl", "codec_version"], dropna=False).size()
              .reset_index(name="rows"))
    runs = (rows.groupby(["harness_version", "git_commit", "host", "device"], dropna=False)
            .agg(rows=("key", "size"), first=("created_utc", "min"), last=("created_utc", "max")).reset_index())
    return {"codecs": codecs, "runs": runs}
