"""Real BPG and VTM binaries, run when found (PATH, BENCH_BPGENC/BENCH_BPGDEC, BENCH_VTM_DIR)."""

import numpy as np
import pytest

from bench.codec import make_codec
from bench_codecs.bpg import BpgCodec
from bench_codecs.vtm import VtmCodec


def mse_psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_bpg_real_binary(photo):
    reason = BpgCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    crop = np.ascontiguousarray(photo[100:163, 50:147])  # odd sizes
    codec = make_codec("bpg", {})
    assert "0.9" in codec.version()
    hi, lo = codec.encode(crop, 22), codec.encode(crop, 42)
    assert hi[:4] == b"BPG\xfb" and len(hi) > len(lo)
    dh, dl = codec.decode(hi), codec.decode(lo)
    assert dh.shape == crop.shape and mse_psnr(crop, dh) > mse_psnr(crop, dl) + 3 and mse_psnr(crop, dh) > 36


def test_vtm_real_binary_non_multiple_size(photo):
    reason = VtmCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    crop = np.ascontiguousarray(photo[200:237, 200:253])  # 53x37: padded to 56x40, cropped back
    codec = make_codec("vtm", {})
    data = codec.encode(crop, 37)
    decoded = codec.decode(data)
    assert decoded.shape == crop.shape and mse_psnr(crop, decoded) > 28


def _measured_vs_published(tmp_path, codec: str, rates: list[int], extra_params: str = "") -> float:
    """BD-rate (%) of the harness's measured Kodak curve against the published one of the same
    codec, through the commands a user runs: `bench run` then `bench table --anchor published:…`."""
    from typer.testing import CliRunner

    import bench.cli  # noqa: F401
    from bench.analysis.paper import TableSettings, paper_tables
    from bench.cli.app import app
    from bench.store import read_rows

    config = tmp_path / "bench.toml"
    config.write_text(f'[run]\nmetrics = ["psnr_rgb"]\njobs = 2\nresults = "{tmp_path / "store"}"\n\n'
                      f'[codecs.{codec}]\nrates = {rates}\n{extra_params}\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--dataset", "kodak", "--codec", codec])
    assert result.exit_code == 0, result.output
    rows = read_rows(tmp_path / "store")
    table = paper_tables(rows, TableSettings(anchor=f"published:{codec}", metrics=("psnr_rgb",), resamples=0))
    return float(table.bd["psnr_rgb"].set_index("codec").loc[codec, "bd_rate"])


def test_measured_bpg_reproduces_compressais_published_curve(tmp_path, kodak_dir):
    reason = BpgCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    params = 'params = { chroma = "444", encoder = "x265", color_space = "ycbcr", bit_depth = 8 }'
    assert abs(_measured_vs_published(tmp_path, "bpg", [47, 42, 37, 32, 27, 22], params)) < 1.0


def test_measured_vtm_reproduces_compressais_published_curve(tmp_path, kodak_dir):
    reason = VtmCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    import os

    if not os.environ.get("BENCH_LONG_TESTS"):
        pytest.skip("VTM on 24 Kodak images takes about 80 minutes on 2 cores; set BENCH_LONG_TESTS=1 to run it")
    # CompressAI's set-up: VTM's own intra configuration, 8-bit input, 10-bit internal depth
    params = ('params = { profile = "vtm-intra", chroma = "444", input_bit_depth = 8, bit_depth = 10, '
              'matrix = "bt709", range = "full", psnr_reference = "ycbcr-roundtrip" }')
    assert abs(_measured_vs_published(tmp_path, "vtm", [47, 42, 37, 32, 27, 22], params)) < 2.0
