"""Recompute metrics of stored rows from their kept bitstreams, without re-encoding.

A row's bitstream (kept by ``bench run --keep-bitstreams``) is checked against the row's SHA-256,
decoded again with the same codec version and parameters, the requested metrics are measured,
and the row is written again under the same key with the new values; the store keeps the newest
successful row per key. A bitstream that is not the row's is refused, never measured.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench import metrics as metric_functions
from bench.errors import BenchError
from bench.execute.bitstreams import kept_path, read_checked
from bench.execute.worker import cached_image, codec_for, float_reconstruction, one_line, rounded, wants_float
from bench.config.provenance import Provenance, utc_now
from bench.store import BufferedWriter, Store


def remeasure_row(row: dict[str, Any], image_path: Path, bitstream: Path, metrics: list[str],
                  provenance: Provenance, device: str = "cpu") -> dict[str, Any]:
    """``row`` with ``metrics`` measured anew from ``bitstream``; raises BenchError on a codec
    version or bitstream SHA-256 that is not the row's."""
    codec = codec_for(row["codec_impl"], json.loads(row["params"]))
    if codec.version() != row["codec_version"]:
        raise BenchError(
            f"{bitstream}: encoded by {row['codec_version']!r}, installed codec is {codec.version()!r}; "
            "re-run `bench run` instead"
        )
    data = read_checked(bitstream, row["bitstream_sha256"])
    original = cached_image(image_path)
    start = time.perf_counter()
    decode = codec.decode_float if wants_float(codec, metrics) else codec.decode
    as_decoded = decode(data, **json.loads(row["decoder_options"]))
    updated = dict(row)
    updated["decode_s"] = time.perf_counter() - start
    reference = codec.reference_image(original)  # the reference a run measured against
    updated.update(metric_functions.measure(reference, rounded(as_decoded), metrics, device=device,
                                           reconstruction=float_reconstruction(as_decoded)))
    updated.update(provenance.fields(), created_utc=utc_now())
    return updated


def remeasure(store: Store, image_paths: dict[str, Path], metrics: list[str], provenance: Provenance,
              device: str = "cpu") -> tuple[int, list[str]]:
    """Re-measure every successful row whose bitstream and image are at hand.

    ``image_paths`` maps image SHA-256 to a readable file. Returns (rows written, problems).
    """
    rows: pd.DataFrame = store.read(include_errors=False)
    problems: list[str] = []
    with BufferedWriter(store) as writer:
        for row in rows.to_dict("records"):
            bitstream = kept_path(store.root, row["key"])
            path = image_paths.get(row["image_sha256"])
            if not bitstream.is_file() or path is None:
                problems.append(f"{row['image']} {row['codec']} {row['rate']:g}: "
                                f"{'no kept bitstream' if path else 'image not found'}, skipped")
                continue
            try:
                writer.add(remeasure_row(row, path, bitstream, metrics, provenance, device))
            except Exception as exc:  # noqa: BLE001 - report and go on, like a run does
                problems.append(one_line(exc))
        writer.flush()
        return writer.written, problems
