"""Regression tracking over commits, as airspeed velocity does for timings: the records of one
commit, the order of commits, and the series drawn and searched for steps.

A record is one rate point of one curve (dataset, codec label, decoder options) of one commit on
one machine: the means over its images of bpp, every metric and the encode and decode seconds,
with the codec version, parameters and device that produced them. Series compare a curve with
itself: BD-rate and BD-quality against the curve's own first recorded commit, over the rate points
both commits have, so a change of another codec (an anchor) or of the rate grid does not move them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench.analysis.bd import bd_many
from bench.analysis.curves import CURVE, curve_labels, image_rows
from bench.analysis.steps import find_steps
from bench.config.commits import Commit
from bench.errors import AnalysisError
from bench.schema import METRIC_COLUMNS

#: The metrics a history tracks by BD (MS-SSIM's linear value is left to its dB form).
BD_METRICS = ("psnr_rgb", "psnr_y", "psnr_rgb_float", "ms_ssim_db", "lpips")
LOWER_IS_BETTER = frozenset({"lpips"})
TIMINGS = ("encode_s", "decode_s")
#: One history line: a curve of a dataset measured on a machine.
SERIES = ["machine", *CURVE]
_FIRST = {"device", "codec_impl", "codec_version", "params"}


def records(rows: pd.DataFrame, commit: Commit, machine: str | None, recorded_utc: pd.Timestamp) -> pd.DataFrame:
    """The history records of one results store measured at ``commit``: one per dataset, curve
    and rate point, means over the images each curve has at all its rate points. ``machine``
    defaults to the rows' host."""
    per_image = image_rows(rows)
    if per_image.empty:
        raise AnalysisError("the store holds no successful single-pass rows; nothing to record")
    if machine is None:
        machine = "+".join(sorted(per_image["host"].dropna().unique())) or "unknown"
    values = ["bpp", *METRIC_COLUMNS, *TIMINGS]
    grouped = per_image.groupby([*CURVE, "rate"], dropna=False)
    frame = grouped[values].mean()
    frame["images"] = grouped["image"].nunique().astype("int32")
    for column in _FIRST:
        frame[column] = grouped[column].agg(lambda s: "+".join(sorted(s.dropna().astype(str).unique())))
    frame = frame.reset_index()
    frame = frame.assign(commit=commit.sha, commit_date=pd.Timestamp(commit.date).tz_convert("UTC"), subject=commit.subject,
                         machine=machine, harness_version=str(rows["harness_version"].iloc[0]), recorded_utc=recorded_utc)
    return frame


@dataclass(frozen=True)
class Ordered:
    """Records with each commit's place in history (``position``, 0 = oldest) and whether git
    knows it (``in_git``); commits git does not know come last, by commit date."""

    records: pd.DataFrame
    unknown: list[str]


def order(history: pd.DataFrame, ancestry: list[str]) -> Ordered:
    """Place each recorded commit by ``ancestry`` (oldest first); a commit not in it (rebased
    away, or of another branch) is kept after the known ones, by its commit date, and listed."""
    index = {sha: i for i, sha in enumerate(ancestry)}
    commits = history.drop_duplicates("commit")[["commit", "commit_date"]]
    known = commits[commits["commit"].isin(index)].assign(key=lambda f: f["commit"].map(index)).sort_values("key")
    unknown = commits[~commits["commit"].isin(index)].sort_values(["commit_date", "commit"])
    place = {sha: i for i, sha in enumerate([*known["commit"], *unknown["commit"]])}
    placed = history.assign(position=history["commit"].map(place), in_git=history["commit"].isin(index))
    return Ordered(placed.sort_values(["position", *SERIES, "rate"]).reset_index(drop=True), list(unknown["commit"]))


def curve_names(history: pd.DataFrame) -> dict[tuple[str, str], str]:
    """(codec, decoder options) → the label tables use (``ilc (z=mode)``)."""
    return curve_labels(list(dict.fromkeys(zip(history["codec"], history["decoder_options"]))))


def bd_series(curve: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per commit of one curve (records ordered by position): BD-rate (%) and BD-quality of the
    curve against its own first commit with a value of ``metric``, over the rate points both have."""
    rates = curve.pivot_table(index="position", columns="rate", values="bpp", aggfunc="first")
    quality = curve.pivot_table(index="position", columns="rate", values=metric, aggfunc="first").reindex_like(rates)
    valid = rates.notna().to_numpy() & quality.notna().to_numpy()
    out = pd.DataFrame({"position": rates.index, "bd_rate": np.nan, "bd_quality": np.nan})
    rows = np.flatnonzero(valid.any(axis=1))
    if rows.size == 0:
        return out
    first = rows[0]
    r, q = rates.to_numpy(), quality.to_numpy()
    masks = valid & valid[first]
    for mask in np.unique(masks[rows], axis=0):
        same = rows[(masks[rows] == mask).all(axis=1)]
        columns = np.flatnonzero(mask)
        count = len(same)
        bd_rate, bd_quality, _ = bd_many(np.repeat(r[first, columns][None], count, 0), np.repeat(q[first, columns][None], count, 0),
                                         r[np.ix_(same, columns)], q[np.ix_(same, columns)],
                                         higher_is_better=metric not in LOWER_IS_BETTER)
        out.loc[same, "bd_rate"], out.loc[same, "bd_quality"] = bd_rate, bd_quality
    return out


def series(ordered: pd.DataFrame) -> pd.DataFrame:
    """Every derived series in long form: one row per (machine, dataset, codec, decoder options,
    series, position) with ``value``. Series: ``bd_rate:<metric>`` (%), ``bd_quality:<metric>``,
    ``<metric>@<rate>`` and ``bpp@<rate>`` (means at each rate), ``encode_s`` and ``decode_s``
    (mean seconds per image over the rate points)."""
    parts = []
    for key, curve in ordered.groupby(SERIES, sort=False):
        ids = dict(zip(SERIES, key))
        metrics = [m for m in BD_METRICS if curve[m].notna().any()]
        for metric in metrics:
            bd = bd_series(curve, metric)
            parts += [bd.assign(series=f"{kind}:{metric}", value=bd[kind], **ids)[["position", "series", "value", *SERIES]]
                      for kind in ("bd_rate", "bd_quality")]
        for column in ["bpp", *metrics]:
            at = curve[["position", "rate", column]].rename(columns={column: "value"})
            parts.append(at.assign(series=[f"{column}@{rate:g}" for rate in at["rate"]], **ids).drop(columns="rate"))
        timings = curve.groupby("position")[list(TIMINGS)].mean().reset_index()
        parts += [timings.rename(columns={t: "value"})[["position", "value"]].assign(series=t, **ids) for t in TIMINGS]
    if not parts:
        return pd.DataFrame(columns=["position", "series", "value", *SERIES])
    return pd.concat(parts, ignore_index=True)


#: The series searched for steps: higher is worse for each (more bits at equal quality, slower).
def tracked(name: str) -> bool:
    return name.startswith("bd_rate:") or name in TIMINGS


def regressions(derived: pd.DataFrame, ordered: Ordered) -> pd.DataFrame:
    """Every step of a tracked series, with the commits it happened between: ``dataset``,
    ``curve``, ``machine``, ``metric``, ``commit_before``, ``commit_after``, ``before``, ``after``,
    ``change`` (after − before, in the series' unit) and ``worse``. Commits git does not know
    are not searched: their place in history is a guess."""
    commits = ordered.records.drop_duplicates("position").set_index("position")["commit"]
    known = set(ordered.records.loc[ordered.records["in_git"], "position"])
    names = curve_names(ordered.records) if not ordered.records.empty else {}
    found = []
    for (series_name, *key), group in derived[derived["series"].map(tracked)].groupby(["series", *SERIES], sort=False):
        ids = dict(zip(SERIES, key))
        group = group[group["position"].isin(known) & np.isfinite(group["value"].astype(float))].sort_values("position")
        positions, values = group["position"].to_numpy(), group["value"].to_numpy(dtype=float)
        for step in find_steps(values, timing=series_name in TIMINGS):
            found.append({"dataset": ids["dataset"], "curve": names[(ids["codec"], ids["decoder_options"])],
                          "machine": ids["machine"], "metric": series_name.replace(":", "_"),
                          "commit_before": commits[positions[step.before]], "commit_after": commits[positions[step.after]],
                          "position_after": int(positions[step.after]), "before": step.level_before,
                          "after": step.level_after, "change": step.change, "worse": step.change > 0})
    columns = ["dataset", "curve", "machine", "metric", "commit_before", "commit_after", "position_after", "before",
               "after", "change", "worse"]
    return pd.DataFrame(found, columns=columns)
