"""Which images each comparison uses, on a store as a study leaves it: JPEG measured on three
Kodak images, WebP on one. Nothing may be dropped without the output saying so; a BD pairs its
two curves on the images both have; a published mean is an anchor only for a full dataset."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from bench import api

REPO = Path(__file__).resolve().parents[1]
GOLDEN_STORE = REPO / "tests" / "data" / "kodak-jpeg-webp"
GOLDEN_BD = REPO / "tests" / "data" / "kodak-jpeg-webp-bd.json"
RATES = "[15, 30, 50, 70, 90]"


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, kodak_module_dir) -> tuple[Path, Path]:
    """Kodak: jpeg on kodim01-03, webp on kodim01 (five rates each, PSNR only)."""
    root = tmp_path_factory.mktemp("mixed")
    config = root / "bench.toml"
    config.write_text(f'[run]\nmetrics = ["psnr_rgb"]\njobs = 1\nresults = "{root / "store"}"\n'
                      f"data_dir = \"{kodak_module_dir.parent}\"\n[codecs.jpeg]\nrates = {RATES}\n[codecs.webp]\nrates = {RATES}\n")
    api.run(config=config, datasets=["kodak"], codecs=["jpeg"], limit=3)
    api.run(config=config, datasets=["kodak"], codecs=["webp"], limit=1)
    return root, config


def test_rd_points_and_auc_use_each_curves_own_images(mixed):
    root, config = mixed
    tables = api.table(config=config, resamples=0, out=None)
    points = tables.points.groupby("curve")["n_images"].unique()
    assert list(points["jpeg"]) == [3] and list(points["webp"]) == [1]
    auc = tables.auc["psnr_rgb"].set_index("curve")
    assert auc.loc["jpeg", "images"] == 3 and auc.loc["webp", "images"] == 1
    assert math.isfinite(auc.loc["jpeg", "auc"]) and math.isfinite(auc.loc["webp", "auc"])


def test_a_bd_pairs_the_curve_with_the_anchor_on_the_images_both_have(mixed):
    root, config = mixed
    tables = api.table(config=config, resamples=20, out=None)
    webp = tables.bd["psnr_rgb"].set_index("curve").loc["webp"]
    assert (webp["images"], webp["images_of"]) == (1, 3)
    assert "paired with the anchor over 1 image (webp has 1, jpeg 3)" in webp["note"]
    assert "no interval (one image)" in webp["note"]
    # the same BD as the anchor restricted by hand to kodim01
    rows = api.rows(config=config)
    one = rows[rows["image"] == "kodim01.png"]
    from bench.analysis.bd import bd_rate_and_quality

    jpeg, mine = (one[one["codec"] == c].sort_values("rate") for c in ("jpeg", "webp"))
    expected, _ = bd_rate_and_quality(jpeg["bpp"], jpeg["psnr_rgb"], mine["bpp"], mine["psnr_rgb"])
    assert webp["bd_rate"] == pytest.approx(expected, abs=1e-12)


def test_the_table_files_say_one_of_three(mixed, tmp_path):
    root, config = mixed
    files = api.table(config=config, resamples=0, out=tmp_path).files
    markdown = (tmp_path / "kodak" / "bd-psnr_rgb.md").read_text()
    webp_line = next(line for line in markdown.splitlines() if line.startswith("| webp "))
    assert "| 1 of 3 |" in webp_line and "paired with the anchor" in webp_line
    csv = pd.read_csv(tmp_path / "kodak" / "bd-psnr_rgb.csv").set_index("curve")
    assert csv.loc["webp", "images"] == 1 and csv.loc["webp", "images_of"] == 3
    assert csv["bd_rate"].dtype == float and math.isnan(csv.loc["webp", "bd_rate_low"])
    assert any(path.suffix == ".tex" for path in files)


def test_common_still_cuts_every_curve_to_one_intersection(mixed):
    root, config = mixed
    tables = api.table(config=config, images="common", resamples=0, out=None)
    assert set(tables.points["n_images"]) == {1}
    assert tables.bd["psnr_rgb"].set_index("curve").loc["webp", "note"] == ""


def test_a_published_mean_anchors_only_a_full_dataset(mixed):
    root, config = mixed
    bd = api.table(config=config, anchor="published:jpeg", resamples=0, out=None).bd["psnr_rgb"].set_index("curve")
    for curve, own in (("jpeg", 3), ("webp", 1)):
        assert math.isnan(bd.loc[curve, "bd_rate"])
        assert bd.loc[curve, "note"] == (f"n/a (measured over {own} of the 24 images the published mean covers; "
                                         "--published-partial computes it anyway)")
    forced = api.table(config=config, anchor="published:jpeg", resamples=0, published_partial=True,
                       out=None).bd["psnr_rgb"].set_index("curve")
    assert math.isfinite(forced.loc["jpeg", "bd_rate"])
    assert forced.loc["jpeg", "note"].startswith("forced with --published-partial: measured over 3 of the 24 images")


def test_every_legend_label_carries_its_n(mixed, tmp_path):
    import matplotlib.pyplot as plt

    from bench.render.rd import rd_figures

    root, config = mixed
    rows = api.rows(config=config)
    for stem, fig in rd_figures(rows, ("psnr_rgb",)):
        labels = [text.get_text() for text in fig.axes[0].get_legend().get_texts()]
        assert sorted(labels) == ["jpeg (n=3)", "webp (n=1)"]
        assert "n differs between curves" in fig.axes[0].get_title(loc="left")
        plt.close(fig)


def test_a_full_kodak_store_gives_the_same_bd_and_intervals_as_before():
    """Regression: 24 Kodak images, JPEG and WebP at four qualities (a stored run); the BD numbers
    and their bootstrap intervals equal those the harness gave before per-pair image sets."""
    golden = json.loads(GOLDEN_BD.read_text())
    for mode, expected in golden.items():
        for images in ("own", "common"):
            tables = api.table(GOLDEN_STORE, mode=mode, images=images, out=None)
            bd = tables.bd["psnr_rgb"].set_index("curve")
            for row in expected:
                for column, value in row.items():
                    if column != "curve":
                        assert bd.loc[row["curve"], column] == pytest.approx(value, rel=0, abs=1e-12), (mode, column)
