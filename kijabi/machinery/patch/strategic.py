"""Strategic merge patch (`application/strategic-merge-patch+json`), as the apiserver applies it.

The specification is apimachinery's `strategicpatch` package in the mode the apiserver uses
(`MergeParallelList` and `IgnoreUnmatchedNulls` on). In short:

* Objects merge member by member; `null` removes a member; values added where nothing was have their
  nulls dropped and their directives removed. A value of another JSON type replaces the old one.
* Lists are replaced, unless the field's patch strategy (from the schema) is `merge`: then lists of
  scalars become the union (no duplicates), and lists of objects merge item by item on the field's
  merge key (`patch_merge_key`). Items the patch does not name are kept.
* Directives: `$patch: replace|delete` in an object; `{"$patch": "replace"}` and
  `{"<key>": v, "$patch": "delete"}` as items of a merged list; `$retainKeys`;
  `$deleteFromPrimitiveList/<field>`; `$setElementOrder/<field>`.
* Order of merged lists: `$setElementOrder` first, then the patch's order, then the live order; new items
  go before live-only items that come later in the live list.

Where the schema says nothing about a member (`any`, unknown members, values of maps), upstream's Go
struct lookup fails and the request errors; kijabi instead merges such values with the same rules and
no strategies (objects merge, lists are replaced, directives still apply) - which is JSON merge patch
plus directives.

Errors (all `StatusError`):
    400 BadRequest  the patch is not an object; malformed `$retainKeys`, `$deleteFromPrimitiveList/...`
                    or `$setElementOrder/...` (and a patch member that `$retainKeys` does not name)
    422 Invalid     lists of lists (upstream's generic 422 message; the explanation is the cause)
    422 Invalid     everything upstream answers with a bare 500 and the library's text (missing merge key,
                    unknown `$patch` value, `$setElementOrder` order mismatch, mixed list element types):
                    same text, code 422
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kijabi.machinery import errors
from kijabi.machinery.gotext import go_s, go_type, go_v
from kijabi.machinery.patch._common import (
    JSONObject,
    clone,
    failure,
    hash_key,
    json_equal,
    json_kind,
    unprocessable,
)
from kijabi.machinery.schema import Schema

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
SET_ELEMENT_ORDER = "$setElementOrder"

_REPLACE = "replace"
_DELETE = "delete"
_MERGE = "merge"

_MAP = "map[string]interface {}"
_SLICE = "[]interface {}"


def strategic_merge_patch(doc: JSONObject, patch: Any, schema: Schema | None) -> JSONObject:
    """Apply the strategic merge patch `patch` (the decoded body) to `doc` of type `schema`.

    Returns a new object; neither argument is modified. `schema` is the node of the whole object
    (`schema.builtin().for_kind(...)`); None means no type information at all. A `null` patch changes
    nothing; a patch that is not an object is a 400.
    """
    if patch is None:  # upstream decodes a JSON `null` body to an empty patch
        return clone(doc)  # type: ignore[no-any-return]
    if not isinstance(patch, dict):
        raise errors.bad_request(
            f"json: cannot unmarshal {json_kind(patch)} into Go value of type map[string]interface {{}}"
        )
    return _merge_map(clone(doc), clone(patch), schema)


# --- schema lookups -----------------------------------------------------------------------------------


def _member(node: Schema | None, key: str) -> Schema | None:
    """The schema of member `key` of an object (or of any value of a map); None when unknown."""
    if node is None or node.kind not in ("object", "map"):
        return None
    return node.field(key)


def _items(node: Schema | None) -> Schema | None:
    """The schema of the items of a list field. Like upstream, a non-array node is its own item type."""
    if node is None:
        return None
    if node.kind == "array":
        return node.items
    return node if node.kind == "object" else None


def _meta(node: Schema | None) -> tuple[str, str]:
    """The (strategy, merge key) of a field; the strategy is '', 'merge' or 'replace'."""
    if node is None:
        return "", ""
    strategies = node.strategies
    others = strategies - {"retainKeys"}
    if len(others) > 1:
        listed = (node.patch_strategy or "").split(",")
        raise failure(f"unexpected patch strategy: [{' '.join(listed)}]")
    return next(iter(others), ""), node.patch_merge_key or ""


def _type_name(node: Schema | None) -> str:
    """How upstream names an item type in `cannot merge lists without merge key for <name>`."""
    if node is None or node.kind == "any":
        return "interface"
    return {"object": "struct", "map": "map", "array": "slice"}.get(node.kind, node.kind)


# --- error texts ---------------------------------------------------------------------------------------


def _no_merge_key(item: JSONObject, key: str) -> errors.StatusError:
    return failure(f"map: {go_v(item)} does not contain declared merge key: {key}")


def _bad_arg_type(expected: str, actual: Any) -> errors.StatusError:
    return failure(f"expected a {expected}, but received a {go_type(actual)}")


def _bad_patch_type(directive: Any, item: JSONObject) -> errors.StatusError:
    return failure(f"unknown patch type: {go_s(directive)} in map: {go_v(item)}")


def _extract_key(key: str, prefix: str) -> str:
    """The field named by a parallel-list directive key (`$setElementOrder/containers` -> `containers`)."""
    head, sep, rest = key.partition("/")
    if not sep or head != prefix:
        if prefix == DELETE_FROM_PRIMITIVE_LIST:
            raise errors.bad_request("invalid patch format of primitive list")
        raise errors.bad_request("invalid patch format of setElementOrder list")
    return rest


# --- maps ------------------------------------------------------------------------------------------------


def _merge_map(original: JSONObject | None, patch: JSONObject, node: Schema | None) -> JSONObject:
    """Merge `patch` into `original`; both are owned (may be changed and returned)."""
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == _REPLACE:
            del patch[DIRECTIVE]
            return patch
        if directive == _DELETE:
            return {}
        raise _bad_patch_type(directive, patch)
    if original is None:
        original = {}
    _apply_retain_keys(original, patch)
    _merge_ordered_lists(original, patch, node)
    deletions: list[tuple[str, Any]] = []
    for key, value in patch.items():
        if key.startswith(DELETE_FROM_PRIMITIVE_LIST):
            deletions.append((key, value))
        else:
            _merge_member(original, key, value, node, delete_list=False)
    # Upstream walks a Go map (random order); deleting after merging gives the same result whenever the
    # order could not matter, and a deterministic one when it could.
    for key, value in deletions:
        _merge_member(original, _extract_key(key, DELETE_FROM_PRIMITIVE_LIST), value, node, delete_list=True)
    return original


def _merge_member(
    original: JSONObject, key: str, value: Any, node: Schema | None, *, delete_list: bool
) -> None:
    if value is None:
        original.pop(key, None)
        return
    if key not in original:
        if not delete_list:
            _set_added(original, key, value)
        return
    current = original[key]
    if _kind(current) != _kind(value):
        if not delete_list:
            _set_added(original, key, value)
        return
    if isinstance(current, dict):
        member = _member(node, key)
        strategy, _ = _meta(member)
        original[key] = value if strategy == _REPLACE else _merge_map(current, value, member)
    elif isinstance(current, list):
        member = _member(node, key)
        strategy, merge_key = _meta(member)
        original[key] = _merge_list_field(current, value, _items(member), strategy, merge_key, delete_list)[0]
    else:
        original[key] = value


def _set_added(original: JSONObject, key: str, value: Any) -> None:
    """Put a value where there was none (or one of another type): nulls dropped, directives removed."""
    _discard_nulls(value)
    keep, cleaned = _remove_directives(value)
    if keep:
        original[key] = cleaned
    else:
        original.pop(key, None)


def _discard_nulls(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if v is None]:
            del value[key]
        for v in value.values():
            _discard_nulls(v)
    elif isinstance(value, list):
        for v in value:
            _discard_nulls(v)


def _remove_directives(value: Any) -> tuple[bool, Any]:
    """Strip `$patch` objects from a value being added; (False, None) when the value itself is one."""
    if isinstance(value, dict):
        if DIRECTIVE in value:
            return False, None
        for key in list(value):
            keep, cleaned = _remove_directives(value[key])
            if keep:
                value[key] = cleaned
            else:
                del value[key]
        return True, value
    if isinstance(value, list):
        kept = []
        for v in value:
            keep, cleaned = _remove_directives(v)
            if keep:
                kept.append(cleaned)
        return True, kept
    return True, value


def _apply_retain_keys(original: JSONObject, patch: JSONObject) -> None:
    if RETAIN_KEYS not in patch:
        return
    listed = patch.pop(RETAIN_KEYS)
    if not isinstance(listed, list):
        raise errors.bad_request("invalid patch format of retainKeys")
    retained = {k for k in listed if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith(DELETE_FROM_PRIMITIVE_LIST) or key.startswith(SET_ELEMENT_ORDER):
            continue
        if key not in retained:
            raise errors.bad_request("invalid patch format of retainKeys")
    for key in [k for k in original if k not in retained]:
        del original[key]


# --- lists ------------------------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    """The Go dynamic type of a decoded JSON value, for type comparisons."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "map"
    if isinstance(value, list):
        return "slice"
    return type(value).__name__


class _NoElements(Exception):
    """Both lists are empty, so they have no element type."""


def _element_kind(*lists: list[Any]) -> str:
    found = ""
    for values in lists:
        for value in values:
            kind = _kind(value)
            if not found:
                found = kind
                if kind == "slice":
                    raise unprocessable("lists of lists are not supported")
            elif kind != found:
                raise failure(f"list element types are not identical: {go_v(list(lists))}")
    if not found:
        raise _NoElements
    return found


def _merge_list_field(
    original: list[Any],
    patch: list[Any],
    items: Schema | None,
    strategy: str,
    merge_key: str,
    delete_list: bool,
) -> tuple[list[Any], list[Any]]:
    """The merged list, and the live list as upstream sees it afterwards (see `_LiveSlots`)."""
    if strategy == _MERGE or delete_list:
        return _merge_list(original, patch, items, merge_key, delete_list)
    return patch, original


def _merge_list(
    original: list[Any], patch: list[Any], items: Schema | None, merge_key: str, delete_list: bool
) -> tuple[list[Any], list[Any]]:
    if not original and not patch:
        return original, original
    kind = _element_kind(original, patch)
    live = original
    if kind != "map":
        if delete_list:
            gone = {hash_key(v) for v in patch}
            return [v for v in original if hash_key(v) not in gone], live
        merged = _unique(original + patch)
    else:
        if not merge_key:
            raise failure(f"cannot merge lists without merge key for {_type_name(items)}")
        slots = _LiveSlots(original)
        original, patch = _apply_list_directives(slots, patch, merge_key)
        merged = _merge_keyed_items(original, patch, merge_key, items)
        if original is slots.kept():
            slots.fill(merged[len(original) :])
        live = slots.array
    if merge_key:
        named, server_only = _partition_maps(merged, patch, merge_key)
    else:
        named, server_only = _partition_scalars(merged, patch)
    return _normalize_order(named, server_only, patch, original, merge_key, kind), live


class _LiveSlots:
    """The live list's storage as upstream's Go code leaves it after merging a keyed list.

    Upstream deletes items by shifting the rest of the live slice left inside the same array (the last
    slots keep stale copies), and appends new items into those freed slots. The caller that applies
    `$setElementOrder` then reads the live order from that array, so with deletions *and* additions in one
    patch the new items count as "live" at the freed positions. kijabi reproduces that, since it decides
    where live-only items end up (upstream's tests pin the resulting order).
    """

    def __init__(self, live: list[Any]) -> None:
        self.array = list(live)
        self.length = len(live)
        self._kept: list[Any] | None = None

    def delete(self, merge_key: str, value: Any) -> None:
        """Remove every item whose merge key equals `value`."""
        i = 0
        while i < self.length:
            item = self.array[i]
            if merge_key in item and json_equal(item[merge_key], value):
                self.array[i : self.length - 1] = self.array[i + 1 : self.length]
                self.length -= 1
                self._kept = None
            else:
                i += 1

    def kept(self) -> list[Any]:
        """The live items that are left (the same list object until the next deletion)."""
        if self._kept is None:
            self._kept = self.array[: self.length]
        return self._kept

    def fill(self, appended: list[Any]) -> None:
        """Record items appended after the kept ones: they land in the freed slots while there are any."""
        for offset, item in enumerate(appended[: len(self.array) - self.length]):
            self.array[self.length + offset] = item


def _unique(values: list[Any]) -> list[Any]:
    seen: set[Any] = set()
    out = []
    for v in values:
        key = hash_key(v)
        if key not in seen:
            seen.add(key)
            out.append(v)
    return out


def _apply_list_directives(
    slots: _LiveSlots, patch: list[Any], merge_key: str
) -> tuple[list[Any], list[Any]]:
    """Handle the `$patch` items of a merged list of objects: returns (live items, patch items) left."""
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == _DELETE:
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            slots.delete(merge_key, item[merge_key])
        elif directive == _REPLACE:
            replace = True
        elif directive == _MERGE:
            raise failure("merging lists cannot yet be specified in the patch")
        else:
            raise _bad_patch_type(directive, item)
    if replace:
        return plain, []
    return slots.kept(), plain


def _merge_keyed_items(
    original: list[Any], patch: list[Any], merge_key: str, items: Schema | None
) -> list[Any]:
    merged = list(original)
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        wanted = item[merge_key]
        for i, live in enumerate(merged):
            if merge_key in live and json_equal(live[merge_key], wanted):
                merged[i] = _merge_map(live, item, items)
                break
        else:
            merged.append(item)
    return merged


def _partition_scalars(merged: list[Any], by: list[Any]) -> tuple[list[Any], list[Any]]:
    named = {hash_key(v) for v in by}
    inside = [v for v in merged if hash_key(v) in named]
    outside = [v for v in merged if hash_key(v) not in named]
    return inside, outside


def _partition_maps(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    for i, v in enumerate(by):
        if not isinstance(v, dict):
            raise failure(f"value for key {i} is not a map")
    named = {hash_key(v[merge_key]) for v in by if merge_key in v}
    inside: list[Any] = []
    outside: list[Any] = []
    for v in merged:
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
        (inside if hash_key(v[merge_key]) in named else outside).append(v)
    return inside, outside


def _identity(merge_key: str, kind: str) -> Callable[[Any], Any]:
    """How items are identified when ordering: by merge key value for objects, by value otherwise.

    For objects, callers have checked (`_require_keys`) that every item carries the merge key.
    """
    if kind == "map":
        return lambda v: hash_key(v[merge_key])
    return hash_key


def _positions(order: list[Any], ident: Callable[[Any], Any]) -> dict[Any, int]:
    pos: dict[Any, int] = {}
    for i, v in enumerate(order):
        pos.setdefault(ident(v), i)
    return pos


def _normalize_order(
    named: list[Any],
    server_only: list[Any],
    patch_order: list[Any],
    server_order: list[Any],
    merge_key: str,
    kind: str,
) -> list[Any]:
    """Sort the patch's items by `patch_order` and the others by `server_order`, then interleave them."""
    ident = _identity(merge_key, kind)
    if kind == "map":
        _require_keys(merge_key, named, patch_order)
        _require_keys(merge_key, server_only, server_order)
    live = _positions(server_order, ident)
    named = _sort_by(named, _positions(patch_order, ident), len(patch_order), kind, ident)
    server_only = _sort_by(server_only, live, len(server_order), kind, ident)
    out: list[Any] = []
    i = j = 0
    while i < len(server_only) and j < len(named):
        left = live.get(ident(server_only[i]))
        right = live.get(ident(named[j]))
        if left is not None and right is not None and left < right:
            out.append(server_only[i])
            i += 1
        else:
            out.append(named[j])
            j += 1
    out.extend(server_only[i:])
    out.extend(named[j:])
    return out


def _require_keys(merge_key: str, *lists: list[Any]) -> None:
    for values in lists:
        for v in values:
            if not isinstance(v, dict):
                raise _bad_arg_type(_MAP, v)
            if merge_key not in v:
                raise _no_merge_key(v, merge_key)


def _sort_by(
    values: list[Any], pos: dict[Any, int], unplaced: int, kind: str, ident: Callable[[Any], Any]
) -> list[Any]:
    """Stable sort by position in the order list; items marked for deletion go last."""
    deleted: list[Any] = []
    if kind == "map":
        deleted = [v for v in values if v.get(DIRECTIVE) == _DELETE]
        if deleted:
            values = [v for v in values if v.get(DIRECTIVE) != _DELETE]
    return sorted(values, key=lambda v: pos.get(ident(v), unplaced)) + deleted


# --- $setElementOrder -------------------------------------------------------------------------------------


def _merge_ordered_lists(original: JSONObject, patch: JSONObject, node: Schema | None) -> None:
    """Merge every list that has a `$setElementOrder/<field>` directive, and put it in that order."""
    for directive_key in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive_key)
        if not isinstance(order, list):
            raise _bad_arg_type(_SLICE, order)
        field = _extract_key(directive_key, SET_ELEMENT_ORDER)
        in_original, in_patch = field in original, field in patch
        live: list[Any] = []
        sent: list[Any] = []
        if in_original:
            if not isinstance(original[field], list):
                raise _bad_arg_type(_SLICE, original[field])
            live = original[field]
        if in_patch:
            if not isinstance(patch[field], list):
                raise _bad_arg_type(_SLICE, patch[field])
            sent = patch[field]
        member = _member(node, field)
        strategy, merge_key = _meta(member)
        _check_order(sent, order, merge_key)
        if in_original and in_patch:
            merged, live = _merge_list_field(live, sent, _items(member), strategy, merge_key, False)
        elif in_original:
            merged = live
        elif in_patch:
            merged = _remove_directives(sent)[1]
        else:
            continue
        patch.pop(field, None)
        try:
            kind = _element_kind(live, sent)
        except _NoElements:
            original[field] = merged  # nothing to order (upstream errors out on this empty case)
            continue
        if merge_key:
            named, server_only = _partition_maps(merged, order, merge_key)
        else:
            named, server_only = _partition_scalars(merged, order)
        original[field] = _normalize_order(named, server_only, order, live, merge_key, kind)


def _check_order(sent: list[Any], order: list[Any], merge_key: str) -> None:
    """The patch list's items must appear in `$setElementOrder` in the same relative order."""
    if not order or not sent:
        return
    items = sent
    if merge_key:
        for v in sent:
            if not isinstance(v, dict):
                raise _bad_arg_type(_MAP, v)
        items = [v for v in sent if v.get(DIRECTIVE) != _DELETE]
    i = j = 0
    while i < len(items) and j < len(order):
        if isinstance(items[i], dict) and DIRECTIVE in items[i]:
            i += 1
            continue
        if _same_item(items[i], order[j], merge_key):
            i += 1
        j += 1
    if i < len(items) and j >= len(order):
        raise failure(
            f"The order in patch list:\n{go_v(sent)}\n doesn't match {SET_ELEMENT_ORDER} list:\n{go_v(order)}\n"
        )


def _same_item(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return json_equal(left, right)
    for v in (left, right):
        if not isinstance(v, dict):
            raise _bad_arg_type(_MAP, v)
        if merge_key not in v:
            raise _no_merge_key(v, merge_key)
    return json_equal(left[merge_key], right[merge_key])
