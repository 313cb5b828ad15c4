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

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from bench.config import options as check
from bench.config.metric_names import ANALYSIS_METRICS, STORED_METRICS
from bench.config.paths import user_path
from bench.outputs import Beside, output_folder, output_path, remove_stale
from bench.config.defaults import (BANDS, BD_METHODS, BD_MODES, DEFAULT_INTERPOLATION, DEFAULT_LEVEL, DEFAULT_RESAMPLES,
                                   DEFAULT_SEED, FIDELITIES, IMAGE_SETS, INTERPOLATIONS, MAX_RESAMPLES)
from bench.errors import AnalysisError, BenchError, ConfigError, ResultsError, one_line

# Only the light modules above are imported with bench.api: ``bench --help`` reads this module,
# so pandas, matplotlib, torch and every codec wait inside the function that needs them.
if TYPE_CHECKING:
    import pandas as pd

    from bench.analysis.compare import GateSettings, Verdict
    from bench.analysis.paper import PaperTables
    from bench.render.crop_grid import CropsResult
    from bench.plan.datasets import FetchReport, ImageRef, NamedDataset
    from bench.execute.drift import DriftRequest, DriftSummary
    from bench.execute.migrate import Migration
    from bench.execute.runner import RunRequest
    from bench.execute.summary import RunSummary

__all__ = ["Beside", "DEFAULT_INTERPOLATION", "DEFAULT_LEVEL", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "INTERPOLATIONS", "user_path"]
#: ``bench history``'s default folder (parquet parts, one per commit and machine).
HISTORY = Path("results/history")
#: Highest bpp a crop grid may target: 24 bpp is an uncompressed 8-bit RGB image.
MAX_BPP = 24.0
#: Drift studies' most generations (``bench.config.settings.MAX_GENERATIONS``), for ``--generations``.
MAX_GENERATIONS = 10_000

def results_folder(results: Path | str | None = None, config: Path | str | None = None) -> Path:
    """``results`` when given, else the store the configuration names (bench.toml by default)."""
    if results is not None:
        return Path(results)
    from bench.config import settings as config_module

    return Path(config_module.load(Path(config) if config else None, codecs=()).results)


def stored(results: Path | str | None = None, config: Path | str | None = None,
           columns: Sequence[str] | None = None) -> "pd.DataFrame":
    """Every row of a store (one per key), of ``columns`` only when given; a missing or empty
    store is a ResultsError."""
    import pandas as pd

    from bench.store import read_rows

    source = results_folder(results, config)
    frame = read_rows(source, columns) if source.exists() else pd.DataFrame()
    if frame.empty:
        raise ResultsError(f"{source}: no rows stored yet; run `bench run` first")
    return frame


def run(request: "RunRequest | None" = None, *, on_start=None, on_row=None, **fields) -> "RunSummary":
    """``bench run`` as a function: ``api.run(datasets=("kodak",), codecs=("jpeg",), limit=2)``
    (or a ``bench.execute.runner.RunRequest``); returns the run's summary (rows written and failed per
    codec, mean bpp and PSNR, wall time)."""
    from bench.execute.runner import RunRequest, run as run_request

    if request is None:
        fields = {k: tuple(v) if k in ("datasets", "codecs", "metrics", "images", "rates") else v
                  for k, v in fields.items()}
        request = RunRequest(**fields)
    return run_request(request, on_start, on_row)


def summary_lines(summary: "RunSummary") -> list[str]:
    """A run's summary as ``bench run`` prints it: a table per codec, then what to run next."""
    from bench.execute.summary import render

    return list(render(summary))


#: Classes a caller catches or filters, imported from their modules when first asked for.
_LAZY = {"RunWarning": "bench.execute.runner", "Interrupted": "bench.execute.backends", "raise_interrupted": "bench.execute.backends",
         "stop_signals": "bench.execute.backends"}


def __getattr__(name: str) -> Any:
    """``api.RunWarning`` (a run's notes, as warnings), ``api.Interrupted`` (a run stopped by
    SIGINT/SIGTERM/SIGHUP), ``api.raise_interrupted`` (the signal handler that raises it) and
    ``api.stop_signals`` (the signals it handles), imported
    on first use so that importing bench.api stays light."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'bench.api' has no attribute {name!r}")


def rows(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
         codecs: Iterable[str] = (), where: Mapping[str, str] | None = None) -> "pd.DataFrame":
    """The stored rows narrowed as ``--dataset``, ``--codec`` and ``--where`` narrow them."""
    from bench.analysis.select import select_rows

    return select_rows(stored(results, config), list(datasets), list(codecs), where)


def colour_order(frame: "pd.DataFrame", config: Path | str | None = None) -> tuple[str, ...]:
    """Configured codecs first (bench.toml's section order), then every other label of ``frame``,
    then every codec with a published curve: the order that fixes colours in figures and rows in
    tables for a whole command, so a published curve takes the same colour in every figure
    whichever other published curves are overlaid."""
    from bench.analysis.published import published_codecs
    from bench.config import settings as config_module

    order = list(config_module.load(Path(config) if config else None, codecs=()).codec_sections)
    order += sorted(set(frame["codec"].unique().astype(str)) - set(order))
    return (*order, *(codec for codec in published_codecs() if codec not in order))


def published(names: Sequence[str]) -> "pd.DataFrame | None":
    """Published curves for an overlay (None when no name is given)."""
    if not names:
        return None
    from bench.analysis.published import published_curves

    return published_curves(names)


def table(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
          codecs: Iterable[str] = (), where: Mapping[str, str] | None = None, anchor: str = "jpeg",
          metrics: Sequence[str] = (), method: str = "pchip", mode: str = "mean-curve", images: str = "own",
          auc_range: tuple[float, float] | None = None, auc_interpolation: str = DEFAULT_INTERPOLATION,
          auc_normalise: bool = False, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
          published_partial: bool = False, out: Path | str | Beside | None = Beside("tables"),
          on_removed: Callable[[Path], None] | None = None) -> PaperTables:
    """BD (with bootstrap intervals), AUC, per-image and RD-point tables; written under ``out``
    (default: ``tables`` beside the store; one folder per dataset, .md/.tex/.csv) unless ``out``
    is None. ``tables.files`` lists them; the tables of an earlier run in those dataset folders
    that this run did not write are removed, each passed to ``on_removed``."""
    from bench.analysis.paper import TableSettings, paper_tables
    from bench.analysis.select import columns_for, select_rows
    from bench.render.names import safe_name
    from bench.render.tables import owned_tables, write_paper_tables

    check.choice(method, BD_METHODS, "--method")
    check.choice(mode, BD_MODES, "--mode")
    check.choice(images, IMAGE_SETS, "--images")
    check.choices(metrics, ANALYSIS_METRICS, "--metric")
    auc_range = check.value_range(auc_range, "--auc-range")
    check.choice(auc_interpolation, INTERPOLATIONS, "--auc-interpolation")
    check.count(resamples, "--resamples", high=MAX_RESAMPLES)
    check.seed(seed)
    store = results_folder(results, config)
    if out is not None:
        check.output_folder(output_path(out, store), "--out")
    everything = stored(store, config, columns_for(where))
    selected = select_rows(everything, list(datasets), list(codecs), where)
    settings = TableSettings(anchor=anchor, metrics=tuple(metrics), method=method, mode=mode, images=images,
                             auc_range=auc_range, auc_interpolation=auc_interpolation, auc_normalise=auc_normalise,
                             resamples=resamples, seed=seed, published_partial=published_partial,
                             codec_order=colour_order(everything, config))
    tables = paper_tables(selected, settings)
    if out is None:
        return tables
    folder = output_path(out, store)
    tables.files = write_paper_tables(tables, folder)
    for dataset in tables.datasets:
        _removed(remove_stale(folder / safe_name(str(dataset)), owned_tables(tables), tables.files), on_removed)
    return tables


def _removed(paths: list[Path], on_removed: Callable[[Path], None] | None) -> None:
    """Tell ``on_removed`` (when given) of each stale output file a command removed."""
    if on_removed is not None:
        for path in paths:
            on_removed(path)


def plot(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
         codecs: Iterable[str] = (), where: Mapping[str, str] | None = None, metrics: Sequence[str] = (),
         images: str = "own", band: str = "iqr", per_image: bool = False, envelope: bool = False,
         published_curves: Sequence[str] = (), out: Path | str | Beside = Beside("plots"),
         formats: tuple[str, ...] = ("png", "svg"), on_removed: Callable[[Path], None] | None = None) -> list[Path]:
    """RD figures per dataset and metric (and per-image panels) under ``out`` (default: ``plots``
    beside the store); returns the files written. The RD figures of an earlier run of the drawn
    datasets and metrics that this run did not draw (an ``-options`` figure of options no longer
    stored, per-image panels not asked for) are removed, each passed to ``on_removed``."""
    from bench.analysis.select import columns_for, select_rows
    from bench.render.rd import DEFAULT_METRICS, owned_figures, plot_per_image, plot_rd

    check.choices(metrics, ANALYSIS_METRICS, "--metric")
    check.choice(images, IMAGE_SETS, "--images")
    check.choice(band, BANDS, "--band")
    store = results_folder(results, config)
    check.output_folder(output_path(out, store), "--out")
    everything = stored(store, config, columns_for(where))
    selected = select_rows(everything, list(datasets), list(codecs), where)
    order = colour_order(everything, config)
    chosen = tuple(metrics) or DEFAULT_METRICS
    folder = output_path(out, store)
    written = plot_rd(selected, folder, chosen, images=images, codec_order=order, band=band,
                      published=published(published_curves), envelope=envelope, formats=formats)
    if per_image:
        for metric in chosen:
            written += plot_per_image(selected, folder, metric, images=images, codec_order=order, formats=formats)
    _removed(remove_stale(folder, owned_figures(selected["dataset"].astype(str).unique(), chosen), written), on_removed)
    return written


def report(results: Path | str | None = None, *, config: Path | str | None = None, datasets: Iterable[str] = (),
           codecs: Iterable[str] = (), where: Mapping[str, str] | None = None, anchor: str = "jpeg",
           images: str = "own", band: str = "iqr", published_curves: Sequence[str] = (),
           crops: Sequence[Path] = (), resamples: int = DEFAULT_RESAMPLES, published_partial: bool = False,
           out: Path | str | Beside = Beside("report.html")) -> Path:
    """One self-contained HTML page (the paper's appendix) at ``out`` (default: ``report.html``
    beside the store); returns its path. Per-image tables too long to inline go to
    ``<out stem>-files/`` beside it, linked from the page."""
    from bench.analysis.paper import TableSettings
    from bench.analysis.select import columns_for, select_rows
    from bench.config.environment import RECORDED_COLUMNS
    from bench.render.report import ReportSettings, crop_files, render_report

    check.choice(images, IMAGE_SETS, "--images")
    check.choice(band, BANDS, "--band")
    check.count(resamples, "--resamples", high=MAX_RESAMPLES)
    store = results_folder(results, config)
    path = output_path(out, store)
    check.output_file(path, "--out")
    embedded = crop_files([Path(c) for c in crops])
    everything = stored(store, config, columns_for(where, RECORDED_COLUMNS))
    selected = select_rows(everything, list(datasets), list(codecs), where)
    order = colour_order(everything, config)
    settings = ReportSettings(
        title=f"bench report: {store}", codec_order=order, band=band, published=published(published_curves),
        tables=TableSettings(anchor=anchor, images=images, resamples=resamples, codec_order=order,
                             published_partial=published_partial),
        crops=embedded, files=path.with_name(f"{path.stem}-files"))
    output_folder(path.parent, "report", mark_existing=False)
    path.write_text(render_report(selected, settings), encoding="utf-8")
    return path


#: What the gate reads beyond the analysis columns: an image's hash (part of the match), the
#: bytes, codec implementation and version it compares, and whether the candidate decoded
#: deterministically.
COMPARED_COLUMNS = ("image_sha256", "bytes", "codec_impl", "codec_version", "deterministic_decode")


def compare(baseline: Path | str, candidate: Path | str, *, settings: "GateSettings | None" = None,
            datasets: Iterable[str] = (), codecs: Iterable[str] = (), where: Mapping[str, str] | None = None,
            max_bd_rate: float = 0.5, max_psnr_drop: float = 0.05, exact: bool = True, gate: str = "point",
            resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, max_bpp_rise: float = 0.5) -> "Verdict":
    """The regression verdict of ``candidate`` against ``baseline`` (a ``Verdict``; ``.passed``)
    under ``settings``, or under the thresholds given one by one (``bench compare``'s flags).
    Every fault of the input is a BenchError (exit 2), never a verdict: CI reads 1 as regression."""
    from bench.analysis.compare import GateSettings, check_rows
    from bench.analysis.compare import compare as judge
    from bench.analysis.compare import narrow
    from bench.analysis.select import columns_for

    settings = settings or GateSettings(max_bd_rate, max_psnr_drop, exact, gate, resamples, seed, max_bpp_rise)
    columns = columns_for(where, COMPARED_COLUMNS)
    base_rows, cand_rows = _gate_rows(baseline, columns), _gate_rows(candidate, columns)
    check_rows(base_rows, baseline, require_rows=True)  # named by path here; compare() checks again by role
    check_rows(cand_rows, candidate)
    try:
        base, cand = narrow(base_rows, cand_rows, list(datasets), list(codecs), where)
    except AnalysisError as exc:  # name the stores: "the store" alone is ambiguous with two of them
        raise AnalysisError(f"{baseline} and {candidate}: {exc}") from exc
    impls = set(base["codec_impl"].dropna().unique()) | set(cand["codec_impl"].dropna().unique()) if "codec_impl" in base.columns else set()
    return judge(base, cand, settings, decode_tolerances(impls))


def _gate_rows(source: Path | str, columns: Sequence[str]) -> "pd.DataFrame":
    """A store's rows for the gate; whatever the parquet or file system raises while reading it
    (the part checks name most faults themselves) is a ResultsError naming ``source``."""
    from bench.store import read_rows

    try:
        return read_rows(source, columns)
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable input is exit 2, never a verdict
        raise ResultsError(f"{source}: cannot be read as a bench results store ({one_line(exc, 200)}); "
                           "check the path or move the damaged part out") from None


def decode_tolerances(impls: Iterable[str]) -> dict[str, float]:
    """Each installed codec implementation's declared ``decode_tolerance_db`` (bench.codec.Codec),
    looked up through the registry; one that is not installed (or fails to import) is left out,
    and the verdict says so."""
    from bench import registry

    found: dict[str, float] = {}
    for impl in sorted(set(impls)):
        try:
            codec_class = registry.load("codec", impl)
        except Exception:  # noqa: BLE001 - a codec whose module cannot load here is "not installed"
            codec_class = None
        if codec_class is not None:
            found[impl] = getattr(codec_class, "decode_tolerance_db", 0.0)
    return found


def check_output_file(path: Path | str, option: str) -> None:
    """Make sure ``path`` (a ``--json`` or ``--markdown`` file) can be written, before any work:
    the check every command's output paths pass (``bench.config.options.output_file``)."""
    check.output_file(path, option)


def write_output_file(path: Path | str, text: str, option: str) -> None:
    """Write a command's text output to ``path``; a ConfigError naming ``option`` if that fails."""
    from bench.render.output_file import write_text

    write_text(Path(path), text, option)


def verdict_markdown(verdict: "Verdict") -> str:
    """A verdict as ``bench compare`` prints it (Markdown; bench.render.verdict)."""
    from bench.render.verdict import verdict_markdown as markdown

    return markdown(verdict)


def crops(image: str, box: str, *, bpp: float | None = None, target_bpp: float | None = None,
          tolerance: float = 0.05, anchor: str | None = None, dataset: str | None = None,
          codecs: Sequence[str] | None = None, where: Sequence[str] = (), metrics: Sequence[str] | None = None,
          results: Path | str | None = None, out: Path | str | Beside = Beside("plots"), data_dir: Path | None = None,
          config: Path | str | None = None,
          progress: Callable[[str, bool], None] | None = None) -> "CropsResult":
    """The same crop (``box`` "x,y,width,height") of one image from every codec at (nearly) the
    same bpp: the stored point nearest ``bpp``, or a rate search to ``target_bpp``; one PNG grid
    under ``out`` (default: ``plots`` beside the store)."""
    if (bpp is None) == (target_bpp is None):
        raise ConfigError("give exactly one of --bpp (nearest stored point) or --target-bpp (rate search)")
    if bpp is not None:
        check.number(bpp, "--bpp", above=0)
    if target_bpp is not None:
        check.number(target_bpp, "--target-bpp", above=0, high=MAX_BPP)
    check.number(tolerance, "--tolerance", above=0, high=1)
    check.choices(metrics or (), (*STORED_METRICS,), "--metric")
    store = results_folder(results, config)
    out = output_path(out, store)
    check.output_folder(out, "--out")

    # Imported after the checks: crop_grid loads torch, which a refused flag must not wait for.
    from bench.analysis.select import select_rows
    from bench.render.crop_grid import Box, crop_grid, find_image, stored_dataset

    crop_box = Box.parse(box)
    rows = stored(store, config)
    rows = select_rows(rows, codecs=codecs, where=parse_where(where))
    ref = find_image(image, dataset or stored_dataset(rows, image), data_dir)
    return crop_grid(rows, ref, crop_box, codecs, target_bpp or bpp, search=target_bpp is not None,
                     tolerance=tolerance, results_dir=store, out_dir=out,
                     metrics=metrics, anchor=anchor, progress=progress)


def parse_where(items: Sequence[str]) -> dict[str, str]:
    """``--where KEY=VALUE`` flags as a mapping; a malformed one is a ConfigError."""
    from bench.analysis.select import parse_where as parse

    return parse(items)


# -- the harness and its registries ------------------------------------------------------------

def version_line() -> str:
    """``bench <version>``, with the git commit when bench runs from a checkout: what a bug
    report or a results row needs to name the harness that ran."""
    import bench
    from bench.config.provenance import git_commit

    commit = git_commit()
    return f"bench {bench.__version__}" + ("" if commit == "unknown" else f" (git {commit})")


@dataclass(frozen=True)
class CodecInfo:
    """One registered codec as ``bench codecs`` lists it; ``unavailable`` says why it cannot run here."""

    name: str
    rate_parameter: str
    default_rates: tuple[float, ...]
    unavailable: str | None


def codecs() -> list[CodecInfo]:
    """Every registered codec, by name: from its listing (``bench.codec_listings``: no codec is
    imported), else, for a codec that declares none, from its class (its module imported)."""
    from bench import registry

    infos = []
    for name in registry.names("codec"):
        listing = registry.load("codec_listing", name)
        if listing is not None:
            infos.append(CodecInfo(name, listing.rate_parameter, tuple(listing.default_rates), listing.unavailable()))
        else:
            from bench.codec import codec_class

            cls = codec_class(name)
            infos.append(CodecInfo(name, cls.rate_parameter, tuple(cls.default_rates), cls.unavailable_reason()))
    return infos


@dataclass(frozen=True)
class DatasetInfo:
    """One registered dataset as ``bench datasets list`` shows it."""

    name: str
    image_count: int | None
    description: str
    root: Path
    pins: str
    #: Whether its files are here, and what to run when they are not (``_presence_line``).
    presence: str


def datasets() -> list[DatasetInfo]:
    """Every registered dataset: image count, where its files are looked for, what pins them,
    and whether they are present."""
    from bench.plan import datasets as dataset_registry

    root = dataset_registry.default_data_dir()
    return [DatasetInfo(name, ds.image_count, ds.description, ds.root(root), _pin_line(ds, root),
                        _presence_line(ds, root))
            for name, ds in sorted(dataset_registry.registered_datasets().items())]


def _presence_line(ds: "NamedDataset", data_dir: Path) -> str:
    """Whether a dataset's files are present (looked up, not hashed: `bench run` checks them)."""
    present, expected = ds.presence(data_dir)
    root = ds.root(data_dir)
    if expected is not None and present == expected:
        return f"present: all {present} files in {root}"
    fetch = f"run `bench datasets fetch {ds.name}`"
    if present == 0:
        extracted = " (archive not extracted)" if ds.archive is not None else ""
        return f"not present{extracted}: no files in {root}; {fetch}"
    return f"partly present: {present} of {expected} files in {root}; {fetch}"


def _pin_line(ds: "NamedDataset", data_dir: Path) -> str:
    """What a dataset's files are checked against, and where that pin came from."""
    from bench.plan.archives import read_record

    if ds.local_root:
        return "no pins: files of an installed package"
    if ds.archive is None:
        return "every file's SHA-256 pinned in the package"
    remote = ds.archive
    size = f"{remote.size:,} bytes" if remote.size is not None else "size unknown"
    if remote.trust_on_first_use:
        record = read_record(ds.root(data_dir))
        recorded = f"recorded {record['sha256']} at the first fetch" if record else "the first fetch records it"
        return (f"archive {remote.filename} ({size}), SHA-256 not pinned: trust on first use ({recorded}; "
                f"{remote.digest_source}); {remote.url}")
    return f"archive {remote.filename} ({size}), SHA-256 {remote.sha256} from {remote.digest_source}; {remote.url}"


@dataclass(frozen=True)
class Fetched:
    """``bench datasets fetch``: what was downloaded or replaced, and the files now present."""

    report: "FetchReport"
    images: list["ImageRef"]

    @property
    def all_pinned(self) -> bool:
        """Whether every present file matches its pinned SHA-256."""
        return all(ref.modified is False for ref in self.images)


def fetch_dataset(name: str, data_dir: Path | None = None, archive: Path | None = None) -> Fetched:
    """Download a named dataset's missing files (or install them from ``archive``) and check them."""
    from bench.plan import datasets as dataset_registry

    report = dataset_registry.fetch_dataset(name, data_dir, archive)
    return Fetched(report, dataset_registry.resolve(name, data_dir, download=False))


def schema() -> str:
    """The row schema with the meaning of every column (Markdown)."""
    from bench.schema import markdown_table

    return markdown_table()


# -- writers: each holds the store's lock ------------------------------------------------------

def compact(results: Path | str, on_note: Callable[[str], None] | None = None) -> int:
    """Merge a store's parts into one deduplicated part under the store's lock (a live run's
    lock refuses it in one line: its temporary parts are never touched); returns rows kept.
    A path that holds no parts is a ResultsError: a typo'd path is not "nothing to do"."""
    from bench.execute.runner import store_lock
    from bench.store import Store

    store = Store(results)
    store.require_parts("compact")
    with store_lock(store, "bench compact", on_note):
        return store.compact()


def migrate(results: Path | str, on_note: Callable[[str], None] | None = None) -> "Migration":
    """Rekey the rows of an older schema version under the store's lock (nothing is re-measured);
    a path that holds no parts is a ResultsError."""
    from bench.execute.migrate import migrate as rekey
    from bench.execute.runner import store_lock
    from bench.store import Store

    store = Store(results)
    store.require_parts("migrate")
    with store_lock(store, "bench migrate", on_note):
        return rekey(store.root)


@dataclass(frozen=True)
class Remeasured:
    """``bench measure``: rows written, and one line per row that could not be re-measured."""

    root: Path
    written: int
    problems: list[str]


def measure(metrics: Sequence[str], *, datasets: Iterable[str] = (), results: Path | str | None = None,
            data_dir: Path | str | None = None, config: Path | str | None = None, device: str = "cpu",
            on_note: Callable[[str], None] | None = None) -> Remeasured:
    """Decode kept bitstreams (``bench run --keep-bitstreams``) and store ``metrics`` for them,
    under the store's lock."""
    from bench.config import settings as config_module
    from bench.plan import datasets as dataset_registry
    from bench.config import metric_names
    from bench.plan.images import file_sha256
    from bench.config.provenance import new_provenance
    from bench.execute.remeasure import remeasure
    from bench.execute.runner import store_lock
    from bench.store import Store

    configured = config_module.load(Path(config) if config else None, codecs=())
    store = Store(results or configured.results)
    images = {}
    for name in list(datasets) or configured.datasets:
        for ref in dataset_registry.resolve(name, Path(data_dir) if data_dir else configured.data_dir, download=False):
            images[file_sha256(ref.path)] = ref.path
    names = metric_names.validate(list(metrics))
    with store_lock(store, "bench measure", on_note):
        written, problems = remeasure(store, images, names, new_provenance(), device)
    return Remeasured(store.root, written, problems)


def drift_run(request: "DriftRequest | None" = None, *, on_start: Callable[[str, int], None] | None = None,
              on_chain: Callable[[dict], None] | None = None, on_note: Callable[[str], None] | None = None,
              **fields: Any) -> "DriftSummary":
    """``bench drift run`` as a function: ``api.drift_run(schedules=("jpeg:75",), generations=5)``
    (or a ``bench.execute.drift.DriftRequest``); returns the rows written and the errors met."""
    from bench.execute.drift import DriftRequest, run_study

    if request is None:
        fields = {k: tuple(v) if k in ("schedules", "datasets", "metrics") else v for k, v in fields.items()}
        request = DriftRequest(**fields)
    return run_study(request, on_start, on_chain, on_note)


def drift_report(results: Path | str | None = None, *, metric: str = "psnr_rgb", threshold: float | None = None,
                 out: Path | str | Beside = Beside("drift"), config: Path | str | None = None,
                 on_removed: Callable[[Path], None] | None = None) -> list[Path]:
    """Metric against generation per schedule (plots) and the drift table (Markdown, LaTeX, CSV)
    under ``out`` (default: ``drift`` beside the store); the figures of ``metric`` of an earlier
    run that this one did not draw (a dataset no longer stored) are removed, each passed to
    ``on_removed``."""
    from bench.config import settings as config_module
    from bench.analysis.drift_summary import summary_table
    from bench.render.drift import owned_drift_files, plot_drift
    from bench.render.tables import write_all
    from bench.store import Store

    check.choice(metric, STORED_METRICS, "--metric")
    if threshold is not None:
        check.number(threshold, "--threshold", above=0)
    configured = config_module.load(Path(config) if config else None, codecs=())
    store = Path(results or configured.results)
    check.output_folder(output_path(out, store), "--out")
    rows = Store(store).read()
    threshold = threshold if threshold is not None else configured.drift.get("threshold_db", 1.0)
    table = summary_table(rows, metric, threshold)
    if table.empty:
        raise ResultsError("no drift rows stored; run `bench drift run` first")
    folder = output_path(out, store)
    written = list(plot_drift(rows, folder, metric, codec_order=colour_order(rows, config)))
    caption = (f"Generation loss in {metric} against the original: means over images; first crossing = first generation at least "
               f"{threshold:g} below generation 1; fixed point = identical bitstreams in consecutive generations")
    written += write_all(table, folder / f"drift-{metric}", caption, best={"mean drop": "min"})
    _removed(remove_stale(folder, owned_drift_files(metric), written), on_removed)
    return written


# -- figures from stored rows ------------------------------------------------------------------

def sweep_plot(codec: str, *, knob: str = "scale", fidelity: str = "psnr_rgb", datasets: Iterable[str] = (),
               results: Path | str | None = None, out: Path | str | Beside = Beside("plots"), where: Sequence[str] = (),
               config: Path | str | None = None) -> list[Path]:
    """Fidelity (PSNR or MSE) against LPIPS over one decoder option at fixed bitstreams, per
    dataset (Ma et al. 2021, Fig. 3a) under ``out`` (default: ``plots`` beside the store);
    returns the figures and the points table written."""
    from bench.analysis.select import select_rows
    from bench.analysis.sweep import sweep_points
    from bench.render.names import safe_name
    from bench.render.sweep import plot_sweep, points_markdown

    check.choice(fidelity, FIDELITIES, "--fidelity")
    store = results_folder(results, config)
    check.output_folder(output_path(out, store), "--out")
    rows = stored(store, config)
    filters = parse_where(where)
    rows = select_rows(rows, datasets=list(datasets))
    points = sweep_points(rows, codec, knob, filters)
    if points.empty:
        raise ResultsError(f"no successful rows of codec {codec!r} with decoder option {knob!r}"
                           f"{' matching ' + ' '.join(where) if where else ''} in {store}")
    out = output_path(out, store)
    written = plot_sweep(points, codec, knob, out, fidelity, codec_order=colour_order(rows, config))
    table = out / f"sweep-{safe_name(codec)}-{safe_name(knob)}.md"
    table.write_text(points_markdown(points, knob))
    return [*written, table]


def history_append(results: Path | str, *, history: Path | str = HISTORY, repo: Path | str = ".",
                   commit: str = "HEAD", machine: str | None = None) -> "HistoryAppend":
    """Record a store as ``commit`` of the git checkout ``repo`` on ``machine`` (default: the rows'
    host) in the history folder: one record per dataset, curve and rate point. Recording the same
    commit and machine again replaces its records."""
    import pandas as pd

    from bench.analysis.history import records
    from bench.config.commits import commit_info
    from bench.store.history import write_commit

    info = commit_info(Path(repo), commit)
    frame = records(stored(results), info, machine, pd.Timestamp.now(tz="UTC"))
    part, replaced = write_commit(Path(history), frame)
    return HistoryAppend(info.sha, info.subject, str(frame["machine"].iloc[0]), len(frame), part, replaced)


@dataclass(frozen=True)
class HistoryAppend:
    """What ``history_append`` recorded: the commit, its machine, how many records, the part
    written and whether it replaced an earlier recording of that commit on that machine."""

    commit: str
    subject: str
    machine: str
    records: int
    part: Path
    replaced: bool


@dataclass(frozen=True)
class HistoryReport:
    """``history_report``'s result: the page written, the steps table and the recorded commits
    git does not know."""

    out: Path
    steps: "pd.DataFrame"
    unknown: list[str]


def history_report(history: Path | str = HISTORY, *, repo: Path | str = ".", branch: str = "HEAD",
                   out: Path | str = Path("results/history.html"), json_out: Path | str | None = None,
                   config: Path | str | None = None) -> HistoryReport:
    """The history dashboard (one HTML page) of every recorded commit in ``branch``'s git order,
    with the steps detected on each curve; ``json_out`` also writes the steps as JSON."""
    from bench.analysis.history import order, regressions, series
    from bench.config.commits import ancestry
    from bench.render.history import render_history
    from bench.render.style import codec_colours
    from bench.store.history import read_history

    check.output_file(out, "--out")
    if json_out is not None:
        check.output_file(json_out, "--json")
    recorded = read_history(Path(history))
    if recorded.empty:
        raise ResultsError(f"{history}: no history recorded yet; run `bench history append --results RUN` first")
    ordered = order(recorded, ancestry(Path(repo), branch))
    derived = series(ordered.records)
    steps = regressions(derived, ordered)
    colours = codec_colours(sorted(recorded["codec"].unique()), colour_order(recorded, config))
    out = Path(out)
    output_folder(out.parent, "history dashboard", mark_existing=False)
    out.write_text(render_history(ordered, derived, steps, colours, f"the git history of {branch} in {Path(repo).resolve().name}"))
    if json_out is not None:
        keys = ["dataset", "curve", "machine", "metric", "commit_before", "commit_after", "before", "after", "change", "worse"]
        document = {"schema": 1, "steps": steps[keys].to_dict(orient="records"), "not_in_git": ordered.unknown}
        Path(json_out).write_text(json.dumps(document, indent=2) + "\n")
    return HistoryReport(out, steps, ordered.unknown)


def train(name: str, data: Sequence[Path], out: Path, *, steps: int = 1000, export: Path | None = None,
          options: Sequence[str] = ()) -> None:
    """Train (or resume training) a learned codec through the trainer registered under ``name``
    (``bench.registry``, group ``bench.trainers``: functions ``trainer(name, options: dict)``, so
    neither the command nor this module ever imports a codec); ``options`` are KEY=VALUE (JSON
    values)."""
    from bench import registry

    if name not in registry.names("trainer"):
        raise ConfigError(f"no trainer {name!r}; registered: {', '.join(registry.names('trainer')) or 'none'}")
    check.count(steps, "--steps", low=1, high=10 ** 9)
    for folder in data:
        if not Path(folder).is_dir():
            raise ConfigError(f"--data {folder}: not a folder; pass a folder of training images")
    check.output_folder(out, "--out")
    settings: dict[str, Any] = {"data": [str(d) for d in data], "out": str(out), "steps": steps}
    if export:
        settings["export"] = str(check.output_file(export, "--export"))
    settings.update(train_options(options))
    trainer = registry.load("trainer", name)  # imports the codec and torch: only once the flags are sound
    trainer(name, settings)


def train_options(items: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` flags as a mapping, each VALUE read as JSON (else kept as text); a
    flag without ``=`` or a key, a key bench sets itself, or a non-finite number is one line."""
    import math

    settings: dict[str, Any] = {}
    for item in items:
        key, equals, value = item.partition("=")
        if not equals or not key.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set batch=8")
        if key in ("data", "out", "steps", "export"):
            raise ConfigError(f"--set {key}: set by --{key}, not --set")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
        if isinstance(settings[key], float) and not math.isfinite(settings[key]):
            raise ConfigError(f"--set {key}={value}: expected a finite number")
    return settings
