"""InterPodAffinity: required and preferred pod affinity and anti-affinity, the anti-affinity of pods
already running, and namespaceSelector (upstream framework/plugins/interpodaffinity).

Filter answers, for the node's topology domains: does a pod matching each required affinity term
run there (or is the pod the first of a self-affine group)? does a pod matching a required
anti-affinity term run there? does an existing pod's required anti-affinity term match the incoming
pod there? Score adds the weights of matching preferred terms of both sides, plus
hardPodAffinityWeight for existing pods' required affinity terms that match the incoming pod.

PreFilter and PreScore need sums over every pod of the cluster (upstream existingAntiAffinityCounts,
affinityCounts, antiAffinityCounts and the topology scores). Each sum is a `_Tally`: per-node
contributions plus their totals per topology pair, kept current from the cache's change log, so an
attempt recounts only the nodes whose pods or labels changed since the last pod with the same terms
(or, for the existing pods' terms, the same namespace and labels). Pods without affinity cost nothing:
the existing-pod sums visit only `pods_with_required_anti_affinity` / `pods_with_affinity`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from kijabi.scheduler.framework.events import (
    NODE,
    POD,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
)
from kijabi.scheduler.framework.interface import (
    CycleState,
    Handle,
    NodeInfoLister,
    NodeScores,
    PreFilterResult,
)
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


Contribution = Callable[[NodeInfo, Counts], None]
MAX_TALLIES = 256


class _Tally:
    """Sum over nodes of one per-node contribution (topology pair -> count), kept current from the
    cache's change log: only nodes changed since the last refresh are recounted. `sparse` tallies
    start from the nodes with affinity pods only (the others contribute nothing by construction)."""

    __slots__ = ("contribute", "per_node", "sparse", "totals", "version")

    def __init__(self, contribute: Contribution, sparse: Callable[[NodeInfoLister], Sequence[NodeInfo]] | None
                 ) -> None:
        self.contribute = contribute
        self.sparse = sparse
        self.per_node: dict[str, Counts] = {}
        self.totals: Counts = {}
        self.version = -1

    def _drop(self, name: str) -> None:
        old = self.per_node.pop(name, None)
        if old is None:
            return
        totals = self.totals
        for pair, n in old.items():
            left = totals[pair] - n
            if left:
                totals[pair] = left
            else:
                del totals[pair]

    def _put(self, ni: NodeInfo) -> None:
        counts: Counts = {}
        self.contribute(ni, counts)
        if not counts:
            return
        self.per_node[ni.name] = counts
        totals = self.totals
        for pair, n in counts.items():
            left = totals.get(pair, 0) + n
            if left:
                totals[pair] = left
            else:
                del totals[pair]

    def refresh(self, snapshot: NodeInfoLister) -> Counts:
        version, changed = snapshot.changes_since(self.version)
        if changed is None:
            self.per_node.clear()
            self.totals.clear()
            for ni in (self.sparse(snapshot) if self.sparse is not None else snapshot.list()):
                if ni.node is not None:
                    self._put(ni)
        else:
            for name in changed:
                self._drop(name)
                current = snapshot.get(name)
                if current is not None:
                    self._put(current)
        self.version = version
        return self.totals


def _term_key(terms: Sequence[AffinityTerm]) -> tuple[Hashable, ...]:
    return tuple((frozenset(t.namespaces), t.selector, t.topology_key, t.namespace_selector) for t in terms)


def _weighted_key(terms: Sequence[WeightedAffinityTerm]) -> tuple[Hashable, ...]:
    return tuple((w.weight, *_term_key((w.term,))) for w in terms)


def _with_anti_affinity(snapshot: NodeInfoLister) -> Sequence[NodeInfo]:
    return snapshot.have_pods_with_required_anti_affinity()


def _with_affinity(snapshot: NodeInfoLister) -> Sequence[NodeInfo]:
    return snapshot.have_pods_with_affinity()


def _add_weighted(counts: Counts, terms: Sequence[WeightedAffinityTerm], target: Pod,
                  ns_labels: Mapping[str, str] | None, labels: Mapping[str, str], sign: int) -> None:
    for w in terms:
        t = w.term
        if w.weight and t.matches(target, ns_labels):
            _bump(counts, labels, t.topology_key, w.weight * sign)


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
        self._tallies: dict[Hashable, _Tally] = {}

    def _tally(self, key: Hashable, contribute: Contribution,
               sparse: Callable[[NodeInfoLister], Sequence[NodeInfo]] | None) -> Counts:
        """The current totals of the tally `key` (created with `contribute` the first time)."""
        tally = self._tallies.get(key)
        if tally is None:
            if len(self._tallies) >= MAX_TALLIES:
                self._tallies.clear()
            tally = self._tallies[key] = _Tally(contribute, sparse)
        return tally.refresh(self.handle.snapshot)

    @staticmethod
    def _pod_key(pi: PodInfo, ns_labels: Mapping[str, str]) -> tuple[Hashable, ...]:
        """What the existing pods' terms are matched against: the incoming pod's namespace and labels."""
        return (pi.namespace, frozenset(pi.labels.items()), frozenset(ns_labels.items()))

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
        affinity_terms, anti_terms = pi.required_affinity_terms, pi.required_anti_affinity_terms
        if not affinity_terms and not anti_terms and not with_anti:
            return None, Status(Code.SKIP)
        s = PreFilterState(pi, self._namespace_labels(pi.namespace))
        if with_anti:
            ns_labels = s.namespace_labels

            def existing_anti(ni: NodeInfo, counts: Counts) -> None:
                for existing in ni.pods_with_required_anti_affinity:
                    _update_anti_affinity(counts, existing.required_anti_affinity_terms, pod, ns_labels, ni.labels, 1)

            s.existing_anti_affinity = dict(self._tally(("existing-anti", *self._pod_key(pi, ns_labels)),
                                                        existing_anti, _with_anti_affinity))
        if affinity_terms:
            def affinity(ni: NodeInfo, counts: Counts) -> None:
                labels = ni.labels
                for existing in ni.pods:
                    _update_affinity(counts, affinity_terms, existing.pod, labels, 1)

            s.affinity = dict(self._tally(("affinity", _term_key(affinity_terms)), affinity, None))
        if anti_terms:
            def anti_affinity(ni: NodeInfo, counts: Counts) -> None:
                labels = ni.labels
                for existing in ni.pods:
                    _update_anti_affinity(counts, anti_terms, existing.pod, None, labels, 1)

            s.anti_affinity = dict(self._tally(("anti-affinity", _term_key(anti_terms)), anti_affinity, None))
        if not s.existing_anti_affinity and not affinity_terms and not anti_terms:
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
        if not has_constraints and not self.handle.snapshot.have_pods_with_affinity():
            return Status(Code.SKIP)  # no terms on either side
        pi = self._incoming(pod)
        ns_labels = self._namespace_labels(pi.namespace)
        hard = self.hard_pod_affinity_weight
        use_preferred = not self.ignore_preferred_terms_of_existing_pods

        def existing_terms(ni: NodeInfo, counts: Counts) -> None:
            """What the existing pods' terms give the incoming pod."""
            labels = ni.labels
            for existing in ni.pods_with_affinity:
                if hard > 0:
                    for t in existing.required_affinity_terms:
                        if t.matches(pod, ns_labels):
                            _bump(counts, labels, t.topology_key, hard)
                if use_preferred:
                    _add_weighted(counts, existing.preferred_affinity_terms, pod, ns_labels, labels, 1)
                    _add_weighted(counts, existing.preferred_anti_affinity_terms, pod, ns_labels, labels, -1)

        totals = [self._tally(("score-existing", hard, use_preferred, *self._pod_key(pi, ns_labels)),
                              existing_terms, _with_affinity)]
        if has_constraints:
            preferred, preferred_anti = pi.preferred_affinity_terms, pi.preferred_anti_affinity_terms

            def incoming_terms(ni: NodeInfo, counts: Counts) -> None:
                """What the incoming pod's preferred terms give each existing pod's domain."""
                labels = ni.labels
                for existing in ni.pods:
                    _add_weighted(counts, preferred, existing.pod, None, labels, 1)
                    _add_weighted(counts, preferred_anti, existing.pod, None, labels, -1)

            totals.append(self._tally(("score-incoming", _weighted_key(preferred), _weighted_key(preferred_anti)),
                                      incoming_terms, None))
        scores: dict[str, dict[str, int]] = {}
        for counts in totals:
            for (key, value), n in counts.items():
                per_key = scores.setdefault(key, {})
                per_key[value] = per_key.get(value, 0) + n
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
