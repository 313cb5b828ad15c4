"""bench as a library: every command is a function with typed arguments that returns data.

The command line is a thin layer over these functions, so a notebook gets the same numbers as
``bench table`` and the same files as ``bench plot``::

    from bench import api

    rows = api.rows("results/parts", datasets=["kodak"])
    tables = api.table("results/parts", anchor="jpeg", out=None)       # PaperTables, nothing written
    tables.bd["psnr_rgb"][["dataset", "curve", "bd_rate", "bd_rate_low", "bd_rate_high"]]
    api.plot("results/parts", published=["compressai"])                # list of written files

Errors are ``bench.errors.BenchError`` subclasses with one-line messages; nothing here exits the
interpreter.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import pandas as pd

from bench.analysis.auc import DEFAULT_INTERPOLATION
from bench.analysis.bootstrap import DEFAULT_RESAMPLES, DEFAULT_SEED
from bench.analysis.paper import PaperTables, TableSettings, paper_tables
from bench.analysis.select import select_rows
from bench.errors import ResultsError

if TYPE_CHECKING:
    from bench.runner import RunRequest
    from bench.summary import RunSummary

def results_folder(results: Path | str | None = None, config: Path | str | None = None) -> Path:
    """``results`` when given, else the store the configuration names (bench.toml by default)."""
    if results is not None:
        return Path(results)
    from bench import config as config_module

    return Path(config_module.load(Path(config) if config else None).results)


def stored(results: Path | str | None = None, config: Path | str | None = None) -> pd.DataFrame:
    """Every row of a store (one per key); a missing or empty store is a ResultsError."""
    from bench.store import read_rows

    source = results_folder(results, config)
    frame = read_rows(source) if source.exists() else pd.DataFrame()
    if frame.empty:
        raise ResultsError(f"{source}: no rows stored yet; run `bench run` first")
    return frame


def run(request: "RunRequest | None" = None, *, on_start=None, on_row=None, **fields) -> "RunSummary":
    """``bench run`` as a function: ``api.run(datasets=("kodak",), codecs=("jpeg",), limit=2)``
    (or a ``bench.runner.RunRequest``); returns the run's summary (rows written and failed per
    codec, mean bpp and PSNR, wall time)."""
    from bench.runner import RunRequest, run as run_request

    if request is None:
        fields = {k: tuple(v) if k in ("datasets", "codecs", "metrics") else v for k, v in fields.items()}
        request = RunRequest(**fields)
    return run_request(request, on_start, on_row)


def rows(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
         codecs: Iterable[str] = (), where: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The stored rows narrowed as ``--dataset``, ``--codec`` and ``--where`` narrow them."""
    return select_rows(stored(results, config), list(datasets), list(codecs), where)


def colour_order(frame: pd.DataFrame, config: Path | str | None = None) -> tuple[str, ...]:
    """Configured codecs first (bench.toml's section order), then every other label of ``frame``:
    the order that fixes colours in figures and rows in tables."""
    from bench import config as config_module

    order = list(config_module.load(Path(config) if config else None).codec_specs)
    return (*order, *sorted(set(frame["codec"].astype(str)) - set(order)))


def published(names: Sequence[str]) -> pd.DataFrame | None:
    """Published curves for an overlay (None when no name is given)."""
    if not names:
        return None
    from bench.analysis.published import published_curves

    return published_curves(names)


def table(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
          codecs: Iterable[str] = (), where: Mapping[str, str] | None = None, anchor: str = "jpeg",
          metrics: Sequence[str] = (), method: str = "pchip", mode: str = "mean-curve", images: str = "common",
          auc_range: tuple[float, float] | None = None, auc_interpolation: str = DEFAULT_INTERPOLATION,
          auc_normalise: bool = False, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
          out: Path | str | None = Path("results/tables")) -> PaperTables:
    """BD (with bootstrap intervals), AUC, per-image and RD-point tables; written under ``out``
    (one folder per dataset, .md/.tex/.csv) unless ``out`` is None. ``tables.files`` lists them."""
    from bench.render.tables import write_paper_tables

    everything = stored(results, config)
    selected = select_rows(everything, list(datasets), list(codecs), where)
    settings = TableSettings(anchor=anchor, metrics=tuple(metrics), method=method, mode=mode, images=images,
                             auc_range=auc_range, auc_interpolation=auc_interpolation, auc_normalise=auc_normalise,
                             resamples=resamples, seed=seed, codec_order=colour_order(everything, config))
    tables = paper_tables(selected, settings)
    tables.files = write_paper_tables(tables, Path(out)) if out is not None else []
    return tables


def plot(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
         codecs: Iterable[str] = (), where: Mapping[str, str] | None = None, metrics: Sequence[str] = (),
         images: str = "common", band: str = "iqr", per_image: bool = False, envelope: bool = False,
         published_curves: Sequence[str] = (), out: Path | str = Path("results/plots"),
         formats: tuple[str, ...] = ("png", "svg")) -> list[Path]:
    """RD figures per dataset and metric (and per-image panels); returns the files written."""
    from bench.render.rd import DEFAULT_METRICS, plot_per_image, plot_rd

    everything = stored(results, config)
    selected = select_rows(everything, list(datasets), list(codecs), where)
    order = colour_order(everything, config)
    chosen = tuple(metrics) or DEFAULT_METRICS
    written = plot_rd(selected, Path(out), chosen, images=images, codec_order=order, band=band,
                      published=published(published_curves), envelope=envelope, formats=formats)
    if per_image:
        for metric in chosen:
            written += plot_per_image(selected, Path(out), metric, images=images, codec_order=order, formats=formats)
    return written


def report(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
           codecs: Iterable[str] = (), where: Mapping[str, str] | None = None, anchor: str = "jpeg",
           images: str = "common", band: str = "iqr", published_curves: Sequence[str] = (),
           crops: Sequence[Path] = (), resamples: int = DEFAULT_RESAMPLES,
           out: Path | str = Path("results/report.html")) -> Path:
    """One self-contained HTML page (the paper's appendix); returns its path."""
    from bench.render.report import ReportSettings, crop_files, render_report

    store = results_folder(results, config)
    everything = stored(store, config)
    selected = select_rows(everything, list(datasets), list(codecs), where)
    order = colour_order(everything, config)
    settings = ReportSettings(
        title=f"bench report: {store}", codec_order=order, band=band, published=published(published_curves),
        tables=TableSettings(anchor=anchor, images=images, resamples=resamples, codec_order=order),
        crops=crop_files([Path(c) for c in crops]))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_report(selected, settings), encoding="utf-8")
    return path


def compare(baseline: Path | str, candidate: Path | str, *, settings=None, datasets: Iterable[str] = (),
            codecs: Iterable[str] = (), where: Mapping[str, str] | None = None):
    """The regression verdict of ``candidate`` against ``baseline`` (a ``Verdict``; ``.passed``)."""
    from bench.analysis.compare import compare as judge
    from bench.analysis.compare import narrow
    from bench.store import read_rows

    base, cand = narrow(read_rows(baseline), read_rows(candidate), list(datasets), list(codecs), where)
    return judge(base, cand, settings)
