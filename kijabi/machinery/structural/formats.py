"""The string formats a CRD schema may check (kube-openapi `strfmt.Default`).

apiextensions keeps only these formats in a CRD's validator; any other `format` (int32, float, ...)
is dropped before validation. Names are compared with dashes removed (`date-time` is `datetime`),
as kube-openapi's registry does. Each checker follows the Go function upstream registers: `uri` is
`url.ParseRequestURI`, `ipv4` is `netutils.ParseIPSloppy` (leading zeros allowed), `byte` is
govalidator's base64 pattern (the empty string is not base64), `duration` is `time.ParseDuration`
or the Scala-like `3 days` form, and `date-time` is kube-openapi's lenient `IsDateTime`.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable

from ._goparse import duration_ok

__all__ = ["FORMATS", "known", "normalize", "valid"]


def normalize(name: str) -> str:
    return name.replace("-", "")


def _ipv4_sloppy(s: str) -> bool:
    parts = s.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p or not p.isascii() or not p.isdigit() or int(p) > 255:
            return False
    return True


def _ipv6(s: str) -> bool:
    if "%" in s or not s.isascii():
        return False
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _ip_sloppy(s: str) -> bool:
    return _ipv4_sloppy(s) or _ipv6(s)


def _is_ipv4(s: str) -> bool:
    return _ip_sloppy(s) and "." in s


def _is_ipv6(s: str) -> bool:
    # net.ParseIP (strict: no leading zeros in an embedded IPv4 part) and a colon.
    return ":" in s and _ipv6(s)


def _is_cidr(s: str) -> bool:
    ip, sep, mask = s.partition("/")
    if not sep or not mask.isascii() or not mask.isdigit():
        return False
    if _ipv4_sloppy(ip):
        bits = 32
    elif _ipv6(ip):
        bits = 128
    else:
        return False
    return int(mask) <= bits


_MAC_SEP = re.compile(r"[0-9A-Fa-f]{2}(?:([:-])[0-9A-Fa-f]{2})*")
_MAC_DOT = re.compile(r"[0-9A-Fa-f]{4}(?:\.[0-9A-Fa-f]{4})*")


def _is_mac(s: str) -> bool:
    if len(s) < 14:
        return False
    if s[2] in ":-":
        if (len(s) + 1) % 3 != 0 or (len(s) + 1) // 3 not in (6, 8, 20):
            return False
        sep = s[2]
        groups = s.split(sep)
        return all(len(g) == 2 and _hex(g) for g in groups)
    if s[4] == ".":
        if (len(s) + 1) % 5 != 0 or (len(s) + 1) // 5 not in (3, 4, 10):
            return False
        return all(len(g) == 4 and _hex(g) for g in s.split("."))
    return False


def _hex(s: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in s)


def _hostname_class(ch: str) -> str:
    """Map one character onto the classes of kube-openapi's hostname pattern."""
    if ch.isascii():
        if ch.isalpha():
            return "a"
        if ch.isdigit():
            return "0"
        if ch in "-.":
            return ch
        return "$" if unicodedata.category(ch)[0] == "S" else "?"
    cat = unicodedata.category(ch)[0]
    if cat == "L":
        return "a"
    if cat == "S":
        return "$"
    return "?"


# kube-openapi HostnamePattern with \p{L} -> a and \p{S} -> $ after mapping every character.
_HOSTNAME = re.compile(
    r"(?:[a0$](?:(?:-?[a0$]{0,62})?)|(?:[a0$](?:(?:[a0$-]{0,61}[a0$])?)(?:\.)){1,}(?:a){2,63})"
)


def _is_hostname(s: str) -> bool:
    mapped = "".join(_hostname_class(c) for c in s)
    if not _HOSTNAME.fullmatch(mapped):
        return False
    if len(s.encode()) > 255:
        return False
    return all(len(p.encode()) <= 63 for p in s.split("."))


_UUID = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_UUID3 = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_UUID4 = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}")
_UUID5 = re.compile(r"(?i)[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}")
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})")
_HEXCOLOR = re.compile(r"#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_BYTE255 = r"[\t\n\f\r ]*(?:0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])[\t\n\f\r ]*"
_RGBCOLOR = re.compile(rf"rgb\({_BYTE255},{_BYTE255},{_BYTE255}\)")
_SSN = re.compile(r"\d{3}[- ]?\d{2}[- ]?\d{4}", re.ASCII)
_CREDITCARD = re.compile(
    r"(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}"
    r"|3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35\d{3})\d{11})",
    re.ASCII,
)
_ISBN10 = re.compile(r"(?:[0-9]{9}X|[0-9]{10})")
_ISBN13 = re.compile(r"(?:[0-9]{13})")
_SPACE_MINUS = re.compile(r"[\t\n\f\r -]+")
_DATETIME_TIME = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))")
_EMAIL_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = re.compile(
    rf"(?:{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*|\"(?:[^\"\\]|\\.)*\")@(?:{_EMAIL_ATOM}(?:\.{_EMAIL_ATOM})*|\[[^\[\]\\]*\])"
)
_URI_HOST = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=%]*")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*")


def _is_isbn10(s: str) -> bool:
    t = _SPACE_MINUS.sub("", s)
    if not _ISBN10.fullmatch(t):
        return False
    total = sum((i + 1) * int(t[i]) for i in range(9))
    total += 100 if t[9] == "X" else 10 * int(t[9])
    return total % 11 == 0


def _is_isbn13(s: str) -> bool:
    t = _SPACE_MINUS.sub("", s)
    if not _ISBN13.fullmatch(t):
        return False
    total = sum(int(t[i]) * (1, 3)[i % 2] for i in range(12))
    return (10 - total % 10) % 10 == int(t[12])


def _is_creditcard(s: str) -> bool:
    t = re.sub(r"[^0-9]+", "", s)
    if not _CREDITCARD.fullmatch(t):
        return False
    total = 0
    double = False
    for ch in reversed(t):
        n = int(ch)
        if double:
            n *= 2
            total += n % 10 + 1 if n >= 10 else n
        else:
            total += n
        double = not double
    return total % 10 == 0


def _is_date(s: str) -> bool:
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        return False
    y, m, d = s[:4], s[5:7], s[8:]
    if not (y.isascii() and y.isdigit() and m.isascii() and m.isdigit() and d.isascii() and d.isdigit()):
        return False
    year, month, day = int(y), int(m), int(d)
    if not 1 <= month <= 12 or day < 1:
        return False
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return day <= (29 if leap else 28)
    return day <= (30 if month in (4, 6, 9, 11) else 31)


def _is_datetime(s: str) -> bool:
    if len(s) < 4:
        return False
    parts = s.lower().split("t")
    if len(parts) < 2 or not _is_date(parts[0]):
        return False
    m = _DATETIME_TIME.fullmatch(parts[1])
    if m is None:
        return False
    return m.group(1) <= "23" and m.group(2) <= "59" and m.group(3) <= "59"


_DURATION_UNITS = (
    ("ns", "nano"),
    ("us", "µs", "micro"),
    ("ms", "milli"),
    ("s", "sec"),
    ("m", "min"),
    ("h", "hr", "hour"),
    ("d", "day"),
    ("w", "wk", "week"),
)
_DURATION_PART = re.compile(r"((\d+)\s*([A-Za-zµ]+))")


def _is_duration(s: str) -> bool:
    if duration_ok(s):
        return True
    for match in _DURATION_PART.finditer(s):
        unit = match.group(3).lower().strip()
        for variants in _DURATION_UNITS:
            last = len(variants) - 1
            for i, variant in enumerate(variants):
                if (i == last and unit.startswith(variant)) or variant.lower() == unit:
                    return True
    return False


def _is_email(s: str) -> bool:
    text = s.strip()
    if "<" in text and text.endswith(">"):
        text = text[text.rindex("<") + 1 : -1]
    return bool(_EMAIL.fullmatch(text))


def _is_request_uri(s: str) -> bool:
    """Go `url.ParseRequestURI`: an absolute URI or an absolute path."""
    if not s or any(ord(c) < 0x20 or ord(c) == 0x7F for c in s):
        return False
    if s == "*":
        return True
    rest = s
    scheme = ""
    colon = rest.find(":")
    if colon == 0:
        return False
    if colon > 0 and _SCHEME.fullmatch(rest[:colon]):
        scheme, rest = rest[:colon], rest[colon + 1 :]
    rest = rest.split("?", 1)[0]
    if not rest.startswith("/"):
        return bool(scheme)
    if scheme and rest.startswith("//"):
        authority, slash, path = rest[2:].partition("/")
        host = authority.rsplit("@", 1)[-1]
        if host.startswith("["):
            end = host.find("]")
            if end < 0:
                return False
            port = host[end + 1 :]
            if port and (not port.startswith(":") or (not port[1:].isdigit() and port != ":")):
                return False
        else:
            name, _, port = host.partition(":")
            if port and not port.isdigit():
                return False
            if not _URI_HOST.fullmatch(name):
                return False
        rest = slash + path
    return not _BAD_ESCAPE.search(rest)


def _is_bson_objectid(s: str) -> bool:
    return len(s) == 24 and _hex(s)


FORMATS: dict[str, Callable[[str], bool]] = {
    "bsonobjectid": _is_bson_objectid,
    "uri": _is_request_uri,
    "email": _is_email,
    "hostname": _is_hostname,
    "ipv4": _is_ipv4,
    "ipv6": _is_ipv6,
    "cidr": _is_cidr,
    "mac": _is_mac,
    "uuid": lambda s: bool(_UUID.fullmatch(s)),
    "uuid3": lambda s: bool(_UUID3.fullmatch(s)),
    "uuid4": lambda s: bool(_UUID4.fullmatch(s)),
    "uuid5": lambda s: bool(_UUID5.fullmatch(s)),
    "isbn": lambda s: _is_isbn10(s) or _is_isbn13(s),
    "isbn10": _is_isbn10,
    "isbn13": _is_isbn13,
    "creditcard": _is_creditcard,
    "ssn": lambda s: len(s) == 11 and bool(_SSN.fullmatch(s)),
    "hexcolor": lambda s: bool(_HEXCOLOR.fullmatch(s)),
    "rgbcolor": lambda s: bool(_RGBCOLOR.fullmatch(s)),
    "byte": lambda s: bool(_BASE64.fullmatch(s)),
    "password": lambda s: True,
    "date": _is_date,
    "duration": _is_duration,
    "datetime": _is_datetime,
}


def known(name: str) -> bool:
    """Whether kube-openapi's registry knows the format (after removing dashes)."""
    return normalize(name) in FORMATS


def valid(name: str, value: str) -> bool:
    """Whether `value` satisfies the known format `name`."""
    return FORMATS[normalize(name)](value)
