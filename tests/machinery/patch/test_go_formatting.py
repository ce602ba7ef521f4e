"""Values printed into error messages the way Go's fmt prints decoded JSON (upstream's error texts)."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.gotext import go_float, go_s, go_type, go_v
from kijabi.machinery.patch._common import hash_key, json_equal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param(1.5, "1.5", id="fraction"),
        pytest.param(100000.0, "100000", id="below-exponent-threshold"),
        pytest.param(1e6, "1e+06", id="million-uses-exponent"),
        pytest.param(1234567.0, "1.234567e+06", id="exponent-with-digits"),
        pytest.param(0.0001, "0.0001", id="small"),
        pytest.param(0.00001, "1e-05", id="tiny-uses-exponent"),
        pytest.param(-2.5, "-2.5", id="negative"),
        pytest.param(0.0, "0", id="zero"),
        pytest.param(1.7976931348623157e308, "1.7976931348623157e+308", id="max"),
    ],
)
def test_go_float(value: float, text: str) -> None:
    """`%v` of a float64 is strconv's shortest 'g' format."""
    assert go_float(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param({"b": 1, "a": [True, None, "x"]}, "map[a:[true <nil> x] b:1]", id="map-keys-sorted"),
        pytest.param([], "[]", id="empty-slice"),
        pytest.param({}, "map[]", id="empty-map"),
        pytest.param("plain", "plain", id="string-unquoted"),
        pytest.param(2.0, "2", id="integral-float"),
    ],
)
def test_go_v(value: Any, text: str) -> None:
    assert go_v(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param("merge", "merge", id="string"),
        pytest.param(5, "%!s(int64=5)", id="int"),
        pytest.param(1.5, "%!s(float64=1.5)", id="float"),
        pytest.param(True, "%!s(bool=true)", id="bool"),
        pytest.param(None, "%!s(<nil>)", id="nil"),
        pytest.param({"a": 1}, "map[a:%!s(int64=1)]", id="map"),
    ],
)
def test_go_s(value: Any, text: str) -> None:
    assert go_s(value) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param({}, "map[string]interface {}", id="map"),
        pytest.param([], "[]interface {}", id="slice"),
        pytest.param("x", "string", id="string"),
        pytest.param(1, "int64", id="int"),
        pytest.param(1.0, "float64", id="float"),
        pytest.param(False, "bool", id="bool"),
        pytest.param(None, "%!s(<nil>)", id="nil"),
    ],
)
def test_go_type(value: Any, text: str) -> None:
    assert go_type(value) == text


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        pytest.param(1, 1.0, True, id="int-float"),
        pytest.param(True, 1, False, id="bool-int"),
        pytest.param({"a": [1, {"b": None}]}, {"a": [1, {"b": None}]}, True, id="nested"),
        pytest.param({"a": 1}, {"a": 1, "b": 2}, False, id="extra-member"),
        pytest.param([1, 2], [2, 1], False, id="list-order"),
        pytest.param("1", 1, False, id="string-number"),
        pytest.param(None, None, True, id="nulls"),
    ],
)
def test_json_equality_and_hash_keys_agree(a: Any, b: Any, equal: bool) -> None:
    """Membership tests (hash keys) and equality use the same notion of JSON equality."""
    assert json_equal(a, b) is equal
    assert (hash_key(a) == hash_key(b)) is equal
