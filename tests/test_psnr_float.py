"""``psnr_rgb_float``: PSNR of the float reconstruction, as the learned-codec papers measure it."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np
import pytest
import torch

from bench.config.settings import CodecSpec
from bench.plan.datasets import resolve
from bench.execute.worker import Settings, codec_for, run_unit
from bench.metrics import measure
from bench.metrics.psnr import psnr_rgb, psnr_rgb_float
from bench.plan.tasks import plan, units
from bench.config.provenance import new_provenance

pytestmark = pytest.mark.usefixtures("one_torch_thread")
METRICS = ("psnr_rgb", "psnr_rgb_float")


def compressai_psnr(original: np.ndarray, x_hat_255: np.ndarray) -> float:
    """CompressAI's evaluation: x and x̂ in [0, 1], −10·log10(MSE) (``compressai.utils.eval_model``)."""
    x = torch.from_numpy(original.astype(np.float64) / 255).permute(2, 0, 1)
    x_hat = torch.from_numpy(x_hat_255.astype(np.float64) / 255).permute(2, 0, 1).clamp(0, 1)
    return float(-10 * torch.log10(torch.nn.functional.mse_loss(x, x_hat)))


def test_float_psnr_is_compressais_formula_and_the_8_bit_psnr_for_8_bit_images(photo):
    rng = np.random.default_rng(0)
    reconstruction = np.clip(photo + rng.normal(0, 4, photo.shape), 0, 255).astype(np.float32)
    assert psnr_rgb_float(photo, reconstruction) == pytest.approx(compressai_psnr(photo, reconstruction), abs=1e-9)
    rounded = np.rint(reconstruction).astype(np.uint8)
    assert psnr_rgb_float(photo, rounded) == pytest.approx(psnr_rgb(photo, rounded), abs=1e-12)
    # rounding to 8 bits adds its own error (about 1/12 of a level² here): the two must differ
    assert psnr_rgb_float(photo, reconstruction) != pytest.approx(psnr_rgb(photo, rounded), abs=1e-3)
    assert measure(photo, rounded, ["psnr_rgb_float"], reconstruction=reconstruction)["psnr_rgb_float"] == \
        psnr_rgb_float(photo, reconstruction)
    assert math.isinf(psnr_rgb_float(photo, photo.astype(np.float32)))


def test_rows_carry_the_float_psnr_of_learned_codecs_and_the_8_bit_psnr_of_classical_ones(tiny, photo):
    specs = [CodecSpec("jpeg", "jpeg", {}, (50.0,), ({},)),
             CodecSpec("ilc", "ilc", {}, (1.0,), ({}, {"z": "sample", "seed": 3})),  # a unit of two decodes
             CodecSpec("invcompress", "invcompress", {}, (1.0,), ({},))]
    rows = [row for unit in units(plan(resolve(str(tiny)), specs))
            for row in run_unit(unit, Settings(metrics=METRICS), new_provenance())]
    assert len(rows) == 4 and not any(row.get("error") for row in rows)
    original = photo[100:164, 200:264]
    for row in rows:
        if row["codec"] == "jpeg":
            assert row["psnr_rgb_float"] == pytest.approx(row["psnr_rgb"], abs=1e-12)
            continue
        codec = codec_for(row["codec_impl"], json.loads(row["params"]))
        data = codec.encode(original, row["rate"])  # deterministic: the row's bitstream again
        assert row["bitstream_sha256"] == hashlib.sha256(data).hexdigest()
        reconstruction = codec.decode_float(data, **json.loads(row["decoder_options"]))
        assert row["psnr_rgb_float"] == pytest.approx(compressai_psnr(original, reconstruction), abs=1e-6)
        assert row["psnr_rgb"] == psnr_rgb(original, codec.decode(data, **json.loads(row["decoder_options"])))
        assert row["psnr_rgb_float"] != row["psnr_rgb"] and abs(row["psnr_rgb_float"] - row["psnr_rgb"]) < 0.5
