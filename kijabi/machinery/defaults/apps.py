"""Defaults of `apps/v1` workloads (upstream pkg/apis/apps/v1/defaults.go).

Every pod template gets PodSpec defaults (not the Pod-only ones); StatefulSet claim templates get
the full PersistentVolumeClaim defaults, `status.phase: Pending` included.
"""

from __future__ import annotations

from . import core
from ._walk import Defaulter, Obj, each, struct

GROUP = "apps"


def deployment(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = struct(spec, "strategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = struct(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = "25%"
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    core.pod_template(struct(spec, "template"))


def daemon_set(obj: Obj) -> None:
    spec = struct(obj, "spec")
    strategy = struct(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
    if strategy["type"] == "RollingUpdate":
        rolling = struct(strategy, "rollingUpdate")
        if rolling.get("maxUnavailable") is None:
            rolling["maxUnavailable"] = 1
        if rolling.get("maxSurge") is None:
            rolling["maxSurge"] = 0
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    core.pod_template(struct(spec, "template"))


def stateful_set(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if not spec.get("podManagementPolicy"):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = struct(spec, "updateStrategy")
    if not strategy.get("type"):
        strategy["type"] = "RollingUpdate"
        if strategy.get("rollingUpdate") is None:
            strategy["rollingUpdate"] = {}
    rolling = strategy.get("rollingUpdate")
    if strategy["type"] == "RollingUpdate" and isinstance(rolling, dict) and rolling.get("partition") is None:
        rolling["partition"] = 0
    # StatefulSetAutoDeletePVC is GA in v1.32.
    retention = struct(spec, "persistentVolumeClaimRetentionPolicy")
    if not retention.get("whenDeleted"):
        retention["whenDeleted"] = "Retain"
    if not retention.get("whenScaled"):
        retention["whenScaled"] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    core.pod_template(struct(spec, "template"))
    for claim in each(spec, "volumeClaimTemplates"):
        core.persistent_volume_claim(claim)


def replica_set(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    core.pod_template(struct(spec, "template"))


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "Deployment"): deployment,
    ("v1", "DaemonSet"): daemon_set,
    ("v1", "StatefulSet"): stateful_set,
    ("v1", "ReplicaSet"): replica_set,
}
