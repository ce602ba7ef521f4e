"""Ownership of `replicas` across a resource and its `scale` subresource (apimachinery ScaleHandler).

A write to `/scale` is recorded against an `autoscaling/v1` Scale object, whose only owned field is
`.spec.replicas`. `to_subresource` turns the parent's managedFields into the Scale's; `to_parent`
folds the Scale's managedFields (after the write) back into the parent's.

`mappings` maps each apiVersion of the parent to its replicas path, dotted ("spec.replicas"), or
None when that version has no scale subresource. Entries in an apiVersion not in `mappings` are
skipped by `to_subresource` and dropped by `to_parent`, as upstream does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kijabi.machinery.apply.fieldpath import FieldSet, Path, field
from kijabi.machinery.apply.manager import decode_managed_fields, encode_managed_fields
from kijabi.machinery.apply.merge import Managers, VersionedSet

SCALE_API_VERSION = "autoscaling/v1"
_SCALE_REPLICAS: Path = ("f:spec", "f:replicas")


def _path(dotted: str | None) -> Path | None:
    return tuple(field(p) for p in dotted.split(".")) if dotted else None


def to_subresource(parent_entries: Any, mappings: Mapping[str, str | None]) -> list[dict[str, Any]]:
    """The Scale object's managedFields: each parent entry owning replicas, as `.spec.replicas` in
    autoscaling/v1. Raises ManagedFieldsError for undecodable entries."""
    managed = decode_managed_fields(parent_entries)
    managers: Managers = {}
    times: dict[str, str | None] = {}
    for mid, vs in managed.managers.items():
        path = _path(mappings.get(vs.api_version))
        if path is None or not vs.set.has(path):
            continue
        managers[mid] = VersionedSet(FieldSet.from_paths([_SCALE_REPLICAS]), SCALE_API_VERSION, vs.applied)
        times[mid] = managed.times.get(mid)
    return encode_managed_fields(managers, times)


def to_parent(
    parent_entries: Any, scale_entries: Any, *, api_version: str, mappings: Mapping[str, str | None]
) -> list[dict[str, Any]]:
    """The parent's managedFields after a write through `/scale` that left `scale_entries`.

    Parent entries that owned replicas but no longer do on the Scale lose it; Scale entries owning
    `.spec.replicas` become owners of the parent's replicas path in `api_version`.
    """
    parent = decode_managed_fields(parent_entries)
    scale = decode_managed_fields(scale_entries)
    scale_managers = dict(scale.managers)
    managers: Managers = {}
    times: dict[str, str | None] = {}
    for mid, vs in parent.managers.items():
        if vs.api_version not in mappings:
            continue
        path = _path(mappings[vs.api_version])
        if path is None or not vs.set.has(path):
            managers[mid] = vs
            times[mid] = parent.times.get(mid)
            continue
        if mid not in scale_managers:
            rest = vs.set.difference(FieldSet.from_paths([path]))
            if not rest.is_empty():
                managers[mid] = VersionedSet(rest, vs.api_version, vs.applied)
                times[mid] = parent.times.get(mid)
        else:
            managers[mid] = vs
            times[mid] = parent.times.get(mid)
            del scale_managers[mid]
    target = _path(mappings.get(api_version))
    for mid, vs in scale_managers.items():
        if not vs.set.has(_SCALE_REPLICAS) or target is None:
            continue
        managers[mid] = VersionedSet(FieldSet.from_paths([target]), api_version, vs.applied)
        times[mid] = parent.times.get(mid)
    return encode_managed_fields(managers, times)
