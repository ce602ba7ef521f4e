"""Object metadata helpers shared by every layer."""

from __future__ import annotations

import datetime as _dt
import secrets
import uuid
from typing import Any

_GENERATE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def rfc3339(ts: float) -> str:
    """A Unix time as Kubernetes writes metav1.Time: RFC 3339, seconds, UTC, `Z`."""
    return _dt.datetime.fromtimestamp(int(ts), _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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


def new_uid() -> str:
    return str(uuid.uuid4())


def metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta
