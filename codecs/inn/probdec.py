"""Image compression with probabilistic decoding (Ma et al. 2021), on the lifting transform.

* Transform (§4.3): ``LiftingTransform``, K levels, 3K+1 sub-bands, two lifting steps per
  direction per level (each {H += t_L(L); L += t_H(H)}), CDF 9/7 plus learned residuals, on
  pixels in [0, 255]. log|det| = 0, so eq. (10)'s Jacobian term vanishes.
* Quantisation (§4.5): every sub-band is divided by one fixed step Δ (``step``, the operating
  point; it is the same as feeding pixels in [0, 255/Δ]) and rounded. In training, what the
  decoder sees is rounded too, with the gradient of the soft rounding of Agustsson & Theis 2020
  (the paper's ref. [1]), its sharpness α annealed by the number of training steps; the rate
  uses additive uniform noise.
* Entropy model (§4.6): every coefficient has a 3-component Gaussian mixture (eq. 14), its
  weights, modes and scales predicted by a context network from the causal (upper and left)
  coefficients of its s×s neighbourhood in the same sub-band and, for the detail sub-bands,
  the co-located s×s area of LL_k, which the decoder rebuilds from the coarser sub-bands it has
  already decoded. Rate: eq. (15). Coding uses a real range coder (``constriction``); the
  symbols of a sub-band are visited in wavefronts t = (r+1)·i + j (r = s // 2), so every
  coefficient of one wavefront has all its causal neighbours already decoded and the whole
  wavefront is coded in one vectorised step. Encoder and decoder run the same wavefront loop,
  in the model's dtype (the codec uses float64), and round the mixture parameters to a grid
  before the CDFs are built on the CPU: the same CDFs on any thread count or device
  (docs/inn-ilc-probdec.md, "Portable bitstreams").
* Synthesis (§4.4): per level, a network predicts the mean μ and standard deviation σ of
  q(ỹ|ŷ) = Π N(ỹ_i; μ_i(ŷ), σ_i(ŷ)²) (eq. 13) from the dequantised sub-bands and their LL_k
  context. The decoder draws ỹ = μ + √v·σ·ε, ε ~ N(0, I) from a seeded generator, v the
  variance factor of Fig. 3 (v = 0: the mode), and returns f⁻¹(ỹ).
* Objective, eq. (10) as a loss: −log q(y|ŷ) + d(x, x⁰) − λ·log q(ŷ), x⁰ = f⁻¹(μ).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from bench_codecs.inn.lifting import LiftingTransform

#: Inputs are scaled to [0, 255]; LL_k lies in [0, 255·2^k] under the transform's normalisation.
PIXEL = 255.0
SIGMA_MIN = 1e-3
SCALE_MIN = 0.11
LIKELIHOOD_MIN = 1e-9
#: Initial scales (in quantisation steps) of the three mixture components: a narrow, a middle
#: and a wide one, which also breaks the symmetry between them.
INITIAL_SCALES = (0.4, 1.5, 6.0)
#: Soft-rounding sharpness: α = ALPHA_START + steps / ALPHA_STEPS, at most ALPHA_MAX.
ALPHA_START, ALPHA_STEPS, ALPHA_MAX = 1.0, 1000.0, 4.0
#: Detail symbols enter the context network multiplied by this.
DETAIL_INPUT = 0.25
#: The legacy layout (5/3 lifting, factorised LL_K model, one Gaussian per detail coefficient).
LEGACY_KEYS = ("log_step", "entropy_bottleneck._quantized_cdf")


def _phi(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * torch.erfc(-x / math.sqrt(2.0))


def soft_round(x: torch.Tensor, alpha: float) -> torch.Tensor:
    """Agustsson & Theis 2020, eq. (2): → x as α → 0, → round(x) as α → ∞ (differentiable)."""
    m = torch.floor(x) + 0.5
    r = x - m
    return m + torch.tanh(alpha * r) / (2.0 * math.tanh(alpha / 2.0))


def causal_offsets(size: int) -> list[tuple[int, int]]:
    """(di, dj) of the upper rows and the left coefficients of the s×s neighbourhood, raster order."""
    r = size // 2
    return [(di, dj) for di in range(-r, 1) for dj in range(-r, r + 1) if di < 0 or dj < 0]


def wavefronts(height: int, width: int, size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Positions (i, j) grouped by t = (r+1)·i + j, in increasing t.

    A causal neighbour (i+di, j+dj) has di < 0 and |dj| ≤ r, or di = 0 and dj < 0, so its t is
    smaller: each wavefront depends only on earlier ones. A sub-band narrower than r+1 (a small
    image's coarsest levels) has values of t that hold no position; they are left out, since
    coding an empty wavefront fails (its parameters cannot be shaped).
    """
    a = size // 2 + 1
    out = []
    for t in range(a * (height - 1) + width):
        i = np.arange(max(0, -(-(t - width + 1) // a)), min(height - 1, t // a) + 1)
        if len(i):
            out.append((i, t - a * i))
    return out


class MixtureContext(nn.Module):
    """Gaussian-mixture parameters for ``groups`` sub-bands of ``channels`` channels each.

    Per sub-band, a separate network (grouped convolutions) sees the causal s×s neighbours of
    that sub-band (all its channels) and, with ``ll_context``, the co-located s×s area of LL_k.
    Training runs it as masked convolutions over the whole sub-band; coding runs the same
    weights on gathered neighbours, one wavefront at a time (``params_at``).
    """

    def __init__(self, groups: int, channels: int = 3, size: int = 5, hidden: int = 32, components: int = 3,
                 ll_context: bool = True, input_scale: float = DETAIL_INPUT, mean_skip: bool = False) -> None:
        super().__init__()
        if size % 2 != 1 or size < 3:
            raise ValueError(f"context size must be odd and ≥ 3, got {size}")
        self.groups, self.channels, self.size, self.hidden, self.components = groups, channels, size, hidden, components
        self.input_scale = input_scale
        self.mean_skip = mean_skip
        self.offsets = causal_offsets(size)
        self.spatial = nn.Conv2d(groups * channels, groups * hidden, size, padding=size // 2, groups=groups)
        mask = torch.zeros(1, 1, size, size)
        for di, dj in self.offsets:
            mask[0, 0, di + size // 2, dj + size // 2] = 1
        self.register_buffer("mask", mask, persistent=False)
        self.ll = nn.Conv2d(3, groups * hidden, size, padding=size // 2) if ll_context else None
        self.mid = nn.Conv2d(groups * hidden, groups * hidden, 1, groups=groups)
        self.out = nn.Conv2d(groups * hidden, groups * 3 * components * channels, 1, groups=groups)
        nn.init.zeros_(self.out.weight)
        with torch.no_grad():
            bias = self.out.bias.view(groups, 3, components, channels)
            bias.zero_()
            for m, s in enumerate(INITIAL_SCALES[:components]):
                bias[:, 2, m] = math.log(math.expm1(s - SCALE_MIN))
        # LL_K: the modes start at the mean of the upper and left neighbours of the same channel.
        skip = torch.zeros(groups * channels, 1, size, size)
        if mean_skip:
            skip[:, 0, size // 2 - 1, size // 2] = 0.5
            skip[:, 0, size // 2, size // 2 - 1] = 0.5
        self.register_buffer("skip", skip, persistent=False)

    def _split(self, out: torch.Tensor, base: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(…, G·3·M·C) → weights, means, scales, each (…, G, C, M) in symbol units."""
        shape = out.shape[:-1]
        out = out.view(*shape, self.groups, 3, self.components, self.channels).transpose(-1, -2)
        weights = torch.softmax(out[..., 0, :, :], dim=-1)
        means = base.unsqueeze(-1) + out[..., 1, :, :] / self.input_scale
        scales = F.softplus(out[..., 2, :, :]) + SCALE_MIN
        return weights, means, scales

    def forward(self, symbols: torch.Tensor, ll: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Training: ``symbols`` B×(G·C)×H×W (dequantised / Δ), ``ll`` normalised LL_k.

        Returns weights, means and scales, each B×H×W×G×C×M.
        """
        x = symbols * self.input_scale
        h = F.conv2d(x, self.spatial.weight * self.mask, self.spatial.bias, padding=self.size // 2, groups=self.groups)
        if self.ll is not None:
            h = h + self.ll(ll)
        h = F.leaky_relu(self.mid(F.leaky_relu(h, 0.2)), 0.2)
        out = self.out(h).permute(0, 2, 3, 1)
        base = F.conv2d(symbols, self.skip, padding=self.size // 2, groups=self.groups * self.channels)
        b, _, height, width = base.shape
        base = base.permute(0, 2, 3, 1).reshape(b, height, width, self.groups, self.channels)
        return self._split(out, base)

    # -- coding: the same function on gathered neighbours -----------------------------------
    def coding_weights(self) -> dict[str, torch.Tensor]:
        g, c, hd, s = self.groups, self.channels, self.hidden, self.size
        cols = [(di + s // 2) * s + dj + s // 2 for di, dj in self.offsets]
        spatial = self.spatial.weight.view(g, hd, c, s * s)[..., cols].reshape(g, hd, c * len(cols)).transpose(1, 2)
        skip = self.skip.view(g, c, s * s)[..., cols]  # G×C×n
        return {"spatial": spatial.contiguous(), "spatial_bias": self.spatial.bias.view(g, 1, hd),
                "mid": self.mid.weight.view(g, hd, hd).transpose(1, 2).contiguous(), "mid_bias": self.mid.bias.view(g, 1, hd),
                "out": self.out.weight.view(g, -1, hd).transpose(1, 2).contiguous(), "out_bias": self.out.bias.view(g, 1, -1),
                "skip": skip}

    def ll_features(self, ll: torch.Tensor | None) -> torch.Tensor | None:
        """The LL_k term of the first layer over the whole map: G×hidden×H×W (1×… input)."""
        if self.ll is None:
            return None
        return self.ll(ll)[0].view(self.groups, self.hidden, *ll.shape[-2:])

    def params_at(self, w: dict[str, torch.Tensor], gathered: torch.Tensor, ll_features: torch.Tensor | None,
                  i: np.ndarray, j: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``gathered``: G×P×C×n causal neighbours (symbols); returns P×G×C×M parameters."""
        g, p, c, n = gathered.shape
        h = torch.bmm((gathered * self.input_scale).reshape(g, p, c * n), w["spatial"]) + w["spatial_bias"]
        if ll_features is not None:
            h = h + ll_features[:, :, torch.from_numpy(i), torch.from_numpy(j)].transpose(1, 2)
        h = F.leaky_relu(torch.bmm(F.leaky_relu(h, 0.2), w["mid"]) + w["mid_bias"], 0.2)
        out = (torch.bmm(h, w["out"]) + w["out_bias"]).transpose(0, 1).reshape(p, -1)  # P×(G·3·M·C)
        base = (gathered * w["skip"].unsqueeze(1)).sum(-1).transpose(0, 1)  # P×G×C
        return self._split(out, base)


def mixture_likelihood(values: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """Eq. (15): Σ_m w_m ∫_{v−½}^{v+½} N(·; μ_m, s_m), tail-accurate (values … × M-broadcast)."""
    centred = (values.unsqueeze(-1) - means).abs()
    mass = _phi((0.5 - centred) / scales) - _phi((-0.5 - centred) / scales)
    return (weights * mass).sum(-1).clamp_min(LIKELIHOOD_MIN)


#: Grid (in symbol units) of the mixture parameters the range coder's CDFs are built from.
#: Encoder and decoder compute them in float64, where two devices or thread counts can differ
#: in the last bits only (~1e-13 here); rounding to a grid ~10¹⁰ times coarser makes them equal
#: unless a value lies within that error of a grid boundary. 2⁻⁷ costs ~0.1 % of the rate
#: (docs/inn-ilc-probdec.md).
PARAM_GRID = 2.0 ** -7


def quantise_mixture(weights: torch.Tensor, means: torch.Tensor,
                     scales: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """N×M float64 arrays on PARAM_GRID: weights as integer counts, means and scales as multiples.

    What the CDFs are built from must be bit-identical on both sides; floats out of a network
    are not (conv and matmul kernels differ by device and thread count), grid points are.
    Multiples of 2⁻⁷ are exact in float64, and scales stay ≥ one grid step.
    """
    w, mu, s = (t.reshape(-1, t.shape[-1]).detach().to("cpu", torch.float64).numpy() for t in (weights, means, scales))
    return np.round(w / PARAM_GRID), np.round(mu / PARAM_GRID) * PARAM_GRID, np.maximum(np.round(s / PARAM_GRID), 1) * PARAM_GRID


def mixture_pmf(lo: int, hi: int, counts: np.ndarray, means: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """N×(hi−lo+1) probabilities of the symbols lo..hi from quantised parameters (the tails go
    to the end bins), with weights ``counts`` / Σ counts.

    Computed with NumPy and SciPy's ``ndtr`` on the CPU, whatever the model's device: their
    element-wise results do not depend on how an array is split over threads or SIMD lanes, so
    equal parameters give equal bits (torch's vectorised kernels promise no such thing).
    """
    from scipy.special import ndtr

    edges = np.arange(lo, hi, dtype=np.float64) + 0.5  # L−1 inner edges
    mass = ndtr((edges - means[..., None]) / scales[..., None])  # N×M×(L−1)
    cdf = (counts[..., None] * mass).sum(1) / counts.sum(1, keepdims=True)
    ends = np.zeros((cdf.shape[0], 1))
    cdf = np.concatenate([ends, cdf, ends + 1], 1)
    return np.clip(cdf[:, 1:] - cdf[:, :-1], 0, None)


@dataclass
class GroupCoder:
    """One sub-band group's symbols through the range coder, wavefront by wavefront."""

    context: MixtureContext
    ll_features: torch.Tensor | None
    lo: int
    hi: int

    def run(self, coder, symbols: torch.Tensor | None, shape: tuple[int, int]) -> torch.Tensor:
        """Encode ``symbols`` (G·C×H×W integers as float) into ``coder``, or decode them from it."""
        import constriction

        ctx = self.context
        g, c, r = ctx.groups, ctx.channels, ctx.size // 2
        height, width = shape
        hp, wp = height + r, width + 2 * r
        device = ctx.spatial.weight.device
        dtype = ctx.spatial.weight.dtype
        if self.lo == self.hi:  # every symbol is lo, which the header's range says already; a
            return torch.full((g * c, height, width), float(self.lo), device=device, dtype=dtype)  # one-bin pmf cannot be coded
        buffer = torch.zeros(g, c, hp * wp, device=device, dtype=dtype)
        if symbols is not None:
            buffer.view(g, c, hp, wp)[:, :, r:, r:r + width] = symbols.view(g, c, height, width)
        offsets = torch.tensor([di * wp + dj for di, dj in ctx.offsets], device=device)
        weights = ctx.coding_weights()
        family = constriction.stream.model.Categorical(perfect=False)
        for i, j in wavefronts(height, width, ctx.size):
            centre = torch.from_numpy((i + r) * wp + (j + r)).to(device)
            gathered = buffer[:, :, centre.unsqueeze(1) + offsets].permute(0, 2, 1, 3)  # G×P×C×n
            params = ctx.params_at(weights, gathered, self.ll_features, i, j)
            pmf = mixture_pmf(self.lo, self.hi, *quantise_mixture(*params))
            if symbols is None:
                decoded = torch.from_numpy(coder.decode(family, pmf) + self.lo).to(device, dtype)
                buffer[:, :, centre] = decoded.view(len(i), g, c).permute(1, 2, 0)
            else:
                values = buffer[:, :, centre].permute(2, 0, 1).reshape(-1)
                coder.encode((values.cpu().numpy() - self.lo).astype(np.int32), family, pmf)
        return buffer.view(g, c, hp, wp)[:, :, r:, r:r + width].reshape(g * c, height, width)


def _net(cin: int, cout: int, hidden: int) -> nn.Sequential:
    net = nn.Sequential(nn.Conv2d(cin, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.Conv2d(hidden, hidden, 3, padding=1), nn.LeakyReLU(0.2),
                        nn.Conv2d(hidden, cout, 3, padding=1))
    nn.init.zeros_(net[-1].weight)
    nn.init.zeros_(net[-1].bias)
    return net


class ProbDec(nn.Module):
    def __init__(self, levels: int = 4, lift_hidden: int = 16, hidden: int = 32, step: float = 64.0,
                 context_size: int = 5, context_hidden: int = 32, components: int = 3) -> None:
        super().__init__()
        self.levels = levels
        self.transform = LiftingTransform(levels, lift_hidden, PIXEL)
        self.register_buffer("quant_step", torch.tensor(float(step)))
        #: Training steps seen (saved with the weights): it sets the soft-rounding sharpness.
        self.register_buffer("train_steps", torch.tensor(0, dtype=torch.long))
        ll_scale = step / (PIXEL * 2.0**levels)
        self.context_ll = MixtureContext(1, 3, context_size, context_hidden, components, ll_context=False,
                                         input_scale=ll_scale, mean_skip=True)
        # Group i codes LH, HL, HH of level K − i, each with its own network and LL_{K−i} context.
        self.context = nn.ModuleList(MixtureContext(3, 3, context_size, context_hidden, components)
                                     for _ in range(levels))
        # Synthesis of q(ỹ|ŷ): LL_K from itself; detail groups from (LL_k, dequantised details).
        self.synth_ll = _net(3, 6, hidden)
        self.synth = nn.ModuleList(_net(12, 18, hidden) for _ in range(levels))

    @property
    def stride(self) -> int:
        return 2 ** self.levels

    @property
    def step(self) -> float:
        return float(self.quant_step)

    def alpha(self) -> float:
        return min(ALPHA_MAX, ALPHA_START + float(self.train_steps) / ALPHA_STEPS)

    def _ll_norm(self, ll: torch.Tensor, i: int) -> torch.Tensor:
        """LL_k (k = K − i) scaled to about [−0.5, 0.5]."""
        return ll / (PIXEL * 2.0 ** (self.levels - i)) - 0.5

    def inverse_level(self, i: int, ll: torch.Tensor, details: torch.Tensor) -> torch.Tensor:
        """One inverse level (group i: level K − i)."""
        return self.transform.inverse_level(self.levels - 1 - i, ll, *details.chunk(3, dim=1))

    def _synth_params(self, out: torch.Tensor, deq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        residual, log_sigma = out.chunk(2, dim=1)
        mu = deq + residual * self.step
        sigma = (F.softplus(log_sigma - 1.0) + SIGMA_MIN) * self.step  # σ ≈ Δ/3 at initialisation
        return mu, sigma

    def _synth_ll(self, ll: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._synth_params(self.synth_ll(self._ll_norm(ll, 0)), ll)

    def _synth_group(self, i: int, ll: torch.Tensor, deq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._synth_params(self.synth[i](torch.cat((self._ll_norm(ll, i), deq / self.step), 1)), deq)

    @staticmethod
    def _groups(bands: list[torch.Tensor], levels: int) -> list[torch.Tensor]:
        return [bands[0]] + [torch.cat(bands[1 + 3 * i: 4 + 3 * i], 1) for i in range(levels)]

    def _quantise(self, q: torch.Tensor) -> torch.Tensor:
        """Rounding; in training its gradient is the soft rounding's (forward exact, backward soft)."""
        if not self.training:
            return torch.round(q)
        soft = soft_round(q, self.alpha())
        return soft + (torch.round(q) - soft).detach()

    # -- training ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict:
        groups = self._groups(self.transform(x * PIXEL), self.levels)
        likelihoods, mus, sigmas = {}, [], []
        q = groups[0] / self.step
        noisy = q + torch.empty_like(q).uniform_(-0.5, 0.5) if self.training else torch.round(q)
        q_hat = self._quantise(q)
        params = self.context_ll(q_hat, None)
        likelihoods["ll"] = mixture_likelihood(noisy.permute(0, 2, 3, 1).unsqueeze(3), *params)
        ll = q_hat * self.step
        mu, sigma = self._synth_ll(ll)
        mus.append(mu); sigmas.append(sigma)
        for i in range(self.levels):
            q = groups[1 + i] / self.step
            noisy = q + torch.empty_like(q).uniform_(-0.5, 0.5) if self.training else torch.round(q)
            q_hat = self._quantise(q)
            params = self.context[i](q_hat, self._ll_norm(ll, i))
            b, _, h, w = q.shape
            likelihoods[f"d{i}"] = mixture_likelihood(noisy.permute(0, 2, 3, 1).reshape(b, h, w, 3, 3), *params)
            deq = q_hat * self.step
            mu, sigma = self._synth_group(i, ll, deq)
            mus.append(mu); sigmas.append(sigma)
            ll = self.inverse_level(i, ll, deq)
        if self.training:
            self.train_steps += 1
        return {"likelihoods": likelihoods, "mu": mus, "sigma": sigmas, "y": groups,
                "x_mode": self.synthesize(mus) / PIXEL}

    def synthesize(self, groups: list[torch.Tensor]) -> torch.Tensor:
        """f⁻¹ of [LL_K, group_0, ..., group_{K-1}] (each group LH, HL, HH stacked)."""
        ll = groups[0]
        for i in range(self.levels):
            ll = self.inverse_level(i, ll, groups[1 + i])
        return ll

    # -- coding ------------------------------------------------------------------------------
    def _coders(self, ll: torch.Tensor | None, i: int | None, lo: int, hi: int) -> GroupCoder:
        if i is None:
            return GroupCoder(self.context_ll, None, lo, hi)
        return GroupCoder(self.context[i], self.context[i].ll_features(self._ll_norm(ll, i)), lo, hi)

    def compress(self, x: torch.Tensor) -> dict:
        """One 1×3×H×W image → strings (LL_K, then one per level) and each group's symbol range."""
        import constriction

        if x.shape[0] != 1:
            raise ValueError("compress codes one image at a time")
        groups = self._groups(self.transform(x.to(self.quant_step.dtype) * PIXEL), self.levels)
        strings, ranges, ll = [], [], None
        for i, group in enumerate(groups):
            symbols = torch.round(group[0] / self.step)
            lo, hi = int(symbols.min()), int(symbols.max())
            if not -32768 <= lo <= hi <= 32767:
                raise ValueError(f"symbols {lo}..{hi} outside the int16 range of the header")
            coder = constriction.stream.queue.RangeEncoder()
            self._coders(ll, None if i == 0 else i - 1, lo, hi).run(coder, symbols, tuple(symbols.shape[-2:]))
            strings.append(coder.get_compressed().astype("<u4").tobytes())
            ranges.append((lo, hi))
            deq = symbols[None] * self.step
            ll = deq if i == 0 else self.inverse_level(i - 1, ll, deq)
        return {"strings": strings, "ranges": ranges, "shape": tuple(groups[0].shape[-2:])}

    def decode_parameters(self, strings: list[bytes], ranges: list[tuple[int, int]],
                          shape: tuple[int, int]) -> tuple[list, list]:
        """μ and σ of q(ỹ|ŷ) for every sub-band group, from the bitstream alone."""
        import constriction

        mus, sigmas, ll = [], [], None
        for i, (string, (lo, hi)) in enumerate(zip(strings, ranges)):
            size = (shape[0] * 2 ** max(i - 1, 0), shape[1] * 2 ** max(i - 1, 0))
            coder = constriction.stream.queue.RangeDecoder(np.frombuffer(string, dtype="<u4").astype(np.uint32))
            symbols = self._coders(ll, None if i == 0 else i - 1, lo, hi).run(coder, None, size)
            deq = symbols[None] * self.step
            if i == 0:
                mu, sigma = self._synth_ll(deq)
                ll = deq
            else:
                mu, sigma = self._synth_group(i - 1, ll, deq)
                ll = self.inverse_level(i - 1, ll, deq)
            mus.append(mu); sigmas.append(sigma)
        return mus, sigmas

    @staticmethod
    def sample(mus: list, sigmas: list, sigma_multiplier: float = 0.0, seed: int = 0) -> list[torch.Tensor]:
        """ỹ = μ + m·σ·ε with ε from a CPU generator seeded by ``seed`` (m = 0: the mode).

        The variance factor v of the paper's Fig. 3 is m = √v.
        """
        if sigma_multiplier == 0:
            return list(mus)
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        out = []
        for mu, sigma in zip(mus, sigmas):
            eps = torch.randn(mu.shape, generator=generator, dtype=torch.float64).to(mu.dtype).to(mu.device)
            out.append(mu + float(sigma_multiplier) * sigma * eps)
        return out

    def decompress(self, strings: list[bytes], ranges: list[tuple[int, int]], shape: tuple[int, int],
                   variance_factor: float = 0.0, seed: int = 0, sigma_multiplier: float | None = None) -> dict:
        """f⁻¹(μ + √v·σ·ε); ``sigma_multiplier`` m (the legacy ``scale``) draws μ + m·σ·ε instead."""
        mus, sigmas = self.decode_parameters(strings, ranges, shape)
        m = math.sqrt(float(variance_factor)) if sigma_multiplier is None else float(sigma_multiplier)
        return {"x_hat": self.synthesize(self.sample(mus, sigmas, m, seed)) / PIXEL}

    # -- the trainer's and loader's hooks ----------------------------------------------------
    def update(self, scale_table=None, force: bool = False) -> bool:
        """No tables to build: the mixtures' probabilities are computed per symbol."""
        return False

    def aux_loss(self) -> torch.Tensor:
        return torch.zeros((), requires_grad=True)

    @classmethod
    def config_from_state_dict(cls, state: dict) -> dict:
        legacy = [k for k in LEGACY_KEYS if k in state]
        if legacy:
            raise ValueError("a checkpoint of the earlier ProbDec layout (5/3 lifting, factorised LL_K, one "
                             "Gaussian per detail coefficient), which this codec no longer reads; retrain or use "
                             "the shipped weights")
        levels = sum(1 for k in state if k.startswith("context.") and k.endswith(".spatial.weight"))
        spatial = state["context_ll.spatial.weight"]
        components = int(state["context_ll.out.bias"].shape[0]) // 9
        return {"levels": levels, "lift_hidden": int(state["transform.rows.0.t_l.0.net.0.weight"].shape[0]),
                "hidden": int(state["synth_ll.0.weight"].shape[0]), "step": float(state["quant_step"]),
                "context_size": int(spatial.shape[-1]), "context_hidden": int(spatial.shape[0]),
                "components": components}


def probdec_loss(model: ProbDec, x: torch.Tensor, lmbda: float, distortion_weight: float) -> dict[str, torch.Tensor]:
    """Eq. (10) as a loss, per pixel: NLL of y under q(·|ŷ) in bits + d(x, x⁰) + λ·bits of ŷ.

    d is the MSE on the [0, 255] scale times ``distortion_weight`` (the paper: MSE, unweighted).
    The log-determinant is zero for the lifting transform.
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
