"""The watch cache: one store watch for the whole API, many watchers served from memory.

The cache lists everything under `/registry/` once, then follows one store watch. Every event is
decoded once, gets its `resourceVersion`, and is serialized once (`CachedObject.data`); lists are built
by joining those bytes and watchers get the same bytes. Objects are kept as bytes (not dicts), so 10k
pods cost about their JSON size.

Objects are grouped in buckets by storage prefix (`/registry/pods/`, `/registry/services/specs/`,
`/registry/<crd group>/<plural>/`), so a list touches only its resource.

Contracts:
- `revision` is the revision of the last event applied (or of the initial list). All buckets share it,
  because all events come through one watch in revision order.
- `wait_for(rev)` returns once the cache has applied every event up to `rev` (consistent reads from
  the cache: the caller asks the store for its current revision first).
- A watcher registered with `from_revision` gets every event with revision > from_revision, in order,
  exactly once; if those events are no longer in the history, `watch()` raises `TooOld`.
- A watcher whose queue grows beyond `MAX_PENDING` is closed (upstream terminates slow watchers too);
  its client re-lists.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kijabi.storage import Compacted, Storage

log = logging.getLogger(__name__)

MAX_PENDING = 50_000
HISTORY = 20_000
_FRAME_CACHE = 512
_FRAMES: collections.OrderedDict[tuple[str, int, str], bytes] = collections.OrderedDict()

FieldsFn = Callable[[dict[str, Any]], dict[str, str]]


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(slots=True)
class CachedObject:
    key: str
    rv: int
    data: bytes  # the object's JSON, resourceVersion included
    name: str
    namespace: str
    labels: dict[str, str]
    fields: dict[str, str]

    def frame(self, etype: str) -> bytes:
        """`{"type":..,"object":..}\n` for this object. Every watcher of one event gets the same bytes:
        recent frames are kept in a small LRU, so fan-out builds each line once without the cache
        holding a second copy of every object."""
        key = (self.key, self.rv, etype)
        line = _FRAMES.get(key)
        if line is None:
            line = _FRAMES[key] = b'{"type":"' + etype.encode() + b'","object":' + self.data + b"}\n"
            if len(_FRAMES) > _FRAME_CACHE:
                _FRAMES.popitem(last=False)
        return line

    def obj(self) -> dict[str, Any]:
        """A fresh, private dict of the object (callers may change it)."""
        result: dict[str, Any] = orjson.loads(self.data)
        return result


@dataclass(slots=True)
class WatchEvent:
    type: str  # ADDED, MODIFIED, DELETED
    rv: int
    obj: CachedObject
    prev: CachedObject | None


_META = b'"metadata":{'
_HEAD = re.compile(rb'\{(?:"apiVersion":(?:"[^"\\]*"|null),)?(?:"kind":(?:"[^"\\]*"|null),)?')


def with_resource_version(value: bytes, rv: int) -> bytes | None:
    """The stored JSON with metadata.resourceVersion spliced in, without decoding it.

    The store writes apiVersion, kind and metadata first (`Store.encode`), so the first
    `"metadata":{` within the opening bytes is the object's own. None when the bytes do not have that
    shape (then the caller decodes)."""
    i = value.find(_META, 0, 512)
    if i < 0 or not _HEAD.fullmatch(value, 0, i):
        return None
    j = i + len(_META)
    sep = b"" if value[j:j + 1] == b"}" else b","
    return b"%s\"resourceVersion\":\"%d\"%s%s" % (value[:j], rv, sep, value[j:])


def bucket_of(key: str) -> str:
    """The storage prefix that a key belongs to (see module docstring)."""
    parts = key.split("/", 4)  # ['', 'registry', seg1, seg2, rest]
    if len(parts) < 4:
        return key
    seg1 = parts[2]
    if "." in seg1 or seg1 == "services":
        return f"/registry/{seg1}/{parts[3]}/"
    return f"/registry/{seg1}/"


def _default_fields(obj: dict[str, Any]) -> dict[str, str]:
    meta = obj.get("metadata") or {}
    out = {"metadata.name": meta.get("name", "")}
    if meta.get("namespace"):
        out["metadata.namespace"] = meta["namespace"]
    return out


class Bucket:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.objects: dict[str, CachedObject] = {}
        self.fields_fn: FieldsFn = _default_fields
        self.watchers: set[Watcher] = set()
        self._sorted: list[str] | None = None

    def keys_sorted(self) -> list[str]:
        if self._sorted is None:
            self._sorted = sorted(self.objects)
        return self._sorted

    def put(self, co: CachedObject) -> CachedObject | None:
        prev = self.objects.get(co.key)
        if prev is None:
            self._sorted = None
        self.objects[co.key] = co
        return prev

    def remove(self, key: str) -> CachedObject | None:
        prev = self.objects.pop(key, None)
        if prev is not None:
            self._sorted = None
        return prev


class Watcher:
    """One client's watch. `filter` decides membership; events are queued as WatchEvents."""

    def __init__(self, cache: WatchCache, bucket: Bucket, prefix: str, filter: Callable[[CachedObject], bool]) -> None:
        self.cache = cache
        self.bucket = bucket
        self.prefix = prefix
        self.filter = filter
        self.queue: asyncio.Queue[WatchEvent | None] = asyncio.Queue()
        self.closed = False

    def offer(self, ev: WatchEvent) -> None:
        if self.closed or not ev.obj.key.startswith(self.prefix):
            return
        now_in = self.filter(ev.obj) if ev.type != "DELETED" else False
        was_in = ev.prev is not None and self.filter(ev.prev)
        if ev.type == "DELETED":
            if ev.prev is not None and self.filter(ev.prev):
                self._push(ev)
            return
        if now_in and was_in:
            self._push(ev)
        elif now_in:
            self._push(WatchEvent("ADDED", ev.rv, ev.obj, ev.prev))
        elif was_in:
            # Left the selection: a DELETED carrying the new state, as upstream's cacher does.
            self._push(WatchEvent("DELETED", ev.rv, ev.obj, ev.prev))

    def _push(self, ev: WatchEvent) -> None:
        if self.queue.qsize() >= MAX_PENDING:
            log.warning("closing slow watcher on %s (%d events pending)", self.prefix, MAX_PENDING)
            self.close()
            return
        self.queue.put_nowait(ev)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.bucket.watchers.discard(self)
            self.queue.put_nowait(None)


class WatchCache:
    def __init__(self, storage: Storage, *, history: int = HISTORY) -> None:
        self.storage = storage
        self.buckets: dict[str, Bucket] = {}
        self.revision = 0
        self.history: collections.deque[WatchEvent] = collections.deque()
        self.history_limit = history
        self.history_start = 0  # the history holds every event with rv > history_start
        self._waiters: list[tuple[int, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        await self._load()
        self._task = asyncio.create_task(self._follow(), name="watchcache-follow")
        self.ready.set()

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        for b in self.buckets.values():
            for w in list(b.watchers):
                w.close()

    async def _load(self) -> None:
        start = ""
        rev = 0
        while True:
            page = await self.storage.list("/registry/", revision=rev, limit=5000, start_after=start)
            rev = page.revision
            for kv in page.items:
                self._apply_put(kv.key, kv.value, kv.mod_revision)
            if not page.more:
                break
            start = page.items[-1].key
        self.revision = rev
        self.history_start = rev

    async def _follow(self) -> None:
        while True:
            try:
                async for ev in self.storage.watch("/registry/", from_revision=self.revision):
                    if ev.type == "PUT":
                        co, prev = self._apply_put(ev.kv.key, ev.kv.value, ev.kv.mod_revision)
                        wev = WatchEvent("ADDED" if prev is None else "MODIFIED", ev.kv.mod_revision, co, prev)
                    else:
                        prev = self._bucket(ev.kv.key).remove(ev.kv.key)
                        co = prev if prev is not None else self._decode(ev.kv.key, ev.kv.value, ev.kv.mod_revision)
                        co = self._with_rv(co, ev.kv.mod_revision)
                        wev = WatchEvent("DELETED", ev.kv.mod_revision, co, prev or co)
                    self._record(wev)
            except Compacted:
                log.warning("watch cache fell behind compaction; re-listing")
                await self._relist()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("watch cache: store watch failed; retrying")
                await asyncio.sleep(0.5)

    async def _relist(self) -> None:
        # Everything before now is unknown to watchers: close them all; clients re-list.
        for b in self.buckets.values():
            for w in list(b.watchers):
                w.close()
            b.objects.clear()
            b._sorted = None
        self.history.clear()
        await self._load()

    # -- applying events ---------------------------------------------------------------------------

    def _bucket(self, key: str) -> Bucket:
        prefix = bucket_of(key)
        b = self.buckets.get(prefix)
        if b is None:
            b = self.buckets[prefix] = Bucket(prefix)
        return b

    def bucket(self, prefix: str) -> Bucket:
        b = self.buckets.get(prefix)
        if b is None:
            b = self.buckets[prefix] = Bucket(prefix)
        return b

    def set_fields(self, prefix: str, fn: FieldsFn) -> None:
        """Install a resource's selectable-field extractor (recomputes fields of cached objects)."""
        b = self.bucket(prefix)
        b.fields_fn = fn
        for co in b.objects.values():
            co.fields = fn(co.obj())

    def _decode(self, key: str, value: bytes, rv: int) -> CachedObject:
        obj = orjson.loads(value)
        meta = obj.setdefault("metadata", {})
        meta["resourceVersion"] = str(rv)
        b = self._bucket(key)
        data = with_resource_version(value, rv) or orjson.dumps(obj)
        return CachedObject(
            key, rv, data, meta.get("name", ""), meta.get("namespace", ""), meta.get("labels") or {}, b.fields_fn(obj),
        )

    def _with_rv(self, co: CachedObject, rv: int) -> CachedObject:
        if co.rv == rv:
            return co
        obj = co.obj()
        obj["metadata"]["resourceVersion"] = str(rv)
        return CachedObject(co.key, rv, orjson.dumps(obj), co.name, co.namespace, co.labels, co.fields)

    def _apply_put(self, key: str, value: bytes, rv: int) -> tuple[CachedObject, CachedObject | None]:
        co = self._decode(key, value, rv)
        return co, self._bucket(key).put(co)

    def _record(self, ev: WatchEvent) -> None:
        self.revision = ev.rv
        self.history.append(ev)
        while len(self.history) > self.history_limit:
            old = self.history.popleft()
            self.history_start = old.rv
        b = self._bucket(ev.obj.key)
        for w in list(b.watchers):
            w.offer(ev)
        self._notify()

    def _notify(self) -> None:
        if not self._waiters:
            return
        keep = []
        for rev, fut in self._waiters:
            if rev <= self.revision:
                if not fut.done():
                    fut.set_result(None)
            else:
                keep.append((rev, fut))
        self._waiters = keep

    async def wait_for(self, rev: int, timeout: float = 10.0) -> None:
        """Wait until the cache has applied revision `rev`; TimeoutError after `timeout` seconds."""
        if self.revision >= rev:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((rev, fut))
        await asyncio.wait_for(fut, timeout)

    # -- reading -----------------------------------------------------------------------------------

    def list(self, prefix: str, bucket: str, match: Callable[[CachedObject], bool] | None = None) -> Iterator[CachedObject]:
        """Objects under `prefix` in key order."""
        b = self.buckets.get(bucket)
        if b is None:
            return
        objects = b.objects
        for key in b.keys_sorted():
            if key.startswith(prefix):
                co = objects[key]
                if match is None or match(co):
                    yield co

    def get(self, key: str) -> CachedObject | None:
        b = self.buckets.get(bucket_of(key))
        return b.objects.get(key) if b else None

    def watch(self, prefix: str, bucket: str, from_revision: int | None,
              match: Callable[[CachedObject], bool]) -> Watcher:
        """Register a watcher. `from_revision` None: start with ADDED events for the current state."""
        b = self.bucket(bucket)
        w = Watcher(self, b, prefix, match)
        if from_revision is None:
            for co in self.list(prefix, bucket, match):
                w.queue.put_nowait(WatchEvent("ADDED", co.rv, co, None))
        else:
            if from_revision < self.history_start:
                raise TooOld(from_revision, self.history_start + 1)
            newer: list[WatchEvent] = []
            for ev in reversed(self.history):
                if ev.rv <= from_revision:
                    break
                newer.append(ev)
            for ev in reversed(newer):
                w.offer(ev)
        b.watchers.add(w)
        return w


def labels_of(co: CachedObject) -> Mapping[str, str]:
    return co.labels
