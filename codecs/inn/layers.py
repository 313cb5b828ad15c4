"""Invertible layers shared by the INN codecs, each with an exact inverse (``rev=True``).

Layer and parameter names follow the InvCompress authors' public code, so their checkpoints
load into these modules without key remapping.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from compressai.layers import AttentionBlock


def _scaled_init(modules: list[nn.Module], scale: float, xavier: bool) -> None:
    """Xavier/Kaiming init scaled down, so residual branches start near identity."""
    for module in modules:
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                (nn.init.xavier_normal_ if xavier else lambda w: nn.init.kaiming_normal_(w, a=0, mode="fan_in"))(m.weight)
                m.weight.data *= scale
                if m.bias is not None:
                    m.bias.data.zero_()


def squeeze2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Space-to-depth: (B, C, H, W) -> (B, f²C, H/f, W/f), channel order (dy, dx, c)."""
    b, c, h, w = x.shape
    x = x.view(b, c, h // factor, factor, w // factor, factor).permute(0, 3, 5, 1, 2, 4)
    return x.reshape(b, factor * factor * c, h // factor, w // factor)


def unsqueeze2d(x: torch.Tensor, factor: int = 2) -> torch.Tensor:
    """Inverse of ``squeeze2d``."""
    b, c, h, w = x.shape
    x = x.view(b, factor, factor, c // (factor * factor), h, w).permute(0, 3, 4, 1, 5, 2)
    return x.reshape(b, c // (factor * factor), h * factor, w * factor)


class SqueezeLayer(nn.Module):
    def __init__(self, factor: int = 2) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        return unsqueeze2d(x, self.factor) if rev else squeeze2d(x, self.factor)


class HaarDownsampling(nn.Module):
    """Orthonormal 2-D Haar transform per channel: (B, C, H, W) -> (B, 4C, H/2, W/2).

    Output channels are grouped by sub-band: [LL of all channels, HL..., LH..., HH...].
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        kernel = torch.tensor([[[1, 1], [1, 1]], [[1, -1], [1, -1]], [[1, 1], [-1, -1]], [[1, -1], [-1, 1]]],
                              dtype=torch.float32) / 2
        self.register_buffer("haar_weights", kernel[:, None].repeat(channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        weights = self.haar_weights.to(x.dtype)
        c = self.channels
        if not rev:
            out = F.conv2d(x, weights, stride=2, groups=c)  # (B, 4C) as c0b0 c0b1 c0b2 c0b3 c1b0 ...
            b, _, h, w = out.shape
            return out.view(b, c, 4, h, w).transpose(1, 2).reshape(b, 4 * c, h, w)
        b, _, h, w = x.shape
        x = x.view(b, 4, c, h, w).transpose(1, 2).reshape(b, 4 * c, h, w)
        return F.conv_transpose2d(x, weights, stride=2, groups=c)


class InvertibleConv1x1(nn.Module):
    """GLOW's invertible 1×1 convolution; the inverse uses the float64 matrix inverse."""

    def __init__(self, num_channels: int, identity_init: bool = False) -> None:
        super().__init__()
        init = torch.eye(num_channels) if identity_init else torch.linalg.qr(torch.randn(num_channels, num_channels))[0]
        self.weight = nn.Parameter(init.float())

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        weight = self.weight if not rev else torch.inverse(self.weight.double()).to(self.weight.dtype)
        return F.conv2d(x, weight.to(x.dtype)[:, :, None, None])


class Bottleneck(nn.Module):
    """Coupling subnetwork: conv k×k → LeakyReLU → conv 1×1 → LeakyReLU → conv k×k (zero-initialised)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, hidden: int | None = None) -> None:
        super().__init__()
        hidden = hidden or out_channels
        padding = (kernel_size - 1) // 2
        self.conv1 = nn.Conv2d(in_channels, hidden, kernel_size, padding=padding)
        self.conv2 = nn.Conv2d(hidden, hidden, 1)
        self.conv3 = nn.Conv2d(hidden, out_channels, kernel_size, padding=padding)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        _scaled_init([self.conv1, self.conv2], 0.1, xavier=True)
        _scaled_init([self.conv3], 0.0, xavier=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.lrelu(self.conv2(self.lrelu(self.conv1(x)))))


class CouplingLayer(nn.Module):
    """Affine coupling on a channel split (x1, x2), invertible whatever the subnetworks are.

    ``form="sigmoid"`` scales by exp(clamp·(2·sigmoid(s)−1)) (InvCompress); ``form="exp"`` by
    exp(clamp·s) (RealNVP, ILC).
    """

    def __init__(self, split_len1: int, split_len2: int, kernel_size: int, clamp: float = 1.0,
                 form: str = "sigmoid", hidden: int | None = None) -> None:
        super().__init__()
        if form not in ("sigmoid", "exp"):
            raise ValueError(f"coupling form must be 'sigmoid' or 'exp', got {form!r}")
        self.split_len1, self.split_len2, self.clamp, self.form = split_len1, split_len2, clamp, form
        self.G1 = Bottleneck(split_len1, split_len2, kernel_size, hidden)
        self.G2 = Bottleneck(split_len2, split_len1, kernel_size, hidden)
        self.H1 = Bottleneck(split_len1, split_len2, kernel_size, hidden)
        self.H2 = Bottleneck(split_len2, split_len1, kernel_size, hidden)

    def _scale(self, s: torch.Tensor) -> torch.Tensor:
        return torch.exp(self.clamp * (torch.sigmoid(s) * 2 - 1) if self.form == "sigmoid" else self.clamp * s)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        x1, x2 = x.narrow(1, 0, self.split_len1), x.narrow(1, self.split_len1, self.split_len2)
        if not rev:
            y1 = x1 * self._scale(self.G2(x2)) + self.H2(x2)
            y2 = x2 * self._scale(self.G1(y1)) + self.H1(y1)
        else:
            y2 = (x2 - self.H1(x1)) / self._scale(self.G1(x1))
            y1 = (x1 - self.H2(y2)) / self._scale(self.G2(y2))
        return torch.cat((y1, y2), 1)


class DenseBlock(nn.Module):
    """Five densely connected 3×3 convs (growth ``gc``), last one zero-initialised."""

    def __init__(self, channel_in: int, channel_out: int, gc: int = 32) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channel_in, gc, 3, 1, 1)
        self.conv2 = nn.Conv2d(channel_in + gc, gc, 3, 1, 1)
        self.conv3 = nn.Conv2d(channel_in + 2 * gc, gc, 3, 1, 1)
        self.conv4 = nn.Conv2d(channel_in + 3 * gc, gc, 3, 1, 1)
        self.conv5 = nn.Conv2d(channel_in + 4 * gc, channel_out, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        _scaled_init([self.conv1, self.conv2, self.conv3, self.conv4], 0.1, xavier=True)
        _scaled_init([self.conv5], 0.0, xavier=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():  # autograd needs each concatenation as a tensor of its own
            x1 = self.lrelu(self.conv1(x))
            x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
            x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
            x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
            return self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return self._forward_in_place(x)

    def _forward_in_place(self, x: torch.Tensor) -> torch.Tensor:
        """The same convolutions on the same values, each new feature map written once into one
        buffer whose leading channels are every concatenation: at full image size the four
        concatenations above copy 2.5× more memory than the convolutions' outputs (for a batch
        of one image a leading channel slice is contiguous, so nothing else is copied)."""
        channels_in, growth = self.conv1.in_channels, self.conv1.out_channels
        features = x.new_empty((x.size(0), channels_in + 4 * growth, *x.shape[2:]))
        features[:, :channels_in] = x
        for i, conv in enumerate((self.conv1, self.conv2, self.conv3, self.conv4)):
            start = channels_in + i * growth
            features[:, start:start + growth] = self.lrelu(conv(features[:, :start]))
        return self.conv5(features)


class EnhBlock(nn.Module):
    """Residual feature enhancement on the RGB image (not invertible: a separate one per direction)."""

    def __init__(self, nf: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            DenseBlock(3, nf), nn.Conv2d(nf, nf, 1), nn.Conv2d(nf, nf, 3, 1, 1), nn.Conv2d(nf, nf, 1), DenseBlock(nf, 3)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x) * 0.2


class EnhModule(nn.Module):
    """Feature enhancement: ``forw_enh`` before the INN, ``back_enh`` after its inverse."""

    def __init__(self, nf: int = 64) -> None:
        super().__init__()
        self.forw_enh = EnhBlock(nf)
        self.back_enh = EnhBlock(nf)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        return self.back_enh(x) if rev else self.forw_enh(x)


class AttModule(nn.Module):
    """Attention after the channel squeeze (``forw_att``) and before its inverse (``back_att``)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.forw_att = AttentionBlock(n)
        self.back_att = AttentionBlock(n)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        return self.back_att(x) if rev else self.forw_att(x)


def channel_squeeze(x: torch.Tensor, out_channels: int) -> torch.Tensor:
    """Average groups of channels down to ``out_channels`` (channel i keeps i, i+M, i+2M, ...)."""
    b, c, h, w = x.shape
    return x.view(b, c // out_channels, out_channels, h, w).mean(dim=1)


def channel_unsqueeze(x: torch.Tensor, in_channels: int) -> torch.Tensor:
    """The squeeze's right inverse: repeat the M channels back to ``in_channels``."""
    return x.repeat(1, in_channels // x.shape[1], 1, 1)


class IATModulation(nn.Module):
    """IAT (Cai et al. 2022): e = s·(1+γ(L)) + β(L), inverse s = (e − β(L)) / (1+γ(L)).

    Layout of the authors' public code (their class ``IAT(x_nc, prior_nc=1, ks=3, nhidden)``):
    the quality map L (``prior_channels`` channels) is resized to the feature size by adaptive
    average pooling, ``mlp_shared`` (k×k conv → LeakyReLU 0.2 → 1×1 conv → LeakyReLU 0.2) maps
    it to ``hidden`` channels (default 2 × ``channels``, as the authors), and ``mlp_gamma`` /
    ``mlp_beta`` (each k×k conv → LeakyReLU 0.2 → 1×1 conv) give γ and β. γ is unbounded, as
    in the authors' code: the transform is invertible wherever 1+γ ≠ 0.

    ``identity_init`` zeroes the last conv of ``mlp_gamma`` and ``mlp_beta`` so the module
    starts as the identity (the authors keep PyTorch's default initialisation).
    """

    def __init__(self, channels: int, hidden: int | None = None, prior_channels: int = 1, kernel_size: int = 3,
                 identity_init: bool = True) -> None:
        super().__init__()
        hidden = hidden or 2 * channels
        padding = kernel_size // 2
        self.mlp_shared = nn.Sequential(
            nn.Conv2d(prior_channels, hidden, kernel_size, padding=padding), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(hidden, hidden, 1), nn.LeakyReLU(0.2, inplace=True),
        )
        self.mlp_gamma = nn.Sequential(
            nn.Conv2d(hidden, channels, kernel_size, padding=padding), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, channels, 1),
        )
        self.mlp_beta = nn.Sequential(
            nn.Conv2d(hidden, channels, kernel_size, padding=padding), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(channels, channels, 1),
        )
        if identity_init:
            for net in (self.mlp_gamma, self.mlp_beta):
                nn.init.zeros_(net[2].weight)
                nn.init.zeros_(net[2].bias)

    def parameters_for(self, level: torch.Tensor, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        """(γ, β) for a quality map ``level`` (B×P×h×w, any h×w) at feature size ``size``."""
        shared = self.mlp_shared(F.adaptive_avg_pool2d(level, size))
        return self.mlp_gamma(shared), self.mlp_beta(shared)

    def forward(self, x: torch.Tensor, level: torch.Tensor, rev: bool = False) -> torch.Tensor:
        gamma, beta = self.parameters_for(level.to(x.dtype), tuple(x.shape[-2:]))
        return (x - beta) / (1 + gamma) if rev else x * (1 + gamma) + beta
