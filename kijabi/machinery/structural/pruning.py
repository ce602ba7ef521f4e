"""What apiextensions does to a custom resource right after decoding it (`unstructuredSchemaCoercer`).

In upstream order, which is also the order of the unknown-field paths it reports:

1. `metadata` is decoded into ObjectMeta (strictly when unknown fields are wanted): a type error fails
   the request (400); unknown metadata fields are reported as `metadata.<path>`, in Go's sorted key
   order, and dropped.
2. Structural pruning (`pruning.PruneWithOptions`): fields the schema does not declare are removed,
   the root and every `x-kubernetes-embedded-resource` node keep `apiVersion`, `kind` and `metadata`,
   `x-kubernetes-preserve-unknown-fields` keeps unknown fields but still prunes inside known ones, and
   a bare `additionalProperties: true|false` keeps the keys but prunes objects below them. Paths are
   sorted (`sort.Strings`).
3. Nulls the schema neither allows (`nullable`) nor defaults are removed from objects
   (`PruneNonNullableNullsWithoutDefaults`).
4. The `metadata` of embedded resources is decoded into ObjectMeta like step 1 (`objectmeta.Coerce`);
   its unknown paths use field-path syntax (`spec.templates[a].metadata.foo`) and come last, sorted.

Steps 2 and 3 are skipped for a CRD with `spec.preserveUnknownFields: true`. Embedded `apiVersion`
and `kind` must be strings and embedded metadata must decode; those failures are decode errors
(`decode_errors`), checked before any pruning.
"""

from __future__ import annotations

import functools
from typing import Any

from kijabi.machinery import schema as schemas

from ._go import go_error_value
from .nodes import AP_BOOL, MISSING, Node
from .typed import TypedWalk

__all__ = ["custom_decode_errors", "drop_nulls", "meta_walk", "object_meta", "prune_custom", "prune_tree"]

_META_FIELDS = frozenset(("apiVersion", "kind", "metadata"))
_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"


@functools.cache
def object_meta() -> schemas.Schema:
    """The ObjectMeta schema every custom resource's metadata is decoded into."""
    return schemas.builtin().get(_OBJECT_META)


def meta_walk(meta: Any, *, track: bool, remove: bool) -> TypedWalk:
    walk = TypedWalk(track=track, remove=remove, sort_keys=True)
    walk.run(meta, object_meta())
    return walk


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def prune_custom(
    obj: dict[str, Any], root: Node, *, remove: bool, preserve_unknown_fields: bool = False
) -> list[str]:
    """Steps 1-4 of the module docstring; returns the unknown paths, removes them when `remove`."""
    paths: list[str] = []
    if "metadata" in obj:
        walk = meta_walk(obj["metadata"], track=True, remove=remove)
        if not walk.errors:
            paths.extend("metadata." + p for p in walk.unknown)
    if not preserve_unknown_fields:
        pruned: list[str] = []
        prune_tree(obj, root, "", pruned, remove, True)
        pruned.sort()
        paths.extend(pruned)
        if remove:
            drop_nulls(obj, root)
    embedded: list[str] = []
    _embedded_meta(obj, root, "", embedded, remove)
    embedded.sort()
    paths.extend(embedded)
    return paths


def _record(path: str, key: str, out: list[str]) -> None:
    out.append(f"{path}.{key}" if path else key)


def prune_tree(
    x: Any, s: Node | None, path: str, out: list[str], remove: bool, embedded: bool = False
) -> None:
    if s is not None and s.preserve:
        _skip_prune(x, s, path, out, remove, embedded)
        return
    t = type(x)
    if t is dict:
        if s is None:
            for k in list(x):
                _record(path, k, out)
                if remove:
                    del x[k]
            return
        embedded = embedded or s.embedded
        props = s.props
        ap = s.ap
        doomed: list[str] = []
        for k, v in x.items():
            if embedded and k in _META_FIELDS:
                continue
            p = props.get(k)
            if p is not None:
                prune_tree(v, p, _child(path, k), out, remove)
            elif ap is not None:
                prune_tree(v, None if ap is AP_BOOL else ap, _child(path, k), out, remove)
            else:
                if k not in _META_FIELDS or path:
                    _record(path, k, out)
                doomed.append(k)
        if remove:
            for k in doomed:
                del x[k]
    elif t is list:
        items = s.items if s is not None else None
        for i, v in enumerate(x):
            prune_tree(v, items, f"{path}[{i}]", out, remove)


def _skip_prune(
    x: Any, s: Node | None, path: str, out: list[str], remove: bool, embedded: bool = False
) -> None:
    """Inside `x-kubernetes-preserve-unknown-fields`: keep unknown fields, prune the known ones."""
    if s is None:
        return
    t = type(x)
    if t is dict:
        embedded = embedded or s.embedded
        props = s.props
        ap = s.ap
        for k, v in x.items():
            if embedded and k in _META_FIELDS:
                continue
            p = props.get(k)
            if p is not None:
                prune_tree(v, p, _child(path, k), out, remove)
            elif ap is not None:
                prune_tree(v, None if ap is AP_BOOL else ap, _child(path, k), out, remove)
    elif t is list:
        for i, v in enumerate(x):
            _skip_prune(v, s.items, f"{path}[{i}]", out, remove)


def drop_nulls(x: Any, s: Node | None) -> None:
    """Remove object fields that are null where the schema is not nullable and has no default."""
    t = type(x)
    if t is dict:
        doomed: list[str] = []
        for k, v in x.items():
            sub = s.child(k) if s is not None else None
            if v is None:
                if sub is not None and not sub.nullable and sub.default is MISSING:
                    doomed.append(k)
            else:
                drop_nulls(v, sub)
        for k in doomed:
            del x[k]
    elif t is list:
        items = s.items if s is not None else None
        for v in x:
            if v is not None:
                drop_nulls(v, items)


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def _embedded_meta(x: Any, s: Node | None, path: str, out: list[str], remove: bool) -> None:
    """Step 4: strict ObjectMeta decoding of every embedded resource's metadata."""
    if s is None or not s.has_embedded:
        return
    t = type(x)
    if t is dict:
        if s.embedded and "metadata" in x:
            walk = meta_walk(x["metadata"], track=True, remove=remove)
            if not walk.errors:
                prefix = _child(path, "metadata")
                out.extend(f"{prefix}.{p}" for p in walk.unknown)
        props = s.props
        ap = s.ap
        for k, v in x.items():
            p = props.get(k)
            if p is not None:
                _embedded_meta(v, p, _child(path, k), out, remove)
            elif ap is not None:
                _embedded_meta(v, None if ap is AP_BOOL else ap, _key(path, k), out, remove)
    elif t is list:
        for i, v in enumerate(x):
            _embedded_meta(v, s.items, f"{path}[{i}]", out, remove)


def custom_decode_errors(obj: Any, root: Node) -> list[str]:
    """The errors that make upstream's custom resource decoding fail (reported as 400, first only)."""
    if isinstance(obj, dict) and "metadata" in obj:
        walk = meta_walk(obj["metadata"], track=False, remove=False)
        if walk.errors:
            return walk.errors
    found: list[str] = []
    _embedded_decode_errors(obj, root, "", found)
    return found[:1]


def _embedded_decode_errors(x: Any, s: Node | None, path: str, out: list[str]) -> None:
    if s is None or out or not s.has_embedded:
        return
    t = type(x)
    if t is dict:
        for k, v in x.items():
            if s.embedded:
                if k in ("apiVersion", "kind") and not isinstance(v, str):
                    out.append(f"{_child(path, k)}: Invalid value: {go_error_value(v)}: must be a string")
                    return
                if k == "metadata":
                    walk = meta_walk(v, track=False, remove=False)
                    if walk.errors:
                        out.append(
                            f"{_child(path, 'metadata')}: Invalid value: {go_error_value(v)}: {walk.errors[0]}"
                        )
                        return
            p = s.props.get(k)
            if p is not None:
                _embedded_decode_errors(v, p, _child(path, k), out)
            elif s.ap is not None:
                _embedded_decode_errors(v, s.ap_node, _key(path, k), out)
            if out:
                return
    elif t is list:
        for i, v in enumerate(x):
            _embedded_decode_errors(v, s.items, f"{path}[{i}]", out)
            if out:
                return
