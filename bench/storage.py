"""Benchmark of the SQLite store against raw sqlite3 on the same schema and durability.

Prints, each as the median of --runs runs on a fresh database (3.8 KB values, WAL + synchronous=NORMAL):

    raw sqlite3 inserts, one transaction per row          baseline for writes
    raw sqlite3 inserts, 64 rows per transaction           what group commit can reach at best
    SQLiteStorage creates, sequential and 64-way           ratio to the one-row-per-transaction baseline
    raw point gets / SQLiteStorage.get on the loop / the same read through a worker thread
    list of 10k keys (one call, and 500-key pages)         ratio to a raw SELECT of the same rows
    watch: live fan-out to 10 watchers, and catch-up from the log

Usage: .venv/bin/python bench/storage.py [--runs 3] [--asyncio]   (uvloop by default, like the apiserver)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from kijabi.storage import _sqlite_schema as sql
from kijabi.storage import sqlite as sqlite_mod
from kijabi.storage.sqlite import SQLiteStorage

VALUE = os.urandom(1900).hex().encode()  # 3,800 bytes, incompressible
PREFIX = "/registry/pods/default/"
CONCURRENCY = 64


class Scratch:
    """A fresh temporary directory per run."""

    def __enter__(self) -> str:
        self.dir = tempfile.mkdtemp(prefix="kijabi-bench-")
        return os.path.join(self.dir, "state.db")

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --- raw sqlite3 baselines ---------------------------------------------------------------------------


def raw_inserts(n: int, per_txn: int) -> float:
    with Scratch() as path:
        conn = sql.open_writer(path, "NORMAL")
        start = time.perf_counter()
        rev = 1
        for i in range(0, n, per_txn):
            conn.execute("BEGIN IMMEDIATE")
            for j in range(i, min(n, i + per_txn)):
                rev += 1
                conn.execute(sql.INSERT_ROW, (rev, f"{PREFIX}raw-{j}", 1, 0, rev, 0, VALUE))
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - start
        conn.close()
    return n / elapsed


def raw_gets_and_list(n_keys: int, n_gets: int) -> tuple[float, float]:
    """(point gets/s, seconds to SELECT n_keys rows with their values) on a populated database."""
    with Scratch() as path:
        conn = sql.open_writer(path, "NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        for j in range(n_keys):
            conn.execute(sql.INSERT_ROW, (j + 2, f"{PREFIX}p{j:05d}", 1, 0, j + 2, 0, VALUE))
        conn.execute("COMMIT")
        reader = sql.open_reader(path)
        start = time.perf_counter()
        for i in range(n_gets):
            reader.execute(sql.SELECT_LATEST, (f"{PREFIX}p{i % n_keys:05d}",)).fetchall()
        gets = n_gets / (time.perf_counter() - start)
        start = time.perf_counter()
        rows = reader.execute(
            "SELECT id, name, create_revision, value FROM kine WHERE name >= ? AND name < ?",
            (PREFIX, PREFIX[:-1] + "0"),
        ).fetchall()
        assert len(rows) == n_keys
        list_seconds = time.perf_counter() - start
        reader.close()
        conn.close()
    return gets, list_seconds


# --- SQLiteStorage -----------------------------------------------------------------------------------


async def with_store(fn: Callable[[SQLiteStorage], Awaitable[float]], **kwargs: Any) -> float:
    with Scratch() as path:
        async with SQLiteStorage(path, compact_interval=0, **kwargs) as store:
            return await fn(store)


async def fill(store: SQLiteStorage, n: int, name: str = "p") -> None:
    keys = iter(range(n))

    async def worker() -> None:
        for i in keys:
            await store.create(f"{PREFIX}{name}{i:05d}", VALUE)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))


async def creates_sequential(store: SQLiteStorage, n: int = 2000) -> float:
    start = time.perf_counter()
    for i in range(n):
        await store.create(f"{PREFIX}s{i}", VALUE)
    return n / (time.perf_counter() - start)


async def creates_concurrent(store: SQLiteStorage, n: int = 12800) -> float:
    start = time.perf_counter()
    await fill(store, n, "c")
    return n / (time.perf_counter() - start)


async def updates_concurrent(store: SQLiteStorage, n: int = 12800) -> float:
    """64 tasks, each a compare-and-swap loop on its own key."""
    await fill(store, CONCURRENCY, "u")
    per = n // CONCURRENCY

    async def worker(w: int) -> None:
        key = f"{PREFIX}u{w:05d}"
        kv = await store.get(key)
        assert kv is not None
        for _ in range(per):
            kv = await store.update(key, VALUE, expected_revision=kv.mod_revision)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(CONCURRENCY)))
    return per * CONCURRENCY / (time.perf_counter() - start)


async def gets_on_loop(store: SQLiteStorage, n_keys: int = 10000, n: int = 30000) -> float:
    await fill(store, n_keys)
    start = time.perf_counter()
    for i in range(n):
        await store.get(f"{PREFIX}p{i % n_keys:05d}")
    return n / (time.perf_counter() - start)


async def gets_in_thread(store: SQLiteStorage, n_keys: int = 10000, n: int = 30000) -> float:
    """The alternative design: the same read function, run on a reader thread with its own connection.
    64 concurrent callers, so the thread hop can overlap."""
    await fill(store, n_keys)
    pool = ThreadPoolExecutor(1)
    loop = asyncio.get_running_loop()
    conn = await loop.run_in_executor(pool, sql.open_reader, store.path)
    keys = iter(range(n))

    async def worker() -> None:
        for i in keys:
            await loop.run_in_executor(pool, sqlite_mod._get, conn, f"{PREFIX}p{i % n_keys:05d}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    rate = n / (time.perf_counter() - start)
    await loop.run_in_executor(pool, conn.close)
    pool.shutdown()
    return rate


async def list_all(store: SQLiteStorage, n_keys: int = 10000) -> float:
    await fill(store, n_keys)
    start = time.perf_counter()
    result = await store.list(PREFIX)
    assert len(result.items) == n_keys
    return time.perf_counter() - start


async def list_paged(store: SQLiteStorage, n_keys: int = 10000) -> float:
    await fill(store, n_keys)
    start = time.perf_counter()
    page = await store.list(PREFIX, limit=500)
    seen = len(page.items)
    while page.more:
        page = await store.list(PREFIX, limit=500, start_after=page.items[-1].key, revision=page.revision)
        seen += len(page.items)
    assert seen == n_keys
    return time.perf_counter() - start


async def watch_live(store: SQLiteStorage, n: int = 10000, watchers: int = 10) -> float:
    """Events delivered per second to `watchers` live watchers while 64 writers create n keys."""
    start_rev = await store.current_revision()
    streams = [store.watch(PREFIX, from_revision=start_rev) for _ in range(watchers)]

    async def consume(stream: Any) -> None:
        got = 0
        async for _ in stream:
            got += 1
            if got == n:
                break

    consumers = [asyncio.ensure_future(consume(s)) for s in streams]
    await asyncio.sleep(0)
    start = time.perf_counter()
    await fill(store, n, "w")
    await asyncio.gather(*consumers)
    elapsed = time.perf_counter() - start
    for s in streams:
        await s.aclose()
    return n * watchers / elapsed


async def watch_catch_up(store: SQLiteStorage, n: int = 10000) -> float:
    """Events per second read back from the log by one watch from an old revision."""
    start_rev = await store.current_revision()
    await fill(store, n, "h")
    stream = store.watch(PREFIX, from_revision=start_rev)
    start = time.perf_counter()
    got = 0
    async for _ in stream:
        got += 1
        if got == n:
            break
    elapsed = time.perf_counter() - start
    await stream.aclose()
    return n / elapsed


# --- driver ------------------------------------------------------------------------------------------


def median(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--asyncio", action="store_true", help="default event loop instead of uvloop")
    args = parser.parse_args()
    runner: Callable[[Any], Any] = asyncio.run
    loop_name = "asyncio"
    if not args.asyncio:
        try:
            import uvloop

            runner, loop_name = uvloop.run, "uvloop"
        except ImportError:
            pass

    def store_metric(fn: Callable[[SQLiteStorage], Awaitable[float]], **kwargs: Any) -> float:
        return median(args.runs, lambda: runner(with_store(fn, **kwargs)))

    print(
        f"sqlite {sqlite3.sqlite_version}, {loop_name}, 3.8 KB values, WAL + synchronous=NORMAL, median of {args.runs}"
    )
    raw_one = median(args.runs, lambda: raw_inserts(3000, 1))
    raw_batch = median(args.runs, lambda: raw_inserts(12800, CONCURRENCY))
    print(f"raw inserts, 1 row/txn               {raw_one:10.0f} /s")
    print(f"raw inserts, 64 rows/txn             {raw_batch:10.0f} /s")
    seq = store_metric(creates_sequential)
    conc = store_metric(creates_concurrent)
    upd = store_metric(updates_concurrent)
    full = store_metric(creates_concurrent, synchronous="FULL")
    print(f"store creates, sequential            {seq:10.0f} /s   x{seq / raw_one:.2f} of raw 1 row/txn")
    print(
        f"store creates, 64 concurrent         {conc:10.0f} /s   x{conc / raw_one:.2f} of raw 1 row/txn,"
        f" x{conc / raw_batch:.2f} of raw 64 rows/txn"
    )
    print(f"store CAS updates, 64 concurrent     {upd:10.0f} /s   x{upd / raw_one:.2f} of raw 1 row/txn")
    print(f"store creates, 64 concurrent, FULL   {full:10.0f} /s   (fsync per group commit)")

    raw = [raw_gets_and_list(10000, 30000) for _ in range(args.runs)]
    raw_get = statistics.median(r[0] for r in raw)
    raw_list = statistics.median(r[1] for r in raw)
    get_loop = store_metric(gets_on_loop)
    get_thread = store_metric(gets_in_thread)
    print(f"raw point gets                       {raw_get:10.0f} /s")
    print(f"store get, on the loop thread        {get_loop:10.0f} /s   x{get_loop / raw_get:.2f} of raw")
    print(f"same read via a reader thread (64x)  {get_thread:10.0f} /s   x{get_thread / raw_get:.2f} of raw")
    whole = store_metric(list_all)
    paged = store_metric(list_paged)
    print(f"raw SELECT of 10k rows               {raw_list * 1000:10.1f} ms")
    print(f"store list of 10k keys, one call     {whole * 1000:10.1f} ms   x{whole / raw_list:.2f} of raw")
    print(f"store list of 10k keys, 500/page     {paged * 1000:10.1f} ms   x{paged / raw_list:.2f} of raw")
    live = store_metric(watch_live)
    catch_up = store_metric(watch_catch_up)
    print(f"watch, live to 10 watchers           {live:10.0f} events/s delivered")
    print(f"watch, catch-up from the log         {catch_up:10.0f} events/s")


if __name__ == "__main__":
    main()
