"""Fixtures of the storage conformance suite.

Every test that takes `store` runs against every backend in BACKENDS: the same calls must give the same
responses and the same events. Backend-specific behaviour (files, crashes, compaction internals) is tested
in the backend's own modules (test_sqlite_*.py) with `open_sqlite`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from kijabi.storage import Storage
from kijabi.storage.sqlite import SQLiteStorage

BACKENDS = ["sqlite"]


def make_store(backend: str, tmp_path: Path) -> Storage:
    if backend == "sqlite":
        # No periodic compaction: conformance tests compact explicitly.
        return SQLiteStorage(str(tmp_path / "state.db"), compact_interval=0)
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    s = make_store(request.param, tmp_path)
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
