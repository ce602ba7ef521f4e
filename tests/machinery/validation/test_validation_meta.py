"""ObjectMeta rules on create and update, labels, annotations, finalizers, owner references,
managedFields and label selectors, as validate() reports them for any kind."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import errors
from kijabi.machinery.validation import validate, validate_label_selector
from tests.machinery.validation.validation_messages import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    LABEL_VALUE,
    NEGATIVE,
    QUALIFIED_NAME_PART,
)
from tests.machinery.validation.validation_objects import DELETE, edit, errors_of, pod, run, stored

INVALID, REQUIRED, FORBIDDEN, TOO_LONG = (
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueForbidden",
    "FieldValueTooLong",
)


@pytest.mark.parametrize(
    ("kind", "path", "value", "expected"),
    [
        pytest.param(
            "Pod",
            "metadata.name",
            DELETE,
            [(REQUIRED, "metadata.name", "name or generateName is required")],
            id="name-required",
        ),
        pytest.param(
            "Pod",
            "metadata.name",
            "Web",
            [(INVALID, "metadata.name", DNS1123_SUBDOMAIN)],
            id="pod-name-subdomain",
        ),
        pytest.param(
            "Service",
            "metadata.name",
            "1web",
            [(INVALID, "metadata.name", DNS1035_LABEL)],
            id="service-name-1035",
        ),
        pytest.param(
            "Namespace",
            "metadata.name",
            "a.b",
            [(INVALID, "metadata.name", "must not contain dots")],
            id="namespace-name-label",
        ),
        pytest.param(
            "StatefulSet",
            "metadata.name",
            "db.0",
            [(INVALID, "metadata.name", "must not contain dots")],
            id="statefulset-name-label",
        ),
        pytest.param(
            "Role",
            "metadata.name",
            "a/b",
            [(INVALID, "metadata.name", "may not contain '/'")],
            id="role-name-path-segment",
        ),
        pytest.param("Role", "metadata.name", "Any:Thing", [], id="role-name-free-form"),
        pytest.param(
            "Widget",
            "metadata.name",
            "W1",
            [(INVALID, "metadata.name", DNS1123_SUBDOMAIN)],
            id="custom-resource-subdomain",
        ),
        pytest.param("PodDisruptionBudget", "metadata.name", "PDB", [], id="pdb-name-unchecked"),
        pytest.param(
            "PodDisruptionBudget",
            "metadata.name",
            "a%b",
            [(INVALID, "metadata.name", "may not contain '%'")],
            id="pdb-name-path-segment",
        ),
        pytest.param("Event", "metadata.name", "Any.Name", [], id="core-event-name-free"),
        pytest.param(
            "Pod",
            "metadata.namespace",
            DELETE,
            [(REQUIRED, "metadata.namespace", "")],
            id="namespace-required",
        ),
        pytest.param(
            "Pod",
            "metadata.namespace",
            "Team",
            [(INVALID, "metadata.namespace", DNS1123_LABEL)],
            id="namespace-format",
        ),
        pytest.param(
            "Node",
            "metadata.namespace",
            "default",
            [(FORBIDDEN, "metadata.namespace", "not allowed on this type")],
            id="namespace-forbidden",
        ),
        pytest.param(
            "Pod",
            "metadata.generation",
            -1,
            [(INVALID, "metadata.generation", NEGATIVE)],
            id="generation-negative",
        ),
        pytest.param(
            "Pod",
            "metadata.labels",
            {"bad key!": "x"},
            [(INVALID, "metadata.labels", QUALIFIED_NAME_PART)],
            id="label-key",
        ),
        pytest.param(
            "Pod",
            "metadata.labels",
            {"app": "-x"},
            [(INVALID, "metadata.labels", LABEL_VALUE)],
            id="label-value",
        ),
        pytest.param(
            "Pod", "metadata.annotations", {"Example.COM/Key": "v"}, [], id="annotation-key-case-insensitive"
        ),
        pytest.param(
            "Pod",
            "metadata.annotations",
            {"a b": "v"},
            [(INVALID, "metadata.annotations", QUALIFIED_NAME_PART)],
            id="annotation-key",
        ),
        pytest.param(
            "Pod",
            "metadata.annotations",
            {"big": "x" * 262142},
            [(TOO_LONG, "metadata.annotations", "may not be more than 262144 bytes")],
            id="annotations-too-large",
        ),
        pytest.param("Pod", "metadata.annotations", {"big": "x" * 262141}, [], id="annotations-at-limit"),
        pytest.param(
            "Pod",
            "metadata.finalizers",
            ["custom"],
            [
                (
                    INVALID,
                    "metadata.finalizers[0]",
                    "name is neither a standard finalizer name nor is it fully qualified",
                )
            ],
            id="finalizer-not-standard",
        ),
        pytest.param(
            "Pod", "metadata.finalizers", ["kubernetes", "example.com/cleanup"], [], id="finalizers-ok"
        ),
        pytest.param("Widget", "metadata.finalizers", ["custom"], [], id="custom-resource-finalizer-free"),
        pytest.param(
            "Pod",
            "metadata.finalizers",
            ["orphan", "foregroundDeletion"],
            [(INVALID, "metadata.finalizers", "finalizer orphan and foregroundDeletion cannot be both set")],
            id="finalizers-conflict",
        ),
        pytest.param(
            "Pod",
            "metadata.ownerReferences",
            [{"apiVersion": "", "kind": "", "name": "", "uid": ""}],
            [
                (INVALID, "metadata.ownerReferences.apiVersion", "version must not be empty"),
                (INVALID, "metadata.ownerReferences.kind", "kind must not be empty"),
                (INVALID, "metadata.ownerReferences.name", "name must not be empty"),
                (INVALID, "metadata.ownerReferences.uid", "uid must not be empty"),
            ],
            id="owner-reference-fields",
        ),
        pytest.param(
            "Pod",
            "metadata.ownerReferences",
            [{"apiVersion": "v1", "kind": "Event", "name": "e", "uid": "1"}],
            [(INVALID, "metadata.ownerReferences", "/v1, Kind=Event is disallowed from being an owner")],
            id="owner-event-banned",
        ),
        pytest.param(
            "Pod",
            "metadata.ownerReferences",
            [
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "a", "uid": "1", "controller": True},
                {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "b", "uid": "2", "controller": True},
            ],
            [
                (
                    INVALID,
                    "metadata.ownerReferences",
                    'Only one reference can have Controller set to true. Found "true" in references for ReplicaSet/a and ReplicaSet/b',
                )
            ],
            id="owner-two-controllers",
        ),
        pytest.param(
            "Pod",
            "metadata.managedFields",
            [{"manager": "m", "operation": "Patch", "fieldsType": "FieldsV2"}],
            [
                (INVALID, "metadata.managedFields[0].operation", "must be `Apply` or `Update`"),
                (INVALID, "metadata.managedFields[0].fieldsType", "must be `FieldsV1`"),
            ],
            id="managed-fields",
        ),
        pytest.param(
            "Pod",
            "metadata.managedFields",
            [{"manager": "m" * 129, "operation": "Apply"}],
            [(TOO_LONG, "metadata.managedFields[0].manager", "may not be more than 128 bytes")],
            id="managed-fields-manager-length",
        ),
    ],
)
def test_object_meta_on_create(
    kind: str, path: str, value: Any, expected: list[tuple[str, str, str]]
) -> None:
    assert run(kind, lambda o: edit(o, path, value)) == expected


def test_generate_name_is_checked_with_the_name_rule() -> None:
    obj = edit(pod(), "metadata.generateName", "Web-")
    assert errors_of("Pod", obj) == [(INVALID, "metadata.generateName", DNS1123_SUBDOMAIN)]


def test_generic_path_segment_check_runs_only_after_type_rules_pass() -> None:
    """A Pod name with '/' fails the DNS rule; the path-segment errors are not added on top."""
    assert errors_of("Pod", edit(pod(), "metadata.name", "a/b")) == [
        (INVALID, "metadata.name", DNS1123_SUBDOMAIN)
    ]


UPDATE_CASES = [
    pytest.param("metadata.name", "other", [(INVALID, "metadata.name", "field is immutable")], id="name"),
    pytest.param(
        "metadata.namespace", "other", [(INVALID, "metadata.namespace", "field is immutable")], id="namespace"
    ),
    pytest.param("metadata.uid", "changed", [(INVALID, "metadata.uid", "field is immutable")], id="uid"),
    pytest.param(
        "metadata.creationTimestamp",
        "2030-01-01T00:00:00Z",
        [(INVALID, "metadata.creationTimestamp", "field is immutable")],
        id="creation",
    ),
    pytest.param(
        "metadata.deletionTimestamp",
        "2030-01-01T00:00:00Z",
        [(INVALID, "metadata.deletionTimestamp", "field is immutable")],
        id="deletion",
    ),
    pytest.param(
        "metadata.resourceVersion",
        DELETE,
        [(INVALID, "metadata.resourceVersion", "must be specified for an update")],
        id="resource-version",
    ),
    pytest.param(
        "metadata.generation",
        1,
        [(INVALID, "metadata.generation", "must not be decremented")],
        id="generation",
    ),
    pytest.param("metadata.labels", {"app": "new", "tier": "web"}, [], id="labels-mutable"),
]


@pytest.mark.parametrize(("path", "value", "expected"), UPDATE_CASES)
def test_object_meta_on_update(path: str, value: Any, expected: list[tuple[str, str, str]]) -> None:
    old = stored(edit(pod(), "metadata.generation", 3))
    new = edit(stored(edit(pod(), "metadata.generation", 3)), path, value)
    assert errors_of("Pod", new, old) == expected


def test_no_new_finalizers_while_deleting() -> None:
    old = stored(pod())
    old["metadata"] |= {"deletionTimestamp": "2030-01-01T00:00:00Z", "finalizers": ["example.com/a"]}
    new = stored(pod())
    new["metadata"] |= {
        "deletionTimestamp": "2030-01-01T00:00:00Z",
        "finalizers": ["example.com/a", "example.com/b"],
    }
    assert errors_of("Pod", new, old) == [
        (
            FORBIDDEN,
            "metadata.finalizers",
            'no new finalizers can be added if the object is being deleted, found new finalizers []string{"example.com/b"}',
        )
    ]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        pytest.param({"matchLabels": {"app": "web"}}, [], id="ok"),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "In"}]},
            [
                (
                    REQUIRED,
                    "spec.selector.matchExpressions[0].values",
                    "must be specified when `operator` is 'In' or 'NotIn'",
                )
            ],
            id="in-without-values",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "Exists", "values": ["x"]}]},
            [
                (
                    FORBIDDEN,
                    "spec.selector.matchExpressions[0].values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            ],
            id="exists-with-values",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]},
            [(INVALID, "spec.selector.matchExpressions[0].operator", "not a valid selector operator")],
            id="bad-operator",
        ),
        pytest.param(
            {"matchExpressions": [{"key": "app", "operator": "In", "values": ["-bad"]}]},
            [(INVALID, "spec.selector.matchExpressions[0].values[0]", LABEL_VALUE)],
            id="bad-value",
        ),
        pytest.param(
            {"matchLabels": {"a b": "x"}},
            [(INVALID, "spec.selector.matchLabels", QUALIFIED_NAME_PART)],
            id="bad-key",
        ),
    ],
)
def test_validate_label_selector(selector: dict[str, Any], expected: list[tuple[str, str, str]]) -> None:
    assert [
        (e.type, e.field, e.detail) for e in validate_label_selector(selector, "spec.selector")
    ] == expected


def test_unknown_kind_gets_object_meta_rules_only() -> None:
    obj = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g", "labels": {"x": "-"}},
        "spec": {"anything": [1, 2]},
    }
    errs = validate("example.com", "v1", "Gadget", obj, None, namespaced=False)
    assert [(e.type, e.field) for e in errs] == [(INVALID, "metadata.labels")]


def test_errors_render_as_upstream_422() -> None:
    errs = validate("", "v1", "Pod", edit(pod(), "metadata.name", "Web"), None, namespaced=True)
    status = errors.invalid("Pod", "", "Web", errs).status()
    assert (
        status["message"] == f'Pod "Web" is invalid: metadata.name: Invalid value: "Web": {DNS1123_SUBDOMAIN}'
    )
    assert status["details"]["causes"] == [
        {"reason": INVALID, "message": f'Invalid value: "Web": {DNS1123_SUBDOMAIN}', "field": "metadata.name"}
    ]


def test_duplicates_are_reported_once() -> None:
    """Update re-runs generic and type ObjectMeta checks; the same error must not appear twice."""
    old = stored(pod())
    new = edit(stored(pod()), "metadata.labels", {"app": "-bad"})
    assert errors_of("Pod", new, old) == [(INVALID, "metadata.labels", LABEL_VALUE)]


def test_validate_does_not_mutate_inputs() -> None:
    import copy

    obj, old = edit(stored(pod()), "spec.containers[0].image", "nginx:2"), stored(pod())
    before = copy.deepcopy((obj, old))
    validate("", "v1", "Pod", obj, old, namespaced=True)
    assert (obj, old) == before
