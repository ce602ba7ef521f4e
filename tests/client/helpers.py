"""Waiting on conditions (never on time) and small object builders for the client tests."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any


async def until(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Yield to the loop until `cond()` holds; fail after `timeout` real seconds. The condition is about
    state that other tasks (or another process) change, so it is polled, with a deadline."""
    async with asyncio.timeout(timeout):
        while not cond():  # noqa: ASYNC110 - polling a condition owned by other tasks, bounded by a deadline
            await asyncio.sleep(0.001)


async def until_async(cond: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    """`until` for a condition that must ask the server."""
    async with asyncio.timeout(timeout):
        while not await cond():  # noqa: ASYNC110 - as above
            await asyncio.sleep(0.02)


async def settle(rounds: int = 20) -> None:
    """Let every ready task run (a fixed number of loop turns; used only where nothing observable changes)."""
    for _ in range(rounds):
        await asyncio.sleep(0)


def configmap(name: str, namespace: str = "default", labels: dict[str, str] | None = None, **data: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def pod(name: str, namespace: str = "default", node: str | None = None, labels: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
