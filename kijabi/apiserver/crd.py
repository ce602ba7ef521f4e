"""CustomResourceDefinitions: served dynamically through the same generic path as built-in types.

`CRDController` follows CRD objects in the watch cache. For each CRD it registers one `Resource` per
served version (schema from that version's openAPIV3Schema, strategy `CustomResourceStrategy`), and
writes the status upstream's controllers write: acceptedNames, storedVersions and the NamesAccepted and
Established conditions. Registry changes bump its generation, so discovery and OpenAPI update live.

Custom objects are stored with the storage version's apiVersion; reading them through another served
version rewrites apiVersion (conversion strategy `None`).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kijabi.apiserver.resources import ALL_VERBS, Resource
from kijabi.apiserver.store import WriteOptions
from kijabi.apiserver.strategy import Strategy
from kijabi.machinery import errors, schema
from kijabi.machinery.meta import rfc3339
from kijabi.machinery.printers import Printer, crd_printer

if TYPE_CHECKING:
    from kijabi.apiserver.app import APIServer

log = logging.getLogger(__name__)

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


class CRDStrategy(Strategy):
    """The CustomResourceDefinition object itself."""

    tracks_generation = True

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        fins = obj["metadata"].setdefault("finalizers", [])
        if CLEANUP_FINALIZER not in fins:
            fins.append(CLEANUP_FINALIZER)
        storage = [v["name"] for v in (obj.get("spec") or {}).get("versions") or [] if v.get("storage")]
        obj["status"] = {"storedVersions": storage[:1], "conditions": [], "acceptedNames": {"plural": "", "kind": ""}}

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[errors.FieldError]:
        from kijabi.machinery import structural

        errs = super().validate(obj, old)
        for i, v in enumerate((obj.get("spec") or {}).get("versions") or []):
            raw = (v.get("schema") or {}).get("openAPIV3Schema")
            if raw is not None:
                errs.extend(structural.check_structural(raw, f"spec.versions[{i}].schema.openAPIV3Schema",
                                                        status_subresource="status" in (v.get("subresources") or {})))
        return errs


class CustomResourceStrategy(Strategy):
    tracks_generation = True

    def __init__(self, resource: Resource, *, storage_version: str, printer_columns: list[dict[str, Any]]) -> None:
        super().__init__(resource)
        self.storage_version = storage_version
        self.printer_columns = printer_columns
        self.needs_conversion = resource.version != storage_version

    @property
    def printer(self) -> Printer:
        if self._printer is None:
            self._printer = crd_printer(self.printer_columns)
        return self._printer

    def convert_out(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["apiVersion"] = self.resource.api_version
        return obj

    def convert_in(self, obj: dict[str, Any]) -> None:
        obj["apiVersion"] = f"{self.resource.group}/{self.storage_version}"

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """A custom resource's status write changes only status (apiextensions' status strategy)."""
        result = super().prepare_for_status_update(new, old)
        for key in ("annotations", "labels"):
            if key in old["metadata"]:
                result["metadata"][key] = old["metadata"][key]
            else:
                result["metadata"].pop(key, None)
        return result

    def decode(self, obj: dict[str, Any], validation: str) -> list[str]:
        from kijabi.machinery import structural

        warnings: list[str] = []
        r = self.resource
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
            structural.apply_defaults(obj, r.schema)
        return warnings

    def default(self, obj: dict[str, Any]) -> None:
        from kijabi.machinery import structural

        if self.resource.schema is not None:
            structural.apply_defaults(obj, self.resource.schema)

    def validate(self, obj: dict[str, Any], old: dict[str, Any] | None) -> list[errors.FieldError]:
        from kijabi.machinery import structural, validation

        r = self.resource
        errs = validation.validate(r.group, r.version, r.kind, obj, old, namespaced=r.namespaced)
        if r.schema is not None:
            errs.extend(structural.validate(obj, r.schema, old=old if old is not None else structural.MISSING))
        return errs


def _condition(kind: str, reason: str, message: str, now: str) -> dict[str, Any]:
    return {"type": kind, "status": "True", "lastTransitionTime": now, "reason": reason, "message": message}


def resources_for(crd: dict[str, Any]) -> list[Resource]:
    spec = crd.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    plural = names.get("plural", "")
    kind = names.get("kind", "")
    versions = spec.get("versions") or []
    storage_version = next((v["name"] for v in versions if v.get("storage")), versions[0]["name"] if versions else "")
    out = []
    for v in versions:
        if not v.get("served"):
            continue
        subs: dict[str, str] = {}
        sub_spec = v.get("subresources") or {}
        scale_paths = None
        if "status" in sub_spec:
            subs["status"] = ""
        if sub_spec.get("scale") is not None:
            sc = sub_spec["scale"]
            subs["scale"] = "autoscaling/v1/Scale"
            scale_paths = (sc.get("specReplicasPath", ".spec.replicas"), sc.get("statusReplicasPath", ".status.replicas"),
                           sc.get("labelSelectorPath") or "")
        raw_schema = ((v.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        r = Resource(
            group=group, version=v["name"], plural=plural, kind=kind, namespaced=spec.get("scope") == "Namespaced",
            verbs=ALL_VERBS, short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=subs, storage_prefix=f"/registry/{group}/{plural}/", schema=schema.from_openapi_v3(raw_schema),
            crd=True, scale_paths=scale_paths,
        )
        r.strategy = CustomResourceStrategy(r, storage_version=storage_version,
                                            printer_columns=v.get("additionalPrinterColumns") or [])
        out.append(r)
    return out


class CRDController:
    def __init__(self, server: APIServer) -> None:
        self.server = server
        self.crds = server.registry.get("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        assert self.crds is not None
        self._names: dict[str, tuple[str, str]] = {}  # CRD name -> (group, plural)

    async def start(self) -> None:
        """Register every stored CRD before the server serves, then follow changes."""
        cache = self.server.cache
        assert self.crds is not None
        for co in list(cache.list(self.crds.storage_prefix, self.crds.storage_prefix)):
            self.sync(co.obj())
        watcher = cache.watch(self.crds.storage_prefix, self.crds.storage_prefix, cache.revision, lambda co: True)
        self.server.spawn(self._follow(watcher), "crd-controller")

    async def _follow(self, watcher: Any) -> None:
        try:
            while True:
                ev = await watcher.queue.get()
                if ev is None:
                    return
                obj = ev.obj.obj()
                if ev.type == "DELETED":
                    self.remove(obj)
                elif obj["metadata"].get("deletionTimestamp"):
                    await self.cleanup(obj)
                else:
                    self.sync(obj)
                    await self.update_status(obj)
        finally:
            watcher.close()

    def sync(self, crd: dict[str, Any]) -> None:
        name = crd["metadata"]["name"]
        spec = crd.get("spec") or {}
        group, plural = spec.get("group", ""), (spec.get("names") or {}).get("plural", "")
        old = self._names.get(name)
        if old and old != (group, plural):
            self.server.registry.replace_group_resources(*old, [])
        resources = resources_for(crd)
        cache = self.server.cache
        for r in resources:
            assert r.strategy is not None
            cache.set_fields(r.storage_prefix, r.strategy.fields)
        self.server.registry.replace_group_resources(group, plural, resources)
        self._names[name] = (group, plural)

    def remove(self, crd: dict[str, Any]) -> None:
        key = self._names.pop(crd["metadata"]["name"], None)
        if key:
            self.server.registry.replace_group_resources(*key, [])

    async def cleanup(self, crd: dict[str, Any]) -> None:
        """A deleted CRD takes its objects with it, then drops the cleanup finalizer."""
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        store = self.server.store
        spec = crd.get("spec") or {}
        prefix = f"/registry/{spec.get('group', '')}/{(spec.get('names') or {}).get('plural', '')}/"
        while True:
            page = await store.storage.list(prefix, limit=500)
            for kv in page.items:
                try:
                    await store.storage.delete(kv.key)
                except Exception:
                    log.debug("cleanup of %s: delete failed", kv.key)
            if not page.more:
                break
        assert self.crds is not None

        async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
            assert old is not None
            old["metadata"]["finalizers"] = [f for f in old["metadata"].get("finalizers") or [] if f != CLEANUP_FINALIZER]
            return old

        try:
            await store.update(self.crds, "", crd["metadata"]["name"], transform,
                               WriteOptions(field_manager="kube-apiserver"), bypass_strategy=True)
        except errors.StatusError as exc:
            if exc.code != 404:
                log.warning("could not finish deleting CRD %s: %s", crd["metadata"]["name"], exc.message)

    async def update_status(self, crd: dict[str, Any]) -> None:
        spec = crd.get("spec") or {}
        status = crd.get("status") or {}
        types = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        storage = next((v["name"] for v in spec.get("versions") or [] if v.get("storage")), None)
        if (types.get("Established") == "True" and types.get("NamesAccepted") == "True"
                and status.get("acceptedNames") == spec.get("names") and storage in (status.get("storedVersions") or [])):
            return
        assert self.crds is not None
        now = rfc3339(self.server.store.clock())

        async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
            assert old is not None
            st = old.setdefault("status", {})
            st["acceptedNames"] = (old.get("spec") or {}).get("names") or {}
            stored = list(st.get("storedVersions") or [])
            if storage and storage not in stored:
                stored.append(storage)
            st["storedVersions"] = stored
            conds = [c for c in st.get("conditions") or [] if c.get("type") not in ("NamesAccepted", "Established")]
            conds.append(_condition("NamesAccepted", "NoConflicts", "no conflicts found", now))
            conds.append(_condition("Established", "InitialNamesAccepted", "the initial names have been accepted", now))
            st["conditions"] = conds
            return old

        try:
            await self.server.store.update(self.crds, "", crd["metadata"]["name"], transform,
                                           WriteOptions(field_manager="kube-apiserver", subresource="status"), bypass_strategy=True)
        except errors.StatusError as exc:
            if exc.code != 404:
                log.warning("could not update status of CRD %s: %s", crd["metadata"]["name"], exc.message)
        await asyncio.sleep(0)
