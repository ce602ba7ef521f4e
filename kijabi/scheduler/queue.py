"""The scheduling queue: which pod is tried next, and when a refused pod is worth another try
(upstream pkg/scheduler/backend/queue/scheduling_queue.go, SchedulerQueueingHints on).

Three places hold a pod that waits for scheduling:

    activeQ        a heap in QueueSort order (PrioritySort: priority, then age); `pop()` takes the head
    backoffQ       pods that failed recently, by backoff expiry: 1 s after the first failure, doubling
                   up to 10 s; a timer moves each one to activeQ when its backoff is over
    unschedulable  pods refused by some plugins; they leave only when a cluster event arrives that one
                   of THOSE plugins registered and its QueueingHint says QUEUE (or after 5 minutes)

A pod whose PreEnqueue plugins refuse it (scheduling gates) waits in `unschedulable` as gated. While a
pod is being scheduled ("in flight"), the events that arrive are recorded, so that a failure can be
retried at once when something relevant happened meanwhile. The queue also holds the nominator:
which pods were nominated to which node by preemption.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kijabi.scheduler.framework.events import (
    BACKOFF_COMPLETE,
    EVENT_FORCE_ACTIVATE,
    EVENT_UNSCHEDULABLE_TIMEOUT,
    SCHEDULE_ATTEMPT_FAILURE,
    UNSCHEDULED_POD_ADD,
    UNSCHEDULED_POD_UPDATE,
    ActionType,
    ClusterEvent,
    QueueingHint,
    QueueingHintFn,
    pod_scheduling_changes,
)
from kijabi.scheduler.framework.interface import MODE_OVERRIDE, NominatingInfo, ObjectLister
from kijabi.scheduler.framework.types import Pod, PodInfo, QueuedPodInfo, pod_uid
from kijabi.scheduler.heap import Heap

if TYPE_CHECKING:
    from kijabi.client.clock import Clock, TimerHandle
    from kijabi.scheduler.framework.runtime import Framework

log = logging.getLogger(__name__)

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
DEFAULT_MAX_IN_UNSCHEDULABLE = 5 * 60.0
UNSCHEDULABLE_FLUSH_INTERVAL = 30.0
SCHEDULING_GATES = "SchedulingGates"

# queueing strategies
QUEUE_SKIP, QUEUE_AFTER_BACKOFF, QUEUE_IMMEDIATELY = 0, 1, 2
ACTIVE_Q, BACKOFF_Q, UNSCHEDULABLE_PODS = "active", "backoff", "unschedulable"

HintEntry = tuple[ClusterEvent, str, QueueingHintFn | None]  # registered event, plugin, hint


class _LessKey:
    """A sort key that orders by a QueueSort plugin's `less`."""

    __slots__ = ("less", "q")

    def __init__(self, q: QueuedPodInfo, less: Callable[[QueuedPodInfo, QueuedPodInfo], bool]) -> None:
        self.q = q
        self.less = less

    def __lt__(self, other: _LessKey) -> bool:
        return self.less(self.q, other.q)


def _uid(q: QueuedPodInfo) -> str:
    return q.pod_info.uid


class Nominator:
    """Pods nominated to nodes by preemption (upstream nominator). `by_node` maps a node to a list that
    is replaced, never changed, when the node's nominations change (readers may remember it)."""

    def __init__(self, pod_lister: ObjectLister | None = None) -> None:
        self.pod_lister = pod_lister
        self.by_node: dict[str, list[PodInfo]] = {}
        self.node_of: dict[str, str] = {}

    def add(self, pi: PodInfo, info: NominatingInfo | None) -> None:
        self.delete(pi.pod)
        if info is not None and info.mode == MODE_OVERRIDE:
            node = info.nominated_node_name
        else:
            node = (pi.pod.get("status") or {}).get("nominatedNodeName") or ""
        if not node:
            return
        if self.pod_lister is not None:
            current = self.pod_lister.get(pi.name, pi.namespace)
            if current is None or (current.get("spec") or {}).get("nodeName"):
                return
        self.node_of[pi.uid] = node
        pods = self.by_node.get(node, [])
        if all(p.uid != pi.uid for p in pods):
            self.by_node[node] = [*pods, pi]  # a new list: a node's list is never changed in place

    def delete(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        node = self.node_of.pop(uid, None)
        if node is None:
            return
        pods = [p for p in self.by_node.get(node, []) if p.uid != uid]
        if pods:
            self.by_node[node] = pods
        else:
            self.by_node.pop(node, None)

    def update(self, old: Mapping[str, Any], new: PodInfo) -> None:
        info: NominatingInfo | None = None
        if not (old.get("status") or {}).get("nominatedNodeName") and \
                not (new.pod.get("status") or {}).get("nominatedNodeName"):
            node = self.node_of.get(pod_uid(old))
            if node:
                info = NominatingInfo(node, MODE_OVERRIDE)
        self.delete(old)
        self.add(new, info)

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]:
        """The node's nominated pods: the very list `by_node` holds (read only; () when none)."""
        return self.by_node.get(node_name, ())


class SchedulingQueue:
    """See the module docstring. All methods are synchronous except `pop()` and `run()`."""

    def __init__(
        self,
        frameworks: Mapping[str, Framework],
        *,
        clock: Clock,
        pod_initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
        pod_max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
        max_in_unschedulable: float = DEFAULT_MAX_IN_UNSCHEDULABLE,
        pod_lister: ObjectLister | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self.frameworks = dict(frameworks)
        self.clock = clock
        self.pod_initial_backoff = pod_initial_backoff
        self.pod_max_backoff = pod_max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self.on_change = on_change
        first = next(iter(self.frameworks.values()))
        sort = first.queue_sort
        sort_key = getattr(sort, "sort_key", None)
        key_fn: Callable[[QueuedPodInfo], Any] = sort_key if sort_key is not None else (lambda q: _LessKey(q, sort.less))
        self.active: Heap[QueuedPodInfo] = Heap(_uid, key_fn)
        self.backoff: Heap[QueuedPodInfo] = Heap(_uid, lambda q: (self.backoff_expiry(q), q.timestamp))
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self.nominator = Nominator(pod_lister)
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.closed = False
        self._in_flight: dict[str, int] = {}  # uid -> absolute index of the first event it must see
        self._events: list[tuple[ClusterEvent, Any, Any]] = []
        self._events_base = 0
        self._wakeup = asyncio.Event()
        self._backoff_timer: TimerHandle | None = None
        self._backoff_deadline: float | None = None
        self.hints: dict[str, list[HintEntry]] = {}
        for name, fwk in self.frameworks.items():
            self.hints[name] = [(ev.event, plugin, ev.hint) for plugin, ev in fwk.events_to_register()]
        self._interest: dict[ClusterEvent, bool] = {}  # memo of _interested (the hints never change)

    # -- bookkeeping -------------------------------------------------------------------------------

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def pending_counts(self) -> dict[str, int]:
        gated = sum(1 for q in self.unschedulable.values() if q.gated)
        return {ACTIVE_Q: len(self.active), BACKOFF_Q: len(self.backoff),
                UNSCHEDULABLE_PODS: len(self.unschedulable) - gated, "gated": gated}

    def __len__(self) -> int:
        return len(self.active) + len(self.backoff) + len(self.unschedulable)

    def backoff_duration(self, q: QueuedPodInfo) -> float:
        if q.attempts == 0:
            return 0.0
        duration = self.pod_initial_backoff
        for _ in range(1, q.attempts):
            if duration > self.pod_max_backoff - duration:
                return self.pod_max_backoff
            duration += duration
        return duration

    def backoff_expiry(self, q: QueuedPodInfo) -> float:
        return q.timestamp + self.backoff_duration(q)

    def is_backing_off(self, q: QueuedPodInfo) -> bool:
        if q.gated:
            return False
        return self.backoff_expiry(q) > self.clock.now()

    def _framework(self, pod: Pod) -> Framework | None:
        name = (pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        return self.frameworks.get(name)

    def _new_queued(self, pod: Pod) -> QueuedPodInfo:
        return QueuedPodInfo(PodInfo(pod), self.clock.now())

    def _run_pre_enqueue(self, q: QueuedPodInfo) -> bool:
        fwk = self._framework(q.pod)
        if fwk is None:
            return True
        st = fwk.run_pre_enqueue_plugins(q.pod)
        if st is None or st.is_success():
            return True
        q.unschedulable_plugins.add(st.plugin)
        if not st.is_rejected():
            log.error("PreEnqueue plugin %s failed for pod %s: %s", st.plugin, q.pod_info.key, st.message())
        return False

    def _move_to_active(self, q: QueuedPodInfo, event: str) -> bool:
        gated_before = q.gated
        q.gated = not self._run_pre_enqueue(q)
        uid = q.uid
        if q.gated:
            if uid in self.active or uid in self.backoff:
                return False
            self.unschedulable[uid] = q
            return False
        if q.initial_attempt_timestamp is None:
            q.initial_attempt_timestamp = self.clock.now()
        self.active.add_or_update(q)
        self.unschedulable.pop(uid, None)
        self.backoff.delete(uid)
        if event in (UNSCHEDULED_POD_ADD.label, UNSCHEDULED_POD_UPDATE.label):
            self.nominator.add(q.pod_info, None)
        del gated_before
        self._wakeup.set()
        return True

    def _add_to_backoff(self, q: QueuedPodInfo) -> None:
        self.backoff.add_or_update(q)
        self._arm_backoff_timer()

    def _arm_backoff_timer(self) -> None:
        head = self.backoff.peek()
        if head is None:
            return
        deadline = self.backoff_expiry(head)
        if self._backoff_timer is not None and self._backoff_deadline is not None and self._backoff_deadline <= deadline:
            return
        if self._backoff_timer is not None:
            self._backoff_timer.cancel()
        self._backoff_deadline = deadline
        try:
            self._backoff_timer = self.clock.call_later(max(deadline - self.clock.now(), 0.0), self._on_backoff_timer)
        except RuntimeError:  # no running loop (synchronous tests): flush_backoff_completed() is called by hand
            self._backoff_timer = None
            self._backoff_deadline = None

    def _on_backoff_timer(self) -> None:
        self._backoff_timer = None
        self._backoff_deadline = None
        self.flush_backoff_completed()

    # -- adding and removing -----------------------------------------------------------------------

    def add(self, pod: Pod) -> None:
        """A new unscheduled pod."""
        q = self._new_queued(pod)
        self._move_to_active(q, UNSCHEDULED_POD_ADD.label)
        self._changed()

    def activate(self, pods: Iterable[Pod]) -> None:
        """Move these pods (if waiting in backoff or unschedulable) to activeQ now."""
        for pod in pods:
            uid = pod_uid(pod)
            q = self.unschedulable.get(uid) or self.backoff.get(uid)
            if q is None:
                continue
            self._move_to_active(q, EVENT_FORCE_ACTIVATE.label)
        self._changed()

    def update(self, old: Pod | None, new: Pod) -> None:
        """An unscheduled pod changed."""
        uid = pod_uid(new)
        if uid in self._in_flight and old is not None:
            for ev in pod_scheduling_changes(new, old):
                self._record_event(ev, old, new)
            return
        q = self.active.get(uid)
        if q is not None:
            q.pod_info.update(new)
            self.nominator.update(old or new, q.pod_info)
            self.active.add_or_update(q)
            return
        q = self.backoff.get(uid)
        if q is not None:
            q.pod_info.update(new)
            self.nominator.update(old or new, q.pod_info)
            self.backoff.add_or_update(q)
            return
        q = self.unschedulable.get(uid)
        if q is not None:
            q.pod_info.update(new)
            self.nominator.update(old or new, q.pod_info)
            for ev in pod_scheduling_changes(new, old or new):
                hint = self._worth_requeuing(q, ev, old, new)
                where = self._requeue(q, hint, ev.label)
                if where != UNSCHEDULABLE_PODS:
                    self.unschedulable.pop(uid, None)
                if where == ACTIVE_Q:
                    break
            self._changed()
            return
        self._move_to_active(self._new_queued(new), UNSCHEDULED_POD_UPDATE.label)
        self._changed()

    def delete(self, pod: Mapping[str, Any]) -> None:
        uid = pod_uid(pod)
        self.nominator.delete(pod)
        if self.active.delete(uid) is None:
            self.backoff.delete(uid)
            self.unschedulable.pop(uid, None)
        self._changed()

    # -- popping -----------------------------------------------------------------------------------

    def pop_nowait(self) -> QueuedPodInfo | None:
        q = self.active.pop()
        if q is None:
            return None
        q.attempts += 1
        self.scheduling_cycle += 1
        self._in_flight[q.uid] = self._events_base + len(self._events)
        q.unschedulable_plugins = set()
        q.pending_plugins = set()
        return q

    async def pop(self) -> QueuedPodInfo:
        """The next pod to schedule (waits while activeQ is empty). Raises QueueClosed after close()."""
        while True:
            if self.closed:
                raise QueueClosed()
            q = self.pop_nowait()
            if q is not None:
                self._changed()
                return q
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self) -> None:
        self.closed = True
        self._wakeup.set()
        if self._backoff_timer is not None:
            self._backoff_timer.cancel()

    def done(self, uid: str) -> None:
        """The scheduling attempt of `uid` is over (its in-flight events are no longer needed)."""
        if self._in_flight.pop(uid, None) is None:
            return
        if not self._in_flight:
            self._events_base += len(self._events)
            self._events.clear()
            return
        oldest = min(self._in_flight.values())
        drop = oldest - self._events_base
        if drop > 256 and drop > len(self._events) // 2:
            del self._events[:drop]
            self._events_base = oldest

    def in_flight(self) -> int:
        return len(self._in_flight)

    # -- failures ----------------------------------------------------------------------------------

    def add_unschedulable_if_not_present(self, q: QueuedPodInfo, scheduling_cycle: int) -> str:
        """Put a pod that failed its attempt back; returns where it went."""
        uid = q.uid
        try:
            if uid in self.unschedulable or uid in self.active or uid in self.backoff:
                return ""
            q.timestamp = self.clock.now()
            hint = self._hint_for_in_flight(q)
            where = self._requeue(q, hint, SCHEDULE_ATTEMPT_FAILURE)
            self.nominator.add(q.pod_info, None)
            return where
        finally:
            self.done(uid)
            self._changed()

    def _hint_for_in_flight(self, q: QueuedPodInfo) -> int:
        start = self._in_flight.get(q.uid)
        rejectors = q.unschedulable_plugins | q.pending_plugins
        if not rejectors:
            return QUEUE_AFTER_BACKOFF
        if start is None:
            return QUEUE_SKIP
        strategy = QUEUE_SKIP
        for ev, old, new in self._events[max(start - self._events_base, 0):]:
            hint = self._worth_requeuing(q, ev, old, new)
            if hint == QUEUE_IMMEDIATELY:
                return hint
            if hint == QUEUE_AFTER_BACKOFF:
                strategy = hint
                if not q.pending_plugins:
                    return strategy
        return strategy

    def _requeue(self, q: QueuedPodInfo, strategy: int, event: str) -> str:
        if strategy == QUEUE_SKIP:
            self.unschedulable[q.uid] = q
            return UNSCHEDULABLE_PODS
        if strategy == QUEUE_AFTER_BACKOFF and self.is_backing_off(q):
            self._add_to_backoff(q)
            return BACKOFF_Q
        if self._move_to_active(q, event):
            return ACTIVE_Q
        if q.gated:
            return BACKOFF_Q
        return UNSCHEDULABLE_PODS

    def _worth_requeuing(self, q: QueuedPodInfo, event: ClusterEvent, old: Any, new: Any) -> int:
        rejectors = q.unschedulable_plugins | q.pending_plugins
        if not rejectors or event.is_wildcard():
            return QUEUE_AFTER_BACKOFF
        name = (q.pod.get("spec") or {}).get("schedulerName") or "default-scheduler"
        entries = self.hints.get(name)
        if entries is None:
            return QUEUE_AFTER_BACKOFF
        strategy = QUEUE_SKIP
        for registered, plugin, hint_fn in entries:
            if plugin not in rejectors or not registered.matches(event):
                continue
            hint = QueueingHint.QUEUE
            if hint_fn is not None:
                try:
                    hint = hint_fn(q.pod, old, new)
                except Exception:
                    log.exception("queueing hint of %s failed; requeueing %s", plugin, q.pod_info.key)
                    hint = QueueingHint.QUEUE
            if hint == QueueingHint.QUEUE_SKIP:
                continue
            if plugin in q.pending_plugins:
                return QUEUE_IMMEDIATELY
            if not q.pending_plugins:
                return QUEUE_AFTER_BACKOFF
            strategy = QUEUE_AFTER_BACKOFF
        return strategy

    # -- cluster events ----------------------------------------------------------------------------

    def _interested(self, event: ClusterEvent) -> bool:
        """Whether some plugin registered an event that covers `event`."""
        known = self._interest.get(event)
        if known is None:
            known = self._interest[event] = event.is_wildcard() or any(
                registered.matches(event) for entries in self.hints.values() for registered, _, _ in entries)
        return known

    def _record_event(self, event: ClusterEvent, old: Any, new: Any) -> None:
        if self._in_flight:
            self._events.append((event, old, new))

    def move_all_to_active_or_backoff(self, event: ClusterEvent, old: Any = None, new: Any = None,
                                      pre_check: Callable[[Pod], bool] | None = None) -> None:
        if not self._interested(event):
            return
        pods = [q for q in self.unschedulable.values() if pre_check is None or pre_check(q.pod)]
        self._move_pods(pods, event, old, new)

    def _move_pods(self, pods: list[QueuedPodInfo], event: ClusterEvent, old: Any, new: Any) -> None:
        if not self._interested(event):
            return
        for q in pods:
            if q.gated and SCHEDULING_GATES in q.unschedulable_plugins:
                continue
            hint = self._worth_requeuing(q, event, old, new)
            if hint == QUEUE_SKIP:
                continue
            self.unschedulable.pop(q.uid, None)
            self._requeue(q, hint, event.label)
        self.move_request_cycle = self.scheduling_cycle
        self._record_event(event, old, new)
        self._changed()

    def _with_cross_topology_terms(self, pod: Pod) -> list[QueuedPodInfo]:
        """Unschedulable pods an assigned pod could unblock: those with affinity terms matching it, or
        rejected by PodTopologySpread."""
        out = []
        for q in self.unschedulable.values():
            if "PodTopologySpread" in q.unschedulable_plugins:
                out.append(q)
                continue
            terms = q.pod_info.required_affinity_terms
            if terms and any(t.matches(pod, None) for t in terms):
                out.append(q)
        return out

    def assigned_pod_added(self, pod: Pod) -> None:
        from kijabi.scheduler.framework.events import ASSIGNED_POD_ADD

        self._move_pods(self._with_cross_topology_terms(pod), ASSIGNED_POD_ADD, None, pod)

    def assigned_pod_updated(self, old: Pod, new: Pod, event: ClusterEvent) -> None:
        if event.action & ActionType.UPDATE_POD_SCALE_DOWN:
            self.move_all_to_active_or_backoff(event, old, new)
        else:
            self._move_pods(self._with_cross_topology_terms(new), event, old, new)

    # -- periodic flushes --------------------------------------------------------------------------

    def flush_backoff_completed(self) -> int:
        """Move every pod whose backoff is over to activeQ; returns how many moved."""
        now = self.clock.now()
        moved = 0
        while True:
            head = self.backoff.peek()
            if head is None or self.backoff_expiry(head) > now:
                break
            self.backoff.pop()
            if self._move_to_active(head, BACKOFF_COMPLETE):
                moved += 1
        self._arm_backoff_timer()
        if moved:
            self._changed()
        return moved

    def flush_unschedulable_leftover(self) -> None:
        """Pods that waited in unschedulable for longer than the maximum go back (after backoff)."""
        now = self.clock.now()
        stale = [q for q in self.unschedulable.values() if now - q.timestamp > self.max_in_unschedulable]
        if stale:
            self._move_pods(stale, EVENT_UNSCHEDULABLE_TIMEOUT, None, None)

    async def run(self) -> None:
        """The periodic unschedulable flush (every 30 s) until cancelled; backoff uses timers."""
        while True:
            await self.clock.sleep(UNSCHEDULABLE_FLUSH_INTERVAL)
            self.flush_unschedulable_leftover()
            self.flush_backoff_completed()

    # -- nominated pods ----------------------------------------------------------------------------

    def add_nominated_pod(self, pi: PodInfo, info: NominatingInfo | None) -> None:
        self.nominator.add(pi, info)

    def delete_nominated_pod_if_exists(self, pod: Mapping[str, Any]) -> None:
        """The pod was assumed on a node: it no longer holds a nomination (upstream
        DeleteNominatedPodIfExists), or the node would count it twice."""
        self.nominator.delete(pod)

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]:
        return self.nominator.nominated_pods_for_node(node_name)


class QueueClosed(Exception):
    """The queue was closed while waiting in `pop()`."""
