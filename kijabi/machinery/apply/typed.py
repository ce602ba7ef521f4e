"""Objects read through their schema: field sets, comparison, removal and validation.

This is upstream structured-merge-diff's `typed` package over kijabi `Schema` nodes. The schema decides
how each value is identified and whether it is one value or many (kube-openapi `schemaconv`):

- a struct (`object`) or `map` is granular: each key is its own field, unless `x-kubernetes-map-type:
  atomic`; `RawExtension` is atomic;
- a list is `atomic`, a `set` of scalars, or a `map` keyed by `x-kubernetes-list-map-keys`; without a
  list type, patch strategy `merge` makes it keyed by the merge key (a set without one), else atomic;
- a missing schema (`None`) is *deduced*, as for `x-kubernetes-preserve-unknown-fields` and `any`:
  maps are granular, lists atomic.

A key field missing from a list item takes its schema default (`protocol` -> `TCP` for ports).
Values that do not fit their schema are treated as single values here; `validate` reports them for
apply configurations.
"""

from __future__ import annotations

from typing import Any

import orjson

from kijabi.machinery.apply.fieldpath import (
    SELF,
    FieldSet,
    Node,
    element_string,
    is_member,
    key_element,
    make_node,
    ordered_elements,
    path_string,
    value_element,
)
from kijabi.machinery.apply.gojson import go_json, go_string
from kijabi.machinery.schema import Schema

ATOMIC, SET, KEYED = 0, 1, 2

_RAW_EXTENSION = "io.k8s.apimachinery.pkg.runtime.RawExtension"

# Key defaults that upstream's OpenAPI carries (`+default=`) but the bundled definitions drop.
_KEY_DEFAULTS: dict[tuple[str, str], Any] = {
    ("io.k8s.api.core.v1.ContainerPort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.ServicePort", "protocol"): "TCP",
    ("io.k8s.api.core.v1.LocalObjectReference", "name"): "",
}


class ElementError(ValueError):
    """A list item that cannot be identified (no key, a null item, a map in a set...)."""


# --- schema interpretation ------------------------------------------------------------------------


def atomic_map(s: Schema | None) -> bool:
    """True if a map value at `s` is one single value (atomic, or not a map type at all)."""
    if s is None:
        return False
    kind = s.kind
    if kind == "object" or kind == "map":
        return s.map_type == "atomic"
    if kind == "any":
        return s.name == _RAW_EXTENSION
    return True


def child_schema(s: Schema | None, key: str) -> Schema | None:
    """The schema of map key `key` under `s`; None means deduced."""
    if s is None:
        return None
    kind = s.kind
    if kind == "object":
        child = s.properties.get(key)
        if key == "metadata" and _bare(child) and _is_resource(s):
            return object_meta()
        return child if child is not None else s.values
    if kind == "map":
        return s.values
    return None


def _bare(s: Schema | None) -> bool:
    return s is None or (s.kind in ("object", "any") and not s.properties)


def _is_resource(s: Schema) -> bool:
    """A custom resource root or embedded resource: its metadata is ObjectMeta whatever it declares."""
    props = s.properties
    return s.embedded_resource or ("apiVersion" in props and "kind" in props)


_OBJECT_META: list[Schema] = []


def object_meta() -> Schema:
    """The built-in ObjectMeta schema (loaded on first use)."""
    if not _OBJECT_META:
        from kijabi.machinery.schema import builtin

        _OBJECT_META.append(builtin().get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"))
    return _OBJECT_META[0]


def declared(s: Schema | None, key: str) -> bool:
    """True if `key` is a declared struct field of `s` (upstream `FindField`)."""
    return s is not None and s.kind == "object" and key in s.properties


def list_mode(s: Schema | None) -> tuple[int, tuple[str, ...]]:
    """How a list at `s` is merged: (ATOMIC | SET | KEYED, key field names)."""
    if s is None or s.kind != "array":
        return ATOMIC, ()
    lt = s.list_type
    if lt == "map":
        keys = s.list_map_keys
        return (KEYED, keys) if keys else (SET, ())
    if lt == "set":
        return SET, ()
    if lt is None:
        strategy = s.patch_strategy
        if strategy == "merge" or strategy == "merge,retainKeys":
            key = s.patch_merge_key
            return (KEYED, (key,)) if key else (SET, ())
    return ATOMIC, ()


def key_default(item: Schema | None, name: str) -> Any:
    """The default of key field `name` of a list item, or None if it has none."""
    if item is None or item.kind != "object":
        return None
    f = item.properties.get(name)
    if f is not None and f.default is not None:
        return f.default
    return _KEY_DEFAULTS.get((item.name, name))


def item_element(mode: int, keys: tuple[str, ...], item_schema: Schema | None, item: Any) -> str:
    """The path element of one item of an associative list. Raises ElementError."""
    if mode == KEYED:
        if item is None:
            raise ElementError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise ElementError("associative list with keys may not have non-map elements")
        if len(keys) == 1:
            k = keys[0]
            v = item.get(k, _ABSENT)
            if v is _ABSENT:
                v = key_default(item_schema, k)
                if v is None:
                    raise ElementError(
                        f'associative list with keys has an element that omits key field "{k}" '
                        "(and doesn't have default value)"
                    )
            if type(v) is str:
                return "k:{" + go_string(k) + ":" + go_string(v) + "}"
            return key_element({k: v})
        values: dict[str, Any] = {}
        for k in keys:
            v = item.get(k, _ABSENT)
            if v is _ABSENT:
                v = key_default(item_schema, k)
                if v is None:
                    raise ElementError(
                        f'associative list with keys has an element that omits key field "{k}" '
                        "(and doesn't have default value)"
                    )
            values[k] = v
        return key_element(values)
    if isinstance(item, dict):
        raise ElementError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise ElementError("not supported: associative list with lists as elements")
    if item is None:
        raise ElementError("associative list without keys has an element that's an explicit null")
    if type(item) is str:
        return "v:" + go_string(item)
    return value_element(item)


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT: Any = _Absent()


# --- equality -------------------------------------------------------------------------------------


def _strict_equal(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ta is dict:
        if tb is not dict or len(a) != len(b):
            return False
        for k, v in a.items():
            if k not in b or not _strict_equal(v, b[k]):
                return False
        return True
    if ta is list:
        if tb is not list or len(a) != len(b):
            return False
        return all(_strict_equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if tb is dict or tb is list:
        return False
    return bool(a == b)


def equal(a: Any, b: Any) -> bool:
    """Value equality as upstream compares JSON values (ints equal floats; true is not 1)."""
    if a is b:
        return True
    ta = type(a)
    if ta is dict or ta is list:
        if type(b) is not ta or a != b:
            return False
        try:
            if orjson.dumps(a) == orjson.dumps(b):
                return True
        except TypeError:
            pass
        return _strict_equal(a, b)
    tb = type(b)
    if ta is bool or tb is bool:
        return ta is tb and a == b
    if tb is dict or tb is list:
        return False
    return bool(a == b)


# --- ToFieldSet -----------------------------------------------------------------------------------


def _elements(items: list[Any], mode: int, keys: tuple[str, ...], item_s: Schema | None) -> list[str | None]:
    out: list[str | None] = []
    for item in items:
        try:
            out.append(item_element(mode, keys, item_s, item))
        except ElementError:
            out.append(None)
    return out


def _set_of(value: Any, s: Schema | None) -> tuple[bool, Node]:
    """(is this value itself a leaf member, the nodes of its children)."""
    if type(value) is dict:
        if atomic_map(s):
            return True, {}
        out: Node = {}
        for k, v in value.items():
            cs = child_schema(s, k)
            member, children = _set_of(v, cs)
            if not member and (v is None or (type(v) is dict and not v) or not declared(s, k)):
                member = True
            node = make_node(member, children)
            if node is not None:
                out["f:" + k] = node
        return False, out
    if type(value) is list:
        mode, keys = list_mode(s)
        if mode == ATOMIC:
            return True, {}
        item_s = s.items if s is not None else None
        pes = _elements(value, mode, keys, item_s)
        seen: set[str] = set()
        dups: set[str] = set()
        for pe in pes:
            if pe is not None:
                if pe in seen:
                    dups.add(pe)
                seen.add(pe)
        out = {}
        for pe, item in zip(pes, value, strict=True):
            if pe is None:
                continue
            if pe in dups:
                out[pe] = {}
                continue
            _, children = _set_of(item, item_s)
            out[pe] = make_node(True, children) or {}
        return False, out
    return True, {}


def to_set(obj: Any, s: Schema | None) -> FieldSet:
    """Every leaf field and item of `obj` (upstream `TypedValue.ToFieldSet`), nothing stripped."""
    return FieldSet(_set_of(obj, s)[1])


# --- Compare --------------------------------------------------------------------------------------

_Out = tuple[Node, Node, Node]  # removed, modified, added


def _everything(value: Any, s: Schema | None) -> Node:
    """A member node holding `value` and every path below it (what appears or disappears), in
    serialization order."""
    if type(value) is dict:
        if not value or atomic_map(s):
            return {}
        out: Node = {SELF: {}}
        for k in sorted(value):
            v = value[k]
            tv = type(v)
            # Scalars, nulls and empty containers are leaves whatever their schema.
            out["f:" + k] = _everything(v, child_schema(s, k)) if (tv is dict or tv is list) and v else {}
        return out
    if type(value) is list and value:
        mode, keys = list_mode(s)
        if mode == ATOMIC:
            return {}
        item_s = s.items if s is not None else None
        pes = _elements(value, mode, keys, item_s)
        counts: dict[str, int] = {}
        for pe in pes:
            if pe is not None:
                counts[pe] = counts.get(pe, 0) + 1
        if not counts:
            return {}
        children: Node = {}
        for pe, item in zip(pes, value, strict=True):
            if pe is None or pe in children:
                continue
            ti = type(item)
            if counts[pe] == 1 and (ti is dict or ti is list) and item:
                children[pe] = _everything_of_item(item, item_s)
            else:
                children[pe] = {}
        out = {SELF: {}}
        for pe in ordered_elements(children):
            out[pe] = children[pe]
        return out
    return {}


_ITEM_NODES: dict[bytes, tuple[Schema | None, Node]] = {}
_ITEM_NODES_LIMIT = 1024
_ITEM_BYTES_LIMIT = 8192


def _everything_of_item(item: Any, s: Schema | None) -> Node:
    """`_everything` of one list item, remembered by the item's JSON text: the items of a workload's
    pods (containers, env, ports, volumes) repeat from object to object. Nodes are never mutated (see
    `fieldpath`), so a hit is shared, not copied: equal JSON text means an equal field set."""
    try:
        text = orjson.dumps(item)
    except TypeError:
        return _everything(item, s)
    if len(text) > _ITEM_BYTES_LIMIT:
        return _everything(item, s)
    hit = _ITEM_NODES.get(text)
    if hit is not None and hit[0] is s:
        return hit[1]
    node = _everything(item, s)
    if len(_ITEM_NODES) >= _ITEM_NODES_LIMIT:
        _ITEM_NODES.clear()
    _ITEM_NODES[text] = (s, node)
    return node


def _reorder(out: _Out) -> None:
    """Put the nodes `_compare_map` / `_compare_list` filled in serialization order, in place."""
    for node in out:
        if len(node) > 1:
            keys = list(node)
            ordered = ordered_elements(keys)
            if ordered != keys:
                items = [(k, node[k]) for k in ordered]
                node.clear()
                node.update(items)


def _compare_child(element: str, lv: Any, rv: Any, s: Schema | None, out: _Out) -> None:
    """lv and rv are both present and not equal."""
    tl, tr = type(lv), type(rv)
    if tl is dict or tr is dict:
        ld = lv if tl is dict else ({} if lv is None else None)
        rd = rv if tr is dict else ({} if rv is None else None)
        if ld is not None and rd is not None and (ld or rd) and not atomic_map(s):
            sub: _Out = ({}, {}, {})
            _compare_map(ld, rd, s, sub)
            for i in range(3):
                if sub[i]:
                    out[i][element] = sub[i]
            return
    elif tl is list or tr is list:
        ll = lv if tl is list else ([] if lv is None else None)
        rl = rv if tr is list else ([] if rv is None else None)
        if ll is not None and rl is not None and (ll or rl):
            mode, keys = list_mode(s)
            if mode != ATOMIC:
                sub = ({}, {}, {})
                _compare_list(ll, rl, mode, keys, s.items if s is not None else None, sub)
                for i in range(3):
                    if sub[i]:
                        out[i][element] = sub[i]
                return
    out[1][element] = {}


def _compare_map(lhs: dict[str, Any], rhs: dict[str, Any], s: Schema | None, out: _Out) -> None:
    for k, lv in lhs.items():
        rv = rhs.get(k, _ABSENT)
        if rv is _ABSENT:
            out[0]["f:" + k] = _everything(lv, child_schema(s, k))
        elif lv is not rv and not equal(lv, rv):
            _compare_child("f:" + k, lv, rv, child_schema(s, k), out)
    if len(rhs) > len(lhs) or any(k not in lhs for k in rhs):
        added = out[2]
        for k, rv in rhs.items():
            if k not in lhs:
                tv = type(rv)
                added["f:" + k] = _everything(rv, child_schema(s, k)) if (tv is dict or tv is list) and rv else {}
    _reorder(out)


def _group(items: list[Any], pes: list[str | None], order: dict[str, None]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for pe, item in zip(pes, items, strict=True):
        if pe is None:
            continue
        g = groups.get(pe)
        if g is None:
            groups[pe] = [item]
            order[pe] = None
        else:
            g.append(item)
    return groups


def _compare_list(
    lhs: list[Any], rhs: list[Any], mode: int, keys: tuple[str, ...], item_s: Schema | None, out: _Out
) -> None:
    order: dict[str, None] = {}
    lv = _group(lhs, _elements(lhs, mode, keys, item_s), order)
    rv = _group(rhs, _elements(rhs, mode, keys, item_s), order)
    removed, modified, added = out
    for pe in order:
        ll = lv.get(pe, [])
        rl = rv.get(pe, [])
        if len(ll) <= 1 and len(rl) <= 1:
            if ll and rl:
                if not equal(ll[0], rl[0]):
                    _compare_child(pe, ll[0], rl[0], item_s, out)
            elif ll:
                removed[pe] = _everything(ll[0], item_s)
            else:
                added[pe] = _everything_of_item(rl[0], item_s)
        elif len(ll) >= 2 and len(rl) >= 2:
            if len(ll) != len(rl) or not all(equal(a, b) for a, b in zip(ll, rl, strict=True)):
                modified[pe] = {}
        elif len(ll) >= 2:
            if rl:
                added[pe] = _everything(rl[0], item_s)
            removed[pe] = {}
        else:
            if ll:
                removed[pe] = _everything(ll[0], item_s)
            added[pe] = {}
    _reorder(out)


class Comparison:
    """What changed from one object to another (upstream `typed.Comparison`)."""

    __slots__ = ("added", "modified", "removed")

    def __init__(self, removed: FieldSet, modified: FieldSet, added: FieldSet) -> None:
        self.removed = removed
        self.modified = modified
        self.added = added

    def is_same(self) -> bool:
        return self.removed.is_empty() and self.modified.is_empty() and self.added.is_empty()

    def filtered(self, reset: FieldSet | None) -> Comparison:
        """The comparison without paths at or below `reset` (upstream's ignore filter)."""
        if reset is None or reset.is_empty():
            return self
        return Comparison(
            self.removed.recursive_difference(reset),
            self.modified.recursive_difference(reset),
            self.added.recursive_difference(reset),
        )

    def __repr__(self) -> str:
        return f"Comparison(removed={self.removed!r}, modified={self.modified!r}, added={self.added!r})"


def compare(old: dict[str, Any], new: dict[str, Any], s: Schema | None) -> Comparison:
    """The paths `new` removed, modified and added relative to `old` (upstream `TypedValue.Compare`).

    A container that appears or disappears is itself added or removed along with its contents; a
    scalar or atomic value that changes is modified. Equal subtrees are skipped without a walk.
    """
    out: _Out = ({}, {}, {})
    if old is not new and not equal(old, new):
        _compare_map(old, new, s, out)
    return Comparison(
        FieldSet(out[0], _sorted=True), FieldSet(out[1], _sorted=True), FieldSet(out[2], _sorted=True)
    )


def _ordered(out: Node) -> Node:
    if len(out) > 1:
        keys = list(out)
        ordered = ordered_elements(keys)
        if ordered != keys:
            return {k: out[k] for k in ordered}
    return out


def _changed_child(lv: Any, rv: Any, s: Schema | None) -> Node | None:
    """`_compare_child`'s modified and added paths below one element, merged; None for none."""
    tl, tr = type(lv), type(rv)
    if tl is dict or tr is dict:
        ld = lv if tl is dict else ({} if lv is None else None)
        rd = rv if tr is dict else ({} if rv is None else None)
        if ld is not None and rd is not None and (ld or rd) and not atomic_map(s):
            return _changed_map(ld, rd, s) or None
    elif tl is list or tr is list:
        ll = lv if tl is list else ([] if lv is None else None)
        rl = rv if tr is list else ([] if rv is None else None)
        if ll is not None and rl is not None and (ll or rl):
            mode, keys = list_mode(s)
            if mode != ATOMIC:
                return _changed_list(ll, rl, mode, keys, s.items if s is not None else None) or None
    return {}


def _changed_map(lhs: dict[str, Any], rhs: dict[str, Any], s: Schema | None) -> Node:
    out: Node = {}
    for k, rv in rhs.items():
        lv = lhs.get(k, _ABSENT)
        if lv is _ABSENT:
            tv = type(rv)
            out["f:" + k] = _everything(rv, child_schema(s, k)) if (tv is dict or tv is list) and rv else {}
        elif lv is not rv and not equal(lv, rv):
            node = _changed_child(lv, rv, child_schema(s, k))
            if node is not None:
                out["f:" + k] = node
    return _ordered(out)


def _changed_list(
    lhs: list[Any], rhs: list[Any], mode: int, keys: tuple[str, ...], item_s: Schema | None
) -> Node:
    order: dict[str, None] = {}
    lv = _group(lhs, _elements(lhs, mode, keys, item_s), order)
    rv = _group(rhs, _elements(rhs, mode, keys, item_s), order)
    out: Node = {}
    for pe in order:
        ll = lv.get(pe, [])
        rl = rv.get(pe, [])
        if len(ll) <= 1 and len(rl) <= 1:
            if ll and rl:
                if not equal(ll[0], rl[0]):
                    node = _changed_child(ll[0], rl[0], item_s)
                    if node is not None:
                        out[pe] = node
            elif rl:
                out[pe] = _everything_of_item(rl[0], item_s)
        elif len(ll) >= 2 and len(rl) >= 2:
            if len(ll) != len(rl) or not all(equal(a, b) for a, b in zip(ll, rl, strict=True)):
                out[pe] = {}
        elif len(ll) >= 2:
            if rl:
                out[pe] = _everything(rl[0], item_s)
        else:
            out[pe] = {}
    return _ordered(out)


def changed(old: dict[str, Any], new: dict[str, Any], s: Schema | None) -> FieldSet:
    """`compare(old, new, s)`'s modified and added paths as one set, in one walk: what a writer of
    `new` takes ownership of."""
    if old is new or equal(old, new):
        return FieldSet()
    return FieldSet(_changed_map(old, new, s), _sorted=True)


# --- Merge ----------------------------------------------------------------------------------------


def _merge(lhs: Any, rhs: Any, s: Schema | None) -> Any:
    """Merge config value `rhs` over live value `lhs` (upstream mergingWalker with keep-RHS)."""
    if rhs is _ABSENT:
        return lhs
    if lhs is _ABSENT:
        return rhs
    tl, tr = type(lhs), type(rhs)
    if tr is dict or (rhs is None and tl is dict):
        if tl is dict and not atomic_map(s):
            rd: dict[str, Any] = rhs if tr is dict else {}
            if lhs or rd:
                out: dict[str, Any] = {}
                for k, lv in lhs.items():
                    rv = rd.get(k, _ABSENT)
                    out[k] = lv if rv is _ABSENT else _merge(lv, rv, child_schema(s, k))
                for k, rv in rd.items():
                    if k not in lhs:
                        out[k] = rv
                return out
        return rhs
    if tr is list or (rhs is None and tl is list):
        if tl is list:
            rl: list[Any] = rhs if tr is list else []
            if lhs or rl:
                mode, keys = list_mode(s)
                if mode != ATOMIC:
                    return _merge_list(lhs, rl, mode, keys, s.items if s is not None else None)
        return rhs
    return rhs


def _merge_list(
    lhs: list[Any], rhs: list[Any], mode: int, keys: tuple[str, ...], item_s: Schema | None
) -> list[Any]:
    """Keyed merge of two lists, ordered as upstream's visitListItems orders them."""
    rhs_pes = [item_element(mode, keys, item_s, item) for item in rhs]
    observed_rhs = dict(zip(rhs_pes, rhs, strict=True))
    lhs_pes: list[str] = []
    observed_lhs: dict[str, Any] = {}
    for i, item in enumerate(lhs):
        try:
            pe = item_element(mode, keys, item_s, item)
        except ElementError:
            pe = f"\x00{i}"  # never matches: the item is kept where it is
        observed_lhs[pe] = _ABSENT if pe in observed_lhs else item
        lhs_pes.append(pe)
    shared = [pe for pe in rhs_pes if pe in observed_lhs]
    si = 0
    next_shared: str | None = shared[0] if shared else None
    merged_rhs: set[str] = set()
    out: list[Any] = []
    li = ri = 0
    nl, nr = len(lhs_pes), len(rhs_pes)
    while li < nl or ri < nr:
        if li < nl and ri < nr:
            pe = lhs_pes[li]
            if pe == rhs_pes[ri]:
                merged_rhs.add(pe)
                out.append(_merge(observed_lhs[pe], observed_rhs[pe], item_s))
                li += 1
                ri += 1
                si += 1
                next_shared = shared[si] if si < len(shared) else None
                continue
            if pe in observed_rhs and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < nl:
            pe = lhs_pes[li]
            if pe not in observed_rhs:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_rhs:
                li += 1
        if ri < nr:
            pe = rhs_pes[ri]
            merged_rhs.add(pe)
            out.append(_merge(observed_lhs.get(pe, _ABSENT), observed_rhs[pe], item_s))
            ri += 1
            if next_shared is not None and next_shared == pe:
                si += 1
                next_shared = shared[si] if si < len(shared) else None
    return out


def merge(live: dict[str, Any], config: dict[str, Any], s: Schema | None) -> dict[str, Any]:
    """`config` merged over `live` (upstream `TypedValue.Merge`): config scalars and atomic values win,
    granular maps merge key by key, associative lists item by item (new items at the end).

    The result shares unchanged subtrees with both inputs; neither input is modified.
    `config` must have passed `validate` (duplicate or unidentifiable config items raise ElementError).
    """
    result = _merge(live, config, s)
    return result if type(result) is dict else {}


# --- RemoveItems ----------------------------------------------------------------------------------


def _remove(value: Any, node: Node, s: Schema | None) -> Any:
    """`value` without the members of `node` (children of value's path). None when emptied."""
    if type(value) is dict:
        if not value or atomic_map(s):
            return None
        out: dict[str, Any] = {}
        for k, v in value.items():
            child = node.get("f:" + k)
            if child is None:
                out[k] = v
            elif is_member(child):
                continue
            else:
                out[k] = _remove(v, child, child_schema(s, k))
        return out or None
    if type(value) is list:
        if not value:
            return None
        mode, keys = list_mode(s)
        if mode == ATOMIC:
            return None
        item_s = s.items if s is not None else None
        items: list[Any] = []
        for item in value:
            try:
                pe = item_element(mode, keys, item_s, item)
            except ElementError:
                items.append(item)
                continue
            child = node.get(pe)
            if child is None:
                items.append(item)
            elif is_member(child):
                continue
            else:
                items.append(_remove(item, child, item_s))
        return items or None
    return value


def remove_items(obj: dict[str, Any], items: FieldSet, s: Schema | None) -> dict[str, Any]:
    """`obj` without the fields, list items and map keys that are members of `items`.

    A map or list emptied this way becomes null (upstream `TypedValue.RemoveItems`).
    """
    if items.is_empty():
        return obj
    result = _remove(obj, items.root, s)
    return result if type(result) is dict else {}


# --- EnsureNamedFieldsAreMembers ------------------------------------------------------------------


def _ensure(node: Node, s: Schema | None) -> Node:
    out: Node = {}
    for e, child in node.items():
        if e == SELF:
            out[SELF] = {}
            continue
        named = False
        cs: Schema | None = None
        kind = e[0]
        if kind == "f":
            name = e[2:]
            named = declared(s, name)
            cs = child_schema(s, name)
        elif kind == "k" and s is not None and s.kind == "array":
            cs = s.items
        if child:
            sub = _ensure(child, cs)
            if named and SELF not in sub:
                sub[SELF] = {}
            out[e] = sub
        else:
            out[e] = {}
    return out


def ensure_named_fields_are_members(fs: FieldSet, s: Schema | None) -> FieldSet:
    """`fs` plus every declared struct field on the way to its members (upstream helper for pruning)."""
    if fs.is_empty():
        return fs
    return FieldSet(_ensure(fs.root, s))


# --- validation of apply configurations -------------------------------------------------------------


def _describe(v: Any) -> str:
    try:
        return go_json(v)
    except (TypeError, ValueError):
        return repr(v)


def _error(errors: list[str], path: tuple[str, ...], message: str) -> None:
    prefix = path_string(path)
    errors.append(f"{prefix}: {message}" if prefix else message)


def _validate(
    value: Any, s: Schema | None, path: tuple[str, ...], errors: list[str], preserve: bool, top: bool
) -> None:
    """Check `value` against `s`; `path` (elements) is only rendered when there is an error."""
    if value is None or s is None:
        return
    if s.preserve_unknown_fields:
        preserve = True
    kind = s.kind
    if kind == "any":
        return
    if kind == "object" or kind == "map":
        if type(value) is not dict:
            _error(errors, path, f"expected map, got {_describe(value)}")
            return
        props = s.properties if kind == "object" else {}
        open_ended = kind == "map" or s.values is not None or preserve or not props
        for k, v in value.items():
            child = props.get(k)
            if k == "metadata" and _bare(child) and (top or _is_resource(s)):
                _validate(v, object_meta(), (*path, "f:" + k), errors, False, False)
                continue
            if child is None:
                if top and k in ("apiVersion", "kind"):
                    continue
                if s.embedded_resource and k in ("apiVersion", "kind", "metadata"):
                    continue
                if not open_ended:
                    _error(errors, (*path, "f:" + k), "field not declared in schema")
                    return
                child = s.values if kind == "map" or s.values is not None else None
            if child is not None and v is not None:
                _validate(v, child, (*path, "f:" + k), errors, preserve, False)
        return
    if kind == "array":
        if type(value) is not list:
            _error(errors, path, f"expected list, got {_describe(value)}")
            return
        mode, keys = list_mode(s)
        item_s = s.items
        if item_s is None:
            return
        seen: set[str] = set()
        for i, item in enumerate(value):
            if mode == ATOMIC:
                element = f"i:{i}"
            else:
                try:
                    element = item_element(mode, keys, item_s, item)
                except ElementError as exc:
                    _error(errors, path, f"element {i}: {exc}")
                    return
                if element in seen:
                    _error(errors, path, f"duplicate entries for key {element_string(element)}")
                seen.add(element)
            _validate(item, item_s, (*path, element), errors, preserve, False)
        return
    if kind == "string":
        if s.format:
            if type(value) in (dict, list):
                _error(errors, path, f"expected any scalar, got {_describe(value)}")
        elif type(value) is not str:
            _error(errors, path, f"expected string, got {_describe(value)}")
        return
    if kind == "integer" or kind == "number":
        if type(value) not in (int, float):
            _error(errors, path, f"expected numeric (int or float), got {_go_type(value)}")
        return
    if kind == "boolean":
        if type(value) is not bool:
            _error(errors, path, f"expected boolean, got {_describe(value)}")
        return
    # int-or-string, quantity: any scalar
    if type(value) in (dict, list):
        _error(errors, path, f"expected any scalar, got {_describe(value)}")


def _go_type(v: Any) -> str:
    return {str: "string", bool: "bool", dict: "map[string]interface {}", list: "[]interface {}"}.get(
        type(v), "int64"
    )


def validate(config: dict[str, Any], s: Schema | None) -> list[str]:
    """Errors that make `config` unusable as an apply configuration, in upstream's wording:
    `.spec.foo: field not declared in schema`, `duplicate entries for key [name="a"]`, missing keys.

    `apiVersion`, `kind` and `metadata` are always known at the top (CRD schemas may omit them).
    """
    errors: list[str] = []
    if s is None:
        return errors
    _validate(config, s, (), errors, False, True)
    return errors
