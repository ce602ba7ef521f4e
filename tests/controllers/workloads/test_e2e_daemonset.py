"""DaemonSets end to end: one pod per eligible node, following Node objects as they come and go or
change labels and taints; pods pinned by node affinity (the fake kubelet binds them as the scheduler
would); rolling update of the template."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.controllers.workloads.harness import ControllerThread, wait_for
from tests.e2e.cluster import Cluster


def node(name: str, labels: dict[str, str], taints: list[dict[str, str]] | None = None) -> str:
    spec: dict[str, Any] = {"taints": taints} if taints else {}
    return json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels}, "spec": spec})


def add_node(cluster: Cluster, name: str, labels: dict[str, str], taints: list[dict[str, str]] | None = None) -> None:
    """A Node as a joining kubelet would leave it once Ready: the API server's TaintNodesByCondition
    admission adds node.kubernetes.io/not-ready:NoSchedule, which the node lifecycle controller removes
    when the node reports Ready; the test removes it directly."""
    cluster.kubectl("apply", "-f", "-", input=node(name, labels, taints))
    cluster.kubectl("taint", "node", name, "node.kubernetes.io/not-ready:NoSchedule-")


def daemonset(name: str, selector_label: str) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": {
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {
            "nodeSelector": {selector_label: "yes"}, "containers": [{"name": "c", "image": "busybox:1"}]}}}})


def _pods(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "pods", "-n", ns)["items"]


def _nodes_of_pods(cluster: Cluster, ns: str) -> list[str]:
    return sorted(p["spec"].get("nodeName") or "" for p in _pods(cluster, ns) if not p["metadata"].get("deletionTimestamp"))


def _status(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "daemonset", name, "-n", ns).get("status") or {}


def test_daemonset_follows_nodes(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """Nodes with the selected label get one pod each (with the DaemonSet tolerations and node
    affinity on metadata.name); a new node gets a pod; a node losing the label loses its pod; a node
    with an untolerated NoSchedule taint gets none; a deleted node no longer counts as desired."""
    tag = "ds-" + uuid.uuid4().hex[:6]
    names = [f"{tag}-a", f"{tag}-b", f"{tag}-c"]
    try:
        for nm in names[:2]:
            add_node(cluster, nm, {tag: "yes"})
        add_node(cluster, names[2], {tag: "yes"}, [{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=daemonset("agent", tag))
        wait_for(lambda: _nodes_of_pods(cluster, namespace) == names[:2], what="a pod on each eligible node")
        wait_for(lambda: _status(cluster, namespace, "agent").get("numberReady") == 2, what="2 ready")
        st = _status(cluster, namespace, "agent")
        assert (st["desiredNumberScheduled"], st["currentNumberScheduled"], st["numberAvailable"],
                st["updatedNumberScheduled"], st.get("numberMisscheduled", 0)) == (2, 2, 2, 2, 0)
        pod = _pods(cluster, namespace)[0]
        terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
        assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [pod["spec"]["nodeName"]]}]}]
        keys = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
        assert {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
                ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
                ("node.kubernetes.io/pid-pressure", "NoSchedule"), ("node.kubernetes.io/unschedulable", "NoSchedule")} <= keys
        assert pod["metadata"]["labels"]["controller-revision-hash"]

        new = f"{tag}-d"
        names.append(new)
        add_node(cluster, new, {tag: "yes"})
        wait_for(lambda: _nodes_of_pods(cluster, namespace) == sorted([names[0], names[1], new]), what="pod on the new node")
        cluster.kubectl("label", "node", names[0], f"{tag}-")
        wait_for(lambda: _nodes_of_pods(cluster, namespace) == sorted([names[1], new]), what="pod removed from unlabelled node")
        cluster.kubectl("delete", "node", names[1])
        wait_for(lambda: _status(cluster, namespace, "agent").get("desiredNumberScheduled") == 1, what="desired 1")
    finally:
        cluster.kubectl("delete", "node", *names, "--ignore-not-found")


def test_daemonset_rolling_update(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """A new image replaces pods node by node (maxUnavailable 1); `rollout status` completes and two
    ControllerRevisions exist."""
    tag = "ru-" + uuid.uuid4().hex[:6]
    names = [f"{tag}-{i}" for i in range(3)]
    try:
        for nm in names:
            add_node(cluster, nm, {tag: "yes"})
        cluster.kubectl("apply", "-n", namespace, "-f", "-", input=daemonset("web", tag))
        wait_for(lambda: _status(cluster, namespace, "web").get("numberAvailable") == 3, what="3 available")
        cluster.kubectl("set", "image", "daemonset/web", "c=busybox:2", "-n", namespace)
        out = cluster.kubectl("rollout", "status", "daemonset/web", "-n", namespace, "--timeout=60s").stdout
        assert "successfully rolled out" in out
        wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in _pods(cluster, namespace)} == {"busybox:2"}
                 and len(_pods(cluster, namespace)) == 3, what="all pods updated")
        revs = cluster.kubectl_json("get", "controllerrevisions", "-n", namespace)["items"]
        assert sorted(r["revision"] for r in revs) == [1, 2]
        history = cluster.kubectl("rollout", "history", "daemonset/web", "-n", namespace).stdout
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    finally:
        cluster.kubectl("delete", "node", *names, "--ignore-not-found")
