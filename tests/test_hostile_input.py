"""Hostile input II (docs/reliability.md): every attack ends in exit 0, 1 or 2 with one line.

The commands run in this process through ``bench.cli.main`` (the console entry point, with its
stderr captured), so hundreds of seeded bench.toml mutations and store corruptions take seconds;
only the signal cases start a process of their own. The images are two 32×32 PNGs and the codec
is in-process JPEG, with PSNR only.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import traceback
import zipfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

import bench.cli as cli
from bench.config import settings as config_module
from bench.errors import ConfigError, ImageError, ResultsError
from bench.plan.images import load_rgb8
from bench.store import LOCK_NAME, Store, StoreInUse, StoreLock

SEED = 24


# -- running the command line in this process ------------------------------------------------------
def bench(*argv: str) -> tuple[int, str, str]:
    """``bench ARGV`` through the entry point: (exit status, stdout, stderr). An exception that
    escapes ``main`` is returned as status -1 with its traceback, for the assertion to show."""
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    out, err = io.StringIO(), io.StringIO()
    argv_before = sys.argv
    sys.argv = ["bench", *argv]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except BaseException:  # noqa: BLE001 - the finding to report
        return -1, out.getvalue(), err.getvalue() + traceback.format_exc()
    finally:
        sys.argv = argv_before
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
    return code, out.getvalue(), err.getvalue()


def assert_clean(code: int, out: str, err: str, what: str) -> None:
    """Exit 0, 1 or 2, no traceback; exit 2 is exactly one line on stderr, ``error: …``."""
    assert code in (0, 1, 2), f"{what}: exit {code}\n{err}"
    assert "Traceback" not in out + err, f"{what}:\n{err}"
    if code == 2:
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), f"{what}: stderr {err!r}"


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A folder with two 32×32 PNGs under data/ and a bench.toml running JPEG at two qualities."""
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(SEED)
    for name in ("a", "b"):
        Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(data / f"{name}.png")
    write_toml(tmp_path / "bench.toml", base_config(data))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def base_config(data: Path) -> dict:
    return {
        "run": {"datasets": [str(data)], "codecs": ["jpeg"], "metrics": ["psnr_rgb"], "jobs": 1, "results": "res",
                "check_determinism": "first"},
        "codecs": {"jpeg": {"rates": [50, 80]},
                   "webp": {"impl": "webp", "rates": [50], "params": {"method": 4}},
                   "bpg": {"params": {"timeout_s": 600}, "rates": [30]}},
    }


# -- a small TOML writer (tomllib only reads) ---------------------------------------------------
def toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_text(document: dict) -> str:
    lines = []
    for key, value in document.items():
        if not isinstance(value, dict):
            lines.append(f"{json.dumps(str(key))} = {toml_value(value)}")
    for key, value in document.items():
        if isinstance(value, dict):
            inner = {k: v for k, v in value.items() if not isinstance(v, dict) or key != "codecs"}
            lines.append(f"[{json.dumps(str(key))}]")
            lines += [f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in inner.items()]
            if key == "codecs":
                for label, body in value.items():
                    if isinstance(body, dict):
                        lines.append(f"[codecs.{json.dumps(str(label))}]")
                        lines += [f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in body.items()]
    return "\n".join(lines) + "\n"


def write_toml(path: Path, document: dict) -> None:
    path.write_text(toml_text(document), encoding="utf-8")


# -- bench.toml mutations ---------------------------------------------------------------------
HOSTILE = [math.inf, -math.inf, math.nan, 0, -1, 2 ** 63 - 1, -(2 ** 63), 1e308, 2.5, 1e-300, True, False, "", "x" * 600,
           "[red]x[/", "[/]", "\u202e\u0000", "a\nb", "\x1b[31mred", "jpeg", [], [1, 2], [1, 1], ["jpeg", "jpeg"],
           [math.inf, 50], [{}], {}, {"start": 1, "stop": 90, "count": 10 ** 12}, {"start": 1, "stop": math.inf, "count": 3},
           {"start": 10, "stop": 20, "count": 2.5}, {"start": 1, "stop": 2, "count": -4}, 2000, 10 ** 9, "2", "psnr"]


def leaves(node, path=()):
    """Every (path, value) of a nested dict/list document, containers included."""
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, path + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, path + (index,))


def put(document, path, value) -> None:
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value


def mutate(document: dict, rng: random.Random) -> dict:
    """One to three structural mutations: replace, delete, add or rename a key, repeat a name."""
    document = json.loads(json.dumps(document))
    for _ in range(rng.randint(1, 3)):
        spots = [(p, v) for p, v in leaves(document) if p]
        path, _ = rng.choice(spots)
        action = rng.choice(["replace", "replace", "replace", "delete", "add", "rename", "repeat"])
        parent = document
        for step in path[:-1]:
            parent = parent[step]
        if action == "replace":
            put(document, path, json.loads(json.dumps(rng.choice(HOSTILE))) if rng.random() < 0.5
                else rng.choice(HOSTILE))
        elif action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[rng.choice(["jobs", "rates", "impl", "params", "count", "x", "[", "\u00e9"])] = rng.choice(HOSTILE)
        elif action == "rename" and isinstance(parent, dict):
            parent[rng.choice(["codecz", "run ", "[x]", "jpeg", "webp", ""])] = parent.pop(path[-1])
        elif action == "repeat" and isinstance(parent, list):
            parent.append(parent[path[-1]])
    return document


def mutate_text(text: str, rng: random.Random) -> bytes:
    """A byte-level mutation: cut the file, flip bytes (also into non-UTF-8), or splice a line."""
    data = bytearray(text.encode())
    action = rng.choice(["cut", "flip", "splice"])
    if action == "cut":
        return bytes(data[: rng.randrange(len(data))])
    if action == "flip":
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        return bytes(data)
    line = rng.choice([b"[run]\n", b"jobs = 1e999\n", b"rates = [nan]\n", b'"\xff" = 1\n', b"[[codecs]]\n", b"=\n"])
    at = rng.randrange(len(data))
    return bytes(data[:at] + line + data[at:])


def test_bench_toml_mutations_end_in_one_line(project):
    """≥ 200 seeded bench.toml mutations: each `bench run` ends 0, 1 or 2, never a traceback;
    exit 2 is one line. A store that runs keeps its rows keyed once (no duplicate keys)."""
    rng = random.Random(SEED)
    base = base_config(project / "data")
    seen = {0: 0, 1: 0, 2: 0}
    for case in range(220):
        config = project / f"m{case}.toml"
        if case % 5 == 4:
            config.write_bytes(mutate_text(toml_text(base), rng))
        else:
            write_toml(config, mutate(base, rng))
        # PSNR only, whatever the mutation left of run.metrics: a deleted [run] falls back to
        # every metric, and loading LPIPS's network would cost half a minute of nothing tested.
        code, out, err = bench("run", "--config", str(config), "--metric", "psnr_rgb")
        assert_clean(code, out, err, f"mutation {case}:\n{config.read_bytes()!r}")
        seen[code] += 1
    assert seen[2] > 100 and seen[0] > 0, seen  # the fuzz reaches both the checks and real runs


# -- store corruptions ------------------------------------------------------------------------
def part_table(store: Path) -> pa.Table:
    return pq.read_table(Store(store).parts()[0])


def write_part(store: Path, table: pa.Table, name: str = "part-zz.parquet") -> None:
    pq.write_table(table, store / name)


def replace_column(table: pa.Table, name: str, values) -> pa.Table:
    index = table.column_names.index(name)
    return table.set_column(index, name, pa.array(values))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


CORRUPTIONS = {
    "fifo part": lambda s, r: os.mkfifo(s / "part-fifo.parquet"),
    "fifo temporary": lambda s, r: os.mkfifo(s / ".tmp-part-x.parquet"),
    "directory part": lambda s, r: (s / "part-dir.parquet").mkdir(),
    "device part": lambda s, r: (s / "part-zero.parquet").symlink_to("/dev/zero"),
    "dangling link part": lambda s, r: (s / "part-gone.parquet").symlink_to(s / "nowhere"),
    "empty part": lambda s, r: (s / "part-empty.parquet").write_bytes(b""),
    "random part": lambda s, r: (s / "part-rand.parquet").write_bytes(r.randbytes(r.randint(1, 4000))),
    "truncated part": lambda s, r: (s / "part-cut.parquet").write_bytes(Store(s).parts()[0].read_bytes()[: r.randint(4, 400)]),
    "bpp as strings": lambda s, r: write_part(s, replace_column(part_table(s), "bpp", ["x"] * part_table(s).num_rows)),
    "rate as strings": lambda s, r: write_part(s, replace_column(part_table(s), "rate", ["50"] * part_table(s).num_rows)),
    "key as integers": lambda s, r: write_part(s, replace_column(part_table(s), "key", list(range(part_table(s).num_rows)))),
    "bpp zero": lambda s, r: [write_part(s, replace_column(part_table(s), "bpp", [0.0] * part_table(s).num_rows)),
                              Store(s).parts()[0].unlink()],
    "bpp nan": lambda s, r: [write_part(s, replace_column(part_table(s), "bpp", [math.nan] * part_table(s).num_rows)),
                             Store(s).parts()[0].unlink()],
    "no metadata": lambda s, r: pq.write_table(part_table(s).replace_schema_metadata(None), s / "part-meta.parquet"),
    "lacks a column": lambda s, r: write_part(s, part_table(s).drop_columns(["bpp"])),
    "lock directory": lambda s, r: (s / LOCK_NAME).mkdir(),
    "lock fifo": lambda s, r: os.mkfifo(s / LOCK_NAME),
    "lock empty": lambda s, r: (s / LOCK_NAME).write_bytes(b""),
    "lock garbage": lambda s, r: (s / LOCK_NAME).write_bytes(r.randbytes(64)),
    "lock absurd pid": lambda s, r: (s / LOCK_NAME).write_text(json.dumps({"pid": r.choice([10 ** 30, -5, 0, "7", 2.5]), "host": "h"})),
    "lock other host": lambda s, r: (s / LOCK_NAME).write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": "t"})),
    "lock stale": lambda s, r: (s / LOCK_NAME).write_text(json.dumps({"pid": DEAD_PID, "host": os.uname().nodename})),
    "store is a file": lambda s, r: [shutil.rmtree(s), s.write_text("x")],
}
DEAD_PID = dead_pid()


def test_store_corruptions_end_in_one_line(project):
    """≥ 50 seeded corruptions of a store (parts, lock, FIFOs, directories, wrong types), each
    read by `bench run` (resume) and by `bench compare` against the intact store: exit 0, 1 or 2,
    one line, no traceback, no hang (a FIFO is never opened)."""
    code, out, err = bench("run")
    assert code == 0, err
    good = project / "good"
    shutil.copytree(project / "res", good)
    rng = random.Random(SEED)
    names = sorted(CORRUPTIONS)
    for case in range(2 * len(names) + 6):
        name = names[case % len(names)] if case < 2 * len(names) else rng.choice(names)
        store = project / f"s{case}"
        shutil.copytree(good, store)
        CORRUPTIONS[name](store, rng)
        started = time.monotonic()
        if case % 2:
            code, out, err = bench("compare", str(good), str(store))
        else:
            code, out, err = bench("run", "--results", str(store))
        assert_clean(code, out, err, f"corruption {name!r} (case {case})")
        assert time.monotonic() - started < 30
        if name in ("fifo part", "directory part", "device part", "bpp as strings", "lock directory", "lock fifo") and not case % 2:
            assert code == 2, (name, err)


@pytest.mark.parametrize("name, expected", [
    ("fifo part", "part-fifo.parquet: a FIFO, not a results part; move it out of the results"),
    ("directory part", "part-dir.parquet: a directory, not a results part"),
    ("device part", "part-zero.parquet: a character device, not a results part"),
    ("bpp as strings", "part-zz.parquet: column bpp is string, schema version"),
    ("lock directory", ".lock: a directory, not a lock file; remove it if no bench command is using"),
    ("lock fifo", ".lock: a FIFO, not a lock file"),
    ("lock empty", ".lock: not a lock bench wrote (it is empty)"),
    ("lock garbage", ".lock: not a lock bench wrote"),
    ("lock absurd pid", "is not a process id"),
    ("lock other host", "is in use by bench run (pid 1 on elsewhere"),
])
def test_each_store_attack_has_its_line(project, name, expected):
    assert bench("run")[0] == 0
    CORRUPTIONS[name](project / "res", random.Random(SEED))
    code, out, err = bench("run")
    assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err


def test_a_stale_lock_is_taken_over(project):
    assert bench("run")[0] == 0
    CORRUPTIONS["lock stale"](project / "res", None)
    code, out, err = bench("run")
    assert code == 0 and "warning: took over the lock" in err


def test_lock_problems_are_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / LOCK_NAME)
    with pytest.raises(StoreInUse, match="a FIFO, not a lock file"):
        StoreLock(tmp_path).acquire()


# -- signals: the only cases run as processes of their own -----------------------------------
def test_signals_end_every_phase_within_30_s(project):
    """SIGTERM at a seeded moment of start-up or of reading a store with a FIFO named like a
    part: the process ends within 30 s, with 143 (one line once bench's entry point runs; the
    signal's default action during the interpreter's imports) or with the store refused first
    (2, one line), never a traceback. One runs under the C locale with UTF-8 mode off, reading
    a bench.toml with non-ASCII text."""
    assert bench("run")[0] == 0
    os.mkfifo(project / "res" / "part-fifo.parquet")
    (project / "bench.toml").write_text((project / "bench.toml").read_text() + "# café, ×\n", encoding="utf-8")
    rng = random.Random(SEED)
    executable = Path(sys.executable).with_name("bench")
    runs = []
    for signum, env in ((signal.SIGTERM, {"LC_ALL": "C", "PYTHONUTF8": "0"}), (signal.SIGTERM, {}), (signal.SIGTERM, {})):
        process = subprocess.Popen([str(executable), "run"], cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   env={**os.environ, **env}, text=True)
        runs.append((process, signum, rng.uniform(0.2, 12.0)))
    started = time.monotonic()
    for process, signum, delay in runs:
        time.sleep(max(0.0, started + delay - time.monotonic()))
        if process.poll() is None:
            process.send_signal(signum)
        signalled = time.monotonic()
        out, err = process.communicate(timeout=30)
        assert time.monotonic() - signalled < 30
        assert "Traceback" not in err, err
        lines = [line for line in err.splitlines() if line.strip()]
        code = process.returncode
        assert code in (2, 128 + signum, -signum), (code, err)
        if code == 2:  # the FIFO refused, or the store held by one of the other two runs at that moment
            fifo = (f"error: {Path('res') / 'part-fifo.parquet'}: a FIFO, not a results part; move it out of "
                    "the results")
            assert len(lines) == 1 and (lines[0] == fifo or " is in use by bench run " in lines[0]), err
        elif code == 128 + signum:
            assert lines == ["interrupted: nothing was written"], err


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_outside_a_run_is_one_line(monkeypatch, signum):
    """The entry point turns SIGTERM or SIGINT in any command (here: while one is starting) into
    one line and 143 or 130."""
    monkeypatch.setattr(cli, "app", lambda: (os.kill(os.getpid(), signum), time.sleep(5)))
    code, out, err = bench()
    assert (code, err.strip()) == (128 + signum, "interrupted: nothing was written")


def test_sigint_while_the_command_line_loads_is_one_line():
    """The console script's first act (bench.__main__.main) is to install handlers that turn
    SIGINT or SIGTERM into one line; here the signal arrives in the middle of loading the
    command line (typer, rich, bench's modules), which Python's default handler would turn into
    a KeyboardInterrupt traceback."""
    script = ("import builtins, os, signal\nimport bench.__main__ as entry\nreal = builtins.__import__\n"
              "def hooked(name, *args, **kwargs):\n"
              "    if name == 'typer':  # bench.cli is loading: the moment a user's Ctrl-C lands\n"
              "        os.kill(os.getpid(), signal.SIGINT)\n"
              "    return real(name, *args, **kwargs)\n"
              "builtins.__import__ = hooked\nentry.main()\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (130, "interrupted: nothing was written\n")
    entry_point = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text()
    assert 'bench = "bench.__main__:main"' in entry_point


# -- item by item -------------------------------------------------------------------------------
def test_markup_in_file_names_prints_literally(project):
    """A folder ``[`` holding ``red]bad.png`` (a truncated PNG): the error row's message prints
    with the brackets as written, and the run ends with exit 1."""
    folder = project / "["
    folder.mkdir()
    (folder / "red]bad.png").write_bytes((project / "data" / "a.png").read_bytes()[:60])
    shutil.copy(project / "data" / "a.png", folder / "[b]ok.png")
    code, out, err = bench("run", "-d", str(folder), "--results", "marked")
    assert code == 1, err
    assert f"{folder / 'red]bad.png'}: corrupt or truncated image" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("text, message", [
    ("[codecs.jpeg]\nrates = [inf, 50]\n", "codecs.jpeg.rates: inf is not a finite number"),
    ("[codecs.jpeg]\nrates = [nan]\n", "codecs.jpeg.rates: nan is not a finite number"),
    ("[codecs.jpeg]\nrates = { start = 1, stop = 90, count = 1_000_000_000_000 }\n",
     "codecs.jpeg.rates.count = 1000000000000: expected an integer in [1, 1000]"),
    ("[codecs.jpeg]\nrates = { start = 1, stop = inf, count = 3 }\n", "codecs.jpeg.rates.stop = Infinity: expected a finite number"),
    ("[run]\njobs = 100000\n", "run.jobs = 100000: expected an integer in [1, 1024]"),
    ('[run]\ncodecs = ["bpg"]\n[codecs.bpg]\nparams = { timeout_s = 1e300 }\n',  # a range: checked by the class, when selected
     "[codecs.bpg] params.timeout_s = 1e+300: expected a number in [1, 604800]"),
    ("[codecs.bpg]\nparams = { timeout_s = inf }\n", "[codecs.bpg] params.timeout_s = Infinity: expected a finite number"),
    ("[codecs.webp]\nrates = [50, inf]\n", "codecs.webp.rates: inf is not a finite number"),
])
def test_numbers_are_finite_and_bounded_in_every_section(tmp_path, text, message):
    """Checked where read, for every codec section whether the run selects it or not (``bench
    run`` loads the file checking only its own codecs against their classes)."""
    path = tmp_path / "bench.toml"
    path.write_text('[run]\ncodecs = ["jpeg"]\n' + text if not text.startswith("[run]") else text)
    for selected in (None, ["bpg"] if '"bpg"' in text else ["jpeg"]):
        with pytest.raises(ConfigError) as error:
            config_module.load(path, codecs=selected).check_codecs()
        assert message in str(error.value)


def test_a_repeated_codec_or_dataset_runs_once(project):
    """`-c jpeg -c jpeg -d D -d D` and `codecs = ["jpeg", "jpeg"]`: 2 images × 2 rates = 4 rows, each key once."""
    data = str(project / "data")
    code, out, err = bench("run", "-c", "jpeg", "-c", "jpeg", "-d", data, "-d", data, "--results", "twice")
    assert code == 0, err
    assert "2 images × 1 codec: 4 tasks" in err
    table = pq.read_table(project / "twice").to_pandas()
    assert len(table) == 4 and table["key"].is_unique
    config = config_module.parse({"run": {"codecs": ["jpeg", "webp", "jpeg"], "datasets": ["a", "a"]}})
    assert (config.codecs, config.datasets) == (["jpeg", "webp"], ["a"])


def test_a_data_folder_that_is_a_file_is_one_line(project, monkeypatch):
    (project / "afile").write_text("x")
    for value in ("afile", "afile/below"):
        monkeypatch.setenv("BENCH_DATA_DIR", str(project / value))
        code, out, err = bench("run", "-d", "kodak", "--limit", "1", "--results", "k")
        assert code == 2 and f"{project / 'afile'}: is a file, not a folder" in err and "BENCH_DATA_DIR" in err, err


def test_bench_toml_is_read_as_utf8_whatever_the_locale(tmp_path, monkeypatch):
    import locale

    path = tmp_path / "bench.toml"
    path.write_text('# café ×\n[run]\ncodecs = ["jpeg"]\n', encoding="utf-8")
    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a: "ascii")
    monkeypatch.setattr(locale, "getencoding", lambda: "ascii")
    assert config_module.load(path).codecs == ["jpeg"]
    path.write_bytes(b'[run]\ncodecs = ["jp\xffeg"]\n')
    with pytest.raises(ConfigError, match=r"bench\.toml: not UTF-8 text \(byte 19\); save it as UTF-8"):
        config_module.load(path)
    os.remove(path)
    os.mkfifo(path)
    with pytest.raises(ConfigError, match="not a regular file"):
        config_module.load(path)


# -- images: one rule for every container ---------------------------------------------------------
def rgb(seed: int = 0, size: int = 16) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def ppm(path: Path, maxval: int, samples: np.ndarray) -> Path:
    dtype = ">u2" if maxval > 255 else np.uint8
    path.write_bytes(f"P6\n{samples.shape[1]} {samples.shape[0]}\n{maxval}\n".encode() + samples.astype(dtype).tobytes())
    return path


def bmp16(path: Path) -> Path:
    import struct

    pixels = b"\x1f\x00" * 4
    header = struct.pack("<2sIHHI", b"BM", 54 + len(pixels), 0, 0, 54)
    path.write_bytes(header + struct.pack("<IiiHHIIiiII", 40, 2, 2, 1, 16, 0, len(pixels), 2835, 2835, 0, 0) + pixels)
    return path


def frames(path: Path) -> Path:
    Image.fromarray(rgb(1)).save(path, save_all=True, append_images=[Image.fromarray(rgb(2))])
    return path


def rotated(path: Path) -> Path:
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb()).save(path, exif=exif)
    return path


def tiff16(path: Path) -> Path:
    import tifffile

    tifffile.imwrite(path, rgb().astype(np.uint16) * 257)
    return path


@pytest.mark.parametrize("make, message", [
    (lambda d: tiff16(d / "deep.tif"), "samples stored as RGB;16"),
    (lambda d: ppm(d / "deep.ppm", 65535, rgb().astype(np.uint16) * 257), "maximum sample value 65535, not 8 bits"),
    (lambda d: ppm(d / "low.ppm", 100, rgb() // 3), "maximum sample value 100, not 8 bits"),
    (lambda d: bmp16(d / "565.bmp"), "samples stored as BGR;15, not 8 bits per channel"),
    (lambda d: frames(d / "anim.png"), "2 frames (animation or multi-page)"),
    (lambda d: frames(d / "anim.webp"), "2 frames (animation or multi-page)"),
    (lambda d: frames(d / "pages.tif"), "2 frames (animation or multi-page)"),
    (lambda d: rotated(d / "turned.jpg"), "EXIF orientation 6 (shown rotated or mirrored)"),
    (lambda d: rotated(d / "turned.png"), "EXIF orientation 6"),
    (lambda d: Image.fromarray(rgb()).convert("CMYK").save(d / "c.jpg") or d / "c.jpg", "colour mode CMYK"),
    (lambda d: Image.fromarray(rgb()).save(d / "g.png", format="GIF") or d / "g.png", "a GIF file; bench reads PNG"),
])
def test_images_that_would_change_pixels_are_refused(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ImageError) as error:
        load_rgb8(path, min_side=1)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


@pytest.mark.parametrize("suffix, options", [("tif", {}), ("ppm", {}), ("bmp", {}), ("webp", {"lossless": True}), ("png", {})])
def test_8_bit_rgb_reads_exactly_in_every_container(tmp_path, suffix, options):
    pixels = rgb(3)
    Image.fromarray(pixels).save(tmp_path / f"a.{suffix}", **options)
    assert np.array_equal(load_rgb8(tmp_path / f"a.{suffix}", min_side=1), pixels)


def test_exif_orientation_1_is_read_as_stored(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 1
    Image.fromarray(rgb()).save(tmp_path / "up.png", exif=exif)
    assert np.array_equal(load_rgb8(tmp_path / "up.png", min_side=1), rgb())


def test_no_decompression_bomb_warning_beside_the_line(tmp_path, monkeypatch, recwarn):
    Image.fromarray(rgb(size=64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3000)  # 4096 pixels: above the warning, below the error
    load_rgb8(tmp_path / "big.png", min_side=1)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(ImageError, match="refused as a possible decompression bomb"):
        load_rgb8(tmp_path / "big.png", min_side=1)
    assert not [w for w in recwarn if issubclass(w.category, Image.DecompressionBombWarning)]


# -- bench compare fails closed --------------------------------------------------------------------
@pytest.mark.parametrize("name, message", [
    ("bpp zero", "successful row(s) where bpp is not a positive finite number"),
    ("bpp nan", "successful row(s) where bpp is not a positive finite number"),
    ("bpp as strings", "column bpp is string"),
    ("rate as strings", "column rate is string"),
])
def test_compare_refuses_a_damaged_store_on_either_side(project, name, message):
    assert bench("run")[0] == 0
    damaged = project / "damaged"
    shutil.copytree(project / "res", damaged)
    CORRUPTIONS[name](damaged, random.Random(SEED))
    for pair in ((damaged, project / "res"), (project / "res", damaged)):
        code, out, err = bench("compare", *map(str, pair))
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert "no regression" not in out


def test_compare_refuses_an_empty_baseline(project):
    assert bench("run")[0] == 0
    empty = project / "empty"
    shutil.copytree(project / "res", empty)
    table = part_table(empty)
    for part in Store(empty).parts():
        part.unlink()
    write_part(empty, table.filter(pa.array([False] * table.num_rows)))
    code, out, err = bench("compare", str(empty), str(project / "res"))
    assert code == 2 and "no successful rows to compare" in err, err


def test_store_read_refuses_wrong_types_without_a_traceback(tmp_path):
    store = tmp_path / "s"
    store.mkdir()
    from bench.store import rows_to_table

    table = rows_to_table([{"key": "k", "dataset": "d", "codec": "c", "image": "i", "rate": 1.0, "bpp": 1.0}])
    write_part(store, replace_column(table, "bpp", ["1.0"]))
    with pytest.raises(ResultsError, match="column bpp is string, schema version"):
        Store(store).read()


# -- checkpoints: declared sizes before inflating ---------------------------------------------------
def test_a_zip_bomb_checkpoint_is_refused_before_torch_inflates_it(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")
    from bench_codecs.inn import coding

    torch.save({"w": torch.zeros(4)}, tmp_path / "ok.pt")
    with zipfile.ZipFile(tmp_path / "ok.pt") as source, zipfile.ZipFile(tmp_path / "bomb.pt", "w") as bomb:
        for info in source.infolist():
            data = bytes(20_000_000) if info.filename.endswith("data/0") else source.read(info)
            bomb.writestr(info.filename, data, compress_type=zipfile.ZIP_DEFLATED)
    assert (tmp_path / "bomb.pt").stat().st_size < 100_000
    assert set(coding.load_state_dict(tmp_path / "ok.pt")) == {"w"}
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load reached"))
    with pytest.raises(Exception, match=r"bomb\.pt: its zip members declare 20,000,\d+ bytes from a \d[\d,]*-byte file"):
        coding.load_state_dict(tmp_path / "bomb.pt", "codec 'iat': params.checkpoint")
