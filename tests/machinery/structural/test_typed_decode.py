"""Decoding a body into a built-in type: the type errors Go's JSON decoder reports, with its wording.

Expected texts follow sigs.k8s.io/json (encoding/json fork) + encoding/json `UnmarshalTypeError`:
`json: cannot unmarshal <json type> into Go struct field <Struct>.<field path> of type <Go type>`,
where the struct is the innermost one holding the field and the path has JSON names of struct fields
only. Quantity, IntOrString and Time decode themselves, abort decoding, and win over earlier errors.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import structural
from kijabi.machinery.quantity import ERR_FORMAT_WRONG

from ._helpers import builtin, pod

POD = builtin("", "v1", "Pod")


def with_container(**fields: Any) -> dict[str, Any]:
    return pod(containers=[{"name": "c", "image": "nginx", **fields}])


TYPE_ERRORS = [
    pytest.param(
        pod(containers="x"),
        "json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type []v1.Container",
        id="string-into-slice-of-structs",
    ),
    pytest.param(
        with_container(ports=[{"containerPort": "80"}]),
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
        id="string-into-int32-inside-lists",
    ),
    pytest.param(
        with_container(ports=[{"containerPort": 1.5}]),
        "json: cannot unmarshal number 1.5 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
        id="fraction-into-int32-shows-the-number",
    ),
    pytest.param(
        with_container(ports=[{"containerPort": 80.0}]),
        "json: cannot unmarshal number 80.0 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
        id="float-literal-into-int32",
    ),
    pytest.param(
        with_container(ports=[{"containerPort": 3000000000}]),
        "json: cannot unmarshal number 3000000000 into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32",
        id="int32-overflow",
    ),
    pytest.param(
        pod(activeDeadlineSeconds=2**63),
        "json: cannot unmarshal number 9223372036854775808 into Go struct field PodSpec.spec.activeDeadlineSeconds of type int64",
        id="int64-overflow",
    ),
    pytest.param(
        pod(hostNetwork="yes"),
        "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool",
        id="string-into-bool",
    ),
    pytest.param(
        pod(hostNetwork=1),
        "json: cannot unmarshal number into Go struct field PodSpec.spec.hostNetwork of type bool",
        id="number-into-bool-has-no-literal",
    ),
    pytest.param(
        with_container(name=5),
        "json: cannot unmarshal number into Go struct field Container.spec.containers.name of type string",
        id="number-into-string",
    ),
    pytest.param(
        with_container(image={"a": 1}),
        "json: cannot unmarshal object into Go struct field Container.spec.containers.image of type string",
        id="object-into-string",
    ),
    pytest.param(
        with_container(stdin="true"),
        "json: cannot unmarshal string into Go struct field Container.spec.containers.stdin of type bool",
        id="quoted-bool",
    ),
    pytest.param(
        pod(securityContext=[]),
        "json: cannot unmarshal array into Go struct field PodSpec.spec.securityContext of type v1.PodSecurityContext",
        id="array-into-struct",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "spec": 5},
        "json: cannot unmarshal number into Go struct field Pod.spec of type v1.PodSpec",
        id="number-into-top-level-struct-field",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": 1}}},
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
        id="map-value-keeps-the-field-path-without-the-key",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": "a=b"}},
        "json: cannot unmarshal string into Go struct field ObjectMeta.metadata.labels of type map[string]string",
        id="string-into-map",
    ),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"ownerReferences": [7]}},
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.ownerReferences of type v1.OwnerReference",
        id="list-element-names-the-element-type",
    ),
    pytest.param(
        with_container(args=["a", 2]),
        "json: cannot unmarshal number into Go struct field Container.spec.containers.args of type string",
        id="string-list-element",
    ),
    pytest.param(
        pod(overhead={"cpu": {}}),
        ERR_FORMAT_WRONG,
        id="quantity-object",
    ),
]


@pytest.mark.parametrize(("obj", "message"), TYPE_ERRORS)
def test_first_type_error(obj: dict[str, Any], message: str) -> None:
    """The first reported error is Go's, word for word."""
    assert structural.decode_errors(obj, POD)[0] == message


def test_deployment_template_path_runs_through_every_struct() -> None:
    """The classic kubectl error for a quoted port in a Deployment."""
    dep = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {"template": {"spec": {"containers": [{"name": "c", "ports": [{"containerPort": "80"}]}]}}},
    }
    assert structural.decode_errors(dep, builtin("apps", "v1", "Deployment")) == [
        "json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32"
    ]


def test_map_of_structs_keeps_struct_names() -> None:
    """Inside map values, the field path skips the key but the struct changes (JSONSchemaProps)."""
    obj = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {
            "versions": [{"name": "v1", "schema": {"openAPIV3Schema": {"properties": {"spec": {"type": 5}}}}}]
        },
    }
    crd = builtin("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
    assert structural.decode_errors(obj, crd) == [
        "json: cannot unmarshal number into Go struct field JSONSchemaProps.spec.versions.schema.openAPIV3Schema.properties.type of type string"
    ]


NULLS_AND_VALID = [
    pytest.param(
        pod(hostNetwork=None, activeDeadlineSeconds=None, securityContext=None), id="null-scalars-and-structs"
    ),
    pytest.param(pod(containers=None), id="null-list"),
    pytest.param(pod(containers=[None]), id="null-list-element"),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"labels": {"a": None}}}, id="null-map-value"
    ),
    pytest.param(pod(overhead={"cpu": None}), id="null-quantity"),
    pytest.param(with_container(livenessProbe={"httpGet": {"port": None}}), id="null-int-or-string"),
    pytest.param(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": None}}, id="null-time"
    ),
    pytest.param(
        pod(overhead={"cpu": "100m", "memory": 1.5, "x": 3, "y": " 1Gi "}), id="quantities-numbers-and-spaces"
    ),
    pytest.param(with_container(livenessProbe={"httpGet": {"port": "http"}}), id="int-or-string-as-string"),
    pytest.param(with_container(livenessProbe={"httpGet": {"port": 8080}}), id="int-or-string-as-int"),
    pytest.param(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"managedFields": [{"fieldsV1": {"f:x": 1, "any": [1]}}]},
        },
        id="fieldsV1-is-opaque",
    ),
    pytest.param(pod(priority=-(2**31)), id="int32-minimum"),
]


@pytest.mark.parametrize("obj", NULLS_AND_VALID)
def test_accepted_values(obj: dict[str, Any]) -> None:
    """null is fine anywhere; well-typed values give no error."""
    assert structural.decode_errors(obj, POD) == []


INT_OR_STRING = [
    pytest.param(True, "bool", id="bool"),
    pytest.param(1.5, "number 1.5", id="fraction"),
    pytest.param({}, "object", id="object"),
    pytest.param([], "array", id="array"),
    pytest.param(2**31, "number 2147483648", id="too-big-for-int32"),
]


@pytest.mark.parametrize(("port", "word"), INT_OR_STRING)
def test_int_or_string_decodes_non_strings_as_int32(port: Any, word: str) -> None:
    """IntOrString.UnmarshalJSON puts anything that is not a string into an int32, and aborts."""
    obj = with_container(livenessProbe={"httpGet": {"port": port}})
    assert structural.decode_errors(obj, POD) == [
        f"json: cannot unmarshal {word} into Go struct field HTTPGetAction.spec.containers.livenessProbe.httpGet.port of type int32"
    ]


QUANTITIES = [
    pytest.param("1x", ERR_FORMAT_WRONG, id="bad-suffix-character"),
    pytest.param("", ERR_FORMAT_WRONG, id="empty"),
    pytest.param("1kk", "unable to parse quantity's suffix", id="unknown-suffix"),
    pytest.param("1e", "unable to parse quantity's suffix", id="lone-e"),
    pytest.param(True, ERR_FORMAT_WRONG, id="bool"),
    pytest.param([1], ERR_FORMAT_WRONG, id="array"),
]


@pytest.mark.parametrize(("value", "message"), QUANTITIES)
def test_quantity_errors_are_bare(value: Any, message: str) -> None:
    """Quantity errors carry no Go struct context (they are not UnmarshalTypeErrors)."""
    obj = with_container(resources={"limits": {"cpu": value}})
    assert structural.decode_errors(obj, POD) == [message]


TIMES = [
    pytest.param(
        "yesterday",
        'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"',
        id="words",
    ),
    pytest.param(
        "2024-01-01",
        'parsing time "2024-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"',
        id="date-only",
    ),
    pytest.param(
        "2024-13-01T00:00:00Z", 'parsing time "2024-13-01T00:00:00Z": month out of range', id="month-range"
    ),
    pytest.param(
        "2023-02-29T00:00:00Z", 'parsing time "2023-02-29T00:00:00Z": day out of range', id="day-range"
    ),
    pytest.param(
        "2024-01-01T25:00:00Z", 'parsing time "2024-01-01T25:00:00Z": hour out of range', id="hour-range"
    ),
    pytest.param(
        "2024-01-01T00:00:00",
        'parsing time "2024-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00"',
        id="missing-zone",
    ),
    pytest.param(
        "2024-01-01T00:00:00Zjunk",
        'parsing time "2024-01-01T00:00:00Zjunk": extra text: "junk"',
        id="extra-text",
    ),
    pytest.param(
        5,
        "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.creationTimestamp of type string",
        id="number",
    ),
]


@pytest.mark.parametrize(("value", "message"), TIMES)
def test_time_fields_parse_rfc3339(value: Any, message: str) -> None:
    """metav1.Time decodes a string with time.Parse(RFC3339) and aborts on failure."""
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": value}}
    assert structural.decode_errors(obj, POD) == [message]


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-01T00:00:00Z",
        "2024-02-29T23:59:59.123456789+05:30",
        "2024-01-01T1:00:00Z",
        "0001-01-01T00:00:00-00:00",
    ],
)
def test_valid_times(value: str) -> None:
    obj = {"apiVersion": "v1", "kind": "Pod", "metadata": {"creationTimestamp": value}}
    assert structural.decode_errors(obj, POD) == []


SECRET = builtin("", "v1", "Secret")

BASE64 = [
    pytest.param("aGVsbG8=", None, id="padded"),
    pytest.param("aGVs\nbG8=", None, id="newlines-ignored"),
    pytest.param("", None, id="empty"),
    pytest.param("abc", "illegal base64 data at input byte 0", id="short-quantum"),
    pytest.param("a!bc", "illegal base64 data at input byte 1", id="bad-character"),
    pytest.param("aGVsbG8", "illegal base64 data at input byte 4", id="missing-padding"),
    pytest.param("aGVsbG8=x", "illegal base64 data at input byte 8", id="garbage-after-padding"),
    pytest.param("é", "illegal base64 data at input byte 0", id="non-ascii-counts-bytes"),
]


@pytest.mark.parametrize(("value", "message"), BASE64)
def test_bytes_fields_are_base64(value: str, message: str | None) -> None:
    """[]byte fields (Secret data) decode base64 like Go's StdEncoding."""
    obj = {"apiVersion": "v1", "kind": "Secret", "data": {"k": value}}
    assert structural.decode_errors(obj, SECRET) == ([message] if message else [])


def test_bytes_field_of_wrong_type_is_uint8_slice() -> None:
    obj = {"apiVersion": "v1", "kind": "Secret", "data": {"k": 1}}
    assert structural.decode_errors(obj, SECRET) == [
        "json: cannot unmarshal number into Go struct field Secret.data of type []uint8"
    ]


def test_mismatches_are_all_listed_in_document_order() -> None:
    """Go keeps decoding after a mismatch; the caller reports the first of them."""
    obj = pod(hostNetwork="x", priority="y")
    assert structural.decode_errors(obj, POD) == [
        "json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool",
        "json: cannot unmarshal string into Go struct field PodSpec.spec.priority of type int32",
    ]


def test_an_aborting_error_replaces_earlier_mismatches() -> None:
    """A self-decoding type's error stops decoding and is the only one reported."""
    obj = with_container(ports=[{"containerPort": "80"}], resources={"limits": {"cpu": "1x"}})
    assert structural.decode_errors(obj, POD) == [ERR_FORMAT_WRONG]


def test_errors_after_an_aborting_error_are_not_reached() -> None:
    obj = with_container(resources={"limits": {"cpu": "1x"}}, stdin="no")
    assert structural.decode_errors(obj, POD) == [ERR_FORMAT_WRONG]


def test_non_object_body() -> None:
    assert structural.decode_errors([], POD) == [  # type: ignore[arg-type]
        "json: cannot unmarshal array into Go value of type v1.Pod"
    ]
