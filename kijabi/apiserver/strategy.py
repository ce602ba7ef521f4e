"""Per-resource behaviour behind the generic store (upstream's `rest.RESTCreateStrategy` & co).

The generic code calls these hooks in a fixed order (see `store.py`); a resource that behaves
differently from the default subclasses `Strategy` in `kijabi/apiserver/strategies/` and overrides only
what differs. Generic code never branches on a kind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from kijabi.machinery import defaults as _defaults
from kijabi.machinery import errors
from kijabi.machinery import validation as _validation
from kijabi.machinery.printers import Printer, printer_for

if TYPE_CHECKING:
    from kijabi.apiserver.resources import Resource
    from kijabi.apiserver.store import Store


def _without(obj: dict[str, Any], *drop: str) -> bytes:
    return orjson.dumps({k: v for k, v in obj.items() if k not in drop}, option=orjson.OPT_SORT_KEYS)


class Strategy:
    """Default behaviour of a stored resource."""

    # metadata.generation starts at 1 and grows when anything but metadata/status changes.
    tracks_generation = False
    # DELETE answers with the deleted object rather than a Status (upstream ReturnDeletedObject).
    return_deleted_object = False
    # Extra selectable fields beyond metadata.name / metadata.namespace.
    selectable_fields: tuple[str, ...] = ()
    # Status writes may change metadata labels (annotations always), as built-in status strategies allow.
    status_keeps_labels = True
    allow_create_on_update = False
    allow_unconditional_update = True
    # Objects are stored in another version than this resource serves (CRDs with several versions).
    needs_conversion = False

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self._printer: Printer | None = None

    # -- reading ------------------------------------------------------------------------------------

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        meta = obj.get("metadata") or {}
        out = {"metadata.name": meta.get("name", "")}
        if self.resource.namespaced:
            out["metadata.namespace"] = meta.get("namespace", "")
        for path in self.selectable_fields:
            out[path] = _field_value(obj, path)
        return out

    def allowed_fields(self) -> tuple[str, ...]:
        base = ("metadata.name", "metadata.namespace") if self.resource.namespaced else ("metadata.name",)
        return base + self.selectable_fields

    @property
    def printer(self) -> Printer:
        if self._printer is None:
            self._printer = printer_for(self.resource.group, self.resource.plural)
        return self._printer

    # -- writing ------------------------------------------------------------------------------------

    def decode(self, obj: dict[str, Any], validation: str) -> list[str]:
        """Checks and defaults for a decoded body; returns warnings (see `decode_checks`)."""
        return decode_checks(self, obj, validation)

    async def create_virtual(self, ctx: Any, request: Any, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        """POST to a resource that is not stored (reviews): compute and return the answer."""
        raise errors.method_not_allowed(f"create is not supported on {self.resource.plural}")

    def default(self, obj: dict[str, Any]) -> None:
        r = self.resource
        _defaults.default(r.group, r.version, r.kind, obj)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        if self.resource.subresources.get("status") is not None:
            obj.pop("status", None)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        if "status" in self.resource.subresources:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if self.tracks_generation:
            gen = old.get("metadata", {}).get("generation", 1)
            if _without(new, "metadata", "status") != _without(old, "metadata", "status"):
                gen += 1
            new["metadata"]["generation"] = gen

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """A status write keeps everything of `old` but status (and the metadata clients may change)."""
        result: dict[str, Any] = orjson.loads(orjson.dumps(old))
        if "status" in new:
            result["status"] = new["status"]
        else:
            result.pop("status", None)
        meta_new = new.get("metadata") or {}
        meta = result["metadata"]
        for key in ("annotations", "labels") if self.status_keeps_labels else ("annotations",):
            if meta_new.get(key):
                meta[key] = meta_new[key]
            else:
                meta.pop(key, None)
        if "resourceVersion" in meta_new:
            meta["resourceVersion"] = meta_new["resourceVersion"]
        if "managedFields" in meta_new:
            meta["managedFields"] = meta_new["managedFields"]
        return result

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[errors.FieldError]:
        r = self.resource
        return _validation.validate(r.group, r.version, r.kind, obj, old, namespaced=r.namespaced)

    async def admit_create(self, store: Store, obj: dict[str, Any], *, dry_run: bool) -> None:
        """Mutating/validating admission for creates (after defaults, before validation)."""

    async def admit_update(self, store: Store, obj: dict[str, Any], old: dict[str, Any], *, dry_run: bool) -> None:
        """Admission for updates."""

    async def admit_delete(self, store: Store, obj: dict[str, Any]) -> None:
        """Admission for deletes (before anything changes)."""

    async def after_create_failed(self, store: Store, obj: dict[str, Any]) -> None:
        """Undo what admit_create reserved (allocations) when the write did not happen."""

    async def after_delete(self, store: Store, obj: dict[str, Any]) -> None:
        """Release what the object held (allocations) once it is gone from the store."""

    def graceful_period(self, obj: dict[str, Any], requested: int | None) -> int:
        """Seconds of graceful deletion for this object (0: remove at once)."""
        return 0

    def reset_paths(self, subresource: str) -> tuple[str, ...]:
        """Paths a write through `subresource` may not set, so no manager owns them there (SSA)."""
        if "status" not in self.resource.subresources:
            return ()
        return ("spec", "metadata.labels") if subresource == "status" else ("status",)

    def convert_in(self, obj: dict[str, Any]) -> None:
        """To the stored version, in place (only called when `needs_conversion`)."""

    def convert_out(self, obj: dict[str, Any]) -> dict[str, Any]:
        """From the stored version to the served one (only called when `needs_conversion`)."""
        return obj

    def delete_pending(self, obj: dict[str, Any]) -> bool:
        """Whether a deleted object must stay for a reason other than metadata.finalizers."""
        return False

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        """Changes made when graceful deletion starts (e.g. a namespace turns Terminating)."""

    def default_propagation(self) -> str:
        return "Background"


def _field_value(obj: dict[str, Any], path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def decode_checks(strategy: Strategy, obj: dict[str, Any], validation: str) -> list[str]:
    """Type errors (400), unknown fields per fieldValidation (400 or warnings), pruning, defaults."""
    from kijabi.machinery import structural

    r = strategy.resource
    warnings: list[str] = []
    if r.schema is not None:
        type_errors, unknown = structural.check(obj, r.schema)
        if type_errors:
            raise errors.bad_request(structural.decode_failure(r.kind, r.version, type_errors[0]))
        if unknown:
            if validation == "Strict":
                raise errors.bad_request(structural.strict_failure(r.kind, r.version, unknown))
            if validation == "Warn":
                warnings = unknown
            structural.prune(obj, r.schema)
    strategy.default(obj)
    return warnings
