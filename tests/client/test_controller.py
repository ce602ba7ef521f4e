"""The controller base: informer -> queue -> workers -> sync(key), with forget / requeue / done."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.controller import Controller
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.rest import CONFIGMAPS, Client
from kijabi.client.testing import FakeAPIServer
from kijabi.client.workqueue import ItemExponentialFailureRateLimiter, RateLimitingQueue
from tests.client.helpers import configmap, until


class Mirror(Controller):
    """Keeps a "<name>-mirror" ConfigMap with the same data as every ConfigMap labelled mirror=yes."""

    def __init__(self, client: Client, factory: SharedInformerFactory, clock: FakeClock, **kwargs: Any) -> None:
        super().__init__("mirror", clock=clock,
                         queue=RateLimitingQueue(ItemExponentialFailureRateLimiter(1.0, 60.0), clock=clock), **kwargs)
        self.client = client
        self.informer = factory.informer(CONFIGMAPS)
        self.informer.add_event_handler(self.handler(filter=lambda o: (o["metadata"].get("labels") or {}).get("mirror") == "yes"))
        self.watches(self.informer)
        self.synced: list[str] = []
        self.fail: dict[str, int] = {}
        self.recheck: float | None = None
        self.active: set[str] = set()
        self.overlaps = 0
        self.gate: asyncio.Event | None = None

    async def sync(self, key: str) -> float | None:
        if key in self.active:
            self.overlaps += 1
        self.active.add(key)
        try:
            if self.gate is not None:
                await self.gate.wait()
            self.synced.append(key)
            if self.fail.get(key, 0) > 0:
                self.fail[key] -= 1
                raise RuntimeError(f"transient failure for {key}")
            ns, name = key.split("/")
            src = self.informer.lister().get(name, ns)
            if src is None:
                return None
            body = configmap(f"{name}-mirror", ns, **(src.get("data") or {}))
            await self.client.apply(CONFIGMAPS, body, field_manager="mirror")
            return self.recheck
        finally:
            self.active.discard(key)


@pytest.fixture
async def setup(client: Client, clock: FakeClock) -> AsyncIterator[tuple[Mirror, SharedInformerFactory]]:
    factory = SharedInformerFactory(client, clock=clock)
    yield Mirror(client, factory, clock), factory
    await factory.shutdown()


async def _run(ctrl: Controller, factory: SharedInformerFactory) -> asyncio.Task[None]:
    factory.start()
    return asyncio.create_task(ctrl.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def test_objects_are_reconciled_through_keys(setup: tuple[Mirror, SharedInformerFactory], api: FakeAPIServer,
                                                   client: Client) -> None:
    ctrl, factory = setup
    api.seed(CONFIGMAPS, configmap("a", labels={"mirror": "yes"}, x="1"))
    api.seed(CONFIGMAPS, configmap("ignored"))
    task = await _run(ctrl, factory)
    try:
        await until(lambda: api.get_object(CONFIGMAPS, "a-mirror", "default") is not None)
        await client.patch(CONFIGMAPS, "a", {"data": {"x": "2"}}, namespace="default")
        await until(lambda: (api.get_object(CONFIGMAPS, "a-mirror", "default") or {}).get("data") == {"x": "2"})
        assert set(ctrl.synced) == {"default/a"} and ctrl.queue.num_requeues("default/a") == 0
    finally:
        await _stop(task)
    assert ctrl.queue.shutting_down


async def test_failures_are_retried_with_backoff_then_forgotten(setup: tuple[Mirror, SharedInformerFactory],
                                                                api: FakeAPIServer, clock: FakeClock) -> None:
    ctrl, factory = setup
    ctrl.fail["default/a"] = 2
    api.seed(CONFIGMAPS, configmap("a", labels={"mirror": "yes"}))
    task = await _run(ctrl, factory)
    try:
        await until(lambda: len(ctrl.synced) == 1)
        await until(lambda: ctrl.queue.waiting() == 1)
        assert ctrl.queue.num_requeues("default/a") == 1
        clock.advance(0.99)
        await asyncio.sleep(0)
        assert len(ctrl.synced) == 1
        clock.advance(0.01)  # first retry after 1 s
        await until(lambda: len(ctrl.synced) == 2 and ctrl.queue.waiting() == 1)
        clock.advance(2.0)  # second retry after 2 s
        await until(lambda: api.get_object(CONFIGMAPS, "a-mirror", "default") is not None)
        assert ctrl.queue.num_requeues("default/a") == 0
    finally:
        await _stop(task)


async def test_returned_delay_schedules_a_recheck(setup: tuple[Mirror, SharedInformerFactory], api: FakeAPIServer,
                                                  clock: FakeClock) -> None:
    ctrl, factory = setup
    ctrl.recheck = 30.0
    api.seed(CONFIGMAPS, configmap("a", labels={"mirror": "yes"}))
    task = await _run(ctrl, factory)
    try:
        await until(lambda: len(ctrl.synced) == 1 and ctrl.queue.waiting() == 1)
        clock.advance(30.0)
        await until(lambda: len(ctrl.synced) == 2)
        assert ctrl.queue.num_requeues("default/a") == 0
    finally:
        await _stop(task)


async def test_max_retries_drops_the_key(client: Client, clock: FakeClock, api: FakeAPIServer) -> None:
    factory = SharedInformerFactory(client, clock=clock)
    ctrl = Mirror(client, factory, clock, max_retries=1)
    ctrl.fail["default/a"] = 100
    api.seed(CONFIGMAPS, configmap("a", labels={"mirror": "yes"}))
    task = await _run(ctrl, factory)
    try:
        await until(lambda: ctrl.queue.waiting() == 1)
        clock.advance(1.0)
        await until(lambda: len(ctrl.synced) == 2)
        await until(lambda: not ctrl.queue.is_processing("default/a"))
        assert ctrl.queue.waiting() == 0 and ctrl.queue.num_requeues("default/a") == 0
    finally:
        await _stop(task)
        await factory.shutdown()


async def test_a_key_is_never_synced_by_two_workers_at_once(client: Client, clock: FakeClock, api: FakeAPIServer) -> None:
    factory = SharedInformerFactory(client, clock=clock)
    ctrl = Mirror(client, factory, clock, workers=4)
    ctrl.gate = asyncio.Event()
    api.seed(CONFIGMAPS, configmap("a", labels={"mirror": "yes"}))
    api.seed(CONFIGMAPS, configmap("b", labels={"mirror": "yes"}))
    task = await _run(ctrl, factory)
    try:
        await until(lambda: ctrl.active == {"default/a", "default/b"})
        for _ in range(5):  # updates while both keys are in sync: each is marked dirty once
            ctrl.enqueue("default/a")
            ctrl.enqueue("default/b")
        await asyncio.sleep(0)
        assert ctrl.active == {"default/a", "default/b"} and len(ctrl.queue) == 0
        ctrl.gate.set()
        await until(lambda: len(ctrl.synced) == 4 and not ctrl.active)
        assert ctrl.overlaps == 0 and sorted(ctrl.synced) == ["default/a", "default/a", "default/b", "default/b"]
    finally:
        await _stop(task)
        await factory.shutdown()


async def test_workers_start_only_after_caches_sync(setup: tuple[Mirror, SharedInformerFactory]) -> None:
    ctrl, _ = setup  # the factory is never started: the cache never syncs
    ctrl.cache_sync_timeout = 0.05
    ctrl.enqueue("default/a")
    with pytest.raises(TimeoutError, match="caches did not sync"):
        await ctrl.run()
    assert ctrl.synced == []
