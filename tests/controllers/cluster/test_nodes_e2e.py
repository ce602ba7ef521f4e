"""Nodes: pod CIDRs from node-ipam; health, taints and taint-based eviction from node-lifecycle; pods of
vanished nodes from the pod garbage collector. (Short grace periods: see conftest.TEST_OPTIONS.)"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from tests.controllers.cluster.harness import HEARTBEAT_LABEL, Kube, wait_for
from tests.e2e.cluster import Cluster


def uniq(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def taints(kube: Kube, node: str) -> set[tuple[str, str]]:
    obj = kube.get("v1", "nodes", node) or {}
    return {(t["key"], t["effect"]) for t in obj.get("spec", {}).get("taints") or []}


def condition(kube: Kube, node: str, ctype: str) -> dict[str, Any]:
    obj = kube.get("v1", "nodes", node) or {}
    return next((c for c in obj.get("status", {}).get("conditions") or [] if c["type"] == ctype), {})


def test_each_node_gets_its_own_pod_cidr(kube: Kube, cluster: Cluster) -> None:
    """Three nodes, three distinct /24s of 10.42.0.0/16; spec.podCIDRs holds the same one."""
    nodes = [uniq("ipam") for _ in range(3)]
    for n in nodes:
        kube.node(n, heartbeat="true")
    cidrs = {}
    for n in nodes:
        obj = wait_for(lambda n=n: (o := kube.get("v1", "nodes", n)) and o["spec"].get("podCIDR") and o, what=f"podCIDR of {n}")
        assert obj["spec"]["podCIDRs"] == [obj["spec"]["podCIDR"]]
        cidrs[n] = ipaddress.ip_network(obj["spec"]["podCIDR"])
    assert len(set(cidrs.values())) == 3
    assert all(c.prefixlen == 24 and c.subnet_of(ipaddress.ip_network("10.42.0.0/16")) for c in cidrs.values())
    out = cluster.kubectl("get", "node", nodes[0], "-o", "jsonpath={.spec.podCIDR}").stdout
    assert out == str(cidrs[nodes[0]])
    for n in nodes:
        kube.delete("v1", "nodes", n)


def test_node_going_silent_becomes_unknown_tainted_and_evicts_intolerant_pods(kube: Kube, namespace: str) -> None:
    node = uniq("silent")
    kube.node(node, heartbeat="true")
    unreachable = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
    kube.pod(namespace, "brief", node=node, tolerations=[{**unreachable, "tolerationSeconds": 1}])
    kube.pod(namespace, "default", node=node)  # DefaultTolerationSeconds admission: 300 s
    kube.pod(namespace, "forever", node=node, tolerations=[{"operator": "Exists"}])
    for p in ("brief", "default", "forever"):
        kube.set_pod_status(namespace, p, ready=True, ip="10.42.9.9")
    wait_for(lambda: kube.get("coordination.k8s.io/v1", "leases", node, "kube-node-lease"), what="lease")
    assert ("node.kubernetes.io/unreachable", "NoExecute") not in taints(kube, node)

    kube.patch("v1", "nodes", node, {"metadata": {"labels": {HEARTBEAT_LABEL: None}}})  # the kubelet stops
    wait_for(lambda: condition(kube, node, "Ready").get("status") == "Unknown", what="Ready Unknown")
    ready = condition(kube, node, "Ready")
    assert ready["reason"] == "NodeStatusUnknown" and ready["message"] == "Kubelet stopped posting node status."
    for ctype in ("MemoryPressure", "DiskPressure", "PIDPressure"):
        c = condition(kube, node, ctype)
        assert c["status"] == "Unknown" and c["reason"] == "NodeStatusNeverUpdated"
        assert c["message"] == "Kubelet never posted node status."
    wait_for(lambda: {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}
             <= taints(kube, node), what="unreachable taints")

    def evicted() -> bool:
        pod = kube.get("v1", "pods", "brief", namespace)
        return pod is None or bool(pod["metadata"].get("deletionTimestamp"))

    wait_for(evicted, what="pod with tolerationSeconds=1 evicted")
    brief = kube.get("v1", "pods", "brief", namespace)
    if brief is not None:
        target = next(c for c in brief["status"]["conditions"] if c["type"] == "DisruptionTarget")
        assert target["reason"] == "DeletionByTaintManager"
    for p in ("default", "forever"):
        pod = kube.get("v1", "pods", p, namespace)
        assert not pod["metadata"].get("deletionTimestamp"), p
        wait_for(lambda p=p: next(c for c in kube.get("v1", "pods", p, namespace)["status"]["conditions"]
                                  if c["type"] == "Ready")["status"] == "False", what=f"{p} marked not ready")
    reasons = {e["reason"] for e in kube.events("default", node)}
    assert {"RegisteredNode", "NodeNotReady"} <= reasons
    marks = [e for e in kube.events(namespace, "brief") if e["reason"] == "TaintManagerEviction"]
    assert marks and marks[0]["message"] == f"Marking for deletion Pod {namespace}/brief"

    kube.patch("v1", "nodes", node, {"metadata": {"labels": {HEARTBEAT_LABEL: "true"}}})  # the kubelet is back
    wait_for(lambda: not ({("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}
                          & taints(kube, node)), what="taints removed")
    assert condition(kube, node, "Ready")["status"] == "True"
    kube.delete("v1", "nodes", node)


def test_not_ready_node_gets_not_ready_taints(kube: Kube) -> None:
    """Ready=False (the kubelet says so) taints not-ready:NoSchedule and not-ready:NoExecute."""
    node = uniq("notready")
    kube.node(node, heartbeat="lease")
    kube.patch("v1", "nodes", node, {"status": {"conditions": [{
        "type": "Ready", "status": "False", "reason": "KubeletNotReady", "message": "container runtime is down",
        "lastHeartbeatTime": "2030-01-01T00:00:00Z", "lastTransitionTime": "2030-01-01T00:00:00Z"}]}}, sub="status")
    wait_for(lambda: {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/not-ready", "NoSchedule")}
             <= taints(kube, node), what="not-ready taints")
    assert ("node.kubernetes.io/unreachable", "NoExecute") not in taints(kube, node)
    kube.patch("v1", "nodes", node, {"spec": {"unschedulable": True}})
    wait_for(lambda: ("node.kubernetes.io/unschedulable", "NoSchedule") in taints(kube, node), what="unschedulable taint")
    kube.delete("v1", "nodes", node)


def test_pods_of_a_deleted_node_are_collected(kube: Kube, namespace: str) -> None:
    """A pod bound to a node that does not exist goes once the quarantine has passed."""
    kube.pod(namespace, "stranded", node=uniq("vanished"))
    kube.set_pod_status(namespace, "stranded", ready=True, ip="10.42.9.10")
    wait_for(lambda: kube.get("v1", "pods", "stranded", namespace) is None, what="orphaned pod collected")


def test_terminated_pods_beyond_the_threshold_are_collected_oldest_first(kube: Kube, namespace: str) -> None:
    """With a threshold of 3, five finished pods shrink to the three newest."""
    for i in range(5):
        kube.pod(namespace, f"done-{i}")
        kube.set_pod_status(namespace, f"done-{i}", ready=False, phase="Succeeded")

    def left() -> list[str]:
        return sorted(p["metadata"]["name"] for p in kube.list("v1", "pods", namespace))

    wait_for(lambda: len(left()) <= 3, what="terminated pods collected")
    assert left() == ["done-2", "done-3", "done-4"]
