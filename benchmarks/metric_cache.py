"""Time MS-SSIM and LPIPS with and without the cached reference side, side by side in one run.

For each Kodak image, JPEG at ten qualities gives ten decoded images of one reference; each metric
is timed three ways, interleaved so drifting machine load hits all alike:

* ``old``: ``measure(..., cache=False)``, the plain pytorch-msssim / ``lpips`` call per image;
* ``cached``: ``measure`` per image, starting from an empty cache (the first call builds the
  reference side, the other nine reuse it; content hashing included);
* ``batched``: one ``measure_many`` call for the ten images, also from an empty cache.

It prints the machine, Markdown tables of medians and ratios, the largest difference from the
old values, what hashing a reference costs, and (first image) the batched time per batch size.

    python benchmarks/metric_cache.py --kodak DIR [--images 24] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

import bench.metrics as metrics
from bench.metrics.cache import content_key

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
METRICS = ("ms_ssim", "lpips")
PATHS = ("old", "cached", "batched")
SWEEP = (1, 2, 5, 10)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return np.asarray(Image.open(buffer).convert("RGB"))


def run_path(path: str, reference: np.ndarray, decoded: list[np.ndarray], metric: str) -> list[float]:
    """The metric of every decoded image by one path, from an empty cache."""
    metrics.PYRAMIDS.clear()
    metrics.FEATURES.clear()
    if path == "batched":
        rows = metrics.measure_many(reference, decoded, [metric])
    else:
        rows = [metrics.measure(reference, image, [metric], cache=path == "cached") for image in decoded]
    return [row[metric] for row in rows]


def timed(function: Callable[[], list[float]]) -> tuple[tuple[float, float], list[float]]:
    """(wall seconds, CPU seconds of this process) of ``function()``, and its values.

    CPU time adds up torch's threads and is less disturbed than wall time when other work shares
    the cores; both are reported.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    values = function()
    return (time.perf_counter() - wall, time.process_time() - cpu), values


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine() -> str:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"{cpu_model()}, {os.cpu_count()} logical cores, torch {torch.__version__} on "
            f"{torch.get_num_threads()} threads, load average at start {load}")


def hash_seconds(image: np.ndarray, repeats: int = 50) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        content_key(image)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def batch_sweep(reference: np.ndarray, decoded: list[np.ndarray], repeats: int) -> dict[tuple[str, int], float]:
    """Median CPU seconds of ``measure_many`` over the ten images per metric and images per batch."""
    pixels = reference.shape[0] * reference.shape[1]
    default = metrics.BATCH_PIXELS
    samples: dict[tuple[str, int], list[float]] = {}
    try:
        for _ in range(repeats):
            for metric in METRICS:
                for size in SWEEP:
                    metrics.BATCH_PIXELS = size * pixels
                    (_, cpu), _ = timed(lambda: run_path("batched", reference, decoded, metric))
                    samples.setdefault((metric, size), []).append(cpu)
    finally:
        metrics.BATCH_PIXELS = default
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, required=True)
    parser.add_argument("--images", type=int, default=24, help="the first N Kodak images")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    paths = sorted(args.kodak.glob("kodim*.png"))[: args.images]
    print(f"Machine: {machine()}\n")
    images = {p.stem: np.asarray(Image.open(p).convert("RGB")) for p in paths}
    decoded = {name: [jpeg(image, q) for q in QUALITIES] for name, image in images.items()}
    for metric in METRICS:  # warm-up: model loading and first-call allocation are not throughput
        run_path("cached", *next(iter(zip(images.values(), decoded.values()))), metric)

    seconds: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    worst: dict[tuple[str, str], float] = {}
    for repeat in range(args.repeats):
        for name, image in images.items():
            for metric in METRICS:
                order = PATHS[repeat % 3:] + PATHS[: repeat % 3]  # rotate which path runs first
                values = {}
                for path in order:
                    elapsed, values[path] = timed(lambda: run_path(path, image, decoded[name], metric))
                    seconds.setdefault((name, metric, path), []).append(elapsed)
                for path in ("cached", "batched"):
                    diff = max(abs(a - b) for a, b in zip(values[path], values["old"]))
                    worst[(metric, path)] = max(worst.get((metric, path), 0.0), diff)

    print(f"Seconds for {len(QUALITIES)} decoded images (JPEG q {QUALITIES[0]}–{QUALITIES[-1]}) of one reference, "
          f"medians of {args.repeats} repeats, cache emptied before each path\n")
    for clock, label in enumerate(("wall", "CPU")):
        median = {key: statistics.median(s[clock] for s in values) for key, values in seconds.items()}
        print(f"| image | metric | old {label} s | cached | batched | old / cached | old / batched |\n|---|---|---|---|---|---|---|")
        for name in images:
            for metric in METRICS:
                old, cached, batched = (median[(name, metric, p)] for p in PATHS)
                print(f"| {name} | {metric} | {old:.3f} | {cached:.3f} | {batched:.3f} | {old / cached:.2f} | {old / batched:.2f} |")
        for metric in METRICS:
            old, cached, batched = (sum(median[(n, metric, p)] for n in images) for p in PATHS)
            print(f"| **all {len(images)}** | {metric} | {old:.2f} | {cached:.2f} | {batched:.2f} | "
                  f"**{old / cached:.2f}** | **{old / batched:.2f}** |")
        print()

    print("| metric | path | largest abs difference from old |\n|---|---|---|")
    for (metric, path), diff in sorted(worst.items()):
        print(f"| {metric} | {path} | {diff:.1e} |")
    first = next(iter(images))
    print(f"\nContent key (BLAKE2b) of one {images[first].shape[1]}×{images[first].shape[0]} reference: "
          f"{hash_seconds(images[first]) * 1e3:.2f} ms (median of 50)\n")
    sweep = batch_sweep(images[first], decoded[first], args.repeats)
    print(f"| images per batch ({first}, {len(QUALITIES)} images) | " + " | ".join(map(str, SWEEP)) + " |")
    print("|---|" + "---|" * len(SWEEP))
    for metric in METRICS:
        print(f"| {metric} CPU seconds | " + " | ".join(f"{sweep[(metric, size)]:.3f}" for size in SWEEP) + " |")


if __name__ == "__main__":
    main()
