"""Wire bytes -> JSON-shaped dicts.

The result is what Go's encoding/json writes for the struct that gogo-protobuf decodes from the same
bytes (see `_table` for the rules on zero values and nulls). Wire handling follows the gogo-generated
`Unmarshal` methods: fields in any order, unknown fields skipped, a repeated singular field means the
last one wins (messages merge), repeated numeric fields accepted packed or not, varints of at most ten
bytes. Every malformation raises `Malformed`, whose text follows gogo's error messages.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from kijabi.machinery.protobuf import _values
from kijabi.machinery.protobuf._table import (
    D_BOOL,
    D_INLINE,
    D_INT32,
    D_INT64,
    D_MAP,
    D_MESSAGE,
    D_SPECIAL,
    D_STRING,
    K_BOOL,
    K_BYTES,
    K_DOUBLE,
    K_FIXED32,
    K_FIXED64,
    K_FLOAT,
    K_INT32,
    K_INT64,
    K_MESSAGE,
    K_RAW,
    K_SFIXED32,
    K_SFIXED64,
    K_SINT32,
    K_SINT64,
    K_STRING,
    K_UINT32,
    K_UINT64,
    M_APPEND,
    M_SET,
    M_SET_NONZERO,
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
    S_RAWMESSAGE,
    S_TIME,
    S_WRAPPER,
    WIRE_FIXED32,
    WIRE_FIXED64,
    WIRE_LEN,
    WIRE_VARINT,
    Field,
    Message,
    table,
    wire_type,
)

MAGIC = b"k8s\x00"
# Nesting of messages (not bytes): deep enough for any real object, CRD schemas included, and far
# from Python's recursion limit (each level costs at most two frames).
MAX_DEPTH = 100

EOF = "unexpected EOF"
_MASK64 = (1 << 64) - 1
_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_U32 = struct.Struct("<I")
_I32 = struct.Struct("<i")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")


class Malformed(ValueError):
    """The bytes are not a valid encoding of the message."""


def varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """The unsigned varint at `pos` (at most ten bytes, truncated to 64 bits) and the position after it."""
    if pos + 2 <= end:  # two bytes: field numbers 16-2047, lengths 128-16383
        low = data[pos]
        high = data[pos + 1]
        if low >= 0x80 and high < 0x80:
            return (low & 0x7F) | (high << 7), pos + 2
    result = 0
    shift = 0
    while True:
        if pos >= end:
            raise Malformed(EOF)
        b = data[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 64:
            raise Malformed("proto: integer overflow")


def _length(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """A length prefix: (start, stop) of the bytes it announces."""
    if pos >= end:
        raise Malformed(EOF)
    n = data[pos]
    pos += 1
    if n >= 0x80:
        if pos < end and data[pos] < 0x80:  # two-byte length: 128-16383
            n = (n & 0x7F) | (data[pos] << 7)
            pos += 1
        else:
            n, pos = varint(data, pos - 1, end)
        if n >= 1 << 63:
            raise Malformed("proto: negative length found during unmarshaling")
    stop = pos + n
    if stop > end:
        raise Malformed(EOF)
    return pos, stop


def scalar(data: bytes, pos: int, end: int, kind: int) -> tuple[Any, int]:
    """One scalar of `kind` as its JSON value, and the position after it."""
    if kind == K_STRING:
        start, stop = _length(data, pos, end)
        return data[start:stop].decode("utf-8", "replace"), stop
    if kind == K_BYTES:
        start, stop = _length(data, pos, end)
        return base64.b64encode(data[start:stop]).decode("ascii"), stop
    if kind == K_RAW:
        start, stop = _length(data, pos, end)
        return data[start:stop], stop
    if kind <= K_SINT64:  # varints
        v, pos = varint(data, pos, end)
        if kind == K_INT32:
            v &= 0xFFFFFFFF
            return (v - (1 << 32) if v >= 1 << 31 else v), pos
        if kind == K_INT64:
            return (v - (1 << 64) if v >= 1 << 63 else v), pos
        if kind == K_BOOL:
            return v != 0, pos
        if kind == K_UINT32:
            return v & 0xFFFFFFFF, pos
        if kind == K_UINT64:
            return v, pos
        if kind == K_SINT32:
            v &= 0xFFFFFFFF
        return (v >> 1) ^ -(v & 1), pos  # K_SINT32 / K_SINT64: zigzag
    if kind in (K_DOUBLE, K_FIXED64, K_SFIXED64):
        if pos + 8 > end:
            raise Malformed(EOF)
        if kind == K_DOUBLE:
            return _values.json_float(_DOUBLE.unpack_from(data, pos)[0]), pos + 8
        return (_U64 if kind == K_FIXED64 else _I64).unpack_from(data, pos)[0], pos + 8
    if kind in (K_FLOAT, K_FIXED32, K_SFIXED32):
        if pos + 4 > end:
            raise Malformed(EOF)
        if kind == K_FLOAT:
            return _values.json_float(_FLOAT.unpack_from(data, pos)[0]), pos + 4
        return (_U32 if kind == K_FIXED32 else _I32).unpack_from(data, pos)[0], pos + 4
    raise Malformed(f"proto: unsupported field kind {kind}")  # pragma: no cover - table invariant


def skip(data: bytes, pos: int, end: int, wire: int) -> int:
    """Skip one unknown field's value (groups included); the position after it."""
    if wire == WIRE_VARINT:
        return varint(data, pos, end)[1]
    if wire == WIRE_FIXED64:
        pos += 8
    elif wire == WIRE_LEN:
        return _length(data, pos, end)[1]
    elif wire == WIRE_FIXED32:
        pos += 4
    elif wire == 3:  # start group: skip to its end group, counting nested groups
        depth = 1
        while depth:
            key, pos = varint(data, pos, end)
            inner = key & 7
            if inner == 4:
                depth -= 1
            elif inner == 3:
                depth += 1
                if depth > MAX_DEPTH:
                    raise Malformed("proto: groups nested too deeply")
            else:
                pos = skip(data, pos, end, inner)
        return pos
    elif wire == 4:
        raise Malformed("proto: unexpected end of group")
    else:
        raise Malformed(f"proto: illegal wireType {wire}")
    if pos > end:
        raise Malformed(EOF)
    return pos


def append(out: dict[str, Any], name: str, value: Any) -> None:
    items = out.get(name)
    if items is None:
        out[name] = [value]
    else:
        items.append(value)


def decode_into(data: bytes, pos: int, end: int, msg: Message, out: dict[str, Any], depth: int) -> None:
    """Decode the fields of `msg` in data[pos:end] into `out` (merging, as protobuf does).

    Speed matters here (every protobuf request body goes through it), hence the inlined fast paths
    for one-byte lengths and varints. Reading one byte past `end` is harmless: a length read there
    always ends beyond `end` and is refused; a read past the whole buffer raises IndexError, which
    the callers report as unexpected EOF.
    """
    if depth > MAX_DEPTH:
        raise Malformed(f"proto: {msg.name.rsplit('.', 1)[-1]}: nesting deeper than {MAX_DEPTH} messages")
    steps = msg.steps
    value: Any
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag >= 0x80:
            if pos < end and data[pos] < 0x80:  # two-byte tag: field numbers 16-2047
                tag = (tag & 0x7F) | (data[pos] << 7)
                pos += 1
            else:
                tag, pos = varint(data, pos - 1, end)
        try:
            how, name, mode, aux = steps[tag]
        except KeyError:
            pos = _unexpected(data, pos, end, tag, msg, out)
            continue
        if how <= D_INLINE:  # length-delimited: a string or a message
            n = data[pos]
            if n < 0x80:
                start = pos + 1
                pos = start + n
            else:
                start, pos = _length(data, pos, end)
            if pos > end:
                raise Malformed(EOF)
            if how == D_STRING:
                if mode == M_SET_NONZERO:
                    if pos > start:
                        out[name] = data[start:pos].decode("utf-8", "replace")
                    else:
                        out.pop(name, None)
                    continue
                value = data[start:pos].decode("utf-8", "replace")
            elif how == D_MESSAGE:
                if mode == M_APPEND:
                    value = {}
                    decode_into(data, start, pos, aux, value, depth + 1)
                else:
                    value = out.get(name)
                    if type(value) is not dict:
                        value = out[name] = {}
                    decode_into(data, start, pos, aux, value, depth + 1)
                    continue
            elif how == D_SPECIAL:
                value = special(data, start, pos, aux, depth + 1)
            else:  # D_INLINE
                decode_into(data, start, pos, aux, out, depth + 1)
                continue
        elif how <= D_BOOL:  # int32, int64, bool
            value = data[pos]
            pos += 1
            if value >= 0x80:
                value, pos = varint(data, pos - 1, end)
                if how == D_INT32:
                    value &= 0xFFFFFFFF
                    if value >= 1 << 31:
                        value -= 1 << 32
                elif how == D_INT64 and value >= 1 << 63:
                    value -= 1 << 64
            elif pos > end:
                raise Malformed(EOF)
            if how == D_BOOL:
                value = value != 0
        elif how == D_MAP:
            start, pos = _length(data, pos, end)
            if aux.string_map and pos > start and data[start] == 0x0A:
                # map<string, string> as Go writes it: 0x0A key 0x12 value, both shorter than 128
                k_stop = start + 2 + data[start + 1]
                if k_stop + 2 <= pos and data[k_stop] == 0x12 and k_stop + 2 + data[k_stop + 1] == pos:
                    key = data[start + 2 : k_stop].decode("utf-8", "replace")
                    value = data[k_stop + 2 : pos].decode("utf-8", "replace")
                else:
                    key, value = _map_entry(data, start, pos, aux, depth + 1)
            else:
                key, value = _map_entry(data, start, pos, aux, depth + 1)
            entries = out.get(name)
            if entries is None:
                out[name] = {key: value}
            else:
                entries[key] = value
            continue
        else:
            value, pos = scalar(data, pos, end, aux)
        if mode == M_SET:
            out[name] = value
        elif mode == M_APPEND:
            items = out.get(name)
            if items is None:
                out[name] = [value]
            else:
                items.append(value)
        elif value:
            out[name] = value
        else:
            out.pop(name, None)
    for name in msg.nulls:
        if name not in out:
            out[name] = None


def _unexpected(data: bytes, pos: int, end: int, tag: int, msg: Message, out: dict[str, Any]) -> int:
    """A tag with no field of that wire type: a packed repeated field, an unknown field, or an error."""
    number = tag >> 3
    wire = tag & 7
    if number <= 0:
        raise Malformed(f"proto: {msg.name.rsplit('.', 1)[-1]}: illegal tag {number} (wire type {wire})")
    f = msg.by_number.get(number)
    if f is None:
        if wire == 4:
            raise Malformed(f"proto: {msg.name.rsplit('.', 1)[-1]}: wiretype end group for non-group")
        return skip(data, pos, end, wire)
    if f.repeated and wire == WIRE_LEN and wire_type(f.kind) != WIRE_LEN:
        start, stop = _length(data, pos, end)
        while start < stop:
            value, start = scalar(data, start, stop, f.kind)
            append(out, f.name, value)
        return stop
    raise Malformed(f"proto: wrong wireType = {wire} for field {f.name}")


def _zero(kind: int, message: Message | None, depth: int) -> Any:
    """The JSON value of a map entry's missing key or value (Go's zero value)."""
    if message is not None:
        return special(b"", 0, 0, message, depth) if message.special else {}
    if kind == K_STRING or kind == K_BYTES:
        return ""
    if kind == K_BOOL:
        return False
    return 0


def _map_entry(data: bytes, pos: int, end: int, f: Field, depth: int) -> tuple[str, Any]:
    key_tag = (1 << 3) | wire_type(f.key_kind)
    value_tag = (2 << 3) | wire_type(f.value_kind if f.value_message is None else K_MESSAGE)
    key: Any = None
    value: Any = None
    have_value = False
    while pos < end:
        tag = data[pos]
        pos += 1
        if tag >= 0x80:
            tag, pos = varint(data, pos - 1, end)
        if tag == key_tag:
            key, pos = scalar(data, pos, end, f.key_kind)
        elif tag == value_tag:
            sub = f.value_message
            if sub is None:
                value, pos = scalar(data, pos, end, f.value_kind)
            else:
                start, pos = _length(data, pos, end)
                if sub.special:
                    value = special(data, start, pos, sub, depth + 1)
                else:
                    value = {}
                    decode_into(data, start, pos, sub, value, depth + 1)
            have_value = True
        elif (tag >> 3) in (1, 2):
            raise Malformed(f"proto: wrong wireType = {tag & 7} for field {f.name}")
        elif (tag >> 3) <= 0:
            raise Malformed(f"proto: illegal tag {tag >> 3} (wire type {tag & 7})")
        else:
            pos = skip(data, pos, end, tag & 7)
    if key is None:
        key = _zero(f.key_kind, None, depth)
    if not have_value:
        value = _zero(f.value_kind, f.value_message, depth)
    return (key if isinstance(key, str) else orjson.dumps(key).decode()), value


def special(data: bytes, pos: int, end: int, msg: Message, depth: int) -> Any:
    """The JSON value of a message whose JSON form is not an object of its fields."""
    s = msg.special
    if s == S_TIME:
        if end == pos:
            return None
        if data[pos] == 0x08:  # fast path for Go's shape: seconds, then nanos 0
            seconds, after = varint(data, pos + 1, end)
            if after == end or (after + 2 == end and data[after] == 0x10 and data[after + 1] == 0):
                return _values.format_time(seconds - (1 << 64) if seconds >= 1 << 63 else seconds)
    elif s == S_QUANTITY:  # fast path: the string field alone
        if end > pos + 1 and data[pos] == 0x0A and data[pos + 1] == end - pos - 2:
            return _values.check_quantity(data[pos + 2 : end].decode("utf-8", "replace"))
    d: dict[str, Any] = {}
    decode_into(data, pos, end, msg, d, depth)
    if s == S_TIME:
        return None if end == pos else _values.format_time(d.get("1", 0))
    if s == S_QUANTITY:
        return _values.check_quantity(d["1"]) if "1" in d else "0"
    if s == S_INTORSTRING:
        typ = d.get("1", 0)
        if typ == 0:
            return d.get("2", 0)
        if typ == 1:
            return d.get("3", "")
        raise Malformed("impossible IntOrString.Type")
    if s == S_WRAPPER:
        return d.get("1", [])
    if s == S_MICROTIME:
        return None if end == pos else _values.format_micro_time(d.get("1", 0), d.get("2", 0))
    if s == S_RAWEXTENSION:
        raw = d.get("1")
        if not raw:
            return None
        if raw[:4] == MAGIC:  # an object embedded in protobuf (watch events, lists)
            return decode_envelope(raw, depth + 1)
        return _json(raw)
    if s == S_FIELDSV1 or s == S_JSON:
        raw = d.get("1")
        return _json(raw) if raw else None
    if s == S_DURATION:
        return _values.format_duration(d.get("1", 0))
    if s == S_ORBOOL:
        return d["2"] if "2" in d else bool(d.get("1", False))
    if s == S_ORARRAY:
        return d["2"] if d.get("2") else d.get("1")
    if s == S_ORSTRINGARRAY:
        return d["2"] if d.get("2") else d.get("1")
    if s == S_RAWMESSAGE:
        return d
    raise Malformed(f"proto: unsupported special message {msg.name}")  # pragma: no cover


def _json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise Malformed(f"embedded JSON is not valid: {exc}") from None


def decode_envelope(data: bytes, depth: int) -> dict[str, Any]:
    """`k8s\\x00` + runtime.Unknown -> the object it carries, with apiVersion and kind."""
    t = table()
    envelope: dict[str, Any] = {}
    decode_into(data, len(MAGIC), len(data), t.unknown, envelope, depth)
    type_meta = envelope.get("1") or {}
    api_version = type_meta.get("1", "")
    kind = type_meta.get("2", "")
    raw = envelope.get("2") or b""
    if not kind:
        raise MissingTypeError(f"Object 'Kind' is missing in '{_type_meta_text(api_version, kind)}'")
    if not api_version:
        raise MissingTypeError(f"Object 'apiVersion' is missing in '{_type_meta_text(api_version, kind)}'")
    msg = t.for_kind(api_version, kind)
    if msg is None:
        raise MissingTypeError(f'no kind "{kind}" is registered for version "{api_version}"')
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    try:
        decode_into(raw, 0, len(raw), msg, obj, depth + 1)
    except (ValueError, struct.error, IndexError) as exc:
        version = api_version.rsplit("/", 1)[-1]
        reason = EOF if isinstance(exc, IndexError) else str(exc)
        raise Malformed(f'{kind} in version "{version}" cannot be handled as a {kind}: {reason}') from None
    return obj


class MissingTypeError(Malformed):
    """The envelope does not name a kind this table knows."""


def _type_meta_text(api_version: str, kind: str) -> str:
    return f"runtime.TypeMeta{{APIVersion:{orjson.dumps(api_version).decode()}, Kind:{orjson.dumps(kind).decode()}}}"
