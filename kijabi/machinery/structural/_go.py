"""How Go prints and compares the values that show up in upstream's messages.

Upstream builds its error texts with `fmt` verbs and `encoding/json`, and compares decoded JSON with
`reflect.DeepEqual`, where an int64 and a float64 are never equal. Messages that must match a real
API server byte for byte need the same rules; the ones that belong to the structural schema code are:

- `go_error_value` renders a field error's bad value the way `field.Error.ErrorBody` does;
- `go_equal` is `reflect.DeepEqual` of decoded JSON;
- `json_type` is the JSON type word of Go's decoder errors.

The `fmt` and `encoding/json` text itself (`go_float`, `go_json_float`, `go_quote`, `go_v`,
`go_sharp_v`, `go_json`) lives in `kijabi.machinery.gotext` and is re-exported here.
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery.gotext import go_float, go_json, go_json_float, go_quote, go_sharp_v, go_v

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
