"""The subprocess runner and the command lines of BPG / VTM / VVenC, without the real binaries."""

import sys
from pathlib import Path

import numpy as np
import pytest

from bench.codec import make_codec
from bench.errors import CodecFailure, CodecUnavailable, ConfigError
from bench_codecs import subprocess_runner as sp
from bench_codecs.bpg import BpgCodec
from bench_codecs.vtm import VtmCodec


def fake_tool(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(f"#!{sys.executable}\nimport sys\n{body}\n")
    path.chmod(0o755)
    return path


def test_run_failure_is_one_line_with_stderr_tail(tmp_path):
    tool = fake_tool(tmp_path, "tool", "sys.stderr.write('x' * 2000 + '\\nbad input\\nline two\\n'); sys.exit(3)")
    with pytest.raises(CodecFailure) as info:
        sp.run([tool, "a b"], 10, "codec t")
    text = str(info.value)
    assert "\n" not in text and "exited with 3" in text and text.endswith("bad input line two")
    assert len(text) < sp.STDERR_LIMIT + 100


def test_run_timeout_and_missing_binary(tmp_path):
    tool = fake_tool(tmp_path, "slow", "import time; time.sleep(5)")
    with pytest.raises(CodecFailure, match="timed out after 0.3 s"):
        sp.run([tool], 0.3, "codec t")
    with pytest.raises(CodecUnavailable, match="not found"):
        sp.run([tmp_path / "nope"], 1, "codec t")


def test_arguments_with_spaces_reach_the_tool_unsplit(tmp_path):
    tool = fake_tool(tmp_path, "echo args", "print(repr(sys.argv[1:]))")
    done = sp.run([tool, "a b", "$HOME;rm"], 10, "t")
    assert done.stdout.decode().strip() == repr(["a b", "$HOME;rm"])


def test_task_dir_removed_even_on_error():
    with pytest.raises(RuntimeError):
        with sp.task_dir("t") as folder:
            (folder / "f").write_bytes(b"1")
            raise RuntimeError
    assert not folder.exists()


def test_probe_version_cached(tmp_path):
    counter = tmp_path / "n"
    tool = fake_tool(tmp_path, "v", f"open({str(counter)!r}, 'a').write('x'); print('banner'); print('Tool version 1.2')")
    assert sp.probe_version(str(tool), ("-h",), "version") == "Tool version 1.2"
    assert sp.probe_version(str(tool), ("-h",), "version") == "Tool version 1.2"
    assert counter.read_text() == "x"


def test_missing_binaries_give_one_clear_line(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    for var in ("BENCH_BPGENC", "BENCH_BPGDEC", "BENCH_VTM_DIR", "BENCH_VTM_ENCODERAPP", "BENCH_VTM_DECODERAPP"):
        monkeypatch.delenv(var, raising=False)
    for cls, needle in ((BpgCodec, "BENCH_BPGENC"), (VtmCodec, "BENCH_VTM_DIR")):
        reason = cls.unavailable_reason()
        assert reason and "\n" not in reason and needle in reason and "docs/reference-codecs.md" in reason
    with pytest.raises(CodecUnavailable, match="unavailable: bpgenc and bpgdec not found"):
        make_codec("bpg", {})


def test_env_vars_make_binaries_found(monkeypatch, tmp_path):
    enc, dec = fake_tool(tmp_path, "my bpgenc", ""), fake_tool(tmp_path, "my bpgdec", "")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("BENCH_BPGENC", str(enc))
    monkeypatch.setenv("BENCH_BPGDEC", str(dec))
    assert BpgCodec.unavailable_reason() is None
    (tmp_path / "vtm bin").mkdir()
    for n in ("EncoderApp", "DecoderApp"):
        fake_tool(tmp_path / "vtm bin", n, "")
    monkeypatch.setenv("BENCH_VTM_DIR", str(tmp_path / "vtm bin"))
    assert VtmCodec.unavailable_reason() is None
    assert VtmCodec()._binary("encoder_app", "EncoderApp") == str(tmp_path / "vtm bin" / "EncoderApp")


def test_bpg_command_line(monkeypatch, tmp_path):
    enc = fake_tool(tmp_path, "bpgenc", "")
    monkeypatch.setenv("BENCH_BPGENC", str(enc))
    args = BpgCodec(encoder="jctvc", speed=3).encode_args("in.png", "o.bpg", 32)
    assert args == [str(enc), "-q", "32", "-f", "444", "-e", "jctvc", "-c", "ycbcr", "-b", "8", "-m", "3", "-o", "o.bpg", "in.png"]
    assert "-f 444 -e x265 -c ycbcr -b 8 -m 8" in BpgCodec().describe(27)
    for bad in ({"encoder": "x264"}, {"chroma": "400"}, {"speed": 0}, {"psnr_reference": "y"}, {"color_space": "rgb2"}):
        with pytest.raises(ConfigError):
            BpgCodec(**bad)


def test_bpg_runs_fake_binaries_and_removes_temp_files(monkeypatch, tmp_path):
    # A fake encoder that copies the PNG and a fake decoder that copies it back: checks the
    # plumbing (files, paths with spaces, temp dir cleanup), not BPG.
    enc = fake_tool(tmp_path, "bpgenc", "import shutil; a = sys.argv; shutil.copy(a[-1], a[a.index('-o') + 1])")
    dec = fake_tool(tmp_path, "bpgdec", "import shutil; a = sys.argv; shutil.copy(a[-1], a[a.index('-o') + 1])")
    monkeypatch.setenv("BENCH_BPGENC", str(enc))
    monkeypatch.setenv("BENCH_BPGDEC", str(dec))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)
    img = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    codec = BpgCodec()
    data = codec.encode(img, 30)
    assert data[:4] == b"\x89PNG" and np.array_equal(codec.decode(data), img)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_vtm_command_line_and_padding(monkeypatch, tmp_path):
    fake_tool(tmp_path, "EncoderApp", "")
    monkeypatch.setenv("BENCH_VTM_DIR", str(tmp_path))
    args = VtmCodec().encode_args("c.cfg", "in.yuv", "o.bin", 771, 513, 27)
    for flag in ("--InputChromaFormat=444", "--ChromaFormatIDC=444", "--InternalBitDepth=10", "--InputBitDepth=10",
                 "--ConformanceWindowMode=1", "--QP=27", "--SourceWidth=771", "--SourceHeight=513"):
        assert flag in args
    assert args[args.index("-c") + 1] == "c.cfg"
    assert VtmCodec(bit_depth=8).encode_args("c", "i", "o", 8, 8, 22).count("--InternalBitDepth=8") == 1
    # CompressAI's set-up: 8-bit input and output, 10-bit internal depth
    args = VtmCodec(input_bit_depth=8, bit_depth=10).encode_args("c", "i", "o", 8, 8, 22)
    assert {"--InputBitDepth=8", "--OutputBitDepth=8", "--InternalBitDepth=10"} <= set(args)
    assert VtmCodec.padded(513, 771) == (520, 776) and VtmCodec.padded(512, 768) == (512, 768)
    from bench_codecs.vtm import INTRA_CFG
    assert "IntraPeriod : 1" in INTRA_CFG and "FramesToBeEncoded : 1" in INTRA_CFG
    with pytest.raises(ConfigError):
        VtmCodec(matrix="bt2020")


def vtm_tree(root: Path, cfg_text: str = "CTUSize : 128\nLCTUFast : 1\n") -> Path:
    """A VTM source tree as its build leaves it: cfg/ at the top, the apps deep under bin/."""
    apps = root / "bin" / "umake" / "gcc-12" / "x86_64" / "release"
    apps.mkdir(parents=True)
    # the fake encoder keeps the configuration it was given and writes a bitstream
    fake_tool(apps, "EncoderApp", "import shutil; a = sys.argv; shutil.copy(a[a.index('-c') + 1], a[a.index('-b') + 1] + '.cfg'); "
                                  "open(a[a.index('-b') + 1], 'wb').write(b'vvc')")
    fake_tool(apps, "DecoderApp", "pass")
    (root / "cfg").mkdir()
    (root / "cfg" / "encoder_intra_vtm.cfg").write_text(cfg_text)
    return apps


def test_vtm_default_profile_is_the_official_intra_file_found_beside_the_apps(monkeypatch, tmp_path):
    import hashlib

    apps = vtm_tree(tmp_path / "VTM")
    for var in ("BENCH_VTM_CFG", "BENCH_VTM_ENCODERAPP", "BENCH_VTM_DECODERAPP"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BENCH_VTM_DIR", str(apps))
    official = tmp_path / "VTM" / "cfg" / "encoder_intra_vtm.cfg"
    codec = VtmCodec()
    assert codec.params["profile"] == "vtm-intra" and codec.configuration == (str(official), official.read_text())
    digest = hashlib.sha256(official.read_bytes()).hexdigest()
    assert codec.version().endswith(f"vtm-intra cfg sha256 {digest[:16]}")
    command = codec.describe(37)
    assert f"-c {official}" in command and command.endswith(f"# vtm-intra cfg sha256 {digest}")
    assert "--QP=37" in command and "--SourceWidth=W --SourceHeight=H" in command
    # the encoder receives exactly the hashed text
    seen = {}
    real_run = sp.run

    def spy(args, *rest, **kwargs):
        done = real_run(args, *rest, **kwargs)
        target = Path(args[args.index("-b") + 1])
        seen["cfg"] = Path(str(target) + ".cfg").read_text()
        return done

    monkeypatch.setattr(sp, "run", spy)
    assert codec.encode(np.zeros((16, 16, 3), np.uint8), 37) == b"vvc"
    assert seen["cfg"] == official.read_text()
    # editing the file changes the version of a codec built afterwards: stored rows are not reused
    official.write_text(official.read_text() + "FastMIP : 0\n")
    assert VtmCodec().version() != codec.version()
    # the written profile is the other choice, with its own hash
    from bench_codecs.vtm import INTRA_CFG
    written = VtmCodec(profile="bench-intra")
    assert written.configuration == ("intra.cfg", INTRA_CFG)
    assert written.version().endswith(f"bench-intra cfg sha256 {hashlib.sha256(INTRA_CFG.encode()).hexdigest()[:16]}")


def test_vtm_official_file_missing_or_misnamed_is_one_clear_line(monkeypatch, tmp_path):
    fake_tool(tmp_path, "EncoderApp", "")
    monkeypatch.setenv("BENCH_VTM_DIR", str(tmp_path))
    monkeypatch.delenv("BENCH_VTM_CFG", raising=False)
    with pytest.raises(CodecUnavailable, match=r"cfg/encoder_intra_vtm.cfg \(profile vtm-intra\) not found.*"
                                               r"BENCH_VTM_CFG.*profile = \"bench-intra\""):
        VtmCodec().version()
    monkeypatch.setenv("BENCH_VTM_CFG", str(tmp_path / "nope.cfg"))
    with pytest.raises(CodecUnavailable, match=r"BENCH_VTM_CFG .*nope.cfg' is not a file"):
        VtmCodec().version()
    given = tmp_path / "mine.cfg"
    given.write_text("CTUSize : 64\n")
    assert VtmCodec(config_file=str(given)).configuration == (str(given), "CTUSize : 64\n")
    with pytest.raises(ConfigError, match="config_file is the file of profile"):
        VtmCodec(profile="bench-intra", config_file=str(given))
    with pytest.raises(ConfigError, match="expected one of"):
        VtmCodec(profile="fast")


def test_vtm_decodes_at_the_input_bit_depth(monkeypatch, tmp_path):
    fake_tool(tmp_path, "DecoderApp", "print(sys.argv[1:]); sys.exit(1)")
    monkeypatch.setenv("BENCH_VTM_DIR", str(tmp_path))
    with pytest.raises(CodecFailure, match=r"'-d', '8'"):
        VtmCodec(input_bit_depth=8).decode(b"\x00")


def test_round_trip_reference_hook():
    codec = VtmCodec(psnr_reference="ycbcr-roundtrip")
    img = np.random.default_rng(3).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert codec.reference_name() == "ycbcr709-8bit-roundtrip"
    ref = codec.reference_image(img)
    assert ref.shape == img.shape and not np.array_equal(ref, img) and np.abs(ref.astype(int) - img).max() <= 1
    assert VtmCodec().reference_name() == "original" and VtmCodec().reference_image(img) is img
    assert BpgCodec(psnr_reference="ycbcr-roundtrip").reference_name() == "ycbcr601-8bit-roundtrip"


def test_plan_and_run_task_use_the_codec_reference(monkeypatch, tmp_path):
    """The core asks the codec for its PSNR reference (row 'reference' + the measured image)."""
    from PIL import Image

    from bench.execute import worker
    from bench.codec import Codec
    from bench.config.settings import CodecSpec
    from bench.plan.datasets import ImageRef
    from bench.plan.tasks import plan
    from bench.config.provenance import new_provenance
    from bench_codecs.yuv import RoundTripReference

    class Identity(RoundTripReference, Codec):  # lossless: PSNR then measures reference vs original
        name = "identity"
        param_defaults = {"psnr_reference": "original"}

        def version(self):
            return "1"

        def encode(self, image, rate):
            return np.ascontiguousarray(image).tobytes()

        def decode(self, data, **options):
            return np.frombuffer(data, np.uint8).reshape(self.shape)

    img = np.random.default_rng(4).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    Image.fromarray(img).save(tmp_path / "a.png")
    for setting, label in (("original", "original"), ("ycbcr-roundtrip", "ycbcr709-8bit-roundtrip")):
        codec = Identity(psnr_reference=setting)
        codec.shape = img.shape
        # plan() builds make_codec(impl, params) eagerly even when given the instance: use a registered impl
        spec = CodecSpec(label="id", impl="jpeg", params={}, rates=(1,))
        (task,) = plan([ImageRef("t", "a.png", tmp_path / "a.png")], [spec], {"id": codec})
        assert task.reference == label
        monkeypatch.setattr(worker, "codec_for", lambda impl, params, c=codec: c)
        row = worker.run_task(task, worker.Settings(metrics=("psnr_rgb",), check_determinism=False), new_provenance())
        assert not row.get("error") and row["reference"] == label
        mse = np.mean((codec.reference_image(img).astype(float) - img) ** 2)
        expected = float("inf") if mse == 0 else 10 * np.log10(255 ** 2 / mse)
        assert row["psnr_rgb"] == pytest.approx(expected)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie awaiting its reaper counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def _gone_soon(pid: int, seconds: float = 3.0) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _alive(pid)


def hanging_wrapper(tmp_path: Path) -> tuple[Path, Path]:
    """A shell-script "codec binary" that starts a ``sleep 300`` child, records its PID and hangs."""
    pidfile = tmp_path / "child.pid"
    script = tmp_path / "wrapper codec"
    script.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > '{pidfile}'\nwait\n")
    script.chmod(0o755)
    return script, pidfile


def test_timeout_kills_the_tools_children_too(tmp_path):
    script, pidfile = hanging_wrapper(tmp_path)
    with pytest.raises(CodecFailure, match="timed out after 0.5 s"):
        sp.run([script], 0.5, "codec t")
    assert _gone_soon(int(pidfile.read_text()))


def test_interrupt_while_waiting_kills_the_tools_children(tmp_path):
    import signal

    script, pidfile = hanging_wrapper(tmp_path)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(KeyboardInterrupt):
            sp.run([script], 60, "codec t")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert pidfile.exists() and _gone_soon(int(pidfile.read_text()))


def test_tool_output_is_sanitised_before_it_reaches_a_message(tmp_path):
    junk = "\x1b[31mred\x07 \x1b]0;title\x07\x00bell\r\nnext\x1b[0m"
    tool = fake_tool(tmp_path, "noisy", f"sys.stderr.write({junk!r}); sys.exit(2)")
    with pytest.raises(CodecFailure) as info:
        sp.run([tool], 10, "codec t")
    text = str(info.value)
    assert text.endswith("exited with 2: red bell next")
    assert text.isprintable() and "\x1b" not in text
    versioned = fake_tool(tmp_path, "versioned", f"print({'Tool version 2' + junk!r})")
    assert sp.probe_version(str(versioned), (), "version") == "Tool version 2red bell"


@pytest.fixture
def fake_bpg(monkeypatch, tmp_path):
    """Install fake bpgenc/bpgdec built from the given bodies; returns the installer."""

    def install(enc_body: str, dec_body: str) -> BpgCodec:
        monkeypatch.setenv("BENCH_BPGENC", str(fake_tool(tmp_path, "bpgenc", enc_body)))
        monkeypatch.setenv("BENCH_BPGDEC", str(fake_tool(tmp_path, "bpgdec", dec_body)))
        return BpgCodec()

    return install


COPY = "import shutil; a = sys.argv; shutil.copy(a[-1], a[a.index('-o') + 1])"
IMG = np.random.default_rng(0).integers(0, 256, (9, 11, 3), dtype=np.uint8)


def test_encoder_exiting_0_without_output_is_named(fake_bpg):
    codec = fake_bpg("pass", COPY)
    with pytest.raises(CodecFailure, match=r"^codec bpg: bpgenc exited 0 but wrote no output file out\.bpg; check the binary$"):
        codec.encode(IMG, 30)


def test_decoder_exiting_0_without_output_is_named(fake_bpg):
    codec = fake_bpg(COPY, "pass")
    with pytest.raises(CodecFailure, match=r"^codec bpg: bpgdec exited 0 but wrote no output file"):
        codec.decode(codec.encode(IMG, 30))


def test_decoder_output_pillow_cannot_read_is_named(fake_bpg):
    garbage = "a = sys.argv; open(a[a.index('-o') + 1], 'wb').write(b'\\x89PNG\\r\\n\\x1a\\n' + bytes(40))"
    codec = fake_bpg(COPY, garbage)
    with pytest.raises(CodecFailure, match=r"^codec bpg: bpgdec exited 0 but its output is not a readable PNG .*check the binary$") as info:
        codec.decode(codec.encode(IMG, 30))
    assert "\n" not in str(info.value)


def test_vtm_decoder_exiting_0_without_output_is_named(monkeypatch, tmp_path):
    fake_tool(tmp_path, "DecoderApp", "pass")
    monkeypatch.setenv("BENCH_VTM_DIR", str(tmp_path))
    with pytest.raises(CodecFailure, match=r"^codec vtm: DecoderApp exited 0 but wrote no output file"):
        VtmCodec().decode(b"\x00\x00\x01")


def test_one_line_formatter_strips_escapes_and_control_characters():
    from bench.errors import ONE_LINE_LIMIT, ConfigError, one_line

    assert one_line("\x1b[1;31mfailed\x1b[0m:\r\n  bad\x00 \x07input\u202e\x1b]0;t\x07") == "failed: bad input"
    assert one_line(b"caf\xc3\xa9 \xff") == "café �"
    assert one_line(KeyError("x")) == "KeyError: 'x'" and one_line(ValueError()) == "ValueError"
    assert one_line(ConfigError("a\nb")) == "a b"
    long = one_line("x" * 10_000)
    assert len(long) == ONE_LINE_LIMIT and long.endswith("…")
    assert one_line("head " + "y" * 50, 10, keep="end") == "…" + "y" * 9


def test_binary_without_execute_permission_is_named(tmp_path):
    tool = fake_tool(tmp_path, "tool", "")
    tool.chmod(0o644)
    with pytest.raises(CodecUnavailable, match=r"^codec t: binary '.*tool' is not executable \(chmod \+x it"):
        sp.run([tool], 10, "codec t")
