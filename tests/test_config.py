"""bench.toml validation: every mistake is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config.settings import load, parse
from bench.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    path.write_text(text)
    return path


def test_repository_config_is_valid():
    config = load(REPO / "bench.toml")
    assert config.codecs and all(spec.rates for spec in config.selected_specs())


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load().codecs == ["jpeg", "webp"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[run]\njobz = 2\n", r"unknown key\(s\) run\.jobz"),
        ("[runn]\n", r"unknown key\(s\) runn"),
        ('[run]\ncodecs = ["jpg"]\n', r"unknown codec 'jpg'"),
        ("[codecs.jpeg]\nrates = [10, 20.5]\n", r"integer quality values, got 20.5"),
        ("[codecs.jpeg]\nrates = [0, 50]\n", r"0 outside jpeg's quality range"),
        ("[codecs.jpeg]\nrates = []\n", r"non-empty list"),
        ("[codecs.jpeg]\nrates = [10, 10]\n", r"duplicate"),
        ('[codecs.jpeg]\nrates = ["high"]\n', r"'high' is not a number"),
        ('[codecs.jpeg]\nparams = { chroma = "444" }\n', r"unknown parameter\(s\) \['chroma'\]"),
        ('[codecs.x]\nimpl = "nope"\n', r"unknown codec 'nope'"),
        ("[run]\njobs = 0\n", r"run\.jobs = 0: expected an integer in \[1, 1024\]"),
        ('[run]\njobs = "2"\n', r'run\.jobs = "2": expected an integer'),
        ("[run]\nmetrics = [\"psnr\"]\n", r"unknown metric"),
        ("[run\n", r"not valid TOML"),
        ("[codecs.jpeg]\nrates = { start = 10, stop = 90 }\n", r"start, stop and an integer count"),
        ('[run]\ncheck_determinism = "sometimes"\n', r'run\.check_determinism = "sometimes": expected "first", "all" or "off"'),
        ("[run]\ncheck_determinism = 1\n", r"run\.check_determinism = 1: expected"),
    ],
)
def test_bad_config_gives_one_clear_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as info:
        load(write(tmp_path, text))
    assert "bench.toml" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(("value", "mode"), [(None, "first"), ('"first"', "first"), ('"all"', "all"), ('"off"', "off"),
                                           ("true", "all"), ("false", "off")])
def test_determinism_check_modes_and_the_old_booleans(tmp_path, value, mode):
    text = "[run]\n" if value is None else f"[run]\ncheck_determinism = {value}\n"
    assert load(write(tmp_path, text)).check_determinism == mode


def test_range_grid_for_continuous_rates(tmp_path):
    config = load(write(tmp_path, "[codecs.jpeg]\nrates = { start = 10, stop = 90, count = 5 }\n"))
    assert config.spec("jpeg").rates == (10.0, 30.0, 50.0, 70.0, 90.0)


def test_labels_and_params(tmp_path):
    config = load(write(tmp_path, '[run]\ncodecs = ["j444"]\n[codecs.j444]\nimpl = "jpeg"\nparams = { subsampling = "4:4:4" }\n'))
    spec = config.spec("j444")
    assert (spec.impl, spec.params) == ("jpeg", {"subsampling": "4:4:4"})


def test_relative_paths_resolve_against_the_file(tmp_path):
    config = load(write(tmp_path, '[run]\nresults = "out"\n'))
    assert config.results == tmp_path / "out"


def test_missing_explicit_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "nope.toml")


def test_parse_rejects_wrong_section_type():
    with pytest.raises(ConfigError, match="codecs must be dict"):
        parse({"codecs": [1]})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[codecs.webp]\nparams = { method = "fast" }\n', r'\[codecs\.webp\] params\.method = "fast": expected an integer'),
        ("[codecs.webp]\nparams = { method = 9 }\n", r"\[codecs\.webp\] params\.method = 9: expected an integer in \[0, 6\]"),
        ('[codecs.jpeg]\nparams = { optimize = "yes" }\n', r'params\.optimize = "yes": expected true or false'),
        ('[codecs.jpeg]\nparams = { subsampling = "4:1:1" }\n', r'params\.subsampling = "4:1:1": expected one of "4:4:4"'),
        ("[codecs.bpg]\nparams = { timeout_s = true }\n", r"\[codecs\.bpg\] params\.timeout_s = true: expected a number"),
        ("[codecs.bpg]\nparams = { chroma = 444 }\n", r"params\.chroma = 444: expected a string"),
        ('[codecs.invcompress]\nparams = { checkpoints = "q1.pt" }\n', r'params\.checkpoints = "q1\.pt": expected a list of strings'),
        ('[codecs.ilc]\ndecoder_options = [{}, { z = "random" }]\n',
         r'\[codecs\.ilc\] decoder_options\[1\]\.z = "random": expected one of "mode", "sample"'),
        ("[codecs.probdec]\ndecoder_options = { scale = 7 }\n", r"\[codecs\.probdec\] decoder_options\.scale = 7: expected a number in \[0, 4\]"),
        ("[codecs.probdec]\ndecoder_options = { seed = -1 }\n", r"decoder_options\.seed = -1: expected an integer ≥ 0"),
        ('[codecs.ilc]\ndecoder_options = { temperature = "hot" }\n', r'decoder_options\.temperature = "hot": expected a number'),
    ],
)
def test_parameter_and_decoder_option_types_are_checked_on_load(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as info:
        load(write(tmp_path, text))
    assert "bench.toml: [codecs." in str(info.value) and "\n" not in str(info.value)


def test_ints_are_accepted_where_numbers_are_expected(tmp_path):
    config = load(write(tmp_path, "[codecs.probdec]\ndecoder_options = [{ scale = 1 }, { scale = 0.5, seed = 3 }]\n"
                                  "[codecs.bpg]\nparams = { timeout_s = 30.5 }\n"))
    assert config.spec("probdec").decoder_options == ({"scale": 1}, {"scale": 0.5, "seed": 3})


def test_codec_constructor_and_decoder_options_check_types_too():
    """Codecs built outside a config (flags, drift, tests) get the same check, without a file."""
    from bench.codec import codec_class

    with pytest.raises(ConfigError, match=r"^codec 'webp': params\.method = \"fast\": expected an integer"):
        codec_class("webp")(method="fast")
    with pytest.raises(ConfigError, match=r"^codec 'ilc': decoder_options\.z = \"random\""):
        codec_class("ilc")().check_decoder_options({"z": "random"})


@pytest.mark.parametrize("key", ["codecs", "datasets", "metrics"])
def test_empty_run_lists_are_nothing_to_run(tmp_path, key):
    with pytest.raises(ConfigError, match=rf"bench\.toml: run\.{key} = \[\]: nothing to run"):
        load(write(tmp_path, f"[run]\n{key} = []\n"))


@pytest.mark.parametrize(("count", "message"), [("2.7", "count = 2.7: expected an integer"), ("true", "count = true"),
                                                ('"3"', 'count = "3"')])
def test_fractional_rate_count_is_an_error(tmp_path, count, message):
    with pytest.raises(ConfigError, match=rf"codecs\.iat\.rates\.{message}"):
        load(write(tmp_path, f"[codecs.iat]\nrates = {{ start = 0, stop = 1, count = {count} }}\n"))
    grid = load(write(tmp_path, "[codecs.iat]\nrates = { start = 0, stop = 1, count = 3.0 }\n")).spec("iat").rates
    assert grid == (0.0, 0.5, 1.0)


def test_unknown_device_is_the_config_key(tmp_path):
    with pytest.raises(ConfigError, match=r'bench\.toml: run\.device = "tpu": expected cpu, cuda, cuda:N or auto'):
        load(write(tmp_path, '[run]\ndevice = "tpu"\n'))
    for device in ("cpu", "auto", "cuda", "cuda:1"):
        assert load(write(tmp_path, f'[run]\ndevice = "{device}"\n')).device == device
