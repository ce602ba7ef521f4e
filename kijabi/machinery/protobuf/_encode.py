"""JSON-shaped dicts -> wire bytes, byte for byte what gogo-protobuf writes for the same Go struct.

That is: fields in ascending number order; every non-pointer scalar and every non-pointer struct
written even when zero or absent from the dict (Go has no "absent" for them); pointers, slices, maps
and []byte only when set; map entries sorted by key, key and value always written. Keys of the dict
that the message does not have are ignored, as Go's JSON decoding into a struct ignores them.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Mapping
from typing import Any

import orjson

from kijabi.machinery.protobuf import _values
from kijabi.machinery.protobuf._table import (
    K_BOOL,
    K_BYTES,
    K_DOUBLE,
    K_FIXED32,
    K_FIXED64,
    K_FLOAT,
    K_INT32,
    K_INT64,
    K_MAP,
    K_MESSAGE,
    K_RAW,
    K_SFIXED32,
    K_SFIXED64,
    K_SINT32,
    K_SINT64,
    K_STRING,
    K_UINT32,
    K_UINT64,
    S_DURATION,
    S_FIELDSV1,
    S_INTORSTRING,
    S_JSON,
    S_MICROTIME,
    S_ORARRAY,
    S_ORBOOL,
    S_ORSTRINGARRAY,
    S_QUANTITY,
    S_RAWEXTENSION,
    S_TIME,
    S_WRAPPER,
    Field,
    Message,
    wire_type,
)

MAX_DEPTH = 100
_MASK64 = (1 << 64) - 1
_RANGES = {
    K_INT32: (-(1 << 31), (1 << 31) - 1),
    K_SINT32: (-(1 << 31), (1 << 31) - 1),
    K_SFIXED32: (-(1 << 31), (1 << 31) - 1),
    K_INT64: (-(1 << 63), (1 << 63) - 1),
    K_SINT64: (-(1 << 63), (1 << 63) - 1),
    K_SFIXED64: (-(1 << 63), (1 << 63) - 1),
    K_UINT32: (0, (1 << 32) - 1),
    K_FIXED32: (0, (1 << 32) - 1),
    K_UINT64: (0, _MASK64),
    K_FIXED64: (0, _MASK64),
}
_PACK = {
    K_DOUBLE: struct.Struct("<d"),
    K_FLOAT: struct.Struct("<f"),
    K_FIXED32: struct.Struct("<I"),
    K_SFIXED32: struct.Struct("<i"),
    K_FIXED64: struct.Struct("<Q"),
    K_SFIXED64: struct.Struct("<q"),
}


class EncodeError(ValueError):
    """A value that the message cannot carry (wrong JSON type, out of range, bad time).

    Raised with the reason alone; each enclosing message adds its field name on the way out, so
    the message names the full path (`spec.containers[0].name: expected a string, got number`)
    without building paths for the fields that encode fine.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.path: list[str] = []

    def at(self, segment: str) -> EncodeError:
        self.path.insert(0, segment)
        return self

    def __str__(self) -> str:
        if not self.path:
            return self.reason
        text = self.path[0] + "".join(p if p.startswith("[") else "." + p for p in self.path[1:])
        return f"{text}: {self.reason}"


def put_varint(out: bytearray, v: int) -> None:
    if 0 <= v < 0x80:
        out.append(v)
        return
    v &= _MASK64  # negative int32/int64 are written as ten-byte two's complement
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)


def encode_message(obj: Mapping[str, Any], msg: Message, depth: int) -> bytearray:
    if depth > MAX_DEPTH:
        raise EncodeError(f"nested deeper than {MAX_DEPTH} messages")
    if not isinstance(obj, Mapping):
        raise EncodeError(f"expected an object, got {_json_type(obj)}")
    out = bytearray()
    for f in msg.fields:
        if f.inline:
            assert f.message is not None
            _put_message(out, f, encode_message(obj, f.message, depth + 1))
            continue
        value = obj.get(f.name)
        if value is None and (
            f.pointer or f.repeated or f.kind == K_MAP or f.kind == K_BYTES or _is_wrapper(f)
        ):
            continue  # nil pointer, slice or map: not on the wire
        try:
            if f.kind == K_MAP:
                _map(out, f, value, depth)
            elif f.repeated:
                if not isinstance(value, list):
                    raise EncodeError(f"expected an array, got {_json_type(value)}")
                for i, item in enumerate(value):
                    try:
                        _single(out, f, item, depth)
                    except EncodeError as exc:
                        raise exc.at(f"[{i}]") from None
            else:
                _single(out, f, value, depth)
        except EncodeError as exc:
            raise exc.at(f.name) from None
    return out


def _is_wrapper(f: Field) -> bool:
    return f.message is not None and f.message.special == S_WRAPPER


def _put_message(out: bytearray, f: Field, payload: bytes | bytearray) -> None:
    out += f.key_bytes
    put_varint(out, len(payload))
    out += payload


def _single(out: bytearray, f: Field, value: Any, depth: int) -> None:
    if f.kind == K_MESSAGE:
        assert f.message is not None
        _put_message(out, f, message_value(value, f.message, depth + 1))
    else:
        out += f.key_bytes
        scalar(out, f.kind, value)


def _map(out: bytearray, f: Field, value: Any, depth: int) -> None:
    if not isinstance(value, Mapping):
        raise EncodeError(f"expected an object, got {_json_type(value)}")
    key_header = (1 << 3) | wire_type(f.key_kind)
    value_header = (2 << 3) | wire_type(K_MESSAGE if f.value_message is not None else f.value_kind)
    for key in sorted(value):
        try:
            entry = bytearray()
            entry.append(key_header)
            scalar(entry, f.key_kind, _map_key(key, f.key_kind))
            item = value[key]
            entry.append(value_header)
            if f.value_message is not None:
                payload = message_value(item, f.value_message, depth + 1)
                put_varint(entry, len(payload))
                entry += payload
            else:
                scalar(entry, f.value_kind, _zero(f.value_kind) if item is None else item)
        except EncodeError as exc:
            raise exc.at(f"[{key}]") from None
        _put_message(out, f, entry)


def _map_key(key: Any, kind: int) -> Any:
    if kind == K_STRING:
        return key
    try:
        return int(key)
    except ValueError:
        raise EncodeError(f"map key {key!r} is not a number") from None


def _zero(kind: int) -> Any:
    if kind == K_STRING:
        return ""
    if kind == K_BYTES:
        return ""
    if kind == K_BOOL:
        return False
    return 0


def scalar(out: bytearray, kind: int, value: Any) -> None:
    """Write one scalar value of `kind` (None: Go's zero value); the key is already written."""
    if value is None:
        value = _zero(kind)
    if kind == K_STRING:
        if type(value) is not str:
            raise EncodeError(f"expected a string, got {_json_type(value)}")
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            raise EncodeError("not valid UTF-8") from None
        put_varint(out, len(raw))
        out += raw
    elif kind == K_BYTES:
        if not isinstance(value, str):
            raise EncodeError(f"expected a base64 string, got {_json_type(value)}")
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise EncodeError("illegal base64 data") from None
        put_varint(out, len(raw))
        out += raw
    elif kind == K_RAW:
        put_varint(out, len(value))
        out += value
    elif kind == K_BOOL:
        if not isinstance(value, bool):
            raise EncodeError(f"expected a boolean, got {_json_type(value)}")
        out.append(1 if value else 0)
    elif kind in (K_DOUBLE, K_FLOAT):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EncodeError(f"expected a number, got {_json_type(value)}")
        out += _PACK[kind].pack(float(value))
    else:
        if isinstance(value, bool) or not isinstance(value, int):
            raise EncodeError(f"expected an integer, got {_json_type(value)}")
        low, high = _RANGES[kind]
        if not low <= value <= high:
            raise EncodeError(f"{value} is out of range")
        if kind in _PACK:
            out += _PACK[kind].pack(value)
        elif kind == K_SINT32 or kind == K_SINT64:
            put_varint(out, (value << 1) ^ (value >> 63))
        else:
            put_varint(out, value)


def message_value(value: Any, msg: Message, depth: int) -> bytearray:
    """The body of a message field whose JSON value is `value` (None: Go's zero value)."""
    s = msg.special
    if not s:
        return encode_message({} if value is None else value, msg, depth)
    out = bytearray()
    if s == S_TIME or s == S_MICROTIME:
        if value is None:
            return out
        if not isinstance(value, str):
            raise EncodeError(f"expected an RFC 3339 time string, got {_json_type(value)}")
        try:
            seconds, nanos = _values.parse_time(value)
        except ValueError as exc:
            raise EncodeError(str(exc)) from None
        nanos = nanos // 1000 * 1000 if s == S_MICROTIME else 0
        if seconds == _values.GO_ZERO_SECONDS and nanos == 0:
            return out  # Go's zero time writes nothing
        out.append(0x08)
        put_varint(out, seconds)
        out.append(0x10)
        put_varint(out, nanos)
    elif s == S_INTORSTRING:
        if isinstance(value, str):
            typ, number, text = 1, 0, value
        elif value is None or (isinstance(value, int) and not isinstance(value, bool)):
            typ, number, text = 0, value or 0, ""
        else:
            raise EncodeError(f"expected an integer or a string, got {_json_type(value)}")
        out.append(0x08)
        put_varint(out, typ)
        out.append(0x10)
        scalar(out, K_INT32, number)
        out.append(0x1A)
        scalar(out, K_STRING, text)
    elif s == S_QUANTITY:
        if value is None:
            value = "0"
        elif isinstance(value, int | float) and not isinstance(value, bool):
            value = repr(value)
        elif not isinstance(value, str):
            raise EncodeError(f"expected a quantity, got {_json_type(value)}")
        try:
            _values.check_quantity(value)
        except ValueError as exc:
            raise EncodeError(str(exc)) from None
        out.append(0x0A)
        scalar(out, K_STRING, value)
    elif s == S_RAWEXTENSION or s == S_FIELDSV1 or s == S_JSON:
        if value is not None:
            try:
                raw = orjson.dumps(value)
            except TypeError as exc:
                raise EncodeError(str(exc)) from None
            out.append(0x0A)
            scalar(out, K_RAW, raw)
    elif s == S_DURATION:
        if value is None:
            value = "0s"
        if not isinstance(value, str):
            raise EncodeError(f"expected a duration string, got {_json_type(value)}")
        try:
            ns = _values.parse_duration(value)
        except ValueError as exc:
            raise EncodeError(str(exc)) from None
        out.append(0x08)
        put_varint(out, ns)
    elif s == S_WRAPPER:
        if value is not None:
            if not isinstance(value, list):
                raise EncodeError(f"expected an array, got {_json_type(value)}")
            f = msg.fields[0]
            for i, item in enumerate(value):
                try:
                    _single(out, f, item, depth)
                except EncodeError as exc:
                    raise exc.at(f"[{i}]") from None
    elif s == S_ORBOOL:
        if isinstance(value, Mapping):
            out += b"\x08\x01"
            _single(out, msg.by_number[2], value, depth)
        elif value is None or isinstance(value, bool):
            out += b"\x08\x01" if value else b"\x08\x00"
        else:
            raise EncodeError(f"expected a boolean or a schema, got {_json_type(value)}")
    elif s == S_ORARRAY or s == S_ORSTRINGARRAY:
        if isinstance(value, list):
            f = msg.by_number[2]
            for i, item in enumerate(value):
                try:
                    _single(out, f, item, depth)
                except EncodeError as exc:
                    raise exc.at(f"[{i}]") from None
        elif isinstance(value, Mapping):
            _single(out, msg.by_number[1], value, depth)
        elif value is not None:
            raise EncodeError(f"expected an array or a schema, got {_json_type(value)}")
    else:  # pragma: no cover - runtime.Unknown is written by encode_envelope only
        raise EncodeError(f"{msg.name} cannot be encoded from JSON")
    return out


def encode_envelope(api_version: str, kind: str, raw: bytes | bytearray) -> bytes:
    """`k8s\\x00` + runtime.Unknown{typeMeta, raw, contentEncoding "", contentType ""}."""
    type_meta = bytearray(b"\x0a")
    scalar(type_meta, K_STRING, api_version)
    type_meta.append(0x12)
    scalar(type_meta, K_STRING, kind)
    out = bytearray(b"k8s\x00\x0a")
    put_varint(out, len(type_meta))
    out += type_meta
    out.append(0x12)
    put_varint(out, len(raw))
    out += raw
    out += b"\x1a\x00\x22\x00"
    return bytes(out)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__
