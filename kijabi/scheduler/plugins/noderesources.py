"""NodeResourcesFit (filter + score: LeastAllocated, MostAllocated, RequestedToCapacityRatio) and
NodeResourcesBalancedAllocation (upstream framework/plugins/noderesources)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from kijabi.scheduler.framework.events import (
    NODE,
    POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
)
from kijabi.scheduler.framework.interface import CycleState, Handle, NodeFilter, PreFilterResult, keyed
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import (
    CPU,
    EPHEMERAL_STORAGE,
    MAX_NODE_SCORE,
    MEMORY,
    NodeInfo,
    Pod,
    PodInfo,
    Resource,
    is_extended_resource_name,
    is_scalar_resource_name,
    pod_request_amounts,
)
from kijabi.scheduler.plugins.helpers import go_div

FIT = "NodeResourcesFit"
BALANCED = "NodeResourcesBalancedAllocation"
LEAST_ALLOCATED = "LeastAllocated"
MOST_ALLOCATED = "MostAllocated"
REQUESTED_TO_CAPACITY_RATIO = "RequestedToCapacityRatio"
MAX_CUSTOM_PRIORITY_SCORE = 10
MAX_UTILIZATION = 100

_PRE_FILTER_KEY = "PreFilter" + FIT
_PRE_SCORE_KEY = "PreScore" + FIT
_BALANCED_KEY = "PreScore" + BALANCED

Scorer = Callable[[list[int], list[int]], int]
ResourceSpec = tuple[str, int]  # name, weight


# -- filtering -------------------------------------------------------------------------------------


# The reasons insufficient_resources gives for the pod count and the common resources, in its order.
_COMMON_REASONS = ("Too many pods", "Insufficient cpu", "Insufficient memory", "Insufficient ephemeral-storage")


def insufficient_resources(req: Resource, node_info: NodeInfo, ignored: frozenset[str] = frozenset(),
                           ignored_groups: frozenset[str] = frozenset()) -> list[str]:
    """The reasons `req` does not fit `node_info` (upstream fitsRequest)."""
    reasons: list[str] = []
    alloc = node_info.allocatable
    if len(node_info.pods) + 1 > alloc.allowed_pod_number:
        reasons.append("Too many pods")
    if not (req.milli_cpu or req.memory or req.ephemeral_storage or req.scalar):
        return reasons
    used = node_info.requested
    if req.milli_cpu > 0 and req.milli_cpu > alloc.milli_cpu - used.milli_cpu:
        reasons.append("Insufficient cpu")
    if req.memory > 0 and req.memory > alloc.memory - used.memory:
        reasons.append("Insufficient memory")
    if req.ephemeral_storage > 0 and req.ephemeral_storage > alloc.ephemeral_storage - used.ephemeral_storage:
        reasons.append("Insufficient ephemeral-storage")
    for name, value in req.scalar.items():
        if value == 0:
            continue
        if is_extended_resource_name(name) and (name in ignored or name.split("/", 1)[0] in ignored_groups):
            continue
        if value > alloc.scalar.get(name, 0) - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def resources_cannot_fit(req: Resource, node_info: NodeInfo, removed: Sequence[PodInfo],
                         added: Sequence[PodInfo]) -> bool:
    """Whether `req` surely does not fit `node_info` once the `removed` pods (which are on it) left and
    the `added` ones came: the pod count, cpu, memory and ephemeral-storage checks of
    `insufficient_resources`, on sums instead of a changed copy of the node (preemption asks this of
    many nodes). Extended resources are not looked at: False says only that these checks pass."""
    alloc = node_info.allocatable
    used = node_info.requested
    cpu, mem, eph = used.milli_cpu, used.memory, used.ephemeral_storage
    for pi in removed:
        r = pi.requests
        cpu -= r.milli_cpu
        mem -= r.memory
        eph -= r.ephemeral_storage
    for pi in added:
        r = pi.requests
        cpu += r.milli_cpu
        mem += r.memory
        eph += r.ephemeral_storage
    count = len(node_info.pods) - len(removed) + len(added)
    return (count + 1 > alloc.allowed_pod_number
            or 0 < req.milli_cpu > alloc.milli_cpu - cpu
            or 0 < req.memory > alloc.memory - mem
            or 0 < req.ephemeral_storage > alloc.ephemeral_storage - eph)


def prefilter_request(state: CycleState) -> Resource | None:
    """The pod's requests as NodeResourcesFit's PreFilter stored them in `state` (None if it did not run)."""
    req = state.get(_PRE_FILTER_KEY)
    return req if isinstance(req, Resource) else None


def pod_fit_request(pod: Mapping[str, Any]) -> Resource:
    return Resource.from_amounts(pod_request_amounts(pod))


# -- scoring ---------------------------------------------------------------------------------------


def least_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity


def most_requested_score(requested: int, capacity: int) -> int:
    if capacity == 0:
        return 0
    requested = min(requested, capacity)
    return requested * MAX_NODE_SCORE // capacity


def least_scorer(resources: Sequence[ResourceSpec]) -> Scorer:
    weights = [w for _, w in resources]

    def score(requested: list[int], allocatable: list[int]) -> int:
        node_score = weight_sum = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            node_score += least_requested_score(requested[i], alloc) * weights[i]
            weight_sum += weights[i]
        return node_score // weight_sum if weight_sum else 0

    return score


def most_scorer(resources: Sequence[ResourceSpec]) -> Scorer:
    weights = [w for _, w in resources]

    def score(requested: list[int], allocatable: list[int]) -> int:
        node_score = weight_sum = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            node_score += most_requested_score(requested[i], alloc) * weights[i]
            weight_sum += weights[i]
        return node_score // weight_sum if weight_sum else 0

    return score


def broken_linear_function(shape: Sequence[tuple[int, int]]) -> Callable[[int], int]:
    """Piecewise-linear (utilization -> score) through the shape points (upstream BuildBrokenLinearFunction)."""

    def f(p: int) -> int:
        for i, (util, score) in enumerate(shape):
            if p <= util:
                if i == 0:
                    return score
                pu, ps = shape[i - 1]
                return ps + go_div((score - ps) * (p - pu), util - pu)
        return shape[-1][1]

    return f


def ratio_scorer(resources: Sequence[ResourceSpec], shape: Sequence[Mapping[str, Any]]) -> Scorer:
    points = [(int(p.get("utilization", 0)), int(p.get("score", 0)) * (MAX_NODE_SCORE // MAX_CUSTOM_PRIORITY_SCORE))
              for p in shape]
    raw = broken_linear_function(points)
    weights = [w for _, w in resources]

    def resource_score(requested: int, capacity: int) -> int:
        if capacity == 0 or requested > capacity:
            return raw(MAX_UTILIZATION)
        return raw(requested * MAX_UTILIZATION // capacity)

    def score(requested: list[int], allocatable: list[int]) -> int:
        node_score = weight_sum = 0
        for i, alloc in enumerate(allocatable):
            if alloc == 0:
                continue
            s = resource_score(requested[i], alloc)
            if s > 0:
                node_score += s * weights[i]
                weight_sum += weights[i]
        if weight_sum == 0:
            return 0
        return math.floor(node_score / weight_sum + 0.5)

    return score


def balanced_scorer(requested: list[int], allocatable: list[int]) -> int:
    fractions = []
    for i, alloc in enumerate(allocatable):
        if alloc == 0:
            continue
        fractions.append(min(requested[i] / alloc, 1.0))
    std = 0.0
    if len(fractions) == 2:
        std = abs((fractions[0] - fractions[1]) / 2)
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    return int((1 - std) * MAX_NODE_SCORE)


class ResourceAllocationScorer:
    """Shared by Fit's score and BalancedAllocation (upstream resourceAllocationScorer)."""

    def __init__(self, resources: Sequence[ResourceSpec], scorer: Scorer, use_requested: bool,
                 fast_kind: str | None = None) -> None:
        self.resources = list(resources)
        self.scorer = scorer
        self.use_requested = use_requested
        # "least", "most" or "balanced" when the resources are exactly cpu and memory
        self.fast_kind = fast_kind if [n for n, _ in self.resources] == [CPU, MEMORY] else None

    def pod_requests(self, pod: Mapping[str, Any]) -> list[int]:
        amounts = pod_request_amounts(pod, non_missing_defaults=not self.use_requested)
        return [amounts.get(name, 0) for name, _ in self.resources]

    def score(self, node_info: NodeInfo, pod_requests: list[int]) -> int:
        requested = node_info.requested if self.use_requested else node_info.non_zero_requested
        alloc = node_info.allocatable
        n = len(self.resources)
        req_list = [0] * n
        alloc_list = [0] * n
        for i, (name, _) in enumerate(self.resources):
            pr = pod_requests[i]
            if name == CPU:
                a, r = alloc.milli_cpu, requested.milli_cpu + pr
            elif name == MEMORY:
                a, r = alloc.memory, requested.memory + pr
            elif name == EPHEMERAL_STORAGE:
                a, r = alloc.ephemeral_storage, node_info.requested.ephemeral_storage + pr
            elif is_scalar_resource_name(name) and pr != 0 and name in alloc.scalar:
                a, r = alloc.scalar[name], node_info.requested.scalar.get(name, 0) + pr
            else:
                continue
            if a == 0:
                continue
            alloc_list[i] = a
            req_list[i] = r
        return self.scorer(req_list, alloc_list)


    def score_many(self, nodes: Sequence[NodeInfo], pod_requests: list[int]) -> list[int]:
        """`score` for many nodes; the common cpu+memory LeastAllocated/MostAllocated/Balanced cases
        are computed inline, one loop per kind, and remembered per node generation (this runs for
        every feasible node of every attempt). A node without cpu or memory allocatable takes the
        general path."""
        kind = self.fast_kind
        if kind is None:
            return [self.score(ni, pod_requests) for ni in nodes]
        (_, wc), (_, wm) = self.resources
        wsum = wc + wm
        pc, pm = pod_requests
        use_requested = self.use_requested
        # A node's score for a pod of these requests holds until the node's pods or allocatable change
        # (a new generation); from one attempt to the next most nodes do not change.
        key = f"{id(self)}:{pc}:{pm}"  # a str: its hash is computed once
        out: list[int] = []
        append = out.append
        for ni in nodes:
            memo = ni.memo
            if memo is not None:
                value = memo.get(key)
                if value is not None:
                    append(value)
                    continue
            alloc = ni.allocatable
            ac, am = alloc.milli_cpu, alloc.memory
            if not (ac and am):
                value = self.score(ni, pod_requests)
            else:
                req = ni.requested if use_requested else ni.non_zero_requested
                if kind == "least":
                    fc = ac - req.milli_cpu - pc
                    fm = am - req.memory - pm
                    value = ((fc * MAX_NODE_SCORE // ac if fc >= 0 else 0) * wc
                             + (fm * MAX_NODE_SCORE // am if fm >= 0 else 0) * wm) // wsum
                elif kind == "balanced":
                    cpu_fraction = min((req.milli_cpu + pc) / ac, 1.0)
                    memory_fraction = min((req.memory + pm) / am, 1.0)
                    value = int((1 - abs(cpu_fraction - memory_fraction) / 2) * MAX_NODE_SCORE)
                else:
                    rc = min(req.milli_cpu + pc, ac)
                    rm = min(req.memory + pm, am)
                    value = (rc * MAX_NODE_SCORE // ac * wc + rm * MAX_NODE_SCORE // am * wm) // wsum
            ni.memo_of()[key] = value
            append(value)
        return out


def resource_specs(raw: Sequence[Mapping[str, Any]] | None) -> list[ResourceSpec]:
    specs = [(str(r.get("name")), int(r.get("weight") or 1)) for r in raw or []]
    return specs or [(CPU, 1), (MEMORY, 1)]


class _ScoresRequests:
    """PreScore + Score of a plugin rating nodes with its ResourceAllocationScorer on the pod's requests,
    worked out once per cycle in PreScore under `state_key`."""

    scorer: ResourceAllocationScorer
    state_key: str

    def _requests(self, state: CycleState, pod: Pod) -> Any:
        reqs = state.get(self.state_key)
        return self.scorer.pod_requests(pod) if reqs is None else reqs

    def pre_score(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        state.write(self.state_key, self.scorer.pod_requests(pod))
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        return self.scorer.score(node_info, self._requests(state, pod)), None

    def score_nodes(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        return self.scorer.score_many(nodes, self._requests(state, pod)), None

    def score_extensions(self) -> None:
        return None


class Fit(_ScoresRequests):
    """Filters out nodes without room for the pod's requests; scores by the configured strategy."""

    name = FIT
    state_key = _PRE_SCORE_KEY

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        self.ignored = frozenset(args.get("ignoredResources") or ())
        self.ignored_groups = frozenset(args.get("ignoredResourceGroups") or ())
        strategy = args.get("scoringStrategy") or {}
        kind = strategy.get("type") or LEAST_ALLOCATED
        resources = resource_specs(strategy.get("resources"))
        scorer: Scorer
        if kind == LEAST_ALLOCATED:
            scorer = least_scorer(resources)
        elif kind == MOST_ALLOCATED:
            scorer = most_scorer(resources)
        elif kind == REQUESTED_TO_CAPACITY_RATIO:
            shape = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
            if not shape:
                raise ValueError("scoringStrategy.requestedToCapacityRatio.shape: Required value")
            scorer = ratio_scorer(resources, shape)
        else:
            raise ValueError(f"scoring strategy {kind} is not supported")
        self.strategy = kind
        fast = {LEAST_ALLOCATED: "least", MOST_ALLOCATED: "most"}.get(kind)
        self.scorer = ResourceAllocationScorer(resources, scorer, use_requested=False, fast_kind=fast)

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        state.write(_PRE_FILTER_KEY, pod_fit_request(pod))
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        req = state.get(_PRE_FILTER_KEY)
        if req is None:
            return Status(Code.ERROR, f'error reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        reasons = insufficient_resources(req, node_info, self.ignored, self.ignored_groups)
        if reasons:
            return Status(Code.UNSCHEDULABLE, *reasons)
        return None

    def prepare_filter(self, state: CycleState, pod: Pod) -> NodeFilter | None:
        """Filter for this pod: a quick test on the common resources, the full reasons only when it
        may not fit (or requests extended resources)."""
        req = state.get(_PRE_FILTER_KEY)
        if req is None or req.scalar:
            return self.filter
        cpu, mem, eph = req.milli_cpu, req.memory, req.ephemeral_storage
        # One Status per combination of reasons, shared by the nodes of this attempt that fail alike
        # (when nothing fits, that is every node of the cluster); statuses are only read afterwards.
        verdicts: dict[tuple[bool, bool, bool, bool], Status] = {}
        # Which requests fail on a node holds until the node's pods or allocatable change (the node's
        # memo): most nodes are the same from one attempt to the next.
        memo_key = f"fit:{cpu}:{mem}:{eph}"

        def fit(state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
            memo = node_info.memo
            failed = memo.get(memo_key) if memo is not None else None
            if failed is None:
                alloc = node_info.allocatable
                used = node_info.requested
                failed = (len(node_info.pods) >= alloc.allowed_pod_number,
                          0 < cpu > alloc.milli_cpu - used.milli_cpu,
                          0 < mem > alloc.memory - used.memory,
                          0 < eph > alloc.ephemeral_storage - used.ephemeral_storage)
                if not any(failed):
                    failed = ()
                node_info.memo_of()[memo_key] = failed
            if not failed:
                return None
            st = verdicts.get(failed)
            if st is None:
                reasons = [reason for bad, reason in zip(failed, _COMMON_REASONS, strict=True) if bad]
                st = verdicts[failed] = Status(Code.UNSCHEDULABLE, *reasons)
            return st

        return keyed(fit, memo_key)

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def pod_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if new is None:  # deleted
                return QueueingHint.QUEUE if (old or {}).get("spec", {}).get("nodeName") else QueueingHint.QUEUE_SKIP
            return QueueingHint.QUEUE_SKIP

        def node_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if new is None:
                return QueueingHint.QUEUE_SKIP
            req = pod_fit_request(pod)
            if insufficient_resources(req, NodeInfo(new), self.ignored, self.ignored_groups):
                return QueueingHint.QUEUE_SKIP
            if old is None:
                return QueueingHint.QUEUE
            before, after = NodeInfo(old).allocatable, NodeInfo(new).allocatable
            if after.allowed_pod_number > before.allowed_pod_number:
                return QueueingHint.QUEUE
            for name, value in [(CPU, req.milli_cpu), (MEMORY, req.memory), (EPHEMERAL_STORAGE, req.ephemeral_storage),
                                *req.scalar.items()]:
                if value > 0 and after.get(name) > before.get(name):
                    return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP

        return [
            ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE), pod_hint),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_ALLOCATABLE), node_hint),
        ]


class BalancedAllocation(_ScoresRequests):
    """Prefers nodes whose cpu and memory fractions would stay close to each other."""

    name = BALANCED
    state_key = _BALANCED_KEY

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.scorer = ResourceAllocationScorer(resource_specs(args.get("resources")), balanced_scorer,
                                               use_requested=True, fast_kind="balanced")
