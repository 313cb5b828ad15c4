"""Parity with CompressAI's own evaluation: for the same seeded checkpoints and images, bench's
bitstream holds exactly the model's compress() strings, and its bpp (less the container header)
and PSNR equal ``python -m compressai.utils.eval_model checkpoint`` (run in-process on a folder of
two Kodak crops whose sizes are not multiples of 64, so the padding is exercised, and above the
161 pixels eval_model's MS-SSIM needs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from compressai.ops import compute_padding
from compressai.zoo.image import model_architectures
from compressai.zoo.image_vbr import model_architectures as vbr_architectures
from PIL import Image

from bench.codec import make_codec
from bench.metrics.psnr import psnr_rgb, psnr_rgb_float
from bench_codecs.compressai_codecs.container import Container

#: eval_model's quantisation step for the variable-rate model (one of its defaults).
QUANT_STEP = 2.6833


@pytest.fixture
def crops(tmp_path, kodak_dir):
    """Two Kodak crops of 168×200 and 180×170 pixels, as PNG files in a folder and as arrays."""
    folder = tmp_path / "crops"
    folder.mkdir()
    images = {}
    for name, (height, width) in (("kodim05.png", (168, 200)), ("kodim23.png", (180, 170))):
        pixels = np.array(Image.open(kodak_dir / name))[100:100 + height, 200:200 + width]
        Image.fromarray(pixels).save(folder / name)
        images[name] = pixels
    return folder, images


def eval_model(capsys, folder, architecture: str, checkpoint) -> dict:
    """``eval_model checkpoint FOLDER -a ARCH -p CKPT`` (entropy coding, not estimation): its JSON."""
    from compressai.utils.eval_model import __main__ as reference

    argv = ["checkpoint", str(folder), "-a", architecture, "-p", str(checkpoint)]
    if architecture in vbr_architectures:
        argv += ["--vbr_quantstep", str(QUANT_STEP)]
    capsys.readouterr()
    reference.main(argv)
    out = capsys.readouterr().out
    return {k: v[0] for k, v in json.loads(out[out.index("{"):])["results"].items()}


def own_strings(architecture: str, checkpoint, pixels: np.ndarray) -> list[bytes]:
    """The strings the model's own compress() gives for ``pixels``, padded as eval_model pads."""
    state = torch.load(checkpoint, weights_only=True)
    if architecture in vbr_architectures:
        extra = {"vr_entbttlnck": True} if architecture != "mbt2018-vbr" else {}
        model = vbr_architectures[architecture].from_state_dict(state, **extra).eval()
        scale = torch.tensor(1.0 / QUANT_STEP)
        model.update(force=True, scale=scale) if extra else model.update(force=True)
        arguments = {"stage": 2, "s": 0, "inputscale": scale}
    else:
        model, arguments = model_architectures[architecture].from_state_dict(state).eval(), {}
    x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().div(255)
    padding, _ = compute_padding(x.shape[2], x.shape[3], min_div=64)
    with torch.no_grad():
        return [s[0] for s in model.compress(F.pad(x, padding), **arguments)["strings"]]


@pytest.mark.parametrize("architecture", ["bmshj2018-hyperprior", "mbt2018", "mbt2018-mean-vbr"])
def test_bench_equals_eval_model_on_the_same_checkpoint(architecture, crops, capsys, compressai_checkpoint,
                                                        one_torch_thread):
    folder, images = crops
    checkpoint = compressai_checkpoint(architecture)
    variable = architecture in vbr_architectures
    codec = make_codec(architecture, {"checkpoint": str(checkpoint)} if variable else {"checkpoints": [str(checkpoint)]})
    rate = QUANT_STEP if variable else 1
    bpp, header_bpp, psnr, psnr_float = [], [], [], []
    for pixels in images.values():
        data = codec.encode(pixels, rate)
        stream = Container.unpack(data)
        assert list(stream.strings) == own_strings(architecture, checkpoint, pixels)
        pixel_count = pixels.shape[0] * pixels.shape[1]
        bpp.append(len(data) * 8 / pixel_count)
        header_bpp.append((len(data) - sum(map(len, stream.strings))) * 8 / pixel_count)
        reconstruction = codec.decode_float(data)  # decode() is its rounding (one decode: mbt2018's is slow)
        psnr.append(psnr_rgb(pixels, np.rint(reconstruction).astype(np.uint8)))
        psnr_float.append(psnr_rgb_float(pixels, reconstruction))
    reference = eval_model(capsys, folder, architecture, checkpoint)
    assert np.mean(bpp) - np.mean(header_bpp) == pytest.approx(reference["bpp"], abs=1e-12)
    assert 0 < np.mean(header_bpp) < 0.05  # the container: ~40 bytes
    # eval_model rounds its reconstruction to 8 bits before its PSNR: bench's psnr_rgb is that number
    assert np.mean(psnr) == pytest.approx(reference["psnr-rgb"], abs=0.01)
    assert abs(np.mean(psnr_float) - np.mean(psnr)) < 0.1


def test_a_training_script_checkpoint_gives_the_zoo_codecs_bytes(tmp_path, crops, compressai_checkpoint,
                                                                 one_torch_thread):
    """examples/train.py saves {"epoch", "state_dict", "optimizer", …}, DataParallel adds ``module.``,
    and the CDF tables are not yet computed: compressai-model computes them and says so."""
    _, images = crops
    pixels = images["kodim05.png"]
    updated = compressai_checkpoint("mbt2018")
    bare = torch.load(compressai_checkpoint("mbt2018", updated=False), weights_only=True)
    assert bare["entropy_bottleneck._quantized_cdf"].numel() == 0
    training = tmp_path / "checkpoint_best_loss.pth.tar"
    torch.save({"epoch": 3, "state_dict": {f"module.{k}": v for k, v in bare.items()}, "loss": 1.5,
                "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}}, training)
    zoo = make_codec("mbt2018", {"checkpoints": [str(updated)]})
    own = make_codec("compressai-model", {"architecture": "mbt2018", "checkpoints": [str(training)]})
    assert own.encode(pixels, 1) == zoo.encode(pixels, 1)
    assert "CDF tables computed on load" in own.version() and "CDF" not in zoo.version()
    by_class = make_codec("compressai-model", {"architecture": "compressai.models:JointAutoregressiveHierarchicalPriors",
                                               "checkpoints": [str(training)]})
    assert Container.unpack(by_class.encode(pixels, 1)).strings == Container.unpack(zoo.encode(pixels, 1)).strings


@pytest.mark.parametrize("key", ["network", "model_state_dict"])
def test_the_other_keys_eval_model_reads_give_the_same_bytes(key, tmp_path, crops, compressai_checkpoint,
                                                             one_torch_thread):
    """eval_model's load_checkpoint also takes the weights under ``network`` or ``model_state_dict``;
    next to a ``state_dict`` of other weights, it picks ``model_state_dict`` (its last match) and
    ``state_dict`` over ``network``: bench loads the same weights from the same file."""
    from compressai.utils.eval_model import __main__ as reference

    pixels = crops[1]["kodim05.png"]
    seeded = compressai_checkpoint("bmshj2018-hyperprior")
    weights = torch.load(seeded, weights_only=True)
    torch.manual_seed(1)
    other = model_architectures["bmshj2018-hyperprior"](N=8, M=8)
    other.update(force=True)
    nested = tmp_path / f"{key}.pth.tar"
    if key == "model_state_dict":
        torch.save({"epoch": 2, key: weights, "state_dict": other.state_dict()}, nested)
    else:
        torch.save({"epoch": 2, key: weights}, nested)
    chosen = reference.load_checkpoint("bmshj2018-hyperprior", False, str(nested)).state_dict()
    assert all(torch.equal(chosen[k], v) for k, v in weights.items())
    expected = make_codec("bmshj2018-hyperprior", {"checkpoints": [str(seeded)]}).encode(pixels, 1)
    assert make_codec("bmshj2018-hyperprior", {"checkpoints": [str(nested)]}).encode(pixels, 1) == expected
