"""The small default plugins: PrioritySort, SchedulingGates, NodeUnschedulable, NodeName, NodePorts,
TaintToleration and ImageLocality (upstream framework/plugins/{queuesort,schedulinggates,
nodeunschedulable,nodename,nodeports,tainttoleration,imagelocality})."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

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
    NodeFilter,
    NodeScores,
    PreFilterResult,
    keyed,
)
from kijabi.scheduler.framework.selectors import find_untolerated_taint, tolerations_tolerate
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import (
    MAX_NODE_SCORE,
    HostPort,
    NodeInfo,
    Pod,
    QueuedPodInfo,
    pod_uid,
)
from kijabi.scheduler.plugins.helpers import default_normalize_score

QUEUE, SKIP = QueueingHint.QUEUE, QueueingHint.QUEUE_SKIP


def _spec(obj: Mapping[str, Any] | None) -> dict[str, Any]:
    return (obj or {}).get("spec") or {}


def _same_pod(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return a is not None and b is not None and pod_uid(a) == pod_uid(b)


# -- PrioritySort ----------------------------------------------------------------------------------


class PrioritySort:
    """Higher priority first, then earlier queue timestamp."""

    name = "PrioritySort"

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        p1, p2 = a.pod_info.priority, b.pod_info.priority
        return p1 > p2 or (p1 == p2 and a.timestamp < b.timestamp)

    def sort_key(self, q: QueuedPodInfo) -> tuple[int, float]:
        """A key with the same order as `less` (the queue uses it when a plugin offers one)."""
        return (-q.pod_info.priority, q.timestamp)


# -- SchedulingGates -------------------------------------------------------------------------------


class SchedulingGates:
    """Keeps pods with spec.schedulingGates out of the active queue."""

    name = "SchedulingGates"

    def pre_enqueue(self, pod: Pod) -> Status | None:
        gates = _spec(pod).get("schedulingGates") or []
        if not gates:
            return None
        names = " ".join(str(g.get("name", "")) for g in gates)
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f"waiting for scheduling gates: [{names}]")

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            return QUEUE if _same_pod(pod, new) else SKIP

        return [ClusterEventWithHint(ClusterEvent(POD, ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED), hint)]


# -- NodeUnschedulable -----------------------------------------------------------------------------

UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"


class NodeUnschedulable:
    """Filters out nodes with spec.unschedulable unless the pod tolerates the unschedulable taint."""

    name = "NodeUnschedulable"

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        node = node_info.node
        if node is None or not _spec(node).get("unschedulable"):
            return None
        if tolerations_tolerate(_spec(pod).get("tolerations") or [], UNSCHEDULABLE_TAINT):
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE)

    def prepare_filter(self, state: CycleState, pod: Pod) -> NodeFilter | None:
        if tolerations_tolerate(_spec(pod).get("tolerations") or [], UNSCHEDULABLE_TAINT):
            return None

        def unschedulable(state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
            if node_info.unschedulable:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_UNSCHEDULABLE)
            return None

        return keyed(unschedulable, "")  # only made for pods that do not tolerate the taint

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def node_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if new is None:
                return SKIP
            if not _spec(new).get("unschedulable"):
                return QUEUE if old is None or _spec(old).get("unschedulable") else SKIP
            return SKIP

        def pod_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if not _same_pod(pod, new):
                return SKIP
            return QUEUE if tolerations_tolerate(_spec(new).get("tolerations") or [], UNSCHEDULABLE_TAINT) else SKIP

        return [
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT), node_hint),
            ClusterEventWithHint(ClusterEvent(POD, ActionType.UPDATE_POD_TOLERATIONS), pod_hint),
        ]


# -- NodeName --------------------------------------------------------------------------------------

ERR_REASON_NODE_NAME = "node(s) didn't match the requested node name"


class NodeName:
    """Only the node named in spec.nodeName, when the pod names one."""

    name = "NodeName"

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        wanted = _spec(pod).get("nodeName")
        if wanted and wanted != node_info.name:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_NODE_NAME)
        return None

    def prepare_filter(self, state: CycleState, pod: Pod) -> NodeFilter | None:
        wanted = _spec(pod).get("nodeName")
        if not wanted:
            return None

        def node_name(state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
            return self.filter(state, pod, node_info)

        return keyed(node_name, str(wanted))

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            wanted = _spec(pod).get("nodeName")
            name = ((new or {}).get("metadata") or {}).get("name")
            return QUEUE if not wanted or wanted == name else SKIP

        return [ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD), hint)]


# -- NodePorts -------------------------------------------------------------------------------------

ERR_REASON_PORTS = "node(s) didn't have free ports for the requested pod ports"
_PORTS_KEY = "PreFilterNodePorts"


def _wanted_ports(pod: Mapping[str, Any]) -> list[HostPort]:
    out: list[HostPort] = []
    for c in _spec(pod).get("containers") or []:
        for p in c.get("ports") or []:
            port = int(p.get("hostPort") or 0)
            if port > 0:
                out.append((p.get("hostIP") or "", p.get("protocol") or "", port))
    return out


def fits_ports(wanted: Sequence[HostPort], node_info: NodeInfo) -> bool:
    used = node_info.used_ports
    return not any(used.check_conflict(ip, proto, port) for ip, proto, port in wanted)


class NodePorts:
    """Filters out nodes where a requested hostPort (ip, protocol, port) is taken."""

    name = "NodePorts"

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        wanted = _wanted_ports(pod)
        if not wanted:
            return None, Status(Code.SKIP)
        state.write(_PORTS_KEY, wanted)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        wanted = state.get(_PORTS_KEY)
        if wanted is None:
            wanted = _wanted_ports(pod)
        if not fits_ports(wanted, node_info):
            return Status(Code.UNSCHEDULABLE, ERR_REASON_PORTS)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def pod_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if old is None or not _spec(old).get("nodeName"):
                return SKIP
            wanted = set(_wanted_ports(pod))
            freed = {(ip or "0.0.0.0", proto or "TCP", port) for ip, proto, port in _wanted_ports(old)}
            for ip, proto, port in wanted:
                if (ip or "0.0.0.0", proto or "TCP", port) in freed:
                    return QUEUE
                if any(fp == port and fproto == (proto or "TCP") for _, fproto, fp in freed):
                    return QUEUE
            return SKIP

        return [
            ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE), pod_hint),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD), None),
        ]


# -- TaintToleration -------------------------------------------------------------------------------

_TAINT_SCORE_KEY = "PreScoreTaintToleration"


def _untolerated(node_info: NodeInfo, tolerations: list[dict[str, Any]]) -> Status | None:
    """TaintToleration's Filter verdict for a pod with these tolerations."""
    if not node_info.taints:
        return None
    taint = find_untolerated_taint(node_info.taints, tolerations)
    if taint is None:
        return None
    return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                  f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}")


def _prefer_no_schedule_tolerations(pod: Pod) -> list[dict[str, Any]]:
    return [t for t in _spec(pod).get("tolerations") or [] if (t.get("effect") or "") in ("", "PreferNoSchedule")]


class TaintToleration:
    """Filter: NoSchedule/NoExecute taints must be tolerated. Score: fewer untolerated
    PreferNoSchedule taints is better (normalized in reverse)."""

    name = "TaintToleration"

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        return _untolerated(node_info, _spec(pod).get("tolerations") or [])

    def prepare_filter(self, state: CycleState, pod: Pod) -> NodeFilter | None:
        tolerations = _spec(pod).get("tolerations") or []

        def untolerated(state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
            return _untolerated(node_info, tolerations)

        return keyed(untolerated, orjson.dumps(tolerations, option=orjson.OPT_SORT_KEYS).decode())

    def pre_score(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        if not nodes:
            return None
        state.write(_TAINT_SCORE_KEY, _prefer_no_schedule_tolerations(pod))
        return None

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        taints = node_info.taints
        if not taints:
            return 0, None
        tolerations = state.get(_TAINT_SCORE_KEY)
        if tolerations is None:
            tolerations = _prefer_no_schedule_tolerations(pod)
        n = 0
        for taint in taints:
            if taint.get("effect") == "PreferNoSchedule" and not tolerations_tolerate(tolerations, taint):
                n += 1
        return n, None

    def score_nodes(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        return [self.score(state, pod, ni)[0] if ni.taints else 0 for ni in nodes], None

    def score_extensions(self) -> TaintToleration:
        return self

    def normalize_score(self, state: CycleState, pod: Pod, scores: NodeScores) -> Status | None:
        default_normalize_score(scores.scores, reverse=True)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        def node_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            if new is None:
                return SKIP
            tolerations = _spec(pod).get("tolerations") or []
            was = old is None or find_untolerated_taint(_spec(old).get("taints") or [], tolerations) is not None
            now = find_untolerated_taint(_spec(new).get("taints") or [], tolerations) is not None
            return QUEUE if was and not now else SKIP

        def pod_hint(pod: Pod, old: Any, new: Any) -> QueueingHint:
            return QUEUE if _same_pod(pod, new) else SKIP

        return [
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_TAINT), node_hint),
            ClusterEventWithHint(ClusterEvent(POD, ActionType.UPDATE_POD_TOLERATIONS), pod_hint),
        ]


# -- ImageLocality ---------------------------------------------------------------------------------

MB = 1024 * 1024
MIN_THRESHOLD = 23 * MB
MAX_CONTAINER_THRESHOLD = 1000 * MB


def normalized_image_name(name: str) -> str:
    if name.rfind(":") <= name.rfind("/"):
        name += ":latest"
    return name


class ImageLocality:
    """Prefers nodes that already have the pod's images, weighted by size and by how widespread they are."""

    name = "ImageLocality"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def score(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> tuple[int, Status | None]:
        images = node_info.image_states
        spec = _spec(pod)
        containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
        total = 0
        if images:
            num_nodes = max(len(self.handle.snapshot.list()), 1)
            for c in containers:
                st = images.get(normalized_image_name(str(c.get("image") or "")))
                if st is not None:
                    total += int(st.size * (st.num_nodes / num_nodes))
        max_threshold = MAX_CONTAINER_THRESHOLD * max(len(containers), 1)
        total = min(max(total, MIN_THRESHOLD), max_threshold)
        return MAX_NODE_SCORE * (total - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD), None

    def score_nodes(self, state: CycleState, pod: Pod, nodes: Sequence[NodeInfo]) -> tuple[list[int], Status | None]:
        return [self.score(state, pod, ni)[0] if ni.image_states else 0 for ni in nodes], None

    def score_extensions(self) -> None:
        return None


# -- DefaultBinder ---------------------------------------------------------------------------------


class DefaultBinder:
    """Binds through the API: POST pods/<name>/binding."""

    name = "DefaultBinder"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: Pod, node_name: str) -> Status | None:
        meta = pod.get("metadata") or {}
        try:
            await self.handle.client.bind(meta.get("namespace", ""), meta.get("name", ""), node_name,
                                          uid=meta.get("uid") or None)
        except Exception as exc:  # the API refused or could not be reached: the pod is retried
            return Status.from_error(exc)
        return None
