"""Go's text for decoded JSON values: json.Marshal, strconv.Quote, %v and %#v, float64 formatting."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from kijabi.machinery import gotext, jsonpath
from kijabi.machinery.apply import gojson
from kijabi.machinery.structural import _go

FLOAT_V = [
    (1.0, "1"),
    (100.0, "100"),
    (123456.0, "123456"),
    (1e6, "1e+06"),
    (1234567.0, "1.234567e+06"),
    (1e21, "1e+21"),
    (0.0001, "0.0001"),
    (1e-5, "1e-05"),
    (2.5e-5, "2.5e-05"),
    (0.1 + 0.2, "0.30000000000000004"),
    (-0.25, "-0.25"),
    (0.0, "0"),
    (-0.0, "-0"),
    (5e-324, "5e-324"),
    (1.7976931348623157e308, "1.7976931348623157e+308"),
    (math.nan, "NaN"),
    (math.inf, "+Inf"),
    (-math.inf, "-Inf"),
]


@pytest.mark.parametrize(("value", "text"), FLOAT_V, ids=[t for _, t in FLOAT_V])
def test_float_v(value: float, text: str) -> None:
    """%v of a float64 is strconv.FormatFloat(f, 'g', -1, 64): exponent below 1e-4 and from 1e6 on."""
    assert gotext.go_float(value) == text


FLOAT_JSON = [
    (1.0, "1"),
    (2.5, "2.5"),
    (1e6, "1000000"),
    (1e20, "100000000000000000000"),
    (float(2**60), "1152921504606847000"),
    (123456789.125, "123456789.125"),
    (1e21, "1e+21"),
    (1e300, "1e+300"),
    (0.000001, "0.000001"),
    (1e-7, "1e-7"),
    (-1.5e-7, "-1.5e-7"),
    (5e-324, "5e-324"),
    (0.0, "0"),
    (-0.0, "-0"),
]


@pytest.mark.parametrize(("value", "text"), FLOAT_JSON, ids=[t for _, t in FLOAT_JSON])
def test_float_json(value: float, text: str) -> None:
    """encoding/json writes a float64 with shortest digits, exponent only outside [1e-6, 1e21)."""
    assert gotext.go_json_float(value) == text


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf], ids=["NaN", "+Inf", "-Inf"])
def test_float_json_rejects_non_finite(value: float) -> None:
    """json.Marshal refuses NaN and the infinities (UnsupportedValueError)."""
    with pytest.raises(ValueError, match="unsupported value"):
        gotext.go_json_float(value)
    with pytest.raises(ValueError, match="unsupported value"):
        gotext.go_json({"a": [value]})


JSON_STRINGS = [
    ("a", '"a"'),
    ("", '""'),
    ('q"\\', '"q\\"\\\\"'),
    ("\n\t\r", '"\\n\\t\\r"'),
    ("\b\f", '"\\b\\f"'),
    ("\x00\x01\x1f", '"\\u0000\\u0001\\u001f"'),
    ("<a&b>", '"\\u003ca\\u0026b\\u003e"'),
    ("\u2028\u2029", '"\\u2028\\u2029"'),
    ("\x7f", '"\x7f"'),
    ("é日本\U0001f600", '"é日本\U0001f600"'),
]


@pytest.mark.parametrize(("value", "text"), JSON_STRINGS, ids=[repr(v) for v, _ in JSON_STRINGS])
def test_json_string(value: str, text: str) -> None:
    """encoding/json string literals: short escapes, \\u00xx controls, HTML-safe <, >, &, U+2028/9."""
    assert gotext.go_json_string(value) == text
    assert gotext.go_json_string(value) == text  # second call is served from the cache
    assert gotext.go_json(value) == text


JSON_VALUES: list[tuple[str, Any, str]] = [
    ("null", None, "null"),
    ("true", True, "true"),
    ("false", False, "false"),
    ("int", 7, "7"),
    ("big-int", 2**70, str(2**70)),
    ("integral-float", 2.0, "2"),
    ("sorted-keys", {"b": [1, 2.0, None], "a": "<&>"}, '{"a":"\\u003c\\u0026\\u003e","b":[1,2,null]}'),
    ("nested", {"z": {"y": {}}, "a": []}, '{"a":[],"z":{"y":{}}}'),
    ("tuple-as-array", ("a", 1), '["a",1]'),
    ("non-str-keys", {10: 1, 9: 2}, '{"10":1,"9":2}'),
]


@pytest.mark.parametrize(
    ("value", "text"), [(v, t) for _, v, t in JSON_VALUES], ids=[i for i, _, _ in JSON_VALUES]
)
def test_json_marshal(value: Any, text: str) -> None:
    """json.Marshal of decoded JSON: compact, keys sorted as strings, Go number text."""
    assert gotext.go_json(value) == text


@pytest.mark.parametrize("value", [object(), {1, 2}, [b"bytes"]], ids=["object", "set", "nested-bytes"])
def test_json_marshal_rejects_other_types(value: Any) -> None:
    """Anything that is not a decoded JSON value is an UnsupportedTypeError."""
    with pytest.raises(TypeError, match="unsupported type"):
        gotext.go_json(value)


QUOTES = [
    ("a b", '"a b"'),
    ('a"b\\', '"a\\"b\\\\"'),
    ("\a\b\f\n\r\t\v", '"\\a\\b\\f\\n\\r\\t\\v"'),
    ("\x00\x1f\x7f", '"\\x00\\x1f\\x7f"'),
    ("\x80", '"\\u0080"'),
    ("\u00a0", '"\\u00a0"'),
    ("\u200b", '"\\u200b"'),
    ("é日本", '"é日本"'),
    ("\U0001f600", '"\U0001f600"'),
    ("\U000e0001", '"\\U000e0001"'),
    ("\ud800", '"\\ufffd"'),
]


@pytest.mark.parametrize(("value", "text"), QUOTES, ids=[repr(v) for v, _ in QUOTES])
def test_quote(value: str, text: str) -> None:
    """strconv.Quote keeps printable runes and escapes the rest (\\x for ASCII, \\u, \\U)."""
    assert gotext.go_quote(value) == text


FMT: list[tuple[str, Any, str, str]] = [
    ("nil", None, "<nil>", "interface {}(nil)"),
    ("bool", True, "true", "true"),
    ("int", -3, "-3", "-3"),
    ("float", 1e6, "1e+06", "1e+06"),
    ("string", 'a"b', 'a"b', '"a\\"b"'),
    ("empty-map", {}, "map[]", "map[string]interface {}{}"),
    ("empty-list", [], "[]", "[]interface {}{}"),
    (
        "nested",
        {"b": 1, "a": [True, "x", 1.5]},
        "map[a:[true x 1.5] b:1]",
        'map[string]interface {}{"a":[]interface {}{true, "x", 1.5}, "b":1}',
    ),
]


@pytest.mark.parametrize(("value", "text"), [(v, t) for _, v, t, _ in FMT], ids=[i for i, _, _, _ in FMT])
def test_v(value: Any, text: str) -> None:
    """%v of decoded JSON: bare strings, map[k:v ...] with sorted keys, space-separated slices."""
    assert gotext.go_v(value) == text


@pytest.mark.parametrize(("value", "text"), [(v, t) for _, v, _, t in FMT], ids=[i for i, _, _, _ in FMT])
def test_sharp_v(value: Any, text: str) -> None:
    """%#v of decoded JSON held in an interface{}: Go syntax with quoted strings and typed composites."""
    assert gotext.go_sharp_v(value) == text


REEXPORTS: list[tuple[str, Callable[..., str], Callable[..., str]]] = [
    ("gojson.go_json", gojson.go_json, gotext.go_json),
    ("gojson.go_string", gojson.go_string, gotext.go_json_string),
    ("gojson.go_quote", gojson.go_quote, gotext.go_quote),
    ("_go.go_float", _go.go_float, gotext.go_float),
    ("_go.go_json_float", _go.go_json_float, gotext.go_json_float),
    ("_go.go_json", _go.go_json, gotext.go_json),
    ("_go.go_quote", _go.go_quote, gotext.go_quote),
    ("_go.go_v", _go.go_v, gotext.go_v),
    ("_go.go_sharp_v", _go.go_sharp_v, gotext.go_sharp_v),
    ("jsonpath.go_json", jsonpath.go_json, gotext.go_json),
    ("jsonpath.go_float", jsonpath.go_float, gotext.go_float),
]


@pytest.mark.parametrize(
    ("alias", "home"), [(a, h) for _, a, h in REEXPORTS], ids=[i for i, _, _ in REEXPORTS]
)
def test_one_implementation(alias: Callable[..., str], home: Callable[..., str]) -> None:
    """The modules that used to carry their own copies now hand out gotext's functions."""
    assert alias is home


def test_value_string_uses_go_verbs() -> None:
    """SMD's value.ToString (apply field paths) prints floats with %v and strings with %q."""
    assert gojson.go_value_string({"b": 1e6, "a": ["x\n", None, 2]}) == 'a=["x\\n",null,2]b=1e+06'
