"""`bench compact` and `bench migrate` are writers too: they refuse, in one line, a store whose
lock a live process holds, and compact leaves that writer's temporary part alone."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.schema import METRIC_COLUMNS
from bench.store import LOCK_NAME, TMP_PREFIX, Store

HOLD = ("import sys, time\nfrom bench.store import StoreLock\n"
        "StoreLock(sys.argv[1], 'bench run').acquire()\nprint('locked', flush=True)\ntime.sleep(120)\n")


def row(key: str) -> dict:
    row = dict.fromkeys(METRIC_COLUMNS)
    row.update(key=hashlib.sha256(key.encode()).hexdigest(), created_utc=datetime(2026, 1, 1, tzinfo=timezone.utc), dataset="d", codec="jpeg", codec_impl="jpeg", decoder_options="{}", rate=50.0, image="a.png",
               image_sha256="a", bpp=1.0, psnr_rgb=30.0, encode_s=0.01, decode_s=0.01, error=None, generation=1,
               chain="", params="{}")
    return row


def one_row_store(root) -> Store:
    store = Store(root)
    store.write([row("k1")])
    return store


@pytest.fixture
def live_writer(tmp_path):
    """A store whose lock a live process (a stand-in for a running `bench run`) holds, with the
    temporary part that writer is in the middle of writing."""
    store = one_row_store(tmp_path / "store")
    partial = store.root / f"{TMP_PREFIX}part-in-progress.parquet"
    partial.write_bytes(b"half a part")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(store.root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield store, partial, holder
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("command", ["compact", "migrate"])
def test_compact_and_migrate_refuse_a_store_a_live_run_holds(live_writer, command):
    store, partial, holder = live_writer
    pid = holder.pid
    result = CliRunner().invoke(app, [command, str(store.root)])
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert f"is in use by bench run (pid {pid}" in " ".join(result.output.split())
    assert partial.read_bytes() == b"half a part"  # the live writer's temporary part is untouched
    assert len(store.parts()) == 1 and (store.root / LOCK_NAME).exists()


def test_compact_runs_once_the_writer_is_gone(live_writer):
    store, partial, holder = live_writer
    store.write([row("k2")])
    holder.kill()
    holder.wait()
    result = CliRunner().invoke(app, ["compact", str(store.root)])
    assert result.exit_code == 0, result.output
    assert "took over the lock" in result.output and f"pid {holder.pid}" in result.output
    assert "2 rows kept" in result.output
    assert len(store.parts()) == 1 and not partial.exists() and not (store.root / LOCK_NAME).exists()
