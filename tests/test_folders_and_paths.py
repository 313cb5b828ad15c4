"""Folder datasets, drift schedules and paths, through the command line as a user meets them.

Entries of a folder dataset that are not readable image files are named in error rows (a FIFO
is never opened), bench's own outputs under a dataset folder never become its images, drift
schedules are checked like ``bench run``'s rates, and ``~`` / ``$VAR`` in paths are expanded or
refused in one place for bench.toml and every path option.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench import api, cli
import importlib
from bench.outputs import MARKER
from bench.store import Store

FLAGS = ("--codec", "jpeg", "--rate", "50", "--metric", "psnr_rgb", "--jobs", "1")


def bench(*argv: str) -> tuple[int, str, str]:
    """``bench ARGV`` through the console entry point in this process: (exit status, stdout, stderr)."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    argv_before, sys.argv = sys.argv, ["bench", *argv]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv_before
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return code, out.getvalue(), err.getvalue()


def one_error(err: str) -> str:
    """The single ``error:`` line of a refused command (and nothing else on stderr)."""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0][len("error: "):]


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    """Two small RGB PNGs in a folder."""
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / name)
    return folder


# -- folder datasets: every entry with an image suffix is measured or named --------------------------
def test_fifo_device_and_dangling_link_are_error_rows_and_links_to_images_are_measured(dataset, tmp_path):
    os.mkfifo(dataset / "fifo.png")
    (dataset / "gone.png").symlink_to(tmp_path / "nothing.png")
    (dataset / "zero.png").symlink_to("/dev/null")
    (dataset / "link.png").symlink_to(dataset / "a.png")
    code, out, err = bench("run", "--dataset", str(dataset), "--results", str(tmp_path / "r"), *FLAGS)
    assert code == 1, err
    assert "6 images × 1 codec" in err
    assert f"{dataset / 'fifo.png'}: a FIFO, not an image file; remove it from the dataset folder" in err
    assert f"{dataset / 'zero.png'}: a character device, not an image file" in err
    assert f"{dataset / 'gone.png'}: a symbolic link to {tmp_path / 'nothing.png'}, which cannot be read" in err
    rows = Store(tmp_path / "r").read()
    assert set(rows.loc[rows["error"].isna(), "image"]) == {"a.png", "b.png", "link.png"}
    assert set(rows.loc[rows["error"].notna(), "image"]) == {"fifo.png", "gone.png", "zero.png"}

    code, _, err = bench("drift", "run", "--schedule", "jpeg:50", "-n", "1", "--dataset", str(dataset),
                         "--results", str(tmp_path / "d"), "--metric", "psnr_rgb", "--jobs", "1")
    assert code == 1 and "a FIFO, not an image file" in err


# -- bench's outputs under a dataset folder are never its images ---------------------------------------
def test_a_store_plots_and_tables_under_the_dataset_are_not_images(dataset):
    store = dataset / "results"
    code, _, err = bench("run", "--dataset", str(dataset), "--results", str(store), *FLAGS)
    assert code == 0 and "2 images × 1 codec" in err, err
    assert bench("plot", "--results", str(store), "--out", str(store / "plots"), "--metric", "psnr_rgb")[0] == 0
    assert bench("table", "--results", str(store), "--out", str(dataset / "tables"))[0] == 0
    assert any((store / "plots").glob("*.png")) and (store / MARKER).is_file()
    code, _, err = bench("run", "--dataset", str(dataset), "--results", str(store), *FLAGS)
    assert code == 0 and "2 images × 1 codec: 2 tasks, 2 already stored, 0 to run" in err, err
    assert set(Store(store).read()["image"]) == {"a.png", "b.png"}


def test_an_old_store_without_a_marker_is_skipped_and_an_output_folder_is_no_dataset(dataset, tmp_path):
    store = dataset / "old"
    assert bench("run", "--dataset", str(dataset), "--results", str(store), *FLAGS)[0] == 0
    (store / MARKER).unlink()  # a store written before the marker: its parts mark it
    Image.new("RGB", (64, 48)).save(store / "stray.png")
    code, _, err = bench("run", "--dataset", str(dataset), "--results", str(tmp_path / "r"), *FLAGS)
    assert code == 0 and "2 images × 1 codec" in err, err
    code, _, err = bench("run", "--dataset", str(store), "--results", str(tmp_path / "r"), *FLAGS)
    assert code == 2
    assert one_error(err).startswith(f"{store}: a folder bench writes its outputs into ({MARKER} or results parts), "
                                     "not a dataset; pass the folder of the images")


# -- drift schedules are checked like bench run's rates, before any work -------------------------------
@pytest.mark.parametrize("schedule, message", [
    ("jpeg:500", "--schedule 'jpeg:500': step jpeg:500: 500.0 outside jpeg's quality range [1, 100]"),
    ("jpeg:-5", "--schedule 'jpeg:-5': step jpeg:-5: -5.0 outside jpeg's quality range [1, 100]"),
    ("webp:90..50:3,jpeg:101", "--schedule 'webp:90..50:3,jpeg:101': step jpeg:101: 101.0 outside jpeg's quality range"),
    ("jpeg:95..45:4", "--schedule 'jpeg:95..45:4': step jpeg:78.3333: jpeg takes integer quality values, got 78.333333"),
    ("jpeg:nan", "--schedule 'jpeg:nan': step jpeg:nan: nan is not a finite number"),
    ("jpeg:abc", "--schedule 'jpeg:abc': bad drift schedule step 'jpeg:abc': use label:rate or label:start..stop:count"),
    ("jpeg", "--schedule 'jpeg': bad drift schedule step 'jpeg': use label:rate"),
    ("jpeg:90..10:99999", "--schedule 'jpeg:90..10:99999': bad drift schedule step 'jpeg:90..10:99999'"),
    ("nope:75", "--schedule 'nope:75': unknown codec 'nope'; registered codecs:"),
])
def test_bad_drift_schedules_stop_before_any_work(dataset, tmp_path, schedule, message):
    code, _, err = bench("drift", "run", "--schedule", schedule, "--dataset", str(dataset),
                         "--results", str(tmp_path / "d"), "--metric", "psnr_rgb")
    assert code == 2 and one_error(err).startswith(message), err
    assert not (tmp_path / "d").exists()


def test_bad_schedule_in_bench_toml_names_the_file(dataset, tmp_path):
    config = tmp_path / "bench.toml"
    config.write_text('[drift]\nschedules = ["webp:101"]\n')
    code, _, err = bench("drift", "run", "--config", str(config), "--dataset", str(dataset),
                         "--results", str(tmp_path / "d"))
    assert code == 2
    assert one_error(err) == f"{config}: drift.schedules 'webp:101': step webp:101: 101.0 outside webp's quality range [0, 100]"


# -- ~ expanded, $VAR refused: bench.toml and every path option ----------------------------------------
def test_tilde_is_expanded_in_flags_and_bench_toml(dataset, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(tmp_path)
    (home / "photos").symlink_to(dataset)
    code, _, err = bench("run", "--dataset", "~/photos", "--results=~/runs/a", *FLAGS)
    assert code == 0, err
    assert len(Store(home / "runs" / "a").read()) == 2
    config = home / "bench.toml"
    config.write_text('[run]\nresults = "~/runs/b"\ndatasets = ["~/photos"]\n')
    code, _, err = bench("run", "--config=~/bench.toml", *FLAGS)
    assert code == 0, err
    assert len(Store(home / "runs" / "b").read()) == 2
    assert not (tmp_path / "~").exists()


@pytest.mark.parametrize("argv, message", [
    (["run", "--results=$HOME/r"], "$HOME/r: bench does not expand environment variables: write the path out"),
    (["run", "--dataset", "${HOME}/photos"], "${HOME}/photos: bench does not expand environment variables"),
    (["run", "--config", "$PWD/bench.toml"], "$PWD/bench.toml: bench does not expand environment variables"),
    (["plot", "--out", "$HOME/plots"], "$HOME/plots: bench does not expand environment variables"),
    (["compare", "$HOME/a", "b"], "$HOME/a: bench does not expand environment variables"),
    (["table", "--results", "~nosuchuser0/r"], "~nosuchuser0/r: no user 'nosuchuser0' on this machine to expand"),
])
def test_environment_variables_in_flags_are_refused(tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    code, _, err = bench(*argv)
    assert code == 2 and one_error(err).startswith(message), err
    assert not [p for p in tmp_path.rglob("*") if "$" in p.name or p.name.startswith("~")]


@pytest.mark.parametrize("key", ["results", "data_dir"])
def test_environment_variables_in_bench_toml_are_refused(tmp_path, monkeypatch, key):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bench.toml").write_text(f'[run]\n{key} = "$HOME/x"\n')
    code, _, err = bench("run", *FLAGS)
    assert code == 2
    assert one_error(err) == f'bench.toml: run.{key} = "$HOME/x": bench does not expand environment variables: write the path out'


def test_every_path_option_of_every_command_goes_through_user_path():
    """A new path flag declared with plain ``typer.Option`` would take ``~`` literally."""
    groups = [cli.app, *(group.typer_instance for group in cli.app.registered_groups)]
    callbacks = [command.callback for group in groups for command in group.registered_commands]
    paths = [(f"{callback.__name__}({name})", parameter.default) for callback in callbacks
             for name, parameter in inspect.signature(callback).parameters.items() if "Path" in str(parameter.annotation)]
    plain = [where for where, declared in paths if getattr(declared, "parser", None) is not importlib.import_module("bench.cli.app")._user_path]
    assert len(paths) > 30 and not plain, plain
