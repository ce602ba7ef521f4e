"""Validating a custom resource against its CRD schema, as the apiextensions strategy does.

Three checks, in upstream's order (`customResourceStrategy.Validate`):

1. The OpenAPI schema (`ValidateCustomResource`: kube-openapi's `validate.SchemaValidator`). For
   every node, in kube-openapi's order: type (and format for non-strings), allOf/anyOf/oneOf/not,
   string length and pattern, format, number bounds, items and item counts, enum, then object
   properties, additionalProperties and `required`. Messages are kube-openapi's (`spec.replicas in body
   must be of type integer: "string"`), turned into field errors the way apiextensions does: a type
   error is `Invalid value: "string": <message>`, `required` is `Required value`, enum is
   `Unsupported value: ...: supported values: ...`, maxLength is `Too long`, maxItems/maxProperties are
   `Too many`, anything else `Invalid value: <bad value>: <message>`. The anyOf/oneOf/allOf/not
   summaries are not field errors upstream and land on the validator's root path, which is printed
   `<nil>` when validation starts at the object itself. Identical messages are reported once.
   Formats other than kube-openapi's are ignored, `x-kubernetes-int-or-string` means type
   "integer,string", and a float with an integral value passes as an integer.
2. Embedded resources (`objectmeta.Validate`): `apiVersion` and `kind` are required strings, the kind
   must be a DNS-1035 label in any case, and the metadata goes to the caller's ObjectMeta validation.
3. `x-kubernetes-list-type: set|map`: duplicate items, or duplicate map keys, are `Duplicate value`.

On update (`old=`), CRD validation ratcheting applies (CRDValidationRatcheting, beta and on in 1.32):
errors inside a part of the object that is unchanged from `old` are dropped. Parts are matched by
property name, map key, and for `x-kubernetes-list-type: map` lists by item key; a changed root drops
nothing at the root's own level. The list-type check is skipped when `old` already violated it.
CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from kijabi.machinery import errors as E
from kijabi.machinery.errors import FieldError

from . import formats
from ._go import go_equal, go_float, go_json, go_quote, go_v
from ._regex import GoRegexError, compile_go
from .nodes import AP_BOOL, MISSING, Node
from .typed import TypedWalk

__all__ = [
    "MetaValidator",
    "correlated_equal",
    "embedded_errors",
    "json_integer",
    "list_errors",
    "validate_custom",
    "validate_openapi",
]

MetaValidator = Callable[[dict[str, Any], str], list[FieldError]]
"""Validates an embedded ObjectMeta: (metadata with a name filled in, field path) -> errors."""

_Out = list[tuple[str, FieldError]]
_SCHEMA_INFO: dict[type, tuple[str, str]] = {
    str: ("string", ""),
    bool: ("boolean", ""),
    int: ("integer", "int64"),
    float: ("number", "float64"),
    list: ("array", ""),
    dict: ("object", ""),
}
_MAX_JSON_FLOAT = float((1 << 53) - 1)
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1


def json_integer(f: float) -> bool:
    """go-openapi `swag.IsFloat64AJSONInteger`, relative tolerance 1e-9 included."""
    if math.isnan(f) or math.isinf(f) or f < -_MAX_JSON_FLOAT or f > _MAX_JSON_FLOAT:
        return False
    if f.is_integer():
        return True
    if f < 0:
        return False
    g = float(math.trunc(f))
    diff = abs(f - g)
    if g == 0:
        return False
    return diff / (f + g) < 1e-9


def _int64(f: float) -> int:
    """Go's float64 -> int64 conversion (truncation), saturated."""
    if math.isnan(f):
        return _INT64_MIN
    if f >= 9.223372036854775807e18:
        return _INT64_MAX
    if f <= -9.223372036854775808e18:
        return _INT64_MIN
    return math.trunc(f)


def _rune_string(n: int) -> str:
    """Go's `string(rune(n))` conversion used by reflect when an enum value is a string."""
    if 0 <= n <= 0x10FFFF and not 0xD800 <= n <= 0xDFFF:
        return chr(n)
    return "\ufffd"


def _enum_match(data: Any, ev: Any) -> bool:
    """kube-openapi's enum test: convert the value to the enum entry's Go type, then DeepEqual."""
    td, te = type(data), type(ev)
    if te is str:
        if td is str:
            return bool(data == ev)
        return td is int and _rune_string(data) == ev
    if te is bool:
        return td is bool and data == ev
    if te is int:
        if td is int:
            return bool(data == ev)
        return td is float and _int64(data) == ev
    if te is float:
        return (td is int or td is float) and float(data) == ev
    if te is dict:
        return td is dict and go_equal(data, ev)
    if te is list:
        return td is list and go_equal(data, ev)
    return False


class _MapIndex:
    """Old items of an `x-kubernetes-list-type: map` list, by key (upstream `MapList`)."""

    __slots__ = ("index", "keys")

    def __init__(self, keys: tuple[str, ...], items: list[Any]) -> None:
        self.keys = keys
        self.index: dict[Any, Any] = {}
        for item in items:
            k = self.key(item)
            if k is not None:
                self.index[k] = item

    def key(self, item: Any) -> Any:
        if type(item) is not dict:
            return None
        parts = []
        for name in self.keys:
            if name not in item:
                return None
            v = item[name]
            parts.append(go_json(v) if isinstance(v, dict | list) else (type(v).__name__, v))
        return tuple(parts)

    def get(self, item: Any) -> Any:
        k = self.key(item)
        return None if k is None else self.index.get(k)


def _map_index(s: Node, old: Any) -> _MapIndex | None:
    if s.type != "array" or s.list_type != "map" or not s.list_map_keys or type(old) is not list or not old:
        return None
    return _MapIndex(s.list_map_keys, old)


def correlated_equal(new: Any, old: Any, s: Node | None) -> bool:
    """Upstream `CorrelatedObject.CachedDeepEqual`: unchanged, comparing map lists by key."""
    if new is None and old is None:
        return True
    if new is None or old is None:
        return False
    tn, to = type(new), type(old)
    if (tn is list) != (to is list) or (tn is dict) != (to is dict):
        return False
    if tn is list:
        if len(new) != len(old):
            return False
        index = _map_index(s, old) if s is not None else None
        if s is not None and s.type == "array" and s.list_type == "map" and s.list_map_keys:
            if index is None:
                return not new
            for item in new:
                o = index.get(item)
                if o is None or not correlated_equal(item, o, s.items):
                    return False
            return True
        return go_equal(old, new)
    if tn is dict:
        if len(new) != len(old):
            return False
        for k, v in new.items():
            sub = s.child(k) if s is not None else None
            if sub is None or k not in old or not correlated_equal(v, old[k], sub):
                return False
        return True
    return go_equal(old, new)


class _Validator:
    """kube-openapi's SchemaValidator over `Node`s. Names are kube-openapi paths (`spec.items[0]`)."""

    __slots__ = ("base", "crd")

    def __init__(self, base: str | None, crd: bool) -> None:
        self.base = base
        self.crd = crd

    def field(self, name: str) -> str:
        if not name or name == ".":
            return self.base if self.base is not None else "<nil>"
        n = name[1:] if name[0] == "." else name
        return n if self.base is None else f"{self.base}.{n}"

    def composite(self, out: _Out, message: str) -> None:
        out.append((message, E.invalid_value(self.field(""), "", message)))

    def validate(self, data: Any, s: Node, name: str, out: _Out, old: Any, has_old: bool) -> int:
        """A (ratcheting, when `has_old`) validator for one node; returns kube-openapi's MatchCount."""
        start = len(out)
        mc = self.run(data, s, name, out, old, has_old)
        if has_old and len(out) > start and correlated_equal(data, old, s):
            del out[start:]
        return mc

    def run(self, data: Any, s: Node, name: str, out: _Out, old: Any, has_old: bool) -> int:
        types = s.types_crd if self.crd else s.types_plain
        fmt = s.format_crd if self.crd else s.format
        if data is None:
            mc = 1
            if types and "null" not in types and not s.nullable:
                msg = f'{name} in body must be of type {",".join(types)}: "null"'
                out.append((msg, E.type_invalid(self.field(name), "null", msg)))
                mc = 0
            if s.enum:
                self._enum_fail(None, s, name, out)
            return mc
        t = type(data)
        if types or fmt:
            if t is (s.pytype_crd if self.crd else s.pytype_plain):
                mc = 2
            else:
                mc = 2 if self._type(data, t, types, fmt, name, out) else 1
        else:
            mc = 0
        mc += 1 + self._props(data, s, name, out, old, has_old) if s.composed else 2
        if t is str:
            if s.checks_strings:
                self._string(data, s, name, out)
            mc += 1
            if fmt and formats.known(fmt):
                if not formats.valid(fmt, data):
                    msg = f"{name} in body must be of type {fmt}: {go_quote(data)}"
                    out.append((msg, E.type_invalid(self.field(name), data, msg)))
                mc += 1
        elif t is int or t is float:
            if s.checks_numbers:
                self._number(data, t is int, s, name, out)
            mc += 2
        elif t is list:
            mc += 1 + self._slice(data, s, name, out, old, has_old)
        if s.enum:
            for ev in s.enum:
                if ev is not None and _enum_match(data, ev):
                    break
            else:
                self._enum_fail(data, s, name, out)
        mc += 1
        if t is dict:
            mc += 1 + self._object(data, s, name, out, old, has_old)
        return mc + 1

    def _type(self, data: Any, t: type, types: tuple[str, ...], fmt: str, name: str, out: _Out) -> bool:
        sch, dfmt = _SCHEMA_INFO.get(t, ("", ""))
        float_int = t is float and "integer" in types and json_integer(data)
        int_float = t is int and "number" in types
        if (
            t is not str
            and t is not list
            and fmt
            and not (sch in types or dfmt == fmt or float_int or int_float)
        ):
            msg = f"{name} in body must be of type {fmt}: {go_quote(dfmt)}"
            out.append((msg, E.type_invalid(self.field(name), dfmt, msg)))
            return False
        if "number" not in types and "integer" not in types and fmt and (t is str or t is list):
            return True
        if not (sch in types or float_int or int_float):
            msg = f"{name} in body must be of type {','.join(types)}: {go_quote(sch)}"
            out.append((msg, E.type_invalid(self.field(name), sch, msg)))
            return False
        return True

    def _props(self, data: Any, s: Node, name: str, out: _Out, old: Any, has_old: bool) -> int:
        """allOf / anyOf / oneOf / not (kube-openapi `schemaPropsValidator`); returns MatchCount."""
        mc = 0
        if not (s.any_of or s.one_of or s.all_of or s.not_ is not None):
            return 1
        quoted = go_quote(name)
        if s.any_of:
            best: _Out | None = None
            best_mc = 0
            first_ok: int | None = None
            for branch in s.any_of:
                r: _Out = []
                rmc = self.run(data, branch, name, r, old, has_old)
                if not r:
                    first_ok = rmc
                    best = None
                    break
                if best is None or rmc > best_mc:
                    best, best_mc = r, rmc
            if first_ok is None:
                self.composite(out, f"{quoted} must validate at least one schema (anyOf)")
            if best is not None:
                out.extend(best)
                mc += best_mc
            elif first_ok is not None:
                mc += first_ok
        if s.one_of:
            best = None
            best_mc = 0
            first_ok = None
            valid = 0
            for branch in s.one_of:
                r = []
                rmc = self.run(data, branch, name, r, old, has_old)
                if not r:
                    valid += 1
                    best = None
                    if first_ok is None:
                        first_ok = rmc
                    continue
                if valid == 0 and (best is None or rmc > best_mc):
                    best, best_mc = r, rmc
            if valid != 1:
                extra = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                self.composite(out, f"{quoted} must validate one and only one schema (oneOf). {extra}")
                if best is not None:
                    out.extend(best)
                    mc += best_mc
            elif first_ok is not None:
                mc += first_ok
        if s.all_of:
            valid = 0
            for branch in s.all_of:
                r = []
                mc += self.run(data, branch, name, r, old, has_old)
                if not r:
                    valid += 1
                out.extend(r)
            if valid != len(s.all_of):
                extra = ". None validated" if valid == 0 else ""
                self.composite(out, f"{quoted} must validate all the schemas (allOf){extra}")
        neg = s.not_
        if neg is not None:
            r = []
            self.run(data, neg, name, r, old, has_old)
            if not r:
                self.composite(out, f"{quoted} must not validate the schema (not)")
        return mc + 1

    def _string(self, data: str, s: Node, name: str, out: _Out) -> None:
        if s.max_length is not None and len(data) > s.max_length:
            msg = f"{name} in body should be at most {s.max_length} chars long"
            out.append((msg, E.too_long(self.field(name), s.max_length)))
            return
        if s.min_length is not None and len(data) < s.min_length:
            msg = f"{name} in body should be at least {s.min_length} chars long"
            out.append((msg, E.invalid_value(self.field(name), data, msg)))
            return
        if s.pattern:
            try:
                rx = compile_go(s.pattern)
            except GoRegexError as exc:
                msg = f"{name} in body should match '{s.pattern}, but pattern is invalid: {exc}'"
                out.append((msg, E.invalid_value(self.field(name), data, msg)))
                return
            if rx is not None and rx.search(data) is None:
                msg = f"{name} in body should match '{s.pattern}'"
                out.append((msg, E.invalid_value(self.field(name), data, msg)))

    def _number(self, data: int | float, is_int: bool, s: Node, name: str, out: _Out) -> None:
        field = self.field(name)
        factor = s.multiple_of
        if factor is not None:
            if is_int:
                f = _int64(factor)
                if f <= 0:
                    msg = f"factor MultipleOf declared for {name} must be positive: {f}"
                    out.append((msg, E.invalid_value(field, f, msg)))
                elif data % f != 0:
                    msg = f"{name} in body should be a multiple of {f}"
                    out.append((msg, E.invalid_value(field, data, msg)))
            elif factor <= 0:
                msg = f"factor MultipleOf declared for {name} must be positive: {go_float(factor)}"
                out.append((msg, E.invalid_value(field, factor, msg)))
            else:
                mult = (1 / factor * data) if factor < 1 else data / factor
                if not json_integer(mult):
                    msg = f"{name} in body should be a multiple of {go_float(factor)}"
                    out.append((msg, E.invalid_value(field, data, msg)))
        low = s.minimum
        if low is not None:
            excl = s.exclusive_minimum
            bound: int | float = _int64(low) if is_int else low
            if data <= bound if excl else data < bound:
                text = str(bound) if is_int else go_float(low)
                word = "greater than" if excl else "greater than or equal to"
                msg = f"{name} in body should be {word} {text}"
                out.append((msg, E.invalid_value(field, data, msg)))
        high = s.maximum
        if high is not None:
            excl = s.exclusive_maximum
            bound = _int64(high) if is_int else high
            if data >= bound if excl else data > bound:
                text = str(bound) if is_int else go_float(high)
                word = "less than" if excl else "less than or equal to"
                msg = f"{name} in body should be {word} {text}"
                out.append((msg, E.invalid_value(field, data, msg)))

    def _slice(self, data: list[Any], s: Node, name: str, out: _Out, old: Any, has_old: bool) -> int:
        mc = 0
        items = s.items
        if items is not None:
            index = _map_index(s, old) if has_old else None
            for i, v in enumerate(data):
                if index is not None:
                    o = index.get(v)
                    mc += self.validate(v, items, f"{name}[{i}]", out, o, o is not None)
                else:
                    mc += self.validate(v, items, f"{name}[{i}]", out, None, False)
        size = len(data)
        field = self.field(name)
        if s.min_items is not None and size < s.min_items:
            msg = f"{name} in body should have at least {s.min_items} items"
            out.append((msg, E.invalid_value(field, size, msg)))
        if s.max_items is not None and size > s.max_items:
            msg = f"{name} in body should have at most {s.max_items} items"
            out.append((msg, E.too_many(field, size, s.max_items)))
        if s.unique_items:
            for i in range(1, size):
                if any(go_equal(data[i], data[j]) for j in range(i)):
                    msg = f"{name} in body shouldn't contain duplicates"
                    out.append((msg, E.invalid_value(field, "", msg)))
                    break
        return mc + 1

    def _enum_fail(self, data: Any, s: Node, name: str, out: _Out) -> None:
        values = s.enum or []
        msg = f"{name} in body should be one of {go_v(values)}"
        supported = [v if isinstance(v, str) else go_json(v) for v in values]
        out.append((msg, E.not_supported(self.field(name), "null" if data is None else data, supported)))

    def _object(self, data: dict[str, Any], s: Node, name: str, out: _Out, old: Any, has_old: bool) -> int:
        mc = 0
        size = len(data)
        if s.min_properties is not None and size < s.min_properties:
            msg = f"{name} in body should have at least {s.min_properties} properties"
            out.append((msg, E.invalid_value(self.field(name), size, msg)))
        if s.max_properties is not None and size > s.max_properties:
            msg = f"{name} in body should have at most {s.max_properties} properties"
            out.append((msg, E.too_many(self.field(name), size, s.max_properties)))
        props = s.props
        old_map = old if has_old and type(old) is dict else None
        if not s.ap_allows:
            for k in data:
                if k not in props:
                    msg = f"{name}.{k} in body is a forbidden property"
                    out.append((msg, E.invalid_value(self.field(name), k, msg)))
        else:
            apn = s.ap_node
            if apn is not None:
                for k, v in data.items():
                    if k not in props:
                        found = old_map is not None and k in old_map
                        o = old_map[k] if found and old_map is not None else None
                        mc += self.validate(v, apn, f"{name}.{k}", out, o, found)
        for k, v in data.items():
            p = props.get(k)
            if p is None:
                continue
            if old_map is None:
                mc += self.validate(v, p, f"{name}.{k}" if name else k, out, None, False)
                continue
            found = k in old_map and not (not name and k in ("kind", "apiVersion"))
            mc += self.validate(v, p, f"{name}.{k}" if name else k, out, old_map.get(k), found)
        for k in s.required:
            if k not in data:
                rname = f"{name}.{k}"
                msg = f"{rname} in body is required"
                out.append((msg, E.required(self.field(rname))))
        return mc


def validate_openapi(
    obj: Any, root: Node, *, path: str = "", old: Any = MISSING, crd: bool = True
) -> list[FieldError]:
    """Step 1 of the module docstring. `crd=False` validates like a `default` value is validated
    (formats kept as written, int-or-string untyped)."""
    v = _Validator(path or None, crd)
    out: _Out = []
    if old is MISSING:
        v.run(obj, root, "", out, None, False)
    else:
        v.validate(obj, root, "", out, old, True)
    seen: set[str] = set()
    result: list[FieldError] = []
    for msg, err in out:
        if msg not in seen:
            seen.add(msg)
            result.append(err)
    return result


# -- embedded resources (objectmeta.Validate) ------------------------------------------------------

_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
    "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def embedded_errors(
    x: Any,
    s: Node | None,
    path: str,
    out: list[FieldError],
    meta: MetaValidator | None,
    embedded_root: bool = False,
) -> None:
    if s is None or not (embedded_root or s.has_embedded):
        return
    t = type(x)
    if t is dict:
        if s.embedded or embedded_root:
            _embedded_resource(x, path, out, meta)
        props = s.props
        ap = s.ap
        for k, v in x.items():
            p = props.get(k)
            if p is not None:
                embedded_errors(v, p, _child(path, k), out, meta)
            elif ap is not None:
                embedded_errors(v, None if ap is AP_BOOL else ap, f"{path}[{k}]", out, meta)
    elif t is list:
        for i, v in enumerate(x):
            embedded_errors(v, s.items, f"{path}[{i}]", out, meta)


def _embedded_resource(
    x: dict[str, Any], path: str, out: list[FieldError], meta: MetaValidator | None
) -> None:
    if "apiVersion" not in x:
        out.append(E.required(_child(path, "apiVersion"), "must not be empty"))
    if "kind" not in x:
        out.append(E.required(_child(path, "kind"), "must not be empty"))
    for k, v in x.items():
        if k == "apiVersion":
            p = _child(path, k)
            if not isinstance(v, str):
                out.append(E.invalid_value(p, v, "must be a string"))
            elif not v:
                out.append(E.invalid_value(p, v, "must not be empty"))
            elif v != "/" and v.count("/") > 1:
                out.append(E.invalid_value(p, v, f"unexpected GroupVersion string: {v}"))
        elif k == "kind":
            p = _child(path, k)
            if not isinstance(v, str):
                out.append(E.invalid_value(p, v, "must be a string"))
            elif not v:
                out.append(E.invalid_value(p, v, "must not be empty"))
            else:
                problems = []
                low = v.lower()
                if len(low) > 63:
                    problems.append("must be no more than 63 characters")
                if not _DNS1035.fullmatch(low):
                    problems.append(_DNS1035_MSG)
                if problems:
                    detail = "may have mixed case, but should otherwise match: " + ",".join(problems)
                    out.append(E.invalid_value(p, v, detail))
        elif k == "metadata":
            p = _child(path, k)
            from .pruning import object_meta

            walk = TypedWalk(track=False)
            walk.run(v, object_meta())
            if walk.errors:
                out.append(E.invalid_value(p, v, walk.errors[0]))
            elif meta is not None:
                md = dict(v) if isinstance(v, dict) else {}
                if not md.get("name"):
                    md["name"] = "fakename"
                out.extend(meta(md, p))


# -- x-kubernetes-list-type (listtype.ValidateListSetsAndMaps) -------------------------------------

_UNSPECIFIED = object()


def _non_unique(values: list[Any]) -> list[int]:
    """Indexes of the first repeat of each duplicated value (scalars by Go equality, others by JSON)."""
    seen: dict[Any, int] = {}
    found: list[int] = []
    for i, x in enumerate(values):
        key: Any = ("json", go_json(x)) if isinstance(x, dict | list) else (type(x).__name__, x)
        times = seen.get(key)
        if times is None:
            seen[key] = 1
        else:
            seen[key] = times + 1
            if times == 1:
                found.append(i)
    return found


def _lists(path: str, s: Node | None, obj: dict[str, Any], out: list[FieldError]) -> None:
    if s is None or not s.has_list_type:
        return
    apn = s.ap_node
    if apn is not None:
        for k, v in obj.items():
            _lists_value(f"{path}[{k}]", apn, v, out)
    props = s.props
    if props:
        for k, v in obj.items():
            p = props.get(k)
            if p is not None:
                _lists_value(_child(path, k), p, v, out)


def _lists_value(path: str, s: Node, v: Any, out: list[FieldError]) -> None:
    t = type(v)
    if t is list:
        _lists_array(path, s, v, out)
    elif t is dict:
        _lists(path, s, v, out)


def _lists_array(path: str, s: Node, arr: list[Any], out: list[FieldError]) -> None:
    if not s.has_list_type:
        return
    if s.list_type == "set":
        for i in _non_unique(arr):
            out.append(E.duplicate(f"{path}[{i}]", arr[i]))
    elif s.list_type == "map":
        out.extend(_list_map(path, s, arr))
    items = s.items
    if items is not None:
        for i, v in enumerate(arr):
            _lists_value(f"{path}[{i}]", items, v, out)


def _list_map(path: str, s: Node, arr: list[Any]) -> list[FieldError]:
    for i, x in enumerate(arr):
        if x is not None and type(x) is not dict:
            return [E.invalid_value(f"{path}[{i}]", x, "must be an object for an array of list-type map")]
    if len(arr) <= 1:
        return []
    fields = s.list_map_keys
    if len(fields) == 1:
        name = fields[0]
        keys = [_UNSPECIFIED if x is None or name not in x else x[name] for x in arr]
        return [
            E.duplicate(f"{path}[{i}]", {} if keys[i] is _UNSPECIFIED else {name: keys[i]})
            for i in _non_unique(keys)
        ]
    compound = [{} if x is None else {f: x[f] for f in fields if f in x} for x in arr]
    return [E.duplicate(f"{path}[{i}]", compound[i]) for i in _non_unique(compound)]


def list_errors(obj: Any, root: Node) -> list[FieldError]:
    out: list[FieldError] = []
    if type(obj) is dict:
        _lists("", root, obj, out)
    return out


def validate_custom(
    obj: Any,
    root: Node,
    *,
    path: str = "",
    old: Any = MISSING,
    validate_meta: MetaValidator | None = None,
) -> list[FieldError]:
    """Steps 1-3 of the module docstring."""
    errs = validate_openapi(obj, root, path=path, old=old)
    embedded_errors(obj, root, path, errs, validate_meta)
    if old is MISSING or not list_errors(old, root):
        if type(obj) is dict:
            _lists(path, root, obj, errs)
    return errs
