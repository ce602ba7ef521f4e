"""Ownership bookkeeping for one write: upstream structured-merge-diff's `merge.Updater`.

`update_fields` records a non-apply write (never conflicts; takes changed fields from everyone else).
`apply_fields` merges an apply configuration, prunes what the applier stopped sending, and reports
conflicts with other managers unless forced.

Managers are keyed by their identifier (see `manager.manager_id`); each owns a `VersionedSet`. Sets
recorded in another apiVersion are compared as if the versions had the same field layout (kijabi does
not convert between versions here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from kijabi.machinery.apply.fieldpath import FieldSet, Path
from kijabi.machinery.apply.typed import (
    Comparison,
    compare,
    ensure_named_fields_are_members,
    equal,
    merge,
    remove_items,
    to_set,
)
from kijabi.machinery.schema import Schema


@dataclass(frozen=True, slots=True)
class VersionedSet:
    """The fields one manager owns, in the apiVersion it used (upstream `fieldpath.VersionedSet`)."""

    set: FieldSet
    api_version: str
    applied: bool


Managers = dict[str, VersionedSet]


class Conflict(NamedTuple):
    """Another manager (by identifier) owns `path`, which this apply would change."""

    manager: str
    path: Path


class ConflictError(Exception):
    """An apply changes fields that other managers own (upstream `merge.Conflicts`)."""

    def __init__(self, conflicts: list[Conflict]) -> None:
        super().__init__(f"{len(conflicts)} conflict(s)")
        self.conflicts = conflicts


def _conflicts(sets: dict[str, FieldSet]) -> list[Conflict]:
    return [Conflict(m, p) for m in sorted(sets) for p in sets[m]]


def _update(
    old: dict[str, Any],
    new: dict[str, Any],
    managers: Managers,
    workflow: str,
    force: bool,
    schema: Schema | None,
    reset: FieldSet | None,
) -> tuple[Managers, Comparison]:
    """Take what `new` changed away from every manager but `workflow` (conflicts unless `force`)."""
    cmp = compare(old, new, schema).filtered(reset)
    if cmp.is_same():
        return managers, cmp
    changed = cmp.modified.union(cmp.added)
    conflicts: dict[str, FieldSet] = {}
    out = dict(managers)
    for m, vs in managers.items():
        if m == workflow:
            continue
        c = vs.set.intersection(changed)
        if not c.is_empty():
            conflicts[m] = c
    if conflicts and not force:
        raise ConflictError(_conflicts(conflicts))
    for m, vs in managers.items():
        if m == workflow:
            continue
        s = vs.set
        taken = conflicts.get(m)
        if taken is not None:
            s = s.difference(taken)
        if not cmp.removed.is_empty():
            s = s.difference(cmp.removed)
        if s.is_empty():
            del out[m]
        elif s is not vs.set:
            out[m] = VersionedSet(s, vs.api_version, vs.applied)
    return out, cmp


def update_fields(
    live: dict[str, Any],
    new: dict[str, Any],
    *,
    version: str,
    managers: Managers,
    manager: str,
    schema: Schema | None,
    reset: FieldSet | None = None,
) -> Managers:
    """Record a non-apply write from `live` to `new` for `manager` (upstream `Updater.Update`).

    Paths the write added or modified go to `manager` and leave every other manager; removed paths
    leave everyone. Managers left with nothing are dropped. Inputs are not modified.
    """
    out, cmp = _update(live, new, managers, manager, True, schema, reset)
    previous = out.get(manager)
    s = previous.set if previous is not None else FieldSet()
    if not cmp.removed.is_empty():
        s = s.difference(cmp.removed)
    s = s.union(cmp.modified).union(cmp.added)
    if reset is not None and not reset.is_empty():
        s = s.recursive_difference(reset)
    out = dict(out)
    if s.is_empty():
        out.pop(manager, None)
    else:
        out[manager] = VersionedSet(s, version, False)
    return out


def apply_fields(
    live: dict[str, Any],
    config: dict[str, Any],
    *,
    version: str,
    managers: Managers,
    manager: str,
    force: bool,
    schema: Schema | None,
    reset: FieldSet | None = None,
) -> tuple[dict[str, Any] | None, Managers]:
    """Merge `config` over `live` for applier `manager` (upstream `Updater.Apply`).

    Returns (the new object, or None if it equals `live`; the new managers). The applier's set becomes
    exactly the fields of `config`; fields it applied last time and dropped now are removed unless
    another manager owns them. Raises ConflictError when another manager owns a changed field and
    `force` is false; with `force` the conflicting fields move to the applier.
    """
    merged = merge(live, config, schema)
    last = managers.get(manager)
    applied = to_set(config, schema)
    if reset is not None and not reset.is_empty():
        applied = applied.recursive_difference(reset)
    managers = dict(managers)
    managers[manager] = VersionedSet(applied, version, True)
    if last is not None and not last.set.difference(applied).is_empty():
        merged = _prune(merged, managers, last.set, schema)
    managers, _ = _update(live, merged, managers, manager, force, schema, reset)
    if equal(live, merged):
        return None, managers
    return merged, managers


def _prune(
    merged: dict[str, Any], managers: Managers, last: FieldSet, schema: Schema | None
) -> dict[str, Any]:
    """Remove what the applier applied last time, no longer applies, and nobody else owns.

    Upstream `Updater.prune` with `addBackOwnedItems` and `addBackDanglingItems`: a first cut removes
    everything last applied; what any manager (the applier's new set included) still owns comes back;
    and only paths of the last applied set may finally go.
    """
    last = ensure_named_fields_are_members(last, schema)
    pruned = remove_items(merged, last, schema)
    owned = FieldSet()
    for vs in managers.values():
        owned = owned.union(vs.set)
    owned = ensure_named_fields_are_members(owned, schema)
    merged_set = ensure_named_fields_are_members(to_set(merged, schema), schema)
    pruned_set = ensure_named_fields_are_members(to_set(pruned, schema), schema)
    pruned = remove_items(merged, merged_set.difference(pruned_set.union(owned)), schema)
    pruned_set = ensure_named_fields_are_members(to_set(pruned, schema), schema)
    return remove_items(merged, merged_set.difference(pruned_set).intersection(last), schema)
