"""Resources found through discovery, and informers over a set of resources that changes at run time.

The garbage collector and the resource quota controller watch "every resource that supports these
verbs", a set that grows when a CustomResourceDefinition is created. `ResourceMonitors` keeps one
informer per such resource: the ones known when the controller is built come from the shared informer
factory (so they share caches and watches with the other controllers of the process); those discovered
later are private informers the monitors run themselves, started and stopped as discovery changes
(upstream's GraphBuilder.syncMonitors / QuotaMonitor).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kijabi.client.discovery import APIResource
from kijabi.client.errors import ClientError
from kijabi.client.informers import HandlerRegistration, ResourceEventHandler, SharedIndexInformer
from kijabi.client.rest import GVR, Client
from kijabi.client.tasks import cancel_and_wait, spawn
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)


def preferred(resources: Iterable[APIResource]) -> list[APIResource]:
    """One entry per (group, resource): the first served version, which discovery lists preferred-first
    (client-go ServerPreferredResources)."""
    seen: set[tuple[str, str]] = set()
    out: list[APIResource] = []
    for r in resources:
        if "/" in r.resource:
            continue
        key = (r.group, r.resource)
        if key in seen:
            continue
        seen.add(key)
        out.append(r)
    return out


def with_verbs(resources: Iterable[APIResource], verbs: Iterable[str]) -> list[APIResource]:
    need = set(verbs)
    return [r for r in resources if need <= set(r.verbs)]


async def discover(client: Client, *, fresh: bool = True) -> list[APIResource]:
    """The server's preferred resources (read anew when `fresh`)."""
    resources = await (client.mapper.refresh() if fresh else client.mapper.resources())
    return preferred(resources)


HandlerFactory = Callable[[APIResource], ResourceEventHandler]
Selector = Callable[[APIResource], bool]


@dataclass(eq=False)
class _Monitor:
    resource: APIResource
    informer: SharedIndexInformer
    registration: HandlerRegistration
    task: asyncio.Task[None] | None = None  # set for private informers, which we run
    stopped: bool = field(default=False)


class ResourceMonitors:
    """One informer (plus one handler from `handler_for`) per discovered resource that `select` accepts."""

    def __init__(self, ctx: ControllerContext, name: str, *, select: Selector, handler_for: HandlerFactory) -> None:
        self.ctx = ctx
        self.name = name
        self.select = select
        self.handler_for = handler_for
        self.monitors: dict[GVR, _Monitor] = {}
        self._started = False
        self._pending_sync: asyncio.Event = asyncio.Event()

    # -- building ----------------------------------------------------------------------------------

    async def prime(self) -> None:
        """Discover once and register shared informers for what is there (call from the constructor,
        before the factory starts)."""
        try:
            resources = [r for r in await discover(self.ctx.client) if self.select(r)]
        except ClientError as exc:
            log.warning("%s: discovery failed, monitoring starts empty: %s", self.name, exc)
            return
        for r in resources:
            informer = self.ctx.informers.informer(r.gvr)
            self.monitors[r.gvr] = _Monitor(r, informer, informer.add_event_handler(self.handler_for(r)))

    def resources(self) -> list[APIResource]:
        return [m.resource for m in self.monitors.values() if not m.stopped]

    def informer(self, gvr: GVR) -> SharedIndexInformer | None:
        m = self.monitors.get(gvr)
        return m.informer if m is not None and not m.stopped else None

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        results = await asyncio.gather(*(m.informer.wait_for_sync(timeout) for m in list(self.monitors.values())))
        return all(results)

    def has_synced(self) -> bool:
        return all(m.informer.has_synced() for m in self.monitors.values() if not m.stopped)

    # -- changing ----------------------------------------------------------------------------------

    def request_sync(self) -> None:
        """Ask the resync loop to re-read discovery now (a CRD changed)."""
        self._pending_sync.set()

    async def sync(self) -> tuple[list[APIResource], list[APIResource]]:
        """Re-read discovery; start monitors for new resources and stop those gone. Returns (added,
        removed). A failed discovery changes nothing (upstream keeps its monitors then)."""
        try:
            found = {r.gvr: r for r in await discover(self.ctx.client) if self.select(r)}
        except ClientError as exc:
            log.info("%s: discovery failed; keeping %d monitors: %s", self.name, len(self.monitors), exc)
            return [], []
        added: list[APIResource] = []
        removed: list[APIResource] = []
        for gvr, r in found.items():
            current = self.monitors.get(gvr)
            if current is not None and not current.stopped:
                continue
            informer = SharedIndexInformer(self.ctx.client, gvr, clock=self.ctx.clock)
            monitor = _Monitor(r, informer, informer.add_event_handler(self.handler_for(r)))
            monitor.task = spawn(informer.run(), name=f"{self.name} monitor {gvr}")
            self.monitors[gvr] = monitor
            added.append(r)
        for gvr, monitor in list(self.monitors.items()):
            if gvr in found or monitor.stopped:
                continue
            monitor.stopped = True
            monitor.informer.remove_event_handler(monitor.registration)
            if monitor.task is not None:
                await cancel_and_wait(monitor.task)
            del self.monitors[gvr]
            removed.append(monitor.resource)
        if added or removed:
            log.info("%s: monitoring %d resources (+%d, -%d)", self.name, len(self.monitors), len(added), len(removed))
        return added, removed

    async def run(self, period: float) -> None:
        """Re-sync discovery every `period` seconds, or sooner when asked; stop private informers on exit."""
        clock = self.ctx.clock
        try:
            while True:
                sleeper = asyncio.ensure_future(clock.sleep(period))
                waiter = asyncio.ensure_future(self._pending_sync.wait())
                try:
                    await asyncio.wait({sleeper, waiter}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    sleeper.cancel()
                    waiter.cancel()
                self._pending_sync.clear()
                await self.sync()
        finally:
            tasks = [m.task for m in self.monitors.values() if m.task is not None]
            await cancel_and_wait(*tasks)
