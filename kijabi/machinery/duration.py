"""Go durations (time.ParseDuration): the form of every duration flag and metav1.Duration value.

`parse` follows Go's parser step by step, so that its errors carry Go's text (`time: invalid
duration "x"`, `time: missing unit in duration "1"`, `time: unknown unit "d" in duration "1d"`), which
the API server quotes in validation messages.
"""

from __future__ import annotations

import re

_MAX_INT64 = (1 << 63) - 1
_UNITS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # U+00B5 micro sign
    "\u03bcs": 1_000,  # U+03BC Greek small letter mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_NUMBER = re.compile(r"\d+(?:\.\d*)?")
_DIGITS = re.compile(r"\d*")
_UNIT = re.compile(r"[^0-9.]*")


def parse(text: str) -> int:
    """Go's time.ParseDuration: "1h2m3.5s" -> nanoseconds; ValueError with Go's message."""
    invalid = ValueError(f'time: invalid duration "{text}"')
    s = text
    neg = s[:1] == "-"
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    pos = 0
    while pos < len(s):
        if not (s[pos] == "." or s[pos].isdigit()):
            raise invalid
        whole = _DIGITS.match(s, pos)
        assert whole is not None
        pos = whole.end()
        frac = ""
        if pos < len(s) and s[pos] == ".":
            m = _DIGITS.match(s, pos + 1)
            assert m is not None
            frac, pos = m.group(), m.end()
            if not whole.group() and not frac:
                raise invalid
        elif not whole.group():
            raise invalid
        unit_match = _UNIT.match(s, pos)
        assert unit_match is not None
        unit = unit_match.group()
        if not unit:
            raise ValueError(f'time: missing unit in duration "{text}"')
        if unit not in _UNITS:
            raise ValueError(f'time: unknown unit "{unit}" in duration "{text}"')
        pos = unit_match.end()
        scale = _UNITS[unit]
        total += int(whole.group() or "0") * scale + (int(frac) * scale // 10 ** len(frac) if frac else 0)
        if total > _MAX_INT64 + (1 if neg else 0):
            raise invalid
    return -total if neg else total


def seconds(text: str) -> float:
    """A Go duration ("40s", "1m30s", "100ms") in seconds; a bare number is taken as seconds."""
    if _NUMBER.fullmatch(text):
        return float(text)
    return parse(text) / 1e9
