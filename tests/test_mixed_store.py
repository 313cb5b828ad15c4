"""A store as a real study builds it: two datasets, curve codecs, single-rate learned codecs
with decoder options, learned codecs on fewer images. Every analysis command must work on it
with no flags, keep the datasets apart and say over how many images each curve was averaged."""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401 - registers the subcommands
from bench.analysis.paper import TableSettings
from bench.cli.app import app
from bench.render.report import ReportSettings, report_figures
from bench.store import read_rows

runner = CliRunner()
CONFIG = """
[run]
metrics = ["psnr_rgb", "lpips"]
jobs = 1
results = "{store}"

[codecs.jpeg]
rates = [20, 40, 60, 80, 95]

[codecs.jpeg-444]
impl = "jpeg"
params = {{ subsampling = "4:4:4" }}
rates = [20, 40, 60, 80, 95]

[codecs.webp]
rates = [20, 40, 60, 80, 95]

[codecs.invcompress]
rates = [1]

[codecs.iat]
rates = [0.0, 0.25, 0.5, 0.75, 1.0]

[codecs.ilc]
rates = [1]
decoder_options = [{{ z = "mode" }}, {{ z = "sample", temperature = 0.5, seed = 0 }}]

[codecs.probdec]
rates = [1]
decoder_options = [{{ scale = 0.0 }}, {{ scale = 1.0, seed = 0 }}]
"""


def crops(folder: Path, sources: list[np.ndarray], size: int = 64) -> Path:
    folder.mkdir(parents=True)
    for index, image in enumerate(sources):
        Image.fromarray(np.ascontiguousarray(image[100:100 + size, 150:150 + size])).save(folder / f"img{index}.png")
    return folder


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict[str, Path]:
    """sample-like and kodak-like folders; curve codecs on both, iat on 2 images, the single-rate
    learned codecs on 1 image of the second, as in the acceptance scenario."""
    from skimage import data

    root = tmp_path_factory.mktemp("study")
    first = crops(root / "photos", [data.astronaut(), data.chelsea(), data.coffee()])
    second = crops(root / "kodak-crops", [data.rocket(), data.astronaut()[::-1], data.coffee()[:, ::-1]])
    store = root / "store"
    config = root / "bench.toml"
    config.write_text(textwrap.dedent(CONFIG.format(store=store)))
    base = ["run", "--config", str(config)]
    for args in ([*base, "--dataset", str(first), "--codec", "jpeg", "--codec", "jpeg-444", "--codec", "webp"],
                 [*base, "--dataset", str(second), "--codec", "jpeg", "--codec", "jpeg-444", "--codec", "webp"],
                 [*base, "--dataset", str(second), "--codec", "iat", "--limit", "2"],
                 [*base, "--dataset", str(second), "--codec", "invcompress", "--codec", "ilc", "--codec", "probdec",
                  "--limit", "1"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
    return {"root": root, "store": store, "config": config, "first": first, "second": second}


def test_the_store_holds_what_the_scenario_says(study):
    rows = read_rows(study["store"])
    per_codec = rows[rows["dataset"] == str(study["second"])].groupby("codec")["image"].nunique().to_dict()
    assert per_codec == {"jpeg": 3, "jpeg-444": 3, "webp": 3, "iat": 2, "invcompress": 1, "ilc": 1, "probdec": 1}


def test_table_plot_and_report_work_with_no_flags(study, tmp_path):
    os.chdir(tmp_path)
    shutil.copy(study["config"], tmp_path / "bench.toml")
    for command in (["table"], ["plot"], ["report"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 0, f"{command}: {result.output}"
    beside = study["store"].parent  # outputs go beside the store bench.toml names
    tables = beside / "tables"
    assert {p.name for p in tables.iterdir()} == {Path(str(study["first"])).name.replace("/", "_"),
                                                  Path(str(study["second"])).name.replace("/", "_")} or \
        len(list(tables.iterdir())) == 2
    second = next(p for p in tables.iterdir() if "kodak-crops" in p.name)
    first = next(p for p in tables.iterdir() if "photos" in p.name)
    bd = (second / "bd-psnr_rgb.md").read_text()
    assert "each curve averaged over its own images" in bd and "n/a (one rate point)" in bd
    assert "| iat | 2 of 3 |" in bd and "paired with the anchor over 2 images (iat has 2, jpeg 3)" in bd
    assert "ilc (z=mode)" in bd and "ilc (z=sample)" in bd
    assert "means over the 3 images every curve has" in (first / "bd-psnr_rgb.md").read_text()
    assert "invcompress" not in (first / "bd-psnr_rgb.md").read_text()  # datasets kept apart
    plots = {p.name for p in (beside / "plots").iterdir()}
    assert any("kodak-crops" in name and name.endswith("psnr_rgb.png") for name in plots)
    report = (beside / "report.html").read_text()
    assert report.count("<h2 id=") == 4  # the metric definitions, two datasets and the environment
    assert "1 images" not in report and "own images (1–3 images)" in report


def test_own_images_state_each_curves_count(study, tmp_path):
    out = tmp_path / "t"
    result = runner.invoke(app, ["table", "--results", str(study["store"]), "--config", str(study["config"]),
                                 "--images", "own", "--out", str(out), "--resamples", "0"])
    assert result.exit_code == 0, result.output
    second = next(p for p in out.iterdir() if "kodak-crops" in p.name)
    points = pd.read_csv(second / "rd-points.csv")
    counts = points.groupby("curve")["n_images"].max()
    assert counts["jpeg"] == 3 and counts["iat"] == 2 and counts["invcompress"] == 1


def test_a_codec_keeps_its_colour_in_every_figure_of_a_report(study):
    rows = read_rows(study["store"])
    order = ("jpeg", "jpeg-444", "webp", "invcompress", "iat", "ilc", "probdec")
    colours: dict[str, set[str]] = {}
    for item in report_figures(rows, ReportSettings(tables=TableSettings(codec_order=order), codec_order=order)):
        for ax in item.figure.axes:
            for line in ax.get_lines():
                label = line.get_label()
                if not label.startswith("_"):
                    colours.setdefault(label.split(" (")[0], set()).add(line.get_color())
    assert {"jpeg", "webp", "iat", "ilc"} <= set(colours)
    assert all(len(found) == 1 for found in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == len(colours)  # and codecs differ


def test_the_report_renders_in_a_real_browser(study, tmp_path):
    """Every image decodes, the console stays clean and the page needs no network."""
    sync_playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed").sync_playwright
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--results", str(study["store"]), "--config", str(study["config"]),
                                 "--out", str(out), "--resamples", "50"])
    assert result.exit_code == 0, result.output
    messages, requests = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(offline=True)
        page = context.new_page()
        page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
        page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))
        page.on("request", lambda request: requests.append(request.url))
        page.goto(out.as_uri(), wait_until="load")
        images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert images and all(done and width > 0 for _, done, width in images), images
    assert not [m for m in messages if m.startswith(("error", "pageerror", "warning"))], messages
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert json.dumps(images)  # alt texts are plain strings
