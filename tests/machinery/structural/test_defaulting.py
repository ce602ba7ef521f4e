"""Structural defaulting of custom resources (apiextensions `schema/defaulting.Default`)."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import structural

from ._helpers import builtin, crd

INT_DEFAULT: dict[str, Any] = {"type": "integer", "default": 1}

DEFAULTS = [
    pytest.param({"a": INT_DEFAULT}, {}, {"a": 1}, id="missing-property"),
    pytest.param({"a": INT_DEFAULT}, {"a": 5}, {"a": 5}, id="present-property-kept"),
    pytest.param({"a": INT_DEFAULT}, {"a": None}, {"a": 1}, id="null-non-nullable-replaced"),
    pytest.param({"a": {**INT_DEFAULT, "nullable": True}}, {"a": None}, {"a": None}, id="null-nullable-kept"),
    pytest.param(
        {"o": {"type": "object", "default": {}, "properties": {"x": {"type": "string", "default": "d"}}}},
        {},
        {"o": {"x": "d"}},
        id="defaults-of-a-defaulted-object-apply-too",
    ),
    pytest.param(
        {"o": {"type": "object", "properties": {"x": {"type": "string", "default": "d"}}}},
        {},
        {},
        id="no-object-created-without-its-own-default",
    ),
    pytest.param(
        {
            "l": {
                "type": "array",
                "items": {"type": "object", "properties": {"p": {"type": "integer", "default": 80}}},
            }
        },
        {"l": [{}, {"p": 1}]},
        {"l": [{"p": 80}, {"p": 1}]},
        id="list-items",
    ),
    pytest.param(
        {"l": {"type": "array", "items": {"type": "string", "default": "z"}}},
        {"l": [None, "a"]},
        {"l": ["z", "a"]},
        id="null-list-item-takes-items-default",
    ),
    pytest.param(
        {"l": {"type": "array", "items": {"type": "string"}}},
        {"l": [None]},
        {"l": [None]},
        id="null-list-item-without-default-stays",
    ),
    pytest.param(
        {
            "m": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {"v": {"type": "boolean", "default": True}},
                },
            }
        },
        {"m": {"a": {}, "b": {"v": False}}},
        {"m": {"a": {"v": True}, "b": {"v": False}}},
        id="map-values",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": {"type": "string", "default": "x"}}},
        {"m": {"a": None}},
        {"m": {"a": "x"}},
        id="null-map-value-takes-default",
    ),
]


@pytest.mark.parametrize(("props", "spec", "after"), DEFAULTS)
def test_defaults(props: dict[str, Any], spec: dict[str, Any], after: dict[str, Any]) -> None:
    s = crd({"spec": {"type": "object", "properties": props}})
    obj = {"spec": spec}
    structural.apply_defaults(obj, s)
    assert obj == {"spec": after}


def test_defaults_are_copies() -> None:
    """Changing a defaulted value never changes the schema or other objects."""
    s = crd(
        {
            "spec": {
                "type": "object",
                "properties": {"tags": {"type": "array", "items": {"type": "string"}, "default": ["a"]}},
            }
        }
    )
    first: dict[str, Any] = {"spec": {}}
    structural.apply_defaults(first, s)
    first["spec"]["tags"].append("b")
    second: dict[str, Any] = {"spec": {}}
    structural.apply_defaults(second, s)
    assert second == {"spec": {"tags": ["a"]}}


def test_root_level_default() -> None:
    s = crd({"spec": {"type": "object", "default": {"replicas": 1}}})
    obj: dict[str, Any] = {"apiVersion": "example.com/v1", "kind": "Foo"}
    structural.apply_defaults(obj, s)
    assert obj["spec"] == {"replicas": 1}


def test_built_in_types_are_not_defaulted_here() -> None:
    """Built-in defaults belong to their strategies; the OpenAPI `default` words are ignored."""
    obj = {"apiVersion": "v1", "kind": "Pod", "spec": {}}
    structural.apply_defaults(obj, builtin("", "v1", "Pod"))
    assert obj == {"apiVersion": "v1", "kind": "Pod", "spec": {}}
