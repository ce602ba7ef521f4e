"""Go standard library parsers whose error texts reach API clients.

- `time_error(value, micro)`: `time.Parse(time.RFC3339, v)` (metav1.Time) or `time.Parse(RFC3339Micro,
  v)` (metav1.MicroTime); returns Go's `*time.ParseError` text, or None when the value parses.
- `base64_error(value)`: `base64.StdEncoding.Decode` (Go `[]byte` fields such as Secret data);
  returns `illegal base64 data at input byte N`, or None.
- `duration_ok(value)`: `time.ParseDuration`.

Go works on bytes, so positions and quoting are computed on the UTF-8 encoding of the value.
"""

from __future__ import annotations

import binascii

__all__ = ["base64_error", "duration_ok", "time_error"]

RFC3339 = "2006-01-02T15:04:05Z07:00"
RFC3339_MICRO = "2006-01-02T15:04:05.000000Z07:00"

# (literal prefix, element, layout text of the element); the last entry ends the layout.
_Y, _M, _D, _H, _MI, _S, _FRAC6, _TZ, _END = range(9)
_CHUNKS = [
    (b"", _Y, "2006"),
    (b"-", _M, "01"),
    (b"-", _D, "02"),
    (b"T", _H, "15"),
    (b":", _MI, "04"),
    (b":", _S, "05"),
]
_RFC3339_CHUNKS = [*_CHUNKS, (b"", _TZ, "Z07:00"), (b"", _END, "")]
_MICRO_CHUNKS = [*_CHUNKS, (b"", _FRAC6, ".000000"), (b"", _TZ, "Z07:00"), (b"", _END, "")]


def _tquote(b: bytes) -> str:
    """The time package's own `quote`: non-ASCII and control bytes as \\xNN."""
    out = ['"']
    for c in b:
        if c >= 0x80 or c < 0x20:
            out.append(f"\\x{c:02x}")
        elif c in (0x22, 0x5C):
            out.append("\\" + chr(c))
        else:
            out.append(chr(c))
    out.append('"')
    return "".join(out)


def _isdigit(b: bytes, i: int) -> bool:
    return len(b) > i and 0x30 <= b[i] <= 0x39


def _getnum(b: bytes, fixed: bool) -> tuple[int, bytes, bool]:
    if not _isdigit(b, 0):
        return 0, b, False
    if not _isdigit(b, 1):
        if fixed:
            return 0, b, False
        return b[0] - 0x30, b[1:], True
    return (b[0] - 0x30) * 10 + (b[1] - 0x30), b[2:], True


def _atoi(b: bytes) -> tuple[int, bool]:
    neg = False
    if b[:1] in (b"-", b"+"):
        neg = b[:1] == b"-"
        b = b[1:]
    i = 0
    x = 0
    while i < len(b) and 0x30 <= b[i] <= 0x39:
        x = x * 10 + b[i] - 0x30
        if x > 1 << 63:
            return 0, False
        i += 1
    if i < len(b):
        return 0, False
    return (-x if neg else x), True


def _nanos(b: bytes, n: int) -> tuple[str, bool]:
    """Go `parseNanoseconds`: (range error text, ok)."""
    if b[:1] not in (b".", b","):
        return "", False
    if n > 10:
        b = b[:10]
        n = 10
    ns, ok = _atoi(b[1:n])
    if not ok:
        return "", False
    if ns < 0:
        return "fractional second", True
    return "", True


def _days_in(month: int, year: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def time_error(value: str, micro: bool = False) -> str | None:
    """Go's error for parsing `value` as metav1.Time (RFC3339) or MicroTime; None if it parses."""
    layout = RFC3339_MICRO if micro else RFC3339
    chunks = _MICRO_CHUNKS if micro else _RFC3339_CHUNKS
    avalue = value.encode("utf-8", "surrogatepass")
    v = avalue

    def err(elem: str, rest: bytes, message: str = "") -> str:
        if message:
            return f"parsing time {_tquote(avalue)}{message}"
        return (
            f"parsing time {_tquote(avalue)} as {_tquote(layout.encode())}: "
            f"cannot parse {_tquote(rest)} as {_tquote(elem.encode())}"
        )

    year, month, day = 0, -1, -1
    for idx, (prefix, std, stdstr) in enumerate(chunks):
        if prefix:
            if not v.startswith(prefix):
                # skip() consumes the matching part of the prefix before failing.
                k = 0
                while k < len(prefix) and k < len(v) and v[k] == prefix[k]:
                    k += 1
                return err(prefix.decode(), v[k:])
            v = v[len(prefix) :]
        if std == _END:
            if v:
                return err("", v, ": extra text: " + _tquote(v))
            break
        hold = v
        ok = True
        range_err = ""
        if std == _Y:
            if len(v) < 4 or not _isdigit(v, 0):
                ok = False
            else:
                year, ok = _atoi(v[:4])
                v = v[4:]
        elif std == _M:
            month, v, ok = _getnum(v, True)
            if ok and not 1 <= month <= 12:
                range_err = "month"
        elif std == _D:
            day, v, ok = _getnum(v, True)
        elif std == _H:
            hour, v, ok = _getnum(v, False)
            if not 0 <= hour < 24:
                range_err = "hour"
        elif std == _MI:
            minute, v, ok = _getnum(v, True)
            if not 0 <= minute < 60:
                range_err = "minute"
        elif std == _S:
            sec, v, ok = _getnum(v, True)
            if ok:
                if not 0 <= sec < 60:
                    range_err = "second"
                elif (
                    len(v) >= 2 and v[:1] in (b".", b",") and _isdigit(v, 1) and chunks[idx + 1][1] != _FRAC6
                ):
                    n = 2
                    while n < len(v) and _isdigit(v, n):
                        n += 1
                    range_err, ok = _nanos(v, n)
                    v = v[n:]
        elif std == _FRAC6:
            if len(v) < 7:
                ok = False
            else:
                range_err, ok = _nanos(v, 7)
                v = v[7:]
        elif std == _TZ:
            if v[:1] == b"Z":
                v = v[1:]
            elif len(v) < 6 or v[3:4] != b":":
                ok = False
            else:
                sign, hh, mm, v = v[:1], v[1:3], v[4:6], v[6:]
                hr, _, ok = _getnum(hh, True)
                mi = 0
                if ok:
                    mi, _, ok = _getnum(mm, True)
                if hr > 24:
                    range_err = "time zone offset hour"
                if mi > 60:
                    range_err = "time zone offset minute"
                if sign not in (b"+", b"-"):
                    ok = False
        if range_err:
            return err(stdstr, v, ": " + range_err + " out of range")
        if not ok:
            return err(stdstr, hold)
    if month < 0:
        month = 1
    if day < 0:
        day = 1
    if day < 1 or day > _days_in(month, year):
        return err("", v, ": day out of range")
    return None


_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_SET = frozenset(_B64)


def _quantum_error(src: bytes, si: int) -> tuple[int, int | None, bool]:
    """One Go `decodeQuantum` step: (next index, error position or None, done)."""
    j = 0
    while j < 4:
        if si == len(src):
            if j == 0:
                return si, None, True
            return si, si - j, True
        c = src[si]
        si += 1
        if c in _B64_SET:
            j += 1
            continue
        if c in (0x0A, 0x0D):
            continue
        if c != 0x3D:
            return si, si - 1, True
        if j in (0, 1):
            return si, si - 1, True
        if j == 2:
            while si < len(src) and src[si] in (0x0A, 0x0D):
                si += 1
            if si == len(src):
                return si, len(src), True
            if src[si] != 0x3D:
                return si, si - 1, True
            si += 1
        while si < len(src) and src[si] in (0x0A, 0x0D):
            si += 1
        if si < len(src):
            return si, si, True
        return si, None, True
    return si, None, False


def base64_error(value: str) -> str | None:
    """Go's `base64.StdEncoding.Decode` error for `value`, or None if it decodes."""
    if "\n" not in value and "\r" not in value:
        try:
            binascii.a2b_base64(value.encode("ascii"), strict_mode=True)
            return None
        except (binascii.Error, UnicodeEncodeError, ValueError):
            pass
    src = value.encode("utf-8", "surrogatepass")
    si = 0
    while si < len(src):
        si, pos, done = _quantum_error(src, si)
        if pos is not None:
            return f"illegal base64 data at input byte {pos}"
        if done:
            break
    return None


_UNITS = {"ns", "us", "µs", "μs", "ms", "s", "m", "h"}


def duration_ok(s: str) -> bool:
    """Whether Go's `time.ParseDuration` accepts `s` (overflow is not checked)."""
    if s[:1] in ("-", "+"):
        s = s[1:]
    if s == "0":
        return True
    if not s:
        return False
    i = 0
    n = len(s)
    while i < n:
        if not (s[i] == "." or (s[i].isascii() and s[i].isdigit())):
            return False
        start = i
        while i < n and s[i].isascii() and s[i].isdigit():
            i += 1
        pre = i > start
        post = False
        if i < n and s[i] == ".":
            i += 1
            fstart = i
            while i < n and s[i].isascii() and s[i].isdigit():
                i += 1
            post = i > fstart
        if not pre and not post:
            return False
        ustart = i
        while i < n and not (s[i] == "." or (s[i].isascii() and s[i].isdigit())):
            i += 1
        if i == ustart or s[ustart:i] not in _UNITS:
            return False
    return True
