"""``bench compare BASELINE CANDIDATE``: exit status 1 when a curve regressed.

The verdict is Markdown on stdout, written with plain ``sys.stdout.write`` rather than a rich
console: a console hard-wraps at its width (80 columns in CI logs), which breaks table rows.
``--markdown`` writes the same text to a file (for ``$GITHUB_STEP_SUMMARY``) and ``--json``
the machine-readable verdict (its shape is documented in docs/ci.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from bench.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.analysis.compare import GateSettings, Verdict, check_rows, compare, narrow
from bench.analysis.select import parse_where
from bench.cli.app import app
from bench.errors import AnalysisError
from bench.render.tables import to_markdown
from bench.store import read_rows


@app.command("compare")
def compare_command(
    baseline: Path = typer.Argument(..., help="baseline results folder or parquet file"),
    candidate: Path = typer.Argument(..., help="candidate results folder or parquet file"),
    max_bd_rate: float = typer.Option(0.5, "--max-bd-rate", help="fail above this BD-rate (%) vs the baseline"),
    max_psnr_drop: float = typer.Option(0.05, "--max-psnr-drop", help="fail when a mean PSNR point drops more (dB)"),
    exact: bool = typer.Option(True, "--exact/--no-exact", help="same codec version must give identical output"),
    gate: str = typer.Option("point", "--gate", help="point: the BD-rate exceeds --max-bd-rate; interval: its whole "
                             "95 % bootstrap interval over images lies above it"),
    resamples: int = typer.Option(DEFAULT_RESAMPLES, "--resamples", help="bootstrap resamples (interval gate)"),
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="bootstrap seed (interval gate)"),
    dataset: list[str] = typer.Option([], "--dataset", help="compare only this dataset (repeatable)"),
    codec: list[str] = typer.Option([], "--codec", help="compare only this codec label (repeatable)"),
    where: list[str] = typer.Option([], "--where", help="only rows whose column, decoder option or parameter KEY "
                                    "has VALUE, as KEY=VALUE (repeatable)"),
    json_path: Optional[Path] = typer.Option(None, "--json", help="also write the verdict as JSON (docs/ci.md)"),
    markdown_path: Optional[Path] = typer.Option(None, "--markdown", help="also write the Markdown to this file"),
) -> None:
    """Match rows by dataset, codec, decoder options, rate and image; report deltas; fail on regressions."""
    settings = GateSettings(max_bd_rate, max_psnr_drop, exact, gate, resamples, seed)
    base_rows, cand_rows = read_rows(baseline), read_rows(candidate)
    check_rows(base_rows, baseline, require_rows=True)  # named by path here; compare() checks again by role
    check_rows(cand_rows, candidate)
    try:
        base, cand = narrow(base_rows, cand_rows, dataset, codec, parse_where(where))
    except AnalysisError as exc:  # name the stores: "the store" alone is ambiguous with two of them
        raise AnalysisError(f"{baseline} and {candidate}: {exc}") from exc
    verdict = compare(base, cand, settings)
    text = verdict_markdown(verdict)
    sys.stdout.write(text)
    sys.stdout.flush()
    if markdown_path is not None:
        _write(markdown_path, text)
    if json_path is not None:
        _write(json_path, json.dumps(verdict.to_dict(), indent=2, allow_nan=False) + "\n")
    if not verdict.passed:
        raise typer.Exit(1)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def gate_sentence(settings: GateSettings) -> str:
    """What a pass means under these settings, in one line."""
    limit = f"{settings.max_bd_rate:+g} %"
    if settings.gate == "interval":
        bd = (f"a curve fails on BD-rate only when the {DEFAULT_LEVEL * 100:g} % bootstrap interval over images "
              f"({settings.resamples} resamples, seed {settings.seed}) lies entirely above {limit}")
    else:
        bd = f"a curve fails when the BD-rate of its mean curve vs the baseline exceeds {limit}"
    exact = "; same codec version must give identical output" if settings.exact else ""
    return f"Gate: **{settings.gate}**: {bd}; a mean PSNR point may drop at most {settings.max_psnr_drop:g} dB{exact}."


def bd_frame(verdict: Verdict) -> pd.DataFrame:
    """One row per compared curve: BD-rate (and its interval under the interval gate) and the result."""
    rows = []
    for curve in verdict.curves:
        row = {"dataset": curve.dataset, "codec": curve.label, "images": curve.images,
               "BD-rate %": "–" if curve.bd_rate is None else f"{curve.bd_rate:+.3f}"}
        if verdict.settings.gate == "interval":
            interval = curve.interval
            row[f"{DEFAULT_LEVEL * 100:g} % interval %"] = "–" if interval is None else f"[{interval.low:+.3f}, {interval.high:+.3f}]"
        row["result"] = "pass" if curve.passed else "FAIL"
        rows.append(row)
    return pd.DataFrame(rows)


def verdict_markdown(verdict: Verdict) -> str:
    """The whole verdict as Markdown: headline, gate, BD table, points, failures and notes."""
    failures = verdict.failures
    headline = "no regression" if verdict.passed else f"{len(failures)} regression{'s' if len(failures) > 1 else ''}"
    parts = [f"### bench compare: {headline}\n", gate_sentence(verdict.settings) + "\n"]
    if verdict.curves:
        parts.append(to_markdown(bd_frame(verdict), "BD-rate of each curve, candidate vs baseline (PSNR RGB)"))
    if not verdict.points.empty:
        points = verdict.points.assign(rate=[f"{rate:g}" for rate in verdict.points["rate"]])
        parts.append(to_markdown(points, "mean per rate point, candidate vs baseline", digits=4))
    if failures:
        parts.append("\n".join(f"- FAIL {failure}" for failure in failures) + "\n")
    if verdict.notes:
        parts.append("\n".join(f"- note: {note}" for note in verdict.notes) + "\n")
    return "\n".join(parts)
