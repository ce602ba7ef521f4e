"""The reflector: keep a store equal to one collection on the server (client-go tools/cache.Reflector).

Cycle (`list_and_watch`):
1. LIST, paginated (`page_size`, 500), at the last synced resourceVersion ("0" the first time: any
   recent state will do, as upstream), then `store.replace(items, rv)`. If that list answers 410
   Expired or "too large resource version", the next list asks for the latest state (rv "").
2. WATCH from the list's resourceVersion with allowWatchBookmarks=true and a random timeout of 1-2x
   `min_watch_timeout`; each event goes to the store and moves the resourceVersion forward (BOOKMARK
   events only move it).
3. When the server ends the watch, watch again from the last resourceVersion (no list). A 429 or a
   lost connection backs off and watches again from there (after an apiserver restart that is either
   fine or answered 410). 410 Expired, a watch that ends at once without events, and any other failure
   end the cycle; `run()` re-lists after a backoff (800 ms doubling to 30 s, reset after 2 quiet
   minutes).

The store sees one event at a time, in order, from the one task that runs the reflector.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import Any, Protocol

from kijabi.client.clock import Clock
from kijabi.client.errors import ClientError, Expired, ServerTimeout, TooManyRequests, TransportError
from kijabi.client.ratelimit import Backoff
from kijabi.client.rest import GVR, Client, Selector

log = logging.getLogger(__name__)

Object = dict[str, Any]


class ReflectorStore(Protocol):
    """Where a reflector writes. Called from the reflector's task only, one call at a time."""

    def replace(self, objects: list[Object], resource_version: str) -> None: ...

    def add(self, obj: Object) -> None: ...

    def update(self, obj: Object) -> None: ...

    def delete(self, obj: Object) -> None: ...


class _RelistNeeded(Exception):
    pass


def _rv(obj: Object) -> str:
    meta = obj.get("metadata")
    return str(meta.get("resourceVersion") or "") if isinstance(meta, dict) else ""


def _too_large_rv(exc: ClientError) -> bool:
    if not isinstance(exc, ServerTimeout):
        return False
    return any(c.get("reason") == "ResourceVersionTooLarge" for c in exc.causes) or "Too large resource version" in exc.message


class Reflector:
    def __init__(
        self,
        client: Client,
        gvr: GVR,
        store: ReflectorStore,
        *,
        namespace: str | None = None,
        label_selector: Selector = None,
        field_selector: str | None = None,
        page_size: int = 500,
        min_watch_timeout: float = 300.0,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        rng: Callable[[], float] = random.random,
        name: str | None = None,
    ) -> None:
        self.client = client
        self.gvr = gvr
        self.store = store
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        self.min_watch_timeout = min_watch_timeout
        self.clock = clock or client.clock
        self.backoff = backoff or Backoff(clock=self.clock, rng=rng)
        self.rng = rng
        self.name = name or f"reflector {gvr}" + (f" in {namespace}" if namespace else "")
        self.last_sync_resource_version = ""
        self._rv_unavailable = False
        self.lists = 0  # successful lists so far (metrics, tests)

    async def run(self) -> None:
        """List and watch until cancelled, backing off between failed cycles."""
        while True:
            try:
                await self.list_and_watch()
            except asyncio.CancelledError:
                raise
            except ClientError as exc:
                log.warning("%s: %s", self.name, exc)
            except Exception:
                log.exception("%s: unexpected failure", self.name)
            await self.backoff.wait()

    def _relist_resource_version(self) -> str:
        if self._rv_unavailable:
            return ""
        return self.last_sync_resource_version or "0"

    async def _list(self) -> None:
        rv = self._relist_resource_version()
        try:
            result = await self.client.list_all(self.gvr, namespace=self.namespace, label_selector=self.label_selector,
                                                field_selector=self.field_selector, resource_version=rv,
                                                page_size=self.page_size)
        except (Expired, ServerTimeout) as exc:
            if isinstance(exc, Expired) or _too_large_rv(exc):
                # The cache cannot serve that version: ask for the latest state next time.
                self._rv_unavailable = True
            raise
        items = result.get("items") or []
        kind = str(result.get("kind") or "")
        if kind.endswith("List"):
            # Items of a typed list may come without kind/apiVersion; cached objects always have them
            # (as client-go's unstructured lists do), so references and events can be built from them.
            api_version = result.get("apiVersion")
            for item in items:
                if not item.get("kind"):
                    item["kind"] = kind[:-4]
                if not item.get("apiVersion") and api_version:
                    item["apiVersion"] = api_version
        list_rv = _rv(result)
        self._rv_unavailable = False
        self.store.replace(items, list_rv)
        self.last_sync_resource_version = list_rv
        self.lists += 1

    async def list_and_watch(self) -> None:
        """One list followed by watches until one of them needs a re-list (returns) or fails (raises)."""
        await self._list()
        while True:
            try:
                await self._watch_once()
            except (TooManyRequests, TransportError) as exc:
                log.info("%s: watch failed (%s); backing off, then watching again", self.name, exc)
                await self.backoff.wait()
            except Expired as exc:
                log.info("%s: watch expired (%s); re-listing", self.name, exc)
                return
            except _RelistNeeded as exc:
                log.info("%s: %s; re-listing", self.name, exc)
                return

    async def _watch_once(self) -> None:
        timeout = int(self.min_watch_timeout * (self.rng() + 1.0))
        started = self.clock.now()
        count = 0
        watch = self.client.watch(self.gvr, namespace=self.namespace, label_selector=self.label_selector,
                                  field_selector=self.field_selector, resource_version=self.last_sync_resource_version,
                                  allow_watch_bookmarks=True, timeout_seconds=timeout)
        async with watch:
            async for etype, obj in watch:
                count += 1
                rv = _rv(obj)
                if etype == "ADDED":
                    self.store.add(obj)
                elif etype == "MODIFIED":
                    self.store.update(obj)
                elif etype == "DELETED":
                    self.store.delete(obj)
                elif etype != "BOOKMARK":
                    log.warning("%s: unknown watch event type %r", self.name, etype)
                    continue
                if rv:
                    self.last_sync_resource_version = rv
        if count == 0 and self.clock.now() - started < 1.0:
            raise _RelistNeeded("very short watch with no events")
