"""Planning: every task of a run is known, and keyed, before any work starts.

A task's key hashes everything that determines its result (image bytes, codec implementation,
version and parameters, rate, decoder options, generation, metric reference, schema version),
so finished tasks are found in the store and dropped here: resuming is free, and changing a
codec's version or parameters invalidates exactly its rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from bench.codec import Codec, canonical_json, make_codec
from bench.config import CodecSpec
from bench.datasets import ImageRef
from bench.images import file_sha256
from bench.schema import SCHEMA_VERSION


@dataclass(frozen=True)
class Task:
    """One (image, codec, rate, decoder options, generation) measurement."""

    dataset: str
    image: str
    image_path: Path
    image_sha256: str
    codec: str
    codec_impl: str
    codec_version: str
    params: dict[str, Any] = field(hash=False)
    rate_parameter: str = "quality"
    rate: float = 0.0
    decoder_options: dict[str, Any] = field(default_factory=dict, hash=False)
    generation: int = 1
    chain: str = ""
    reference: str = "original"

    def identity(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset, "image_sha256": self.image_sha256, "codec": self.codec,
            "codec_impl": self.codec_impl, "codec_version": self.codec_version,
            "params": canonical_json(self.params), "rate": float(self.rate),
            "decoder_options": canonical_json(self.decoder_options), "generation": self.generation,
            "chain": self.chain, "reference": self.reference, "schema_version": SCHEMA_VERSION,
        }

    @property
    def key(self) -> str:
        return hashlib.sha256(canonical_json(self.identity()).encode()).hexdigest()


def plan(images: Iterable[ImageRef], specs: list[CodecSpec], codecs: dict[str, Codec] | None = None) -> list[Task]:
    """All tasks for ``images`` × ``specs`` × rates × decoder options, in a stable order.

    ``codecs`` maps labels to instances already built (their ``version()`` enters the key);
    missing ones are built here.
    """
    codecs = dict(codecs or {})
    for spec in specs:
        codecs.setdefault(spec.label, make_codec(spec.impl, spec.params))
    tasks = []
    for ref in images:
        digest = file_sha256(ref.path)
        for spec in specs:
            codec = codecs[spec.label]
            version = codec.version()
            for options in spec.decoder_options:
                for rate in spec.rates:
                    tasks.append(Task(
                        dataset=ref.dataset, image=ref.name, image_path=ref.path, image_sha256=digest,
                        codec=spec.label, codec_impl=spec.impl, codec_version=version,
                        params=codec.params, rate_parameter=codec.rate_parameter, rate=float(rate),
                        decoder_options=codec.check_decoder_options(options),
                        reference=getattr(codec, "reference_name", lambda: "original")(),
                    ))
    return tasks


def pending(tasks: list[Task], finished: set[str]) -> list[Task]:
    """Tasks whose key has no successful row yet."""
    return [t for t in tasks if t.key not in finished]
