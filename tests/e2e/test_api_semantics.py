"""API semantics checked over raw HTTP: watch protocol, field validation, eviction, conversion."""

from __future__ import annotations

import json
import shutil
import threading
import urllib.request

from tests.e2e.cluster import Cluster, start_cluster


def _json(raw: bytes) -> dict:
    return json.loads(raw)


def _cm(name: str, **extra: object) -> bytes:
    return json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}).encode()


def _watch_lines(cluster: Cluster, path: str, count: int, timeout: float = 20) -> list[dict]:
    """Read `count` watch events from `path` (a watch URL), then close."""
    req = urllib.request.Request(cluster.url + path)
    out: list[dict] = []
    with urllib.request.urlopen(req, context=cluster.ssl_context(), timeout=timeout) as resp:
        for line in resp:
            out.append(json.loads(line))
            if len(out) >= count:
                break
    return out


def test_field_validation_strict_warn_ignore(cluster: Cluster, namespace: str) -> None:
    base = f"/api/v1/namespaces/{namespace}/configmaps"
    body = _cm("fv", data={"a": "b"}, bogus=1)
    status, _, raw = cluster.request("POST", base + "?fieldValidation=Strict", body)
    assert status == 400
    assert 'strict decoding error: unknown field "bogus"' in _json(raw)["message"]
    status, headers, raw = cluster.request("POST", base + "?fieldValidation=Warn", body)
    assert status == 201
    assert 'unknown field' in headers.get("Warning", "") and "bogus" in headers["Warning"]
    assert "bogus" not in _json(raw)
    status, headers, _ = cluster.request("POST", base + "?fieldValidation=Ignore", _cm("fv2", bogus=1))
    assert status == 201 and "Warning" not in headers
    status, _, _ = cluster.request("POST", base + "?fieldValidation=Sometimes", _cm("fv3"))
    assert status == 400


def test_watch_sends_initial_events_then_bookmark(cluster: Cluster, namespace: str) -> None:
    for i in range(3):
        cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm(f"init{i}"))
    events = _watch_lines(cluster, f"/api/v1/namespaces/{namespace}/configmaps?watch=true&sendInitialEvents=true"
                                   "&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=", 4)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "ADDED", "BOOKMARK"]
    assert events[3]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_watch_from_too_old_revision_is_410() -> None:
    """The watch cache keeps a bounded history: resuming from before it is 410 Expired, after it works."""
    c = start_cluster(None, "--default-watch-cache-size", "10")
    try:
        revs = []
        for i in range(30):
            revs.append(_json(c.request("POST", "/api/v1/namespaces/default/configmaps", _cm(f"old{i}"))[2])["metadata"]["resourceVersion"])
        status, _, raw = c.request("GET", f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={revs[0]}&timeoutSeconds=2")
        assert status == 200
        first = json.loads(raw.splitlines()[0])
        assert first["type"] == "ERROR"
        assert first["object"]["code"] == 410 and first["object"]["reason"] == "Expired"
        status, _, raw = c.request("GET", f"/api/v1/namespaces/default/configmaps?watch=true&resourceVersion={revs[-3]}&timeoutSeconds=1")
        names = [json.loads(line)["object"]["metadata"]["name"] for line in raw.splitlines()]
        assert names == ["old28", "old29"]
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


def test_list_and_watch_as_table(cluster: Cluster, namespace: str) -> None:
    cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("tab", data={"a": "1"}))
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"}
    status, _, raw = cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps", headers=accept)
    table = _json(raw)
    assert status == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert table["rows"][0]["cells"][:2] == ["tab", 1]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_eviction_honours_pod_disruption_budget(cluster: Cluster, namespace: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "guarded", "labels": {"app": "db"}},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode())[0] == 201
    cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/pods/guarded/status",
                    json.dumps({"status": {"phase": "Running"}}).encode(), ctype="application/merge-patch+json")
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "db"},
           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "db"}}}}
    assert cluster.request("POST", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets", json.dumps(pdb).encode())[0] == 201
    # What the disruption controller would write: no disruption allowed.
    status_patch = {"status": {"observedGeneration": 1, "disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1, "expectedPods": 1}}
    assert cluster.request("PATCH", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/db/status",
                           json.dumps(status_patch).encode(), ctype="application/merge-patch+json")[0] == 200
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "guarded", "namespace": namespace}}
    status, _, raw = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods/guarded/eviction", json.dumps(eviction).encode())
    assert status == 429, raw
    assert "disruption budget" in _json(raw)["message"]
    # One disruption allowed: the eviction goes through and uses it up.
    status_patch["status"]["disruptionsAllowed"] = 1
    cluster.request("PATCH", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/db/status",
                    json.dumps(status_patch).encode(), ctype="application/merge-patch+json")
    status, _, raw = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods/guarded/eviction", json.dumps(eviction).encode())
    assert status == 201, raw
    assert cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods/guarded")[0] == 404
    pdb_now = _json(cluster.request("GET", f"/apis/policy/v1/namespaces/{namespace}/poddisruptionbudgets/db")[2])
    assert pdb_now["status"]["disruptionsAllowed"] == 0


def test_events_are_one_resource_in_two_groups(cluster: Cluster, namespace: str) -> None:
    ev = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e1"}, "eventTime": "2026-01-01T00:00:00.000000Z",
          "reportingController": "test/ctl", "reportingInstance": "i1", "action": "Test", "reason": "Tested",
          "note": "hello", "type": "Normal", "regarding": {"kind": "Pod", "name": "p1", "namespace": namespace}}
    assert cluster.request("POST", f"/apis/events.k8s.io/v1/namespaces/{namespace}/events", json.dumps(ev).encode())[0] == 201
    core = _json(cluster.request("GET", f"/api/v1/namespaces/{namespace}/events/e1")[2])
    assert core["message"] == "hello" and core["involvedObject"]["name"] == "p1" and core["reportingComponent"] == "test/ctl"
    selected = _json(cluster.request("GET", f"/api/v1/namespaces/{namespace}/events?fieldSelector=involvedObject.name%3Dp1")[2])
    assert [e["metadata"]["name"] for e in selected["items"]] == ["e1"]


def test_hpa_v1_and_v2_share_objects(cluster: Cluster, namespace: str) -> None:
    hpa = {"apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler", "metadata": {"name": "h"},
           "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}, "maxReplicas": 4,
                    "targetCPUUtilizationPercentage": 70}}
    assert cluster.request("POST", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers", json.dumps(hpa).encode())[0] == 201
    v2 = _json(cluster.request("GET", f"/apis/autoscaling/v2/namespaces/{namespace}/horizontalpodautoscalers/h")[2])
    assert v2["spec"]["metrics"][0]["resource"]["target"] == {"type": "Utilization", "averageUtilization": 70}
    v1 = _json(cluster.request("GET", f"/apis/autoscaling/v1/namespaces/{namespace}/horizontalpodautoscalers/h")[2])
    assert v1["spec"]["targetCPUUtilizationPercentage"] == 70 and "metrics" not in v1["spec"]


def test_delete_collection_with_selector(cluster: Cluster, namespace: str) -> None:
    for name, tier in (("a", "x"), ("b", "x"), ("c", "y")):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"tier": tier}}}).encode()
        cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", body)
    status, _, _ = cluster.request("DELETE", f"/api/v1/namespaces/{namespace}/configmaps?labelSelector=tier%3Dx")
    assert status == 200
    left = _json(cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")[2])
    assert [i["metadata"]["name"] for i in left["items"]] == ["c"]


def test_many_watchers_each_see_every_event(cluster: Cluster, namespace: str) -> None:
    rv = _json(cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps")[2])["metadata"]["resourceVersion"]
    results: list[list[dict]] = [[] for _ in range(20)]

    def watch(i: int) -> None:
        results[i] = _watch_lines(cluster, f"/api/v1/namespaces/{namespace}/configmaps?watch=true&resourceVersion={rv}", 10)

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for i in range(10):
        cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm(f"fan{i}"))
    for t in threads:
        t.join(30)
    for r in results:
        assert [e["object"]["metadata"]["name"] for e in r] == [f"fan{i}" for i in range(10)]


def test_pod_admission_priority_and_default_tolerations(cluster: Cluster, namespace: str) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "adm"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    status, _, raw = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode())
    assert status == 201
    spec = _json(raw)["spec"]
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"
    assert [(t["key"], t["tolerationSeconds"]) for t in spec["tolerations"]] == [
        ("node.kubernetes.io/not-ready", 300), ("node.kubernetes.io/unreachable", 300)]
    pod["metadata"]["name"] = "critical"
    pod["spec"]["priorityClassName"] = "system-cluster-critical"
    assert _json(cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode())[2])["spec"]["priority"] == 2000000000
    pod["metadata"]["name"] = "unknown-class"
    pod["spec"]["priorityClassName"] = "nope"
    status, _, raw = cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods", json.dumps(pod).encode())
    assert status == 403 and "no PriorityClass with name nope was found" in _json(raw)["message"]


def test_system_namespaces_may_not_be_deleted(cluster: Cluster) -> None:
    status, _, raw = cluster.request("DELETE", "/api/v1/namespaces/kube-system")
    assert status == 403 and "may not be deleted" in _json(raw)["message"]


def test_service_account_tokens(cluster: Cluster, namespace: str) -> None:
    """kubectl create token issues a JWT that authenticates as the ServiceAccount until it is deleted."""
    cluster.kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = cluster.kubectl("create", "token", "robot", "-n", namespace, "--duration=15m").stdout.strip()
    assert token.count(".") == 2
    who = cluster.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                          json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).encode(),
                          headers={"Authorization": f"Bearer {token}"}, auth=False)
    assert who[0] == 201
    info = _json(who[2])["status"]["userInfo"]
    assert info["username"] == f"system:serviceaccount:{namespace}:robot"
    assert f"system:serviceaccounts:{namespace}" in info["groups"]
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
    reviewed = _json(cluster.request("POST", "/apis/authentication.k8s.io/v1/tokenreviews", json.dumps(review).encode())[2])
    assert reviewed["status"]["authenticated"] is True
    cluster.kubectl("delete", "serviceaccount", "robot", "-n", namespace)
    status, _, _ = cluster.request("GET", "/api/v1/namespaces", headers={"Authorization": f"Bearer {token}"}, auth=False)
    assert status == 401
    status, _, _ = cluster.request("GET", "/api/v1/namespaces", headers={"Authorization": "Bearer not.a.token"}, auth=False)
    assert status == 401


def test_resource_quota_admission(cluster: Cluster, namespace: str) -> None:
    """Creates beyond a ResourceQuota's hard limits are refused with upstream's 403."""
    rq = {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"configmaps": "2"}}}
    assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/resourcequotas", json.dumps(rq).encode())[0] == 201
    # What the resourcequota controller writes: hard mirrored, usage counted.
    status = {"status": {"hard": {"configmaps": "2"}, "used": {"configmaps": "0"}}}
    assert cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/resourcequotas/q/status", json.dumps(status).encode(),
                           ctype="application/merge-patch+json")[0] == 200
    assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("one"))[0] == 201
    assert cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("two"))[0] == 201
    code, _, raw = cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("three"))
    assert code == 403
    assert "exceeded quota: q, requested: configmaps=1, used: configmaps=2, limited: configmaps=2" in _json(raw)["message"]
    used = _json(cluster.request("GET", f"/api/v1/namespaces/{namespace}/resourcequotas/q")[2])["status"]["used"]
    assert used == {"configmaps": "2"}


def test_patch_without_resource_version_is_retried_not_conflicting(cluster: Cluster, namespace: str) -> None:
    """Concurrent merge patches without a resourceVersion all land (the server retries on conflicts)."""
    from concurrent.futures import ThreadPoolExecutor

    cluster.request("POST", f"/api/v1/namespaces/{namespace}/configmaps", _cm("busy"))

    def patch(i: int) -> int:
        body = json.dumps({"data": {f"k{i}": str(i)}}).encode()
        return cluster.request("PATCH", f"/api/v1/namespaces/{namespace}/configmaps/busy", body,
                               ctype="application/merge-patch+json")[0]

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(patch, range(24)))
    assert codes == [200] * 24
    data = _json(cluster.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/busy")[2])["data"]
    assert len(data) == 24
