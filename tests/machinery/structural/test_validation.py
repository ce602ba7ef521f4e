"""Custom resource validation against the CRD schema (kube-openapi SchemaValidator as apiextensions
runs it, then embedded resources and list types). Expected texts are `str(FieldError)`, i.e. the
`field: body` pieces of upstream's 422 message."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import schema, structural
from kijabi.machinery.errors import FieldError

from ._helpers import crd


def spec_schema(props: dict[str, Any], **extra: Any) -> schema.Schema:
    return crd({"spec": {"type": "object", "properties": props, **extra}})


def check(props: dict[str, Any], spec: Any, **kw: Any) -> list[str]:
    return [str(e) for e in structural.validate({"spec": spec}, spec_schema(props), **kw)]


INT: dict[str, Any] = {"type": "integer"}
STR: dict[str, Any] = {"type": "string"}

TYPES = [
    pytest.param(
        {"replicas": INT},
        {"replicas": "3"},
        ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'],
        id="string-for-integer",
    ),
    pytest.param(
        {"name": STR},
        {"name": 5},
        ['spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer"'],
        id="integer-for-string",
    ),
    pytest.param(
        {"ratio": {"type": "number"}},
        {"ratio": True},
        ['spec.ratio: Invalid value: "boolean": spec.ratio in body must be of type number: "boolean"'],
        id="bool-for-number",
    ),
    pytest.param(
        {"o": {"type": "object"}},
        {"o": []},
        ['spec.o: Invalid value: "array": spec.o in body must be of type object: "array"'],
        id="array-for-object",
    ),
    pytest.param({"replicas": INT}, {"replicas": 2.0}, [], id="integral-float-is-an-integer"),
    pytest.param(
        {"replicas": INT},
        {"replicas": 2.5},
        ['spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number"'],
        id="fraction-is-not-an-integer",
    ),
    pytest.param({"ratio": {"type": "number"}}, {"ratio": 2}, [], id="integer-is-a-number"),
    pytest.param(
        {"port": {"x-kubernetes-int-or-string": True}},
        {"port": True},
        ['spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"'],
        id="int-or-string",
    ),
    pytest.param(
        {"port": {"x-kubernetes-int-or-string": True}}, {"port": "http"}, [], id="int-or-string-string"
    ),
    pytest.param(
        {"name": STR},
        {"name": None},
        ['spec.name: Invalid value: "null": spec.name in body must be of type string: "null"'],
        id="null-not-nullable",
    ),
    pytest.param({"name": {"type": "string", "nullable": True}}, {"name": None}, [], id="null-nullable"),
    pytest.param(
        {"free": {"x-kubernetes-preserve-unknown-fields": True}}, {"free": [1, "a"]}, [], id="untyped"
    ),
]


@pytest.mark.parametrize(("props", "spec", "expected"), TYPES)
def test_types(props: dict[str, Any], spec: Any, expected: list[str]) -> None:
    assert check(props, spec) == expected


FORMATS = [
    pytest.param(
        {"t": {"type": "string", "format": "date-time"}},
        {"t": "yesterday"},
        ['spec.t: Invalid value: "yesterday": spec.t in body must be of type date-time: "yesterday"'],
        id="date-time",
    ),
    pytest.param(
        {"t": {"type": "string", "format": "date-time"}}, {"t": "2024-01-01T10:00:00Z"}, [], id="date-time-ok"
    ),
    pytest.param(
        {"n": {"type": "integer", "format": "int32"}}, {"n": 2**40}, [], id="int32-is-not-a-crd-format"
    ),
    pytest.param(
        {"s": {"type": "string", "format": "nonsense"}}, {"s": "x"}, [], id="unknown-format-ignored"
    ),
    pytest.param(
        {"t": {"type": "string", "format": "date-time"}},
        {"t": 5},
        ['spec.t: Invalid value: "int64": spec.t in body must be of type date-time: "int64"'],
        id="non-string-against-a-string-format",
    ),
    pytest.param(
        {"ip": {"type": "string", "format": "ipv4"}},
        {"ip": "1.2.3"},
        ['spec.ip: Invalid value: "1.2.3": spec.ip in body must be of type ipv4: "1.2.3"'],
        id="ipv4",
    ),
]


@pytest.mark.parametrize(("props", "spec", "expected"), FORMATS)
def test_formats(props: dict[str, Any], spec: Any, expected: list[str]) -> None:
    assert check(props, spec) == expected


VALUES = [
    pytest.param(
        {"mode": {"type": "string", "enum": ["a", "b"]}},
        {"mode": "c"},
        ['spec.mode: Unsupported value: "c": supported values: "a", "b"'],
        id="enum",
    ),
    pytest.param(
        {"n": {"type": "integer", "enum": [1, 2]}},
        {"n": 3},
        ['spec.n: Unsupported value: 3: supported values: "1", "2"'],
        id="enum-of-numbers",
    ),
    pytest.param(
        {"n": {"type": "number", "enum": [1]}}, {"n": 1.0}, [], id="enum-converts-to-the-entry-type"
    ),
    pytest.param({"n": {"type": "number", "enum": [1]}}, {"n": 1.5}, [], id="enum-float-truncated-like-go"),
    pytest.param(
        {"name": {"type": "string", "maxLength": 3}},
        {"name": "abcd"},
        ["spec.name: Too long: may not be more than 3 bytes"],
        id="maxLength",
    ),
    pytest.param(
        {"name": {"type": "string", "maxLength": 3}}, {"name": "ééé"}, [], id="maxLength-counts-characters"
    ),
    pytest.param(
        {"name": {"type": "string", "minLength": 2}},
        {"name": "a"},
        ['spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long'],
        id="minLength",
    ),
    pytest.param(
        {"name": {"type": "string", "pattern": "^[a-z]+$"}},
        {"name": "ABC"},
        ["spec.name: Invalid value: \"ABC\": spec.name in body should match '^[a-z]+$'"],
        id="pattern",
    ),
    pytest.param(
        {"name": {"type": "string", "pattern": "^[a-z]+$"}},
        {"name": "abc\n"},
        ["spec.name: Invalid value: \"abc\\n\": spec.name in body should match '^[a-z]+$'"],
        id="pattern-dollar-is-end-of-text",
    ),
    pytest.param(
        {"name": {"type": "string", "maxLength": 1, "pattern": "^x$"}},
        {"name": "ab"},
        ["spec.name: Too long: may not be more than 1 bytes"],
        id="one-string-error-per-value",
    ),
    pytest.param(
        {"replicas": {"type": "integer", "minimum": 1}},
        {"replicas": 0},
        ["spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1"],
        id="minimum",
    ),
    pytest.param(
        {"replicas": {"type": "integer", "minimum": 1, "exclusiveMinimum": True}},
        {"replicas": 1},
        ["spec.replicas: Invalid value: 1: spec.replicas in body should be greater than 1"],
        id="exclusiveMinimum",
    ),
    pytest.param(
        {"x": {"type": "number", "maximum": 10}},
        {"x": 10.5},
        ["spec.x: Invalid value: 10.5: spec.x in body should be less than or equal to 10"],
        id="maximum-float",
    ),
    pytest.param(
        {"x": {"type": "number", "maximum": 2.5}},
        {"x": 3},
        ["spec.x: Invalid value: 3: spec.x in body should be less than or equal to 2"],
        id="maximum-truncated-for-integers",
    ),
    pytest.param(
        {"x": {"type": "integer", "multipleOf": 5}},
        {"x": 7},
        ["spec.x: Invalid value: 7: spec.x in body should be a multiple of 5"],
        id="multipleOf",
    ),
    pytest.param(
        {"x": {"type": "number", "multipleOf": 0.1}}, {"x": 0.3}, [], id="multipleOf-tolerates-rounding"
    ),
    pytest.param(
        {"x": {"type": "integer", "multipleOf": 0.5}},
        {"x": 2},
        ["spec.x: Invalid value: 0: factor MultipleOf declared for spec.x must be positive: 0"],
        id="fractional-multipleOf-for-an-integer",
    ),
]


@pytest.mark.parametrize(("props", "spec", "expected"), VALUES)
def test_values(props: dict[str, Any], spec: Any, expected: list[str]) -> None:
    assert check(props, spec) == expected


COLLECTIONS = [
    pytest.param(
        {"l": {"type": "array", "items": STR, "minItems": 1}},
        {"l": []},
        ["spec.l: Invalid value: 0: spec.l in body should have at least 1 items"],
        id="minItems",
    ),
    pytest.param(
        {"l": {"type": "array", "items": STR, "maxItems": 2}},
        {"l": ["a", "b", "c"]},
        ["spec.l: Too many: 3: must have at most 2 items"],
        id="maxItems",
    ),
    pytest.param(
        {"l": {"type": "array", "items": STR, "maxItems": 1}},
        {"l": ["a", 2]},
        [
            'spec.l[1]: Invalid value: "integer": spec.l[1] in body must be of type string: "integer"',
            "spec.l: Too many: 2: must have at most 1 items",
        ],
        id="items-before-counts",
    ),
    pytest.param(
        {"l": {"type": "array", "items": INT, "uniqueItems": True}},
        {"l": [1, 2, 1]},
        ['spec.l: Invalid value: "": spec.l in body shouldn\'t contain duplicates'],
        id="uniqueItems",
    ),
    pytest.param(
        {"l": {"type": "array", "items": {"type": "number"}, "uniqueItems": True}},
        {"l": [1, 1.0]},
        [],
        id="uniqueItems-int-vs-float",
    ),
    pytest.param(
        {"m": {"type": "object", "maxProperties": 2, "additionalProperties": INT}},
        {"m": {"a": 1, "b": 2, "c": 3}},
        ["spec.m: Too many: 3: must have at most 2 items"],
        id="maxProperties",
    ),
    pytest.param(
        {"m": {"type": "object", "minProperties": 1, "additionalProperties": INT}},
        {"m": {}},
        ["spec.m: Invalid value: 0: spec.m in body should have at least 1 properties"],
        id="minProperties",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": INT}},
        {"m": {"k": "v"}},
        ['spec.m.k: Invalid value: "string": spec.m.k in body must be of type integer: "string"'],
        id="map-values",
    ),
    pytest.param(
        {"m": {"type": "object", "additionalProperties": False}},
        {"m": {"x": 1}},
        ['spec.m: Invalid value: "x": spec.m.x in body is a forbidden property'],
        id="additionalProperties-false",
    ),
]


@pytest.mark.parametrize(("props", "spec", "expected"), COLLECTIONS)
def test_collections(props: dict[str, Any], spec: Any, expected: list[str]) -> None:
    assert check(props, spec) == expected


def test_bounds_print_like_go_floats() -> None:
    """kube-openapi formats float bounds with %v (exponent from 1e6 on)."""
    errs = structural.validate(
        {"spec": {"x": 2e6}}, spec_schema({"x": {"type": "number", "maximum": 1000000.5}})
    )
    assert [(e.field, e.value, e.detail) for e in errs] == [
        ("spec.x", 2e6, "spec.x in body should be less than or equal to 1.0000005e+06")
    ]


def test_required() -> None:
    s = crd(
        {"spec": {"type": "object", "properties": {"name": STR}, "required": ["name", "other"]}},
        required=["spec"],
    )
    assert [str(e) for e in structural.validate({"spec": {}}, s)] == [
        "spec.name: Required value",
        "spec.other: Required value",
    ]
    assert [str(e) for e in structural.validate({}, s)] == ["spec: Required value"]


COMPOSITION = [
    pytest.param(
        {"x": {"type": "integer", "anyOf": [{"maximum": 1}, {"minimum": 10}]}},
        {"x": 5},
        [
            '<nil>: Invalid value: "": "spec.x" must validate at least one schema (anyOf)',
            "spec.x: Invalid value: 5: spec.x in body should be less than or equal to 1",
        ],
        id="anyOf",
    ),
    pytest.param(
        {"x": {"type": "integer", "anyOf": [{"maximum": 1}, {"minimum": 10}]}}, {"x": 10}, [], id="anyOf-ok"
    ),
    pytest.param(
        {"x": {"type": "integer", "oneOf": [{"minimum": 1}, {"minimum": 2}]}},
        {"x": 5},
        [
            '<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found 2 valid alternatives'
        ],
        id="oneOf-two-match",
    ),
    pytest.param(
        {"x": {"type": "integer", "oneOf": [{"minimum": 10}, {"minimum": 20}]}},
        {"x": 5},
        [
            '<nil>: Invalid value: "": "spec.x" must validate one and only one schema (oneOf). Found none valid',
            "spec.x: Invalid value: 5: spec.x in body should be greater than or equal to 10",
        ],
        id="oneOf-none-match",
    ),
    pytest.param(
        {"x": {"type": "integer", "allOf": [{"minimum": 1}, {"maximum": 3}]}},
        {"x": 5},
        [
            "spec.x: Invalid value: 5: spec.x in body should be less than or equal to 3",
            '<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf)',
        ],
        id="allOf",
    ),
    pytest.param(
        {"x": {"type": "integer", "allOf": [{"minimum": 10}]}},
        {"x": 5},
        [
            "spec.x: Invalid value: 5: spec.x in body should be greater than or equal to 10",
            '<nil>: Invalid value: "": "spec.x" must validate all the schemas (allOf). None validated',
        ],
        id="allOf-none",
    ),
    pytest.param(
        {"x": {"type": "integer", "not": {"minimum": 3}}},
        {"x": 5},
        ['<nil>: Invalid value: "": "spec.x" must not validate the schema (not)'],
        id="not",
    ),
    pytest.param(
        {"p": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]}},
        {"p": 1.5},
        [
            'spec.p: Invalid value: "number": spec.p in body must be of type integer,string: "number"',
            '<nil>: Invalid value: "": "spec.p" must validate at least one schema (anyOf)',
            'spec.p: Invalid value: "number": spec.p in body must be of type integer: "number"',
        ],
        id="int-or-string-pattern",
    ),
]


@pytest.mark.parametrize(("props", "spec", "expected"), COMPOSITION)
def test_composition(props: dict[str, Any], spec: Any, expected: list[str]) -> None:
    """anyOf/oneOf/allOf/not summaries land on the validator root, printed `<nil>` by upstream."""
    assert check(props, spec) == expected


def test_path_prefixes_fields_but_not_messages() -> None:
    """Status validation upstream: the status schema validated with field path `status`."""
    status = schema.from_openapi_v3({"type": "object", "properties": {"replicas": INT}})
    got = [str(e) for e in structural.validate({"replicas": "x"}, status, path="status")]
    assert got == [
        'status.replicas: Invalid value: "string": replicas in body must be of type integer: "string"'
    ]
    root = [str(e) for e in structural.validate("x", status, path="status")]
    assert root == ['status: Invalid value: "string":  in body must be of type object: "string"']


def test_error_kinds_for_status_causes() -> None:
    """The cause reasons apiextensions maps kube-openapi errors to."""
    props = {
        "a": STR,
        "b": {"type": "string", "enum": ["x"]},
        "c": {"type": "string", "maxLength": 1},
        "d": {"type": "array", "items": STR, "maxItems": 0},
        "e": {"type": "integer", "minimum": 2},
    }
    s = crd({"spec": {"type": "object", "properties": props, "required": ["f"]}})
    errs = structural.validate({"spec": {"a": 1, "b": "y", "c": "zz", "d": ["q"], "e": 1}}, s)
    assert [(e.type, e.field) for e in errs] == [
        ("FieldValueTypeInvalid", "spec.a"),
        ("FieldValueNotSupported", "spec.b"),
        ("FieldValueTooLong", "spec.c"),
        ("FieldValueTooMany", "spec.d"),
        ("FieldValueInvalid", "spec.e"),
        ("FieldValueRequired", "spec.f"),
    ]


def test_built_in_schemas_are_not_validated_here() -> None:
    pod = schema.builtin().for_kind("", "v1", "Pod")
    assert pod is not None
    assert structural.validate({"spec": 5}, pod) == []


# -- ratcheting -----------------------------------------------------------------------------------

RATCHET = [
    pytest.param(
        {"replicas": "x", "name": "a"}, {"replicas": "x", "name": "b"}, [], id="unchanged-invalid-field-kept"
    ),
    pytest.param(
        {"replicas": "x"},
        {"replicas": "y"},
        ['spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"'],
        id="changed-invalid-field-reported",
    ),
    pytest.param(
        {"items": [{"k": "a", "v": "bad"}, {"k": "b", "v": 1}]},
        {"items": [{"k": "b", "v": 2}, {"k": "a", "v": "bad"}]},
        [],
        id="map-list-items-matched-by-key",
    ),
    pytest.param(
        {"plain": [{"v": "bad"}]},
        {"plain": [{"v": "bad"}, {"v": 1}]},
        [
            'spec.plain[0].v: Invalid value: "string": spec.plain[0].v in body must be of type integer: "string"'
        ],
        id="atomic-list-items-not-matched",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), RATCHET)
def test_ratcheting(old: dict[str, Any], new: dict[str, Any], expected: list[str]) -> None:
    """Errors in parts unchanged since `old` are dropped (CRDValidationRatcheting)."""
    item = {"type": "object", "properties": {"k": STR, "v": INT}}
    props = {
        "replicas": INT,
        "name": STR,
        "items": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["k"],
            "items": item,
        },
        "plain": {"type": "array", "items": {"type": "object", "properties": {"v": INT}}},
    }
    s = spec_schema(props)
    got = structural.validate({"spec": new}, s, old={"spec": old})
    assert [str(e) for e in got] == expected


def test_ratcheting_skips_root_type_meta() -> None:
    """apiVersion and kind at the root are never ratcheted."""
    s = crd({"kind": {"type": "string", "enum": ["Foo"]}})
    obj = {"kind": "Bar", "spec": {}}
    got = structural.validate(obj, s, old={"kind": "Bar"})
    assert [str(e) for e in got] == ['kind: Unsupported value: "Bar": supported values: "Foo"']


# -- embedded resources ---------------------------------------------------------------------------

EMBEDDED = {
    "type": "object",
    "x-kubernetes-embedded-resource": True,
    "x-kubernetes-preserve-unknown-fields": True,
}

EMBEDDED_CASES = [
    pytest.param(
        {},
        [
            "spec.t.apiVersion: Required value: must not be empty",
            "spec.t.kind: Required value: must not be empty",
        ],
        id="typemeta-required",
    ),
    pytest.param({"apiVersion": "apps/v1", "kind": "Deployment"}, [], id="valid"),
    pytest.param(
        {"apiVersion": "a/b/c", "kind": "X"},
        ['spec.t.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c'],
        id="group-version",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": ""},
        ['spec.t.kind: Invalid value: "": must not be empty'],
        id="empty-kind",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "My_Kind"},
        [
            'spec.t.kind: Invalid value: "My_Kind": may have mixed case, but should otherwise match: a DNS-1035 label '
            "must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end "
            "with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
            "'[a-z]([-a-z0-9]*[a-z0-9])?')"
        ],
        id="kind-is-a-dns-1035-label",
    ),
]


@pytest.mark.parametrize(("value", "expected"), EMBEDDED_CASES)
def test_embedded_resources(value: dict[str, Any], expected: list[str]) -> None:
    assert check({"t": EMBEDDED}, {"t": value}) == expected


def test_embedded_metadata_goes_to_the_meta_validator() -> None:
    seen: list[tuple[dict[str, Any], str]] = []

    def meta(md: dict[str, Any], path: str) -> list[FieldError]:
        seen.append((md, path))
        return [FieldError("FieldValueInvalid", path + ".name", "bad", md["name"])]

    obj = {"spec": {"t": {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": "b"}}}}}
    errs = structural.validate(obj, spec_schema({"t": EMBEDDED}), validate_meta=meta)
    assert seen == [({"labels": {"a": "b"}, "name": "fakename"}, "spec.t.metadata")]
    assert [str(e) for e in errs] == ['spec.t.metadata.name: Invalid value: "fakename": bad']


# -- x-kubernetes-list-type ----------------------------------------------------------------------

SET = {
    "type": "array",
    "x-kubernetes-list-type": "set",
    "items": {"x-kubernetes-preserve-unknown-fields": True},
}
MAP1 = {
    "type": "array",
    "x-kubernetes-list-type": "map",
    "x-kubernetes-list-map-keys": ["name"],
    "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
}
MAP2 = {**MAP1, "x-kubernetes-list-map-keys": ["name", "port"]}

LISTS = [
    pytest.param(
        SET, ["a", "b", "a", "a", "b"], [("spec.l[2]", "a"), ("spec.l[4]", "b")], id="set-first-repeat-only"
    ),
    pytest.param(SET, [1, 1.0, True], [], id="set-go-equality"),
    pytest.param(SET, [{"a": 1}, {"a": 1}], [("spec.l[1]", {"a": 1})], id="set-of-objects"),
    pytest.param(MAP1, [{"name": "a"}, {"name": "a", "x": 1}], [("spec.l[1]", {"name": "a"})], id="map-key"),
    pytest.param(MAP1, [{"x": 1}, {"y": 2}], [("spec.l[1]", {})], id="map-missing-key"),
    pytest.param(MAP1, [{"name": "a"}, {"name": "b"}], [], id="map-unique"),
    pytest.param(
        MAP2,
        [{"name": "a", "port": 1}, {"name": "a", "port": 2}, {"port": 1, "name": "a"}],
        [("spec.l[2]", {"name": "a", "port": 1})],
        id="map-compound-key",
    ),
]


@pytest.mark.parametrize(("list_schema", "value", "dups"), LISTS)
def test_list_types(list_schema: dict[str, Any], value: list[Any], dups: list[tuple[str, Any]]) -> None:
    errs = structural.validate({"spec": {"l": value}}, spec_schema({"l": list_schema}))
    assert [(e.type, e.field, e.value) for e in errs] == [("FieldValueDuplicate", f, v) for f, v in dups]


def test_list_map_items_must_be_objects() -> None:
    errs = structural.validate(
        {"spec": {"l": [5, {"name": "a"}]}},
        spec_schema({"l": {**MAP1, "items": {"x-kubernetes-preserve-unknown-fields": True}}}),
    )
    assert [str(e) for e in errs] == [
        "spec.l[0]: Invalid value: 5: must be an object for an array of list-type map"
    ]


def test_list_type_ratchets_when_old_was_already_invalid() -> None:
    s = spec_schema({"l": SET})
    new = {"spec": {"l": ["a", "a", "b", "b"]}}
    assert structural.validate(new, s, old={"spec": {"l": ["a", "a"]}}) == []
    assert len(structural.validate(new, s, old={"spec": {"l": ["a"]}})) == 2
