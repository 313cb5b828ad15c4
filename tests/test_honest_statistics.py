"""Statistics only on data they can describe, met through the CLI: a lossless point, a curve that
dips, a curve an interrupted run left incomplete, and names that are not plain words."""

from __future__ import annotations

import math
import re
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401 - registers the subcommands
from bench.analysis.auc import auc
from bench.analysis.bd import bd_rate_and_quality
from bench.analysis.curves import complete_block
from bench.cli.app import app
from bench.render.rd import rd_figures
from bench.store import Store
from tests.test_paper_tables import curve_rows

runner = CliRunner()


def table(tmp_path: Path, rows: list[dict], *flags: str) -> Path:
    """Write ``rows`` to a store, run ``bench table`` on it, return the dataset's table folder."""
    Store(tmp_path / "store").write(rows)
    out = tmp_path / "tables"
    result = runner.invoke(app, ["table", "--results", str(tmp_path / "store"), "--out", str(out), *flags])
    assert result.exit_code == 0, result.output
    return out / rows[0]["dataset"]


def plot_caption(tmp_path: Path, rows: list[dict]) -> str:
    """``bench plot`` on the store ``table`` wrote (it must draw the PSNR figure); that figure's
    caption and legend, drawn again in memory (the saved SVG holds its text as paths)."""
    out = tmp_path / "plots"
    result = runner.invoke(app, ["plot", "--results", str(tmp_path / "store"), "--out", str(out),
                                 "--metric", "psnr_rgb"])
    assert result.exit_code == 0, result.output
    assert (out / f"{rows[0]['dataset']}-psnr_rgb.png").is_file()
    (_, figure), = rd_figures(pd.DataFrame(rows), ["psnr_rgb"])
    ax = figure.axes[0]
    texts = [ax.get_title(loc="left"), *(t.get_text() for t in ax.get_legend().get_texts()),
             *(t.get_text() for t in ax.texts)]
    plt.close(figure)
    return "\n".join(texts)


def csv_rows(folder: Path, name: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{name}.csv", keep_default_na=False, na_values=[""])


def lossless_store() -> list[dict]:
    """A flat image beside a photo: JPEG at its top rate reproduces the flat image exactly."""
    rows = curve_rows("folder", "jpeg", ["flat", "photo"]) + curve_rows("folder", "webp", ["flat", "photo"], gain=1.0)
    for row in rows:
        if row["codec"] == "jpeg" and row["image"] == "flat.png" and row["rate"] == 90:
            row["psnr_rgb"] = math.inf
    return rows


@pytest.mark.parametrize("interpolation", ["cubic", "linear"])
def test_a_lossless_point_leaves_its_curve_without_an_auc_and_every_table_written(tmp_path, interpolation):
    folder = table(tmp_path, lossless_store(), "--resamples", "0", "--auc-interpolation", interpolation)
    assert len(list(folder.glob("*.md"))) == 5
    aucs = csv_rows(folder, "auc-psnr_rgb").set_index("curve")
    assert math.isnan(aucs.loc["jpeg", "auc"])
    assert aucs.loc["jpeg", "note"] == "n/a (the curve has non-finite values (infinite quality: a lossless point))"
    assert math.isfinite(aucs.loc["webp", "auc"])
    jpeg_row = next(line for line in (folder / "auc-psnr_rgb.md").read_text().splitlines() if line.startswith("| jpeg"))
    assert cells(jpeg_row)[3].strip() == "–"  # not "inf"
    assert "lossless" in plot_caption(tmp_path, lossless_store())  # the point is drawn at the edge, named


def test_a_curve_that_dips_has_neither_bd_nor_auc(tmp_path):
    rows = curve_rows("kodak", "jpeg", ["k1", "k2"]) + curve_rows("kodak", "webp", ["k1", "k2"], gain=1.0)
    for row in rows:  # one webp point 3 dB lower than measured: the curve falls between 30 and 50
        if row["codec"] == "webp" and row["rate"] == 50:
            row["psnr_rgb"] -= 3.0
    folder = table(tmp_path, rows, "--resamples", "0")
    aucs = csv_rows(folder, "auc-psnr_rgb").set_index("curve")
    bds = csv_rows(folder, "bd-psnr_rgb").set_index("curve")
    assert math.isnan(aucs.loc["webp", "auc"]) and "not strictly increasing" in aucs.loc["webp", "note"]
    assert math.isnan(bds.loc["webp", "bd_rate"]) and "not strictly increasing" in bds.loc["webp", "note"]
    # the range is the one of the curves with an AUC, so the refused curve does not narrow it
    assert (aucs["bpp_low"].iloc[0], aucs["bpp_high"].iloc[0]) == pytest.approx((0.2, 1.8))


def test_cubic_needs_four_points_and_says_so(tmp_path):
    rows = curve_rows("kodak", "jpeg", ["k1"]) + curve_rows("kodak", "iat", ["k1"], rates=(10, 30, 50), gain=1.0)
    folder = table(tmp_path, rows, "--resamples", "0")
    assert csv_rows(folder, "auc-psnr_rgb").set_index("curve").loc["iat", "note"] == "n/a (3 rate points; cubic needs 4)"
    linear = table(tmp_path / "linear", rows, "--resamples", "0", "--auc-interpolation", "linear")
    assert math.isfinite(csv_rows(linear, "auc-psnr_rgb").set_index("curve").loc["iat", "auc"])


HALF = (10, 14, 18, 22, 26, 30)
LEVELS = tuple(range(10, 94, 4))  # 21 levels, as IAT's quality sweep


def half_finished_store() -> list[dict]:
    """IAT stopped half way: 21 levels on k1, the first 6 of them on k2; JPEG on both."""
    rows = curve_rows("kodak", "jpeg", ["k1", "k2"], rates=HALF)
    rows += curve_rows("kodak", "iat", ["k1"], rates=LEVELS, gain=1.5)
    rows += [row for row in curve_rows("kodak", "iat", ["k1", "k2"], rates=HALF, gain=1.5) if row["image"] == "k2.png"]
    return rows


def test_an_incomplete_curve_is_averaged_over_one_image_set_everywhere(tmp_path):
    folder = table(tmp_path, half_finished_store(), "--resamples", "0")
    said = "6 of 27 measurements left out so that every point averages the same 1 image"
    points = csv_rows(folder, "rd-points")
    iat = points[points["curve"] == "iat"].sort_values("bpp")
    assert len(iat) == 21 and set(iat["n_images"]) == {1}  # k1's 21 levels; no 2-image means among them
    assert f"iat: {said}" in (folder / "rd-points.md").read_text().splitlines()[0]
    bds = csv_rows(folder, "bd-psnr_rgb").set_index("curve")
    aucs = csv_rows(folder, "auc-psnr_rgb").set_index("curve")
    assert bds.loc["iat", "note"].startswith(said) and aucs.loc["iat", "note"] == said
    # the BD and AUC are those of the RD points the table prints (BD paired with JPEG on k1)
    per_image = csv_rows(folder, "rd-points-per-image")
    anchor = per_image[(per_image["curve"] == "jpeg") & (per_image["image"] == "k1.png")]
    rate, quality = bd_rate_and_quality(anchor["bpp"], anchor["psnr_rgb"], iat["bpp"], iat["psnr_rgb"])
    assert (bds.loc["iat", "bd_rate"], bds.loc["iat", "bd_quality"]) == pytest.approx((rate, quality), abs=1e-9)
    low, high = aucs.loc["iat", "bpp_low"], aucs.loc["iat", "bpp_high"]
    assert aucs.loc["iat", "auc"] == pytest.approx(auc(iat["bpp"], iat["psnr_rgb"], low, high), abs=1e-9)
    caption = plot_caption(tmp_path, half_finished_store())
    assert "iat (n=1)" in caption and said in caption and "n=1–2" not in caption


def test_the_complete_block_of_a_staircase_keeps_the_most_measurements():
    def rows(cells: dict[str, tuple]) -> pd.DataFrame:
        return pd.DataFrame([{"image": image, "rate": rate} for image, rates in cells.items() for rate in rates])

    # image by image: 24 images done at 10 rates, the 25th stopped after 2 -> 24 x 10, not 25 x 2
    done = {f"i{k}": tuple(range(10)) for k in range(24)}
    block = complete_block(rows({**done, "i24": (0, 1)}))
    assert (len(block.images), len(block.rates), block.dropped) == (24, 10, 2)
    # rate by rate: 6 images at 4 rates, 2 of them at a 5th -> every image at the finished rates
    block = complete_block(rows({**{f"i{k}": (0, 1, 2, 3) for k in range(4)}, "i4": (0, 1, 2, 3, 4),
                                 "i5": (0, 1, 2, 3, 4)}))
    assert (len(block.images), sorted(block.rates), block.dropped) == (6, [0, 1, 2, 3], 2)


def cells(line: str) -> list[str]:
    """A Markdown table row's cells, split at the pipes that are not escaped."""
    return re.split(r"(?<!\\)\|", line.strip())[1:-1]


def test_names_cannot_break_a_markdown_or_latex_table(tmp_path):
    names = ["a|b", "x^~{}", "line\nbreak", "p&q%r$s#t_u\\v"]
    rows = curve_rows("set_1", "jpeg", names) + curve_rows("set_1", "web|p", names, gain=1.0)
    folder = table(tmp_path, rows, "--resamples", "0")
    for name in ("rd-points-per-image", "bd-psnr_rgb-per-image", "bd-psnr_rgb", "rd-points"):
        lines = (folder / f"{name}.md").read_text().splitlines()
        assert lines[1] == "" and all(len(cells(line)) == len(cells(lines[2])) for line in lines[2:]), name
    markdown = (folder / "rd-points-per-image.md").read_text()
    assert r"| a\|b.png | web\|p |" in markdown and "| line break.png |" in markdown
    latex = (folder / "rd-points-per-image.tex").read_text()
    assert r"x\textasciicircum{}\textasciitilde{}\{\}.png" in latex
    assert r"p\&q\%r\$s\#t\_u\textbackslash{}v.png" in latex and "web|p" in latex
    assert r"\caption{set\_1:" in latex
    back = csv_rows(folder, "rd-points-per-image")  # the csv module's quoting: names read back whole
    assert {f"{name}.png" for name in names} == set(back["image"]) and set(back["curve"]) == {"jpeg", "web|p"}
