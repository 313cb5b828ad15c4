"""The summary `bench run` ends with: per-codec counts and means as data, a table that never
wraps, the failures and the next commands."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app, console
from bench.execute.summary import RunSummary, render

runner = CliRunner()
LONG = "jpeg-444-with-a-label-longer-than-a-narrow-terminal"


def row(codec: str, bpp: float | None = 1.0, psnr: float | None = 30.0, error: str | None = None, **extra) -> dict:
    return {"codec": codec, "image": "a.png", "rate": 50.0, "bpp": bpp, "psnr_rgb": psnr, "error": error,
            "decoder_options": "{}", **extra}


def test_means_are_over_successful_rows_and_failures_are_counted_per_codec():
    summary = RunSummary(planned=5, skipped=0)
    for r in (row("jpeg", 1.0, 30.0), row("jpeg", 2.0, 34.0), row("jpeg", None, None, error="boom"),
              row("webp", 0.5, float("nan")), row("webp", None, None, error="boom")):
        summary.add(r)
    jpeg, webp = summary.per_codec["jpeg"], summary.per_codec["webp"]
    assert (jpeg.written, jpeg.failed, jpeg.mean_bpp, jpeg.mean_psnr_rgb) == (3, 1, 1.5, 32.0)
    assert (webp.written, webp.failed, webp.mean_bpp, webp.mean_psnr_rgb) == (2, 1, 0.5, None)
    assert summary.failed == 2 and summary.errors["boom"] == 2


def test_lossless_rows_give_an_infinite_mean_psnr():
    summary = RunSummary(planned=1, skipped=0)
    summary.add(row("png", 8.0, math.inf))
    assert summary.per_codec["png"].mean_psnr_rgb == math.inf
    assert "inf dB" in render(summary)[1]


def test_off_target_matched_rows_are_listed_with_their_reason():
    summary = RunSummary(planned=2, skipped=0, results=Path("store"))
    within = json.dumps({"within": True, "reason": ""})
    off = json.dumps({"within": False, "reason": "target 0.01 bpp is below the reachable range"})
    summary.add(row("jpeg", 0.51, 30.0, target_bpp=0.5, rate_search=within))
    summary.add(row("jpeg", 0.3, 25.0, target_bpp=0.01, rate_search=off, rate=1.0))
    assert summary.per_codec["jpeg"].matched == 2 and summary.per_codec["jpeg"].off_target == 1
    (item,) = summary.off_target
    assert (item.codec, item.image, item.rate, item.bpp, item.target_bpp) == ("jpeg", "a.png", 1.0, 0.3, 0.01)
    lines = render(summary)
    assert lines[0].split()[-2:] == ["within", "target"] and lines[1].endswith("1/2")
    assert any(line.startswith("off target: jpeg a.png at rate 1: 0.3 bpp for target 0.01 (target 0.01 bpp is below")
               for line in lines)


def test_render_aligns_columns_and_names_the_next_commands():
    summary = RunSummary(planned=3, skipped=0, written=3, wall_s=1.25, results=Path("my store"))
    for r in (row(LONG, 1.0, 30.0), row("webp", 0.25, 31.5), row("webp", None, None, error="boom")):
        summary.add(r)
    lines = render(summary)
    header, long_row, webp_row = lines[:3]
    assert header.split()[:3] == ["codec", "rows", "failed"]
    assert long_row.split() == [LONG, "1", "0", "1.0000", "30.00", "dB"]
    assert webp_row.split() == ["webp", "2", "1", "0.2500", "31.50", "dB"]
    assert len(header) == len(long_row) == len(webp_row)  # right-aligned to the same width
    assert lines[3] == "wrote 3 rows (1 failed) in 1.2 s to my store"
    assert lines[4:] == ["next: bench plot --results 'my store'", "      bench report --results 'my store'",
                         "      bench table --results 'my store'"]


@pytest.fixture
def folder(tmp_path, photo) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:160, :200]).save(folder / "a.png")
    (folder / "broken.png").write_text("not an image")
    return folder


def config(tmp_path: Path) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(
        f'[run]\ncodecs = ["jpeg", "{LONG}"]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "store"\n'
        f'[codecs.jpeg]\nrates = [30, 60]\n[codecs.{LONG}]\nimpl = "jpeg"\nparams = {{ subsampling = "4:4:4" }}\nrates = [50]\n'
    )
    return path


def test_bench_run_prints_the_summary_on_a_narrow_terminal_and_exits_1_on_failures(tmp_path, folder, monkeypatch):
    monkeypatch.setattr(console, "width", 40)
    result = runner.invoke(app, ["run", "--config", str(config(tmp_path)), "--dataset", str(folder)])
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    jpeg = next(line for line in lines if line.startswith("jpeg "))
    long = next(line for line in lines if line.startswith(LONG))  # one line although wider than 40 columns
    assert jpeg.split()[:3] == ["jpeg", "4", "2"] and long.split()[:3] == [LONG, "2", "1"]
    assert float(jpeg.split()[3]) > 0 and jpeg.split()[-1] == "dB"
    assert any(line.startswith("wrote 6 rows (3 failed) in ") for line in lines)
    assert f"next: bench plot --results {tmp_path / 'store'}" in lines
    assert any("3×" in line and "not an image" in line for line in lines)  # the error list as before


def test_execute_returns_the_summary_as_data(tmp_path, folder):
    from bench.plan import datasets
    from bench.config.settings import load
    from bench.execute.driver import execute
    from bench.execute.worker import Settings
    from bench.plan.tasks import plan
    from bench.config.provenance import new_provenance
    from bench.store import Store

    cfg = load(config(tmp_path))
    tasks = plan(datasets.resolve(str(folder), None), cfg.selected_specs())
    summary = execute(tasks, 0, Settings(metrics=("psnr_rgb",)), Store(tmp_path / "store"), new_provenance())
    assert summary.written == 6 and summary.failed == 3 and summary.wall_s > 0
    assert summary.results == tmp_path / "store"
    stored = Store(tmp_path / "store").read(include_errors=False)
    means = stored.groupby("codec")["bpp"].mean()
    assert summary.per_codec["jpeg"].mean_bpp == pytest.approx(means["jpeg"])
    assert summary.per_codec[LONG].mean_psnr_rgb == pytest.approx(stored[stored["codec"] == LONG]["psnr_rgb"].mean())


def test_each_decoder_option_of_a_codec_has_its_own_line():
    """ILC decoded at z=mode (30 dB) and z=sample (9 dB): two lines, never one mean of both."""
    summary = RunSummary(planned=4, skipped=0)
    mode, sample = json.dumps({"z": "mode"}), json.dumps({"seed": 0, "temperature": 0.5, "z": "sample"})
    for options, psnr in ((mode, 30.0), (mode, 30.2), (sample, 9.0), (sample, 9.3)):
        summary.add(row("ilc", 0.5, psnr, decoder_options=options))
    summary.add_stored(row("jpeg", 1.0, 31.0))
    assert summary.per_codec["ilc (z=mode)"].mean_psnr_rgb == pytest.approx(30.1)
    assert summary.per_codec["ilc (seed=0, temperature=0.5, z=sample)"].mean_psnr_rgb == pytest.approx(9.15)
    lines = render(summary)
    assert any(line.startswith("ilc (z=mode) ") and line.endswith("30.10 dB") for line in lines)
    # the lines name each curve as figures do: only the options that tell a codec's curves apart
    assert any(line.startswith("ilc (z=sample) ") and line.endswith("9.15 dB") for line in lines)
    assert not any("20.1" in line for line in lines)  # no line averages the two decoders
