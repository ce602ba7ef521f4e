"""In-process fan-out of committed events to live watchers.

A store that owns its data (the SQLite backend) publishes every committed batch of events here, on the
event loop thread, in revision order. Each watcher (`Subscription`) has its own buffer, so a slow consumer
never blocks the writer or the other watchers.

Buffers are bounded by `backlog` events. A subscription that falls further behind is *detached*: its
buffer is dropped and the consumer is told (`Overflowed`) to catch up from the store's log, from the last
revision it delivered, before it subscribes again. This is etcd's "unsynced watcher" scheme: nothing is
lost, memory stays bounded, and a consumer that stays slow for longer than the log is kept ends with
`Compacted` like it would against etcd.

Everything here runs on the event loop thread; nothing blocks.
"""

from __future__ import annotations

import asyncio
from collections import deque

from kijabi.storage import Event


class Overflowed(Exception):
    """The subscription fell more than `backlog` events behind and was detached (internal signal)."""


class Subscription:
    """Live events for one prefix, from the hub's revision at subscription time on."""

    __slots__ = (
        "_batches",
        "_hub",
        "_pending",
        "_waiter",
        "closed",
        "overflowed",
        "prefix",
        "start_revision",
    )

    def __init__(self, hub: WatchHub, prefix: str) -> None:
        self._hub = hub
        self.prefix = prefix
        self.start_revision = hub.revision  # every event after this revision will be pushed here
        self._batches: deque[list[Event]] = deque()
        self._pending = 0
        self._waiter: asyncio.Future[None] | None = None
        self.closed = False
        self.overflowed = False

    def _push(self, events: list[Event]) -> None:
        self._batches.append(events)
        self._pending += len(events)
        if self._pending > self._hub.backlog:
            self._batches.clear()
            self._pending = 0
            self.overflowed = True
            self._hub._detach(self)
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def next_batch(self) -> list[Event] | None:
        """The next batch of events (revision order), or None once the hub closed.
        Raises Overflowed when the subscription was detached for being too far behind."""
        while not self._batches:
            if self.overflowed:
                raise Overflowed
            if self.closed:
                return None
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        batch = self._batches.popleft()
        self._pending -= len(batch)
        return batch

    def cancel(self) -> None:
        """Stop receiving events (idempotent)."""
        self._hub._detach(self)
        self._batches.clear()
        self._pending = 0


class WatchHub:
    """Routes published events to the subscriptions whose prefix matches the key."""

    def __init__(self, *, revision: int, backlog: int) -> None:
        self.revision = revision  # revision of the last published event (or the store's start revision)
        self.backlog = backlog
        self._by_prefix: dict[str, set[Subscription]] = {}
        self._closed = False

    def __len__(self) -> int:
        return sum(len(subs) for subs in self._by_prefix.values())

    def subscribe(self, prefix: str) -> Subscription:
        sub = Subscription(self, prefix)
        if self._closed:
            sub.closed = True
        else:
            self._by_prefix.setdefault(prefix, set()).add(sub)
        return sub

    def publish(self, events: list[Event]) -> None:
        """Deliver one committed batch (non-empty, ascending revisions) to every matching subscription.
        Each distinct prefix filters the batch once; the filtered list is shared by its subscriptions."""
        self.revision = events[-1].kv.mod_revision
        for prefix, subs in list(self._by_prefix.items()):
            if prefix:
                matched = [ev for ev in events if ev.kv.key.startswith(prefix)]
                if not matched:
                    continue
            else:
                matched = events
            for sub in list(subs):
                sub._push(matched)

    def close(self) -> None:
        """End every subscription: their consumers get None once their buffers are drained."""
        self._closed = True
        subs = [sub for group in self._by_prefix.values() for sub in group]
        self._by_prefix.clear()
        for sub in subs:
            sub.closed = True
            sub._wake()

    def _detach(self, sub: Subscription) -> None:
        group = self._by_prefix.get(sub.prefix)
        if group is not None:
            group.discard(sub)
            if not group:
                del self._by_prefix[sub.prefix]
