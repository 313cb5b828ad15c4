"""Check stored JPEG/WebP rows against an independent run of CompressAI's benchmark.

Runs ``python -m compressai.utils.bench <codec> <folder> -q ...`` (CompressAI's own Pillow
calls and metrics) and compares its per-quality Kodak means with the dataset means that
``bench run`` stored, printing the largest differences.

    python benchmarks/compressai_agreement.py --results RESULTS --folder KODAK_DIR
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

from bench.analysis.curves import mean_curves
from bench.store import Store

QUALITIES = (10, 20, 30, 40, 50, 60, 70, 75, 80, 90)


def compressai_means(codec: str, folder: Path, jobs: int) -> pd.DataFrame:
    """Per-quality means from CompressAI's bench (its JSON 'results' block)."""
    command = [sys.executable, "-m", "compressai.utils.bench", codec, str(folder),
               "-q", ",".join(map(str, QUALITIES)), "-j", str(jobs)]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    results = json.loads(output)["results"]
    return pd.DataFrame({"rate": [float(q) for q in QUALITIES], "bpp": results["bpp"],
                         "psnr_rgb": results["psnr-rgb"], "ms_ssim": results["ms-ssim-rgb"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="bench results store")
    parser.add_argument("--folder", type=Path, required=True, help="folder of the Kodak PNGs")
    parser.add_argument("--dataset", default="kodak", help="dataset name in the stored rows")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    ours = mean_curves(Store(args.results).read())
    ours = ours[(ours["dataset"] == args.dataset) & (ours["decoder_options"] == "{}")]
    print("| codec | qualities | images | max abs Δbpp | max abs ΔPSNR (dB) | max abs ΔMS-SSIM |")
    print("|---|---|---|---|---|---|")
    for label, cli_name in (("jpeg", "jpeg"), ("webp", "webp")):
        theirs = compressai_means(cli_name, args.folder, args.jobs)
        mine = ours[ours["codec"] == label].merge(theirs, on="rate", suffixes=("", "_ref"))
        if mine.empty:
            print(f"| {label} | no stored rows | | | | |")
            continue
        print(f"| {label} | {len(mine)} | {int(mine['n_images'].min())} "
              f"| {(mine['bpp'] - mine['bpp_ref']).abs().max():.2e} "
              f"| {(mine['psnr_rgb'] - mine['psnr_rgb_ref']).abs().max():.2e} "
              f"| {(mine['ms_ssim'] - mine['ms_ssim_ref']).abs().max():.2e} |")


if __name__ == "__main__":
    main()
