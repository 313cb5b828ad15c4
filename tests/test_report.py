"""The HTML report."""

from __future__ import annotations

import html
import re
from pathlib import Path

from typer.testing import CliRunner

import bench.cli  # noqa: F401
from bench.cli.app import app

BASELINE = Path(__file__).resolve().parents[1] / "results" / "baseline" / "gate"
runner = CliRunner()


def test_report_is_one_self_contained_page(tmp_path):
    out = tmp_path / "report.html"
    result = runner.invoke(app, ["report", "--results", str(BASELINE), "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert page.count("data:image/png;base64,") >= 1 and "src='http" not in page
    assert "BD against jpeg" in page and "Environment" in page and "Failures (0)" in page
    assert "Pillow" in page and "95 % CI" in page and "Per-image RD points" in page


def test_report_names_metrics_in_words_defines_them_and_counts_one_image(tmp_path):
    """One image, JPEG and WebP: headings say "PSNR RGB", a section defines each metric from the
    schema, captions say what is drawn over which images, and the count reads "1 image"."""
    from PIL import Image
    from skimage import data

    from bench.schema import COLUMNS

    folder = tmp_path / "one"
    folder.mkdir()
    Image.fromarray(data.astronaut()[:176, 150:326]).save(folder / "a.png")  # MS-SSIM needs 161×161
    config = tmp_path / "bench.toml"
    config.write_text('[run]\ncodecs = ["jpeg", "webp"]\nmetrics = ["psnr_rgb", "ms_ssim"]\njobs = 1\n'
                      '[codecs.jpeg]\nrates = [20, 50, 80]\n[codecs.webp]\nrates = [20, 50, 80]\n')
    store, out = tmp_path / "store", tmp_path / "report.html"
    result = runner.invoke(app, ["run", "--config", str(config), "--dataset", str(folder), "--results", str(store)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["report", "--results", str(store), "--config", str(config), "--resamples", "0",
                                 "--out", str(out)])
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert "<h3>BD against jpeg: PSNR RGB</h3>" in page and "<h3>AUC: MS-SSIM dB</h3>" in page
    assert ": psnr_rgb</h3>" not in page and ": ms_ssim_db<" not in page
    descriptions = {c.name: c.description for c in COLUMNS}
    assert "<h2 id='metrics'>Metrics</h2>" in page
    for name, column in (("PSNR RGB", "psnr_rgb"), ("MS-SSIM dB", "ms_ssim_db"), ("bpp (bits per pixel)", "bpp")):
        assert f"<dt>{name}</dt><dd>{html.escape(descriptions[column])}" in page
    assert "Per-image RD points (1 image)" in page and "1 images" not in page
    assert re.search(r"<figcaption>PSNR RGB against bits per pixel, for each codec: the mean bpp and mean PSNR RGB "
                     r"over (the 1 image every curve has|each curve's own images \(1 image\)) at each rate parameter",
                     html.unescape(page))
    assert "one panel per image (1 image)" in page


def test_rd_figure_stems_split_into_dataset_metric_and_options_figure():
    from bench.render.report import _rd_stem

    metrics = ("psnr_rgb", "ms_ssim_db", "ms_ssim")
    assert _rd_stem("kodak-crops-ms_ssim_db", metrics) == ("kodak-crops", "ms_ssim_db", False)
    assert _rd_stem("kodak-psnr_rgb-options", metrics) == ("kodak", "psnr_rgb", True)
    assert _rd_stem("tmp_x_kodak-parrots-ms_ssim", metrics) == ("tmp_x_kodak-parrots", "ms_ssim", False)
