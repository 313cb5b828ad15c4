"""Qmap (Song, Choi & Han, ICCV 2021): variable-rate compression through spatially-adaptive
feature transforms (SFT) conditioned on a quality map.

A scale hyperprior with Gaussian means (Ballé et al. 2018 / Minnen et al. 2018 without the
context model) whose analysis g_a, hyper-analysis h_a and synthesis g_s are modulated, layer by
layer, by SFT: x·(1 + γ(c)) + β(c), with γ and β computed from a condition c.

- g_a: c comes from the quality map (one channel, values in [0, 1]) concatenated with the image,
  through ``qmap_feature_g1`` (full resolution) and ``qmap_feature_g2..g5`` (stride 2 each);
- h_a: from the map average-pooled to the latent size concatenated with y
  (``qmap_feature_h1..h3``);
- g_s: from z_hat alone (``qmap_feature_gs0`` upsamples it 4× to the size of y,
  ``qmap_feature_gs1..gs5`` follow the synthesis upsampling). The decoder never sees the map.

Layout and parameter names follow the authors' public code (class ``SpatiallyAdaptiveCompression``):
``g_a0..g_a14``, ``h_a0..h_a8``, ``g_s0..g_s14``, the ``qmap_feature_*`` sequences, ``h_s``
(a Sequential, M → 3M/2 → 2M channels, giving scales and means), ``entropy_bottleneck`` and
``gaussian_conditional``. Their entropy models are CompressAI 1.0's, whose tensors and coding
are CompressAI 1.2's under older names (``_matrices.0`` …; ``coding.rename_key`` maps them), so
CompressAI's own modules code here and the authors' checkpoints load unchanged.

Training uses the pixel-wise Lagrangian λ(q) = 1e-3·e^{4.382 q} (the authors' ``quality2lambda``)
in mean(λ·255²·(x − x̂)²) + bpp.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from compressai.entropy_models import EntropyBottleneck, GaussianConditional
from compressai.layers import GDN
from compressai.models import CompressionModel

from bench_codecs.inn.invcompress import one_torch_thread

#: λ(q) = THETA·e^{TAU·q}, the authors' ``quality2lambda``; their loss multiplies 255²·λ·MSE.
THETA, TAU = 1e-3, 4.382
#: The authors' SFT hidden width (``SFT(nhidden=128)``), and their condition width ``prior_nc``.
SFT_HIDDEN, PRIOR_NC = 128, 64
#: Total downsampling of z; the analysis's reflect padding needs z of at least 2 × 2 (h_a's last
#: 5×5 stride-2 convolution pads by 2, which reflection allows only on inputs of 3 or more).
STRIDE, MIN_LATENT = 64, 2


def lagrangian(quality: torch.Tensor, theta: float = THETA, tau: float = TAU) -> torch.Tensor:
    """λ(q) = θ·exp(τ·q), element-wise."""
    return theta * torch.exp(tau * quality)


def analysis_conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """The authors' ``layers.Conv2d``: 'same' padding by reflection."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2, padding_mode="reflect")


def conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.Conv2d:
    """The authors' ``utils.conv``: 'same' padding with zeros."""
    return nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2)


def up_conv(in_channels: int, out_channels: int, kernel_size: int = 5, stride: int = 2) -> nn.ConvTranspose2d:
    """The authors' ``UpConv2d``: a transposed convolution that multiplies the size by ``stride``."""
    return nn.ConvTranspose2d(in_channels, out_channels, kernel_size, stride, padding=kernel_size // 2,
                              output_padding=stride - 1)


class GDN1(GDN):
    """The authors' simplified GDN: x / (β + γ·|x| + 1e-4) (IGDN: x · (β + γ·|x|)), with
    CompressAI's reparametrised β and γ (the same tensors and buffers as the authors')."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = x.size(1)
        beta = self.beta_reparam(self.beta)
        gamma = self.gamma_reparam(self.gamma).reshape(channels, channels, 1, 1)
        norm = F.conv2d(torch.abs(x), gamma, beta)
        return x * norm if self.inverse else x * (1.0 / (norm + 1e-4))


class SFT(nn.Module):
    """Spatial feature transform: the condition pooled to the feature size, then a shared k×k conv
    + ReLU to ``hidden`` channels, and k×k convs to γ and β; out = x·(1 + γ) + β."""

    def __init__(self, channels: int, condition_channels: int, kernel_size: int = 3, hidden: int = SFT_HIDDEN) -> None:
        super().__init__()
        padding = kernel_size // 2
        self.mlp_shared = nn.Sequential(nn.Conv2d(condition_channels, hidden, kernel_size, padding=padding), nn.ReLU())
        self.mlp_gamma = nn.Conv2d(hidden, channels, kernel_size, padding=padding)
        self.mlp_beta = nn.Conv2d(hidden, channels, kernel_size, padding=padding)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        shared = self.mlp_shared(F.adaptive_avg_pool2d(condition, x.shape[2:]))
        return x * (1 + self.mlp_gamma(shared)) + self.mlp_beta(shared)


class SFTResblk(nn.Module):
    """x + conv(lrelu(SFT(conv(lrelu(SFT(x)))))), 3×3 convolutions, LeakyReLU 0.2."""

    def __init__(self, channels: int, condition_channels: int, kernel_size: int = 3, hidden: int = SFT_HIDDEN) -> None:
        super().__init__()
        self.conv_0 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv_1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm_0 = SFT(channels, condition_channels, kernel_size, hidden)
        self.norm_1 = SFT(channels, condition_channels, kernel_size, hidden)

    def forward(self, x: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, condition), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, condition), 0.2))
        return x + dx


def _condition_head(in_channels: int, prior_nc: int) -> nn.Sequential:
    """3×3 convs in → 4p → 2p → p channels at full resolution, LeakyReLU 0.1 between."""
    return nn.Sequential(conv(in_channels, prior_nc * 4, 3, 1), nn.LeakyReLU(0.1, True),
                         conv(prior_nc * 4, prior_nc * 2, 3, 1), nn.LeakyReLU(0.1, True),
                         conv(prior_nc * 2, prior_nc, 3, 1))


def _condition_step(prior_nc: int, up: bool = False) -> nn.Sequential:
    """A 3×3 stride-2 conv (or transposed conv), LeakyReLU 0.1, a 1×1 conv."""
    first = up_conv(prior_nc, prior_nc, 3) if up else conv(prior_nc, prior_nc, 3)
    return nn.Sequential(first, nn.LeakyReLU(0.1, True), conv(prior_nc, prior_nc, 1, 1))


class SpatiallyAdaptiveCompression(CompressionModel):
    """The model; ``N`` = ``M`` (divisible by 4), ``prior_nc`` and ``sft_ks`` as the authors',
    ``sft_hidden`` their fixed 128 by default (smaller for demo models). The authors' constructor
    also takes N ≠ M, but their synthesis then fails: its condition network reads N + N/4
    channels where it is given M + N/4."""

    def __init__(self, N: int = 192, M: int = 192, sft_ks: int = 3, prior_nc: int = PRIOR_NC,
                 sft_hidden: int = SFT_HIDDEN) -> None:
        super().__init__()
        if N % 4 or N != M:
            # the authors' g_s condition reads N + N/4 channels of [f_c(z_hat), y_hat]: M = N
            raise ValueError(f"N={N}, M={M}: the model needs N = M, divisible by 4")
        self.N, self.M = int(N), int(M)
        sft = lambda channels: SFT(channels, prior_nc, sft_ks, sft_hidden)  # noqa: E731
        block = lambda channels: SFTResblk(channels, prior_nc, sft_ks, sft_hidden)  # noqa: E731

        self.entropy_bottleneck = EntropyBottleneck(N)
        self.gaussian_conditional = GaussianConditional(None)

        # conditions: g_a,c (map + image), h_a,c (map + y), f_c and g_s,c (z_hat + y_hat)
        self.qmap_feature_g1 = _condition_head(4, prior_nc)
        for k in range(2, 6):
            setattr(self, f"qmap_feature_g{k}", _condition_step(prior_nc))
        self.qmap_feature_h1 = _condition_head(M + 1, prior_nc)
        for k in range(2, 4):
            setattr(self, f"qmap_feature_h{k}", _condition_step(prior_nc))
        self.qmap_feature_gs0 = nn.Sequential(up_conv(N, N // 2, 3), nn.LeakyReLU(0.1, True),
                                              up_conv(N // 2, N // 4), nn.LeakyReLU(0.1, True),
                                              conv(N // 4, N // 4, 3, 1))
        self.qmap_feature_gs1 = _condition_head(N + N // 4, prior_nc)
        for k in range(2, 6):
            setattr(self, f"qmap_feature_gs{k}", _condition_step(prior_nc, up=True))

        # g_a: (conv, GDN, SFT) × 4 at N/4, N/2, N, N channels, then conv to M and two SFT blocks
        widths = (N // 4, N // 2, N, N)
        previous = 3
        for i, width in enumerate(widths):
            stride_one = i == 0
            setattr(self, f"g_a{3 * i}", analysis_conv(previous, width, 5, 1 if stride_one else 2))
            setattr(self, f"g_a{3 * i + 1}", GDN1(width))
            setattr(self, f"g_a{3 * i + 2}", sft(width))
            previous = width
        self.g_a12 = analysis_conv(N, M)
        self.g_a13 = block(M)
        self.g_a14 = block(M)

        # h_a: (conv, SFT, LeakyReLU) × 2, conv, two SFT blocks
        self.h_a0 = analysis_conv(M, N, 3, 1)
        self.h_a1 = sft(N)
        self.h_a2 = nn.LeakyReLU(inplace=True)
        self.h_a3 = analysis_conv(N, N)
        self.h_a4 = sft(N)
        self.h_a5 = nn.LeakyReLU(inplace=True)
        self.h_a6 = analysis_conv(N, N)
        self.h_a7 = block(N)
        self.h_a8 = block(N)

        # g_s: two SFT blocks, (upconv, IGDN, SFT) × 4 to N, N, N/2, N/4 channels, conv to RGB
        self.g_s0 = block(M)
        self.g_s1 = block(M)
        previous = M
        for i, width in enumerate((N, N, N // 2, N // 4)):
            setattr(self, f"g_s{3 * i + 2}", up_conv(previous, width))
            setattr(self, f"g_s{3 * i + 3}", GDN1(width, inverse=True))
            setattr(self, f"g_s{3 * i + 4}", sft(width))
            previous = width
        self.g_s14 = analysis_conv(N // 4, 3, 5, 1)

        # h_s: z_hat → (scales, means) of y
        self.h_s = nn.Sequential(up_conv(N, M), nn.LeakyReLU(inplace=True),
                                 up_conv(M, M * 3 // 2), nn.LeakyReLU(inplace=True),
                                 conv(M * 3 // 2, M * 2, 3, 1))

    # -- transforms ---------------------------------------------------------------------
    def g_a(self, x: torch.Tensor, qmap: torch.Tensor) -> torch.Tensor:
        condition = self.qmap_feature_g1(torch.cat([qmap, x], dim=1))
        for i in range(4):
            if i:
                condition = getattr(self, f"qmap_feature_g{i + 1}")(condition)
            x = getattr(self, f"g_a{3 * i}")(x)
            x = getattr(self, f"g_a{3 * i + 1}")(x)
            x = getattr(self, f"g_a{3 * i + 2}")(x, condition)
        condition = self.qmap_feature_g5(condition)
        x = self.g_a12(x)
        return self.g_a14(self.g_a13(x, condition), condition)

    def h_a(self, y: torch.Tensor, qmap: torch.Tensor) -> torch.Tensor:
        condition = self.qmap_feature_h1(torch.cat([F.adaptive_avg_pool2d(qmap, y.shape[2:]), y], dim=1))
        x = self.h_a2(self.h_a1(self.h_a0(y), condition))
        condition = self.qmap_feature_h2(condition)
        x = self.h_a5(self.h_a4(self.h_a3(x), condition))
        condition = self.qmap_feature_h3(condition)
        x = self.h_a6(x)
        return self.h_a8(self.h_a7(x, condition), condition)

    def g_s(self, y_hat: torch.Tensor, z_hat: torch.Tensor) -> torch.Tensor:
        condition = self.qmap_feature_gs1(torch.cat([self.qmap_feature_gs0(z_hat), y_hat], dim=1))
        x = self.g_s1(self.g_s0(y_hat, condition), condition)
        for i in range(4):
            condition = getattr(self, f"qmap_feature_gs{i + 2}")(condition)
            x = getattr(self, f"g_s{3 * i + 2}")(x)
            x = getattr(self, f"g_s{3 * i + 3}")(x)
            x = getattr(self, f"g_s{3 * i + 4}")(x, condition)
        return self.g_s14(x)

    def gaussian_parameters(self, z_hat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scales, means = self.h_s(z_hat).chunk(2, 1)
        return scales, means

    # -- training and coding ------------------------------------------------------------
    def forward(self, x: torch.Tensor, qmap: torch.Tensor) -> dict:
        y = self.g_a(x, qmap)
        z = self.h_a(y, qmap)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        scales, means = self.gaussian_parameters(z_hat)
        y_hat, y_likelihoods = self.gaussian_conditional(y, scales, means=means)
        return {"x_hat": self.g_s(y_hat, z_hat), "likelihoods": {"y": y_likelihoods, "z": z_likelihoods}}

    def compress(self, x: torch.Tensor, qmap: torch.Tensor) -> dict:
        """The authors' ``compress``: z coded with the factorised prior, y with Gaussians whose
        scales (as CDF-table indexes) and means come from h_s(z_hat). h_s and the indexes run on
        one torch thread, so the decoder finds the same ones at any thread count."""
        y = self.g_a(x, qmap)
        z = self.h_a(y, qmap)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        with one_torch_thread():
            scales, means = self.gaussian_parameters(z_hat)
            indexes = self.gaussian_conditional.build_indexes(scales)
        y_strings = self.gaussian_conditional.compress(y, indexes, means=means)
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:]}

    def decompress_latents(self, strings: list, shape: torch.Size) -> tuple[torch.Tensor, torch.Tensor]:
        """(y_hat, z_hat) from the strings: the entropy-decoded latents."""
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        with one_torch_thread():
            scales, means = self.gaussian_parameters(z_hat)
            indexes = self.gaussian_conditional.build_indexes(scales)
            y_hat = self.gaussian_conditional.decompress(strings[0], indexes, means=means)
        return y_hat, z_hat

    def decompress(self, strings: list, shape: torch.Size) -> dict:
        y_hat, z_hat = self.decompress_latents(strings, shape)
        return {"x_hat": self.g_s(y_hat, z_hat).clamp_(0, 1)}

    # -- building from weights ----------------------------------------------------------
    @classmethod
    def config_from_state_dict(cls, state_dict: dict) -> dict:
        """Constructor arguments read off the weights' shapes (N, M, prior_nc, SFT kernel and width)."""
        shared = state_dict["g_a2.mlp_shared.0.weight"]
        return {
            "N": state_dict["h_a0.weight"].size(0),
            "M": state_dict["g_a12.weight"].size(0),
            "prior_nc": state_dict["qmap_feature_g1.4.weight"].size(0),
            "sft_ks": shared.size(-1),
            "sft_hidden": shared.size(0),
        }

    @classmethod
    def from_state_dict(cls, state_dict: dict) -> "SpatiallyAdaptiveCompression":
        net = cls(**cls.config_from_state_dict(state_dict))
        net.load_state_dict(state_dict)
        return net


def uniform_map(level: float, height: int, width: int) -> torch.Tensor:
    """A 1×1×height×width map of one quality level (the authors' uniform test maps)."""
    if not 0.0 <= level <= 1.0 or math.isnan(level):
        raise ValueError(f"quality level must be in [0, 1], got {level}")
    return torch.full((1, 1, height, width), float(level))
