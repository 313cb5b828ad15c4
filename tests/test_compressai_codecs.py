"""The CompressAI codecs: registration and the row-key settings of the zoo's weights, the
download of those weights (against a local HTTP server: good file, wrong hash, truncated,
offline), one-line errors, and bitstreams that do not depend on the torch thread count."""

from __future__ import annotations

import hashlib
import pickle

import numpy as np
import pytest
import torch

from bench.codec import codec_class, make_codec
from bench.errors import CodecFailure, CodecUnavailable, ConfigError
from bench_codecs.compressai_codecs import weights

ZOO_NAMES = ("bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018", "cheng2020-anchor",
             "cheng2020-attn", "bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr", "mbt2018-vbr")


def test_every_zoo_model_is_registered_with_the_zoos_rates():
    from compressai.zoo import image_models

    assert set(ZOO_NAMES) == set(image_models) - {"bmshj2018-factorized-relu"}
    for name in ZOO_NAMES:
        cls = codec_class(name)
        assert cls.learned and cls.supports_float_carry
    assert codec_class("mbt2018").rate_range == (1, 8) and codec_class("cheng2020-attn").rate_range == (1, 6)
    assert codec_class("mbt2018-vbr").rate_parameter == "quant_step" and not codec_class("mbt2018-vbr").integer_rates


def test_default_weights_are_zoo_settings_and_planning_downloads_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    codec = make_codec("mbt2018-mean", {"metric": "ms-ssim"})
    assert codec.params["checkpoints"][0] == "zoo:mbt2018-mean-ms-ssim-1-5bf9c0b6.pth.tar"
    assert len(codec.params["checkpoints"]) == 8
    assert codec.version().endswith("checkpoints sha256 5bf9c0b6,e2a1bf3f,640ce819,12626c13,1be7f059,b83bf379,"
                                    "ddf9644c,0cc7b94f")
    assert make_codec("mbt2018-vbr").params["checkpoint"] == "zoo:mbt2018-mse-vbr-f12581a1.pth.tar"
    assert not (tmp_path / "bench").exists()
    with pytest.raises(ConfigError, match="expected one of"):
        make_codec("mbt2018-vbr", {"metric": "ms-ssim"})


def named(data: bytes, stem: str = "model") -> str:
    return f"{stem}-{hashlib.sha256(data).hexdigest()[:8]}.pth.tar"


def test_a_good_file_is_downloaded_once_with_progress_and_cached(tmp_path, local_server, capsys):
    data = b"weights" * 1000
    server = local_server(data)
    target = tmp_path / "cache" / named(data)
    assert weights.fetch(f"{server.url}/{target.name}", target, "params.checkpoints") == target
    assert target.read_bytes() == data and "100 %" in capsys.readouterr().err
    assert weights.fetch(f"{server.url}/{target.name}", target, "params.checkpoints") == target
    assert len(server.ranges) == 1  # the second call found the file cached
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]


def test_a_file_with_another_hash_is_refused_and_not_cached(tmp_path, local_server):
    server = local_server(b"something else")
    target = tmp_path / named(b"the published weights")
    with pytest.raises(CodecUnavailable) as exc:
        weights.fetch(f"{server.url}/{target.name}", target, "codec 'mbt2018': params.checkpoints")
    text = str(exc.value)
    assert "\n" not in text and server.url in text and "its name says" in text and "params.checkpoints" in text
    assert list(tmp_path.iterdir()) == []


def test_a_truncated_download_is_refused_and_resumable(tmp_path, local_server):
    data = bytes(range(256)) * 64
    server = local_server(data, truncate_first=True)
    target = tmp_path / named(data)
    with pytest.raises(CodecUnavailable) as exc:
        weights.fetch(f"{server.url}/{target.name}", target, "params.checkpoints")
    assert "\n" not in str(exc.value) and "resume" in str(exc.value)
    assert not target.exists()


def test_offline_and_not_cached_is_one_line_naming_the_url_and_checkpoints(tmp_path, monkeypatch, image):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    filename = "bmshj2018-hyperprior-1-7eb97409.pth.tar"
    monkeypatch.setitem(weights.ZOO_URLS, filename, f"http://127.0.0.1:9/{filename}")  # nothing listens there
    codec = make_codec("bmshj2018-hyperprior")
    with pytest.raises(CodecUnavailable) as exc:
        codec.encode(image, 1)
    text = str(exc.value)
    assert "\n" not in text and f"http://127.0.0.1:9/{filename}" in text
    assert "codec 'bmshj2018-hyperprior': params.checkpoints" in text and "local copies" in text


def test_a_pickle_of_arbitrary_objects_is_refused_in_one_line(tmp_path, image):
    path = tmp_path / "evil.pth.tar"
    torch.save({"state_dict": {}, "hook": pickle.UnpicklingError}, path)
    codec = make_codec("compressai-model", {"architecture": "mbt2018-mean", "checkpoints": [str(path)]})
    with pytest.raises(CodecUnavailable, match="weights_only=True") as exc:
        codec.encode(image, 1)
    assert "\n" not in str(exc.value)


def test_configuration_errors_are_one_line(compressai_checkpoint, image):
    with pytest.raises(ConfigError, match="params.architecture is required"):
        make_codec("compressai-model", {"checkpoints": ["x.pt"]})
    with pytest.raises(ConfigError, match="continuous rate"):
        make_codec("compressai-model", {"architecture": "mbt2018-vbr", "checkpoints": ["x.pt"]})
    for spec, error in (("mbt2019", ConfigError), ("collections:OrderedDict", ConfigError),
                        ("no_such_package.models:Model", CodecUnavailable)):
        codec = make_codec("compressai-model", {"architecture": spec, "checkpoints": ["x.pt"]})
        with pytest.raises(error) as exc:
            codec.version()
        assert "\n" not in str(exc.value) and "params.architecture" in str(exc.value)
    hyperprior = make_codec("bmshj2018-hyperprior", {"checkpoints": [str(compressai_checkpoint("bmshj2018-hyperprior"))]})
    with pytest.raises(CodecFailure, match="outside 1..1"):
        hyperprior.encode(image, 2)
    other = make_codec("mbt2018-mean", {"checkpoints": [str(compressai_checkpoint("mbt2018-mean"))]})
    with pytest.raises(CodecFailure, match="made by 'bmshj2018-hyperprior'"):
        other.decode(hyperprior.encode(image, 1))


def test_the_float_reconstruction_rounds_to_the_decoded_image(compressai_checkpoint, image):
    codec = make_codec("bmshj2018-hyperprior", {"checkpoints": [str(compressai_checkpoint("bmshj2018-hyperprior"))]})
    data = codec.encode(image, 1)
    decoded, reconstruction = codec.decode(data), codec.decode_float(data)
    assert decoded.shape == image.shape and reconstruction.dtype == np.float32
    assert np.array_equal(np.rint(reconstruction).astype(np.uint8), decoded)
    assert codec.encode(reconstruction, 1)  # a carried float reconstruction encodes (drift studies)


@pytest.mark.parametrize("architecture", ["mbt2018", "mbt2018-mean-vbr"])
def test_the_bitstream_does_not_depend_on_the_torch_thread_count(architecture, compressai_checkpoint, kodak_dir):
    """Encoded at 1, 2 and 4 threads: the same bytes, decoded to the same pixels at 1 and 4 threads.
    The context model's entropy parameters come out of float convolutions, so a kernel whose
    summation order followed the thread count would break decoding on another machine."""
    from PIL import Image

    pixels = np.array(Image.open(kodak_dir / "kodim07.png"))[200:264, 300:396]
    checkpoint = compressai_checkpoint(architecture, channels=48)
    key = {"checkpoint": str(checkpoint)} if architecture.endswith("-vbr") else {"checkpoints": [str(checkpoint)]}
    rate = 2.6833 if architecture.endswith("-vbr") else 1
    threads = torch.get_num_threads()
    try:
        streams, images = set(), []
        for count in (1, 2, 4):
            torch.set_num_threads(count)
            codec = make_codec(architecture, key)
            streams.add(codec.encode(pixels, rate))
            if count != 2:  # decoding at 1 and 4 threads is the widest gap; each decode of mbt2018 is slow
                images.append(codec.decode_float(next(iter(streams))))
    finally:
        torch.set_num_threads(threads)
    assert len(streams) == 1
    assert all(np.array_equal(images[0], other) for other in images[1:])


def test_a_large_image_is_refused_by_the_memory_budget_before_any_model_loads(monkeypatch, tmp_path):
    """The zoo codecs declare their measured peak memory: the runner's worker limit sees it, and
    an image whose estimate exceeds what is left is one error line, not an OOM kill (nor a download)."""
    import bench.execute.memory_budget as memory_budget
    from types import SimpleNamespace

    from PIL import Image

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(memory_budget, "available_mib", lambda: 2048.0)
    monkeypatch.setattr(memory_budget, "_own_peak_mib", lambda: 0.0)
    Image.fromarray(np.zeros((1536, 2048, 3), np.uint8)).save(tmp_path / "big.png")
    loads = memory_budget.task_loads([SimpleNamespace(codec_impl="mbt2018-mean", image_path=tmp_path / "big.png")])
    assert loads == [("mbt2018-mean", codec_class("mbt2018-mean").peak_memory_mib, 2048, 1536)]
    with pytest.raises(CodecFailure, match=r"mbt2018-mean on a 2048×1536 image .* GiB available; not run"):
        make_codec("mbt2018-mean").encode(np.zeros((1536, 2048, 3), np.uint8), 1)
    assert not (tmp_path / "bench").exists()
    with pytest.raises(CodecFailure, match=r"mbt2018-vbr on a 2048×1536 image .* GiB available; not run"):
        make_codec("mbt2018-vbr").encode(np.zeros((1536, 2048, 3), np.uint8), 1.0)
    assert all(codec_class(name).peak_memory_mib for name in ("bmshj2018-hyperprior-vbr", "mbt2018-mean-vbr"))
    assert codec_class("compressai-model").peak_memory_mib is None


def test_a_trained_zoo_architecture_exports_weights_the_zoo_codec_codes_with(tmp_path):
    """bench train mbt2018-mean: two steps of a tiny model, exported, loaded by the zoo codec."""
    from PIL import Image

    from bench_codecs.compressai_codecs.train import run_from_cli

    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        Image.fromarray(rng.integers(0, 256, (80, 96, 3), dtype=np.uint8)).save(data / f"{index}.png")
    weights_file = tmp_path / "weights.pt"
    threads = torch.get_num_threads()
    try:
        run_from_cli("mbt2018-mean", {"data": [str(data)], "out": str(tmp_path / "run"), "steps": 2, "crop": 64,
                                      "batch": 2, "threads": 1, "N": 8, "M": 8, "export": str(weights_file)})
    finally:
        torch.set_num_threads(threads)  # the trainer sets the process's thread count
    assert "step 2 " in (tmp_path / "run" / "train.log").read_text()
    codec = make_codec("mbt2018-mean", {"checkpoints": [str(weights_file)]})
    pixels = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    assert codec.decode(codec.encode(pixels, 1)).shape == pixels.shape
    assert "CDF" not in codec.version()  # exported with its tables
    with pytest.raises(ValueError, match="no trainer for 'cheng2020-anchor'"):
        run_from_cli("cheng2020-anchor", {"data": [str(data)], "out": str(tmp_path / "other"), "crop": 64})


@pytest.mark.parametrize("setting, message", [
    ({"foo": 1}, "--set foo: not an option of the mbt2018-mean trainer"),
    ({"quality": 9}, r"--set quality 9: expected an integer in \[1, 8\]"),
    ({"N": 0}, r"--set N 0: expected an integer in \[1, 4096\]"),
])
def test_the_zoo_trainer_checks_its_settings_in_one_line(tmp_path, setting, message):
    """A zoo trainer's --set is checked as every trainer's is, before any training: an unknown key
    used to end in a TypeError traceback, a quality beyond the zoo's eight in an IndexError later."""
    from PIL import Image

    from bench.errors import ConfigError
    from bench_codecs.compressai_codecs.train import run_from_cli

    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.zeros((80, 96, 3), np.uint8)).save(data / "0.png")
    with pytest.raises(ConfigError, match=message):
        run_from_cli("mbt2018-mean", {"data": [str(data)], "out": str(tmp_path / "run"), **setting})
    assert not (tmp_path / "run").exists()
