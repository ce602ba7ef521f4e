"""SQLite backend: what compaction does to the log table and the file, the periodic compactor, and
resuming a compaction cut short by a restart."""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kijabi.storage import _sqlite_writer
from kijabi.storage._fanout import Subscription
from kijabi.storage.sqlite import SQLiteStorage
from tests.storage.storage_testlib import collect, eventually

Opener = Callable[..., Awaitable[SQLiteStorage]]


def _rows(path: str) -> list[tuple[int, str, int]]:
    with sqlite3.connect(path) as raw:
        return raw.execute("SELECT id, name, deleted FROM kine ORDER BY id").fetchall()


def _file_size(path: str) -> int:
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


async def test_compaction_keeps_newest_row_of_live_keys_only(tmp_path: Path, open_sqlite: Opener) -> None:
    """Like kine: superseded rows and tombstones at or below the revision go; the newest row of each
    live key and every row above the revision stay."""
    store = await open_sqlite()
    a = await store.create("/k/a", b"a1")
    a2 = await store.update(a.key, b"a2", expected_revision=0)
    b = await store.create("/k/b", b"b1")
    b_del = await store.delete(b.key)
    c = await store.create("/k/c", b"c1")
    point = c.mod_revision
    c2 = await store.update(c.key, b"c2", expected_revision=0)
    await store.compact(point)
    assert _rows(store.path) == [
        (a2.mod_revision, "/k/a", 0),
        (c.mod_revision, "/k/c", 0),  # superseded, but by a row above the compaction point
        (c2.mod_revision, "/k/c", 0),
    ]
    assert b_del.mod_revision < point


async def test_file_size_stays_bounded_under_churn_with_compaction(
    tmp_path: Path, open_sqlite: Opener
) -> None:
    """Ten rounds of updates, deletes and re-creates of 40 keys with 16 KB values, compacting after each
    round: the file stops growing after the first rounds (freed pages are reused, the WAL is truncated).
    Without compaction the same churn would grow the file by ~3 MB a round."""
    store = await open_sqlite()
    value = os.urandom(8192).hex().encode()  # 16 KB, incompressible
    keys = [f"/registry/configmaps/ns/cm{i}" for i in range(40)]
    for key in keys:
        await store.create(key, value)
    sizes = []
    for _ in range(10):
        await asyncio.gather(*(store.update(k, value, expected_revision=0) for k in keys for _ in range(4)))
        await asyncio.gather(*(store.delete(k) for k in keys[:10]))
        await asyncio.gather(*(store.create(k, value) for k in keys[:10]))
        await store.compact(await store.current_revision())
        sizes.append(_file_size(store.path))
    churn_per_round = 40 * 4 * len(value)
    assert max(sizes[3:]) <= sizes[2] + churn_per_round // 4, sizes
    assert len(_rows(store.path)) == len(keys)
    assert await store.count("/registry/configmaps/ns/") == 40


async def test_file_stays_flat_under_lease_churn_with_periodic_compaction(open_sqlite: Opener) -> None:
    """Lease-style churn (bench/lease_churn.py in small): the same keys renewed by compare-and-swap round
    after round, compacted every few rounds to current - keep as the periodic compactor does. Past the
    first cycles the file neither grows at its peak (before a compaction) nor after a compaction: the pages
    of deleted rows are reused (or returned and taken again), the WAL is truncated."""
    store = await open_sqlite()
    keys, rounds_per_cycle, keep = 40, 8, 100
    value = os.urandom(1024).hex().encode()  # 2 KB, incompressible
    kvs = list(await asyncio.gather(*(store.create(f"/registry/leases/ns/l{i}", value) for i in range(keys))))
    peaks, afters = [], []
    for _ in range(10):
        for _ in range(rounds_per_cycle):
            kvs = list(
                await asyncio.gather(*(store.update(kv.key, value, expected_revision=kv.mod_revision) for kv in kvs))
            )
        peaks.append(_file_size(store.path))
        await store.compact(await store.current_revision() - keep)
        afters.append(_file_size(store.path))
    cycle_bytes = keys * rounds_per_cycle * len(value)
    assert max(peaks[3:]) <= peaks[2] + cycle_bytes // 4, peaks
    assert max(afters[3:]) <= afters[2] + cycle_bytes // 4, afters
    assert len(_rows(store.path)) <= keys + keep
    uncompacted = keys * (1 + 10 * rounds_per_cycle) * len(value)
    assert peaks[-1] < uncompacted / 2, (peaks[-1], uncompacted)


async def test_compaction_returns_space_after_mass_delete(tmp_path: Path, open_sqlite: Opener) -> None:
    """Deleting most keys and compacting shrinks the file (incremental vacuum of the free pages)."""
    store = await open_sqlite()
    value = os.urandom(8192).hex().encode()
    keys = [f"/registry/configmaps/ns/cm{i}" for i in range(200)]
    await asyncio.gather(*(store.create(k, value) for k in keys))
    await store.compact(await store.current_revision())
    full = _file_size(store.path)
    await asyncio.gather(*(store.delete(k) for k in keys[10:]))
    await store.compact(await store.current_revision())
    assert _file_size(store.path) < full * 0.3


async def test_compaction_works_in_windows_while_writes_continue(
    open_sqlite: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A compaction spanning many windows interleaves with writes: writes submitted meanwhile all land."""
    monkeypatch.setattr(_sqlite_writer, "COMPACT_BATCH", 10)
    store = await open_sqlite()
    await store.create("/k/counter", b"0")
    for i in range(1, 300):
        await store.update("/k/counter", str(i).encode(), expected_revision=0)
    target = await store.current_revision()
    compaction = asyncio.ensure_future(store.compact(target))
    writes = await asyncio.gather(*(store.create(f"/k/new{i}", b"v") for i in range(50)))
    await compaction
    assert len({kv.mod_revision for kv in writes}) == 50
    assert [name for _, name, _ in _rows(store.path)].count("/k/counter") == 1
    latest = await store.get("/k/counter")
    assert latest is not None and latest.value == b"299"


async def test_periodic_compactor_keeps_the_last_revisions(open_sqlite: Opener) -> None:
    """start() runs a compactor that compacts to current - compact_keep every compact_interval."""
    store = await open_sqlite(compact_interval=0.01, compact_keep=20)
    kv = await store.create("/k/a", b"0")
    for i in range(100):
        kv = await store.update(kv.key, str(i).encode(), expected_revision=kv.mod_revision)

    async def compacted() -> bool:
        return await store.compacted_revision() == kv.mod_revision - 20

    await eventually(compacted)
    watch = store.watch("/k/", from_revision=kv.mod_revision - 20)
    assert len(await collect(watch, 20)) == 20
    await watch.aclose()


async def test_interrupted_compaction_resumes_after_restart(tmp_path: Path, open_sqlite: Opener) -> None:
    """A compaction whose logical point was committed but whose rows were not all deleted (the process
    stopped) finishes after the next start."""
    store = await open_sqlite()
    kv = await store.create("/k/a", b"0")
    for i in range(50):
        kv = await store.update(kv.key, str(i).encode(), expected_revision=0)
    await store.close()
    with sqlite3.connect(store.path) as raw:  # what a crash right after the logical step leaves
        raw.execute("UPDATE kine_meta SET value = ? WHERE key = 'compact_revision'", (kv.mod_revision,))
    assert len(_rows(store.path)) == 51

    again = await open_sqlite()
    assert await again.compacted_revision() == kv.mod_revision

    async def rows_gone() -> bool:
        return len(await asyncio.to_thread(_rows, again.path)) == 1

    await eventually(rows_gone)
    assert await again.get("/k/a") == kv


async def test_slow_watcher_catches_up_from_the_log(open_sqlite: Opener) -> None:
    """A watcher that falls more than watch_backlog events behind is detached from live delivery and
    reads the missed events back from the log: it still sees every event once, in order."""
    store = await open_sqlite(watch_backlog=10)
    subscriptions: list[str] = []
    subscribe = store._hub.subscribe

    def counting_subscribe(prefix: str) -> Subscription:
        subscriptions.append(prefix)
        return subscribe(prefix)

    store._hub.subscribe = counting_subscribe  # type: ignore[method-assign]
    start = await store.current_revision()
    watch = store.watch("/k/", from_revision=start)
    first = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    made = [await store.create(f"/k/{i:03d}", b"v") for i in range(100)]
    got = [await first, *await collect(watch, 99)]
    assert [e.kv for e in got] == made
    assert len(subscriptions) >= 2, "the watcher overflowed and subscribed again after catching up"
    more = await store.create("/k/live", b"v")
    assert [e.kv for e in await collect(watch, 1)] == [more]
    await watch.aclose()
    assert len(store._hub) == 0
