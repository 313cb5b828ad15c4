"""Measure what the harness costs on top of the codecs' own work, side by side in one run.

For the same Kodak images, JPEG and WebP at ten qualities, PSNR-RGB and MS-SSIM (the work
CompressAI's benchmark does), and the same number of processes, it times:

* ``bare``: a plain loop doing only encode → decode → metrics (no planning, store, provenance);
* ``bench``: ``bench run`` into a fresh store (determinism re-decode and LPIPS off, so the work
  matches);
* ``compressai``: ``python -m compressai.utils.bench jpeg|webp`` (the same codecs);

each repeated, interleaved, reporting medians and ratios, once per codec set (``--codec-sets``:
JPEG + WebP, and JPEG alone, by default). Then the repository's bench.toml on the first
``--limit`` Kodak images: as configured, and with the determinism check on every row (``all``:
every bitstream decoded twice); and metric throughput per 768×512 image.

Until the execution was split into driver and worker (bench.execute, bench.execute.worker) the script
also timed a ``legacy`` variant: ``bench run`` with one task per worker call (``run_task``),
tasks handed out one by one and metrics uncached. That path is gone; the numbers it gave are
kept in docs/performance.md with the commit they were measured at.

    python benchmarks/harness_overhead.py --kodak DIR [--jobs 2] [--repeats 3] [--limit 4] \
        [--codec-sets jpeg,webp jpeg] [--skip-default]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
CODECS = {"jpeg": "JPEG", "webp": "WEBP"}


def bare_loop(kodak: Path, jobs: int, codecs: list[str]) -> None:
    """Encode, decode and measure every image × codec × quality, nothing else."""
    from joblib import Parallel, delayed

    images = sorted(kodak.glob("kodim*.png"))
    Parallel(n_jobs=jobs)(delayed(_bare_one_image)(path, [CODECS[c] for c in codecs]) for path in images)


def _bare_one_image(path: Path, formats: list[str]) -> list[tuple[float, float, float]]:
    from PIL import Image

    from bench.metrics.msssim import ms_ssim
    from bench.metrics.psnr import psnr_rgb

    original = np.asarray(Image.open(path).convert("RGB"))
    out = []
    for fmt in formats:
        for quality in QUALITIES:
            buffer = io.BytesIO()
            Image.fromarray(original).save(buffer, format=fmt, quality=quality)
            decoded = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"))
            out.append((len(buffer.getvalue()) * 8 / original[..., 0].size, psnr_rgb(original, decoded), ms_ssim(original, decoded)))
    return out


def timed(command: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - start


def bench_command(kodak: Path, jobs: int, workdir: Path, codecs: list[str]) -> list[str]:
    """``bench run`` of the shared workload into a fresh store."""
    config = workdir / "bench.toml"
    rates = ", ".join(map(str, QUALITIES))
    sections = "".join(f"[codecs.{codec}]\nrates = [{rates}]\n" for codec in codecs)
    config.write_text(f'[run]\ncodecs = {json.dumps(codecs)}\nmetrics = ["psnr_rgb", "ms_ssim"]\n'
                      f'check_determinism = "off"\n{sections}')
    return [*BENCH, "run", "--config", str(config), "--dataset", str(kodak), "--jobs", str(jobs),
            "--results", str(workdir / f"store-{time.monotonic_ns()}")]


#: The command that starts ``bench``.
BENCH = [sys.executable, "-c", "from bench.cli import main; main()"]


def default_config_command(jobs: int, workdir: Path, limit: int, variant: str) -> list[str]:
    """``bench run --dataset kodak --limit N`` with the repository's bench.toml (its codecs,
    metrics and determinism setting); ``variant`` is ``now`` (as configured) or ``all`` (every
    row decoded twice, the determinism check before it was ``first``)."""
    extra = ["--check-determinism", "all"] if variant == "all" else []
    return [*BENCH, "run", "--config", str(REPO / "bench.toml"), "--dataset", "kodak",
            "--limit", str(limit), "--jobs", str(jobs), "--results", str(workdir / f"store-{time.monotonic_ns()}"),
            *extra]


def compressai_commands(kodak: Path, jobs: int, codecs: list[str]) -> list[list[str]]:
    qualities = ",".join(map(str, QUALITIES))
    return [[sys.executable, "-m", "compressai.utils.bench", codec, str(kodak), "-q", qualities, "-j", str(jobs)]
            for codec in codecs]


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
    parser.add_argument("--jobs", type=int, nargs="+", default=[2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=4, help="images of the default-config run (bench.toml on Kodak)")
    parser.add_argument("--codec-sets", nargs="+", default=["jpeg,webp", "jpeg"],
                        help="comma-separated codec lists, one table row each (jpeg, webp)")
    parser.add_argument("--codecs", default="jpeg,webp", help="codec list of the 'bare' mode")
    parser.add_argument("--skip-default", action="store_true", help="skip the repository's bench.toml comparison")
    args = parser.parse_args()
    if args.mode == "bare":
        bare_loop(args.kodak, args.jobs[0], args.codecs.split(","))
        return
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
    print(f"commit {commit.strip()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}\n")
    n_images = len(sorted(args.kodak.glob("kodim*.png")))
    print(f"{n_images} images × {len(QUALITIES)} qualities per codec; medians of {args.repeats} runs (seconds, wall clock)\n")
    print("| codecs | processes | bare loop | bench run | CompressAI bench | bench / bare | CompressAI / bench |")
    print("|---|---|---|---|---|---|---|")
    env = {**os.environ, "BENCH_DATA_DIR": str(args.kodak.parent)}
    with tempfile.TemporaryDirectory() as tmp:
        for jobs in args.jobs:
            for codec_set in args.codec_sets:
                codecs = codec_set.split(",")
                times: dict[str, list[float]] = {"bare": [], "bench": [], "compressai": []}
                for _ in range(args.repeats):  # interleaved, so drifting machine load hits all three alike
                    times["bare"].append(timed([sys.executable, __file__, "bare", "--kodak", str(args.kodak),
                                                "--jobs", str(jobs), "--codecs", codec_set]))
                    times["bench"].append(timed(bench_command(args.kodak, jobs, Path(tmp), codecs)))
                    times["compressai"].append(sum(timed(c) for c in compressai_commands(args.kodak, jobs, codecs)))
                print(f"  raw seconds {codec_set}, {jobs} processes: {times}", file=sys.stderr, flush=True)
                bare, ours, theirs = (statistics.median(times[k]) for k in ("bare", "bench", "compressai"))
                print(f"| {' + '.join(codecs)} | {jobs} | {bare:.1f} | {ours:.1f} | {theirs:.1f} | "
                      f"{ours / bare:.3f} | {theirs / ours:.2f} |", flush=True)
            if args.skip_default:
                continue
            default: dict[str, list[float]] = {"now": [], "all": []}
            for _ in range(args.repeats):
                for variant in default:
                    default[variant].append(timed(default_config_command(jobs, Path(tmp), args.limit, variant), env))
            print(f"  raw seconds default config, {jobs} processes: {default}", file=sys.stderr, flush=True)
            now, every_row = (statistics.median(default[k]) for k in ("now", "all"))
            print(f"\ndefault config (bench.toml, `--dataset kodak --limit {args.limit}`), {jobs} processes: "
                  f"determinism check on every row {every_row:.1f} s, as configured {now:.1f} s "
                  f"(ratio {every_row / now:.2f}, {100 * (1 - now / every_row):.0f} % less time)", flush=True)
    print("\n| metric | seconds per 768×512 pair (CPU, median) |\n|---|---|")
    for name, seconds in metric_throughput(args.kodak, max(5, args.repeats)).items():
        print(f"| {name} | {seconds:.4f} |")


if __name__ == "__main__":
    main()
