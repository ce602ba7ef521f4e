"""Volume plugins without binding: VolumeRestrictions (disk conflicts, ReadWriteOncePod), VolumeZone
(zone labels of bound PVs) and NodeVolumeLimits (CSI attach limits from CSINode)
(upstream framework/plugins/{volumerestrictions,volumezone,nodevolumelimits})."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.scheduler.framework.events import (
    CSI_NODE,
    NODE,
    PERSISTENT_VOLUME,
    PERSISTENT_VOLUME_CLAIM,
    POD,
    STORAGE_CLASS,
    ActionType,
    ClusterEvent,
    ClusterEventWithHint,
)
from kijabi.scheduler.framework.interface import CycleState, Handle, PreFilterResult
from kijabi.scheduler.framework.status import Code, Status
from kijabi.scheduler.framework.types import NodeInfo, Pod, PodInfo

ERR_REASON_DISK_CONFLICT = "node(s) had no available disk"
ERR_REASON_RWOP_CONFLICT = ("node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod "
                            "access mode")
ERR_REASON_ZONE_CONFLICT = "node(s) had no available volume zone"
ERR_REASON_MAX_VOLUME_COUNT = "node(s) exceed max volume count"


def _volumes(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return (pod.get("spec") or {}).get("volumes") or []


def _claim_name(pod: Mapping[str, Any], vol: Mapping[str, Any]) -> str | None:
    if vol.get("persistentVolumeClaim") is not None:
        return str(vol["persistentVolumeClaim"].get("claimName", ""))
    if vol.get("ephemeral") is not None:
        return f"{(pod.get('metadata') or {}).get('name', '')}-{vol.get('name', '')}"
    return None


# -- VolumeRestrictions ----------------------------------------------------------------------------

_RESTRICTED = ("gcePersistentDisk", "awsElasticBlockStore", "rbd", "iscsi")
_RESTRICTIONS_KEY = "PreFilterVolumeRestrictions"


def _volume_conflict(vol: Mapping[str, Any], other_pod: Mapping[str, Any]) -> bool:
    for ev in _volumes(other_pod):
        a, b = vol.get("gcePersistentDisk"), ev.get("gcePersistentDisk")
        if a and b and a.get("pdName") == b.get("pdName") and not (a.get("readOnly") and b.get("readOnly")):
            return True
        a, b = vol.get("awsElasticBlockStore"), ev.get("awsElasticBlockStore")
        if a and b and a.get("volumeID") == b.get("volumeID"):
            return True
        a, b = vol.get("iscsi"), ev.get("iscsi")
        if a and b and a.get("iqn") == b.get("iqn") and not (a.get("readOnly") and b.get("readOnly")):
            return True
        a, b = vol.get("rbd"), ev.get("rbd")
        if a and b and set(a.get("monitors") or []) & set(b.get("monitors") or []) \
                and (a.get("pool") or "rbd") == (b.get("pool") or "rbd") and a.get("image") == b.get("image") \
                and not (a.get("readOnly") and b.get("readOnly")):
            return True
    return False


class _RestrictionsState:
    __slots__ = ("conflicting", "rwop_keys")

    def __init__(self, rwop_keys: set[str], conflicting: int) -> None:
        self.rwop_keys = rwop_keys
        self.conflicting = conflicting

    def clone(self) -> _RestrictionsState:
        return _RestrictionsState(self.rwop_keys, self.conflicting)


class VolumeRestrictions:
    name = "VolumeRestrictions"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        needs_disk_check = any(any(v.get(k) for k in _RESTRICTED) for v in _volumes(pod))
        ns = (pod.get("metadata") or {}).get("namespace", "")
        rwop: set[str] = set()
        for v in _volumes(pod):
            claim = v.get("persistentVolumeClaim")
            if claim is None:
                continue
            name = claim.get("claimName", "")
            pvc = self.handle.listers.persistent_volume_claims.get(name, ns)
            if pvc is None:
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" not found')
            if "ReadWriteOncePod" in ((pvc.get("spec") or {}).get("accessModes") or []):
                rwop.add(f"{ns}/{name}")
        snapshot = self.handle.snapshot
        conflicting = sum(1 for key in rwop if snapshot.is_pvc_used_by_pods(key))
        if not needs_disk_check and conflicting == 0:
            return None, Status(Code.SKIP)
        state.write(_RESTRICTIONS_KEY, _RestrictionsState(rwop, conflicting))
        return None, None

    def pre_filter_extensions(self) -> VolumeRestrictions:
        return self

    def _update(self, state: CycleState, pi: PodInfo, delta: int) -> Status | None:
        s: _RestrictionsState | None = state.get(_RESTRICTIONS_KEY)
        if s is not None:
            s.conflicting += delta * sum(1 for key in pi.pvc_keys if key in s.rwop_keys)
        return None

    def add_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_add: PodInfo,
                node_info: NodeInfo) -> Status | None:
        return self._update(state, pod_info_to_add, 1)

    def remove_pod(self, state: CycleState, pod_to_schedule: Pod, pod_info_to_remove: PodInfo,
                   node_info: NodeInfo) -> Status | None:
        return self._update(state, pod_info_to_remove, -1)

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        for v in _volumes(pod):
            if not any(v.get(k) for k in _RESTRICTED):
                continue
            for other in node_info.pods:
                if _volume_conflict(v, other.pod):
                    return Status(Code.UNSCHEDULABLE, ERR_REASON_DISK_CONFLICT)
        s: _RestrictionsState | None = state.get(_RESTRICTIONS_KEY)
        if s is not None and s.conflicting > 0:
            return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_RWOP_CONFLICT)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(PERSISTENT_VOLUME_CLAIM, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD)),
        ]


# -- VolumeZone ------------------------------------------------------------------------------------

_TOPOLOGY_LABELS = ("failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
                    "topology.kubernetes.io/zone", "topology.kubernetes.io/region")
_GA_LABEL = {"failure-domain.beta.kubernetes.io/zone": "topology.kubernetes.io/zone",
             "failure-domain.beta.kubernetes.io/region": "topology.kubernetes.io/region"}
_ZONE_KEY = "PreFilterVolumeZone"


class VolumeZone:
    name = "VolumeZone"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        listers = self.handle.listers
        ns = (pod.get("metadata") or {}).get("namespace", "")
        topologies: list[tuple[str, set[str]]] = []
        for v in _volumes(pod):
            claim = v.get("persistentVolumeClaim")
            if claim is None:
                continue
            name = claim.get("claimName", "")
            if not name:
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "PersistentVolumeClaim had no name")
            pvc = listers.persistent_volume_claims.get(name, ns)
            if pvc is None:
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolumeclaim "{name}" not found')
            pv_name = (pvc.get("spec") or {}).get("volumeName") or ""
            if not pv_name:
                sc_name = (pvc.get("spec") or {}).get("storageClassName") or ""
                if not sc_name:
                    return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                        "PersistentVolumeClaim had no pv name and storageClass name")
                sc = listers.storage_classes.get(sc_name)
                if sc is None:
                    return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'storageclass.storage.k8s.io "{sc_name}" not found')
                if sc.get("volumeBindingMode") == "WaitForFirstConsumer":
                    continue
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "PersistentVolume had no name")
            pv = listers.persistent_volumes.get(pv_name)
            if pv is None:
                return None, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, f'persistentvolume "{pv_name}" not found')
            labels = (pv.get("metadata") or {}).get("labels") or {}
            for key in _TOPOLOGY_LABELS:
                if key in labels:
                    topologies.append((key, set(str(labels[key]).split("__"))))
        if not topologies:
            return None, Status(Code.SKIP)
        state.write(_ZONE_KEY, topologies)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        topologies: list[tuple[str, set[str]]] = state.get(_ZONE_KEY) or []
        labels = node_info.labels
        if not any(k in labels for k in _TOPOLOGY_LABELS):
            return None
        for key, values in topologies:
            value = labels.get(key)
            if value is None:
                value = labels.get(_GA_LABEL.get(key, key))
            if value is None or value not in values:
                return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ERR_REASON_ZONE_CONFLICT)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(STORAGE_CLASS, ActionType.ADD)),
            ClusterEventWithHint(ClusterEvent(NODE, ActionType.ADD | ActionType.UPDATE_NODE_LABEL)),
            ClusterEventWithHint(ClusterEvent(PERSISTENT_VOLUME_CLAIM, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(PERSISTENT_VOLUME, ActionType.ADD | ActionType.UPDATE)),
        ]


# -- NodeVolumeLimits (CSI) ------------------------------------------------------------------------


class NodeVolumeLimits:
    """Refuses nodes where the pod's new CSI volumes would pass the driver's attach limit (CSINode
    spec.drivers[].allocatable.count)."""

    name = "NodeVolumeLimits"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def _driver_volumes(self, pod: Mapping[str, Any]) -> dict[str, str]:
        """volume handle -> driver for the pod's CSI volumes (PVC-backed or provisionable)."""
        listers = self.handle.listers
        ns = (pod.get("metadata") or {}).get("namespace", "")
        out: dict[str, str] = {}
        for v in _volumes(pod):
            claim_name = _claim_name(pod, v)
            if claim_name is None:
                continue
            pvc = listers.persistent_volume_claims.get(claim_name, ns)
            if pvc is None:
                continue
            pv_name = (pvc.get("spec") or {}).get("volumeName")
            if pv_name:
                pv = listers.persistent_volumes.get(pv_name)
                csi = ((pv or {}).get("spec") or {}).get("csi")
                if csi:
                    out[f"{csi.get('driver')}/{csi.get('volumeHandle')}"] = str(csi.get("driver"))
                continue
            sc = listers.storage_classes.get((pvc.get("spec") or {}).get("storageClassName") or "")
            if sc is not None:
                out[f"{sc.get('provisioner')}/{ns}/{claim_name}"] = str(sc.get("provisioner"))
        return out

    def pre_filter(self, state: CycleState, pod: Pod,
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        if not any(_claim_name(pod, v) is not None for v in _volumes(pod)):
            return None, Status(Code.SKIP)
        return None, None

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, pod: Pod, node_info: NodeInfo) -> Status | None:
        new = self._driver_volumes(pod)
        if not new:
            return None
        csi_node = self.handle.listers.csi_nodes.get(node_info.name)
        if csi_node is None:
            return None
        limits: dict[str, int] = {}
        for d in (csi_node.get("spec") or {}).get("drivers") or []:
            count = (d.get("allocatable") or {}).get("count")
            if count is not None:
                limits[str(d.get("name"))] = int(count)
        if not limits:
            return None
        attached: dict[str, str] = {}
        for other in node_info.pods:
            attached.update(self._driver_volumes(other.pod))
        for driver, limit in limits.items():
            used = {h for h, d in attached.items() if d == driver}
            wanted = {h for h, d in new.items() if d == driver} - used
            if wanted and len(used) + len(wanted) > limit:
                return Status(Code.UNSCHEDULABLE, ERR_REASON_MAX_VOLUME_COUNT)
        return None

    def events_to_register(self) -> list[ClusterEventWithHint]:
        return [
            ClusterEventWithHint(ClusterEvent(CSI_NODE, ActionType.ADD | ActionType.UPDATE)),
            ClusterEventWithHint(ClusterEvent(POD, ActionType.DELETE)),
            ClusterEventWithHint(ClusterEvent(PERSISTENT_VOLUME_CLAIM, ActionType.ADD)),
        ]
