"""Custom resource coercion after decoding: metadata as ObjectMeta, structural pruning, null dropping,
embedded metadata (apiextensions `unstructuredSchemaCoercer.apply`, `pruning`, `objectmeta`)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kijabi.machinery import schema, structural

from ._helpers import crd

OBJ: dict[str, Any] = {"type": "object"}
STR: dict[str, Any] = {"type": "string"}
EMBEDDED: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-embedded-resource": True,
    "properties": {"spec": {"type": "object", "properties": {"replicas": {"type": "integer"}}}},
}


def cr(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Foo", "metadata": {"name": "f"}, **fields}


PRUNE = [
    pytest.param(
        {"spec": {"type": "object", "properties": {"known": STR}}},
        cr(spec={"z": 1, "known": "k", "a": 2}, top=1),
        ["spec.a", "spec.z", "top"],
        cr(spec={"known": "k"}),
        id="unknown-fields-sorted",
    ),
    pytest.param(
        {
            "spec": {
                "type": "object",
                "x-kubernetes-preserve-unknown-fields": True,
                "properties": {"k": {"type": "object", "properties": {"a": STR}}},
            }
        },
        cr(spec={"free": {"x": 1}, "k": {"a": "1", "b": 2}}),
        ["spec.k.b"],
        cr(spec={"free": {"x": 1}, "k": {"a": "1"}}),
        id="preserve-unknown-keeps-unknown-but-prunes-known",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": {"type": "object", "properties": {"x": STR}}}},
        cr(m={"k1": {"x": "1", "y": 2}}),
        ["m.k1.y"],
        cr(m={"k1": {"x": "1"}}),
        id="map-values-pruned-by-their-schema",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": True}},
        cr(m={"a": 1, "b": {"c": 1}}),
        ["m.b.c"],
        cr(m={"a": 1, "b": {}}),
        id="bare-additionalProperties-true-prunes-nested-objects",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": False}},
        cr(m={"a": 1, "b": {"c": 1}}),
        ["m.b.c"],
        cr(m={"a": 1, "b": {}}),
        id="bare-additionalProperties-false-too",
    ),
    pytest.param(
        {"l": {"type": "array", "items": {"type": "object", "properties": {"a": STR}}}},
        cr(l=[{"a": "1"}, {"a": "2", "extra": True}]),
        ["l[1].extra"],
        cr(l=[{"a": "1"}, {"a": "2"}]),
        id="list-items",
    ),
    pytest.param(
        {"l": {"type": "array"}},
        cr(l=[{"a": 1}, 2]),
        ["l[0].a"],
        cr(l=[{}, 2]),
        id="list-without-items-schema",
    ),
    pytest.param(
        {"o": OBJ},
        cr(o={"a": 1}),
        ["o.a"],
        cr(o={}),
        id="object-without-properties",
    ),
    pytest.param(
        {"spec": {"type": "object", "properties": {"template": EMBEDDED}}},
        cr(
            spec={
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "x", "bogus": 1},
                    "spec": {"replicas": 1, "x": 1},
                    "other": 1,
                }
            }
        ),
        ["spec.template.other", "spec.template.spec.x", "spec.template.metadata.bogus"],
        cr(
            spec={
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "x"},
                    "spec": {"replicas": 1},
                }
            }
        ),
        id="embedded-resource-keeps-typemeta-and-prunes-metadata-last",
    ),
    pytest.param(
        {
            "spec": {
                "type": "object",
                "properties": {"templates": {"type": "object", "additionalProperties": EMBEDDED}},
            }
        },
        cr(spec={"templates": {"a": {"apiVersion": "v1", "kind": "Pod", "metadata": {"bogus": 1}, "x": 1}}}),
        ["spec.templates.a.x", "spec.templates[a].metadata.bogus"],
        cr(spec={"templates": {"a": {"apiVersion": "v1", "kind": "Pod", "metadata": {}}}}),
        id="embedded-metadata-paths-use-field-path-syntax",
    ),
]


@pytest.mark.parametrize(("props", "obj", "paths", "after"), PRUNE)
def test_prune(props: dict[str, Any], obj: dict[str, Any], paths: list[str], after: dict[str, Any]) -> None:
    s = crd(props)
    assert structural.prune(obj, s) == paths
    assert obj == after


def test_root_keeps_type_meta_and_metadata_even_if_undeclared() -> None:
    s = schema.from_openapi_v3({"type": "object", "properties": {"spec": OBJ}})
    obj = cr(spec={})
    assert structural.prune(obj, s) == []
    assert obj == cr(spec={})


def test_metadata_unknown_fields_come_first_in_sorted_order() -> None:
    s = crd({"spec": OBJ})
    obj = cr(spec={"x": 1})
    obj["metadata"] = {"zz": 1, "name": "f", "aa": {"b": 1}, "ownerReferences": [{"uid": "u", "q": 1}]}
    assert structural.prune(obj, s) == [
        "metadata.aa",
        "metadata.ownerReferences[0].q",
        "metadata.zz",
        "spec.x",
    ]
    assert obj["metadata"] == {"name": "f", "ownerReferences": [{"uid": "u"}]}


def test_unknown_fields_are_the_pruned_paths_formatted_with_percent_s() -> None:
    """apiextensions formats CR unknown fields with `unknown field "%s"` (no Go quoting)."""
    s = crd({"spec": OBJ})
    obj = cr(spec={'a"b': 1})
    assert structural.unknown_fields(obj, s) == ['unknown field "spec.a"b"']
    assert obj["spec"] == {'a"b': 1}


def test_preserve_unknown_fields_crd_skips_structural_pruning() -> None:
    s = crd({"spec": OBJ})
    obj = cr(spec={"x": 1}, top=None)
    obj["metadata"]["bogus"] = 1
    assert structural.prune(obj, s, preserve_unknown_fields=True) == ["metadata.bogus"]
    assert obj == cr(spec={"x": 1}, top=None)


NULLS = [
    pytest.param({"a": STR}, {"a": None}, {}, id="non-nullable-null-dropped"),
    pytest.param({"a": {"type": "string", "nullable": True}}, {"a": None}, {"a": None}, id="nullable-kept"),
    pytest.param(
        {"a": {"type": "string", "default": "x"}},
        {"a": None},
        {"a": None},
        id="defaulted-kept-for-defaulting",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": STR}},
        {"m": {"k": None}},
        {"m": {}},
        id="map-value-null-dropped",
    ),
    pytest.param(
        {"l": {"type": "array", "items": STR}},
        {"l": [None, "a"]},
        {"l": [None, "a"]},
        id="list-items-untouched",
    ),
]


@pytest.mark.parametrize(("props", "spec", "after"), NULLS)
def test_nulls_without_nullable_or_default_are_dropped(
    props: dict[str, Any], spec: dict[str, Any], after: dict[str, Any]
) -> None:
    """PruneNonNullableNullsWithoutDefaults runs with pruning."""
    s = crd({"spec": {"type": "object", "properties": props}})
    obj = cr(spec=spec)
    assert structural.prune(obj, s) == []
    assert obj["spec"] == after


DECODE = [
    pytest.param(
        {"metadata": {"labels": {"a": 1}}},
        "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string",
        id="metadata-decoded-from-its-own-root",
    ),
    pytest.param(
        {"metadata": {"name": 5, "labels": {"a": 1}}},
        "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string",
        id="metadata-keys-in-go-sorted-order",
    ),
    pytest.param(
        {"metadata": "x"},
        "json: cannot unmarshal string into Go value of type v1.ObjectMeta",
        id="metadata-not-an-object",
    ),
    pytest.param(
        {"spec": {"template": {"apiVersion": 5, "kind": "Pod"}}},
        "spec.template.apiVersion: Invalid value: 5: must be a string",
        id="embedded-apiVersion",
    ),
    pytest.param(
        {"spec": {"template": {"apiVersion": "v1", "kind": None}}},
        'spec.template.kind: Invalid value: "null": must be a string',
        id="embedded-kind-null",
    ),
    pytest.param(
        {"spec": {"template": {"apiVersion": "v1", "kind": "P", "metadata": {"labels": {"a": 1.5}}}}},
        'spec.template.metadata: Invalid value: map[string]interface {}{"labels":map[string]interface {}{"a":1.5}}: '
        "json: cannot unmarshal number into Go struct field ObjectMeta.labels of type string",
        id="embedded-metadata",
    ),
]


@pytest.mark.parametrize(("fields", "message"), DECODE)
def test_decode_errors(fields: dict[str, Any], message: str) -> None:
    s = crd({"spec": {"type": "object", "properties": {"template": EMBEDDED}}})
    obj = {"apiVersion": "example.com/v1", "kind": "Foo", **fields}
    errors = structural.decode_errors(obj, s)
    assert errors[0] == message
    assert structural.check(obj, s) == (errors, [])


def test_check_on_a_custom_resource_does_not_prune() -> None:
    s = crd({"spec": OBJ})
    obj = cr(spec={"x": 1})
    before = copy.deepcopy(obj)
    assert structural.check(obj, s) == ([], ['unknown field "spec.x"'])
    assert obj == before
