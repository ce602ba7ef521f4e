"""A CRD schema (apiextensions `JSONSchemaProps`) prepared once for pruning, defaulting and validation.

`schema.Schema` describes a type for every generic mechanism; the custom resource algorithms also
need the raw JSON-schema words it does not model (`allOf`, `multipleOf`, `additionalProperties: false`,
`nullable` next to a `default`...). `node_for(schema)` wraps a CRD `Schema` (or its raw dict) in a
`Node` that reads each keyword once and builds child nodes lazily. Nodes are cached per raw schema
object (bounded), so the same CRD version pays for the preparation once.

Upstream vocabulary: a node is a `structuralschema.Structural`; `additionalProperties` is either a
schema (`ap` is a Node), a bare boolean (`ap is AP_BOOL`: a map whose values have no schema, so
nested objects are pruned) or absent (`ap is None`).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Final

from kijabi.machinery.schema import Schema

from . import formats

__all__ = ["AP_BOOL", "MISSING", "Node", "node_for"]

MISSING: Final = object()
AP_BOOL: Final = object()


class Node:
    """One schema node; attributes mirror the JSON-schema keywords (absent -> None / empty)."""

    __slots__ = (
        "_all_of",
        "_any_of",
        "_ap",
        "_has_embedded",
        "_has_list_type",
        "_items",
        "_not",
        "_one_of",
        "_props",
        "ap_allows",
        "checks_numbers",
        "checks_strings",
        "composed",
        "default",
        "embedded",
        "enum",
        "exclusive_maximum",
        "exclusive_minimum",
        "format",
        "format_crd",
        "int_or_string",
        "list_map_keys",
        "list_type",
        "map_type",
        "max_items",
        "max_length",
        "max_properties",
        "maximum",
        "min_items",
        "min_length",
        "min_properties",
        "minimum",
        "multiple_of",
        "nullable",
        "pattern",
        "preserve",
        "pytype_crd",
        "pytype_plain",
        "raw",
        "required",
        "type",
        "types_crd",
        "types_plain",
        "unique_items",
    )

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        typ = raw.get("type")
        self.type: str = typ if isinstance(typ, str) else ""
        self.nullable = raw.get("nullable") is True
        self.int_or_string = raw.get("x-kubernetes-int-or-string") is True
        self.preserve = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True
        default = raw.get("default", MISSING)
        self.default: Any = MISSING if default is None else default
        self.list_type: str | None = raw.get("x-kubernetes-list-type")
        self.list_map_keys: tuple[str, ...] = tuple(raw.get("x-kubernetes-list-map-keys") or ())
        self.map_type: str | None = raw.get("x-kubernetes-map-type")
        fmt = raw.get("format") or ""
        self.format: str = fmt if isinstance(fmt, str) else ""
        # apiextensions drops formats kube-openapi does not know before building a CRD's validator.
        self.format_crd = self.format if formats.known(self.format) else ""
        plain = (self.type,) if self.type else ()
        self.types_plain: tuple[str, ...] = plain
        self.types_crd: tuple[str, ...] = ("integer", "string") if self.int_or_string else plain
        self.enum: list[Any] | None = raw.get("enum") or None
        self.required: tuple[str, ...] = tuple(raw.get("required") or ())
        self.pattern: str = raw.get("pattern") or ""
        self.minimum: float | None = _num(raw.get("minimum"))
        self.maximum: float | None = _num(raw.get("maximum"))
        self.exclusive_minimum = raw.get("exclusiveMinimum") is True
        self.exclusive_maximum = raw.get("exclusiveMaximum") is True
        self.multiple_of: float | None = _num(raw.get("multipleOf"))
        self.min_length: int | None = _int(raw.get("minLength"))
        self.max_length: int | None = _int(raw.get("maxLength"))
        self.min_items: int | None = _int(raw.get("minItems"))
        self.max_items: int | None = _int(raw.get("maxItems"))
        self.min_properties: int | None = _int(raw.get("minProperties"))
        self.max_properties: int | None = _int(raw.get("maxProperties"))
        self.unique_items = raw.get("uniqueItems") is True
        ap = raw.get("additionalProperties")
        self.ap_allows = ap is not False
        # Shortcuts for the validator: the one Python type that passes the type check without more
        # work (None: ask the full check), and which keyword groups are present at all.
        self.pytype_plain: type | None = None if self.format else _PYTYPES.get(self.types_plain)
        self.pytype_crd: type | None = None if self.format_crd else _PYTYPES.get(self.types_crd)
        self.checks_strings = self.min_length is not None or self.max_length is not None or bool(self.pattern)
        self.checks_numbers = (
            self.minimum is not None or self.maximum is not None or self.multiple_of is not None
        )
        self.composed = any(k in raw for k in ("allOf", "anyOf", "oneOf", "not"))
        self._props: dict[str, Node] | None = None
        self._ap: Any = MISSING
        self._items: Any = MISSING
        self._all_of: list[Node] | None = None
        self._any_of: list[Node] | None = None
        self._one_of: list[Node] | None = None
        self._not: Any = MISSING
        self._has_embedded: bool | None = None
        self._has_list_type: bool | None = None

    def __repr__(self) -> str:
        return f"Node({self.type or 'untyped'})"

    @property
    def props(self) -> dict[str, Node]:
        """`properties` (empty when absent)."""
        if self._props is None:
            raw = self.raw.get("properties")
            self._props = {k: Node(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        return self._props

    @property
    def ap(self) -> Any:
        """`additionalProperties`: a Node, `AP_BOOL`, or None."""
        if self._ap is MISSING:
            raw = self.raw.get("additionalProperties")
            if isinstance(raw, Mapping):
                self._ap = Node(raw)
            elif isinstance(raw, bool):
                self._ap = AP_BOOL
            else:
                self._ap = None
        return self._ap

    @property
    def ap_node(self) -> Node | None:
        """`additionalProperties` when it is a schema."""
        ap = self.ap
        return ap if isinstance(ap, Node) else None

    @property
    def items(self) -> Node | None:
        """`items` when it is a single schema."""
        if self._items is MISSING:
            raw = self.raw.get("items")
            self._items = Node(raw) if isinstance(raw, Mapping) else None
        result: Node | None = self._items
        return result

    def child(self, key: str) -> Node | None:
        """The schema of field `key`: its property, else the `additionalProperties` schema."""
        p = self.props.get(key)
        return p if p is not None else self.ap_node

    def _children(self) -> list[Node]:
        out = list(self.props.values())
        ap = self.ap_node
        if ap is not None:
            out.append(ap)
        if self.items is not None:
            out.append(self.items)
        return out

    @property
    def has_embedded(self) -> bool:
        """Whether this node or a node below it is an `x-kubernetes-embedded-resource`."""
        if self._has_embedded is None:
            self._has_embedded = self.embedded or any(c.has_embedded for c in self._children())
        return self._has_embedded

    @property
    def has_list_type(self) -> bool:
        """Whether this node or a node below it is a `set` or `map` list."""
        if self._has_list_type is None:
            own = self.list_type in ("set", "map")
            self._has_list_type = own or any(c.has_list_type for c in self._children())
        return self._has_list_type

    @property
    def all_of(self) -> list[Node]:
        if self._all_of is None:
            self._all_of = _nodes(self.raw.get("allOf"))
        return self._all_of

    @property
    def any_of(self) -> list[Node]:
        if self._any_of is None:
            self._any_of = _nodes(self.raw.get("anyOf"))
        return self._any_of

    @property
    def one_of(self) -> list[Node]:
        if self._one_of is None:
            self._one_of = _nodes(self.raw.get("oneOf"))
        return self._one_of

    @property
    def not_(self) -> Node | None:
        if self._not is MISSING:
            raw = self.raw.get("not")
            self._not = Node(raw) if isinstance(raw, Mapping) else None
        result: Node | None = self._not
        return result


_PYTYPES: dict[tuple[str, ...], type] = {
    ("string",): str,
    ("boolean",): bool,
    ("object",): dict,
    ("array",): list,
    ("integer",): int,
}


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _int(v: Any) -> int | None:
    return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def _nodes(raw: Any) -> list[Node]:
    return [Node(x) for x in raw if isinstance(x, Mapping)] if isinstance(raw, list) else []


_CACHE: OrderedDict[int, tuple[Mapping[str, Any], Node]] = OrderedDict()
_CACHE_SIZE = 256
_LOCK = threading.Lock()


def node_for(schema: Schema | Mapping[str, Any]) -> Node:
    """The prepared root node of a CRD schema (cached per raw schema object)."""
    raw = schema.raw if isinstance(schema, Schema) else schema
    key = id(raw)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and hit[0] is raw:
            _CACHE.move_to_end(key)
            return hit[1]
    node = Node(raw)
    with _LOCK:
        _CACHE[key] = (raw, node)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return node
