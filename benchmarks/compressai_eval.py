"""bench beside CompressAI's ``eval_model`` on the same checkpoint and the same Kodak images, in one run.

Both measure one checkpoint (by default a seeded random-initialised ``mbt2018-mean`` at the
zoo's quality-1 size, N = 128, M = 192, with its CDF tables computed: no weights to download)
on every image of ``--folder``: eval_model as ``python -m compressai.utils.eval_model checkpoint
FOLDER -a ARCH -p CKPT`` (entropy coding, one torch thread: it sets that itself), bench as ``bench
run`` of the zoo codec on that checkpoint with one worker of one torch thread, the same metrics
(PSNR RGB, MS-SSIM) and ``check_determinism = "off"`` (eval_model decodes once). Prints each
tool's wall time, their ratio, and the mean bpp and PSNR of both (bench's bpp counts its
container header; eval_model's counts the strings alone).

    python benchmarks/compressai_eval.py --folder KODAK_DIR [--architecture mbt2018-mean] [--checkpoint CKPT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from bench.store import Store

ZOO_QUALITY_1 = {"mbt2018-mean": (128, 192), "bmshj2018-hyperprior": (128, 192), "mbt2018": (192, 192)}


def seeded_checkpoint(architecture: str, path: Path) -> Path:
    """A seeded random-initialised model of the zoo's quality-1 size, CDF tables computed."""
    from compressai.zoo.image import model_architectures

    torch.manual_seed(0)
    model = model_architectures[architecture](*ZOO_QUALITY_1[architecture])
    model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


def timed(command: list[str], **kwargs) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)
    return time.perf_counter() - start, result.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, required=True, help="folder of the Kodak PNGs")
    parser.add_argument("--architecture", default="mbt2018-mean", choices=sorted(ZOO_QUALITY_1))
    parser.add_argument("--checkpoint", type=Path, help="a checkpoint of ARCHITECTURE (default: seeded random weights)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        checkpoint = args.checkpoint or seeded_checkpoint(args.architecture, work / "seeded.pt")
        reference_s, output = timed([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(args.folder),
                                     "-a", args.architecture, "-p", str(checkpoint)])
        reference = {k: v[0] for k, v in json.loads(output[output.index("{"):])["results"].items()}
        (work / "bench.toml").write_text(
            f'[run]\ndatasets = ["{args.folder.resolve()}"]\ncodecs = ["{args.architecture}"]\n'
            f'metrics = ["psnr_rgb", "ms_ssim", "psnr_rgb_float"]\njobs = 1\nresults = "results"\n'
            f'check_determinism = "off"\n\n[codecs.{args.architecture}]\nrates = [1]\n'
            f'params = {{ checkpoints = ["{checkpoint}"] }}\n')
        bench = Path(sys.executable).with_name("bench")
        bench_s, _ = timed([str(bench), "run"], cwd=work, env={**os.environ, "OMP_NUM_THREADS": "1"})
        rows = Store(work / "results").read()
    print(f"{len(rows)} images, {args.architecture}, checkpoint {'seeded' if args.checkpoint is None else checkpoint}")
    print("| tool | wall time (s) | mean bpp | mean PSNR RGB (dB) | mean MS-SSIM |")
    print("|---|---|---|---|---|")
    print(f"| eval_model | {reference_s:.1f} | {reference['bpp']:.6f} | {reference['psnr-rgb']:.4f} | "
          f"{reference['ms-ssim-rgb']:.6f} |")
    print(f"| bench run | {bench_s:.1f} | {rows['bpp'].mean():.6f} | {rows['psnr_rgb'].mean():.4f} "
          f"(float {rows['psnr_rgb_float'].mean():.4f}) | {rows['ms_ssim'].mean():.6f} |")
    print(f"bench / eval_model wall time: {bench_s / reference_s:.2f}; bench's command: {rows['command'].iloc[0]}")


if __name__ == "__main__":
    main()
