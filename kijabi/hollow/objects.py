"""The bodies hollow nodes write: Node (with status), Lease, and a running pod's status.

Pure functions of their inputs (names, shape, time), so they are unit-testable without a server.
Fake addresses: node i has InternalIP 10.41.x.y; pods get 10.42.x.y from a process-wide counter
(inside the cluster CIDR, never routed anywhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kijabi.machinery.meta import rfc3339, rfc3339_micro

ZONE_LABEL = "topology.kubernetes.io/zone"
HOSTNAME_LABEL = "kubernetes.io/hostname"
HOLLOW_LABEL = "kijabi.io/hollow-node"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
KUBELET_VERSION = "v1.31.0-kijabi-hollow"


@dataclass(frozen=True)
class NodeShape:
    """What every hollow node of one process looks like."""

    count: int = 1
    name_prefix: str = "hollow-"
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    zones: int = 3

    def name(self, index: int) -> str:
        return f"{self.name_prefix}{index}"

    def zone(self, index: int) -> str:
        return f"zone-{index % self.zones}"


def _octets(n: int) -> str:
    return f"{(n >> 8) & 255}.{n & 255}"


def node_ip(index: int) -> str:
    return f"10.41.{_octets(index + 1)}"


def pod_ip(serial: int) -> str:
    """The serial-th fake pod IP: 10.42.0.1, 10.42.0.2, ... skipping .0 and .255 hosts."""
    n = serial % (256 * 254)
    return f"10.42.{n // 254}.{n % 254 + 1}"


def node_status(shape: NodeShape, index: int, now: float) -> dict[str, Any]:
    ts = rfc3339(now)
    resources = {"cpu": shape.cpu, "memory": shape.memory, "pods": str(shape.pods), "ephemeral-storage": "100Gi"}

    def cond(type_: str, status: str, reason: str, message: str) -> dict[str, Any]:
        return {"type": type_, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": ts, "lastTransitionTime": ts}

    return {
        "capacity": dict(resources),
        "allocatable": dict(resources),
        "conditions": [
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
            cond("Ready", "True", "KubeletReady", "kubelet is posting ready status (hollow)"),
        ],
        "addresses": [{"type": "InternalIP", "address": node_ip(index)},
                      {"type": "Hostname", "address": shape.name(index)}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
        "nodeInfo": {
            "machineID": f"hollow{index:08x}", "systemUUID": f"hollow-{index}", "bootID": f"hollow-boot-{index}",
            "kernelVersion": "6.1.0-hollow", "osImage": "kijabi hollow node", "containerRuntimeVersion": "fake://0.1",
            "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
            "operatingSystem": "linux", "architecture": "amd64",
        },
    }


def node_object(shape: NodeShape, index: int, now: float) -> dict[str, Any]:
    name = shape.name(index)
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {
            HOSTNAME_LABEL: name, ZONE_LABEL: shape.zone(index), "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", HOLLOW_LABEL: "true"}},
        "spec": {},
        "status": node_status(shape, index, now),
    }


def without_not_ready(taints: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The taints left once the node is Ready (what the node-lifecycle controller removes)."""
    return [t for t in taints if not (t.get("key") == NOT_READY_TAINT and t.get("effect") == "NoSchedule")]


def lease_object(node: str, node_uid: str | None, now: float) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": node, "namespace": LEASE_NAMESPACE}
    if node_uid:
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node, "uid": node_uid}]
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
            "spec": {"holderIdentity": node, "leaseDurationSeconds": LEASE_DURATION_SECONDS,
                     "renewTime": rfc3339_micro(now)}}


def running_status(pod: dict[str, Any], ip: str, host_ip: str, now: float) -> dict[str, Any] | None:
    """The status patch that makes `pod` Running and Ready, or None if it already is (or is terminal)."""
    st = pod.get("status") or {}
    if st.get("phase") in ("Succeeded", "Failed"):
        return None
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or [])
    if st.get("phase") == "Running" and ready:
        return None
    ts = rfc3339(now)
    spec = pod.get("spec") or {}
    names = [c.get("name", "") for c in spec.get("containers") or []]
    images = {c.get("name", ""): c.get("image", "") for c in spec.get("containers") or []}
    conditions = [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": ts}
                  for t in ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")]
    return {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "startTime": st.get("startTime") or ts,
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "conditions": conditions,
        "containerStatuses": [
            {"name": n, "ready": True, "started": True, "restartCount": 0, "image": images[n],
             "imageID": f"fake://{images[n]}", "containerID": f"fake://{pod.get('metadata', {}).get('uid', '')}-{n}",
             "state": {"running": {"startedAt": ts}}} for n in names],
    }
