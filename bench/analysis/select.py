"""Which stored rows an analysis looks at: ``--dataset``, ``--codec`` and ``--where KEY=VALUE``.

Every analysis command (plot, table, report, compare, sweep-plot) narrows a store the same way,
so a figure and the table printed beside it always describe the same rows.
"""

from __future__ import annotations

import json
from typing import Iterable, Mapping

import pandas as pd

from bench.errors import AnalysisError
from bench.schema import METRIC_COLUMNS, arrow_schema

#: The columns tables and figures read: what selects rows (``--where`` reads parameters and
#: decoder options), what keeps single-pass rows, what groups them and the values they show.
#: A store of 10^6 rows is read with these alone: its hashes, commands and provenance stay on disk.
ANALYSIS_COLUMNS = ("dataset", "image", "codec", "decoder_options", "params", "rate", "generation", "chain",
                    "target_bpp", "error", "bpp", *METRIC_COLUMNS, "encode_s", "decode_s")


def columns_for(where: Mapping[str, str] | None, also: Iterable[str] = ()) -> list[str]:
    """The columns an analysis of rows selected by ``where`` reads: ``ANALYSIS_COLUMNS``, the
    columns ``where`` names, and ``also`` (what one command shows beyond them)."""
    named = [key for key in (where or {}) if key in arrow_schema().names]
    return [*dict.fromkeys([*ANALYSIS_COLUMNS, *named, *also])]


def parse_where(items: Iterable[str]) -> dict[str, str]:
    """``["z=sample", "seed=0"]`` → ``{"z": "sample", "seed": "0"}``; a malformed item is an error."""
    filters: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise AnalysisError(f"--where {item!r}: write KEY=VALUE, e.g. --where z=sample")
        filters[key] = value
    return filters


def _as_text(value: object) -> str:
    """Values compare as text, so ``--where scale=0.5`` matches the JSON number 0.5."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _matches(row_value: object, wanted: str) -> bool:
    if _as_text(row_value) == wanted:
        return True
    try:
        return float(row_value) == float(wanted)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False


def select_rows(rows: pd.DataFrame, datasets: Iterable[str] | None = None, codecs: Iterable[str] | None = None,
                where: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Rows of the named datasets and codec labels whose column, decoder option or parameter
    ``KEY`` equals ``VALUE`` for every ``where`` item.

    A row that has no ``KEY`` at all (JPEG has no ``z`` decoder option) is kept, so
    ``--where z=mode`` narrows ILC to its mode decoder and leaves the other codecs in the plot.
    A name or key that matches nothing is an error rather than an empty figure.
    """
    selected = rows
    for column, names, flag in (("dataset", datasets, "--dataset"), ("codec", codecs, "--codec")):
        names = list(names or [])
        if not names:
            continue
        unknown = sorted(set(names) - set(selected[column].astype(str)))
        if unknown:
            present = ", ".join(sorted(set(rows[column].astype(str)))) or "none"
            raise AnalysisError(f"{flag} {', '.join(unknown)}: not in the store (stored: {present})")
        selected = selected[selected[column].astype(str).isin(names)]
    for key, wanted in (where or {}).items():
        selected = _filter(selected, key, wanted)
    return selected


def _filter(rows: pd.DataFrame, key: str, wanted: str) -> pd.DataFrame:
    if key in rows.columns:
        return rows[[_matches(v, wanted) for v in rows[key]]]
    keep, seen = [], False
    for options, params in zip(rows["decoder_options"], rows["params"]):
        merged = {**json.loads(params or "{}"), **json.loads(options or "{}")}
        seen |= key in merged
        keep.append(key not in merged or _matches(merged[key], wanted))
    if not seen:
        raise AnalysisError(f"--where {key}={wanted}: no selected row has a column, decoder option or parameter "
                            f"named {key!r}")
    return rows[keep]
