"""Go durations (time.ParseDuration): the form of every duration flag and metav1.Duration value."""

from __future__ import annotations

import re

_MAX_INT64 = (1 << 63) - 1

_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_NUMBER = re.compile(r"\d+(?:\.\d*)?")
_DURATION_PART = re.compile(r"(\d*)(?:\.(\d*))?([a-z\u00b5\u03bc]+)")


def parse(text: str) -> int:
    """Go's time.ParseDuration: "1h2m3.5s" -> nanoseconds."""
    s = text
    neg = s[:1] == "-"
    if s[:1] in "+-" and s:
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise ValueError(f'time: invalid duration "{text}"')
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if m is None or not (m.group(1) or m.group(2)) or m.group(3) not in _UNITS:
            raise ValueError(f'time: invalid duration "{text}"')
        unit = _UNITS[m.group(3)]
        frac = m.group(2) or ""
        total += int(m.group(1) or "0") * unit + (int(frac) * unit // 10 ** len(frac) if frac else 0)
        pos = m.end()
    if total > _MAX_INT64 + (1 if neg else 0):
        raise ValueError(f'time: invalid duration "{text}"')
    return -total if neg else total


def seconds(text: str) -> float:
    """A Go duration ("40s", "1m30s", "100ms") in seconds; a bare number is taken as seconds."""
    if _NUMBER.fullmatch(text):
        return float(text)
    return parse(text) / 1e9
