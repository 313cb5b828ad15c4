"""An offline default: RGB photographs that ship inside the scikit-image wheel.

Lossless PNGs of 300–600 pixels a side, so ``bench run`` works on a machine with no network
and finishes in minutes. Not a benchmark dataset: use Kodak for published comparisons.
"""

from pathlib import Path

from bench.plan.datasets import NamedDataset


def _skimage_data_dir() -> Path:
    import skimage.data

    return Path(skimage.data.__file__).parent


SAMPLE = NamedDataset(
    name="sample",
    description="4 lossless RGB photos bundled with scikit-image (offline default)",
    local_root=_skimage_data_dir,
    local_names=("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png"),
)
