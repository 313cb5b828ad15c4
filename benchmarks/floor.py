"""Time bench's default Kodak JPEG study beside its floor and CompressAI's benchmark, in one run.

The study: every Kodak image × JPEG quality 10–90 (ten qualities, Pillow, 4:2:0), PSNR-RGB and
MS-SSIM, two processes. Three commands, each a fresh interpreter timed by its wall clock
(start-up included), interleaved so that drifting machine load hits all alike, medians of N:

* ``floor``: this script's ``floor`` mode, the irreducible work and nothing else: a plain pool of
  two processes (``concurrent.futures``), the images split between them; per image, load it,
  compute the reference side of MS-SSIM once (``bench.metrics.msssim.reference_pyramid``), then
  per quality Pillow JPEG encode to bytes, decode, PSNR-RGB (``bench.metrics.psnr.psnr_rgb``), and
  MS-SSIM of the decoded images against that reference (``ms_ssim_against``, in bench's batches).
  No store, no planning, no imports beyond numpy, Pillow, torch and those two modules. Each
  worker runs torch on cores / processes threads, as bench's workers do. It also prints its own
  split (interpreter and imports, pool start, work), which the report shows;
* ``bench``: ``bench run --dataset kodak --codec jpeg --metric psnr_rgb --metric ms_ssim --jobs 2
  --check-determinism off --results <fresh folder>``;
* ``compressai``: ``python -m compressai.utils.bench jpeg <folder> -q 10,...,90 -j 2``.

``--images N`` uses the first N Kodak images (a folder of links, for all three commands).
``--profile`` also runs ``bench run`` once under cProfile (driver process) and prints its top
functions.

    BENCH_DATA_DIR=DIR python benchmarks/floor.py [--repeats 3] [--images 24] [--jobs 2] [--sides floor bench compressai] [--profile]
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

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)
REPO = Path(__file__).resolve().parents[1]
SIDES = ("floor", "bench", "compressai")
#: ``bench``: the installed console script beside this interpreter, else ``python -m bench``.
BENCH = ([str(Path(sys.executable).parent / "bench")] if (Path(sys.executable).parent / "bench").is_file()
         else [sys.executable, "-m", "bench"])


# --- the floor: runs in its own interpreter (``floor`` mode) -------------------------------------

def _init_worker(threads: int) -> None:
    """Import what the work needs (timed as the pool's start) and set torch's threads."""
    import numpy  # noqa: F401
    import PIL.Image  # noqa: F401
    import torch

    import bench.metrics.msssim  # noqa: F401
    import bench.metrics.psnr  # noqa: F401

    torch.set_num_threads(threads)


def _floor_images(paths: list[str]) -> tuple[float, list[tuple[str, int, int, float, float]]]:
    """When the work began (monotonic clock, shared by the processes), and (image, quality, bytes,
    PSNR-RGB, MS-SSIM) of every quality of every image in ``paths``."""
    began = time.perf_counter()
    import numpy as np
    from PIL import Image

    from bench.metrics import BATCH_PIXELS
    from bench.metrics.msssim import ms_ssim_against, reference_pyramid, to_batch
    from bench.metrics.psnr import psnr_rgb

    out = []
    for path in paths:
        with Image.open(path) as im:
            original = np.asarray(im.convert("RGB"))
        pyramid = reference_pyramid(original)
        decoded, sizes = [], []
        for quality in QUALITIES:
            buffer = io.BytesIO()
            Image.fromarray(original, "RGB").save(buffer, format="JPEG", quality=quality, subsampling=2, optimize=False)
            data = buffer.getvalue()
            with Image.open(io.BytesIO(data)) as im:
                decoded.append(np.asarray(im.convert("RGB")))
            sizes.append(len(data))
        per_batch = max(1, BATCH_PIXELS // (original.shape[0] * original.shape[1]))
        values = [float(v) for start in range(0, len(decoded), per_batch)
                  for v in ms_ssim_against(pyramid, to_batch(decoded[start:start + per_batch]))]
        out += [(Path(path).stem, q, n, psnr_rgb(original, d), m) for q, n, d, m in zip(QUALITIES, sizes, decoded, values)]
    return began, out


def floor(folder: Path, jobs: int) -> None:
    """The floor's work; prints seconds since the interpreter started per phase, and the rows."""
    from concurrent.futures import ProcessPoolExecutor

    imported = time.perf_counter()
    paths = [str(p) for p in sorted(folder.glob("kodim*.png"))]
    shares = [paths[i::jobs] for i in range(jobs)]
    threads = max(1, (os.cpu_count() or 1) // jobs)
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(threads,)) as pool:
        parts = list(pool.map(_floor_images, shares))
        done = time.perf_counter()
    rows = [row for _, part in parts for row in part]
    began = min(start for start, _ in parts)
    print(json.dumps({"pool_start_s": began - imported, "work_s": done - began, "rows": len(rows),
                      "mean_psnr": statistics.fmean(r[3] for r in rows),
                      "mean_ms_ssim": statistics.fmean(r[4] for r in rows)}))


# --- the driver ----------------------------------------------------------------------------------

def timed(command: list[str], env: dict[str, str], cwd: Path = REPO) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True, env=env, cwd=cwd)
    return time.perf_counter() - start, done.stdout


def commands(folder: Path, dataset: str, jobs: int, results: Path) -> dict[str, list[str]]:
    qualities = ",".join(map(str, QUALITIES))
    return {
        "floor": [sys.executable, __file__, "floor", "--folder", str(folder), "--jobs", str(jobs)],
        "bench": [*BENCH, "run", "--dataset", dataset, "--codec", "jpeg",
                  "--metric", "psnr_rgb", "--metric", "ms_ssim", "--jobs", str(jobs), "--check-determinism", "off",
                  "--results", str(results)],
        "compressai": [sys.executable, "-m", "compressai.utils.bench", "jpeg", str(folder), "-q", qualities,
                       "-j", str(jobs)],
    }


def load() -> str:
    return ", ".join(f"{v:.1f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", default="all", choices=["all", "floor"])
    parser.add_argument("--folder", type=Path, help="(floor mode) the image folder")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=24, help="the first N Kodak images")
    parser.add_argument("--sides", nargs="+", default=list(SIDES), choices=SIDES, help="which commands to time")
    parser.add_argument("--profile", action="store_true", help="also profile one `bench run` (driver, cProfile)")
    args = parser.parse_args()
    if args.mode == "floor":
        floor(args.folder, args.jobs)
        return

    data_dir = Path(os.environ.get("BENCH_DATA_DIR", Path.home() / ".cache/bench/datasets"))
    kodak = data_dir / "kodak"
    env = dict(os.environ)
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"commit {commit}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average at start {load()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.images < 24:  # the same subset for all three: a folder of links, passed as bench's dataset
            folder = work / "images"
            folder.mkdir()
            for path in sorted(kodak.glob("kodim*.png"))[: args.images]:
                (folder / path.name).symlink_to(path)
            dataset = str(folder)
        else:
            folder, dataset = kodak, "kodak"
        n = len(list(folder.glob("kodim*.png")))
        print(f"{n} images × {len(QUALITIES)} qualities, {args.jobs} processes, medians of {args.repeats} "
              f"(wall seconds, interpreter start included)\n")
        sides = tuple(s for s in SIDES if s in args.sides)
        times: dict[str, list[float]] = {side: [] for side in sides}
        splits: list[dict] = []
        loads = [load()]
        for repeat in range(args.repeats):
            order = sides[repeat % len(sides):] + sides[: repeat % len(sides)]  # rotate which side runs first
            for side in order:
                command = commands(folder, dataset, args.jobs, work / f"store-{time.monotonic_ns()}")[side]
                seconds, out = timed(command, env)
                times[side].append(seconds)
                if side == "floor":
                    splits.append(json.loads(out.strip().splitlines()[-1]) | {"wall_s": seconds})
            loads.append(load())
            print(f"  repeat {repeat + 1}: " + ", ".join(f"{s} {times[s][-1]:.2f} s" for s in sides)
                  + f" (load {loads[-1]})", file=sys.stderr, flush=True)
        med = {side: statistics.median(values) for side, values in times.items()}
        med.setdefault("compressai", float("nan"))  # not timed: its columns read nan
        print("| floor | bench run | CompressAI bench | bench / floor | CompressAI / bench |\n|---|---|---|---|---|")
        print(f"| {med['floor']:.2f} s | {med['bench']:.2f} s | {med['compressai']:.2f} s | "
              f"{med['bench'] / med['floor']:.2f} | {med['compressai'] / med['bench']:.2f} |")
        print(f"\nraw seconds: {json.dumps({k: [round(v, 2) for v in vs] for k, vs in times.items()})}")
        print(f"load averages (start, after each repeat): {' | '.join(loads)}")
        if not splits:
            return
        work_s, pool_s = (statistics.median(s[k] for s in splits) for k in ("work_s", "pool_start_s"))
        print(f"floor split (medians): work {work_s:.2f} s, pool start (worker processes importing numpy, Pillow, "
              f"torch, bench.metrics) {pool_s:.2f} s, the rest (interpreter, pool shutdown) "
              f"{med['floor'] - work_s - pool_s:.2f} s; {splits[0]['rows']} rows, mean PSNR {splits[0]['mean_psnr']:.3f} dB, "
              f"mean MS-SSIM {splits[0]['mean_ms_ssim']:.5f}")
        verdicts = [f"bench / floor: {'met' if med['bench'] <= 1.5 * med['floor'] else 'NOT met'} (target ≤ 1.5)"]
        if "compressai" in times:
            verdicts.append(f"CompressAI / bench: {'met' if med['compressai'] >= 4 * med['bench'] else 'NOT met'} (target ≥ 4)")
        print("; ".join(verdicts))
        if args.profile:
            profile(folder, dataset, args.jobs, work, env)


def profile(folder: Path, dataset: str, jobs: int, work: Path, env: dict[str, str]) -> None:
    """One ``bench run`` with its driver under cProfile; the top functions by cumulative time."""
    stats = work / "bench.prof"
    command = commands(folder, dataset, jobs, work / "store-profile")["bench"]
    command = [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "bench", *command[len(BENCH):]]
    seconds, _ = timed(command, env)
    print(f"\n`bench run` under cProfile (driver process): {seconds:.2f} s wall, load {load()}")
    import pstats

    pstats.Stats(str(stats)).sort_stats("cumulative").print_stats(40)


if __name__ == "__main__":
    main()
