"""How the analysis commands grow with the store: ``bench table``, ``plot``, ``report`` and
``compare`` on stores of 10^4, 10^5 and 10^6 rows, wall time and peak RSS of each.

The rows come from a real run: ``bench run`` of JPEG and WebP at their ten default qualities on
the first four Kodak images (PSNR and MS-SSIM), stored in ``--work``/base. Each replica copies
those 80 rows onto four new images with their own names, image hashes and keys, and scales
every image's bpp and shifts its PSNR and MS-SSIM (dB) by its own small random amounts (the
same for all rates of an image, plus a little noise per point far below the step between two
qualities, so every curve stays monotone). Replicas are written through the store writer as
parts of ``--part-rows`` rows (a long run's or a compacted store's parts; ``bench compact``
merges small ones). The largest store is built once; the smaller ones are folders of links to
its first parts. Everything lives under ``--work`` (outside the repository); ``--clean``
removes the stores afterwards.

With ``--previous REV`` the smallest store is also run through that commit's ``bench``
(``git archive`` put first on ``PYTHONPATH``, as ``benchmarks/cli_latency.py`` does), the two
interleaved, and the tables both wrote are compared byte for byte.

    BENCH_DATA_DIR=/path/to/datasets python benchmarks/scale.py [--sizes 10000 100000 1000000]
        [--work /tmp/bench-scale] [--previous REV] [--repeats 1] [--clean]
"""

from __future__ import annotations

import argparse
import filecmp
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.store import Store, read_part

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_latency import extract  # noqa: E402 (a sibling script)

#: Runs ``bench ARGS`` and prints the process's peak RSS (KiB) and CPU seconds last on stderr.
ENTRY = ("import resource, sys; sys.argv[0] = 'bench'\nfrom bench.cli import main\ntry:\n    main()\n"
         "finally:\n    use = resource.getrusage(resource.RUSAGE_SELF)\n"
         "    print('maxrss', use.ru_maxrss, use.ru_utime + use.ru_stime, file=sys.stderr)")


def base_store(folder: Path) -> Path:
    """The real run every replica copies (built when ``folder`` holds no part)."""
    if not any(folder.glob("part-*.parquet")):
        print(f"running bench on 4 Kodak images into {folder} ...", flush=True)
        subprocess.run([sys.executable, "-m", "bench", "run", "--dataset", "kodak", "--codec", "jpeg", "--codec", "webp",
                        "--limit", "4", "--metric", "psnr_rgb", "--metric", "ms_ssim", "--results", str(folder)],
                       cwd=REPO, check=True)
    return folder


def base_rows(folder: Path) -> pa.Table:
    """The base run's successful rows, in a fixed order."""
    table = pa.concat_tables([read_part(p) for p in Store(folder).parts()])
    table = table.filter(pc.is_null(table["error"]))
    return table.sort_by([("image", "ascending"), ("codec", "ascending"), ("rate", "ascending")])


def replica(base: pa.Table, first: int, count: int, rng: np.random.Generator) -> pa.Table:
    """Replicas ``first`` … ``first + count - 1`` of ``base``: new image names, hashes and keys,
    and per-image perturbed bpp, PSNR and MS-SSIM."""
    n = base.num_rows
    table = base.take(np.tile(np.arange(n), count))
    copy = np.repeat(np.arange(first, first + count), n)
    images = [f"{Path(name).stem}-{c:06d}.png" for name, c in zip(table["image"].to_pylist(), copy)]
    distinct = sorted(set(images))
    image_index = {name: i for i, name in enumerate(distinct)}
    which = np.array([image_index[name] for name in images])
    scale = np.exp(rng.normal(0, 0.05, len(distinct)))[which]
    shift, ssim_shift = rng.normal(0, 0.3, len(distinct))[which], rng.normal(0, 0.2, len(distinct))[which]
    bpp = table["bpp"].to_numpy() * scale
    psnr = table["psnr_rgb"].to_numpy() + shift + rng.normal(0, 0.01, len(copy))
    ssim_db = table["ms_ssim_db"].to_numpy() + ssim_shift + rng.normal(0, 0.01, len(copy))
    pixels = table["width"].to_numpy().astype(float) * table["height"].to_numpy()
    hashes = {name: hashlib.sha256(name.encode()).hexdigest() for name in distinct}
    keys = [hashlib.sha256(f"{key}/{c}".encode()).hexdigest() for key, c in zip(table["key"].to_pylist(), copy)]
    replaced = {"image": pa.array(images), "image_sha256": pa.array([hashes[name] for name in images]),
                "key": pa.array(keys), "bpp": pa.array(bpp), "psnr_rgb": pa.array(psnr),
                "ms_ssim_db": pa.array(ssim_db), "ms_ssim": pa.array(1 - 10 ** (-ssim_db / 10)),
                "bytes": pa.array(np.round(bpp * pixels / 8).astype(np.int64))}
    for name, values in replaced.items():
        table = table.set_column(table.schema.get_field_index(name), table.schema.field(name), values.cast(table.schema.field(name).type))
    return table


def build(base: pa.Table, folder: Path, rows: int, part_rows: int, seed: int = 0) -> Path:
    """A store of ``rows`` replicated rows in parts of ``part_rows`` (built once per folder)."""
    if any(folder.glob("part-*.parquet")):
        return folder
    print(f"building {rows:,} rows in {folder} ...", flush=True)
    rng, store = np.random.default_rng(seed), Store(folder)
    per_part = max(1, part_rows // base.num_rows)
    for first in range(0, rows // base.num_rows, per_part):
        store.write_table(replica(base, first, min(per_part, rows // base.num_rows - first), rng))
    return folder


def linked(full: Path, folder: Path, rows: int, part_rows: int) -> Path:
    """A store of the first ``rows`` rows of ``full``: links to its first parts."""
    if not folder.exists():
        folder.mkdir(parents=True)
        for part in sorted(full.glob("part-*.parquet"))[:max(1, rows // part_rows)]:
            (folder / part.name).symlink_to(part)
    return folder


def timed(args: list[str], pythonpath: Path, cwd: Path, timeout: float) -> tuple[float, float, float]:
    """(wall seconds, peak RSS in MiB, CPU seconds) of ``bench ARGS`` in a fresh interpreter; NaN
    on a timeout. CPU seconds say more than wall time on a machine others load."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    start = time.perf_counter()
    try:
        result = subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env, capture_output=True,
                                text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return float("nan"), float("nan"), float("nan")
    elapsed = time.perf_counter() - start
    if result.returncode not in (0, 1):  # compare exits 1 on a failed gate
        raise SystemExit(f"bench {' '.join(args)} failed ({result.returncode}): {result.stderr[-800:]}")
    last = next(line.split() for line in reversed(result.stderr.splitlines()) if line.startswith("maxrss"))
    return elapsed, float(last[1]) / 1024, float(last[2])


def commands(store: Path, out: Path) -> dict[str, list[str]]:
    return {"table": ["table", "--results", str(store), "--out", str(out / "tables")],
            "plot": ["plot", "--results", str(store), "--out", str(out / "plots")],
            "report": ["report", "--results", str(store), "--out", str(out / "report.html")],
            "compare": ["compare", str(store), str(store)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench-scale")
    parser.add_argument("--part-rows", type=int, default=2000)
    parser.add_argument("--previous", help="git revision also timed on the smallest store")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--clean", action="store_true", help="remove the built stores afterwards")
    args = parser.parse_args()
    work = args.work.resolve()
    base = base_rows(base_store(work / "base"))
    full = build(base, work / f"rows-{max(args.sizes)}", max(args.sizes), args.part_rows)
    stores = {size: linked(full, work / f"rows-{size}", size, args.part_rows) if size != max(args.sizes) else full
              for size in sorted(args.sizes)}
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    results: dict[tuple[int, str, str], list[tuple[float, float, float]]] = {}
    sizes: dict[tuple[int, str], float] = {}
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        cwd = scratch_dir / "cwd"
        cwd.mkdir()
        (cwd / "bench.toml").write_text((REPO / "bench.toml").read_text())
        versions = {f"this tree {commit.stdout.strip()}": REPO}
        if args.previous:
            versions = {f"previous {args.previous[:7]}": extract(args.previous, scratch_dir / "previous"), **versions}
        for size, store in stores.items():
            for _ in range(args.repeats):
                for name in ("table", "plot", "report", "compare"):
                    for label, path in versions.items():
                        if label.startswith("previous") and size != min(stores):
                            continue
                        out = scratch_dir / "out" / label.split()[0] / str(size)
                        results.setdefault((size, name, label), []).append(
                            timed(commands(store, out)[name], path, cwd, args.timeout))
                        if name == "report" and (out / "report.html").exists():
                            sizes[(size, label)] = (out / "report.html").stat().st_size / 2**20
            print(f"{size:,} rows done", flush=True)
        same = ""
        if args.previous:
            first, second = (scratch_dir / "out" / v / str(min(stores)) / "tables" for v in ("previous", "this"))
            names = sorted(p.relative_to(first) for p in first.rglob("*") if p.suffix in (".md", ".tex", ".csv"))
            differ = [str(n) for n in names if not filecmp.cmp(first / n, second / n, shallow=False)]
            same = f"{len(names)} tables written by each on {min(stores):,} rows: " + (
                "all byte-identical" if not differ else f"differ: {', '.join(differ)}")
    print(f"\n{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; parts of {args.part_rows} rows; "
          f"median of {args.repeats}\n")
    print("| rows | command | version | wall | CPU | peak RSS | report |\n|---|---|---|---|---|---|---|")
    for (size, name, label), runs in results.items():
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        cpu = statistics.median(r[2] for r in runs)
        report = f"{sizes[(size, label)]:.1f} MiB" if name == "report" and (size, label) in sizes else ""
        print(f"| {size:,} | `bench {name}` | {label} | {wall:.1f} s | {cpu:.1f} s | {rss:,.0f} MiB | {report} |")
    if same:
        print(f"\n{same}")
    if args.clean:
        for store in stores.values():
            shutil.rmtree(store)


if __name__ == "__main__":
    main()
