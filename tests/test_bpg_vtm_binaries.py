"""Real BPG and VTM binaries, run when found (PATH, BENCH_BPGENC/BENCH_BPGDEC, BENCH_VTM_DIR)."""

import numpy as np
import pytest

from bench.codec import make_codec
from bench_codecs.bpg import BpgCodec
from bench_codecs.vtm import VtmCodec


def mse_psnr(a, b):
    return 10 * np.log10(255.0 ** 2 / np.mean((a.astype(float) - b.astype(float)) ** 2))


def test_bpg_real_binary(photo):
    reason = BpgCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    crop = np.ascontiguousarray(photo[100:163, 50:147])  # odd sizes
    codec = make_codec("bpg", {})
    assert "0.9" in codec.version()
    hi, lo = codec.encode(crop, 22), codec.encode(crop, 42)
    assert hi[:4] == b"BPG\xfb" and len(hi) > len(lo)
    dh, dl = codec.decode(hi), codec.decode(lo)
    assert dh.shape == crop.shape and mse_psnr(crop, dh) > mse_psnr(crop, dl) + 3 and mse_psnr(crop, dh) > 36


def test_vtm_real_binary_non_multiple_size(photo):
    reason = VtmCodec.unavailable_reason()
    if reason:
        pytest.skip(reason)
    crop = np.ascontiguousarray(photo[200:237, 200:253])  # 53x37: padded to 56x40, cropped back
    codec = make_codec("vtm", {})
    data = codec.encode(crop, 37)
    decoded = codec.decode(data)
    assert decoded.shape == crop.shape and mse_psnr(crop, decoded) > 28
