"""Tables over mixed stores: per dataset, one-rate codecs as notes, fair image sets, bootstrap
intervals checked by hand, headers that read as words."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from bench.analysis.aggregate import auc_table, bd_table
from bench.analysis.per_image_bd import per_image_bd
from bench.analysis.bd import bd_rate_and_quality
from bench.analysis.bootstrap import ImageMatrix, bd_intervals, resample_weights
from bench.analysis.paper import TableSettings, paper_tables
from bench.render.tables import bd_display, write_paper_tables
from bench.schema import METRIC_COLUMNS
from bench.store import Store

RATES = (10, 30, 50, 70, 90)


def curve_rows(dataset: str, codec: str, images: list[str], rates=RATES, options: str = "{}",
               gain: float = 0.0, spread: float = 0.0) -> list[dict]:
    """Rows of one synthetic codec: PSNR = 30 + 10·log10(bpp) + gain + a per-image offset."""
    rows = []
    for i, image in enumerate(images):
        for rate in rates:
            bpp = (rate / 50) * (1 + spread * ((i * 7) % 5 - 2) / 10)
            row = {m: None for m in METRIC_COLUMNS}
            row.update({"key": hashlib.sha256(f"{dataset}-{codec}-{options}-{image}-{rate}".encode()).hexdigest(),
                        "created_utc": datetime(2026, 1, 1, tzinfo=timezone.utc), "dataset": dataset, "codec": codec,
                        "codec_impl": codec, "decoder_options": options, "rate": float(rate), "image": f"{image}.png",
                        "image_sha256": image, "bpp": bpp, "psnr_rgb": 30 + 10 * math.log10(bpp) + gain + 0.3 * i,
                        "encode_s": 0.01, "decode_s": 0.02, "error": None, "generation": 1, "chain": "", "params": "{}"})
            rows.append(row)
    return rows


def mixed_rows() -> pd.DataFrame:
    """Two datasets; on kodak a curve codec over 4 images, a better one over 3, a single-rate
    learned codec on 1 image with two decoder options."""
    images = ["k1", "k2", "k3", "k4"]
    rows = curve_rows("sample", "jpeg", ["s1", "s2"]) + curve_rows("sample", "webp", ["s1", "s2"], gain=2.0)
    rows += curve_rows("kodak", "jpeg", images) + curve_rows("kodak", "webp", images[:3], gain=1.0, spread=0.5)
    for scale in (0.0, 1.0):
        rows += curve_rows("kodak", "probdec", ["k1"], rates=(1,), options=json.dumps({"scale": scale}), gain=0.5)
    return pd.DataFrame(rows)


def test_a_single_rate_codec_gets_a_note_not_an_error():
    table = bd_table(mixed_rows(), "jpeg", resamples=50)
    kodak = table[table["dataset"] == "kodak"].set_index("curve")
    assert kodak.loc["probdec (scale=0.0)", "note"] == "n/a (one rate point)"
    assert math.isnan(kodak.loc["probdec (scale=1.0)", "bd_rate"])
    assert kodak.loc["jpeg", "note"] == "anchor" and kodak.loc["jpeg", "bd_rate"] == 0.0
    assert set(table["dataset"]) == {"sample", "kodak"}
    auc = auc_table(mixed_rows()).set_index(["dataset", "curve"])
    assert auc.loc[("kodak", "probdec (scale=0.0)"), "note"] == "n/a (one rate point)"
    assert np.isfinite(auc.loc[("kodak", "webp"), "auc"])


def test_common_means_use_the_images_every_curve_has():
    rows = mixed_rows()
    common = bd_table(rows, "jpeg", images="common", resamples=0).set_index(["dataset", "curve"])
    own = bd_table(rows, "jpeg", resamples=0).set_index(["dataset", "curve"])
    assert common.loc[("kodak", "webp"), "images"] == 1  # probdec has only k1
    assert common.loc[("sample", "webp"), "images"] == 2
    assert own.loc[("kodak", "jpeg"), "images"] == 4 and own.loc[("kodak", "webp"), "images"] == 3
    assert own.loc[("kodak", "webp"), "images_of"] == 4  # paired with jpeg over the 3 images both have
    no_probdec = rows[rows["codec"] != "probdec"]
    assert bd_table(no_probdec, "jpeg", images="common", resamples=0).set_index(["dataset", "curve"]).loc[("kodak", "webp"), "images"] == 3


def test_bd_of_a_pure_gain_recovers_it():
    rows = pd.DataFrame(curve_rows("d", "a", ["i1", "i2", "i3"]) + curve_rows("d", "b", ["i1", "i2", "i3"], gain=1.0))
    table = bd_table(rows, "a", resamples=100).set_index("curve")
    assert table.loc["b", "bd_quality"] == pytest.approx(1.0, abs=1e-6)
    assert table.loc["b", "bd_rate"] == pytest.approx((10 ** -0.1 - 1) * 100, abs=1e-4)


def test_bootstrap_matches_a_hand_computation():
    images = [f"i{n}" for n in range(6)]
    rows = pd.DataFrame(curve_rows("d", "a", images) + curve_rows("d", "b", images, gain=0.7, spread=1.0))
    names = [f"{image}.png" for image in images]
    anchor = ImageMatrix.from_rows(rows[rows["codec"] == "a"], "psnr_rgb", names)
    test = ImageMatrix.from_rows(rows[rows["codec"] == "b"], "psnr_rgb", names)
    rate_ci, quality_ci = bd_intervals(anchor, test, resamples=40, seed=3)
    # by hand: the same seeded draws, mean curves over each draw, their BDs, the 2.5/97.5 percentiles
    draws = np.random.default_rng(3).integers(0, len(images), size=(40, len(images)))
    rates, qualities = [], []
    for draw in draws:
        chosen = [names[k] for k in draw]
        means = {codec: pd.concat([rows[(rows["codec"] == codec) & (rows["image"] == im)] for im in chosen])
                 .groupby("rate")[["bpp", "psnr_rgb"]].mean() for codec in ("a", "b")}
        r, q = bd_rate_and_quality(means["a"]["bpp"], means["a"]["psnr_rgb"], means["b"]["bpp"], means["b"]["psnr_rgb"])
        rates.append(r)
        qualities.append(q)
    assert rate_ci.low == pytest.approx(np.percentile(rates, 2.5), abs=1e-9)
    assert rate_ci.high == pytest.approx(np.percentile(rates, 97.5), abs=1e-9)
    assert quality_ci.low == pytest.approx(np.percentile(qualities, 2.5), abs=1e-9)
    assert rate_ci.resamples == 40 and rate_ci.failed == 0
    assert resample_weights(6, 40, 3).sum(axis=1).tolist() == [6.0] * 40


def test_the_interval_shrinks_as_images_are_added():
    widths = []
    for n in (5, 16, 64):
        images = [f"i{k}" for k in range(n)]
        rng = np.random.default_rng(1)
        rows = curve_rows("d", "a", images)
        test = curve_rows("d", "b", images)
        for row in test:  # each image gains a different amount: the spread the interval measures
            row["psnr_rgb"] += 1.0 + rng.normal(0, 0.5) if row["rate"] == 10 else 0.0
        rows = pd.DataFrame(rows + test)
        table = bd_table(rows, "a", resamples=300, seed=0).set_index("curve")
        widths.append(table.loc["b", "bd_quality_high"] - table.loc["b", "bd_quality_low"])
    assert widths[0] > widths[1] > widths[2] > 0


def test_per_image_bd_has_one_row_per_image_and_curve():
    table = per_image_bd(mixed_rows(), "jpeg", images="own")
    kodak_webp = table[(table["dataset"] == "kodak") & (table["curve"] == "webp")]
    assert sorted(kodak_webp["image"]) == ["k1.png", "k2.png", "k3.png"]
    assert kodak_webp["bd_rate"].lt(0).all()


def test_tables_are_written_per_dataset_with_word_headers(tmp_path):
    tables = paper_tables(mixed_rows(), TableSettings(resamples=20))
    written = write_paper_tables(tables, tmp_path)
    assert {p.parent.name for p in written} == {"sample", "kodak"}
    md = (tmp_path / "kodak" / "bd-psnr_rgb.md").read_text()
    assert "| codec | images | points | BD-rate % | BD-rate 95 % CI |" in md
    assert "n/a (one rate point)" in md and "-0.00" not in md
    assert "each curve averaged over its own images" in md and "| 3 of 4 |" in md
    tex = (tmp_path / "sample" / "bd-psnr_rgb.tex").read_text()
    assert tex.count(r"\textbf{") == 2  # best BD-rate and best BD-PSNR among sample's codecs only
    auc = (tmp_path / "kodak" / "auc-psnr_rgb.md").read_text()
    assert "cubic-spline" in auc and "AUC PSNR RGB (dB·bpp)" in auc
    for name in ("rd-points", "rd-points-per-image", "bd-psnr_rgb-per-image"):
        assert (tmp_path / "kodak" / f"{name}.csv").stat().st_size > 0
    points = pd.read_csv(tmp_path / "kodak" / "rd-points.csv")
    assert {"bpp_std", "psnr_rgb_std", "n_images", "encode_s", "decode_s"} <= set(points.columns)
    assert points["bpp"].dtype == float  # CSV cells are numbers, not display strings


def test_display_shows_the_anchor_as_zero_without_an_interval():
    table = bd_table(mixed_rows(), "jpeg", resamples=20)
    shown = bd_display(table[table["dataset"] == "sample"], "psnr_rgb").set_index("codec")
    assert shown.loc["jpeg", "BD-rate %"] == "0.00" and shown.loc["jpeg", "BD-rate 95 % CI"] == "–"
    # two images: no interval, and the note says why rather than printing a "95 % CI" over 2 images
    assert shown.loc["webp", "BD-rate 95 % CI"] == "–"
    assert shown.loc["webp", "note"] == "no interval (2 images; a bootstrap interval needs at least 5)"
    eight = pd.DataFrame(curve_rows("d", "a", [f"i{k}" for k in range(8)])
                         + curve_rows("d", "b", [f"i{k}" for k in range(8)], gain=0.5, spread=0.5))
    shown = bd_display(bd_table(eight, "a", resamples=20), "psnr_rgb").set_index("codec")
    assert shown.loc["b", "BD-rate 95 % CI"].startswith("[-") and shown.loc["b", "note"] == ""


def test_table_command_on_a_mixed_store_exits_0(tmp_path):
    import bench.cli  # noqa: F401 - registers the subcommands
    from bench.cli.app import app

    Store(tmp_path / "store").write(mixed_rows().to_dict("records"))
    result = CliRunner().invoke(app, ["table", "--results", str(tmp_path / "store"), "--out", str(tmp_path / "t"),
                                      "--resamples", "20"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "kodak" / "bd-psnr_rgb.tex").is_file()
    narrowed = CliRunner().invoke(app, ["table", "--results", str(tmp_path / "store"), "--out", str(tmp_path / "n"),
                                        "--dataset", "kodak", "--codec", "jpeg", "--codec", "webp", "--resamples", "0",
                                        "--images", "common",
                                        "--auc-range", "0.3", "1.5"])
    assert narrowed.exit_code == 0, narrowed.output
    assert not (tmp_path / "n" / "sample").exists()
    assert "3 images every curve has" in (tmp_path / "n" / "kodak" / "bd-psnr_rgb.md").read_text()
    assert "[0.3000, 1.5000] bpp, given with --auc-range" in (tmp_path / "n" / "kodak" / "auc-psnr_rgb.md").read_text()
    bad = CliRunner().invoke(app, ["table", "--results", str(tmp_path / "store"), "--codec", "nope"])
    assert bad.exit_code != 0


def test_matched_rate_rows_stay_out_of_the_curves():
    rows = mixed_rows()
    matched = pd.DataFrame(curve_rows("kodak", "jpeg", ["k1", "k2"], rates=(37,)))
    matched["target_bpp"] = 0.75
    matched["key"] = matched["key"] + "-matched"
    rows["target_bpp"] = float("nan")
    combined = pd.concat([rows, matched], ignore_index=True)
    plain = bd_table(rows, "jpeg", resamples=0)
    assert bd_table(combined, "jpeg", resamples=0)["bd_rate"].equals(plain["bd_rate"])


def test_identical_files_under_two_names_count_as_two_images():
    names = ["v", "w", "x", "y", "z"]
    rows = pd.DataFrame(curve_rows("d", "a", names) + curve_rows("d", "b", names, gain=1.0))
    rows["image_sha256"] = "same-bytes"  # byte-identical files: only the name tells them apart
    table = bd_table(rows, "a", resamples=20).set_index("curve")
    assert table.loc["b", "images"] == 5 and table.loc["b", "resamples"] == 20


def test_a_published_anchor_gives_a_bd_without_an_interval():
    rows = pd.DataFrame(curve_rows("kodak", "b", ["i1", "i2", "i3"], gain=1.0))
    published = pd.DataFrame({"dataset": "kodak", "codec": "published:a", "bpp": [r / 50 for r in RATES],
                              "psnr_rgb": [30 + 10 * math.log10(r / 50) + 0.3 for r in RATES], "n_images": 3})
    table = bd_table(rows, "published:a", anchor_curves=published, resamples=50).set_index("curve")
    assert table.loc["b", "bd_quality"] == pytest.approx(1.0, abs=1e-6)
    assert math.isnan(table.loc["b", "bd_rate_low"]) and "published anchor" in table.loc["b", "note"]
