"""Where analysis commands write by default: beside the store they read, so a second study's
tables and figures never land among the first's; and a command's stale files of an earlier run
in that place (another anchor's per-image BD, an options figure no longer drawn) are removed."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401 - registers the subcommands
from bench.cli.app import app
from bench.outputs import Beside
from bench.schema import METRIC_COLUMNS, SCHEMA_VERSION
from bench.store import Store

runner = CliRunner()
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
MODE = json.dumps({"z": "mode"})
SAMPLE = json.dumps({"seed": 0, "z": "sample"})


def synthetic_rows(curves: dict[tuple[str, str], tuple[float, ...]], images: int = 3) -> list[dict]:
    """Successful kodak rows per (codec, decoder options) at the given rates: quality rises with
    rate, differs per image; a curve given one rate is a single-rate learned codec."""
    rows = []
    for c, ((codec, options), rates) in enumerate(curves.items()):
        for i in range(images):
            for rate in rates:
                row = {m: None for m in METRIC_COLUMNS}
                key = hashlib.sha256(f"{codec}{options}{i}{rate}".encode()).hexdigest()
                row.update({"key": key, "dataset": "kodak", "codec": codec, "decoder_options": options, "rate": rate,
                            "image": f"img{i}.png", "image_sha256": hashlib.sha256(bytes([i])).hexdigest(),
                            "bpp": rate / 40 + 0.05 * i, "encode_s": 0.01, "decode_s": 0.01, "error": None,
                            "generation": 1, "chain": "", "params": "{}", "schema_version": SCHEMA_VERSION, "created_utc": T0,
                            "psnr_rgb": 25 + rate / 10 + i - c, "lpips": 0.5 - rate / 400 + 0.01 * i + 0.02 * c})
                rows.append(row)
    return rows


def write_store(root: Path, curves: dict[tuple[str, str], tuple[float, ...]]) -> Path:
    """A store of ``curves`` at ``root`` (its parts folder), as `bench run` would leave it."""
    Store(root).write(synthetic_rows(curves))
    return root


def bench(*args: str) -> str:
    result = runner.invoke(app, [*map(str, args)])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def study(tmp_path, monkeypatch) -> Path:
    """A second study's store, ``study2/parts``, read from a working directory that holds none."""
    monkeypatch.chdir(tmp_path)
    Path("bench.toml").write_text("")
    return write_store(tmp_path / "study2" / "parts", {("jpeg", "{}"): (20, 50, 80), ("webp", "{}"): (20, 50, 80)})


def test_beside_names_the_folder_next_to_the_store():
    assert Beside("tables").of(Path("results/parts")) == Path("results/tables")
    assert Beside("report.html").of(Path("/x/study/parts/")) == Path("/x/study/report.html")
    assert Beside("plots").of(Path(".")) == Path.cwd().parent / "plots"


def test_table_plot_and_report_write_beside_a_non_default_store(study, tmp_path):
    bench("table", "--results", study, "--resamples", "0", "-m", "psnr_rgb")
    bench("plot", "--results", study, "-m", "psnr_rgb")
    bench("report", "--results", study, "--resamples", "0")
    assert (tmp_path / "study2" / "tables" / "kodak" / "bd-psnr_rgb.md").is_file()
    assert (tmp_path / "study2" / "plots" / "kodak-psnr_rgb.png").is_file()
    assert (tmp_path / "study2" / "report.html").is_file()
    assert not (tmp_path / "results").exists()  # nothing where the default store's outputs go


def test_a_stale_table_of_another_anchor_is_removed_and_said(study, tmp_path):
    folder = tmp_path / "study2" / "tables" / "kodak"
    bench("table", "--results", study, "--resamples", "0", "-m", "psnr_rgb", "--mode", "per-image")
    assert (folder / "bd-psnr_rgb-per-image.csv").is_file()
    keep = folder / "notes.md"
    keep.write_text("the user's own file")
    output = bench("table", "--results", study, "--resamples", "0", "-m", "psnr_rgb", "--anchor", "published:jpeg")
    assert not any(folder.glob("bd-psnr_rgb-per-image.*"))
    assert "removed" in output and "bd-psnr_rgb-per-image.csv" in output
    assert keep.is_file() and (folder / "rd-points.csv").is_file()


def test_an_options_figure_no_longer_drawn_is_removed(study, tmp_path):
    plots = tmp_path / "study2" / "plots"
    write_store(study, {("ilc", MODE): (1,), ("ilc", SAMPLE): (1,)})
    bench("plot", "--results", study, "-m", "psnr_rgb")
    assert (plots / "kodak-psnr_rgb-options.png").is_file()
    crops = plots / "crops-kodak-img0-0.5bpp.png"
    crops.write_bytes(b"another command's file")
    bench("plot", "--results", study, "-m", "psnr_rgb", "--codec", "jpeg", "--codec", "webp")
    assert not any(plots.glob("kodak-psnr_rgb-options.*")) and (plots / "kodak-psnr_rgb.png").is_file()
    assert crops.is_file()


def test_drift_report_owns_only_its_metrics_files(tmp_path):
    from bench.outputs import remove_stale
    from bench.render.drift import owned_drift_files

    names = ["drift-kodak-psnr_rgb.png", "drift-old-psnr_rgb.svg", "drift-psnr_rgb.md", "drift-kodak-lpips.png",
             "drift-lpips.md", "notes.md"]
    for name in names:
        (tmp_path / name).write_text("")
    written = [tmp_path / "drift-kodak-psnr_rgb.png", tmp_path / "drift-psnr_rgb.md"]
    removed = remove_stale(tmp_path, owned_drift_files("psnr_rgb"), written)
    assert [p.name for p in removed] == ["drift-old-psnr_rgb.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(set(names) - {"drift-old-psnr_rgb.svg"})
