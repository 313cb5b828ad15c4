"""Checkpoint paths are checked before anything reads or hashes them; bad weights are named.

A learned codec's ``version()`` hashes its checkpoints when the run is planned, so these checks
turn a missing path, a directory, a FIFO (a read blocks for ever), a device such as /dev/zero (a
read never ends) or an oversized file into one line naming the codec, the key and the file.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from bench.config.settings import CodecSpec
from bench.plan.datasets import ImageRef
from bench.errors import CodecUnavailable
from bench.plan.tasks import plan
from bench_codecs.inn import coding
from bench_codecs.inn.codec import DEMO_IAT, WEIGHTS, IatCodec, InvCompressCodec, checkpoint_path
from bench_codecs.inn.invcompress import InvCompress
from bench_codecs.inn.stochastic_codecs import IlcCodec


@pytest.fixture(autouse=True)
def no_hang():
    """Fail rather than hang if a check ever reads a FIFO or a device again. The limit is far above
    a test's normal time (a few seconds, model construction included) so that a loaded machine
    does not trip it."""

    def expire(signum, frame):
        raise TimeoutError("checkpoint check blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "weights.fifo"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(("make", "problem"), [
    (lambda tmp: tmp / "missing.pth.tar", "no such file"),
    (lambda tmp: tmp, "is a directory"),
    (fifo, "is not a regular file"),
    (lambda tmp: Path("/dev/zero"), "is not a regular file"),
])
def test_bad_checkpoint_paths_fail_in_one_line_before_any_read(tmp_path, make, problem):
    path = make(tmp_path)
    with pytest.raises(CodecUnavailable) as info:
        IatCodec(checkpoint=str(path)).version()
    text = str(info.value)
    assert text.startswith(f"codec 'iat': params.checkpoint = {path}: {problem}") and "\n" not in text


def test_checkpoint_above_the_size_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(coding, "MAX_CHECKPOINT_BYTES", 1024)
    (tmp_path / "big.pt").write_bytes(bytes(4096))
    with pytest.raises(CodecUnavailable, match=r"params\.checkpoints\[1\] = .*big\.pt: 4,096 bytes, above the 1,024-byte limit"):
        IlcCodec(checkpoints=[str(tmp_path / "ok.pt"), str(tmp_path / "big.pt")])._model(tmp_path / "big.pt")


def test_missing_checkpoint_fails_when_the_run_is_planned(tmp_path):
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    spec = CodecSpec(label="inv", impl="invcompress", params={"checkpoints": [str(tmp_path / "q1.pt")]}, rates=(1,))
    with pytest.raises(CodecUnavailable, match=r"^codec 'invcompress': params\.checkpoints\[0\] = .*q1\.pt: no such file"):
        plan([ImageRef("t", "a.png", tmp_path / "a.png")], [spec])


def test_default_checkpoints_are_named_the_same_in_every_checkout(tmp_path, monkeypatch):
    """Defaults are ``demo:NAME``, not an absolute path, so a store's keys do not depend on where
    the project lives: moving the weights folder changes no key (its hash stays in the version)."""
    from PIL import Image

    Image.new("RGB", (8, 8)).save(tmp_path / "a.png")
    ref = ImageRef("t", "a.png", tmp_path / "a.png")
    specs = [CodecSpec(label=name, impl=name, params={}, rates=(1,)) for name in ("invcompress", "ilc", "probdec")]
    specs.append(CodecSpec(label="iat", impl="iat", params={}, rates=(0.5,)))
    here = plan([ref], specs)
    assert not any(str(WEIGHTS) in str(task.params) for task in here)
    moved = tmp_path / "elsewhere" / "weights"
    moved.parent.mkdir()
    os.symlink(WEIGHTS, moved)
    monkeypatch.setattr("bench_codecs.inn.codec.WEIGHTS", moved)
    elsewhere = plan([ref], specs)
    assert [task.key for task in elsewhere] == [task.key for task in here]
    assert checkpoint_path(DEMO_IAT) == moved / DEMO_IAT.removeprefix("demo:")


def test_unknown_demo_name_lists_the_shipped_weights():
    with pytest.raises(CodecUnavailable, match=r"'demo:nope\.pt': no such demo weights; shipped: .*demo:iat-demo\.pt"):
        IatCodec(checkpoint="demo:nope.pt").version()


def test_wrongly_shaped_tensor_is_named_with_the_file(tmp_path):
    torch.manual_seed(0)
    state = InvCompress(N=16, enh_channels=8, coupling_hidden=8).state_dict()
    state["context_prediction.weight"] = torch.zeros(32, 16, 3, 3)
    torch.save(state, tmp_path / "q1.pt")
    with pytest.raises(CodecUnavailable) as info:
        InvCompressCodec(checkpoints=[str(tmp_path / "q1.pt")]).encode(torch.zeros(8, 8, 3, dtype=torch.uint8).numpy(), 1)
    text = str(info.value)
    assert text.startswith("codec 'invcompress': params.checkpoints[0] = ") and "q1.pt" in text
    assert "tensor context_prediction.weight has shape (32, 16, 3, 3), the InvCompress built from this file " \
           "expects (32, 16, 5, 5)" in text


def test_missing_tensor_is_named(tmp_path):
    torch.manual_seed(0)
    state = InvCompress(N=16, enh_channels=8, coupling_hidden=8).state_dict()
    del state["context_prediction.bias"]
    torch.save(state, tmp_path / "q1.pt")
    with pytest.raises(CodecUnavailable, match=r"q1\.pt: does not match the InvCompress layout: lacks tensor context_prediction\.bias$"):
        coding.build_model(InvCompress, tmp_path / "q1.pt")
