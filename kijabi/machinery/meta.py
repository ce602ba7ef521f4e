"""Object metadata helpers shared by every layer."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import secrets
from typing import Any

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def rfc3339(ts: float) -> str:
    """A Unix time as Kubernetes writes metav1.Time: RFC 3339, seconds, UTC, `Z`."""
    return _rfc3339_second(int(ts))


@functools.lru_cache(maxsize=64)  # every write within a second asks for the same text
def _rfc3339_second(second: int) -> str:
    return _dt.datetime.fromtimestamp(second, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(ts: float) -> str:
    """metav1.MicroTime: RFC 3339 with microseconds."""
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp; ValueError if malformed."""
    return _dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def generate_name(prefix: str) -> str:
    """`generateName` + 5 random characters from upstream's alphabet (prefix cut to fit 63)."""
    if len(prefix) > 58:
        prefix = prefix[:58]
    return prefix + "".join(secrets.choice(_GENERATE_ALPHABET) for _ in range(5))


class _Uids:
    """Random (version 4) UUIDs as `uuid.uuid4()` makes them, from one `os.urandom` call per 256:
    reading the kernel's random source releases the GIL, which a busy server then waits to get back
    from the storage writer thread on every create."""

    BATCH = 256

    def __init__(self) -> None:
        self._pool = bytearray()
        self._pid = 0

    def __call__(self) -> str:
        pool = self._pool
        if len(pool) < 16 or self._pid != os.getpid():  # a forked child must not reuse the parent's bytes
            pool = self._pool = bytearray(os.urandom(16 * self.BATCH))
            self._pid = os.getpid()
        b = pool[-16:]
        del pool[-16:]
        b[6] = (b[6] & 0x0F) | 0x40  # version 4
        b[8] = (b[8] & 0x3F) | 0x80  # RFC 4122 variant
        h = b.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


new_uid = _Uids()


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta
