"""The garbage collector: deletes objects whose owners are gone, and carries out foreground and orphan
deletion (upstream pkg/controller/garbagecollector).

It watches every resource discovery reports with the list, watch and delete verbs (except events), feeds
their changes in order into the dependency graph (kijabi.controllers.cluster.gcgraph), and works two
queues of node uids:

attempt-to-delete, for a node (upstream attemptToDeleteItem), working from the object read live:
- a virtual node (an owner not seen by any informer) whose object does not exist (or has another uid)
  is removed from the graph, which queues its dependents;
- an object waiting for its dependents (foregroundDeletion finalizer) loses the finalizer once no
  dependent with blockOwnerDeletion remains; until then those dependents are queued;
- otherwise each ownerReference is checked with a live GET of the owner in the dependent's namespace (or
  cluster-wide for cluster-scoped kinds): dangling (404 or another uid; remembered in an LRU of absent
  owners), waiting (owner deleting in foreground) or solid. With a solid owner, dangling and waiting
  references are removed from the object; with owners waiting and dependents of its own, the object
  is deleted in the foreground; with no solid owner at all it is deleted, with the propagation its own
  finalizers ask for (orphan, foreground) or in the background. Deletes carry uid and resourceVersion
  preconditions.
  A cluster-scoped object naming a namespaced owner kind is left alone; a reference to an unknown kind
  is retried (discovery may learn it).

attempt-to-orphan, for an owner whose deletion started with the orphan finalizer: its references are
removed from all its dependents, then the finalizer is removed.

The set of watched resources is re-read from discovery every `gc_discovery_period` seconds and whenever a
CustomResourceDefinition changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.discovery import APIResource
from kijabi.client.errors import ClientError, Conflict, NoMatchError, NotFound
from kijabi.client.informers import EventHandlerFuncs, ResourceEventHandler
from kijabi.client.rest import GVR, Client
from kijabi.client.workqueue import RateLimitingQueue
from kijabi.controllers.cluster._base import ClusterController, Object, Requeue, settings
from kijabi.controllers.cluster.gcgraph import (
    FINALIZER_FOREGROUND,
    FINALIZER_ORPHAN,
    AbsentOwnerCache,
    GraphBuilder,
    GraphEvent,
    Identity,
    Node,
    coordinates,
)
from kijabi.controllers.cluster.monitors import ResourceMonitors
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)

IGNORED = {("", "events"), ("events.k8s.io", "events")}
CRDS = GVR("apiextensions.k8s.io", "v1", "customresourcedefinitions")
RETRIES = 5


class VirtualDeleteEnqueued(Exception):
    """The node's object is absent; a virtual delete event went to the graph."""


class NamespacedOwnerOfClusterScoped(Exception):
    """cluster-scoped objects cannot refer to namespaced owners"""


class RestMappingError(Exception):
    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"unable to get REST mapping for {api_version}/{kind}.")


def deletable(r: APIResource) -> bool:
    return (r.group, r.resource) not in IGNORED and {"delete", "list", "watch"} <= set(r.verbs)


class _Worker(ClusterController):
    """A queue of node uids worked by one of the collector's functions."""

    def __init__(self, name: str, fn: Any, workers: int, ctx: ControllerContext) -> None:
        super().__init__(name, workers=workers, clock=ctx.clock,
                         queue=RateLimitingQueue(name=name, clock=ctx.clock))
        self.fn = fn

    async def sync(self, key: str) -> None:
        await self.fn(key)


class GarbageCollector:
    def __init__(self, ctx: ControllerContext) -> None:
        s = settings(ctx)
        self.ctx = ctx
        self.client: Client = ctx.client
        self.clock = ctx.clock
        self.recorder = ctx.recorder("garbage-collector-controller")
        self.discovery_period = s.gc_discovery_period
        self.absent = AbsentOwnerCache()
        self.deleter = _Worker("garbage-collector-delete", self.attempt_to_delete_worker, s.gc_workers, ctx)
        self.orphaner = _Worker("garbage-collector-orphan", self.attempt_to_orphan_worker, s.gc_workers, ctx)
        self.graph = GraphBuilder(
            attempt_to_delete=lambda n: self.deleter.queue.add(n.uid),
            attempt_to_delete_later=lambda n: self.deleter.queue.add_rate_limited(n.uid),
            attempt_to_orphan=lambda n: self.orphaner.queue.add(n.uid),
            report_invalid_namespace=self._report_invalid_namespace,
            absent=self.absent,
        )
        self.changes: asyncio.Queue[GraphEvent] = asyncio.Queue()
        self.monitors = ResourceMonitors(ctx, "garbage-collector", select=deletable, handler_for=self._handler_for)
        crd_informer = ctx.informers.informer(CRDS)
        crd_informer.add_event_handler(EventHandlerFuncs(add=lambda o: self.monitors.request_sync(),
                                                         update=lambda o, n: self.monitors.request_sync(),
                                                         delete=lambda o: self.monitors.request_sync()))

    # -- informers -> graph ------------------------------------------------------------------------

    def _handler_for(self, r: APIResource) -> ResourceEventHandler:
        api_version, kind = r.api_version, r.kind
        put = self.changes.put_nowait

        def added(obj: Object) -> None:
            put(GraphEvent("add", api_version, kind, obj))

        def updated(old: Object, new: Object) -> None:
            put(GraphEvent("update", api_version, kind, new, old))

        def deleted(obj: Object | DeletedFinalStateUnknown) -> None:
            target = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
            put(GraphEvent("delete", api_version, kind, target))

        return EventHandlerFuncs(add=added, update=updated, delete=deleted)

    async def _process_graph_changes(self) -> None:
        while True:
            event = await self.changes.get()
            try:
                self.graph.process(event)
            except Exception:
                log.exception("garbage-collector: processing a graph change failed")

    async def _drained(self) -> None:
        """Return once the graph has taken in every change queued so far."""
        for _ in range(1_000_000):
            if self.changes.empty():
                return
            await asyncio.sleep(0)

    def _report_invalid_namespace(self, dependent: Node, ref: Mapping[str, Any]) -> None:
        invalid = Identity.of_ref(ref, dependent.identity.namespace)
        i = dependent.identity
        obj = {"apiVersion": i.api_version, "kind": i.kind, "namespace": i.namespace, "name": i.name, "uid": i.uid}
        self.recorder.event(obj, "Warning", "OwnerRefInvalidNamespace",
                            f'ownerRef {invalid} does not exist in namespace "{i.namespace}"')

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._process_graph_changes(), name="garbage-collector: graph")
            await self.monitors.wait_for_sync()
            await self._drained()  # the initial lists are in the graph before any work starts
            log.info("garbage-collector: graph built from %d resources (%d nodes)", len(self.monitors.monitors),
                     len(self.graph.nodes))
            tg.create_task(self.monitors.run(self.discovery_period), name="garbage-collector: monitors")
            tg.create_task(self.deleter.run(), name="garbage-collector: attempt to delete")
            tg.create_task(self.orphaner.run(), name="garbage-collector: attempt to orphan")

    # -- API helpers -------------------------------------------------------------------------------

    async def api_resource(self, api_version: str, kind: str) -> APIResource:
        try:
            return await self.client.resource_for(api_version, kind)
        except NoMatchError:
            raise RestMappingError(api_version, kind) from None

    async def get_object(self, identity: Identity) -> Object:
        r = await self.api_resource(identity.api_version, identity.kind)
        namespace = identity.namespace if r.namespaced else ""
        if r.namespaced and not namespace:
            raise NamespacedOwnerOfClusterScoped()
        return await self.client.get(r.gvr, identity.name, namespace=namespace or None)

    async def patch_object(self, identity: Identity, patch: Mapping[str, Any]) -> Object:
        r = await self.api_resource(identity.api_version, identity.kind)
        return await self.client.patch(r.gvr, identity.name, patch, namespace=(identity.namespace if r.namespaced else None))

    async def delete_object(self, identity: Identity, resource_version: str, owners: list[Any], policy: str) -> None:
        r = await self.api_resource(identity.api_version, identity.kind)
        ns = identity.namespace if r.namespaced else None
        pre = {"uid": identity.uid}
        if resource_version:
            pre["resourceVersion"] = resource_version
        log.info("garbage-collector: deleting %s with propagation %s", identity, policy)
        try:
            await self.client.delete(r.gvr, identity.name, namespace=ns, propagation_policy=policy, preconditions=pre)
            return
        except NotFound:
            return
        except Conflict:
            if not resource_version:
                raise
            try:
                live = await self.client.get(r.gvr, identity.name, namespace=ns)
            except NotFound:
                return
            m = live.get("metadata") or {}
            if m.get("uid") != identity.uid or m.get("resourceVersion") == resource_version or \
                    (m.get("ownerReferences") or []) != owners:
                raise
        try:
            await self.client.delete(r.gvr, identity.name, namespace=ns, propagation_policy=policy,
                                     preconditions={"uid": identity.uid})
        except NotFound:
            return

    async def remove_finalizer(self, identity: Identity, finalizer: str) -> None:
        for _ in range(RETRIES):
            try:
                obj = await self.get_object(identity)
            except NotFound:
                return
            m = obj.get("metadata") or {}
            if m.get("uid") != identity.uid:
                return
            finalizers = list(m.get("finalizers") or [])
            if finalizer not in finalizers:
                return
            remaining = [f for f in finalizers if f != finalizer]
            try:
                await self.patch_object(identity, {"metadata": {"finalizers": remaining or None,
                                                                "resourceVersion": m.get("resourceVersion")}})
                log.info("garbage-collector: removed the %s finalizer of %s", finalizer, identity)
                return
            except NotFound:
                return
            except Conflict:
                continue
        raise Requeue(f"could not remove the {finalizer} finalizer of {identity}: conflicts")

    async def remove_owner_references(self, identity: Identity, latest: Object, uids: set[str]) -> None:
        """Remove the references to `uids` from the object (its live version `latest`)."""
        m = latest.get("metadata") or {}
        refs = [r for r in m.get("ownerReferences") or [] if r.get("uid") not in uids]
        if len(refs) == len(m.get("ownerReferences") or []):
            return
        await self.patch_object(identity, {"metadata": {"ownerReferences": refs or None,
                                                        "resourceVersion": m.get("resourceVersion")}})

    # -- attempt to delete -------------------------------------------------------------------------

    async def attempt_to_delete_worker(self, uid: str) -> None:
        node = self.graph.get(uid)
        if node is None:
            return
        try:
            await self.attempt_to_delete_item(node)
        except VirtualDeleteEnqueued:
            return
        except NamespacedOwnerOfClusterScoped:
            log.info("garbage-collector: %s is cluster-scoped but refers to a namespaced owner; ignored", node.identity)
            return
        except RestMappingError as exc:
            raise Requeue(str(exc)) from None
        current = self.graph.get(uid)
        if current is not None and not current.observed:
            raise Requeue(f"{node.identity} has not been observed by an informer yet")

    def _virtual_delete(self, identity: Identity) -> None:
        self.changes.put_nowait(GraphEvent.virtual_delete(identity))
        raise VirtualDeleteEnqueued()

    async def attempt_to_delete_item(self, item: Node) -> None:
        if item.being_deleted and not item.deleting_dependents:
            return
        try:
            latest = await self.get_object(item.identity)
        except NotFound:
            self._virtual_delete(item.identity)
            return
        m = latest.get("metadata") or {}
        if m.get("uid") != item.uid:
            self._virtual_delete(item.identity)
            return
        if item.deleting_dependents:
            await self.process_deleting_dependents(item)
            return
        owners = [r for r in m.get("ownerReferences") or [] if isinstance(r, dict)]
        if not owners:
            return
        solid, dangling, waiting = await self.classify_references(item, owners)
        if solid:
            if not dangling and not waiting:
                return
            uids = {str(r.get("uid")) for r in dangling + waiting}
            log.info("garbage-collector: %s has solid owners; removing references to %s", item.identity, sorted(uids))
            await self.remove_owner_references(item.identity, latest, uids)
            return
        if waiting and item.dependents:
            if any(dep.deleting_dependents for dep in item.dependents):
                # Breaking a possible cycle: our references stop blocking, then we go in the foreground.
                refs = [{**r, "blockOwnerDeletion": False} if r.get("blockOwnerDeletion") else r for r in owners]
                if refs != owners:
                    latest = await self.patch_object(item.identity, {"metadata": {
                        "ownerReferences": refs, "resourceVersion": m.get("resourceVersion")}})
                    m = latest.get("metadata") or {}
                    owners = refs
            await self.delete_object(item.identity, str(m.get("resourceVersion") or ""), owners, "Foreground")
            return
        finalizers = m.get("finalizers") or []
        if FINALIZER_ORPHAN in finalizers:
            policy = "Orphan"
        elif FINALIZER_FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self.delete_object(item.identity, str(m.get("resourceVersion") or ""), owners, policy)

    async def process_deleting_dependents(self, item: Node) -> None:
        blocking = item.blocking_dependents()
        if not blocking:
            await self.remove_finalizer(item.identity, FINALIZER_FOREGROUND)
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self.deleter.queue.add(dep.uid)

    async def is_dangling(self, ref: Mapping[str, Any], item: Node) -> tuple[bool, Object | None]:
        api_version, kind, name, uid = coordinates(ref)
        key = Identity(api_version, kind, name, uid, "")
        if key in self.absent:
            return True, None
        key_ns = Identity(api_version, kind, name, uid, item.identity.namespace)
        if key_ns in self.absent:
            return True, None
        r = await self.api_resource(api_version, kind)
        if not r.namespaced:
            key_ns = key
        if not item.identity.namespace and r.namespaced:
            raise NamespacedOwnerOfClusterScoped()
        try:
            owner = await self.client.get(r.gvr, name, namespace=item.identity.namespace if r.namespaced else None)
        except NotFound:
            self.absent.add(key_ns)
            return True, None
        if (owner.get("metadata") or {}).get("uid") != uid:
            self.absent.add(key_ns)
            return True, None
        return False, owner

    async def classify_references(self, item: Node, refs: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        solid: list[dict[str, Any]] = []
        dangling: list[dict[str, Any]] = []
        waiting: list[dict[str, Any]] = []
        for ref in refs:
            gone, owner = await self.is_dangling(ref, item)
            if gone:
                dangling.append(ref)
                continue
            om = (owner or {}).get("metadata") or {}
            if om.get("deletionTimestamp") and FINALIZER_FOREGROUND in (om.get("finalizers") or []):
                waiting.append(ref)
            else:
                solid.append(ref)
        return solid, dangling, waiting

    # -- attempt to orphan -------------------------------------------------------------------------

    async def attempt_to_orphan_worker(self, uid: str) -> None:
        owner = self.graph.get(uid)
        if owner is None:
            return
        dependents = list(owner.dependents)
        results = await asyncio.gather(*(self.orphan(dep.identity, owner.uid) for dep in dependents), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise RuntimeError(f"orphaning the dependents of {owner.identity} failed: {errors[0]}")
        await self.remove_finalizer(owner.identity, FINALIZER_ORPHAN)

    async def orphan(self, dependent: Identity, owner_uid: str) -> None:
        for _ in range(RETRIES):
            try:
                latest = await self.get_object(dependent)
            except NotFound:
                return
            except NamespacedOwnerOfClusterScoped:
                return
            if (latest.get("metadata") or {}).get("uid") != dependent.uid:
                return
            try:
                await self.remove_owner_references(dependent, latest, {owner_uid})
                return
            except NotFound:
                return
            except Conflict:
                continue
        raise ClientError(f"removing the owner reference to {owner_uid} from {dependent} kept conflicting")


async def new(ctx: ControllerContext) -> GarbageCollector:
    gc = GarbageCollector(ctx)
    await gc.monitors.prime()
    return gc
