"""Peak-memory estimates of learned codecs: how many may run at once, and which images cannot fit.

A learned codec on a full-resolution image (CLIC, DIV2K: 2–3 megapixels) needs gigabytes, and
the kernel's OOM killer ends a worker without a row or a message. So a codec class may declare
``peak_memory_mib = (base, per_megapixel)``, a linear fit of the measured peak RSS of one encode
+ decode against pixels (``benchmarks/codec_memory.py``, docs/performance.md). With it:

* the runner runs no more workers than the available memory holds at once
  (:func:`limit_workers`), and says so;
* the codec refuses, before any work, an image whose estimate exceeds what the machine has
  left (:func:`ensure_fits`): one error row naming the image size and the estimate.

Codecs that declare nothing (the classical ones: tens of MiB) are never limited.
"""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Iterable

from bench.errors import CodecFailure

MIB = 1 << 20


def estimate_mib(peak_memory_mib: tuple[float, float], width: int, height: int) -> float:
    """Estimated peak RSS in MiB of one encode + decode of a ``width`` × ``height`` image."""
    base, per_megapixel = peak_memory_mib
    return base + per_megapixel * width * height / 1e6


def available_mib() -> float:
    """Memory this process may still take, in MiB: ``MemAvailable``, or the cgroup's limit left if lower."""
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) / 1024
    except OSError:
        pass
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / MIB
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            available = min(available, (int(limit) - int(used)) / MIB)
    except (OSError, ValueError):
        pass
    return available


def _own_peak_mib() -> float:
    """This process's peak RSS so far (``ru_maxrss``, KiB on Linux): memory the estimate already counts."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ensure_fits(codec: str, peak_memory_mib: tuple[float, float] | None, width: int, height: int) -> None:
    """Raise a one-line CodecFailure when ``codec`` on a ``width`` × ``height`` image would need more
    memory than is left: the estimate minus what this process already holds, against ``MemAvailable``."""
    if peak_memory_mib is None:
        return
    estimate = estimate_mib(peak_memory_mib, width, height)
    needed = estimate - _own_peak_mib()
    available = available_mib()
    if needed > available:
        base, per_megapixel = peak_memory_mib
        raise CodecFailure(
            f"{codec} on a {width}×{height} image ({width * height / 1e6:.2f} MP) needs about "
            f"{estimate / 1024:.1f} GiB (estimate {base:.0f} MiB + {per_megapixel:.0f} MiB per megapixel), "
            f"{available / 1024:.1f} GiB available; not run (free memory, run fewer jobs, or crop the image)"
        )


def limit_workers(workers: int, loads: Iterable[tuple[str, tuple[float, float] | None, int, int]],
                  available: float | None = None) -> tuple[int, str | None]:
    """How many workers may run at once, and a note when that is fewer than ``workers``.

    ``loads`` are (codec, peak_memory_mib, width, height) of the tasks to run. The largest
    estimate that fits on its own sets the limit (workers × it ≤ available); tasks that cannot fit
    even alone are left to :func:`ensure_fits`, which refuses them with a row.
    """
    available = available_mib() if available is None else available
    fitting = [(estimate_mib(peak, w, h), codec, w, h) for codec, peak, w, h in loads
               if peak is not None and estimate_mib(peak, w, h) <= available]
    if workers <= 1 or not fitting:
        return workers, None
    largest, codec, width, height = max(fitting)
    allowed = max(1, int(available // largest))
    if allowed >= workers:
        return workers, None
    return allowed, (f"running {allowed} worker(s), not {workers}: {codec} on {width}×{height} images needs "
                     f"about {largest / 1024:.1f} GiB each and {available / 1024:.1f} GiB is available")


def task_loads(tasks: Iterable) -> list[tuple[str, tuple[float, float] | None, int, int]]:
    """(codec, peak_memory_mib, width, height) per distinct image × codec of planned tasks, sizes
    read from the image headers (no decoding); images that cannot be opened are left out (their
    tasks fail with their own error row)."""
    from PIL import Image

    from bench.codec import codec_class
    from bench.plan.images import unreadable

    loads, seen = [], set()
    for task in tasks:
        peak = getattr(codec_class(task.codec_impl), "peak_memory_mib", None)
        if peak is None or (task.codec_impl, task.image_path) in seen:
            continue
        seen.add((task.codec_impl, task.image_path))
        if unreadable(task.image_path):  # never opened: a FIFO would block; its tasks are error rows
            continue
        try:
            with Image.open(task.image_path) as image:
                width, height = image.size
        except Exception:  # noqa: BLE001 - the task itself reports an unreadable image
            continue
        loads.append((task.codec_impl, peak, width, height))
    return loads
