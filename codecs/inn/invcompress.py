"""InvCompress (Xie, Cheng & Chen, ACM MM 2021): enhanced invertible encoding for compression.

x → feature enhancement → 4 × (squeeze, invertible 1×1 conv, 3 affine couplings) → channel
squeeze (group mean to M) → attention → y, coded with the Cheng-2020-anchor hyperprior and
masked-convolution context model; decoding runs the same INN backwards. Module and parameter
names match the authors' public code so their checkpoints load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
import torch.nn as nn
import torch.nn.functional as F
from compressai.ans import BufferedRansEncoder, RansDecoder
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


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run the block on one intra-op thread, then restore the caller's count.

    The context model's serial loop runs a few tiny operations per latent position (a 5×5
    convolution on one patch, three 1×1 convolutions on one pixel): splitting those over threads
    costs more in fork/join than it saves, and on a busy machine each parallel region can wait
    for a descheduled thread. The hyper-synthesis h_s runs here too: with every operation that
    feeds the Gaussians' scales and means on one thread, their bits, and so the scale indexes
    the range coder uses, are the same whatever thread count the caller runs at.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class ContextCoder:
    """One image's serial context-model loop, with everything that does not depend on the
    position prepared once.

    It computes what CompressAI's ``_compress_ar``/``_decompress_ar`` compute, with the same
    floating-point operations on the same operands (so the same bits), but without their
    per-position overheads: the Gaussian's scale index is one ``searchsorted`` instead of a
    Python loop over the 64-entry scale table; symbols are collected in tensors and converted
    once; and the rANS decoder receives only the CDF rows the position's indexes use, each cut
    to its length, since pybind11 copies every table it is handed (in CompressAI's loop the
    whole padded table, 64 × 3133 integers for the demo models, at every position).
    """

    def __init__(self, model: nn.Module, params: torch.Tensor, kernel: int, masked: bool) -> None:
        conditional = model.gaussian_conditional
        self.kernel, self.padding = kernel, (kernel - 1) // 2
        self.params = params
        context = model.context_prediction
        # As CompressAI: the encoder multiplies in the mask, the decoder relies on the zeros of
        # not-yet-decoded positions; both give the same products (0) at masked taps.
        self.weight = context.weight * context.mask if masked else context.weight
        self.bias = context.bias
        self.entropy_parameters = model.entropy_parameters
        self.lower_bound = conditional.lower_bound_scale
        table = conditional.scale_table[:-1]
        self.table = table.contiguous() if bool((table[1:] >= table[:-1]).all()) else None
        self.build_indexes = conditional.build_indexes
        self.cdf_lengths = conditional.cdf_length.tolist()
        # Rows cut to their lengths: the coder reads no further, and the padded table is 10×
        # larger than its rows (every row padded to the widest Gaussian's).
        self.cdf = [row[:length] for row, length in zip(conditional.quantized_cdf.tolist(), self.cdf_lengths)]
        self.offsets = conditional.offset.tolist()

    def gaussian(self, y_hat: torch.Tensor, h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(scales, means), each of shape (M,), at latent position (h, w) of the padded ŷ."""
        crop = y_hat[:, :, h:h + self.kernel, w:w + self.kernel]
        context = F.conv2d(crop, self.weight, bias=self.bias)
        gaussian = self.entropy_parameters(torch.cat((self.params[:, :, h:h + 1, w:w + 1], context), dim=1))
        scales, means = gaussian.chunk(2, 1)
        return scales.flatten(), means.flatten()

    def indexes(self, scales: torch.Tensor) -> torch.Tensor:
        """CompressAI's ``build_indexes``: the number of table scales (last excluded) below the
        bounded scale, counted by binary search in the sorted table."""
        if self.table is None:
            return self.build_indexes(scales)
        return torch.searchsorted(self.table, self.lower_bound(scales))

    def encode(self, y_hat: torch.Tensor, height: int, width: int) -> bytes:
        """Range-code the latent held (padded) in ``y_hat``, replacing it by ŷ = round(y − μ) + μ
        position by position, as the decoder will see it."""
        pad, channels = self.padding, y_hat.size(1)
        symbols = torch.empty((height * width, channels), dtype=y_hat.dtype, device=y_hat.device)
        indexes = torch.empty((height * width, channels), dtype=torch.int64, device=y_hat.device)
        for h in range(height):
            for w in range(width):
                scales, means = self.gaussian(y_hat, h, w)
                position = h * width + w
                indexes[position] = self.indexes(scales)
                rounded = torch.round(y_hat[0, :, h + pad, w + pad] - means)
                symbols[position] = rounded
                y_hat[0, :, h + pad, w + pad] = rounded + means
        encoder = BufferedRansEncoder()
        encoder.encode_with_indexes(symbols.int().flatten().tolist(), indexes.flatten().tolist(),
                                    self.cdf, self.cdf_lengths, self.offsets)
        return encoder.flush()

    def decode(self, string: bytes, y_hat: torch.Tensor, height: int, width: int) -> None:
        """Decode ``string`` into the zero-initialised padded ``y_hat``, position by position."""
        decoder = RansDecoder()
        decoder.set_stream(string)
        pad = self.padding
        for h in range(height):
            for w in range(width):
                scales, means = self.gaussian(y_hat, h, w)
                indexes = self.indexes(scales).tolist()
                rows = sorted(set(indexes))
                row_of = {index: row for row, index in enumerate(rows)}
                values = decoder.decode_stream([row_of[i] for i in indexes], [self.cdf[i] for i in rows],
                                               [self.cdf_lengths[i] for i in rows], [self.offsets[i] for i in rows])
                y_hat[0, :, h + pad, w + pad] = torch.tensor(values, dtype=means.dtype, device=means.device) + means


class LatentCodingMixin:
    """Range coding of y with the hyperprior + context model of CompressAI's joint AR prior.

    Produces exactly the bitstreams and reconstructions of CompressAI's ``_compress_ar`` /
    ``_decompress_ar`` (through ``ContextCoder``, which does the same arithmetic with less
    overhead), on a latent produced by the model's own analysis, so any INN front end gets the
    same entropy coder.
    """

    KERNEL, SCALE = 5, 4  # context-model kernel; spatial ratio between y and z

    def compress_latent(self, y: torch.Tensor) -> dict:
        with torch.inference_mode():
            z = self.h_a(y)
            z_strings = self.entropy_bottleneck.compress(z)
            z_hat = self.entropy_bottleneck.decompress(z_strings, z.size()[-2:])
            padding = (self.KERNEL - 1) // 2
            y_padded = F.pad(y, (padding,) * 4)
            height, width = z_hat.size(2) * self.SCALE, z_hat.size(3) * self.SCALE
            with one_torch_thread():
                params = self.h_s(z_hat)
                y_strings = [ContextCoder(self, params[i:i + 1], self.KERNEL, masked=True).encode(
                    y_padded[i:i + 1], height, width) for i in range(y.size(0))]
        # encode() wrote ŷ = round(y − μ) + μ into y_padded: the encoder's own reconstruction.
        return {"strings": [y_strings, z_strings], "shape": z.size()[-2:], "y_hat": F.pad(y_padded, (-padding,) * 4)}

    def decompress_latent(self, strings: list, shape: torch.Size) -> torch.Tensor:
        with torch.inference_mode():
            z_hat = self.entropy_bottleneck.decompress(strings[1], shape)
            padding = (self.KERNEL - 1) // 2
            height, width = z_hat.size(2) * self.SCALE, z_hat.size(3) * self.SCALE
            y_hat = torch.zeros((z_hat.size(0), self.M, height + 2 * padding, width + 2 * padding), device=z_hat.device)
            with one_torch_thread():
                params = self.h_s(z_hat)
                for i, y_string in enumerate(strings[0]):
                    ContextCoder(self, params[i:i + 1], self.KERNEL, masked=False).decode(
                        y_string, y_hat[i:i + 1], height, width)
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
