"""The CI regression gate: today's codecs against the committed baseline, and the gate's teeth."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.analysis.compare import GateSettings, compare, narrow
from bench.cli.app import app
from bench.errors import AnalysisError
from bench.store import Store, read_rows

REPO = Path(__file__).resolve().parents[1]
BASELINE = REPO / "results" / "baseline" / "gate"
GATE = REPO / "benchmarks" / "gate.toml"
runner = CliRunner()
#: ILC-like decoder option sets: one mode decoder and two sampling temperatures.
ILC_OPTIONS = {'{"seed":0,"temperature":1.0,"z":"mode"}': 0.0,
               '{"seed":0,"temperature":0.5,"z":"sample"}': -14.0,
               '{"seed":0,"temperature":1.0,"z":"sample"}': -21.0}


@pytest.fixture(scope="module")
def fresh_run(tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("gate") / "store"
    result = runner.invoke(app, ["run", "--config", str(GATE), "--results", str(results)])
    assert result.exit_code == 0, result.output
    return results


def rekeyed(keys: pd.Series, suffix: str) -> pd.Series:
    """New keys for copies of stored rows: SHA-256 digests, as the store requires of every key."""
    return (keys + suffix).map(lambda text: hashlib.sha256(text.encode()).hexdigest())


def jpeg_rows() -> pd.DataFrame:
    base = read_rows(BASELINE)
    return base[base["codec"] == "jpeg"].reset_index(drop=True)


def ilc_like(psnr_shift: dict[str, float] | None = None) -> pd.DataFrame:
    """The baseline's JPEG rows three times over as a codec with three decoder option sets whose
    PSNR differs a lot, as ILC's mode and sampling decoders do; ``psnr_shift`` moves one set."""
    copies = []
    for options, offset in ILC_OPTIONS.items():
        rows = jpeg_rows().assign(codec="ilc", codec_impl="ilc", decoder_options=options)
        rows["key"] = rekeyed(rows["key"], options)
        rows["psnr_rgb"] = rows["psnr_rgb"] + offset + (psnr_shift or {}).get(options, 0.0)
        copies.append(rows)
    return pd.concat(copies, ignore_index=True)


def scaled_bpp(factors: list[float]) -> pd.DataFrame:
    """JPEG rows whose bpp is scaled per image by ``factors`` (images in sorted digest order)."""
    rows = jpeg_rows()
    images = sorted(set(rows["image_sha256"]))
    rows["bpp"] = rows["bpp"] * rows["image_sha256"].map(dict(zip(images, factors)))
    return rows


def store(rows: pd.DataFrame, folder: Path) -> Path:
    Store(folder).write(rows.to_dict("records"))
    return folder


def test_current_codecs_match_the_committed_baseline(fresh_run):
    result = runner.invoke(app, ["compare", str(BASELINE), str(fresh_run)])
    assert result.exit_code == 0, result.output
    assert "no regression" in result.output
    assert "Gate: **point**" in result.output


def test_changed_rate_grid_fails(fresh_run, tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text(GATE.read_text().replace("[codecs.webp]\nrates = [20, 40, 60, 80, 90]", "[codecs.webp]\nrates = [20, 40, 60, 80, 95]"))
    result = runner.invoke(app, ["run", "--config", str(config), "--results", str(tmp_path / "store"), "--codec", "webp"])
    assert result.exit_code == 0, result.output
    verdict = runner.invoke(app, ["compare", str(BASELINE), str(tmp_path / "store")])
    assert verdict.exit_code == 1
    assert "webp on sample: rate grid changed (removed [90.0], added [95.0])" in verdict.output
    assert "jpeg on sample: 20 of 20 baseline rows missing" in verdict.output
    narrowed = runner.invoke(app, ["compare", str(BASELINE), str(tmp_path / "store"), "--codec", "jpeg"])
    assert narrowed.exit_code == 1
    assert "jpeg on sample: 20 of 20 baseline rows missing" in narrowed.output
    assert "webp on sample" not in narrowed.output


def test_changed_parameters_are_named_as_the_cause(fresh_run, tmp_path):
    config = tmp_path / "gate.toml"
    config.write_text(GATE.read_text().replace("[codecs.jpeg]\n", "[codecs.jpeg]\nparams = { optimize = true }\n"))
    runner.invoke(app, ["run", "--config", str(config), "--results", str(tmp_path / "store")])
    verdict = compare(read_rows(BASELINE), Store(tmp_path / "store").read())
    assert any(f.startswith("jpeg on sample: parameters changed: optimize False → True") for f in verdict.failures)
    assert not any("output changed" in f for f in verdict.failures)
    assert not any(f.startswith("webp") for f in verdict.failures)


def test_quality_drop_and_nondeterminism_fail():
    base = read_rows(BASELINE)
    worse = base.copy()
    jpeg = worse["codec"] == "jpeg"
    worse.loc[jpeg, "psnr_rgb"] -= 0.2
    worse.loc[jpeg & (worse["rate"] == 60), "deterministic_decode"] = False
    verdict = compare(base, worse, GateSettings(exact=False))
    assert any(f.startswith("jpeg on sample: mean PSNR dropped by 0.200 dB at rate") for f in verdict.failures)
    assert "jpeg on sample: decoding is no longer deterministic" in verdict.failures
    assert any(f.startswith("jpeg on sample: BD-rate vs baseline +") for f in verdict.failures)
    assert not any(f.startswith("webp") for f in verdict.failures)


def test_single_parquet_file_is_accepted():
    part = sorted(BASELINE.glob("part-*.parquet"))[0]
    assert compare(read_rows(part), read_rows(BASELINE)).passed


def test_each_decoder_option_set_is_its_own_curve():
    """A PSNR drop of one sampling decoder fails that curve alone; averaging the three curves
    (what compare once did) would have mixed 14 and 21 dB lower curves into the mode decoder's."""
    sampled = '{"seed":0,"temperature":0.5,"z":"sample"}'
    verdict = compare(ilc_like(), ilc_like({sampled: -0.3}), GateSettings(exact=False))
    labels = sorted(curve.label for curve in verdict.curves)
    assert labels == ["ilc (z=mode)", "ilc (z=sample, temperature=0.5)", "ilc (z=sample, temperature=1.0)"]
    failed = {f.split(":")[0] for f in verdict.failures}
    assert failed == {"ilc (z=sample, temperature=0.5) on sample"}
    points = verdict.points[verdict.points["rate"] == 20].set_index("codec")["psnr_rgb_base"]
    mode = jpeg_rows().query("rate == 20")["psnr_rgb"].mean()
    assert points["ilc (z=mode)"] == pytest.approx(mode)
    assert points["ilc (z=sample, temperature=1.0)"] == pytest.approx(mode - 21.0)


def test_markdown_is_unwrapped_and_written_to_a_file(tmp_path):
    source = store(ilc_like(), tmp_path / "ilc")
    out = tmp_path / "summary" / "compare.md"
    result = runner.invoke(app, ["compare", str(source), str(source), "--markdown", str(out)], terminal_width=60)
    assert result.exit_code == 0, result.output
    assert out.read_text() == result.stdout
    row = next(line for line in result.stdout.splitlines() if line.startswith("| sample | ilc (z=sample, temperature=0.5) | 20 |"))
    assert len(row) > 80 and row.endswith("|")


def test_json_verdict_has_the_documented_shape(tmp_path):
    source = store(ilc_like(), tmp_path / "ilc")
    out = tmp_path / "verdict.json"
    result = runner.invoke(app, ["compare", str(source), str(source), "--json", str(out), "--where", "z=sample"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(out.read_text())
    assert set(verdict) == {"schema", "passed", "gate", "thresholds", "bootstrap", "failures", "improvements", "notes",
                            "curves"}
    assert verdict["schema"] == 2 and verdict["improvements"] == []
    assert verdict["passed"] is True and verdict["gate"] == "point" and verdict["bootstrap"] is None
    assert verdict["thresholds"] == {"max_bd_rate": 0.5, "max_psnr_drop": 0.05, "max_bpp_rise": 0.5, "exact": True}
    assert [c["label"] for c in verdict["curves"]] == ["ilc (temperature=0.5)", "ilc (temperature=1.0)"]  # z is the same for both
    curve = verdict["curves"][0]
    assert curve["decoder_options"] == {"seed": 0, "temperature": 0.5, "z": "sample"}
    assert curve["bd_rate"] == 0.0 and curve["bd_rate_interval"] is None and curve["images"] == 4
    assert curve["bd_skipped"] is None and curve["improved"] is False and curve["configuration_change"] is None
    assert [p["rate"] for p in curve["points"]] == [20.0, 40.0, 60.0, 80.0, 90.0]
    assert set(curve["points"][0]) == {"rate", "bpp_base", "bpp_cand", "psnr_rgb_base", "psnr_rgb_cand", "d_bpp_pct",
                                       "d_psnr_db", "lossless_lost", "lossless_gained"}


def test_interval_gate_passes_what_a_different_sample_could_undo(tmp_path):
    """Bits up 4 % on one photo and down 4 % on another: +1.2 % BD-rate fails the point gate,
    but the interval over images reaches below the limit, so the interval gate passes (with the
    per-point bpp limit raised to the noise expected, as a job using that gate would)."""
    base, cand = store(jpeg_rows(), tmp_path / "base"), store(scaled_bpp([0.96, 1.0, 1.02, 1.06]), tmp_path / "cand")
    point = runner.invoke(app, ["compare", str(base), str(cand)])
    assert point.exit_code == 1
    assert "jpeg on sample: BD-rate vs baseline +1.319 % exceeds 0.5 %" in point.output
    out = tmp_path / "verdict.json"
    interval = runner.invoke(app, ["compare", str(base), str(cand), "--gate", "interval", "--resamples", "300",
                                   "--max-bpp-rise", "5", "--json", str(out)])
    assert interval.exit_code == 0, interval.output
    assert "Gate: **interval**" in interval.output
    curve = json.loads(out.read_text())["curves"][0]
    low, high = curve["bd_rate_interval"]["low"], curve["bd_rate_interval"]["high"]
    assert low < 0.5 < curve["bd_rate"] < high
    assert f"[{low:+.3f}, {high:+.3f}]" in interval.output
    assert "not counted by the interval gate" in interval.output


def test_interval_gate_fails_a_regression_on_every_photo():
    settings = GateSettings(gate="interval", resamples=300, max_bpp_rise=10)
    verdict = compare(jpeg_rows(), scaled_bpp([1.02, 1.03, 1.04, 1.05]), settings)
    assert not verdict.passed
    interval = verdict.curves[0].interval
    assert 0.5 < interval.low < verdict.curves[0].bd_rate < interval.high
    assert verdict.failures[0].endswith("lies entirely above 0.5 %")


def test_interval_is_reproducible_and_seeded():
    cand = scaled_bpp([0.96, 1.0, 1.02, 1.06])
    runs = [compare(jpeg_rows(), cand, GateSettings(gate="interval", resamples=200, seed=seed)).curves[0].interval
            for seed in (0, 0, 1)]
    assert runs[0] == runs[1] != runs[2]


def test_narrowing_cuts_both_stores_alike(tmp_path):
    base = read_rows(BASELINE)
    webp_only = base[base["codec"] == "webp"]
    assert not compare(*narrow(base, webp_only)).passed
    assert compare(*narrow(base, webp_only, datasets=["sample"], codecs=["webp"])).passed
    with pytest.raises(AnalysisError, match="--codec avif: not in the store"):
        narrow(base, webp_only, codecs=["avif"])


def test_bad_gate_settings_are_one_line_errors():
    with pytest.raises(AnalysisError, match="--gate 'mean': use one of point, interval"):
        GateSettings(gate="mean")
    with pytest.raises(AnalysisError, match="--resamples 0"):
        GateSettings(resamples=0)


def test_added_rates_are_no_regression(fresh_run, tmp_path):
    """A new run that only adds rate points keeps every baseline point and passes; the verdict
    says which rates it did not compare."""
    from bench.store import read_rows

    extra = read_rows(fresh_run)
    extra = extra[extra["rate"] == 90].assign(rate=95.0, key=lambda f: rekeyed(f["key"], "-95"))
    candidate = store(pd.concat([read_rows(fresh_run), extra], ignore_index=True), tmp_path / "more")
    verdict = runner.invoke(app, ["compare", str(BASELINE), str(candidate)])
    assert verdict.exit_code == 0, verdict.output
    assert "rates added [95.0]" in verdict.output and "no regression" in verdict.output
