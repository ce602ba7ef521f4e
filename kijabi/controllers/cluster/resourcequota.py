"""The resourcequota controller: keeps ResourceQuota status.hard equal to spec.hard and status.used equal
to what the quota's namespace uses (upstream pkg/controller/resourcequota).

Usage is summed with kijabi.machinery.quota from the caches of every namespaced resource that supports
create, list, watch and delete (ResourceMonitors: shared informers, plus private ones for resources that
appear later, such as custom resources). A quota is recomputed when it changes, when an object of its
namespace is created or deleted or changes its usage (replenishment), and every
`resource_quota_sync_period` seconds (upstream 5 min). Status is written through the status subresource
only when hard or used changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.discovery import APIResource
from kijabi.client.informers import EventHandlerFuncs, ResourceEventHandler
from kijabi.client.rest import GVR
from kijabi.controllers.cluster._base import ClusterController, Object, namespace_of, settings, workers
from kijabi.controllers.cluster.monitors import ResourceMonitors
from kijabi.controllers.context import ControllerContext
from kijabi.machinery import quota

log = logging.getLogger(__name__)

RESOURCEQUOTAS = GVR("", "v1", "resourcequotas")
IGNORED = {("", "events"), ("events.k8s.io", "events")}
USAGE_ON_UPDATE = {("", "pods"), ("", "services"), ("", "persistentvolumeclaims")}


def quotable(r: APIResource) -> bool:
    return r.namespaced and (r.group, r.resource) not in IGNORED and {"create", "list", "watch", "delete"} <= set(r.verbs)


class ResourceQuotaController(ClusterController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("resourcequota", workers=workers(ctx, "resourcequota", 2), clock=ctx.clock)
        s = settings(ctx)
        self.client = ctx.client
        self.resync = s.resource_quota_sync_period
        self.discovery_period = s.gc_discovery_period
        informer = ctx.informers.informer(RESOURCEQUOTAS)
        self.quotas = informer.lister()
        informer.add_event_handler(self.handler(), resync_period=self.resync)
        self.watches(informer)
        self.monitors = ResourceMonitors(ctx, "resourcequota", select=quotable, handler_for=self._handler_for)

    def _handler_for(self, r: APIResource) -> ResourceEventHandler:
        gr = (r.group, r.resource)
        ev = quota.evaluator(*gr)

        def changed(obj: Object | DeletedFinalStateUnknown) -> None:
            target = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
            self.replenish(ev, namespace_of(target))

        def updated(old: Object, new: Object) -> None:
            if gr not in USAGE_ON_UPDATE:
                return
            now = self.clock.time()
            if not quota.equals(ev.usage(old, now), ev.usage(new, now)):
                self.replenish(ev, namespace_of(new))

        return EventHandlerFuncs(add=changed, update=updated, delete=changed)

    def replenish(self, ev: quota.Evaluator, namespace: str) -> None:
        """Queue the quotas of `namespace` that track something `ev` measures."""
        if not namespace:
            return
        for q in self.quotas.list(namespace):
            hard = (q.get("spec") or {}).get("hard") or {}
            if ev.matching_resources(hard):
                self.enqueue(q)

    async def run(self, informers: Any = ()) -> None:
        await self.monitors.wait_for_sync()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.monitors.run(self.discovery_period), name="resourcequota: monitors")
            tg.create_task(super().run(informers), name="resourcequota: quotas")

    def objects(self, namespace: str) -> dict[tuple[str, str], Iterable[Object]]:
        out: dict[tuple[str, str], Iterable[Object]] = {}
        for r in self.monitors.resources():
            informer = self.monitors.informer(r.gvr)
            if informer is not None:
                out[(r.group, r.resource)] = informer.lister().list(namespace)
        return out

    async def sync(self, key: str) -> float | None:
        ns, name = key.split("/", 1)
        q = self.quotas.get(name, ns)
        if q is None:
            return None
        spec_hard = (q.get("spec") or {}).get("hard") or {}
        status = q.get("status") or {}
        hard = quota.parse_list(spec_hard)
        old_used = quota.parse_list(status.get("used"))
        dirty = (not quota.equals(hard, quota.parse_list(status.get("hard"))) or status.get("hard") is None
                 or status.get("used") is None)
        used = dict(old_used)
        used.update(quota.calculate_usage(q, self.objects(ns), self.clock.time()))
        used = quota.mask(used, hard)
        dirty = dirty or not quota.equals(used, old_used)
        if not dirty:
            return None
        fresh = copy_object(q)
        fresh["status"] = {"hard": quota.to_json(hard), "used": quota.to_json(used)}
        await self.client.update_status(RESOURCEQUOTAS, fresh)
        return None


async def new(ctx: ControllerContext) -> ResourceQuotaController:
    c = ResourceQuotaController(ctx)
    await c.monitors.prime()
    return c
