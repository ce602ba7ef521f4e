"""A CRD version's openAPIV3Schema checked like apiextensions does on create: structural rules
(sorted), then defaults, then the OpenAPI-schema rules, with upstream's field paths and texts."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import structural

P = "spec.versions[0].schema.openAPIV3Schema"
STR: dict[str, Any] = {"type": "string"}
INT: dict[str, Any] = {"type": "integer"}
OBJ: dict[str, Any] = {"type": "object"}


def root(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def messages(raw: Any, **kw: Any) -> list[str]:
    return [str(e) for e in structural.check_structural(raw, P, **kw)]


VALID = [
    pytest.param(
        root(
            apiVersion=STR,
            kind=STR,
            metadata=OBJ,
            spec={
                "type": "object",
                "required": ["replicas"],
                "properties": {
                    "replicas": {"type": "integer", "minimum": 0, "default": 1},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {"name": STR, "port": INT},
                        },
                    },
                    "labels": {"type": "object", "additionalProperties": STR},
                    "port": {"x-kubernetes-int-or-string": True, "anyOf": [INT, STR]},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    "template": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "x-kubernetes-preserve-unknown-fields": True,
                    },
                },
            },
            status={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        ),
        id="typical-operator-schema",
    ),
    pytest.param(
        root(metadata={"type": "object", "properties": {"name": {"type": "string", "maxLength": 10}}}),
        id="metadata-name-only",
    ),
    pytest.param(
        root(p={"x-kubernetes-int-or-string": True, "allOf": [{"anyOf": [INT, STR]}]}),
        id="int-or-string-allOf-pattern",
    ),
    pytest.param(
        root(x={"type": "integer", "anyOf": [{"minimum": 1}, {"maximum": -1}]}),
        id="value-validations-without-types",
    ),
]


@pytest.mark.parametrize("raw", VALID)
def test_valid_schemas(raw: dict[str, Any]) -> None:
    assert messages(raw) == []


STRUCTURAL = [
    pytest.param(
        root(spec={"properties": {"a": STR}}),
        [f"{P}.properties[spec].type: Required value: must not be empty for specified object fields"],
        id="field-without-type",
    ),
    pytest.param(
        {"properties": {"a": STR}},
        [f"{P}.type: Required value: must not be empty at the root"],
        id="root-without-type",
    ),
    pytest.param(
        root(l={"type": "array"}),
        [f"{P}.properties[l].items: Required value: must be specified"],
        id="array-without-items",
    ),
    pytest.param(
        root(l={"type": "array", "items": {}}),
        [f"{P}.properties[l].items.type: Required value: must not be empty for specified array items"],
        id="items-without-type",
    ),
    pytest.param(
        {"type": "object", "additionalProperties": STR},
        [f"{P}.additionalProperties: Forbidden: must not be used at the root"],
        id="additionalProperties-at-root",
    ),
    pytest.param(
        {"type": "array", "items": STR},
        [f'{P}.type: Invalid value: "array": must be object at the root'],
        id="root-not-object",
    ),
    pytest.param(
        root(metadata={"type": "object", "properties": {"labels": OBJ}}),
        [
            f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
            "but metadata is implicitly specified"
        ],
        id="metadata-restricts-more-than-names",
    ),
    pytest.param(
        root(metadata={"type": "object", "description": "standard metadata"}),
        [
            f"{P}.properties[metadata]: Forbidden: must not specify anything other than name and generateName, "
            "but metadata is implicitly specified"
        ],
        id="metadata-description-counts",
    ),
    pytest.param(
        root(metadata=STR),
        [f'{P}.properties[metadata].type: Invalid value: "string": must be object'],
        id="metadata-not-object",
    ),
    pytest.param(
        root(kind=INT),
        [f'{P}.properties[kind].type: Invalid value: "integer": must be string'],
        id="kind-not-string",
    ),
    pytest.param(
        root(p={"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}),
        [
            f"{P}.properties[p].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true"
        ],
        id="int-or-string-and-preserve",
    ),
    pytest.param(
        root(t={"type": "object", "x-kubernetes-embedded-resource": True}),
        [
            f"{P}.properties[t].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true "
            "without x-kubernetes-preserve-unknown-fields"
        ],
        id="embedded-without-properties",
    ),
    pytest.param(
        root(
            t={
                "type": "string",
                "x-kubernetes-embedded-resource": True,
                "x-kubernetes-preserve-unknown-fields": True,
            }
        ),
        [
            f'{P}.properties[t].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true'
        ],
        id="embedded-not-object",
    ),
    pytest.param(
        root(x={"type": "integer", "anyOf": [{"type": "integer", "minimum": 1}]}),
        [f"{P}.properties[x].anyOf[0].type: Forbidden: must be empty to be structural"],
        id="type-in-anyOf",
    ),
    pytest.param(
        root(x={"type": "integer", "oneOf": [{"minimum": 1, "default": 1, "nullable": True}]}),
        [
            f"{P}.properties[x].oneOf[0].default: Forbidden: must be undefined to be structural",
            f"{P}.properties[x].oneOf[0].nullable: Forbidden: must be false to be structural",
        ],
        id="generic-words-in-oneOf",
    ),
    pytest.param(
        {"type": "object", "properties": {"a": STR}, "anyOf": [{"properties": {"b": {"minimum": 1}}}]},
        [f"{P}.properties[b]: Required value: because it is defined in {P}.anyOf[0].properties[b]"],
        id="value-validation-names-unknown-property",
    ),
    pytest.param(
        root(
            spec={
                "type": "object",
                "properties": {"a": STR},
                "anyOf": [{"properties": {"b": {"minimum": 1}}}],
            }
        ),
        [],
        id="completeness-is-only-checked-from-the-root",
    ),
    pytest.param(
        root(
            spec={"type": "object", "properties": {"metadata": OBJ}, "not": {"properties": {"metadata": {}}}}
        ),
        [
            f"{P}.properties[spec].not.properties[metadata]: Forbidden: must not be specified in a nested context"
        ],
        id="nested-metadata",
    ),
    pytest.param(
        root(s={"type": "string", "pattern": "("}),
        [
            f'{P}.properties[s].pattern: Invalid value: "(": must be a valid regular expression, but isn\'t: error parsing regexp: missing closing ): `(`'
        ],
        id="bad-pattern",
    ),
    pytest.param(
        root(b={"properties": {"x": {}}}, a={"type": "array"}),
        [
            f"{P}.properties[a].items: Required value: must be specified",
            f"{P}.properties[b].properties[x].type: Required value: must not be empty for specified object fields",
            f"{P}.properties[b].type: Required value: must not be empty for specified object fields",
        ],
        id="sorted-by-message",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), STRUCTURAL)
def test_structural_rules(raw: dict[str, Any], expected: list[str]) -> None:
    assert messages(raw) == expected


DEFAULTS = [
    pytest.param(
        root(spec={"type": "object", "properties": {"replicas": {"type": "integer", "default": "one"}}}),
        [
            (
                f"{P}.properties[spec].properties[replicas].default",
                ' in body must be of type integer: "string"',
            )
        ],
        id="wrong-type-named-from-the-default-itself",
    ),
    pytest.param(
        root(spec={"type": "object", "default": {"a": 1, "extra": 2}, "properties": {"a": INT}}),
        [(f"{P}.properties[spec].default", "must not have unknown fields")],
        id="unknown-fields",
    ),
    pytest.param(
        root(
            spec={
                "type": "object",
                "default": {"a": "x"},
                "properties": {"a": {"type": "string", "enum": ["y"]}},
            }
        ),
        [(f"{P}.properties[spec].default.a", 'supported values: "y"')],
        id="nested-value",
    ),
    pytest.param(
        root(
            spec={
                "type": "object",
                "properties": {"d": {"type": "string", "format": "int32", "default": "x"}},
            }
        ),
        [],
        id="unknown-format-in-a-default",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), DEFAULTS)
def test_defaults_must_validate(raw: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    """Defaults are validated by a validator rooted at the default (kube-openapi name "")."""
    got = structural.check_structural(raw, P)
    assert [(e.field, e.detail) for e in got] == expected


def test_defaults_unchecked_while_structure_is_broken() -> None:
    raw = root(a={"properties": {}}, b={"type": "integer", "default": "x"})
    assert messages(raw) == [
        f"{P}.properties[a].type: Required value: must not be empty for specified object fields"
    ]


OPENAPI = [
    pytest.param(
        root(m={"type": "object", "properties": {"a": STR}, "additionalProperties": STR}),
        [
            f"{P}.properties[m].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive"
        ],
        id="properties-and-additionalProperties",
    ),
    pytest.param(
        root(m={"type": "object", "properties": {"a": STR}, "additionalProperties": True}),
        [],
        id="properties-and-additionalProperties-true",
    ),
    pytest.param(
        root(l={"type": "array", "items": STR, "uniqueItems": True}),
        [
            f"{P}.properties[l].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        ],
        id="uniqueItems",
    ),
    pytest.param(
        root(a={"$ref": "#/definitions/x"}),
        [f"{P}.properties[a].$ref: Forbidden: $ref is not supported"],
        id="ref",
    ),
    pytest.param(
        root(a={"type": "null"}),
        [
            f'{P}.properties[a].type: Unsupported value: "null": supported values: "array", "boolean", "integer", "number", "object", "string"',
            f"{P}.properties[a].type: Forbidden: type cannot be set to null, use nullable as an alternative",
        ],
        id="type-null",
    ),
    pytest.param(
        {"type": "object", "nullable": True},
        [f"{P}.nullable: Forbidden: nullable cannot be true at the root"],
        id="nullable-root",
    ),
    pytest.param(
        root(metadata={"type": "object", "default": {}}),
        [f"{P}.properties[metadata].default: Forbidden: must not be set in top-level metadata"],
        id="default-in-top-level-metadata",
    ),
    pytest.param(
        root(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "items": {"type": "object", "properties": {"name": STR}},
            }
        ),
        [
            f"{P}.properties[l].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map"
        ],
        id="list-map-without-keys",
    ),
    pytest.param(
        root(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": STR}},
            }
        ),
        [
            f"{P}.properties[l].items.properties[name].default: Required value: this property is in "
            "x-kubernetes-list-map-keys, so it must have a default or be a required property"
        ],
        id="list-map-key-optional-without-default",
    ),
    pytest.param(
        root(
            l={
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["nme"],
                "items": {"type": "object", "properties": {"name": STR}},
            }
        ),
        [
            f'{P}.properties[l].x-kubernetes-list-map-keys: Invalid value: ["nme"]: entries must all be names of item properties'
        ],
        id="list-map-key-not-a-property",
    ),
    pytest.param(
        root(s={"type": "string", "x-kubernetes-list-type": "set"}),
        [
            f'{P}.properties[s].type: Invalid value: "string": must be array if x-kubernetes-list-type is specified'
        ],
        id="list-type-on-a-string",
    ),
    pytest.param(
        root(l={"type": "array", "items": STR, "x-kubernetes-list-type": "bag"}),
        [
            f'{P}.properties[l].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map"'
        ],
        id="list-type-unknown",
    ),
    pytest.param(
        root(
            l={
                "type": "array",
                "x-kubernetes-list-type": "set",
                "items": {"type": "object", "properties": {"a": STR}},
            }
        ),
        [
            f'{P}.properties[l].items.x-kubernetes-map-type: Invalid value: "null": must be atomic as item of a list with x-kubernetes-list-type=set'
        ],
        id="set-of-granular-objects",
    ),
    pytest.param(
        root(m={"type": "string", "x-kubernetes-map-type": "atomic"}),
        [
            f'{P}.properties[m].type: Invalid value: "string": must be object if x-kubernetes-map-type is specified'
        ],
        id="map-type-on-a-string",
    ),
    pytest.param(
        root(a={"type": "string", "x-kubernetes-preserve-unknown-fields": False}),
        [
            f"{P}.properties[a].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined"
        ],
        id="preserve-false",
    ),
    pytest.param(
        {
            "type": "object",
            "x-kubernetes-validations": [{"rule": " "}, {"rule": "a\nb"}, {"rule": "x", "reason": "Nope"}],
        },
        [
            f"{P}.x-kubernetes-validations[0].rule: Required value: rule is not specified",
            f"{P}.x-kubernetes-validations[1].message: Required value: message must be specified if rule contains line breaks",
            f'{P}.x-kubernetes-validations[2].reason: Unsupported value: "Nope": supported values: "FieldValueDuplicate", '
            '"FieldValueForbidden", "FieldValueInvalid", "FieldValueRequired"',
        ],
        id="validation-rule-shape",
    ),
    pytest.param(
        root(
            metadata={
                "type": "object",
                "properties": {
                    "name": {
                        "type": "object",
                        "x-kubernetes-embedded-resource": True,
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ),
        [
            f"{P}.properties[metadata].properties[name].x-kubernetes-embedded-resource: Forbidden: must not be used inside of resource meta"
        ],
        id="embedded-resource-inside-metadata",
    ),
]


@pytest.mark.parametrize(("raw", "expected"), OPENAPI)
def test_openapi_schema_rules(raw: dict[str, Any], expected: list[str]) -> None:
    assert messages(raw) == expected


def test_conversion_errors_show_only_when_nothing_else_fails() -> None:
    """`$schema` is only caught by the structural conversion (reported as the whole schema)."""
    assert messages({"type": "object", "$schema": "http://json-schema.org/draft-04/schema#"}) == [
        f"{P}: Invalid value: \"\": OpenAPIV3Schema 'schema' is not supported"
    ]


def test_status_subresource_root_restrictions() -> None:
    ok = {"type": "object", "properties": {"status": OBJ}, "description": "d", "required": ["status"]}
    assert messages(ok, status_subresource=True) == []
    got = structural.check_structural(
        {"type": "object", "anyOf": [{"required": ["spec"]}]}, P, status_subresource=True
    )
    assert got[0].field == P
    assert got[0].detail.startswith("only [Description Type Format Title Maximum ExclusiveMaximum Minimum")
    assert got[0].detail.endswith(
        "XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled"
    )
    assert messages({"type": "string"}, status_subresource=True)[0] == (
        f'{P}.type: Invalid value: "string": only "object" is allowed as the type at the root of the schema if the status subresource is enabled'
    )


def test_not_an_object() -> None:
    assert [e.field for e in structural.check_structural("x", P)] == [P]  # type: ignore[arg-type]
