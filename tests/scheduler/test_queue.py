"""The scheduling queue on fake time: order, backoff, requeue on cluster events with queueing hints,
in-flight events, the unschedulable timeout, scheduling gates and the nominator."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kijabi.scheduler.framework import events as ev
from kijabi.scheduler.framework.interface import MODE_OVERRIDE, NominatingInfo
from kijabi.scheduler.framework.types import PodInfo, QueuedPodInfo
from kijabi.scheduler.queue import SchedulingQueue
from tests.scheduler.helpers import Harness, node, pod


def names(q: SchedulingQueue) -> list[str]:
    out = []
    while (item := q.pop_nowait()) is not None:
        out.append(item.pod_info.name)
    return out


def fail(h: Harness, plugins: set[str]) -> QueuedPodInfo:
    """Pop the next pod and put it back as refused by `plugins`."""
    q = h.scheduler.queue.pop_nowait()
    assert q is not None
    q.unschedulable_plugins = set(plugins)
    h.scheduler.queue.add_unschedulable_if_not_present(q, h.scheduler.queue.scheduling_cycle)
    return q


def where(h: Harness, p: dict[str, Any]) -> str:
    q = h.scheduler.queue
    uid = p["metadata"]["uid"]
    if uid in q.active:
        return "active"
    if uid in q.backoff:
        return "backoff"
    if uid in q.unschedulable:
        return "unschedulable"
    return "none"


def test_priority_then_age_order() -> None:
    h = Harness()
    h.add_pod(pod("old-low", priority=1))
    h.clock.advance(1)
    h.add_pod(pod("high", priority=10))
    h.clock.advance(1)
    h.add_pod(pod("new-low", priority=1))
    assert names(h.scheduler.queue) == ["high", "old-low", "new-low"]


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)])
def test_backoff_doubles_up_to_the_maximum(attempts: int, seconds: float) -> None:
    h = Harness()
    q = QueuedPodInfo(PodInfo(pod("p")), 0.0)
    q.attempts = attempts
    assert h.scheduler.queue.backoff_duration(q) == seconds


def test_failed_pod_waits_for_an_event_its_plugin_registered() -> None:
    """Refused by NodeResourcesFit: a node label change does nothing, a node add that fits moves it."""
    h = Harness()
    p = pod("p", cpu="2")
    h.add_pod(p)
    fail(h, {"NodeResourcesFit"})
    assert where(h, p) == "unschedulable"
    small, big = node("small", cpu="1"), node("big", cpu="4")
    h.scheduler.on_node_add(small)  # hint: does not fit -> skip
    assert where(h, p) == "unschedulable"
    relabeled = {**big, "metadata": {**big["metadata"], "labels": {"x": "y"}}}
    h.scheduler.queue.move_all_to_active_or_backoff(ev.node_scheduling_changes(relabeled, big)[0], big, relabeled)
    assert where(h, p) == "unschedulable"
    h.scheduler.on_node_add(big)
    assert where(h, p) == "backoff"  # still within its 1 s backoff
    h.clock.advance(0.5)
    assert h.scheduler.queue.flush_backoff_completed() == 0
    h.clock.advance(0.5)  # the backoff timer fires
    assert where(h, p) == "active"


def test_event_after_backoff_goes_straight_to_active() -> None:
    h = Harness()
    p = pod("p")
    h.add_pod(p)
    fail(h, {"TaintToleration"})
    h.clock.advance(2)
    h.scheduler.on_node_add(node("n1"))
    assert where(h, p) == "active"


def test_assigned_pod_delete_moves_pods_rejected_for_resources() -> None:
    h = Harness([node("n1", cpu="1")])
    blocker = pod("blocker", cpu="1", node_name="n1")
    h.add_pod(blocker)
    p = pod("p", cpu="1")
    h.add_pod(p)
    fail(h, {"NodeResourcesFit"})
    h.clock.advance(5)
    h.scheduler.on_assigned_pod_delete(blocker)
    assert where(h, p) == "active"


def test_events_during_the_attempt_requeue_at_once() -> None:
    """A node added while the pod was being scheduled sends it to backoff/active, not unschedulable."""
    h = Harness()
    p = pod("p")
    h.add_pod(p)
    q = h.scheduler.queue.pop_nowait()
    assert q is not None
    h.scheduler.on_node_add(node("n1"))  # arrives while the pod is in flight
    q.unschedulable_plugins = {"NodeResourcesFit"}
    h.scheduler.queue.add_unschedulable_if_not_present(q, h.scheduler.queue.scheduling_cycle)
    assert where(h, p) == "backoff"
    assert h.scheduler.queue.in_flight() == 0


def test_pod_without_rejecting_plugins_is_retried_after_backoff() -> None:
    """An error (no plugin to blame) goes to backoff, never to unschedulable."""
    h = Harness()
    p = pod("p")
    h.add_pod(p)
    fail(h, set())
    assert where(h, p) == "backoff"


def test_unschedulable_timeout() -> None:
    h = Harness()
    p = pod("p")
    h.add_pod(p)
    fail(h, {"NodeResourcesFit"})
    h.clock.advance(299)
    h.scheduler.queue.flush_unschedulable_leftover()
    assert where(h, p) == "unschedulable"
    h.clock.advance(2)
    h.scheduler.queue.flush_unschedulable_leftover()
    assert where(h, p) == "active"


def test_scheduling_gates() -> None:
    """A gated pod waits as gated; removing its gates makes it active."""
    h = Harness()
    gated = pod("g", schedulingGates=[{"name": "example.com/wait"}])
    h.add_pod(gated)
    assert where(h, gated) == "unschedulable"
    assert h.scheduler.queue.pending_counts()["gated"] == 1
    h.scheduler.on_node_add(node("n1"))
    assert where(h, gated) == "unschedulable"
    ungated = {**gated, "spec": {**gated["spec"], "schedulingGates": []},
               "metadata": {**gated["metadata"], "resourceVersion": "2"}}
    h.scheduler.on_unscheduled_pod_update(gated, ungated)
    assert where(h, gated) == "active"
    st = h.fwk.run_pre_enqueue_plugins(pod("x", schedulingGates=[{"name": "a"}, {"name": "b"}]))
    assert st.reasons == ["waiting for scheduling gates: [a b]"]


def test_delete_removes_from_every_queue() -> None:
    h = Harness()
    a, b = pod("a"), pod("b")
    h.add_pod(a)
    h.add_pod(b)
    fail(h, {"NodeResourcesFit"})
    for p in (a, b):
        h.scheduler.on_unscheduled_pod_delete(p)
    assert len(h.scheduler.queue) == 0


def test_update_of_active_pod_keeps_it_active() -> None:
    h = Harness()
    p = pod("p", labels={"v": "1"})
    h.add_pod(p)
    newer = {**p, "metadata": {**p["metadata"], "labels": {"v": "2"}, "resourceVersion": "2"}}
    h.scheduler.on_unscheduled_pod_update(p, newer)
    q = h.scheduler.queue.pop_nowait()
    assert q is not None and q.pod_info.labels == {"v": "2"}


def test_nominator() -> None:
    h = Harness()
    p = pod("p", priority=5)
    h.pods.put(p)
    queue = h.scheduler.queue
    queue.add_nominated_pod(PodInfo(p), NominatingInfo("n1", MODE_OVERRIDE))
    assert [pi.name for pi in queue.nominated_pods_for_node("n1")] == ["p"]
    # an update without nominatedNodeName keeps the in-memory nomination
    queue.nominator.update(p, PodInfo({**p, "metadata": {**p["metadata"], "resourceVersion": "2"}}))
    assert [pi.name for pi in queue.nominated_pods_for_node("n1")] == ["p"]
    h.scheduler.on_unscheduled_pod_delete(p)
    assert not queue.nominated_pods_for_node("n1")
    bound = pod("b", node_name="n2")
    h.pods.put(bound)
    queue.add_nominated_pod(PodInfo(bound), NominatingInfo("n1", MODE_OVERRIDE))
    assert not queue.nominated_pods_for_node("n1")  # already scheduled: not nominated


async def test_pop_waits_for_a_pod_and_backoff_timer_fires() -> None:
    h = Harness()
    queue = h.scheduler.queue
    waiter = asyncio.create_task(queue.pop())
    await asyncio.sleep(0)
    assert not waiter.done()
    p = pod("p")
    h.add_pod(p)
    q = await asyncio.wait_for(waiter, 1)
    assert q.pod_info.name == "p"
    q.unschedulable_plugins = set()
    queue.add_unschedulable_if_not_present(q, queue.scheduling_cycle)
    assert where(h, p) == "backoff"
    waiter = asyncio.create_task(queue.pop())
    await h.clock.wait_for_timers(1)
    h.clock.advance(1)  # the backoff timer moves it to active and wakes the popper
    assert (await asyncio.wait_for(waiter, 1)).pod_info.name == "p"
