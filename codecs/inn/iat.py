"""IAT (Cai et al., ACM MM 2022): InvCompress made variable-rate by invertible activation transforms.

IAT modulations x·(1+γ(L))+β(L) follow INN levels 1–3 and the channel squeeze; the quality level
L ∈ [0, 1] (a uniform map for a scalar level) conditions them, so one model covers a continuous
range of rates. Training uses the tensor Lagrangian λ(L) = θ·e^{τL}.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn

from bench_codecs.inn.invcompress import InvCompress
from bench_codecs.inn.layers import IATModulation, channel_squeeze, channel_unsqueeze

#: Paper values: θ = 0.0012 (the authors' public code uses 1e-3), τ = 4.382.
THETA_PAPER, THETA_PUBLIC_CODE, TAU = 0.0012, 1e-3, 4.382
MODULATED_LEVELS = 3


def lagrangian(level: torch.Tensor, theta: float = THETA_PAPER, tau: float = TAU) -> torch.Tensor:
    """λ(L) = θ·exp(τ·L), element-wise."""
    return theta * torch.exp(tau * level)


class InvCompressIAT(InvCompress):
    """InvCompress with IAT modulations; every transform takes the quality map ``level``."""

    def __init__(self, N: int = 192, enh_channels: int = 64, coupling_hidden: int | None = None,
                 iat_hidden: int = 64, **kwargs) -> None:
        super().__init__(N=N, enh_channels=enh_channels, coupling_hidden=coupling_hidden)
        channels = [3 * 4 ** (i + 1) for i in range(MODULATED_LEVELS)] + [N]
        self.iat = nn.ModuleList(IATModulation(c, iat_hidden) for c in channels)

    def _inn(self, x: torch.Tensor, level: torch.Tensor, rev: bool) -> torch.Tensor:
        ends = self.inv.level_ends[:MODULATED_LEVELS]
        ops = self.inv.operations
        if not rev:
            for index, op in enumerate(ops):
                x = op(x, False)
                if index in ends:
                    x = self.iat[ends.index(index)](x, level)
            return self.iat[-1](channel_squeeze(x, self.inv.out_nc), level)
        x = channel_unsqueeze(self.iat[-1](x, level, rev=True), self.inv.in_nc)
        for index in reversed(range(len(ops))):
            if index in ends:
                x = self.iat[ends.index(index)](x, level, rev=True)
            x = ops[index](x, True)
        return x

    def analysis(self, x: torch.Tensor, level: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.attention(self._inn(self.enh(x), level, rev=False))

    def synthesis(self, y_hat: torch.Tensor, level: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.enh(self._inn(self.attention(y_hat, rev=True), level, rev=True), rev=True)

    def forward(self, x: torch.Tensor, level: torch.Tensor) -> dict:  # type: ignore[override]
        y_hat, likelihoods = self.entropy_forward(self.analysis(x, level))
        return {"x_hat": self.synthesis(y_hat, level), "likelihoods": likelihoods}

    def compress(self, x: torch.Tensor, level: torch.Tensor) -> dict:  # type: ignore[override]
        return self.compress_latent(self.analysis(x, level))

    def decompress(self, strings: list, shape: torch.Size, level: torch.Tensor) -> dict:  # type: ignore[override]
        return {"x_hat": self.synthesis(self.decompress_latent(strings, shape), level).clamp_(0, 1)}

    @classmethod
    def config_from_state_dict(cls, state_dict: dict) -> dict:
        return {**super().config_from_state_dict(state_dict), "iat_hidden": state_dict["iat.0.gamma.0.weight"].size(0)}


def uniform_level(value: float, batch: int = 1) -> torch.Tensor:
    """A scalar quality level as the 1×1 map the modulations upsample."""
    if not 0.0 <= value <= 1.0 or math.isnan(value):
        raise ValueError(f"IAT quality level must be in [0, 1], got {value}")
    return torch.full((batch, 1, 1, 1), float(value))
