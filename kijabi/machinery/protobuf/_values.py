"""JSON forms of the scalar-like Kubernetes types, the way Go's encoding/json writes them.

* metav1.Time: RFC 3339 in UTC with seconds precision ("2024-01-02T03:04:05Z"); Go's zero time is null.
* metav1.MicroTime: RFC 3339 in UTC with exactly six fractional digits.
* metav1.Duration: Go's `time.Duration.String()` ("1h0m0s", "1.5s", "300ms", "0s").
* resource.Quantity: the string, checked against upstream's grammar (not canonicalised here).
* float64: Go writes integral values without a fraction, so they become Python ints.
"""

from __future__ import annotations

import datetime
import functools
import math
import re

from kijabi.machinery import duration

# time.Time{}.Unix() in Go: 0001-01-01T00:00:00Z, the zero time that metav1.Time writes as null.
GO_ZERO_SECONDS = -62135596800
_EPOCH = datetime.datetime(1970, 1, 1)
_EPOCH_UTC = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_MAX_INT64 = (1 << 63) - 1


class ValueFormatError(ValueError):
    """A value that has no JSON form (or a JSON value that has no wire form)."""


@functools.lru_cache(maxsize=4096)  # objects repeat their timestamps; formatting costs ~2 µs
def format_time(seconds: int) -> str | None:
    if seconds == GO_ZERO_SECONDS:
        return None
    try:
        dt = _EPOCH + datetime.timedelta(seconds=seconds)
    except OverflowError:
        raise ValueFormatError(f"time {seconds}s since the epoch is out of range") from None
    return dt.isoformat() + "Z"


def format_micro_time(seconds: int, nanos: int) -> str | None:
    # Go truncates nanoseconds toward zero to whole microseconds, then normalises.
    micros = seconds * 1_000_000 + (nanos // 1000 if nanos >= 0 else -(-nanos // 1000))
    if micros == GO_ZERO_SECONDS * 1_000_000:
        return None
    try:
        dt = _EPOCH + datetime.timedelta(microseconds=micros)
    except OverflowError:
        raise ValueFormatError(f"time {seconds}s since the epoch is out of range") from None
    return dt.isoformat(timespec="microseconds") + "Z"


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:([Zz])|([+-])(\d{2}):(\d{2}))"
)


def parse_time(text: str) -> tuple[int, int]:
    """RFC 3339 text -> (seconds since the epoch, nanoseconds)."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        raise ValueFormatError(f"parsing time {text!r} as RFC 3339")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        dt = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.UTC)
    except ValueError as exc:
        raise ValueFormatError(f"parsing time {text!r}: {exc}") from None
    seconds = (dt - _EPOCH_UTC) // datetime.timedelta(seconds=1)
    if m.group(9):
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        seconds -= offset if m.group(9) == "+" else -offset
    nanos = int((m.group(7) or "0")[:9].ljust(9, "0"))
    return seconds, nanos


def format_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    u = -ns if ns < 0 else ns
    if u < 1_000_000_000:
        if u < 1_000:
            text = f"{u}ns"
        elif u < 1_000_000:
            text = _fraction(u, 3) + "\u00b5s"
        else:
            text = _fraction(u, 6) + "ms"
    else:
        whole, rest = divmod(u, 1_000_000_000)
        text = _fraction(whole % 60 * 1_000_000_000 + rest, 9) + "s"
        minutes = whole // 60
        if minutes:
            text = f"{minutes % 60}m{text}"
            hours = minutes // 60
            if hours:
                text = f"{hours}h{text}"
    return "-" + text if ns < 0 else text


def _fraction(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    if not frac:
        return str(whole)
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration: "1h2m3.5s" -> nanoseconds."""
    try:
        return duration.parse(text)
    except ValueError as exc:
        raise ValueFormatError(str(exc)) from None


# What upstream's ParseQuantity accepts: a sign, digits with at most one point (either part may be
# empty), then nothing, a binary suffix, a decimal suffix or a decimal exponent.
_QUANTITY = re.compile(r"[+-]?[0-9]*(?:\.[0-9]*)?(?:[KMGTPE]i|[numkMGTPE]|[eE][+-]?[0-9]+)?")


def check_quantity(text: str) -> str:
    if not text or _QUANTITY.fullmatch(text) is None:
        raise ValueFormatError(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    return text


def json_float(value: float) -> float | int:
    """A float64 as it reads back from Go's JSON: integral values have no fraction."""
    if math.isnan(value) or math.isinf(value):
        raise ValueFormatError(f"json: unsupported value: {value}")
    if value.is_integer() and abs(value) < 1e21:
        return int(value)
    return value
