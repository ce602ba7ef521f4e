"""The framework runtime: one `Framework` per scheduling profile runs its plugins at each extension
point, in configuration order, with upstream's rules (pkg/scheduler/framework/runtime/framework.go):

- a plugin that returns SKIP from PreFilter/PreScore is skipped at Filter/Score for this attempt;
- Filter stops at the first plugin that rejects the node; an ERROR aborts the attempt;
- PreFilter results (node name sets) are intersected; an empty intersection rejects every node;
- scores are normalized per plugin, checked to be in [0, 100], multiplied by the plugin's weight
  (0 counts as 1) and summed;
- Permit may hold a pod (WAIT) for at most 15 minutes; `wait_on_permit` awaits the verdict.

The framework is also the `Handle` its plugins were built with.
"""

from __future__ import annotations

import asyncio
import logging
import operator
import random
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

from kijabi.scheduler.framework.events import ClusterEventWithHint
from kijabi.scheduler.framework.interface import (
    EXTENSION_POINTS,
    UNKNOWN,
    BindPlugin,
    CycleState,
    EnqueueExtensions,
    FilterPlugin,
    Listers,
    NodeInfoLister,
    NodeScores,
    PermitPlugin,
    PostBindPlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreparedFilter,
    PreScorePlugin,
    QueueSortPlugin,
    Recorder,
    ReservePlugin,
    ScorePlugin,
    filters_key,
    implements,
)
from kijabi.scheduler.framework.status import Code, NodeToStatus, Status
from kijabi.scheduler.framework.types import MAX_NODE_SCORE, MIN_NODE_SCORE, NodeInfo, Pod, PodInfo, pod_uid

if TYPE_CHECKING:
    from kijabi.client.clock import Clock
    from kijabi.scheduler.config import Profile

log = logging.getLogger(__name__)

MAX_PERMIT_TIMEOUT = 15 * 60.0
_REJECTED = (Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE, Code.PENDING)


class FrameworkError(ValueError):
    """A profile whose plugins cannot be assembled (unknown plugin, no queue sort, ...)."""


class Nominator(Protocol):
    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]: ...


@dataclass
class Services:
    """What every profile shares: the node snapshot, informer listers, the API client, time."""

    snapshot: NodeInfoLister
    listers: Listers
    client: Any
    clock: Clock
    rng: random.Random
    nominator: Nominator
    spawn: Callable[[Coroutine[Any, Any, Any], str], None]
    recorder_factory: Callable[[str], Recorder]


class _WaitingPod:
    """A pod held at Permit: every waiting plugin must allow it before its timeout."""

    def __init__(self, pod: Pod, waits: dict[str, float], clock: Clock) -> None:
        self._pod = pod
        self.pending = set(waits)
        self.future: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()
        self.timers = [clock.call_later(timeout, self._timeout(plugin, timeout)) for plugin, timeout in waits.items()]

    def _timeout(self, plugin: str, timeout: float) -> Callable[[], None]:
        return lambda: self.reject(plugin, f"rejected due to timeout after waiting {timeout:g}s at plugin {plugin}")

    @property
    def pod(self) -> Pod:
        return self._pod

    def _finish(self, status: Status | None) -> None:
        for t in self.timers:
            t.cancel()
        if not self.future.done():
            self.future.set_result(status)

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending:
            self._finish(None)

    def reject(self, plugin: str, message: str) -> None:
        self._finish(Status(Code.UNSCHEDULABLE, message, plugin=plugin))


def _wrap(status: Status, what: str, plugin: str) -> Status:
    """An ERROR status with upstream's context prefix."""
    prefix = f'running "{plugin}" filter plugin' if what == "Filter" else f'running {what} plugin "{plugin}"'
    return Status(Code.ERROR, f"{prefix}: {status.message()}", error=status.error, plugin=plugin)


class Framework:
    """The plugins of one profile and the code that runs them."""

    def __init__(self, profile: Profile, services: Services,
                 registry: Mapping[str, Callable[[Any, Any], Any]] | None = None) -> None:
        from kijabi.scheduler.config import MULTI_POINT, enabled_plugin_names
        from kijabi.scheduler.plugins import REGISTRY

        registry = REGISTRY if registry is None else registry
        self.profile = profile
        self.profile_name = profile.scheduler_name
        self.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score
        self.services = services
        self.listers = services.listers
        self.client = services.client
        self.clock = services.clock
        self.rng = services.rng
        self.recorder = services.recorder_factory(profile.scheduler_name)
        self.waiting_pods: dict[str, _WaitingPod] = {}

        plugins: dict[str, Any] = {}
        for name in enabled_plugin_names(profile.plugins):
            factory = registry.get(name)
            if factory is None:
                raise FrameworkError(f'plugin "{name}" does not exist')
            try:
                plugins[name] = factory(profile.plugin_config.get(name, {}), self)
            except (ValueError, TypeError) as exc:
                raise FrameworkError(f'initializing plugin "{name}": {exc}') from exc
        self.plugins = plugins

        points: dict[str, list[Any]] = {}
        for point, proto in EXTENSION_POINTS.items():
            ps = profile.plugin_set(point)
            explicit: list[str] = []
            for ref in ps.enabled:
                pl = plugins[ref.name]
                if not implements(pl, proto):
                    raise FrameworkError(f'plugin "{ref.name}" does not extend {point} plugin')
                if ref.name in explicit:
                    raise FrameworkError(f'plugin "{ref.name}" already registered as "{point}"')
                explicit.append(ref.name)
            disabled = set(ps.disabled)
            if "*" in disabled:
                points[point] = [plugins[n] for n in explicit]
                continue
            overrides: list[str] = []
            multi: list[str] = []
            for ref in profile.plugin_set(MULTI_POINT).enabled:
                pl = plugins[ref.name]
                if not implements(pl, proto) or ref.name in disabled:
                    continue
                if ref.name in explicit:
                    overrides.append(ref.name)
                    continue
                if ref.name in multi:
                    raise FrameworkError(f'plugin "{ref.name}" already registered as "{point}"')
                multi.append(ref.name)
            order = [n for n in explicit if n in overrides] + multi + [n for n in explicit if n not in overrides]
            points[point] = [plugins[n] for n in order]

        if len(points["queueSort"]) != 1:
            raise FrameworkError(f"only one queue sort plugin required for profile with scheduler name "
                                 f'"{self.profile_name}", but got {len(points["queueSort"])}')
        if not points["bind"]:
            raise FrameworkError(f'at least one bind plugin is needed for profile with scheduler name "{self.profile_name}"')
        self.queue_sort: QueueSortPlugin = points["queueSort"][0]
        self.pre_enqueue_plugins: list[PreEnqueuePlugin] = points["preEnqueue"]
        self.pre_filter_plugins: list[PreFilterPlugin] = points["preFilter"]
        self.filter_plugins: list[FilterPlugin] = points["filter"]
        self.post_filter_plugins: list[PostFilterPlugin] = points["postFilter"]
        self.pre_score_plugins: list[PreScorePlugin] = points["preScore"]
        self.reserve_plugins: list[ReservePlugin] = points["reserve"]
        self.permit_plugins: list[PermitPlugin] = points["permit"]
        self.pre_bind_plugins: list[PreBindPlugin] = points["preBind"]
        self.bind_plugins: list[BindPlugin] = points["bind"]
        self.post_bind_plugins: list[PostBindPlugin] = points["postBind"]

        weights: dict[str, int] = {}
        for ref in list(profile.plugin_set("score").enabled) + list(profile.plugin_set(MULTI_POINT).enabled):
            if ref.name in weights or not implements(plugins[ref.name], ScorePlugin):
                continue
            weights[ref.name] = ref.weight or 1
        score_plugins: list[ScorePlugin] = points["score"]
        self.score_plugins: list[tuple[ScorePlugin, int]] = [(pl, weights.get(pl.name, 1)) for pl in score_plugins]
        self._all_filters = [(pl.filter, pl.name) for pl in self.filter_plugins]
        # (plugin name, Filter, prepare_filter or None) in Filter order
        self._filter_makers = [(pl.name, pl.filter, getattr(pl, "prepare_filter", None)
                                if implements(pl, PreparedFilter) else None) for pl in self.filter_plugins]
        self._pre_filter_extensions = [(pl.name, pl.pre_filter_extensions()) for pl in self.pre_filter_plugins]

    # -- Handle ------------------------------------------------------------------------------------

    @property
    def snapshot(self) -> NodeInfoLister:
        return self.services.snapshot

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]:
        """Read only; the same list object until the node's nominations change."""
        return self.services.nominator.nominated_pods_for_node(node_name)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.services.spawn(coro, name)

    def get_waiting_pod(self, uid: str) -> _WaitingPod | None:
        return self.waiting_pods.get(uid)

    def reject_waiting_pod(self, uid: str) -> bool:
        wp = self.waiting_pods.get(uid)
        if wp is None:
            return False
        wp.reject("", "removed")
        return True

    def events_to_register(self) -> list[tuple[str, ClusterEventWithHint]]:
        """(plugin name, event) for every plugin that declares events."""
        out: list[tuple[str, ClusterEventWithHint]] = []
        for name, pl in self.plugins.items():
            if implements(pl, EnqueueExtensions):
                for ev in pl.events_to_register():
                    out.append((name, ev))
        return out

    def has_filter_plugins(self) -> bool:
        return bool(self.filter_plugins)

    def has_score_plugins(self) -> bool:
        return bool(self.score_plugins)

    def has_post_filter_plugins(self) -> bool:
        return bool(self.post_filter_plugins)

    # -- queue -------------------------------------------------------------------------------------

    def run_pre_enqueue_plugins(self, pod: Pod) -> Status | None:
        for pl in self.pre_enqueue_plugins:
            st = pl.pre_enqueue(pod)
            if st is not None and not st.is_success():
                st.plugin = pl.name
                if not st.is_rejected():
                    return _wrap(st, "PreEnqueue", pl.name)
                return st
        return None

    # -- filtering ---------------------------------------------------------------------------------

    def run_pre_filter_plugins(self, state: CycleState, pod: Pod,
                               nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None, set[str]]:
        result: PreFilterResult | None = None
        with_nodes: list[str] = []
        skipped: set[str] = set()
        returned: Status | None = None
        for pl in self.pre_filter_plugins:
            r, st = pl.pre_filter(state, pod, nodes)
            if st is not None and st.code == Code.SKIP:
                skipped.add(pl.name)
                continue
            if st is not None and not st.is_success():
                st.plugin = pl.name
                if st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                    return None, st, set()
                if st.code == Code.UNSCHEDULABLE:
                    returned = st
                    continue
                return None, _wrap(st, "PreFilter", pl.name), set()
            if r is not None and not r.all_nodes():
                with_nodes.append(pl.name)
            result = r if result is None else result.merge(r)
            if result is not None and not result.all_nodes() and not result.node_names:
                names = sorted(with_nodes)
                msg = (f"node(s) didn't satisfy plugin {names[0]}" if len(names) == 1
                       else f"node(s) didn't satisfy plugin(s) [{' '.join(names)}] simultaneously")
                return result, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, msg), set(with_nodes)
        state.skip_filter_plugins = skipped
        state.filters = self._prepare_filters(state, pod, skipped)
        state.filters_key = filters_key(state.filters)
        return result, returned, set(with_nodes)

    def _prepare_filters(self, state: CycleState, pod: Pod, skipped: set[str]) -> list[tuple[Any, str]]:
        """This attempt's filters: the Filter of every plugin PreFilter did not skip, specialised to the
        pod where the plugin can (PreparedFilter); a plugin that passes every node is left out."""
        filters: list[tuple[Any, str]] = []
        for name, flt, prepare in self._filter_makers:
            if name in skipped:
                continue
            if prepare is not None:
                prepared = prepare(state, pod)
                if prepared is not None:
                    filters.append((prepared, name))
            else:
                filters.append((flt, name))
        return filters

    def filters_of(self, state: CycleState) -> list[tuple[Any, str]]:
        """The (filter, plugin name) pairs of this attempt: those PreFilter prepared, or every Filter
        not skipped when PreFilter did not run."""
        if state.filters is not None:
            return state.filters
        return [f for f in self._all_filters if f[1] not in state.skip_filter_plugins]

    def run_filter_plugins(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        key = state.filters_key
        if key is not None and node_info.memo is not None:
            known = node_info.memo.get(key, UNKNOWN)
            if known is not UNKNOWN:
                return cast(Status | None, known)
        verdict = None
        for flt, name in self.filters_of(state):
            st: Status | None = flt(state, pod, node_info)
            if st is not None and st.code != Code.SUCCESS:
                verdict = self.filter_status(st, name)
                break
        if key is not None and (verdict is None or verdict.code in _REJECTED):
            node_info.memo_of()[key] = verdict
        return verdict

    @staticmethod
    def filter_status(st: Status, plugin: str) -> Status:
        """What the framework makes of a Filter's non-success status: a rejection names its plugin,
        anything else becomes an ERROR with upstream's context."""
        if st.code not in _REJECTED:
            return _wrap(st, "Filter", plugin)
        st.plugin = plugin
        return st

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: Pod,
                                               node_info: NodeInfo) -> Status | None:
        """Filter twice when higher-or-equal priority pods are nominated to the node: once as if they
        ran there, once without them (upstream RunFilterPluginsWithNominatedPods)."""
        nominated = self.nominated_pods_for_node(node_info.name) if node_info.name else ()
        if not nominated:
            return self.run_filter_plugins(state, pod, node_info)
        prio = (pod.get("spec") or {}).get("priority") or 0
        uid = pod_uid(pod)
        if not self.has_active_pre_filter_extensions(state):
            # No AddPod extension to call: the state needs no copy, the node a read-only one.
            higher = [pi for pi in nominated if pi.priority >= prio and pi.uid != uid]
            if not higher:
                return self.run_filter_plugins(state, pod, node_info)
            # The read-only copy with these very pods (PodInfo objects) is kept in the node's memo: the
            # next attempts filter the same copy, and find in its own memo what they worked out.
            memo = node_info.memo_of()
            key = "with:" + ",".join([str(id(pi)) for pi in higher])
            view = memo.get(key)
            if view is None:
                view = memo[key] = node_info.with_added(higher)
            st = self.run_filter_plugins(state, pod, view)
            if st is not None and not st.is_success():
                return st
            return self.run_filter_plugins(state, pod, node_info)
        added = False
        state_out, info_out = state, node_info
        for pi in nominated:
            if pi.priority >= prio and pi.uid != uid:
                if not added:
                    state_out = state.clone()
                    info_out = node_info.clone()
                    added = True
                info_out.add_pod_info(pi)
                st = self.run_pre_filter_extension_add_pod(state_out, pod, pi, info_out)
                if st is not None and not st.is_success():
                    return Status(Code.ERROR, st.message(), plugin=st.plugin)
        st = self.run_filter_plugins(state_out, pod, info_out)
        if not added or (st is not None and not st.is_success()):
            return st
        return self.run_filter_plugins(state, pod, node_info)

    def has_active_pre_filter_extensions(self, state: CycleState) -> bool:
        skipped = state.skip_filter_plugins
        return any(ext is not None and name not in skipped for name, ext in self._pre_filter_extensions)

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: Pod, pod_info: PodInfo,
                                         node_info: NodeInfo) -> Status | None:
        for name, ext in self._pre_filter_extensions:
            if ext is None or name in state.skip_filter_plugins:
                continue
            st = ext.add_pod(state, pod, pod_info, node_info)
            if st is not None and not st.is_success():
                return _wrap(st, "AddPod", name)
        return None

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: Pod, pod_info: PodInfo,
                                            node_info: NodeInfo) -> Status | None:
        for name, ext in self._pre_filter_extensions:
            if ext is None or name in state.skip_filter_plugins:
                continue
            st = ext.remove_pod(state, pod, pod_info, node_info)
            if st is not None and not st.is_success():
                return _wrap(st, "RemovePod", name)
        return None

    def run_post_filter_plugins(self, state: CycleState, pod: Pod,
                                statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status]:
        result: PostFilterResult | None = None
        reasons: list[str] = []
        rejector = ""
        for pl in self.post_filter_plugins:
            r, st = pl.post_filter(state, pod, statuses)
            if st is None or st.is_success():
                return r, st or Status(Code.SUCCESS)
            if st.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                st.plugin = pl.name
                return r, st
            if not st.is_rejected():
                return None, Status(Code.ERROR, st.message(), error=st.error, plugin=pl.name)
            if r is not None and r.nominating_info is not None and r.nominating_info.mode != 0:
                result = r
            reasons.extend(st.reasons)
            rejector = rejector or pl.name
        return result, Status(Code.UNSCHEDULABLE, *reasons, plugin=rejector)

    # -- scoring -----------------------------------------------------------------------------------

    def run_pre_score_plugins(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        skipped: set[str] = set()
        for pl in self.pre_score_plugins:
            st = pl.pre_score(state, pod, nodes)
            if st is not None and st.code == Code.SKIP:
                skipped.add(pl.name)
                continue
            if st is not None and not st.is_success():
                return _wrap(st, "PreScore", pl.name)
        state.skip_score_plugins = skipped
        return None

    def run_score_plugins(self, state: CycleState, pod: Pod,
                          nodes: Sequence[NodeInfo]) -> tuple[list[int], dict[str, list[int]], Status | None]:
        """(total weighted score per node, weighted score per plugin, error)."""
        totals = [0] * len(nodes)
        added = False
        uniform = 0
        per_plugin: dict[str, list[int]] = {}
        names: list[str] | None = None
        skip = state.skip_score_plugins
        for pl, weight in self.score_plugins:
            if pl.name in skip:
                continue
            batch = getattr(pl, "score_nodes", None)
            values: list[int]
            if batch is not None:  # an optional fast path: all nodes in one call, same results as score()
                values, st = batch(state, pod, nodes)
                if st is not None and st.code != Code.SUCCESS:
                    return totals, per_plugin, Status(Code.ERROR, f'plugin "{pl.name}" failed with: {st.message()}',
                                                      plugin=pl.name)
            else:
                score = pl.score
                values = []
                append = values.append
                for ni in nodes:
                    s, st = score(state, pod, ni)
                    if st is not None and st.code != Code.SUCCESS:
                        return totals, per_plugin, Status(
                            Code.ERROR, f'plugin "{pl.name}" failed with: {st.message()}', plugin=pl.name)
                    append(s)
            ext = pl.score_extensions()
            if ext is not None:
                if names is None:
                    names = [ni.name for ni in nodes]
                st = ext.normalize_score(state, pod, NodeScores(names, values))
                if st is not None and not st.is_success():
                    return totals, per_plugin, Status(Code.ERROR, f'plugin "{pl.name}" failed with: {st.message()}',
                                                      plugin=pl.name)
            if not values:
                continue
            high, low = max(values), min(values)
            if high > MAX_NODE_SCORE or low < MIN_NODE_SCORE:
                s = next(s for s in values if s > MAX_NODE_SCORE or s < MIN_NODE_SCORE)
                return totals, per_plugin, Status(
                    Code.ERROR, f'plugin "{pl.name}" returns an invalid score {s}, it should in the range of '
                                f"[{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing", plugin=pl.name)
            if high == low:
                # The same score for every node (TaintToleration and ImageLocality on most clusters)
                # is added once, at the end, to every total.
                uniform += high * weight
                per_plugin[pl.name] = [high * weight] * len(values)
                continue
            if weight != 1:
                values = [v * weight for v in values]
            totals = values if not added else list(map(operator.add, totals, values))
            added = True
            per_plugin[pl.name] = values
        if uniform:
            totals = [t + uniform for t in totals]
        return totals, per_plugin, None

    # -- reserve and permit ------------------------------------------------------------------------

    def run_reserve_plugins_reserve(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        for pl in self.reserve_plugins:
            st = pl.reserve(state, pod, node_name)
            if st is not None and not st.is_success():
                if st.is_rejected():
                    st.plugin = pl.name
                    return st
                return _wrap(st, "Reserve", pl.name)
        return None

    def run_reserve_plugins_unreserve(self, state: CycleState, pod: Pod, node_name: str) -> None:
        for pl in reversed(self.reserve_plugins):
            try:
                pl.unreserve(state, pod, node_name)
            except Exception:
                log.exception("unreserve of plugin %s failed", pl.name)

    def run_permit_plugins(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        waits: dict[str, float] = {}
        for pl in self.permit_plugins:
            st, timeout = pl.permit(state, pod, node_name)
            if st is None or st.is_success():
                continue
            if st.is_rejected():
                st.plugin = pl.name
                return st
            if st.is_wait():
                waits[pl.name] = min(timeout, MAX_PERMIT_TIMEOUT)
                continue
            return _wrap(st, "Permit", pl.name)
        if waits:
            self.waiting_pods[pod_uid(pod)] = _WaitingPod(pod, waits, self.clock)
            name = (pod.get("metadata") or {}).get("name", "")
            return Status(Code.WAIT, f'one or more plugins asked to wait and no plugin rejected pod "{name}"')
        return None

    async def wait_on_permit(self, pod: Pod) -> Status | None:
        uid = pod_uid(pod)
        wp = self.waiting_pods.get(uid)
        if wp is None:
            return None
        try:
            st = await wp.future
        finally:
            self.waiting_pods.pop(uid, None)
        if st is None or st.is_success():
            return None
        if st.is_rejected():
            return st
        return Status(Code.ERROR, f"waiting on permit for pod: {st.message()}", plugin=st.plugin)

    # -- binding -----------------------------------------------------------------------------------

    async def run_pre_bind_plugins(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        for pl in self.pre_bind_plugins:
            st = await pl.pre_bind(state, pod, node_name)
            if st is not None and not st.is_success():
                if st.is_rejected():
                    st.plugin = pl.name
                    return st
                return _wrap(st, "PreBind", pl.name)
        return None

    async def run_bind_plugins(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        st: Status | None = Status(Code.SKIP)
        for pl in self.bind_plugins:
            st = await pl.bind(state, pod, node_name)
            if st is not None and st.code == Code.SKIP:
                continue
            if st is not None and not st.is_success():
                if st.is_rejected():
                    st.plugin = pl.name
                    return st
                return _wrap(st, "Bind", pl.name)
            return None
        return st

    def run_post_bind_plugins(self, state: CycleState, pod: Pod, node_name: str) -> None:
        for pl in self.post_bind_plugins:
            try:
                pl.post_bind(state, pod, node_name)
            except Exception:
                log.exception("post-bind of plugin %s failed", pl.name)
