"""Wavelet-like lifting transform (Ma et al. 2021, §4.3, after iWave).

Each level splits the rows, then the columns, into even (L) and odd (H) samples and runs two
lifting steps per direction, each the pair of eq. (11)::

    H = H + t_L(L)
    L = L + t_H(H)

followed by a fixed scaling (L·ζ, H/ζ). Every t is the CDF 9/7 lifting filter of that step
(α, β, γ, δ of the JPEG 2000 irreversible wavelet) plus a learned residual CNN whose last layer
starts at zero, so an untrained transform *is* the CDF 9/7 wavelet (checked against the
textbook lifting in tests). The scaling gives the low-pass a DC gain of √2 per direction (the
near-orthonormal normalisation) and the high-pass the inverse factor, so its determinant is 1:
like the additive steps, it keeps log|det| = 0. Lifting inverts exactly whatever the t are
(eq. 12), which is why the transform is an INN. K levels give 3K+1 sub-bands
(LL_K, then LH/HL/HH for each level, coarsest first).

``LiftingTransform.frozen_residuals(True)`` makes the residual networks return zero, which is
the fixed CDF 9/7 transform of the paper's initialisation stage (§5.1).
"""
from __future__ import annotations

import math

import torch
from torch import nn

#: CDF 9/7 lifting coefficients (predict α, update β, predict γ, update δ) and its scaling K.
CDF97_ALPHA = -1.586134342059924
CDF97_BETA = -0.052980118572961
CDF97_GAMMA = 0.882911075530934
CDF97_DELTA = 0.443506852043971
CDF97_K = 1.230174104914001
#: L·ZETA, H/ZETA: a DC gain of √2 for the low-pass of each direction (determinant 1).
ZETA = math.sqrt(2.0) / CDF97_K


def _next(x: torch.Tensor) -> torch.Tensor:
    """x[n+1] along the last axis, with whole-sample symmetric extension at the end."""
    return torch.cat([x[..., 1:], x[..., -1:]], dim=-1)


def _prev(x: torch.Tensor) -> torch.Tensor:
    """x[n-1] along the last axis, with whole-sample symmetric extension at the start."""
    return torch.cat([x[..., :1], x[..., :-1]], dim=-1)


class Residual(nn.Module):
    """Learned residual of one lifting filter; zero-initialised output layer.

    Works on each colour channel separately (3×3 convolutions), on the input divided by
    ``norm`` (the level's coefficient scale); the output is multiplied by norm/255, so one unit
    of the network's output is one grey level at the first level (a full-scale multiplier makes
    early optimiser steps move the coefficients by hundreds of grey levels).
    """

    def __init__(self, hidden: int = 16, norm: float = 255.0) -> None:
        super().__init__()
        self.norm = norm
        self.frozen = False
        self.net = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.Tanh(), nn.Conv2d(hidden, 1, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)
        # The channels-last layout runs these one-channel convolutions about twice as fast on CPU.
        self.net.to(memory_format=torch.channels_last)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.frozen:
            return torch.zeros_like(x)
        b, c, h, w = x.shape
        return self.net(x.reshape(b * c, 1, h, w) / self.norm).reshape(b, c, h, w) * (self.norm / 255.0)


class LiftingDirection(nn.Module):
    """One direction (the last axis): two lifting steps {H += t_L(L); L += t_H(H)}, then scaling."""

    #: (t_L, t_H) CDF 9/7 coefficients of step 1 and step 2.
    COEFFICIENTS = ((CDF97_ALPHA, CDF97_BETA), (CDF97_GAMMA, CDF97_DELTA))

    def __init__(self, hidden: int = 16, norm: float = 255.0) -> None:
        super().__init__()
        self.t_l = nn.ModuleList(Residual(hidden, norm) for _ in self.COEFFICIENTS)
        self.t_h = nn.ModuleList(Residual(hidden, norm) for _ in self.COEFFICIENTS)

    def _t_l(self, i: int, low: torch.Tensor) -> torch.Tensor:
        return self.COEFFICIENTS[i][0] * (low + _next(low)) + self.t_l[i](low)

    def _t_h(self, i: int, high: torch.Tensor) -> torch.Tensor:
        return self.COEFFICIENTS[i][1] * (_prev(high) + high) + self.t_h[i](high)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low, high = x[..., 0::2], x[..., 1::2]
        for i in range(len(self.COEFFICIENTS)):
            high = high + self._t_l(i, low)
            low = low + self._t_h(i, high)
        return low * ZETA, high / ZETA

    def inverse(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        low, high = low / ZETA, high * ZETA
        for i in reversed(range(len(self.COEFFICIENTS))):
            low = low - self._t_h(i, high)
            high = high - self._t_l(i, low)
        return torch.stack([low, high], dim=-1).flatten(-2)


class LiftingTransform(nn.Module):
    """K-level 2-D lifting transform; input sides must be multiples of 2**K.

    ``norm`` is the input's scale (255 for pixels in [0, 255]); level k's networks see their
    input divided by norm·2^k, the scale of LL_k under the √2-per-direction normalisation.
    """

    def __init__(self, levels: int = 4, hidden: int = 16, norm: float = 255.0) -> None:
        super().__init__()
        self.levels = levels
        self.rows = nn.ModuleList(LiftingDirection(hidden, norm * 2.0**k) for k in range(levels))
        self.cols = nn.ModuleList(LiftingDirection(hidden, norm * 2.0**k * math.sqrt(2)) for k in range(levels))

    def frozen_residuals(self, frozen: bool) -> None:
        """Zero every learned residual (the fixed CDF 9/7 wavelet) or let them act again."""
        for module in self.modules():
            if isinstance(module, Residual):
                module.frozen = frozen

    def forward_level(self, k: int, ll: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        lo, hi = self.rows[k](ll)  # along the width
        ll_, lh = self.cols[k](lo.transpose(-1, -2))
        hl, hh = self.cols[k](hi.transpose(-1, -2))
        return ll_.transpose(-1, -2), lh.transpose(-1, -2), hl.transpose(-1, -2), hh.transpose(-1, -2)

    def inverse_level(self, k: int, ll: torch.Tensor, lh: torch.Tensor, hl: torch.Tensor, hh: torch.Tensor) -> torch.Tensor:
        lo = self.cols[k].inverse(ll.transpose(-1, -2), lh.transpose(-1, -2)).transpose(-1, -2)
        hi = self.cols[k].inverse(hl.transpose(-1, -2), hh.transpose(-1, -2)).transpose(-1, -2)
        return self.rows[k].inverse(lo, hi)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return [LL_K, (LH, HL, HH) level K, ..., level 1] = 3K+1 bands."""
        details: list[torch.Tensor] = []
        ll = x
        for k in range(self.levels):
            ll, lh, hl, hh = self.forward_level(k, ll)
            details = [lh, hl, hh] + details
        return [ll] + details

    def inverse(self, bands: list[torch.Tensor]) -> torch.Tensor:
        if len(bands) != 3 * self.levels + 1:
            raise ValueError(f"expected {3 * self.levels + 1} sub-bands, got {len(bands)}")
        ll = bands[0]
        for i, k in enumerate(reversed(range(self.levels))):
            ll = self.inverse_level(k, ll, *bands[1 + 3 * i: 4 + 3 * i])
        return ll
