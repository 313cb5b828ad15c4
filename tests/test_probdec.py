"""Probabilistic decoding (Ma et al. 2021): sub-bands, mixture entropy model, one bitstream,
reconstructions by seed and variance factor."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.errors import CodecFailure, CodecUnavailable, ConfigError
from bench.execute.worker import Settings, encode_decode_measure
from bench_codecs.inn.probdec import (PARAM_GRID, MixtureContext, ProbDec, causal_offsets, mixture_likelihood,
                                      mixture_pmf, probdec_loss, quantise_mixture, soft_round, wavefronts)
from bench_codecs.inn.codec import checkpoint_path
from bench_codecs.inn.stochastic_codecs import DEMO_PROBDEC, ProbDecCodec, pack_strings, unpack_strings
from bench_codecs.inn.train_stochastic import export, run_from_cli

SMALL = {"levels": 3, "lift_hidden": 4, "hidden": 8, "context_hidden": 8, "step": 16.0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _perturbed(model: torch.nn.Module, std: float = 0.05, seed: int = 0) -> torch.nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * std)
    return model


def test_level_by_level_inverse_is_the_transform_inverse_float64():
    model = _perturbed(ProbDec(**SMALL)).double()
    x = torch.rand(2, 3, 32, 40, dtype=torch.float64) * 255
    bands = model.transform(x)
    assert len(bands) == 3 * 3 + 1 and bands[0].shape == (2, 3, 4, 5)
    assert (model.synthesize(ProbDec._groups(bands, 3)) - x).abs().max().item() < 1e-9


def test_forward_shapes_and_finite_loss():
    model = ProbDec(**SMALL)
    out = model(torch.rand(2, 3, 32, 32))
    assert len(out["mu"]) == len(out["sigma"]) == len(out["y"]) == 1 + 3
    for mu, sigma, y in zip(out["mu"], out["sigma"], out["y"]):
        assert mu.shape == sigma.shape == y.shape and (sigma > 0).all()
    assert set(out["likelihoods"]) == {"ll", "d0", "d1", "d2"}
    assert out["likelihoods"]["d2"].shape == (2, 16, 16, 3, 3)  # B×H×W × 3 sub-bands × RGB
    terms = probdec_loss(model, torch.rand(2, 3, 32, 32), lmbda=2.0, distortion_weight=0.02)
    assert all(torch.isfinite(v) for v in terms.values())


def test_entropy_model_is_a_three_component_mixture_with_both_contexts():
    model = ProbDec(**SMALL)
    assert model.context_ll.components == 3 and model.context_ll.ll is None
    assert all(c.components == 3 and c.ll is not None and c.groups == 3 for c in model.context)
    # causal: the upper rows and the left part of the current row of the 5×5 neighbourhood
    assert causal_offsets(5) == [(-2, -2), (-2, -1), (-2, 0), (-2, 1), (-2, 2), (-1, -2), (-1, -1), (-1, 0),
                                 (-1, 1), (-1, 2), (0, -2), (0, -1)]


def test_context_sees_only_causal_neighbours_and_its_own_sub_band():
    torch.manual_seed(0)
    context = _perturbed(MixtureContext(3, 3, 5, 8, 3), std=0.3).double()
    x = torch.randn(1, 9, 12, 12, dtype=torch.float64)
    ll = torch.randn(1, 3, 12, 12, dtype=torch.float64)
    base = context(x, ll)
    changed = x.clone()
    changed[0, 3:6, 6, 6] += 5  # sub-band 1 at (6, 6)
    after = context(changed, ll)
    moved = [(a - b).abs().amax(dim=(0, 4, 5)) > 0 for a, b in zip(base, after)]  # H×W×G
    moved = torch.stack(moved).any(0)
    assert not moved[..., 0].any() and not moved[..., 2].any()  # other sub-bands: untouched
    rows, cols = torch.nonzero(moved[..., 1], as_tuple=True)
    for r, c in zip(rows.tolist(), cols.tolist()):  # only positions after (6, 6) in raster order
        assert (r, c) > (6, 6) and r - 6 <= 2 and abs(c - 6) <= 2
    assert moved[6, 7, 1] and moved[7, 6, 1] and not moved[6, 6, 1]


def test_coding_path_computes_the_training_path_parameters():
    """The wavefront gather + batched matmuls give the masked convolutions' parameters."""
    torch.manual_seed(1)
    context = _perturbed(MixtureContext(3, 3, 5, 8, 3), std=0.3).double()
    x = torch.randint(-4, 5, (1, 9, 7, 10)).double()
    ll = torch.randn(1, 3, 7, 10, dtype=torch.float64)
    expected = context(x, ll)
    r = 2
    padded = torch.nn.functional.pad(x[0], (r, r, r, 0)).view(3, 3, -1)
    wp = 10 + 2 * r
    offsets = torch.tensor([di * wp + dj for di, dj in context.offsets])
    weights = context.coding_weights()
    features = context.ll_features(ll)
    seen = 0
    for i, j in wavefronts(7, 10, 5):
        centre = torch.from_numpy((i + r) * wp + (j + r))
        gathered = padded[:, :, centre.unsqueeze(1) + offsets].permute(0, 2, 1, 3)
        for got, want in zip(context.params_at(weights, gathered, features, i, j), expected):
            torch.testing.assert_close(got, want[0, torch.from_numpy(i), torch.from_numpy(j)])
        seen += len(i)
    assert seen == 70


@pytest.mark.parametrize("shape", [(1, 1), (3, 8), (9, 4), (16, 16)])
def test_wavefronts_visit_each_position_once_after_its_causal_neighbours(shape):
    order = {}
    for t, (i, j) in enumerate(wavefronts(*shape, 5)):
        for a, b in zip(i.tolist(), j.tolist()):
            assert (a, b) not in order
            order[(a, b)] = t
    assert len(order) == shape[0] * shape[1]
    for (a, b), t in order.items():
        for di, dj in causal_offsets(5):
            if (a + di, b + dj) in order:
                assert order[(a + di, b + dj)] < t


def test_mixture_pmf_matches_the_likelihood_and_sums_to_one():
    # on the parameter grid already, so quantising changes nothing
    weights = torch.tensor([[0.25, 0.5, 0.25]], dtype=torch.float64)
    means = torch.tensor([[0.3125, -1.25, 2.0]], dtype=torch.float64)
    scales = torch.tensor([[0.5, 1.0, 3.0]], dtype=torch.float64)
    pmf = mixture_pmf(-40, 40, *quantise_mixture(weights, means, scales))[0]
    assert pmf.sum() == pytest.approx(1.0, abs=1e-12)
    values = torch.arange(-5, 6, dtype=torch.float64)
    lik = mixture_likelihood(values, weights, means, scales)
    np.testing.assert_allclose(pmf[35:46], lik.numpy(), rtol=1e-9)


def test_mixture_parameters_are_quantised_to_the_grid_in_float64():
    weights = torch.tensor([[0.2, 0.5, 0.3]])
    means = torch.tensor([[0.3, -1.2, 2.0]])
    scales = torch.tensor([[1e-4, 1.0, 3.01]])
    counts, mu, s = quantise_mixture(weights, means, scales)
    assert counts.dtype == mu.dtype == s.dtype == np.float64
    np.testing.assert_array_equal(counts, [[26, 64, 38]])
    assert (mu / PARAM_GRID == np.round(mu / PARAM_GRID)).all() and abs(mu - means.numpy()).max() <= PARAM_GRID / 2
    np.testing.assert_array_equal(s, [[PARAM_GRID, 1.0, 3.0078125]])  # never below one grid step


def test_soft_rounding_goes_from_identity_to_rounding():
    x = torch.linspace(-2.3, 2.3, 47) + 0.013  # no exact half-integers
    assert (soft_round(x, 1e-3) - x).abs().max() < 1e-3
    assert (soft_round(x, 2000.0) - torch.round(x)).abs().max() < 1e-3
    model = ProbDec(**SMALL)
    assert model.alpha() == 1.0
    model.train()(torch.rand(1, 3, 16, 16))
    assert int(model.train_steps) == 1  # the annealing counter is part of the weights (resumes)


def test_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = ProbDec(**SMALL)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    x = torch.stack([0.2 + 0.6 * xx, 0.5 + 0.3 * torch.sin(6 * yy), 0.4 * xx * yy])[None].repeat(2, 1, 1, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
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
    ranges = [(0, 7), (-3, 2), (-1, 1)]
    packed = pack_strings(30, 40, (2, 3), 1.0, strings, ranges)
    assert len(packed) == 14 + 3 * 4 + 2 * 4 + 6
    assert unpack_strings(packed) == (30, 40, (2, 3), 1.0, strings, ranges)
    with pytest.raises(CodecFailure):
        unpack_strings(packed[:10])
    with pytest.raises(CodecFailure, match="truncated"):
        unpack_strings(packed[:20])
    with pytest.raises(CodecFailure, match="bitstream format 1, this decoder reads 2"):
        unpack_strings(b"\x01" + packed[1:])


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    model = _perturbed(ProbDec(**SMALL), std=0.02, seed=2).eval()
    path = tmp_path_factory.mktemp("probdec") / "probdec.pt"
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def codec(model_path) -> ProbDecCodec:
    return ProbDecCodec(checkpoints=[str(model_path)])


def test_round_trip_and_bpp_counts_every_byte(codec, image):
    data = codec.encode(image, 1)
    assert len(unpack_strings(data)[4]) == 3 + 1
    decoded = codec.decode(data)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.array_equal(decoded, np.round(codec.decode_float(data)).astype(np.uint8))
    psnr = 10 * np.log10(255**2 / np.mean((decoded.astype(float) - image) ** 2))
    assert psnr > 20  # the mode is a real reconstruction of this image
    m = encode_decode_measure(codec, image, image, 1, codec.check_decoder_options({"variance_factor": 0.5, "seed": 1}),
                              Settings(metrics=("psnr_rgb",)))
    assert m.values["bytes"] == len(data)
    assert m.values["bpp"] == pytest.approx(len(data) * 8 / (45 * 37))
    assert m.values["deterministic_decode"] is True


def test_decoder_rebuilds_exactly_the_encoders_symbols(codec, model_path, image):
    """The range-coded mode equals the model's own forward pass with rounding (eval mode)."""
    from bench_codecs.inn.stochastic_codecs import to_padded

    model = codec._model(model_path)  # float64, as the codec codes
    x = to_padded(image, model.stride, "cpu").double()
    with torch.no_grad():
        expected = model(x)["x_mode"][0].permute(1, 2, 0).numpy()[:45, :37] * 255
    got = codec.decode_float(codec.encode(image, 1))
    np.testing.assert_allclose(got, np.clip(expected, 0, 255), atol=1e-3)


def test_range_coder_rate_is_close_to_the_model_rate(codec, model_path):
    """bpp of the real bitstream ≈ eq. (15)'s estimate (no estimate is stored, only checked)."""
    from bench_codecs.inn.stochastic_codecs import to_padded

    rng = np.random.default_rng(3)
    smooth = np.clip(np.cumsum(rng.normal(0, 4, (64, 64, 3)), axis=1) + 128, 0, 255).astype(np.uint8)
    model = codec._model(model_path)
    with torch.no_grad():
        out = model(to_padded(smooth, model.stride, "cpu").double())
    estimate = sum(-torch.log2(l).sum().item() for l in out["likelihoods"].values())
    actual = (len(codec.encode(smooth, 1)) - 14 - 4 * 4 - 3 * 4) * 8
    assert estimate * 0.98 < actual < estimate * 1.05 + 4 * 32


def _sampled_groups(codec, model_path, data, monkeypatch, **options):
    model = codec._model(model_path)
    seen = {}
    original = model.synthesize

    def spy(groups):
        seen["groups"] = groups
        return original(groups)

    monkeypatch.setattr(model, "synthesize", spy)
    codec.decode_float(data, **options)
    monkeypatch.undo()
    return seen["groups"]


@pytest.mark.parametrize("factor", [0.3, 0.49, 1.0])
def test_variance_factor_v_samples_with_standard_deviation_sigma_sqrt_v(codec, model_path, photo, monkeypatch, factor):
    """Fig. 3's variance factor v: ỹ − μ has standard deviation σ·√v (not σ·v)."""
    image = photo[:128, :128]
    data = codec.encode(image, 1)
    model = codec._model(model_path)
    with torch.no_grad():
        mus, sigmas = model.decode_parameters(*[unpack_strings(data)[i] for i in (4, 5, 2)])
    groups = _sampled_groups(codec, model_path, data, monkeypatch, variance_factor=factor, seed=4)
    z = torch.cat([((g - mu) / s).flatten() for g, mu, s in zip(groups, mus, sigmas)])
    assert z.numel() > 40000
    assert z.std().item() == pytest.approx(math.sqrt(factor), rel=0.02)
    assert abs(z.mean().item()) < 0.02


def test_legacy_scale_multiplies_sigma(codec, model_path, photo, monkeypatch):
    """Rows stored with the legacy ``scale`` s decode as σ·s, i.e. variance factor s²."""
    data = codec.encode(photo[:64, :64], 1)
    legacy = codec.decode_float(data, scale=0.7, seed=2)
    np.testing.assert_allclose(legacy, codec.decode_float(data, variance_factor=0.7**2, seed=2), atol=1e-3)
    assert np.abs(legacy - codec.decode_float(data, variance_factor=0.7, seed=2)).max() > 0.1


def test_decoder_options_old_and_new_names(codec):
    assert codec.check_decoder_options({"variance_factor": 0.3}) == {"variance_factor": 0.3, "seed": 0}
    assert codec.check_decoder_options({}) == {"variance_factor": 0.0, "seed": 0}
    # a row stored under the old option stays what it was: σ multiplied by s
    assert codec.check_decoder_options({"scale": 0.5, "seed": 0}) == {"scale": 0.5, "seed": 0}
    with pytest.raises(ConfigError, match="exclude each other"):
        codec.check_decoder_options({"scale": 0.5, "variance_factor": 0.25})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"variance_factor": -0.1})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"variance_factor": 4.5})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"scale": -0.1})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"temperature": 1.0})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"seed": 1.5})


def test_variance_factor_zero_is_the_mode_whatever_the_seed(codec, image):
    data = codec.encode(image, 1)
    mode = codec.decode(data)
    assert np.array_equal(mode, codec.decode(data, variance_factor=0.0, seed=5))
    assert np.array_equal(mode, codec.decode(data, variance_factor=0.0, seed=6))


def test_one_bitstream_many_reconstructions_reproducible_by_seed(codec, image):
    data = codec.encode(image, 1)
    assert codec.encode(image, 1) == data  # the bitstream does not depend on any decoder option
    a = codec.decode_float(data, variance_factor=1.0, seed=1)
    assert np.array_equal(a, codec.decode_float(data, variance_factor=1.0, seed=1))
    b = codec.decode_float(data, variance_factor=1.0, seed=2)
    assert not np.array_equal(a, b)
    mode = codec.decode_float(data)
    quarter = codec.decode_float(data, variance_factor=0.25, seed=1)
    # larger variance factor, further from the mode (same ε: ỹ − μ scales with √v before f⁻¹)
    assert 0 < np.abs(quarter - mode).mean() < np.abs(a - mode).mean()


def test_old_layout_checkpoint_is_refused_in_one_line_naming_the_file(tmp_path, image):
    path = tmp_path / "probdec-demo.pt"
    torch.save({"log_step": torch.zeros(13), "entropy_bottleneck._quantized_cdf": torch.zeros(3, 10, dtype=torch.int32),
                "transform.rows.0.p.net.0.weight": torch.zeros(16, 1, 3, 3)}, path)
    with pytest.raises(CodecUnavailable) as error:
        ProbDecCodec(checkpoints=[str(path)]).encode(image, 1)
    message = str(error.value)
    assert "\n" not in message and str(path) in message and "earlier ProbDec layout" in message


def test_trainer_runs_the_cdf97_stage_then_joint_training_and_resumes(tmp_path, image):
    from PIL import Image

    data = tmp_path / "train"
    data.mkdir()
    Image.fromarray(np.tile(image, (2, 2, 1))).save(data / "a.png")
    options = {"data": [str(data)], "out": str(tmp_path / "run"), "steps": 3, "crop": 32, "batch": 1,
               "save_every": 1, "cdf97_steps": 2, "lr": 1e-3, "joint_lr": 1e-4, **SMALL}
    run_from_cli("probdec", {**options, "steps": 3, "cdf97_steps": 2, "max_seconds": 1e-6})  # stops in stage 1
    stage1 = torch.load(tmp_path / "run" / "cdf97" / "checkpoint.pt", weights_only=True)
    assert int(stage1["step"]) == 1
    run_from_cli("probdec", options)
    stage1 = torch.load(tmp_path / "run" / "cdf97" / "checkpoint.pt", weights_only=True)
    assert int(stage1["step"]) == 2
    residuals = [v for k, v in stage1["model"].items() if k.startswith("transform.") and ".net.2." in k]
    assert residuals and all((v == 0).all() for v in residuals)  # stage 1: the transform stayed CDF 9/7
    joint = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=True)
    assert int(joint["step"]) == 3 and int(joint["model"]["train_steps"]) == 5
    assert stage1["optimizer"]["param_groups"][0]["lr"] == 1e-3
    assert joint["optimizer"]["param_groups"][0]["lr"] == 1e-4  # joint_lr for the joint stage
    assert any((v != 0).any() for k, v in joint["model"].items() if k.startswith("transform.") and ".net.2." in k)
    run_from_cli("probdec", {**options, "steps": 4, "export": str(tmp_path / "w.pt")})
    log = (tmp_path / "run" / "train.log").read_text()
    assert "stage 1 (§5.1)" in log and "stage 2: joint training" in log
    assert "resumed at step 1" in log and "resumed at step 3" in log and "step 4 loss" in log
    out = ProbDecCodec(checkpoints=[str(tmp_path / "w.pt")])
    assert out.decode(out.encode(image, 1)).shape == image.shape
    assert export(tmp_path / "run" / "checkpoint.pt", tmp_path / "w2.pt", "probdec").stat().st_size > 0


def test_demo_weights_decode_when_shipped(image):
    if not checkpoint_path(DEMO_PROBDEC).is_file():
        pytest.skip("demo weights not trained yet")
    codec = ProbDecCodec()
    data = codec.encode(image, 1)
    assert codec.decode(data, variance_factor=1.0, seed=3).shape == image.shape


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

    from datetime import datetime, timezone

    Store(tmp_path / "store").write([{"key": "0" * 64, "dataset": "kodak", "image": "kodim01.png", "codec": "ilc",
                                      "rate": 1.0, "decoder_options": "{}", "generation": 1,
                                      "created_utc": datetime(2026, 1, 1, tzinfo=timezone.utc)}])
    result = CliRunner().invoke(app, ["sweep-plot", "--codec", "ilc", "--knob", "temperature",
                                      "--where", "z:sample", "--results", str(tmp_path / "store")])
    assert result.exit_code != 0
    assert "--where 'z:sample': write KEY=VALUE" in result.output
