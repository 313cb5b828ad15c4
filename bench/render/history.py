"""The history dashboard: one self-contained HTML page, a section per dataset, a graph per curve
and series, and the detected steps listed at the top and marked on their graphs.

Graphs are inline SVG written here rather than matplotlib images: a thousand commits stay sharp
at any zoom, and every commit is a column whose tooltip (an SVG ``<title>``) gives its hash,
subject, date and values, which an image cannot. A codec has the colour of its RD figures
(:func:`bench.render.style.codec_colours`); the rate points of one curve share it, lighter for
lower rates.
"""

from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from bench.analysis.history import SERIES, TIMINGS, Ordered, curve_names
from bench.render.names import safe_name
from bench.render.style import axis_label, display_name

STYLE = """
body{font-family:system-ui,sans-serif;max-width:1240px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin:1.4em 0 .3em}
table{border-collapse:collapse;margin:.5em 0 1.2em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}
th{background:#f4f4f4}td.num{text-align:right}.worse{color:#b00020;font-weight:600}.better{color:#1b7f3b;font-weight:600}
.graphs{display:flex;flex-wrap:wrap;gap:8px}svg.graph{background:#fff;border:1px solid #e4e4e4}
.note{font-size:13px;color:#555;max-width:60em}code{font-size:12px}
"""
WIDTH, HEIGHT = 400, 210
LEFT, RIGHT, TOP, BOTTOM = 58, 12, 26, 34
WORSE, BETTER = "#b00020", "#1b7f3b"
_ids = itertools.count()


@dataclass(frozen=True)
class Line:
    """One line of a graph: a name for the tooltip, values by commit position, an opacity."""

    name: str
    values: pd.Series
    opacity: float = 1.0


@dataclass(frozen=True)
class Commits:
    """What a tooltip says about each commit position."""

    sha: Sequence[str]
    subject: Sequence[str]
    date: Sequence[str]
    in_git: Sequence[bool]


def _fmt(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.4g}"


def _ticks(low: float, high: float) -> list[float]:
    """About four round values between ``low`` and ``high``."""
    raw = (high - low) / 4
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    return [t for t in np.arange(math.ceil(low / step) * step, high + step / 2, step) if low <= t <= high]


def _range(lines: list[Line]) -> tuple[float, float]:
    values = np.concatenate([line.values.to_numpy(dtype=float) for line in lines])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.5)
    return low - pad, high + pad


def graph(title: str, lines: list[Line], colour: str, commits: Commits, steps: pd.DataFrame) -> str:
    """One SVG graph over every commit position; ``steps`` (rows of the steps table) are marked
    as vertical lines between the commits where they happened, red when worse, green when better."""
    count = len(commits.sha)
    low, high = _range(lines)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(position: float) -> float:
        return LEFT + (plot_w * position / (count - 1) if count > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (high - value) / (high - low)

    marker = f"m{next(_ids)}"
    out = [f"<svg class='graph' width='{WIDTH}' height='{HEIGHT}' viewBox='0 0 {WIDTH} {HEIGHT}' role='img'>",
           f"<defs><marker id='{marker}' viewBox='0 0 4 4' refX='2' refY='2' markerWidth='4' markerHeight='4'>"
           f"<circle cx='2' cy='2' r='2' fill='{colour}'/></marker></defs>",
           f"<text x='{LEFT}' y='16' font-size='13' font-weight='600'>{html.escape(title)}</text>"]
    for tick in _ticks(low, high):
        out.append(f"<line x1='{LEFT}' x2='{WIDTH - RIGHT}' y1='{y(tick):.1f}' y2='{y(tick):.1f}' stroke='#eee'/>"
                   f"<text x='{LEFT - 4}' y='{y(tick) + 4:.1f}' font-size='10' text-anchor='end'>{tick:.4g}</text>")
    out.append(f"<rect x='{LEFT}' y='{TOP}' width='{plot_w}' height='{plot_h}' fill='none' stroke='#bbb'/>")
    for label, position in ((commits.sha[0][:8], 0), (commits.sha[-1][:8], count - 1)):
        anchor = "start" if position == 0 else "end"
        out.append(f"<text x='{x(position):.1f}' y='{HEIGHT - 18}' font-size='10' text-anchor='{anchor}'>{label}</text>")
    out.append(f"<text x='{LEFT + plot_w / 2}' y='{HEIGHT - 5}' font-size='10' text-anchor='middle' fill='#555'>"
               f"{count} commit{'s' if count != 1 else ''}, oldest left (git order)</text>")
    for step in steps.itertuples():
        edge = x(step.position_after - 0.5)
        colour_step = WORSE if step.worse else BETTER
        out.append(f"<line class='step' x1='{edge:.1f}' x2='{edge:.1f}' y1='{TOP}' y2='{TOP + plot_h}' stroke='{colour_step}' "
                   f"stroke-width='2' stroke-dasharray='4 3'><title>{'worse' if step.worse else 'better'}: "
                   f"{_fmt(step.before)} → {_fmt(step.after)} between {step.commit_before[:10]} and "
                   f"{step.commit_after[:10]}</title></line>")
    for line in lines:
        values = line.values.dropna()
        breaks = [0, *(np.flatnonzero(np.diff(values.index.to_numpy()) != 1) + 1), len(values)]
        for start, stop in zip(breaks, breaks[1:]):
            points = " ".join(f"{x(p):.1f},{y(v):.1f}" for p, v in values.iloc[start:stop].items())
            out.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.5' "
                       f"stroke-opacity='{line.opacity:.2f}' marker-start='url(#{marker})' marker-mid='url(#{marker})' "
                       f"marker-end='url(#{marker})'/>")
    half = plot_w / max(count - 1, 1) / 2
    for position in sorted(set().union(*(line.values.dropna().index for line in lines))):
        values = "&#10;".join(f"{html.escape(line.name)}: {_fmt(line.values.get(position, math.nan))}" for line in lines)
        unknown = "" if commits.in_git[position] else " (not in git history)"
        out.append(f"<rect class='commit' x='{x(position) - half:.1f}' y='{TOP}' width='{2 * half:.1f}' height='{plot_h}' "
                   f"fill='transparent'><title>{commits.sha[position][:10]}{unknown} {html.escape(commits.subject[position])}"
                   f"&#10;{commits.date[position]}&#10;{values}</title></rect>")
    out.append("</svg>")
    return "".join(out)


def _graphs(curve: pd.DataFrame, colour: str, commits: Commits, steps: pd.DataFrame) -> list[str]:
    """The graphs of one curve: BD-rate and BD-quality per metric, each metric and bpp at each
    rate, and the timings."""
    by_series = {name: group.set_index("position")["value"].astype(float) for name, group in curve.groupby("series")}
    metrics = [name.split(":", 1)[1] for name in by_series if name.startswith("bd_rate:")]
    out = []
    for metric in metrics:
        for kind, title in (("bd_rate", f"BD-rate vs first commit, {display_name(metric)} [%]"),
                            ("bd_quality", f"BD-{axis_label(metric)} vs first commit")):
            marked = steps[steps["metric"] == f"{kind}_{metric}"]
            out.append(graph(title, [Line(kind.replace("_", "-"), by_series[f"{kind}:{metric}"])], colour, commits, marked))
    for column in ["bpp", *metrics]:
        names = sorted((n for n in by_series if n.startswith(f"{column}@")), key=lambda n: float(n.split("@")[1]))
        if names:
            lines = [Line(f"rate {n.split('@')[1]}", by_series[n], 0.35 + 0.65 * i / max(len(names) - 1, 1))
                     for i, n in enumerate(names)]
            title = "bpp at each rate" if column == "bpp" else f"{axis_label(column)} at each rate"
            out.append(graph(title, lines, colour, commits, steps.iloc[0:0]))
    timing_lines = [Line(t, by_series[t], 1.0 if t == "encode_s" else 0.5) for t in TIMINGS if t in by_series]
    out.append(graph("encode (dark), decode (light) [s per image]", timing_lines, colour, commits,
                     steps[steps["metric"].isin(TIMINGS)]))
    return out


def _steps_table(steps: pd.DataFrame, commits: Commits, position: dict[str, int]) -> str:
    if steps.empty:
        return "<p>No step detected.</p>"
    rows = ["<table><tr><th>dataset</th><th>curve</th><th>machine</th><th>metric</th><th>between</th><th>before</th>"
            "<th>after</th><th>change</th><th></th></tr>"]
    for step in steps.itertuples():
        between = " → ".join(f"<code title='{html.escape(commits.subject[position[sha]])}'>{sha[:10]}</code>"
                             for sha in (step.commit_before, step.commit_after))
        verdict = "<span class='worse'>worse</span>" if step.worse else "<span class='better'>better</span>"
        rows.append(f"<tr><td><a href='#{safe_name(step.dataset)}'>{html.escape(step.dataset)}</a></td>"
                    f"<td>{html.escape(step.curve)}</td><td>{html.escape(step.machine)}</td><td>{step.metric}</td>"
                    f"<td>{between}</td><td class='num'>{_fmt(step.before)}</td><td class='num'>{_fmt(step.after)}</td>"
                    f"<td class='num'>{step.change:+.4g}</td><td>{verdict}</td></tr>")
    return "".join(rows) + "</table>"


def render_history(ordered: Ordered, derived: pd.DataFrame, steps: pd.DataFrame, colours: dict[str, str],
                   source: str) -> str:
    """The dashboard page; ``source`` says which repository and branch ordered the commits."""
    records = ordered.records
    firsts = records.drop_duplicates("position").sort_values("position")
    commits = Commits(list(firsts["commit"]), list(firsts["subject"]),
                      [d.strftime("%Y-%m-%d %H:%M UTC") for d in firsts["commit_date"]], list(firsts["in_git"]))
    position = dict(zip(firsts["commit"], firsts["position"]))
    names = curve_names(records)
    datasets = sorted(records["dataset"].unique())
    worse = int(steps["worse"].sum())
    body = [f"<h1>bench history</h1><p>{len(commits.sha)} commits ordered by {html.escape(source)}, "
            f"{records['machine'].nunique()} machine(s); {len(steps)} step(s) detected, "
            f"<span class='{'worse' if worse else 'better'}'>{worse} worse</span>.</p>",
            "<p>" + " · ".join(f"<a href='#{safe_name(d)}'>{html.escape(d)}</a>" for d in datasets) + "</p>"]
    if ordered.unknown:
        body.append(f"<p class='note'>{len(ordered.unknown)} recorded commit(s) are not in that git history "
                    "(rebased away or on another branch): drawn last, by commit date, and not searched for steps: "
                    + ", ".join(f"<code>{sha[:10]}</code>" for sha in ordered.unknown) + ".</p>")
    body += ["<h2 id='steps'>Steps</h2>",
             "<p class='note'>A step is a persistent change of a curve's BD-rate against its own first recorded "
             "commit, or of its encode or decode time, beyond the series' noise (timings also by at least 10 %); "
             "a deterministic series' exact change is a step at that commit. Worse = more bits at equal quality, "
             "or slower.</p>", _steps_table(steps, commits, position)]
    for dataset in datasets:
        body.append(f"<h2 id='{safe_name(dataset)}'>{html.escape(dataset)}</h2>")
        for (machine, _, codec, options), curve in derived[derived["dataset"] == dataset].groupby(SERIES):
            label = names[(codec, options)]
            marked = steps[(steps["dataset"] == dataset) & (steps["curve"] == label) & (steps["machine"] == machine)]
            body.append(f"<h3>{html.escape(label)} <small>on {html.escape(machine)}</small></h3><div class='graphs'>"
                        + "".join(_graphs(curve, colours[codec], commits, marked)) + "</div>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>bench history</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
