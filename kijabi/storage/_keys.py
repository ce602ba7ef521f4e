"""Key ranges: turning a key prefix into a half-open range `[start, end)` that an ordered index can seek.

Keys are compared code point by code point (Python `str` order), which is the same order as byte-wise
comparison of their UTF-8 encodings: SQLite's BINARY collation and etcd's byte keys agree with it.
"""

from __future__ import annotations

_MAX_CHAR = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_end(prefix: str) -> str | None:
    """The smallest key greater than every key that starts with `prefix`; None when there is none
    (the range is unbounded above: empty prefix, or a prefix made only of U+10FFFF)."""
    stem = prefix.rstrip(chr(_MAX_CHAR))
    if not stem:
        return None
    nxt = ord(stem[-1]) + 1
    if nxt in _SURROGATES:  # surrogates cannot be encoded; the next encodable code point is U+E000
        nxt = _SURROGATES.stop
    return stem[:-1] + chr(nxt)


def prefix_range(prefix: str) -> tuple[str, str | None]:
    """`[start, end)` holding exactly the keys that start with `prefix` (end None: unbounded)."""
    return prefix, prefix_end(prefix)
