"""Watches of the etcd backend: one etcd Watch stream per `EtcdStorage.watch()`, resumed on failure.

    Watcher (one per watch() call)
    ├── reader task: Watch stream -> events, each batch with this store's writes of its keys in flight
    │     -> queue
    │     on a broken stream (member killed, no leader, keepalive timeout): the next endpoint, a new
    │     stream from the last revision delivered; events at or below it are dropped, so the consumer
    │     sees no gap and no duplicate
    └── consumer: the watch() generator reads the queue and waits for each batch's future (the queue is
          bounded: a slow consumer stops the reader, gRPC flow control stops etcd, and etcd's
          slow-watcher path catches up later, losing nothing)

Revisions. `from_revision` R means "events after R". The stream asks etcd for start_revision R (not R+1)
and drops events at R: etcd then refuses exactly when R is below the compaction point, as the SQLite
backend does (a watch from the compaction point itself works). R = 0 asks for the whole history
(start_revision 1; etcd's 0 would mean "from now").

Progress notifications are requested, but their revision is not used to move the resume point: etcd 3.4
may send one before events of that revision (etcd-io/etcd#15220).

Ordering contract (storage.Storage): an event is handed to the consumer only once every write of its
key that this store had in flight when the event arrived has been answered (`WriteTracker`; the write
that caused the event is among them if it was ours): etcd itself may deliver the event before the
write's own response. The reader does not wait for that itself: it queues the batch with those writes
and reads on, and the consumer waits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import Any

import grpc
import grpc.aio

from kijabi.storage import Compacted, Event, KeyValue, StorageError, Unavailable
from kijabi.storage._etcd_client import EtcdClient, Failure, classify
from kijabi.storage.etcdpb import kv_pb2, rpc_pb2

log = logging.getLogger(__name__)

_DELETE = kv_pb2.Event.DELETE
_END = None  # queue item: the watch ended (store closed)
QUEUE_RESPONSES = 64  # etcd responses buffered per watch before the reader stops reading


class WriteTracker:
    """This store's writes in flight, by key. An event of key K can only come from a write of K, so it
    has to wait only for the writes of K that were in flight when it arrived (`pending`), not for all."""

    def __init__(self) -> None:
        self._in_flight: dict[bytes, list[asyncio.Future[None]]] = {}

    def begin(self, key: bytes) -> asyncio.Future[None]:
        """Register a write of `key`; pass the result to `end` once it is answered (or failed)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._in_flight.setdefault(key, []).append(done)
        return done

    def end(self, key: bytes, done: asyncio.Future[None]) -> None:
        writes = self._in_flight.get(key)
        if writes is not None:
            writes.remove(done)
            if not writes:
                del self._in_flight[key]
        if not done.done():
            done.set_result(None)

    def pending(self, keys: Iterable[bytes]) -> list[asyncio.Future[None]]:
        """The writes of these keys in flight now (resolving when each is answered); usually none."""
        if not self._in_flight:
            return []
        return [done for key in keys for done in self._in_flight.get(key, ())]


def to_event(ev: kv_pb2.Event, kv: kv_pb2.KeyValue, key: str) -> Event:
    """etcd's event (`kv` is its kv, `key` its decoded key) -> the store's: a DELETE carries the last value
    and create revision (from prev_kv) at the deletion's revision; a PUT carries prev only when it updated
    an existing key."""
    has_prev = ev.HasField("prev_kv")
    if ev.type == _DELETE:
        if has_prev:
            p = ev.prev_kv
            last = KeyValue(key, p.value, p.create_revision, p.mod_revision)
            return Event("DELETE", KeyValue(key, p.value, p.create_revision, kv.mod_revision), last, False)
        return Event("DELETE", KeyValue(key, b"", 0, kv.mod_revision), None, False)
    created = kv.create_revision == kv.mod_revision
    prev: KeyValue | None = None
    if has_prev and not created:
        p = ev.prev_kv
        prev = KeyValue(key, p.value, p.create_revision, p.mod_revision)
    return Event("PUT", KeyValue(key, kv.value, kv.create_revision, kv.mod_revision), prev, created)


_Batch = tuple[list[asyncio.Future[None]], list[Event]]  # the writes to wait for, then the events


class _Reconnect(Exception):
    """The stream broke or etcd cancelled it for a passing reason: resume on the next member."""


class Watcher:
    """One watch: a reader task feeding a bounded queue of event batches (see the module docstring)."""

    def __init__(
        self,
        client: EtcdClient,
        tracker: WriteTracker,
        *,
        key: bytes,
        range_end: bytes,
        from_revision: int,
        decode_key: Callable[[bytes], str],
        name: str,
    ) -> None:
        self._client = client
        self._tracker = tracker
        self._key = key
        self._range_end = range_end
        self.cursor = from_revision  # every event at or below it was delivered (or is not wanted)
        self._requested = from_revision
        self._decode_key = decode_key
        # Each batch comes with this store's writes of its keys that were in flight when it arrived: the
        # consumer waits for those, so the reader keeps reading meanwhile.
        self._queue: asyncio.Queue[_Batch | BaseException | None] = asyncio.Queue(QUEUE_RESPONSES)
        self._name = name
        self._task: asyncio.Task[None] | None = None
        self._call: grpc.aio.StreamStreamCall[Any, Any] | None = None
        self._ended = False
        self._established = False  # a stream was created once
        self._streamed = False  # the current stream was created

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self._name)

    async def next_batch(self) -> list[Event] | None:
        """The next events (revision order), None once the watch ended; raises what ended it."""
        if self._queue.empty():
            if self._ended:
                return None
            item = await self._queue.get()
        else:
            item = self._queue.get_nowait()
        if item is None:
            self._ended = True
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        writes, events = item
        for done in writes:
            await done
        return events

    def stop(self) -> None:
        """End the watch: the reader stops and a consumer waiting in next_batch() gets None."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._call is not None:
            self._call.cancel()
        self._end(_END)

    def _end(self, item: None) -> None:
        """Queue the end, dropping buffered events if the queue is full (the consumer stopped)."""
        while self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    # --- the reader task ------------------------------------------------------------------------------

    async def _run(self) -> None:
        """Streams until stopped. Before the first stream is established, gives up with Unavailable after
        the client's retry_timeout (like a unary call); after that, resumes for as long as it takes."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self._client.retry_timeout
        failures = 0
        backoff = 0.05
        try:
            while True:
                try:
                    await self._stream()
                except _Reconnect as exc:
                    if not self._established and loop.time() >= give_up:
                        raise Unavailable(f"cannot watch etcd: {exc}") from None
                    if self._streamed:  # the stream worked for a while: start over with the backoff
                        self._streamed = False
                        failures, backoff = 0, 0.05
                    log.info("etcd watch %s after revision %d: %s; resuming", self._name, self.cursor, exc)
                    failures += 1
                    if failures % len(self._client.endpoints) == 0:  # every member tried: wait a little
                        await asyncio.sleep(backoff)
                        backoff = min(backoff * 2, 1.0)
        except asyncio.CancelledError:
            raise
        except StorageError as exc:
            await self._queue.put(exc)  # after the events already queued
        except Exception as exc:  # a bug: end the watch loudly rather than leave the consumer waiting
            log.exception("etcd watch %s failed", self._name)
            await self._queue.put(StorageError(f"etcd watch failed: {exc!r}"))

    async def _stream(self) -> None:
        """One Watch stream from `cursor`; returns only by raising (_Reconnect or a final error)."""
        index, call = self._client.open_stream()
        self._call = call
        try:
            create = rpc_pb2.WatchCreateRequest(
                key=self._key,
                range_end=self._range_end,
                start_revision=max(self.cursor, 1),
                prev_kv=True,
                progress_notify=True,
            )
            await call.write(rpc_pb2.WatchRequest(create_request=create))
            while True:
                resp = await call.read()
                if resp is grpc.aio.EOF:
                    raise _Reconnect("the stream ended")
                if resp.canceled:
                    if resp.compact_revision:
                        raise Compacted(self.cursor, resp.compact_revision)
                    reason = resp.cancel_reason or "cancelled by etcd"
                    if "permission denied" in reason or "invalid" in reason:
                        raise StorageError(f"etcd refused the watch: {reason}")
                    self._client.stream_failed(index, reason)
                    raise _Reconnect(reason)
                if resp.created:
                    self._established = self._streamed = True
                if resp.events:
                    await self._deliver(resp.events)
        except grpc.aio.AioRpcError as exc:
            if classify(exc) is Failure.ANSWER and exc.code() != grpc.StatusCode.CANCELLED:
                raise StorageError(f"etcd refused the watch: {exc.details()}") from exc
            self._client.stream_failed(index, exc.details() or exc.code().name)
            raise _Reconnect(exc.details() or exc.code().name) from None
        finally:
            self._call = None
            call.cancel()

    async def _deliver(self, raw: Any) -> None:
        """Queue one response's new events (one per response, mostly: this is the live hot path)."""
        cursor = self.cursor
        decode = self._decode_key
        events: list[Event] = []
        keys: list[bytes] = []
        for ev in raw:
            kv = ev.kv
            if kv.mod_revision > cursor:
                keys.append(kv.key)
                events.append(to_event(ev, kv, decode(kv.key)))
        if not events:
            return
        batch = (self._tracker.pending(keys), events)
        if self._queue.full():
            await self._queue.put(batch)
        else:
            self._queue.put_nowait(batch)
        self.cursor = events[-1].kv.mod_revision

