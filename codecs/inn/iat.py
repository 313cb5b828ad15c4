"""IAT (Cai et al., ACM MM 2022): InvCompress made variable-rate by invertible activation transforms.

Layout and state-dict names follow the authors' public code (HiFi-VRIC, class ``VRIC_IAT``):

- ``enh``: InvCompress's feature enhancement (``forw_enh`` before the INN, ``back_enh`` after);
- ``inv``: the INN as four lists ``operations1..operations4`` (squeeze, invertible 1×1 conv,
  3 couplings; coupling kernels 5, 5, 3, 3) with an IAT modulation ``SFTlevel_1..3`` after each
  of the first three levels (12, 48, 192 channels) and ``SFTlevel_4`` after the channel squeeze
  (group mean to M channels); decoding runs it backwards with the inverse modulations;
- no attention module (InvCompress has one after the channel squeeze);
- the joint hyperprior + context model: ``h_a`` as Cheng 2020, ``h_s`` with M-wide middle layers
  (conv N→M, sub-pixel M→M, conv M→M, sub-pixel M→M, conv M→2M; Cheng 2020 widens to 3M/2),
  ``context_prediction``, ``entropy_parameters``, ``entropy_bottleneck``, ``gaussian_conditional``.

Each modulation is x·(1+γ(L))+β(L) with γ, β computed from the quality map L ∈ [0, 1] (a uniform
map for a scalar level, or a spatial map: ``bench_codecs.inn.iat_maps``), so one model covers a
continuous range of rates. Training uses the pixel-wise Lagrangian λ(L) = θ·e^{τL}. As in the
authors' model, M = N (their context model reads N channels of y).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
from compressai.layers import conv3x3, subpel_conv3x3
from compressai.models import Cheng2020Anchor

from bench_codecs.inn.invcompress import COUPLINGS_PER_LEVEL, LEVEL_KERNELS, LatentCodingMixin
from bench_codecs.inn.layers import (
    CouplingLayer, EnhModule, IATModulation, InvertibleConv1x1, SqueezeLayer, channel_squeeze, channel_unsqueeze,
)

#: λ(L) = θ·e^{τL} with the paper's θ = 1.2e-3 and τ = 4.382 (§3.3). The authors' public code
#: writes ``1e-3 * exp(4.382 * L)`` and multiplies the distortion term of its loss by 1.2
#: (``PixelwiseRateDistortionLoss``), so it trains with the same effective θ = 1.2e-3.
THETA, TAU = 1.2e-3, 4.382
#: The public code's split of θ: the factor in its ``quality2lambda`` and the one in its loss.
PUBLIC_CODE_LAMBDA_FACTOR, PUBLIC_CODE_LOSS_FACTOR = 1e-3, 1.2
LEVELS = len(LEVEL_KERNELS)


def lagrangian(level: torch.Tensor, theta: float = THETA, tau: float = TAU) -> torch.Tensor:
    """λ(L) = θ·exp(τ·L), element-wise."""
    return theta * torch.exp(tau * level)


class InvCompIAT(nn.Module):
    """The INN with IAT modulations: ``operations{k}`` then ``SFTlevel_{k}`` for levels 1–3, then
    ``operations4``, the channel squeeze to M and ``SFTlevel_4``.

    ``iat_hidden`` (None: 2 × the modulated channels, as the authors) is the modulations' hidden
    width, overridable for small demo models.
    """

    def __init__(self, M: int, coupling_hidden: int | None = None, iat_hidden: int | None = None) -> None:
        super().__init__()
        self.in_nc, self.out_nc = 3, M
        for k in range(1, LEVELS + 1):
            setattr(self, f"operations{k}", nn.ModuleList())
        for k, kernel in enumerate(LEVEL_KERNELS, start=1):
            ops = self.level(k)
            ops.append(SqueezeLayer(2))
            self.in_nc *= 4
            ops.append(InvertibleConv1x1(self.in_nc))
            for _ in range(COUPLINGS_PER_LEVEL):
                ops.append(CouplingLayer(self.in_nc // 4, 3 * self.in_nc // 4, kernel, hidden=coupling_hidden))
            modulated = self.in_nc if k < LEVELS else M
            setattr(self, f"SFTlevel_{k}", IATModulation(modulated, iat_hidden))
        if self.in_nc % M:
            raise ValueError(f"M={M} must divide the INN's {self.in_nc} output channels")

    def level(self, k: int) -> nn.ModuleList:
        return getattr(self, f"operations{k}")

    def modulation(self, k: int) -> IATModulation:
        return getattr(self, f"SFTlevel_{k}")

    def forward(self, x: torch.Tensor, level: torch.Tensor, rev: bool = False) -> torch.Tensor:
        if not rev:
            for k in range(1, LEVELS + 1):
                for op in self.level(k):
                    x = op(x, False)
                if k == LEVELS:
                    x = channel_squeeze(x, self.out_nc)
                x = self.modulation(k)(x, level)
            return x
        for k in range(LEVELS, 0, -1):
            x = self.modulation(k)(x, level, rev=True)
            if k == LEVELS:
                x = channel_unsqueeze(x, self.in_nc)
            for op in reversed(self.level(k)):
                x = op(x, True)
        return x


class InvCompressIAT(LatentCodingMixin, Cheng2020Anchor):
    """The variable-rate model; every transform takes the quality map ``level`` (B×1×h×w).

    ``N`` sets the hyperprior width and the latent channels (M = N); ``enh_channels``,
    ``coupling_hidden`` (None = the paper's, equal to the couplings' output widths) and
    ``iat_hidden`` (None = 2 × the modulated channels) exist for small demo configurations.
    """

    def __init__(self, N: int = 192, enh_channels: int = 64, coupling_hidden: int | None = None,
                 iat_hidden: int | None = None, **kwargs) -> None:
        super().__init__(N=N)
        self.g_a = None
        self.g_s = None
        self.enh = EnhModule(enh_channels)
        self.inv = InvCompIAT(M=N, coupling_hidden=coupling_hidden, iat_hidden=iat_hidden)
        self.h_s = nn.Sequential(
            conv3x3(N, N), nn.LeakyReLU(inplace=True),
            subpel_conv3x3(N, N, 2), nn.LeakyReLU(inplace=True),
            conv3x3(N, N), nn.LeakyReLU(inplace=True),
            subpel_conv3x3(N, N, 2), nn.LeakyReLU(inplace=True),
            conv3x3(N, 2 * N),
        )

    def analysis(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return self.inv(self.enh(x), level)

    def synthesis(self, y_hat: torch.Tensor, level: torch.Tensor) -> torch.Tensor:
        return self.enh(self.inv(y_hat, level, rev=True), rev=True)

    def forward(self, x: torch.Tensor, level: torch.Tensor) -> dict:
        y_hat, likelihoods = self.entropy_forward(self.analysis(x, level))
        return {"x_hat": self.synthesis(y_hat, level), "likelihoods": likelihoods}

    def compress(self, x: torch.Tensor, level: torch.Tensor) -> dict:
        return self.compress_latent(self.analysis(x, level))

    def decompress(self, strings: list, shape: torch.Size, level: torch.Tensor) -> dict:
        return {"x_hat": self.synthesis(self.decompress_latent(strings, shape), level).clamp_(0, 1)}

    @classmethod
    def config_from_state_dict(cls, state_dict: dict) -> dict:
        """Constructor arguments read off the weights' shapes."""
        last = f"inv.operations{LEVELS}.{1 + COUPLINGS_PER_LEVEL}"
        hidden = state_dict[f"{last}.G1.conv1.weight"].size(0)
        sft = [f"inv.SFTlevel_{k}" for k in range(1, LEVELS + 1)]
        iat_hidden = [state_dict[f"{m}.mlp_shared.0.weight"].size(0) for m in sft]
        modulated = [state_dict[f"{m}.mlp_gamma.2.weight"].size(0) for m in sft]
        return {
            "N": state_dict["h_a.0.weight"].size(0),
            "enh_channels": state_dict["enh.forw_enh.layers.1.weight"].size(0),
            "coupling_hidden": None if hidden == state_dict[f"{last}.G1.conv3.weight"].size(0) else hidden,
            # A mixed set of widths would not load: the strict load then reports the mismatch.
            "iat_hidden": None if all(h == 2 * c for h, c in zip(iat_hidden, modulated)) else iat_hidden[0],
        }

    @classmethod
    def from_state_dict(cls, state_dict: dict) -> "InvCompressIAT":
        """Build with the configuration read from the weights, then load them (CDF buffers resized)."""
        net = cls(**cls.config_from_state_dict(state_dict))
        net.load_state_dict(state_dict)
        return net


def carry_over_previous_layout(old_state: dict[str, torch.Tensor], model: InvCompressIAT) -> tuple[dict, list, list]:
    """Start ``model`` from weights of this project's earlier IAT layout (InvCompress's flat
    ``inv.operations.{0..19}`` plus ``attention.*`` and ``iat.*``).

    The flat operations map to ``inv.operations{k}.{i}`` (5 per level); every other parameter
    whose name and shape agree is copied; ``attention.*`` and the old ``iat.*`` modulations are
    dropped, and everything else (the new modulations, which start as the identity, any layer
    whose shape changed, and all buffers: CDF tables, recomputed at export, and the entropy
    models' bounds, which half-precision files store rounded) keeps the model's fresh values. Returns (state, carried keys, fresh keys).
    """
    per_level = 2 + COUPLINGS_PER_LEVEL
    renamed = {}
    for key, value in old_state.items():
        if key.startswith(("attention.", "iat.")):
            continue
        if key.startswith("inv.operations."):
            index, rest = key.removeprefix("inv.operations.").split(".", 1)
            key = f"inv.operations{int(index) // per_level + 1}.{int(index) % per_level}.{rest}"
        renamed[key] = value
    state = model.state_dict()
    parameters = dict(model.named_parameters())
    carried = [k for k, v in renamed.items() if k in parameters and v.shape == parameters[k].shape]
    state.update({k: renamed[k].to(state[k].dtype) for k in carried})
    return state, carried, [k for k in state if k not in carried]


def uniform_level(value: float, batch: int = 1) -> torch.Tensor:
    """A scalar quality level as the 1×1 map the modulations resize to each feature size."""
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"IAT quality level must be in [0, 1], got {value}")
    return torch.full((batch, 1, 1, 1), float(value))
