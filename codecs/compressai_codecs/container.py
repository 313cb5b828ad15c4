"""The container around a CompressAI model's own ``compress()`` strings.

A model's strings alone cannot be decoded: ``decompress()`` also needs the latent shape, and the
harness needs the image size (to crop the padding) and the rate (to pick the checkpoint or the
variable-rate scale). The header carries exactly that, and the model's name so that a bitstream
is never decoded by another model. Every byte counts towards bpp.

Layout (big-endian): format version (1 B), name length (1 B), name (ASCII), rate (float64),
height and width (2 × uint32), number of shape dimensions (1 B) and each (uint16), number of
strings (1 B), the length of each string but the last (uint32), the strings.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from bench.errors import CodecFailure, one_line

FORMAT_VERSION = 1
_COUNT = struct.Struct(">B")
_SIZE = struct.Struct(">dII")
_DIM = struct.Struct(">H")
_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class Container:
    """One encoded image: the model's name, the rate, the image size, ``decompress()``'s shape and strings."""

    model: str
    rate: float
    height: int
    width: int
    shape: tuple[int, ...]
    strings: tuple[bytes, ...]

    def pack(self) -> bytes:
        name = self.model.encode("ascii")
        parts = [_COUNT.pack(FORMAT_VERSION), _COUNT.pack(len(name)), name,
                 _SIZE.pack(self.rate, self.height, self.width), _COUNT.pack(len(self.shape)),
                 *(_DIM.pack(d) for d in self.shape), _COUNT.pack(len(self.strings)),
                 *(_LENGTH.pack(len(s)) for s in self.strings[:-1]), *self.strings]
        return b"".join(parts)

    @classmethod
    def unpack(cls, data: bytes) -> "Container":
        """The container in ``data``; CodecFailure in one line when it is not one this decoder reads."""
        try:
            return cls._read(memoryview(data))
        except (struct.error, UnicodeDecodeError, ValueError) as exc:
            raise CodecFailure(f"bitstream of {len(data)} bytes is not a CompressAI container ({one_line(exc, 120)})") from None

    @classmethod
    def _read(cls, data: memoryview) -> "Container":
        (version,) = _COUNT.unpack_from(data, 0)
        if version != FORMAT_VERSION:
            raise ValueError(f"format {version}, this decoder reads {FORMAT_VERSION}")
        (name_length,) = _COUNT.unpack_from(data, 1)
        at = 2 + name_length
        model = bytes(data[2:at]).decode("ascii")
        rate, height, width = _SIZE.unpack_from(data, at)
        at += _SIZE.size
        (dims,) = _COUNT.unpack_from(data, at)
        at += 1
        shape = tuple(_DIM.unpack_from(data, at + _DIM.size * i)[0] for i in range(dims))
        at += _DIM.size * dims
        (count,) = _COUNT.unpack_from(data, at)
        at += 1
        lengths = [_LENGTH.unpack_from(data, at + _LENGTH.size * i)[0] for i in range(max(count - 1, 0))]
        at += _LENGTH.size * len(lengths)
        strings = []
        for length in lengths:
            if at + length > len(data):
                raise ValueError("truncated")
            strings.append(bytes(data[at:at + length]))
            at += length
        if count:
            strings.append(bytes(data[at:]))
        return cls(model, rate, height, width, shape, tuple(strings))
