"""Cluster events: what changed in the cluster, so that waiting pods are retried only when it may help.

A plugin that rejects pods declares, through `EnqueueExtensions.events_to_register()`, the events that
could make those pods schedulable (a node added, a pod deleted, a PVC bound, ...), optionally with a
`QueueingHint` function that looks at the object and answers QUEUE or QUEUE_SKIP. The scheduling queue
moves an unschedulable pod back only for events registered by the plugins that rejected it
(upstream pkg/scheduler/framework/events.go and types.go, SchedulerQueueingHints on as in 1.32).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from typing import Any


class ActionType(IntFlag):
    ADD = 1 << 0
    DELETE = 1 << 1
    UPDATE_NODE_ALLOCATABLE = 1 << 2
    UPDATE_NODE_LABEL = 1 << 3
    UPDATE_NODE_TAINT = 1 << 4
    UPDATE_NODE_CONDITION = 1 << 5
    UPDATE_NODE_ANNOTATION = 1 << 6
    UPDATE_POD_LABEL = 1 << 7
    UPDATE_POD_SCALE_DOWN = 1 << 8
    UPDATE_POD_TOLERATIONS = 1 << 9
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = 1 << 10
    UPDATE_POD_GENERATED_RESOURCE_CLAIM = 1 << 11
    UPDATE_POD_OTHER = 1 << 12

    UPDATE = (UPDATE_NODE_ALLOCATABLE | UPDATE_NODE_LABEL | UPDATE_NODE_TAINT | UPDATE_NODE_CONDITION
              | UPDATE_NODE_ANNOTATION | UPDATE_POD_LABEL | UPDATE_POD_SCALE_DOWN | UPDATE_POD_TOLERATIONS
              | UPDATE_POD_SCHEDULING_GATES_ELIMINATED | UPDATE_POD_GENERATED_RESOURCE_CLAIM | UPDATE_POD_OTHER)
    ALL = (1 << 13) - 1


_ACTION_LABELS = {
    ActionType.ADD: "Add", ActionType.DELETE: "Delete",
    ActionType.UPDATE_NODE_ALLOCATABLE: "UpdateNodeAllocatable", ActionType.UPDATE_NODE_LABEL: "UpdateNodeLabel",
    ActionType.UPDATE_NODE_TAINT: "UpdateNodeTaint", ActionType.UPDATE_NODE_CONDITION: "UpdateNodeCondition",
    ActionType.UPDATE_NODE_ANNOTATION: "UpdateNodeAnnotation", ActionType.UPDATE_POD_LABEL: "UpdatePodLabel",
    ActionType.UPDATE_POD_SCALE_DOWN: "UpdatePodScaleDown", ActionType.UPDATE_POD_TOLERATIONS: "UpdatePodTolerations",
    ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED: "UpdatePodSchedulingGatesEliminated",
    ActionType.UPDATE_POD_GENERATED_RESOURCE_CLAIM: "UpdatePodGeneratedResourceClaim",
    ActionType.UPDATE_POD_OTHER: "UpdatePodOther",
}

# Resources events are about. Plugins register POD; incoming events name ASSIGNED_POD or
# UNSCHEDULED_POD, both of which POD matches.
POD = "Pod"
ASSIGNED_POD = "AssignedPod"
UNSCHEDULED_POD = "UnschedulablePod"
NODE = "Node"
PERSISTENT_VOLUME = "PersistentVolume"
PERSISTENT_VOLUME_CLAIM = "PersistentVolumeClaim"
STORAGE_CLASS = "storage.k8s.io/StorageClass"
CSI_NODE = "storage.k8s.io/CSINode"
CSI_DRIVER = "storage.k8s.io/CSIDriver"
NAMESPACE = "Namespace"
WILDCARD = "*"


def _resource_matches(registered: str, incoming: str) -> bool:
    return (registered == WILDCARD or registered == incoming
            or (registered == POD and incoming in (ASSIGNED_POD, UNSCHEDULED_POD)))


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: str
    action: ActionType
    label: str = ""

    def is_wildcard(self) -> bool:
        return self.resource == WILDCARD and self.action == ActionType.ALL

    def matches(self, incoming: ClusterEvent) -> bool:
        """Whether this registered event covers `incoming`."""
        if self.is_wildcard():
            return True
        return _resource_matches(self.resource, incoming.resource) and bool(self.action & incoming.action)

    def describe(self) -> str:
        if self.label:
            return self.label
        names = [name for bit, name in _ACTION_LABELS.items() if self.action & bit]
        return self.resource + ("" if len(names) > 6 else "".join(names))


class QueueingHint(IntEnum):
    QUEUE_SKIP = 0
    QUEUE = 1


# hint(pod waiting, old object or None, new object or None) -> QueueingHint
QueueingHintFn = Callable[[dict[str, Any], Any, Any], QueueingHint]


@dataclass(frozen=True, slots=True)
class ClusterEventWithHint:
    event: ClusterEvent
    hint: QueueingHintFn | None = None


# Events the scheduler itself raises.
NODE_ADD = ClusterEvent(NODE, ActionType.ADD, "NodeAdd")
NODE_DELETE = ClusterEvent(NODE, ActionType.DELETE, "NodeDelete")
ASSIGNED_POD_ADD = ClusterEvent(ASSIGNED_POD, ActionType.ADD, "AssignedPodAdd")
ASSIGNED_POD_DELETE = ClusterEvent(ASSIGNED_POD, ActionType.DELETE, "AssignedPodDelete")
UNSCHEDULED_POD_ADD = ClusterEvent(UNSCHEDULED_POD, ActionType.ADD, "UnschedulablePodAdd")
UNSCHEDULED_POD_UPDATE = ClusterEvent(UNSCHEDULED_POD, ActionType.UPDATE, "UnschedulablePodUpdate")
UNSCHEDULED_POD_DELETE = ClusterEvent(UNSCHEDULED_POD, ActionType.DELETE, "UnschedulablePodDelete")
EVENT_UNSCHEDULABLE_TIMEOUT = ClusterEvent(WILDCARD, ActionType.ALL, "UnschedulableTimeout")
EVENT_FORCE_ACTIVATE = ClusterEvent(WILDCARD, ActionType.ALL, "ForceActivate")
SCHEDULE_ATTEMPT_FAILURE = "ScheduleAttemptFailure"
BACKOFF_COMPLETE = "BackoffComplete"
POP_FROM_BACKOFF_Q = "PopFromBackoffQ"


# -- what changed in an object ---------------------------------------------------------------------


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("spec") or {}


def _status(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("status") or {}


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj.get("metadata") or {}


def _conditions(node: dict[str, Any]) -> dict[str, str]:
    return {c.get("type", ""): c.get("status", "") for c in _status(node).get("conditions") or []}


def node_scheduling_changes(new: dict[str, Any], old: dict[str, Any]) -> list[ClusterEvent]:
    """The node update events between `old` and `new` (upstream NodeSchedulingPropertiesChange)."""
    actions: list[ActionType] = []
    if bool(_spec(new).get("unschedulable")) != bool(_spec(old).get("unschedulable")) and not _spec(new).get("unschedulable"):
        actions.append(ActionType.UPDATE_NODE_TAINT)
    if (_status(new).get("allocatable") or {}) != (_status(old).get("allocatable") or {}):
        actions.append(ActionType.UPDATE_NODE_ALLOCATABLE)
    if (_meta(new).get("labels") or {}) != (_meta(old).get("labels") or {}):
        actions.append(ActionType.UPDATE_NODE_LABEL)
    if (_spec(new).get("taints") or []) != (_spec(old).get("taints") or []):
        actions.append(ActionType.UPDATE_NODE_TAINT)
    if _conditions(new) != _conditions(old):
        actions.append(ActionType.UPDATE_NODE_CONDITION)
    if (_meta(new).get("annotations") or {}) != (_meta(old).get("annotations") or {}):
        actions.append(ActionType.UPDATE_NODE_ANNOTATION)
    return [ClusterEvent(NODE, a, "Node" + _ACTION_LABELS[a]) for a in actions]


def _requests_shrunk(new: dict[str, Any], old: dict[str, Any]) -> bool:
    from kijabi.scheduler.framework.types import compute_pod_resources

    new_req, _, _ = compute_pod_resources(new)
    old_req, _, _ = compute_pod_resources(old)
    if new_req.milli_cpu < old_req.milli_cpu or new_req.memory < old_req.memory:
        return True
    if new_req.ephemeral_storage < old_req.ephemeral_storage:
        return True
    return any(v < old_req.scalar.get(k, 0) for k, v in new_req.scalar.items())


def pod_scheduling_changes(new: dict[str, Any], old: dict[str, Any]) -> list[ClusterEvent]:
    """The pod update events between `old` and `new` (upstream PodSchedulingPropertiesChange)."""
    resource = ASSIGNED_POD if _spec(new).get("nodeName") else UNSCHEDULED_POD
    actions: list[ActionType] = []
    if (_meta(new).get("labels") or {}) != (_meta(old).get("labels") or {}):
        actions.append(ActionType.UPDATE_POD_LABEL)
    if _requests_shrunk(new, old):
        actions.append(ActionType.UPDATE_POD_SCALE_DOWN)
    if _spec(old).get("schedulingGates") and not _spec(new).get("schedulingGates"):
        actions.append(ActionType.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
    if (_spec(new).get("tolerations") or []) != (_spec(old).get("tolerations") or []):
        actions.append(ActionType.UPDATE_POD_TOLERATIONS)
    if not actions:
        actions.append(ActionType.UPDATE_POD_OTHER)
    prefix = "AssignedPod" if resource == ASSIGNED_POD else "UnschedulablePod"
    return [ClusterEvent(resource, a, prefix + _ACTION_LABELS[a]) for a in actions]
