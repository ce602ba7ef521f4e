"""HollowNodes on fake time against the in-memory API server: lease batching, the ready delay, deletions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.config import Config
from kijabi.client.rest import LEASES, NODES, PODS, Client, RetryPolicy
from kijabi.client.testing import FakeAPIServer, FakeTransport
from kijabi.hollow.nodes import HollowNodes
from kijabi.hollow.objects import NodeShape


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the loop run (no fake time passes) until `cond` holds."""
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 - state changed by the tasks under test, bounded by a deadline
            await asyncio.sleep(0)


@dataclass
class Env:
    api: FakeAPIServer
    clock: FakeClock
    hollow: HollowNodes

    def lease_updates(self) -> int:
        return len(self.api.actions_of("update", "leases"))


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = FakeClock()
    api = FakeAPIServer(clock=clock)
    client = Client(Config(server="https://fake.invalid", qps=-1), transport=FakeTransport(api), clock=clock,
                    retry=RetryPolicy(max_retries=2, initial_backoff=0.01, jitter=0.0))
    hollow = HollowNodes(client, NodeShape(count=40), ready_delay=0.5, lease_period=10.0, concurrency=10, workers=2)
    task = asyncio.create_task(hollow.run())
    await asyncio.wait_for(hollow.registered.wait(), 5)
    await hollow.pods.wait_for_sync(5)
    yield Env(api, clock, hollow)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await client.close()


async def test_registration_creates_nodes_and_leases(env: Env) -> None:
    """Every node and its Lease (held by the node, owned by the Node) exist once `registered` is set."""
    assert len(env.api.list_objects(NODES)) == 40
    leases = env.api.list_objects(LEASES, "kube-node-lease")
    assert len(leases) == 40
    node_uid = env.api.get_object(NODES, "hollow-0")["metadata"]["uid"]  # type: ignore[index]
    lease = env.api.get_object(LEASES, "hollow-0", "kube-node-lease")
    assert lease is not None and lease["metadata"]["ownerReferences"][0]["uid"] == node_uid


async def test_leases_are_renewed_in_batches_spread_over_the_period(env: Env) -> None:
    """40 leases, 10 at a time: nothing before the period ends, then one batch every 2.5 s, each lease
    renewed exactly once per period."""
    await env.clock.wait_for_timers()
    env.clock.advance(9.9)
    await asyncio.sleep(0)
    assert env.lease_updates() == 0
    seen = []
    for step in (0.1, 2.5, 2.5, 2.5):
        env.clock.advance(step)
        expected = 10 * (len(seen) + 1)
        await until(lambda e=expected: env.lease_updates() == e)  # type: ignore[misc]
        seen.append(env.lease_updates())
    assert seen == [10, 20, 30, 40]
    assert sorted(a.name for a in env.api.actions_of("update", "leases")) == sorted(f"hollow-{i}" for i in range(40))


async def test_bound_pod_runs_only_after_the_ready_delay(env: Env) -> None:
    await env.hollow.client.create(PODS, {"metadata": {"name": "p", "namespace": "ns"}, "spec": {
        "nodeName": "hollow-2", "containers": [{"name": "c", "image": "x"}]}})
    await until(lambda: ("ns", "p") in env.hollow._waiting)
    assert (env.api.get_object(PODS, "p", "ns") or {}).get("status", {}).get("phase") is None
    env.clock.advance(0.5)
    await until(lambda: (env.api.get_object(PODS, "p", "ns") or {}).get("status", {}).get("phase") == "Running")
    status = env.api.get_object(PODS, "p", "ns")["status"]  # type: ignore[index]
    assert status["podIP"].startswith("10.42.") and status["hostIP"] == "10.41.0.3"


@pytest.mark.parametrize(("node", "deleted"), [("hollow-1", True), ("other-node", False)],
                         ids=["ours-confirmed", "not-ours-ignored"])
async def test_terminating_pod_is_deleted_with_grace_zero(env: Env, node: str, deleted: bool) -> None:
    env.api.seed(PODS, {"metadata": {"name": "t", "namespace": "ns", "deletionTimestamp": "2024-01-01T00:00:00Z",
                                     "finalizers": ["keep"]},
                        "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]}})
    marker = {"metadata": {"name": "m", "namespace": "ns"},
              "spec": {"nodeName": "hollow-3", "containers": [{"name": "c", "image": "x"}]}}
    await env.hollow.client.create(PODS, marker)
    await until(lambda: ("ns", "m") in env.hollow._waiting)  # the informer has seen both pods
    await until(lambda: not deleted or bool(env.api.actions_of("delete", "pods")))
    deletes = env.api.actions_of("delete", "pods")
    assert [(a.name, (a.body or {}).get("gracePeriodSeconds")) for a in deletes] == ([("t", 0)] if deleted else [])
