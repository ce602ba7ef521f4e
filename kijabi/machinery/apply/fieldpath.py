"""Field sets: which fields of an object a manager owns, and their `FieldsV1` wire form.

A field set is a trie of path elements (upstream structured-merge-diff `fieldpath.Set`). Each element is
kept as its canonical `FieldsV1` key, so a trie node is literally the JSON object the API shows:

    "f:<name>"      a struct field or map key
    'k:{"a":1}'     a keyed list item; key fields sorted by name, values in Go's compact JSON
    'v:"x"'         a set item (a scalar list value) in Go's compact JSON
    "i:<n>"         a list index (decoded, never produced)

A node is a dict from element to child node. A child node is a *member* of the set when it is `{}` (a
leaf) or holds the key `"."` (owned itself and through its children). The root is never a member: no
one owns "the whole object". Nodes are never mutated once they belong to a `FieldSet`, so sets share
subtrees freely; every operation builds new dicts only along the paths it changes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson

from kijabi.machinery.apply.gojson import go_json, go_value_string

Node = dict[str, Any]
"""A trie node: element -> child node; `"."` marks a child that is itself a member."""

Path = tuple[str, ...]
"""A path from the root: a tuple of canonical elements such as ("f:spec", "f:replicas")."""

SELF = "."


class FieldsV1Error(ValueError):
    """A `fieldsV1` value that cannot be decoded (upstream: `error decoding set: ...`)."""


# --- elements -----------------------------------------------------------------------------------


def field(name: str) -> str:
    """The element of struct field or map key `name`."""
    return "f:" + name


def key_element(keys: dict[str, Any]) -> str:
    """The element of a keyed list item whose key fields are `keys`."""
    return "k:" + go_json(keys)


def value_element(value: Any) -> str:
    """The element of the set item `value`."""
    return "v:" + go_json(value)


def index_element(i: int) -> str:
    return f"i:{i}"


_CANON: dict[str, str | None] = {}
_SORT: dict[str, tuple[Any, ...]] = {}
_CACHE_LIMIT = 10_000


def _remember(cache: dict[Any, Any], key: Any, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
    cache[key] = value


def canonical_element(text: str) -> str | None:
    """The canonical form of a serialized element; None for element types this version ignores.

    Raises FieldsV1Error for text that is not an element (upstream's DeserializePathElement errors).
    """
    kind = text[:2]
    if kind == "f:":
        return text
    hit = _CANON.get(text, _CANON)
    if hit is not _CANON:
        return hit  # type: ignore[return-value]
    if len(text) < 2:
        raise FieldsV1Error("key must be 2 characters long:")
    if text[1] != ":":
        raise FieldsV1Error(f"missing colon: {text}")
    result: str | None
    if kind == "k:":
        try:
            keys = json.loads(text[2:])
        except ValueError as exc:
            raise FieldsV1Error(f"parsing key as path element: {exc}") from None
        if not isinstance(keys, dict):
            raise FieldsV1Error(f"parsing key as path element: expected an object in {text}")
        result = key_element(keys)
    elif kind == "v:":
        try:
            value = json.loads(text[2:])
        except ValueError as exc:
            raise FieldsV1Error(f"parsing key as path element: {exc}") from None
        result = value_element(value)
    elif kind == "i:":
        try:
            result = index_element(int(text[2:]))
        except ValueError:
            raise FieldsV1Error(
                f'parsing key as path element: strconv.Atoi: parsing "{text[2:]}": invalid syntax'
            ) from None
    else:
        result = None
    _remember(_CANON, text, result)
    return result


def _value_order(v: Any) -> tuple[Any, ...]:
    """SMD's total order on values: numbers < strings < booleans < lists < maps < null."""
    if v is None:
        return (5,)
    if v is True or v is False:
        return (2, v)
    if isinstance(v, int | float):
        return (0, v)
    if isinstance(v, str):
        return (1, v)
    if isinstance(v, list):
        return (3, tuple(_value_order(x) for x in v))
    if isinstance(v, dict):
        return (4, tuple((k, _value_order(v[k])) for k in sorted(v)))
    return (6,)


def _element_order(e: str) -> tuple[Any, ...]:
    kind = e[0]
    if kind == "f":
        return (0, e[2:])
    hit = _SORT.get(e)
    if hit is not None:
        return hit
    if kind == "k":
        keys = json.loads(e[2:])
        order: tuple[Any, ...] = (1, tuple((k, _value_order(keys[k])) for k in sorted(keys)))
    elif kind == "v":
        order = (2, _value_order(json.loads(e[2:])))
    else:
        order = (3, int(e[2:]))
    _remember(_SORT, e, order)
    return order


def sorted_elements(elements: Iterable[str]) -> list[str]:
    """Elements in upstream's order: fields by name, then keys, then values, then indexes."""
    return sorted(elements, key=_element_order)


def ordered_elements(elements: Iterable[str]) -> list[str]:
    """`sorted_elements`, fast for the common case of field elements only (their text order is
    upstream's order); ties in the value order keep their text order."""
    keys = sorted(elements)
    if len(keys) > 1 and keys[-1][0] != "f":  # some k:, v: or i: elements: they need their value order
        keys = sorted_elements(keys)
    return keys


def ordered_node(node: Node) -> Node:
    """`node` with its children in serialization order ("." first); `node` itself when it already is."""
    keys = [k for k in node if k != SELF]
    ordered = ordered_elements(keys)
    if ordered == keys and (SELF not in node or next(iter(node)) == SELF):
        return node
    out: Node = {SELF: {}} if SELF in node else {}
    for k in ordered:
        out[k] = node[k]
    return out


def element_string(e: str) -> str:
    """An element as upstream prints it in paths: `.name`, `[name="c"]`, `[="x"]`, `[3]`."""
    kind = e[0]
    if kind == "f":
        return "." + e[2:]
    if kind == "k":
        keys = json.loads(e[2:])
        return "[" + ",".join(f"{k}={go_value_string(keys[k])}" for k in sorted(keys)) + "]"
    if kind == "v":
        return "[=" + go_value_string(json.loads(e[2:])) + "]"
    return "[" + e[2:] + "]"


def path_string(path: Sequence[str]) -> str:
    """A path as upstream prints it, e.g. `.spec.template.spec.containers[name="nginx"].image`."""
    return "".join(element_string(e) for e in path)


# --- node algebra (nodes are never mutated after construction) -----------------------------------


def is_member(node: Node) -> bool:
    return not node or SELF in node


def _with_self(node: Node) -> Node:
    if not node or SELF in node:
        return node
    out: Node = {SELF: {}}
    out.update(node)
    return out


def _union(a: Node, b: Node, ordered: bool = False) -> Node:
    """Union of two child nodes (or two non-empty roots, which never hold "."). Returns `a` itself
    when `b` adds nothing to it. With `ordered` (both in serialization order), so is the result."""
    if a is b:
        return a
    if not b:  # b is a member leaf
        return _with_self(a) if a else a
    if not a:
        return _with_self(b)
    out: Node | None = None
    grown = False
    for k, vb in b.items():
        if k == SELF:
            if SELF not in a:
                if out is None:
                    out = dict(a)
                out[SELF] = {}
                grown = True
            continue
        va = a.get(k)
        if va is None:
            merged = vb
            grown = True
        else:
            merged = _union(va, vb, ordered)
        if merged is not va:
            if out is None:
                out = dict(a)
            out[k] = merged
    if out is None:
        return a
    return ordered_node(out) if ordered and grown else out


def _difference(a: Node, b: Node, root: bool) -> Node | None:
    """a - b. Members leave only if they are members of b; children are diffed (upstream Difference).
    Returns `a` itself when nothing is taken away."""
    member = not root and is_member(a)
    changed = member and is_member(b)
    if changed:
        member = False
    out: Node = {}
    for k, va in a.items():
        if k == SELF:
            continue
        vb = b.get(k)
        if vb is None:
            out[k] = va
            continue
        d = _difference(va, vb, False)
        if d is not va:
            changed = True
        if d is not None:
            out[k] = d
    if not changed:
        return a
    return make_node(member, out, root)


def _recursive_difference(a: Node, b: Node, root: bool) -> Node | None:
    """a - b, where a member of b also takes away everything below it (upstream RecursiveDifference).
    Returns `a` itself when nothing is taken away."""
    changed = False
    out: Node = {}
    for k, va in a.items():
        if k == SELF:
            continue
        vb = b.get(k)
        if vb is None:
            out[k] = va
        elif is_member(vb):
            changed = True
        else:
            d = _recursive_difference(va, vb, False)
            if d is not va:
                changed = True
            if d is not None:
                out[k] = d
    if not changed:
        return a
    return make_node(not root and is_member(a), out, root)


def _intersection(a: Node, b: Node, root: bool) -> Node | None:
    member = not root and is_member(a) and is_member(b)
    out: Node = {}
    for k, va in a.items():
        if k == SELF:
            continue
        vb = b.get(k)
        if vb is not None:
            d = _intersection(va, vb, False)
            if d is not None:
                out[k] = d
    return make_node(member, out, root)


def make_node(member: bool, children: Node, root: bool = False) -> Node | None:
    """The node for `children`, marked as a member if `member`; None if it would be empty.

    `children` is consumed (it may become the result). "." goes first, so a node built from an
    ordered node stays ordered.
    """
    if root:
        return children
    if children:
        if member:
            out: Node = {SELF: {}}
            out.update(children)
            return out
        return children
    return {} if member else None


def _canonical(node: Any, root: bool) -> Node:
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise FieldsV1Error(f"ReadMapCB: expect {{ or n, but found {type(node).__name__}")
    out: Node = {}
    member = False
    for k, v in node.items():
        if k == SELF:
            member = True
            continue
        if not isinstance(k, str):
            raise FieldsV1Error("parsing key as path element: key must be a string")
        element = canonical_element(k)
        if element is None:
            continue
        child = _canonical(v, False)
        previous = out.get(element)
        out[element] = child if previous is None else _union(previous, child)
    if root:
        return out
    if not out:
        return {}  # a node with no (known) children is a member leaf
    if member:
        return _with_self(out)
    return out


def _sorted_copy(node: Node) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if SELF in node:
        out[SELF] = {}
    for k in ordered_elements(k for k in node if k != SELF):
        child = node[k]
        out[k] = _sorted_copy(child) if child else {}
    return out


def _check_canonical(node: Any, root: bool) -> bool:
    """True if `node` is a trie exactly as `to_fieldsv1` writes it: canonical elements in order,
    "." first and only beside other children, objects all the way down."""
    if type(node) is not dict:
        return False
    rank = 0
    previous = ""
    previous_order: tuple[Any, ...] = ()
    for k, child in node.items():
        if type(child) is not dict:
            return False
        if k[:2] == "f:":
            if rank or k <= previous:
                return False
            previous = k
        elif k == SELF:
            if root or child or previous or rank or len(node) == 1:
                return False
            continue
        else:
            if _CANON.get(k) != k and _canonical_or_none(k) != k:
                return False
            order = _element_order(k)
            if order[0] < rank or (order[0] == rank and order <= previous_order):
                return False
            rank = order[0]
            previous_order = order
        if child and not _check_canonical(child, False):
            return False
    return True


_CHECKED: dict[bytes, bool] = {}


def _known_canonical(fields: Any) -> bool:
    """`_check_canonical` of a root, memoized by its exact JSON bytes (the same entries come back
    on every write of an object, and across the replicas of a workload)."""
    if type(fields) is not dict:
        return False
    try:
        text = orjson.dumps(fields)
    except TypeError:
        return _check_canonical(fields, True)
    verdict = _CHECKED.get(text)
    if verdict is None:
        verdict = _check_canonical(fields, True)
        _remember(_CHECKED, text, verdict)
    return verdict


def _canonical_or_none(k: str) -> str | None:
    try:
        return canonical_element(k)
    except FieldsV1Error:
        return None


def _iterate(node: Node, prefix: Path) -> Iterator[Path]:
    keys = sorted_elements(k for k in node if k != SELF)
    for k in keys:
        if is_member(node[k]):
            yield (*prefix, k)
    for k in keys:
        child = node[k]
        if child and (len(child) > 1 or SELF not in child):
            yield from _iterate(child, (*prefix, k))


def _count(node: Node) -> int:
    n = 0
    for k, child in node.items():
        if k == SELF:
            continue
        if is_member(child):
            n += 1
        if child:
            n += _count(child)
    return n


# --- the set type -------------------------------------------------------------------------------


class FieldSet:
    """An immutable set of field paths (upstream `fieldpath.Set`).

    Construct with `FieldSet.from_fieldsv1(...)`, `FieldSet.from_paths(...)` or from the typed walkers
    (`fieldset_of`); combine with `union`, `difference`, `intersection`, `recursive_difference`.
    """

    __slots__ = ("_root", "_sorted")

    def __init__(self, root: Node | None = None, *, _sorted: bool = False) -> None:
        self._root: Node = root if root is not None else {}
        self._sorted = _sorted  # the trie is already in serialization order

    # construction ---------------------------------------------------------------------------------

    @classmethod
    def from_fieldsv1(cls, fields: Any, *, share: bool = False) -> FieldSet:
        """Decode a `fieldsV1` JSON object (as parsed). Unknown element types are skipped.

        With `share`, a `fields` already in canonical form is used as is, without a copy: the caller
        must not modify it while the set lives. Raises FieldsV1Error when it is not a trie of objects
        with valid element keys.
        """
        if share and _known_canonical(fields):
            return cls(fields, _sorted=True)
        return cls(_canonical(fields, True))

    @classmethod
    def from_paths(cls, paths: Iterable[Sequence[str]]) -> FieldSet:
        """A set holding each of `paths` (tuples of canonical elements)."""
        root: Node = {}
        for path in paths:
            if not path:
                continue
            node = root
            for e in path[:-1]:
                child = node.get(e)
                if child is None:
                    child = node[e] = {}
                elif not child:
                    child = node[e] = {SELF: {}}
                node = child
            last = path[-1]
            child = node.get(last)
            if child is None:
                node[last] = {}
            elif child and SELF not in child:
                child[SELF] = {}
        return cls(root)

    @classmethod
    def from_dotted(cls, paths: Iterable[str]) -> FieldSet:
        """A set of field paths written with dots, e.g. ("status", "metadata.labels")."""
        return cls.from_paths(tuple(field(p) for p in dotted.split(".")) for dotted in paths if dotted)

    # serialization --------------------------------------------------------------------------------

    def to_fieldsv1(self, *, share: bool = False) -> dict[str, Any]:
        """The `fieldsV1` object, children in upstream's order ("." first, then f:, k:, v:, i:).

        With `share`, the result may be the set's own trie (read-only for the caller).
        """
        if share and self._sorted:
            return self._root
        return _sorted_copy(self._root)

    # algebra --------------------------------------------------------------------------------------

    def _derived(self, root: Node | None, keeps_order: bool = False) -> FieldSet:
        if root is self._root:
            return self
        return FieldSet(root, _sorted=keeps_order and self._sorted)

    def union(self, other: FieldSet) -> FieldSet:
        if not other._root:
            return self
        if not self._root:
            return other
        ordered = self._sorted and other._sorted
        return self._derived(_union(self._root, other._root, ordered), ordered)

    def difference(self, other: FieldSet) -> FieldSet:
        """Members of self that are not members of other (a parent minus a child stays the parent)."""
        if not other._root or not self._root:
            return self
        return self._derived(_difference(self._root, other._root, True), True)

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like difference, but a member of other also removes everything below it."""
        if not other._root or not self._root:
            return self
        return self._derived(_recursive_difference(self._root, other._root, True), True)

    def intersection(self, other: FieldSet) -> FieldSet:
        if not other._root or not self._root:
            return FieldSet()
        return self._derived(_intersection(self._root, other._root, True), True)

    __or__ = union
    __sub__ = difference
    __and__ = intersection

    # queries --------------------------------------------------------------------------------------

    def is_empty(self) -> bool:
        return not self._root

    def __bool__(self) -> bool:
        return bool(self._root)

    def has(self, path: Sequence[str]) -> bool:
        """True if `path` itself is a member (not merely a prefix of one)."""
        if not path:
            return False
        node = self._root
        for e in path[:-1]:
            child = node.get(e)
            if not child:
                return False
            node = child
        last = node.get(path[-1])
        return last is not None and is_member(last)

    def with_prefix(self, element: str) -> FieldSet:
        """The paths below `element`, with `element` removed from their front."""
        child = self._root.get(element)
        if not child:
            return FieldSet()
        return FieldSet({k: v for k, v in child.items() if k != SELF})

    def __iter__(self) -> Iterator[Path]:
        """Every member path, in upstream's order (a level's members, then its children, depth first)."""
        return _iterate(self._root, ())

    def leaves(self) -> Iterator[Path]:
        """The member paths with nothing owned below them, in iteration order."""
        for path in self:
            node: Node = self._root
            for e in path:
                node = node[e]
            if len(node) == 0:
                yield path

    def __len__(self) -> int:
        return _count(self._root)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldSet) and self._root == other._root

    def __hash__(self) -> int:  # sets are values, but mutable-looking; hash by content
        return hash(json.dumps(self._root, sort_keys=True))

    def __repr__(self) -> str:
        return "FieldSet(" + ", ".join(path_string(p) for p in self) + ")"

    @property
    def root(self) -> Node:
        """The trie itself (read-only by contract)."""
        return self._root
