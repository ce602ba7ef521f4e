"""The generic store: every resource's create/get/list/update/patch/delete over the `Storage`.

Upstream's `genericregistry.Store`. Order of work on a write (DEFAULTS-AND-VALIDATION.md section 0):
decode + defaults (by the caller) -> system metadata -> strategy prepare -> admission -> validation ->
managedFields -> store. Reads of lists and watches come from the watch cache; single-object reads and
every write go to the store. Objects are stored without `metadata.resourceVersion`; it is the key's mod
revision and is set on the way out.
"""

from __future__ import annotations

import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from kijabi.apiserver.resources import Registry, Resource
from kijabi.apiserver.watchcache import CachedObject, WatchCache, with_resource_version
from kijabi.machinery import errors, meta, quota
from kijabi.machinery.apply import update_managed_fields
from kijabi.machinery.fields import FieldSelector
from kijabi.machinery.labels import Selector
from kijabi.storage import (
    MAX_VALUE_BYTES,
    Compacted,
    Conflict,
    FutureRevision,
    KeyExists,
    KeyValue,
    Storage,
    StorageError,
)

log = logging.getLogger(__name__)

MAX_GENERATE_ATTEMPTS = 8
_SYSTEM_META = ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation")


@dataclass
class WriteOptions:
    dry_run: bool = False
    field_manager: str = ""
    subresource: str = ""
    operation: str = "Update"  # "Apply": the object comes from server-side apply, managedFields are final


@dataclass
class ListOptions:
    labels: Selector
    fields: FieldSelector
    limit: int = 0
    continue_: str = ""
    resource_version: str = ""
    resource_version_match: str = ""


@dataclass
class ListPage:
    items: list[CachedObject]
    revision: int
    continue_: str = ""
    remaining: int | None = None


@dataclass
class DeleteOptions:
    propagation: str | None = None
    grace_period: int | None = None
    uid: str | None = None
    resource_version: str | None = None
    dry_run: bool = False


@dataclass
class DeleteResult:
    obj: dict[str, Any]
    deleted: bool  # removed from the store now (vs. pending finalizers or grace)
    extras: dict[str, Any] = field(default_factory=dict)


def _too_large(res: Resource) -> errors.StatusError:
    return errors.StatusError(413, "RequestEntityTooLarge", "etcdserver: request is too large")


class Store:
    def __init__(self, storage: Storage, cache: WatchCache, registry: Registry, *, clock: Callable[[], float] = time.time) -> None:
        self.storage = storage
        self.cache = cache
        self.registry = registry
        self.clock = clock
        self._active_namespaces: dict[str, int] = {}  # namespace key -> revision seen active (creates allowed)

    # -- encoding -----------------------------------------------------------------------------------

    @staticmethod
    def encode(res: Resource, obj: dict[str, Any]) -> bytes:
        """The stored form: no resourceVersion, in the storage version."""
        m = obj.get("metadata") or {}
        rv = m.pop("resourceVersion", None)
        api_version = obj.get("apiVersion")
        try:
            if res.strategy is not None and res.strategy.needs_conversion:
                res.strategy.convert_in(obj)
            # apiVersion, kind and metadata first: readers splice resourceVersion in without decoding.
            ordered = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "metadata": m}
            ordered.update(obj)
            return orjson.dumps(ordered)
        finally:
            if rv is not None:
                m["resourceVersion"] = rv
            if api_version is not None:
                obj["apiVersion"] = api_version

    @staticmethod
    def decode(res: Resource, kv: KeyValue) -> dict[str, Any]:
        obj: dict[str, Any] = orjson.loads(kv.value)
        obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
        if res.strategy is not None and res.strategy.needs_conversion:
            obj = res.strategy.convert_out(obj)
        return obj

    async def get_raw(self, res: Resource, namespace: str, name: str) -> bytes:
        """GET's JSON body, from the stored bytes when no conversion is needed."""
        kv = await self._get_kv(res, namespace, name)
        if res.strategy is None or not res.strategy.needs_conversion:
            data = with_resource_version(kv.value, kv.mod_revision)
            if data is not None:
                return data
        return orjson.dumps(self.decode(res, kv))

    @staticmethod
    def served(res: Resource, co: CachedObject) -> bytes:
        """A cached object's bytes as this resource's version serves them."""
        if res.strategy is not None and res.strategy.needs_conversion:
            return orjson.dumps(res.strategy.convert_out(co.obj()))
        return co.data

    @staticmethod
    def served_obj(res: Resource, co: CachedObject) -> dict[str, Any]:
        obj = co.obj()
        if res.strategy is not None and res.strategy.needs_conversion:
            obj = res.strategy.convert_out(obj)
        return obj

    def _key(self, res: Resource, namespace: str, name: str) -> str:
        return res.key(namespace, name)

    # -- reads --------------------------------------------------------------------------------------

    async def get(self, res: Resource, namespace: str, name: str) -> dict[str, Any]:
        kv = await self._get_kv(res, namespace, name)
        return self.decode(res, kv)

    async def _get_kv(self, res: Resource, namespace: str, name: str) -> KeyValue:
        try:
            kv = await self.storage.get(self._key(res, namespace, name))
        except StorageError as exc:
            raise errors.service_unavailable(str(exc)) from exc
        if kv is None:
            raise errors.not_found(res.plural, res.group, name)
        return kv

    def matcher(self, opts: ListOptions) -> Callable[[CachedObject], bool] | None:
        if opts.labels.empty() and opts.fields.empty():
            return None
        lab, fld = opts.labels, opts.fields
        return lambda co: lab.matches(co.labels) and fld.matches(co.fields)

    async def list(self, res: Resource, namespace: str | None, opts: ListOptions) -> ListPage:
        prefix = res.prefix(namespace)
        match = self.matcher(opts)
        if opts.continue_:
            rev, start = _decode_continue(opts.continue_, prefix)
            return await self._list_from_store(res, prefix, rev, start, opts, match)
        if opts.resource_version_match == "Exact":
            rev = _parse_rv(opts.resource_version)
            return await self._list_from_store(res, prefix, rev, "", opts, match)
        if opts.resource_version not in ("", "0"):
            await self._wait(_parse_rv(opts.resource_version))
        elif opts.resource_version == "":
            await self._wait(await self.storage.current_revision())
        revision = self.cache.revision
        items = list(self.cache.list(prefix, res.storage_prefix, match))
        if opts.limit > 0 and len(items) > opts.limit and opts.resource_version != "0":
            rest = len(items) - opts.limit
            items = items[: opts.limit]
            token = _encode_continue(revision, items[-1].key[len(prefix):])
            return ListPage(items, revision, token, rest if match is None else None)
        return ListPage(items, revision)

    async def _wait(self, rev: int) -> None:
        try:
            await self.cache.wait_for(rev, timeout=3.0)
        except TimeoutError:
            raise errors.StatusError(
                504, "Timeout", f"Too large resource version: {rev}, current: {self.cache.revision}",
                details={"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}], "retryAfterSeconds": 1},
            ) from None

    async def _list_from_store(self, res: Resource, prefix: str, rev: int, start: str, opts: ListOptions,
                               match: Callable[[CachedObject], bool] | None) -> ListPage:
        out: list[CachedObject] = []
        after = prefix + start if start else ""
        fields_fn = res.strategy.fields if res.strategy else None
        try:
            while True:
                want = (opts.limit - len(out)) if opts.limit else 0
                page = await self.storage.list(prefix, revision=rev, limit=max(want, 0) if want else 0, start_after=after)
                rev = page.revision
                for kv in page.items:
                    obj = self.decode(res, kv)
                    m = obj["metadata"]
                    co = CachedObject(kv.key, kv.mod_revision, orjson.dumps(obj), m.get("name", ""), m.get("namespace", ""),
                                      m.get("labels") or {}, fields_fn(obj) if fields_fn else {})
                    if match is None or match(co):
                        out.append(co)
                if not page.more:
                    return ListPage(out, rev)
                after = page.items[-1].key
                if opts.limit and len(out) >= opts.limit:
                    remaining = page.remaining if match is None else None
                    return ListPage(out, rev, _encode_continue(rev, after[len(prefix):]), remaining)
        except Compacted:
            if opts.continue_:
                raise errors.StatusError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.") from None
            raise errors.expired(f"too old resource version: {rev}") from None
        except FutureRevision as exc:
            raise errors.StatusError(504, "Timeout", f"Too large resource version: {exc.requested}, current: {exc.current}") from None

    # -- namespace lifecycle -------------------------------------------------------------------------

    async def check_namespace(self, res: Resource, namespace: str) -> None:
        """No creates in a missing or terminating namespace (NamespaceLifecycle admission)."""
        if not res.namespaced:
            return
        key = f"/registry/namespaces/{namespace}"
        co = self.cache.get(key)
        if co is not None and self._active_namespaces.get(key) == co.rv:
            return  # this very revision of the namespace was seen active
        ns: dict[str, Any] | None = co.obj() if co else None
        if ns is None:
            kv = await self.storage.get(key)
            ns = orjson.loads(kv.value) if kv else None
        if ns is None:
            raise errors.not_found("namespaces", "", namespace)
        if (ns.get("status") or {}).get("phase") == "Terminating" or ns["metadata"].get("deletionTimestamp"):
            raise errors.StatusError(
                403, "Forbidden",
                f'{res.plural} "{"" }" is forbidden: unable to create new content in namespace {namespace} because it is being terminated',
                details={"causes": [{"reason": "NamespaceTerminating", "message": f"namespace {namespace} is being terminated", "field": "metadata.namespace"}],
                         "kind": res.plural, "group": res.group or None},
            )
        if co is not None:
            if len(self._active_namespaces) >= 4096:
                self._active_namespaces.clear()
            self._active_namespaces[key] = co.rv

    # -- create -------------------------------------------------------------------------------------

    async def create(self, res: Resource, namespace: str, obj: dict[str, Any], opts: WriteOptions) -> dict[str, Any]:
        return (await self.create_with_body(res, namespace, obj, opts))[0]

    async def create_with_body(self, res: Resource, namespace: str, obj: dict[str, Any],
                               opts: WriteOptions) -> tuple[dict[str, Any], bytes | None]:
        """`create`, plus the created object's JSON as a GET serves it, made from the stored bytes
        (None for dry runs and for resources served in another version than the stored one)."""
        strategy = res.strategy
        assert strategy is not None
        m = meta.metadata(obj)
        if m.get("resourceVersion"):
            raise errors.bad_request("resourceVersion should not be set on objects to be created")
        if res.namespaced:
            m["namespace"] = namespace
        else:
            m.pop("namespace", None)
        for k in ("deletionTimestamp", "deletionGracePeriodSeconds"):
            m.pop(k, None)
        m["uid"] = meta.new_uid()
        m["creationTimestamp"] = meta.rfc3339(self.clock())
        strategy.prepare_for_create(obj)
        generated = not m.get("name") and bool(m.get("generateName"))
        await self.check_namespace(res, namespace)
        await strategy.admit_create(self, obj, dry_run=opts.dry_run)
        # From here on, what admission reserved is released if the object is not stored.
        try:
            for attempt in range(MAX_GENERATE_ATTEMPTS):
                if generated:
                    m["name"] = meta.generate_name(m["generateName"])
                normalize_metadata(obj)
                self._validate(res, obj, None)
                managed = update_managed_fields(
                    None, obj, manager=opts.field_manager, operation=opts.operation, schema=res.schema,
                    api_version=res.api_version, now=meta.rfc3339(self.clock()), subresource=opts.subresource,
                    reset_paths=strategy.reset_paths(opts.subresource),
                )
                if opts.dry_run:
                    return managed, None
                if attempt == 0 and res.namespaced:
                    await self._admit_quota(res, namespace, managed)
                data = self.encode(res, managed)
                try:
                    kv = await self.storage.create(self._key(res, namespace, m["name"]), data)
                except KeyExists:
                    if generated and attempt + 1 < MAX_GENERATE_ATTEMPTS:
                        continue
                    raise errors.already_exists(res.plural, res.group, m["name"]) from None
                managed["metadata"]["resourceVersion"] = str(kv.mod_revision)
                served = None if strategy.needs_conversion else with_resource_version(data, kv.mod_revision)
                return managed, served
            raise errors.already_exists(res.plural, res.group, m.get("name", ""))
        except BaseException:
            await strategy.after_create_failed(self, obj)
            raise

    async def _admit_quota(self, res: Resource, namespace: str, obj: dict[str, Any]) -> None:
        """ResourceQuota admission: charge the namespace's quotas (status.used, compare-and-swap) or 403."""
        quotas_res = self.registry.get("", "v1", "resourcequotas")
        assert quotas_res is not None
        quotas = [co.obj() for co in self.cache.list(quotas_res.prefix(namespace), quotas_res.storage_prefix)]
        for _ in range(3):
            if not quotas:
                return
            updates = quota.check_request(quotas, group=res.group, resource=res.plural, obj=obj, now=self.clock())
            try:
                for u in updates:
                    await self._charge(quotas_res, namespace, u)
                return
            except errors.StatusError as exc:
                if exc.code != 409:
                    raise
            page = await self.storage.list(quotas_res.prefix(namespace))
            quotas = [self.decode(quotas_res, kv) for kv in page.items]
        raise errors.conflict("resourcequotas", "", namespace, "quota usage could not be updated; please retry")

    async def _charge(self, quotas_res: Resource, namespace: str, update: quota.QuotaUpdate) -> None:
        async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
            assert old is not None
            old["metadata"]["resourceVersion"] = update.resource_version
            old.setdefault("status", {})["used"] = update.used
            return old

        await self.update(quotas_res, namespace, update.name, transform,
                          WriteOptions(field_manager="kube-apiserver", subresource="status"), bypass_strategy=True)

    def _validate(self, res: Resource, obj: dict[str, Any], old: dict[str, Any] | None) -> None:
        assert res.strategy is not None
        errs = res.strategy.validate(obj, old)
        if errs:
            raise errors.invalid(res.kind, res.group, obj.get("metadata", {}).get("name", ""), errs)

    # -- update (PUT, PATCH, subresources) -------------------------------------------------------

    async def update(
        self,
        res: Resource,
        namespace: str,
        name: str,
        transform: Callable[[dict[str, Any] | None], Awaitable[dict[str, Any]]],
        opts: WriteOptions,
        *,
        create_missing: bool = False,
        bypass_strategy: bool = False,
    ) -> tuple[dict[str, Any], bool]:
        """Guaranteed update: read, transform, write with compare-and-swap; retry on conflicts.

        `transform(old)` returns the new object (`old` is None when missing and `create_missing`); a
        resourceVersion in the result is a precondition (409 when stale). Returns (object, created).
        `bypass_strategy` is for the server's own writes (bindings, finalize, CRD status): no
        strategy preparation, admission or validation.
        """
        strategy = res.strategy
        assert strategy is not None
        key = self._key(res, namespace, name)
        while True:
            kv = await self.storage.get(key)
            if kv is None:
                if not create_missing:
                    raise errors.not_found(res.plural, res.group, name)
                new = await transform(None)
                nm = meta.metadata(new)
                if nm.get("name") and nm["name"] != name:
                    raise errors.bad_request(f"the name of the object ({nm['name']}) does not match the name on the URL ({name})")
                nm["name"] = name
                nm.pop("resourceVersion", None)
                try:
                    return await self.create(res, namespace, new, opts), True
                except errors.StatusError as exc:
                    if exc.reason == "AlreadyExists":
                        continue
                    raise
            old = self.decode(res, kv)
            new = await transform(orjson.loads(orjson.dumps(old)))
            nm = meta.metadata(new)
            if nm.get("name", name) != name:
                raise errors.bad_request(f"the name of the object ({nm.get('name')}) does not match the name on the URL ({name})")
            if res.namespaced and nm.get("namespace", namespace) != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
            precondition = nm.get("resourceVersion")
            if precondition and precondition != old["metadata"]["resourceVersion"]:
                raise errors.stale_conflict(res.plural, res.group, name)
            if nm.get("uid") and nm["uid"] != old["metadata"].get("uid"):
                raise errors.conflict(res.plural, res.group, name, f"Precondition failed: UID in precondition: {nm['uid']}, "
                                      f"UID in object meta: {old['metadata'].get('uid')}")
            if not precondition and not strategy.allow_unconditional_update:
                raise errors.StatusError(422, "Invalid", f'{res.kind} "{name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update')
            nm["name"] = name
            nm["resourceVersion"] = om_rv = old["metadata"]["resourceVersion"]
            if res.namespaced:
                nm["namespace"] = namespace
            else:
                nm.pop("namespace", None)
            om = old["metadata"]
            if opts.subresource == "status" and not bypass_strategy:
                new = strategy.prepare_for_status_update(new, old)
                nm = new["metadata"]
            else:
                for k in _SYSTEM_META:
                    if k in om:
                        nm[k] = om[k]
                    else:
                        nm.pop(k, None)
                if not bypass_strategy:
                    strategy.prepare_for_update(new, old)
            if not bypass_strategy:
                await strategy.admit_update(self, new, old, dry_run=opts.dry_run)
            normalize_metadata(new)
            if not bypass_strategy:
                self._validate(res, new, old)
            new = update_managed_fields(
                old, new, manager=opts.field_manager, operation=opts.operation, schema=res.schema,
                api_version=res.api_version, now=meta.rfc3339(self.clock()), subresource=opts.subresource,
                reset_paths=strategy.reset_paths(opts.subresource),
            )
            new["metadata"]["resourceVersion"] = om_rv
            if _same(new, old):
                return old, False
            if opts.dry_run:
                return new, False
            if self._ready_to_remove(res, new):
                result = await self._remove(res, key, kv, new)
                if result is None:
                    continue
                return result, False
            data = self.encode(res, new)
            if len(data) > MAX_VALUE_BYTES:
                raise _too_large(res)
            try:
                nkv = await self.storage.update(key, data, expected_revision=kv.mod_revision)
            except Conflict:
                if precondition:
                    raise errors.stale_conflict(res.plural, res.group, name) from None
                continue
            new["metadata"]["resourceVersion"] = str(nkv.mod_revision)
            return new, False

    # -- delete -------------------------------------------------------------------------------------

    def _pending(self, res: Resource, obj: dict[str, Any]) -> bool:
        """Whether a deleted object must stay (finalizers, graceful period, strategy reasons)."""
        m = obj["metadata"]
        if m.get("finalizers"):
            return True
        assert res.strategy is not None
        return res.strategy.delete_pending(obj)

    def _ready_to_remove(self, res: Resource, obj: dict[str, Any]) -> bool:
        m = obj["metadata"]
        return bool(m.get("deletionTimestamp")) and not m.get("deletionGracePeriodSeconds") and not self._pending(res, obj)

    async def _remove(self, res: Resource, key: str, kv: KeyValue, obj: dict[str, Any]) -> dict[str, Any] | None:
        try:
            dkv = await self.storage.delete(key, expected_revision=kv.mod_revision)
        except Conflict:
            return None
        obj["metadata"]["resourceVersion"] = str(dkv.mod_revision)
        assert res.strategy is not None
        await res.strategy.after_delete(self, obj)
        return obj

    async def delete(self, res: Resource, namespace: str, name: str, opts: DeleteOptions) -> DeleteResult:
        strategy = res.strategy
        assert strategy is not None
        key = self._key(res, namespace, name)
        while True:
            kv = await self._get_kv(res, namespace, name)
            obj = self.decode(res, kv)
            m = obj["metadata"]
            await strategy.admit_delete(self, obj)
            if opts.uid is not None and opts.uid != m.get("uid"):
                raise errors.conflict(res.plural, res.group, name,
                                      f"Precondition failed: UID in precondition: {opts.uid}, UID in object meta: {m.get('uid')}")
            if opts.resource_version is not None and opts.resource_version != m.get("resourceVersion"):
                raise errors.conflict(res.plural, res.group, name,
                                      f"Precondition failed: ResourceVersion in precondition: {opts.resource_version}, ResourceVersion in object meta: {m.get('resourceVersion')}")
            changed = False
            finalizers = list(m.get("finalizers") or [])
            policy = opts.propagation
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers = [f for f in finalizers if f != "foregroundDeletion"] + ["orphan"]
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers = [f for f in finalizers if f != "orphan"] + ["foregroundDeletion"]
            elif policy == "Background" and m.get("deletionTimestamp"):
                finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
            if finalizers != list(m.get("finalizers") or []):
                m["finalizers"] = finalizers
                if not finalizers:
                    m.pop("finalizers")
                changed = True
            now = self.clock()
            if m.get("deletionTimestamp"):
                # Already being deleted: only a shorter grace period changes anything.
                current = m.get("deletionGracePeriodSeconds") or 0
                grace = strategy.graceful_period(obj, opts.grace_period) if opts.grace_period is not None else current
                if grace < current:
                    m["deletionGracePeriodSeconds"] = grace
                    m["deletionTimestamp"] = meta.rfc3339(now + grace)
                    changed = True
            else:
                grace = strategy.graceful_period(obj, opts.grace_period)
                if grace > 0 or self._pending(res, obj):
                    m["deletionTimestamp"] = meta.rfc3339(now + grace)
                    m["deletionGracePeriodSeconds"] = grace
                    strategy.prepare_for_delete(obj)
                    changed = True
                else:
                    m["deletionTimestamp"] = meta.rfc3339(now)
                    m["deletionGracePeriodSeconds"] = 0
            if (m.get("deletionGracePeriodSeconds") or 0) == 0 and not self._pending(res, obj):
                if opts.dry_run:
                    return DeleteResult(obj, True)
                removed = await self._remove(res, key, kv, obj)
                if removed is None:
                    continue
                return DeleteResult(removed, True)
            if not changed:
                return DeleteResult(obj, False)
            if opts.dry_run:
                return DeleteResult(obj, False)
            try:
                nkv = await self.storage.update(key, self.encode(res, obj), expected_revision=kv.mod_revision)
            except Conflict:
                continue
            obj["metadata"]["resourceVersion"] = str(nkv.mod_revision)
            return DeleteResult(obj, False)


_OMIT_EMPTY_META = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def normalize_metadata(obj: dict[str, Any]) -> None:
    """Empty metadata maps and lists are not written (Go's omitempty on ObjectMeta)."""
    m = obj.get("metadata")
    if isinstance(m, dict):
        for k in _OMIT_EMPTY_META:
            if k in m and not m[k]:
                del m[k]


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)


def _parse_rv(text: str) -> int:
    try:
        rv = int(text)
    except ValueError:
        raise errors.bad_request(f"invalid resource version: {text!r}") from None
    if rv < 0:
        raise errors.bad_request(f"invalid resource version: {text!r}")
    return rv


def _encode_continue(rev: int, start: str) -> str:
    raw = orjson.dumps({"v": "meta.k8s.io/v1", "rv": rev, "start": start})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_continue(token: str, prefix: str) -> tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = orjson.loads(raw)
        if data.get("v") != "meta.k8s.io/v1" or not isinstance(data.get("rv"), int) or not isinstance(data.get("start"), str):
            raise ValueError
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise errors.bad_request("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)") from None
    start = data["start"]
    if ".." in start.split("/") or start.startswith("/"):
        raise errors.bad_request("continue key is not valid: path traversal")
    return data["rv"], start
