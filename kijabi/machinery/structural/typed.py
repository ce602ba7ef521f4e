"""Decoding a JSON object into a built-in type, the way the API server's Go decoder does.

Upstream decodes a request body into the versioned Go struct with `sigs.k8s.io/json` (a fork of
`encoding/json`): case-sensitive field names, and in strict mode a list of unknown fields. This module
walks the decoded dict along the type's `Schema` instead and reports what that decoder would report:

Type errors (`json: cannot unmarshal string into Go struct field PodSpec.spec.containers of type
[]v1.Container`). Go keeps decoding after a type mismatch and reports the *first* one; but a type with
its own `UnmarshalJSON` (Quantity, IntOrString, Time) aborts decoding at once, and then only that error
is reported. `check` therefore returns either every mismatch in document order (the caller reports
`errors[0]`) or exactly one aborting error. `null` is accepted everywhere.

Unknown fields (`unknown field "spec.foo"`), in document order, at most 100, only when there is no type
error (a type error wins over strict errors upstream). Paths join struct fields and map keys with dots
and add `[i]` for list items. Fields of an `any` node (RawExtension, FieldsV1, JSON) are never unknown.

Messages keep Go's details: the struct named is the innermost struct holding the field (its Go name,
`PodSpec`), the field path lists JSON names of struct fields only (no indexes, no map keys), numbers
that do not fit an integer are quoted with their text (`number 1.5`), and `[]byte` fields are
`[]uint8`. Go type names come from the OpenAPI definition names (`io.k8s.api.core.v1.PodSpec` ->
`v1.PodSpec`); named string/map types that have no definition of their own (`v1.Protocol`,
`v1.ResourceList`) print as their underlying type (`string`, `map[string]resource.Quantity`).

Dict key order is the document order (orjson and PyYAML keep it). Custom resource metadata is decoded
from a re-marshalled copy, so `sort_keys=True` walks keys in Go's sorted order.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from kijabi.machinery.quantity import ERR_FORMAT_WRONG, parse_quantity
from kijabi.machinery.schema import Schema

from ._go import go_float, json_type
from ._goparse import base64_error, time_error

__all__ = ["MAX_UNKNOWN", "TypedWalk", "go_type", "struct_name"]

MAX_UNKNOWN = 100

_TIME = "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
_MICRO = "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"
_TIMES = (_TIME, _MICRO)
_INT32 = (-(1 << 31), (1 << 31) - 1)
_INT64 = (-(1 << 63), (1 << 63) - 1)
# Quantities in this form always parse; anything else goes through the full parser for its error.
_QUANTITY_FAST = re.compile(r"[+-]?[0-9]+(?:\.[0-9]*)?(?:[numkMGTPE]|[KMGTPE]i)?")
_GO_SPACE = " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"


class _Abort(Exception):
    """Decoding stopped at a type with its own UnmarshalJSON; `args[0]` is the message."""


def struct_name(node: Schema) -> str:
    """Go's `reflect.Type.Name()` of the struct a schema node describes (`PodSpec`)."""
    return node.name.rsplit(".", 1)[-1] if node.name else ""


def _qualified(name: str) -> str:
    parts = name.split(".")
    return f"{parts[-2]}.{parts[-1]}" if len(parts) >= 2 else name


def go_type(node: Schema | None) -> str:
    """The Go type a schema node decodes into, as `reflect.Type.String()` prints it."""
    if node is None:
        return "interface {}"
    kind = node.kind
    if kind == "object":
        return _qualified(node.name) if node.name else "struct {}"
    if kind == "map":
        return "map[string]" + go_type(node.values)
    if kind == "array":
        return "[]" + go_type(node.items)
    if kind == "string":
        if node.name in _TIMES:
            return _qualified(node.name)
        return "[]uint8" if node.format == "byte" else "string"
    if kind == "integer":
        return "int32" if node.format == "int32" else "int64"
    if kind == "number":
        return "float64"
    if kind == "boolean":
        return "bool"
    if kind == "int-or-string":
        return "intstr.IntOrString"
    if kind == "quantity":
        return "resource.Quantity"
    return _qualified(node.name) if node.name else "interface {}"


def _key_text(item: tuple[Any, Any]) -> str:
    """Sort key for Go's sorted map keys (keys from YAML may not be strings)."""
    return str(item[0])


def _number_text(value: int | float) -> str:
    """The JSON text of a number as Go saw it (the original text is gone; floats print as Python's)."""
    if isinstance(value, float):
        r = repr(value)
        return r if r not in ("inf", "-inf", "nan") else go_float(value)
    return str(value)


# Fast-path codes for a field's schema (see `_fields`): the Python type a valid value has, and what
# is left to do when it has it.
_LEAF, _I32, _I64, _OBJ, _ARR, _MAP, _ANY, _IOS, _QTY, _OTHER = range(10)
_PYTYPE = {_LEAF: None, _I32: int, _I64: int, _OBJ: dict, _ARR: list, _MAP: dict}
# Keyed by the node object itself (Schema hashes by identity); bounded by clearing.
_TABLES: dict[Schema, dict[str, tuple[Schema, type | None, int]]] = {}
_ELEMS: dict[Schema, tuple[Schema | None, int]] = {}
_TABLES_MAX = 20000
# List items (JSON text -> the item schema) known to decode without type errors or unknown fields.
_CLEAN: dict[bytes, Schema] = {}
_CLEAN_MAX = 1024
_CLEAN_BYTES = 8192


def _code(node: Schema) -> int:
    kind = node.kind
    if kind == "string":
        return _OTHER if node.format else _LEAF
    if kind == "boolean":
        return _LEAF
    if kind == "object":
        return _OBJ
    if kind == "array":
        return _ARR
    if kind == "integer":
        return _I32 if node.format == "int32" else _I64
    if kind == "any":
        return _ANY
    if kind == "map":
        return _MAP
    if kind == "int-or-string":
        return _IOS
    if kind == "quantity":
        return _QTY
    return _OTHER


def _pytype(node: Schema, code: int) -> type | None:
    if code == _LEAF:
        return str if node.kind == "string" else bool
    return _PYTYPE.get(code)


def _elem(node: Schema, elem: Schema | None) -> tuple[Schema | None, int]:
    """The element schema of a list or map node with its fast-path code (cached per node object)."""
    entry = (elem, _ANY if elem is None else _code(elem))
    if len(_ELEMS) >= _TABLES_MAX:
        _ELEMS.clear()
    _ELEMS[node] = entry
    return entry


def _table(node: Schema) -> dict[str, tuple[Schema, type | None, int]]:
    """A struct node's fields with their fast-path type and code (cached per node object)."""
    hit = _TABLES.get(node)
    if hit is not None:
        return hit
    table = {}
    for k, c in node.properties.items():
        code = _code(c)
        table[k] = (c, _pytype(c, code), code)
    if len(_TABLES) >= _TABLES_MAX:
        _TABLES.clear()
    _TABLES[node] = table
    return table


class TypedWalk:
    """One decode of `obj` into a typed schema. Use the module functions in `__init__` instead.

    `track` collects unknown fields, `remove` deletes them (what the Go struct round trip does),
    `sort_keys` walks keys in Go's `json.Marshal` order. After `run`, `errors` holds the type errors
    (see the module docstring), `unknown` the unknown field paths and `aborted` whether decoding stopped.
    """

    __slots__ = ("aborted", "errors", "plain", "remove", "sort_keys", "track", "unknown")

    def __init__(self, *, track: bool = True, remove: bool = False, sort_keys: bool = False) -> None:
        self.track = track
        self.remove = remove
        self.sort_keys = sort_keys
        self.plain = not remove and not sort_keys
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self.aborted = False

    def _pairs(self, obj: dict[str, Any]) -> list[tuple[str, Any]]:
        return sorted(obj.items(), key=_key_text) if self.sort_keys else list(obj.items())

    def run(self, obj: Any, node: Schema, spath: str = "") -> None:
        try:
            if obj is None:
                return
            if node.kind == "object" and isinstance(obj, dict):
                self._fields(obj, node, spath, "")
            else:
                self._value(obj, node, spath, "", None)
        except _Abort as stop:
            self.errors = [str(stop.args[0])]
            self.aborted = True

    # -- recording -------------------------------------------------------------------------------

    def _unknown(self, spath: str, key: str) -> None:
        if len(self.unknown) < MAX_UNKNOWN:
            self.unknown.append(f"{spath}.{key}" if spath else key)

    @staticmethod
    def _type_error(word: str, typ: str, snode: Schema | None, gpath: str) -> str:
        if snode is None and not gpath:
            return f"json: cannot unmarshal {word} into Go value of type {typ}"
        sname = struct_name(snode) if snode is not None else ""
        return f"json: cannot unmarshal {word} into Go struct field {sname}.{gpath} of type {typ}"

    def _save(self, word: str, typ: str, snode: Schema | None, gpath: str) -> None:
        self.errors.append(self._type_error(word, typ, snode, gpath))

    # -- walking ---------------------------------------------------------------------------------

    def _fields(self, obj: dict[str, Any], node: Schema, spath: str, gpath: str) -> None:
        """The fields of a Go struct; common scalar fields are checked inline (the hot path)."""
        table = _TABLES.get(node) or _table(node)
        pairs: Any = obj.items() if self.plain else self._pairs(obj)
        doomed: list[str] | None = None
        for key, val in pairs:
            entry = table.get(key)
            if entry is None:
                if self.track:
                    self._unknown(spath, key)
                if self.remove:
                    if doomed is None:
                        doomed = []
                    doomed.append(key)
                continue
            if val is None:
                continue
            child, pytype, code = entry
            t = type(val)
            if t is pytype:
                # Literal codes for speed: 0 _LEAF, 1 _I32, 2 _I64, 3 _OBJ, 4 _ARR, 5 _MAP (then 6 _ANY,
                # 7 _IOS, 8 _QTY below).
                if code == 0:
                    continue
                if code == 3:
                    self._fields(
                        val, child, f"{spath}.{key}" if spath else key, f"{gpath}.{key}" if gpath else key
                    )
                    continue
                if code == 4:
                    path = f"{spath}.{key}" if spath else key
                    self._list(val, child, path, f"{gpath}.{key}" if gpath else key, node)
                    continue
                if code == 1:
                    if -2147483648 <= val <= 2147483647:
                        continue
                elif code == 2:
                    if -9223372036854775808 <= val <= 9223372036854775807:
                        continue
                elif code == 5:
                    path = f"{spath}.{key}" if spath else key
                    self._map(val, child, path, f"{gpath}.{key}" if gpath else key, node)
                    continue
            elif code == 6:
                continue
            elif code == 7:
                if t is str or (t is int and -2147483648 <= val <= 2147483647):
                    continue
            elif code == 8:
                if (t is str and _QUANTITY_FAST.fullmatch(val)) or t is int or t is float:
                    continue
            self._value(
                val, child, f"{spath}.{key}" if spath else key, f"{gpath}.{key}" if gpath else key, node
            )
        if doomed:
            for key in doomed:
                del obj[key]

    def _list(self, val: list[Any], node: Schema, spath: str, gpath: str, snode: Schema | None) -> None:
        elem, code = _ELEMS.get(node) or _elem(node, node.items)
        if elem is None or code == _ANY:
            return
        for i, item in enumerate(val):
            if item is None:
                continue
            t = type(item)
            if code == _OBJ and t is dict:
                if self.track and len(self.unknown) < MAX_UNKNOWN:
                    self._clean_item(item, elem, f"{spath}[{i}]", gpath)
                else:
                    self._fields(item, elem, f"{spath}[{i}]", gpath)
            elif code == _LEAF and t is str and elem.kind == "string":
                continue
            else:
                self._value(item, elem, f"{spath}[{i}]", gpath, snode)

    def _clean_item(self, item: dict[str, Any], elem: Schema, spath: str, gpath: str) -> None:
        """`_fields` of a list item, skipped for an item whose JSON text was already found to have no
        type error and no unknown field under the same schema (the containers, env and ports of a
        workload's pods repeat). Only used while unknown fields are tracked below the limit, so that
        a clean walk is one that recorded nothing."""
        try:
            text = orjson.dumps(item)
        except TypeError:
            text = b""
        if not text or len(text) > _CLEAN_BYTES:
            self._fields(item, elem, spath, gpath)
            return
        if _CLEAN.get(text) is elem:
            return
        errors, unknown = len(self.errors), len(self.unknown)
        self._fields(item, elem, spath, gpath)
        if len(self.errors) == errors and len(self.unknown) == unknown:
            if len(_CLEAN) >= _CLEAN_MAX:
                _CLEAN.clear()
            _CLEAN[text] = elem

    def _map(self, val: dict[str, Any], node: Schema, spath: str, gpath: str, snode: Schema | None) -> None:
        elem, code = _ELEMS.get(node) or _elem(node, node.values)
        if elem is None or code == _ANY:
            return
        pairs: Any = sorted(val.items(), key=_key_text) if self.sort_keys else val.items()
        leaf_str = code == _LEAF and elem.kind == "string"
        quantity = code == _QTY
        for key, item in pairs:
            if item is None:
                continue
            t = type(item)
            if leaf_str and t is str:
                continue
            if quantity and t is str and _QUANTITY_FAST.fullmatch(item):
                continue
            self._value(item, elem, f"{spath}.{key}" if spath else key, gpath, snode)

    def _value(self, val: Any, node: Schema, spath: str, gpath: str, snode: Schema | None) -> None:
        """Any value that is not null; `snode` is the struct holding the field (for messages)."""
        kind = node.kind
        t = type(val)
        if kind == "object":
            if t is dict:
                self._fields(val, node, spath, gpath)
            else:
                self._save(json_type(val), go_type(node), snode, gpath)
        elif kind == "array":
            if t is list:
                self._list(val, node, spath, gpath, snode)
            else:
                self._save(json_type(val), go_type(node), snode, gpath)
        elif kind == "map":
            if t is dict:
                self._map(val, node, spath, gpath, snode)
            else:
                self._save(json_type(val), go_type(node), snode, gpath)
        elif kind == "string":
            self._string(val, node, gpath, snode)
        elif kind == "integer":
            typ = "int32" if node.format == "int32" else "int64"
            if t is int:
                lo, hi = _INT32 if typ == "int32" else _INT64
                if not lo <= val <= hi:
                    self._save(f"number {val}", typ, snode, gpath)
            elif t is float:
                self._save(f"number {_number_text(val)}", typ, snode, gpath)
            else:
                self._save(json_type(val), typ, snode, gpath)
        elif kind == "number":
            if t is not int and t is not float:
                self._save(json_type(val), "float64", snode, gpath)
        elif kind == "boolean":
            if t is not bool:
                self._save(json_type(val), "bool", snode, gpath)
        elif kind == "int-or-string":
            self._int_or_string(val, snode, gpath)
        elif kind == "quantity":
            self._quantity(val)

    def _string(self, val: Any, node: Schema, gpath: str, snode: Schema | None) -> None:
        if node.name in _TIMES:
            # metav1.Time.UnmarshalJSON: json.Unmarshal into a string, then time.Parse; both abort.
            if type(val) is not str:
                raise _Abort(self._type_error(json_type(val), "string", snode, gpath))
            message = time_error(val, micro=node.name == _MICRO)
            if message is not None:
                raise _Abort(message)
            return
        if type(val) is str:
            if node.format == "byte":
                message = base64_error(val)
                if message is not None:
                    self.errors.append(message)
            return
        self._save(json_type(val), go_type(node), snode, gpath)

    def _int_or_string(self, val: Any, snode: Schema | None, gpath: str) -> None:
        # intstr.IntOrString.UnmarshalJSON: strings are kept, anything else goes into an int32.
        t = type(val)
        if t is str:
            return
        if t is int:
            if _INT32[0] <= val <= _INT32[1]:
                return
            word = f"number {val}"
        elif t is float:
            word = f"number {_number_text(val)}"
        else:
            word = json_type(val)
        raise _Abort(self._type_error(word, "int32", snode, gpath))

    @staticmethod
    def _quantity(val: Any) -> None:
        # resource.Quantity.UnmarshalJSON: the JSON text (quotes removed, spaces trimmed) is parsed.
        t = type(val)
        if t is int or t is float:
            return
        if t is not str:
            raise _Abort(ERR_FORMAT_WRONG)
        text = val.strip(_GO_SPACE)
        if _QUANTITY_FAST.fullmatch(text):
            return
        try:
            parse_quantity(text)
        except ValueError as exc:
            raise _Abort(str(exc)) from None
