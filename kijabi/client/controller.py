"""The shape of every controller (client-go's sample-controller, STYLE 2).

Informers' handlers only enqueue KEYS ("namespace/name") into a rate-limited workqueue; `workers` tasks
take keys and call `await self.sync(key)`, which re-reads the object from an informer's cache and makes
the world match it. After `sync`:
- it returned None: `forget(key)` (its failure count starts over);
- it returned a number: `forget(key)`, then the key comes back after that many seconds;
- it raised: `add_rate_limited(key)` (per-key exponential backoff under an overall rate limit), or, after
  `max_retries` failures if one is set, `forget(key)` and drop it (logged);
and in every case `done(key)` (in `finally`), so a key is never synced by two workers at once and a key
added during its sync is synced again afterwards.

`run()` waits for the informers' caches, runs the workers inside one TaskGroup as named tasks, and on
cancellation shuts the queue down; it returns when all workers have stopped.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from kijabi.client.cache import DeletedFinalStateUnknown, meta_namespace_key
from kijabi.client.clock import REAL_CLOCK, Clock
from kijabi.client.errors import APIError, TransportError
from kijabi.client.informers import EventHandlerFuncs, FilteringEventHandler, ResourceEventHandler
from kijabi.client.tasks import spawn
from kijabi.client.workqueue import RateLimitingQueue, ShutDown

log = logging.getLogger(__name__)

Object = dict[str, Any]


class Syncable(Protocol):
    def has_synced(self) -> bool: ...

    async def wait_for_sync(self, timeout: float | None = None) -> bool: ...


class Controller(abc.ABC):
    """Subclass, implement `sync(key)`, wire informers with `informer.add_event_handler(self.handler())`."""

    def __init__(
        self,
        name: str,
        *,
        workers: int = 1,
        queue: RateLimitingQueue[str] | None = None,
        clock: Clock = REAL_CLOCK,
        max_retries: int | None = None,
        cache_sync_timeout: float | None = None,
    ) -> None:
        self.name = name
        self.workers = workers
        self.clock = clock
        self.queue: RateLimitingQueue[str] = queue if queue is not None else RateLimitingQueue(name=name, clock=clock)
        self.max_retries = max_retries
        self.cache_sync_timeout = cache_sync_timeout
        self.informers: list[Syncable] = []

    # -- what subclasses write ---------------------------------------------------------------------

    @abc.abstractmethod
    async def sync(self, key: str) -> float | None:
        """Make the world match the object `key`. Raise to retry with backoff; return seconds to re-check."""

    # -- enqueueing (from event handlers) ----------------------------------------------------------

    @staticmethod
    def key_of(obj: Object | DeletedFinalStateUnknown | str) -> str:
        return meta_namespace_key(obj)

    def enqueue(self, obj: Object | DeletedFinalStateUnknown | str) -> None:
        self.queue.add(self.key_of(obj))

    def enqueue_after(self, obj: Object | DeletedFinalStateUnknown | str, delay: float) -> None:
        self.queue.add_after(self.key_of(obj), delay)

    def enqueue_rate_limited(self, obj: Object | DeletedFinalStateUnknown | str) -> None:
        self.queue.add_rate_limited(self.key_of(obj))

    def handler(self, filter: Callable[[Object], bool] | None = None) -> ResourceEventHandler:
        """An event handler that enqueues the key of every added, updated and deleted object."""
        funcs = EventHandlerFuncs(add=self.enqueue, update=lambda old, new: self.enqueue(new), delete=self.enqueue)
        return funcs if filter is None else FilteringEventHandler(filter, funcs)

    def watches(self, *informers: Syncable) -> None:
        """Informers whose caches must be synced before workers start."""
        self.informers.extend(informers)

    # -- running -----------------------------------------------------------------------------------

    async def run(self, informers: Sequence[Syncable] = ()) -> None:
        """Wait for caches, then process keys with `workers` tasks until cancelled."""
        waiting = [*self.informers, *informers]
        log.info("controller %s: waiting for %d caches to sync", self.name, len(waiting))
        synced = await asyncio.gather(*(inf.wait_for_sync(self.cache_sync_timeout) for inf in waiting))
        if not all(synced):
            raise TimeoutError(f"controller {self.name}: caches did not sync")
        log.info("controller %s: caches synced; starting %d workers", self.name, self.workers)
        try:
            async with asyncio.TaskGroup() as tg:
                for i in range(self.workers):
                    spawn(self._worker(), name=f"{self.name} worker {i}", tg=tg)
        finally:
            self.queue.shutdown()

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            await self.process(key)

    async def process(self, key: str) -> None:
        """One key through `sync`, with the forget / requeue / done bookkeeping."""
        try:
            again = await self.sync(key)
        except Exception as exc:
            retries = self.queue.num_requeues(key)
            # An answer of the API (a conflict, a missing object) is expected now and then: one line, no
            # traceback, as upstream's handleErr logs it. Anything else is a bug worth its traceback.
            trace = None if isinstance(exc, (APIError, TransportError)) else exc
            if self.max_retries is not None and retries >= self.max_retries:
                log.error("controller %s: dropping %s after %d retries: %s", self.name, key, retries, exc,
                          exc_info=trace)
                self.queue.forget(key)
            else:
                log.warning("controller %s: syncing %s failed (retry %d): %s", self.name, key, retries + 1, exc,
                            exc_info=trace)
                self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
            if again is not None:
                self.queue.add_after(key, again)
        finally:
            self.queue.done(key)
