"""The one row schema of the results store, with a description of every column.

The descriptions travel inside every parquet file (field metadata) and are rendered into the
README, so a results file explains itself. Bump ``SCHEMA_VERSION`` when a column changes
meaning; it is part of every row key, so old rows are never mistaken for new ones.

Adding an *optional* column (nullable, null in every row that predates it) does not bump the
version: no existing column changes meaning and no existing key changes, so old rows stay valid
measurements and a version bump would only make their results unreadable and their work redone.
The store fills an optional column missing from an older part with nulls on read.

Versions (docs/datasets-and-keys.md):

* 1: a row's key hashed the image bytes (``image_sha256``) but not its name, so byte-identical
  files under different names shared keys and all but one of them lost their rows.
* 2: the key also hashes ``image``, the file's name within its dataset, so every key changed;
  ``image_modified`` records files measured although they differ from the dataset's pinned
  SHA-256. Stores of version 1 are read by bench versions before 2 only; re-run to rebuild them.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

SCHEMA_VERSION = 2

#: What to do with a store part of an older version, by version: one clause for the error line.
UPGRADE_ADVICE = {
    1: "version 2 added the image name to every key; run `bench migrate DIR` to rekey this store (nothing is "
       "measured again), or read it with the bench version that wrote it (harness_version column)",
}


@dataclass(frozen=True)
class Column:
    name: str
    type: pa.DataType
    description: str
    #: Added after its schema version's first release: parts written before it lack it, and the
    #: store reads them with the column null.
    optional: bool = False


COLUMNS: tuple[Column, ...] = (
    # identity
    Column("key", pa.string(), "SHA-256 of the identity columns, codec version and schema version; rows with equal keys are the same measurement"),
    Column("dataset", pa.string(), "dataset name (registry name or folder path)"),
    Column("image", pa.string(), "image file name relative to the dataset root"),
    Column("image_sha256", pa.string(), "SHA-256 of the image file bytes"),
    Column("image_modified", pa.bool_(), "true when the file differs from its dataset's pinned SHA-256 and was measured "
           "anyway (--allow-modified); false when it matches; null when the dataset pins no digest"),
    Column("width", pa.int32(), "image width in pixels (original, unpadded)"),
    Column("height", pa.int32(), "image height in pixels (original, unpadded)"),
    Column("codec", pa.string(), "codec label as configured in bench.toml"),
    Column("codec_impl", pa.string(), "registered codec implementation name"),
    Column("codec_version", pa.string(), "library version, binary version or checkpoint hash of the codec"),
    Column("params", pa.string(), "codec parameters, canonical JSON"),
    Column("rate_parameter", pa.string(), "name of the swept parameter (quality, qp, level, ...)"),
    Column("rate", pa.float64(), "value of the swept parameter"),
    Column("decoder_options", pa.string(), "decoder-only options (e.g. sampling temperature, seed), canonical JSON"),
    Column("generation", pa.int32(), "re-encoding generation; 1 is the ordinary single pass"),
    Column("chain", pa.string(), "re-encoding schedule of a drift study, canonical JSON; empty for single-pass rows"),
    Column("target_bpp", pa.float64(), "target bpp of a matched-rate run; null for ordinary rows", optional=True),
    Column("rate_search", pa.string(), "JSON of the rate search: tolerance, within, reason and every (rate, bpp) tried; null for ordinary rows", optional=True),
    Column("command", pa.string(), "exact encode call or command line"),
    # result
    Column("bytes", pa.int64(), "size of the complete bitstream in bytes (headers included)"),
    Column("bitstream_sha256", pa.string(), "SHA-256 of the bitstream (equal digests in consecutive drift generations = fixed point)"),
    Column("bpp", pa.float64(), "bytes × 8 / (width × height) of the original image"),
    Column("psnr_rgb", pa.float64(), "PSNR in dB over R, G and B of 8-bit images, peak 255 (inf when identical)"),
    Column("psnr_y", pa.float64(), "PSNR in dB of luma Y = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601, full range, unrounded), peak 255"),
    Column("ms_ssim", pa.float64(), "MS-SSIM on RGB (pytorch-msssim 1.0: 5 scales, Gaussian window 11, σ 1.5, data range 255), mean over channels"),
    Column("ms_ssim_db", pa.float64(), "−10·log10(1 − MS-SSIM)"),
    Column("lpips", pa.float64(), "LPIPS v0.1 with AlexNet features (lower is better), inputs scaled to [−1, 1]"),
    Column("psnr_rgb_float", pa.float64(), "opt-in: PSNR in dB over R, G and B of the codec's reconstruction before "
           "rounding to 8 bits (learned codecs' float output clamped to [0, 255], as the papers measure; the 8-bit "
           "image for codecs without one), peak 255", optional=True),
    Column("psnr_rgb_prev", pa.float64(), "drift studies: PSNR RGB against the previous generation's decoded image (generation 1: the original)"),
    Column("ms_ssim_prev", pa.float64(), "drift studies: MS-SSIM against the previous generation's decoded image, when MS-SSIM is measured"),
    Column("encode_s", pa.float64(), "wall seconds of encode (codec work only); rows that differ only in decoder options "
           "share one encode and each records its time"),
    Column("decode_s", pa.float64(), "wall seconds of decode (codec work only)"),
    Column("deterministic_decode", pa.bool_(), "whether a second decode of the same bytes gave the identical image (learned codecs: and a decode at another torch thread count came within one level); null when not checked"),
    Column("determinism_check", pa.string(), "which determinism check the run asked for and the row had: 'first' (re-decoded: "
           "the first rate of its image, codec and decoder options), 'all' (every row re-decoded), 'off', or "
           "'skipped-not-first' (not the first rate under 'first'); null for rows written before it and drift rows",
           optional=True),
    Column("reference", pa.string(), "what the metrics compare against: 'original' RGB, or a documented alternative such as 'ycbcr709-8bit-roundtrip'"),
    Column("error", pa.string(), "one-line error when the task failed (metrics are then null)"),
    # provenance
    Column("run_id", pa.string(), "identifier of the bench invocation that wrote the row"),
    Column("harness_version", pa.string(), "version of the bench package"),
    Column("git_commit", pa.string(), "git commit of the harness ('+dirty' when uncommitted changes were present)"),
    Column("host", pa.string(), "host name of the machine that ran the task"),
    Column("device", pa.string(), "device the codec computed on (cpu, cuda:0, ...)"),
    Column("created_utc", pa.timestamp("us", tz="UTC"), "UTC time the row was produced"),
    Column("schema_version", pa.int32(), "row schema version"),
)

METRIC_COLUMNS = ("psnr_rgb", "psnr_y", "ms_ssim", "ms_ssim_db", "lpips", "psnr_rgb_float")
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
OPTIONAL_COLUMNS = frozenset(c.name for c in COLUMNS if c.optional)
#: ``target_bpp`` (with the tolerance inside ``rate_search``) replaces ``rate`` in the key of a
#: matched-rate row, whose rate is found by the run; ordinary rows' keys never include it.
IDENTITY_COLUMNS = (
    "dataset", "image", "image_sha256", "codec", "codec_impl", "codec_version", "params",
    "rate", "decoder_options", "generation", "chain", "reference", "target_bpp",
)


def version_mismatch(found: str) -> str:
    """What a part of schema version ``found`` means for this harness, and what to do, in one clause."""
    older = UPGRADE_ADVICE.get(int(found)) if found.isdigit() else None
    if older:
        return f"schema version {found}, this harness reads {SCHEMA_VERSION}: {older}"
    return (f"schema version {found}, this harness reads {SCHEMA_VERSION}; "
            "read it with the bench version that wrote it (harness_version column) or move it out of the results")


def arrow_schema() -> pa.Schema:
    """The pyarrow schema with column descriptions and the schema version as metadata."""
    fields = [pa.field(c.name, c.type, metadata={"description": c.description}) for c in COLUMNS]
    return pa.schema(fields, metadata={"bench.schema_version": str(SCHEMA_VERSION)})


def markdown_table() -> str:
    """The schema as a Markdown table, for the README."""
    lines = ["| column | type | meaning |", "|---|---|---|"]
    lines += [f"| `{c.name}` | {c.type} | {c.description} |" for c in COLUMNS]
    return "\n".join(lines)
