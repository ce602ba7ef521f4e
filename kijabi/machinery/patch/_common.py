"""Helpers shared by the three patch formats: copying, JSON equality, JSON kind names, Status errors.

The apiserver reports patch failures with the text of the Go libraries it runs (evanphx/json-patch and
apimachinery's strategicpatch); the Go `%v` / `%s` text of values in them comes from
kijabi.machinery.gotext.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson

from kijabi.machinery.errors import StatusError

JSONObject = dict[str, Any]

# The message every 422 built by upstream's `NewGenericServerResponse` carries, whatever the cause.
UNPROCESSABLE_MESSAGE = "the server rejected our request due to an error in our request"


def clone(value: Any) -> Any:
    """A deep copy of a JSON value (serialize round-trip; falls back to deepcopy for non-JSON leaves)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):
        return copy.deepcopy(value)


def json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality: key order is irrelevant, booleans are not numbers, 1 equals 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict):
        if not isinstance(b, dict) or len(a) != len(b):
            return False
        return all(k in b and json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return False
        return all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


_NULL_KEY = ("z",)


def hash_key(value: Any) -> Any:
    """A hashable stand-in for a JSON value such that equal keys mean `json_equal` values."""
    kind = type(value)
    if kind is str or kind is int or kind is float:
        return value  # strings never equal numbers, and 1 == 1.0 as JSON wants
    if value is None:
        return _NULL_KEY
    if kind is bool:
        return ("b", value)  # True would otherwise collide with 1
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ("m", frozenset((k, hash_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("l", tuple(hash_key(v) for v in value))
    return ("o", repr(value))


def json_kind(value: Any) -> str:
    """The JSON type name Go's decoder uses in `cannot unmarshal X into ...` errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# --- Status errors --------------------------------------------------------------------------------------


def unprocessable(detail: str) -> StatusError:
    """Upstream's 422 for a patch it could not apply (`NewGenericServerResponse(422, ...)`).

    Upstream drops the library's explanation and sends only the generic message; we send the same
    message and keep the explanation as the one cause, so that `kubectl` can show it.
    """
    return StatusError(
        422, "Invalid", UNPROCESSABLE_MESSAGE, details={"causes": [{"message": detail, "field": "patch"}]}
    )


def failure(message: str) -> StatusError:
    """A patch error that upstream reports as a bare 500 with the library's text; we answer 422 instead."""
    return StatusError(422, "Invalid", message)
