"""Fixtures for the node runtime tests.

`node` is one private containerd for the whole session (with images imported and the test bridge
network configured), torn down by the agent cleanup; `cri` is a CRI connection to it per test. Both
live on the session event loop, so tests using them are marked `asyncio(loop_scope="session")`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from kijabi.kubelet.cri import CRIConnection
from tests.kubelet.node import Node, assert_clean, runtime_missing, start_node, stop_node, sweep_stale_nodes


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def node() -> AsyncIterator[Node]:
    reason = runtime_missing()
    if reason:
        import pytest

        pytest.skip(reason)
    sweep_stale_nodes()
    n = await start_node()
    try:
        yield n
    finally:
        await stop_node(n)
    assert_clean(n)


@pytest_asyncio.fixture(loop_scope="session")
async def cri(node: Node) -> AsyncIterator[CRIConnection]:
    conn = await node.containerd.connect()
    try:
        yield conn
    finally:
        await conn.close()
