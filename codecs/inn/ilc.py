"""ILC, Invertible Lossy Compression (Wang et al. 2020), on the shared invertible layers.

Invertible encoding module (IEM), as read from the paper (Sec. III-A, Fig. 2, Table I):

* two Haar downsamplings take the RGB image to 48 channels at 1/4 size (Table I's first
  scale: 48 input channels at 64×64 for 256×256 crops); ``haar`` chooses the orthonormal
  transform or the paper's averaging one (``HAAR_FORMS``, docs/inn-ilc-probdec.md compares them);
* three scales, each: [Haar downsampling, except at the first scale] → 1×1 invertible
  convolution initialised to the identity → ``blocks`` affine couplings (eq. (1)) whose
  ψ, φ, ρ, η are the bottleneck subnetwork (k×k conv → 1×1 conv → k×k conv), channels split
  1:2. The clamp α = 1 bounds the log-scale as in the invertible-rescaling code of Xiao et al.
  (scale exp(α·(2·sigmoid(s) − 1))); the unbounded exp(α·s) diverged in training here.
  Table I: 48/192/768 channels, widths 128/256/1024, kernels 5/3/3;
* the 768 output channels at 1/16 size split 1:2 into the coded y (256 channels, the width of
  a Ballé 2017 latent with 256 filters) and the lost information z (512 channels), z modelled
  as a standard Gaussian and never stored.

y is quantised (rounded around the entropy model's medians) and coded with CompressAI's
``EntropyBottleneck`` (the factorised prior of Ballé et al.). The decoder inverts the IEM on
(ŷ, z) with z the mode (zeros), as the paper evaluates, or a sample of N(0, T²) at a
temperature T drawn from a seeded generator.

The teacher (Ballé 2017: CompressAI's ``FactorizedPrior`` analysis transform, 256 filters by
default) and the loss of eq. (7) are used in training only (``bench_codecs.inn.train_stochastic``);
the teacher is not part of the codec's weights.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn as nn
from compressai.entropy_models import EntropyBottleneck
from compressai.models import CompressionModel, FactorizedPrior

from bench_codecs.inn.layers import CouplingLayer, HaarDownsampling, InvertibleConv1x1

#: Paper Table I: coupling subnetwork width and kernel per scale.
PAPER_WIDTHS = (128, 256, 1024)
PAPER_KERNELS = (5, 3, 3)
#: Total downsampling of the IEM: four Haar levels.
STRIDE = 16


def ste_round(x: torch.Tensor) -> torch.Tensor:
    """Rounding with the straight-through estimator (identity gradient)."""
    return x + (torch.round(x) - x).detach()


#: Haar normalisations: ``orthonormal`` (LL = sum of a 2×2 block / 2, volume-preserving) or
#: ``average`` (LL = mean of the block, "equivalent to average pooling" as §III-A says, the ÷4
#: of the invertible-rescaling code the paper builds on).
HAAR_FORMS = ("orthonormal", "average")


class AveragingHaar(HaarDownsampling):
    """The Haar transform of Xiao et al.'s invertible rescaling network: the orthonormal one
    halved, so the LL band is the 2×2 average (÷4) and the inverse doubles before inverting."""

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        return super().forward(2 * x, rev=True) if rev else super().forward(x) / 2


class IEMScale(nn.Module):
    """One scale: Haar downsampling(s), identity-initialised 1×1 conv, affine couplings."""

    def __init__(self, in_channels: int, haar_levels: int, width: int, kernel: int, blocks: int,
                 clamp: float = 1.0, form: str = "sigmoid", haar: str = "orthonormal") -> None:
        super().__init__()
        haars, channels = [], in_channels
        haar_class = AveragingHaar if haar == "average" else HaarDownsampling
        for _ in range(haar_levels):
            haars.append(haar_class(channels))
            channels *= 4
        self.haar = nn.ModuleList(haars)
        self.channels = channels
        self.conv1x1 = InvertibleConv1x1(channels, identity_init=True)
        low = channels // 3
        self.couplings = nn.ModuleList(
            CouplingLayer(low, channels - low, kernel, clamp=clamp, form=form, hidden=width) for _ in range(blocks)
        )

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        if not rev:
            for haar in self.haar:
                x = haar(x)
            x = self.conv1x1(x)
            for coupling in self.couplings:
                x = coupling(x)
            return x
        for coupling in reversed(self.couplings):
            x = coupling(x, rev=True)
        x = self.conv1x1(x, rev=True)
        for haar in reversed(self.haar):
            x = haar(x, rev=True)
        return x


class ILC(CompressionModel):
    """IEM + factorised prior on y; z ~ N(0, I) is dropped by the encoder."""

    def __init__(self, widths: tuple[int, ...] = PAPER_WIDTHS, kernels: tuple[int, ...] = PAPER_KERNELS,
                 blocks: int = 2, clamp: float = 1.0, form: str = "sigmoid", haar: str = "orthonormal") -> None:
        super().__init__()
        if len(widths) != 3 or len(kernels) != 3:
            raise ValueError("ILC has three scales: give three widths and three kernels")
        if haar not in HAAR_FORMS:
            raise ValueError(f"haar must be one of {HAAR_FORMS}, got {haar!r}")
        if haar == "average":
            # Marks the checkpoint (config_from_state_dict); orthonormal models keep the layout
            # they always had, so their checkpoints load unchanged.
            self.register_buffer("haar_average", torch.ones(()))
        scales, channels = [], 3
        for i, (width, kernel) in enumerate(zip(widths, kernels)):
            scale = IEMScale(channels, 2 if i == 0 else 1, int(width), int(kernel), int(blocks), clamp, form, haar)
            scales.append(scale)
            channels = scale.channels
        self.scales = nn.ModuleList(scales)
        self.channels = channels  # 768
        self.y_channels = channels // 3  # 256
        self.entropy_bottleneck = EntropyBottleneck(self.y_channels)

    # -- the invertible encoding module ------------------------------------------------
    def iem(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        for scale in (reversed(self.scales) if rev else self.scales):
            x = scale(x, rev=rev)
        return x

    def split(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return h[:, :self.y_channels], h[:, self.y_channels:]

    def _medians(self) -> torch.Tensor:
        return self.entropy_bottleneck._get_medians().detach().reshape(1, -1, 1, 1)

    def quantize(self, y: torch.Tensor) -> torch.Tensor:
        """ŷ as the range coder sees it: rounded around the medians, straight-through gradient."""
        medians = self._medians().to(y.dtype)
        return ste_round(y - medians) + medians

    @staticmethod
    def draw_z(shape: tuple[int, ...], mode: str, temperature: float, seed: int, like: torch.Tensor) -> torch.Tensor:
        if mode == "mode":
            return torch.zeros(shape, dtype=like.dtype, device=like.device)
        if mode != "sample":
            raise ValueError(f"z must be 'mode' or 'sample', got {mode!r}")
        generator = torch.Generator(device="cpu").manual_seed(int(seed))
        noise = torch.randn(shape, generator=generator, dtype=torch.float64)
        return (float(temperature) * noise).to(dtype=like.dtype, device=like.device)

    def reconstruct(self, y_hat: torch.Tensor, z: str = "mode", temperature: float = 1.0, seed: int = 0) -> torch.Tensor:
        b, _, h, w = y_hat.shape
        z_value = self.draw_z((b, self.channels - self.y_channels, h, w), z, temperature, seed, y_hat)
        return self.iem(torch.cat((y_hat, z_value), 1), rev=True)

    # -- training -----------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> dict:
        y, z = self.split(self.iem(x))
        _, likelihoods = self.entropy_bottleneck(y)  # additive uniform noise in training (eq. 3)
        y_hat = self.quantize(y)  # eq. (4): ŷ with the straight-through estimator, z at its mode
        x_hat = self.iem(torch.cat((y_hat, torch.zeros_like(z)), 1), rev=True)
        return {"x_hat": x_hat, "likelihoods": {"y": likelihoods}, "y": y, "z": z}

    # -- coding -------------------------------------------------------------------------
    def compress(self, x: torch.Tensor) -> dict:
        y, _ = self.split(self.iem(x))
        return {"strings": [self.entropy_bottleneck.compress(y)], "shape": tuple(y.shape[-2:])}

    def decompress(self, strings: list, shape: tuple[int, int], z: str = "mode", temperature: float = 1.0,
                   seed: int = 0) -> dict:
        y_hat = self.entropy_bottleneck.decompress(strings[0], torch.Size(shape))
        return {"x_hat": self.reconstruct(y_hat, z, temperature, seed)}

    @classmethod
    def config_from_state_dict(cls, state: dict) -> dict:
        widths, kernels = [], []
        for i in range(3):
            weight = state[f"scales.{i}.couplings.0.G1.conv1.weight"]
            widths.append(int(weight.shape[0]))
            kernels.append(int(weight.shape[-1]))
        blocks = 1 + max(int(m.group(1)) for k in state if (m := re.match(r"scales\.0\.couplings\.(\d+)\.", k)))
        return {"widths": tuple(widths), "kernels": tuple(kernels), "blocks": blocks,
                "haar": "average" if "haar_average" in state else "orthonormal"}


def teacher(filters: int = 256, latent: int = 256) -> FactorizedPrior:
    """The baseline of Ballé et al. 2017 (CompressAI's factorised-prior model): g_a, g_s, prior."""
    return FactorizedPrior(N=filters, M=latent)


def ilc_loss(model: ILC, x: torch.Tensor, teacher_model: nn.Module | None, lambdas: tuple[float, float, float, float]
             ) -> dict[str, torch.Tensor]:
    """Eq. (7): λ1·distortion + λ2·rate + λ3·distribution matching + λ4·distillation.

    Normalisation used here: distortion = 255²·MSE(x̂, x) with ŷ straight-through and z = 0
    (eq. 4, "the most-likely sample"); rate = bits per pixel of the noisy y (eq. 3);
    distribution = mean over z of −log N(z; 0, I) minus its constant, i.e. mean z²/2 (eq. 5);
    distillation = mean squared difference between y and the teacher's g_a(x) (eq. 6).
    """
    l1, l2, l3, l4 = lambdas
    out = model(x)
    pixels = x.shape[0] * x.shape[2] * x.shape[3]
    bpp = torch.log(out["likelihoods"]["y"]).sum() / (-math.log(2) * pixels)
    mse = ((out["x_hat"] - x) ** 2).mean()
    distribution = 0.5 * (out["z"] ** 2).mean()
    if teacher_model is not None and l4:
        with torch.no_grad():
            target = teacher_model.g_a(x)
        distillation = ((out["y"] - target) ** 2).mean()
    else:
        distillation = torch.zeros((), device=x.device)
    loss = l1 * 255**2 * mse + l2 * bpp + l3 * distribution + l4 * distillation
    return {"loss": loss, "bpp": bpp, "mse": mse, "distribution": distribution, "distillation": distillation}
