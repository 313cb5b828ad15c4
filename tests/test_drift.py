"""Re-encoding studies on real codecs: JPEG's fixed point, monotone loss under a falling rate,
generation 1 = the single-pass row, and resume = an uninterrupted run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401
from bench.cli.app import app
from bench.execute.drift import Step, parse_schedule
from bench.analysis.drift_summary import drift_rows, per_chain, summary_table
from bench.errors import ConfigError
from bench.store import Store

runner = CliRunner()
COMPARE = ["codec", "rate", "generation", "bytes", "bitstream_sha256", "psnr_rgb", "psnr_rgb_prev", "chain", "key"]


def drift(tmp_path: Path, store: str, *args: str) -> Store:
    config = tmp_path / "bench.toml"
    if not config.exists():
        config.write_text('[run]\nmetrics = ["psnr_rgb"]\njobs = 1\n')
    result = runner.invoke(app, ["drift", "run", "--config", str(config), "--dataset", "kodak",
                                 "--results", str(tmp_path / store), *args])
    assert result.exit_code == 0, result.output
    return Store(tmp_path / store)


def test_schedule_notation():
    assert parse_schedule("jpeg:75") == (Step("jpeg", 75.0),)
    assert parse_schedule("webp:90..50:3") == (Step("webp", 90.0), Step("webp", 70.0), Step("webp", 50.0))
    assert parse_schedule("jpeg:75, webp:60") == (Step("jpeg", 75.0), Step("webp", 60.0))
    for bad in ("jpeg", "jpeg:high", "jpeg:90..50", "jpeg:90..50:1"):
        with pytest.raises(ConfigError, match="label:rate"):
            parse_schedule(bad)


def test_jpeg_at_fixed_quality_reaches_a_fixed_point(tmp_path, kodak_dir):
    # Measured with libjpeg-turbo (Pillow 13) on kodim01–03 at q50 and q75 over 20 generations:
    # the bitstream repeats exactly from generation 7–13 on (kodim01 q75: 13, kodim02 q75: 9),
    # and the total PSNR loss stays below 0.6 dB (kodim03 q75: 36.86 → 36.33 dB).
    store = drift(tmp_path, "s", "--limit", "2", "--schedule", "jpeg:75", "--generations", "14")
    chains = per_chain(store.read())
    assert len(chains) == 2
    assert chains["fixed_point"].notna().all() and (chains["fixed_point"] <= 14).all()
    assert (chains["drop"] >= 0).all() and (chains["drop"] < 0.1).all()
    rows = drift_rows(store.read())
    last = rows[rows["generation"] == 14]
    assert (last["psnr_rgb_prev"] == float("inf")).all()  # at the fixed point nothing changes any more


def test_falling_rate_degrades_monotonically_in_the_mean(tmp_path, kodak_dir):
    store = drift(tmp_path, "s", "--limit", "2", "--schedule", "webp:90..30:4", "--generations", "4")
    means = drift_rows(store.read()).groupby("generation")["psnr_rgb"].mean()
    assert list(means.index) == [1, 2, 3, 4]
    assert all(means.diff().dropna() < 0)


def test_generation_one_equals_the_single_pass_row(tmp_path, kodak_dir):
    (tmp_path / "bench.toml").write_text('[run]\nmetrics = ["psnr_rgb"]\njobs = 1\n[codecs.jpeg]\nrates = [75]\n')
    store = drift(tmp_path, "d", "--limit", "1", "--schedule", "jpeg:75", "--generations", "2")
    result = runner.invoke(app, ["run", "--config", str(tmp_path / "bench.toml"), "--dataset", "kodak", "--limit", "1",
                                 "--codec", "jpeg", "--results", str(tmp_path / "single")])
    assert result.exit_code == 0, result.output
    single = Store(tmp_path / "single").read().iloc[0]
    first = drift_rows(store.read()).query("generation == 1").iloc[0]
    for column in ("bytes", "bitstream_sha256", "bpp", "psnr_rgb", "codec_version", "image_sha256", "rate"):
        assert first[column] == single[column], column
    assert first["psnr_rgb_prev"] == first["psnr_rgb"]  # generation 1's previous image is the original
    assert first["key"] != single["key"]  # the drift row carries its chain


def test_resume_gives_exactly_the_rows_of_an_uninterrupted_run(tmp_path, kodak_dir):
    args = ["--limit", "1", "--schedule", "jpeg:60,webp:70", "--schedule", "webp:80"]
    whole = drift(tmp_path, "whole", *args, "--generations", "6").read()
    drift(tmp_path, "parts", *args, "--generations", "2")
    drift(tmp_path, "parts", *args, "--generations", "4")
    # an interruption that lost the kept bitstream: the chain recomputes from generation 1
    state = tmp_path / "parts" / "drift-state"
    shutil.rmtree(next(state.iterdir()))
    resumed = drift(tmp_path, "parts", *args, "--generations", "6").read()
    key = ["chain", "generation"]
    assert whole.sort_values(key)[COMPARE].reset_index(drop=True).equals(resumed.sort_values(key)[COMPARE].reset_index(drop=True))


def test_summary_table_and_report(tmp_path, kodak_dir):
    drift(tmp_path, "s", "--limit", "1", "--schedule", "jpeg:40", "--generations", "3")
    table = summary_table(Store(tmp_path / "s").read())
    assert list(table["schedule"]) == ["jpeg:40"] and table["generations"].iloc[0] == 3
    result = runner.invoke(app, ["drift", "report", "--config", str(tmp_path / "bench.toml"), "--results", str(tmp_path / "s"),
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    tex = (tmp_path / "out" / "drift-psnr_rgb.tex").read_text()
    assert tex.count(r"\begin{tabular}") == 1 and (tmp_path / "out" / "drift-kodak-psnr_rgb.png").exists()


def test_summary_compares_every_chain_at_the_generation_all_of_them_reached(tmp_path, kodak_dir):
    """One image run further than the others must not pull the schedule's "last" and "drop"
    from a later generation than the one the table states."""
    drift(tmp_path, "s", "--limit", "2", "--schedule", "webp:40", "--generations", "2")
    drift(tmp_path, "s", "--limit", "1", "--schedule", "webp:40", "--generations", "4")
    rows = Store(tmp_path / "s").read()
    assert sorted(rows["generation"]) == [1, 1, 2, 2, 3, 4]
    table = summary_table(rows).iloc[0]
    at_two = rows[rows["generation"] == 2]["psnr_rgb"].mean()
    assert table["generations"] == 2 and table["images"] == 2
    assert table["mean psnr_rgb last"] == pytest.approx(at_two, abs=1e-12)
    assert table["mean drop"] == pytest.approx(rows[rows["generation"] == 1]["psnr_rgb"].mean() - at_two, abs=1e-12)


def test_float_carry_encodes_the_unrounded_reconstruction(tmp_path, photo):
    """carry=float: generation 2 encodes decode_float(generation 1); carry=uint8 its rounding."""
    import hashlib

    from PIL import Image

    from bench_codecs.inn.codec import InvCompressCodec

    images = tmp_path / "images"
    images.mkdir()
    image = photo[:64, :96]
    Image.fromarray(image).save(images / "crop.png")
    (tmp_path / "bench.toml").write_text('[run]\nmetrics = ["psnr_rgb"]\njobs = 1\n')
    codec = InvCompressCodec()  # the shipped demo weights: real latents, so sub-LSB changes matter
    first = codec.encode(image, 1)
    expected = {"float": codec.encode(codec.decode_float(first), 1), "uint8": codec.encode(codec.decode(first), 1)}
    assert expected["float"] != expected["uint8"]
    for carry, second in expected.items():
        result = runner.invoke(app, ["drift", "run", "--config", str(tmp_path / "bench.toml"), "--dataset", str(images),
                                     "--results", str(tmp_path / carry), "--schedule", "invcompress:1",
                                     "--generations", "2", "--carry", carry])
        assert result.exit_code == 0, result.output
        rows = Store(tmp_path / carry).read().sort_values("generation")
        assert list(rows["bitstream_sha256"]) == [hashlib.sha256(first).hexdigest(), hashlib.sha256(second).hexdigest()]
        assert f'"carry":"{carry}"' in rows["chain"].iloc[0]
        assert rows["deterministic_decode"].all()


def test_float_carry_is_refused_for_a_classical_codec(tmp_path, kodak_dir):
    (tmp_path / "bench.toml").write_text('[run]\nmetrics = ["psnr_rgb"]\njobs = 1\n')
    result = runner.invoke(app, ["drift", "run", "--config", str(tmp_path / "bench.toml"), "--dataset", "kodak",
                                 "--limit", "1", "--results", str(tmp_path / "d"), "--schedule", "jpeg:75", "--carry", "float"])
    assert result.exit_code == 2  # one line, as every BenchError of a command (bench.cli.app.call)
    assert "has no float reconstruction" in result.output and len(result.output.strip().splitlines()) == 1


def test_a_swapped_carried_bitstream_is_refused_not_resumed_from(tmp_path, kodak_dir):
    args = ["--limit", "1", "--schedule", "jpeg:60", "--schedule", "jpeg:30"]
    whole = drift(tmp_path, "whole", *args, "--generations", "3").read()
    drift(tmp_path, "parts", *args, "--generations", "2")
    first, second = sorted((tmp_path / "parts" / "drift-state").glob("*/gen-0002.bin"))
    one, two = first.read_bytes(), second.read_bytes()
    first.write_bytes(two)
    second.write_bytes(one)
    config = tmp_path / "bench.toml"
    result = runner.invoke(app, ["drift", "run", "--config", str(config), "--dataset", "kodak", "--results",
                                 str(tmp_path / "parts"), *args, "--generations", "3"])
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "gen-0002.bin: its SHA-256" in output and "delete it and run `bench drift run` again" in output
    refused = Store(tmp_path / "parts").read().query("generation == 3")
    assert len(refused) == 2 and refused["error"].notna().all() and refused["psnr_rgb"].isna().all()
    first.unlink()
    second.unlink()
    resumed = drift(tmp_path, "parts", *args, "--generations", "3").read()
    columns = ["chain", "generation", "bitstream_sha256", "psnr_rgb"]
    assert sorted(map(tuple, whole[columns].values)) == sorted(map(tuple, resumed[columns].values))


def test_a_folder_dataset_is_named_by_its_folder_in_the_figure():
    from bench.render.drift import dataset_labels

    labels = dataset_labels(["kodak", "/data/study/kodak-crops"])
    assert labels == {"kodak": "kodak", "/data/study/kodak-crops": "kodak-crops"}
    assert dataset_labels(["/a/crops", "/b/crops"]) == {"/a/crops": "/a/crops", "/b/crops": "/b/crops"}


def test_the_float_and_the_8_bit_carry_of_one_schedule_are_separate_chains():
    """Their first generations are the same bitstream: taken as one chain, that looked like a fixed
    point at generation 1, and their means mixed two experiments."""
    import json

    import pandas as pd

    rows = pd.DataFrame([
        {"error": None, "dataset": "kodak", "image": "a.png", "generation": generation, "psnr_rgb": 30.0 - generation * slope,
         "bitstream_sha256": "same" if generation == 1 else f"{carry}{generation}",
         "chain": json.dumps({"schedule": "mbt2018-mean:1", "steps": [["mbt2018-mean", 1.0]], "carry": carry})}
        for carry, slope in (("uint8", 1.0), ("float", 1.25)) for generation in (1, 2, 3)])
    table = summary_table(rows).set_index("schedule")
    assert list(table.index) == ["mbt2018-mean:1", "mbt2018-mean:1 carry float"]
    assert list(table["fixed point"]) == ["0/1", "0/1"]
    assert table.loc["mbt2018-mean:1 carry float", "mean drop"] == pytest.approx(2.5)


def test_a_lossless_chain_drops_nothing_and_crosses_when_it_stops_being_lossless():
    """PSNR ∞ at generation 1 (a flat image): ∞ − ∞ is no drop, and the chain crosses the
    threshold only at the generation that is no longer lossless, never at generation 1."""
    import json

    import pandas as pd

    chain = json.dumps({"schedule": "jpeg:50", "steps": [["jpeg", 50]], "carry": "uint8"})
    rows = pd.DataFrame({"dataset": "d", "image": ["flat.png"] * 3 + ["kept.png"] * 2, "chain": chain, "error": None,
                         "generation": [1, 2, 3, 1, 2], "bitstream_sha256": list("abcde"),
                         "psnr_rgb": [float("inf"), float("inf"), 40.0, float("inf"), float("inf")]})
    chains = per_chain(rows).set_index("image")
    assert chains.loc["flat.png", "first_crossing"] == 3 and chains.loc["flat.png", "drop"] == float("inf")
    assert pd.isna(chains.loc["kept.png", "first_crossing"]) and chains.loc["kept.png", "drop"] == 0.0
