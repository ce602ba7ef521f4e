"""Events: what components tell users about objects (client-go tools/record).

`EventRecorder.event(obj, "Normal"|"Warning", reason, message)` never blocks and never fails: it builds
a core/v1 Event (name "<object>.<unix nanoseconds in hex>", namespace of the object or "default",
source component/host, reportingController/Instance) and queues it on its `EventBroadcaster`. The
broadcaster's task (`run()`, or `start()` to spawn it) writes queued events one by one through an
`EventCorrelator` to a sink (core/v1 by default, or events.k8s.io/v1):

- Aggregation: events with the same source, object, type and reason but different messages count as
  similar; once 10 different messages were seen within 10 minutes, the next ones are folded into ONE
  event whose message is "(combined from similar events): <latest message>".
- Deduplication: an event identical to one already written (same source, object, type, reason,
  message) is not created again: the existing Event is patched with count+1, the new lastTimestamp
  (and message). If it vanished meanwhile (404), it is created again.
- Spam filter: per source+object a token bucket (burst 25, one more every 5 minutes); events beyond it
  are dropped.
- A write that fails for want of a server is retried up to 12 times, 10 s apart (the first wait random);
  a write the server refuses is dropped. The queue holds 1000 events; more are dropped with a log line.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from kijabi.client.clock import Clock
from kijabi.client.errors import AlreadyExists, APIError, ClientError, NotFound
from kijabi.client.ratelimit import TokenBucket
from kijabi.client.rest import EVENTS, GVR, Client
from kijabi.client.tasks import cancel_and_wait, spawn
from kijabi.machinery.meta import parse_time, rfc3339, rfc3339_micro

log = logging.getLogger(__name__)

Object = dict[str, Any]
EVENTS_V1 = GVR("events.k8s.io", "v1", "events")

NORMAL = "Normal"
WARNING = "Warning"

MAX_LRU_ENTRIES = 4096
AGGREGATE_MAX_EVENTS = 10
AGGREGATE_INTERVAL = 600.0
SPAM_BURST = 25
SPAM_QPS = 1.0 / 300.0
MAX_TRIES = 12
SLEEP_DURATION = 10.0
MAX_QUEUED = 1000
COMBINED_PREFIX = "(combined from similar events): "

K = TypeVar("K")
V = TypeVar("V")

_last_nanos = 0


def _unique_nanos(ts: float) -> int:
    """Unix nanoseconds of `ts` for an event name, strictly increasing within this process (a float
    clock can repeat a value, and two events must never get the same name)."""
    global _last_nanos
    nanos = max(int(ts * 1e9), _last_nanos + 1)
    _last_nanos = nanos
    return nanos


class _LRU(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._data: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V | None:
        value = self._data.get(key)
        if value is not None:
            self._data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.size:
            self._data.popitem(last=False)


# -- keys ------------------------------------------------------------------------------------------


def _src(ev: Mapping[str, Any]) -> Mapping[str, Any]:
    return ev.get("source") or {}


def _inv(ev: Mapping[str, Any]) -> Mapping[str, Any]:
    return ev.get("involvedObject") or {}


def _join(*parts: Any) -> str:
    return "".join(str(p or "") for p in parts)


def event_key(ev: Mapping[str, Any]) -> str:
    """Identical events: source, object (with fieldPath), type, reason and message."""
    s, o = _src(ev), _inv(ev)
    return _join(s.get("component"), s.get("host"), o.get("kind"), o.get("namespace"), o.get("name"),
                 o.get("fieldPath"), o.get("uid"), o.get("apiVersion"), ev.get("type"), ev.get("reason"),
                 ev.get("message"))


def spam_key(ev: Mapping[str, Any]) -> str:
    """Events about the same object from the same source."""
    s, o = _src(ev), _inv(ev)
    return _join(s.get("component"), s.get("host"), o.get("kind"), o.get("namespace"), o.get("name"),
                 o.get("uid"), o.get("apiVersion"))


def aggregate_key(ev: Mapping[str, Any]) -> tuple[str, str]:
    """(similar-events key, what tells them apart): all but the message, and the message."""
    s, o = _src(ev), _inv(ev)
    return (_join(s.get("component"), s.get("host"), o.get("kind"), o.get("namespace"), o.get("name"), o.get("uid"),
                  o.get("apiVersion"), ev.get("type"), ev.get("reason"), ev.get("reportingComponent"),
                  ev.get("reportingInstance")),
            str(ev.get("message") or ""))


# -- correlator ------------------------------------------------------------------------------------


@dataclass
class CorrelateResult:
    event: Object
    patch: Object | None = None
    skip: bool = False


@dataclass
class _AggregateRecord:
    local_keys: set[str]
    last_timestamp: float


@dataclass
class _Observation:
    count: int
    first_timestamp: Any
    name: str
    resource_version: str


class EventCorrelator:
    """Aggregation, deduplication and spam filtering of events before they are written."""

    def __init__(
        self,
        *,
        clock: Clock,
        max_events: int = AGGREGATE_MAX_EVENTS,
        max_interval: float = AGGREGATE_INTERVAL,
        spam_burst: int = SPAM_BURST,
        spam_qps: float = SPAM_QPS,
        cache_size: int = MAX_LRU_ENTRIES,
        spam_key_func: Callable[[Mapping[str, Any]], str] = spam_key,
    ) -> None:
        self.clock = clock
        self.max_events = max_events
        self.max_interval = max_interval
        self.spam_burst = spam_burst
        self.spam_qps = spam_qps
        self.spam_key_func = spam_key_func
        self._aggregates: _LRU[str, _AggregateRecord] = _LRU(cache_size)
        self._observed: _LRU[str, _Observation] = _LRU(cache_size)
        self._spam: _LRU[str, TokenBucket] = _LRU(cache_size)

    def _aggregate(self, event: Object) -> tuple[Object, str]:
        now = self.clock.time()
        agg_key, local_key = aggregate_key(event)
        record = self._aggregates.get(agg_key)
        if record is None or now - record.last_timestamp > self.max_interval:
            record = _AggregateRecord(set(), now)
        record.local_keys.add(local_key)
        record.last_timestamp = now
        self._aggregates.put(agg_key, record)
        if len(record.local_keys) < self.max_events:
            return event, event_key(event)
        record.local_keys.pop()  # do not let the set grow beyond the limit
        ts = rfc3339(now)
        combined: Object = {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": f"{_inv(event).get('name', '')}.{_unique_nanos(now):x}",
                         "namespace": (event.get("metadata") or {}).get("namespace")},
            "involvedObject": event.get("involvedObject"),
            "reason": event.get("reason"),
            "message": COMBINED_PREFIX + str(event.get("message") or ""),
            "source": event.get("source"),
            "firstTimestamp": ts, "lastTimestamp": ts, "count": 1,
            "type": event.get("type"),
        }
        return combined, agg_key

    def _observe(self, event: Object, key: str) -> tuple[Object, Object | None]:
        event = dict(event)
        meta = dict(event.get("metadata") or {})
        event["metadata"] = meta
        patch: Object | None = None
        last = self._observed.get(key)
        if last is not None and last.count > 0:
            meta["name"] = last.name
            meta["resourceVersion"] = last.resource_version
            event["firstTimestamp"] = last.first_timestamp
            event["count"] = last.count + 1
            patch = {"count": event["count"], "lastTimestamp": event.get("lastTimestamp")}
            if event.get("message"):
                patch["message"] = event["message"]
        self._observed.put(key, _Observation(int(event.get("count") or 1), event.get("firstTimestamp"),
                                             str(meta.get("name", "")), str(meta.get("resourceVersion", "") or "")))
        return event, patch

    def _filtered(self, event: Object) -> bool:
        key = self.spam_key_func(event)
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = TokenBucket(self.spam_qps, self.spam_burst, clock=self.clock)
            self._spam.put(key, bucket)
        return not bucket.try_accept()

    def correlate(self, event: Object) -> CorrelateResult:
        aggregated, key = self._aggregate(event)
        observed, patch = self._observe(aggregated, key)
        if self._filtered(observed):
            return CorrelateResult(observed, None, skip=True)
        return CorrelateResult(observed, patch)

    def update_state(self, event: Mapping[str, Any]) -> None:
        """Remember what the server stored (name, resourceVersion, count) for the next duplicate."""
        meta = event.get("metadata") or {}
        self._observed.put(event_key(event), _Observation(int(event.get("count") or 1), event.get("firstTimestamp"),
                                                          str(meta.get("name", "")),
                                                          str(meta.get("resourceVersion", "") or "")))


# -- sinks -----------------------------------------------------------------------------------------


class EventSink(Protocol):
    async def create(self, event: Object) -> Object: ...

    async def patch(self, event: Object, patch: Object) -> Object: ...


class CoreV1EventSink:
    """Writes core/v1 Events (what `kubectl get events` and `describe` show)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def create(self, event: Object) -> Object:
        return await self.client.create(EVENTS, event, namespace=(event.get("metadata") or {}).get("namespace"))

    async def patch(self, event: Object, patch: Object) -> Object:
        meta = event.get("metadata") or {}
        return await self.client.patch(EVENTS, meta["name"], patch, namespace=meta.get("namespace"),
                                       patch_type="strategic")


def _micro(ts: Any) -> str | None:
    if not ts:
        return None
    try:
        return rfc3339_micro(parse_time(str(ts)))
    except ValueError:
        return None


def to_events_v1(event: Mapping[str, Any]) -> Object:
    """A core/v1 Event as an events.k8s.io/v1 Event (upstream's field mapping)."""
    src = _src(event)
    meta = {k: v for k, v in (event.get("metadata") or {}).items() if v}
    out: Object = {
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": meta,
        "eventTime": _micro(event.get("firstTimestamp")),
        "reportingController": event.get("reportingComponent") or src.get("component") or "",
        "reportingInstance": event.get("reportingInstance") or src.get("host") or src.get("component") or "",
        "action": event.get("reason") or "",
        "reason": event.get("reason") or "",
        "regarding": event.get("involvedObject") or {},
        "note": event.get("message") or "",
        "type": event.get("type") or "",
        "deprecatedSource": dict(src),
        "deprecatedFirstTimestamp": event.get("firstTimestamp"),
        "deprecatedLastTimestamp": event.get("lastTimestamp"),
        "deprecatedCount": int(event.get("count") or 1),
    }
    if out["deprecatedCount"] > 1:
        out["series"] = {"count": out["deprecatedCount"], "lastObservedTime": _micro(event.get("lastTimestamp"))}
    return out


def from_events_v1(event: Mapping[str, Any]) -> Object:
    """The core/v1 view of an events.k8s.io/v1 Event (for the correlator's bookkeeping)."""
    series = event.get("series") or {}
    return {
        "apiVersion": "v1", "kind": "Event", "metadata": dict(event.get("metadata") or {}),
        "involvedObject": event.get("regarding") or {}, "reason": event.get("reason"), "message": event.get("note"),
        "source": event.get("deprecatedSource") or {"component": event.get("reportingController")},
        "firstTimestamp": event.get("deprecatedFirstTimestamp"), "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "count": series.get("count") or event.get("deprecatedCount") or 1, "type": event.get("type"),
        "reportingComponent": event.get("reportingController"), "reportingInstance": event.get("reportingInstance"),
    }


class EventsV1Sink:
    """Writes events.k8s.io/v1 Events; a repeated event updates its `series`."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def create(self, event: Object) -> Object:
        body = to_events_v1(event)
        created = await self.client.create(EVENTS_V1, body, namespace=body["metadata"].get("namespace"))
        return from_events_v1(created)

    async def patch(self, event: Object, patch: Object) -> Object:
        meta = event.get("metadata") or {}
        count = int(patch.get("count") or event.get("count") or 1)
        body: Object = {"series": {"count": count, "lastObservedTime": _micro(patch.get("lastTimestamp"))},
                        "deprecatedCount": count, "deprecatedLastTimestamp": patch.get("lastTimestamp")}
        if "message" in patch:
            body["note"] = patch["message"]
        patched = await self.client.patch(EVENTS_V1, meta["name"], body, namespace=meta.get("namespace"))
        return from_events_v1(patched)


# -- recorder and broadcaster ----------------------------------------------------------------------


def object_reference(obj: Mapping[str, Any]) -> Object:
    """The ObjectReference of an object (or `obj` itself when it already is a reference)."""
    if "metadata" not in obj and "name" in obj:
        return {k: v for k, v in obj.items() if v}
    meta = obj.get("metadata") or {}
    ref = {"kind": obj.get("kind"), "namespace": meta.get("namespace"), "name": meta.get("name"),
           "uid": meta.get("uid"), "apiVersion": obj.get("apiVersion"), "resourceVersion": meta.get("resourceVersion")}
    return {k: v for k, v in ref.items() if v}


@dataclass(frozen=True)
class EventSource:
    component: str
    host: str = ""


class EventRecorder:
    """Records events for one component. Cheap; never blocks; safe to call from event handlers."""

    def __init__(self, broadcaster: EventBroadcaster, source: EventSource) -> None:
        self.broadcaster = broadcaster
        self.source = source

    def event(self, obj: Mapping[str, Any], type: str, reason: str, message: str, *,
              annotations: Mapping[str, str] | None = None) -> None:
        if type not in (NORMAL, WARNING):
            log.error("unsupported event type %r (reason %s)", type, reason)
            return
        ref = object_reference(obj)
        now = self.broadcaster.clock.time()
        ts = rfc3339(now)
        meta: Object = {"name": f"{ref.get('name', '')}.{_unique_nanos(now):x}",
                        "namespace": ref.get("namespace") or "default"}
        if annotations:
            meta["annotations"] = dict(annotations)
        source: Object = {"component": self.source.component}
        if self.source.host:
            source["host"] = self.source.host
        event: Object = {
            "apiVersion": "v1", "kind": "Event", "metadata": meta, "involvedObject": ref, "reason": reason,
            "message": message, "firstTimestamp": ts, "lastTimestamp": ts, "count": 1, "type": type,
            "source": source, "reportingComponent": self.source.component,
            "reportingInstance": self.source.host,
        }
        self.broadcaster.enqueue(event)

    def eventf(self, obj: Mapping[str, Any], type: str, reason: str, fmt: str, *args: Any) -> None:
        self.event(obj, type, reason, fmt % args if args else fmt)

    def annotated_eventf(self, obj: Mapping[str, Any], annotations: Mapping[str, str], type: str, reason: str,
                         fmt: str, *args: Any) -> None:
        self.event(obj, type, reason, fmt % args if args else fmt, annotations=annotations)


class EventBroadcaster:
    """Queues events of any number of recorders and writes them, one at a time, from one task."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        sink: EventSink | None = None,
        clock: Clock | None = None,
        correlator: EventCorrelator | None = None,
        max_queued: int = MAX_QUEUED,
        max_tries: int = MAX_TRIES,
        sleep_duration: float = SLEEP_DURATION,
        rng: Callable[[], float] = random.random,
    ) -> None:
        if sink is None:
            if client is None:
                raise ValueError("EventBroadcaster needs a client or a sink")
            sink = CoreV1EventSink(client)
        if clock is None:
            if client is None:
                raise ValueError("EventBroadcaster needs a clock when it has no client")
            clock = client.clock
        self.sink = sink
        self.clock = clock
        self.correlator = correlator or EventCorrelator(clock=clock)
        self.max_tries = max_tries
        self.sleep_duration = sleep_duration
        self.rng = rng
        self._queue: asyncio.Queue[Object] = asyncio.Queue(max_queued)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def new_recorder(self, component: str, host: str | None = None) -> EventRecorder:
        """A recorder for `component` on `host` (default: this machine's hostname)."""
        return EventRecorder(self, EventSource(component, socket.gethostname() if host is None else host))

    def enqueue(self, event: Object) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("event queue full: dropping event %s %s", event.get("reason"), event.get("message"))
        else:
            log.debug("event(%s): type %s reason %s: %s", event.get("involvedObject"), event.get("type"),
                      event.get("reason"), event.get("message"))

    def start(self, tg: asyncio.TaskGroup | None = None) -> asyncio.Task[None]:
        """Spawn `run()` as a named task (in `tg` if given)."""
        self._task = spawn(self.run(), name="event broadcaster", tg=tg)
        return self._task

    async def run(self) -> None:
        """Write queued events until cancelled."""
        while True:
            event = await self._queue.get()
            try:
                await self.record(event)
            except Exception:
                log.exception("writing event %s failed", event.get("reason"))
            finally:
                self._queue.task_done()

    async def flush(self) -> None:
        """Wait until every event queued so far has been written (or given up on)."""
        await self._queue.join()

    async def shutdown(self) -> None:
        """Stop the task started by `start()` (queued events not written yet are lost)."""
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def record(self, event: Object) -> None:
        """Correlate one event and write it, retrying while the server is unreachable."""
        result = self.correlator.correlate(event)
        if result.skip:
            return
        tries = 0
        while not await self._write(result.event, result.patch):
            tries += 1
            if tries >= self.max_tries:
                log.error("unable to write event %s (retry limit exceeded)", result.event.get("reason"))
                return
            delay = self.sleep_duration * (self.rng() if tries == 1 else 1.0)
            await self.clock.sleep(delay)

    async def _write(self, event: Object, patch: Object | None) -> bool:
        """True when done (written, or refused for good); False to retry."""
        written: Object | None = None
        try:
            if patch is not None and int(event.get("count") or 1) > 1:
                try:
                    written = await self.sink.patch(event, patch)
                except NotFound:
                    written = None
            if written is None:
                fresh = dict(event)
                fresh["metadata"] = {k: v for k, v in (event.get("metadata") or {}).items() if k != "resourceVersion"}
                written = await self.sink.create(fresh)
        except AlreadyExists as exc:
            log.debug("server rejected event %s: %s (will not retry)", event.get("reason"), exc)
            return True
        except APIError as exc:
            log.error("server rejected event %s: %s (will not retry)", event.get("reason"), exc)
            return True
        except ClientError as exc:
            log.error("unable to write event %s: %s (may retry after sleeping)", event.get("reason"), exc)
            return False
        self.correlator.update_state(written)
        return True
