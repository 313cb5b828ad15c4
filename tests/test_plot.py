"""RD plots: files per dataset and metric, and legends that name what tells curves apart."""

from __future__ import annotations

import json

import pandas as pd

from bench.plot import curve_labels, marker_style, plot_rd
from bench.schema import METRIC_COLUMNS


def test_a_codec_drawn_once_is_labelled_by_its_name_alone():
    mode = json.dumps({"seed": 0, "temperature": 1.0, "z": "mode"})
    assert curve_labels([("ilc", mode), ("jpeg", "{}")]) == {("ilc", mode): "ilc", ("jpeg", "{}"): "jpeg"}


def test_only_the_options_that_differ_between_a_codecs_curves_are_shown():
    a, b = json.dumps({"scale": 0.0, "seed": 0}), json.dumps({"scale": 1.0, "seed": 0})
    labels = curve_labels([("probdec", a), ("probdec", b), ("webp", "{}")])
    assert labels == {("probdec", a): "probdec (scale=0.0)", ("probdec", b): "probdec (scale=1.0)", ("webp", "{}"): "webp"}


def test_an_option_missing_from_one_curve_counts_as_different():
    a, b = json.dumps({"z": "mode"}), json.dumps({"z": "sample", "temperature": 0.5})
    assert curve_labels([("ilc", a), ("ilc", b)]) == {("ilc", a): "ilc (temperature=None, z=mode)",
                                                      ("ilc", b): "ilc (temperature=0.5, z=sample)"}


def test_plot_rd_writes_one_file_per_dataset_metric_and_format(tmp_path):
    rows = []
    for image in ("a", "b"):
        for rate, bpp, psnr in ((10, 0.3, 28.0), (50, 0.9, 33.0)):
            row = {"dataset": "kodak", "codec": "jpeg", "decoder_options": "{}", "rate": rate, "image_sha256": image,
                   "bpp": bpp, "encode_s": 0.01, "decode_s": 0.01, "error": None, "generation": 1, "chain": ""}
            row.update({m: None for m in METRIC_COLUMNS})
            row["psnr_rgb"] = psnr
            rows.append(row)
    written = plot_rd(pd.DataFrame(rows), tmp_path, metrics=("psnr_rgb", "lpips"), formats=("png",))
    assert [p.name for p in written] == ["kodak-psnr_rgb.png"]  # no LPIPS values: no empty LPIPS plot
    assert written[0].stat().st_size > 1000


def test_a_single_rate_point_is_drawn_large_enough_to_find():
    assert marker_style(1)["markersize"] > 2 * marker_style(8)["markersize"]
    assert marker_style(1)["linestyle"] == "none"
