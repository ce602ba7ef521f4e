"""The scheduling framework's contracts: one small Protocol per extension point, the per-attempt
`CycleState`, and the `Handle` through which plugins see the rest of the scheduler.

Extension points, in the order one pod goes through them (upstream pkg/scheduler/framework/interface.go):

    scheduling queue   QueueSort (order of the active queue), PreEnqueue (may the pod enter it?)
    scheduling cycle   PreFilter -> Filter (per node) -> PostFilter (only when no node fits: preemption)
    (synchronous)      PreScore -> Score (per feasible node) -> NormalizeScore -> Reserve -> Permit
    binding cycle      WaitOnPermit -> PreBind -> Bind -> PostBind; Unreserve on any failure
    (asynchronous)

Everything in the scheduling cycle is synchronous code: the cycle runs without yielding to the event
loop, so the cache snapshot it reads cannot change under it. Only PreBind and Bind (API calls) are
coroutines. A plugin that needs an API call from a synchronous point (preemption deleting victims)
starts it with `Handle.spawn`.

Return values: a `Status` or None (success). Score returns (score, status). A plugin implements any
subset of the protocols; the framework finds out which by the methods it has.
"""

from __future__ import annotations

import builtins
import random
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kijabi.scheduler.framework.events import ClusterEventWithHint
from kijabi.scheduler.framework.status import NodeToStatus, Status
from kijabi.scheduler.framework.types import NodeInfo, Pod, PodInfo, QueuedPodInfo

if TYPE_CHECKING:
    from kijabi.client.clock import Clock


# -- cycle state -----------------------------------------------------------------------------------


class StateNotFound(KeyError):
    """A plugin read a CycleState key nobody wrote (its PreFilter/PreScore did not run)."""


class CycleState:
    """Data plugins share during ONE scheduling attempt of one pod (upstream framework.CycleState).

    Values that preemption must be able to change on a copy implement `clone()`; others are shared.
    """

    __slots__ = ("_data", "filters", "filters_key", "pods_to_activate", "record_plugin_metrics",
                 "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()
        self.record_plugin_metrics = False
        self.pods_to_activate: dict[str, Pod] = {}
        # The filters this attempt runs, (function, plugin name): set after PreFilter, without the
        # skipped plugins, prepared for the pod where the plugin offers it (see PreparedFilter).
        self.filters: list[tuple[Any, str]] | None = None
        # When every one of those filters is `keyed`: what fixes their verdicts on a node of a given
        # generation (NodeInfo.memo remembers them under this key); None otherwise.
        self.filters_key: str | None = None

    def read(self, key: str) -> Any:
        try:
            return self._data[key]
        except KeyError:
            raise StateNotFound(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def clone(self) -> CycleState:
        c = CycleState()
        for k, v in self._data.items():
            clone = getattr(v, "clone", None)
            c._data[k] = clone() if clone is not None else v
        c.skip_filter_plugins = set(self.skip_filter_plugins)
        c.skip_score_plugins = set(self.skip_score_plugins)
        c.record_plugin_metrics = self.record_plugin_metrics
        c.pods_to_activate = self.pods_to_activate
        c.filters = self.filters
        c.filters_key = self.filters_key
        return c


# -- results ---------------------------------------------------------------------------------------


@dataclass
class PreFilterResult:
    """Nodes a PreFilter plugin already knows are the only candidates; None means all nodes."""

    node_names: set[str] | None = None

    def all_nodes(self) -> bool:
        return self.node_names is None

    def merge(self, other: PreFilterResult | None) -> PreFilterResult:
        if other is None or other.all_nodes():
            return self
        if self.all_nodes():
            return PreFilterResult(set(other.node_names or ()))
        return PreFilterResult((self.node_names or set()) & (other.node_names or set()))


MODE_NOOP = 0
MODE_OVERRIDE = 1


@dataclass(frozen=True)
class NominatingInfo:
    nominated_node_name: str = ""
    mode: int = MODE_NOOP


CLEAR_NOMINATED_NODE = NominatingInfo("", MODE_OVERRIDE)


@dataclass
class PostFilterResult:
    nominating_info: NominatingInfo | None = None


@dataclass
class NodeScores:
    """One plugin's scores, parallel to the feasible node list (upstream NodeScoreList)."""

    names: list[str]
    scores: list[int]


@dataclass
class ScheduleResult:
    suggested_host: str = ""
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    nominating_info: NominatingInfo | None = None


# -- extension points ------------------------------------------------------------------------------


@runtime_checkable
class Plugin(Protocol):
    name: str


@runtime_checkable
class QueueSortPlugin(Protocol):
    name: str

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool: ...


@runtime_checkable
class PreEnqueuePlugin(Protocol):
    name: str

    def pre_enqueue(self, pod: Pod) -> Status | None: ...


@runtime_checkable
class PreFilterExtensions(Protocol):
    """Incremental updates of a PreFilter's state when preemption adds or removes pods on a node."""

    def add_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_add: PodInfo,
                node_info: NodeInfo) -> Status | None: ...

    def remove_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_remove: PodInfo,
                   node_info: NodeInfo) -> Status | None: ...


@runtime_checkable
class PreFilterPlugin(Protocol):
    name: str

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]: ...

    def pre_filter_extensions(self) -> PreFilterExtensions | None: ...


@runtime_checkable
class FilterPlugin(Protocol):
    name: str

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None: ...


NodeFilter = Callable[[CycleState, Pod, NodeInfo], Status | None]


@runtime_checkable
class PreparedFilter(Protocol):
    """Optional on a FilterPlugin: its Filter specialised to one pod, made once per attempt right
    after PreFilter, so that what depends only on the pod (requests, tolerations, the wanted node
    name) is worked out once instead of once per node.

    `prepare_filter` returns a function with Filter's signature and Filter's exact results for this
    pod on every node (it may ignore its state and pod arguments), or None when Filter would pass
    every node for this pod (the plugin is left out of this attempt's filters, like a PreFilter Skip).
    It may rely on what the plugin's PreFilter stored, but only a plugin without PreFilterExtensions
    may implement it: preemption's dry runs call the filters with changed copies of the state."""

    def prepare_filter(self, state: CycleState, pod: Pod) -> NodeFilter | None: ...


UNKNOWN: Any = object()  # a verdict not in a node's memo (None there means "passes")


def keyed(flt: NodeFilter, key: str) -> NodeFilter:
    """Mark a prepared filter (a plain function) whose verdict on a node depends only on `key` (what
    of the pod it looks at, as a string) and on the node and its pods: when all of an attempt's filters
    are keyed, the scheduler remembers their joint verdict per node generation and reuses it for pods
    with the same keys (the pods of one template)."""
    flt.memo_key = key  # type: ignore[attr-defined]
    return flt


def filters_key(filters: list[tuple[Any, str]]) -> str | None:
    """The key of an attempt's filters when every one is `keyed`, else None."""
    keys = []
    for flt, name in filters:
        key = getattr(flt, "memo_key", None)
        if key is None:
            return None
        keys.append(f"{name}={key}")
    return "filters:" + ";".join(keys)


@runtime_checkable
class PostFilterPlugin(Protocol):
    name: str

    def post_filter(self, state: CycleState, pod: Pod,
                    statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]: ...


@runtime_checkable
class PreScorePlugin(Protocol):
    name: str

    def pre_score(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None: ...


@runtime_checkable
class ScoreExtensions(Protocol):
    def normalize_score(self, state: CycleState, pod: Pod, scores: NodeScores) -> Status | None: ...


@runtime_checkable
class ScorePlugin(Protocol):
    name: str

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]: ...

    def score_extensions(self) -> ScoreExtensions | None: ...


@runtime_checkable
class ReservePlugin(Protocol):
    name: str

    def reserve(self, state: CycleState, pod: Pod, node_name: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: Pod, node_name: str) -> None: ...


@runtime_checkable
class PermitPlugin(Protocol):
    name: str

    def permit(self, state: CycleState, pod: Pod, node_name: str) -> tuple[Status | None, float]: ...


@runtime_checkable
class PreBindPlugin(Protocol):
    name: str

    async def pre_bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None: ...


@runtime_checkable
class BindPlugin(Protocol):
    name: str

    async def bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None: ...


@runtime_checkable
class PostBindPlugin(Protocol):
    name: str

    def post_bind(self, state: CycleState, pod: Pod, node_name: str) -> None: ...


@runtime_checkable
class EnqueueExtensions(Protocol):
    """The cluster events that may make pods this plugin rejected schedulable again."""

    def events_to_register(self) -> list[ClusterEventWithHint]: ...


# The methods that make a plugin implement each protocol (checked by name: isinstance against a
# runtime_checkable Protocol is slow, and plugins are assembled per profile).
PROTOCOL_METHODS: dict[type, tuple[str, ...]] = {
    QueueSortPlugin: ("less",),
    PreEnqueuePlugin: ("pre_enqueue",),
    PreFilterPlugin: ("pre_filter", "pre_filter_extensions"),
    FilterPlugin: ("filter",),
    PreparedFilter: ("prepare_filter",),
    PostFilterPlugin: ("post_filter",),
    PreScorePlugin: ("pre_score",),
    ScorePlugin: ("score", "score_extensions"),
    ReservePlugin: ("reserve", "unreserve"),
    PermitPlugin: ("permit",),
    PreBindPlugin: ("pre_bind",),
    BindPlugin: ("bind",),
    PostBindPlugin: ("post_bind",),
    EnqueueExtensions: ("events_to_register",),
}


def implements(plugin: object, protocol: type) -> bool:
    """Whether `plugin` has the methods of `protocol` (one of the extension point protocols)."""
    return all(callable(getattr(plugin, m, None)) for m in PROTOCOL_METHODS[protocol])


EXTENSION_POINTS: dict[str, type] = {
    "queueSort": QueueSortPlugin,
    "preEnqueue": PreEnqueuePlugin,
    "preFilter": PreFilterPlugin,
    "filter": FilterPlugin,
    "postFilter": PostFilterPlugin,
    "preScore": PreScorePlugin,
    "score": ScorePlugin,
    "reserve": ReservePlugin,
    "permit": PermitPlugin,
    "preBind": PreBindPlugin,
    "bind": BindPlugin,
    "postBind": PostBindPlugin,
}


# -- what plugins can reach ------------------------------------------------------------------------


class NodeInfoLister(Protocol):
    """The node infos of the current cycle (upstream SharedLister.NodeInfos())."""

    def list(self) -> list[NodeInfo]: ...

    def get(self, name: str) -> NodeInfo | None: ...

    def have_pods_with_affinity(self) -> builtins.list[NodeInfo]: ...

    def have_pods_with_required_anti_affinity(self) -> builtins.list[NodeInfo]: ...

    def is_pvc_used_by_pods(self, key: str) -> bool: ...

    def changes_since(self, version: int) -> tuple[int, set[str] | None]:
        """(current version, nodes changed since `version` or None if unknown): for incremental caches."""
        ...


class ObjectLister(Protocol):
    """Read access to an informer cache (kijabi.client.cache.Lister fits)."""

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None: ...

    def list(self, namespace: str | None = None) -> builtins.list[dict[str, Any]]: ...


class StaticLister:
    """An ObjectLister over a fixed list of objects (tests, and resources nobody watches)."""

    def __init__(self, objects: Sequence[dict[str, Any]] = ()) -> None:
        self.objects = list(objects)

    def get(self, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        for o in self.objects:
            meta = o.get("metadata") or {}
            if meta.get("name") == name and (namespace is None or meta.get("namespace", "") == (namespace or "")):
                return o
        return None

    def list(self, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        if namespace is None:
            return list(self.objects)
        return [o for o in self.objects if (o.get("metadata") or {}).get("namespace", "") == namespace]


def _empty() -> ObjectLister:
    return StaticLister()


@dataclass
class Listers:
    """The informer caches plugins read (absent ones are empty)."""

    pods: ObjectLister = field(default_factory=_empty)
    services: ObjectLister = field(default_factory=_empty)
    replication_controllers: ObjectLister = field(default_factory=_empty)
    replica_sets: ObjectLister = field(default_factory=_empty)
    stateful_sets: ObjectLister = field(default_factory=_empty)
    namespaces: ObjectLister = field(default_factory=_empty)
    persistent_volumes: ObjectLister = field(default_factory=_empty)
    persistent_volume_claims: ObjectLister = field(default_factory=_empty)
    storage_classes: ObjectLister = field(default_factory=_empty)
    pod_disruption_budgets: ObjectLister = field(default_factory=_empty)
    csi_nodes: ObjectLister = field(default_factory=_empty)
    csi_drivers: ObjectLister = field(default_factory=_empty)


class Recorder(Protocol):
    """Where plugins and the scheduler report events (kijabi.client.events.EventRecorder fits)."""

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None: ...


class NullRecorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str, str, str]] = []

    def event(self, obj: dict[str, Any], type: str, reason: str, message: str) -> None:
        meta = obj.get("metadata") or {}
        self.events.append((f"{meta.get('namespace', '')}/{meta.get('name', '')}", type, reason, message))


class WaitingPod(Protocol):
    """A pod held at Permit (upstream framework.WaitingPod)."""

    @property
    def pod(self) -> Pod: ...

    def allow(self, plugin: str) -> None: ...

    def reject(self, plugin: str, message: str) -> None: ...


class Handle(Protocol):
    """What the framework gives plugins (upstream framework.Handle)."""

    profile_name: str
    listers: Listers
    client: Any
    recorder: Recorder
    clock: Clock
    rng: random.Random

    @property
    def snapshot(self) -> NodeInfoLister: ...

    def nominated_pods_for_node(self, node_name: str) -> Sequence[PodInfo]: ...

    def run_filter_plugins(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None: ...

    def run_filter_plugins_with_nominated_pods(self, state: CycleState, pod: Pod,
                                               node_info: NodeInfo) -> Status | None: ...

    def run_pre_filter_extension_add_pod(self, state: CycleState, pod: Pod, pod_info: PodInfo,
                                         node_info: NodeInfo) -> Status | None: ...

    def run_pre_filter_extension_remove_pod(self, state: CycleState, pod: Pod, pod_info: PodInfo,
                                            node_info: NodeInfo) -> Status | None: ...

    def has_active_pre_filter_extensions(self, state: CycleState) -> bool:
        """Whether some PreFilter plugin not skipped in this cycle has AddPod/RemovePod extensions."""
        ...

    def get_waiting_pod(self, uid: str) -> WaitingPod | None: ...

    def reject_waiting_pod(self, uid: str) -> bool: ...

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> None: ...
