"""Every learned codec and the torch metrics on CUDA beside the CPU, in one run of a few minutes.

For each learned codec (one rate each) and each image size (crops of one Kodak image), it
encodes and decodes on the CPU and on CUDA and reports:

* whether the two devices write the same bitstream, and the cross-device decodes both ways:
  the CPU decodes CUDA's bitstream and CUDA decodes the CPU's, each compared with the writing
  device's own decode (a portable codec: the same symbols, at most 1 level apart; entropy
  parameters that differ between devices make the decode fail or give a different image);
* PSNR RGB of each device's own round trip;
* encode and decode seconds per device (medians of ``--repeats``, after one warm-up; CUDA
  timings synchronised);
* MS-SSIM and LPIPS of the CPU-decoded image measured on CUDA and on the CPU, and their difference.

    python benchmarks/gpu_check.py --kodak KODAK_DIR [--image kodim23] [--sizes 256x256 768x512]
        [--repeats 3] [--json OUT.json]

Without CUDA it says so and exits 0 having measured nothing: the CPU numbers alone are in
``benchmarks/inn_stages.py`` and ``benchmarks/harness_overhead.py``. The cross-device decodes
have not been run yet: the project's machine has no GPU (docs/inn-codecs.md, "Portable
bitstreams").
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

#: One rate per learned codec: its demo checkpoint (model index 1) or IAT's middle level.
CODECS: dict[str, float] = {"invcompress": 1, "iat": 0.5, "ilc": 1, "probdec": 1}


def crop(image: np.ndarray, size: str) -> np.ndarray:
    """The centre ``W×H`` crop of ``image`` (the whole image when the size is its own)."""
    width, height = (int(v) for v in size.split("x"))
    top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
    if top < 0 or left < 0:
        raise SystemExit(f"--sizes {size}: larger than the image ({image.shape[1]}x{image.shape[0]})")
    return np.ascontiguousarray(image[top:top + height, left:left + width])


def timed(call: Callable[[], Any], device: str, repeats: int) -> tuple[Any, float]:
    """``call()``'s last result and its median seconds over ``repeats`` runs after one warm-up."""
    result = call()
    seconds = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        result = call()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return result, statistics.median(seconds)


def check_codec(name: str, rate: float, image: np.ndarray, repeats: int) -> dict[str, Any]:
    from bench.codec import make_codec
    from bench.metrics.psnr import psnr_rgb

    out: dict[str, Any] = {"codec": name, "size": f"{image.shape[1]}x{image.shape[0]}"}
    streams, decoded = {}, {}
    for device in ("cpu", "cuda"):
        codec = make_codec(name, {"device": device})
        data, out[f"encode_s_{device}"] = timed(lambda: codec.encode(image, rate), device, repeats)
        decoded[device], out[f"decode_s_{device}"] = timed(lambda: codec.decode(data), device, repeats)
        streams[device] = data
        out[f"psnr_{device}"] = psnr_rgb(image, decoded[device])
        out[f"bytes_{device}"] = len(data)
    out["same_bitstream"] = hashlib.sha256(streams["cpu"]).digest() == hashlib.sha256(streams["cuda"]).digest()
    out["cpu_decodes_cuda_stream"] = cross_decode(name, "cpu", streams["cuda"], decoded["cuda"])
    out["cuda_decodes_cpu_stream"] = cross_decode(name, "cuda", streams["cpu"], decoded["cpu"])
    return out


def cross_decode(name: str, device: str, data: bytes, reference: np.ndarray) -> str:
    """Decode on ``device`` a bitstream the other device wrote: the largest difference, in 8-bit
    levels, from the other device's own decode (portable codecs: at most 1), or why it failed."""
    from bench.codec import make_codec

    try:
        decoded = make_codec(name, {"device": device}).decode(data)
    except Exception as exc:  # noqa: BLE001 - a failed cross-device decode is a finding, not a crash
        return f"failed: {type(exc).__name__}"
    return f"max {int(np.abs(decoded.astype(int) - reference.astype(int)).max())} levels"


def check_metrics(original: np.ndarray, decoded: np.ndarray) -> dict[str, float]:
    from bench.metrics import measure

    cpu = measure(original, decoded, ["ms_ssim", "lpips"], device="cpu")
    cuda = measure(original, decoded, ["ms_ssim", "lpips"], device="cuda")
    return {f"{name}_{side}": values[name] for name in ("ms_ssim", "lpips") for side, values in
            (("cpu", cpu), ("cuda", cuda))} | {f"{name}_abs_diff": abs(cpu[name] - cuda[name]) for name in ("ms_ssim", "lpips")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kodak", type=Path, required=True)
    parser.add_argument("--image", default="kodim23")
    parser.add_argument("--sizes", nargs="+", default=["256x256", "768x512"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, help="also write every measured value here")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device: nothing measured, the CPU↔CUDA encode/decode checks included "
              "(this script compares CUDA with the CPU)")
        return
    print(f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, CUDA {torch.version.cuda}\n")
    image = np.asarray(Image.open(args.kodak / f"{args.image}.png").convert("RGB"))
    if image.shape[0] > image.shape[1]:
        image = np.ascontiguousarray(image.transpose(1, 0, 2))  # portrait Kodak images: landscape crops
    results = []
    print("| codec | size | bytes CPU / CUDA | same bitstream | CPU decodes CUDA's | CUDA decodes CPU's | "
          "PSNR CPU / CUDA | encode s CPU / CUDA | decode s CPU / CUDA |")
    print("|---|---|---|---|---|---|---|---|---|")
    for size in args.sizes:
        part = crop(image, size)
        for name, rate in CODECS.items():
            row = check_codec(name, rate, part, args.repeats)
            results.append(row)
            print(f"| {name} | {size} | {row['bytes_cpu']} / {row['bytes_cuda']} | {row['same_bitstream']} | "
                  f"{row['cpu_decodes_cuda_stream']} | {row['cuda_decodes_cpu_stream']} | {row['psnr_cpu']:.3f} / {row['psnr_cuda']:.3f} | "
                  f"{row['encode_s_cpu']:.3f} / {row['encode_s_cuda']:.3f} | "
                  f"{row['decode_s_cpu']:.3f} / {row['decode_s_cuda']:.3f} |", flush=True)
    from bench.codec import make_codec

    jpeg = make_codec("jpeg", {})
    original = crop(image, args.sizes[-1])
    metrics = check_metrics(original, jpeg.decode(jpeg.encode(original, 50)))
    print(f"\nMS-SSIM and LPIPS of JPEG q50 at {args.sizes[-1]}, CPU vs CUDA: "
          + ", ".join(f"{k} {v:.8g}" for k, v in metrics.items()))
    if args.json:
        args.json.write_text(json.dumps({"device": torch.cuda.get_device_name(0), "torch": torch.__version__,
                                         "codecs": results, "metrics": metrics}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
