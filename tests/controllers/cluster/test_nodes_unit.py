"""Node controllers on the fake API and fake time: pod CIDR allocation, health and taints, taint-based
eviction timing, and the pod garbage collector."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.client.rest import LEASES, NODES, PODS
from kijabi.controllers.cluster import nodeipam, nodelifecycle, podgc
from kijabi.controllers.cluster._base import matching_tolerations, min_toleration_seconds, tolerates
from kijabi.controllers.cluster.nodeipam import CIDRRangeFull, CIDRSet
from kijabi.controllers.cluster.nodelifecycle import no_schedule_taints, swapped_taints
from kijabi.machinery.meta import rfc3339, rfc3339_micro
from tests.controllers.cluster.fakes import FakeCluster, until

# -- CIDRs -----------------------------------------------------------------------------------------


def test_cidr_set_allocates_next_fit_and_never_twice() -> None:
    s = CIDRSet("10.42.0.0/16", 24)
    assert [s.allocate_next() for _ in range(3)] == ["10.42.0.0/24", "10.42.1.0/24", "10.42.2.0/24"]
    s.release("10.42.1.0/24")
    assert s.allocate_next() == "10.42.3.0/24"  # next fit continues after the last one handed out
    s.occupy("10.42.4.0/24")
    assert s.allocate_next() == "10.42.5.0/24"
    with pytest.raises(ValueError):
        s.occupy("10.43.0.0/24")


def test_cidr_set_exhaustion() -> None:
    s = CIDRSet("10.0.0.0/30", 31)
    assert {s.allocate_next(), s.allocate_next()} == {"10.0.0.0/31", "10.0.0.2/31"}
    with pytest.raises(CIDRRangeFull):
        s.allocate_next()


def node(name: str, cidr: str | None = None, ready: str | None = "True", heartbeat: float | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": dict(spec), "status": {}}
    if cidr:
        body["spec"].update(podCIDR=cidr, podCIDRs=[cidr])
    if ready is not None:
        ts = rfc3339(heartbeat or 1_767_225_600.0)
        body["status"]["conditions"] = [{"type": "Ready", "status": ready, "lastHeartbeatTime": ts, "lastTransitionTime": ts}]
    return body


async def test_ipam_keeps_cidrs_of_existing_nodes_after_a_restart() -> None:
    async with FakeCluster() as fc:
        fc.api.seed(NODES, node("old-a", "10.42.0.0/24"))
        fc.api.seed(NODES, node("old-b", "10.42.1.0/24"))
        fc.api.seed(NODES, node("new"))
        c = await fc.build(nodeipam.new)
        await fc.start(c)
        got = await until(lambda: (fc.api.get_object(NODES, "new") or {}).get("spec", {}).get("podCIDR"))
        assert got == "10.42.2.0/24"
        assert fc.api.get_object(NODES, "new")["spec"]["podCIDRs"] == ["10.42.2.0/24"]
        await fc.client.create(NODES, node("later"))
        assert await until(lambda: (fc.api.get_object(NODES, "later") or {}).get("spec", {}).get("podCIDR")) == "10.42.3.0/24"


# -- health and taints -----------------------------------------------------------------------------


@pytest.mark.parametrize(("conditions", "unschedulable", "expected"), [
    ({"Ready": "True"}, False, []),
    ({"Ready": "False"}, False, ["node.kubernetes.io/not-ready"]),
    ({"Ready": "Unknown"}, False, ["node.kubernetes.io/unreachable"]),
    ({"Ready": "True", "MemoryPressure": "True", "DiskPressure": "True", "PIDPressure": "True"}, False,
     ["node.kubernetes.io/memory-pressure", "node.kubernetes.io/disk-pressure", "node.kubernetes.io/pid-pressure"]),
    ({"Ready": "True"}, True, ["node.kubernetes.io/unschedulable"]),
], ids=["ready", "not-ready", "unknown", "pressure", "unschedulable"])
def test_no_schedule_taints_follow_conditions(conditions: dict[str, str], unschedulable: bool, expected: list[str]) -> None:
    n = {"spec": {"unschedulable": unschedulable},
         "status": {"conditions": [{"type": t, "status": s} for t, s in conditions.items()]}}
    assert [t["key"] for t in no_schedule_taints(n)] == expected
    assert all(t["effect"] == "NoSchedule" for t in no_schedule_taints(n))


def test_swapped_taints_add_with_time_and_keep_others() -> None:
    n = {"spec": {"taints": [{"key": "user", "effect": "NoSchedule"}, {"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]}}
    out = swapped_taints(n, [{"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}],
                         [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}], "2030-01-01T00:00:00Z")
    assert out == [{"key": "user", "effect": "NoSchedule"},
                   {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2030-01-01T00:00:00Z"}]
    assert swapped_taints(n, [{"key": "user", "effect": "NoSchedule"}], [], "t") is None


@pytest.mark.parametrize(("toleration", "taint", "expected"), [
    ({"key": "k", "operator": "Exists"}, {"key": "k", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"}, False),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoSchedule"}, True),
    ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, {"key": "k", "effect": "NoExecute"}, False),
    ({"operator": "Equal", "value": "v"}, {"key": "k", "value": "v", "effect": "NoExecute"}, False),
], ids=["exists", "equal", "unequal", "wildcard", "other-effect", "equal-without-key"])
def test_toleration_matching(toleration: dict[str, Any], taint: dict[str, Any], expected: bool) -> None:
    assert tolerates(toleration, taint) is expected


def test_min_toleration_seconds() -> None:
    taints = [{"key": "a", "effect": "NoExecute"}, {"key": "b", "effect": "NoExecute"}]
    ok, used = matching_tolerations(taints, [{"key": "a", "operator": "Exists", "tolerationSeconds": 30},
                                             {"key": "b", "operator": "Exists", "tolerationSeconds": 10}])
    assert ok and min_toleration_seconds(used) == 10
    ok, used = matching_tolerations(taints, [{"operator": "Exists"}])
    assert ok and min_toleration_seconds(used) == -1
    assert matching_tolerations(taints, [{"key": "a", "operator": "Exists"}]) == (False, [])
    assert min_toleration_seconds([{"tolerationSeconds": 0}]) == 0


def lease(name: str, at: float) -> dict[str, Any]:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": name, "namespace": "kube-node-lease"},
            "spec": {"holderIdentity": name, "renewTime": rfc3339_micro(at)}}


def bound_pod(name: str, node_name: str, tolerations: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "ns"},
            "spec": {"nodeName": node_name, "containers": [{"name": "c"}], "tolerations": tolerations},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}


def taint_keys(fc: FakeCluster, name: str) -> set[tuple[str, str]]:
    return {(t["key"], t["effect"]) for t in (fc.api.get_object(NODES, name) or {}).get("spec", {}).get("taints") or []}


async def test_silent_node_goes_unknown_then_evicts_on_fake_time() -> None:
    async with FakeCluster(node_monitor_grace_period=40.0, node_monitor_period=5.0) as fc:
        fc.api.seed(NODES, node("n1", heartbeat=fc.clock.time()))
        fc.api.seed(LEASES, lease("n1", fc.clock.time()))
        unreachable = {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"}
        fc.api.seed(PODS, bound_pod("brief", "n1", [{**unreachable, "tolerationSeconds": 30}]))
        fc.api.seed(PODS, bound_pod("long", "n1", [{**unreachable, "tolerationSeconds": 300}]))
        fc.api.seed(PODS, bound_pod("none", "n1", []))
        c = await fc.build(nodelifecycle.new)
        await fc.start(c)
        await until(lambda: fc.clock.pending() > 0)
        for _ in range(8):  # 40 s pass: still within the grace period
            fc.clock.advance(5)
            await until(lambda: fc.clock.pending() > 0)
        assert taint_keys(fc, "n1") == set()
        for _ in range(3):
            fc.clock.advance(5)
            await until(lambda: fc.clock.pending() > 0)
        await until(lambda: {("node.kubernetes.io/unreachable", "NoExecute"), ("node.kubernetes.io/unreachable", "NoSchedule")}
                    <= taint_keys(fc, "n1"))
        ready = next(c for c in fc.api.get_object(NODES, "n1")["status"]["conditions"] if c["type"] == "Ready")
        assert (ready["status"], ready["reason"]) == ("Unknown", "NodeStatusUnknown")
        await until(lambda: fc.api.get_object(PODS, "none", "ns") is None)  # intolerant: at once
        assert fc.api.get_object(PODS, "brief", "ns") is not None
        pod_ready = next(c for c in fc.api.get_object(PODS, "long", "ns")["status"]["conditions"] if c["type"] == "Ready")
        assert pod_ready["status"] == "False"
        fc.clock.advance(31)
        await until(lambda: fc.api.get_object(PODS, "brief", "ns") is None)
        assert fc.api.get_object(PODS, "long", "ns") is not None


async def test_renewed_lease_keeps_a_node_healthy() -> None:
    async with FakeCluster(node_monitor_grace_period=40.0, node_monitor_period=5.0) as fc:
        fc.api.seed(NODES, node("n1", heartbeat=fc.clock.time()))
        fc.api.seed(LEASES, lease("n1", fc.clock.time()))
        c = await fc.build(nodelifecycle.new)
        await fc.start(c)
        for _ in range(20):  # 100 s, renewing every 5 s
            await until(lambda: fc.clock.pending() > 0)
            current = fc.api.get_object(LEASES, "n1", "kube-node-lease")
            current["spec"]["renewTime"] = rfc3339_micro(fc.clock.time())
            await fc.client.update(LEASES, current)
            renewed = current["spec"]["renewTime"]
            await until(lambda renewed=renewed: c.leases.get("n1", "kube-node-lease")["spec"]["renewTime"] == renewed)
            fc.clock.advance(5)
        ready = next(c for c in fc.api.get_object(NODES, "n1")["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True" and taint_keys(fc, "n1") == set()


# -- pod GC ------------------------------------------------------------------------------------------


def finished(name: str, created: str, reason: str = "") -> dict[str, Any]:
    status: dict[str, Any] = {"phase": "Failed" if reason else "Succeeded"}
    if reason:
        status["reason"] = reason
    return {"metadata": {"name": name, "namespace": "ns", "creationTimestamp": created}, "spec": {"containers": []},
            "status": status}


def test_terminated_pods_are_deleted_evicted_first_then_oldest() -> None:
    pods = [finished("new", "2030-01-03T00:00:00Z"), finished("old", "2030-01-01T00:00:00Z"),
            finished("evicted", "2030-01-05T00:00:00Z", "Evicted"), finished("mid", "2030-01-02T00:00:00Z")]
    assert [p["metadata"]["name"] for p in sorted(pods, key=podgc.deletion_order)] == ["evicted", "old", "mid", "new"]


async def test_pod_gc_collects_orphans_after_quarantine_and_unscheduled_terminating() -> None:
    async with FakeCluster(extra={"pod_gc_period": 10.0, "pod_gc_quarantine": 40.0}) as fc:
        fc.api.seed(NODES, node("alive"))
        fc.api.seed(PODS, bound_pod("orphan", "gone", []))
        fc.api.seed(PODS, bound_pod("fine", "alive", []))
        stuck = {"metadata": {"name": "stuck", "namespace": "ns", "deletionTimestamp": "2030-01-01T00:00:00Z"},
                 "spec": {"containers": []}, "status": {"phase": "Pending"}}
        fc.api.seed(PODS, stuck)
        c = await fc.build(podgc.new)
        await fc.start(c)
        await until(lambda: fc.api.get_object(PODS, "stuck", "ns") is None)
        assert fc.api.get_object(PODS, "orphan", "ns") is not None  # still in quarantine
        for _ in range(5):
            await until(lambda: fc.clock.pending() > 0)
            fc.clock.advance(10)
        await until(lambda: fc.api.get_object(PODS, "orphan", "ns") is None)
        assert fc.api.get_object(PODS, "fine", "ns") is not None
        patches = [a for a in fc.api.actions_of("patch", "pods") if a.name == "orphan"]
        assert patches and patches[0].body["status"]["phase"] == "Failed"
        cond = patches[0].body["status"]["conditions"][-1]
        assert (cond["type"], cond["reason"], cond["message"]) == ("DisruptionTarget", "DeletionByPodGC", "PodGC: node no longer exists")
        deletes = [a for a in fc.api.actions_of("delete", "pods") if a.name == "orphan"]
        assert deletes[0].body["gracePeriodSeconds"] == 0
