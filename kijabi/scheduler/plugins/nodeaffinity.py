"""NodeAffinity: spec.nodeSelector, required and preferred node affinity, and the scheduler-enforced
addedAffinity of its args (upstream framework/plugins/nodeaffinity)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kijabi.scheduler.framework.events import (
    NODE,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
    QueueingHint,
)
from kijabi.scheduler.framework.interface import (
    CycleState,
    Handle,
    NodeFilter,
    NodeScores,
    PreFilterResult,
    keyed,
)
from kijabi.scheduler.framework.selectors import NodeSelector, PreferredSchedulingTerms, RequiredNodeAffinity
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import NodeInfo, Pod
from kijabi.scheduler.plugins.helpers import default_normalize_score

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
ERR_REASON_CONFLICT = "pod affinity terms conflict"
_PRE_FILTER_KEY = "PreFilter" + NAME
_PRE_SCORE_KEY = "PreScore" + NAME


def _node_affinity(pod: Mapping[str, Any]) -> dict[str, Any]:
    return (((pod.get("spec") or {}).get("affinity") or {}).get("nodeAffinity")) or {}


def _preferred(pod: Mapping[str, Any]) -> PreferredSchedulingTerms | None:
    terms = _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") or []
    return PreferredSchedulingTerms(terms) if terms else None


class NodeAffinity:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        added = args.get("addedAffinity") or {}
        required = added.get("requiredDuringSchedulingIgnoredDuringExecution")
        self.added_node_selector = NodeSelector(required.get("nodeSelectorTerms") or []) if required else None
        preferred = added.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        self.added_preferred = PreferredSchedulingTerms(preferred) if preferred else None

    # -- filtering ---------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        required = _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")
        spec = pod.get("spec") or {}
        if required is None and self.added_node_selector is None and spec.get("nodeSelector") is None:
            return None, Status(Code.SKIP)
        state.write(_PRE_FILTER_KEY, RequiredNodeAffinity(pod))
        if required is None or self.added_node_selector is not None:
            return None, None
        # Affinity to specific node names (matchFields metadata.name In) narrows the candidates.
        node_names: set[str] | None = None
        for term in required.get("nodeSelectorTerms") or []:
            term_names: set[str] | None = None
            for f in term.get("matchFields") or []:
                if f.get("key") == "metadata.name" and f.get("operator") == "In":
                    values = set(f.get("values") or [])
                    term_names = values if term_names is None else term_names & values
            if term_names is None:
                return None, None  # this term does not restrict names; terms are ORed
            node_names = term_names if node_names is None else node_names | term_names
        if node_names is not None and not node_names:
            return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_CONFLICT)
        if node_names:
            return PreFilterResult(node_names), None
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        return self._verdict(state.get(_PRE_FILTER_KEY) or RequiredNodeAffinity(pod), node_info)

    def prepare_filter(self, state: CycleState, pod: Pod) -> NodeFilter | None:
        required = state.get(_PRE_FILTER_KEY)
        if required is None:
            return self.filter
        # A node's verdict for this affinity holds for its generation (the node's memo), and pods of
        # one template share it.
        spec = pod.get("spec") or {}
        memo_key = f"{NAME}:{id(self)}:" + orjson.dumps(
            [spec.get("nodeSelector"), _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")],
            option=orjson.OPT_SORT_KEYS).decode()

        def affinity(state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
            memo = node_info.memo
            reason = memo.get(memo_key) if memo is not None else None
            if reason is None:
                reason = node_info.memo_of()[memo_key] = self._reason(required, node_info)
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reason) if reason else None

        return keyed(affinity, memo_key)

    def _verdict(self, required: RequiredNodeAffinity, node_info: NodeInfo) -> Status | None:
        reason = self._reason(required, node_info)
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, reason) if reason else None

    def _reason(self, required: RequiredNodeAffinity, node_info: NodeInfo) -> str:
        """Why the node does not match ("" when it does)."""
        node = node_info.node
        assert node is not None
        if self.added_node_selector is not None and not self.added_node_selector.matches(node):
            return ERR_REASON_ENFORCED
        if not required.matches(node):
            return ERR_REASON_POD
        return ""

    # -- scoring -----------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        if not nodes:
            return None
        preferred = _preferred(pod)
        if preferred is None and self.added_preferred is None:
            return Status(Code.SKIP)
        state.write(_PRE_SCORE_KEY, preferred)
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        node = node_info.node
        assert node is not None
        count = 0
        if self.added_preferred is not None:
            count += self.added_preferred.score(node)
        try:
            preferred = state.read(_PRE_SCORE_KEY)
        except KeyError:
            preferred = _preferred(pod)
        if preferred is not None:
            count += preferred.score(node)
        return count, None

    def score_extensions(self) -> NodeAffinity:
        return self

    def normalize_score(self, state: CycleState, pod: Pod, scores: NodeScores) -> Status | None:
        default_normalize_score(scores.scores, reverse=False)
        return None

    # -- queueing ----------------------------------------------------------------------------------

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def node_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if new is None:
                return QueueingHint.QUEUE_SKIP
            if self.added_node_selector is not None and not self.added_node_selector.matches(new):
                return QueueingHint.QUEUE_SKIP
            required = RequiredNodeAffinity(pod)
            if not required.matches(new):
                return QueueingHint.QUEUE_SKIP
            if old is None:
                return QueueingHint.QUEUE
            was = required.matches(old) and (self.added_node_selector is None
                                              or self.added_node_selector.matches(old))
            return QueueingHint.QUEUE_SKIP if was else QueueingHint.QUEUE

        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL), node_hint)]
