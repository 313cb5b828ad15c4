"""Measure what the harness costs on top of the codecs' own work, side by side in one run.

For the same Kodak images, JPEG and WebP at ten qualities, PSNR-RGB and MS-SSIM (the work
CompressAI's benchmark does), and the same number of processes, it times:

* ``bare``: a plain loop doing only encode → decode → metrics (no planning, store, provenance);
* ``bench``: ``bench run`` into a fresh store (determinism re-decode and LPIPS off, so the work
  matches);
* ``compressai``: ``python -m compressai.utils.bench jpeg|webp`` (both codecs);

each repeated, reporting medians and ratios; plus metric throughput per 768×512 image.

    python benchmarks/harness_overhead.py --kodak DIR [--jobs 1 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
CODECS = {"jpeg": "JPEG", "webp": "WEBP"}


def bare_loop(kodak: Path, jobs: int) -> None:
    """Encode, decode and measure every image × codec × quality, nothing else."""
    from joblib import Parallel, delayed

    images = sorted(kodak.glob("kodim*.png"))
    Parallel(n_jobs=jobs)(delayed(_bare_one_image)(path) for path in images)


def _bare_one_image(path: Path) -> list[tuple[float, float, float]]:
    from PIL import Image

    from bench.metrics.msssim import ms_ssim
    from bench.metrics.psnr import psnr_rgb

    original = np.asarray(Image.open(path).convert("RGB"))
    out = []
    for fmt in CODECS.values():
        for quality in QUALITIES:
            buffer = io.BytesIO()
            Image.fromarray(original).save(buffer, format=fmt, quality=quality)
            decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
            out.append((len(buffer.getvalue()) * 8 / original[..., 0].size, psnr_rgb(original, decoded), ms_ssim(original, decoded)))
    return out


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def bench_command(kodak: Path, jobs: int, workdir: Path) -> list[str]:
    config = workdir / "bench.toml"
    rates = ", ".join(map(str, QUALITIES))
    config.write_text(
        f'[run]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb", "ms_ssim"]\ncheck_determinism = false\n'
        f"[codecs.jpeg]\nrates = [{rates}]\n[codecs.webp]\nrates = [{rates}]\n"
    )
    results = workdir / f"store-{time.monotonic_ns()}"
    return [sys.executable, "-c", "from bench.cli import main; main()", "run", "--config", str(config),
            "--dataset", str(kodak), "--jobs", str(jobs), "--results", str(results)]


def compressai_commands(kodak: Path, jobs: int) -> list[list[str]]:
    qualities = ",".join(map(str, QUALITIES))
    return [[sys.executable, "-m", "compressai.utils.bench", codec, str(kodak), "-q", qualities, "-j", str(jobs)]
            for codec in CODECS]


def metric_throughput(kodak: Path, repeats: int) -> dict[str, float]:
    """Median seconds per 768×512 pair for each metric (CPU, one process)."""
    from PIL import Image

    from bench.metrics import measure

    original = np.asarray(Image.open(kodak / "kodim01.png").convert("RGB"))
    buffer = io.BytesIO()
    Image.fromarray(original).save(buffer, format="JPEG", quality=50)
    decoded = np.asarray(Image.open(buffer).convert("RGB"))
    seconds = {}
    for name in ("psnr_rgb", "psnr_y", "ms_ssim", "lpips"):
        measure(original, decoded, [name])  # warm-up: model loading is not throughput
        samples = []
        for _ in range(repeats):
            start = time.perf_counter()
            measure(original, decoded, [name])
            samples.append(time.perf_counter() - start)
        seconds[name] = statistics.median(samples)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "bare"])
    parser.add_argument("--kodak", type=Path, required=True)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.mode == "bare":
        bare_loop(args.kodak, args.jobs[0])
        return
    n_tasks = len(sorted(args.kodak.glob("kodim*.png"))) * len(CODECS) * len(QUALITIES)
    print(f"{n_tasks} encodes per run; medians of {args.repeats} runs (seconds, wall clock)\n")
    print("| processes | bare loop | bench run | CompressAI bench | bench / bare | CompressAI / bench | images·codec·quality per s (bench) |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            times: dict[str, list[float]] = {"bare": [], "bench": [], "compressai": []}
            for _ in range(args.repeats):  # interleaved, so drifting machine load hits all three alike
                times["bare"].append(timed([sys.executable, __file__, "bare", "--kodak", str(args.kodak), "--jobs", str(jobs)]))
                times["bench"].append(timed(bench_command(args.kodak, jobs, Path(tmp))))
                times["compressai"].append(sum(timed(c) for c in compressai_commands(args.kodak, jobs)))
            bare, ours, theirs = (statistics.median(times[k]) for k in ("bare", "bench", "compressai"))
            print(f"| {jobs} | {bare:.1f} | {ours:.1f} | {theirs:.1f} | {ours / bare:.3f} | {theirs / ours:.2f} | {n_tasks / ours:.1f} |")
    print("\n| metric | seconds per 768×512 pair (CPU, median) |\n|---|---|")
    for name, seconds in metric_throughput(args.kodak, max(5, args.repeats)).items():
        print(f"| {name} | {seconds:.4f} |")


if __name__ == "__main__":
    main()
