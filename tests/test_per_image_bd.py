"""The one-pass per-image BD gives exactly what a pair-by-pair loop gives: every number, note,
row and row order, on stores with every case a pair can be in."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from bench.analysis.aggregate import QUALITY_METRICS, _anchor_options, _with_labels, points_note
from bench.analysis.bd import MIN_POINTS, BDError, bd_rate_and_quality
from bench.analysis.curves import image_rows
from bench.analysis.per_image_bd import per_image_bd
from test_paper_tables import curve_rows, mixed_rows


def reference(rows: pd.DataFrame, anchor: str, metric: str, method: str) -> pd.DataFrame:
    """The per-image BD as a plain loop: each pair's anchor rows found by masking its dataset."""
    data = _with_labels(image_rows(rows).dropna(subset=[metric]))
    records = []
    for dataset, per_dataset in data.groupby("dataset"):
        options = _anchor_options(per_dataset, anchor)
        for (image, codec, decoder_options), test in per_dataset.groupby(["image", "codec", "decoder_options"]):
            record = {"dataset": dataset, "image": image, "curve": test["curve"].iloc[0], "codec": codec,
                      "decoder_options": decoder_options, "points": len(test), "bd_rate": math.nan,
                      "bd_quality": math.nan, "note": ""}
            anchor_rows = per_dataset[(per_dataset["image"] == image) & (per_dataset["codec"] == anchor)
                                      & (per_dataset["decoder_options"] == options)]
            if len(test) < MIN_POINTS:
                record["note"] = points_note(len(test), MIN_POINTS)
            elif anchor_rows.empty:
                record["note"] = f"n/a (anchor {anchor} not measured on this image)"
            else:
                try:
                    record["bd_rate"], record["bd_quality"] = bd_rate_and_quality(
                        anchor_rows["bpp"], anchor_rows[metric], test["bpp"], test[metric], method,
                        QUALITY_METRICS[metric])
                except BDError as exc:
                    record["note"] = f"n/a ({exc})"
            records.append(record)
    return pd.DataFrame(records)


def every_case() -> pd.DataFrame:
    """Mixed stores plus: a non-monotone image, an image without the anchor, a three-point curve,
    two decoder options of one codec, curves of 5 and 6 points, and rows in shuffled order."""
    rows = mixed_rows()
    extra = (curve_rows("kodak", "avif", ["k1", "k2", "k3", "k4", "k9"], rates=(10, 20, 40, 60, 80, 95), gain=0.7, spread=0.3)
             + curve_rows("kodak", "heif", ["k1", "k2"], rates=(20, 50, 80), gain=0.2)
             + curve_rows("kodak", "ilc", ["k2", "k3"], options=json.dumps({"z": "mode"}), gain=-0.4)
             + curve_rows("kodak", "ilc", ["k2", "k3"], options=json.dumps({"z": "sample"}), gain=-0.9))
    extra = pd.DataFrame(extra)
    bent = (extra["codec"] == "avif") & (extra["image"] == "k2.png") & (extra["rate"] == 40)
    extra.loc[bent, "psnr_rgb"] += 5  # quality falls after this point: no BD
    return pd.concat([rows, extra], ignore_index=True).sample(frac=1, random_state=3).reset_index(drop=True)


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("anchor", ["jpeg", "webp"])
def test_one_pass_equals_the_pair_by_pair_loop(method, anchor):
    rows = every_case()
    found = per_image_bd(rows, anchor, "psnr_rgb", method)
    expected = reference(rows, anchor, "psnr_rgb", method)
    assert set(expected["note"]) >= {"", "n/a (3 rate points; needs 4)", "n/a (one rate point)"}
    assert any(note.startswith("n/a (") and "rate points" not in note and "one rate" not in note
               for note in expected["note"])
    pd.testing.assert_frame_equal(found, expected, check_exact=True)
