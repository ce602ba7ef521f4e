"""The scheduling and binding cycles without an API server: bind calls, events, the PodScheduled
condition patch, binding failures, pods being deleted, an empty cluster."""

from __future__ import annotations

from typing import Any

from tests.scheduler.helpers import Harness, RecordingClient, node, pod


async def _attempt(h: Harness) -> None:
    q = h.scheduler.queue.pop_nowait()
    assert q is not None
    h.scheduler.schedule_one(q)
    await h.scheduler.wait_for_tasks()


def _events(h: Harness, reason: str) -> list[str]:
    return [msg for _, _, r, msg in h.recorder.events if r == reason]


async def test_successful_attempt_binds_and_records() -> None:
    client = RecordingClient()
    h = Harness([node("n1")], client=client)
    p = pod("p")
    h.add_pod(p)
    await _attempt(h)
    assert client.of("bind") == [("default/p", "n1")]
    assert _events(h, "Scheduled") == ["Successfully assigned default/p to n1"]
    assert h.scheduler.cache.is_assumed_pod(p)
    bound = {**p, "spec": {**p["spec"], "nodeName": "n1"}}
    h.scheduler.on_assigned_pod_add(bound)  # the informer confirms
    assert not h.scheduler.cache.is_assumed_pod(p)
    assert h.scheduler.metrics.schedule_attempts.get("default-scheduler", "scheduled") == 1
    assert h.scheduler.queue.in_flight() == 0


async def test_unschedulable_pod_gets_condition_and_event() -> None:
    client = RecordingClient()
    h = Harness([node("n1", cpu="1")], client=client)
    p = pod("p", cpu="2")
    h.add_pod(p)
    await _attempt(h)
    msg = ("0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
           "1 No preemption victims found for incoming pod.")
    assert _events(h, "FailedScheduling") == [msg]
    ((target, patch),) = client.of("patch")
    assert target == "pods/default/p/status"
    cond = patch["status"]["conditions"][0]
    assert (cond["type"], cond["status"], cond["reason"], cond["message"]) == (
        "PodScheduled", "False", "Unschedulable", msg)
    assert "nominatedNodeName" not in patch["status"]
    assert h.scheduler.queue.pending_counts()["unschedulable"] == 1
    assert h.scheduler.metrics.schedule_attempts.get("default-scheduler", "unschedulable") == 1


async def test_same_condition_is_not_patched_again() -> None:
    client = RecordingClient()
    h = Harness([node("n1", cpu="1")], client=client)
    p = pod("p", cpu="2")
    h.add_pod(p)
    await _attempt(h)
    cond = client.of("patch")[0][1]["status"]["conditions"][0]
    stored = {**p, "status": {"conditions": [cond]}, "metadata": {**p["metadata"], "resourceVersion": "2"}}
    h.pods.put(stored)
    h.scheduler.queue.activate([stored])
    await _attempt(h)
    assert len(client.of("patch")) == 1
    assert len(_events(h, "FailedScheduling")) == 2


async def test_binding_failure_forgets_and_retries() -> None:
    client = RecordingClient()
    client.fail["bind"] = RuntimeError("connection refused")
    h = Harness([node("n1")], client=client)
    p = pod("p")
    h.add_pod(p)
    await _attempt(h)
    assert not h.scheduler.cache.is_assumed_pod(p)
    assert h.scheduler.cache.get("n1").pods == []
    assert _events(h, "FailedScheduling") == ['running Bind plugin "DefaultBinder": connection refused']
    patch: dict[str, Any] = client.of("patch")[0][1]
    assert patch["status"]["conditions"][0]["reason"] == "SchedulerError"
    assert h.scheduler.queue.pending_counts()["backoff"] == 1  # an error is retried after backoff


async def test_pod_being_deleted_is_skipped() -> None:
    client = RecordingClient()
    h = Harness([node("n1")], client=client)
    p = pod("p")
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    h.add_pod(p)
    await _attempt(h)
    assert client.of("bind") == []
    assert _events(h, "FailedScheduling") == ["skip schedule deleting pod: default/p"]


async def test_no_nodes() -> None:
    client = RecordingClient()
    h = Harness([], client=client)
    p = pod("p")
    h.add_pod(p)
    await _attempt(h)
    assert _events(h, "FailedScheduling") == ["no nodes available to schedule pods"]
    h.clock.advance(2)
    h.scheduler.on_node_add(node("n1"))  # a node appears: the pod is retried
    assert h.scheduler.queue.pending_counts()["active"] == 1


async def test_preemption_sets_nominated_node_name() -> None:
    client = RecordingClient()
    h = Harness([node("n1", cpu="1")], [pod("low", cpu="1", node_name="n1", priority=1)], client=client)
    p = pod("high", cpu="1", priority=100)
    h.add_pod(p)
    await _attempt(h)
    status_patches = [b for t, b in client.of("patch") if t == "pods/default/high/status"]
    assert status_patches[0]["status"]["nominatedNodeName"] == "n1"
    assert [pi.name for pi in h.scheduler.queue.nominated_pods_for_node("n1")] == ["high"]
    assert client.of("delete") == [("pods/default/low", None)]
    assert h.scheduler.metrics.preemption_attempts.get() == 1


async def test_assumed_pod_gives_up_its_nomination() -> None:
    """Once assumed on a node, a nominated pod no longer holds its nomination (upstream
    DeleteNominatedPodIfExists): the node must not count it twice, as assumed and as nominated."""
    from kijabi.scheduler.framework.interface import MODE_OVERRIDE, NominatingInfo
    from kijabi.scheduler.framework.types import PodInfo

    h = Harness([node("n1", cpu="2"), node("n2", cpu="2")], client=RecordingClient())
    p = pod("p", cpu="1500m", priority=100)
    p["status"] = {"nominatedNodeName": "n1"}
    h.add_pod(p)
    h.scheduler.queue.add_nominated_pod(PodInfo(p), NominatingInfo("n1", MODE_OVERRIDE))
    assert [pi.name for pi in h.scheduler.nominated_pods_for_node("n1")] == ["p"]
    await _attempt(h)
    assert h.scheduler.cache.is_assumed_pod(p)
    assert not h.scheduler.nominated_pods_for_node("n1")
    assert h.filter(pod("other", cpu="400m", priority=100), "n1") is None  # 2 - 1.5 = 0.5 cpu left
