"""Hand-built protobuf bytes for the tests, written independently of kijabi's encoder.

Field numbers in the tests are upstream's (k8s.io/api generated.proto, release 1.32).
"""

from __future__ import annotations

import struct

MAGIC = b"k8s\x00"


def varint(n: int) -> bytes:
    """Unsigned varint; negative numbers as Go writes int32/int64: ten-byte two's complement."""
    n &= (1 << 64) - 1
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def key(number: int, wire: int) -> bytes:
    return varint((number << 3) | wire)


def v(number: int, value: int) -> bytes:
    """A varint field (int32, int64, bool, enum)."""
    return key(number, 0) + varint(value)


def s(number: int, payload: bytes | str = b"") -> bytes:
    """A length-delimited field: a string, bytes, or an embedded message."""
    raw = payload.encode() if isinstance(payload, str) else payload
    return key(number, 2) + varint(len(raw)) + raw


def m(number: int, *fields: bytes) -> bytes:
    """An embedded message made of `fields`."""
    return s(number, b"".join(fields))


def d(number: int, value: float) -> bytes:
    """A double field."""
    return key(number, 1) + struct.pack("<d", value)


def entry(number: int, map_key: str, value: bytes | str) -> bytes:
    """One map entry: key(1) and value(2) (value given as a string or an encoded message body)."""
    return m(number, s(1, map_key), s(2, value))


def body(api_version: str, kind: str, raw: bytes, *, extra: bytes = b"\x1a\x00\x22\x00") -> bytes:
    """The request body: magic + runtime.Unknown{typeMeta{apiVersion, kind}, raw, ...}."""
    return MAGIC + m(1, s(1, api_version), s(2, kind)) + s(2, raw) + extra


def time(number: int, seconds: int, nanos: int = 0) -> bytes:
    """A metav1.Time / MicroTime field as Go writes it (seconds, then nanos)."""
    return m(number, v(1, seconds), v(2, nanos))
