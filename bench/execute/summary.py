"""What one ``bench run`` did: per curve, the rows it wrote, failures, mean bpp and PSNR.

A curve is a codec label with one set of decoder options: ILC decoded at ``z=mode`` (30 dB)
and at ``z=sample`` (9 dB) are two curves with two lines, since one mean over both describes
neither decoder.

The summary is data first (``execute`` returns it, so a Python caller gets the same numbers the
CLI prints) and text second: ``render`` lays it out as a compact aligned table of short lines
that a narrow terminal or a CI log never hard-wraps.
"""

from __future__ import annotations

import json
import math
import shlex
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.labels import curve_labels

#: The analysis commands worth running after a run, in the order a researcher needs them.
NEXT_COMMANDS = ("plot", "report", "table")


def _number(value: Any) -> float | None:
    """A stored metric as a float, or None when it is missing (null, NaN, not measured)."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def curve_name(codec: str, decoder_options: str | None) -> str:
    """A curve as the summary names it: the codec label alone without decoder options, else the
    label and every option (``ilc (z=mode)``), the way figures and tables write them."""
    options = json.loads(decoder_options or "{}")
    if not options:
        return codec
    return f"{codec} ({', '.join(f'{key}={options[key]}' for key in sorted(options))})"


@dataclass
class CodecSummary:
    """The requested work of one curve (codec label and decoder options): the rows this run
    wrote and those already stored (a resumed or repeated run still describes what was asked
    for); means are over the successful rows of both."""

    codec: str
    #: The curve's decoder options (JSON), "{}" for a codec decoded one way.
    decoder_options: str = "{}"
    written: int = 0
    failed: int = 0
    #: Rows of the requested work that an earlier run had stored (skipped here).
    stored: int = 0
    #: Matched-rate rows written, and those of them stored off target (not within tolerance).
    matched: int = 0
    off_target: int = 0
    bpp: list[float] = field(default_factory=list, repr=False)
    psnr_rgb: list[float] = field(default_factory=list, repr=False)

    def take_values(self, row: dict[str, Any]) -> None:
        """Add a successful row's bpp and PSNR RGB to the means (a missing value is skipped)."""
        for values, value in ((self.bpp, _number(row.get("bpp"))), (self.psnr_rgb, _number(row.get("psnr_rgb")))):
            if value is not None:
                values.append(value)

    @property
    def mean_bpp(self) -> float | None:
        return _mean(self.bpp)

    @property
    def mean_psnr_rgb(self) -> float | None:
        """Mean PSNR RGB in dB (inf when every row was lossless); None when not measured."""
        return _mean(self.psnr_rgb)


@dataclass(frozen=True)
class OffTarget:
    """A matched-rate row stored at the nearest rate because no rate landed within tolerance."""

    codec: str
    image: str
    decoder_options: str
    rate: float
    bpp: float
    target_bpp: float
    reason: str


@dataclass
class RunSummary:
    """Counts, per-codec means and wall time of one run, built row by row as rows arrive."""

    planned: int
    skipped: int
    written: int = 0
    errors: Counter = field(default_factory=Counter)
    #: Per curve, by :func:`curve_name`: the codec label for a codec without decoder options
    #: (``per_codec["jpeg"]``), ``"ilc (z=mode)"`` for one of a codec's decoder options.
    per_codec: dict[str, CodecSummary] = field(default_factory=dict)
    off_target: list[OffTarget] = field(default_factory=list)
    wall_s: float = 0.0
    #: The store folder the rows went to.
    results: Path | None = None

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def add(self, row: dict[str, Any]) -> None:
        """Count one row produced by a worker (successful or carrying its error)."""
        tally = self._tally(row)
        tally.written += 1
        if row.get("error"):
            self.errors[row["error"]] += 1
            tally.failed += 1
            return
        tally.take_values(row)
        if row.get("target_bpp") is not None and row.get("rate_search"):
            tally.matched += 1
            search = json.loads(row["rate_search"])
            if not search["within"]:
                tally.off_target += 1
                self.off_target.append(OffTarget(
                    codec=row["codec"], image=row.get("image", ""), decoder_options=row.get("decoder_options", "{}"),
                    rate=float(row["rate"]), bpp=float(row["bpp"]), target_bpp=float(row["target_bpp"]),
                    reason=search["reason"],
                ))

    def add_stored(self, row: dict[str, Any]) -> None:
        """Count one successful row of the requested work that was already stored."""
        tally = self._tally(row)
        tally.stored += 1
        tally.take_values(row)

    def _tally(self, row: dict[str, Any]) -> CodecSummary:
        """The summary of the row's curve, created at its first row."""
        options = row.get("decoder_options") or "{}"
        name = curve_name(row["codec"], options)
        return self.per_codec.setdefault(name, CodecSummary(row["codec"], options))

    def next_commands(self) -> list[str]:
        """The analysis commands to run next, on this run's store."""
        where = f" --results {shlex.quote(str(self.results))}" if self.results is not None else ""
        return [f"bench {command}{where}" for command in NEXT_COMMANDS]


def _format_psnr(value: float | None) -> str:
    if value is None:
        return "-"
    return "inf dB" if math.isinf(value) else f"{value:.2f} dB"


def codec_table(summary: RunSummary) -> list[list[str]]:
    """Header and one row of cells per curve; a "within target" column in matched-rate runs."""
    matched = any(t.matched for t in summary.per_codec.values())
    stored = any(t.stored for t in summary.per_codec.values())
    table = [["codec", "rows", "failed", *(["stored before"] if stored else []), "mean bpp", "mean PSNR RGB"]
             + (["within target"] if matched else [])]
    labels = curve_labels([(tally.codec, tally.decoder_options) for tally in summary.per_codec.values()])
    for tally in summary.per_codec.values():
        cells = [labels[(tally.codec, tally.decoder_options)], str(tally.written), str(tally.failed), *([str(tally.stored)] if stored else []),
                 "-" if tally.mean_bpp is None else f"{tally.mean_bpp:.4f}", _format_psnr(tally.mean_psnr_rgb)]
        if matched:
            cells.append(f"{tally.matched - tally.off_target}/{tally.matched}")
        table.append(cells)
    return table


def render(summary: RunSummary) -> list[str]:
    """The summary as short plain-text lines: the per-curve table (codec left-aligned, numbers
    right-aligned, padded to the widest cell, never wrapped), totals, off-target rows and the
    next commands."""
    lines = []
    if summary.per_codec:
        table = codec_table(summary)
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            cells = [row[0].ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(row[1:], widths[1:])]
            lines.append("  ".join(cells).rstrip())
    where = f" to {summary.results}" if summary.results is not None else ""
    lines.append(f"wrote {summary.written} rows ({summary.failed} failed) in {summary.wall_s:.1f} s{where}")
    for off in summary.off_target:
        options = "" if off.decoder_options in ("", "{}") else f" {off.decoder_options}"
        lines.append(f"off target: {off.codec}{options} {off.image} at rate {off.rate:g}: {off.bpp:.4g} bpp "
                     f"for target {off.target_bpp:g} ({off.reason})")
    first, *rest = summary.next_commands()
    lines.append(f"next: {first}")
    lines += [f"      {command}" for command in rest]
    return lines
