"""ResourceQuota usage, PodDisruptionBudget status (and the eviction subresource that reads it), Jobs
deleted after ttlSecondsAfterFinished, and the horizontal pod autoscaler without a metrics API."""

from __future__ import annotations

import time
from typing import Any

from kijabi.machinery.meta import rfc3339
from tests.controllers.cluster.harness import Kube, owner_ref, wait_for
from tests.e2e.cluster import Cluster


def quota_status(kube: Kube, ns: str, name: str = "q") -> dict[str, Any]:
    return (kube.get("v1", "resourcequotas", name, ns) or {}).get("status") or {}


def test_quota_usage_is_counted(kube: Kube, namespace: str, cluster: Cluster) -> None:
    hard = {"pods": "5", "count/pods": "10", "requests.cpu": "2", "requests.memory": "1Gi", "limits.cpu": "4",
            "configmaps": "10", "secrets": "10", "services": "3", "count/deployments.apps": "2"}
    kube.create("v1", "resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": hard}}, namespace)
    wait_for(lambda: quota_status(kube, namespace).get("hard") == hard and set(quota_status(kube, namespace).get("used") or {}) == set(hard),
             what="status.hard mirrors spec.hard and usage is computed")
    resources = {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m"}}
    for i in range(2):
        kube.create("v1", "pods", {"metadata": {"name": f"p{i}"}, "spec": {"containers": [
            {"name": "c", "image": "busybox", "resources": resources}]}}, namespace)
    kube.create("v1", "pods", {"metadata": {"name": "finished"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "resources": resources}]}}, namespace)
    kube.set_pod_status(namespace, "finished", ready=False, phase="Succeeded")
    kube.create("v1", "configmaps", {"metadata": {"name": "extra"}}, namespace)
    kube.create("v1", "services", {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}, namespace)
    kube.create("apps/v1", "deployments", {"metadata": {"name": "d"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}, namespace)

    def used() -> dict[str, str]:
        return quota_status(kube, namespace).get("used") or {}

    expected = {"pods": "2", "requests.cpu": "500m", "requests.memory": "128Mi", "limits.cpu": "1", "services": "1",
                "count/deployments.apps": "1"}
    wait_for(lambda: all(used().get(k) == v for k, v in expected.items()), what=f"usage {expected}")
    u = used()
    assert set(u) == set(hard)
    assert u["configmaps"] == "2"  # ours plus kube-root-ca.crt
    assert int(u["count/pods"]) >= 2 and int(u["secrets"]) >= 0
    out = cluster.kubectl("describe", "quota", "q", "-n", namespace).stdout
    assert "requests.cpu" in out and "500m" in out
    kube.delete("v1", "pods", "p0", namespace)
    wait_for(lambda: used().get("pods") == "1" and used().get("requests.cpu") == "250m", what="usage after delete")


def _ready_pods(kube: Kube, ns: str, owner: dict[str, Any], n: int, labels: dict[str, str]) -> None:
    for i in range(n):
        kube.pod(ns, f"{owner['metadata']['name']}-{i}", labels=labels, owner=owner_ref(owner))
        kube.set_pod_status(ns, f"{owner['metadata']['name']}-{i}", ready=True, ip=f"10.42.7.{i + 1}")


def _replicaset(kube: Kube, ns: str, name: str, replicas: int, labels: dict[str, str]) -> Any:
    return kube.create("apps/v1", "replicasets", {"metadata": {"name": name}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}, ns)


def pdb_status(kube: Kube, ns: str, name: str) -> dict[str, Any]:
    return (kube.get("policy/v1", "poddisruptionbudgets", name, ns) or {}).get("status") or {}


def test_pdb_status_and_eviction(kube: Kube, namespace: str, cluster: Cluster) -> None:
    labels = {"app": "db"}
    rs = _replicaset(kube, namespace, "db", 3, labels)
    _ready_pods(kube, namespace, rs, 3, labels)
    kube.create("policy/v1", "poddisruptionbudgets", {"metadata": {"name": "db"}, "spec": {
        "minAvailable": 2, "selector": {"matchLabels": labels}}}, namespace)
    st = wait_for(lambda: (s := pdb_status(kube, namespace, "db")).get("currentHealthy") == 3 and s, what="PDB status")
    assert (st["desiredHealthy"], st["expectedPods"], st["disruptionsAllowed"]) == (2, 3, 1)
    assert st["observedGeneration"] == 1
    [cond] = st["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("DisruptionAllowed", "True", "SufficientPods")
    evict = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "db-0", "namespace": namespace}}
    code, body = kube.call("POST", kube.path("v1", "pods", namespace, "db-0", "eviction"), evict)
    assert code == 201, body
    st = wait_for(lambda: (s := pdb_status(kube, namespace, "db")).get("currentHealthy") == 2 and s, what="after eviction")
    assert st["disruptionsAllowed"] == 0 and st["conditions"][0]["reason"] == "InsufficientPods"
    evict["metadata"]["name"] = "db-1"
    code, body = kube.call("POST", kube.path("v1", "pods", namespace, "db-1", "eviction"), evict)
    assert code == 429, body
    assert "Cannot evict pod as it would violate the pod's disruption budget." in body["message"]


def test_pdb_percentages_use_the_controller_scale(kube: Kube, namespace: str) -> None:
    """maxUnavailable 50% over a ReplicaSet of 4: expectedPods 4, desiredHealthy 4 - ceil(2) = 2."""
    labels = {"app": "cache"}
    rs = _replicaset(kube, namespace, "cache", 4, labels)
    _ready_pods(kube, namespace, rs, 3, labels)
    kube.create("policy/v1", "poddisruptionbudgets", {"metadata": {"name": "cache"}, "spec": {
        "maxUnavailable": "50%", "selector": {"matchLabels": labels}}}, namespace)
    st = wait_for(lambda: (s := pdb_status(kube, namespace, "cache")).get("expectedPods") == 4 and s, what="PDB status")
    assert (st["currentHealthy"], st["desiredHealthy"], st["disruptionsAllowed"]) == (3, 2, 1)


def test_pdb_without_controller_fails_safe(kube: Kube, namespace: str) -> None:
    """A percentage needs the pods' controller; pods without one leave expectedPods 0 and no disruption."""
    labels = {"app": "loose"}
    for i in range(2):
        kube.pod(namespace, f"loose-{i}", labels=labels)
        kube.set_pod_status(namespace, f"loose-{i}", ready=True, ip=f"10.42.8.{i + 1}")
    kube.create("policy/v1", "poddisruptionbudgets", {"metadata": {"name": "loose"}, "spec": {
        "minAvailable": "50%", "selector": {"matchLabels": labels}}}, namespace)
    st = wait_for(lambda: (s := pdb_status(kube, namespace, "loose")).get("conditions") and s, what="PDB status")
    assert st["disruptionsAllowed"] == 0 and st["expectedPods"] == 0
    wait_for(lambda: any(e["reason"] == "UnmanagedPods" for e in kube.events(namespace, "loose")), what="UnmanagedPods event")


def job(name: str, ttl: int) -> dict[str, Any]:
    labels = {"job": name}
    return {"metadata": {"name": name}, "spec": {
        "ttlSecondsAfterFinished": ttl, "manualSelector": True, "selector": {"matchLabels": labels},
        "template": {"metadata": {"labels": labels},
                     "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}


def test_finished_job_is_deleted_after_its_ttl(kube: Kube, namespace: str) -> None:
    made = kube.create("batch/v1", "jobs", job("once", 1), namespace)
    kube.pod(namespace, "once-abcde", owner=owner_ref(made))
    now = rfc3339(time.time())
    kube.patch("batch/v1", "jobs", "once", {"status": {
        "startTime": now, "completionTime": now, "succeeded": 1,
        "conditions": [{"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now}]}},
        namespace, sub="status")
    wait_for(lambda: kube.get("batch/v1", "jobs", "once", namespace) is None, what="job deleted")
    assert kube.get("v1", "pods", "once-abcde", namespace) is None  # foreground: its pods went first


def test_unfinished_job_is_kept(kube: Kube, namespace: str) -> None:
    kube.create("batch/v1", "jobs", job("running", 0), namespace)
    # A finished job with the same TTL, as a witness that the controller had its chance.
    kube.create("batch/v1", "jobs", job("done", 0), namespace)
    now = rfc3339(time.time())
    kube.patch("batch/v1", "jobs", "done", {"status": {"conditions": [
        {"type": "Failed", "status": "True", "lastTransitionTime": now}]}}, namespace, sub="status")
    wait_for(lambda: kube.get("batch/v1", "jobs", "done", namespace) is None, what="witness deleted")
    assert kube.get("batch/v1", "jobs", "running", namespace) is not None


def hpa_status(kube: Kube, ns: str) -> dict[str, Any]:
    return (kube.get("autoscaling/v2", "horizontalpodautoscalers", "web", ns) or {}).get("status") or {}


def test_hpa_without_metrics_api_reports_failed_get_resource_metric(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """The target is brought to minReplicas, then every metric read fails as upstream reports it."""
    kube.create("apps/v1", "deployments", {"metadata": {"name": "web"}, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
            {"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "100m"}}}]}}}}, namespace)
    cluster.kubectl("autoscale", "deployment", "web", "-n", namespace, "--min=2", "--max=5", "--cpu-percent=50")
    wait_for(lambda: kube.get("apps/v1", "deployments", "web", namespace)["spec"]["replicas"] == 2, what="scaled to min")
    rescale = wait_for(lambda: [e for e in kube.events(namespace, "web") if e["reason"] == "SuccessfulRescale"], what="event")
    assert rescale[0]["message"] == "New size: 2; reason: Current number of replicas below Spec.MinReplicas"

    def active() -> dict[str, Any] | None:
        conds = {c["type"]: c for c in hpa_status(kube, namespace).get("conditions") or []}
        return conds if conds.get("ScalingActive", {}).get("status") == "False" else None

    conds = wait_for(active, what="ScalingActive False")
    assert conds["ScalingActive"]["reason"] == "FailedGetResourceMetric"
    failure = ("failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from "
               "resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)")
    assert conds["ScalingActive"]["message"] == f"the HPA was unable to compute the replica count: {failure}"
    assert (conds["AbleToScale"]["status"], conds["AbleToScale"]["reason"]) == ("True", "SucceededGetScale")
    status = hpa_status(kube, namespace)
    assert status["currentReplicas"] == 2 and status["desiredReplicas"] == 2
    reasons = {e["reason"]: e["message"] for e in kube.events(namespace, "web") if e["involvedObject"]["kind"] == "HorizontalPodAutoscaler"}
    assert reasons["FailedGetResourceMetric"] == failure
    assert reasons["FailedComputeMetricsReplicas"] == (
        f"invalid metrics (1 invalid out of 1), first error is: failed to get cpu resource metric value: {failure}")
