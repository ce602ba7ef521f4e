"""Malformed protobuf bodies are refused with a 400 BadRequest Status, never another exception."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from kijabi.machinery import protobuf
from kijabi.machinery.errors import StatusError
from tests.machinery.protobuf.pb_bytes import MAGIC, body, d, key, m, s, time, v, varint

DATA = Path(__file__).parent / "data"


def _nested_schema(depth: int) -> bytes:
    inner = b""
    for _ in range(depth):
        inner = m(28, inner)  # JSONSchemaProps.not
    return inner


def _crd_with_schema(schema: bytes) -> bytes:
    return body(
        "apiextensions.k8s.io/v1", "CustomResourceDefinition", m(2, m(7, s(1, "v1"), m(4, m(1, schema))))
    )


def _nested_envelopes(depth: int) -> bytes:
    inner = body("v1", "ConfigMap", b"")
    for _ in range(depth):
        inner = body("apps/v1", "ControllerRevision", m(2, s(1, inner)))
    return inner


CONFIGMAP = body("v1", "ConfigMap", m(1, s(1, "x")) + m(2, s(1, "k"), s(2, "v")))

CASES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty data"),
    ("json-body", b'{"kind":"ConfigMap"}', "does not appear to be a protobuf message"),
    ("wrong-magic", b"k8s\x01" + CONFIGMAP[4:], "does not appear to be a protobuf message"),
    ("short-magic", b"k8", "does not appear to be a protobuf message"),
    ("magic-only", MAGIC, "empty body"),
    ("truncated-envelope", CONFIGMAP[:6], "unexpected EOF"),
    ("truncated-tag-varint", MAGIC + b"\x80", "unexpected EOF"),
    ("varint-longer-than-ten-bytes", MAGIC + key(99, 0) + b"\xff" * 11 + b"\x01", "integer overflow"),
    ("missing-kind", body("v1", "", b""), "Object 'Kind' is missing"),
    ("missing-api-version", body("", "ConfigMap", b""), "Object 'apiVersion' is missing"),
    ("no-type-meta", MAGIC + s(2, b""), "Object 'Kind' is missing"),
    ("unknown-kind", body("v1", "Widget", b""), 'no kind "Widget" is registered for version "v1"'),
    ("not-a-kind", body("v1", "PodSpec", b""), 'no kind "PodSpec" is registered'),
    ("unknown-group", body("example.com/v1", "Widget", b""), 'no kind "Widget" is registered'),
    (
        "truncated-object",
        body("v1", "ConfigMap", m(1, s(1, "name"))[:-1]),
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: unexpected EOF',
    ),
    ("truncated-at-length", body("v1", "ConfigMap", key(1, 2)), "unexpected EOF"),
    ("length-beyond-end", body("v1", "ConfigMap", key(1, 2) + varint(1 << 40) + b"x"), "unexpected EOF"),
    ("huge-envelope-length", MAGIC + key(2, 2) + varint((1 << 62) + 5), "unexpected EOF"),
    ("negative-length", body("v1", "ConfigMap", key(1, 2) + varint(-2)), "negative length"),
    ("truncated-int-varint", body("apps/v1", "Deployment", m(2, key(1, 0) + b"\xff")), "unexpected EOF"),
    (
        "varint-at-end-of-submessage",
        body("apps/v1", "Deployment", m(2, key(1, 0)) + v(9, 1)),
        "unexpected EOF",
    ),
    ("wrong-wire-type-message", body("v1", "ConfigMap", v(1, 3)), "wrong wireType = 0 for field metadata"),
    (
        "wrong-wire-type-string",
        body("v1", "ConfigMap", m(1, key(1, 5) + b"abcd")),
        "wrong wireType = 5 for field name",
    ),
    (
        "wrong-wire-type-int",
        body("apps/v1", "Deployment", m(2, s(1, "3"))),
        "wrong wireType = 2 for field replicas",
    ),
    (
        "wrong-wire-type-map-entry",
        body("v1", "ConfigMap", m(2, v(1, 1))),
        "wrong wireType = 0 for field data",
    ),
    ("illegal-tag-zero", body("v1", "ConfigMap", v(0, 1)), "illegal tag 0"),
    ("end-group-without-start", body("v1", "ConfigMap", key(50, 4)), "end group for non-group"),
    ("illegal-wire-type-6", body("v1", "ConfigMap", key(50, 6) + b"x"), "illegal wireType 6"),
    ("illegal-wire-type-7", body("v1", "ConfigMap", key(50, 7) + b"x"), "illegal wireType 7"),
    ("truncated-fixed64", body("v1", "ConfigMap", key(50, 1) + b"1234"), "unexpected EOF"),
    ("truncated-fixed32", body("v1", "ConfigMap", key(50, 5) + b"12"), "unexpected EOF"),
    ("unterminated-group", body("v1", "ConfigMap", key(50, 3) + v(1, 1)), "unexpected EOF"),
    ("truncated-double", _crd_with_schema(key(9, 1) + b"\x00\x00"), "unexpected EOF"),
    ("nesting-too-deep", _crd_with_schema(_nested_schema(400)), "nesting deeper than"),
    ("nested-envelopes-too-deep", _nested_envelopes(120), "nesting deeper than"),
    (
        "raw-extension-not-json",
        body("apps/v1", "ControllerRevision", m(2, s(1, b"{not json"))),
        "embedded JSON",
    ),
    (
        "raw-extension-json-too-deep",
        body("apps/v1", "ControllerRevision", m(2, s(1, b"[" * 5000))),
        "embedded JSON",
    ),
    ("fields-v1-not-json", body("v1", "ConfigMap", m(1, m(17, m(7, s(1, b"\xff"))))), "embedded JSON"),
    (
        "bad-quantity",
        body("v1", "ResourceQuota", m(2, m(1, s(1, "cpu"), m(2, s(1, "lots"))))),
        "quantities must match",
    ),
    (
        "empty-quantity",
        body("v1", "ResourceQuota", m(2, m(1, s(1, "cpu"), m(2, s(1, ""))))),
        "quantities must match",
    ),
    (
        "bad-intorstring-type",
        body("v1", "Service", m(2, m(1, m(4, v(1, 2))))),
        "impossible IntOrString.Type",
    ),
    ("time-out-of-range", body("v1", "ConfigMap", m(1, time(8, 1 << 62))), "out of range"),
    ("microtime-out-of-range", body("events.k8s.io/v1", "Event", time(2, -(1 << 60))), "out of range"),
    ("double-nan", _crd_with_schema(d(9, float("nan"))), "unsupported value"),
    ("double-infinity", _crd_with_schema(d(9, float("inf"))), "unsupported value"),
]


@pytest.mark.parametrize(("data", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_is_bad_request(data: bytes, message: str) -> None:
    """Every malformation is a 400 BadRequest whose message says what is wrong."""
    with pytest.raises(StatusError) as info:
        protobuf.decode(data)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert message in info.value.message


def test_decode_object_unknown_kind() -> None:
    """decode_object refuses a kind without a message."""
    with pytest.raises(StatusError) as info:
        protobuf.decode_object(b"", "example.com/v1", "Widget")
    assert info.value.code == 400


def test_decode_object_malformed() -> None:
    """decode_object reports malformed bytes like the apiserver does for a create."""
    with pytest.raises(StatusError) as info:
        protobuf.decode_object(key(1, 2), "apps/v1", "Deployment")
    assert info.value.code == 400
    assert (
        info.value.message == 'Deployment in version "v1" cannot be handled as a Deployment: unexpected EOF'
    )


def _corpus() -> list[bytes]:
    bodies = [p.read_bytes() for p in sorted(DATA.glob("*/*.pb"))]
    bodies.append(_crd_with_schema(m(29, s(1, "a"), m(2, s(5, "string"))) + d(9, 2.5) + m(30, v(1, 1))))
    bodies.append(body("apps/v1", "ControllerRevision", m(2, s(1, CONFIGMAP))))
    assert len(bodies) > 10
    return bodies


def _mutate(rng: random.Random, data: bytes) -> bytes:
    b = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(6)
        i = rng.randrange(len(b)) if b else 0
        if op == 0 and b:
            b[i] = rng.randrange(256)  # replace a byte
        elif op == 1:
            del b[i:]  # truncate
        elif op == 2:
            b[i:i] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))  # insert noise
        elif op == 3 and b:
            j = rng.randrange(len(b))
            b[i:i] = b[min(i, j) : max(i, j)][:64]  # duplicate a slice
        elif op == 4 and b:
            b[i] ^= 1 << rng.randrange(8)  # flip a bit
        else:
            del b[i : i + rng.randint(1, 16)]  # cut a piece out
    return bytes(b)


def test_fuzz_never_raises_anything_but_bad_request() -> None:
    """Random mutations of real bodies either decode or fail with 400, nothing else escapes."""
    rng = random.Random(20240102)
    corpus = _corpus()
    decoded = refused = 0
    for _ in range(4000):
        data = _mutate(rng, rng.choice(corpus))
        if rng.random() < 0.8:
            data = MAGIC + data[4:]  # mostly keep the magic so the decoder gets past it
        try:
            result = protobuf.decode(data)
        except StatusError as exc:
            assert exc.code == 400, exc.message
            refused += 1
        else:
            assert isinstance(result, dict)
            decoded += 1
    assert decoded > 100 and refused > 100  # both paths were exercised


def test_fuzz_random_bytes_after_magic() -> None:
    """Pure noise after the magic is refused or ignored, never a crash."""
    rng = random.Random(7)
    for _ in range(2000):
        noise = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        try:
            protobuf.decode(MAGIC + noise)
        except StatusError as exc:
            assert exc.code == 400
