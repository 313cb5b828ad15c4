"""Probabilistic decoding (Ma et al. 2021): sub-bands, one bitstream, reconstructions by seed and scale."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from bench.errors import CodecFailure, ConfigError
from bench.execute import Settings, encode_decode_measure
from bench_codecs.inn.probdec import ProbDec, probdec_loss
from bench_codecs.inn.stochastic_codecs import DEMO_PROBDEC, ProbDecCodec, pack_strings, unpack_strings
from bench_codecs.inn.train_stochastic import export, run_from_cli

SMALL = {"levels": 3, "lift_hidden": 4, "hidden": 8}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _perturbed(model: torch.nn.Module, std: float = 0.05, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith(("entropy_bottleneck", "log_step")):
                p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * std)
    return model


def test_level_by_level_inverse_is_the_transform_inverse_float64():
    model = _perturbed(ProbDec(**SMALL)).double()
    x = torch.rand(2, 3, 32, 40, dtype=torch.float64) * 255
    bands = model.transform(x)
    assert len(bands) == 3 * 3 + 1 and bands[0].shape == (2, 3, 4, 5)
    groups = [bands[0]] + [torch.cat(bands[1 + 3 * i: 4 + 3 * i], 1) for i in range(3)]
    assert (model.synthesize(groups) - x).abs().max().item() < 1e-10


def test_forward_shapes_and_finite_loss():
    model = ProbDec(**SMALL)
    out = model(torch.rand(2, 3, 32, 32))
    assert len(out["mu"]) == len(out["sigma"]) == len(out["y"]) == 1 + 3
    for mu, sigma, y in zip(out["mu"], out["sigma"], out["y"]):
        assert mu.shape == sigma.shape == y.shape and (sigma > 0).all()
    assert set(out["likelihoods"]) == {"ll", "d0", "d1", "d2"}
    terms = probdec_loss(model, torch.rand(2, 3, 32, 32), lmbda=2.0, distortion_weight=0.02)
    assert all(torch.isfinite(v) for v in terms.values())


def test_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = ProbDec(**SMALL)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    x = torch.stack([0.2 + 0.6 * xx, 0.5 + 0.3 * torch.sin(6 * yy), 0.4 * xx * yy])[None].repeat(2, 1, 1, 1)
    optimizer = torch.optim.Adam([p for n, p in model.named_parameters() if not n.endswith("quantiles")], lr=1e-2)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        terms = probdec_loss(model, x, lmbda=2.0, distortion_weight=0.02)
        terms["loss"].backward()
        optimizer.step()
        losses.append(terms["loss"].item())
    assert losses[-1] < 0.9 * losses[0], losses


def test_container_round_trip_and_truncation():
    strings = [b"ab", b"", b"cdef"]
    packed = pack_strings(30, 40, (2, 3), 1.0, strings)
    assert len(packed) == 14 + 2 * 4 + 6
    assert unpack_strings(packed) == (30, 40, (2, 3), 1.0, strings)
    with pytest.raises(CodecFailure):
        unpack_strings(packed[:10])


@pytest.fixture(scope="module")
def codec(tmp_path_factory) -> ProbDecCodec:
    model = _perturbed(ProbDec(**SMALL), seed=2).eval()
    model.update(force=True)
    path = tmp_path_factory.mktemp("probdec") / "probdec.pt"
    torch.save(model.state_dict(), path)
    return ProbDecCodec(checkpoints=[str(path)])


def test_round_trip_and_bpp_counts_every_byte(codec, image):
    data = codec.encode(image, 1)
    assert len(unpack_strings(data)[4]) == 3 + 1
    decoded = codec.decode(data)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.array_equal(decoded, np.round(codec.decode_float(data)).astype(np.uint8))
    psnr = 10 * np.log10(255**2 / np.mean((decoded.astype(float) - image) ** 2))
    assert psnr > 20  # the mode is a real reconstruction of this image
    m = encode_decode_measure(codec, image, image, 1, codec.check_decoder_options({"scale": 0.5, "seed": 1}),
                              Settings(metrics=("psnr_rgb",)))
    assert m.values["bytes"] == len(data)
    assert m.values["bpp"] == pytest.approx(len(data) * 8 / (45 * 37))
    assert m.values["deterministic_decode"] is True


def test_scale_zero_is_the_mode_whatever_the_seed(codec, image):
    data = codec.encode(image, 1)
    mode = codec.decode(data)
    assert np.array_equal(mode, codec.decode(data, scale=0.0, seed=5))
    assert np.array_equal(mode, codec.decode(data, scale=0.0, seed=6))


def test_one_bitstream_many_reconstructions_reproducible_by_seed(codec, image):
    data = codec.encode(image, 1)
    assert codec.encode(image, 1) == data  # the bitstream does not depend on any decoder option
    a = codec.decode_float(data, scale=1.0, seed=1)
    assert np.array_equal(a, codec.decode_float(data, scale=1.0, seed=1))
    b = codec.decode_float(data, scale=1.0, seed=2)
    assert not np.array_equal(a, b)
    mode = codec.decode_float(data)
    half = codec.decode_float(data, scale=0.5, seed=1)
    # larger variance scale, further from the mode (same ε: ỹ − μ scales linearly before f⁻¹)
    assert 0 < np.abs(half - mode).mean() < np.abs(a - mode).mean()


def test_bad_decoder_options_are_rejected(codec):
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"scale": -0.1})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"temperature": 1.0})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"seed": 1.5})
    assert codec.check_decoder_options({"scale": 0.3}) == {"scale": 0.3, "seed": 0}


def test_trainer_checkpoints_resumes_and_exports(tmp_path, image):
    from PIL import Image

    data = tmp_path / "train"
    data.mkdir()
    Image.fromarray(np.tile(image, (2, 2, 1))).save(data / "a.png")
    options = {"data": [str(data)], "out": str(tmp_path / "run"), "steps": 2, "crop": 32, "batch": 1,
               "save_every": 1, **SMALL}
    run_from_cli("probdec", options)
    run_from_cli("probdec", {**options, "steps": 3, "export": str(tmp_path / "w.pt")})
    log = (tmp_path / "run" / "train.log").read_text()
    assert "resumed at step 2" in log and "step 3 loss" in log
    out = ProbDecCodec(checkpoints=[str(tmp_path / "w.pt")])
    assert out.decode(out.encode(image, 1)).shape == image.shape
    assert export(tmp_path / "run" / "checkpoint.pt", tmp_path / "w2.pt", "probdec").stat().st_size > 0


def test_demo_weights_decode_when_shipped(image):
    if not Path(DEMO_PROBDEC).is_file():
        pytest.skip("demo weights not trained yet")
    codec = ProbDecCodec()
    data = codec.encode(image, 1)
    assert codec.decode(data, scale=1.0, seed=3).shape == image.shape


def test_sweep_plot_groups_rows_by_the_knob(tmp_path):
    import json

    import pandas as pd

    from bench.analysis.sweep import sweep_points
    from bench.render.sweep import plot_sweep, points_markdown

    rows = []
    for image in ("a", "b"):
        for scale, psnr, lpips in ((0.0, 30.0, 0.30), (0.5, 29.0, 0.25), (1.0, 27.0, 0.20)):
            for seed in (0, 1):
                rows.append({"dataset": "kodak", "codec": "probdec", "rate": 1.0, "image": f"{image}.png",
                             "image_sha256": image, "bitstream_sha256": f"bits-{image}", "bpp": 0.5,
                             "decoder_options": json.dumps({"scale": scale, "seed": seed}),
                             "psnr_rgb": psnr + (image == "b"), "lpips": lpips, "error": None, "generation": 1,
                             "chain": ""})
    rows.append({**rows[0], "codec": "jpeg", "decoder_options": "{}"})
    points = sweep_points(pd.DataFrame(rows), "probdec", "scale")
    assert list(points["scale"]) == [0.0, 0.5, 1.0]
    assert list(points["n_images"]) == [2, 2, 2] and list(points["n_rows"]) == [4, 4, 4]
    assert list(points["n_bitstreams"]) == [2, 2, 2]  # one bitstream per image, whatever the scale
    assert points["psnr_rgb"].iloc[0] == pytest.approx(30.5)
    mse = [255**2 * 10 ** (-30 / 10), 255**2 * 10 ** (-31 / 10)]
    assert points["mse"].iloc[0] == pytest.approx(sum(mse) / 2)
    written = plot_sweep(points, "probdec", "scale", tmp_path, "mse", formats=("png",))
    assert [p.name for p in written] == ["sweep-probdec-scale-kodak.png"]
    assert "| kodak | 1 | 0.5 |" in points_markdown(points, "scale")


def test_sweep_points_where_keeps_one_decoder_mode():
    import json

    import pandas as pd

    from bench.analysis.sweep import sweep_points

    base = {"dataset": "kodak", "codec": "ilc", "rate": 1.0, "image": "a.png", "image_sha256": "a", "bitstream_sha256": "bits",
            "bpp": 0.8, "lpips": 0.1, "error": None, "generation": 1, "chain": ""}
    rows = [{**base, "decoder_options": json.dumps({"z": "mode", "temperature": 1.0, "seed": 0}), "psnr_rgb": 31.0},
            {**base, "decoder_options": json.dumps({"z": "sample", "temperature": 1.0, "seed": 0}), "psnr_rgb": 25.0},
            {**base, "decoder_options": json.dumps({"z": "sample", "temperature": 0.5, "seed": 0}), "psnr_rgb": 28.0}]
    mixed = sweep_points(pd.DataFrame(rows), "ilc", "temperature")
    assert mixed["psnr_rgb"].tolist() == [28.0, 28.0]  # mode and sample at temperature 1 averaged together
    sampled = sweep_points(pd.DataFrame(rows), "ilc", "temperature", {"z": "sample"})
    assert sampled["temperature"].tolist() == [0.5, 1.0] and sampled["psnr_rgb"].tolist() == [28.0, 25.0]


def test_sweep_plot_command_rejects_a_malformed_where(tmp_path):
    from typer.testing import CliRunner

    import bench.cli  # noqa: F401
    from bench.cli.app import app
    from bench.store import Store

    Store(tmp_path / "store").write([{"key": "k", "dataset": "kodak", "codec": "ilc", "rate": 1.0}])
    result = CliRunner().invoke(app, ["sweep-plot", "--codec", "ilc", "--knob", "temperature",
                                      "--where", "z:sample", "--results", str(tmp_path / "store")])
    assert result.exit_code != 0
    assert "--where 'z:sample': write KEY=VALUE" in result.output
