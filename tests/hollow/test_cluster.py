"""Hollow nodes against a real API server: registration, leases, the fake kubelet, and scheduling onto them."""

from __future__ import annotations

import collections
import json
import uuid
from typing import Any

import pytest

from kijabi.client.errors import NotFound
from kijabi.client.rest import LEASES, NODES, PODS
from tests.e2e.cluster import Cluster
from tests.hollow.conftest import NODES as NODE_COUNT
from tests.hollow.harness import Components, wait_for


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    name = "h-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", name)
    return name


def get(components: Components, gvr: Any, name: str, namespace: str | None = None) -> dict[str, Any] | None:
    assert components.client is not None
    try:
        return components.call(components.client.get(gvr, name, namespace=namespace))
    except NotFound:
        return None


def pod(name: str, node: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox:1"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def test_nodes_register_ready_untainted_across_zones(cluster: Cluster, components: Components) -> None:
    """Every node exists with Ready=True, capacity, no not-ready taint, and zones zone-0..2 evenly."""
    nodes = cluster.kubectl_json("get", "nodes")["items"]
    assert len(nodes) == NODE_COUNT
    for n in nodes:
        ready = {c["type"]: c["status"] for c in n["status"]["conditions"]}["Ready"]
        assert ready == "True", n["metadata"]["name"]
        assert not [t for t in n["spec"].get("taints") or [] if t["key"] == "node.kubernetes.io/not-ready"]
        assert n["status"]["allocatable"]["cpu"] == "4"
    zones = collections.Counter(n["metadata"]["labels"]["topology.kubernetes.io/zone"] for n in nodes)
    assert zones == {"zone-0": 17, "zone-1": 17, "zone-2": 16}


def test_leases_are_renewed(components: Components) -> None:
    """Each node's Lease in kube-node-lease is held by the node and its renewTime moves forward."""
    first = get(components, LEASES, "hollow-7", "kube-node-lease")
    assert first is not None and first["spec"]["holderIdentity"] == "hollow-7"
    renewed = wait_for(lambda: (lease := get(components, LEASES, "hollow-7", "kube-node-lease")) is not None
                       and lease["spec"]["renewTime"] > first["spec"]["renewTime"], timeout=10, what="lease renewal")
    assert renewed


def test_bound_pod_becomes_running_and_ready(cluster: Cluster, components: Components, namespace: str) -> None:
    """A pod bound to a hollow node gets phase Running, Ready, a 10.42.x pod IP, a start time and
    running container statuses."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod("bound", "hollow-3")))

    def running() -> dict[str, Any] | None:
        p = get(components, PODS, "bound", namespace)
        return p if p and p["status"].get("phase") == "Running" else None

    st = wait_for(running, timeout=10, what="pod Running")["status"]
    assert st["podIP"].startswith("10.42.")
    assert st["startTime"]
    assert {c["type"]: c["status"] for c in st["conditions"]}["Ready"] == "True"
    assert [(c["name"], c["ready"]) for c in st["containerStatuses"]] == [("c", True)]


def test_pod_on_another_node_is_left_alone(cluster: Cluster, components: Components, namespace: str) -> None:
    """Pods bound to nodes that are not ours (here: a node name no hollow node has) keep their status."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod("elsewhere", "real-node")))
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod("marker", "hollow-4")))
    wait_for(lambda: (p := get(components, PODS, "marker", namespace)) is not None
             and p["status"].get("phase") == "Running", timeout=10, what="marker pod Running")
    other = get(components, PODS, "elsewhere", namespace)
    assert other is not None and other["status"].get("phase") == "Pending"


def test_deleted_pod_is_removed(cluster: Cluster, components: Components, namespace: str) -> None:
    """Deleting a pod on a hollow node (default grace period) removes it for good, as a kubelet confirms."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(pod("doomed", "hollow-5")))
    wait_for(lambda: (p := get(components, PODS, "doomed", namespace)) is not None
             and p["status"].get("phase") == "Running", timeout=10, what="pod Running")
    cluster.kubectl("delete", "pod", "doomed", "-n", namespace, "--wait=false")
    assert wait_for(lambda: get(components, PODS, "doomed", namespace) is None, timeout=10, what="pod gone")


def test_deployment_spreads_over_zones_and_becomes_available(cluster: Cluster, components: Components,
                                                             namespace: str) -> None:
    """`kubectl create deployment --replicas=20`: the scheduler binds every pod to a hollow node, spread
    over the three zones and the nodes (the default topology spread), and the pods become Ready."""
    cluster.kubectl("create", "deployment", "web", "--image=busybox:1", "--replicas=20", "-n", namespace)

    def available() -> bool:
        d = cluster.kubectl_json("get", "deployment", "web", "-n", namespace)
        return d.get("status", {}).get("availableReplicas") == 20

    wait_for(available, timeout=45, interval=0.3, what="deployment available")
    pods = cluster.kubectl_json("get", "pods", "-n", namespace, "-l", "app=web")["items"]
    assert len(pods) == 20
    zone_of = {n["metadata"]["name"]: n["metadata"]["labels"]["topology.kubernetes.io/zone"]
               for n in cluster.kubectl_json("get", "nodes")["items"]}
    per_node = collections.Counter(p["spec"]["nodeName"] for p in pods)
    per_zone = collections.Counter(zone_of[p["spec"]["nodeName"]] for p in pods)
    assert set(per_zone) == {"zone-0", "zone-1", "zone-2"}
    assert max(per_zone.values()) - min(per_zone.values()) <= 2, per_zone
    assert max(per_node.values()) == 1, per_node
    assert all(p["status"]["phase"] == "Running" for p in pods)


def test_registration_is_idempotent(components: Components) -> None:
    """Registering again (a restarted process) keeps the nodes and their uids, and leaves them untainted."""
    hollow = components.hollow
    assert hollow is not None
    before = dict(hollow.node_uids)
    components.call(hollow.register_all())
    assert hollow.node_uids == before
    node = get(components, NODES, "hollow-0")
    assert node is not None and not node["spec"].get("taints")
