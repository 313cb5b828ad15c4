"""``bench codecs`` answers from the codecs' listings: every listing says what its class says,
and listing every codec imports no codec, torch or imaging binding."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bench import api, registry
from bench.codec import codec_class


@pytest.mark.parametrize("name", registry.names("codec"))
def test_every_codec_has_a_listing_equal_to_its_class(name):
    listing = registry.load("codec_listing", name)
    assert listing is not None, f"codec {name!r} has no entry in the bench.codec_listings group"
    cls = codec_class(name)
    assert (listing.name, listing.rate_parameter, tuple(listing.default_rates), listing.learned) == (
        cls.name, cls.rate_parameter, tuple(cls.default_rates), cls.learned)


def test_a_listing_says_unavailable_only_where_the_class_does():
    """The listing's cheap check never refuses a codec its class would run."""
    for info in api.codecs():
        if info.unavailable:
            assert codec_class(info.name).unavailable_reason(), info.name


def test_listing_imports_no_codec_and_prints_every_reason_whole():
    code = ("import sys; sys.argv = ['bench', 'codecs']\n"
            "from bench.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'PIL', 'imagecodecs', 'pillow_heif', "
            "'compressai', 'numpy') or m.startswith('bench_codecs.') and m != 'bench_codecs.listings' "
            "and m != 'bench_codecs.subprocess_runner')\n"
            "print('loaded:', *heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={"COLUMNS": "60", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr[-800:]
    lines = result.stdout.splitlines()
    assert lines[-1] == "loaded:"
    for info in api.codecs():
        if info.unavailable:
            assert f"{info.name}: {info.unavailable}" in lines, info.name
