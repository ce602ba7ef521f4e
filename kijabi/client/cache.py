"""The informer cache: an indexed store of objects keyed "namespace/name", and listers over it.

Objects in the cache are SHARED AND READ-ONLY. `get`, `list` and `by_index` hand out the very dicts the
informer stores (no copy on read, which is what makes a cache of 10k pods cheap to query). Never change
one: copy it first (`copy_object`, an orjson round trip, 10x faster than copy.deepcopy), change the copy
and write it to the API; the informer will bring the new version.

An `Indexer` keeps, per index name, value -> set of keys, maintained on every add/update/delete from
the index functions (client-go's threadSafeMap; here single-threaded, on the event loop). The
"namespace" index is always present.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kijabi.machinery import labels

Object = dict[str, Any]
IndexFunc = Callable[[Object], list[str]]
KeyFunc = Callable[[Any], str]

NAMESPACE_INDEX = "namespace"


@dataclass(frozen=True)
class DeletedFinalStateUnknown:
    """Given to delete handlers when an object vanished while the watch was down: `obj` is the last state
    the cache knew, possibly stale (client-go's cache.DeletedFinalStateUnknown)."""

    key: str
    obj: Object


def meta_namespace_key(obj: Any) -> str:
    """"namespace/name", or "name" for cluster-scoped objects; a DeletedFinalStateUnknown gives its key."""
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    if isinstance(obj, str):
        return obj
    meta = obj.get("metadata") or {}
    name = meta.get("name", "")
    ns = meta.get("namespace", "")
    return f"{ns}/{name}" if ns else name


def split_key(key: str) -> tuple[str, str]:
    """(namespace, name) of a cache key; namespace "" for cluster-scoped keys."""
    ns, sep, name = key.partition("/")
    if not sep:
        return "", key
    if "/" in name:
        raise ValueError(f"unexpected key format: {key!r}")
    return ns, name


def namespace_index(obj: Object) -> builtins.list[str]:
    ns = (obj.get("metadata") or {}).get("namespace")
    return [ns] if ns else []


def copy_object(obj: Mapping[str, Any]) -> Object:
    """A private deep copy of a cached object, safe to change."""
    result: Object = orjson.loads(orjson.dumps(obj))
    return result


class Indexer:
    """Objects by key, plus secondary indices. All methods are synchronous and O(changed)."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None, *, key_func: KeyFunc = meta_namespace_key) -> None:
        self.key_func = key_func
        self._items: dict[str, Object] = {}
        self._indexers: dict[str, IndexFunc] = {NAMESPACE_INDEX: namespace_index}
        self._indices: dict[str, dict[str, set[str]]] = {NAMESPACE_INDEX: {}}
        if indexers:
            self.add_indexers(indexers)

    # -- indices -----------------------------------------------------------------------------------

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        """Add index functions; existing objects are indexed at once."""
        for name, fn in indexers.items():
            if name in self._indexers and self._indexers[name] is not fn:
                raise ValueError(f"indexer {name!r} already exists")
            self._indexers[name] = fn
            index: dict[str, set[str]] = {}
            for key, obj in self._items.items():
                for value in fn(obj):
                    index.setdefault(value, set()).add(key)
            self._indices[name] = index

    def indexers(self) -> dict[str, IndexFunc]:
        return dict(self._indexers)

    def _update_indices(self, old: Object | None, new: Object | None, key: str) -> None:
        for name, fn in self._indexers.items():
            index = self._indices[name]
            old_values = fn(old) if old is not None else []
            new_values = fn(new) if new is not None else []
            if old_values == new_values:
                continue
            for v in old_values:
                keys = index.get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[v]
            for v in new_values:
                index.setdefault(v, set()).add(key)

    # -- writing (the informer's job) --------------------------------------------------------------

    def add(self, obj: Object) -> Object | None:
        """Store `obj` under its key; return what was there before."""
        key = self.key_func(obj)
        old = self._items.get(key)
        self._items[key] = obj
        self._update_indices(old, obj, key)
        return old

    update = add

    def delete(self, obj: Any) -> Object | None:
        """Remove the object with `obj`'s key (an object, a key or a DeletedFinalStateUnknown)."""
        key = self.key_func(obj) if not isinstance(obj, str) else obj
        old = self._items.pop(key, None)
        if old is not None:
            self._update_indices(old, None, key)
        return old

    def replace(self, objects: Iterable[Object]) -> None:
        self._items = {self.key_func(o): o for o in objects}
        self._indices = {name: {} for name in self._indexers}
        for key, obj in self._items.items():
            self._update_indices(None, obj, key)

    # -- reading -----------------------------------------------------------------------------------

    def get_by_key(self, key: str) -> Object | None:
        return self._items.get(key)

    def get(self, obj: Any) -> Object | None:
        return self._items.get(self.key_func(obj))

    def list(self) -> builtins.list[Object]:
        return list(self._items.values())

    def list_keys(self) -> builtins.list[str]:
        return list(self._items)

    def index_keys(self, index_name: str, value: str) -> set[str]:
        """The keys whose object has `value` in index `index_name` (a copy)."""
        index = self._indices.get(index_name)
        if index is None:
            raise KeyError(f"index {index_name!r} does not exist")
        return set(index.get(value, ()))

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        index = self._indices.get(index_name)
        if index is None:
            raise KeyError(f"index {index_name!r} does not exist")
        items = self._items
        return [items[k] for k in index.get(value, ()) if k in items]

    def index(self, index_name: str, obj: Object) -> builtins.list[Object]:
        """Objects sharing any of `obj`'s values in index `index_name`."""
        fn = self._indexers.get(index_name)
        if fn is None:
            raise KeyError(f"index {index_name!r} does not exist")
        keys: set[str] = set()
        for v in fn(obj):
            keys |= self._indices[index_name].get(v, set())
        return [self._items[k] for k in keys if k in self._items]

    def index_values(self, index_name: str) -> builtins.list[str]:
        return list(self._indices.get(index_name, {}))

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: object) -> bool:
        return key in self._items


LabelQuery = str | Mapping[str, str] | labels.Selector | None


def as_selector(selector: LabelQuery) -> labels.Selector | None:
    """A label selector from its string form, a matchLabels mapping or a parsed Selector (None: everything)."""
    if selector is None:
        return None
    if isinstance(selector, labels.Selector):
        return None if selector.empty() else selector
    if isinstance(selector, str):
        parsed = labels.parse(selector)
        return None if parsed.empty() else parsed
    return labels.from_label_selector({"matchLabels": dict(selector)}) if selector else None


class Lister:
    """Read access to an informer's cache. Returned objects are shared: do not change them."""

    def __init__(self, indexer: Indexer) -> None:
        self.indexer = indexer

    def get(self, name: str, namespace: str | None = None) -> Object | None:
        """The object, or None when the cache does not have it."""
        return self.indexer.get_by_key(f"{namespace}/{name}" if namespace else name)

    def get_by_key(self, key: str) -> Object | None:
        """The object under a queue key ("namespace/name" or "name")."""
        return self.indexer.get_by_key(key)

    def list(self, namespace: str | None = None, selector: LabelQuery = None) -> builtins.list[Object]:
        """Objects in `namespace` (all when None) whose labels match `selector`."""
        sel = as_selector(selector)
        objs = self.indexer.by_index(NAMESPACE_INDEX, namespace) if namespace else self.indexer.list()
        if sel is None:
            return objs
        return [o for o in objs if sel.matches((o.get("metadata") or {}).get("labels"))]

    def by_index(self, index_name: str, value: str) -> builtins.list[Object]:
        return self.indexer.by_index(index_name, value)

    def keys(self) -> builtins.list[str]:
        return self.indexer.list_keys()
