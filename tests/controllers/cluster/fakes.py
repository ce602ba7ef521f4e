"""Unit-test rig: a controller built against kijabi.client.testing.FakeAPIServer, on fake time.

    async with FakeCluster(extra={"pod_gc_period": 1}) as fc:
        c = fc.build(podgc.new)
        fc.api.seed(PODS, pod)
        await fc.start(c)
        ...
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

from kijabi.client.clock import FakeClock
from kijabi.client.config import Config
from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.rest import Client, RetryPolicy
from kijabi.client.testing import FakeAPIServer, FakeTransport
from kijabi.controllers.context import ControllerContext, Options


async def until(cond: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Let other tasks run until `cond()` is truthy (real-time deadline)."""
    async with asyncio.timeout(timeout):
        while not (value := cond()):  # noqa: ASYNC110 - the condition is changed by tasks under test
            await asyncio.sleep(0.001)
    return value


async def until_async(cond: Callable[[], Awaitable[Any]], timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        while not (value := await cond()):  # noqa: ASYNC110 - the condition is changed by tasks under test
            await asyncio.sleep(0.001)
    return value


class FakeCluster:
    def __init__(self, *, options: Options | None = None, extra: dict[str, Any] | None = None, **fields: Any) -> None:
        self.clock = FakeClock()
        self.api = FakeAPIServer(clock=self.clock)
        self.client = Client(Config(server="https://fake.invalid", qps=-1), transport=FakeTransport(self.api),
                             clock=self.clock, retry=RetryPolicy(max_retries=2, initial_backoff=0.01, jitter=0.0))
        opts = options or Options(**fields)
        if extra:
            opts.extra.update(extra)
        self.factory = SharedInformerFactory(self.client, clock=self.clock)
        self.events = EventBroadcaster(self.client, clock=self.clock)
        self.ctx = ControllerContext(client=self.client, informers=self.factory, events=self.events, options=opts,
                                     clock=self.clock)
        self.tasks: list[asyncio.Task[Any]] = []

    async def __aenter__(self) -> FakeCluster:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        for t in self.tasks:
            t.cancel()
        for t in self.tasks:
            try:
                await t
            except (asyncio.CancelledError, Exception):
                pass
        await self.factory.shutdown()
        await self.client.close()

    async def build(self, constructor: Callable[[ControllerContext], Any]) -> Any:
        built = constructor(self.ctx)
        if inspect.isawaitable(built):
            built = await built
        return built

    async def start(self, *controllers: Any) -> None:
        self.factory.start()
        self.tasks.append(asyncio.create_task(self.events.run()))
        for c in controllers:
            self.tasks.append(asyncio.create_task(c.run()))
        await self.factory.wait_for_cache_sync(5)

    def objects(self, gvr: Any, namespace: str | None = None) -> list[dict[str, Any]]:
        return self.api.list_objects(gvr, namespace)

    def event_reasons(self) -> list[tuple[str, str]]:
        from kijabi.client.rest import EVENTS

        return [(e["reason"], e["message"]) for e in self.api.list_objects(EVENTS)]
