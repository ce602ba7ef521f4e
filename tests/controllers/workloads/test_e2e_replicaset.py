"""ReplicaSets and ReplicationControllers end to end with kubectl: replicas kept, status counted,
orphans adopted, pods deleted by hand replaced."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.controllers.workloads.harness import ControllerThread, wait_for
from tests.e2e.cluster import Cluster


def rs_manifest(kind: str, name: str, replicas: int) -> str:
    selector: dict[str, Any] = {"app": name} if kind == "ReplicationController" else {"matchLabels": {"app": name}}
    return json.dumps({"apiVersion": "v1" if kind == "ReplicationController" else "apps/v1", "kind": kind,
                       "metadata": {"name": name}, "spec": {
                           "replicas": replicas, "selector": selector,
                           "template": {"metadata": {"labels": {"app": name}},
                                        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}})


@pytest.mark.parametrize(("kind", "resource"), [("ReplicaSet", "rs"), ("ReplicationController", "rc")],
                         ids=["replicaset", "replicationcontroller"])
def test_keeps_replicas(cluster: Cluster, controllers: ControllerThread, namespace: str, kind: str, resource: str) -> None:
    """An orphan pod matching the selector is adopted; replicas are kept at 3 when a pod is deleted;
    status reports replicas/fullyLabeled/ready/available and observedGeneration."""
    cluster.kubectl("run", "orphan", "--image=busybox", "--labels=app=keep", "-n", namespace)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=rs_manifest(kind, "keep", 3))

    def status() -> dict[str, Any]:
        return cluster.kubectl_json("get", resource, "keep", "-n", namespace).get("status") or {}

    wait_for(lambda: status().get("availableReplicas") == 3, what="3 available")
    st = status()
    assert (st["replicas"], st["fullyLabeledReplicas"], st["readyReplicas"], st["observedGeneration"]) == (3, 3, 3, 1)
    pods = cluster.kubectl_json("get", "pods", "-n", namespace)["items"]
    assert len(pods) == 3
    orphan = next(p for p in pods if p["metadata"]["name"] == "orphan")
    assert orphan["metadata"]["ownerReferences"][0]["kind"] == kind
    cluster.kubectl("delete", "pod", "orphan", "-n", namespace, "--wait=false")
    wait_for(lambda: len([p for p in cluster.kubectl_json("get", "pods", "-n", namespace)["items"]
                          if p["metadata"]["name"] != "orphan"]) == 3, what="replacement pod")
    wait_for(lambda: status().get("availableReplicas") == 3, what="3 available again")
