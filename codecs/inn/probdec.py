"""Image compression with probabilistic decoding (Ma et al. 2021), on the lifting transform.

* Transform: ``LiftingTransform`` (K levels, 3K+1 sub-bands, two lifting steps per direction
  per level, additive so log|det| = 0 and eq. (10)'s Jacobian term vanishes) on pixels in
  [0, 255].
* Quantisation: each sub-band b is divided by a learned step Δ_b and rounded (around the
  entropy model's mean). Training uses additive uniform noise for the rate and the
  straight-through estimator for everything the decoder sees (the paper uses soft-to-hard
  quantisation).
* Entropy model (a simplification of the paper's, see docs/inn-ilc-probdec.md): LL_K with
  CompressAI's factorised ``EntropyBottleneck``; every detail coefficient with one Gaussian
  (``GaussianConditional``) whose mean and scale a context network predicts from the co-located
  LL_k, which the decoder rebuilds from the already decoded coarser sub-bands (the paper's
  inter-sub-band context). No causal spatial context and one mixture component instead of
  three: decoding stays parallel.
* Synthesis: per level, a network predicts the mean μ and standard deviation σ of
  q(ỹ|ŷ) = Π N(ỹ_i; μ_i(ŷ), σ_i(ŷ)²) (eq. 13) from the dequantised sub-bands and their LL_k
  context. The decoder draws ỹ = μ + s·σ·ε, ε ~ N(0, I) from a seeded generator, s the
  variance scale (s = 0: the mode), and returns f⁻¹(ỹ).
* Objective, eq. (10) as a loss: −log q(y|ŷ) + d(x, x⁰) − λ·log q(ŷ), x⁰ = f⁻¹(μ).
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.models import CompressionModel

from bench_codecs.inn.ilc import ste_round
from bench_codecs.inn.lifting import LiftingTransform

#: Inputs are scaled to [0, 255]; contexts are normalised by this before the networks.
PIXEL = 255.0
SIGMA_MIN = 1e-3


def _net(cin: int, cout: int, hidden: int) -> nn.Sequential:
    net = nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.Conv2d(hidden, cout, 3, padding=1))
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class ProbDec(CompressionModel):
    def __init__(self, levels: int = 4, lift_hidden: int = 16, hidden: int = 32, step_ll: float = 4.0,
                 step_detail: float = 8.0) -> None:
        super().__init__()
        self.levels = levels
        self.transform = LiftingTransform(levels, lift_hidden)
        steps = [step_ll] + [step_detail] * (3 * levels)
        self.log_step = nn.Parameter(torch.tensor(steps).log())
        self.entropy_bottleneck = EntropyBottleneck(3)
        self.gaussian_conditional = GaussianConditional(None)
        # Coding context: LL_k (3 ch) → mean and log-scale of LH, HL, HH (9 + 9 channels).
        self.context = nn.ModuleList(_net(3, 18, hidden) for _ in range(levels))
        # Synthesis of q(ỹ|ŷ): LL_K from itself; detail groups from (LL_k, dequantised details).
        self.synth_ll = _net(3, 6, hidden)
        self.synth = nn.ModuleList(_net(12, 18, hidden) for _ in range(levels))

    @property
    def stride(self) -> int:
        return 2 ** self.levels

    def steps(self) -> torch.Tensor:
        return self.log_step.exp()

    # -- one inverse level of the lifting transform (group i: level K - i) -----------------
    def inverse_level(self, i: int, ll: torch.Tensor, details: torch.Tensor) -> torch.Tensor:
        k = self.levels - 1 - i
        lh, hl, hh = details.chunk(3, dim=1)
        t = self.transform
        lo = t.cols[k].inverse(ll.transpose(-1, -2), lh.transpose(-1, -2)).transpose(-1, -2)
        hi = t.cols[k].inverse(hl.transpose(-1, -2), hh.transpose(-1, -2)).transpose(-1, -2)
        return t.rows[k].inverse(lo, hi)

    def _coding_params(self, i: int, ll: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.context[i](ll / PIXEL - 0.5)
        means, log_scales = out.chunk(2, dim=1)
        return means, F.softplus(log_scales + 2.0)  # scale ≈ 2 steps at initialisation

    @staticmethod
    def _synth_params(out: torch.Tensor, deq: torch.Tensor, step: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual, log_sigma = out.chunk(2, dim=1)
        mu = deq + residual * step
        sigma = (F.softplus(log_sigma - 1.0) + SIGMA_MIN) * step  # σ ≈ step/3 at initialisation
        return mu, sigma

    def _group(self, bands: list[torch.Tensor], i: int) -> torch.Tensor:
        return torch.cat(bands[1 + 3 * i: 4 + 3 * i], 1)

    def _group_step(self, i: int) -> torch.Tensor:
        return self.steps()[1 + 3 * i: 4 + 3 * i].repeat_interleave(3).view(1, 9, 1, 1)

    # -- training ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict:
        bands = self.transform(x * PIXEL)
        steps = self.steps()
        likelihoods, mus, sigmas, targets = {}, [], [], []
        q = bands[0] / steps[0]
        _, likelihoods["ll"] = self.entropy_bottleneck(q)
        medians = self.entropy_bottleneck._get_medians().detach().reshape(1, -1, 1, 1)
        ll = (ste_round(q - medians) + medians) * steps[0]
        mu, sigma = self._synth_params(self.synth_ll(ll / PIXEL - 0.5), ll, steps[0])
        mus.append(mu); sigmas.append(sigma); targets.append(bands[0])
        for i in range(self.levels):
            step = self._group_step(i)
            group = self._group(bands, i)
            means, scales = self._coding_params(i, ll)
            q = group / step
            _, likelihoods[f"d{i}"] = self.gaussian_conditional(q, scales, means)
            deq = (ste_round(q - means) + means) * step
            mu, sigma = self._synth_params(self.synth[i](torch.cat((ll / PIXEL - 0.5, deq / step), 1)), deq, step)
            mus.append(mu); sigmas.append(sigma); targets.append(group)
            ll = self.inverse_level(i, ll, deq)
        return {"likelihoods": likelihoods, "mu": mus, "sigma": sigmas, "y": targets,
                "x_mode": self.synthesize(mus) / PIXEL}

    def synthesize(self, groups: list[torch.Tensor]) -> torch.Tensor:
        """f⁻¹ of [LL_K, group_0, ..., group_{K-1}] (each group LH, HL, HH stacked)."""
        ll = groups[0]
        for i in range(self.levels):
            ll = self.inverse_level(i, ll, groups[1 + i])
        return ll

    # -- coding ------------------------------------------------------------------------------
    def compress(self, x: torch.Tensor) -> dict:
        bands = self.transform(x * PIXEL)
        steps = self.steps()
        q = bands[0] / steps[0]
        strings = [self.entropy_bottleneck.compress(q)[0]]
        ll = self.entropy_bottleneck.decompress([strings[0]], q.shape[-2:]) * steps[0]
        for i in range(self.levels):
            step = self._group_step(i)
            q = self._group(bands, i) / step
            means, scales = self._coding_params(i, ll)
            indexes = self.gaussian_conditional.build_indexes(scales)
            strings.append(self.gaussian_conditional.compress(q, indexes, means=means)[0])
            deq = self.gaussian_conditional.quantize(q, "dequantize", means) * step
            ll = self.inverse_level(i, ll, deq)
        return {"strings": strings, "shape": tuple(bands[0].shape[-2:])}

    def decode_parameters(self, strings: list[bytes], shape: tuple[int, int]) -> tuple[list, list]:
        """μ and σ of q(ỹ|ŷ) for every sub-band group, from the bitstream alone."""
        steps = self.steps()
        ll = self.entropy_bottleneck.decompress([strings[0]], torch.Size(shape)) * steps[0]
        mu, sigma = self._synth_params(self.synth_ll(ll / PIXEL - 0.5), ll, steps[0])
        mus, sigmas = [mu], [sigma]
        for i in range(self.levels):
            step = self._group_step(i)
            means, scales = self._coding_params(i, ll)
            indexes = self.gaussian_conditional.build_indexes(scales)
            deq = self.gaussian_conditional.decompress([strings[1 + i]], indexes, means=means) * step
            mu, sigma = self._synth_params(self.synth[i](torch.cat((ll / PIXEL - 0.5, deq / step), 1)), deq, step)
            mus.append(mu); sigmas.append(sigma)
            ll = self.inverse_level(i, ll, deq)
        return mus, sigmas

    @staticmethod
    def sample(mus: list, sigmas: list, scale: float = 0.0, seed: int = 0) -> list[torch.Tensor]:
        """ỹ = μ + scale·σ·ε with ε from a CPU generator seeded by ``seed`` (scale 0: the mode)."""
        if scale == 0:
            return list(mus)
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        out = []
        for mu, sigma in zip(mus, sigmas):
            eps = torch.randn(mu.shape, generator=generator, dtype=torch.float64).to(mu.dtype).to(mu.device)
            out.append(mu + float(scale) * sigma * eps)
        return out

    def decompress(self, strings: list[bytes], shape: tuple[int, int], scale: float = 0.0, seed: int = 0) -> dict:
        mus, sigmas = self.decode_parameters(strings, shape)
        return {"x_hat": self.synthesize(self.sample(mus, sigmas, scale, seed)) / PIXEL}

    def update(self, scale_table=None, force: bool = False) -> bool:
        from compressai.models.base import get_scale_table
        return super().update(scale_table if scale_table is not None else get_scale_table(), force=force)

    @classmethod
    def config_from_state_dict(cls, state: dict) -> dict:
        levels = len(state["log_step"]) // 3
        return {"levels": levels, "lift_hidden": int(state["transform.rows.0.p.net.0.weight"].shape[0]),
                "hidden": int(state["synth_ll.0.weight"].shape[0])}


def probdec_loss(model: ProbDec, x: torch.Tensor, lmbda: float, distortion_weight: float) -> dict[str, torch.Tensor]:
    """Eq. (10) as a loss, per pixel: NLL of y under q(·|ŷ) in bits + d(x, x⁰) + λ·bits of ŷ.

    d is the MSE on the [0, 255] scale times ``distortion_weight`` (the paper: MSE, unweighted).
    The log-determinant is zero for the additive lifting transform.
    """
    out = model(x)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = sum(torch.log(l).sum() for l in out["likelihoods"].values()) / (-math.log(2) * pixels)
    nll = 0.0
    for y, mu, sigma in zip(out["y"], out["mu"], out["sigma"]):
        nll = nll + (0.5 * ((y - mu) / sigma) ** 2 + torch.log(sigma) + 0.5 * math.log(2 * math.pi)).sum()
    nll_bpp = nll / (math.log(2) * pixels)
    mse = ((out["x_mode"] - x) ** 2).mean()
    loss = nll_bpp + distortion_weight * PIXEL**2 * mse + lmbda * bpp
    return {"loss": loss, "bpp": bpp, "mse": mse, "nll": nll_bpp}
