"""Checks of one part's columns and values: only rows bench could have written reach a reader.

Parts are plain parquet files that anyone can add to a store folder, and a bad one does not
fail loudly by itself: rows with null keys collapse into one on deduplication (a codec's rows
vanish from a table, a gate finds nothing to compare and passes, a run measures them again),
and a reordered or extra column makes the parts impossible to concatenate. So a part is
matched to the schema by column name (order is irrelevant, extra columns are reported and
dropped) and the columns that identify a row or that the readers group by must hold a value in
every row. The value checks are vectorised Arrow kernels: a store of 10^6 rows is read often.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from bench.errors import ResultsError, one_line
from bench.schema import OPTIONAL_COLUMNS, SCHEMA_VERSION, arrow_schema

#: Columns every row bench writes fills: the key, what deduplication, resuming and the analysis
#: group and match by, and the row's provenance time. A null here is a part bench did not write.
REQUIRED_VALUES = ("key", "dataset", "image", "codec", "decoder_options", "generation", "created_utc")

#: A key is the SHA-256 hex digest of the row's identity (``bench.plan.tasks.key_of``).
KEY_PATTERN = "^[0-9a-f]{64}$"

NOT_BENCH = "it was not written by bench run: move it out of the results"

#: The store schema, built once: every part of a store is checked against it.
SCHEMA = arrow_schema()


def check_columns(schema: pa.Schema, path: Path) -> list[str]:
    """Refuse a part whose columns cannot be this schema's (a name twice, a required column
    missing, another type than bench's); return the names of columns the schema does not have,
    which the reader drops. An all-null column is accepted and takes the schema's type."""
    names = set(schema.names)
    if len(names) != len(schema):
        raise ResultsError(f"{path}: a column name appears twice; {NOT_BENCH}")
    expected = {f.name: f.type for f in SCHEMA}
    missing = [name for name in expected if name not in names and name not in OPTIONAL_COLUMNS]
    if missing:
        raise ResultsError(f"{path}: lacks column(s) {', '.join(missing)} of schema version {SCHEMA_VERSION}; {NOT_BENCH}")
    for field in schema:
        want = expected.get(field.name)
        if want is not None and field.type != want and not pa.types.is_null(field.type):
            raise ResultsError(f"{path}: column {field.name} is {field.type}, schema version {SCHEMA_VERSION} "
                               f"has {want}; {NOT_BENCH}")
    return [name for name in schema.names if name not in expected]


def conform(table: pa.Table, path: Path) -> pa.Table:
    """``table`` (columns of the schema, any order, possibly a subset when only some were
    read) in schema order with schema types; optional columns a part predates become nulls.

    Optional columns join a schema version without bumping it (bench/schema.py), so parts
    written before them must still read, and concatenate with newer parts."""
    present = set(table.column_names)
    fields = [f for f in SCHEMA if f.name in present or f.name in OPTIONAL_COLUMNS]
    columns = [table[f.name].cast(f.type) if f.name in present else pa.nulls(table.num_rows, f.type)
               for f in fields]  # cast: an all-null column (checked by check_columns) takes the schema's type
    conformed = pa.Table.from_arrays(columns, schema=pa.schema(fields, metadata=SCHEMA.metadata))
    check_values(conformed, path)
    return conformed


def check_values(table: pa.Table, path: Path) -> None:
    """Refuse a part with a null in a required column, a key that is not a SHA-256 hex digest,
    or a generation below 1, naming the column, how many rows and the first bad value."""
    rows = table.num_rows
    for name in REQUIRED_VALUES:
        if name in table.column_names and (nulls := table[name].null_count):
            raise ResultsError(f"{path}: column {name} is null in {nulls} of {rows} row(s), which bench run never "
                               "writes; move it out of the results")
    if "key" in table.column_names:
        _refuse_where(pc.invert(pc.match_substring_regex(table["key"], KEY_PATTERN)), table["key"], path,
                      "key", "is not a 64-digit lowercase hex SHA-256")
    if "generation" in table.column_names:
        _refuse_where(pc.less(table["generation"], 1), table["generation"], path, "generation", "is below 1")


def _refuse_where(bad: pa.ChunkedArray, values: pa.ChunkedArray, path: Path, name: str, problem: str) -> None:
    """One line naming the first value where ``bad`` holds, if any does."""
    count = pc.sum(bad).as_py() or 0
    if count:
        first = values.filter(bad)[0].as_py()
        raise ResultsError(f"{path}: column {name} {problem} in {count} of {len(values)} row(s) "
                           f"(first: {one_line(repr(first), 80)}); {NOT_BENCH}")
