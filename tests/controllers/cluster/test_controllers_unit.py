"""Controllers on the fake API: the garbage collector's decisions, PDB arithmetic, TTL timing, namespace
conditions, and the per-namespace defaults."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from kijabi.client.rest import CONFIGMAPS, GVR, JOBS, NAMESPACES, PODS, REPLICASETS, SERVICEACCOUNTS
from kijabi.controllers.cluster import garbagecollector, serviceaccount
from kijabi.controllers.cluster.disruption import IntOrPercentError, count_healthy, scaled_value
from kijabi.controllers.cluster.namespace import Conditions
from kijabi.controllers.cluster.ttlafterfinished import time_left
from tests.controllers.cluster.fakes import FakeCluster, until

# -- garbage collector -------------------------------------------------------------------------------


def cm(name: str, owners: list[dict[str, Any]] | None = None, **meta: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "namespace": "ns", **meta}
    if owners:
        m["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": m}


def ref_to(obj: dict[str, Any], block: bool = False) -> dict[str, Any]:
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "blockOwnerDeletion": block}


async def gc_cluster(fc: FakeCluster) -> Any:
    gc = await fc.build(garbagecollector.new)
    await fc.start(gc)
    return gc


async def test_gc_deletes_dependents_of_absent_owners_only() -> None:
    async with FakeCluster() as fc:
        owner = fc.api.seed(CONFIGMAPS, cm("owner"))
        fc.api.seed(CONFIGMAPS, cm("kept", [ref_to(owner)]))
        ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
        fc.api.seed(CONFIGMAPS, cm("dangling", [ghost]))
        await gc_cluster(fc)
        await until(lambda: fc.api.get_object(CONFIGMAPS, "dangling", "ns") is None)
        deletes = [a for a in fc.api.actions_of("delete", "configmaps") if a.name == "dangling"]
        assert deletes[0].body["propagationPolicy"] == "Background"
        assert deletes[0].body["preconditions"]["uid"]
        assert fc.api.get_object(CONFIGMAPS, "kept", "ns") is not None
        await fc.client.delete(CONFIGMAPS, "owner", namespace="ns")
        await until(lambda: fc.api.get_object(CONFIGMAPS, "kept", "ns") is None)


async def test_gc_orphans_dependents_then_removes_the_orphan_finalizer() -> None:
    async with FakeCluster() as fc:
        owner = fc.api.seed(CONFIGMAPS, cm("owner", finalizers=["orphan"]))
        fc.api.seed(CONFIGMAPS, cm("child", [ref_to(owner)]))
        await gc_cluster(fc)
        await fc.client.delete(CONFIGMAPS, "owner", namespace="ns")
        await until(lambda: fc.api.get_object(CONFIGMAPS, "owner", "ns") is None)
        child = fc.api.get_object(CONFIGMAPS, "child", "ns")
        assert child is not None and not child["metadata"].get("ownerReferences")


async def test_gc_foreground_waits_for_blocking_dependents() -> None:
    async with FakeCluster() as fc:
        owner = fc.api.seed(REPLICASETS, {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                          "metadata": {"name": "rs", "namespace": "ns", "finalizers": ["foregroundDeletion"]}})
        for i in range(2):
            fc.api.seed(PODS, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "ns",
                                                                              "ownerReferences": [ref_to(owner, block=True)]}})
        await gc_cluster(fc)
        await fc.client.delete(REPLICASETS, "rs", namespace="ns")
        await until(lambda: fc.api.get_object(REPLICASETS, "rs", "ns") is None)
        order = [(a.verb, a.resource.resource, a.name) for a in fc.api.actions if a.verb in ("delete", "patch")]
        finalizer_removal = order.index(("patch", "replicasets", "rs"))
        assert {("delete", "pods", "p0"), ("delete", "pods", "p1")} <= set(order[:finalizer_removal])
        assert fc.api.list_objects(PODS) == []


async def test_gc_leaves_cluster_scoped_objects_with_namespaced_owners_alone() -> None:
    async with FakeCluster() as fc:
        owner = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": str(uuid.uuid4())}
        fc.api.seed(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "odd", "ownerReferences": [owner]}})
        ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": str(uuid.uuid4())}
        fc.api.seed(CONFIGMAPS, cm("witness", [ghost]))
        await gc_cluster(fc)
        await until(lambda: fc.api.get_object(CONFIGMAPS, "witness", "ns") is None)
        assert fc.api.get_object(NAMESPACES, "odd") is not None


# -- disruption ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "total", "up", "expected"), [
    (3, 10, True, 3), ("50%", 5, True, 3), ("50%", 5, False, 2), ("0%", 5, True, 0), ("100%", 7, True, 7),
], ids=["int", "half-up", "half-down", "zero", "all"])
def test_scaled_value(value: Any, total: int, up: bool, expected: int) -> None:
    assert scaled_value(value, total, up) == expected


@pytest.mark.parametrize("bad", ["5", "x%", True], ids=["no-percent", "not-a-number", "bool"])
def test_scaled_value_rejects(bad: Any) -> None:
    with pytest.raises(IntOrPercentError):
        scaled_value(bad, 5, True)


def test_count_healthy_skips_deleting_and_recently_disrupted_pods() -> None:
    def pod(name: str, ready: bool = True, deleting: bool = False) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": name}
        if deleting:
            meta["deletionTimestamp"] = "2030-01-01T00:00:00Z"
        return {"metadata": meta, "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    pods = [pod("a"), pod("b", ready=False), pod("c", deleting=True), pod("d"), pod("e")]
    now = 1_900_000_000.0
    disrupted = {"d": "2030-03-17T17:46:40Z", "e": "2000-01-01T00:00:00Z"}  # d: 1_900_000_000 (fresh); e: long expired
    assert count_healthy(pods, disrupted, now, 120.0) == 2


# -- ttl-after-finished ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("job", "left"), [
    ({"spec": {"ttlSecondsAfterFinished": 100}, "status": {"conditions": [
        {"type": "Complete", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z"}]}}, 40.0),
    ({"spec": {"ttlSecondsAfterFinished": 10}, "status": {"conditions": [
        {"type": "Failed", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z"}]}}, -50.0),
    ({"spec": {"ttlSecondsAfterFinished": 10}, "status": {}}, None),
    ({"spec": {}, "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": "2030-01-01T00:00:00Z"}]}}, None),
], ids=["not-yet", "expired", "unfinished", "no-ttl"])
def test_ttl_time_left(job: dict[str, Any], left: float | None) -> None:
    job = {"metadata": {"name": "j", "namespace": "ns"}, **job}
    assert time_left(job, 1_893_456_000.0 + 60) == left


async def test_ttl_controller_deletes_with_foreground_and_uid() -> None:
    from kijabi.controllers.cluster import ttlafterfinished
    from kijabi.machinery.meta import rfc3339

    async with FakeCluster() as fc:
        done = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j", "namespace": "ns"},
                "spec": {"ttlSecondsAfterFinished": 30},
                "status": {"conditions": [{"type": "Complete", "status": "True", "lastTransitionTime": rfc3339(fc.clock.time())}]}}
        seeded = fc.api.seed(JOBS, done)
        c = await fc.build(ttlafterfinished.new)
        await fc.start(c)
        await until(lambda: fc.clock.pending() > 0)
        assert fc.api.get_object(JOBS, "j", "ns") is not None
        fc.clock.advance(31)
        await until(lambda: fc.api.get_object(JOBS, "j", "ns") is None)
        [delete] = fc.api.actions_of("delete", "jobs")
        assert delete.body["propagationPolicy"] == "Foreground"
        assert delete.body["preconditions"] == {"uid": seeded["metadata"]["uid"]}


# -- namespace conditions --------------------------------------------------------------------------------


def test_namespace_conditions_success_and_failure() -> None:
    status: dict[str, Any] = {}
    assert Conditions().apply(status, "t1")
    types = [c["type"] for c in status["conditions"]]
    assert types == ["NamespaceDeletionDiscoveryFailure", "NamespaceDeletionGroupVersionParsingFailure",
                     "NamespaceDeletionContentFailure", "NamespaceContentRemaining", "NamespaceFinalizersRemaining"]
    assert all(c["status"] == "False" for c in status["conditions"])
    assert not Conditions().apply(status, "t2")  # nothing changed
    c = Conditions()
    c.content_errors.append("pods is forbidden")
    c.content_totals({GVR("", "v1", "pods"): 2}, {"example.com/x": 2})
    assert c.apply(status, "t3")
    by_type = {x["type"]: x for x in status["conditions"]}
    assert by_type["NamespaceDeletionContentFailure"]["message"] == "Failed to delete all resource types, 1 remaining: pods is forbidden"
    assert by_type["NamespaceContentRemaining"]["message"] == "Some resources are remaining: pods. has 2 resource instances"
    assert by_type["NamespaceFinalizersRemaining"]["message"] == "Some finalizers are remaining: example.com/x in 2 resource instances"
    assert by_type["NamespaceContentRemaining"]["lastTransitionTime"] == "t3"


# -- serviceaccount --------------------------------------------------------------------------------------


async def test_default_service_account_only_in_active_namespaces() -> None:
    async with FakeCluster() as fc:
        fc.api.seed(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}, "status": {"phase": "Active"}})
        fc.api.seed(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"},
                                 "status": {"phase": "Terminating"}})
        c = await fc.build(serviceaccount.new)
        await fc.start(c)
        await until(lambda: fc.api.get_object(SERVICEACCOUNTS, "default", "a"))
        assert fc.api.get_object(SERVICEACCOUNTS, "default", "b") is None
        await fc.client.delete(SERVICEACCOUNTS, "default", namespace="a")
        await until(lambda: len(fc.api.actions_of("create", "serviceaccounts")) == 2)
        assert fc.api.get_object(SERVICEACCOUNTS, "default", "a") is not None
