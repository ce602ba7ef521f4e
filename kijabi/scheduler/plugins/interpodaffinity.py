"""InterPodAffinity: required and preferred pod affinity and anti-affinity, the anti-affinity of pods
already running, and namespaceSelector (upstream framework/plugins/interpodaffinity).

Filter answers, for the node's topology domains: does a pod matching each required affinity term
run there (or is the pod the first of a self-affine group)? does a pod matching a required
anti-affinity term run there? does an existing pod's required anti-affinity term match the incoming
pod there? Score adds the weights of matching preferred terms of both sides, plus
hardPodAffinityWeight for existing pods' required affinity terms that match the incoming pod.
"""

from __future__ import annotations

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
from kijabi.scheduler.framework.selectors import NOTHING
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import (
    MAX_NODE_SCORE,
    AffinityTerm,
    NodeInfo,
    Pod,
    PodInfo,
    WeightedAffinityTerm,
)

NAME = "InterPodAffinity"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME

Pair = tuple[str, str]
Counts = dict[Pair, int]


def _bump(counts: Counts, labels: Mapping[str, str], key: str, value: int) -> None:
    tv = labels.get(key)
    if tv is None:
        return
    pair = (key, tv)
    n = counts.get(pair, 0) + value
    if n == 0:
        counts.pop(pair, None)
    else:
        counts[pair] = n


def _matches_all(terms: Sequence[AffinityTerm], pod: Pod) -> bool:
    if not terms:
        return False
    for t in terms:
        if not t.matches(pod, None):
            return False
    return True


def _update_affinity(counts: Counts, terms: Sequence[AffinityTerm], pod: Pod, labels: Mapping[str, str],
                     value: int) -> None:
    if _matches_all(terms, pod):
        for t in terms:
            _bump(counts, labels, t.topology_key, value)


def _update_anti_affinity(counts: Counts, terms: Sequence[AffinityTerm], pod: Pod,
                          ns_labels: Mapping[str, str] | None, labels: Mapping[str, str], value: int) -> None:
    for t in terms:
        if t.matches(pod, ns_labels):
            _bump(counts, labels, t.topology_key, value)


class PreFilterState:
    __slots__ = ("affinity", "anti_affinity", "existing_anti_affinity", "namespace_labels", "pod_info")

    def __init__(self, pod_info: PodInfo, namespace_labels: dict[str, str]) -> None:
        self.pod_info = pod_info
        self.namespace_labels = namespace_labels
        self.existing_anti_affinity: Counts = {}
        self.affinity: Counts = {}
        self.anti_affinity: Counts = {}

    def clone(self) -> PreFilterState:
        c = PreFilterState(self.pod_info, self.namespace_labels)
        c.existing_anti_affinity = dict(self.existing_anti_affinity)
        c.affinity = dict(self.affinity)
        c.anti_affinity = dict(self.anti_affinity)
        return c

    def update_with_pod(self, pi: PodInfo, node_info: NodeInfo, value: int) -> None:
        labels = node_info.labels
        incoming = self.pod_info
        _update_anti_affinity(self.existing_anti_affinity, pi.required_anti_affinity_terms, incoming.pod,
                              self.namespace_labels, labels, value)
        _update_affinity(self.affinity, incoming.required_affinity_terms, pi.pod, labels, value)
        _update_anti_affinity(self.anti_affinity, incoming.required_anti_affinity_terms, pi.pod, None, labels, value)


class InterPodAffinity:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        weight = args.get("hardPodAffinityWeight")
        self.hard_pod_affinity_weight = 1 if weight is None else int(weight)
        self.ignore_preferred_terms_of_existing_pods = bool(args.get("ignorePreferredTermsOfExistingPods"))

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.handle.listers.namespaces.get(namespace)
        return ((ns or {}).get("metadata") or {}).get("labels") or {}

    def _merge_namespaces(self, term: AffinityTerm) -> AffinityTerm:
        """Resolve a non-empty namespaceSelector into the term's namespace set (mergeAffinityTermNamespacesIfNotEmpty)."""
        if term.namespace_selector.empty() or term.namespace_selector.nothing:
            return term
        merged = term.copy()
        for ns in self.handle.listers.namespaces.list():
            meta = ns.get("metadata") or {}
            if term.namespace_selector.matches(meta.get("labels") or {}):
                merged.namespaces.add(meta.get("name", ""))
        merged.namespace_selector = NOTHING
        return merged

    def _incoming(self, pod: Pod) -> PodInfo:
        pi = PodInfo(pod)
        pi.required_affinity_terms = [self._merge_namespaces(t) for t in pi.required_affinity_terms]
        pi.required_anti_affinity_terms = [self._merge_namespaces(t) for t in pi.required_anti_affinity_terms]
        pi.preferred_affinity_terms = [WeightedAffinityTerm(self._merge_namespaces(w.term), w.weight)
                                       for w in pi.preferred_affinity_terms]
        pi.preferred_anti_affinity_terms = [WeightedAffinityTerm(self._merge_namespaces(w.term), w.weight)
                                            for w in pi.preferred_anti_affinity_terms]
        return pi

    # -- filtering ---------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        snapshot = self.handle.snapshot
        with_anti = snapshot.have_pods_with_required_anti_affinity()
        pi = self._incoming(pod)
        if not pi.required_affinity_terms and not pi.required_anti_affinity_terms and not with_anti:
            return None, Status(Code.SKIP)
        s = PreFilterState(pi, self._namespace_labels(pi.namespace))
        for ni in with_anti:
            if ni.node is None:
                continue
            for existing in ni.pods_with_required_anti_affinity:
                _update_anti_affinity(s.existing_anti_affinity, existing.required_anti_affinity_terms, pod,
                                      s.namespace_labels, ni.labels, 1)
        if pi.required_affinity_terms or pi.required_anti_affinity_terms:
            for ni in snapshot.list():
                labels = ni.labels
                for existing in ni.pods:
                    _update_affinity(s.affinity, pi.required_affinity_terms, existing.pod, labels, 1)
                    _update_anti_affinity(s.anti_affinity, pi.required_anti_affinity_terms, existing.pod, None,
                                          labels, 1)
        if not s.existing_anti_affinity and not pi.required_affinity_terms and not pi.required_anti_affinity_terms:
            return None, Status(Code.SKIP)
        state.write(_PRE_FILTER_KEY, s)
        return None, None

    def pre_filter_extensions(self) -> InterPodAffinity:
        return self

    def add_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_add: PodInfo,
                node_info: NodeInfo) -> Status | None:
        s: PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(pod_info_to_add, node_info, 1)
        return None

    def remove_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_remove: PodInfo,
                   node_info: NodeInfo) -> Status | None:
        s: PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is not None:
            s.update_with_pod(pod_info_to_remove, node_info, -1)
        return None

    @staticmethod
    def _satisfies_affinity(s: PreFilterState, labels: Mapping[str, str]) -> bool:
        pods_exist = True
        for t in s.pod_info.required_affinity_terms:
            tv = labels.get(t.topology_key)
            if tv is None:
                return False  # every topology label must exist on the node
            if s.affinity.get((t.topology_key, tv), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself: allowed when nothing else matches anywhere.
        return not s.affinity and _matches_all(s.pod_info.required_affinity_terms, s.pod_info.pod)

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        s: PreFilterState | None = state.get(_PRE_FILTER_KEY)
        if s is None:
            return Status(Code.ERROR, f'error reading "{_PRE_FILTER_KEY}" from cycleState: not found')
        labels = node_info.labels
        if not self._satisfies_affinity(s, labels):
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_AFFINITY)
        for t in s.pod_info.required_anti_affinity_terms:
            tv = labels.get(t.topology_key)
            if tv is not None and s.anti_affinity.get((t.topology_key, tv), 0) > 0:
                return Status(Code.UNSCHEDULABLE, ERR_REASON_ANTI_AFFINITY)
        if s.existing_anti_affinity:
            counts = s.existing_anti_affinity
            for pair in labels.items():
                if counts.get(pair, 0) > 0:
                    return Status(Code.UNSCHEDULABLE, ERR_REASON_EXISTING_ANTI_AFFINITY)
        return None

    # -- scoring -----------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        if not nodes:
            return None
        affinity = (pod.get("spec") or {}).get("affinity") or {}
        has_constraints = bool(
            ((affinity.get("podAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution"))
            or ((affinity.get("podAntiAffinity") or {}).get("preferredDuringSchedulingIgnoredDuringExecution")))
        if self.ignore_preferred_terms_of_existing_pods and not has_constraints:
            return Status(Code.SKIP)
        snapshot = self.handle.snapshot
        all_nodes = snapshot.list() if has_constraints else snapshot.have_pods_with_affinity()
        pi = self._incoming(pod)
        ns_labels = self._namespace_labels(pi.namespace)
        scores: dict[str, dict[str, int]] = {}

        def process(terms: Sequence[WeightedAffinityTerm], target: Pod, nsl: Mapping[str, str] | None,
                    labels: Mapping[str, str], sign: int) -> None:
            for w in terms:
                t = w.term
                if t.matches(target, nsl):
                    tv = labels.get(t.topology_key)
                    if tv is not None:
                        per_key = scores.setdefault(t.topology_key, {})
                        per_key[tv] = per_key.get(tv, 0) + w.weight * sign

        hard = self.hard_pod_affinity_weight
        for ni in all_nodes:
            labels = ni.labels
            if ni.node is None or not labels:
                continue
            for existing in (ni.pods if has_constraints else ni.pods_with_affinity):
                process(pi.preferred_affinity_terms, existing.pod, None, labels, 1)
                process(pi.preferred_anti_affinity_terms, existing.pod, None, labels, -1)
                if hard > 0:
                    for t in existing.required_affinity_terms:
                        if t.matches(pod, ns_labels):
                            tv = labels.get(t.topology_key)
                            if tv is not None:
                                per_key = scores.setdefault(t.topology_key, {})
                                per_key[tv] = per_key.get(tv, 0) + hard
                if not self.ignore_preferred_terms_of_existing_pods:
                    process(existing.preferred_affinity_terms, pod, ns_labels, labels, 1)
                    process(existing.preferred_anti_affinity_terms, pod, ns_labels, labels, -1)
        if not scores:
            return Status(Code.SKIP)
        state.write(_PRE_SCORE_KEY, scores)
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        scores: dict[str, dict[str, int]] | None = state.get(_PRE_SCORE_KEY)
        if scores is None:
            return 0, Status(Code.ERROR, f'error reading "{_PRE_SCORE_KEY}" from cycleState: not found')
        labels = node_info.labels
        total = 0
        for key, values in scores.items():
            v = labels.get(key)
            if v is not None:
                total += values.get(v, 0)
        return total, None

    def score_extensions(self) -> InterPodAffinity:
        return self

    def normalize_score(self, state: CycleState, pod: Pod, scores: NodeScores) -> Status | None:
        if not state.get(_PRE_SCORE_KEY):
            return None
        values = scores.scores
        if not values:
            return None
        lo, hi = min(values), max(values)
        diff = hi - lo
        for i, v in enumerate(values):
            values[i] = int(MAX_NODE_SCORE * ((v - lo) / diff)) if diff > 0 else 0
        return None

    # -- queueing ----------------------------------------------------------------------------------

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def pod_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            for other in (old, new):
                if other is not None and not (other.get("spec") or {}).get("nodeName"):
                    return QueueingHint.QUEUE_SKIP
            pi = PodInfo(pod)
            terms, anti = pi.required_affinity_terms, pi.required_anti_affinity_terms
            if old is not None and new is not None:  # labels of an assigned pod changed
                if not _matches_all(terms, old) and _matches_all(terms, new):
                    return QueueingHint.QUEUE
                if _matches_all(anti, old) and not _matches_all(anti, new):
                    return QueueingHint.QUEUE
                return QueueingHint.QUEUE_SKIP
            if new is not None:  # an assigned pod appeared
                return QueueingHint.QUEUE if _matches_all(terms, new) else QueueingHint.QUEUE_SKIP
            # an assigned pod went away: it may have matched our anti-affinity, or had anti-affinity itself
            if any(t.matches(old, None) for t in anti) or PodInfo(old).required_anti_affinity_terms:
                return QueueingHint.QUEUE
            return QueueingHint.QUEUE_SKIP

        return [
            ClusterEventWithHint(ClusterEvent(POD, ActionType.ADD | ActionType.UPDATE_POD_LABEL | ActionType.DELETE),
                                 pod_hint),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL), None),
        ]
