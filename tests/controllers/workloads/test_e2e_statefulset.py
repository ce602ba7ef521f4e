"""StatefulSets end to end: ordered scale up and down, PVCs from volumeClaimTemplates, controller
revisions and a partitioned rolling update."""

from __future__ import annotations

import json
from typing import Any

from tests.controllers.workloads.harness import ControllerThread, wait_for
from tests.e2e.cluster import Cluster


def manifest(name: str, replicas: int, *, policy: str = "OrderedReady", claims: bool = False) -> str:
    spec: dict[str, Any] = {
        "replicas": replicas, "serviceName": name, "podManagementPolicy": policy,
        "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}},
                     "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}},
    }
    if claims:
        spec["volumeClaimTemplates"] = [{"metadata": {"name": "data"}, "spec": {
            "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}]
    return json.dumps({"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name}, "spec": spec})


def _pods(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "pods", "-n", ns)["items"]


def _sts(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "statefulset", name, "-n", ns)


def _ready(cluster: Cluster, ns: str, name: str, n: int) -> bool:
    st = _sts(cluster, ns, name).get("status") or {}
    return st.get("readyReplicas", 0) == n and st.get("replicas", 0) == n


def _events(cluster: Cluster, ns: str) -> list[str]:
    items = cluster.kubectl_json("get", "events", "-n", ns, "--field-selector", "involvedObject.kind=StatefulSet")["items"]
    items.sort(key=lambda e: (e.get("firstTimestamp") or "", e["metadata"]["name"]))
    return [e["message"] for e in items]


def test_ordered_scale_up_and_down(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """OrderedReady: web-0, web-1, web-2 are created in order, each with its PVC data-web-N and stable
    identity; scaling to 1 deletes web-2 then web-1; PVCs are retained."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest("web", 3, claims=True))
    wait_for(lambda: _ready(cluster, namespace, "web", 3), what="3 ready replicas")
    creates = [m for m in _events(cluster, namespace) if m.startswith("create Pod")]
    assert creates == [f"create Pod web-{i} in StatefulSet web successful" for i in range(3)]
    pods = {p["metadata"]["name"]: p for p in _pods(cluster, namespace)}
    assert sorted(pods) == ["web-0", "web-1", "web-2"]
    p1 = pods["web-1"]
    assert p1["spec"]["hostname"] == "web-1" and p1["spec"]["subdomain"] == "web"
    labels = p1["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    sts = _sts(cluster, namespace, "web")
    assert labels["controller-revision-hash"] == sts["status"]["updateRevision"] == sts["status"]["currentRevision"]
    revisions = cluster.kubectl_json("get", "controllerrevisions", "-n", namespace)["items"]
    assert [r["metadata"]["name"] for r in revisions] == [sts["status"]["updateRevision"]]
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-web-1"}} in p1["spec"]["volumes"]
    pvcs = cluster.kubectl_json("get", "pvc", "-n", namespace)["items"]
    assert sorted(p["metadata"]["name"] for p in pvcs) == ["data-web-0", "data-web-1", "data-web-2"]

    cluster.kubectl("scale", "statefulset", "web", "--replicas=1", "-n", namespace)
    wait_for(lambda: [p["metadata"]["name"] for p in _pods(cluster, namespace)] == ["web-0"], what="scale down")
    deletes = [m for m in _events(cluster, namespace) if m.startswith("delete Pod")]
    assert deletes == ["delete Pod web-2 in StatefulSet web successful", "delete Pod web-1 in StatefulSet web successful"]
    assert len(cluster.kubectl_json("get", "pvc", "-n", namespace)["items"]) == 3
    wait_for(lambda: _ready(cluster, namespace, "web", 1), what="status after scale down")


def test_rolling_update_with_partition(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """Parallel creation; a new template with partition 1 updates only ordinals >= 1; partition 0 then
    finishes the rollout and currentRevision becomes the update revision."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest("db", 3, policy="Parallel"))
    wait_for(lambda: _ready(cluster, namespace, "db", 3), what="3 ready replicas")
    old_rev = _sts(cluster, namespace, "db")["status"]["currentRevision"]
    cluster.kubectl("patch", "statefulset", "db", "-n", namespace, "-p", json.dumps({"spec": {
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}))

    def images() -> dict[str, str]:
        return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in _pods(cluster, namespace)}

    wait_for(lambda: images() == {"db-0": "busybox:1", "db-1": "busybox:2", "db-2": "busybox:2"}
             and _ready(cluster, namespace, "db", 3), what="partitioned update")
    st = _sts(cluster, namespace, "db")["status"]
    assert st["currentRevision"] == old_rev and st["updateRevision"] != old_rev
    assert st["updatedReplicas"] == 2 and st["currentReplicas"] == 1
    cluster.kubectl("patch", "statefulset", "db", "-n", namespace, "-p",
                    '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')
    out = cluster.kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=60s").stdout
    assert "roll out complete" in out or "rolling update complete" in out
    assert set(images().values()) == {"busybox:2"}
    st = _sts(cluster, namespace, "db")["status"]
    assert st["currentRevision"] == st["updateRevision"] and st["currentReplicas"] == 3


def test_on_delete_updates_only_deleted_pods(cluster: Cluster, controllers: ControllerThread, namespace: str) -> None:
    """OnDelete: a new template changes no running pod; a pod the user deletes comes back at the new
    revision, and the others keep the old one. (As upstream, switching to OnDelete must clear the
    defaulted rollingUpdate: {"partition": 0}.)"""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest("od", 2, policy="Parallel"))
    wait_for(lambda: _ready(cluster, namespace, "od", 2), what="2 ready replicas")
    cluster.kubectl("patch", "statefulset", "od", "-n", namespace, "-p", json.dumps({"spec": {
        "updateStrategy": {"type": "OnDelete", "rollingUpdate": None},
        "template": {"spec": {"containers": [{"name": "c", "image": "busybox:2"}]}}}}))
    wait_for(lambda: _sts(cluster, namespace, "od")["status"].get("observedGeneration") == 2, what="new generation seen")
    st = _sts(cluster, namespace, "od")["status"]
    assert st["updateRevision"] != st["currentRevision"]

    def images() -> dict[str, str]:
        return {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in _pods(cluster, namespace)}

    assert images() == {"od-0": "busybox:1", "od-1": "busybox:1"}
    uid = next(p["metadata"]["uid"] for p in _pods(cluster, namespace) if p["metadata"]["name"] == "od-1")
    cluster.kubectl("delete", "pod", "od-1", "-n", namespace, "--wait=false")
    wait_for(lambda: images() == {"od-0": "busybox:1", "od-1": "busybox:2"}
             and all(p["metadata"]["uid"] != uid for p in _pods(cluster, namespace)), what="od-1 recreated")
    wait_for(lambda: _ready(cluster, namespace, "od", 2), what="2 ready replicas again")
    st = _sts(cluster, namespace, "od")["status"]
    assert st["updatedReplicas"] == 1 and st["currentReplicas"] == 1
