"""encode() writes what gogo-protobuf writes, and refuses dicts the message cannot carry."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from kijabi.machinery import protobuf
from kijabi.machinery.errors import StatusError
from tests.machinery.protobuf.pb_bytes import MAGIC, body, entry, m, s, time, v
from tests.machinery.protobuf.pb_objects import pod

# ObjectMeta{name: "x"} as Go writes it: every non-pointer scalar, and the empty creationTimestamp.
META_X = m(1, s(1, "x"), s(2), s(3), s(4), s(5), s(6), v(7, 0), m(8))
T0 = 1704164645


def test_zero_scalars_and_empty_structs_are_written() -> None:
    """Go writes every non-pointer scalar and struct, set or not (as kubectl's bodies show)."""
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}}
    assert protobuf.encode(obj) == body("v1", "ConfigMap", META_X)


def test_envelope_bytes() -> None:
    """magic, typeMeta{apiVersion, kind}, raw, then empty contentEncoding and contentType."""
    data = protobuf.encode({"kind": "ConfigMap", "apiVersion": "v1"})
    assert (
        data
        == MAGIC
        + m(1, s(1, "v1"), s(2, "ConfigMap"))
        + s(2, m(1, s(1), s(2), s(3), s(4), s(5), s(6), v(7, 0), m(8)))
        + b"\x1a\x00\x22\x00"
    )


@pytest.mark.parametrize(
    ("extra", "tail"),
    [
        ({"data": {"b": "2", "a": "1", "": ""}}, entry(2, "", "") + entry(2, "a", "1") + entry(2, "b", "2")),
        ({"immutable": False}, v(4, 0)),
        ({"immutable": None}, b""),
        ({"binaryData": {"k": "AAE="}}, entry(3, "k", b"\x00\x01")),
        ({"unknownField": 1, "metadata": {"name": "x", "bogus": [1]}}, b""),
    ],
    ids=[
        "map-keys-sorted",
        "pointer-false-written",
        "pointer-null-skipped",
        "bytes-from-base64",
        "unknown-keys-ignored",
    ],
)
def test_configmap_fields(extra: dict[str, Any], tail: bytes) -> None:
    """Field order, map order, pointers, bytes and unknown keys, as gogo writes them."""
    obj = {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "x"}, **extra}
    assert protobuf.encode_object(obj) == META_X + tail


@pytest.mark.parametrize(
    ("port", "wire"),
    [
        (8080, m(4, v(1, 0), v(2, 8080), s(3))),
        ("http", m(4, v(1, 1), v(2, 0), s(3, "http"))),
        (-1, m(4, v(1, 0), v(2, -1), s(3))),
    ],
    ids=["int", "string", "negative-int32-as-ten-bytes"],
)
def test_int_or_string(port: Any, wire: bytes) -> None:
    """IntOrString writes type, intVal and strVal, always."""
    obj = {"kind": "Service", "apiVersion": "v1", "spec": {"ports": [{"port": 80, "targetPort": port}]}}
    raw = protobuf.encode_object(obj)
    assert m(1, s(1), s(2), v(3, 80), wire, v(5, 0)) in raw


def test_time_written_as_seconds_and_zero_nanos() -> None:
    """metav1.Time drops sub-second precision and writes nanos 0."""
    obj = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"creationTimestamp": "2024-01-02T03:04:05.9Z"},
    }
    assert time(8, T0) in protobuf.encode_object(obj)


def test_micro_time_truncated_to_microseconds() -> None:
    """metav1.MicroTime keeps microseconds, as nanoseconds."""
    obj = {"kind": "Event", "apiVersion": "events.k8s.io/v1", "eventTime": "2024-01-02T03:04:05.1234567Z"}
    assert time(2, T0, 123_456_000) in protobuf.encode_object(obj)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"kind": "ConfigMap"}, "apiVersion and kind"),
        ({"apiVersion": "v1", "kind": ""}, "apiVersion and kind"),
        ({"apiVersion": "v1", "kind": "Widget"}, 'no protobuf message for kind "Widget"'),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 5}},
            "metadata.name: expected a string, got number",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": []},
            "metadata: expected an object, got array",
        ),
        ({"apiVersion": "v1", "kind": "ConfigMap", "data": ["a"]}, "data: expected an object, got array"),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": 1}},
            "data[a]: expected a string, got number",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "immutable": "yes"},
            "immutable: expected a boolean, got string",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"k": "!!"}},
            "binaryData[k]: illegal base64 data",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "\ud800"}},
            "metadata.name: not valid UTF-8",
        ),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"finalizers": "a"}},
            "expected an array, got string",
        ),
        ({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"creationTimestamp": "now"}}, "RFC 3339"),
        (
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"creationTimestamp": 5}},
            "RFC 3339 time string",
        ),
        (
            {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1 << 31}},
            "spec.replicas: 2147483648 is out of range",
        ),
        (
            {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": True}},
            "expected an integer, got boolean",
        ),
        (
            {"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1.5}},
            "expected an integer, got number",
        ),
        (
            {"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"targetPort": 1.5}]}},
            "expected an integer or a string",
        ),
        (
            {"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": {"cpu": "lots"}}},
            "quantities must match",
        ),
        ({"apiVersion": "v1", "kind": "ResourceQuota", "spec": {"hard": {"cpu": []}}}, "expected a quantity"),
        ({"apiVersion": "apps/v1", "kind": "ControllerRevision", "data": {1, 2}}, "ControllerRevision"),
        (
            {"apiVersion": "v1", "kind": "APIResourceList", "resources": [{"verbs": "get"}]},
            "expected an array",
        ),
    ],
    ids=lambda x: x if isinstance(x, str) else None,
)
def test_unrepresentable_is_internal_error(obj: dict[str, Any], message: str) -> None:
    """A dict the message cannot carry is a 500 InternalError naming the field."""
    with pytest.raises(StatusError) as info:
        protobuf.encode(obj)
    assert info.value.code == 500
    assert message in info.value.message


def test_self_referencing_dict_is_internal_error() -> None:
    """A cyclic dict is refused, not a RecursionError."""
    schema: dict[str, Any] = {"type": "object"}
    schema["not"] = schema
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {"versions": [{"name": "v1", "schema": {"openAPIV3Schema": schema}}]},
    }
    with pytest.raises(StatusError) as info:
        protobuf.encode(crd)
    assert info.value.code == 500


_JUNK: list[Any] = [None, 0, -1, 1 << 40, 1.5, True, "", "x", "2024-01-02T03:04:05Z", [], [1], {}, {"a": "b"}]


def _leaves(obj: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(obj, dict):
        for k, val in obj.items():
            out += _leaves(val, (*path, k))
    elif isinstance(obj, list):
        for i, val in enumerate(obj):
            out += _leaves(val, (*path, i))
    return out


def test_fuzz_encode_only_raises_status_errors() -> None:
    """Replacing random parts of a pod with random JSON values encodes or fails with a 500, and
    whatever encodes also decodes."""
    rng = random.Random(99)
    base = pod()
    paths = [p for p in _leaves(base) if len(p) > 1]
    encoded = refused = 0
    for _ in range(1500):
        obj = copy.deepcopy(base)
        for _ in range(rng.randint(1, 3)):
            path = rng.choice(paths)
            target: Any = obj
            try:
                for step in path[:-1]:
                    target = target[step]
                target[path[-1]] = copy.deepcopy(rng.choice(_JUNK))
            except (KeyError, IndexError, TypeError):
                continue
        try:
            data = protobuf.encode(obj)
        except StatusError as exc:
            assert exc.code == 500
            refused += 1
        else:
            assert protobuf.decode(data)["kind"] == "Pod"
            encoded += 1
    assert encoded > 100 and refused > 100
