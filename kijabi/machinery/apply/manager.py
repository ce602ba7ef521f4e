"""`metadata.managedFields` on every write, and server-side apply (apimachinery `managedfields`).

Two entry points, both pure (inputs are never modified):

- `update_managed_fields(old, new, ...)` for POST, PUT and non-apply PATCH: the writer becomes the
  owner of what it added or changed, everyone else loses those fields.
- `apply(live, config, ...)` for `application/apply-patch+yaml`: merges the configuration, prunes what
  the applier stopped sending, and raises a 409 `StatusError` listing conflicts with other managers.

They reproduce upstream's wrapper chain (`NewDefaultFieldManager`): version check, kubectl's
client-side to server-side migration (`kubectl` applier only), `before-first-apply` for untracked
objects, the cap of ten Update entries (`ancient-changes`), manager identifiers, entry times, and the
metadata paths nobody ever owns. Manager identifiers are upstream's JSON form, e.g.
`{"manager":"hpa","operation":"Update","apiVersion":"apps/v1"}`; Apply identifiers carry no apiVersion.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from kijabi.machinery.apply.fieldpath import FieldSet, FieldsV1Error, field, path_string
from kijabi.machinery.apply.gojson import go_json, go_quote, go_string
from kijabi.machinery.apply.merge import (
    Conflict,
    ConflictError,
    Managers,
    VersionedSet,
    apply_fields,
    update_fields,
)
from kijabi.machinery.apply.typed import _ABSENT, changed, compare, to_set, validate
from kijabi.machinery.errors import StatusError, bad_request, internal
from kijabi.machinery.schema import Schema

LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128
_ANNOTATIONS_LIMIT = 256 * 1024
_CURRENT = "current-operation"  # never a JSON identifier, so it cannot collide with a real manager

STRIPPED = FieldSet.from_paths(
    [("f:apiVersion",), ("f:kind",), ("f:metadata",)]
    + [
        ("f:metadata", field(name))
        for name in (
            "name",
            "namespace",
            "creationTimestamp",
            "selfLink",
            "uid",
            "clusterName",
            "generation",
            "managedFields",
            "resourceVersion",
        )
    ]
)
"""Paths never recorded for anyone (upstream `stripmeta.go`)."""


class ManagedFieldsError(ValueError):
    """managedFields that cannot be decoded (upstream `DecodeManagedFields` errors)."""


class _Managed(NamedTuple):
    managers: Managers
    times: dict[str, str | None]


# --- manager names and identifiers ----------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def manager_from_user_agent(user_agent: str) -> str:
    """The manager name of a write without `fieldManager`: the User-Agent up to its first `/`,
    unprintable characters dropped, cut to 128 bytes (`kubectl/v1.32.0 (linux/amd64)` -> `kubectl`)."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not (ch.isprintable() or ch == " "):
            continue
        n = len(ch.encode("utf-8", "surrogatepass"))
        if size + n > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += n
    return "".join(out)


def manager_or_user_agent(field_manager: str, user_agent: str) -> str:
    """`field_manager` if given, else the name derived from `user_agent` (upstream managerOrUserAgent)."""
    return field_manager or manager_from_user_agent(user_agent)


def manager_id(manager: str, operation: str, api_version: str = "", subresource: str = "") -> str:
    """Upstream's manager identifier (BuildManagerIdentifier): the entry without time and fields, as
    JSON; apiVersion is left out for Apply so an applier keeps one entry across versions."""
    parts = []
    if manager:
        parts.append('"manager":' + go_string(manager))
    if operation:
        parts.append('"operation":' + go_string(operation))
    if api_version and operation != "Apply":
        parts.append('"apiVersion":' + go_string(api_version))
    if subresource:
        parts.append('"subresource":' + go_string(subresource))
    return "{" + ",".join(parts) + "}"


_ID_CACHE: dict[str, dict[str, Any]] = {}


def _parse_id(mid: str) -> dict[str, Any]:
    info = _ID_CACHE.get(mid)
    if info is None:
        try:
            parsed = json.loads(mid)
        except ValueError:
            parsed = None
        info = parsed if isinstance(parsed, dict) else {"manager": mid}
        if len(_ID_CACHE) > 10_000:
            _ID_CACHE.clear()
        _ID_CACHE[mid] = info
    return info


def describe_manager(mid: str) -> str:
    """A manager as conflict messages name it: `"hpa" using apps/v1`, `"m" with subresource "status"`."""
    try:
        info = json.loads(mid)
    except ValueError:
        return go_quote(mid)
    if not isinstance(info, dict):
        return go_quote(mid)
    text = go_quote(str(info.get("manager", "")))
    if info.get("subresource"):
        text += f" with subresource {go_quote(str(info['subresource']))}"
    if info.get("operation") == "Update":
        text += f" using {info.get('apiVersion', '')}"
    return text


# --- errors ---------------------------------------------------------------------------------------


def conflict_error(conflicts: list[Conflict]) -> StatusError:
    """The 409 Status of an apply with conflicts (upstream `NewConflictError`)."""
    causes = [
        {
            "reason": "FieldManagerConflict",
            "message": f"conflict with {describe_manager(c.manager)}",
            "field": path_string(c.path),
        }
        for c in conflicts
    ]
    if len(conflicts) == 1:
        c = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {describe_manager(c.manager)}: {path_string(c.path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for c in conflicts:
            by_manager.setdefault(c.manager, []).append(path_string(c.path))
        lines: list[str] = []
        for mid in sorted(by_manager):
            lines.append(f"conflicts with {describe_manager(mid)}:")
            lines.extend(f"- {p}" for p in by_manager[mid])
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return StatusError(409, "Conflict", message, details={"causes": causes})


# --- encoding and decoding managedFields ----------------------------------------------------------

_ENTRY_STRINGS = ("manager", "operation", "apiVersion", "time", "fieldsType", "subresource")


def decode_managed_fields(entries: Any) -> _Managed:
    """Managers and times from a `managedFields` list. Raises ManagedFieldsError.

    A value that is not a list of entry objects decodes as no managers (upstream's accessor yields
    nil for it); a list with a bad entry is an error.
    """
    managers: Managers = {}
    times: dict[str, str | None] = {}
    if not isinstance(entries, list):
        return _Managed(managers, times)
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or any(
            entry.get(k) is not None and not isinstance(entry.get(k), str) for k in _ENTRY_STRINGS
        ):
            return _Managed({}, {})
        operation = entry.get("operation") or ""
        if operation not in ("Apply", "Update"):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = entry.get("apiVersion") or ""
        if not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = entry.get("fieldsType") or ""
        if fields_type != "FieldsV1":
            if not fields_type:
                raise ManagedFieldsError(f"missing fieldsType in managed fields entry {i}")
            raise ManagedFieldsError(f'invalid fieldsType "{fields_type}" in managed fields entry {i}')
        mid = manager_id(entry.get("manager") or "", operation, api_version, entry.get("subresource") or "")
        try:
            fs = FieldSet.from_fieldsv1(entry.get("fieldsV1"), share=True)
        except FieldsV1Error as exc:
            raise ManagedFieldsError(
                f"error decoding versioned set from {go_json(entry)}: error decoding set: {exc}"
            ) from None
        managers[mid] = VersionedSet(fs, api_version, operation == "Apply")
        times[mid] = entry.get("time") or None
    return _Managed(managers, times)


@functools.lru_cache(maxsize=1024)
def _seconds(t: str | None) -> float:
    if not t:
        return 0
    try:
        return int(datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return 0


def encode_managed_fields(managers: Managers, times: dict[str, str | None]) -> list[dict[str, Any]]:
    """The `managedFields` list, sorted as upstream sorts it (operation, time, manager, apiVersion,
    subresource)."""
    entries: list[dict[str, Any]] = []
    for mid, vs in managers.items():
        info = _parse_id(mid)
        entry: dict[str, Any] = {}
        if info.get("manager"):
            entry["manager"] = info["manager"]
        entry["operation"] = "Apply" if vs.applied else info.get("operation", "Update")
        entry["apiVersion"] = vs.api_version
        t = times.get(mid)
        if t:
            entry["time"] = t
        entry["fieldsType"] = "FieldsV1"
        entry["fieldsV1"] = vs.set.to_fieldsv1(share=True)
        if info.get("subresource"):
            entry["subresource"] = info["subresource"]
        entries.append(entry)
    if len(entries) > 1:
        _sort_entries(entries)
    return entries


def _sort_entries(entries: list[dict[str, Any]]) -> None:
    entries.sort(
        key=lambda e: (
            e["operation"],
            _seconds(e.get("time")),
            e.get("manager", ""),
            e["apiVersion"],
            e.get("subresource", ""),
        )
    )


def _is_reset(raw: Any) -> bool:
    """`[]` and `[{}]` in a request body reset managedFields (upstream isResetManagedFields)."""
    if not isinstance(raw, list):
        return False
    if not raw:
        return True
    return len(raw) == 1 and isinstance(raw[0], dict) and all(v is None or v == "" for v in raw[0].values())


def _managed_fields_of(obj: dict[str, Any] | None) -> Any:
    if obj is None:
        return None
    meta = obj.get("metadata")
    return meta.get("managedFields") if isinstance(meta, dict) else None


def _decode_or_empty(raw: Any) -> _Managed:
    try:
        return decode_managed_fields(raw)
    except ManagedFieldsError:
        return _Managed({}, {})


def _same_json(a: Any, b: Any) -> bool:
    """`a == b`, quick for the usual case: a client sending back the managedFields it was given."""
    try:
        if orjson.dumps(a) == orjson.dumps(b):
            return True
    except TypeError:
        pass
    return bool(a == b)


def _live_or_new(old: dict[str, Any] | None, new: dict[str, Any], subresource: bool) -> _Managed:
    """Whose managedFields a write starts from (upstream decodeLiveOrNew)."""
    live_raw = _managed_fields_of(old)
    if subresource:
        return _decode_or_empty(live_raw)
    new_raw = _managed_fields_of(new)
    if _is_reset(new_raw):
        return _Managed({}, {})
    if new_raw is live_raw or (new_raw is not None and _same_json(new_raw, live_raw)):
        return _decode_or_empty(live_raw)
    try:
        managed = decode_managed_fields(new_raw)
    except ManagedFieldsError:
        return _decode_or_empty(live_raw)
    if not managed.managers:
        return _decode_or_empty(live_raw)
    return managed


def _without_managed_fields(obj: dict[str, Any]) -> dict[str, Any]:
    """A shallow copy of `obj` (and of its metadata) without metadata.managedFields."""
    out = dict(obj)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = dict(meta)
        meta.pop("managedFields", None)
        out["metadata"] = meta
    return out


def _with_own_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = dict(out["metadata"])
    return out


def _store(obj: dict[str, Any], managed: _Managed) -> None:
    """Write the managers into `obj` (whose metadata dict the caller owns); none removes the key."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        if not managed.managers:
            return
        meta = obj["metadata"] = {}
    if managed.managers:
        meta["managedFields"] = encode_managed_fields(managed.managers, managed.times)
    else:
        meta.pop("managedFields", None)


# --- the write pipeline ---------------------------------------------------------------------------


def _reset_set(reset_paths: Iterable[str] | FieldSet) -> FieldSet | None:
    if isinstance(reset_paths, FieldSet):
        return reset_paths if not reset_paths.is_empty() else None
    fs = FieldSet.from_dotted(reset_paths)
    return fs if not fs.is_empty() else None


# Optional struct fields that are plain (non-pointer) structs in upstream's Go types, so the zero
# value of their parent already has them. Required fields are in the zero value anyway.
_PLAIN_STRUCTS = frozenset({"metadata", "spec", "status", "template", "strategy", "updateStrategy"})
_ZEROS: dict[int, tuple[Schema, dict[str, Any]]] = {}


def _zero_of(s: Schema, depth: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if depth > 8:
        return out
    required = s.required
    for name, p in s.properties.items():
        kind = p.kind
        granular = kind == "object" and p.map_type != "atomic" and bool(p.properties)
        if name in required:
            if granular:
                out[name] = _zero_of(p, depth + 1)
            elif kind == "string" and not p.format:
                out[name] = ""
            elif kind == "integer" or kind == "number":
                out[name] = 0
            elif kind == "boolean":
                out[name] = False
            elif kind in ("array", "map", "object", "any"):
                out[name] = None
        elif granular and name in _PLAIN_STRUCTS:
            out[name] = _zero_of(p, depth + 1)
    return out


def _zero(schema: Schema | None, empty: dict[str, Any] | None) -> dict[str, Any]:
    """What an object of this kind holds before anything is set (upstream: the Go zero value of the
    type, as the structured converter sees it). Custom resources start from nothing."""
    if empty is not None:
        return empty
    if schema is None or not schema.name or schema.kind != "object":
        return {}
    hit = _ZEROS.get(id(schema))
    if hit is not None and hit[0] is schema:
        return hit[1]
    zero = _zero_of(schema, 0)
    zero.pop("apiVersion", None)
    zero.pop("kind", None)
    _ZEROS[id(schema)] = (schema, zero)
    return zero


def _typed_view(obj: dict[str, Any], zero: dict[str, Any]) -> dict[str, Any]:
    """`obj` as upstream sees it after decoding into its type: fields of the zero value it lacks are
    there with their zero values. Only the dicts along `zero` are copied."""
    out: dict[str, Any] | None = None
    for k, zv in zero.items():
        v = obj.get(k, _ABSENT)
        if v is _ABSENT:
            nv = zv
        elif type(v) is dict and type(zv) is dict and zv:
            nv = _typed_view(v, zv)
            if nv is v:
                continue
        else:
            continue
        if out is None:
            out = dict(obj)
        out[k] = nv
    return obj if out is None else out


def _strip(managers: Managers, mid: str) -> None:
    vs = managers.get(mid)
    if vs is None:
        return
    s = vs.set.difference(STRIPPED)
    if s.is_empty():
        del managers[mid]
    elif s is not vs.set:
        managers[mid] = VersionedSet(s, vs.api_version, vs.applied)


def _tracked_update(
    live: dict[str, Any],
    new: dict[str, Any],
    managed: _Managed,
    mid: str,
    api_version: str,
    schema: Schema | None,
    reset: FieldSet | None,
    now: str,
) -> _Managed:
    """One Update through upstream's managedFieldsUpdater, stripMeta and structured merge."""
    managers = update_fields(
        live,
        new,
        version=api_version,
        managers=managed.managers,
        manager=_CURRENT,
        schema=schema,
        reset=reset,
    )
    _strip(managers, _CURRENT)
    times = managed.times
    current = managers.pop(_CURRENT, None)
    if current is not None:
        previous = managers.get(mid)
        s = current.set if previous is None else previous.set.union(current.set)
        managers[mid] = VersionedSet(s, current.api_version, False)
        times = dict(times)
        times[mid] = now
    return _Managed(managers, times)


def _cap(managed: _Managed, limit: int = MAX_UPDATE_MANAGERS) -> _Managed:
    """Merge the oldest Update entries into `ancient-changes` (one per apiVersion) until `limit` are
    left (upstream capManagersManager)."""
    managers, times = managed
    updaters = [m for m, vs in managers.items() if not vs.applied]
    if len(updaters) <= limit:
        return managed
    managers = dict(managers)
    times = dict(times)
    updaters.sort(key=lambda m: (_seconds(times.get(m)), m))
    first_of_version: dict[str, str] = {}
    length = len(updaters)
    for mid in updaters:
        if length <= limit:
            break
        vs = managers[mid]
        version = vs.api_version
        bucket = manager_id(ANCIENT_CHANGES, "Update", version)
        first = first_of_version.get(version)
        if first is None or mid == bucket:
            # (An existing bucket is never merged into itself; upstream would delete it here.)
            first_of_version.setdefault(version, mid)
            continue
        if bucket not in managers:
            managers[bucket] = managers.pop(first)
        managers[bucket] = VersionedSet(vs.set.union(managers[bucket].set), vs.api_version, vs.applied)
        del managers[mid]
        length -= 1
        times[bucket] = times.get(mid)
    return _Managed(managers, times)


def update_managed_fields(
    old: dict[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    schema: Schema | None,
    api_version: str,
    now: str,
    operation: str = "Update",
    subresource: str = "",
    reset_paths: Iterable[str] | FieldSet = (),
    empty: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`new` with metadata.managedFields updated for a POST, PUT or non-apply PATCH by `manager`.

    `old` is the stored object (None for a create); `new` the object about to be stored. The fields
    the write added or changed become `manager`'s (merged into its Update entry for this apiVersion
    and subresource, whose `time` becomes `now`); they leave every other manager, and removed fields
    leave everyone. A write that changes nothing leaves the entries and times alone.

    managedFields in `new` (main resource only) replace the stored ones when they decode and are
    non-empty; `[]` or `[{}]` reset them; anything else keeps the stored ones. An existing object
    without managedFields stays untracked. `reset_paths` (dotted, e.g. "status") are never recorded.
    `empty` is what a create is compared against (default: see `_zero`).

    `operation="Apply"` marks `new` as the result of `apply()`, whose managedFields are final: it is
    returned as is (upstream records no Update after an apply), so one call site can serve all writes.

    The result is a new dict (with its own metadata), but nested values are shared with `new`
    and `old`: treat it as read-only below metadata, or copy it. The `fieldsV1` documents of its
    managedFields may be shared with other results (field sets are immutable tries): never modify
    them in place.
    """
    if operation == "Apply":
        return _with_own_metadata(new)
    if operation != "Update":
        raise ValueError(f"operation must be 'Update' or 'Apply', not {operation!r}")
    managed = _live_or_new(old, new, bool(subresource))
    result = _without_managed_fields(new)
    if not managed.managers and old is not None:
        return result
    zero = _zero(schema, empty)
    mid = manager_id(manager or "unknown", "Update", api_version, subresource)
    if old is None and not managed.managers:
        # A create that brings no managedFields: the writer owns what differs from the zero value.
        # The same entry `_tracked_update` would record, without the other managers' bookkeeping.
        owned = changed(zero, _typed_view(result, zero), schema)
        reset = _reset_set(reset_paths)
        if reset is not None:
            owned = owned.recursive_difference(reset)
        owned = owned.difference(STRIPPED)
        if not owned.is_empty():
            _store(result, _Managed({mid: VersionedSet(owned, api_version, False)}, {mid: now}))
        return result
    live = _typed_view(_without_managed_fields(old), zero) if old is not None else zero
    managed = _tracked_update(
        live, _typed_view(result, zero), managed, mid, api_version, schema, _reset_set(reset_paths), now
    )
    managed = _cap(managed)
    _store(result, managed)
    return result


def fieldset_of(
    obj: dict[str, Any], schema: Schema | None, *, reset_paths: Iterable[str] | FieldSet = ()
) -> FieldSet:
    """The fields an applier of `obj` would own: every leaf and item, without the metadata paths
    nobody owns (apiVersion, kind, metadata.name, ...) and without `reset_paths` (e.g. "status")."""
    fs = to_set(obj, schema).difference(STRIPPED)
    reset = _reset_set(reset_paths)
    return fs.recursive_difference(reset) if reset is not None else fs


# --- apply ----------------------------------------------------------------------------------------


def _gvk_string(obj: dict[str, Any]) -> str:
    """The object's group/version/kind as Go prints a GroupVersionKind (`apps/v1, Kind=Deployment`);
    an apiVersion that does not parse gives the empty GVK, as upstream's accessor does."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    group, version = "", ""
    if isinstance(api_version, str) and api_version:
        parts = api_version.split("/")
        if len(parts) == 1:
            version = parts[0]
        elif len(parts) == 2:
            group, version = parts
        else:
            return "/, Kind="
    return f"{group}/{version}, Kind={kind if isinstance(kind, str) else ''}"


def _schema_kind(schema: Schema | None, api_version: str) -> str:
    if schema is None:
        return ""
    group, _, version = api_version.rpartition("/")
    for gvk in schema.raw.get("x-kubernetes-group-version-kind", ()) or ():
        if isinstance(gvk, dict) and gvk.get("group", "") == group and gvk.get("version") == version:
            return str(gvk.get("kind", ""))
    return ""


def _annotations(obj: dict[str, Any]) -> dict[str, Any] | None:
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        return None
    ann = meta.get("annotations")
    return ann if isinstance(ann, dict) else None


def _last_applied(obj: dict[str, Any]) -> str:
    ann = _annotations(obj)
    value = ann.get(LAST_APPLIED_ANNOTATION) if ann else None
    return value if isinstance(value, str) else ""


def build_last_applied(config: dict[str, Any]) -> str:
    """The last-applied annotation for `config`: itself without that annotation, as Go's JSON
    encoder writes it (sorted keys, HTML escaped, trailing newline)."""
    ann = _annotations(config)
    if ann is not None and LAST_APPLIED_ANNOTATION in ann:
        config = dict(config)
        meta = dict(config["metadata"])
        meta["annotations"] = {k: v for k, v in ann.items() if k != LAST_APPLIED_ANNOTATION}
        config["metadata"] = meta
    return go_json(config) + "\n"


def _with_last_applied(obj: dict[str, Any], value: str) -> dict[str, Any]:
    out = dict(obj)
    meta = dict(out.get("metadata") or {})
    ann = dict(meta.get("annotations") or {})
    ann[LAST_APPLIED_ANNOTATION] = value
    size = sum(len(str(k)) + len(str(v)) for k, v in ann.items())
    if size > _ANNOTATIONS_LIMIT:
        del ann[LAST_APPLIED_ANNOTATION]
    meta["annotations"] = ann
    out["metadata"] = meta
    return out


def _allowed_by_last_applied(
    live: dict[str, Any], api_version: str, schema: Schema | None
) -> FieldSet | None:
    """Fields a `kubectl` applier may take over on its first server-side apply: those of the
    client-side last-applied configuration whose live value is still the one it applied."""
    text = _last_applied(live)
    if not text:
        return None
    try:
        last = json.loads(text)
    except ValueError:
        return None
    if not isinstance(last, dict) or last.get("apiVersion") != api_version or validate(last, schema):
        return None
    cmp = compare(last, live, schema)
    return to_set(last, schema).difference(cmp.modified).difference(cmp.added).difference(cmp.removed)


def _drop_new_nulls(value: Any, live: Any) -> Any:
    """`value` without null map entries that `live` did not have (built-in types decode those away)."""
    if value is live:
        return value
    if type(value) is dict:
        base = live if type(live) is dict else None
        out: dict[str, Any] = {}
        for k, v in value.items():
            lv = base.get(k, _ABSENT) if base is not None else _ABSENT
            if v is None and lv is not None:
                continue
            out[k] = _drop_new_nulls(v, lv)
        return out
    if type(value) is list:
        if type(live) is list:
            live_ids = {id(x) for x in live}
            return [x if id(x) in live_ids else _drop_new_nulls(x, _ABSENT) for x in value]
        return [_drop_new_nulls(x, _ABSENT) for x in value]
    return value


def _deep_copy(obj: dict[str, Any]) -> dict[str, Any]:
    try:
        out = orjson.loads(orjson.dumps(obj))
    except TypeError:
        return copy.deepcopy(obj)
    assert isinstance(out, dict)
    return out


def apply(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    *,
    manager: str,
    schema: Schema | None,
    force: bool,
    api_version: str,
    now: str,
    kind: str = "",
    subresource: str = "",
    reset_paths: Iterable[str] | FieldSet = (),
    empty: dict[str, Any] | None = None,
    drop_nulls: bool | None = None,
) -> dict[str, Any]:
    """The object after server-side applying `config` as `manager`, managedFields included.

    `live` is the stored object (None: the apply creates it). The applier ends up owning exactly
    the fields of `config`; fields it applied before and dropped now are removed unless another
    manager owns them. Errors (StatusError):

    - 400 `invalid object type: <gvk>` when config's apiVersion/kind are not the endpoint's
      (`api_version`, and `kind`, taken from `live` or the schema when not given);
    - 400 `metadata.managedFields must be nil`;
    - 400 `failed to create typed patch object (ns/name; gvk): ...` for a config that does not fit
      the schema (unknown field, duplicate or missing list keys; upstream answers 500 here);
    - 409 Conflict with `FieldManagerConflict` causes when another manager owns a changed field and
      `force` is false (with `force` those fields move to this applier).

    If nothing changes, the result is `live` with the new managedFields and the applier's `time`
    untouched. Nulls the apply introduces are dropped for built-in schemas (`drop_nulls`, default:
    the schema has a definition name), as decoding into the typed object does upstream. Defaulting
    and reset-field wiping (status on the main resource) are the caller's. The result shares nothing
    with the inputs.
    """
    expected_kind = (
        kind or (str(live.get("kind") or "") if live is not None else "") or _schema_kind(schema, api_version)
    )
    if config.get("apiVersion") != api_version or (expected_kind and config.get("kind") != expected_kind):
        raise bad_request(f"invalid object type: {_gvk_string(config)}")
    meta = config.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("managedFields"), list):
        raise bad_request("metadata.managedFields must be nil")
    errors = validate(config, schema)
    if errors:
        meta = meta if isinstance(meta, dict) else {}
        where = f"{meta.get('namespace') or ''}/{meta.get('name') or ''}; {_gvk_string(config)}"
        text = errors[0] if len(errors) == 1 else "errors:\n" + "\n".join("  " + e for e in errors)
        raise bad_request(f"failed to create typed patch object ({where}): {text}")
    try:
        stored = decode_managed_fields(_managed_fields_of(live))
    except ManagedFieldsError as exc:
        raise internal(f"failed to decode managed fields: {exc}") from None
    base = _without_managed_fields(live) if live is not None else {}
    reset = _reset_set(reset_paths)
    mid = manager_id(manager or "unknown", "Apply", api_version, subresource)

    def attempt(force: bool) -> tuple[dict[str, Any], _Managed]:
        managed = stored
        if not managed.managers and live is not None:
            first = manager_id(BEFORE_FIRST_APPLY, "Update", api_version, subresource)
            zero = _zero(schema, empty)
            managed = _cap(
                _tracked_update(
                    zero, _typed_view(base, zero), managed, first, api_version, schema, reset, now
                )
            )
        merged, managers = apply_fields(
            base,
            config,
            version=api_version,
            managers=managed.managers,
            manager=mid,
            force=force,
            schema=schema,
            reset=reset,
        )
        _strip(managers, mid)
        before, after = managed.managers.get(mid), managers.get(mid)
        if before is not None and after is not None and after.set == before.set:
            # Re-applying the same fields: keep the stored set, already in wire order.
            managers[mid] = VersionedSet(before.set, after.api_version, True)
        times = managed.times
        if merged is not None:
            times = dict(times)
            times[mid] = now
        return (merged if merged is not None else base), _Managed(managers, times)

    try:
        obj, managed = attempt(force)
    except ConflictError as exc:
        conflicts = exc.conflicts
        if manager == "kubectl" and live is not None:
            allowed = _allowed_by_last_applied(base, api_version, schema)
            if allowed is not None:
                conflicts = [c for c in conflicts if not allowed.has(c.path)]
        if conflicts:
            raise conflict_error(conflicts) from None
        obj, managed = attempt(True)
    if manager == "kubectl" and _last_applied(obj):
        obj = _with_last_applied(obj, build_last_applied(config))
    if drop_nulls is None:
        drop_nulls = schema is not None and bool(schema.name)
    if drop_nulls and obj is not base:
        obj = _drop_new_nulls(obj, base)
    obj = _with_own_metadata(obj)
    _store(obj, managed)
    return _deep_copy(obj)
