"""Fixtures of the client tests: fake time, the in-memory API, and one real kijabi server per session."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from kijabi.client import Client, Config, FakeClock
from kijabi.client.rest import NAMESPACES, RetryPolicy
from kijabi.client.testing import FakeAPIServer, FakeTransport
from tests.e2e.cluster import Cluster, start_cluster


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(clock: FakeClock) -> FakeAPIServer:
    return FakeAPIServer(clock=clock)


@pytest.fixture
def transport(api: FakeAPIServer) -> FakeTransport:
    return FakeTransport(api)


@pytest.fixture
async def client(transport: FakeTransport, clock: FakeClock) -> AsyncIterator[Client]:
    """A client of the in-memory API, on fake time, without QPS limit and with quick retries."""
    c = Client(Config(server="https://fake.invalid", qps=-1), transport=transport, clock=clock,
               retry=RetryPolicy(max_retries=3, initial_backoff=0.1, jitter=0.0))
    yield c
    await c.close()


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
    """A real client of the session's kijabi server (admin kubeconfig, no QPS limit)."""
    c = Client.from_kubeconfig(str(cluster.kubeconfig), qps=-1)
    yield c
    await c.close()


@pytest.fixture
async def ns(kube: Client) -> str:
    """A fresh namespace on the real server (left behind: deleting namespaces needs the controller-manager)."""
    name = "c-" + uuid.uuid4().hex[:8]
    await kube.create(NAMESPACES, {"metadata": {"name": name}})
    return name
