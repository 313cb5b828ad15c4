"""``bench compare``'s verdict as Markdown: headline, gate, BD table, points, failures,
improvements, notes."""

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
    exact = ("; same codec version and parameters must give identical bytes and PSNR within the codec's decode "
             "tolerance" if settings.exact else "")
    return (f"Gate: **{settings.gate}**: {bd}; at every rate point the mean bpp may rise at most "
            f"{settings.max_bpp_rise:g} % and the mean PSNR drop at most {settings.max_psnr_drop:g} dB{exact}.")


def result(passed: bool, improved: bool) -> str:
    """A curve's result word: FAIL, improved, or pass."""
    if not passed:
        return "FAIL, improved" if improved else "FAIL"
    return "improved" if improved else "pass"


def bd_frame(verdict: Verdict) -> pd.DataFrame:
    """One row per compared curve: BD-rate (and its interval under the interval gate) and the result."""
    rows = []
    for curve in verdict.curves:
        row = {"dataset": curve.dataset, "codec": curve.label, "images": curve.images,
               "BD-rate %": "–" if curve.bd_rate is None else f"{curve.bd_rate:+.3f}"}
        if verdict.settings.gate == "interval":
            interval = curve.interval
            row[f"{DEFAULT_LEVEL * 100:g} % interval %"] = "–" if interval is None else f"[{interval.low:+.3f}, {interval.high:+.3f}]"
        row["result"] = result(curve.passed, curve.improved)
        rows.append(row)
    return pd.DataFrame(rows)


def headline(verdict: Verdict) -> str:
    """"no regression", "2 regressions", with ", 1 improvement" when a curve improved."""
    failures, improved = len(verdict.failures), len(verdict.improvements)
    text = "no regression" if verdict.passed else f"{failures} regression{'s' if failures > 1 else ''}"
    return text + (f", {improved} improvement{'s' if improved > 1 else ''}" if improved else "")


def verdict_markdown(verdict: Verdict) -> str:
    """The whole verdict as Markdown: headline, gate, BD table, points, failures, improvements and notes."""
    parts = [f"### bench compare: {headline(verdict)}\n", gate_sentence(verdict.settings) + "\n"]
    if verdict.curves:
        parts.append(to_markdown(bd_frame(verdict), "BD-rate of each curve, candidate vs baseline (PSNR RGB)"))
    if not verdict.points.empty:
        points = verdict.points.assign(rate=[f"{rate:g}" for rate in verdict.points["rate"]])
        parts.append(to_markdown(points, "mean per rate point, candidate vs baseline", digits=4))
    for prefix, lines in (("FAIL ", verdict.failures), ("improvement: ", verdict.improvements),
                          ("note: ", verdict.notes)):
        if lines:
            parts.append("\n".join(f"- {prefix}{line}" for line in lines) + "\n")
    return "\n".join(parts)
