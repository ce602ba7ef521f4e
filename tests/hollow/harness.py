"""Hollow nodes, the scheduler and the deployment/replicaset controllers on one event loop in a thread.

Tests stay plain synchronous code (they drive kubectl too) and run coroutines on that loop through
`Components.call`, e.g. to read objects with the kijabi client.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from kijabi.client.rest import Client
from kijabi.controllers.context import Options
from kijabi.controllers.manager import run_controllers
from kijabi.hollow.nodes import HollowNodes
from kijabi.hollow.objects import NodeShape
from kijabi.scheduler.config import default_config
from kijabi.scheduler.main import SchedulerApp

T = TypeVar("T")


class Components:
    """Started with `start()`, stopped with `stop()`; `hollow` and `client` live on the thread's loop."""

    def __init__(self, kubeconfig: str, shape: NodeShape, *, ready_delay: float, lease_period: float,
                 scheduler: bool = True, controllers: tuple[str, ...] = ("deployment", "replicaset")) -> None:
        self.kubeconfig = kubeconfig
        self.shape = shape
        self.ready_delay = ready_delay
        self.lease_period = lease_period
        self.with_scheduler = scheduler
        self.controllers = list(controllers)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="hollow-components", daemon=True)
        self.client: Client | None = None
        self.hollow: HollowNodes | None = None
        self._main: asyncio.Task[None] | None = None

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self) -> Components:
        self.thread.start()
        self.call(self._build())
        assert self.hollow is not None
        self.call(self.hollow.registered.wait(), timeout=60)
        return self

    async def _build(self) -> None:
        self.client = Client.from_kubeconfig(self.kubeconfig, qps=-1)
        self.hollow = HollowNodes(self.client, self.shape, ready_delay=self.ready_delay,
                                  lease_period=self.lease_period)
        self._main = asyncio.create_task(self._run(), name="hollow test components")

    async def _run(self) -> None:
        assert self.client is not None and self.hollow is not None
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.hollow.run(), name="hollow nodes")
            if self.with_scheduler:
                cfg = default_config()
                cfg.leader_election.leader_elect = False
                tg.create_task(SchedulerApp(self.client, cfg, port=0).run(), name="scheduler")
            if self.controllers:
                tg.create_task(run_controllers(self.client, self.controllers, Options()), name="controllers")

    async def _shutdown(self) -> None:
        if self._main is not None:
            self._main.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._main
        if self.client is not None:
            await self.client.close()
        # let the tasks that were cancelled with their owners finish unwinding
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    def stop(self) -> None:
        self.call(self._shutdown())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def wait_for(cond: Callable[[], T], *, timeout: float = 30, interval: float = 0.1, what: str = "condition") -> T:
    """Poll `cond` until it returns something truthy (and return it); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T = cond()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)
        last = cond()
    return last
