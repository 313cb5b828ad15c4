"""The training loop's optimiser: ILC's separate learning rates and eq. (8) decay (§IV, App. VI),
and the guards that keep a non-finite loss or gradient away from the weights."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from PIL import Image

from bench_codecs.inn.ilc import ILC
from bench_codecs.inn.optimise import TrainingRun, decayed, fit, parameter_groups
from bench_codecs.inn.train_stochastic import ILC_PAPER_OPTIMISER, StochasticConfig

SMALL = {"widths": (8, 8, 16), "kernels": (5, 3, 3), "blocks": 1}


def test_entropy_model_gets_its_own_learning_rate_only_when_asked():
    model = ILC(**SMALL)
    single = parameter_groups(model, TrainingRun(model="ilc", data=[], out="", lr=1e-4))
    assert len(single) == 1 and single[0]["lr"] == 1e-4
    groups = parameter_groups(model, TrainingRun(model="ilc", data=[], out="", lr=1e-4, entropy_lr=1e-3))
    names = {id(p): n for n, p in model.named_parameters()}
    iem, entropy = ([names[id(p)] for p in g["params"]] for g in groups)
    assert groups[0]["lr"] == 1e-4 and groups[1]["lr"] == 1e-3
    assert entropy and all(n.startswith("entropy_bottleneck.") and not n.endswith(".quantiles") for n in entropy)
    assert iem and not any(n.startswith("entropy_bottleneck.") for n in iem)
    assert len(iem) + len(entropy) == sum(1 for n, _ in model.named_parameters() if not n.endswith(".quantiles"))


def test_decay_is_equation_8():
    config = TrainingRun(model="ilc", data=[], out="", lr_decay_start=100_000, lr_decay=0.999995)
    assert decayed(1e-4, 100_000, config) == 1e-4
    assert decayed(1e-3, 100_000 + 200_000, config) == pytest.approx(1e-3 * 0.999995 ** 200_000, rel=1e-12)
    assert decayed(1e-3, 10**6, TrainingRun(model="ilc", data=[], out="")) == 1e-3  # no decay by default


@pytest.fixture
def small_ilc_run(tmp_path, photo) -> StochasticConfig:
    """Three steps of a tiny ILC on 32×32 crops of one 96×96 image, writing to ``tmp_path/out``."""
    from PIL import Image

    (tmp_path / "data").mkdir()
    Image.fromarray(photo[:96, :96]).save(tmp_path / "data" / "a.png")
    return StochasticConfig(model="ilc", data=[str(tmp_path / "data")], out=str(tmp_path / "out"), crop=32, batch=1,
                            steps=3, widths=[8, 8, 16], blocks=1, threads=1)


def test_ilc_training_defaults_are_the_papers_and_the_loop_uses_them(small_ilc_run):
    assert ILC_PAPER_OPTIMISER == {"lr": 1e-4, "entropy_lr": 1e-3, "lr_decay_start": 100_000, "lr_decay": 0.999995}
    config = replace(small_ilc_run, lr=1e-4, entropy_lr=1e-3, lr_decay_start=1, lr_decay=0.5)
    seen: list[list[float]] = []
    original = torch.optim.Adam.step

    def spy(self, *args, **kwargs):
        seen.append([group["lr"] for group in self.param_groups])
        return original(self, *args, **kwargs)

    torch.optim.Adam.step = spy
    try:
        fit(config, lambda: ILC(**SMALL), lambda model, x: _loss(model, x), log=lambda line: None)
    finally:
        torch.optim.Adam.step = original
    networks = [lrs for lrs in seen if len(lrs) == 2]
    assert networks == [[1e-4, 1e-3], [5e-5, 5e-4], [2.5e-5, 2.5e-4]]  # steps 1, 2, 3: decay from step 1


def _loss(model: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    from bench_codecs.inn.ilc import ilc_loss

    return ilc_loss(model, x, None, (0.013, 1.0, 1.0, 0.0))


def test_bench_train_fills_in_the_paper_optimiser_for_ilc_only(monkeypatch, tmp_path):
    from bench_codecs.inn import train_stochastic

    configs = []
    monkeypatch.setattr(train_stochastic, "train", lambda config, log: configs.append(config) or tmp_path / "c.pt")
    data = tmp_path / "data"
    data.mkdir()
    Image.fromarray(np.zeros((512, 512, 3), np.uint8)).save(data / "one.png")  # the trainer checks its images first
    common = {"data": [str(data)], "out": str(tmp_path / "out")}
    train_stochastic.run_from_cli("ilc", {**common, "lr": 5e-4})
    train_stochastic.run_from_cli("probdec", dict(common))
    ilc, probdec = configs
    assert (ilc.lr, ilc.entropy_lr, ilc.lr_decay_start, ilc.lr_decay) == (5e-4, 1e-3, 100_000, 0.999995)
    assert (probdec.entropy_lr, probdec.lr_decay_start) == (0.0, 0)


def test_a_non_finite_gradient_is_skipped_before_it_reaches_the_weights(tmp_path, small_ilc_run):
    """A finite loss whose gradient is NaN must not reach Adam: one such step would make every
    weight NaN and every later loss non-finite (the run would then stop for good)."""
    calls = []

    class NanGradient(torch.autograd.Function):
        """The identity whose backward pass returns NaN: a finite loss with a non-finite gradient."""

        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, grad):
            return grad * float("nan")

    def poisoned_on_the_second_call(model, x):
        calls.append(1)
        terms = _loss(model, x)
        if len(calls) == 2:
            terms["loss"] = NanGradient.apply(terms["loss"])
        return terms

    lines: list[str] = []
    fit(small_ilc_run, lambda: ILC(**SMALL), poisoned_on_the_second_call, log=lines.append)
    assert "step 2 skipped: non-finite gradient" in lines
    weights = torch.load(tmp_path / "out" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point())
    assert len(calls) == 4  # three steps and the skipped one


def test_endless_non_finite_losses_stop_in_one_line_that_says_how_to_resume(small_ilc_run):
    from bench.errors import TrainingError

    def nan_loss(model, x):
        terms = _loss(model, x)
        terms["loss"] = terms["loss"] * float("nan")
        return terms

    with pytest.raises(TrainingError, match=r"more than 20 consecutive non-finite losses or gradients; .*checkpoint\.pt "
                                            r"holds the last saved step; lower the learning rate"):
        fit(small_ilc_run, lambda: ILC(**SMALL), nan_loss, log=lambda line: None)
