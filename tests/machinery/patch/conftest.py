"""Fixtures for the patch tests: the schema of upstream's SMP test type, and built-in Kubernetes schemas."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import schema
from kijabi.machinery.schema import Definitions, Schema


def _ref(name: str, **extensions: Any) -> dict[str, Any]:
    return {"$ref": f"#/$defs/{name}", **extensions}


def _merge_item_definitions() -> dict[str, Any]:
    """A structural schema equivalent to the `MergeItem` type that upstream's strategicpatch tests use.

    Lists of items keyed by `name`, scalar lists with and without the merge strategy, a pointer field used
    as a keyed list, a string map, a replace-strategy RawExtension, a retainKeys struct and a
    merge+retainKeys list, and an untyped JSON field.
    """
    keyed = {"x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge"}
    items = {"type": "array", "items": _ref("mergeItem")}
    ints = {"type": "array", "items": {"type": "integer"}}
    strings = {"type": "object", "additionalProperties": {"type": "string"}}
    scalars = {name: {"type": "string"} for name in ("name", "value", "other")}
    return {
        "mergeItem": {
            "type": "object",
            "properties": {
                **scalars,
                "mergingList": {**items, **keyed},
                "nonMergingList": items,
                "mergingIntList": {**ints, "x-kubernetes-patch-strategy": "merge"},
                "nonMergingIntList": ints,
                "mergeItemPtr": _ref("mergeItem", **keyed),
                "simpleMap": strings,
                "replacingItem": _ref(
                    "io.k8s.apimachinery.pkg.runtime.RawExtension",
                    **{"x-kubernetes-patch-strategy": "replace"},
                ),
                "retainKeysMap": _ref("retainKeysMergeItem", **{"x-kubernetes-patch-strategy": "retainKeys"}),
                "retainKeysMergingList": {
                    **items,
                    **keyed,
                    "x-kubernetes-patch-strategy": "merge,retainKeys",
                },
                "jsonItem": {},
            },
        },
        "retainKeysMergeItem": {
            "type": "object",
            "properties": {
                **scalars,
                "simpleMap": strings,
                "mergingList": {**items, **keyed},
                "nonMergingList": items,
                "mergingIntList": {**ints, "x-kubernetes-patch-strategy": "merge"},
            },
        },
        "io.k8s.apimachinery.pkg.runtime.RawExtension": {"type": "object"},
    }


@pytest.fixture(scope="session")
def merge_item() -> Schema:
    """The schema of upstream's strategic merge patch test type."""
    return Definitions(_merge_item_definitions()).get("mergeItem")


def _builtin(group: str, version: str, kind: str) -> Schema:
    node = schema.builtin().for_kind(group, version, kind)
    assert node is not None, f"{group}/{version} {kind} missing from the built-in definitions"
    return node


@pytest.fixture(scope="session")
def pod_schema() -> Schema:
    return _builtin("", "v1", "Pod")


@pytest.fixture(scope="session")
def deployment_schema() -> Schema:
    return _builtin("apps", "v1", "Deployment")


@pytest.fixture(scope="session")
def service_schema() -> Schema:
    return _builtin("", "v1", "Service")


@pytest.fixture(scope="session")
def controller_revision_schema() -> Schema:
    return _builtin("apps", "v1", "ControllerRevision")
