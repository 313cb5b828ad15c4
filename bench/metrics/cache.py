"""A small per-process cache of metric state that depends only on the reference image.

Every codec × rate task of one image measures against the same reference, and tasks are planned
image by image, so a worker meets each reference many times in a row. Entries are keyed by the
reference's *content* (shape, dtype and a BLAKE2b digest of its bytes), never by object identity:
an ``id`` can be reused after an array is freed, and a wrong hit would be a silently wrong number.
Hashing a 768×512 image costs about a millisecond, far below one metric evaluation
(docs/metric-cache.md has the measurement).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Callable, Generic, Hashable, TypeVar

import numpy as np

T = TypeVar("T")

#: Reference images kept per metric and device: a worker moves on to the next image and rarely back.
CAPACITY = 4


def content_key(image: np.ndarray) -> tuple[tuple[int, ...], str, bytes]:
    """Shape, dtype and BLAKE2b digest of the bytes: equal exactly when the arrays are equal."""
    digest = hashlib.blake2b(np.ascontiguousarray(image).data, digest_size=32).digest()
    return tuple(image.shape), image.dtype.str, digest


class LruCache(Generic[T]):
    """At most ``capacity`` values, least recently used evicted first; safe to share between threads.

    ``hits`` and ``misses`` count lookups, so tests can tell a cold cache from a warm one.
    """

    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.hits = 0
        self.misses = 0
        self._values: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, build: Callable[[], T]) -> T:
        """The value stored under ``key``, built (outside the lock) and stored on a miss."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                self.hits += 1
                return self._values[key]
            self.misses += 1
        value = build()
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.capacity:
                self._values.popitem(last=False)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._values)
