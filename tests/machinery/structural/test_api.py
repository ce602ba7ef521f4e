"""The public entry points: which semantics a schema gets, and a whole custom resource write."""

from __future__ import annotations

import copy
from typing import Any

from kijabi.machinery import schema, structural
from kijabi.machinery.structural.nodes import node_for

from ._helpers import builtin, crd


def test_schema_origin_selects_the_semantics() -> None:
    assert structural.is_custom(crd({})) is True
    assert structural.is_custom(builtin("", "v1", "Pod")) is False


def test_prepared_nodes_are_reused_per_raw_schema() -> None:
    raw: dict[str, Any] = {"type": "object", "properties": {"a": {"type": "string"}}}
    first = node_for(schema.from_openapi_v3(raw))
    assert node_for(schema.from_openapi_v3(raw)) is first
    assert node_for(schema.from_openapi_v3(copy.deepcopy(raw))) is not first


def test_custom_resource_write_in_upstream_order() -> None:
    """decode checks -> unknown fields -> prune -> defaults -> validate, on one object."""
    s = crd(
        {
            "spec": {
                "type": "object",
                "required": ["image"],
                "properties": {
                    "image": {"type": "string", "minLength": 1},
                    "replicas": {"type": "integer", "minimum": 0, "default": 1},
                    "mode": {"type": "string", "enum": ["fast", "safe"], "default": "safe"},
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port"],
                        "items": {
                            "type": "object",
                            "required": ["port"],
                            "properties": {
                                "port": {"type": "integer"},
                                "protocol": {"type": "string", "default": "TCP"},
                            },
                        },
                    },
                },
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        }
    )
    obj: dict[str, Any] = {
        "apiVersion": "example.com/v1",
        "kind": "App",
        "metadata": {"name": "a", "labelz": {}},
        "spec": {"image": "", "ports": [{"port": 80}, {"port": 80, "extra": 1}], "typo": True},
        "status": {"anything": [1]},
    }
    assert structural.check(obj, s) == (
        [],
        [
            'unknown field "metadata.labelz"',
            'unknown field "spec.ports[1].extra"',
            'unknown field "spec.typo"',
        ],
    )
    structural.prune(obj, s)
    structural.apply_defaults(obj, s)
    assert obj["spec"] == {
        "image": "",
        "ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "TCP"}],
        "replicas": 1,
        "mode": "safe",
    }
    assert obj["metadata"] == {"name": "a"}
    assert [str(e) for e in structural.validate(obj, s)] == [
        'spec.image: Invalid value: "": spec.image in body should be at least 1 chars long',
        'spec.ports[1]: Duplicate value: {"port":80}',
    ]


def test_check_reports_custom_resource_metadata_errors_first() -> None:
    s = crd({"spec": {"type": "object"}})
    obj = {"apiVersion": "example.com/v1", "kind": "App", "metadata": {"name": 1}, "spec": {"x": 1}}
    assert structural.check(obj, s) == (
        ["json: cannot unmarshal number into Go struct field ObjectMeta.name of type string"],
        [],
    )
