"""How long `bench history report` takes on a long history: 1,000 commits × 20 curves × 10 rates.

Builds a git repository of linear empty commits and a history folder of synthetic records (one
part per commit, as `bench history append` writes them; PSNR = 30 + 10·log10(bpp) per curve, two
curves regress by 5 % half-way, timings with 5 % noise), then times the report through the CLI.

    nice .venv/bin/python benchmarks/history_scale.py [--commits 1000] [--curves 20] [--rates 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench.schema import METRIC_COLUMNS
from bench.store.history import write_commit


def make_repo(repo: Path, count: int) -> list[tuple[str, str]]:
    """``count`` empty commits through one fast-import stream; (hash, subject) oldest first."""
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    stream = []
    for i in range(count):
        message = f"change {i}".encode()
        stream.append(b"commit refs/heads/main\n" + f"mark :{i + 1}\ncommitter b <b@example.org> {1_700_000_000 + 60 * i} +0000\n".encode()
                      + f"data {len(message)}\n".encode() + message + b"\n" + (f"from :{i}\n".encode() if i else b"") + b"\n")
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet"], input=b"".join(stream), check=True)
    log = subprocess.run(["git", "-C", str(repo), "log", "--reverse", "--format=%H %s", "main"], check=True,
                         capture_output=True, text=True).stdout.splitlines()
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "main"], check=True)
    return [tuple(line.split(" ", 1)) for line in log]


def write_history(history: Path, commits: list[tuple[str, str]], curves: int, rates: int) -> None:
    rng = np.random.default_rng(0)
    grid = np.linspace(20, 90, rates)
    base_bpp = np.outer(1 + 0.05 * np.arange(curves), grid / 40)
    for i, (sha, subject) in enumerate(commits):
        bpp = base_bpp * np.where((np.arange(curves) < 2)[:, None] & (i >= len(commits) // 2), 1.05, 1.0)
        frame = pd.DataFrame({
            "codec": np.repeat([f"codec{c:02d}" for c in range(curves)], rates), "rate": np.tile(grid, curves),
            "bpp": bpp.ravel(), "psnr_rgb": (30 + 10 * np.log10(base_bpp)).ravel(),
            "encode_s": 0.01 * (1 + 0.05 * rng.standard_normal(curves * rates)),
            "decode_s": 0.005 * (1 + 0.05 * rng.standard_normal(curves * rates)),
        })
        frame = frame.assign(**{metric: np.nan for metric in METRIC_COLUMNS if metric not in frame})
        frame = frame.assign(commit=sha, commit_date=pd.Timestamp(1_700_000_000 + 60 * i, unit="s", tz="UTC"),
                             subject=subject, machine="bench-machine", device="cpu", dataset="kodak", codec_impl="synthetic",
                             codec_version="1", params="{}", decoder_options="{}", images=24,
                             harness_version="0", recorded_utc=pd.Timestamp.now(tz="UTC"))
        frame["images"] = frame["images"].astype("int32")
        write_commit(history, frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commits", type=int, default=1000)
    parser.add_argument("--curves", type=int, default=20)
    parser.add_argument("--rates", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        start = time.perf_counter()
        commits = make_repo(root / "repo", args.commits)
        write_history(root / "history", commits, args.curves, args.rates)
        print(f"built {args.commits} commits × {args.curves} curves × {args.rates} rates in {time.perf_counter() - start:.1f} s")
        bench = Path(sys.executable).with_name("bench")
        start = time.perf_counter()
        result = subprocess.run([str(bench), "history", "report", "--history", str(root / "history"), "--repo",
                                 str(root / "repo"), "--out", str(root / "history.html"), "--json", str(root / "steps.json")],
                                capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if result.returncode:
            sys.exit(result.stderr)
        steps = [line for line in result.stdout.splitlines() if line.startswith(("worse", "better"))]
        size = (root / "history.html").stat().st_size / 2**20
        print(f"bench history report: {elapsed:.1f} s, page {size:.1f} MiB, {len(steps)} steps:")
        print("\n".join(steps))


if __name__ == "__main__":
    main()
