"""Helpers shared by the storage tests (imported by module name: the test tree has no packages)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from kijabi.storage import Event


async def collect(events: AsyncIterator[Event], n: int, within: float = 10.0) -> list[Event]:
    """The next n events of a watch, failing after `within` seconds."""
    got: list[Event] = []
    async with asyncio.timeout(within):
        while len(got) < n:
            got.append(await anext(events))
    return got


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Wait until `check()` is true, polling; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        await asyncio.sleep(0.01)


def revisions(events: list[Event]) -> list[int]:
    return [e.kv.mod_revision for e in events]
