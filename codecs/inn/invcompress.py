"""InvCompress (Xie, Cheng & Chen, ACM MM 2021): enhanced invertible encoding for compression.

x → feature enhancement → 4 × (squeeze, invertible 1×1 conv, 3 affine couplings) → channel
squeeze (group mean to M) → attention → y, coded with the Cheng-2020-anchor hyperprior and
masked-convolution context model; decoding runs the same INN backwards. Module and parameter
names match the authors' public code so their checkpoints load unchanged.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from compressai.models import Cheng2020Anchor

from bench_codecs.inn.layers import (
    AttModule, CouplingLayer, EnhModule, InvertibleConv1x1, SqueezeLayer, channel_squeeze, channel_unsqueeze,
)

#: Coupling kernel size at each of the four INN levels (paper, Sec. 3).
LEVEL_KERNELS = (5, 5, 3, 3)
COUPLINGS_PER_LEVEL = 3


class InvComp(nn.Module):
    """The invertible part: 4 levels of squeeze + 1×1 conv + 3 couplings, then the channel squeeze."""

    def __init__(self, M: int, coupling_hidden: int | None = None) -> None:
        super().__init__()
        self.in_nc, self.out_nc = 3, M
        self.operations = nn.ModuleList()
        for kernel in LEVEL_KERNELS:
            self.operations.append(SqueezeLayer(2))
            self.in_nc *= 4
            self.operations.append(InvertibleConv1x1(self.in_nc))
            for _ in range(COUPLINGS_PER_LEVEL):
                self.operations.append(CouplingLayer(self.in_nc // 4, 3 * self.in_nc // 4, kernel, hidden=coupling_hidden))
        if self.in_nc % M:
            raise ValueError(f"M={M} must divide the INN's {self.in_nc} output channels")

    #: Index in ``operations`` after which each level ends.
    @property
    def level_ends(self) -> list[int]:
        per_level = 2 + COUPLINGS_PER_LEVEL
        return [per_level * (i + 1) - 1 for i in range(len(LEVEL_KERNELS))]

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        if not rev:
            for op in self.operations:
                x = op(x, False)
            return channel_squeeze(x, self.out_nc)
        x = channel_unsqueeze(x, self.in_nc)
        for op in reversed(self.operations):
            x = op(x, True)
        return x


class LatentCodingMixin:
    """Range coding of y with the hyperprior + context model of CompressAI's joint AR prior.

    Reuses CompressAI's ``_compress_ar``/``_decompress_ar`` on a latent produced by the model's
    own analysis, so any INN front end gets the same entropy coder.
    """

    KERNEL, SCALE = 5, 4  # context-model kernel; spatial ratio between y and z

    def compress_latent(self, y: torch.Tensor) -> dict:
        z = self.h_a(y)
        z_strings = self.entropy_bottleneck.compress(z)
        z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
        params = self.h_s(z_hat)
        padding = (self.KERNEL - 1) // 2
        y_padded = F.pad(y, (padding,) * 4)
        height, width = z_hat.size(2) * self.SCALE, z_hat.size(3) * self.SCALE
        y_strings = [self._compress_ar(y_padded[i:i + 1], params[i:i + 1], height, width, self.KERNEL, padding)
                     for i in range(y.size(0))]
        # _compress_ar writes ŷ = round(y − μ) + μ into y_padded: the encoder's own reconstruction.
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:], "y_hat": F.pad(y_padded, (-padding,) * 4)}

    def decompress_latent(self, strings: list, shape: torch.Size) -> torch.Tensor:
        z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
        params = self.h_s(z_hat)
        padding = (self.KERNEL - 1) // 2
        height, width = z_hat.size(2) * self.SCALE, z_hat.size(3) * self.SCALE
        y_hat = torch.zeros((z_hat.size(0), self.M, height + 2 * padding, width + 2 * padding), device=z_hat.device)
        for i, y_string in enumerate(strings[0]):
            self._decompress_ar(y_string, y_hat[i:i + 1], params[i:i + 1], height, width, self.KERNEL, padding)
        return F.pad(y_hat, (-padding,) * 4)

    def entropy_forward(self, y: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """Training/eval pass of the entropy model: (ŷ, likelihoods of y and z)."""
        z = self.h_a(y)
        z_hat, z_likelihoods = self.entropy_bottleneck(z)
        params = self.h_s(z_hat)
        y_hat = self.gaussian_conditional.quantize(y, "noise" if self.training else "dequantize")
        ctx_params = self.context_prediction(y_hat)
        scales_hat, means_hat = self.entropy_parameters(torch.cat((params, ctx_params), dim=1)).chunk(2, 1)
        _, y_likelihoods = self.gaussian_conditional(y, scales_hat, means=means_hat)
        return y_hat, {"y": y_likelihoods, "z": z_likelihoods}


class InvCompress(LatentCodingMixin, Cheng2020Anchor):
    """The full model. ``N`` sets the hyperprior width and the latent channels (M = N).

    ``enh_channels`` and ``coupling_hidden`` (the coupling subnetworks' inner width; None = the
    paper's, equal to their output width) exist for small demo configurations: the layout and
    every parameter name stay those of the paper's model.
    """

    def __init__(self, N: int = 192, enh_channels: int = 64, coupling_hidden: int | None = None, **kwargs) -> None:
        super().__init__(N=N)
        self.g_a = None
        self.g_s = None
        self.enh = EnhModule(enh_channels)
        self.inv = InvComp(M=N, coupling_hidden=coupling_hidden)
        self.attention = AttModule(N)

    def analysis(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(self.inv(self.enh(x)))

    def synthesis(self, y_hat: torch.Tensor) -> torch.Tensor:
        return self.enh(self.inv(self.attention(y_hat, rev=True), rev=True), rev=True)

    def forward(self, x: torch.Tensor) -> dict:
        y_hat, likelihoods = self.entropy_forward(self.analysis(x))
        return {"x_hat": self.synthesis(y_hat), "likelihoods": likelihoods}

    def compress(self, x: torch.Tensor) -> dict:
        return self.compress_latent(self.analysis(x))

    def decompress(self, strings: list, shape: torch.Size) -> dict:
        return {"x_hat": self.synthesis(self.decompress_latent(strings, shape)).clamp_(0, 1)}

    @classmethod
    def config_from_state_dict(cls, state_dict: dict) -> dict:
        """Constructor arguments read off the weights' shapes (N, enhancement and coupling widths)."""
        last = f"inv.operations.{len(LEVEL_KERNELS) * (2 + COUPLINGS_PER_LEVEL) - 1}"
        hidden = state_dict[f"{last}.G1.conv1.weight"].size(0)
        return {
            "N": state_dict["h_a.0.weight"].size(0),
            "enh_channels": state_dict["enh.forw_enh.layers.1.weight"].size(0),
            "coupling_hidden": None if hidden == state_dict[f"{last}.G1.conv3.weight"].size(0) else hidden,
        }

    @classmethod
    def from_state_dict(cls, state_dict: dict) -> "InvCompress":
        """Build with the configuration read from the weights, then load them (CDF buffers resized)."""
        net = cls(**cls.config_from_state_dict(state_dict))
        net.load_state_dict(state_dict)
        return net
