"""Shared fixtures: where the local dataset copies are, and small synthetic images."""

from __future__ import annotations

import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BENCH_SHARED", REPO.parent / "shared"))
#: The datasets folder: BENCH_DATA_DIR when the machine sets it (as a user would), else the
#: shared checkout's ``datasets`` (BENCH_SHARED).
DATA_DIR = Path(os.environ["BENCH_DATA_DIR"]) if os.environ.get("BENCH_DATA_DIR") else SHARED / "datasets"


@pytest.fixture(autouse=True)
def _local_data(monkeypatch, tmp_path_factory):
    """Named datasets resolve to the local copies; caches stay inside the test session."""
    monkeypatch.setenv("BENCH_DATA_DIR", str(DATA_DIR))


def kodak_folder() -> Path:
    """The local Kodak copy, or a skip that says where it was looked for."""
    folder = DATA_DIR / "kodak"
    if not (folder / "kodim01.png").is_file():
        pytest.skip(f"Kodak copies not found under {folder} (set BENCH_DATA_DIR or BENCH_SHARED)")
    return folder


@pytest.fixture
def kodak_dir() -> Path:
    return kodak_folder()


@pytest.fixture(scope="module")
def kodak_module_dir() -> Path:
    """``kodak_dir`` for module-scoped fixtures (a store built once per test module)."""
    return kodak_folder()


@pytest.fixture
def photo() -> np.ndarray:
    """A natural RGB photo (scikit-image's astronaut, 512×512) that needs no download."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture
def tiny(tmp_path, photo) -> Path:
    """A dataset folder of one 64×64 crop of ``photo``: the smallest real image a learned codec codes."""
    from PIL import Image

    folder = tmp_path / "tiny"
    folder.mkdir()
    Image.fromarray(photo[100:164, 200:264]).save(folder / "a.png")
    return folder


@pytest.fixture
def image() -> np.ndarray:
    """A small 45×37 gradient with noise: odd sizes exercise the learned codecs' padding."""
    rng = np.random.default_rng(0)
    base = np.linspace(40, 200, 45 * 37 * 3).reshape(45, 37, 3)
    return np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (its tiny models gain nothing from more), restored after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def compressai_checkpoint(tmp_path):
    """A factory of seeded CompressAI checkpoints in tmp_path (see ``seeded_compressai_checkpoint``)."""
    def make(architecture: str, channels: int = 8, updated: bool = True) -> Path:
        path = tmp_path / f"{architecture}-{channels}{'' if updated else '-not-updated'}.pt"
        return seeded_compressai_checkpoint(path, architecture, channels, updated)

    return make


def seeded_compressai_checkpoint(path: Path, architecture: str, channels: int = 8, updated: bool = True) -> Path:
    """A CompressAI zoo architecture with seeded random weights and ``channels`` for N and M (the
    smallest models code a crop in well under a second), saved as a bare state dict at ``path``.

    ``updated`` computes the CDF tables before saving, as the zoo's files have them; the
    variable-rate models are saved without, as CompressAI can load them only so (their
    bottleneck's tables are rate-dependent and computed per rate).
    """
    import torch
    from compressai.zoo.image import model_architectures
    from compressai.zoo.image_vbr import model_architectures as vbr_architectures

    torch.manual_seed(0)
    if architecture in vbr_architectures:
        extra = {"vr_entbttlnck": True} if architecture != "mbt2018-vbr" else {}
        model = vbr_architectures[architecture](N=channels, M=channels, **extra)
    else:
        sizes = {"N": channels} if architecture.startswith("cheng2020") else {"N": channels, "M": channels}
        model = model_architectures[architecture](**sizes)
        if updated:
            model.update(force=True)
    torch.save(model.state_dict(), path)
    return path


class Server:
    """A local HTTP server of one file at any path: honours Range, records each request's Range
    header (``ranges``: one entry per request), and can cut the first response short."""

    def __init__(self, data: bytes, truncate_first: bool = False):
        self.data, self.truncate_first, self.ranges = data, truncate_first, []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                start = 0
                header = self.headers.get("Range")
                outer.ranges.append(header)
                if header:
                    start = int(header.split("=")[1].split("-")[0])
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(outer.data) - 1}/{len(outer.data)}")
                else:
                    self.send_response(200)
                body = outer.data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.truncate_first:
                    outer.truncate_first = False
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(2)
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/files"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def local_server():
    """Local HTTP servers of one file each (``local_server(data, truncate_first=...)``), shut down
    after the test: the downloads of dataset archives and of codec weights are tested against them."""
    servers = []

    def make(data: bytes, truncate_first: bool = False) -> Server:
        servers.append(Server(data, truncate_first))
        return servers[-1]

    yield make
    for server in servers:
        server.close()
