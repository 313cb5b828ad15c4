"""InvCompress and IAT: the authors' layouts and sizes, safe loading, and real bitstreams that
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


def authors_iat_layout(N: int = 192, enh: int = 64, hidden: int | None = None, iat: int | None = None) -> dict:
    """Parameter names and shapes of the authors' VRIC_IAT(N, M=N) (HiFi-VRIC models/models.py,
    our_utils.py, layers.py), written out independently of the model code; ``enh``, ``hidden``
    (coupling subnetworks) and ``iat`` (modulation hidden width, None = 2 × channels) generalise
    the authors' fixed 64 / output width / 2 × channels for small test models."""
    shapes: dict[str, tuple] = {}

    def conv(name, cin, cout, k):
        shapes[f"{name}.weight"], shapes[f"{name}.bias"] = (cout, cin, k, k), (cout,)

    def dense(name, cin, cout):
        for i in range(4):
            conv(f"{name}.conv{i + 1}", cin + 32 * i, 32, 3)
        conv(f"{name}.conv5", cin + 128, cout, 3)

    for side in ("forw_enh", "back_enh"):
        dense(f"enh.{side}.layers.0", 3, enh)
        conv(f"enh.{side}.layers.1", enh, enh, 1)
        conv(f"enh.{side}.layers.2", enh, enh, 3)
        conv(f"enh.{side}.layers.3", enh, enh, 1)
        dense(f"enh.{side}.layers.4", enh, 3)
    c = 3
    for level, k in enumerate((5, 5, 3, 3), start=1):
        c *= 4
        shapes[f"inv.operations{level}.1.weight"] = (c, c)
        s1, s2 = c // 4, 3 * c // 4
        for j in (2, 3, 4):
            for net, (cin, cout) in {"G1": (s1, s2), "G2": (s2, s1), "H1": (s1, s2), "H2": (s2, s1)}.items():
                h = hidden or cout
                conv(f"inv.operations{level}.{j}.{net}.conv1", cin, h, k)
                conv(f"inv.operations{level}.{j}.{net}.conv2", h, h, 1)
                conv(f"inv.operations{level}.{j}.{net}.conv3", h, cout, k)
        x = c if level < 4 else N  # SFTlevel_4: in_nc // 4 = 192 = M in the authors' model
        h = iat or 2 * x
        conv(f"inv.SFTlevel_{level}.mlp_shared.0", 1, h, 3)
        conv(f"inv.SFTlevel_{level}.mlp_shared.2", h, h, 1)
        for branch in ("mlp_gamma", "mlp_beta"):
            conv(f"inv.SFTlevel_{level}.{branch}.0", h, x, 3)
            conv(f"inv.SFTlevel_{level}.{branch}.2", x, x, 1)
    for i in (0, 2, 4, 6, 8):
        conv(f"h_a.{i}", N, N, 3)
    conv("h_s.0", N, N, 3)
    conv("h_s.2.0", N, 4 * N, 3)
    conv("h_s.4", N, N, 3)
    conv("h_s.6.0", N, 4 * N, 3)
    conv("h_s.8", N, 2 * N, 3)
    conv("context_prediction", N, 2 * N, 5)
    conv("entropy_parameters.0", 4 * N, 10 * N // 3, 1)
    conv("entropy_parameters.2", 10 * N // 3, 8 * N // 3, 1)
    conv("entropy_parameters.4", 8 * N // 3, 2 * N, 1)
    shapes["entropy_bottleneck.quantiles"] = (N, 1, 3)
    for i, (cin, cout) in enumerate([(1, 3), (3, 3), (3, 3), (3, 3), (3, 1)]):
        shapes[f"entropy_bottleneck.matrices.{i}"] = (N, cout, cin)
        shapes[f"entropy_bottleneck.biases.{i}"] = (N, cout, 1)
        if i < 4:
            shapes[f"entropy_bottleneck.factors.{i}"] = (N, cout, 1)
    return shapes


@pytest.fixture(scope="module")
def iat192():
    return InvCompressIAT(N=192)


def test_iat_parameter_count_matches_the_authors_model(iat192):
    # By hand, N = M = 192, enhancement 64, coupling hidden = output width, modulation hidden 2c:
    #   enh: 2 × (dense 3→64: 134 400 + 1×1, 3×3, 1×1 at 64: 45 248 + dense 64→3: 134 339) =    627 974
    #   INN levels (1×1 conv + 3 couplings of G1, G2, H1, H2):
    #     12 ch k5: 144 + 3·2·(2 808 + 918) = 22 500;  48 ch k5: 2 304 + 3·2·(44 604 + 14 580) = 357 408
    #     192 ch k3: 36 864 + 3·2·(270 000 + 85 392) = 2 169 216
    #     768 ch k3: 589 824 + 3·2·(4 314 816 + 1 364 544) = 34 665 984                  = 37 215 108
    #   modulations (h²+11h shared, 2·(9hc + c² + 2c) γ/β, h = 2c): c=12: 6 360,
    #     c=48: 98 016, c=192 (SFTlevel_3 and _4): 2 × 1 553 280                        =  3 210 936
    #   h_a 5 × 331 968 = 1 659 840; h_s 2 × 331 968 + 2 × 1 327 872 + 663 936 = 3 983 616;
    #   context 1 843 584; entropy parameters 492 160 + 328 192 + 196 992 = 1 017 344;
    #   entropy bottleneck 11 712                                                          =  8 516 096
    #   total 49 570 114; without the entropy bottleneck (the authors' parameters()) 49 558 402 ≈ 49.56 M.
    assert count(iat192) == pytest.approx(49.570114, abs=0.01)
    assert count(iat192) - count(iat192.entropy_bottleneck) == pytest.approx(49.56, abs=0.01)
    assert sum(math.prod(s) for s in authors_iat_layout().values()) == 49_570_114


def test_iat_state_dict_is_the_authors_layout(iat192):
    params = {k: tuple(v.shape) for k, v in iat192.named_parameters()}
    assert params == authors_iat_layout()
    keys = iat192.state_dict()
    for key in ("inv.operations1.1.weight", "inv.operations2.4.H2.conv3.weight", "inv.operations3.2.G1.conv2.bias",
                "inv.SFTlevel_1.mlp_shared.0.weight", "inv.SFTlevel_3.mlp_beta.0.weight",
                "inv.SFTlevel_4.mlp_gamma.2.weight", "enh.back_enh.layers.4.conv5.weight",
                "h_s.6.0.weight", "context_prediction.mask", "gaussian_conditional.scale_table"):
        assert key in keys, key
    assert not any(k.startswith(("attention.", "iat.", "g_a.", "g_s.", "inv.operations.")) for k in keys)
    assert tuple(keys["inv.SFTlevel_4.mlp_gamma.2.weight"].shape) == (192, 192, 1, 1)
    assert tuple(keys["inv.operations4.1.weight"].shape) == (768, 768)


def test_iat_checkpoint_in_the_authors_layout_loads_strictly(tmp_path):
    torch.manual_seed(0)
    layout = authors_iat_layout(N=16, enh=8, hidden=8)
    reference = InvCompressIAT(N=16, enh_channels=8, coupling_hidden=8)
    reference.update(force=True)
    buffers = {k: v for k, v in reference.state_dict().items() if k not in layout}
    state = {**{k: torch.randn(shape) * 0.01 for k, shape in layout.items()}, **buffers}
    for k in range(1, 5):  # keep every 1 + γ away from 0
        state[f"inv.SFTlevel_{k}.mlp_gamma.2.bias"].zero_()
    path = tmp_path / "vric_iat.pth.tar"
    torch.save({"state_dict": {f"module.{k}": v for k, v in state.items()}}, path)
    assert InvCompressIAT.config_from_state_dict(state) == {"N": 16, "enh_channels": 8, "coupling_hidden": 8,
                                                             "iat_hidden": None}
    loaded = build_model(InvCompressIAT, path)
    assert loaded.state_dict().keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_iat_demo_widths_are_read_off_the_weights():
    model = InvCompressIAT(N=16, enh_channels=8, coupling_hidden=8, iat_hidden=6)
    config = InvCompressIAT.config_from_state_dict(model.state_dict())
    assert config == {"N": 16, "enh_channels": 8, "coupling_hidden": 8, "iat_hidden": 6}


def test_iat_level_changes_the_rate_and_decodes_exactly(tmp_path, photo):
    model = tiny(InvCompressIAT, iat_hidden=4)
    with torch.no_grad():
        for k in range(1, 5):  # a modulation that visibly depends on the level, with 1 + γ kept near 1
            for net, std in (("mlp_shared", 0.5), ("mlp_beta", 0.5), ("mlp_gamma", 0.05)):
                for conv in getattr(model.inv.modulation(k), net)[::2]:
                    conv.weight.normal_(0, std)
    model.update(force=True)
    torch.save(model.state_dict(), tmp_path / "iat.pt")
    codec = IatCodec(checkpoint=str(tmp_path / "iat.pt"))
    image = photo[:64, :64]
    sizes = {}
    for level in (0.05, 0.95):
        data = codec.encode(image, level)
        decoded = codec.decode(data)
        if level == 0.95:  # the decoder's output is the encoder's own quantised reconstruction
            from bench_codecs.inn.coding import to_padded_tensor, to_uint8

            with torch.no_grad():
                map_ = uniform_level(float(np.float32(level)))
                y_hat = model.compress(to_padded_tensor(image, "cpu"), map_)["y_hat"]
                assert np.array_equal(decoded, to_uint8(model.synthesis(y_hat, map_), 64, 64))
        sizes[level] = len(data)
    assert sizes[0.05] != sizes[0.95]
    assert codec.version().startswith("IAT; checkpoint sha256")


def test_iat_inn_inverts_up_to_the_channel_squeeze():
    model = tiny(InvCompressIAT, iat_hidden=4).double()
    level = uniform_level(0.7).double()
    y = torch.randn(1, 16, 4, 4, dtype=torch.float64)
    with torch.no_grad():  # y → INN⁻¹ → INN is the identity (the squeeze is a left inverse of its repeat)
        assert float((model.inv(model.inv(y, level, rev=True), level) - y).abs().max()) < 1e-8


def test_training_can_start_from_given_weights(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    from PIL import Image

    Image.fromarray(np.full((80, 80, 3), 128, np.uint8)).save(folder / "a.png")
    model = InvCompressIAT(N=16, enh_channels=8, coupling_hidden=8, iat_hidden=4)
    torch.save(model.state_dict(), tmp_path / "init.pt")
    config = TrainConfig(model="iat", data=[str(folder)], out=str(tmp_path / "run"), N=16, enh_channels=8,
                         coupling_hidden=8, iat_hidden=4, crop=64, batch=1, steps=1, threads=1,
                         init=str(tmp_path / "init.pt"))
    lines = []
    train(config, log=lines.append)
    assert lines[0] == f"initialised from {tmp_path / 'init.pt'}"


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


def _old_bottleneck_names(state: dict, style: str) -> dict:
    """``state`` with CompressAI's pre-1.2 entropy-bottleneck names: ``_biases.0`` (1.0) or ``_bias0`` (1.1)."""
    renamed = {}
    for key, value in state.items():
        for new, old in (("matrices", "matrix"), ("biases", "bias"), ("factors", "factor")):
            prefix = f"entropy_bottleneck.{new}."
            if key.startswith(prefix):
                index = key.removeprefix(prefix)
                key = f"entropy_bottleneck._{new}.{index}" if style == "1.0" else f"entropy_bottleneck._{old}{index}"
        renamed[key] = value
    return renamed


#: The layouts authors' checkpoints come in, each built from a bare state dict.
LAYOUTS = {
    "bare": lambda s: s,
    "state_dict": lambda s: {"state_dict": s, "epoch": 7, "best_loss": 0.5},
    "model (HiFi-VRIC IAT training script)": lambda s: {"model": s, "optimizer": {"lr": 1e-4}},
    "module. prefix (DataParallel)": lambda s: {f"module.{k}": v for k, v in s.items()},
    "compressai 1.0 _biases.N": lambda s: _old_bottleneck_names(s, "1.0"),
    "compressai 1.1 _biasN": lambda s: {"state_dict": _old_bottleneck_names(s, "1.1")},
}


@pytest.fixture(scope="module")
def bare_bitstream(tmp_path_factory):
    """A tiny random-init InvCompress saved bare, and the bitstream its codec makes of a small crop."""
    from skimage import data

    folder = tmp_path_factory.mktemp("layouts")
    model = tiny()
    model.update(force=True)
    state = model.state_dict()
    torch.save(state, folder / "bare.pt")
    image = np.ascontiguousarray(data.astronaut()[200:232, 200:240])
    return state, image, InvCompressCodec(checkpoints=[str(folder / "bare.pt")]).encode(image, 1), folder


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_authors_checkpoint_layouts_give_the_bare_layouts_bitstream(bare_bitstream, layout):
    state, image, expected, folder = bare_bitstream
    path = folder / f"layout-{list(LAYOUTS).index(layout)}.pth.tar"
    torch.save(LAYOUTS[layout](dict(state)), path)
    codec = InvCompressCodec(checkpoints=[str(path)])
    data = codec.encode(image, 1)
    assert data == expected
    assert np.array_equal(codec.decode(data), InvCompressCodec(checkpoints=[str(folder / "bare.pt")]).decode(expected))


def test_unknown_checkpoint_layout_names_the_top_level_keys(tmp_path):
    torch.save({"epoch": 3, "optimizer": {"lr": torch.tensor(1.0)}, "weights": {"a": 1}}, tmp_path / "odd.pt")
    with pytest.raises(CodecUnavailable, match=r"odd\.pt: expected a state dict of tensors, bare or under "
                                               r"'model_state_dict', 'state_dict', 'network' or 'model'; "
                                               r"found top-level keys \['epoch', 'optimizer', 'weights'\]"):
        load_state_dict(tmp_path / "odd.pt")
