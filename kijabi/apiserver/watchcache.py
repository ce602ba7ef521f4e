"""The watch cache: one store watch for the whole API, many watchers served from memory.

The cache lists everything under `/registry/` once, then follows one store watch. Every event is
decoded once, gets its `resourceVersion`, and is serialized once (`CachedObject.data`); lists are built
by joining those bytes and watchers get the same bytes. Objects are kept as bytes (not dicts), with the
large managedFields documents that many objects have in common stored once (`CachedObject`), so 10k
pods cost less than their JSON size. Readers decode only what they need: `obj()` the whole object,
`slim()` all but managedFields (Table cells), `metadata_json()` the metadata as bytes (Table rows,
PartialObjectMetadata).

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
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from kijabi.storage import Compacted, Storage

log = logging.getLogger(__name__)

MAX_PENDING = 50_000
HISTORY = 20_000
_FRAME_CACHE = 512
_SHARE_MIN = 256  # smaller fieldsV1 documents and specs are not worth sharing
_SHARED_MIN_LIMIT = 1024
_FRAMES: collections.OrderedDict[tuple[str, int, str], bytes] = collections.OrderedDict()

FieldsFn = Callable[[dict[str, Any]], dict[str, str]]


class TooOld(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class CachedObject:
    """One object as the cache holds it: its served JSON bytes plus what selection needs.

    `data` is the object's JSON exactly as served (resourceVersion included). It is kept in `parts`,
    pieces whose concatenation is `data`: large managedFields `fieldsV1` documents and large specs,
    identical across the many objects one manager writes the same way (the pods of a ReplicaSet), are
    shared pieces (see `WatchCache._cached`), so 10k pods do not hold 10k copies of them. `layout`
    locates `metadata` and `,"managedFields":[...]` in `data` (0 when unknown), so a Table row or a
    PartialObjectMetadata needs no decoding of the whole object. Instances are shared: readers must not change them (only
    `WatchCache.set_fields` replaces `fields`).
    """

    __slots__ = ("fields", "key", "labels", "layout", "name", "namespace", "parts", "rv")

    def __init__(self, key: str, rv: int, data: bytes | tuple[bytes, ...], name: str, namespace: str,
                 labels: dict[str, str], fields: dict[str, str], layout: int = 0) -> None:
        self.key = key
        self.rv = rv
        self.parts: tuple[bytes, ...] = (data,) if isinstance(data, bytes) else data
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.fields = fields
        self.layout = layout

    def __repr__(self) -> str:
        return f"CachedObject({self.key!r}, rv={self.rv})"

    @property
    def data(self) -> bytes:
        """The object's JSON, resourceVersion included (one buffer)."""
        parts = self.parts
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def frame(self, etype: str) -> bytes:
        """`{"type":..,"object":..}\n` for this object. Every watcher of one event gets the same bytes:
        recent frames are kept in a small LRU, so fan-out builds each line once without the cache
        holding a second copy of every object."""
        key = (self.key, self.rv, etype)
        line = _FRAMES.get(key)
        if line is None:
            line = _FRAMES[key] = b"".join((b'{"type":"', etype.encode(), b'","object":', *self.parts, b"}\n"))
            if len(_FRAMES) > _FRAME_CACHE:
                _FRAMES.popitem(last=False)
        return line

    def obj(self) -> dict[str, Any]:
        """A fresh, private dict of the object (callers may change it)."""
        result: dict[str, Any] = orjson.loads(self.data)
        return result

    def metadata_json(self) -> bytes:
        """The JSON of the object's `metadata` (managedFields included), without decoding the object."""
        start, end = self.layout & _MASK, (self.layout >> 32) & _MASK
        if not end:
            return orjson.dumps(self.obj().get("metadata") or {})
        return self.data[start:end]

    def slim(self) -> dict[str, Any]:
        """A fresh dict of the object without `metadata.managedFields`: what printers read, at about half
        the decoding cost of `obj()` for objects that managers wrote."""
        start, end = (self.layout >> 64) & _MASK, self.layout >> 96
        if not end:
            obj = self.obj()
            meta = obj.get("metadata")
            if isinstance(meta, dict):
                meta.pop("managedFields", None)
            return obj
        data = self.data
        result: dict[str, Any] = orjson.loads(data[:start] + data[end:])
        return result


_MASK = 0xFFFFFFFF


def layout_of(data: bytes, meta: dict[str, Any]) -> int:
    """`CachedObject.layout` for `data` whose metadata, in the order `data` has its keys, is `meta`.

    Offsets are checked against the bytes (orjson writes a dict the same way every time), so a
    mismatch only costs the fast paths (0: unknown), never correctness."""
    i = data.find(_META, 0, 512)
    if i < 0 or not _HEAD.fullmatch(data, 0, i):
        return 0
    start = i + len(_META) - 1
    encoded = orjson.dumps(meta)
    if not data.startswith(encoded, start):
        return 0
    end = start + len(encoded)
    layout = start | end << 32
    managed = meta.get("managedFields")
    if managed:
        # `,"managedFields":` followed by an array can only be a key of metadata itself: inside a string
        # every quote is escaped, and no other object under metadata has such a key.
        piece = b',"managedFields":' + orjson.dumps(managed)
        j = data.find(piece, start, end)
        if j > 0:
            layout |= j << 64 | (j + len(piece)) << 96
    return layout


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


class EventQueue:
    """What a watcher's single consumer reads: `asyncio.Queue`'s get/get_nowait/put_nowait/qsize/empty
    without its task bookkeeping (a deque and at most one waiting future), since fan-out puts every
    event into every watcher's queue."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: collections.deque[WatchEvent | None] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None

    def qsize(self) -> int:
        return len(self._items)

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: WatchEvent | None) -> None:
        self._items.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def get_nowait(self) -> WatchEvent | None:
        if not self._items:
            raise asyncio.QueueEmpty
        return self._items.popleft()

    async def wait(self, timeout: float) -> bool:
        """Wait until an item is queued or `timeout` seconds passed; whether one is queued. (One timer
        handle per wait: lighter than `asyncio.timeout` around `get`, on the fan-out's hot path.)"""
        if self._items:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            timer.cancel()
            if self._waiter is waiter:
                self._waiter = None
        return bool(self._items)

    async def get(self) -> WatchEvent | None:
        """The next item, waiting for one (one consumer at a time; cancelling loses nothing)."""
        while not self._items:
            waiter = self._waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                if self._waiter is waiter:
                    self._waiter = None
        return self._items.popleft()


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class Watcher:
    """One client's watch. `filter` decides membership (None: everything under `prefix`); events are
    queued as WatchEvents."""

    def __init__(self, cache: WatchCache, bucket: Bucket, prefix: str,
                 filter: Callable[[CachedObject], bool] | None) -> None:
        self.cache = cache
        self.bucket = bucket
        self.prefix = prefix
        self.filter = filter
        self.queue = EventQueue()
        self.closed = False

    def offer(self, ev: WatchEvent) -> None:
        if self.closed or not ev.obj.key.startswith(self.prefix):
            return
        if self.filter is None:  # the common case, once per watcher and event: _push inlined
            if len(self.queue._items) < MAX_PENDING:
                self.queue.put_nowait(ev)
            else:
                self._push(ev)
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
        if len(self.queue._items) >= MAX_PENDING:
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
        self._shared: dict[bytes, bytes] = {}  # fieldsV1 documents and specs, see _cached
        self._shared_limit = _SHARED_MIN_LIMIT

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
        b = self._bucket(key)
        data = with_resource_version(value, rv) if isinstance(meta, dict) and "resourceVersion" not in meta else None
        if data is not None:
            # The bytes now start metadata with resourceVersion; so does the dict their layout is checked with.
            served_meta = {"resourceVersion": str(rv), **meta}
            obj["metadata"] = meta = served_meta
        else:
            meta["resourceVersion"] = str(rv)
            data = orjson.dumps(obj)
        return self._cached(key, rv, data, obj, b.fields_fn(obj))

    def _with_rv(self, co: CachedObject, rv: int) -> CachedObject:
        if co.rv == rv:
            return co
        obj = co.obj()
        obj["metadata"]["resourceVersion"] = str(rv)
        return self._cached(co.key, rv, orjson.dumps(obj), obj, co.fields)

    def _cached(self, key: str, rv: int, data: bytes, obj: dict[str, Any], fields: dict[str, str]) -> CachedObject:
        """The CachedObject of `obj`, whose JSON is `data`, with large fieldsV1 documents and a large
        `spec` shared: the many objects one manager writes the same way (the pods of a ReplicaSet) hold
        one copy of each."""
        meta = obj["metadata"]
        layout = layout_of(data, meta)
        pieces: list[bytes] = []
        last = 0

        def share(value: Any, label: bytes, start: int, end: int) -> int:
            """Cut `label` + `value`'s JSON, if found in data[start:end], into a shared piece; returns
            where the search may go on."""
            nonlocal last
            encoded = orjson.dumps(value)
            if len(encoded) < _SHARE_MIN:
                return start
            at = data.find(label + encoded, start, end)
            if at < 0:
                return start
            at += len(label)
            pieces.append(data[last:at])
            pieces.append(self._share(encoded))
            last = at + len(encoded)
            return last

        if layout >> 96:
            pos, end = (layout >> 64) & _MASK, layout >> 96
            for entry in meta.get("managedFields") or ():
                doc = entry.get("fieldsV1") if isinstance(entry, dict) else None
                if isinstance(doc, dict):
                    pos = share(doc, b'"fieldsV1":', pos, end)
        spec = obj.get("spec")
        meta_end = (layout >> 32) & _MASK
        if isinstance(spec, dict) and meta_end:
            share(spec, b',"spec":', meta_end, len(data))
        parts: bytes | tuple[bytes, ...] = data
        if pieces:
            pieces.append(data[last:])
            parts = tuple(pieces)
        namespace = meta.get("namespace", "")
        return CachedObject(key, rv, parts, meta.get("name", ""), sys.intern(namespace) if namespace else "",
                            meta.get("labels") or {}, fields, layout)

    def _share(self, piece: bytes) -> bytes:
        """The one copy of `piece` that cached objects share."""
        shared = self._shared.setdefault(piece, piece)
        if len(self._shared) > self._shared_limit:
            # Drop pieces no cached object uses any more (referenced only by this dict: key and value,
            # plus the loop variable and getrefcount's argument).
            for unused in [p for p in self._shared if sys.getrefcount(p) <= 4]:
                del self._shared[unused]
            self._shared_limit = max(_SHARED_MIN_LIMIT, 2 * len(self._shared))
        return shared

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
              match: Callable[[CachedObject], bool] | None) -> Watcher:
        """Register a watcher. `from_revision` None: start with ADDED events for the current state.
        `match` None: every object under `prefix`."""
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
