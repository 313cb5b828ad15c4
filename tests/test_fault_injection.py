"""Fault injection: `bench run` (loky, two workers) killed with SIGKILL, SIGINT or SIGTERM at
seeded random moments, resumed each time, ends with exactly the rows of an uninterrupted run.

Each trial is a fresh `bench run` process: a small zygote process imports bench once and forks
one child per trial, which then runs exactly what the `bench` script runs (its loky workers
start as in any run). Importing torch and bench anew for every trial would cost seconds each;
the fork costs milliseconds, so 20 trials fit in about a minute and a half of wall time.

Each child handles every arriving row ROW_SECONDS slower (as a run of a slow codec would), so a
run takes seconds after it takes the lock on any machine: on a quiet, fast machine the 32 rows
of 48x64 JPEG would otherwise be done before most signals land, and the trials would test
nothing. The delay sits outside the writer's signal-deferred section, where a run spends its
time waiting for rows.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from typer.testing import CliRunner

import bench.cli  # noqa: F401  (registers the subcommands)
from bench.cli.app import app
from bench.store import PART_GLOB, Store, read_part

TRIALS_PER_STORE = 5
STORES = 4
SEED = 20261201
MAX_DELAY = 2.0
ROW_SECONDS = 0.08  # x 32 rows = 2.56 s > MAX_DELAY: the first trial on each store is always interrupted
COMPARED = ["bitstream_sha256", "bytes", "psnr_rgb", "psnr_y", "error"]

ZYGOTE = r"""
import json, os, sys, time
import bench.cli
from bench.execute.summary import RunSummary

add = RunSummary.add
def slow_add(self, row):
    time.sleep(ROW_SECONDS)
    add(self, row)
RunSummary.add = slow_add

for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        for fd, name in ((1, request["stdout"]), (2, request["stderr"])):
            os.dup2(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
        sys.stdin.close()
        sys.argv = ["bench", *request["args"]]
        bench.cli.main()
        sys.exit(0)
    print(json.dumps({"pid": pid}), flush=True)
    print(json.dumps({"status": os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])}), flush=True)
"""


class Zygote:
    """A process with bench imported that runs each `bench` command in a forked child."""

    def __init__(self) -> None:
        source = f"ROW_SECONDS = {ROW_SECONDS}\n{ZYGOTE}"
        self.process = subprocess.Popen([sys.executable, "-c", source], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)

    def start(self, args: list[str], stdout: Path, stderr: Path) -> int:
        self.process.stdin.write(json.dumps({"args": args, "stdout": str(stdout), "stderr": str(stderr)}) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())["pid"]

    def wait(self) -> int:
        return json.loads(self.process.stdout.readline())["status"]

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def holder(store: Path) -> int | None:
    """The PID in the store's lock file; None when there is none (or it is being written)."""
    try:
        return json.loads((store / ".lock").read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def finished(out: Path) -> bool:
    """Whether a trial printed its summary (so it ran to the end)."""
    return out.exists() and "next: bench plot" in out.read_text()


def raw_rows(store: Path) -> pd.DataFrame:
    """Every row of every part, duplicates kept."""
    parts = [read_part(part).to_pandas() for part in sorted(store.glob(PART_GLOB))]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["key"])


def test_killed_and_resumed_runs_lose_and_duplicate_nothing(tmp_path):
    rng = np.random.default_rng(SEED)
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    config = tmp_path / "bench.toml"
    config.write_text('[run]\ncodecs = ["jpeg"]\nmetrics = ["psnr_rgb", "psnr_y"]\njobs = 2\n'
                      "[codecs.jpeg]\nrates = [10, 20, 30, 40, 50, 60, 70, 80]\n")

    def args(store: Path) -> list[str]:
        return ["run", "--config", str(config), "--dataset", str(folder), "--backend", "loky", "--jobs", "2",
                "--results", str(store)]

    reference = CliRunner().invoke(app, [*args(tmp_path / "reference"), "--jobs", "1"])
    assert reference.exit_code == 0, reference.output
    expected = Store(tmp_path / "reference").read().set_index("key")[COMPARED].sort_index()
    assert len(expected) == 32

    choose = random.Random(SEED)
    zygote = Zygote()
    outcomes: list[str] = []
    try:
        for s in range(STORES):
            store = tmp_path / f"store-{s}"
            for t in range(TRIALS_PER_STORE):
                signum = choose.choice([signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
                delay = choose.uniform(0.0, MAX_DELAY)
                out, err = tmp_path / f"out-{s}-{t}", tmp_path / f"err-{s}-{t}"
                pid = zygote.start(args(store), out, err)
                deadline = time.monotonic() + 60
                # until this trial holds the lock (not the one a SIGKILL left), or has already finished
                while holder(store) != pid and not finished(out) and time.monotonic() < deadline:
                    time.sleep(0.005)
                time.sleep(delay)
                sent = holder(store) == pid  # else the run ended first
                if sent:
                    os.kill(pid, signum)
                status = zygote.wait()
                text = err.read_text()
                if not sent or status == 0:
                    assert status == 0, text
                    outcomes.append("finished")
                elif signum == signal.SIGKILL:
                    assert status == -signal.SIGKILL
                    outcomes.append("killed")
                else:
                    assert status == 128 + signum, text
                    lines = [line for line in text.splitlines() if line.startswith("interrupted:")]
                    assert len(lines) == 1 and lines[0].endswith(f"in {store}; run the same command to resume"), text
                    # the one note allowed: the lock a SIGKILLed trial left was taken over
                    rest = "\n".join(line for line in text.splitlines() if not line.startswith("warning: took over the lock"))
                    assert "Traceback" not in rest and "Warning" not in rest and "warning" not in rest.lower(), text
                    outcomes.append(signal.Signals(signum).name)
            pid = zygote.start(args(store), tmp_path / f"out-{s}-final", tmp_path / f"err-{s}-final")
            assert zygote.wait() == 0, (tmp_path / f"err-{s}-final").read_text()
            raw = raw_rows(store)
            assert raw["key"].is_unique, "a key was stored twice"
            final = Store(store).read().set_index("key")[COMPARED].sort_index()
            assert list(final.index) == list(expected.index), "rows lost or extra"
            pd.testing.assert_frame_equal(final, expected, check_exact=True)
            assert not list(store.glob(".tmp-*")) and not (store / ".lock").exists()
    finally:
        zygote.close()
    assert len(outcomes) == STORES * TRIALS_PER_STORE >= 20
    assert {"killed", "SIGINT", "SIGTERM"} <= set(outcomes), outcomes
