"""Unknown fields of built-in types (`fieldValidation=Strict|Warn`), as sigs.k8s.io/json reports them.

Paths join struct fields and map keys with dots and index list items (`spec.containers[0].foo`), in
document order, quoted like strconv.Quote, at most 100. `check` gives upstream's precedence: any type
error suppresses the strict errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import structural

from ._helpers import builtin, pod

POD = builtin("", "v1", "Pod")

UNKNOWN = [
    pytest.param({**pod(), "foo": 1}, ['unknown field "foo"'], id="top-level"),
    pytest.param(pod(foo=1), ['unknown field "spec.foo"'], id="struct-field"),
    pytest.param(
        pod(containers=[{"name": "a"}, {"name": "b", "imagePullPolicyx": "Always"}]),
        ['unknown field "spec.containers[1].imagePullPolicyx"'],
        id="list-index",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labelz": {}}},
        ['unknown field "metadata.labelz"'],
        id="metadata-is-checked",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"ownerReferences": [{"uid": "u", "x": 1}]}},
        ['unknown field "metadata.ownerReferences[0].x"'],
        id="metadata-nested",
    ),
    pytest.param(
        pod(Containers=[]),
        ['unknown field "spec.Containers"'],
        id="case-sensitive",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "zeta": 1, "metadata": {"b": 1}, "alpha": 2},
        ['unknown field "zeta"', 'unknown field "metadata.b"', 'unknown field "alpha"'],
        id="document-order",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {'a"b': 1, "é": 2}},
        ['unknown field "metadata.a\\"b"', 'unknown field "metadata.é"'],
        id="go-quoting",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"managedFields": [{"fieldsV1": {"f:spec": {}}}]}},
        [],
        id="opaque-fieldsV1",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), UNKNOWN)
def test_unknown_fields(obj: dict[str, Any], expected: list[str]) -> None:
    assert structural.unknown_fields(obj, POD) == expected


def test_map_keys_are_path_segments() -> None:
    """Unknown fields below a map value name the key (JSONSchemaProps.properties is a map)."""
    crd = builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    obj = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {"versions": [{"schema": {"openAPIV3Schema": {"properties": {"spec": {"typo": "x"}}}}}]},
    }
    assert structural.unknown_fields(obj, crd) == [
        'unknown field "spec.versions[0].schema.openAPIV3Schema.properties.spec.typo"'
    ]


def test_raw_extension_is_opaque() -> None:
    """runtime.RawExtension (ControllerRevision.data) keeps whatever it is given."""
    rev = builtin("apps", "v1", "ControllerRevision")
    obj = {"apiVersion": "apps/v1", "kind": "ControllerRevision", "revision": 1, "data": {"spec": {"any": 1}}}
    assert structural.unknown_fields(obj, rev) == []


def test_at_most_100_unknown_fields() -> None:
    obj = pod(**{f"f{i:03d}": i for i in range(150)})
    unknown = structural.unknown_fields(obj, POD)
    assert len(unknown) == 100
    assert unknown[-1] == 'unknown field "spec.f099"'


def test_check_returns_both_in_one_walk() -> None:
    obj = pod(foo=1, bar=2)
    assert structural.check(obj, POD) == ([], ['unknown field "spec.foo"', 'unknown field "spec.bar"'])


def test_type_errors_suppress_unknown_fields() -> None:
    """Upstream returns the decode error and no strict errors when a value has the wrong type."""
    obj = pod(foo=1, hostNetwork="x")
    errors, unknown = structural.check(obj, POD)
    assert errors == [
        "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool"
    ]
    assert unknown == []


def test_check_does_not_modify() -> None:
    obj = pod(foo=1)
    structural.check(obj, POD)
    assert obj["spec"]["foo"] == 1


def test_prune_removes_what_the_go_struct_drops() -> None:
    obj = {**pod(foo=1), "x": 2}
    obj["metadata"]["y"] = 3
    removed = structural.prune(obj, POD)
    assert removed == ["metadata.y", "spec.foo", "x"]
    assert obj == pod()


def test_prune_removes_more_than_100() -> None:
    obj = pod(**{f"f{i:03d}": i for i in range(150)})
    structural.prune(obj, POD)
    assert obj == pod()


MESSAGES = [
    pytest.param(
        lambda: structural.decode_failure("Pod", "v1", "json: x"),
        'Pod in version "v1" cannot be handled as a Pod: json: x',
        id="decode",
    ),
    pytest.param(
        lambda: structural.strict_failure("Pod", "v1", ['unknown field "spec.foo"', 'unknown field "x"']),
        'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", unknown field "x"',
        id="strict",
    ),
]


@pytest.mark.parametrize(("make", "expected"), MESSAGES)
def test_bad_request_messages(make: Any, expected: str) -> None:
    """The 400 texts (apiserver transformDecodeError wraps both decode and strict errors)."""
    assert make() == expected
