"""Lifting-based wavelet-like transform (Ma et al. 2021, after iWave).

Each level splits rows then columns into even/odd samples and applies two
lifting steps per direction: predict (d = odd - P(even)) and update
(s = even + U(d)).  P and U are the LeGall 5/3 filters plus a learned residual
CNN whose last layer starts at zero, so an untrained transform *is* the 5/3
wavelet (checked against the closed form in tests).  Lifting is exactly
invertible for any P, U, which is why the transform is an INN.  K levels give
3K+1 sub-bands (LL_K, then LH/HL/HH for each level).
"""
from __future__ import annotations

import torch
from torch import nn


class Residual1D(nn.Module):
    """Learned residual along one axis; zero-initialised output layer."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(1, hidden, 3, padding=1), nn.Tanh(), nn.Conv2d(hidden, 1, 3, padding=1))
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        return self.net(x.reshape(b * c, 1, h, w)).reshape(b, c, h, w)


def _predict_53(even: torch.Tensor) -> torch.Tensor:
    """0.5*(x[2n] + x[2n+2]) along the last axis, mirrored at the end."""
    nxt = torch.cat([even[..., 1:], even[..., -1:]], dim=-1)
    return 0.5 * (even + nxt)


def _update_53(d: torch.Tensor) -> torch.Tensor:
    """0.25*(d[n-1] + d[n]) along the last axis, mirrored at the start."""
    prev = torch.cat([d[..., :1], d[..., :-1]], dim=-1)
    return 0.25 * (prev + d)


class LiftStep1D(nn.Module):
    """One direction (last axis): predict then update."""

    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.p = Residual1D(hidden)
        self.u = Residual1D(hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        even, odd = x[..., 0::2], x[..., 1::2]
        d = odd - (_predict_53(even) + self.p(even))
        s = even + (_update_53(d) + self.u(d))
        return s, d

    def inverse(self, s: torch.Tensor, d: torch.Tensor) -> torch.Tensor:
        even = s - (_update_53(d) + self.u(d))
        odd = d + (_predict_53(even) + self.p(even))
        out = torch.stack([even, odd], dim=-1)
        return out.flatten(-2)


class LiftingTransform(nn.Module):
    """K-level 2-D lifting transform; input sides must be multiples of 2**K."""

    def __init__(self, levels: int = 4, hidden: int = 16) -> None:
        super().__init__()
        self.levels = levels
        self.rows = nn.ModuleList(LiftStep1D(hidden) for _ in range(levels))
        self.cols = nn.ModuleList(LiftStep1D(hidden) for _ in range(levels))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Return [LL_K, (LH, HL, HH) level K, ..., level 1] = 3K+1 bands."""
        details: list[torch.Tensor] = []
        ll = x
        for k in range(self.levels):
            lo, hi = self.rows[k](ll)  # along width
            ll_, lh = self.cols[k](lo.transpose(-1, -2))
            hl, hh = self.cols[k](hi.transpose(-1, -2))
            details = [lh.transpose(-1, -2), hl.transpose(-1, -2), hh.transpose(-1, -2)] + details
            ll = ll_.transpose(-1, -2)
        return [ll] + details

    def inverse(self, bands: list[torch.Tensor]) -> torch.Tensor:
        if len(bands) != 3 * self.levels + 1:
            raise ValueError(f"expected {3 * self.levels + 1} sub-bands, got {len(bands)}")
        ll = bands[0]
        for i, k in enumerate(reversed(range(self.levels))):
            lh, hl, hh = bands[1 + 3 * i: 4 + 3 * i]
            lo = self.cols[k].inverse(ll.transpose(-1, -2), lh.transpose(-1, -2)).transpose(-1, -2)
            hi = self.cols[k].inverse(hl.transpose(-1, -2), hh.transpose(-1, -2)).transpose(-1, -2)
            ll = self.rows[k].inverse(lo, hi)
        return ll
