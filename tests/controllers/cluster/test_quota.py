"""kijabi.machinery.quota: usage per object, scopes, the controller's sum and the admission check."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import errors, quota
from kijabi.machinery.quantity import parse_quantity

NOW = 2_000_000_000.0


def pod(name: str = "p", *, phase: str = "Running", requests: dict[str, str] | None = None,
        limits: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    res: dict[str, Any] = {}
    if requests:
        res["requests"] = requests
    if limits:
        res["limits"] = limits
    return {"metadata": {"name": name, "namespace": "ns"},
            "spec": {"containers": [{"name": "c", "resources": res}], **spec}, "status": {"phase": phase}}


def text(rl: dict[str, Any]) -> dict[str, str]:
    return quota.to_json(rl)


@pytest.mark.parametrize(("obj", "expected"), [
    (pod(), {"count/pods": "1", "pods": "1"}),
    (pod(requests={"cpu": "250m", "memory": "64Mi"}, limits={"cpu": "1"}),
     {"count/pods": "1", "pods": "1", "cpu": "250m", "requests.cpu": "250m", "memory": "64Mi", "requests.memory": "64Mi",
      "limits.cpu": "1"}),
    (pod(phase="Succeeded", requests={"cpu": "1"}), {"count/pods": "1"}),
    (pod(requests={"example.com/gpu": "2", "hugepages-2Mi": "4Mi"}),
     {"count/pods": "1", "pods": "1", "requests.example.com/gpu": "2", "hugepages-2Mi": "4Mi", "requests.hugepages-2Mi": "4Mi"}),
], ids=["bare", "compute", "terminal-only-counted", "extended-and-hugepages"])
def test_pod_usage(obj: dict[str, Any], expected: dict[str, str]) -> None:
    assert text(quota.pod_usage(obj, NOW)) == expected


def test_pod_requests_take_the_largest_init_container_and_overhead() -> None:
    p = pod(requests={"cpu": "100m"}, overhead={"cpu": "10m"})
    p["spec"]["initContainers"] = [{"name": "i1", "resources": {"requests": {"cpu": "500m"}}},
                                   {"name": "side", "restartPolicy": "Always", "resources": {"requests": {"cpu": "50m"}}}]
    assert str(quota.pod_requests(p)["cpu"]) == "510m"


def test_stuck_terminating_pod_stops_counting() -> None:
    p = pod(requests={"cpu": "1"})
    p["metadata"]["deletionTimestamp"] = "2033-05-18T03:33:00Z"  # 1_999_999_980
    p["metadata"]["deletionGracePeriodSeconds"] = 10
    assert "pods" not in quota.pod_usage(p, NOW)
    assert "pods" in quota.pod_usage(p, NOW - 60)


@pytest.mark.parametrize(("svc", "expected"), [
    ({"spec": {"type": "ClusterIP", "ports": [{"port": 80}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "0", "services.nodeports": "0"}),
    ({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "0", "services.nodeports": "2"}),
    ({"spec": {"type": "LoadBalancer", "ports": [{"port": 80}]}},
     {"count/services": "1", "services": "1", "services.loadbalancers": "1", "services.nodeports": "1"}),
], ids=["cluster-ip", "node-port", "load-balancer"])
def test_service_usage(svc: dict[str, Any], expected: dict[str, str]) -> None:
    assert text(quota.service_usage(svc)) == expected


def test_pvc_usage_charges_its_storage_class() -> None:
    pvc = {"spec": {"storageClassName": "fast", "resources": {"requests": {"storage": "5Gi"}}}}
    assert text(quota.pvc_usage(pvc)) == {
        "count/persistentvolumeclaims": "1", "persistentvolumeclaims": "1", "requests.storage": "5Gi",
        "fast.storageclass.storage.k8s.io/persistentvolumeclaims": "1", "fast.storageclass.storage.k8s.io/requests.storage": "5Gi"}


@pytest.mark.parametrize(("group", "resource", "names", "expected"), [
    ("", "pods", ["pods", "requests.cpu", "configmaps", "requests.example.com/gpu"], ["pods", "requests.cpu", "requests.example.com/gpu"]),
    ("", "configmaps", ["configmaps", "count/configmaps", "pods"], ["configmaps", "count/configmaps"]),
    ("apps", "deployments", ["count/deployments.apps", "count/deployments"], ["count/deployments.apps"]),
    ("example.com", "widgets", ["count/widgets.example.com"], ["count/widgets.example.com"]),
], ids=["pods", "legacy-configmaps", "group-count", "custom-resource-count"])
def test_matching_resources(group: str, resource: str, names: list[str], expected: list[str]) -> None:
    assert quota.evaluator(group, resource).matching_resources(names) == expected


@pytest.mark.parametrize(("scopes", "obj", "matches"), [
    (["BestEffort"], pod(), True),
    (["BestEffort"], pod(requests={"cpu": "1"}), False),
    (["NotBestEffort"], pod(requests={"cpu": "1"}), True),
    (["Terminating"], pod(activeDeadlineSeconds=10), True),
    (["NotTerminating"], pod(activeDeadlineSeconds=10), False),
], ids=["best-effort", "not-best-effort-pod-in-best-effort", "not-best-effort", "terminating", "not-terminating"])
def test_scopes(scopes: list[str], obj: dict[str, Any], matches: bool) -> None:
    q = {"spec": {"scopes": scopes}, "status": {"hard": {"pods": "5"}}}
    assert quota.matches(q, quota.evaluator("", "pods"), obj) is matches


def test_priority_class_scope_selector() -> None:
    q = {"spec": {"scopeSelector": {"matchExpressions": [
        {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}]}}, "status": {"hard": {"pods": "5"}}}
    ev = quota.evaluator("", "pods")
    assert quota.matches(q, ev, pod(priorityClassName="high"))
    assert not quota.matches(q, ev, pod(priorityClassName="low"))
    assert not quota.matches(q, ev, pod())


def test_calculate_usage_masks_to_tracked_resources() -> None:
    q = {"metadata": {"name": "q"}, "spec": {"hard": {"pods": "10", "requests.cpu": "4", "configmaps": "3"}}}
    objects = {("", "pods"): [pod("a", requests={"cpu": "1"}), pod("b", phase="Failed", requests={"cpu": "1"})],
               ("", "configmaps"): [{"metadata": {"name": "x"}}], ("", "secrets"): [{"metadata": {"name": "s"}}]}
    assert text(quota.calculate_usage(q, objects, NOW)) == {"configmaps": "1", "pods": "1", "requests.cpu": "1"}
    assert text(quota.calculate_usage(q, {("", "pods"): []}, NOW)) == {"pods": "0", "requests.cpu": "0"}


def rq(name: str = "q", hard: dict[str, str] | None = None, used: dict[str, str] | None = None) -> dict[str, Any]:
    hard = hard or {"pods": "2"}
    return {"metadata": {"name": name, "resourceVersion": "7"}, "spec": {"hard": hard},
            "status": {"hard": hard, "used": used if used is not None else {k: "0" for k in hard}}}


def test_check_request_rejects_over_quota_with_upstream_message() -> None:
    with pytest.raises(errors.StatusError) as info:
        quota.check_request([rq(used={"pods": "2"})], group="", resource="pods", obj=pod("web"), now=NOW)
    assert info.value.code == 403 and info.value.reason == "Forbidden"
    assert info.value.message == 'pods "web" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2'


def test_check_request_returns_the_new_usage_to_persist() -> None:
    updates = quota.check_request([rq(used={"pods": "1"}), rq("other", {"configmaps": "1"})], group="", resource="pods",
                                  obj=pod("web"), now=NOW)
    assert updates == [quota.QuotaUpdate("q", "7", {"pods": "2"})]


@pytest.mark.parametrize(("q", "obj", "message"), [
    (rq(hard={"requests.cpu": "1", "limits.memory": "1Gi"}), pod("web"),
     'pods "web" is forbidden: failed quota: q: must specify limits.memory for: c; requests.cpu for: c'),
    ({**rq(), "status": {"hard": {"pods": "2"}}}, pod("web"), 'pods "web" is forbidden: status unknown for quota: q, resources: pods'),
    (rq(hard={"requests.cpu": "1"}, used={"requests.cpu": "800m"}), pod("web", requests={"cpu": "300m"}),
     'pods "web" is forbidden: exceeded quota: q, requested: requests.cpu=300m, used: requests.cpu=800m, limited: requests.cpu=1'),
], ids=["missing-requests", "status-unknown", "compute-exceeded"])
def test_check_request_refusals(q: dict[str, Any], obj: dict[str, Any], message: str) -> None:
    with pytest.raises(errors.StatusError) as info:
        quota.check_request([q], group="", resource="pods", obj=obj, now=NOW)
    assert info.value.message == message


def test_object_count_quota_for_any_resource_and_updates_charge_the_delta() -> None:
    q = rq(hard={"count/deployments.apps": "1"}, used={"count/deployments.apps": "1"})
    with pytest.raises(errors.StatusError):
        quota.check_request([q], group="apps", resource="deployments", obj={"metadata": {"name": "d"}}, now=NOW)
    # Updating a deployment does not count it again.
    assert quota.check_request([q], group="apps", resource="deployments", obj={"metadata": {"name": "d"}},
                               old={"metadata": {"name": "d", "resourceVersion": "3"}}, operation="UPDATE", now=NOW) == []
    svc_q = rq(hard={"services.nodeports": "2"}, used={"services.nodeports": "1"})
    old = {"metadata": {"name": "s", "resourceVersion": "3"}, "spec": {"type": "NodePort", "ports": [{"port": 80}]}}
    new = {"metadata": {"name": "s"}, "spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81}]}}
    [update] = quota.check_request([svc_q], group="", resource="services", obj=new, old=old, operation="UPDATE", now=NOW)
    assert update.used == {"services.nodeports": "2"}


def test_resource_list_helpers() -> None:
    a = {"cpu": parse_quantity("500m"), "memory": parse_quantity("1Gi")}
    b = {"cpu": parse_quantity("1")}
    assert quota.to_json(quota.add(a, b)) == {"cpu": "1500m", "memory": "1Gi"}
    assert quota.less_than_or_equal(a, b) == (True, [])
    assert quota.less_than_or_equal(quota.add(a, b), b) == (False, ["cpu"])
    assert quota.equals(quota.parse_list({"cpu": "1000m"}), quota.parse_list({"cpu": "1"}))
