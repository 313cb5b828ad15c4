"""InvCompress and IAT: the authors' layout and sizes, safe loading, and real bitstreams that
decode to exactly the encoder's own quantised reconstruction."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest
import torch

from bench.errors import CodecUnavailable
from bench_codecs.inn.coding import Bitstream, build_model, load_state_dict
from bench_codecs.inn.codec import IatCodec, InvCompressCodec
from bench_codecs.inn.iat import InvCompressIAT, lagrangian, uniform_level
from bench_codecs.inn.invcompress import InvCompress
from bench_codecs.inn.train import TrainConfig, train


def count(model: torch.nn.Module) -> float:
    return sum(p.numel() for p in model.parameters()) / 1e6


@pytest.mark.parametrize(("n", "millions"), [(128, 43.26), (192, 50.03)])
def test_parameter_count_matches_the_paper_models(n, millions):
    assert count(InvCompress(N=n)) == pytest.approx(millions, abs=0.005)


def test_state_dict_uses_the_authors_names():
    keys = InvCompress(N=128).state_dict()
    expected = {
        "enh.forw_enh.layers.0.conv1.weight": (32, 3, 3, 3),
        "enh.back_enh.layers.4.conv5.weight": (3, 192, 3, 3),
        "inv.operations.1.weight": (12, 12),
        "inv.operations.2.G1.conv1.weight": (9, 3, 5, 5),
        "inv.operations.16.weight": (768, 768),
        "inv.operations.19.H2.conv3.weight": (192, 192, 3, 3),
        "attention.forw_att.conv_b.3.weight": (128, 128, 1, 1),
        "h_a.0.weight": (128, 128, 3, 3),
        "context_prediction.weight": (256, 128, 5, 5),
        "entropy_parameters.0.weight": (426, 512, 1, 1),
        "entropy_bottleneck.matrices.0": (128, 3, 1),
    }
    for key, shape in expected.items():
        assert tuple(keys[key].shape) == shape, key
    assert not any(k.startswith(("g_a.", "g_s.")) for k in keys)


def tiny(cls=InvCompress, **kwargs):
    torch.manual_seed(0)
    model = cls(N=16, enh_channels=8, coupling_hidden=8, **kwargs)
    with torch.no_grad():  # non-trivial weights: zero-initialised branches would hide bugs
        for m in model.modules():
            if isinstance(m, torch.nn.Conv2d) and m.weight.abs().sum() == 0:
                m.weight.normal_(0, 0.02)
    return model.eval()


def test_checkpoint_in_the_authors_layout_loads_strictly(tmp_path):
    model = tiny()
    model.update(force=True)
    path = tmp_path / "ckpt.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in model.state_dict().items()}}, path)
    loaded = build_model(InvCompress, path)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_old_compressai_entropy_bottleneck_names_are_remapped(tmp_path):
    model = tiny()
    model.update(force=True)
    state = model.state_dict()
    # CompressAI < 1.2 named these "_matrix0", "_bias0", "_factor0" (the authors' code era).
    old = {k.replace("entropy_bottleneck.matrices.", "entropy_bottleneck._matrix")
            .replace("entropy_bottleneck.biases.", "entropy_bottleneck._bias")
            .replace("entropy_bottleneck.factors.", "entropy_bottleneck._factor"): v for k, v in state.items()}
    assert "entropy_bottleneck._matrix0" in old
    torch.save(old, tmp_path / "old.pt")
    assert torch.equal(build_model(InvCompress, tmp_path / "old.pt").state_dict()["entropy_bottleneck.matrices.0"],
                       state["entropy_bottleneck.matrices.0"])


def test_unsafe_pickle_is_refused(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(CodecUnavailable, match="weights_only=True"):
        load_state_dict(path)


def test_mismatched_checkpoint_is_one_clear_line(tmp_path):
    torch.save({"h_a.0.weight": torch.zeros(16, 16, 3, 3)}, tmp_path / "partial.pt")
    with pytest.raises(CodecUnavailable, match=r"partial\.pt: does not match the InvCompress layout") as info:
        build_model(InvCompress, tmp_path / "partial.pt")
    assert "\n" not in str(info.value)


@pytest.fixture
def invcompress_codec(tmp_path):
    model = tiny()
    model.update(force=True)
    torch.save(model.state_dict(), tmp_path / "q1.pt")
    return InvCompressCodec(checkpoints=[str(tmp_path / "q1.pt")]), model


def test_decode_equals_the_encoders_quantised_reconstruction(invcompress_codec, photo):
    codec, model = invcompress_codec
    image = photo[100:150, 200:270]  # odd size: padding to 64 and cropping back
    data = codec.encode(image, 1)
    decoded = codec.decode(data)
    from bench_codecs.inn.coding import to_padded_tensor, to_uint8

    with torch.no_grad():
        y_hat = model.compress(to_padded_tensor(image, "cpu"))["y_hat"]
        expected = to_uint8(model.synthesis(y_hat), *image.shape[:2])
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    assert np.array_equal(decoded, expected)
    assert np.array_equal(codec.decode(data), decoded)  # deterministic


def test_bitstream_is_everything_that_is_counted(invcompress_codec, photo):
    codec, _ = invcompress_codec
    data = codec.encode(photo[:64, :128], 1)
    stream = Bitstream.unpack(data)
    from bench_codecs.inn.coding import HEADER, LENGTH

    assert len(data) == HEADER.size + LENGTH.size + len(stream.y_string) + len(stream.z_string)
    assert (stream.height, stream.width) == (64, 128)


def test_iat_level_changes_the_rate_and_decodes_exactly(tmp_path, photo):
    model = tiny(InvCompressIAT, iat_hidden=4)
    with torch.no_grad():
        for m in model.iat:
            m.gamma[2].weight.normal_(0, 0.5)
            m.beta[2].weight.normal_(0, 0.5)
    model.update(force=True)
    torch.save(model.state_dict(), tmp_path / "iat.pt")
    codec = IatCodec(checkpoint=str(tmp_path / "iat.pt"))
    image = photo[:64, :64]
    sizes = {}
    for level in (0.05, 0.95):
        data = codec.encode(image, level)
        assert np.array_equal(codec.decode(data), codec.decode(data))
        sizes[level] = len(data)
    assert sizes[0.05] != sizes[0.95]
    assert codec.version().startswith("IAT; checkpoint sha256")


def test_iat_lagrangian_and_level_bounds():
    assert float(lagrangian(torch.tensor(0.0))) == pytest.approx(0.0012)
    assert float(lagrangian(torch.tensor(1.0))) == pytest.approx(0.0012 * math.exp(4.382))
    with pytest.raises(ValueError):
        uniform_level(1.5)


@pytest.mark.parametrize("name", ["invcompress", "iat"])
def test_training_smoke_loss_falls(tmp_path, name):
    folder = tmp_path / "imgs"
    folder.mkdir()
    from PIL import Image
    from skimage import data

    Image.fromarray(data.astronaut()[:200, :200]).save(folder / "a.png")
    config = TrainConfig(model=name, data=[str(folder)], out=str(tmp_path / "run"), N=16, enh_channels=8,
                         coupling_hidden=8, iat_hidden=4, crop=64, batch=1, steps=10, lr=1e-3, save_every=5, threads=1)
    losses = []
    train(config, log=lambda line: losses.append(float(line.split()[3])))
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    config.steps = 11
    resumed = []
    train(config, log=resumed.append)
    assert resumed[0] == "resumed at step 10" and len(resumed) == 2


def test_float_reconstruction_rounds_to_the_decoded_image(invcompress_codec, photo):
    codec, _ = invcompress_codec
    data = codec.encode(photo[:64, :96], 1)
    floats = codec.decode_float(data)
    assert floats.dtype == np.float32 and floats.shape == (64, 96, 3)
    assert 0 <= floats.min() and floats.max() <= 255
    assert np.array_equal(np.clip(np.rint(floats), 0, 255).astype(np.uint8), codec.decode(data))
    assert not np.array_equal(floats, np.rint(floats))  # genuinely unrounded
    assert len(codec.encode(floats, 1)) > 0  # a carried float image encodes like any other
