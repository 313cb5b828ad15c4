"""Encode once per (image, codec, rate): a unit's decoder-option rows share one bitstream, and
each row equals the row the one-task path (``run_task``) gives."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from bench.config.settings import CodecSpec, load
from bench.plan.datasets import resolve
from bench.execute.driver import execute
from bench.execute.worker import Settings, run_task, run_unit
from bench.plan.tasks import Unit, by_image, pending, plan, plan_matched, units
from bench.config.provenance import new_provenance
from bench.store import Store

REPO = Path(__file__).resolve().parents[1]
#: What a row's result is: equal between the unit and the one-task path (timings and provenance aside).
SAME = ("key", "bytes", "bitstream_sha256", "bpp", "command", "device", "width", "height", "rate", "decoder_options",
        "deterministic_decode", "determinism_check", "error")

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def learned_specs() -> list[CodecSpec]:
    """bench.toml's ProbDec (five variance factors) and ILC (three z modes), one rate each."""
    config = load(REPO / "bench.toml")
    specs = [config.spec("probdec"), config.spec("ilc")]
    assert [len(s.decoder_options) for s in specs] == [5, 3]
    return specs


@pytest.fixture
def encodes(monkeypatch) -> Counter:
    """Encode calls per codec class (ProbDec and ILC), counted in this process."""
    from bench_codecs.inn.stochastic_codecs import IlcCodec, ProbDecCodec

    calls: Counter = Counter()
    for cls in (ProbDecCodec, IlcCodec):
        original = cls.encode

        def counted(self, image, rate, original=original, name=cls.name):
            calls[name, rate] += 1
            return original(self, image, rate)

        monkeypatch.setattr(cls, "encode", counted)
    return calls


def test_learned_units_encode_once_and_rows_equal_the_one_task_path(tiny, learned_specs, encodes):
    tasks = plan(resolve(str(tiny)), learned_specs)
    settings = Settings(metrics=("psnr_rgb",))
    provenance = new_provenance()
    work = units(tasks)
    assert [len(u.tasks) for u in work] == [5, 3]
    unit_rows = [row for unit in work for row in run_unit(unit, settings, provenance)]
    assert encodes == {("probdec", 1.0): 1, ("ilc", 1.0): 1}
    task_rows = [run_task(task, settings, provenance) for task in tasks]
    assert encodes == {("probdec", 1.0): 1 + 5, ("ilc", 1.0): 1 + 3}
    assert [r["key"] for r in unit_rows] == [t.key for t in tasks]
    for new, old in zip(unit_rows, task_rows):
        assert {k: new.get(k) for k in SAME} == {k: old.get(k) for k in SAME}
        assert new.get("error") is None and new["determinism_check"] == "first" and new["deterministic_decode"] is True
        assert new["psnr_rgb"] == pytest.approx(old["psnr_rgb"], abs=1e-6)
        assert new["encode_s"] > 0 and new["decode_s"] > 0
    shared = {r["encode_s"] for r in unit_rows if r["codec"] == "probdec"}
    assert len(shared) == 1  # every row of the unit records the one encode


def test_a_partly_stored_unit_computes_only_its_missing_rows_with_one_encode(tmp_path, tiny, learned_specs, encodes):
    tasks = plan(resolve(str(tiny)), learned_specs[:1])
    store = Store(tmp_path / "store")
    settings = Settings(metrics=("psnr_rgb",), check_determinism="off")
    first = execute(tasks[:2], 0, settings, store, new_provenance())
    assert first.written == 2 and encodes[("probdec", 1.0)] == 1
    todo = pending(tasks, store.finished_keys())
    assert len(todo) == 3
    second = execute(todo, 2, settings, store, new_provenance())
    assert second.written == 3 and encodes[("probdec", 1.0)] == 2
    rows = store.read()
    assert sorted(rows["key"]) == sorted(t.key for t in tasks)
    assert rows["bitstream_sha256"].nunique() == 1 and (rows["determinism_check"] == "off").all()
    assert rows["deterministic_decode"].isna().all()


def test_units_group_decoder_options_only(tiny, photo, tmp_path):
    Image.fromarray(photo[:64, :64]).save(tiny / "b.png")
    spec = CodecSpec("jpeg", "jpeg", {}, (30.0, 60.0), ({},))
    tasks = plan(resolve(str(tiny)), [spec])
    assert [len(u.tasks) for u in units(tasks)] == [1, 1, 1, 1]  # one per image × rate
    matched = plan_matched(resolve(str(tiny)), [spec], 1.0)
    assert all(len(u.tasks) == 1 for u in units(matched + matched))  # matched-rate tasks stay alone


def test_batches_keep_an_image_together_and_split_it_only_to_feed_idle_workers(tiny, photo):
    Image.fromarray(photo[:64, :64]).save(tiny / "b.png")
    spec = CodecSpec("jpeg", "jpeg", {}, (10.0, 20.0, 30.0, 40.0), ({},))
    work = units(plan(resolve(str(tiny)), [spec]))
    two = by_image(work, workers=2)
    assert [len(b) for b in two] == [4, 4] and all(len({u.image for u in b}) == 1 for b in two)
    alone = by_image([u for u in work if u.image[1] == "a.png"], workers=2)
    assert [len(b) for b in alone] == [2, 2]  # one image, two workers: both get part of it
    assert [u.tasks[0].rate for b in alone for u in b] == [10.0, 20.0, 30.0, 40.0]


def test_first_rate_determinism_check_marks_every_row(tiny):
    spec = CodecSpec("jpeg", "jpeg", {}, (30.0, 60.0, 90.0), ({},))
    rows = [r for u in units(plan(resolve(str(tiny)), [spec])) for r in run_unit(u, Settings(metrics=("psnr_rgb",)),
                                                                                     new_provenance())]
    by_rate = {r["rate"]: (r["determinism_check"], r["deterministic_decode"]) for r in rows}
    assert by_rate == {30.0: ("first", True), 60.0: ("skipped-not-first", None), 90.0: ("skipped-not-first", None)}
    assert all(math.isfinite(r["psnr_rgb"]) for r in rows)


def test_a_failed_decode_fails_only_its_own_row(tiny, monkeypatch):
    from bench_codecs.inn.stochastic_codecs import ProbDecCodec

    original = ProbDecCodec.decode

    def decode(self, data, **options):
        if options.get("variance_factor") == 0.5:
            raise RuntimeError("boom")
        return original(self, data, **options)

    monkeypatch.setattr(ProbDecCodec, "decode", decode)
    spec = load(REPO / "bench.toml").spec("probdec")
    unit = Unit(tuple(plan(resolve(str(tiny)), [spec])))
    rows = run_unit(unit, Settings(metrics=("psnr_rgb",), check_determinism="off"), new_provenance())
    errors = [r.get("error") for r in rows]
    assert errors.count("RuntimeError: boom") == 1 and errors.count(None) == 4
    failed = rows[errors.index("RuntimeError: boom")]
    assert "psnr_rgb" not in failed and "bytes" not in failed  # as the one-task path leaves a failed row
