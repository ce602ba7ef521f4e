"""The scheduler proper: take a pod from the queue, find it a node, bind it (upstream schedule_one.go
and eventhandlers.go).

One attempt is a synchronous SCHEDULING CYCLE (PreFilter, Filter over the nodes, PostFilter when
nothing fits, PreScore/Score/NormalizeScore over the feasible ones, then assume + Reserve + Permit)
followed by an asynchronous BINDING CYCLE task (WaitOnPermit, PreBind, Bind, PostBind). Because the
pod is assumed in the cache before its binding starts, the next attempt can begin at once.

A failed attempt records a FailedScheduling event and the PodScheduled=False condition (with
nominatedNodeName when preemption chose a node) and puts the pod back in the queue. Event handlers
for nodes, pods and volume objects keep the cache current and move waiting pods when it may help;
they are plain functions the informers call (see kijabi.scheduler.main for the wiring).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from kijabi.client.clock import Clock, RealClock
from kijabi.client.tasks import spawn as spawn_task
from kijabi.machinery.meta import rfc3339
from kijabi.scheduler.cache import Cache, CacheError
from kijabi.scheduler.config import DEFAULT_SCHEDULER_NAME, SchedulerConfig
from kijabi.scheduler.framework.events import (
    ASSIGNED_POD_DELETE,
    NODE_ADD,
    NODE_DELETE,
    ActionType,
    ClusterEvent,
    node_scheduling_changes,
    pod_scheduling_changes,
)
from kijabi.scheduler.framework.interface import (
    CLEAR_NOMINATED_NODE,
    MODE_OVERRIDE,
    UNKNOWN,
    CycleState,
    Listers,
    NominatingInfo,
    NullRecorder,
    Recorder,
    ScheduleResult,
)
from kijabi.scheduler.framework.runtime import Framework, FrameworkError, Services
from kijabi.scheduler.framework.status import (
    Code,
    Diagnosis,
    FitError,
    NodeToStatus,
    NoNodesAvailable,
    SchedulingError,
    Status,
)
from kijabi.scheduler.framework.types import (
    NodeInfo,
    Pod,
    PodInfo,
    QueuedPodInfo,
    pod_key,
    pod_priority,
    pod_uid,
)
from kijabi.scheduler.metrics import Metrics
from kijabi.scheduler.queue import QueueClosed, SchedulingQueue

log = logging.getLogger(__name__)

MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5
NOTE_LENGTH_LIMIT = 1024
CACHE_CLEANUP_PERIOD = 1.0


def num_feasible_nodes_to_find(percentage: int | None, num_all_nodes: int, default_percentage: int = 0) -> int:
    """How many feasible nodes to look for before scoring (upstream numFeasibleNodesToFind): all of
    them below 100 nodes; otherwise the profile's (or global) percentage, adaptive when 0:
    50% - nodes/125, at least 5%, and never fewer than 100 nodes."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    pct = percentage if percentage is not None else default_percentage
    if pct == 0:
        pct = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    n = num_all_nodes * pct // 100
    return max(n, MIN_FEASIBLE_NODES_TO_FIND)


def truncate_message(message: str) -> str:
    if len(message) <= NOTE_LENGTH_LIMIT:
        return message
    suffix = " ..."
    return message[:NOTE_LENGTH_LIMIT - len(suffix)] + suffix


def _meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _scheduler_name(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME)


def assigned(pod: Mapping[str, Any]) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


class Scheduler:
    """Profiles, cache and queue of one scheduler process, and the loop that schedules."""

    def __init__(
        self,
        config: SchedulerConfig,
        *,
        client: Any = None,
        listers: Listers | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        recorder_factory: Callable[[str], Recorder] | None = None,
        metrics: Metrics | None = None,
        cache_ttl: float = 0.0,
        registry: Mapping[str, Callable[[Any, Any], Any]] | None = None,
    ) -> None:
        """`registry` adds out-of-tree plugins (name -> factory(args, handle)) to the in-tree ones."""
        from kijabi.scheduler.plugins import REGISTRY

        self.config = config
        self.client = client
        self.clock: Clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.listers = listers or Listers()
        self.cache = Cache(ttl=cache_ttl)
        self.metrics = metrics or Metrics()
        self.recorders: dict[str, Recorder] = {}
        factory = recorder_factory or (lambda name: NullRecorder())

        def recorder_for(name: str) -> Recorder:
            rec = self.recorders[name] = factory(name)
            return rec

        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: SchedulingQueue | None = None
        services = Services(snapshot=self.cache, listers=self.listers, client=client, clock=self.clock,
                            rng=self.rng, nominator=self, spawn=self.spawn, recorder_factory=recorder_for)
        if not config.profiles:
            raise FrameworkError("at least one profile is required")
        self.frameworks: dict[str, Framework] = {}
        plugins = {**REGISTRY, **(registry or {})}
        for profile in config.profiles:
            self.frameworks[profile.scheduler_name] = Framework(profile, services, plugins)
        first = next(iter(self.frameworks.values()))
        for name, fwk in self.frameworks.items():
            if fwk.queue_sort.name != first.queue_sort.name:
                raise FrameworkError(f'different queue sort plugins for profile "{name}": {fwk.queue_sort.name}, '
                                     f"first: {first.queue_sort.name}")
        self.queue = SchedulingQueue(
            self.frameworks, clock=self.clock, pod_initial_backoff=config.pod_initial_backoff_seconds,
            pod_max_backoff=config.pod_max_backoff_seconds, pod_lister=self.listers.pods)
        self._queue = self.queue
        self.metrics.set_pending_source(self.queue.pending_counts)
        self.next_start_node_index = 0

    # -- shared services ---------------------------------------------------------------------------

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]:
        if self._queue is None:
            return ()
        return self._queue.nominated_pods_for_node(node_name)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        """Run `coro` as a tracked background task (logged if it fails)."""
        task = spawn_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_tasks(self) -> None:
        """Cancel the background tasks still running (on shutdown)."""
        from kijabi.client.tasks import cancel_and_wait

        await cancel_and_wait(*list(self._tasks))

    async def wait_for_tasks(self) -> None:
        """Wait until every background task (bindings, preemptions, status updates) has finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def responsible_for(self, pod: Mapping[str, Any]) -> bool:
        return _scheduler_name(pod) in self.frameworks

    # -- event handlers ----------------------------------------------------------------------------

    def on_node_add(self, node: dict[str, Any]) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(NODE_ADD, None, node)

    def on_node_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.cache.update_node(old, new)
        for ev in node_scheduling_changes(new, old):
            self.queue.move_all_to_active_or_backoff(ev, old, new)

    def on_node_delete(self, node: dict[str, Any]) -> None:
        try:
            self.cache.remove_node(node)
        except CacheError as exc:
            log.error("scheduler cache RemoveNode failed: %s", exc)
            return
        self.queue.move_all_to_active_or_backoff(NODE_DELETE, node, None)

    def on_assigned_pod_add(self, pod: dict[str, Any]) -> None:
        try:
            self.cache.add_pod(pod)
        except CacheError as exc:
            log.error("scheduler cache AddPod failed: %s", exc)
        self.queue.assigned_pod_added(pod)

    def on_assigned_pod_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if pod_uid(old) != pod_uid(new):
            self.on_assigned_pod_delete(old)
            self.on_assigned_pod_add(new)
            return
        try:
            self.cache.update_pod(old, new)
        except CacheError as exc:
            log.error("scheduler cache UpdatePod failed: %s", exc)
        for ev in pod_scheduling_changes(new, old):
            self.queue.assigned_pod_updated(old, new, ev)

    def on_assigned_pod_delete(self, pod: dict[str, Any]) -> None:
        try:
            self.cache.remove_pod(pod)
        except CacheError as exc:
            log.error("scheduler cache RemovePod failed: %s", exc)
        self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod, None)

    def on_unscheduled_pod_add(self, pod: dict[str, Any]) -> None:
        self.queue.add(pod)

    def on_unscheduled_pod_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        if _meta(old).get("resourceVersion") == _meta(new).get("resourceVersion"):
            return  # a resync, nothing changed
        if self.cache.is_assumed_pod(new):
            return
        self.queue.update(old, new)

    def on_unscheduled_pod_delete(self, pod: dict[str, Any]) -> None:
        self.queue.delete(pod)
        fwk = self.frameworks.get(_scheduler_name(pod))
        if fwk is not None and fwk.reject_waiting_pod(pod_uid(pod)):
            self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, pod, None)

    def on_object_event(self, resource: str, action: ActionType, old: Any, new: Any) -> None:
        """PV, PVC, StorageClass, CSINode, ... events: only move waiting pods."""
        label = resource + {ActionType.ADD: "Add", ActionType.DELETE: "Delete"}.get(action, "Update")
        self.queue.move_all_to_active_or_backoff(ClusterEvent(resource, action, label), old, new)

    # -- the loop ----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Schedule pods until cancelled (the queue's flusher runs alongside)."""
        flusher = spawn_task(self.queue.run(), name="scheduling queue flusher")
        cleaner = spawn_task(self._cleanup_assumed(), name="assumed pod cleanup") if self.cache.ttl > 0 else None
        try:
            while True:
                try:
                    q = await self.queue.pop()
                except QueueClosed:
                    return
                self.schedule_one(q)
                await asyncio.sleep(0)  # let informers and binding tasks run between attempts
        finally:
            flusher.cancel()
            if cleaner is not None:
                cleaner.cancel()

    async def _cleanup_assumed(self) -> None:
        while True:
            await self.clock.sleep(CACHE_CLEANUP_PERIOD)
            self.cache.cleanup_assumed_pods(self.clock.now())

    def schedule_one(self, q: QueuedPodInfo) -> None:
        """One synchronous scheduling attempt; the binding continues in a background task."""
        pod = q.pod
        fwk = self.frameworks.get(_scheduler_name(pod))
        if fwk is None:
            log.error("no profile for scheduler name %r of pod %s", _scheduler_name(pod), q.pod_info.key)
            self.queue.done(q.uid)
            return
        if self._skip(fwk, pod):
            self.queue.done(q.uid)
            return
        start = self.clock.now()
        state = CycleState()
        result, assumed_q, status = self.scheduling_cycle(state, fwk, q, start)
        if status is not None and not status.is_success():
            self.handle_scheduling_failure(fwk, assumed_q, status, result.nominating_info, start)
            return
        self.spawn(self.binding_cycle(state, fwk, result, assumed_q, start), f"binding {q.pod_info.key}")

    def _skip(self, fwk: Framework, pod: Pod) -> bool:
        meta = _meta(pod)
        if meta.get("deletionTimestamp"):
            fwk.recorder.event(pod, "Warning", "FailedScheduling",
                               f"skip schedule deleting pod: {meta.get('namespace', '')}/{meta.get('name', '')}")
            return True
        return self.cache.is_assumed_pod(pod)

    def scheduling_cycle(self, state: CycleState, fwk: Framework, q: QueuedPodInfo,
                         start: float) -> tuple[ScheduleResult, QueuedPodInfo, Status | None]:
        pod = q.pod
        try:
            result = self.schedule_pod(fwk, state, pod)
        except NoNodesAvailable as exc:
            return (ScheduleResult(nominating_info=CLEAR_NOMINATED_NODE), q,
                    Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, error=exc))
        except FitError as fit:
            if not fwk.has_post_filter_plugins():
                return ScheduleResult(), q, Status(Code.UNSCHEDULABLE, error=fit)
            self.metrics.preemption_attempts.inc()
            r, post = fwk.run_post_filter_plugins(state, pod, fit.diagnosis.node_to_status)
            fit.diagnosis.post_filter_msg = post.message()
            if post.code == Code.ERROR:
                log.error("running PostFilter plugins for pod %s: %s", q.pod_info.key, post.message())
            info = r.nominating_info if r is not None else None
            return ScheduleResult(nominating_info=info), q, Status(Code.UNSCHEDULABLE, error=fit)
        except SchedulingError as exc:
            return ScheduleResult(nominating_info=CLEAR_NOMINATED_NODE), q, Status.from_error(exc)
        self.metrics.algorithm_duration.observe(self.clock.now() - start)

        host = result.suggested_host
        spec = dict(pod.get("spec") or {})
        spec["nodeName"] = host
        assumed_pod = dict(pod)
        assumed_pod["spec"] = spec
        assumed_q = QueuedPodInfo(q.pod_info, q.timestamp)
        assumed_q.attempts = q.attempts
        assumed_q.initial_attempt_timestamp = q.initial_attempt_timestamp
        assumed_q.pod_info = q.pod_info.derived(assumed_pod)
        try:
            self.cache.assume_pod(assumed_pod, assumed_q.pod_info)
        except CacheError as exc:
            return ScheduleResult(nominating_info=CLEAR_NOMINATED_NODE), assumed_q, Status.from_error(exc)
        self.queue.delete_nominated_pod_if_exists(assumed_pod)

        st: Status | None = fwk.run_reserve_plugins_reserve(state, assumed_pod, host)
        if st is not None and not st.is_success():
            fwk.run_reserve_plugins_unreserve(state, assumed_pod, host)
            self._forget(assumed_pod)
            return ScheduleResult(nominating_info=CLEAR_NOMINATED_NODE), assumed_q, self._single_node_failure(
                pod, host, st)

        st = fwk.run_permit_plugins(state, assumed_pod, host)
        if st is not None and not st.is_success() and not st.is_wait():
            fwk.run_reserve_plugins_unreserve(state, assumed_pod, host)
            self._forget(assumed_pod)
            return ScheduleResult(nominating_info=CLEAR_NOMINATED_NODE), assumed_q, self._single_node_failure(
                pod, host, st)

        if state.pods_to_activate:
            self.queue.activate(list(state.pods_to_activate.values()))
            state.pods_to_activate.clear()
        return result, assumed_q, None

    @staticmethod
    def _single_node_failure(pod: Pod, host: str, st: Status) -> Status:
        if not st.is_rejected():
            return st
        diag = Diagnosis(node_to_status=NodeToStatus({host: st}))
        diag.add_plugin_status(st)
        return Status(st.code, error=FitError(pod, 1, diag))

    def _forget(self, pod: Pod) -> bool:
        try:
            self.cache.forget_pod(pod)
        except CacheError as exc:
            log.error("scheduler cache ForgetPod failed: %s", exc)
            return False
        return True

    # -- finding a node ----------------------------------------------------------------------------

    def schedule_pod(self, fwk: Framework, state: CycleState, pod: Pod) -> ScheduleResult:
        """The node for `pod`; raises FitError when none fits, NoNodesAvailable on an empty cluster."""
        nodes = self.cache.list()
        if not nodes:
            raise NoNodesAvailable()
        feasible, diagnosis = self.find_nodes_that_fit(fwk, state, pod, nodes)
        if not feasible:
            raise FitError(pod, len(nodes), diagnosis)
        evaluated = len(feasible) + len(diagnosis.node_to_status)
        if len(feasible) == 1:
            return ScheduleResult(feasible[0].name, 1 + len(diagnosis.node_to_status), 1)
        totals = self.prioritize_nodes(fwk, state, pod, feasible)
        return ScheduleResult(self.select_host(feasible, totals), evaluated, len(feasible))

    def find_nodes_that_fit(self, fwk: Framework, state: CycleState, pod: Pod,
                            nodes: list[NodeInfo]) -> tuple[list[NodeInfo], Diagnosis]:
        diagnosis = Diagnosis()
        pre_res, st, plugins = fwk.run_pre_filter_plugins(state, pod, nodes)
        diagnosis.unschedulable_plugins = set(plugins)
        if st is not None and not st.is_success():
            if not st.is_rejected():
                raise SchedulingError(st.message())
            diagnosis.node_to_status.absent = st
            diagnosis.pre_filter_msg = st.message()
            diagnosis.add_plugin_status(st)
            return [], diagnosis
        nominated = (pod.get("status") or {}).get("nominatedNodeName")
        if nominated:
            ni = self.cache.get(nominated)
            if ni is not None:
                try:
                    feasible = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, [ni])
                except SchedulingError as exc:
                    log.error("evaluation failed on nominated node %s of pod %s: %s", nominated, pod_key(pod), exc)
                    feasible = []
                if feasible:
                    return feasible, diagnosis
        candidates = nodes
        if pre_res is not None and not pre_res.all_nodes():
            candidates = [ni for name in sorted(pre_res.node_names or ()) if (ni := self.cache.get(name)) is not None]
            diagnosis.node_to_status.absent = Status(
                Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"node(s) didn't satisfy plugin(s) [{' '.join(sorted(plugins))}]")
        feasible = []
        try:
            feasible = self.find_nodes_that_pass_filters(fwk, state, pod, diagnosis, candidates)
        finally:
            processed = len(feasible) + len(diagnosis.node_to_status)
            self.next_start_node_index = (self.next_start_node_index + processed) % len(nodes)
        return feasible, diagnosis

    def find_nodes_that_pass_filters(self, fwk: Framework, state: CycleState, pod: Pod, diagnosis: Diagnosis,
                                     nodes: list[NodeInfo]) -> list[NodeInfo]:
        """The feasible nodes, in search order: the search starts at `next_start_node_index` and stops
        once `num_feasible_nodes_to_find` of them are found (upstream findNodesThatPassFilters); each
        rejected node's status goes into `diagnosis`. The caller advances the start index by the number
        of nodes processed."""
        total = len(nodes)
        if total == 0:
            return []
        to_find = num_feasible_nodes_to_find(fwk.percentage_of_nodes_to_score, total,
                                             self.config.percentage_of_nodes_to_score)
        start = self.next_start_node_index % total
        if not fwk.has_filter_plugins():
            return [nodes[(start + i) % total] for i in range(to_find)]
        feasible: list[NodeInfo] = []
        statuses = diagnosis.node_to_status.statuses
        order = itertools.chain(itertools.islice(nodes, start, None), itertools.islice(nodes, start)) \
            if start else nodes
        filters = fwk.filters_of(state)
        # The hot loop (up to every node for every attempt): the filters are called here directly; a
        # node with nominated pods goes through the framework's two-pass filter instead.
        nominated = self.queue.nominator.by_node
        with_nominated = fwk.run_filter_plugins_with_nominated_pods
        success, unresolvable = Code.SUCCESS, Code.UNSCHEDULABLE_AND_UNRESOLVABLE
        rejecting = diagnosis.unschedulable_plugins
        # A node's joint verdict is remembered under the filters' key (see interface.keyed). With pods
        # nominated to the node, the two-pass verdict is remembered with the node's nominated list
        # (replaced, never changed, when nominations change) for pods of this priority, except on
        # the node this pod is itself nominated to.
        key = state.filters_key
        nominated_key = f"nominated:{pod_priority(pod)}:{key}" if key is not None else None
        own_node = self.queue.nominator.node_of.get(pod_uid(pod))
        st: Status | None
        for ni in order:
            if nominated and ni.name in nominated:
                listed = nominated[ni.name]
                memo = ni.memo
                known = memo.get(nominated_key) if nominated_key is not None and memo is not None else None
                if known is not None and known[0] is listed and ni.name != own_node:
                    st = known[1]
                else:
                    st = with_nominated(state, pod, ni)
                    if st is None or st.code == success:
                        st = None
                    if nominated_key is not None and ni.name != own_node and (st is None or st.code != Code.ERROR):
                        ni.memo_of()[nominated_key] = (listed, st)
            else:
                memo = ni.memo
                st = memo.get(key, UNKNOWN) if key is not None and memo is not None else UNKNOWN
                if st is UNKNOWN:
                    for flt, name in filters:
                        st = flt(state, pod, ni)
                        if st is not None and st.code != success:
                            st = fwk.filter_status(st, name)
                            break
                    else:
                        st = None
                    if key is not None and (st is None or st.code != Code.ERROR):
                        ni.memo_of()[key] = st
            if st is None:
                feasible.append(ni)
                if len(feasible) >= to_find:
                    break
            elif st.code == Code.ERROR:
                raise SchedulingError(st.message())
            else:
                statuses[ni.name] = st
                if st.plugin and (st.code == Code.UNSCHEDULABLE or st.code == unresolvable):
                    rejecting.add(st.plugin)  # diagnosis.add_plugin_status, inline for the common codes
                else:
                    diagnosis.add_plugin_status(st)
        return feasible

    def prioritize_nodes(self, fwk: Framework, state: CycleState, pod: Pod, nodes: list[NodeInfo]) -> list[int]:
        if not fwk.has_score_plugins():
            return [1] * len(nodes)
        st = fwk.run_pre_score_plugins(state, pod, nodes)
        if st is not None and not st.is_success():
            raise SchedulingError(st.message())
        totals, _, st = fwk.run_score_plugins(state, pod, nodes)
        if st is not None:
            raise SchedulingError(st.message())
        return totals

    def select_host(self, nodes: list[NodeInfo], totals: list[int]) -> str:
        """The best-scored node; ties are broken uniformly at random, as upstream's reservoir sampling
        does, but with one draw: the index among the tied nodes."""
        if not nodes:
            return ""
        best = max(totals)
        count = totals.count(best)
        if count == 1:
            return nodes[totals.index(best)].name
        ties = [i for i, score in enumerate(totals) if score == best]
        return nodes[ties[self.rng.randrange(count)]].name

    # -- binding -----------------------------------------------------------------------------------

    async def binding_cycle(self, state: CycleState, fwk: Framework, result: ScheduleResult,
                            q: QueuedPodInfo, start: float) -> None:
        assumed = q.pod
        host = result.suggested_host
        try:
            st = await fwk.wait_on_permit(assumed)
            if st is not None and not st.is_success():
                if st.is_rejected():
                    diag = Diagnosis(node_to_status=NodeToStatus({host: st}), unschedulable_plugins={st.plugin})
                    st = Status(st.code, error=FitError(assumed, 1, diag))
                self._handle_binding_error(state, fwk, q, result, st, start)
                return
            self.queue.done(q.uid)
            st = await fwk.run_pre_bind_plugins(state, assumed, host)
            if st is None or st.is_success():
                st = await self._bind(fwk, state, assumed, host)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("binding cycle of pod %s failed", pod_key(assumed))
            st = Status.from_error(exc)
        if st is not None and not st.is_success():
            self._handle_binding_error(state, fwk, q, result, st, start)
            return
        now = self.clock.now()
        self.metrics.observe_attempt(fwk.profile_name, "scheduled", now - start)
        self.metrics.pod_scheduling_attempts.observe(q.attempts)
        if q.initial_attempt_timestamp is not None:
            self.metrics.pod_scheduling_sli_duration.observe(now - q.initial_attempt_timestamp,
                                                             str(min(q.attempts, 16)))
        fwk.run_post_bind_plugins(state, assumed, host)
        if state.pods_to_activate:
            self.queue.activate(list(state.pods_to_activate.values()))
        self.queue.done(q.uid)

    async def _bind(self, fwk: Framework, state: CycleState, assumed: Pod, host: str) -> Status | None:
        st = await fwk.run_bind_plugins(state, assumed, host)
        self.cache.finish_binding(assumed, self.clock.now())
        if st is None or st.is_success():
            meta = _meta(assumed)
            fwk.recorder.event(assumed, "Normal", "Scheduled",
                               f"Successfully assigned {meta.get('namespace', '')}/{meta.get('name', '')} to {host}")
            return None
        return st

    def _handle_binding_error(self, state: CycleState, fwk: Framework, q: QueuedPodInfo, result: ScheduleResult,
                              st: Status, start: float) -> None:
        assumed = q.pod
        fwk.run_reserve_plugins_unreserve(state, assumed, result.suggested_host)
        if self._forget(assumed):
            uid = pod_uid(assumed)
            if st.is_rejected():
                self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, assumed, None,
                                                         lambda p: pod_uid(p) != uid)
            else:
                self.queue.move_all_to_active_or_backoff(ASSIGNED_POD_DELETE, assumed, None)
        self.handle_scheduling_failure(fwk, q, st, CLEAR_NOMINATED_NODE, start)

    # -- failures ----------------------------------------------------------------------------------

    def handle_scheduling_failure(self, fwk: Framework, q: QueuedPodInfo, status: Status,
                                  nominating: NominatingInfo | None, start: float) -> None:
        """Requeue the pod, record FailedScheduling and set PodScheduled=False (upstream
        handleSchedulingFailure)."""
        called_done = False
        try:
            reason = "Unschedulable" if status.is_rejected() else "SchedulerError"
            result = "unschedulable" if status.is_rejected() else "error"
            self.metrics.observe_attempt(fwk.profile_name, result, self.clock.now() - start)
            pod = q.pod
            err = status.error
            if isinstance(err, FitError):
                q.unschedulable_plugins = set(err.diagnosis.unschedulable_plugins)
                q.pending_plugins = set(err.diagnosis.pending_plugins)
                log.info("unable to schedule pod %s; no fit; waiting: %s", q.pod_info.key, status.message())
            elif isinstance(err, NoNodesAvailable):
                log.info("unable to schedule pod %s; no nodes are registered to the cluster; waiting", q.pod_info.key)
            else:
                log.error("error scheduling pod %s; retrying: %s", q.pod_info.key, status.message())
            meta = _meta(pod)
            cached = self.listers.pods.get(meta.get("name", ""), meta.get("namespace", ""))
            if cached is None:
                log.info("pod %s doesn't exist in informer cache", q.pod_info.key)
            elif assigned(cached):
                log.info("pod %s has been assigned to node %s; not requeueing", q.pod_info.key,
                         cached["spec"]["nodeName"])
            else:
                q.pod_info = PodInfo(cached)
                self.queue.add_unschedulable_if_not_present(q, self.queue.scheduling_cycle)
                called_done = True
            self.queue.add_nominated_pod(q.pod_info, nominating)
            message = status.message()
            fwk.recorder.event(pod, "Warning", "FailedScheduling", truncate_message(message))
            self.spawn(self._update_pod_status(q.pod_info.pod if cached is not None else pod, reason, message,
                                               nominating), f"status of {q.pod_info.key}")
        finally:
            if not called_done:
                self.queue.done(q.uid)

    async def _update_pod_status(self, pod: Pod, reason: str, message: str,
                                 nominating: NominatingInfo | None) -> None:
        """Set PodScheduled=False (and nominatedNodeName) if it changes anything (upstream updatePod)."""
        from kijabi.client.errors import ClientError
        from kijabi.client.rest import PODS

        if self.client is None:
            return
        status = pod.get("status") or {}
        current = next((c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None)
        nnn = status.get("nominatedNodeName") or ""
        nnn_update = nominating is not None and nominating.mode == MODE_OVERRIDE and nnn != nominating.nominated_node_name
        cond: dict[str, Any] = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                                "lastProbeTime": None}
        if current is not None and current.get("status") == "False":
            cond["lastTransitionTime"] = current.get("lastTransitionTime")
        else:
            cond["lastTransitionTime"] = rfc3339(self.clock.time())
        unchanged = current is not None and all(current.get(k) == cond[k] for k in
                                                ("status", "reason", "message", "lastTransitionTime")) \
            and current.get("lastProbeTime") is None
        if unchanged and not nnn_update:
            return
        patch: dict[str, Any] = {"status": {"conditions": [cond]}}
        if nnn_update:
            assert nominating is not None
            patch["status"]["nominatedNodeName"] = nominating.nominated_node_name or None
        meta = _meta(pod)
        try:
            await self.client.patch(PODS, meta.get("name", ""), patch, namespace=meta.get("namespace", ""),
                                    patch_type="strategic", subresource="status")
        except ClientError as exc:
            log.warning("error updating the status of pod %s: %s", pod_key(pod), exc)
