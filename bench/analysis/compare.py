"""Baseline vs candidate: the regression verdict CI acts on.

Rows are matched on (dataset, codec, decoder options, rate, image), and every curve — one
(dataset, codec, decoder options) — is judged on its own: averaging ILC's mode decoder with its
sampling decoders would hide a regression of one behind the others. A curve fails when rows
disappeared, its rate grid changed, a decode became non-deterministic, a mean bpp point rose by
more than ``max_bpp_rise`` percent, a mean PSNR point dropped by more than ``max_psnr_drop`` dB
(image by image where a point is lossless: ``gate_points``), an image lossless in the baseline
is not any more, — with ``exact`` — its parameters changed or its output changed at the same
codec version (bytes exactly, PSNR within the codec's decode tolerance: ``gate_output``), or
its BD-rate against the baseline regressed beyond ``max_bd_rate`` percent. Every point is judged
on bpp and quality, so a curve too short for a BD (fewer than 4 rates) is still judged, and the
verdict says why it has no BD. A curve better at every point, or by BD, is called an improvement.

How the BD-rate regression is judged is the gate:

* ``point``: the BD-rate of the mean curves exceeds ``max_bd_rate``;
* ``interval``: the whole 95 % bootstrap interval over images (paired draws of the images both
  stores share) lies above ``max_bd_rate`` — a change that a different sample of photos could
  undo does not fail the build.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd

from bench.analysis.bd import BDError, bd_rate
from bench.analysis.bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, ImageMatrix, Interval, bd_intervals
from bench.analysis.curves import CURVE, curve_labels, successful_single_pass
from bench.analysis.gate_output import configuration_change, output_change
from bench.analysis.gate_points import POINT_COLUMNS, finite_points, improved_at_every_point, rate_points
from bench.analysis.select import select_rows
from bench.config import options
from bench.config.defaults import MAX_RESAMPLES
from bench.errors import AnalysisError, one_line

MATCH = [*CURVE, "rate", "image", "image_sha256"]
GATES = ("point", "interval")
#: Version of the JSON verdict's shape (docs/ci.md); bumped when a key changes meaning or goes away.
#: 2: ``d_psnr_db`` is the mean per-image change over finite PSNRs, BD lines are either a failure
#: or a note (never both), and every curve is judged on bpp per point.
JSON_SCHEMA = 2
#: Fewest rate points a BD-rate is fitted on.
BD_MIN_POINTS = 4


@dataclass(frozen=True)
class GateSettings:
    """Thresholds and gate of one comparison; they travel with the verdict so a CI log or JSON
    file says what a pass meant. Thresholds are checked here, once, for every caller: a NaN
    limit compares false with everything and would switch its check off."""

    max_bd_rate: float = 0.5
    max_psnr_drop: float = 0.05
    exact: bool = True
    gate: str = "point"
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    max_bpp_rise: float = 0.5

    def __post_init__(self) -> None:
        for option, value in (("--max-bd-rate", self.max_bd_rate), ("--max-psnr-drop", self.max_psnr_drop),
                              ("--max-bpp-rise", self.max_bpp_rise)):
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
                raise AnalysisError(f"{option} {value}: a limit must be a finite number ≥ 0 (a NaN or infinite "
                                    "limit would switch the check off)")
        if self.gate not in GATES:
            raise AnalysisError(f"--gate {self.gate!r}: use one of {', '.join(GATES)}")
        if self.resamples < 1:
            raise AnalysisError(f"--resamples {self.resamples}: the bootstrap needs at least 1 resample (default 1000)")
        options.count(self.resamples, "--resamples", low=1, high=MAX_RESAMPLES)
        options.seed(self.seed)


@dataclass
class CurveVerdict:
    """One (dataset, codec, decoder options) curve of the baseline and what the candidate made of it."""

    dataset: str
    codec: str
    decoder_options: str
    label: str
    #: Images the baseline and the candidate share on this curve (0 when the candidate has none).
    images: int = 0
    points: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=POINT_COLUMNS))
    bd_rate: float | None = None
    interval: Interval | None = None
    #: Why the curve has no BD judgement (too few rate points, no BD fit); None when it has one.
    bd_skipped: str | None = None
    #: PSNR (dB) two decodes of one bitstream may differ by for the candidate's implementation.
    decode_tolerance_db: float = 0.0
    #: What changed in its implementation or parameters; None when nothing did.
    configuration_change: str | None = None
    #: Why the curve counts as an improvement; None when it does not.
    improvement: str | None = None
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.label} on {self.dataset}"

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def improved(self) -> bool:
        return self.improvement is not None

    def fail(self, message: str) -> None:
        self.failures.append(f"{self.where}: {message}")

    def note(self, message: str) -> None:
        self.notes.append(f"{self.where}: {message}")


@dataclass
class Verdict:
    settings: GateSettings = field(default_factory=GateSettings)
    curves: list[CurveVerdict] = field(default_factory=list)
    #: Observations about no baseline curve (curves only the candidate has, uninstalled codecs).
    extra_notes: list[str] = field(default_factory=list)

    @property
    def failures(self) -> list[str]:
        return [message for curve in self.curves for message in curve.failures]

    @property
    def notes(self) -> list[str]:
        return [message for curve in self.curves for message in curve.notes] + self.extra_notes

    @property
    def improvements(self) -> list[str]:
        return [f"{curve.where}: {curve.improvement}" for curve in self.curves if curve.improved]

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def points(self) -> pd.DataFrame:
        """Mean per rate point of every compared curve, candidate vs baseline, labelled by curve."""
        frames = [curve.points.assign(dataset=curve.dataset, codec=curve.label) for curve in self.curves
                  if not curve.points.empty]
        if not frames:
            return pd.DataFrame(columns=["dataset", "codec", *POINT_COLUMNS])
        return pd.concat(frames, ignore_index=True)[["dataset", "codec", *POINT_COLUMNS]]

    def to_dict(self) -> dict[str, Any]:
        """The machine-readable verdict; its shape is documented in docs/ci.md (keep them in step)."""
        s = self.settings
        return {
            "schema": JSON_SCHEMA,
            "passed": self.passed,
            "gate": s.gate,
            "thresholds": {"max_bd_rate": s.max_bd_rate, "max_psnr_drop": s.max_psnr_drop,
                           "max_bpp_rise": s.max_bpp_rise, "exact": s.exact},
            "bootstrap": {"resamples": s.resamples, "seed": s.seed, "level": DEFAULT_LEVEL} if s.gate == "interval" else None,
            "failures": self.failures,
            "improvements": self.improvements,
            "notes": self.notes,
            "curves": [_curve_dict(curve) for curve in self.curves],
        }


def _finite(value: Any) -> float | None:
    """JSON has no NaN or infinity: a number that is not finite is written as null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _curve_dict(curve: CurveVerdict) -> dict[str, Any]:
    interval = curve.interval
    return {
        "dataset": curve.dataset,
        "codec": curve.codec,
        "decoder_options": json.loads(curve.decoder_options or "{}"),
        "label": curve.label,
        "images": curve.images,
        "passed": curve.passed,
        "improved": curve.improved,
        "bd_rate": _finite(curve.bd_rate),
        "bd_rate_interval": None if interval is None else {
            "low": _finite(interval.low), "high": _finite(interval.high), "level": DEFAULT_LEVEL,
            "resamples": interval.resamples, "failed": interval.failed},
        "bd_skipped": curve.bd_skipped,
        "decode_tolerance_db": curve.decode_tolerance_db,
        "configuration_change": curve.configuration_change,
        "failures": curve.failures,
        "notes": curve.notes,
        "points": [{column: _finite(value) for column, value in row.items()}
                   for row in curve.points[POINT_COLUMNS].to_dict("records")],
    }


def narrow(baseline: pd.DataFrame, candidate: pd.DataFrame, datasets: Iterable[str] | None = None,
           codecs: Iterable[str] | None = None, where: Mapping[str, str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both stores narrowed by one ``select_rows`` call over their union, so they are cut the same
    way: a codec the candidate lost is still a failure (missing rows), not an unknown name, and
    only a name neither store has is an error."""
    if not (datasets or codecs or where):
        return baseline, candidate
    both = pd.concat([baseline.assign(_store="baseline"), candidate.assign(_store="candidate")], ignore_index=True)
    kept = select_rows(both, datasets, codecs, where)
    split = [kept[kept["_store"] == store].drop(columns="_store") for store in ("baseline", "candidate")]
    return split[0], split[1]


def compare(baseline: pd.DataFrame, candidate: pd.DataFrame, settings: GateSettings | None = None,
            tolerances: Mapping[str, float] | None = None) -> Verdict:
    """Judge every baseline curve against the candidate's rows under ``settings``.

    ``tolerances`` maps a codec implementation (``codec_impl``) to its declared decode tolerance
    in dB; this layer reads rows, never codecs, so the caller looks them up (``bench.api``). An
    implementation it lacks is compared exactly (0 dB) and named in a note; None compares every
    implementation exactly without notes.
    """
    settings = settings or GateSettings()
    verdict = Verdict(settings)
    check_rows(baseline, "baseline", require_rows=True)
    check_rows(candidate, "candidate")
    base, cand = successful_single_pass(baseline), successful_single_pass(candidate)
    known = _checked_tolerances(tolerances)
    if tolerances is not None and "codec_impl" in cand.columns:
        for impl in sorted(set(cand["codec_impl"].dropna().unique()) - set(known)):
            verdict.extra_notes.append(f"codec implementation {impl!r} is not installed here: its decode tolerance "
                                       "is taken as 0 dB (PSNR compared exactly)")
    labels = curve_labels(list(dict.fromkeys(zip(pd.concat([base["codec"], cand["codec"]]),
                                                  pd.concat([base["decoder_options"], cand["decoder_options"]])))))
    merged = base.merge(cand, on=MATCH, how="left", suffixes=("_base", "_cand"), indicator=True)
    cand_curves = dict(iter(cand.groupby(CURVE)))
    for key, group in merged.groupby(CURVE):
        dataset, codec, options = key
        curve = CurveVerdict(dataset, codec, options, labels[(codec, options)])
        base_rows = base[(base.dataset == dataset) & (base.codec == codec) & (base.decoder_options == options)]
        _judge(curve, group, base_rows, cand_curves.get(key, cand.iloc[:0]), settings, known)
        verdict.curves.append(curve)
    base_keys = set(merged.groupby(CURVE).groups)
    for dataset, codec, options in sorted(set(cand.groupby(CURVE).groups) - base_keys):
        verdict.extra_notes.append(f"{labels[(codec, options)]} on {dataset}: new in the candidate (no baseline)")
    return verdict


def _checked_tolerances(tolerances: Mapping[str, float] | None) -> dict[str, float]:
    """The tolerances as a dict, each a finite number ≥ 0: a codec declaring NaN would make every
    PSNR difference "within" it and switch the exact check off."""
    checked = dict(tolerances or {})
    for impl, value in checked.items():
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value >= 0):
            raise AnalysisError(f"codec implementation {impl!r} declares decode_tolerance_db = {value!r}: it must be a "
                                "finite number ≥ 0; fix the codec class")
    return checked


def check_rows(rows: pd.DataFrame, source: object, require_rows: bool = False) -> None:
    """Refuse rows the gate cannot judge, so it fails closed: one AnalysisError naming ``source``.

    Every successful single-pass row (what the gate reads) must have its match keys, a finite
    rate, a positive finite bpp and byte count, a PSNR RGB that is a number ≥ 0 (infinity:
    lossless) and decoder options that are a JSON object. A baseline with ``bpp = 0`` would make
    every ratio infinite and the BD-rate undefined, and a baseline without rows
    (``require_rows``) would pass with "no regression"; both are refused instead. A candidate
    without rows is judged: every baseline row is missing. Column types are checked when parts
    are read.
    """
    missing = [c for c in [*MATCH, "bpp", "bytes", "psnr_rgb", "error", "generation", "chain"] if c not in rows.columns]
    if missing:
        raise AnalysisError(f"{source}: no column(s) {', '.join(missing)}; not a bench results store")
    ok = successful_single_pass(rows)
    if ok.empty and require_rows:
        raise AnalysisError(f"{source}: no successful rows to compare; run `bench run` into it first")
    numbers = {column: pd.to_numeric(ok[column], errors="coerce").astype(float) for column in ("rate", "bpp", "bytes", "psnr_rgb")}
    problems = {
        "a match key (dataset, codec, decoder options, rate, image or its SHA-256) is missing": ok[MATCH].isna().any(axis=1),
        "the rate is not a finite number": ~np.isfinite(numbers["rate"]),
        "bpp is not a positive finite number": ~(np.isfinite(numbers["bpp"]) & (numbers["bpp"] > 0)),
        "bytes is not a positive number": ~(numbers["bytes"] > 0),
        "psnr_rgb is missing or negative (the gate compares PSNR RGB: measure it with -m psnr_rgb)": ~(numbers["psnr_rgb"] >= 0),
    }
    for problem, bad in problems.items():
        if bad.any():
            first = ok.loc[bad.to_numpy()].iloc[0]
            raise AnalysisError(f"{source}: {int(bad.sum())} successful row(s) where {problem}, first {first.get('codec')!s} "
                                f"{first.get('image')!s} at rate {first.get('rate')!s}; the store was edited or damaged: "
                                "move that part out or run the rows again")
    for options in ok["decoder_options"].unique():
        try:
            valid = isinstance(json.loads(options), dict)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            raise AnalysisError(f"{source}: decoder_options {one_line(repr(options), 80)} is not a JSON object; "
                                "the store was edited or damaged: move that part out or run the rows again")


def _judge(curve: CurveVerdict, group: pd.DataFrame, base_rows: pd.DataFrame, cand_rows: pd.DataFrame,
           settings: GateSettings, tolerances: Mapping[str, float]) -> None:
    base_rates, cand_rates = set(base_rows["rate"].unique()), set(cand_rows["rate"].unique())
    # a candidate that measures more rates still has every baseline point to be judged on; only
    # rates it no longer measures leave the curve unjudged there
    if cand_rates and base_rates - cand_rates:
        curve.fail(f"rate grid changed (removed {sorted(base_rates - cand_rates)}, added {sorted(cand_rates - base_rates)})")
    elif cand_rates - base_rates:
        curve.note(f"rates added {sorted(cand_rates - base_rates)} (not in the baseline: not compared)")
    missing = group[group["_merge"] == "left_only"]
    if len(missing):
        curve.fail(f"{len(missing)} of {len(group)} baseline rows missing from the candidate (rates {sorted(set(missing['rate']))})")
    matched = group[group["_merge"] == "both"]
    if matched.empty:
        curve.bd_skipped = "no rows of the candidate match the baseline's"
        return
    curve.images = matched["image"].nunique()
    if (matched["deterministic_decode_cand"] == False).any():  # noqa: E712 - null means not checked
        curve.fail("decoding is no longer deterministic")
    curve.points = rate_points(matched)
    _judge_points(curve, settings)
    _judge_bd(curve, base_rows, cand_rows, settings)
    curve.improvement = _improvement(curve, settings)
    _judge_output(curve, matched, settings, tolerances)


def _judge_points(curve: CurveVerdict, settings: GateSettings) -> None:
    """Every rate point on bpp and on quality, whatever the number of points."""
    points = curve.points
    rose = points[points["d_bpp_pct"] > settings.max_bpp_rise]
    if len(rose):
        worst = rose.loc[rose["d_bpp_pct"].idxmax()]
        curve.fail(f"mean bpp rose by {worst['d_bpp_pct']:.3f} % at rate {worst['rate']:g} "
                   f"({len(rose)} of {len(points)} rate points above the limit {settings.max_bpp_rise:g} %)")
    dropped = points[points["d_psnr_db"] < -settings.max_psnr_drop]
    if len(dropped):
        worst = dropped.loc[dropped["d_psnr_db"].idxmin()]
        curve.fail(f"mean PSNR dropped by {-worst['d_psnr_db']:.3f} dB at rate {worst['rate']:g} "
                   f"(limit {settings.max_psnr_drop:g} dB)")
    lost = points[points["lossless_lost"] > 0]
    if len(lost):
        curve.fail(f"{int(lost['lossless_lost'].sum())} image(s) lossless in the baseline are not any more "
                   f"(rates {[float(rate) for rate in lost['rate']]})")
    infinite = points[~points.index.isin(finite_points(points).index)]
    if len(infinite):
        curve.note(f"mean PSNR infinite (lossless images) at rates {[float(rate) for rate in infinite['rate']]}: "
                   "judged image by image")


def _judge_bd(curve: CurveVerdict, base_rows: pd.DataFrame, cand_rows: pd.DataFrame, settings: GateSettings) -> None:
    """The BD-rate where the curve has enough finite points; otherwise say why it has none."""
    usable = finite_points(curve.points)
    if len(usable) < BD_MIN_POINTS:
        lossless = len(curve.points) - len(usable)
        shown = f"{len(usable)} rate point{'s' if len(usable) != 1 else ''}"
        shown += f" with a finite mean PSNR ({lossless} with lossless images)" if lossless else ""
        curve.bd_skipped = f"{shown}, BD needs {BD_MIN_POINTS}"
        curve.note(f"not BD-judged: {curve.bd_skipped}; judged per rate point only")
        return
    try:
        curve.bd_rate = bd_rate(usable["bpp_base"], usable["psnr_rgb_base"], usable["bpp_cand"], usable["psnr_rgb_cand"])
    except BDError as exc:
        curve.bd_skipped = str(exc)
        curve.note(f"not BD-judged: {exc}; judged per rate point only")
        return
    limit = settings.max_bd_rate
    if settings.gate == "point":
        shown = f"BD-rate vs baseline {curve.bd_rate:+.3f} %"
        if curve.bd_rate > limit:
            curve.fail(f"{shown} exceeds {limit:g} %")
        else:
            curve.note(shown)
        return
    images = sorted(set(base_rows["image"].unique()) & set(cand_rows["image"].unique()))
    try:
        curve.interval, _ = bd_intervals(ImageMatrix.from_rows(base_rows, "psnr_rgb", images),
                                         ImageMatrix.from_rows(cand_rows, "psnr_rgb", images),
                                         resamples=settings.resamples, seed=settings.seed)
    except BDError as exc:
        curve.note(f"BD-rate vs baseline {curve.bd_rate:+.3f} %, no interval ({exc}); not gated")
        return
    low, high = curve.interval.low, curve.interval.high
    shown = f"BD-rate vs baseline {curve.bd_rate:+.3f} %, {DEFAULT_LEVEL * 100:g} % interval [{low:+.3f}, {high:+.3f}] % over {len(images)} images"
    if curve.interval.failed:
        shown += f" ({curve.interval.failed} of {settings.resamples} resamples had no BD and were left out)"
    if low > limit:
        curve.fail(f"{shown} lies entirely above {limit:g} %")
    elif curve.bd_rate > limit:
        curve.note(f"{shown}: exceeds {limit:g} % but its interval reaches down to {low:+.3f} %: not counted by the "
                   "interval gate")
    else:
        curve.note(shown)


def _improvement(curve: CurveVerdict, settings: GateSettings) -> str | None:
    """Why the curve is better than the baseline (BD-rate below −``max_bd_rate``, or better at
    every point by more than the per-point limits somewhere), or None."""
    points = curve.points
    if curve.bd_rate is not None and curve.bd_rate < -settings.max_bd_rate:
        return f"BD-rate vs baseline {curve.bd_rate:+.3f} % (below -{settings.max_bd_rate:g} %)"
    if improved_at_every_point(points, settings.max_bpp_rise, settings.max_psnr_drop):
        d_psnr = points["d_psnr_db"].dropna()
        psnr = f", PSNR {d_psnr.min():+.3f} to {d_psnr.max():+.3f} dB" if len(d_psnr) else ""
        return (f"no rate point worse, bpp {points['d_bpp_pct'].min():+.3f} to "
                f"{points['d_bpp_pct'].max():+.3f} %{psnr} over {len(points)} rate points")
    return None


def _judge_output(curve: CurveVerdict, matched: pd.DataFrame, settings: GateSettings,
                  tolerances: Mapping[str, float]) -> None:
    """The exact check: a changed configuration is named as the cause; otherwise, at the same
    codec version, bytes must be equal and PSNR within the implementation's decode tolerance."""
    versions = matched["codec_version_base"].iloc[0], matched["codec_version_cand"].iloc[0]
    versions_equal = bool((matched["codec_version_base"] == matched["codec_version_cand"]).all())
    if not versions_equal:
        curve.note(f"codec version changed {versions[0]!r} → {versions[1]!r}")
    curve.configuration_change = configuration_change(matched)
    if curve.configuration_change:
        cause = f"parameters changed: {curve.configuration_change}"
        if settings.exact:
            curve.fail(f"{cause}; the output cannot be held to the baseline's: regenerate the baseline if intended")
        else:
            curve.note(cause)
        return
    impl = matched["codec_impl_cand"].iloc[0] if "codec_impl_cand" in matched.columns else None
    curve.decode_tolerance_db = float(tolerances.get(impl, 0.0))
    if not (settings.exact and versions_equal):
        return
    change = output_change(matched, curve.decode_tolerance_db)
    if change.changed:
        parts = [f"bytes in {change.bytes_changed}"] if change.bytes_changed else []
        if change.psnr_beyond:
            parts.append(f"PSNR beyond the decode tolerance of {curve.decode_tolerance_db:g} dB in {change.psnr_beyond}")
        accept = "; the curve improved: bump the codec version or regenerate the baseline to accept it" if curve.improved else ""
        curve.fail(f"output changed in {change.changed} rows at the same codec version ({', '.join(parts)}){accept}")
    if change.psnr_within:
        curve.note(f"decoded PSNR differs by at most {change.largest_within:.2g} dB in {change.psnr_within} rows with "
                   f"identical bytes, within the decode tolerance of {curve.decode_tolerance_db:g} dB")
