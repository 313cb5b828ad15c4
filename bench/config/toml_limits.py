"""Bounds on a TOML file checked before it is parsed: its size and how deep its arrays and
inline tables nest.

``tomllib`` parses nested arrays by recursion, so a bench.toml of a thousand ``[`` raises a
RecursionError (a traceback, not a message), and a file of gigabytes would be read whole into
memory. A bench.toml is a page of settings: far below both bounds.
"""

from __future__ import annotations

from pathlib import Path

from bench.errors import ConfigError

#: Largest config file read (1 MiB): a study's bench.toml is a few kilobytes.
MAX_CONFIG_BYTES = 2 ** 20
#: Deepest nesting of arrays and inline tables: bench's keys need three at most.
MAX_NESTING = 32


def check_size(size: int, path: Path) -> None:
    """One line when a config file is larger than MAX_CONFIG_BYTES, before it is read."""
    if size > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: {size} bytes, more than the {MAX_CONFIG_BYTES} a config file may have; "
                          "pass --config a bench.toml")


def check_nesting(text: str, path: Path) -> None:
    """One line when arrays or inline tables nest deeper than MAX_NESTING; brackets inside
    strings and comments are not counted."""
    depth, index, length = 0, 0, len(text)
    quote = ""
    while index < length:
        char = text[index]
        if quote:
            if text.startswith(quote, index):
                index, quote = index + len(quote), ""
                continue
            index += 2 if char == "\\" and quote[0] == '"' else 1
            continue
        if char == "#":
            newline = text.find("\n", index)
            index = length if newline < 0 else newline
            continue
        if char in "\"'":
            quote = text[index:index + 3] if text.startswith(char * 3, index) else char
            index += len(quote)
            continue
        if char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                line = text.count("\n", 0, index) + 1
                raise ConfigError(f"{path}: line {line}: arrays or tables nested more than {MAX_NESTING} deep; "
                                  "a bench.toml needs three at most")
        elif char in "]}":
            depth = max(depth - 1, 0)
        index += 1
