"""Shared informers: one list+watch per resource feeds an indexed cache and every handler of a process.

A `SharedIndexInformer` runs a Reflector into its `Indexer` and tells the registered handlers what
changed (client-go's sharedIndexInformer, without threads: everything happens on the event loop, in the
informer's task, in watch order). `SharedInformerFactory` hands out one informer per resource (and
namespace/selector), so the controllers of a process share caches and connections.

Contracts:
- Cached objects are shared and read-only (see kijabi.client.cache): handlers and listers receive the
  stored dicts themselves. Copy before changing.
- Handlers are plain (synchronous) callables and must be quick: enqueue a key, nothing more (STYLE 2).
  A handler that raises is logged; the others still run.
- `on_add(obj, is_initial_list)` for objects new to the cache; `on_update(old, new)`; `on_delete(obj)`,
  where obj is a `DeletedFinalStateUnknown` when the object disappeared while the watch was down and a
  re-list found it gone. A re-list notifies only what changed (resourceVersion differs).
- A handler added after the cache has synced first gets `on_add(obj, True)` for every cached object.
- Resync: every `resync_period` seconds (per handler, 0 = never) each cached object is delivered again
  as `on_update(obj, obj)`, so level-driven controllers revisit everything.
- `has_synced()` turns true after the first list has been stored and delivered.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from kijabi.client.cache import (
    DeletedFinalStateUnknown,
    Indexer,
    IndexFunc,
    Lister,
    meta_namespace_key,
)
from kijabi.client.clock import Clock, TimerHandle
from kijabi.client.ratelimit import Backoff
from kijabi.client.reflector import Reflector
from kijabi.client.rest import GVR, Client, Selector, selector_string
from kijabi.client.tasks import cancel_and_wait, spawn

log = logging.getLogger(__name__)

Object = dict[str, Any]
Transform = Callable[[Object], Object]
MIN_RESYNC_PERIOD = 1.0


class ResourceEventHandler(Protocol):
    def on_add(self, obj: Object, is_initial_list: bool) -> None: ...

    def on_update(self, old: Object, new: Object) -> None: ...

    def on_delete(self, obj: Object | DeletedFinalStateUnknown) -> None: ...


@dataclass
class EventHandlerFuncs:
    """A handler from up to three functions; missing ones ignore their notification."""

    add: Callable[[Object], None] | None = None
    update: Callable[[Object, Object], None] | None = None
    delete: Callable[[Object | DeletedFinalStateUnknown], None] | None = None

    def on_add(self, obj: Object, is_initial_list: bool) -> None:
        if self.add is not None:
            self.add(obj)

    def on_update(self, old: Object, new: Object) -> None:
        if self.update is not None:
            self.update(old, new)

    def on_delete(self, obj: Object | DeletedFinalStateUnknown) -> None:
        if self.delete is not None:
            self.delete(obj)


@dataclass
class FilteringEventHandler:
    """Passes on only objects for which `filter` is true; an update that crosses the filter becomes an
    add (now passes) or a delete (no longer passes), as client-go's FilteringResourceEventHandler."""

    filter: Callable[[Object], bool]
    handler: ResourceEventHandler

    def on_add(self, obj: Object, is_initial_list: bool) -> None:
        if self.filter(obj):
            self.handler.on_add(obj, is_initial_list)

    def on_update(self, old: Object, new: Object) -> None:
        was, now = self.filter(old), self.filter(new)
        if was and now:
            self.handler.on_update(old, new)
        elif now:
            self.handler.on_add(new, False)
        elif was:
            self.handler.on_delete(old)

    def on_delete(self, obj: Object | DeletedFinalStateUnknown) -> None:
        target = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if self.filter(target):
            self.handler.on_delete(obj)


@dataclass(eq=False)
class HandlerRegistration:
    """What `add_event_handler` returns: remove the handler with `informer.remove_event_handler(reg)`."""

    handler: ResourceEventHandler
    resync_period: float
    next_resync: float = 0.0
    synced: bool = False
    informer: SharedIndexInformer | None = field(default=None, repr=False)

    def has_synced(self) -> bool:
        return self.synced


def _rv(obj: Object) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion", ""))


class SharedIndexInformer:
    """The cache of one resource plus the handlers that want to hear about it. Run it with `run()`."""

    def __init__(
        self,
        client: Client,
        gvr: GVR,
        *,
        namespace: str | None = None,
        label_selector: Selector = None,
        field_selector: str | None = None,
        resync_period: float = 0.0,
        indexers: Mapping[str, IndexFunc] | None = None,
        transform: Transform | None = None,
        page_size: int = 500,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.client = client
        self.gvr = gvr
        self.namespace = namespace
        self.clock = clock or client.clock
        self.default_resync = resync_period
        self.transform = transform
        self.indexer = Indexer(indexers)
        self.reflector = Reflector(client, gvr, _Store(self), namespace=namespace, label_selector=label_selector,
                                   field_selector=field_selector, page_size=page_size, clock=self.clock, backoff=backoff)
        self._handlers: list[HandlerRegistration] = []
        self._synced = asyncio.Event()
        self._synced_flag = False
        self._wake: asyncio.Event | None = None
        self._running = False

    def __repr__(self) -> str:
        return f"SharedIndexInformer({self.gvr}{', ns=' + self.namespace if self.namespace else ''})"

    # -- configuration -----------------------------------------------------------------------------

    def lister(self) -> Lister:
        return Lister(self.indexer)

    def add_indexers(self, indexers: Mapping[str, IndexFunc]) -> None:
        self.indexer.add_indexers(indexers)

    def add_event_handler(self, handler: ResourceEventHandler, resync_period: float | None = None) -> HandlerRegistration:
        """Register `handler`. If the cache has synced already, it first gets every cached object as an add."""
        period = self.default_resync if resync_period is None else resync_period
        if period > 0:
            period = max(period, MIN_RESYNC_PERIOD)
        reg = HandlerRegistration(handler, period, informer=self)
        self._handlers.append(reg)
        if self._synced_flag:
            for obj in self.indexer.list():
                self._call(reg, "on_add", obj, True)
            reg.synced = True
            reg.next_resync = self.clock.now() + period
            self._poke()
        return reg

    def remove_event_handler(self, reg: HandlerRegistration) -> None:
        if reg in self._handlers:
            self._handlers.remove(reg)

    def has_synced(self) -> bool:
        return self._synced_flag

    @property
    def last_sync_resource_version(self) -> str:
        return self.reflector.last_sync_resource_version

    async def wait_for_sync(self, timeout: float | None = None) -> bool:
        """Wait until the first list is in the cache; False if `timeout` (real seconds) passes first."""
        if self._synced_flag:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._synced.wait()
        except TimeoutError:
            return False
        return True

    # -- running -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """List, watch and resync until cancelled."""
        if self._running:
            raise RuntimeError(f"{self!r} is already running")
        self._running = True
        self._wake = asyncio.Event()
        try:
            async with asyncio.TaskGroup() as tg:
                spawn(self.reflector.run(), name=f"{self.reflector.name}", tg=tg)
                spawn(self._resync_loop(), name=f"resync {self.gvr}", tg=tg)
        finally:
            self._running = False

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def _resync_loop(self) -> None:
        assert self._wake is not None
        timer: TimerHandle | None = None
        try:
            while True:
                self._wake.clear()
                now = self.clock.now()
                if self._synced_flag:
                    for reg in list(self._handlers):
                        if reg.resync_period > 0 and reg.synced and reg.next_resync <= now:
                            for obj in self.indexer.list():
                                self._call(reg, "on_update", obj, obj)
                            reg.next_resync = now + reg.resync_period
                pending = [r.next_resync for r in self._handlers if r.resync_period > 0 and r.synced]
                if timer is not None:
                    timer.cancel()
                    timer = None
                if pending:
                    timer = self.clock.call_later(min(pending) - now, self._wake.set)
                await self._wake.wait()
        finally:
            if timer is not None:
                timer.cancel()

    # -- notifications -----------------------------------------------------------------------------

    def _call(self, reg: HandlerRegistration, method: str, *args: Any) -> None:
        try:
            getattr(reg.handler, method)(*args)
        except Exception:
            log.exception("%r: event handler %r failed in %s", self, reg.handler, method)

    def _notify(self, method: str, *args: Any) -> None:
        for reg in list(self._handlers):
            self._call(reg, method, *args)

    def _mark_synced(self) -> None:
        if self._synced_flag:
            return
        self._synced_flag = True
        now = self.clock.now()
        for reg in self._handlers:
            reg.synced = True
            reg.next_resync = now + reg.resync_period
        self._synced.set()
        self._poke()

    def _store_replace(self, objects: list[Object]) -> None:
        if self.transform is not None:
            objects = [self.transform(o) for o in objects]
        indexer = self.indexer
        if not self._synced_flag:
            old_items = {indexer.key_func(o): o for o in indexer.list()}
            indexer.replace(objects)
            for obj in objects:
                key = indexer.key_func(obj)
                old = old_items.get(key)
                if old is None:
                    self._notify("on_add", obj, True)
                elif _rv(old) != _rv(obj):
                    self._notify("on_update", old, obj)
            self._mark_synced()
            return
        new_keys = set()
        for obj in objects:
            key = indexer.key_func(obj)
            new_keys.add(key)
            old = indexer.add(obj)
            if old is None:
                self._notify("on_add", obj, False)
            elif _rv(old) != _rv(obj):
                self._notify("on_update", old, obj)
        for key in [k for k in indexer.list_keys() if k not in new_keys]:
            gone = indexer.delete(key)
            if gone is not None:
                self._notify("on_delete", DeletedFinalStateUnknown(key, gone))

    def _store_upsert(self, obj: Object) -> None:
        if self.transform is not None:
            obj = self.transform(obj)
        old = self.indexer.add(obj)
        if old is None:
            self._notify("on_add", obj, False)
        else:
            self._notify("on_update", old, obj)

    def _store_delete(self, obj: Object) -> None:
        if self.transform is not None:
            obj = self.transform(obj)
        self.indexer.delete(meta_namespace_key(obj))
        self._notify("on_delete", obj)


class _Store:
    """The informer seen as the reflector's store."""

    def __init__(self, informer: SharedIndexInformer) -> None:
        self._informer = informer

    def replace(self, objects: list[Object], resource_version: str) -> None:
        self._informer._store_replace(objects)

    def add(self, obj: Object) -> None:
        self._informer._store_upsert(obj)

    def update(self, obj: Object) -> None:
        self._informer._store_upsert(obj)

    def delete(self, obj: Object) -> None:
        self._informer._store_delete(obj)


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors) for a whole process.

    Ask for informers first (`informer()`, `lister()`), then `start()` them (inside a TaskGroup, or as
    tasks the factory owns and `shutdown()` cancels), then `await wait_for_cache_sync()`. Informers asked
    for after `start()` need another `start()`. `backoff`, if given, makes each informer's reflector
    Backoff (tests use short ones).
    """

    def __init__(
        self,
        client: Client,
        *,
        default_resync: float = 0.0,
        namespace: str | None = None,
        page_size: int = 500,
        clock: Clock | None = None,
        backoff: Callable[[], Backoff] | None = None,
    ) -> None:
        self.client = client
        self.default_resync = default_resync
        self.namespace = namespace
        self.page_size = page_size
        self.clock = clock or client.clock
        self._backoff = backoff
        self._informers: dict[tuple[GVR, str | None, str | None, str | None], SharedIndexInformer] = {}
        self._started: dict[SharedIndexInformer, asyncio.Task[None]] = {}
        self._owned: list[asyncio.Task[None]] = []

    def informer(
        self,
        gvr: GVR,
        *,
        namespace: str | None = None,
        label_selector: Selector = None,
        field_selector: str | None = None,
        indexers: Mapping[str, IndexFunc] | None = None,
        resync_period: float | None = None,
        transform: Transform | None = None,
    ) -> SharedIndexInformer:
        """The shared informer of `gvr` (created on first request). `namespace` defaults to the factory's."""
        ns = namespace if namespace is not None else self.namespace
        key = (gvr, ns, selector_string(label_selector), field_selector)
        inf = self._informers.get(key)
        if inf is None:
            inf = SharedIndexInformer(
                self.client, gvr, namespace=ns, label_selector=label_selector, field_selector=field_selector,
                resync_period=self.default_resync if resync_period is None else resync_period, indexers=indexers,
                transform=transform, page_size=self.page_size, clock=self.clock,
                backoff=self._backoff() if self._backoff is not None else None,
            )
            self._informers[key] = inf
        elif indexers:
            missing = {k: v for k, v in indexers.items() if k not in inf.indexer.indexers()}
            if missing:
                inf.add_indexers(missing)
        return inf

    def lister(self, gvr: GVR, *, namespace: str | None = None) -> Lister:
        return self.informer(gvr, namespace=namespace).lister()

    def informers(self) -> list[SharedIndexInformer]:
        return list(self._informers.values())

    def start(self, tg: asyncio.TaskGroup | None = None) -> None:
        """Start every informer not started yet, as named tasks (in `tg` if given)."""
        for inf in self._informers.values():
            if inf in self._started:
                continue
            task = spawn(inf.run(), name=f"informer {inf.gvr}", tg=tg)
            self._started[inf] = task
            if tg is None:
                self._owned.append(task)

    async def wait_for_cache_sync(self, timeout: float | None = None) -> dict[GVR, bool]:
        """Wait for every started informer's first list; maps each GVR to whether it synced in time."""
        infs = [i for i in self._informers.values() if i in self._started]

        async def one(inf: SharedIndexInformer) -> bool:
            return await inf.wait_for_sync(timeout)

        results = await asyncio.gather(*(one(i) for i in infs))
        out: dict[GVR, bool] = {}
        for inf, ok in zip(infs, results, strict=True):
            out[inf.gvr] = out.get(inf.gvr, True) and ok
        return out

    async def shutdown(self) -> None:
        """Cancel the informers this factory started without a TaskGroup, and wait for them."""
        owned, self._owned = self._owned, []
        await cancel_and_wait(*owned)
        for inf, task in list(self._started.items()):
            if task.done():
                del self._started[inf]
