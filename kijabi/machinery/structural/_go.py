"""How Go prints and compares the values that show up in upstream's messages.

Upstream builds its error texts with `fmt` verbs and `encoding/json`, and compares decoded JSON with
`reflect.DeepEqual`, where an int64 and a float64 are never equal. Messages that must match a real
API server byte for byte need the same rules, so they live here in one place:

- `go_float` is `%v` of a float64: shortest digits, exponent form below 1e-4 and from 1e6 on
  (`strconv.FormatFloat(f, 'g', -1, 64)`);
- `go_quote` is `%q` / `strconv.Quote`;
- `go_v` and `go_sharp_v` are `%v` and `%#v` of decoded JSON (`map[string]interface {}{...}`);
- `go_error_value` renders a field error's bad value the way `field.Error.ErrorBody` does;
- `go_json` is `json.Marshal` of decoded JSON (sorted keys, HTML escaping, Go float text);
- `go_equal` is `reflect.DeepEqual` of decoded JSON.
"""

from __future__ import annotations

import math
import unicodedata
from decimal import Decimal
from typing import Any

__all__ = [
    "go_equal",
    "go_error_value",
    "go_float",
    "go_json",
    "go_json_float",
    "go_quote",
    "go_sharp_v",
    "go_v",
    "json_type",
]


def _digits(f: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of `abs(f)` and the decimal point position (Go's `dp`)."""
    t = Decimal(repr(abs(f))).normalize().as_tuple()
    digits = "".join(str(d) for d in t.digits).lstrip("0") or "0"
    exp = int(t.exponent)
    if digits == "0":
        return "0", 1
    return digits, len(digits) + exp


def go_float(f: float) -> str:
    """`%v` of a float64: `strconv.FormatFloat(f, 'g', -1, 64)`."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    neg = f < 0 or (f == 0 and math.copysign(1.0, f) < 0)
    if f == 0:
        return "-0" if neg else "0"
    digits, dp = _digits(f)
    exp = dp - 1
    sign = "-" if neg else ""
    if exp < -4 or exp >= 6:
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        es = "-" if exp < 0 else "+"
        ea = abs(exp)
        return f"{sign}{mant}e{es}{ea:02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{sign}{digits}{'0' * (dp - len(digits))}"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def go_json_float(f: float) -> str:
    """`json.Marshal` of a float64 (ES6 style: plain digits from 1e-6 up to 1e21)."""
    if f == 0:
        return "-0" if math.copysign(1.0, f) < 0 else "0"
    a = abs(f)
    sign = "-" if f < 0 else ""
    digits, dp = _digits(f)
    if a < 1e-6 or a >= 1e21:
        exp = dp - 1
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp)}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return f"{sign}{digits}{'0' * (dp - len(digits))}"
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def _printable(ch: str) -> bool:
    """Go's `unicode.IsPrint` (letters, marks, numbers, punctuation, symbols and ASCII space)."""
    if ch == " ":
        return True
    return unicodedata.category(ch)[0] in "LMNPS"


def go_quote(s: str) -> str:
    """`strconv.Quote`: a double-quoted Go string literal."""
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o < 0x80 or not _printable(ch):
            esc = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}.get(o)
            if esc is not None:
                out.append(esc)
            elif o < 0x20 or o == 0x7F:
                out.append(f"\\x{o:02x}")
            elif 0xD800 <= o <= 0xDFFF:
                out.append("\\ufffd")
            elif o < 0x10000:
                out.append(f"\\u{o:04x}")
            else:
                out.append(f"\\U{o:08x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_v(v: Any) -> str:
    """`%v` of a decoded JSON value."""
    if v is None:
        return "<nil>"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return v
    if isinstance(v, dict):
        return "map[" + " ".join(f"{k}:{go_v(v[k])}" for k in sorted(v, key=str)) + "]"
    if isinstance(v, list):
        return "[" + " ".join(go_v(x) for x in v) + "]"
    return str(v)


def go_sharp_v(v: Any) -> str:
    """`%#v` of a decoded JSON value held in an `interface{}`."""
    if v is None:
        return "interface {}(nil)"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    if isinstance(v, dict):
        inner = ", ".join(f"{go_quote(str(k))}:{go_sharp_v(v[k])}" for k in sorted(v, key=str))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(v, list):
        return "[]interface {}{" + ", ".join(go_sharp_v(x) for x in v) + "}"
    return repr(v)


def go_error_value(v: Any) -> str:
    """A bad value as `field.Error.ErrorBody` prints it: nil as "null", scalars bare, strings quoted."""
    if v is None:
        return '"null"'
    if isinstance(v, bool | int):
        return go_v(v)
    if isinstance(v, float):
        return go_float(v)
    if isinstance(v, str):
        return go_quote(v)
    return go_sharp_v(v)


_JSON_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
}


def _json_string(s: str) -> str:
    out = ['"']
    for ch in s:
        esc = _JSON_ESCAPES.get(ch)
        if esc is not None:
            out.append(esc)
        elif ch < " ":
            out.append(f"\\u{ord(ch):04x}")
        elif ch in "\u2028\u2029":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_json(v: Any) -> str:
    """`json.Marshal` of a decoded JSON value (compact, map keys sorted, HTML-safe)."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return go_json_float(v)
    if isinstance(v, str):
        return _json_string(v)
    if isinstance(v, dict):
        return "{" + ",".join(_json_string(str(k)) + ":" + go_json(v[k]) for k in sorted(v, key=str)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(go_json(x) for x in v) + "]"
    return _json_string(str(v))


def go_equal(a: Any, b: Any) -> bool:
    """`reflect.DeepEqual` of two decoded JSON values: an int never equals a float, nil equals nil."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        return False
    if ta is dict:
        if len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not go_equal(v, b[k]):
                return False
        return True
    if ta is list:
        return len(a) == len(b) and all(go_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def json_type(v: Any) -> str:
    """The JSON type word Go's decoder uses in `cannot unmarshal <word>`."""
    if isinstance(v, str):
        return "string"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if isinstance(v, dict):
        return "object"
    if isinstance(v, list):
        return "array"
    return "null" if v is None else type(v).__name__
