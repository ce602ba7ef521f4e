"""Go's text for decoded JSON values: the one home of the formatting rules upstream's output depends on.

Upstream writes field-set keys, the last-applied annotation and `kubectl -o jsonpath` output with
`encoding/json`, and builds its error messages with `fmt` verbs. Clients compare some of that text
byte for byte, so kijabi reproduces it here once, and every module that needs it imports it:

- `go_json` is `json.Marshal` of a decoded JSON value: compact, map keys sorted, HTML-safe string
  escapes (`go_json_string`) and Go's JSON float text (`go_json_float`);
- `go_float` is `%v` of a float64 (`strconv.FormatFloat(f, 'g', -1, 64)`), which differs from the
  JSON text: `1e+06` where JSON writes `1000000`, `1e-05` where JSON writes `0.00001`;
- `go_quote` is `%q` of a string (`strconv.Quote`);
- `go_v` and `go_sharp_v` are `%v` and `%#v` of a decoded JSON value held in an `interface{}`, `go_s`
  is `%s` of one (`%!s(int64=1)` for a non-string), `go_type` its dynamic Go type name.

"Decoded JSON value" means what Go's decoder gives for `interface{}` and Python's gives for any
JSON text: dict with str keys, list, str, int, float, bool, None. Tuples are accepted as arrays.

Errors: `go_json` raises TypeError for a value of any other type and ValueError for a NaN or an
infinity (json.Marshal's UnsupportedTypeError and UnsupportedValueError).
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

__all__ = [
    "go_float",
    "go_json",
    "go_json_float",
    "go_json_string",
    "go_quote",
    "go_s",
    "go_sharp_v",
    "go_type",
    "go_v",
]


# --- floats ---------------------------------------------------------------------------------------


def _shortest(f: float) -> tuple[str, int]:
    """Shortest round-trip digits of a finite, non-zero `|f|` and the decimal point position `dp`,
    so that `|f| = 0.DIGITS x 10**dp` (strconv's decimal digits and `dp`)."""
    mantissa, _, exp_text = repr(abs(f)).partition("e")
    whole, _, frac = mantissa.partition(".")
    raw = whole + frac
    digits = raw.lstrip("0")
    point = len(whole) + (int(exp_text) if exp_text else 0) - (len(raw) - len(digits))
    return digits.rstrip("0") or "0", point


def _fixed(sign: str, digits: str, point: int) -> str:
    """`digits` (with point position `point`) written without an exponent."""
    if point <= 0:
        return f"{sign}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return f"{sign}{digits}{'0' * (point - len(digits))}"
    return f"{sign}{digits[:point]}.{digits[point:]}"


def _mantissa(digits: str) -> str:
    return digits[0] + ("." + digits[1:] if len(digits) > 1 else "")


def go_float(f: float) -> str:
    """`%v` of a float64, i.e. `strconv.FormatFloat(f, 'g', -1, 64)`.

    Shortest round-trip digits; exponent form (at least two exponent digits) when the decimal
    exponent is below -4 or at least 6; `NaN`, `+Inf`, `-Inf`; negative zero prints `-0`.
    """
    if f != f:
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    sign = "-" if math.copysign(1.0, f) < 0 else ""
    if f == 0:
        return sign + "0"
    digits, point = _shortest(f)
    exp = point - 1
    if exp < -4 or exp >= 6:
        return f"{sign}{_mantissa(digits)}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return _fixed(sign, digits, point)


_EXACT_INTS = float(2**53)


def go_json_float(f: float) -> str:
    """A float64 as `encoding/json` writes it (`floatEncoder`, the ES6 number format).

    Shortest round-trip digits; exponent form only below 1e-6 or from 1e21 on, with no zero
    padding of the exponent (`1e-7`, `1e+21`); negative zero is `-0`. NaN and the infinities
    raise ValueError, as json.Marshal returns an UnsupportedValueError for them.
    """
    if f != f or math.isinf(f):
        raise ValueError(f"json: unsupported value: {go_float(f)}")
    a = abs(f)
    if a < _EXACT_INTS and f == int(f):  # below 2**53 an integral float's digits are its shortest
        if f == 0:
            return "-0" if math.copysign(1.0, f) < 0 else "0"
        return str(int(f))
    sign = "-" if f < 0 else ""
    digits, point = _shortest(f)
    if a < 1e-6 or a >= 1e21:
        exp = point - 1
        return f"{sign}{_mantissa(digits)}e{'-' if exp < 0 else '+'}{abs(exp)}"
    return _fixed(sign, digits, point)


# --- JSON -----------------------------------------------------------------------------------------

_HTML_ESCAPES = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)

# Field names and label values repeat across every write of an object: remember their text.
_STRINGS: dict[str, str] = {}
_STRINGS_MAX = 20_000
_STRINGS_MAX_LEN = 256


def go_json_string(s: str) -> str:
    """`s` as `encoding/json` writes a string with HTML escaping on (json.Marshal's default).

    `"` and `\\` are backslash-escaped; `\\n`, `\\r`, `\\t`, `\\b`, `\\f` get their short escapes and
    other control characters `\\u00xx`; `<`, `>`, `&`, U+2028 and U+2029 become `\\u003c`, `\\u003e`,
    `\\u0026`, `\\u2028`, `\\u2029`; everything else (DEL and non-ASCII included) is written as is.
    A lone surrogate (which Go's decoder never produces) is passed through unescaped.
    """
    text = _STRINGS.get(s)
    if text is not None:
        return text
    try:
        text = orjson.dumps(s).decode()
    except TypeError:  # lone surrogates: orjson refuses them, the json module passes them through
        text = json.dumps(s, ensure_ascii=False)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = text.translate(_HTML_ESCAPES)
    if len(s) <= _STRINGS_MAX_LEN:
        if len(_STRINGS) >= _STRINGS_MAX:
            _STRINGS.clear()
        _STRINGS[s] = text
    return text


def go_json(value: Any) -> str:
    """`json.Marshal` of a decoded JSON value: compact, map keys sorted, HTML-safe strings.

    Numbers: an int is written as is, a float as `go_json_float` writes it (`2.0` -> `2`).
    Map keys are written as strings and sorted by that string, as Go sorts map keys.
    """
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return go_json_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_json_float(value)
    if isinstance(value, dict):
        items = ",".join(f"{go_json_string(str(k))}:{go_json(value[k])}" for k in sorted(value, key=str))
        return "{" + items + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"json: unsupported type: {type(value).__name__}")


# --- fmt verbs ------------------------------------------------------------------------------------

_SHORT_ESCAPES = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v"}


def go_quote(s: str) -> str:
    """`%q` of a string, i.e. `strconv.Quote`: a double-quoted Go string literal.

    Printable runes (Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the
    ASCII space, which is what `str.isprintable` accepts) are kept; `"` and `\\` are escaped; other
    runes become `\\a`..`\\v`, `\\xNN` (ASCII), `\\uNNNN` or `\\UNNNNNNNN`. A lone surrogate is not a
    valid rune and is written as `\\ufffd`.
    """
    if s.isascii() and s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= o < 0x7F:
            out.append(ch)
        elif o < 0x80 or not ch.isprintable():
            esc = _SHORT_ESCAPES.get(o)
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
    """`%v` of a decoded JSON value: `<nil>`, bare strings, `map[a:1 b:x]`, `[1 2]`."""
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
    """`%#v` of a decoded JSON value held in an `interface{}`:
    `interface {}(nil)`, `"s"`, `map[string]interface {}{"a":1}`, `[]interface {}{1, "x"}`."""
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


def go_s(value: Any) -> str:
    """`fmt.Sprintf("%s", value)`: like %v for strings, `%!s(type=value)` for everything else."""
    if isinstance(value, str):
        return value
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_s(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_s(v) for v in value) + "]"
    return f"%!s({go_type(value)}={go_v(value)})"


def go_type(value: Any) -> str:
    """The Go type name of a decoded JSON value (`reflect.TypeOf(v)` printed with %s)."""
    if value is None:
        return "%!s(<nil>)"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__
