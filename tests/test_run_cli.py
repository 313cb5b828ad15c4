"""`bench run` end to end: bad inputs become error rows, resume skips finished work, and a
``kill -9`` in the middle of a run loses nothing already written."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from bench.cli.app import app
from bench.store import Store

import bench.cli  # noqa: F401  (registers the subcommands)

runner = CliRunner()


def config(tmp_path: Path, codecs: str = '["jpeg"]', rates: str = "[30, 60, 90]", metrics: str = '["psnr_rgb", "psnr_y", "ms_ssim"]') -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(
        f'[run]\ncodecs = {codecs}\nmetrics = {metrics}\njobs = 1\nresults = "store"\n'
        f"[codecs.jpeg]\nrates = {rates}\n[codecs.avif]\nrates = [20, 30, 40, 50, 60, 70, 80]\n"
    )
    return path


@pytest.fixture
def messy_folder(tmp_path, photo) -> Path:
    """Two good images (one with spaces in its path) beside every kind of bad input."""
    folder = tmp_path / "my images"
    (folder / "sub dir").mkdir(parents=True)
    Image.fromarray(photo[:240, :320]).save(folder / "good.png")
    Image.fromarray(photo[100:340, 50:371]).save(folder / "sub dir" / "also good.png")
    data = (folder / "good.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 3])
    Image.fromarray(photo[:240, :320, 0]).save(folder / "grey.png")
    Image.fromarray(photo[:240, :320, 0].astype(np.uint16) * 257).save(folder / "deep.png")
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(folder / "dot.png")
    (folder / "text.png").write_text("hello")
    return folder


def test_bad_inputs_become_error_rows_and_the_run_completes(tmp_path, messy_folder):
    result = runner.invoke(app, ["run", "--config", str(config(tmp_path)), "--dataset", str(messy_folder)])
    assert result.exit_code == 1, result.output
    rows = Store(tmp_path / "store").read()
    good = rows[rows["error"].isna()]
    assert sorted(set(good["image"])) == ["good.png", "sub dir/also good.png"]
    assert len(good) == 6 and good[["bpp", "psnr_rgb", "psnr_y", "ms_ssim", "ms_ssim_db"]].notna().all().all()
    errors = rows[rows["error"].notna()].groupby("image")["error"].first()
    assert "corrupt or truncated" in errors["truncated.png"]
    assert "greyscale" in errors["grey.png"]
    assert "16-bit PNG" in errors["deep.png"]
    assert "1×1" in errors["dot.png"]
    assert "not an image" in errors["text.png"]
    assert all("\n" not in e for e in errors)


def test_rows_carry_provenance_and_resume_skips_finished_work(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:200, :200]).save(folder / "a.png")
    cfg = config(tmp_path)
    first = runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(folder)])
    assert first.exit_code == 0, first.output
    rows = Store(tmp_path / "store").read()
    assert len(rows) == 3
    row = rows.iloc[0]
    assert row["codec_version"].startswith("Pillow") and row["harness_version"] and row["host"]
    assert row["image_sha256"] and row["width"] == 200 and row["device"] == "cpu"
    assert "quality=30" in rows.sort_values("rate").iloc[0]["command"]
    first = rows["rate"] == 30  # the default check re-decodes the first rate only
    assert rows.loc[first, "deterministic_decode"].all() and rows.loc[~first, "deterministic_decode"].isna().all()
    assert list(rows.sort_values("rate")["determinism_check"]) == ["first", "skipped-not-first", "skipped-not-first"]
    assert np.allclose(rows["bpp"], rows["bytes"] * 8 / (200 * 200))
    parts = Store(tmp_path / "store").parts()  # one or more: a slow first task flushes by time
    second = runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(folder)])
    assert "3 already stored, 0 to run" in second.output
    assert Store(tmp_path / "store").parts() == parts


def test_changing_a_parameter_invalidates_exactly_that_codec(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:200, :200]).save(folder / "a.png")
    runner.invoke(app, ["run", "--config", str(config(tmp_path)), "--dataset", str(folder)])
    cfg = config(tmp_path, rates="[30, 60, 90, 95]")
    result = runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(folder)])
    assert "3 already stored, 1 to run" in result.output


def test_kill_minus_nine_loses_nothing_written(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(np.ascontiguousarray(np.rot90(photo, i))).save(folder / f"{i}.png")
    cfg = config(tmp_path, codecs='["avif"]', metrics='["psnr_rgb"]')
    command = [sys.executable, "-c", "from bench.cli import main; main()", "run", "--config", str(cfg), "--dataset", str(folder)]
    store = Store(tmp_path / "store")
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not store.parts() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run finished before it could be interrupted; make it longer"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    survived = store.read()
    assert 0 < len(survived) < 28 and survived["error"].isna().all()

    result = runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"{len(survived)} already stored, {28 - len(survived)} to run" in result.output
    final = store.read()
    assert len(final) == 28 and final["key"].is_unique
    before = survived.set_index("key")["created_utc"]
    assert (final.set_index("key").loc[before.index, "created_utc"] == before).all()


def test_keep_bitstreams_stores_the_exact_bytes(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:200, :200]).save(folder / "a.png")
    result = runner.invoke(app, ["run", "--config", str(config(tmp_path)), "--dataset", str(folder), "--keep-bitstreams"])
    assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "store").read()
    for key, size in zip(rows["key"], rows["bytes"]):
        data = (tmp_path / "store" / "bitstreams" / f"{key}.bin").read_bytes()
        assert len(data) == size and data[:2] == b"\xff\xd8"


def test_measure_adds_a_metric_from_kept_bitstreams_without_re_encoding(tmp_path, photo):
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(photo[:200, :200]).save(folder / "a.png")
    cfg = config(tmp_path, metrics='["psnr_rgb"]')
    runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(folder), "--keep-bitstreams"])
    before = Store(tmp_path / "store").read().set_index("key")
    assert before["psnr_y"].isna().all()
    result = runner.invoke(app, ["measure", "--config", str(cfg), "--dataset", str(folder), "--metric", "psnr_y"])
    assert result.exit_code == 0, result.output
    after = Store(tmp_path / "store").read().set_index("key")
    assert after["psnr_y"].notna().all() and len(after) == len(before)
    assert (after["encode_s"] == before["encode_s"]).all() and (after["psnr_rgb"] == before["psnr_rgb"]).all()
    # the same as measuring in the run itself
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    cfg2 = config(fresh, metrics='["psnr_rgb", "psnr_y"]')
    runner.invoke(app, ["run", "--config", str(cfg2), "--dataset", str(folder)])
    direct = Store(fresh / "store").read().set_index("rate")["psnr_y"]
    assert (after.set_index("rate")["psnr_y"] == direct).all()


@pytest.mark.parametrize("command", [["plot"], ["table"], ["report"], ["sweep-plot", "--codec", "probdec", "--knob", "scale"]])
@pytest.mark.parametrize("store", ["empty", "missing"])
def test_analysis_commands_on_a_store_without_rows_say_so_in_one_line(tmp_path, command, store):
    results = tmp_path / "store"
    if store == "empty":
        results.mkdir()
    result = runner.invoke(app, [*command, "--results", str(results), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "no rows stored yet; run `bench run` first" in result.output
    assert "Traceback" not in result.output


@pytest.fixture
def tiny_folder(tmp_path, photo) -> Path:
    """Three small images: a run of them takes a second or two."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(np.ascontiguousarray(photo[i * 40:i * 40 + 48, :64])).save(folder / f"{i}.png")
    return folder


def tiny_args(tmp_path: Path, folder: Path, *extra: str) -> list[str]:
    cfg = config(tmp_path, rates="[10, 20, 30, 40, 50, 60, 70, 80]", metrics='["psnr_rgb"]')
    return ["run", "--config", str(cfg), "--dataset", str(folder), *extra]


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize(("flag", "checked"), [("all", {True}), ("off", {None})])
def test_check_determinism_flag_sets_every_row(tmp_path, tiny_folder, flag, checked):
    result = runner.invoke(app, tiny_args(tmp_path, tiny_folder, "--check-determinism", flag))
    assert result.exit_code == 0, result.output
    rows = Store(tmp_path / "store").read()
    assert len(rows) == 24 and {None if v is None or v != v else bool(v) for v in rows["deterministic_decode"]} == checked
    assert (rows["determinism_check"] == flag).all()


def test_a_bad_check_determinism_flag_is_one_line(tmp_path, tiny_folder):
    result = runner.invoke(app, tiny_args(tmp_path, tiny_folder, "--check-determinism", "true"))
    assert result.exit_code == 2
    assert flat(result.output) == 'error: --check-determinism = "true": expected "first", "all" or "off"'


@pytest.mark.parametrize("bad", ["corrupt", "foreign"])
def test_resume_over_a_bad_part_is_one_line_naming_it(tmp_path, tiny_folder, bad):
    import pyarrow as pa
    import pyarrow.parquet as pq

    args = tiny_args(tmp_path, tiny_folder)
    assert runner.invoke(app, args).exit_code == 0
    part = tmp_path / "store" / "part-zzz.parquet"
    if bad == "corrupt":
        part.write_bytes(b"PAR1 this is not a parquet file")
    else:
        pq.write_table(pa.table({"key": ["x"], "error": [None]}), part)
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    expected = "not a readable parquet file" if bad == "corrupt" else "not a bench results part"
    assert f"{part}: {expected}" in flat(result.output) and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_results_path_that_is_a_file_stops_before_planning(tmp_path, tiny_folder):
    (tmp_path / "taken").write_text("not a folder")
    result = runner.invoke(app, tiny_args(tmp_path, tiny_folder, "--results", str(tmp_path / "taken" / "store")))
    assert result.exit_code == 2
    assert flat(result.output) == f"error: {tmp_path / 'taken' / 'store'}: cannot write results there (Not a directory); pass --results a writable folder"


@pytest.mark.parametrize("recovery", ["saved", "lost"])
def test_a_full_disk_mid_run_stops_at_once_and_keeps_the_computed_rows(tmp_path, tiny_folder, monkeypatch, recovery):
    from bench.store import read_rows
    from test_store import fail_writes_after

    spare = tmp_path / "spare"
    spare.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(spare if recovery == "saved" else tmp_path / "missing"))
    fail_writes_after(monkeypatch, good=1, folder=tmp_path / "store")  # the probe passes, the first part finds the disk full
    result = runner.invoke(app, tiny_args(tmp_path, tiny_folder))
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if "error:" in line]
    assert len(lines) == 1 and "Traceback" not in result.output
    message = flat(result.output[result.output.index("error:"):])
    assert "writing a results part failed (No space left on device)" in message
    assert "The run stopped with 0 rows stored;" in message
    store = tmp_path / "store"
    assert not list(store.glob(".tmp-*")) and not list(store.glob("part-*")) and not (store / ".lock").exists()
    if recovery == "saved":
        (saved,) = spare.glob("recovered-*.parquet")
        rows = read_rows(saved)
        assert f"{len(rows)} computed rows were saved to {saved}: move it into {store} as part-" in message
        assert re.search(r"as part-\d{8}T\d{6}\.\d{6}-[0-9a-f]+-recovered\.parquet once", message)
        assert 1 <= len(rows) < 24 and rows["error"].isna().all()  # stopped at the first failed part
    else:
        assert "computed rows were lost (no writable temporary folder either)" in message


def test_workers_never_exceed_tasks_and_too_many_jobs_warn_once(tmp_path, tiny_folder, monkeypatch):
    monkeypatch.setattr("bench.execute.runner.cpu_count", lambda: 1)
    result = runner.invoke(app, tiny_args(tmp_path, tiny_folder, "--jobs", "3", "--limit", "1", "--codec", "jpeg"))
    assert result.exit_code == 0, result.output
    assert result.output.count("warning:") == 1
    assert "warning: jobs = 3 is more than the 1 CPUs here; going on, each worker runs slower" in flat(result.output)
    again = runner.invoke(app, tiny_args(tmp_path, tiny_folder, "--jobs", "3", "--codec", "jpeg"))
    assert "16 to run on loky with 3 job(s)" in flat(again.output)
    cfg = config(tmp_path, rates="[10]", metrics='["psnr_rgb"]')
    single = runner.invoke(app, ["run", "--config", str(cfg), "--dataset", str(tiny_folder), "--limit", "1", "--jobs", "3",
                                 "--results", str(tmp_path / "one")])
    assert "1 to run on loky with 1 job(s)" in flat(single.output)


def test_a_tampered_dataset_file_is_refused_unless_allowed(tmp_path, kodak_dir, photo):
    """Only the first --limit files are needed; a file that differs from its pinned SHA-256 stops
    the run before any work, and --allow-modified measures it with the rows marked."""
    data = tmp_path / "data" / "kodak"
    data.mkdir(parents=True)
    Image.fromarray(np.ascontiguousarray(photo[:200, :300])).save(data / "kodim01.png")  # another image
    args = ["run", "--config", str(config(tmp_path, rates="[50]", metrics='["psnr_rgb"]')), "--dataset", "kodak",
            "--data-dir", str(tmp_path / "data"), "--limit", "1"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2, refused.output
    assert "kodim01.png" in refused.output and "--allow-modified" in refused.output
    assert not list((tmp_path / "store").glob("part-*"))
    allowed = runner.invoke(app, [*args, "--allow-modified"])
    assert allowed.exit_code == 0, allowed.output
    rows = Store(tmp_path / "store").read()
    assert len(rows) == 1 and rows["image_modified"].tolist() == [True]
