"""Per-stage CPU time of InvCompress and IAT encode/decode, this tree beside a reference commit,
and a check that both give the same bitstreams, decoded images and float reconstructions.

    python benchmarks/inn_stages.py --image KODAK/kodim01.png --repeats 3        # Markdown table
    python benchmarks/inn_stages.py --verify KODAK --threads 1                   # every image, old vs new

The reference is ``codecs/inn/`` as committed at ``--reference`` (default: before the context
model's loop and the dense blocks were sped up), extracted with ``git archive`` and imported as
``bench_codecs_reference.inn``. Both versions run in this process, interleaved (the order
alternates between repeats), so machine load affects both alike; medians are reported.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
#: The commit whose codecs/inn/ is the code before the speed-up.
REFERENCE = "f4817be5a76142d16b28c7675623fafad645ac8d"
KERNEL, PADDING, SCALE = 5, 2, 4  # context-model kernel and padding; y/z size ratio

Stages = dict[str, float]


def load_reference(rev: str, folder: Path) -> ModuleType:
    """``codecs/inn`` at ``rev`` as the package ``bench_codecs_reference.inn``; returns its ``codec``."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "codecs/inn"], check=True, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    package = folder / "bench_codecs_reference"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (folder / "codecs" / "inn").rename(package / "inn")
    for source in (package / "inn").glob("*.py"):
        source.write_text(source.read_text().replace("bench_codecs.inn", "bench_codecs_reference.inn"))
    sys.path.insert(0, str(folder))
    return importlib.import_module("bench_codecs_reference.inn.codec")


class Version:
    """One implementation: its codecs and how its y coder is called."""

    def __init__(self, label: str, codec_module: ModuleType, reference: bool) -> None:
        self.label, self.reference = label, reference
        self.codecs = {"invcompress": codec_module.InvCompressCodec(), "iat": codec_module.IatCodec()}
        self.coding = importlib.import_module(codec_module.__name__.rsplit(".", 1)[0] + ".coding")
        self.iat = importlib.import_module(codec_module.__name__.rsplit(".", 1)[0] + ".iat")
        if not reference:
            self.latent = importlib.import_module(codec_module.__name__.rsplit(".", 1)[0] + ".invcompress")

    def model(self, name: str, rate: float) -> torch.nn.Module:
        codec = self.codecs[name]
        return codec._model(codec._checkpoint(rate))

    def encode_y(self, model: torch.nn.Module, y_padded: torch.Tensor, params: torch.Tensor, height: int, width: int) -> bytes:
        if self.reference:  # CompressAI's loop, as LatentCodingMixin called it
            return model._compress_ar(y_padded, params, height, width, KERNEL, PADDING)
        with torch.inference_mode(), self.latent.one_torch_thread():
            return self.latent.ContextCoder(model, params, KERNEL, masked=True).encode(y_padded, height, width)

    def decode_y(self, model: torch.nn.Module, string: bytes, y_hat: torch.Tensor, params: torch.Tensor, height: int,
                 width: int) -> None:
        if self.reference:
            model._decompress_ar(string, y_hat, params, height, width, KERNEL, PADDING)
            return
        with torch.inference_mode(), self.latent.one_torch_thread():
            self.latent.ContextCoder(model, params, KERNEL, masked=False).decode(string, y_hat, height, width)


def timed(stages: Stages, name: str, call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = call()
    stages[name] = time.perf_counter() - start
    return result


def run_stages(version: Version, name: str, rate: float, image: np.ndarray) -> tuple[Stages, Stages]:
    """Encode and decode ``image`` stage by stage (the steps of ``compress``/``decompress``)."""
    model = version.model(name, rate)
    level = (version.iat.uniform_level(float(np.float32(rate))),) if name == "iat" else ()
    x = version.coding.to_padded_tensor(image, "cpu")
    enc: Stages = {}
    dec: Stages = {}
    with torch.no_grad():
        y = timed(enc, "analysis transform", lambda: model.analysis(x, *level))
        z = timed(enc, "hyper analysis h_a", lambda: model.h_a(y))
        z_strings = timed(enc, "z entropy coding", lambda: model.entropy_bottleneck.compress(z))
        z_hat = model.entropy_bottleneck.decompress(z_strings, z.shape[-2:])
        params = timed(enc, "hyper synthesis h_s", lambda: model.h_s(z_hat))
        height, width = z_hat.size(2) * SCALE, z_hat.size(3) * SCALE
        y_padded = F.pad(y, (PADDING,) * 4)
        y_string = timed(enc, "y: context model + rANS", lambda: version.encode_y(model, y_padded, params, height, width))

        z_hat = timed(dec, "z entropy coding", lambda: model.entropy_bottleneck.decompress(z_strings, z.shape[-2:]))
        params = timed(dec, "hyper synthesis h_s", lambda: model.h_s(z_hat))
        y_hat = torch.zeros_like(y_padded)
        timed(dec, "y: context model + rANS", lambda: version.decode_y(model, y_string, y_hat, params, height, width))
        timed(dec, "synthesis transform", lambda: model.synthesis(F.pad(y_hat, (-PADDING,) * 4), *level))
    codec = version.codecs[name]
    data = timed(enc, "total: codec.encode", lambda: codec.encode(image, rate))
    timed(dec, "total: codec.decode", lambda: codec.decode(data))
    return enc, dec


def machine() -> str:
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines() if line.startswith("model name")]
        model = names[0] if names else model
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (f"CPU {model}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.backends.cpu.get_cpu_capability()} kernels), {torch.get_num_threads()} torch threads, "
            f"load average (1/5/15 min) at the end {load}")


def benchmark(args: argparse.Namespace, versions: list[Version]) -> None:
    from bench.plan.images import load_rgb8

    image = load_rgb8(args.image, min_side=1)
    points = [("invcompress", 1.0), ("iat", args.iat_level)]
    times: dict[tuple, list[float]] = defaultdict(list)
    for version in versions:  # warm-up: model loading, oneDNN primitive creation
        for name, rate in points:
            version.codecs[name].decode(version.codecs[name].encode(image[:64, :64], rate))
    for repeat in range(args.repeats):
        for version in versions if repeat % 2 == 0 else versions[::-1]:
            for name, rate in points:
                enc, dec = run_stages(version, name, rate, image)
                for direction, stages in (("encode", enc), ("decode", dec)):
                    for stage, seconds in stages.items():
                        times[(name, direction, stage, version.label)].append(seconds)
                print(f"repeat {repeat + 1}/{args.repeats} {version.label} {name} done", file=sys.stderr)
    old, new = (v.label for v in versions)
    print(f"{args.image.name} ({image.shape[1]}×{image.shape[0]}), InvCompress model 1, IAT level {args.iat_level}; "
          f"medians of {args.repeats} repeats; {machine()}\n")
    print(f"| codec | direction | stage | {old} s | {new} s | speed-up |")
    print("|---|---|---|---|---|---|")
    rows = dict.fromkeys(key[:3] for key in times)  # pipeline order, as first timed
    for name, direction, stage in sorted(rows, key=lambda k: (k[0] != "invcompress", k[1] != "encode")):
        before = statistics.median(times[(name, direction, stage, old)])
        after = statistics.median(times[(name, direction, stage, new)])
        emphasis = "**" if stage.startswith("total") else ""
        print(f"| {name} | {direction} | {emphasis}{stage}{emphasis} | {before:.3f} | {after:.3f} | "
              f"{emphasis}{before / after:.2f}×{emphasis} |")


def verify(args: argparse.Namespace, versions: list[Version]) -> int:
    """Bitstream, decoded uint8 image and float reconstruction of every image: reference vs new."""
    from bench.plan.images import load_rgb8

    points = [(name, float(rate)) for name, rate in (point.split(":") for point in args.points)]
    paths = sorted(p for p in args.verify.iterdir() if p.suffix.lower() == ".png")
    print(f"{len(paths)} images from {args.verify.name}; {machine()}\n")
    print("| image | codec | rate | bytes | bitstream SHA-256 | same bytes | same uint8 | same float |")
    print("|---|---|---|---|---|---|---|---|")
    failures = 0
    for name, rate in points:  # one rate point over all images, then the next
        for path in paths:
            image = load_rgb8(path, min_side=1)
            results = []
            for version in versions:
                codec = version.codecs[name]
                data = codec.encode(image, rate)
                x_hat, height, width = codec._reconstruct(data)
                results.append((data, version.coding.to_uint8(x_hat, height, width),
                                version.coding.to_float255(x_hat, height, width)))
            (data_old, u8_old, f_old), (data_new, u8_new, f_new) = results
            same = (data_old == data_new, np.array_equal(u8_old, u8_new), np.array_equal(f_old, f_new))
            failures += not all(same)
            print(f"| {path.name} | {name} | {rate:g} | {len(data_new)} | {hashlib.sha256(data_new).hexdigest()[:16]} | "
                  + " | ".join("yes" if s else "**NO**" for s in same) + " |", flush=True)
    print(f"\n{len(paths) * len(points) - failures} of {len(paths) * len(points)} identical")
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", type=Path, help="image to time (e.g. kodim01.png)")
    parser.add_argument("--verify", type=Path, metavar="FOLDER", help="compare reference and new on every PNG here")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iat-level", type=float, default=0.5, help="IAT level timed")
    parser.add_argument("--points", nargs="+", default=["invcompress:1", "iat:0", "iat:0.5", "iat:1"],
                        help="codec:rate points verified")
    parser.add_argument("--reference", default=REFERENCE, help="git revision of the reference codecs/inn")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    args = parser.parse_args()
    if (args.image is None) == (args.verify is None):
        parser.error("give --image (timings) or --verify (equality), not both")
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        reference = load_reference(args.reference, Path(folder))
        current = importlib.import_module("bench_codecs.inn.codec")
        versions = [Version(f"reference {args.reference[:7]}", reference, reference=True),
                    Version("this tree", current, reference=False)]
        if args.verify:
            sys.exit(verify(args, versions))
        benchmark(args, versions)


if __name__ == "__main__":
    main()
