"""``bench compare``'s verdict as Markdown: headline, gate, BD table, points, failures, notes."""

from __future__ import annotations

import pandas as pd

from bench.analysis.bootstrap import DEFAULT_LEVEL
from bench.analysis.compare import GateSettings, Verdict
from bench.render.tables import to_markdown


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
