"""Benchmarks of the stores, each against the raw client of its database in the same run.

SQLite: SQLiteStorage against raw sqlite3 on the same schema and durability. Prints, each as the median
of --runs runs on a fresh database (3.8 KB values, WAL + synchronous=NORMAL):

    raw sqlite3 inserts, one transaction per row          baseline for writes
    raw sqlite3 inserts, 64 rows per transaction           what group commit can reach at best
    SQLiteStorage creates, sequential and 64-way           ratio to the one-row-per-transaction baseline
    raw point gets / SQLiteStorage.get on the loop (alternating on one database) / the same read through a
    worker thread
    list of 10k keys in one call                           speed ratio to a raw SELECT of the same rows
                                                           (alternating on one database)
    the same in 500-key pages, each page with the count of the keys after it (remainingItemCount)
    watch: live fan-out to 10 watchers while 64 tasks write  ratio to 10 raw pollers reading the log after
                                                           every commit of 64-row transactions
    watch: catch-up of 10k events from the log             ratio to one raw query of those log rows

etcd: EtcdStorage against the raw gRPC client (the generated stubs, same channel options, same
requests) on a real etcd started for the run (--etcd-members, data on tmpfs so that fsync does not hide
the client's cost). Prints, each as the median of --runs runs and as a ratio to raw:

    creates (the same Txn), sequential and 64-way
    get, sequential and 64-way
    list of 10k keys in one call
    watch: catch-up of 10k events from history, and live delivery to 10 watchers while 64 tasks write

Usage: .venv/bin/python bench/storage.py [--runs 3] [--asyncio] [--only sqlite|etcd] [--etcd-members 1]
(uvloop by default, like the apiserver)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio

from kijabi.storage import _etcd_client
from kijabi.storage import _sqlite_schema as sql
from kijabi.storage.etcd import EtcdStorage
from kijabi.storage.etcdpb import rpc_pb2, rpc_pb2_grpc
from kijabi.storage.sqlite import SQLiteStorage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, for tests.storage
from tests.storage.etcd_cluster import EtcdCluster, etcd_binary

VALUE = os.urandom(1900).hex().encode()  # 3,800 bytes, incompressible
PREFIX = "/registry/pods/default/"
CONCURRENCY = 64
_R = TypeVar("_R")
LIST_REPEATS = 5  # lists of 10k rows per run, raw and store alternating


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


def _raw_log(conn: sqlite3.Connection, after: int, limit: int) -> list[tuple[Any, ...]]:
    """Log rows after `after` under PREFIX with their previous rows: what a raw client reads to watch."""
    params = {"after": after, "upto": 1 << 62, "start": PREFIX, "end": PREFIX[:-1] + "0", "limit": limit}
    return conn.execute(sql.history_sql(end=True), params).fetchall()


def raw_watch_catch_up(n: int) -> float:
    """Log rows per second one raw query reads back (the 10k rows written after a start revision)."""
    with Scratch() as path:
        conn = sql.open_writer(path, "NORMAL")
        conn.execute("BEGIN IMMEDIATE")
        for j in range(n):
            conn.execute(sql.INSERT_ROW, (j + 2, f"{PREFIX}h{j:05d}", 1, 0, j + 2, 0, VALUE))
        conn.execute("COMMIT")
        reader = sql.open_reader(path)
        start = time.perf_counter()
        rows = _raw_log(reader, 1, n)
        elapsed = time.perf_counter() - start
        assert len(rows) == n
        reader.close()
        conn.close()
    return n / elapsed


def raw_watch_live(n: int, watchers: int = 10) -> float:
    """Rows per second delivered to `watchers` raw pollers, each reading the new log rows on its own
    connection right after every commit of a writer inserting 64 rows per transaction: polling with no
    wasted poll, the best a raw client watching the table can do."""
    with Scratch() as path:
        conn = sql.open_writer(path, "NORMAL")
        readers = [sql.open_reader(path) for _ in range(watchers)]
        seen = [1] * watchers
        delivered = 0
        start = time.perf_counter()
        for i in range(0, n, CONCURRENCY):
            conn.execute("BEGIN IMMEDIATE")
            for j in range(i, min(n, i + CONCURRENCY)):
                conn.execute(sql.INSERT_ROW, (j + 2, f"{PREFIX}w{j:05d}", 1, 0, j + 2, 0, VALUE))
            conn.execute("COMMIT")
            for w, reader in enumerate(readers):
                rows = _raw_log(reader, seen[w], n)
                seen[w] = rows[-1][0]
                delivered += len(rows)
        elapsed = time.perf_counter() - start
        assert delivered == n * watchers
        for reader in readers:
            reader.close()
        conn.close()
    return delivered / elapsed


# --- SQLiteStorage -----------------------------------------------------------------------------------


async def with_store(fn: Callable[[SQLiteStorage], Awaitable[_R]], **kwargs: Any) -> _R:
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


async def gets_paired(store: SQLiteStorage, n_keys: int = 10000, n: int = 30000) -> tuple[float, float]:
    """(raw gets/s, store gets/s) on the same database: raw point SELECTs on a connection of its own and
    SQLiteStorage.get, alternating in rounds of 5k so that both see the same machine load."""
    await fill(store, n_keys)
    raw_conn = sql.open_reader(store.path)
    keys = [f"{PREFIX}p{i % n_keys:05d}" for i in range(5000)]
    raw_seconds = store_seconds = 0.0
    for _ in range(n // len(keys)):
        start = time.perf_counter()
        for key in keys:
            raw_conn.execute(sql.SELECT_LATEST, (key,)).fetchall()
        raw_seconds += time.perf_counter() - start
        start = time.perf_counter()
        for key in keys:
            await store.get(key)
        store_seconds += time.perf_counter() - start
    raw_conn.close()
    done = len(keys) * (n // len(keys))
    return done / raw_seconds, done / store_seconds


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
            await loop.run_in_executor(pool, sql.latest, conn, f"{PREFIX}p{i % n_keys:05d}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    rate = n / (time.perf_counter() - start)
    await loop.run_in_executor(pool, conn.close)
    pool.shutdown()
    return rate


async def lists_paired(store: SQLiteStorage, n_keys: int = 10000) -> tuple[float, float]:
    """(raw seconds, store seconds) to list n_keys keys with their values on the same database: a raw
    SELECT of the range on a connection of its own and one SQLiteStorage.list, alternating, median of
    LIST_REPEATS each (a single list of 38 MB of values is mostly allocator noise)."""
    await fill(store, n_keys)
    raw_conn = sql.open_reader(store.path)
    raw_times, store_times = [], []
    for _ in range(LIST_REPEATS):
        start = time.perf_counter()
        rows = raw_conn.execute(
            "SELECT id, name, create_revision, value FROM kine WHERE name >= ? AND name < ?",
            (PREFIX, PREFIX[:-1] + "0"),
        ).fetchall()
        raw_times.append(time.perf_counter() - start)
        assert len(rows) == n_keys
        del rows
        start = time.perf_counter()
        result = await store.list(PREFIX)
        store_times.append(time.perf_counter() - start)
        assert len(result.items) == n_keys
        del result
    raw_conn.close()
    return statistics.median(raw_times), statistics.median(store_times)


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


# --- etcd: EtcdStorage against the raw gRPC client ----------------------------------------------------

ETCD_KEYS = 10000


class RawEtcd:
    """The baseline: generated stubs on one channel to the store's first member, the store's channel
    options and metadata, the same requests the store sends."""

    def __init__(self, endpoint: str) -> None:
        self.channel = grpc.aio.insecure_channel(endpoint, options=_etcd_client.CHANNEL_OPTIONS)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)

    async def create(self, key: str, value: bytes) -> int:
        bkey = key.encode()
        cmp = rpc_pb2.Compare(key=bkey, target=rpc_pb2.Compare.CREATE, result=rpc_pb2.Compare.EQUAL)
        txn = rpc_pb2.TxnRequest(
            compare=[cmp],
            success=[
                rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=bkey, value=value)),
                rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=bkey, keys_only=True)),
            ],
            failure=[rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=bkey))],
        )
        resp = await self.kv.Txn(txn, metadata=_etcd_client.METADATA)
        assert resp.succeeded
        return int(resp.header.revision)

    async def get(self, key: str) -> bytes:
        resp = await self.kv.Range(rpc_pb2.RangeRequest(key=key.encode()), metadata=_etcd_client.METADATA)
        return bytes(resp.kvs[0].value)

    async def list(self, prefix: str) -> int:
        """The range, each item's fields read out as a consumer would."""
        start = prefix.encode()
        end = start[:-1] + bytes([start[-1] + 1])
        resp = await self.kv.Range(
            rpc_pb2.RangeRequest(key=start, range_end=end), metadata=_etcd_client.METADATA
        )
        items = [(kv.key.decode(), kv.value, kv.create_revision, kv.mod_revision) for kv in resp.kvs]
        return len(items)

    async def watch_events(self, prefix: str, from_revision: int, n: int) -> None:
        """Read n events of a watch on prefix from from_revision, touching each like a consumer would."""
        start = prefix.encode()
        end = start[:-1] + bytes([start[-1] + 1])
        call = self.watch.Watch(metadata=_etcd_client.METADATA)
        create = rpc_pb2.WatchCreateRequest(
            key=start, range_end=end, start_revision=from_revision, prev_kv=True
        )
        await call.write(rpc_pb2.WatchRequest(create_request=create))
        got = 0
        while got < n:
            resp = await call.read()
            for ev in resp.events:
                _ = (ev.type, ev.kv.key, ev.kv.value, ev.kv.mod_revision, ev.HasField("prev_kv"))
                got += 1
        call.cancel()

    async def close(self) -> None:
        await self.channel.close()


EtcdClientKind = str  # "raw" | "store"


async def _etcd_open(endpoints: list[str]) -> EtcdStorage:
    store = EtcdStorage(endpoints, prefix="", compact_interval=0)
    await store.start()
    return store


async def _fill_etcd(
    create: Callable[[str, bytes], Awaitable[Any]], prefix: str, n: int, tasks: int
) -> float:
    """Create n keys under prefix with `tasks` concurrent tasks; returns creates per second."""
    keys = iter(range(n))

    async def worker() -> None:
        for i in keys:
            await create(f"{prefix}{i:05d}", VALUE)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return n / (time.perf_counter() - start)


class EtcdBench:
    """One etcd cluster and one event loop for all runs (grpc.aio keeps per-process state that does not
    follow a new event loop per run); every measurement writes under its own prefix."""

    def __init__(self, cluster: EtcdCluster, runs: int) -> None:
        self.cluster = cluster
        self.runs = runs
        self._n = 0

    def prefix(self) -> str:
        self._n += 1
        return f"/registry/bench{self._n}/default/"

    async def pair(self, fn: Callable[[Any, str], Awaitable[float]]) -> tuple[float, float]:
        """(raw, store) medians of fn(client, prefix) over the runs, raw and store alternating."""
        raws, stores = [], []
        for _ in range(self.runs):
            raws.append(await self._with("raw", fn))
            stores.append(await self._with("store", fn))
        return statistics.median(raws), statistics.median(stores)

    async def _with(self, kind: EtcdClientKind, fn: Callable[[Any, str], Awaitable[float]]) -> float:
        endpoints = self.cluster.endpoints
        client: Any = RawEtcd(endpoints[0]) if kind == "raw" else await _etcd_open(endpoints)
        try:
            return await fn(client, self.prefix())
        finally:
            await client.close()


async def etcd_creates_sequential(client: Any, prefix: str, n: int = 2000) -> float:
    return await _fill_etcd(client.create, prefix, n, 1)


async def etcd_creates_concurrent(client: Any, prefix: str, n: int = 12800) -> float:
    return await _fill_etcd(client.create, prefix, n, CONCURRENCY)


async def etcd_gets(client: Any, prefix: str, n: int = 5000, tasks: int = 1, n_keys: int = 1000) -> float:
    await _fill_etcd(client.create, prefix, n_keys, CONCURRENCY)
    keys = iter(range(n))

    async def worker() -> None:
        for i in keys:
            await client.get(f"{prefix}{i % n_keys:05d}")

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return n / (time.perf_counter() - start)


async def etcd_gets_concurrent(client: Any, prefix: str) -> float:
    return await etcd_gets(client, prefix, n=12800, tasks=CONCURRENCY)


async def etcd_list(client: Any, prefix: str) -> float:
    await _fill_etcd(client.create, prefix, ETCD_KEYS, CONCURRENCY)
    start = time.perf_counter()
    got = await client.list(prefix)
    got = got if isinstance(got, int) else len(got.items)
    assert got == ETCD_KEYS
    return time.perf_counter() - start


async def _watch_n(client: Any, prefix: str, from_revision: int, n: int) -> None:
    if isinstance(client, RawEtcd):
        await client.watch_events(prefix, from_revision + 1, n)
        return
    stream = client.watch(prefix, from_revision=from_revision)
    got = 0
    async for _ in stream:
        got += 1
        if got == n:
            break
    await stream.aclose()


async def _revision(client: Any) -> int:
    if isinstance(client, RawEtcd):
        resp = await client.kv.Range(rpc_pb2.RangeRequest(key=b"\0", count_only=True))
        return int(resp.header.revision)
    rev: int = await client.current_revision()
    return rev


async def etcd_watch_catch_up(client: Any, prefix: str) -> float:
    """Events per second read back from etcd's history by one watch."""
    start_rev = await _revision(client)
    await _fill_etcd(client.create, prefix, ETCD_KEYS, CONCURRENCY)
    start = time.perf_counter()
    await _watch_n(client, prefix, start_rev, ETCD_KEYS)
    return ETCD_KEYS / (time.perf_counter() - start)


async def etcd_watch_live(client: Any, prefix: str, n: int = 5000, watchers: int = 10) -> float:
    """Events per second delivered to `watchers` live watchers while 64 tasks create n keys."""
    start_rev = await _revision(client)
    consumers = [asyncio.ensure_future(_watch_n(client, prefix, start_rev, n)) for _ in range(watchers)]
    await asyncio.sleep(0.2)  # let the streams be created before the writes start
    start = time.perf_counter()
    await _fill_etcd(client.create, prefix, n, CONCURRENCY)
    await asyncio.gather(*consumers)
    return n * watchers / (time.perf_counter() - start)


def etcd_main(runs: int, runner: Callable[[Any], Any], loop_name: str, members: int) -> None:
    if etcd_binary() is None:
        print("etcd: not installed (Debian package etcd-server), skipped")
        return
    cluster = EtcdCluster.start(members)
    try:
        version = cluster.status(cluster.members[0])
        print(
            f"\netcd {version.version if version else '?'}, {members} member(s), data on tmpfs, {loop_name},"
            f" 3.8 KB values, median of {runs}; x = EtcdStorage / raw gRPC client"
        )
        runner(etcd_rows(EtcdBench(cluster, runs)))
    finally:
        cluster.stop()


async def etcd_rows(bench: EtcdBench) -> None:
    rows: list[tuple[str, Callable[[Any, str], Awaitable[float]], str]] = [
        ("creates, sequential", etcd_creates_sequential, "/s"),
        ("creates, 64 concurrent", etcd_creates_concurrent, "/s"),
        ("get, sequential", etcd_gets, "/s"),
        ("get, 64 concurrent", etcd_gets_concurrent, "/s"),
        ("list of 10k keys, one call", etcd_list, "ms"),
        ("watch, catch-up of 10k events", etcd_watch_catch_up, "events/s"),
        ("watch, live to 10 watchers", etcd_watch_live, "events/s"),
    ]
    for label, fn, unit in rows:
        raw, store = await bench.pair(fn)
        if unit == "ms":  # a duration: lower is better, ratio as speed
            print(f"{label:36s} raw {raw * 1000:9.1f} ms  store {store * 1000:9.1f} ms   x{raw / store:.2f}")
        else:
            print(f"{label:36s} raw {raw:9.0f} {unit:9s} store {store:9.0f} {unit:9s} x{store / raw:.2f}")


# --- driver ------------------------------------------------------------------------------------------


def median(runs: int, fn: Callable[[], float]) -> float:
    return statistics.median(fn() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--asyncio", action="store_true", help="default event loop instead of uvloop")
    parser.add_argument("--only", choices=["sqlite", "etcd"], help="one store only")
    parser.add_argument("--etcd-members", type=int, default=1, help="etcd cluster size (default 1)")
    args = parser.parse_args()
    runner: Callable[[Any], Any] = asyncio.run
    loop_name = "asyncio"
    if not args.asyncio:
        try:
            import uvloop

            runner, loop_name = uvloop.run, "uvloop"
        except ImportError:
            pass

    if args.only != "etcd":
        sqlite_main(args.runs, runner, loop_name)
    if args.only != "sqlite":
        etcd_main(args.runs, runner, loop_name, args.etcd_members)


def sqlite_main(runs: int, runner: Callable[[Any], Any], loop_name: str) -> None:
    def store_metric(fn: Callable[[SQLiteStorage], Awaitable[float]], **kwargs: Any) -> float:
        return median(runs, lambda: runner(with_store(fn, **kwargs)))

    print(
        f"sqlite {sqlite3.sqlite_version}, {loop_name}, 3.8 KB values, WAL + synchronous=NORMAL, median of {runs}"
    )
    # Each run measures the baselines and the store back to back, so that both see the same load.
    write_runs = [
        (
            raw_inserts(3000, 1),
            raw_inserts(12800, CONCURRENCY),
            runner(with_store(creates_sequential)),
            runner(with_store(creates_concurrent)),
            runner(with_store(updates_concurrent)),
            runner(with_store(creates_concurrent, synchronous="FULL")),
        )
        for _ in range(runs)
    ]
    raw_one, raw_batch, seq, conc, upd, full = (statistics.median(col) for col in zip(*write_runs, strict=True))
    print(f"raw inserts, 1 row/txn               {raw_one:10.0f} /s")
    print(f"raw inserts, 64 rows/txn             {raw_batch:10.0f} /s")
    print(f"store creates, sequential            {seq:10.0f} /s   x{seq / raw_one:.2f} of raw 1 row/txn")
    print(
        f"store creates, 64 concurrent         {conc:10.0f} /s   x{conc / raw_one:.2f} of raw 1 row/txn,"
        f" x{conc / raw_batch:.2f} of raw 64 rows/txn"
    )
    print(f"store CAS updates, 64 concurrent     {upd:10.0f} /s   x{upd / raw_one:.2f} of raw 1 row/txn")
    print(f"store creates, 64 concurrent, FULL   {full:10.0f} /s   (fsync per group commit)")

    gets = [runner(with_store(gets_paired)) for _ in range(runs)]
    raw_get = statistics.median(g[0] for g in gets)
    get_loop = statistics.median(g[1] for g in gets)
    get_thread = store_metric(gets_in_thread)
    print(f"raw point gets                       {raw_get:10.0f} /s")
    print(f"store get, on the loop thread        {get_loop:10.0f} /s   x{get_loop / raw_get:.2f} of raw")
    print(f"same read via a reader thread (64x)  {get_thread:10.0f} /s   x{get_thread / raw_get:.2f} of raw")
    lists = [runner(with_store(lists_paired)) for _ in range(runs)]
    raw_list_s, whole = (statistics.median(col) for col in zip(*lists, strict=True))
    paged = store_metric(list_paged)
    print(f"raw SELECT of 10k rows               {raw_list_s * 1000:10.1f} ms")
    print(f"store list of 10k keys, one call     {whole * 1000:10.1f} ms   x{raw_list_s / whole:.2f} of raw speed")
    print(f"store list of 10k keys, 500/page     {paged * 1000:10.1f} ms   (20 reads, each counting the keys left)")
    watches = [
        (raw_watch_live(10000), runner(with_store(watch_live)), raw_watch_catch_up(10000),
         runner(with_store(watch_catch_up)))
        for _ in range(runs)
    ]
    raw_live, live, raw_catch_up, catch_up = (statistics.median(col) for col in zip(*watches, strict=True))
    print(f"raw pollers, 10 reading each commit  {raw_live:10.0f} rows/s delivered")
    print(f"watch, live to 10 watchers           {live:10.0f} events/s delivered   x{live / raw_live:.2f} of raw")
    print(f"raw read of 10k log rows             {raw_catch_up:10.0f} rows/s")
    print(f"watch, catch-up from the log         {catch_up:10.0f} events/s   x{catch_up / raw_catch_up:.2f} of raw")


if __name__ == "__main__":
    main()
