"""How long reading a store takes: ``Store(folder).read()`` and ``finished_keys()`` on a synthetic store.

The store holds ``--rows`` rows of the current schema in ``--parts`` parts (a run writes parts of
16 rows, ``bench compact`` merges them into one), one key in ten stored twice (an error row and
a later successful one), as resumed runs leave them. It is built once into ``--store`` (an
empty or missing folder) and reused, so the same files can be read by two versions of the
harness. Each timing is the median of ``--repeats`` reads in this process.

    python benchmarks/store_read.py --store /tmp/store-100k [--rows 100000] [--parts 100] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa

from bench.schema import SCHEMA_VERSION, arrow_schema
from bench.store import Store


def synthetic_table(first: int, count: int, start: datetime) -> pa.Table:
    """``count`` successful rows numbered from ``first``: valid keys, plausible values in every column."""
    numbers = range(first, first + count)
    columns = {
        "key": [hashlib.sha256(str(n).encode()).hexdigest() for n in numbers],
        "dataset": ["synthetic"] * count,
        "image": [f"img{n % 1000:04d}.png" for n in numbers],
        "image_sha256": [hashlib.sha256(f"img{n % 1000}".encode()).hexdigest() for n in numbers],
        "width": [768] * count, "height": [512] * count,
        "codec": [f"codec{n // 1000 % 10}" for n in numbers], "codec_impl": ["jpeg"] * count,
        "codec_version": ["1.0"] * count, "params": ["{}"] * count, "rate_parameter": ["quality"] * count,
        "rate": [float(n // 10000 * 10) for n in numbers], "decoder_options": ["{}"] * count,
        "generation": [1] * count, "chain": [""] * count, "command": ["encode"] * count,
        "bytes": [1000 + n % 977 for n in numbers], "bitstream_sha256": ["0" * 64] * count,
        "bpp": [(1000 + n % 977) * 8 / (768 * 512) for n in numbers],
        "psnr_rgb": [30 + n % 13 / 10 for n in numbers], "reference": ["original"] * count,
        "run_id": ["run"] * count, "harness_version": ["0"] * count, "git_commit": ["c"] * count,
        "host": ["h"] * count, "device": ["cpu"] * count,
        "created_utc": [start + timedelta(microseconds=n) for n in numbers],
        "schema_version": [SCHEMA_VERSION] * count,
    }
    schema = arrow_schema()
    arrays = [pa.array(columns.get(f.name, [None] * count), type=f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def build(folder: Path, rows: int, parts: int) -> None:
    """Write the synthetic store: ``parts`` parts, the first tenth of the keys also as earlier error rows."""
    store = Store(folder)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    failed = synthetic_table(0, rows // 10, start - timedelta(days=1))
    failed = failed.set_column(failed.schema.get_field_index("error"), "error", pa.array(["boom"] * len(failed)))
    store.write_table(failed)
    per_part = -(-rows // parts)
    for first in range(0, rows, per_part):
        store.write_table(synthetic_table(first, min(per_part, rows - first), start))


def median_seconds(action, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--parts", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if not args.store.is_dir() or not any(args.store.iterdir()):
        build(args.store, args.rows, args.parts)
    store = Store(args.store)
    frame = store.read()
    print(f"{args.store}: {len(store.parts())} parts, {len(frame)} rows read")
    print(f"Store.read():          {median_seconds(store.read, args.repeats):.3f} s (median of {args.repeats})")
    print(f"Store.finished_keys(): {median_seconds(store.finished_keys, args.repeats):.3f} s (median of {args.repeats})")


if __name__ == "__main__":
    main()
