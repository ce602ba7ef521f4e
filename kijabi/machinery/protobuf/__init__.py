"""Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`) <-> JSON-shaped dicts.

Go clients (kubectl 1.32 included: `create deployment`, `create configmap`, `auth can-i`, ...) send
request bodies as protobuf: the magic `k8s\\x00`, then a `runtime.Unknown` envelope
{typeMeta{apiVersion, kind}, raw, contentEncoding, contentType} whose `raw` is the object encoded
by the `generated.proto` messages of k8s.io/api. This package turns such a body into the dict the
JSON encoding of the same object would give, and back.

The JSON rule: `decode(body)` equals what Go does, `json.Marshal(proto.Unmarshal(body))`. gogo
writes every non-pointer scalar, so a zero "" / 0 / false arrives for fields the client never set;
Go's JSON encoder then drops it if the field is `omitempty`, keeps it otherwise, and always keeps
pointers (present means set: `replicas: 0` survives). A struct is never omitted (`status: {}`, an
unset `metav1.Time` is `null`), and a nil slice, map or pointer that is not `omitempty` is `null`.
The table records pointer / omitempty per field from the Go sources, so no heuristics are involved;
`kubectl create ... --dry-run=client -o json` prints exactly what `decode` returns for the body of
the same command, and `encode` of that JSON gives kubectl's bytes back. Fields that Go always writes
but that are missing from the bytes (only a non-Go encoder omits them) are not invented.

Special types: Time (RFC 3339, seconds), MicroTime (six fractional digits), Duration (Go's
"1h0m0s"), IntOrString (int or string), Quantity (its string, validated, not re-canonicalised),
RawExtension / FieldsV1 / apiextensions JSON (the embedded JSON; a RawExtension holding a nested
protobuf object is decoded too), JSONSchemaPropsOr{Array,Bool,StringArray}, named slices
(metav1.Verbs, ExtraValue), []byte (base64).

Errors: `decode` raises only `StatusError` 400 BadRequest; `encode` raises only `StatusError` 500
InternalError (a dict that the message cannot carry is a server-side fault when encoding replies).

Only built-in kinds have messages; custom resources are never protobuf (`supports()` tells).
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from typing import Any

from kijabi.machinery import errors
from kijabi.machinery.protobuf._decode import MAGIC, MAX_DEPTH, Malformed, decode_envelope, decode_into
from kijabi.machinery.protobuf._encode import EncodeError, encode_envelope, encode_message
from kijabi.machinery.protobuf._table import table

__all__ = [
    "CONTENT_TYPE",
    "MAGIC",
    "MAX_DEPTH",
    "decode",
    "decode_object",
    "encode",
    "encode_object",
    "supports",
]

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# Everything the decoder can raise on hostile input (Malformed and the value errors are ValueErrors).
_DECODE_ERRORS = (ValueError, struct.error, RecursionError, OverflowError, IndexError)


def decode(body: bytes | bytearray | memoryview) -> dict[str, Any]:
    """A protobuf request body -> the object as a JSON dict, `kind` and `apiVersion` first.

    Raises StatusError 400 (BadRequest) for anything malformed: wrong magic, truncated or
    inconsistent wire data, an unknown kind, values without a JSON form, nesting deeper than
    MAX_DEPTH messages.
    """
    data = bytes(body)
    if not data:
        raise errors.bad_request("empty data")
    if data[: len(MAGIC)] != MAGIC:
        raise errors.bad_request(
            "provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]"
        )
    if len(data) == len(MAGIC):
        raise errors.bad_request("empty body")
    try:
        return decode_envelope(data, 0)
    except _DECODE_ERRORS as exc:
        raise errors.bad_request(_message(exc)) from None


def decode_object(raw: bytes | bytearray | memoryview, api_version: str, kind: str) -> dict[str, Any]:
    """The object encoded in `raw` (no magic, no envelope) as a JSON dict of `kind`.

    Raises StatusError 400 like `decode`.
    """
    msg = table().for_kind(api_version, kind)
    if msg is None:
        raise errors.bad_request(f'no kind "{kind}" is registered for version "{api_version}"')
    data = bytes(raw)
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    try:
        decode_into(data, 0, len(data), msg, obj, 1)
    except _DECODE_ERRORS as exc:
        version = api_version.rsplit("/", 1)[-1]
        raise errors.bad_request(
            f'{kind} in version "{version}" cannot be handled as a {kind}: {_message(exc)}'
        ) from None
    return obj


def encode(obj: Mapping[str, Any]) -> bytes:
    """The object -> a protobuf body (magic + runtime.Unknown), as a Go client or server writes it.

    `obj` needs `apiVersion` and `kind` of a built-in type. Raises StatusError 500 if the dict
    cannot be represented (wrong JSON types, out-of-range numbers, unknown kind).
    """
    api_version, kind = _type_of(obj)
    raw = encode_object(obj)
    try:
        return encode_envelope(api_version, kind, raw)
    except EncodeError as exc:
        raise errors.internal(f"cannot encode {kind!r} as protobuf: {exc}") from None


def encode_object(obj: Mapping[str, Any]) -> bytes:
    """The object's message bytes alone (the `raw` of the envelope)."""
    api_version, kind = _type_of(obj)
    msg = table().for_kind(api_version, kind)
    if msg is None:
        raise errors.internal(f'no protobuf message for kind "{kind}" in version "{api_version}"')
    try:
        return bytes(encode_message(obj, msg, 1))
    except (EncodeError, RecursionError) as exc:
        raise errors.internal(f"cannot encode {kind} as protobuf: {exc}") from None


def supports(api_version: str, kind: str) -> bool:
    """Whether objects of this kind have a protobuf encoding (built-in kinds do; CRs do not)."""
    return table().for_kind(api_version, kind) is not None


def _type_of(obj: Mapping[str, Any]) -> tuple[str, str]:
    if not isinstance(obj, Mapping):
        raise errors.internal(f"cannot encode {type(obj).__name__} as protobuf: not an object")
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str) or not api_version or not kind:
        raise errors.internal("cannot encode as protobuf: apiVersion and kind must be set")
    return api_version, kind


def _message(exc: BaseException) -> str:
    if isinstance(exc, Malformed):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "object nested too deeply"
    if isinstance(exc, IndexError):  # a read past the end of the body
        return "unexpected EOF"
    return str(exc) or type(exc).__name__
