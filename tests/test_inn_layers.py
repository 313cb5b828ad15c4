"""Invertible layers: exact inverses in float64 (< 1e-10) and float32 (< 1e-4 on 256×256)."""

from __future__ import annotations

import pytest
import torch

from bench_codecs.inn.layers import (
    Bottleneck, CouplingLayer, DenseBlock, EnhModule, HaarDownsampling, IATModulation, InvertibleConv1x1,
    SqueezeLayer, channel_squeeze, channel_unsqueeze, squeeze2d,
)


def randomise(module: torch.nn.Module) -> torch.nn.Module:
    """Replace the zero initialisations of the subnetworks, which would make every coupling an
    identity (1×1 convolutions keep their orthogonal initialisation)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.copy_(torch.randn_like(m.weight) * 0.05)
                m.bias.copy_(torch.randn_like(m.bias) * 0.05)
    return module


def round_trip_error(layer, x, **kwargs) -> float:
    with torch.no_grad():
        return float((layer(layer(x, **kwargs), rev=True, **kwargs) - x).abs().max())


LAYERS = {
    "squeeze": lambda c: SqueezeLayer(2),
    "haar": lambda c: HaarDownsampling(c),
    "conv1x1": lambda c: InvertibleConv1x1(c),
    "coupling_sigmoid": lambda c: randomise(CouplingLayer(c // 4, c - c // 4, 3, form="sigmoid")),
    "coupling_exp": lambda c: randomise(CouplingLayer(c // 4, c - c // 4, 3, form="exp")),
}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float64_inverse(name):
    layer = LAYERS[name](12).double()
    x = torch.randn(2, 12, 32, 48, dtype=torch.float64)
    assert round_trip_error(layer, x) < 1e-10


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float32_inverse_on_256(name):
    layer = LAYERS[name](12)
    x = torch.rand(1, 12, 256, 256)
    assert round_trip_error(layer, x) < 1e-4


def test_iat_modulation_is_invertible_for_every_level():
    layer = randomise(IATModulation(12, hidden=8)).double()
    x = torch.randn(1, 12, 16, 16, dtype=torch.float64)
    for level in (0.0, 0.3, 1.0):
        map_ = torch.full((1, 1, 1, 1), level, dtype=torch.float64)
        assert round_trip_error(layer, x, level=map_) < 1e-10
    spatial = torch.rand(1, 1, 16, 16, dtype=torch.float64)
    assert round_trip_error(layer, x, level=spatial) < 1e-10


def test_iat_modulation_starts_as_identity():
    layer = IATModulation(6)
    x = torch.randn(1, 6, 8, 8)
    assert torch.equal(layer(x, torch.ones(1, 1, 1, 1)), x)


def test_iat_modulation_has_the_authors_layout():
    shapes = {k: tuple(v.shape) for k, v in IATModulation(12).state_dict().items()}
    assert shapes == {
        "mlp_shared.0.weight": (24, 1, 3, 3), "mlp_shared.0.bias": (24,),
        "mlp_shared.2.weight": (24, 24, 1, 1), "mlp_shared.2.bias": (24,),
        "mlp_gamma.0.weight": (12, 24, 3, 3), "mlp_gamma.0.bias": (12,),
        "mlp_gamma.2.weight": (12, 12, 1, 1), "mlp_gamma.2.bias": (12,),
        "mlp_beta.0.weight": (12, 24, 3, 3), "mlp_beta.0.bias": (12,),
        "mlp_beta.2.weight": (12, 12, 1, 1), "mlp_beta.2.bias": (12,),
    }


def test_haar_closed_form():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    out = HaarDownsampling(1)(x)
    a, b, c, d = x[0, 0, 0, 0], x[0, 0, 0, 1], x[0, 0, 1, 0], x[0, 0, 1, 1]
    assert torch.allclose(out[0, :, 0, 0], torch.stack([(a + b + c + d) / 2, (a - b + c - d) / 2, (a + b - c - d) / 2, (a - b - c + d) / 2]))
    assert torch.allclose(out.pow(2).sum(), x.pow(2).sum())  # orthonormal


def test_squeeze_layout_and_identity_init():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert squeeze2d(x)[0, :, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    conv = InvertibleConv1x1(4, identity_init=True)
    y = torch.randn(1, 4, 3, 3)
    assert torch.equal(conv(y), y)


def test_channel_squeeze_right_inverse():
    y = torch.randn(1, 8, 4, 4)
    assert torch.allclose(channel_squeeze(channel_unsqueeze(y, 48), 8), y)


def test_subnetwork_shapes():
    assert Bottleneck(4, 12, 5)(torch.randn(1, 4, 9, 9)).shape == (1, 12, 9, 9)
    assert DenseBlock(3, 7)(torch.randn(1, 3, 8, 8)).shape == (1, 7, 8, 8)
    x = torch.randn(1, 3, 8, 8)
    assert torch.equal(EnhModule(8)(x), x)  # zero-initialised residual


def test_full_inn_is_invertible_before_the_channel_squeeze():
    from bench_codecs.inn.invcompress import InvComp

    inn = randomise(InvComp(M=768, coupling_hidden=8)).double()
    x = torch.rand(1, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert float((inn(inn(x), rev=True) - x).abs().max()) < 1e-10
