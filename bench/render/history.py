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

from bench.analysis.history import TIMINGS, Ordered, curve_names
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
    """One line of a graph: a name for the tooltip, one value per position of the graph (NaN
    where the commit has none), an opacity."""

    name: str
    values: np.ndarray
    opacity: float = 1.0


@dataclass(frozen=True)
class Commits:
    """Each commit position's hash and subject, and the first lines of its tooltips (escaped
    once here: a long history has a thousand per graph)."""

    sha: Sequence[str]
    subject: Sequence[str]
    tooltip: Sequence[str]


def _fmt(value: float) -> str:
    return "–" if not math.isfinite(value) else f"{value:.4g}"


def _ticks(low: float, high: float) -> list[float]:
    """About four round values between ``low`` and ``high``."""
    raw = (high - low) / 4
    step = 10 ** math.floor(math.log10(raw))
    step *= next(m for m in (1, 2, 2.5, 5, 10) if m * step >= raw)
    return [t for t in np.arange(math.ceil(low / step) * step, high + step / 2, step) if low <= t <= high]


def _range(lines: list[Line]) -> tuple[float, float]:
    values = np.concatenate([line.values for line in lines])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    pad = (high - low) * 0.08 or max(abs(high) * 0.05, 0.5)
    return low - pad, high + pad


def graph(title: str, positions: np.ndarray, lines: list[Line], colour: str, commits: Commits, steps: pd.DataFrame) -> str:
    """One SVG graph over every commit position, its lines' values at ``positions``; ``steps`` (rows of the steps table) are marked
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
    xs = [f"{x(p):.1f}" for p in positions]
    for line in lines:
        finite = np.isfinite(line.values)
        ys = [f"{y(v):.1f}" if ok else "" for v, ok in zip(line.values, finite)]
        breaks = [0, *(np.flatnonzero(np.diff(finite.astype(int)) != 0) + 1), len(finite)]
        for start, stop in zip(breaks, breaks[1:]):
            if finite[start]:
                points = " ".join(f"{xs[i]},{ys[i]}" for i in range(start, stop))
                out.append(f"<polyline points='{points}' fill='none' stroke='{colour}' stroke-width='1.5' "
                           f"stroke-opacity='{line.opacity:.2f}' marker-start='url(#{marker})' marker-mid='url(#{marker})' "
                           f"marker-end='url(#{marker})'/>")
    half = plot_w / max(count - 1, 1) / 2
    names = [html.escape(line.name) for line in lines]
    texts = [[_fmt(v) for v in line.values] for line in lines]
    for i, position in enumerate(positions):
        values = "&#10;".join(f"{name}: {text[i]}" for name, text in zip(names, texts))
        out.append(f"<rect class='commit' x='{x(position) - half:.1f}' y='{TOP}' width='{2 * half:.1f}' height='{plot_h}' "
                   f"fill='transparent'><title>{commits.tooltip[position]}&#10;{values}</title></rect>")
    out.append("</svg>")
    return "".join(out)


def _graphs(curve: pd.DataFrame, colour: str, commits: Commits, steps: pd.DataFrame) -> list[str]:
    """The graphs of one curve (its series by commit position): BD-rate and BD-quality per
    metric, each metric and bpp at each rate, and the timings."""
    positions = curve.index.to_numpy()
    column = {name: curve[name].to_numpy(dtype=float) for name in curve.columns}
    metrics = [name.split(":", 1)[1] for name in column if name.startswith("bd_rate:")]
    out = []
    for metric in metrics:
        for kind, title in (("bd_rate", f"BD-rate vs first commit, {display_name(metric)} [%]"),
                            ("bd_quality", f"BD-{axis_label(metric)} vs first commit")):
            marked = steps[steps["metric"] == f"{kind}_{metric}"]
            out.append(graph(title, positions, [Line(kind.replace("_", "-"), column[f"{kind}:{metric}"])], colour, commits,
                             marked))
    for name in ["bpp", *metrics]:
        at = sorted((n for n in column if n.startswith(f"{name}@")), key=lambda n: float(n.split("@")[1]))
        lines = [Line(f"rate {n.split('@')[1]}", column[n], 0.35 + 0.65 * i / max(len(at) - 1, 1)) for i, n in enumerate(at)]
        title = "bpp at each rate" if name == "bpp" else f"{axis_label(name)} at each rate"
        out.append(graph(title, positions, lines, colour, commits, steps.iloc[0:0]))
    timing_lines = [Line(t, column[t], 1.0 if t == "encode_s" else 0.5) for t in TIMINGS]
    out.append(graph("encode (dark), decode (light) [s per image]", positions, timing_lines, colour, commits,
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


def render_history(ordered: Ordered, derived: dict[tuple[str, ...], pd.DataFrame], steps: pd.DataFrame, colours: dict[str, str],
                   source: str) -> str:
    """The dashboard page; ``source`` says which repository and branch ordered the commits."""
    records = ordered.records
    firsts = records.drop_duplicates("position").sort_values("position")
    commits = Commits(list(firsts["commit"]), list(firsts["subject"]),
                      [f"{sha[:10]}{'' if known else ' (not in git history)'} {html.escape(subject)}&#10;"
                       f"{date.strftime('%Y-%m-%d %H:%M UTC')}" for sha, subject, date, known in
                       zip(firsts["commit"], firsts["subject"], firsts["commit_date"], firsts["in_git"])])
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
        for (machine, _, codec, options), curve in ((k, v) for k, v in derived.items() if k[1] == dataset):
            label = names[(codec, options)]
            marked = steps[(steps["dataset"] == dataset) & (steps["curve"] == label) & (steps["machine"] == machine)]
            body.append(f"<h3>{html.escape(label)} <small>on {html.escape(machine)}</small></h3><div class='graphs'>"
                        + "".join(_graphs(curve, colours[codec], commits, marked)) + "</div>")
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'><title>bench history</title>"
            f"<style>{STYLE}</style></head><body>{''.join(body)}</body></html>")
