"""Go-compatible text for JSON values, as upstream's field sets and messages print them.

Field paths and the last-applied annotation are compared byte for byte by clients, so the text must be
what Go's `encoding/json` writes (sorted map keys, `<`, `>`, `&`, U+2028 and U+2029 escaped, floats in
Go's shortest form) and, in conflict messages, what Go's `%q` and `%v` verbs print.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

_HTML = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


_STRINGS: dict[str, str] = {}


def go_string(s: str) -> str:
    """`s` as a JSON string literal, escaped like Go's encoding/json."""
    text = _STRINGS.get(s)
    if text is not None:
        return text
    try:
        text = orjson.dumps(s).decode()
    except TypeError:  # lone surrogates
        text = json.dumps(s, ensure_ascii=False)
    if "<" in text or ">" in text or "&" in text or "\u2028" in text or "\u2029" in text:
        text = text.translate(_HTML)
    if len(s) <= 256:
        if len(_STRINGS) >= 20_000:
            _STRINGS.clear()
        _STRINGS[s] = text
    return text


def go_float(f: float) -> str:
    """A float64 the way encoding/json writes it: shortest digits, exponent only outside [1e-6, 1e21)."""
    if f != f or f in (float("inf"), float("-inf")):
        raise ValueError(f"unsupported value: {f!r}")
    if f == int(f) and abs(f) < 1e21:
        return str(int(f)) if f != 0 or str(f)[0] != "-" else "-0"
    a = abs(f)
    if a < 1e-6 or a >= 1e21:
        text = repr(f)
        mantissa, _, exp = text.partition("e")
        sign = exp[0] if exp[:1] in "+-" else "+"
        digits = exp.lstrip("+-").lstrip("0") or "0"
        if sign == "+" and len(digits) < 2:
            digits = digits.rjust(2, "0")
        return f"{mantissa}e{sign}{digits}"
    text = format(Decimal(repr(f)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def go_json(value: Any) -> str:
    """Compact JSON text of `value` as Go's encoding/json marshals a map[string]interface{} tree."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return go_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{go_string(k)}:{go_json(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def go_quote(s: str) -> str:
    """Go's `%q` of a string (strconv.Quote): printable runes kept, others escaped."""
    out = ['"']
    for ch in s:
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif ch in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            code = ord(ch)
            if code < 0x80:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def _go_g(f: float) -> str:
    """Go's `%v` of a float64: `%g` with the shortest digits, exponent form outside [1e-4, 1e6)."""
    if f == 0:
        return "-0" if str(f).startswith("-") else "0"
    sign, digit_tuple, exponent = Decimal(repr(f)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    assert isinstance(exponent, int)
    exp10 = len("".join(map(str, digit_tuple))) + exponent - 1
    prefix = "-" if sign else ""
    if exp10 < -4 or exp10 >= 6:
        body = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{body}e{'-' if exp10 < 0 else '+'}{abs(exp10):02d}"
    text = format(Decimal(repr(abs(f))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return prefix + text


def go_value_string(value: Any) -> str:
    """A value as SMD's `value.ToString` prints it inside field paths (`%q` strings, `%v` numbers)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_g(value)
    if isinstance(value, list):
        return "[" + ",".join(go_value_string(v) for v in value) + "]"
    if isinstance(value, dict):
        return "".join(f"{k}={go_value_string(v)}" for k, v in sorted(value.items()))
    return str(value)
