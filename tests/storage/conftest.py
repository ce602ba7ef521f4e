"""Fixtures of the storage conformance suite.

Every test that takes `store` runs against every backend in BACKENDS: the same calls must give the same
responses and the same events. Backend-specific behaviour (files, crashes, compaction internals, member
failures) is tested in the backend's own modules (test_sqlite_*.py with `open_sqlite`, test_etcd_*.py with
`etcd_cluster` / `open_etcd`).

The etcd backend runs against one 3-member etcd cluster per test session (started on first use, on
127.0.0.1 with free ports, killed and removed at the end). Each test's store gets its own key prefix, so
tests see only their own keys; revisions and the compaction point are the cluster's, which the suite
allows for by only comparing revisions relative to ones it read. Tests marked `uncompacted` need a store
whose history was never compacted (they watch from revision 0): for etcd they get a store on a second,
single-member cluster that no test compacts. Without the `etcd` binary (Debian
package etcd-server) the etcd cases are skipped.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kijabi.storage import Storage
from kijabi.storage.etcd import EtcdStorage
from kijabi.storage.sqlite import SQLiteStorage
from tests.storage.etcd_cluster import EtcdCluster
from tests.storage.storage_testlib import require_etcd

BACKENDS = ["sqlite", "etcd"]
# Fail fast in tests; no periodic compaction (conformance tests compact explicitly).
ETCD_OPTIONS: dict[str, Any] = {"request_timeout": 2.0, "retry_timeout": 10.0, "compact_interval": 0}

_prefixes = itertools.count()


def unique_prefix() -> str:
    """A key prefix no other store of this test session uses."""
    return f"/kijabi-test/{next(_prefixes)}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "uncompacted: the test needs a store whose history was never compacted"
    )


def _start_cluster(size: int) -> Iterator[EtcdCluster]:
    require_etcd()
    cluster = EtcdCluster.start(size)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def etcd_cluster() -> Iterator[EtcdCluster]:
    """A 3-member etcd cluster shared by the whole session."""
    yield from _start_cluster(3)


@pytest.fixture(scope="session")
def etcd_uncompacted() -> Iterator[EtcdCluster]:
    """A 1-member etcd cluster for tests marked `uncompacted` (no test compacts it)."""
    yield from _start_cluster(1)


def make_store(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Storage:
    if backend == "sqlite":
        # No periodic compaction: conformance tests compact explicitly.
        return SQLiteStorage(str(tmp_path / "state.db"), compact_interval=0)
    if backend == "etcd":
        uncompacted = request.node.get_closest_marker("uncompacted") is not None
        cluster: EtcdCluster = request.getfixturevalue("etcd_uncompacted" if uncompacted else "etcd_cluster")
        return EtcdStorage(cluster.endpoints, prefix=unique_prefix(), **ETCD_OPTIONS)
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    s = make_store(request.param, tmp_path, request)
    await s.start()
    try:
        yield s
    finally:
        await s.close()


@pytest.fixture
async def open_sqlite(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[SQLiteStorage]]]:
    """Start SQLiteStorage stores (default file tmp_path/state.db); any left open is closed at teardown."""
    opened: list[SQLiteStorage] = []

    async def _open(path: str | None = None, **kwargs: Any) -> SQLiteStorage:
        kwargs.setdefault("compact_interval", 0)
        s = SQLiteStorage(path or str(tmp_path / "state.db"), **kwargs)
        await s.start()
        opened.append(s)
        return s

    try:
        yield _open
    finally:
        for s in opened:
            await s.close()


@pytest.fixture
async def open_etcd() -> AsyncIterator[Callable[..., Awaitable[EtcdStorage]]]:
    """Start EtcdStorage stores on given endpoints (own key prefix unless given); closed at teardown."""
    opened: list[EtcdStorage] = []

    async def _open(endpoints: list[str], **kwargs: Any) -> EtcdStorage:
        kwargs.setdefault("prefix", unique_prefix())
        for name, value in ETCD_OPTIONS.items():
            kwargs.setdefault(name, value)
        s = EtcdStorage(endpoints, **kwargs)
        await s.start()
        opened.append(s)
        return s

    try:
        yield _open
    finally:
        for s in opened:
            await s.close()
