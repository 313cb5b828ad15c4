"""How long the command line takes to answer, this tree beside a previous commit, in one run.

Times ``bench --help``, ``bench codecs`` and ``bench table`` on a results store (by default the sample store: the
repository's bench.toml run with ``bench run``, built into ``--store`` when that folder is
empty), each the median of ``--repeats`` runs, the two versions interleaved so load on the
machine falls on both alike. The previous commit's ``bench`` package, codecs and datasets are
extracted with ``git archive`` and put first on ``PYTHONPATH``; both versions run in this virtualenv with the
same installed codecs and datasets, from a folder holding a copy of the repository's bench.toml. Afterwards the Markdown and LaTeX tables both versions
wrote (``--images common``, the previous default) are compared byte for byte.

    python benchmarks/cli_latency.py [--previous REV] [--store DIR] [--repeats 5]
"""

from __future__ import annotations

import argparse
import filecmp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: The last commit before the command line went through bench.api with lazy imports.
PREVIOUS = "6ae150f2ec3b3abb144a194c7b401aaa447008c9"
ENTRY = "import sys; sys.argv[0] = 'bench'; from bench.cli import main; main()"


def extract(rev: str, folder: Path) -> Path:
    """The ``bench`` package with its codecs and datasets as committed at ``rev``, under
    ``folder`` as they install (``codecs/`` as ``bench_codecs``, ``datasets/`` as
    ``bench_datasets``): the built-in codecs import the core, so they must be of the same commit."""
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "bench", "codecs", "datasets"], check=True,
                             capture_output=True)
    folder.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    (folder / "codecs").rename(folder / "bench_codecs")
    (folder / "datasets").rename(folder / "bench_datasets")
    return folder


def bench(args: list[str], pythonpath: Path, cwd: Path) -> float:
    """Wall seconds of one ``bench ARGS`` in a fresh interpreter, ``pythonpath`` first on the path
    (``cwd`` must not hold a ``bench`` package: ``python -c`` puts it before the path)."""
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", ENTRY, *args], cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        if pythonpath == REPO:
            raise SystemExit(f"bench {' '.join(args)} failed ({result.returncode}): {result.stderr[-500:]}")
        # an old commit's `bench codecs` imports every codec this installation registers, some
        # of which need core modules that commit does not have: no time to compare, not an error
        print(f"previous commit: bench {' '.join(args)} failed: {result.stderr.strip().splitlines()[-1]}",
              file=sys.stderr)
        return float("nan")
    return elapsed


def sample_store(store: Path) -> Path:
    """The store the default ``bench run`` writes (bench.toml's codecs on the sample dataset)."""
    if not any(store.glob("part-*.parquet")):
        print(f"building the sample store in {store} (bench run of bench.toml) ...", flush=True)
        bench(["run", "--results", str(store), "--config", str(REPO / "bench.toml")], REPO, REPO.parent)
    return store


def same_tables(first: Path, second: Path) -> tuple[int, list[str]]:
    """How many .md/.tex tables both wrote, and those that differ."""
    names = sorted(p.relative_to(first) for p in first.rglob("*") if p.suffix in (".md", ".tex"))
    return len(names), [str(n) for n in names if not filecmp.cmp(first / n, second / n, shallow=False)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--previous", default=PREVIOUS, help="git revision to compare with")
    parser.add_argument("--store", type=Path, default=Path(tempfile.gettempdir()) / "bench-sample-store",
                        help="results store for `bench table` (built from bench.toml when empty)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    store = sample_store(args.store.resolve())
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    with tempfile.TemporaryDirectory() as scratch:
        scratch_dir = Path(scratch)
        versions = {f"previous {args.previous[:7]}": extract(args.previous, scratch_dir / "previous"),
                    f"this tree {commit.stdout.strip()}": REPO}
        cwd = scratch_dir / "cwd"  # bench.toml as in the repository, and no bench package beside it
        cwd.mkdir()
        (cwd / "bench.toml").write_text((REPO / "bench.toml").read_text())
        commands = {"bench --help": ["--help"], "bench codecs": ["codecs"],
                    "bench table": ["table", "--results", str(store), "--images", "common"]}
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.repeats):
            for command, argv in commands.items():
                for label, path in versions.items():
                    out = scratch_dir / "tables" / label.split()[0]
                    extra = ["--out", str(out)] if argv[0] == "table" else []
                    times.setdefault((command, label), []).append(bench(argv + extra, path, cwd))
        count, differ = same_tables(scratch_dir / "tables" / "previous", scratch_dir / "tables" / "this")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f}; "
          f"store {store} ({len(list(store.glob('part-*.parquet')))} parts); median of {args.repeats}\n")
    print("| command | " + " | ".join(versions) + " | ratio |")
    print("|---|" + "---|" * (len(versions) + 1))
    for command in commands:
        medians = [statistics.median(times[(command, label)]) for label in versions]
        ratio = "n/a" if medians[0] != medians[0] else f"{medians[0] / medians[1]:.1f}×"
        print(f"| `{command}` | " + " | ".join("failed" if m != m else f"{m:.2f} s" for m in medians) + f" | {ratio} |")
    print(f"\nMarkdown and LaTeX tables: {count} written by each; "
          + ("all byte-identical" if not differ else f"differ: {', '.join(differ)}"))


if __name__ == "__main__":
    main()
