"""bench beside CompressAI's ``eval_model`` on the same checkpoint and the same Kodak images, in one run.

Both measure one checkpoint (by default a seeded random-initialised ``mbt2018-mean`` at the
zoo's quality-1 size, N = 128, M = 192, with its CDF tables computed: no weights to download)
on every image of ``--folder``: eval_model as ``python -m compressai.utils.eval_model checkpoint
FOLDER -a ARCH -p CKPT`` (entropy coding; it calls ``torch.set_num_threads(1)`` on import and
runs the images one after another, with no option for more threads or processes), bench as
``bench run`` of the zoo codec on that checkpoint with each ``--jobs`` count (workers of one
torch thread each), the same metrics (PSNR RGB, MS-SSIM) and ``check_determinism = "off"``
(eval_model decodes once). The runs are interleaved, ``--repeats`` times, each bench run into a
fresh store; prints every wall time, the medians, their ratios, and the mean bpp and PSNR of
both (bench's bpp counts its container header; eval_model's counts the strings alone).

    python benchmarks/compressai_eval.py --folder KODAK_DIR [--jobs 1 2] [--repeats 3] [--checkpoint CKPT]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from seeded_zoo import seeded_checkpoint

from bench.store import Store

ARCHITECTURES = ("mbt2018-mean", "bmshj2018-hyperprior", "mbt2018")


def timed(command: list[str], **kwargs) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - start, result.stdout


def eval_model(folder: Path, architecture: str, checkpoint: Path) -> tuple[float, dict]:
    """eval_model's wall time and its mean results (``bpp``, ``psnr-rgb``, ``ms-ssim-rgb``)."""
    seconds, output = timed([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(folder),
                             "-a", architecture, "-p", str(checkpoint)])
    return seconds, {k: v[0] for k, v in json.loads(output[output.index("{"):])["results"].items()}


def bench_run(folder: Path, architecture: str, checkpoint: Path, jobs: int, work: Path):
    """``bench run``'s wall time and its rows, in a fresh folder with one torch thread per worker."""
    work.mkdir()
    (work / "bench.toml").write_text(
        f'[run]\ndatasets = ["{folder.resolve()}"]\ncodecs = ["{architecture}"]\n'
        f'metrics = ["psnr_rgb", "ms_ssim"]\njobs = {jobs}\nresults = "results"\n'
        f'check_determinism = "off"\n\n[codecs.{architecture}]\nrates = [1]\n'
        f'params = {{ checkpoints = ["{checkpoint}"] }}\n')
    bench = Path(sys.executable).with_name("bench")
    seconds, _ = timed([str(bench), "run"], cwd=work, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return seconds, Store(work / "results").read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True, help="folder of the Kodak PNGs")
    parser.add_argument("--architecture", default="mbt2018-mean", choices=ARCHITECTURES)
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint of ARCHITECTURE (default: seeded random weights)")
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2], help="bench run's --jobs, each timed")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"eval_model": [], **{f"bench --jobs {j}": [] for j in args.jobs}}
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        checkpoint = args.checkpoint or seeded_checkpoint(args.architecture, work / "seeded.pt")
        for repeat in range(args.repeats):
            seconds, reference = eval_model(args.folder, args.architecture, checkpoint)
            times["eval_model"].append(seconds)
            for jobs in args.jobs:
                seconds, rows = bench_run(args.folder, args.architecture, checkpoint, jobs, work / f"{repeat}-{jobs}")
                times[f"bench --jobs {jobs}"].append(seconds)
            print(f"repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.1f} s" for k, v in times.items()), flush=True)
    print(f"\n{len(rows)} images, {args.architecture}, checkpoint {'seeded' if args.checkpoint is None else checkpoint}")
    print(f"bench's command: {rows['command'].iloc[0]}\n")
    reference_s = statistics.median(times["eval_model"])
    print("| tool | wall times (s) | median (s) | eval_model / tool |\n|---|---|---|---|")
    for tool, values in times.items():
        median = statistics.median(values)
        print(f"| {tool} | {', '.join(f'{v:.1f}' for v in values)} | {median:.1f} | {reference_s / median:.2f} |")
    print("\n| tool | mean bpp | mean PSNR RGB (dB) | mean MS-SSIM |\n|---|---|---|---|")
    print(f"| eval_model | {reference['bpp']:.6f} | {reference['psnr-rgb']:.4f} | {reference['ms-ssim-rgb']:.6f} |")
    print(f"| bench run | {rows['bpp'].mean():.6f} | {rows['psnr_rgb'].mean():.4f} | {rows['ms_ssim'].mean():.6f} |")


if __name__ == "__main__":
    main()
