"""ILC (Wang et al. 2020): invertibility, shapes, the codec's bitstream and its z decoder option."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.errors import ConfigError
from bench.execute.worker import Settings, encode_decode_measure
from bench_codecs.inn.ilc import ILC, PAPER_KERNELS, PAPER_WIDTHS, AveragingHaar, ilc_loss, teacher
from bench_codecs.inn.layers import HaarDownsampling
from bench_codecs.inn.codec import checkpoint_path
from bench_codecs.inn.stochastic_codecs import DEMO_ILC, IlcCodec

SMALL = {"widths": (8, 8, 16), "kernels": (5, 3, 3), "blocks": 1}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _perturbed(model: torch.nn.Module, std: float = 0.02, seed: int = 0) -> torch.nn.Module:
    """Random non-zero weights everywhere except the entropy model (the zero-initialised last
    coupling convs would otherwise make every coupling the identity)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if not name.startswith("entropy_bottleneck"):
                p.add_(torch.randn(p.shape, generator=generator, dtype=p.dtype) * std)
    return model


def test_haar_float64_invertible_and_orthonormal():
    haar = HaarDownsampling(3)
    x = torch.rand(2, 3, 16, 24, dtype=torch.float64)
    h = haar(x)
    assert h.shape == (2, 12, 8, 12)
    assert (haar(h, rev=True) - x).abs().max().item() < 1e-10
    assert abs(h.pow(2).sum().item() - x.pow(2).sum().item()) < 1e-9  # orthonormal: energy kept
    flat = haar(torch.full((1, 3, 4, 4), 0.5, dtype=torch.float64))
    assert torch.allclose(flat[:, :3], torch.full_like(flat[:, :3], 1.0))  # LL = 2·mean
    assert flat[:, 3:].abs().max().item() == 0


def test_averaging_haar_is_average_pooling_and_inverts():
    haar = AveragingHaar(3)
    x = torch.rand(2, 3, 16, 24, dtype=torch.float64)
    h = haar(x)
    pooled = torch.nn.functional.avg_pool2d(x, 2)
    assert torch.allclose(h[:, :3], pooled, atol=1e-12)  # LL = the 2×2 mean (§III-A, ÷4)
    assert torch.allclose(h, HaarDownsampling(3)(x) / 2, atol=1e-12)
    assert (haar(h, rev=True) - x).abs().max().item() < 1e-12


def test_average_haar_model_is_marked_in_its_checkpoint_and_inverts():
    torch.manual_seed(0)
    model = _perturbed(ILC(**SMALL, haar="average")).double()
    x = torch.rand(1, 3, 32, 32, dtype=torch.float64)
    assert (model.iem(model.iem(x), rev=True) - x).abs().max().item() < 1e-10
    assert ILC.config_from_state_dict(model.state_dict())["haar"] == "average"
    rebuilt = ILC(**ILC.config_from_state_dict(model.state_dict()))
    rebuilt.load_state_dict(model.state_dict())  # strict: the layouts agree
    identity = ILC(**SMALL, haar="average").double()  # untouched couplings: LL path = the mean of 16×16 blocks
    assert torch.allclose(identity.iem(x)[:, :3], torch.nn.functional.avg_pool2d(x, 16), atol=1e-12)
    with pytest.raises(ValueError, match="haar must be one of"):
        ILC(**SMALL, haar="db2")


def test_iem_float64_invertible_with_random_couplings():
    torch.manual_seed(0)
    model = _perturbed(ILC(**SMALL)).double()
    x = torch.rand(2, 3, 32, 48, dtype=torch.float64)
    h = model.iem(x)
    assert h.shape == (2, 768, 2, 3)
    y, z = model.split(h)
    assert y.shape[1] == 256 and z.shape[1] == 512
    identity = ILC(**SMALL).double()  # untouched couplings: the IEM is Haar⁴ alone
    assert not torch.allclose(h, identity.iem(x))
    assert (model.iem(h, rev=True) - x).abs().max().item() < 1e-10
    unbounded = _perturbed(ILC(**SMALL, form="exp")).double()  # RealNVP's exp(α·s) form inverts too
    assert (unbounded.iem(unbounded.iem(x), rev=True) - x).abs().max().item() < 1e-10


def test_structure_follows_table_one():
    model = ILC(widths=PAPER_WIDTHS, kernels=PAPER_KERNELS, blocks=1)
    channels = [scale.channels for scale in model.scales]
    assert channels == [48, 192, 768]
    for scale, width, kernel in zip(model.scales, (128, 256, 1024), (5, 3, 3)):
        assert torch.equal(scale.conv1x1.weight, torch.eye(scale.channels))  # 1×1 conv starts at identity
        coupling = scale.couplings[0]
        assert coupling.form == "sigmoid" and coupling.clamp == 1.0
        assert coupling.split_len1 * 2 == coupling.split_len2  # 1:2 split
        assert coupling.G1.conv1.weight.shape == (width, scale.channels // 3, kernel, kernel)
        assert coupling.G1.conv2.weight.shape[-1] == 1
    assert ILC.config_from_state_dict(model.state_dict()) == {"widths": PAPER_WIDTHS, "kernels": PAPER_KERNELS,
                                                              "blocks": 1, "haar": "orthonormal"}


def test_loss_has_all_four_terms_and_the_straight_through_gradient():
    torch.manual_seed(0)
    model = _perturbed(ILC(**SMALL))
    x = torch.rand(2, 3, 32, 32)
    terms = ilc_loss(model, x, teacher(8, 256).eval(), (0.01, 1.0, 1.0, 0.01))
    for key in ("bpp", "mse", "distribution", "distillation"):
        assert torch.isfinite(terms[key]) and terms[key].item() > 0
    terms["loss"].backward()
    grad = model.scales[0].couplings[0].G1.conv1.weight.grad
    assert grad is not None and grad.abs().sum() > 0
    # λ4 = 0 or no teacher: no distillation term
    assert ilc_loss(model, x, None, (0.01, 1.0, 1.0, 0.01))["distillation"].item() == 0


def test_few_training_steps_lower_the_loss():
    torch.manual_seed(0)
    model = ILC(**SMALL)
    x = torch.rand(2, 3, 32, 32) * 0.5 + 0.25
    optimizer = torch.optim.Adam([p for n, p in model.named_parameters() if not n.endswith("quantiles")], lr=3e-3)
    losses = []
    for _ in range(12):
        optimizer.zero_grad()
        terms = ilc_loss(model, x, None, (0.01, 1.0, 1.0, 0.0))
        terms["loss"].backward()
        optimizer.step()
        losses.append(terms["loss"].item())
    assert losses[-1] < 0.8 * losses[0], losses


@pytest.fixture(scope="module")
def codec(tmp_path_factory) -> IlcCodec:
    torch.manual_seed(1)
    model = _perturbed(ILC(**SMALL), seed=1).eval()
    model.update(force=True)
    path = tmp_path_factory.mktemp("ilc") / "ilc.pt"
    torch.save(model.state_dict(), path)
    return IlcCodec(checkpoints=[str(path)])


def test_round_trip_and_bpp_counts_every_byte(codec, image):
    data = codec.encode(image, 1)
    decoded = codec.decode(data)
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.array_equal(decoded, np.round(codec.decode_float(data)).astype(np.uint8))
    m = encode_decode_measure(codec, image, image, 1, codec.check_decoder_options({}),
                              Settings(metrics=("psnr_rgb",)))
    assert m.values["bytes"] == len(data)
    assert m.values["bpp"] == pytest.approx(len(data) * 8 / (45 * 37))
    assert m.values["deterministic_decode"] is True


def test_z_mode_is_default_and_ignores_the_seed(codec, image):
    data = codec.encode(image, 1)
    mode = codec.decode(data)
    assert np.array_equal(mode, codec.decode(data, z="mode", seed=7))


def test_sampled_z_reproducible_by_seed(codec, image):
    data = codec.encode(image, 1)
    a = codec.decode(data, z="sample", temperature=1.0, seed=3)
    assert np.array_equal(a, codec.decode(data, z="sample", temperature=1.0, seed=3))
    b = codec.decode(data, z="sample", temperature=1.0, seed=4)
    assert not np.array_equal(a, b)
    assert not np.array_equal(a, codec.decode(data))
    # temperature 0 is the mode
    assert np.array_equal(codec.decode(data), codec.decode(data, z="sample", temperature=0.0, seed=4))


def test_bad_decoder_options_are_rejected(codec):
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"z": "mean"})
    with pytest.raises(ConfigError):
        codec.check_decoder_options({"scale": 1.0})
    assert codec.check_decoder_options({"z": "sample"}) == {"z": "sample", "temperature": 1.0, "seed": 0}


def test_demo_weights_decode_when_shipped(image):
    if not checkpoint_path(DEMO_ILC).is_file():
        pytest.skip("demo weights not trained yet")
    codec = IlcCodec()
    data = codec.encode(image, 1)
    assert codec.decode(data).shape == image.shape
