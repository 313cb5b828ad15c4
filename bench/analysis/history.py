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


def bd_series(rates: pd.DataFrame, quality: pd.DataFrame, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Per commit of one curve (rows: positions; columns: rate points): BD-rate (%) and
    BD-quality of the curve against its own first commit with a value of ``metric``, over the
    rate points both have."""
    r, q = rates.to_numpy(dtype=float), quality.to_numpy(dtype=float)
    valid = np.isfinite(r) & np.isfinite(q)
    bd_rate, bd_quality = np.full(len(r), np.nan), np.full(len(r), np.nan)
    rows = np.flatnonzero(valid.any(axis=1))
    if rows.size == 0:
        return bd_rate, bd_quality
    first = rows[0]
    masks = valid & valid[first]
    for mask in np.unique(masks[rows], axis=0):
        same = rows[(masks[rows] == mask).all(axis=1)]
        columns = np.flatnonzero(mask)
        anchor = [np.repeat(a[first, columns][None], len(same), 0) for a in (r, q)]
        bd_rate[same], bd_quality[same], _ = bd_many(*anchor, r[np.ix_(same, columns)], q[np.ix_(same, columns)],
                                                     higher_is_better=metric not in LOWER_IS_BETTER)
    return bd_rate, bd_quality


def series(ordered: pd.DataFrame) -> dict[tuple[str, ...], pd.DataFrame]:
    """Every derived series of each curve (key: machine, dataset, codec, decoder options) as a
    frame indexed by commit position, one column per series: ``bd_rate:<metric>`` (%),
    ``bd_quality:<metric>``, ``<metric>@<rate>`` and ``bpp@<rate>`` (means at each rate),
    ``encode_s`` and ``decode_s`` (mean seconds per image over the rate points)."""
    derived = {}
    for key, curve in ordered.groupby(SERIES, sort=True):
        metrics = [m for m in BD_METRICS if curve[m].notna().any()]
        wide = curve.pivot(index="position", columns="rate", values=["bpp", *metrics])
        columns = {}
        for metric in metrics:
            columns[f"bd_rate:{metric}"], columns[f"bd_quality:{metric}"] = bd_series(wide["bpp"], wide[metric], metric)
        for column in ["bpp", *metrics]:
            columns.update({f"{column}@{rate:g}": wide[(column, rate)].to_numpy() for rate in wide[column].columns})
        timings = curve.groupby("position")[list(TIMINGS)].mean().reindex(wide.index)
        columns.update({t: timings[t].to_numpy() for t in TIMINGS})
        derived[key] = pd.DataFrame(columns, index=wide.index)
    return derived


def tracked(name: str) -> bool:
    """Whether a series is searched for steps: BD-rates and timings, for each of which higher is
    worse (more bits at equal quality, slower). Means at each rate are drawn but not searched:
    the BD-rate already summarises them, once per curve."""
    return name.startswith("bd_rate:") or name in TIMINGS


def regressions(derived: dict[tuple[str, ...], pd.DataFrame], ordered: Ordered) -> pd.DataFrame:
    """Every step of a tracked series, with the commits it happened between: ``dataset``,
    ``curve``, ``machine``, ``metric``, ``commit_before``, ``commit_after``, ``position_after``,
    ``before``, ``after``, ``change`` (after − before, in the series' unit) and ``worse``.
    Commits git does not know are not searched: their place in history is a guess."""
    commits = ordered.records.drop_duplicates("position").set_index("position")["commit"]
    known = set(ordered.records.loc[ordered.records["in_git"], "position"])
    names = curve_names(ordered.records) if not ordered.records.empty else {}
    found = []
    for key, frame in derived.items():
        ids = dict(zip(SERIES, key))
        frame = frame[frame.index.isin(known)]
        for name in filter(tracked, frame.columns):
            values = frame[name].dropna()
            positions = values.index.to_numpy()
            for step in find_steps(values.to_numpy(dtype=float), timing=name in TIMINGS):
                found.append({"dataset": ids["dataset"], "curve": names[(ids["codec"], ids["decoder_options"])],
                              "machine": ids["machine"], "metric": name.replace(":", "_"),
                              "commit_before": commits[positions[step.before]], "commit_after": commits[positions[step.after]],
                              "position_after": int(positions[step.after]), "before": step.level_before,
                              "after": step.level_after, "change": step.change, "worse": step.change > 0})
    columns = ["dataset", "curve", "machine", "metric", "commit_before", "commit_after", "position_after", "before",
               "after", "change", "worse"]
    return pd.DataFrame(found, columns=columns)
