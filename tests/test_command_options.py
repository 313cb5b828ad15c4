"""Every command's options and paths are checked before any work: a bad value is one line and
exit status 2, never a traceback, never a table of "n/a". Driven in-process through Typer's
CliRunner against a tiny prepared store; no codec runs.
"""

from __future__ import annotations

import hashlib
import os
import random
from datetime import datetime, timezone
from pathlib import Path

import pytest
import typer.main
import typer.testing
from PIL import Image
from typer.testing import CliRunner

from bench.cli import app
from bench.schema import SCHEMA_VERSION
from bench.store import Store

SEED = 300
#: Values no numeric option takes: wrong types, non-finite, negative, zero, huge.
BAD_NUMBERS = ("abc", "nan", "inf", "-inf", "-1", "1e400")
BAD_CHOICES = ("bogus", "", "PCHIP", "n/a")


@pytest.fixture(autouse=True)
def command_built_once(monkeypatch):
    """Typer's CliRunner builds the click command from the app on every call (about 40 ms);
    hundreds of invocations share one build, which is what the console script runs once."""
    command = typer.main.get_command(app)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _app: command)


@pytest.fixture(scope="module")
def place(tmp_path_factory) -> Path:
    """A tiny store (two codecs, three rates, two images, synthetic rows), a file, an empty
    folder, a folder of one 8×8 image, a fake crop grid and a read-only folder."""
    root = tmp_path_factory.mktemp("options")
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    rows = [{"key": hashlib.sha256(f"{codec}{rate}{image}".encode()).hexdigest(), "dataset": "d", "image": image,
             "codec": codec, "codec_impl": codec, "params": "{}", "rate": rate, "decoder_options": "{}",
             "generation": 1, "chain": "", "bpp": rate / 60, "psnr_rgb": base + rate / 10 + (image == "b.png"),
             "error": None, "created_utc": t0, "schema_version": SCHEMA_VERSION}
            for codec, base in (("jpeg", 30.0), ("webp", 31.0)) for rate in (30.0, 60.0, 90.0)
            for image in ("a.png", "b.png")]
    Store(root / "store").write(rows)
    (root / "afile").write_text("x")
    (root / "empty").mkdir()
    (root / "small").mkdir()
    Image.new("RGB", (8, 8)).save(root / "small" / "a.png")
    (root / "crops-fake.png").write_text("not a png")
    (root / "readonly").mkdir(mode=0o555)
    (root / "bench.toml").write_text("[run]\nresults = 'store'\n")
    return root


def bench(place: Path, *argv: str) -> tuple[int, str]:
    """``bench ARGV`` in ``place`` through CliRunner: (exit status, stderr); a traceback fails."""
    cwd = os.getcwd()
    os.chdir(place)
    try:
        result = CliRunner().invoke(app, list(argv))
    finally:
        os.chdir(cwd)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"bench {' '.join(argv)}: {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, result.stderr


def one_line(code: int, err: str, what: str) -> None:
    """Exit 0, 1 or 2; a refusal is exactly one ``error:`` line on stderr."""
    assert code in (0, 1, 2), f"{what}: exit {code}: {err}"
    assert "Traceback" not in err, f"{what}: {err}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: {err!r}"


def folder_targets(root: Path) -> list[str]:
    """Output paths no folder option takes."""
    targets = [str(root / "afile"), str(root / "afile" / "below"), "/proc/bench-out", "/sys/bench-out", "$HOME/out"]
    if os.geteuid() != 0:
        targets.append(str(root / "readonly" / "out"))
    return targets


def file_targets(root: Path) -> list[str]:
    """Output paths no file option takes."""
    targets = [str(root / "empty"), str(root / "afile" / "x.html"), "/proc/bench.html", "${HOME}/r.html"]
    if os.geteuid() != 0:
        targets.append(str(root / "readonly" / "r.html"))
    return targets


def commands(root: Path) -> list[tuple[list[str], dict[str, tuple[str, ...]]]]:
    """Each command with its cheapest valid arguments and, per option, the values it must refuse."""
    folders, files = tuple(folder_targets(root)), tuple(file_targets(root))
    store = ["--results", "store"]
    return [
        (["table", *store, "--resamples", "0"], {
            "--method": BAD_CHOICES, "--mode": BAD_CHOICES, "--images": BAD_CHOICES, "--metric": ("nosuch", "ms_ssim"),
            "--auc-interpolation": BAD_CHOICES, "--seed": ("-1", "abc", "1e3", str(2 ** 64)),
            "--resamples": ("-1", "abc", str(10 ** 9)), "--out": folders}),
        (["plot", *store], {"--metric": ("nosuch", "bpp"), "--images": BAD_CHOICES, "--band": BAD_CHOICES,
                            "--out": folders}),
        (["report", *store, "--resamples", "0"], {
            "--images": BAD_CHOICES, "--band": BAD_CHOICES, "--resamples": ("-1", "x"), "--out": files,
            "--crops": (str(root / "crops-fake.png"), str(root / "empty"), str(root / "missing.png"), "/proc/self/status")}),
        (["crops", *store, "--image", "a", "--box", "0,0,8,8", "--bpp", "1"], {
            "--tolerance": (*BAD_NUMBERS, "0", "1e9"), "--metric": ("nosuch",), "--out": folders}),
        (["crops", *store, "--image", "a", "--box", "0,0,8,8"], {"--target-bpp": (*BAD_NUMBERS, "0", "1e6")}),
        (["drift", "report", *store], {"--metric": BAD_CHOICES, "--threshold": (*BAD_NUMBERS, "0"), "--out": folders}),
        (["sweep-plot", *store, "--codec", "jpeg"], {"--fidelity": BAD_CHOICES, "--out": folders}),
        (["history", "report", "--history", "store"], {"--out": files, "--json": files}),
        (["compare", "store", "store"], {
            "--max-bd-rate": BAD_NUMBERS, "--max-psnr-drop": BAD_NUMBERS, "--max-bpp-rise": BAD_NUMBERS,
            "--gate": BAD_CHOICES, "--seed": ("-1", "x"), "--resamples": ("0", "-5", "y"), "--json": files,
            "--markdown": files}),
        (["train", "iat", "--data", "small", "--out", "trained", "--set", "crop=8"], {
            "--steps": ("0", "-1", "x"), "--set": ("lr=NaN", "lr=Infinity", "noequals", "=1", "out=x"),
            "--out": folders, "--export": files}),
        (["train", "iat", "--out", "trained"], {"--data": ("empty", "small", "afile", "missing", "$HOME")}),
    ]


def test_300_hostile_invocations_end_in_one_line_and_bad_values_end_2(place):
    """Seeded: each invocation sets one option of one command to a value it must refuse (exit 2,
    one line); every tenth runs ``bench table`` or ``bench compare`` as given instead, the commands
    cheap enough to run in full here (0, 1 or 2, one line when 2)."""
    rng = random.Random(SEED)
    table = commands(place)
    runnable = [base for base, _ in table if base[0] in ("table", "compare")]
    refused = 0
    for index in range(300):
        if index % 10 == 0:
            base = rng.choice(runnable)
            code, err = bench(place, *base)
            one_line(code, err, " ".join(base))
            continue
        base, bad = rng.choice(table)
        option = rng.choice(sorted(bad))
        argv = [*base, option, rng.choice(bad[option])]
        code, err = bench(place, *argv)
        one_line(code, err, " ".join(argv))
        assert code == 2, f"{' '.join(argv)}: exit {code}, a bad value must be refused: {err}"
        refused += 1
    assert refused >= 250


def test_read_only_cases_need_a_user_who_is_not_root(place):
    """The read-only folder targets are in the fuzz only when not running as root."""
    if os.geteuid() == 0:
        pytest.skip("running as root: a read-only folder is writable for root, so that case is left out")
    code, err = bench(place, "plot", "--results", "store", "--out", str(place / "readonly" / "plots"))
    assert code == 2 and "not writable" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["report", "--results", "store", "--resamples", "0", "-o", "empty"], "--out empty: a folder, not a file"),
    (["table", "--results", "store", "-o", "afile"], "--out afile: a file, not a folder"),
    (["plot", "--results", "store", "-o", "afile"], "--out afile: a file, not a folder"),
    (["plot", "--results", "store", "-o", "/proc/plots"], "inside /proc"),
    (["table", "--results", "store", "--seed", "-1"], "--seed -1: expected an integer in [0,"),
    (["table", "--results", "store", "--auc-range", "nan", "nan"], "--auc-range nan: not finite"),
    (["table", "--results", "store", "--auc-range", "2", "1"], "--auc-range 2 1: expected LOW < HIGH"),
    (["table", "--results", "store", "--auc-interpolation", "bogus"], "expected one of cubic, pchip, linear"),
    (["table", "--results", "store", "--method", "bogus"], "--method 'bogus': expected one of pchip, cubic"),
    (["plot", "--results", "store", "-m", "nosuch"], "--metric 'nosuch': expected one of psnr_rgb"),
    (["report", "--results", "store", "--band", "bogus"], "--band 'bogus': expected one of iqr, minmax, none"),
    (["crops", "--results", "store", "--image", "a", "--box", "0,0,8,8", "--target-bpp", "0"], "--target-bpp 0.0"),
    (["crops", "--results", "store", "--image", "a", "--box", "0,0,8,8", "--bpp", "1", "--tolerance", "nan"], "--tolerance nan"),
    (["crops", "--results", "store", "--image", "a", "--box", "0,0,8,8", "--bpp", "1", "--tolerance", "-1"], "--tolerance -1"),
    (["crops", "--results", "store", "--image", "a", "--box", "0,0,8,8", "--bpp", "1", "--tolerance", "0"], "--tolerance 0"),
    (["crops", "--results", "store", "--image", "a", "--box", "0,0,8,8", "--bpp", "1", "--tolerance", "inf"], "--tolerance inf"),
    (["train", "iat", "--data", "empty", "--out", "trained"], "--data empty: no training images"),
    (["train", "iat", "--data", "small", "--out", "trained"], "is 8×8, smaller than the 128×128 training crop"),
    (["train", "iat", "--data", "small", "--out", "trained", "--set", "batch_size=0"], "--set batch_size: not an option"),
    (["train", "iat", "--data", "small", "--out", "trained", "--set", "batch=0"], "--set batch 0: expected an integer in [1,"),
    (["report", "--results", "store", "--crops", "crops-fake.png"], "not a PNG file"),
])
def test_each_reported_case_is_one_line_and_exit_2(place, argv, message):
    code, err = bench(place, *argv)
    one_line(code, err, " ".join(argv))
    assert code == 2 and message in err, err


def test_a_crop_grid_over_the_size_cap_is_refused_unread(place, monkeypatch):
    """The cap is checked by ``stat``: a 1 GB file is refused without being read."""
    from bench.render import report

    big = place / "crops-big.png"
    big.write_bytes(report.PNG_SIGNATURE + b"\0" * 64)
    monkeypatch.setattr(report, "MAX_CROP_BYTES", 32)
    code, err = bench(place, "report", "--results", "store", "--crops", str(big))
    assert code == 2 and "more than the 32" in err, err


def test_a_config_nested_1000_deep_is_one_line(place, tmp_path):
    deep = tmp_path / "deep.toml"
    deep.write_text("[run]\nresults = " + "[" * 1000 + "]" * 1000 + "\n")
    code, err = bench(place, "table", "--config", str(deep), "--results", "store")
    one_line(code, err, "deep config")
    assert code == 2 and "nested more than 32 deep" in err, err


def test_the_python_api_refuses_what_the_command_line_refuses(place):
    from bench import api
    from bench.errors import ConfigError

    with pytest.raises(ConfigError, match="--method 'bogus'"):
        api.table(place / "store", method="bogus", out=None)
    with pytest.raises(ConfigError, match="--band"):
        api.plot(place / "store", band="bogus", out=place / "plots")


def test_the_shared_choices_are_those_the_analysis_supports():
    from bench.analysis.aggregate import QUALITY_METRICS
    from bench.config.metric_names import ANALYSIS_METRICS, STORED_METRICS
    from bench.render.rd import BANDS
    from bench.schema import METRIC_COLUMNS
    from bench.config.defaults import BANDS as BAND_NAMES

    assert set(ANALYSIS_METRICS) == set(QUALITY_METRICS)
    assert STORED_METRICS == METRIC_COLUMNS
    assert tuple(BANDS) == BAND_NAMES
