"""Helpers shared by the storage tests (imported by module name: the test tree has no packages)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from kijabi.storage import Event
from tests.storage.etcd_cluster import etcd_binary


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


def require_etcd() -> None:
    """Skip the calling test when the etcd binary is missing (Debian package etcd-server)."""
    if etcd_binary() is None:
        pytest.skip("etcd is not installed (Debian package etcd-server)")
