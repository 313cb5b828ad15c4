"""Peak memory and time of one codec's encode + decode as the image grows.

Each size runs in a fresh process (peak RSS from ``getrusage``, and CUDA peak allocation when the
codec runs on a GPU), on a crop/tiling of a Kodak image, so sizes do not contaminate each other.
The largest image that fits is projected from a linear fit of peak memory against pixels.

    python benchmarks/codec_memory.py --codec invcompress --image KODAK/kodim01.png \\
        --sizes 512x512 1024x1024 2048x1080 [--rate 3] [--memory-gib 24] [--params '{"checkpoints": ["q6.pt"]}']

``--params`` (JSON) are the codec's params, as in bench.toml: a zoo codec's local checkpoints.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import numpy as np


def measure_once(codec_name: str, image_path: Path, width: int, height: int, rate: float | None,
                 params: dict) -> dict:
    """Runs in the child process: encode + decode one tiled image, report peak memory and time."""
    import resource
    import time

    import torch

    from bench.codec import make_codec
    from bench.plan.images import load_rgb8

    source = load_rgb8(image_path)
    reps = (-(-height // source.shape[0]), -(-width // source.shape[1]), 1)
    image = np.ascontiguousarray(np.tile(source, reps)[:height, :width])
    codec = make_codec(codec_name, params)
    rate = codec.default_rates[len(codec.default_rates) // 2] if rate is None else rate
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    data = codec.encode(image, rate)
    encoded = time.perf_counter()
    decoded = codec.decode(data)
    done = time.perf_counter()
    assert decoded.shape == image.shape
    peak_cuda = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {
        "width": width, "height": height, "rate": rate, "bpp": len(data) * 8 / (width * height),
        "encode_s": encoded - start, "decode_s": done - encoded,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "rss_before_mib": baseline / 1024, "peak_cuda_mib": peak_cuda, "device": codec.device,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codec", required=True)
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--sizes", nargs="+", default=["512x512", "1024x1024", "2048x1080"])
    parser.add_argument("--rate", type=float, default=None)
    parser.add_argument("--memory-gib", type=float, default=24.0, help="memory to project the largest image for")
    parser.add_argument("--params", type=json.loads, default={}, help="codec params as JSON")
    parser.add_argument("--child", nargs=2, metavar=("WIDTH", "HEIGHT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_once(args.codec, args.image, int(args.child[0]), int(args.child[1]), args.rate,
                                      args.params)))
        return
    rows = []
    for size in args.sizes:
        width, height = (int(v) for v in size.split("x"))
        command = [sys.executable, __file__, "--codec", args.codec, "--image", str(args.image), "--child", str(width), str(height),
                   "--params", json.dumps(args.params)]
        if args.rate is not None:
            command += ["--rate", str(args.rate)]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            print(f"| {width}×{height} | failed: {result.stderr.strip().splitlines()[-1] if result.stderr else result.returncode} |")
            continue
        rows.append(json.loads(result.stdout.strip().splitlines()[-1]))
    print(f"codec {args.codec}, device {rows[0]['device'] if rows else '?'}\n")
    print("| image | bpp | encode s | decode s | peak RSS MiB | peak CUDA MiB |\n|---|---|---|---|---|---|")
    for r in rows:
        cuda = f"{r['peak_cuda_mib']:.0f}" if r["peak_cuda_mib"] is not None else "–"
        print(f"| {r['width']}×{r['height']} | {r['bpp']:.3f} | {r['encode_s']:.2f} | {r['decode_s']:.2f} | {r['peak_rss_mib']:.0f} | {cuda} |")
    if len(rows) >= 2:
        pixels = np.array([r["width"] * r["height"] for r in rows], float)
        peaks = np.array([r["peak_rss_mib"] for r in rows])
        slope, intercept = np.polyfit(pixels, peaks, 1)
        largest = (args.memory_gib * 1024 - intercept) / slope
        print(f"\npeak RSS ≈ {intercept:.0f} MiB + {slope * 1e6:.1f} MiB per megapixel (linear fit over the sizes above);"
              f" projected largest image in {args.memory_gib:g} GiB: ≈ {largest / 1e6:.0f} megapixels")


if __name__ == "__main__":
    main()
