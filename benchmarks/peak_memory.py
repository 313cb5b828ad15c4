"""Peak memory of one task per image size and metric, in MB per megapixel.

Each (size, metric) runs one JPEG task (``bench.execute.driver.run_task``, exactly what a worker runs)
in a fresh Python process and reads that process's ``ru_maxrss``; the RSS after the imports is
subtracted, so the number is what the task itself (image read, encode, two decodes, the metric)
added. ``none`` measures no metric: the codec path alone.

    .venv/bin/python benchmarks/peak_memory.py --sizes 1000 2000 4000 --metrics none psnr_rgb psnr_y ms_ssim lpips
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

CHILD = r"""
import json, resource, sys
from pathlib import Path
from bench.codec import make_codec
from bench.config.settings import CodecSpec
from bench.plan.datasets import resolve
from bench.execute.worker import Settings, run_task
from bench.plan.tasks import plan
from bench.config.provenance import new_provenance
import bench.metrics, torch  # every import a worker has made before its first task

folder, metric = sys.argv[1], sys.argv[2]
spec = CodecSpec(label="jpeg", impl="jpeg", params={}, rates=[75], decoder_options=[{}])
(task,) = plan(resolve(folder), [spec])
make_codec("jpeg", {})
if metric == "lpips":
    from bench.metrics.lpips_features import reference_features  # the model, loaded before the task as in a warm worker
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
row = run_task(task, Settings(metrics=() if metric == "none" else (metric,), check_determinism=True), new_provenance())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"base_kb": base, "peak_kb": peak, "error": row.get("error")}))
"""


def photo(side: int) -> np.ndarray:
    """A natural photo (scikit-image's astronaut) resized to side × side: JPEG sizes as in practice."""
    from skimage import data

    return np.asarray(Image.fromarray(data.astronaut()).resize((side, side), Image.BICUBIC))


def measure(side: int, metric: str, root: Path) -> dict:
    folder = root / f"img-{side}"
    if not folder.exists():
        folder.mkdir()
        Image.fromarray(photo(side)).save(folder / "image.png")
    result = subprocess.run([sys.executable, "-c", CHILD, str(folder), metric], capture_output=True, text=True, check=True)
    values = json.loads(result.stdout.strip().splitlines()[-1])
    if values["error"]:
        raise SystemExit(f"{side}px {metric}: {values['error']}")
    megapixels = side * side / 1e6
    added_mb = (values["peak_kb"] - values["base_kb"]) / 1024
    return {"side": side, "metric": metric, "megapixels": megapixels, "added_mb": round(added_mb, 1),
            "mb_per_mp": round(added_mb / megapixels, 1), "image_mb_per_mp": 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 2000, 4000])
    parser.add_argument("--metrics", nargs="+", default=["none", "psnr_rgb", "psnr_y", "ms_ssim", "lpips"])
    args = parser.parse_args()
    print("| side | MP | metric | peak added (MB) | MB per MP |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for side in args.sizes:
            for metric in args.metrics:
                r = measure(side, metric, Path(tmp))
                print(f"| {side} | {r['megapixels']:g} | {metric} | {r['added_mb']} | {r['mb_per_mp']} |", flush=True)


if __name__ == "__main__":
    main()
