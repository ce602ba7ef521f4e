"""PodTopologySpread: keep matching pods spread across topology domains (zones, hosts, ...).

Hard constraints (whenUnsatisfiable: DoNotSchedule) filter nodes whose domain would exceed maxSkew;
soft ones (ScheduleAnyway) score nodes. Pods without constraints get the cluster defaults: with
defaultingType System, hostname maxSkew 3 and zone maxSkew 5 (ScheduleAnyway), applied with the
selector of the pod's services / ReplicaSet / StatefulSet / ReplicationController
(upstream framework/plugins/podtopologyspread).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.scheduler.framework.events import (
    NODE,
    POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
)
from kijabi.scheduler.framework.interface import CycleState, Handle, NodeScores, PreFilterResult
from kijabi.scheduler.framework.selectors import (
    LabelSelector,
    RequiredNodeAffinity,
    SelectorError,
    compile_label_selector,
    find_untolerated_taint,
)
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import MAX_NODE_SCORE, NodeInfo, Pod, PodInfo, pod_uid
from kijabi.scheduler.plugins.helpers import default_selector

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_ZONE = "topology.kubernetes.io/zone"
DO_NOT_SCHEDULE = "DoNotSchedule"
SCHEDULE_ANYWAY = "ScheduleAnyway"
SYSTEM_DEFAULTING = "System"
LIST_DEFAULTING = "List"
SYSTEM_DEFAULT_CONSTRAINTS: list[dict[str, Any]] = [
    {"topologyKey": LABEL_HOSTNAME, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 3},
    {"topologyKey": LABEL_ZONE, "whenUnsatisfiable": SCHEDULE_ANYWAY, "maxSkew": 5},
]
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME
_MAX_INT32 = 2**31 - 1


class Constraint:
    __slots__ = ("honor_affinity", "honor_taints", "max_skew", "min_domains", "selector", "topology_key")

    def __init__(self, max_skew: int, topology_key: str, selector: LabelSelector, min_domains: int,
                 honor_affinity: bool, honor_taints: bool) -> None:
        self.max_skew = max_skew
        self.topology_key = topology_key
        self.selector = selector
        self.min_domains = min_domains
        self.honor_affinity = honor_affinity
        self.honor_taints = honor_taints

    def includes_node(self, pod: Pod, node_info: NodeInfo, required: RequiredNodeAffinity) -> bool:
        """nodeAffinityPolicy / nodeTaintsPolicy: does this node count for the constraint?"""
        node = node_info.node
        assert node is not None
        if self.honor_affinity and not required.matches(node):
            return False
        if self.honor_taints and node_info.taints:
            tolerations = (pod.get("spec") or {}).get("tolerations") or []
            if find_untolerated_taint(node_info.taints, tolerations) is not None:
                return False
        return True


def _has_all_keys(labels: Mapping[str, str], constraints: Sequence[Constraint]) -> bool:
    for c in constraints:
        if c.topology_key not in labels:
            return False
    return True


def count_matching(pods: Sequence[PodInfo], selector: LabelSelector, namespace: str) -> int:
    """Pods in `namespace` matching `selector`, terminating pods excluded."""
    if selector.empty():
        return 0
    n = 0
    for p in pods:
        if p.namespace != namespace:
            continue
        if (p.pod.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if selector.matches(p.labels):
            n += 1
    return n


class _Aggregate:
    """Matching pods per topology value over all nodes that carry `required_keys`, kept current from
    the cache's change log (only changed nodes are recounted)."""

    __slots__ = ("key", "namespace", "nodes", "per_node", "required_keys", "selector", "totals", "version")

    def __init__(self, key: str, selector: LabelSelector, namespace: str, required_keys: tuple[str, ...]) -> None:
        self.key = key
        self.selector = selector
        self.namespace = namespace
        self.required_keys = required_keys
        self.version = -1
        self.per_node: dict[str, tuple[str, int]] = {}
        self.totals: dict[str, int] = {}  # topology value -> matching pods
        self.nodes: dict[str, int] = {}  # topology value -> eligible nodes

    def _drop(self, name: str) -> None:
        old = self.per_node.pop(name, None)
        if old is None:
            return
        value, count = old
        self.totals[value] -= count
        n = self.nodes[value] - 1
        if n:
            self.nodes[value] = n
        else:
            del self.nodes[value]
            del self.totals[value]

    def _put(self, ni: NodeInfo, count: int) -> None:
        labels = ni.labels
        for k in self.required_keys:
            if k not in labels:
                return
        value = labels.get(self.key, "")
        self.per_node[ni.name] = (value, count)
        self.totals[value] = self.totals.get(value, 0) + count
        self.nodes[value] = self.nodes.get(value, 0) + 1

    def refresh(self, plugin: PodTopologySpread) -> None:
        snapshot = plugin.handle.snapshot
        version, changed = snapshot.changes_since(self.version)
        if changed is None:
            self.per_node.clear()
            self.totals.clear()
            self.nodes.clear()
            for ni in snapshot.list():
                self._put(ni, plugin._count(ni, self.selector, self.namespace))
        else:
            for name in changed:
                self._drop(name)
                current = snapshot.get(name)
                if current is not None:
                    self._put(current, plugin._count(current, self.selector, self.namespace))
        self.version = version


class CriticalPaths:
    """The two domains with the fewest matching pods; [0] is always the minimum."""

    __slots__ = ("nums", "values")

    def __init__(self) -> None:
        self.values = ["", ""]
        self.nums = [_MAX_INT32, _MAX_INT32]

    def update(self, value: str, num: int) -> None:
        v, n = self.values, self.nums
        i = 0 if value == v[0] else 1 if value == v[1] else -1
        if i >= 0:
            n[i] = num
            if n[0] > n[1]:
                v[0], v[1] = v[1], v[0]
                n[0], n[1] = n[1], n[0]
        elif num < n[0]:
            v[1], n[1] = v[0], n[0]
            v[0], n[0] = value, num
        elif num < n[1]:
            v[1], n[1] = value, num

    def clone(self) -> CriticalPaths:
        c = CriticalPaths()
        c.values = list(self.values)
        c.nums = list(self.nums)
        return c


class PreFilterState:
    __slots__ = ("constraints", "critical_paths", "domains", "match_num")

    def __init__(self, constraints: list[Constraint]) -> None:
        self.constraints = constraints
        self.critical_paths: dict[str, CriticalPaths] = {}
        self.domains: dict[str, int] = {}
        self.match_num: dict[tuple[str, str], int] = {}

    def min_match_num(self, key: str, min_domains: int) -> int | None:
        paths = self.critical_paths.get(key)
        if paths is None:
            return None
        if self.domains.get(key, 0) < min_domains:
            return 0
        return paths.nums[0]

    def clone(self) -> PreFilterState:
        c = PreFilterState(self.constraints)
        c.critical_paths = {k: v.clone() for k, v in self.critical_paths.items()}
        c.domains = self.domains
        c.match_num = dict(self.match_num)
        return c


class PreScoreState:
    __slots__ = ("constraints", "counts", "ignored", "weights")

    def __init__(self) -> None:
        self.constraints: list[Constraint] = []
        self.ignored: set[str] = set()
        self.counts: list[dict[str, int]] = []
        self.weights: list[float] = []


class PodTopologySpread:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        # (node, selector, namespace) -> (node generation, matching pods): most nodes do not change
        # between two attempts, so counting is O(nodes) instead of O(pods) per attempt.
        self._counts: dict[tuple[str, LabelSelector, str], tuple[int, int]] = {}
        self._aggregates: dict[tuple[str, LabelSelector, str, tuple[str, ...]], _Aggregate] = {}
        defaulting = args.get("defaultingType") or SYSTEM_DEFAULTING
        self.system_defaulted = defaulting == SYSTEM_DEFAULTING
        self.default_constraints: list[dict[str, Any]] = (
            SYSTEM_DEFAULT_CONSTRAINTS if self.system_defaulted else list(args.get("defaultConstraints") or []))

    def _count(self, ni: NodeInfo, selector: LabelSelector, namespace: str) -> int:
        key = (ni.name, selector, namespace)
        hit = self._counts.get(key)
        if hit is not None and hit[0] == ni.generation:
            return hit[1]
        n = count_matching(ni.pods, selector, namespace)
        if len(self._counts) > 200_000:
            self._counts.clear()
        self._counts[key] = (ni.generation, n)
        return n

    def _aggregate(self, c: Constraint, namespace: str, required_keys: tuple[str, ...]) -> _Aggregate:
        key = (c.topology_key, c.selector, namespace, required_keys)
        agg = self._aggregates.get(key)
        if agg is None:
            if len(self._aggregates) > 1024:
                self._aggregates.clear()
            agg = self._aggregates[key] = _Aggregate(c.topology_key, c.selector, namespace, required_keys)
        agg.refresh(self)
        return agg

    @staticmethod
    def _every_node_counts(pod: Pod, constraints: Sequence[Constraint]) -> bool:
        """True when no inclusion policy depends on the pod: then every node with the keys counts and the
        incremental aggregates apply."""
        spec = pod.get("spec") or {}
        if spec.get("nodeSelector") or (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                                        .get("requiredDuringSchedulingIgnoredDuringExecution")):
            if any(c.honor_affinity for c in constraints):
                return False
        return not any(c.honor_taints for c in constraints)

    # -- constraints -------------------------------------------------------------------------------

    @staticmethod
    def _compile(raw: Sequence[Mapping[str, Any]], pod_labels: Mapping[str, str], action: str,
                 selector_override: LabelSelector | None = None) -> list[Constraint]:
        out: list[Constraint] = []
        for c in raw:
            if (c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) != action:
                continue
            if selector_override is not None:
                selector = selector_override
            else:
                selector = compile_label_selector(c.get("labelSelector"))
                keys = c.get("matchLabelKeys") or []
                if keys:
                    extra = {k: pod_labels[k] for k in keys if k in pod_labels}
                    if extra:
                        selector = LabelSelector.from_set(extra).merged(selector)
            min_domains = c.get("minDomains")
            out.append(Constraint(
                int(c.get("maxSkew") or 1), str(c.get("topologyKey") or ""), selector,
                int(min_domains) if min_domains is not None else 1,
                (c.get("nodeAffinityPolicy") or "Honor") == "Honor",
                (c.get("nodeTaintsPolicy") or "Ignore") == "Honor",
            ))
        return out

    def constraints_for(self, pod: Pod, action: str) -> list[Constraint]:
        """The pod's own constraints with `action`, or the cluster defaults (SelectorError if invalid)."""
        spec = pod.get("spec") or {}
        labels = (pod.get("metadata") or {}).get("labels") or {}
        own = spec.get("topologySpreadConstraints") or []
        if own:
            return self._compile(own, labels, action)
        if not any((c.get("whenUnsatisfiable") or DO_NOT_SCHEDULE) == action for c in self.default_constraints):
            return []
        selector = default_selector(pod, self.handle.listers)
        if selector.empty():
            return []
        return self._compile(self.default_constraints, labels, action, selector_override=selector)

    # -- filtering ---------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        try:
            constraints = self.constraints_for(pod, DO_NOT_SCHEDULE)
        except SelectorError as exc:
            return None, Status.from_error(ValueError(f"obtaining pod's hard topology spread constraints: {exc}"))
        if not constraints:
            return None, Status(Code.SKIP)
        s = PreFilterState(constraints)
        ns = (pod.get("metadata") or {}).get("namespace", "")
        match_num = s.match_num
        if self._every_node_counts(pod, constraints):
            keys = tuple(c.topology_key for c in constraints)
            for c in constraints:
                agg = self._aggregate(c, ns, keys)
                for value, count in agg.totals.items():
                    pair = (c.topology_key, value)
                    match_num[pair] = match_num.get(pair, 0) + count
        else:
            required = RequiredNodeAffinity(pod)
            for ni in self.handle.snapshot.list():
                if not _has_all_keys(ni.labels, constraints):
                    continue
                for c in constraints:
                    if not c.includes_node(pod, ni, required):
                        continue
                    pair = (c.topology_key, ni.labels[c.topology_key])
                    match_num[pair] = match_num.get(pair, 0) + self._count(ni, c.selector, ns)
        for key, _ in match_num:
            s.domains[key] = s.domains.get(key, 0) + 1
        for c in constraints:
            s.critical_paths[c.topology_key] = CriticalPaths()
        for (key, value), num in match_num.items():
            s.critical_paths[key].update(value, num)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> PodTopologySpread:
        return self

    def _update_with_pod(self, state: CycleState, updated: PodInfo, preemptor: Pod, node_info: NodeInfo,
                         delta: int) -> Status | None:
        s: PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None or node_info.node is None:
            return None
        if updated.namespace != (preemptor.get("metadata") or {}).get("namespace", ""):
            return None
        if not _has_all_keys(node_info.labels, s.constraints):
            return None
        required = RequiredNodeAffinity(preemptor)
        for c in s.constraints:
            if not c.selector.matches(updated.labels):
                continue
            if not c.includes_node(preemptor, node_info, required):
                continue
            pair = (c.topology_key, node_info.labels[c.topology_key])
            s.match_num[pair] = s.match_num.get(pair, 0) + delta
            s.critical_paths[c.topology_key].update(pair[1], s.match_num[pair])
        return None

    def add_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_add: PodInfo,
                node_info: NodeInfo) -> Status | None:
        return self._update_with_pod(state, pod_info_to_add, pod_to_schedule, node_info, 1)

    def remove_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_remove: PodInfo,
                   node_info: NodeInfo) -> Status | None:
        return self._update_with_pod(state, pod_info_to_remove, pod_to_schedule, node_info, -1)

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        s: PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return Status(Code.ERROR, f'reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        if not s.constraints:
            return None
        labels = node_info.labels
        pod_labels = (pod.get("metadata") or {}).get("labels") or {}
        for c in s.constraints:
            value = labels.get(c.topology_key)
            if value is None:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_LABEL_NOT_MATCH)
            min_match = s.min_match_num(c.topology_key, c.min_domains)
            if min_match is None:
                continue
            self_match = 1 if c.selector.matches(pod_labels) else 0
            skew = s.match_num.get((c.topology_key, value), 0) + self_match - min_match
            if skew > c.max_skew:
                return Status(Code.UNSCHEDULABLE, ERR_REASON_CONSTRAINTS_NOT_MATCH)
        return None

    # -- scoring -----------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        all_nodes = self.handle.snapshot.list()
        if not all_nodes:
            return Status(Code.SKIP)
        spec = pod.get("spec") or {}
        require_all = bool(spec.get("topologySpreadConstraints")) or not self.system_defaulted
        try:
            constraints = self.constraints_for(pod, SCHEDULE_ANYWAY)
        except SelectorError as exc:
            return Status.from_error(ValueError(f"obtaining pod's soft topology spread constraints: {exc}"))
        if not constraints:
            return Status(Code.SKIP)
        s = PreScoreState()
        s.constraints = constraints
        s.counts = [{} for _ in constraints]
        sizes = [0] * len(constraints)
        for ni in nodes:
            if require_all and not _has_all_keys(ni.labels, constraints):
                s.ignored.add(ni.name)
                continue
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue
                value = ni.labels.get(c.topology_key, "")
                if value not in s.counts[i]:
                    s.counts[i][value] = 0
                    sizes[i] += 1
        for i, c in enumerate(constraints):
            size = len(nodes) - len(s.ignored) if c.topology_key == LABEL_HOSTNAME else sizes[i]
            s.weights.append(math.log(size + 2))
        ns = (pod.get("metadata") or {}).get("namespace", "")
        required = RequiredNodeAffinity(pod)
        if any(c.topology_key != LABEL_HOSTNAME for c in constraints) and self._every_node_counts(pod, constraints):
            keys = tuple(c.topology_key for c in constraints) if require_all else ()
            for i, c in enumerate(constraints):
                if c.topology_key == LABEL_HOSTNAME:
                    continue
                totals = self._aggregate(c, ns, keys).totals
                counts = s.counts[i]
                for value in counts:
                    counts[value] = totals.get(value, 0)
        elif any(c.topology_key != LABEL_HOSTNAME for c in constraints):
            for ni in all_nodes:
                if require_all and not _has_all_keys(ni.labels, constraints):
                    continue
                for i, c in enumerate(constraints):
                    if c.topology_key == LABEL_HOSTNAME:
                        continue
                    counts = s.counts[i]
                    value = ni.labels.get(c.topology_key, "")
                    if value not in counts:
                        continue
                    if not c.includes_node(pod, ni, required):
                        continue
                    counts[value] += self._count(ni, c.selector, ns)
        state.write(_PRE_SCORE_KEY, s)
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        s: PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return 0, Status(Code.ERROR, f'error reading "{_PRE_SCORE_KEY}" from cycleState: not found')
        if node_info.name in s.ignored:
            return 0, None
        labels = node_info.labels
        total = 0.0
        ns = (pod.get("metadata") or {}).get("namespace", "")
        for i, c in enumerate(s.constraints):
            value = labels.get(c.topology_key)
            if value is None:
                continue
            if c.topology_key == LABEL_HOSTNAME:
                cnt = self._count(node_info, c.selector, ns)
            else:
                cnt = s.counts[i].get(value, 0)
            total += cnt * s.weights[i] + (c.max_skew - 1)
        return math.floor(total + 0.5), None

    def score_nodes(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        out: list[int] = []
        for ni in nodes:
            score, st = self.score(state, pod, ni)
            if st is not None:
                return out, st
            out.append(score)
        return out, None

    def score_extensions(self) -> PodTopologySpread:
        return self

    def normalize_score(self, state: CycleState, pod: Pod, scores: NodeScores) -> Status | None:
        s: PreScoreState | None = state.get(_PRE_SCORE_KEY)
        if s is None:
            return None
        values = scores.scores
        valid = [v for n, v in zip(scores.names, values, strict=True) if n not in s.ignored]
        min_score = min(valid, default=0)
        max_score = max(valid, default=0)
        for i, name in enumerate(scores.names):
            if name in s.ignored:
                values[i] = 0
            elif max_score == 0:
                values[i] = MAX_NODE_SCORE
            else:
                values[i] = MAX_NODE_SCORE * (max_score + min_score - values[i]) // max_score
        return None

    # -- queueing ----------------------------------------------------------------------------------

    def _all_constraints(self, pod: Pod) -> list[Constraint]:
        try:
            return self.constraints_for(pod, DO_NOT_SCHEDULE) + self.constraints_for(pod, SCHEDULE_ANYWAY)
        except SelectorError:
            return []

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def involved(other: Mapping[str, Any], pod: Pod) -> bool:
            if pod_uid(other) == pod_uid(pod):
                return True
            return bool((other.get("spec") or {}).get("nodeName")) and (
                (other.get("metadata") or {}).get("namespace") == (pod.get("metadata") or {}).get("namespace"))

        def pod_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if (new is not None and not involved(new, pod)) or (old is not None and not involved(old, pod)):
                return QueueingHint.QUEUE_SKIP
            constraints = self._all_constraints(pod)
            if new is not None and old is not None:
                old_labels = (old.get("metadata") or {}).get("labels") or {}
                new_labels = (new.get("metadata") or {}).get("labels") or {}
                if old_labels == new_labels:
                    return QueueingHint.QUEUE_SKIP
                for c in constraints:
                    if c.selector.matches(old_labels) != c.selector.matches(new_labels):
                        return QueueingHint.QUEUE
                return QueueingHint.QUEUE_SKIP
            target = old if old is not None else new
            target_labels = (target.get("metadata") or {}).get("labels") or {}
            return QueueingHint.QUEUE if any(c.selector.matches(target_labels) for c in constraints) \
                else QueueingHint.QUEUE_SKIP

        def node_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            constraints = self._all_constraints(pod)
            node = new if new is not None else old
            labels = (node.get("metadata") or {}).get("labels") or {}
            return QueueingHint.QUEUE if _has_all_keys(labels, constraints) else QueueingHint.QUEUE_SKIP

        return [
            ClusterEventWithHint(ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                                 pod_hint),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.DELETE | ActionType.UPDATE_NODE_LABEL
                                              | ActionType.UPDATE_NODE_TAINT), node_hint),
        ]
