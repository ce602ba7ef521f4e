"""Small helpers shared by the type modules: JSON access, IP parsing, semantic equality, diffs.

Objects are plain JSON dicts that have already been decoded against the type's schema and
defaulted, so fields have the right JSON types; the accessors here only guard against missing or
null values, which Go sees as zero values.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from . import _quantity

Obj = dict[str, Any]
Errs = list[FieldError]

IS_NEGATIVE = "must be greater than or equal to 0"
IMMUTABLE = "field is immutable"
NOT_POSITIVE = "must be greater than zero"

_EMPTY: dict[str, Any] = {}


def d(value: Any) -> Obj:
    """The value if it is a JSON object, else an empty (shared, read-only) one."""
    return value if isinstance(value, dict) else _EMPTY


def lst(value: Any) -> list[Any]:
    """The value if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def s(value: Any) -> str:
    """The value if it is a string, else '' (Go's zero value)."""
    return value if isinstance(value, str) else ""


def num(value: Any) -> int:
    """The value if it is an integer, else 0 (Go's zero value)."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return 0


def nonnegative(value: Any, path: str, errs: Errs) -> None:
    """Upstream ValidateNonnegativeField."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        errs.append(E.invalid_value(path, value, IS_NEGATIVE))


def immutable(new: Any, old: Any, path: str, errs: Errs) -> None:
    """Upstream ValidateImmutableField: semantic equality, else `field is immutable`."""
    if not sem_equal(new, old):
        errs.append(E.invalid_value(path, new, IMMUTABLE))


# --- IP addresses ---------------------------------------------------------------------------------


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Go's ParseIPSloppy: like ParseIP but IPv4 octets may have leading zeros (read as decimal)."""
    if not text or "%" in text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    parts = text.split(".")
    if len(parts) == 4 and all(p.isdigit() and p.isascii() and len(p) <= 3 for p in parts):
        try:
            return ipaddress.IPv4Address(".".join(str(int(p)) for p in parts))
        except ValueError:
            return None
    if ":" in text and "." in text:
        head, _, tail = text.rpartition(":")
        v4 = parse_ip(tail)
        if isinstance(v4, ipaddress.IPv4Address):
            try:
                return ipaddress.IPv6Address(f"{head}:{v4}")
            except ValueError:
                return None
    return None


def parse_cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Go's ParseCIDRSloppy: host bits may be set; the prefix length is required."""
    if "/" not in text:
        return None
    addr, _, bits = text.partition("/")
    ip = parse_ip(addr)
    if ip is None or not bits.isdigit() or not bits.isascii():
        return None
    try:
        return ipaddress.ip_network(f"{ip}/{int(bits)}", strict=False)
    except ValueError:
        return None


def is_valid_ip(path: str, value: str) -> Errs:
    if parse_ip(value) is None:
        return [E.invalid_value(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def is_valid_cidr(path: str, value: str) -> Errs:
    if parse_cidr(value) is None:
        return [
            E.invalid_value(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")
        ]
    return []


def is_ipv6_string(value: str) -> bool:
    ip = parse_ip(value)
    return isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None


def validate_non_special_ip(value: str, path: str) -> Errs:
    """Upstream ValidateNonSpecialIP (endpoint and external IPs)."""
    ip = parse_ip(value)
    if ip is None:
        return [E.invalid_value(path, value, "must be a valid IP address")]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    errs: Errs = []
    if ip.is_unspecified:
        errs.append(E.invalid_value(path, value, f"may not be unspecified ({value})"))
    if ip.is_loopback:
        errs.append(E.invalid_value(path, value, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(
            E.invalid_value(path, value, "may not be in the link-local range (169.254.0.0/16, fe80::/10)")
        )
    link_local_mcast = (
        ip in ipaddress.ip_network("224.0.0.0/24")
        if isinstance(ip, ipaddress.IPv4Address)
        else (int(ip) >> 112) & 0xFF0F == 0xFF02
    )
    if link_local_mcast:
        errs.append(
            E.invalid_value(
                path, value, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
            )
        )
    return errs


# --- quantities -----------------------------------------------------------------------------------


def quantity(raw: Any, path: str, errs: Errs) -> _quantity.Quantity | None:
    """Parse a quantity, recording an Invalid error (decode-time syntax message) if it does not parse."""
    try:
        return _quantity.parse(raw)
    except ValueError as exc:
        errs.append(E.invalid_value(path, raw if isinstance(raw, str) else json.dumps(raw), str(exc)))
        return None


# --- semantic equality and diffs -----------------------------------------------------------------


def _is_zero(value: Any) -> bool:
    if value is None or value is False:
        return True
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value == 0
    return value in ("", [], {})


def _norm(value: Any) -> Any:
    """Drop zero values from objects, so that `{}` / missing / null / "" / 0 compare like Go zero values."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            n = _norm(v)
            if not _is_zero(n):
                out[k] = n
        return out
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def sem_equal(a: Any, b: Any) -> bool:
    """apimachinery's Semantic.DeepEqual over JSON: nil and empty collections are equal, as are
    omitted fields and fields holding their zero value. Walks both values once, stopping at the
    first difference."""
    if a is b or a == b:
        return True
    a_dict, b_dict = isinstance(a, dict), isinstance(b, dict)
    if a_dict or b_dict:
        if (not a_dict and not _is_zero(a)) or (not b_dict and not _is_zero(b)):
            return False
        da: dict[str, Any] = a if a_dict else _EMPTY
        db: dict[str, Any] = b if b_dict else _EMPTY
        return all(sem_equal(da.get(k), db.get(k)) for k in da.keys() | db.keys())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(sem_equal(x, y) for x, y in zip(a, b, strict=True))
    return _is_zero(a) and _is_zero(b)


def diff(old: Any, new: Any, prefix: str = "", limit: int = 40) -> str:
    """A short `- path: old` / `+ path: new` listing of the leaves that differ (stands in for Go's cmp.Diff)."""
    lines: list[str] = []

    def walk(a: Any, b: Any, path: str) -> None:
        if len(lines) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(dict.fromkeys([*a, *b])):
                walk(a.get(key), b.get(key), f"{path}.{key}" if path else key)
            return
        if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b, strict=True)):
                walk(x, y, f"{path}[{i}]")
            return
        if _norm(a) == _norm(b):
            return
        if not _is_zero(a):
            lines.append(f"- {path}: {E.go_value(a)}")
        if not _is_zero(b):
            lines.append(f"+ {path}: {E.go_value(b)}")

    walk(_norm(old), _norm(new), prefix)
    return "\n".join(lines)


def go_quote(text: str) -> str:
    """Go's %q for a string (ASCII-only escaping, as strconv.Quote does for non-printables)."""
    return json.dumps(text, ensure_ascii=False)


def go_string_slice(values: list[str]) -> str:
    """Go's %#v for a []string: `[]string{"a", "b"}`."""
    return "[]string{" + ", ".join(go_quote(v) for v in values) + "}"


# --- IntOrString ----------------------------------------------------------------------------------


def int_or_percent(value: Any) -> tuple[int, bool]:
    """(number, is_percent) of an IntOrString holding an int or a valid percent string; (0, False) otherwise."""
    if isinstance(value, bool):
        return 0, False
    if isinstance(value, int):
        return value, False
    if (
        isinstance(value, str)
        and len(value) > 1
        and value.endswith("%")
        and value[:-1].isdigit()
        and value.isascii()
    ):
        return int(value[:-1]), True
    if isinstance(value, str):
        # IntOrString.IntValue() of a non-percent string: strconv.Atoi, 0 on failure.
        try:
            return int(value), False
        except ValueError:
            return 0, False
    return 0, False


class Ctx:
    """What a type validator may need besides the objects: the request version and the scope."""

    __slots__ = ("namespaced", "version")

    def __init__(self, version: str, namespaced: bool) -> None:
        self.version = version
        self.namespaced = namespaced


Validator = Callable[[Obj, Obj | None, Ctx], Errs]
"""A kind's rules: `(obj, old, ctx)`; `old` is None on create. Returns the errors, in upstream order."""
