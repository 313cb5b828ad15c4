"""Portable learned bitstreams: the same bytes at any torch thread count, decodable at any other,
headers checked before anything is allocated, and a run's determinism check that decodes at a
second thread count."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from PIL import Image

from bench.codec import make_codec
from bench.errors import CodecFailure
from bench.execute.worker import Settings, decode_checked

THREADS = (1, 2, 4)
LEARNED = [("probdec", 1.0), ("ilc", 1.0), ("invcompress", 1.0), ("iat", 0.5), ("qmap", 0.5)]
#: Offsets of the (height, width) and latent (height, width) uint16 pairs, the same in the
#: header of ``coding.Bitstream`` and of ProbDec's format.
IMAGE_SIZE, LATENT_SIZE = 2, 6


@pytest.fixture(scope="module")
def crop(kodak_module_dir) -> np.ndarray:
    """64×96 pixels of kodim01: textured enough for every context model, small enough to be fast."""
    return np.asarray(Image.open(kodak_module_dir / "kodim01.png").convert("RGB"))[200:264, 300:396].copy()


@pytest.fixture(scope="module")
def codecs() -> dict:
    """One instance per codec for the module: each loads its model once."""
    return {name: make_codec(name) for name, _ in LEARNED}


def at_threads(threads: int, function, *args):
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return function(*args)
    finally:
        torch.set_num_threads(before)


@pytest.fixture
def entropy_decoded(monkeypatch) -> list[torch.Tensor]:
    """Every tensor the codecs' entropy decoders return (symbols, or symbols plus their means)."""
    from compressai.entropy_models import EntropyBottleneck, GaussianConditional

    from bench_codecs.inn import invcompress, probdec

    seen: list[torch.Tensor] = []

    def recorded(cls, method, keep=lambda args: True):
        original = getattr(cls, method)

        def wrapper(*args, **kwargs):
            out = original(*args, **kwargs)
            if keep(args):
                seen.append(out.detach().clone())
            return out

        monkeypatch.setattr(cls, method, wrapper)

    recorded(probdec.GroupCoder, "run", keep=lambda args: args[2] is None)  # decoding: no symbols given
    recorded(invcompress.LatentCodingMixin, "decompress_latent")
    recorded(GaussianConditional, "decompress")  # Qmap's y (its z: the EntropyBottleneck below)
    recorded(EntropyBottleneck, "decompress")
    return seen


@pytest.mark.parametrize("name, rate", LEARNED)
def test_bytes_do_not_depend_on_the_thread_count_and_decode_at_any_other(name, rate, crop, codecs, entropy_decoded):
    codec = codecs[name]
    streams = {t: at_threads(t, codec.encode, crop, rate) for t in THREADS}
    assert streams[1] == streams[2] == streams[4]
    decoded = {}
    for t in THREADS:
        entropy_decoded.clear()
        image = at_threads(t, codec.decode, streams[t])
        decoded[t] = image.astype(int), list(entropy_decoded)
    image_1, symbols_1 = decoded[1]
    assert symbols_1
    for t in THREADS[1:]:
        image, symbols = decoded[t]
        assert len(symbols) == len(symbols_1) and all(torch.equal(a, b) for a, b in zip(symbols, symbols_1))
        assert np.abs(image - image_1).max() <= 1


def test_probdec_cdfs_ignore_last_bit_differences_in_its_entropy_parameters(crop, codecs, monkeypatch):
    """What another thread count or device changes in the entropy parameters (a few units in the
    last place of the model's dtype) must not change a single decoded symbol."""
    from bench_codecs.inn.probdec import MixtureContext

    codec = codecs["probdec"]
    data = codec.encode(crop[:48], 1.0)
    clean = codec.decode(data)
    original = MixtureContext.params_at
    generator = torch.Generator().manual_seed(0)

    def jittered(self, *args):
        return tuple(p * (1 + 4 * torch.finfo(p.dtype).eps * torch.randn(p.shape, generator=generator, dtype=p.dtype))
                     for p in original(self, *args))

    monkeypatch.setattr(MixtureContext, "params_at", jittered)
    assert np.array_equal(codec.decode(data), clean)


def edited(data: bytes, offset: int, values: tuple[int, int]) -> bytes:
    out = bytearray(data)
    struct.pack_into(">HH", out, offset, *values)
    return bytes(out)


@pytest.mark.parametrize("name, rate", LEARNED)
def test_headers_with_inconsistent_or_huge_shapes_fail_in_one_line(name, rate, crop, codecs):
    codec = codecs[name]
    data = codec.encode(crop[:32, :48], rate)
    with pytest.raises(CodecFailure, match=r"declares 1024×1024 latents for a 48×32 image, which has \d+×\d+"):
        codec.decode(edited(data, LATENT_SIZE, (1024, 1024)))
    with pytest.raises(CodecFailure, match=r"declares a 65535×65535 image, outside 1 … 67,108,864 pixels"):
        codec.decode(edited(data, IMAGE_SIZE, (65535, 65535)))
    assert codec.decode(data).shape == (32, 48, 3)


class ThreadSensitive:
    """A stand-in learned codec whose decode depends on the torch thread count by ``step`` levels."""

    name, learned, supports_float_carry, device = "thread-sensitive", True, False, "cpu"

    def __init__(self, step: int) -> None:
        self.step = step

    def decode(self, data: bytes) -> np.ndarray:
        return np.full((4, 6, 3), 100 + self.step * torch.get_num_threads(), np.uint8)

    def describe(self, rate: float) -> str:
        return self.name


@pytest.mark.parametrize("step, learned, expected", [(2, True, False), (1, True, True), (2, False, True)])
def test_the_determinism_check_decodes_at_a_second_thread_count(step, learned, expected):
    codec = ThreadSensitive(step)
    codec.learned = learned
    for threads in (1, 2):
        settings = Settings(metrics=("psnr_rgb",), check_determinism="all")
        _, _, values = at_threads(threads, decode_checked, codec, b"x", (4, 6, 3), 1.0, {}, settings)
        assert values["deterministic_decode"] is expected
    before = torch.get_num_threads()
    decode_checked(codec, b"x", (4, 6, 3), 1.0, {}, Settings(metrics=("psnr_rgb",), check_determinism="all"))
    assert torch.get_num_threads() == before
