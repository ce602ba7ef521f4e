"""Decoding hand-built protobuf bodies: each case is one gotcha of Kubernetes' protobuf encoding.

The expected dicts are what Go's JSON encoding writes for the struct gogo-protobuf decodes from the
same bytes: zero scalars kept for pointers and non-omitempty fields, dropped otherwise; structs never
omitted; absent non-omitempty slices, maps and pointers as null.
"""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import protobuf
from tests.machinery.protobuf.pb_bytes import MAGIC, body, d, entry, key, m, s, time, v, varint

CASES: list[tuple[str, str, str, bytes, dict[str, Any]]] = [
    # --- metav1.Time ---------------------------------------------------------------------------
    ("time-zero-is-null", "v1", "ConfigMap", m(1, m(8)), {"metadata": {"creationTimestamp": None}}),
    (
        "time-rfc3339-seconds",
        "v1",
        "ConfigMap",
        m(1, time(8, 1704164645)),
        {"metadata": {"creationTimestamp": "2024-01-02T03:04:05Z"}},
    ),
    (
        "time-nanos-ignored",
        "v1",
        "ConfigMap",
        m(1, time(8, 1704164645, 999_999_999)),
        {"metadata": {"creationTimestamp": "2024-01-02T03:04:05Z"}},
    ),
    (
        "time-explicit-epoch",
        "v1",
        "ConfigMap",
        m(1, m(8, v(1, 0))),
        {"metadata": {"creationTimestamp": "1970-01-01T00:00:00Z"}},
    ),
    (
        "time-before-epoch-negative-varint",
        "v1",
        "ConfigMap",
        m(1, time(8, -1)),
        {"metadata": {"creationTimestamp": "1969-12-31T23:59:59Z"}},
    ),
    (
        "time-go-zero-seconds-is-null",
        "v1",
        "ConfigMap",
        m(1, time(8, -62135596800)),
        {"metadata": {"creationTimestamp": None}},
    ),
    (
        "time-pointer-field",
        "v1",
        "ConfigMap",
        m(1, time(9, 1704164645)),
        {"metadata": {"deletionTimestamp": "2024-01-02T03:04:05Z"}},
    ),
    # --- metav1.MicroTime ----------------------------------------------------------------------
    (
        "microtime-six-digits-truncated",
        "events.k8s.io/v1",
        "Event",
        time(2, 1704164645, 123_456_789),
        {"eventTime": "2024-01-02T03:04:05.123456Z"},
    ),
    (
        "microtime-whole-second",
        "events.k8s.io/v1",
        "Event",
        time(2, 1704164645, 0),
        {"eventTime": "2024-01-02T03:04:05.000000Z"},
    ),
    ("microtime-zero-is-null", "events.k8s.io/v1", "Event", m(2), {"eventTime": None}),
    # --- IntOrString -------------------------------------------------------------------------------
    (
        "intorstring-int",
        "v1",
        "Service",
        m(2, m(1, v(3, 80), m(4, v(1, 0), v(2, 8080), s(3, "")))),
        {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}},
    ),
    (
        "intorstring-string",
        "v1",
        "Service",
        m(2, m(1, v(3, 80), m(4, v(1, 1), v(2, 0), s(3, "http")))),
        {"spec": {"ports": [{"port": 80, "targetPort": "http"}]}},
    ),
    (
        "intorstring-empty-is-int-zero",
        "v1",
        "Service",
        m(2, m(1, v(3, 80), m(4))),
        {"spec": {"ports": [{"port": 80, "targetPort": 0}]}},
    ),
    (
        "intorstring-negative-int32",
        "v1",
        "Service",
        m(2, m(1, v(3, 80), m(4, v(2, -1)))),
        {"spec": {"ports": [{"port": 80, "targetPort": -1}]}},
    ),
    # --- Quantity ------------------------------------------------------------------------------
    (
        "quantity-map-values",
        "v1",
        "ResourceQuota",
        m(2, entry(1, "cpu", s(1, "500m")), entry(1, "memory", s(1, "1Gi")), entry(1, "pods", s(1, "10"))),
        {"spec": {"hard": {"cpu": "500m", "memory": "1Gi", "pods": "10"}}},
    ),
    (
        "quantity-empty-message-is-zero",
        "v1",
        "ResourceQuota",
        m(2, m(1, s(1, "cpu"), m(2))),
        {"spec": {"hard": {"cpu": "0"}}},
    ),
    (
        "quantity-missing-map-value-is-zero",
        "v1",
        "ResourceQuota",
        m(2, m(1, s(1, "cpu"))),
        {"spec": {"hard": {"cpu": "0"}}},
    ),
    # --- RawExtension / FieldsV1 ---------------------------------------------------------------
    (
        "rawextension-json",
        "apps/v1",
        "ControllerRevision",
        m(2, s(1, b'{"a": [1, 2], "b": null}')) + v(3, 2),
        {"data": {"a": [1, 2], "b": None}, "revision": 2},
    ),
    (
        "rawextension-empty-is-null",
        "apps/v1",
        "ControllerRevision",
        m(2) + v(3, 0),
        {"data": None, "revision": 0},
    ),
    (
        "rawextension-nested-protobuf-object",
        "apps/v1",
        "ControllerRevision",
        m(2, s(1, body("v1", "ConfigMap", m(1, s(1, "x"))))),
        {"data": {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}}},
    ),
    (
        "fieldsv1-json",
        "v1",
        "ConfigMap",
        m(1, m(17, s(1, "kubectl"), s(2, "Update"), s(6, "FieldsV1"), m(7, s(1, b'{"f:data":{".":{}}}')))),
        {
            "metadata": {
                "managedFields": [
                    {
                        "manager": "kubectl",
                        "operation": "Update",
                        "fieldsType": "FieldsV1",
                        "fieldsV1": {"f:data": {".": {}}},
                    }
                ]
            }
        },
    ),
    # --- maps and bytes ------------------------------------------------------------------------
    (
        "map-string-string",
        "v1",
        "ConfigMap",
        m(1, entry(11, "app", "web"), entry(11, "tier", "")) + entry(2, "k", "v"),
        {"metadata": {"labels": {"app": "web", "tier": ""}}, "data": {"k": "v"}},
    ),
    (
        "map-entry-value-before-key",
        "v1",
        "ConfigMap",
        m(2, s(2, "v"), s(1, "k")),
        {"data": {"k": "v"}},
    ),
    ("map-entry-empty", "v1", "ConfigMap", m(2), {"data": {"": ""}}),
    (
        "map-string-bytes-base64",
        "v1",
        "Secret",
        entry(2, "pw", b"\x00\xffp@ss") + entry(2, "empty", b""),
        {"data": {"pw": "AP9wQHNz", "empty": ""}},
    ),
    (
        "configmap-binarydata-base64",
        "v1",
        "ConfigMap",
        entry(3, "bin", b"\x01\x02\x03"),
        {"binaryData": {"bin": "AQID"}},
    ),
    # --- integers and booleans -----------------------------------------------------------------
    (
        "int32-negative-ten-byte-varint",
        "apps/v1",
        "Deployment",
        m(2, v(1, -1)),
        {"spec": {"replicas": -1, "selector": None}},
    ),
    (
        "int64-negative",
        "v1",
        "Pod",
        m(2, v(5, -5)),
        {"spec": {"activeDeadlineSeconds": -5, "containers": None}},
    ),
    (
        "int64-large",
        "v1",
        "Pod",
        m(2, v(5, (1 << 63) - 1)),
        {"spec": {"activeDeadlineSeconds": (1 << 63) - 1, "containers": None}},
    ),
    (
        "pointer-int-zero-kept",
        "apps/v1",
        "Deployment",
        m(2, v(1, 0)),
        {"spec": {"replicas": 0, "selector": None}},
    ),
    ("pointer-bool-false-kept", "v1", "ConfigMap", v(4, 0), {"immutable": False}),
    ("bool-nonzero-varint-is-true", "v1", "ConfigMap", v(4, 2), {"immutable": True}),
    # --- zero values, omitempty and null ---------------------------------------------------------
    (
        "omitempty-zeros-dropped-required-kept",
        "v1",
        "Pod",
        m(2, m(2, s(1, ""), s(5, ""), key(16, 0) + varint(0), m(6, s(1, ""), v(2, 0), v(3, 0)))),
        {"spec": {"containers": [{"name": "", "ports": [{"containerPort": 0}]}]}},
    ),
    (
        "required-bool-false-kept",
        "authorization.k8s.io/v1",
        "SubjectAccessReview",
        m(3, v(1, 0), s(2, ""), v(4, 0)),
        {"status": {"allowed": False}},
    ),
    (
        "absent-required-slice-is-null",
        "rbac.authorization.k8s.io/v1",
        "ClusterRole",
        m(1, s(1, "r")),
        {"metadata": {"name": "r"}, "rules": None},
    ),
    (
        "empty-struct-kept",
        "v1",
        "Namespace",
        m(1, s(1, "ns"), m(8)) + m(2) + m(3),
        {"metadata": {"name": "ns", "creationTimestamp": None}, "spec": {}, "status": {}},
    ),
    # --- repeated fields on the wire -----------------------------------------------------------
    ("last-value-wins", "v1", "ConfigMap", m(1, s(1, "a"), s(1, "b")), {"metadata": {"name": "b"}}),
    (
        "embedded-messages-merge",
        "v1",
        "ConfigMap",
        m(1, s(1, "a")) + m(1, s(3, "ns")),
        {"metadata": {"name": "a", "namespace": "ns"}},
    ),
    ("later-zero-removes-omitempty", "v1", "ConfigMap", m(1, s(1, "a"), s(1, "")), {"metadata": {}}),
    (
        "packed-repeated-int64",
        "v1",
        "Pod",
        m(2, m(14, s(4, varint(1) + varint(2) + varint(-3)))),
        {"spec": {"securityContext": {"supplementalGroups": [1, 2, -3]}, "containers": None}},
    ),
    (
        "unpacked-repeated-int64",
        "v1",
        "Pod",
        m(2, m(14, v(4, 1), v(4, 2))),
        {"spec": {"securityContext": {"supplementalGroups": [1, 2]}, "containers": None}},
    ),
    (
        "unknown-fields-skipped",
        "v1",
        "ConfigMap",
        v(99, 7)
        + key(98, 1)
        + b"12345678"
        + s(97, b"\xff\xff")
        + key(96, 5)
        + b"1234"
        + key(95, 3)
        + v(1, 1)
        + key(94, 3)
        + key(94, 4)
        + key(95, 4)
        + entry(2, "k", "v"),
        {"data": {"k": "v"}},
    ),
    (
        "invalid-utf8-replaced",
        "v1",
        "ConfigMap",
        entry(2, "k", b"a\xffb"),
        {"data": {"k": "a\ufffdb"}},
    ),
    (
        "two-byte-tag",
        "v1",
        "Pod",
        m(2, m(2, s(1, "c"), v(16, 1))),
        {"spec": {"containers": [{"name": "c", "stdin": True}]}},
    ),
    (
        "long-strings-multi-byte-lengths",
        "v1",
        "ConfigMap",
        entry(2, "a" * 200, "b" * 20000),
        {"data": {"a" * 200: "b" * 20000}},
    ),
    # --- named slices (wrappers) ----------------------------------------------------------------
    (
        "extra-value-wrapper",
        "authentication.k8s.io/v1",
        "TokenReview",
        m(
            3,
            v(1, 1),
            m(2, s(1, "alice"), m(4, s(1, "scopes"), m(2, s(1, "a"), s(1, "b"))), m(4, s(1, "none"))),
        ),
        {
            "status": {
                "authenticated": True,
                "user": {"username": "alice", "extra": {"scopes": ["a", "b"], "none": []}},
            }
        },
    ),
    (
        "verbs-wrapper",
        "v1",
        "APIResourceList",
        s(1, "v1") + m(2, s(1, "pods"), v(2, 1), s(3, "Pod"), m(4, s(1, "get"), s(1, "list")), s(6, "pod")),
        {
            "groupVersion": "v1",
            "resources": [
                {
                    "name": "pods",
                    "namespaced": True,
                    "kind": "Pod",
                    "verbs": ["get", "list"],
                    "singularName": "pod",
                }
            ],
        },
    ),
    (
        "verbs-absent-is-null",
        "v1",
        "APIResourceList",
        s(1, "v1") + m(2, s(1, "pods")),
        {"groupVersion": "v1", "resources": [{"name": "pods", "verbs": None}]},
    ),
    # --- inlined embedded structs ---------------------------------------------------------------
    (
        "inline-probe-handler",
        "v1",
        "Pod",
        m(2, m(2, s(1, "c"), m(10, m(1, m(2, s(1, "/healthz"), m(2, v(2, 8080)))), v(4, 5)))),
        {
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
                    }
                ]
            }
        },
    ),
    (
        "inline-volume-source",
        "v1",
        "Pod",
        m(2, m(1, s(1, "data"), m(2, m(2)))),
        {"spec": {"volumes": [{"name": "data", "emptyDir": {}}], "containers": None}},
    ),
    # --- apiextensions: renamed fields, doubles, schema-or-X ---------------------------------------
    (
        "crd-schema",
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        m(
            2,
            s(1, "example.com"),
            m(3, s(1, "widgets"), s(4, "Widget")),
            s(4, "Namespaced"),
            m(
                7,
                s(1, "v1"),
                v(2, 1),
                v(3, 1),
                m(
                    4,
                    m(
                        1,
                        s(3, "#/definitions/x"),
                        s(5, "object"),
                        m(8, s(1, b'{"x": 1}')),
                        d(9, 5.0),
                        m(20, s(1, b'"a"')),
                        m(20, s(1, b"2")),
                        m(24, m(1, s(5, "string"))),
                        m(29, s(1, "size"), m(2, s(5, "integer"), d(9, 2.5))),
                        m(30, v(1, 0)),
                        m(32, s(1, "a"), m(2, s(2, "b"), s(2, "c"))),
                        v(38, 1),
                    ),
                ),
            ),
        ),
        {
            "spec": {
                "group": "example.com",
                "names": {"plural": "widgets", "kind": "Widget"},
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "$ref": "#/definitions/x",
                                "type": "object",
                                "default": {"x": 1},
                                "maximum": 5,
                                "enum": ["a", 2],
                                "items": {"type": "string"},
                                "properties": {"size": {"type": "integer", "maximum": 2.5}},
                                "additionalProperties": False,
                                "dependencies": {"a": ["b", "c"]},
                                "x-kubernetes-preserve-unknown-fields": True,
                            }
                        },
                    }
                ],
            }
        },
    ),
    (
        "crd-schema-or-schema-forms",
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        m(
            2,
            m(
                7,
                s(1, "v1"),
                m(
                    4,
                    m(
                        1,
                        m(24, m(2, s(5, "string")), m(2, s(5, "integer"))),
                        m(30, v(1, 1), m(2, s(5, "string"))),
                        m(32, s(1, "a"), m(2, m(1, s(5, "object")))),
                        m(33, v(1, 1)),
                    ),
                ),
            ),
        ),
        {
            "spec": {
                "versions": [
                    {
                        # served/storage are absent from these bytes: Go always writes them, and
                        # the decoder does not invent values for fields that were not sent.
                        "name": "v1",
                        "schema": {
                            "openAPIV3Schema": {
                                "items": [{"type": "string"}, {"type": "integer"}],
                                "additionalProperties": {"type": "string"},
                                "dependencies": {"a": {"type": "object"}},
                                "additionalItems": True,
                            }
                        },
                    }
                ],
            }
        },
    ),
    # --- meta kinds ----------------------------------------------------------------------------
    (
        "status-unversioned",
        "v1",
        "Status",
        s(2, "Failure") + s(3, "nope") + s(4, "NotFound") + v(6, 404),
        {"status": "Failure", "message": "nope", "reason": "NotFound", "code": 404},
    ),
    (
        "delete-options-in-any-group",
        "apps/v1",
        "DeleteOptions",
        v(1, 0) + s(4, "Foreground"),
        {"gracePeriodSeconds": 0, "propagationPolicy": "Foreground"},
    ),
    (
        "watch-event-with-nested-object",
        "v1",
        "WatchEvent",
        s(1, "ADDED") + m(2, s(1, body("v1", "Namespace", m(1, s(1, "ns"))))),
        {"type": "ADDED", "object": {"kind": "Namespace", "apiVersion": "v1", "metadata": {"name": "ns"}}},
    ),
]


@pytest.mark.parametrize(
    ("api_version", "kind", "raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decode(api_version: str, kind: str, raw: bytes, expected: dict[str, Any]) -> None:
    """The body decodes to the JSON dict Go would write, with kind and apiVersion set."""
    assert protobuf.decode(body(api_version, kind, raw)) == {
        "kind": kind,
        "apiVersion": api_version,
        **expected,
    }


@pytest.mark.parametrize(
    ("api_version", "kind", "raw", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_decode_object_without_envelope(
    api_version: str, kind: str, raw: bytes, expected: dict[str, Any]
) -> None:
    """decode_object reads the raw message alone, given the kind."""
    assert protobuf.decode_object(raw, api_version, kind) == {
        "kind": kind,
        "apiVersion": api_version,
        **expected,
    }


def test_kind_and_api_version_come_first() -> None:
    """The dict starts with kind and apiVersion, as Go's JSON does."""
    obj = protobuf.decode(body("v1", "ConfigMap", m(1, s(1, "x"))))
    assert list(obj)[:2] == ["kind", "apiVersion"]


def test_envelope_content_fields_are_ignored() -> None:
    """contentEncoding/contentType of runtime.Unknown do not change how raw is read (as upstream)."""
    raw = m(1, s(1, "x"))
    odd = body("v1", "ConfigMap", raw, extra=s(3, "gzip") + s(4, "application/json"))
    assert protobuf.decode(odd) == protobuf.decode(body("v1", "ConfigMap", raw))


def test_envelope_fields_in_any_order() -> None:
    """The envelope's fields may come in any order, and unknown ones are skipped."""
    raw = m(1, s(1, "x"))
    reordered = MAGIC + s(2, raw) + v(9, 1) + m(1, s(2, "ConfigMap"), s(1, "v1"))
    assert protobuf.decode(reordered) == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}}


def test_accepts_bytearray_and_memoryview() -> None:
    """Any bytes-like body works."""
    b = body("v1", "ConfigMap", m(1, s(1, "x")))
    assert protobuf.decode(bytearray(b)) == protobuf.decode(memoryview(b)) == protobuf.decode(b)


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        ("v1", "Pod", True),
        ("apps/v1", "Deployment", True),
        ("apps/v1", "DeleteOptions", True),
        ("v1", "Status", True),
        ("meta.k8s.io/v1", "PartialObjectMetadata", True),
        ("apiextensions.k8s.io/v1", "CustomResourceDefinition", True),
        ("authorization.k8s.io/v1", "SelfSubjectAccessReview", True),
        ("apps/v1", "Pod", False),
        ("v1", "PodSpec", False),
        ("example.com/v1", "Widget", False),
        ("apps/v1beta1", "Deployment", False),
    ],
)
def test_supports(api_version: str, kind: str, expected: bool) -> None:
    """Only registered built-in kinds have a protobuf form (custom resources never do)."""
    assert protobuf.supports(api_version, kind) is expected
