"""``bench compare`` fails closed: every curve judged per rate point on bpp and quality, limits
that cannot switch a check off, changed parameters named, lossless points judged image by image,
decode tolerances, improvements reported, and every input fault exit 2 (never 1, "regression").

Stores are small and synthetic: the committed gate baseline's JPEG rows (4 photos × 5 qualities),
edited. tests/test_gate_across_jobs.py runs real codecs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.store import Store, read_rows

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "results" / "baseline" / "gate"
runner = CliRunner()


def jpeg_rows(rates: list[float] | None = None) -> pd.DataFrame:
    """The committed baseline's JPEG rows (4 photos × 5 qualities), optionally at ``rates`` only."""
    rows = read_rows(BASELINE)
    rows = rows[rows["codec"] == "jpeg"]
    if rates is not None:
        rows = rows[rows["rate"].isin(rates)]
    return rows.reset_index(drop=True)


def store(rows: pd.DataFrame, folder: Path) -> Path:
    Store(folder).write(rows.to_dict("records"))
    return folder


def more_bits(rows: pd.DataFrame, factor: float, version: str | None = "bumped") -> pd.DataFrame:
    """``rows`` with bpp and bytes scaled by ``factor`` at equal quality; the codec version changed
    too unless ``version`` is None (then an exact check sees new output at the same version)."""
    out = rows.copy()
    out["bpp"] = out["bpp"] * factor
    out["bytes"] = (out["bytes"] * factor).round().astype(out["bytes"].dtype)
    if version is not None:
        out["codec_version"] = out["codec_version"] + f" ({version})"
    return out


def compare(base: Path, cand: Path, *args: str, json_path: Path | None = None):
    extra = ["--json", str(json_path)] if json_path else []
    return runner.invoke(app, ["compare", str(base), str(cand), *args, *extra])


@pytest.mark.parametrize("rates", [[20, 80], None], ids=["2-rate", "5-rate"])
@pytest.mark.parametrize("factor", [1.01, 2.0])
def test_more_bits_at_equal_quality_fails_on_short_and_long_curves(tmp_path, rates, factor):
    base = store(jpeg_rows(rates), tmp_path / "base")
    cand = store(more_bits(jpeg_rows(rates), factor), tmp_path / "cand")
    out = tmp_path / "verdict.json"
    result = compare(base, cand, json_path=out)
    assert result.exit_code == 1, result.output
    assert f"FAIL jpeg on sample: mean bpp rose by {(factor - 1) * 100:.3f} %" in result.output
    curve = json.loads(out.read_text())["curves"][0]
    assert curve["passed"] is False and curve["improved"] is False
    if rates is not None:  # too short for a BD, and the verdict says so
        assert curve["bd_rate"] is None and curve["bd_skipped"] == "2 rate points, BD needs 4"
        assert "note: jpeg on sample: not BD-judged: 2 rate points, BD needs 4" in result.output
    else:
        assert curve["bd_skipped"] is None and curve["bd_rate"] > 0.5
        assert result.output.count("BD-rate vs baseline") == 1  # a failure, not also a note


@pytest.mark.parametrize("rates", [[20, 80], None], ids=["2-rate", "5-rate"])
def test_identical_stores_pass(tmp_path, rates):
    base = store(jpeg_rows(rates), tmp_path / "base")
    result = compare(base, base)
    assert result.exit_code == 0, result.output
    assert "### bench compare: no regression\n" in result.output and "improvement" not in result.output


def test_a_changed_parameter_is_named_as_the_cause_once(tmp_path):
    base = store(jpeg_rows(), tmp_path / "base")
    cand = jpeg_rows()
    cand["params"] = cand["params"].str.replace('"4:2:0"', '"4:4:4"')
    cand["bpp"] *= 1.3
    cand["psnr_rgb"] += 0.4
    result = compare(base, store(cand, tmp_path / "cand"), json_path=tmp_path / "verdict.json")
    assert result.exit_code == 1, result.output
    cause = "jpeg on sample: parameters changed: subsampling '4:2:0' → '4:4:4'"
    assert result.output.count(cause) == 1
    assert "output changed" not in result.output
    assert result.output.count("BD-rate vs baseline") == 1
    curve = json.loads((tmp_path / "verdict.json").read_text())["curves"][0]
    assert curve["configuration_change"] == "subsampling '4:2:0' → '4:4:4'"
    lines = [line for line in result.output.splitlines() if line.startswith("- ")]
    assert len(lines) == len(set(lines))


@pytest.mark.parametrize("option", ["--max-bd-rate", "--max-psnr-drop", "--max-bpp-rise"])
@pytest.mark.parametrize("value", ["nan", "-1", "inf"])
def test_limits_must_be_finite_and_not_negative(tmp_path, option, value):
    result = compare(BASELINE, BASELINE, f"{option}={value}")
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {option} ") and "finite number ≥ 0" in result.output
    assert len(result.output.strip().splitlines()) == 1 and "no regression" not in result.output


def lossless_rows() -> pd.DataFrame:
    """The baseline's JPEG rows with a flat image added, lossless (infinite PSNR) at quality 90
    as JPEG is on a flat grey image at high quality: the mean PSNR at 90 is infinite."""
    rows = jpeg_rows()
    flat = rows[rows["image"] == "astronaut.png"].assign(image="flat.png", image_sha256="f" * 64)
    flat["key"] = [hashlib.sha256(f"{key}-flat".encode()).hexdigest() for key in flat["key"]]
    flat["psnr_rgb"] = flat["psnr_rgb"].where(flat["rate"] != 90, np.inf)
    return pd.concat([rows, flat], ignore_index=True)


@pytest.mark.parametrize("image, message", [
    ("coffee.png", "mean PSNR dropped by 0.250 dB at rate 90"),
    ("flat.png", "1 image(s) lossless in the baseline are not any more (rates [90.0])"),
])
def test_a_lossless_point_is_judged_image_by_image(tmp_path, image, message):
    """Before, the mean PSNR at the lossless rate was infinite in both stores and ∞ − ∞ = NaN
    never tripped the limit: a 1 dB drop on one photo (0.25 dB over the four finite images) passed."""
    base = store(lossless_rows(), tmp_path / "base")
    worse = lossless_rows()
    at = (worse["rate"] == 90) & (worse["image"] == image)
    worse.loc[at, "psnr_rgb"] = worse.loc[at, "psnr_rgb"].where(np.isfinite(worse.loc[at, "psnr_rgb"]), 60.0) - 1.0
    result = compare(base, store(worse, tmp_path / "cand"), "--no-exact", json_path=tmp_path / "verdict.json")
    assert result.exit_code == 1, result.output
    assert f"FAIL jpeg on sample: {message}" in result.output
    assert "mean PSNR infinite (lossless images) at rates [90.0]: judged image by image" in result.output
    point = json.loads((tmp_path / "verdict.json").read_text())["curves"][0]["points"][-1]
    assert point["rate"] == 90 and point["psnr_rgb_base"] is None  # infinite: null in strict JSON
    same = compare(base, base)
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize("version", ["bumped", None], ids=["new-version", "same-version"])
def test_an_improvement_is_called_one(tmp_path, version):
    base = store(jpeg_rows(), tmp_path / "base")
    cand = store(more_bits(jpeg_rows(), 0.95, version), tmp_path / "cand")
    out, markdown = tmp_path / "verdict.json", tmp_path / "verdict.md"
    result = compare(base, cand, "--markdown", str(markdown), json_path=out)
    verdict = json.loads(out.read_text())
    assert verdict["curves"][0]["improved"] is True
    assert verdict["improvements"] == ["jpeg on sample: BD-rate vs baseline -5.000 % (below -0.5 %)"]
    assert "- improvement: jpeg on sample: BD-rate vs baseline -5.000 % (below -0.5 %)" in markdown.read_text()
    if version is None:  # the exact check still holds the same version to the same output, and says why
        assert result.exit_code == 1, result.output
        assert "the curve improved: bump the codec version or regenerate the baseline to accept it" in result.output
        assert "| sample | jpeg | 4 | -5.000 | FAIL, improved |" in result.output
    else:
        assert result.exit_code == 0, result.output
        assert "### bench compare: no regression, 1 improvement" in result.output
        assert "| sample | jpeg | 4 | -5.000 | improved |" in result.output


@pytest.mark.parametrize("impl, passes", [("ilc", True), ("jpeg", False), ("not-installed", False)])
def test_psnr_is_held_to_the_codecs_decode_tolerance(tmp_path, impl, passes):
    """Identical bytes, PSNR 2e-6 dB apart (another torch thread count): within a learned codec's
    declared tolerance it is a note; a classical codec's (0 dB) or an unknown one's fails."""
    rows = jpeg_rows().assign(codec_impl=impl)
    cand = rows.copy()
    cand["psnr_rgb"] += 2e-6
    result = compare(store(rows, tmp_path / "base"), store(cand, tmp_path / "cand"))
    assert (result.exit_code == 0) is passes, result.output
    if passes:
        assert "within the decode tolerance of" in result.output
    else:
        assert "output changed in 20 rows at the same codec version (PSNR beyond the decode tolerance of 0 dB in 20)" \
            in result.output
    if impl == "not-installed":
        assert "codec implementation 'not-installed' is not installed here" in result.output


@pytest.mark.parametrize("where", ["folder", "below-a-file"])
@pytest.mark.parametrize("option", ["--json", "--markdown"])
def test_an_unwritable_output_path_is_refused_before_any_work(tmp_path, option, where):
    (tmp_path / "file").write_text("x")
    target = tmp_path if where == "folder" else tmp_path / "file" / "verdict"
    result = runner.invoke(app, ["compare", str(BASELINE), str(tmp_path / "no-such-store"), option, str(target)])
    assert result.exit_code == 2, result.output
    reason = "a folder, not a file" if where == "folder" else "is a file, not a folder"
    assert result.output.startswith(f"error: {option} {target}: ") and reason in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_any_input_fault_is_exit_2_never_a_verdict(tmp_path, monkeypatch):
    """A reader fault that is not one of the store's own one-line errors (here a pyarrow
    ArrowInvalid) is still exit 2, naming the store, not exit 1 ("regression") with a traceback."""
    import bench.store

    def broken(path, columns=None):
        raise pa.lib.ArrowInvalid("Parquet magic bytes not found in footer")

    monkeypatch.setattr(bench.store, "read_rows", broken)
    result = runner.invoke(app, ["compare", str(BASELINE), str(BASELINE)])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(f"error: {BASELINE}: cannot be read as a bench results store (ArrowInvalid: ")
    assert len(result.output.strip().splitlines()) == 1
