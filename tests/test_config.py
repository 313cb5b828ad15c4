"""bench.toml validation: every mistake is one line naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.config import load, parse
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
        ("[run]\njobs = 0\n", r"run\.jobs must be ≥ 1"),
        ('[run]\njobs = "2"\n', r"run\.jobs must be int"),
        ("[run]\nmetrics = [\"psnr\"]\n", r"unknown metric"),
        ("[run\n", r"not valid TOML"),
        ("[codecs.jpeg]\nrates = { start = 10, stop = 90 }\n", r"start, stop and an integer count"),
    ],
)
def test_bad_config_gives_one_clear_line(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message) as info:
        load(write(tmp_path, text))
    assert "bench.toml" in str(info.value) and "\n" not in str(info.value)


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
