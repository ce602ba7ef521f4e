"""SQLite writer: lone writes run on the event loop, bursts on the writer thread, and the two interleave
without reordering what watchers see; the WAL is checkpointed although the connection never does it on
commit."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable

import pytest

from kijabi.storage import KeyValue, _sqlite_writer
from kijabi.storage.sqlite import SQLiteStorage

Opener = Callable[..., Awaitable[SQLiteStorage]]


@pytest.fixture
def writer_threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The thread id of every write applied."""
    seen: list[int] = []
    real_apply = _sqlite_writer.Writer._apply

    def recording_apply(self: _sqlite_writer.Writer, req: _sqlite_writer.WriteRequest) -> object:
        seen.append(threading.get_ident())
        return real_apply(self, req)

    monkeypatch.setattr(_sqlite_writer.Writer, "_apply", recording_apply)
    return seen


@pytest.mark.parametrize(
    ("synchronous", "burst", "on_loop"),
    [
        pytest.param("NORMAL", 1, True, id="lone-write-runs-on-the-loop"),
        pytest.param("NORMAL", _sqlite_writer.INLINE_MAX, True, id="small-group-runs-on-the-loop"),
        pytest.param("NORMAL", _sqlite_writer.INLINE_MAX + 1, False, id="larger-group-goes-to-the-thread"),
        pytest.param("FULL", 1, False, id="synchronous-full-never-on-the-loop"),
    ],
)
async def test_where_a_group_runs(
    open_sqlite: Opener, writer_threads: list[int], synchronous: str, burst: int, on_loop: bool
) -> None:
    store = await open_sqlite(synchronous=synchronous)
    results = await asyncio.gather(*(store.create(f"/k/{i}", b"v") for i in range(burst)))
    assert [kv.mod_revision for kv in results] == sorted(kv.mod_revision for kv in results)
    assert len(writer_threads) == burst
    assert all((ident == threading.get_ident()) is on_loop for ident in writer_threads)


async def test_loop_and_thread_groups_interleave_in_revision_order(open_sqlite: Opener) -> None:
    """Bursts (thread) and lone writes (loop) alternate while a watch runs: every acknowledged write is
    seen once, in revision order, and the acknowledged revisions are exactly the watched ones."""
    store = await open_sqlite()
    start = await store.current_revision()
    watch = store.watch("/k/", from_revision=start)
    acked: list[KeyValue] = []
    for round_ in range(20):
        burst = 1 if round_ % 2 else 40
        lone_and_burst = [store.create(f"/k/{round_}-{i}", b"v") for i in range(burst)]
        acked.extend(await asyncio.gather(*lone_and_burst))
    seen = [(await anext(watch)).kv for _ in acked]
    await watch.aclose()
    assert [kv.mod_revision for kv in seen] == list(range(start + 1, start + 1 + len(acked)))
    assert sorted(acked, key=lambda kv: kv.mod_revision) == seen


async def test_wal_is_checkpointed_after_lone_writes(open_sqlite: Opener, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lone writes never checkpoint on the loop; the thread does it every CHECKPOINT_BYTES, so the WAL
    is reused instead of growing with everything written."""
    monkeypatch.setattr(_sqlite_writer, "CHECKPOINT_BYTES", 256 << 10)  # without checkpoints: ~45 MB
    store = await open_sqlite()
    value = os.urandom(4000)
    for i in range(1500):  # ~6 MB of values, one write at a time
        await store.create(f"/k/{i}", value)
    for _ in range(100):  # the last checkpoint request may still be with the thread
        wal = os.path.getsize(store.path + "-wal")
        if wal < 4 << 20:
            break
        await asyncio.sleep(0.01)
    assert wal < 4 << 20, f"WAL grew to {wal} bytes"
