"""The faster InvCompress/IAT coding paths must not change one byte or one pixel.

Portable checks compare them with the code they replace in the same process: ``ContextCoder``
with CompressAI's ``_compress_ar``/``_decompress_ar``, the dense block's buffer with its
concatenations.

Golden values: SHA-256 of the bitstream, of the decoded uint8 image and of the float
reconstruction for a fixed Kodak crop, recorded with the code as it was before the decoder was
sped up (one torch thread: the synthesis transform's large 1×1 convolutions and matrix inverses
round differently with another thread count). Floating-point kernels differ between CPU
instruction sets, so the values are checked where they were recorded (an AVX-512 CPU).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench_codecs.inn.codec import WEIGHTS, IatCodec, InvCompressCodec
from bench_codecs.inn.invcompress import ContextCoder, InvCompress, one_torch_thread
from bench_codecs.inn.layers import DenseBlock

#: (codec, rate) → SHA-256 of the bitstream of kodim01[100:196, 200:350] with the shipped demo
#: weights (IAT: ``iat-demo.pt``), one torch thread, recorded before the coders were sped up. The
#: bits are the same on every CPU: the entropy parameters are computed on one thread and the
#: range coder works on integers.
GOLDEN_BITS = {
    ("invcompress", 1): "726f1e4d922cdb4dca0549fdeced5c19cf5bf66c67336baf34268d3983f3847d",
    ("iat", 0.0): "c966a93db1f7ff358786dde89af3d8ccff3f55bad73efd10e573379a50bdaf34",
    ("iat", 0.5): "186b2fd02154789a2a3a7f29068f70b2cc98be7bf65dc5171a846fd0f61f84ae",
    ("iat", 1.0): "cdd0c0f3ea2e7863afa160927ecebd44d276067cd7ab429d4b742029fc59d824",
}
#: SHA-256 of (decoded uint8 image, float reconstruction) of those bitstreams, one pair per
#: family of CPU convolution kernels recorded: the synthesis transform's float convolutions
#: round differently on two AVX-512 machines (the same bits decode to images a level apart in a
#: few pixels), so a decode must match one recorded family exactly.
GOLDEN_PIXELS = {
    ("invcompress", 1): {("27343d942e448204f4f2366544443f3889027f84209fa42d8687a579a003425b",
                          "acf560ce92da49fb6a48e73c7288ec78718f3bb2430e87d532df29766a5cbcf0"),
                         ("2d1e4565fc9e142b136010579b63975a05a6003e70c4de5cd40ddbea8f3b0dcd",
                          "a40aabab6b636e25362eb038cc8daf46aa60d0791e31450e6ca8cbece0c5046a")},
    ("iat", 0.0): {("86cbd4081c19d8f965a8604712d05d9004a42796405cb2d97abcc95fd9149713",
                    "fe87a2b01177edee8cf982d0d5d917a535f199824ad02c8a70e648f4f75186b5"),
                   ("86cbd4081c19d8f965a8604712d05d9004a42796405cb2d97abcc95fd9149713",
                    "b2a287c042415ac07949cd013d73e33beb3c141c9fce0483add1418b10a8dc31")},
    ("iat", 0.5): {("0446a124a1f6bcef5767c7b5c7c5028f255183512ae1f686f62b406ea4d89c33",
                    "8d554859522ceb8a1505651ea5c8aac84b263cd7d3c682a759e5c396990d13ec"),
                   ("9c4d2fa6145099643b35ecc67ed9885ada00d7ca4a48533e1e4bf489a4e510b9",
                    "8f22cb51e86dbe39aede23698ec70dc5b3cf3999fa0bbd47b93afa1cf4a90784")},
    ("iat", 1.0): {("911222e6d40ff15cf58ad65637289fd5ffc8c5d8b68a7164188160bd58609f97",
                    "56308cc6f7e45fe90348fb97be10bbed4d768c1fc1f704595ff639ca1ba84e50"),
                   ("af17a6c50ef8ca60924f2c9e3c2c34faa0621ac9e5197f916111c01dc6d1bdd8",
                    "8e68236bfc8f04065e5be580e71494ee77df87bb29286004d712a217fabc5932")},
}
RECORDED_ON = "AVX512"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize(("name", "rate"), sorted(GOLDEN_BITS))
def test_demo_codecs_reproduce_the_recorded_bytes_and_pixels(kodak_dir, one_torch_thread, name, rate):
    image = np.array(Image.open(kodak_dir / "kodim01.png").convert("RGB"))[100:196, 200:350]
    # IAT: the weights these values were recorded with (the codec's default has moved on since)
    codec = InvCompressCodec() if name == "invcompress" else IatCodec(checkpoint=str(WEIGHTS / "iat-demo.pt"))
    data = codec.encode(image, rate)
    assert sha256(data) == GOLDEN_BITS[(name, rate)]
    if torch.backends.cpu.get_cpu_capability() != RECORDED_ON:
        pytest.skip(f"decoded pixels were recorded on {RECORDED_ON} CPUs; this one runs "
                    f"{torch.backends.cpu.get_cpu_capability()} kernels, which may round differently")
    decoded = (sha256(codec.decode(data).tobytes()), sha256(codec.decode_float(data).tobytes()))
    assert decoded in GOLDEN_PIXELS[(name, rate)]


def tiny_model() -> InvCompress:
    """A small InvCompress with non-trivial weights everywhere (zero-initialised branches would
    make the context model and the dense blocks trivially agree)."""
    torch.manual_seed(0)
    model = InvCompress(N=16, enh_channels=8, coupling_hidden=8)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.weight.normal_(0, 0.1)
    model.update(force=True)
    return model.eval()


@pytest.mark.parametrize("threads", [1, 2])
def test_context_coder_gives_compressais_bits(threads):
    """ContextCoder against CompressAI's own serial loops on the same latent and hyperprior:
    the same string, the same ŷ at the encoder and at the decoder, whatever the caller's threads."""
    model = tiny_model()
    generator = torch.Generator().manual_seed(1)
    height, width = 8, 12
    y = torch.randn(1, 16, height, width, generator=generator) * torch.logspace(-1, 1.5, 16)[None, :, None, None]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.no_grad():
            params = model.h_s(model.entropy_bottleneck.quantize(model.h_a(y), "dequantize"))
            y_reference = F.pad(y, (2,) * 4)
            string = model._compress_ar(y_reference, params, height, width, 5, 2)
            decoded_reference = torch.zeros_like(y_reference)
            model._decompress_ar(string, decoded_reference, params, height, width, 5, 2)
        with torch.inference_mode(), one_torch_thread():
            y_new = F.pad(y, (2,) * 4)
            assert ContextCoder(model, params, 5, masked=True).encode(y_new, height, width) == string
            decoded = torch.zeros_like(y_new)
            ContextCoder(model, params, 5, masked=False).decode(string, decoded, height, width)
        assert torch.get_num_threads() == threads
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(y_new, y_reference)
    assert torch.equal(decoded, decoded_reference) and torch.equal(decoded, y_new)


def test_scale_indexes_equal_compressais_table_walk():
    model = tiny_model()
    conditional = model.gaussian_conditional
    table = conditional.scale_table
    scales = torch.cat((table, table * (1 + 1e-7), table * (1 - 1e-7), torch.tensor([0.0, 1e-3, 1e9]),
                        torch.rand(1000) * 300))  # exact table values and their neighbours, below and above
    coder = ContextCoder(model, torch.zeros(1, 32, 1, 1), 5, masked=False)
    assert torch.equal(coder.indexes(scales), conditional.build_indexes(scales).long())


@pytest.mark.parametrize("batch", [1, 2])
def test_dense_block_without_autograd_equals_the_concatenations(batch):
    torch.manual_seed(2)
    block = DenseBlock(5, 7, gc=6)
    for m in block.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.normal_(m.weight, 0, 0.2)
            torch.nn.init.normal_(m.bias, 0, 0.2)
    x = torch.randn(batch, 5, 33, 47)
    expected = block(x).detach()  # grad mode: the concatenating forward
    with torch.no_grad():
        assert torch.equal(block(x), expected)


def test_one_torch_thread_restores_the_callers_count():
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with pytest.raises(RuntimeError), one_torch_thread():
            assert torch.get_num_threads() == 1
            raise RuntimeError
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)
