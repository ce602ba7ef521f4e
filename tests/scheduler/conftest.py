"""Fixtures of the scheduler's end-to-end tests: one real kijabi server per session, a real client,
and a SchedulerApp (informers, scheduler, events, HTTP) running in the test's event loop.

Every test uses its own scheduler name, so a scheduler that the server itself may run never touches
the test's pods, and deletes the nodes it created, so tests do not see each other's nodes."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from kijabi.client import Client
from kijabi.client.errors import NotFound
from kijabi.client.rest import GVR, NAMESPACES, NODES, PODS
from kijabi.scheduler.config import SchedulerConfig, parse_config
from kijabi.scheduler.main import SchedulerApp
from tests.e2e.cluster import Cluster, start_cluster
from tests.scheduler.helpers import node, pod

PRIORITY_CLASSES = GVR("scheduling.k8s.io", "v1", "priorityclasses")


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = start_cluster()
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture
async def kube(cluster: Cluster) -> AsyncIterator[Client]:
    c = Client.from_kubeconfig(str(cluster.kubeconfig), qps=-1)
    yield c
    await c.close()


class Env:
    """The test's namespace, scheduler name and created nodes, with helpers to drive the API."""

    def __init__(self, kube: Client, namespace: str, scheduler_name: str) -> None:
        self.kube = kube
        self.ns = namespace
        self.scheduler_name = scheduler_name
        self.nodes: list[str] = []

    async def add_node(self, name: str, **kw: Any) -> dict[str, Any]:
        n = node(f"{self.ns}-{name}", **kw)
        n["metadata"]["labels"]["kubernetes.io/hostname"] = n["metadata"]["name"]
        for key in ("uid", "resourceVersion"):
            del n["metadata"][key]
        self.nodes.append(n["metadata"]["name"])
        created = await self.kube.create(NODES, n)
        # TaintNodesByCondition admission taints new nodes not-ready; the node lifecycle controller would
        # lift it once the node reports Ready. The test plays that controller.
        want = n["spec"].get("taints") or None
        if created["spec"].get("taints") != want:
            created = await self.kube.patch(NODES, n["metadata"]["name"], {"spec": {"taints": want}})
        return created

    def node_name(self, short: str) -> str:
        return f"{self.ns}-{short}"

    async def add_pod(self, name: str, *, scheduler: str | None = None, **kw: Any) -> dict[str, Any]:
        p = pod(name, ns=self.ns, scheduler=scheduler or self.scheduler_name, **kw)
        for key in ("uid", "resourceVersion", "creationTimestamp"):
            del p["metadata"][key]
        del p["status"]
        return await self.kube.create(PODS, p, namespace=self.ns)

    async def get_pod(self, name: str) -> dict[str, Any]:
        return await self.kube.get(PODS, name, namespace=self.ns)

    async def wait_pod(self, name: str, predicate: Callable[[dict[str, Any]], bool],
                       timeout: float = 20.0) -> dict[str, Any]:
        """The pod once `predicate` holds, watched (no polling); TimeoutError after `timeout`."""
        async with asyncio.timeout(timeout):
            while True:
                current = await self.get_pod(name)
                if predicate(current):
                    return current
                w = self.kube.watch(PODS, namespace=self.ns, field_selector=f"metadata.name={name}",
                                    resource_version=current["metadata"]["resourceVersion"])
                async with w:
                    async for event in w:
                        if event.type in ("ADDED", "MODIFIED") and predicate(event.object):
                            return event.object

    async def bound_node(self, name: str, timeout: float = 20.0) -> str:
        p = await self.wait_pod(name, lambda o: bool((o.get("spec") or {}).get("nodeName")), timeout)
        return str(p["spec"]["nodeName"])

    async def wait_event(self, pod_name: str, reason: str, timeout: float = 20.0) -> dict[str, Any]:
        """The newest core/v1 Event with `reason` about pod `pod_name`."""
        from kijabi.client.rest import EVENTS

        async with asyncio.timeout(timeout):
            while True:
                lst = await self.kube.list(EVENTS, namespace=self.ns)
                for e in reversed(lst["items"]):
                    if e.get("reason") == reason and (e.get("involvedObject") or {}).get("name") == pod_name:
                        return e
                w = self.kube.watch(EVENTS, namespace=self.ns, resource_version=lst["metadata"]["resourceVersion"])
                async with w:
                    async for event in w:
                        e = event.object
                        if e.get("reason") == reason and (e.get("involvedObject") or {}).get("name") == pod_name:
                            return e

    async def cleanup(self) -> None:
        lst = await self.kube.list(PODS, namespace=self.ns)
        for p in lst["items"]:
            try:
                await self.kube.delete(PODS, p["metadata"]["name"], namespace=self.ns, grace_period_seconds=0)
            except NotFound:
                pass
        for name in self.nodes:
            try:
                await self.kube.delete(NODES, name)
            except NotFound:
                pass


@pytest.fixture
async def env(kube: Client) -> AsyncIterator[Env]:
    suffix = uuid.uuid4().hex[:6]
    ns = f"sched-{suffix}"
    await kube.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    e = Env(kube, ns, f"e2e-{suffix}")
    try:
        yield e
    finally:
        await e.cleanup()


def e2e_config(*names: str, **extra: Any) -> SchedulerConfig:
    """Default profiles under the given scheduler names, leader election off."""
    return parse_config({"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration",
                         "leaderElection": {"leaderElect": False},
                         "profiles": [{"schedulerName": n} for n in names], **extra})


class Running:
    def __init__(self, app: SchedulerApp, task: asyncio.Task[None]) -> None:
        self.app = app
        self.task = task

    async def stop(self) -> None:
        self.task.cancel()
        try:
            await self.task
        except (asyncio.CancelledError, SystemExit):
            pass


async def start_app(kube: Client, config: SchedulerConfig, **kw: Any) -> Running:
    app = SchedulerApp(kube, config, port=0, **kw)
    task = asyncio.create_task(app.run(), name="scheduler app")
    started = asyncio.create_task(app.started.wait())
    done, _ = await asyncio.wait({task, started}, timeout=20, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        started.cancel()
        task.result()
    if started not in done:
        task.cancel()
        raise TimeoutError("the scheduler did not start")
    return Running(app, task)


@pytest.fixture
async def scheduler(kube: Client, env: Env) -> AsyncIterator[Running]:
    """A scheduler (default plugins) serving the test's scheduler name."""
    running = await start_app(kube, e2e_config(env.scheduler_name))
    try:
        yield running
    finally:
        await running.stop()
