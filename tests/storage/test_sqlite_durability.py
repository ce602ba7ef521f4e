"""SQLite backend: acknowledged writes survive kill -9, restarts keep the revision counter monotonic,
one process owns the file, and close() neither loses nor hangs writes."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from kijabi.storage import KeyValue, StorageError, Unavailable, _sqlite_writer
from kijabi.storage.sqlite import SQLiteStorage

Opener = Callable[..., Awaitable[SQLiteStorage]]
HERE = Path(__file__).parent


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path, open_sqlite: Opener) -> None:
    """A writer process is SIGKILLed mid-stream: after reopening, every write it had acknowledged is
    there with its revision, and the revision counter continues above all of them."""
    path = str(tmp_path / "state.db")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(HERE / "sqlite_crash_writer.py"),
        path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(HERE.parent.parent)},
    )
    assert proc.stdout is not None and proc.stderr is not None
    lines: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(lines) < 3000:
                line = await proc.stdout.readline()
                assert line, f"writer exited early: {(await proc.stderr.read()).decode()}"
                lines.append(line)
        proc.send_signal(signal.SIGKILL)
        rest, _ = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == -signal.SIGKILL
    lines += rest.splitlines(keepends=True)
    acks = [line.decode().split() for line in lines if line.endswith(b"\n")]  # a torn line is no ack
    assert len(acks) >= 3000

    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    store = await open_sqlite(path)
    max_acked = 0
    last_counter = 0
    for op, key, rev in acks:
        max_acked = max(max_acked, int(rev))
        if op == "create":
            assert await store.get(key) == KeyValue(key, key.encode() * 20, int(rev), int(rev))
        else:
            last_counter = max(last_counter, int(rev))
    counter = await store.get("/registry/leases/crash/counter")
    assert counter is not None and counter.mod_revision >= last_counter
    assert await store.current_revision() >= max_acked
    after = await store.create("/registry/pods/crash/after", b"x")
    assert after.mod_revision > max_acked


async def test_fresh_store_starts_at_revision_one_like_etcd(open_sqlite: Opener) -> None:
    store = await open_sqlite()
    assert await store.current_revision() == 1
    assert await store.compacted_revision() == 0
    assert (await store.create("/a", b"")).mod_revision == 2


@pytest.mark.parametrize("compact_first", [False, True], ids=["plain restart", "newest rows compacted away"])
async def test_restart_keeps_revision_counter_monotonic(open_sqlite: Opener, compact_first: bool) -> None:
    """The revision after a restart is the last one used, even when compaction deleted the rows that
    carried it (a deleted key's tombstone); the compaction point survives too."""
    store = await open_sqlite()
    kv = await store.create("/registry/pods/ns/a", b"1")
    await store.update(kv.key, b"2", expected_revision=0)
    last = await store.delete(kv.key)
    if compact_first:
        await store.compact(last.mod_revision)
    await store.close()

    again = await open_sqlite()
    assert await again.current_revision() == last.mod_revision
    assert await again.compacted_revision() == (last.mod_revision if compact_first else 0)
    nxt = await again.create(kv.key, b"3")
    assert nxt.mod_revision == last.mod_revision + 1
    await again.close()
    third = await open_sqlite()
    assert await third.get(kv.key) == nxt


async def test_second_store_on_the_same_file_is_refused(open_sqlite: Opener) -> None:
    await open_sqlite()
    with pytest.raises(Unavailable, match="in use"):
        await open_sqlite()


async def test_close_commits_every_queued_write(tmp_path: Path, open_sqlite: Opener) -> None:
    """Writes already submitted when close() is called are committed and acknowledged; writes after
    it fail with Unavailable; nothing is left waiting."""
    store = await open_sqlite()
    tasks = [asyncio.ensure_future(store.create(f"/registry/pods/ns/p{i}", b"v")) for i in range(200)]
    await asyncio.sleep(0)  # the tasks submit their writes
    await store.close()
    results = await asyncio.gather(*tasks)
    assert len({kv.mod_revision for kv in results}) == 200
    with pytest.raises(Unavailable):
        await store.create("/registry/pods/ns/late", b"v")
    with pytest.raises(Unavailable):
        await store.get("/registry/pods/ns/p0")
    reopened = await open_sqlite()
    assert await reopened.count("/registry/pods/ns/") == 200


async def test_use_before_start_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStorage(str(tmp_path / "state.db"))
    with pytest.raises(Unavailable):
        await store.create("/a", b"")
    with pytest.raises(Unavailable):
        await store.get("/a")
    await store.close()  # a no-op


async def test_unopenable_path_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    store = SQLiteStorage(str(tmp_path / "dir.db"))
    with pytest.raises(Unavailable):
        await store.start()


async def test_failed_commit_fails_the_whole_group_and_reuses_no_revision(open_sqlite: Opener) -> None:
    """When SQLite refuses the transaction (here: database full), every write of the group fails with
    Unavailable (the sqlite3 error as its cause), nothing is published, and the revisions are given back."""
    store = await open_sqlite()
    watch = store.watch("/registry/", from_revision=await store.current_revision())
    before = await store.create("/registry/pods/ns/ok", b"v")
    assert store._writer is not None
    conn = store._writer._conn  # the writer thread is idle (blocked on its queue): safe to poke
    pages = conn.execute("PRAGMA page_count").fetchall()[0][0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    big = b"x" * 200_000
    results = await asyncio.gather(
        *(store.create(f"/registry/pods/ns/big{i}", big) for i in range(4)), return_exceptions=True
    )
    assert all(isinstance(r, Unavailable) and isinstance(r.__cause__, sqlite3.Error) for r in results)
    conn.execute("PRAGMA max_page_count = 1073741823")
    after = await store.create("/registry/pods/ns/after", b"v")
    assert after.mod_revision == before.mod_revision + 1
    first = await anext(watch)
    second = await anext(watch)
    assert [first.kv, second.kv] == [before, after]
    await watch.aclose()


async def test_read_errors_are_wrapped(open_sqlite: Opener) -> None:
    """A sqlite3 error on the read side surfaces as Unavailable, never as sqlite3.Error."""
    store = await open_sqlite()
    assert store._reader is not None
    store._reader.close()
    with pytest.raises(Unavailable) as info:
        await store.get("/a")
    assert isinstance(info.value.__cause__, sqlite3.Error)
    with pytest.raises(Unavailable):
        await store.list("/")


async def test_unencodable_key_fails_that_write_only(open_sqlite: Opener) -> None:
    store = await open_sqlite()
    ok, bad = await asyncio.gather(
        store.create("/registry/pods/ns/ok", b"v"),
        store.create("/registry/pods/ns/\udc80", b"v"),
        return_exceptions=True,
    )
    assert isinstance(ok, KeyValue)
    assert isinstance(bad, StorageError) and not isinstance(bad, Unavailable)
    assert await store.get("/registry/pods/ns/ok") == ok


async def test_writer_thread_failure_makes_the_store_unavailable(
    open_sqlite: Opener, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the writer thread dies of a bug, its group fails with Unavailable, later calls are refused,
    watches end, and close() still returns: no caller is left waiting."""
    store = await open_sqlite()
    ok = await store.create("/k/ok", b"v")
    watch = store.watch("/k/", from_revision=ok.mod_revision)
    waiting = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)  # the watch is running (subscribed, waiting for events)
    real_apply = _sqlite_writer.Writer._apply

    def exploding_apply(self: _sqlite_writer.Writer, req: _sqlite_writer.WriteRequest) -> object:
        if req.key == "/k/boom":
            raise RuntimeError("bug")
        return real_apply(self, req)

    monkeypatch.setattr(_sqlite_writer.Writer, "_apply", exploding_apply)
    results = await asyncio.gather(
        store.create("/k/a", b"v"), store.create("/k/boom", b"v"), return_exceptions=True
    )
    assert all(isinstance(r, Unavailable) for r in results)
    with pytest.raises(Unavailable):
        await store.create("/k/later", b"v")
    with pytest.raises(StopAsyncIteration):
        await waiting
    with pytest.raises(Unavailable):
        await anext(store.watch("/k/", from_revision=0))
    await store.close()
    reopened = await open_sqlite()  # close() released the file
    assert await reopened.get("/k/ok") == ok
    assert await reopened.get("/k/a") is None
