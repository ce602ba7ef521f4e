"""Controller behaviour against the in-memory API (kijabi.client.testing.FakeAPIServer) on fake time:
slow-start creation and expectations, CronJob scheduling and concurrency, Job backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kijabi.client import Client, Config, FakeClock
from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.rest import JOBS, PODS, REPLICASETS, RetryPolicy
from kijabi.client.testing import FakeAPIServer, FakeTransport
from kijabi.controllers.context import ControllerContext, Options
from kijabi.controllers.workloads import CONTROLLERS
from kijabi.controllers.workloads._history import CONTROLLERREVISIONS
from kijabi.controllers.workloads.cronjob import CRONJOBS
from kijabi.machinery.meta import rfc3339


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 - state owned by the controller's tasks, bounded by a deadline
            await asyncio.sleep(0.002)


class Env:
    def __init__(self, api: FakeAPIServer, client: Client, clock: FakeClock) -> None:
        self.api, self.client, self.clock = api, client, clock
        self.tasks: list[asyncio.Task[Any]] = []

    async def start(self, *names: str) -> None:
        factory = SharedInformerFactory(self.client)
        events = EventBroadcaster(self.client)
        ctx = ControllerContext(client=self.client, informers=factory, events=events, options=Options(), clock=self.clock)
        controllers = [CONTROLLERS[n](ctx) for n in names]
        factory.start()
        self.tasks += [asyncio.create_task(c.run()) for c in controllers]  # type: ignore[union-attr]
        self.tasks.append(events.start())
        await factory.wait_for_cache_sync(5)
        self.factory = factory

    def creates(self, resource: str) -> list[Any]:
        return self.api.actions_of("create", resource)

    def events(self) -> list[str]:
        return [o["message"] for o in self.api.list_objects(EVENTS)]


from kijabi.client.rest import EVENTS  # noqa: E402


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    clock = FakeClock(wall=1_704_103_200.0)  # 2024-01-01T10:00:00Z
    api = FakeAPIServer(clock=clock)
    api.register(CRONJOBS, "CronJob", status=True)
    api.register(CONTROLLERREVISIONS, "ControllerRevision")
    client = Client(Config(server="https://fake.invalid", qps=-1), transport=FakeTransport(api), clock=clock,
                    retry=RetryPolicy(max_retries=2, initial_backoff=0.01, jitter=0.0))
    e = Env(api, client, clock)
    yield e
    for t in e.tasks:
        t.cancel()
    await asyncio.gather(*e.tasks, return_exceptions=True)
    await e.factory.shutdown()
    await client.close()


def replicaset(name: str, replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "ns"}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "x"}]}}}}


async def test_replicaset_slow_start_and_no_double_create(env: Env) -> None:
    """10 replicas are created once each (expectations hold back re-syncs while the informer lags),
    pods are named <rs>-<5 chars> and carry a controller ownerReference; status counts them."""
    await env.start("replicaset")
    await env.client.create(REPLICASETS, replicaset("web", 10))
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 10)
    await until(lambda: (env.api.get_object(REPLICASETS, "web", "ns") or {}).get("status", {}).get("replicas") == 10)
    assert len(env.creates("pods")) == 10
    pod = env.api.list_objects(PODS, "ns")[0]
    assert pod["metadata"]["name"].startswith("web-") and len(pod["metadata"]["name"]) == 9
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["controller"], ref["blockOwnerDeletion"]) == ("ReplicaSet", True, True)
    await env.client.scale(REPLICASETS, "web", 4, namespace="ns")
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 4)
    assert len(env.api.actions_of("delete", "pods")) == 6


async def test_replicaset_adopts_and_releases(env: Env) -> None:
    """A matching orphan pod is adopted (counts toward replicas); a pod whose labels stop matching is
    released and replaced."""
    await env.client.create(PODS, {"metadata": {"name": "stray", "namespace": "ns", "labels": {"app": "a"}},
                                   "spec": {"containers": [{"name": "c", "image": "x"}]}})
    await env.start("replicaset")
    await env.client.create(REPLICASETS, replicaset("a", 2))
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 2)
    await until(lambda: bool((env.api.get_object(PODS, "stray", "ns") or {})["metadata"].get("ownerReferences")))
    await env.client.patch(PODS, "stray", {"metadata": {"labels": {"app": "other"}}}, namespace="ns")
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 3)
    await until(lambda: not (env.api.get_object(PODS, "stray", "ns") or {})["metadata"].get("ownerReferences"))


def cronjob(name: str, policy: str = "Allow", **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": "ns"}, "spec": {
        "schedule": "*/5 * * * *", "concurrencyPolicy": policy, **spec,
        "jobTemplate": {"metadata": {"labels": {"t": "1"}}, "spec": {"template": {"spec": {
            "restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}}}}


async def _advance_until(env: Env, cond: Callable[[], bool], step: float = 60.0, limit: int = 20) -> None:
    for _ in range(limit):
        if cond():
            return
        env.clock.advance(step)
        await asyncio.sleep(0.02)
    await until(cond)


async def test_cronjob_fires_on_fake_time(env: Env) -> None:
    """At 10:05 the job <cj>-<minutes> is created with the scheduled timestamp; lastScheduleTime and
    status.active record it; a finished job leaves active and sets lastSuccessfulTime."""
    await env.start("cronjob")
    await env.client.create(CRONJOBS, cronjob("c"))
    await _advance_until(env, lambda: bool(env.api.list_objects(JOBS, "ns")))
    job = env.api.list_objects(JOBS, "ns")[0]
    assert job["metadata"]["name"] == "c-28401725"
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2024-01-01T10:05:00Z"
    assert job["metadata"]["labels"] == {"t": "1"}
    await until(lambda: (env.api.get_object(CRONJOBS, "c", "ns") or {}).get("status", {}).get("active") is not None)
    st = env.api.get_object(CRONJOBS, "c", "ns")["status"]  # type: ignore[index]
    assert st["lastScheduleTime"] == "2024-01-01T10:05:00Z" and st["active"][0]["name"] == "c-28401725"
    job["status"] = {"conditions": [{"type": "Complete", "status": "True"}], "completionTime": rfc3339(env.clock.time())}
    await env.client.update_status(JOBS, job)
    await until(lambda: "lastSuccessfulTime" in (env.api.get_object(CRONJOBS, "c", "ns") or {}).get("status", {}))
    assert "active" not in env.api.get_object(CRONJOBS, "c", "ns")["status"]  # type: ignore[index]
    assert "Saw completed job: c-28401725, condition: Complete" in env.events()


async def test_cronjob_forbid_skips_while_active(env: Env) -> None:
    await env.start("cronjob")
    await env.client.create(CRONJOBS, cronjob("f", "Forbid"))
    await _advance_until(env, lambda: len(env.api.list_objects(JOBS, "ns")) == 1)
    await until(lambda: bool((env.api.get_object(CRONJOBS, "f", "ns") or {}).get("status", {}).get("active")))
    await _advance_until(env, lambda: "Not starting job because prior execution is running and concurrency policy is Forbid"
                         in env.events(), step=300.0)
    assert len(env.api.list_objects(JOBS, "ns")) == 1


async def test_cronjob_starting_deadline_missed(env: Env) -> None:
    """A run missed by more than startingDeadlineSeconds (the controller was down at 10:05 and looks at
    10:05:30 with a 10 s deadline) is not started late; the next schedule, 10:10, is."""
    await env.client.create(CRONJOBS, cronjob("d", startingDeadlineSeconds=10))
    env.clock.advance(330)
    await env.start("cronjob")
    await asyncio.sleep(0.05)
    assert env.api.list_objects(JOBS, "ns") == []
    await _advance_until(env, lambda: bool(env.api.list_objects(JOBS, "ns")), step=5.0, limit=80)
    assert env.api.list_objects(JOBS, "ns")[0]["metadata"]["name"] == "d-28401730"


def job(name: str, **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "ns"}, "spec": {
        "selector": {"matchLabels": {"j": name}}, "manualSelector": True, "parallelism": 1, "completions": 1,
        "backoffLimit": 6, **spec,
        "template": {"metadata": {"labels": {"j": name}}, "spec": {"restartPolicy": "Never",
                                                                   "containers": [{"name": "c", "image": "x"}]}}}}


async def _finish(env: Env, pod: dict[str, Any], phase: str, code: int) -> None:
    pod["status"] = {"phase": phase, "containerStatuses": [{"name": "c", "state": {"terminated": {
        "exitCode": code, "finishedAt": rfc3339(env.clock.time())}}}]}
    await env.client.update_status(PODS, pod)


async def test_job_failure_backoff_delays_replacement(env: Env) -> None:
    """After a failed pod the replacement waits 10 s (fake time); the failure is counted once, through
    uncountedTerminatedPods, and the tracking finalizer is removed."""
    await env.start("job")
    await env.client.create(JOBS, job("b"))
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 1)
    first = env.api.list_objects(PODS, "ns")[0]
    assert first["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    await _finish(env, first, "Failed", 1)
    await until(lambda: (env.api.get_object(JOBS, "b", "ns") or {}).get("status", {}).get("failed") == 1)
    await until(lambda: not env.api.get_object(PODS, first["metadata"]["name"], "ns")["metadata"].get("finalizers"))  # type: ignore[index]
    await asyncio.sleep(0.05)
    assert len(env.api.list_objects(PODS, "ns")) == 1
    env.clock.advance(11)
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 2)
    second = next(p for p in env.api.list_objects(PODS, "ns") if p["metadata"]["name"] != first["metadata"]["name"])
    await _finish(env, second, "Succeeded", 0)
    await until(lambda: any(c["type"] == "Complete" for c in
                            (env.api.get_object(JOBS, "b", "ns") or {}).get("status", {}).get("conditions", [])))
    st = env.api.get_object(JOBS, "b", "ns")["status"]  # type: ignore[index]
    assert (st["succeeded"], st["failed"]) == (1, 1)
    assert [c["type"] for c in st["conditions"]] == ["SuccessCriteriaMet", "Complete"]


async def test_job_active_deadline(env: Env) -> None:
    """activeDeadlineSeconds: the running pod is deleted and the job fails with DeadlineExceeded."""
    await env.start("job")
    await env.client.create(JOBS, job("d", activeDeadlineSeconds=30))
    await until(lambda: len(env.api.list_objects(PODS, "ns")) == 1)
    await until(lambda: "startTime" in (env.api.get_object(JOBS, "d", "ns") or {}).get("status", {}))
    env.clock.advance(31)

    def failed() -> bool:
        conds = (env.api.get_object(JOBS, "d", "ns") or {}).get("status", {}).get("conditions", [])
        return any(c["type"] == "Failed" and c["reason"] == "DeadlineExceeded" for c in conds)

    await until(failed)
    assert env.api.actions_of("delete", "pods")
