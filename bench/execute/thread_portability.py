"""The determinism check's decode at a second torch thread count.

A learned codec's bitstream must decode the same on any machine, device and ``--jobs`` (a run
gives each of n workers cpus/n torch threads). Two decodes in one process cannot see a codec
whose entropy model depends on the thread count: it decodes its own bitstream both times and
fails only where the count differs. So the check decodes once more at another count.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

#: Most a decode at another thread count may differ from the worker's, on the 0–255 scale: the
#: synthesis transforms are floating-point convolutions whose sums may be ordered differently,
#: so a pixel may round to the next level (docs/inn-codecs.md, "Portable bitstreams").
LEVEL_TOLERANCE = 1.0


def other_thread_count(current: int) -> int:
    """A thread count other than ``current``: 2 for a one-thread worker, else 1."""
    return 2 if current == 1 else 1


def decodes_alike_at_other_thread_count(decode: Callable[..., np.ndarray], data: bytes,
                                        decoder_options: dict[str, Any], reference: np.ndarray) -> bool:
    """Whether ``decode(data)`` at another torch thread count comes within LEVEL_TOLERANCE of
    ``reference``; the caller's count is restored afterwards."""
    import torch  # only learned codecs come here; classical runs never load torch

    threads = torch.get_num_threads()
    torch.set_num_threads(other_thread_count(threads))
    try:
        again = decode(data, **decoder_options)
    except Exception:  # noqa: BLE001 - a bitstream that fails at another count is what this check catches
        return False
    finally:
        torch.set_num_threads(threads)
    if again.shape != reference.shape:
        return False
    return float(np.abs(again.astype(np.float64) - reference.astype(np.float64)).max(initial=0.0)) <= LEVEL_TOLERANCE
