"""Visual comparison at matched rate: the same crop of one image from every codec, near one bpp.

A crop comparison is only fair when the codecs spend (nearly) the same bits on the image, so each
codec's point is either the stored single-pass row of that image nearest the wanted bpp, or a
rate searched for that image (:mod:`bench.plan.rate_search`, seeded with the stored rows). A stored
point's reconstruction comes from its kept bitstream when ``--keep-bitstreams`` kept it, else from
re-encoding the original at the row's rate; either way the bytes are checked against the row's
SHA-256 so the crop shows the point whose numbers are printed. Every decoder-option set stored for
a codec (ILC's ``z=mode`` and ``z=sample``) gets its own crop of the same bitstream.

Panels run original, anchor, classical codecs, learned codecs (as the implementation declares it,
:attr:`bench.codec.Codec.learned`), so the reader's eye goes from the reference to what beats it.
Searching rates and decoding learned codecs on a CPU takes minutes; the library stays quiet and
tells a ``progress`` callback what it is doing, codec by codec, for the CLI to print.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from bench import metrics as metric_functions
from bench.codec import Codec
from bench.plan.datasets import ImageRef, resolve
from bench.errors import AnalysisError, BenchError, ConfigError
from bench.execute.worker import cached_image, codec_for, one_line
from bench.plan.rate_search import search_rate
from bench.render.crops import Panel, crops_stem, enlargement, render_crops
from bench.render.style import curve_labels, variant_order

#: Metrics printed under a crop by default: PSNR always (measured when not stored), LPIPS when stored.
DEFAULT_METRICS = ("psnr_rgb",)
SHOWN_IF_STORED = ("lpips",)
METRIC_TEXT = {"psnr_rgb": "PSNR RGB {:.2f} dB", "psnr_y": "PSNR Y {:.2f} dB", "ms_ssim": "MS-SSIM {:.4f}",
               "ms_ssim_db": "MS-SSIM {:.2f} dB", "lpips": "LPIPS {:.3f}", "psnr_rgb_float": "PSNR (float) {:.2f} dB"}
#: The codec shown right after the original when ``anchor`` is not given and it is stored.
DEFAULT_ANCHOR = "jpeg"

#: Told what the grid is doing: ``(text, done)``. ``done=False`` starts a codec's line
#: ("crops: jpeg: searching rate for 0.75 bpp on kodim23"), ``done=True`` ends it with the outcome.
Progress = Callable[[str, bool], None]


@dataclass(frozen=True)
class Box:
    """A crop rectangle in image pixels: left, top, width, height."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Box:
        """``"300,120,128,96"`` → Box; anything else is a one-line error."""
        parts = text.split(",")
        if len(parts) != 4 or not all(re.fullmatch(r"\s*\d+\s*", p) for p in parts):
            raise ConfigError(f"--box {text!r}: write x,y,width,height in pixels, e.g. --box 300,120,128,96")
        x, y, width, height = (int(p) for p in parts)
        if width == 0 or height == 0:
            raise ConfigError(f"--box {text!r}: width and height must be positive")
        return cls(x, y, width, height)

    def check(self, image: np.ndarray, name: str) -> None:
        """Raise when the box does not lie inside ``image``, saying the image's size."""
        height, width = image.shape[:2]
        if self.x + self.width > width or self.y + self.height > height:
            raise ConfigError(f"--box {self}: outside {name}, which is {width}×{height} pixels "
                              f"(x + width ≤ {width}, y + height ≤ {height})")

    def cut(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(image[self.y:self.y + self.height, self.x:self.x + self.width])

    def __str__(self) -> str:
        return f"{self.x},{self.y},{self.width},{self.height}"


@dataclass(frozen=True)
class Choice:
    """One codec point shown: where its numbers come from and its reconstruction."""

    codec: str
    decoder_options: str
    rate_parameter: str
    rate: float
    bpp: float
    values: dict[str, float]
    how: str
    within: bool
    decoded: np.ndarray = field(repr=False)
    #: From the codec class (:attr:`bench.codec.Codec.learned`): decides the panel's group.
    learned: bool = False


@dataclass(frozen=True)
class CropsResult:
    """The PNG written, one row per shown codec point, and what the reader should know."""

    path: Path
    choices: pd.DataFrame
    notes: list[str]
    #: Panels in the grid: the original plus one per row of ``choices``.
    panels: int

    def markdown(self) -> str:
        """The chosen points as a Markdown table, to paste beside the figure."""
        columns = list(self.choices.columns)
        lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
        for record in self.choices.to_dict("records"):
            lines.append("| " + " | ".join(_cell(record[c]) for c in columns) + " |")
        return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def find_image(name: str, dataset: str, data_dir: Path | None = None) -> ImageRef:
    """The image of ``dataset`` named ``name`` (with or without its suffix)."""
    refs = resolve(dataset, data_dir, download=False)
    found = [r for r in refs if name in (r.name, Path(r.name).stem, Path(r.name).name)]
    if not found:
        examples = ", ".join(Path(r.name).stem for r in refs[:4])
        raise ConfigError(f"--image {name}: not in dataset {dataset} ({len(refs)} images, e.g. {examples})")
    return found[0]


def stored_dataset(rows: pd.DataFrame, image: str) -> str:
    """The one dataset whose stored rows hold ``image``, so ``--dataset`` can be left out."""
    names = rows["image"].astype(str)
    found = sorted(set(rows.loc[(names == image) | (names.map(lambda n: Path(n).stem) == image), "dataset"]))
    if len(found) == 1:
        return found[0]
    if not found:
        raise ConfigError(f"--image {image}: no stored rows for an image of that name; "
                          f"stored: {', '.join(sorted(set(names))[:6])}…")
    raise ConfigError(f"--image {image}: stored in several datasets ({', '.join(found)}); name one with --dataset")


def image_rows(rows: pd.DataFrame, ref: ImageRef) -> pd.DataFrame:
    """Successful single-pass rows of ``ref``, after checking the file is the one measured."""
    mine = rows[(rows["image"] == ref.name) & (rows["dataset"] == ref.dataset)]
    if "error" in mine.columns:
        mine = mine[mine["error"].isna()]
    mine = mine[(mine["generation"].fillna(1) == 1) & (mine["chain"].fillna("") == "")]
    if mine.empty:
        raise AnalysisError(f"{ref.name} ({ref.dataset}): no successful single-pass rows stored for this image; "
                            f"run `bench run --dataset {ref.dataset}` first")
    digest = hashlib.sha256(ref.path.read_bytes()).hexdigest()
    if digest not in set(mine["image_sha256"]):
        raise AnalysisError(f"{ref.path}: SHA-256 {digest[:12]}… differs from the stored rows' "
                            f"({', '.join(sorted(s[:12] + '…' for s in set(mine['image_sha256'])))}); "
                            "the file changed since the run, re-run `bench run`")
    return mine[mine["image_sha256"] == digest]


def crop_grid(rows: pd.DataFrame, image_ref: ImageRef, box: Box, codecs: Sequence[str] | None,
              target_bpp: float, search: bool, tolerance: float, results_dir: Path | None,
              out_dir: Path, metrics: Sequence[str] | None = None, *, anchor: str | None = None,
              progress: Progress | None = None) -> CropsResult:
    """Write the crop grid of ``image_ref`` at ``target_bpp`` and return what was chosen.

    ``codecs`` (labels) default to every label with rows for the image; a named label that cannot
    be shown is an error, a defaulted one is skipped with a note. ``search`` finds each codec's
    rate for ``target_bpp`` within ``tolerance`` instead of taking the nearest stored point;
    either way a point further than ``tolerance`` from the target is framed and labelled with
    its offset. ``metrics`` are printed under each crop, from the row when stored, else measured
    now on the whole image (default: PSNR, plus LPIPS where stored). ``results_dir/bitstreams``
    holds kept bitstreams, when the run kept them. ``anchor`` is shown first after the original
    (default: jpeg when stored; a named anchor is added to ``codecs`` and must be stored).
    ``progress`` hears one line per codec, started before its work and ended after it.
    """
    if not target_bpp > 0:
        raise ConfigError(f"target bpp must be positive, got {target_bpp}")
    image = cached_image(image_ref.path)
    box.check(image, image_ref.name)
    mine = image_rows(rows, image_ref)
    explicit = bool(codecs)
    labels = list(dict.fromkeys(codecs)) if codecs else sorted(set(mine["codec"]))
    if anchor and anchor not in labels:
        if not (mine["codec"] == anchor).any():
            raise AnalysisError(f"--anchor {anchor}: no successful rows for {image_ref.name}; "
                                f"stored for it: {', '.join(sorted(set(mine['codec'])))}")
        labels.insert(0, anchor)
    first = anchor or DEFAULT_ANCHOR
    labels.sort(key=lambda label: label != first)  # the anchor's line first, as its panel
    tell = progress or (lambda text, done: None)
    picker = _Picker(image, target_bpp, tolerance, _bitstream_dir(results_dir), metrics, tell)
    doing = (f"searching rate for {target_bpp:g} bpp" if search
             else f"decoding the stored point nearest {target_bpp:g} bpp")
    for label in labels:
        label_rows = mine[mine["codec"] == label]
        tell(f"crops: {label}: {doing} on {Path(image_ref.name).stem}", False)
        try:
            if label_rows.empty:
                raise AnalysisError(f"codec {label}: no successful rows for {image_ref.name}; "
                                    f"stored for it: {', '.join(sorted(set(mine['codec'])))}")
            tell(picker.add(label, label_rows, search), True)
        except BenchError as exc:
            tell("failed" if explicit else "skipped (see the notes)", True)
            if explicit:
                raise
            picker.notes.append(f"{label}: skipped: {one_line(exc)}")
    if not picker.choices:
        raise AnalysisError(f"{image_ref.name}: no codec could be shown ({'; '.join(picker.notes)})")
    return _render(picker, image_ref, box, target_bpp, search, tolerance, out_dir,
                   anchor or DEFAULT_ANCHOR)


def _bitstream_dir(results_dir: Path | None) -> Path | None:
    return results_dir / "bitstreams" if results_dir is not None and results_dir.is_dir() else None


class _Picker:
    """Chooses and reconstructs each codec's points, collecting notes on the way."""

    def __init__(self, image: np.ndarray, target: float, tolerance: float, bitstreams: Path | None,
                 metrics: Sequence[str] | None, progress: Progress) -> None:
        self.image, self.target, self.tolerance, self.bitstreams = image, target, tolerance, bitstreams
        self.progress = progress
        self.metrics = list(metrics or DEFAULT_METRICS)
        self.optional = () if metrics else SHOWN_IF_STORED
        metric_functions.validate([m for m in self.metrics if m != "ms_ssim_db"])
        self.choices: list[Choice] = []
        self.codecs: dict[str, Codec] = {}
        self.notes: list[str] = []
        self.pixels = image.shape[0] * image.shape[1]

    def add(self, label: str, label_rows: pd.DataFrame, search: bool) -> str:
        """Choose and decode the label's points; returns the outcome for the progress line."""
        codec, label_rows = self._codec(label, label_rows)
        self.codecs[label] = codec
        first = len(self.choices)
        if search:
            self._searched(label, codec, label_rows)
        else:
            for options in variant_order(sorted(set(label_rows["decoder_options"]))):
                variant = label_rows[label_rows["decoder_options"] == options]
                nearest = variant.iloc[int(np.argmin(np.abs(variant["bpp"].to_numpy() - self.target)))]
                self.choices.append(self._stored(label, codec, nearest.to_dict(), "nearest stored"))
        shown = self.choices[first]
        outcome = f"{shown.bpp:.3f} bpp ({shown.rate_parameter}={shown.rate:g})"
        if not shown.within:
            outcome += f", {off_target_text(shown.bpp, self.target)}"
        added = len(self.choices) - first
        return outcome + (f", {added} decoder-option sets" if added > 1 else "")

    def shown_metrics(self) -> list[str]:
        """The metrics every panel prints: the asked ones, plus an optional one stored for any
        point, measured now for the points that lack it so the panels compare like with like."""
        shown = list(self.metrics)
        for name in self.optional:
            lacking = [i for i, c in enumerate(self.choices) if name not in c.values]
            if len(lacking) == len(self.choices):
                continue
            shown.append(name)
            if lacking:
                self.progress(f"crops: measuring {name} of {len(lacking)} panel(s) that lack it", False)
            for i in lacking:
                c = self.choices[i]
                values = {**c.values, **self._measure(self.codecs[c.codec], c.decoded, [name])}
                self.choices[i] = replace(c, values=values)
            if lacking:
                self.progress("done", True)
        return shown

    def _codec(self, label: str, label_rows: pd.DataFrame) -> tuple[Codec, pd.DataFrame]:
        """The installed codec of the label's newest rows, and the rows it made."""
        newest = label_rows.sort_values("created_utc").iloc[-1]
        same = label_rows[(label_rows["codec_impl"] == newest["codec_impl"]) & (label_rows["params"] == newest["params"])]
        codec = codec_for(newest["codec_impl"], json.loads(newest["params"]))
        version = codec.version()
        current = same[same["codec_version"] == version]
        if current.empty:
            raise AnalysisError(f"codec {label}: rows were made by {newest['codec_version']!r}, installed is "
                                f"{version!r}; re-run `bench run` for this image")
        if len(current) < len(label_rows):
            self.notes.append(f"{label}: {len(label_rows) - len(current)} stored row(s) of other parameters "
                              "or codec versions left out")
        return codec, current

    def _rate(self, codec: Codec, rate: float) -> float:
        return int(round(rate)) if type(codec).integer_rates else float(rate)

    def _stored(self, label: str, codec: Codec, row: dict[str, Any], how: str) -> Choice:
        """The choice of a stored row: its bytes from the kept file or a re-encode, checked."""
        rate = self._rate(codec, row["rate"])
        kept = self.bitstreams / f"{row['key']}.bin" if self.bitstreams else None
        where = "kept bitstream"
        data = kept.read_bytes() if kept is not None and kept.is_file() else None
        if data is None or hashlib.sha256(data).hexdigest() != row["bitstream_sha256"]:
            if data is not None:
                self.notes.append(f"{label}: kept bitstream {kept.name} does not match the row's SHA-256; re-encoded")
            data, where = codec.encode(self.image, rate), "re-encoded, same bytes"
        options = json.loads(row["decoder_options"] or "{}")
        decoded = codec.decode(data, **options)
        if hashlib.sha256(data).hexdigest() != row["bitstream_sha256"]:
            self.notes.append(f"{label} {row['rate_parameter']}={rate:g}: re-encoding gave other bytes than the "
                              "stored row (SHA-256 differs); bpp and metrics shown are the re-encode's, measured now")
            return self._fresh(label, codec, row["decoder_options"], rate, data, decoded,
                               f"{how} · re-encoded (other bytes)", within=self._close(len(data)))
        values = {m: float(row[m]) for m in (*self.metrics, *self.optional)
                  if m in row and row[m] is not None and not pd.isna(row[m])}
        values.update(self._measure(codec, decoded, [m for m in self.metrics if m not in values]))
        return Choice(label, row["decoder_options"], row["rate_parameter"], rate, float(row["bpp"]), values,
                      f"{how} · {where}", self._close_bpp(float(row["bpp"])), decoded, type(codec).learned)

    def _fresh(self, label: str, codec: Codec, options: str, rate: float, data: bytes, decoded: np.ndarray,
               how: str, within: bool) -> Choice:
        values = self._measure(codec, decoded, self.metrics)
        return Choice(label, options, type(codec).rate_parameter, rate, len(data) * 8 / self.pixels, values,
                      how, within, decoded, type(codec).learned)

    def _measure(self, codec: Codec, decoded: np.ndarray, names: list[str]) -> dict[str, float]:
        """Metrics of the whole decoded image, against the same reference a run uses."""
        if not names:
            return {}
        reference = codec.reference_image(self.image)
        wanted = sorted({"ms_ssim" if m == "ms_ssim_db" else m for m in names})
        measured = metric_functions.measure(reference, decoded, wanted)
        return {m: measured[m] for m in names}

    def _close(self, n_bytes: int) -> bool:
        return self._close_bpp(n_bytes * 8 / self.pixels)

    def _close_bpp(self, bpp: float) -> bool:
        return abs(bpp - self.target) <= self.tolerance * self.target

    def _searched(self, label: str, codec: Codec, label_rows: pd.DataFrame) -> None:
        """Search the codec's rate for the target, then show each stored decoder-option set."""
        cls = type(codec)
        known = {float(r): float(b) for r, b in zip(label_rows["rate"], label_rows["bpp"])}
        low, high = cls.rate_range
        if not (math.isfinite(low) and math.isfinite(high)):
            span = [*known, *cls.default_rates]
            low, high = max(low, min(span)), min(high, max(span))
        encodes: dict[float, bytes] = {}

        def measure_bpp(rate: float) -> float:
            encodes[rate] = codec.encode(self.image, rate)
            return len(encodes[rate]) * 8 / self.pixels

        param = cls.rate_parameter
        try:
            found = search_rate(measure_bpp, self.target, low, high, cls.integer_rates, self.tolerance, known=known)
            rate, within, reason = found.rate, found.within, found.reason
            how = f"searched · {len(found.steps)} new encode{'' if len(found.steps) == 1 else 's'}"
        except BenchError as exc:
            rate = min(known, key=lambda r: abs(known[r] - self.target))
            within, reason, how = self._close_bpp(known[rate]), f"rate search failed: {one_line(exc)}", "search failed"
        rate = self._rate(codec, rate)
        for options in variant_order(sorted(set(label_rows["decoder_options"]))):
            stored = label_rows[(label_rows["rate"] == float(rate)) & (label_rows["decoder_options"] == options)]
            if not stored.empty:
                choice = self._stored(label, codec, stored.iloc[0].to_dict(), "searched · stored")
            else:
                data = encodes.get(rate) or codec.encode(self.image, rate)
                decoded = codec.decode(data, **json.loads(options or "{}"))
                choice = self._fresh(label, codec, options, rate, data, decoded, how, within)
            self.choices.append(choice)
        if not within:
            self.notes.append(f"{label}: missed ±{self.tolerance:.0%} of {self.target:g} bpp, shown at "
                              f"{param}={rate:g} ({self.choices[-1].bpp:.4g} bpp): {reason}")


def panel_order(choices: Sequence[Choice], anchor: str) -> list[Choice]:
    """Anchor first, then classical codecs, then learned ones; the given order within each group
    (a codec's decoder-option variants stay together, in :func:`variant_order`)."""
    group = {c.codec: 0 if c.codec == anchor else 2 if c.learned else 1 for c in choices}
    return sorted(choices, key=lambda c: group[c.codec])


def off_target_text(bpp: float, target: float) -> str:
    """``+54 % off 0.75 bpp``: what a framed panel says (``-5.2 %`` near a ±5 % tolerance, where a
    rounded ``-5 %`` would read as inside it)."""
    percent = (bpp / target - 1) * 100
    return f"{percent:+.{1 if abs(percent) < 10 else 0}f} % off {target:g} bpp"


def _render(picker: _Picker, ref: ImageRef, box: Box, target: float, search: bool, tolerance: float,
            out_dir: Path, anchor: str) -> CropsResult:
    metrics = picker.shown_metrics()
    choices = panel_order(picker.choices, anchor)
    labels = curve_labels([(c.codec, c.decoder_options) for c in choices])
    factor = enlargement(box.height, box.width)
    panels = [Panel(box.cut(picker.image), "original", (Path(ref.name).name, f"box {box}"))]
    records = []
    for c in choices:
        label = labels[(c.codec, c.decoder_options)]
        numbers = ", ".join(METRIC_TEXT.get(m, m + " {:.4g}").format(c.values[m]) for m in metrics)
        off = c.bpp / target - 1
        panels.append(Panel(box.cut(c.decoded), label + (" (anchor)" if c.codec == anchor else ""), (
            f"{c.bpp:.3f} bpp ({off:+.1%}), {c.rate_parameter}={c.rate:g}", numbers, c.how),
            "" if c.within else off_target_text(c.bpp, target)))
        records.append({"codec": label, "rate": f"{c.rate_parameter}={c.rate:g}",
                        "bpp": c.bpp, "vs target": f"{off:+.1%}", **{m: c.values[m] for m in metrics},
                        "within": c.within, "chosen": c.how})
    rule = (f"rate searched per codec to {target:g} bpp ±{tolerance:.0%} (stored rows reused)" if search
            else f"stored point nearest {target:g} bpp per codec")
    framed = sum(not c.within for c in choices)
    caption = (f"{ref.name} ({Path(ref.dataset).name}), box x={box.x}, y={box.y}, {box.width}×{box.height} px, "
               f"shown ×{factor} nearest-neighbour. Crops: {rule}; order: original, "
               f"{'anchor, ' if any(c.codec == anchor for c in choices) else ''}classical, learned codecs. "
               + (f"Framed in red: {framed} panel{'s' if framed != 1 else ''} more than ±{tolerance:.0%} off "
                  f"{target:g} bpp, not comparable at equal rate. " if framed else "")
               + f"PSNR/LPIPS are of the whole image "
               f"({'as stored' if not search else 'stored where the point was, else measured'}), not of the crop.")
    path = render_crops(panels, caption, out_dir, crops_stem(ref.dataset, ref.name, target))
    return CropsResult(path, pd.DataFrame.from_records(records), picker.notes, len(panels))
