"""Datastore snapshots, restore and migration at the storage level (kijabi.storage.snapshot), on real
SQLite files and a real single-member etcd (Debian's etcd 3.4, started by the test)."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kijabi.storage import Storage
from kijabi.storage.etcd import EtcdStorage
from kijabi.storage.snapshot import (
    EtcdDatastore,
    SnapshotError,
    SQLiteDatastore,
    migrate,
    parse_datastore,
    read_all,
    restore,
    save,
    snapshot_kind,
    started,
)
from kijabi.storage.sqlite import SQLiteStorage
from tests.storage.etcd_cluster import EtcdCluster
from tests.storage.storage_testlib import require_etcd

FIXED = {f"/registry/configmaps/default/c{i}": f'{{"n":{i}}}'.encode() for i in range(20)}


@pytest.fixture
def etcd() -> Iterator[EtcdCluster]:
    require_etcd()
    cluster = EtcdCluster.start(1)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStorage]:
    store = SQLiteStorage(str(tmp_path / "db" / "state.db"), compact_interval=0)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


async def populate(store: Storage) -> None:
    await asyncio.gather(*(store.create(k, v) for k, v in FIXED.items()))


async def contents(store: Storage) -> dict[str, bytes]:
    return {kv.key: kv.value for kv in await read_all(store)}


async def save_while_writing(store: Storage, ds: SQLiteDatastore | EtcdDatastore, dest: Path) -> list[str]:
    """Save a snapshot while a writer creates keys one after the other; returns the keys written."""
    written: list[str] = []
    done = asyncio.Event()
    underway = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not done.is_set() or i < 20:
            key = f"/registry/pods/default/w{i:05d}"
            await store.create(key, b"{}")
            written.append(key)
            i += 1
            if i == 10:
                underway.set()

    task = asyncio.create_task(writer())
    await underway.wait()
    try:
        await save(ds, dest)
    finally:
        done.set()
        await task
    return written


def assert_consistent(restored: dict[str, bytes], written: list[str]) -> None:
    """The fixed keys, and the writer's keys up to some point (a snapshot never has a gap)."""
    assert {k: v for k, v in restored.items() if not k.startswith("/registry/pods/")} == FIXED
    got = sorted(k for k in restored if k.startswith("/registry/pods/"))
    assert got == written[: len(got)], "the snapshot is not one consistent state"
    assert 10 <= len(got) <= len(written)


async def test_sqlite_snapshot_while_writing_then_restore(sqlite_store: SQLiteStorage, tmp_path: Path) -> None:
    """An online SQLite snapshot is one consistent state; restore refuses while the store is open, and
    with the store closed puts back exactly what was saved."""
    ds = SQLiteDatastore(Path(sqlite_store.path))
    await populate(sqlite_store)
    snap = tmp_path / "snap"
    written = await save_while_writing(sqlite_store, ds, snap)
    assert snapshot_kind(snap) == "sqlite"
    await sqlite_store.delete("/registry/configmaps/default/c1")
    await sqlite_store.update("/registry/configmaps/default/c2", b"changed", expected_revision=0)
    await sqlite_store.create("/registry/secrets/default/new", b"{}")
    after_mutation = await contents(sqlite_store)

    with pytest.raises(SnapshotError, match="in use by a running server"):
        await restore(ds, snap)
    assert await contents(sqlite_store) == after_mutation  # nothing changed

    await sqlite_store.close()
    result = await restore(ds, snap)
    assert not Path(f"{ds.path}-wal").exists()
    reopened = SQLiteStorage(str(ds.path), compact_interval=0)
    await reopened.start()
    try:
        restored = await contents(reopened)
        assert_consistent(restored, written)
        assert result.keys == len(restored)
        await reopened.create("/registry/secrets/default/after", b"{}")  # the store works on
    finally:
        await reopened.close()


async def test_etcd_snapshot_is_a_real_etcd_snapshot_and_restores_logically(
    etcd: EtcdCluster, tmp_path: Path
) -> None:
    """The etcd snapshot passes `etcdctl snapshot status`; a restore into the running cluster makes the
    keys under /registry/ equal to the snapshot's with new revisions, and leaves other keys alone."""
    ds = EtcdDatastore(tuple(etcd.endpoints))
    async with started(ds) as store:
        await populate(store)
        await store.create("/other/key", b"before")
        snap = tmp_path / "snap"
        written = await save_while_writing(store, ds, snap)
        status = await asyncio.to_thread(
            subprocess.run,
            ["etcdctl", "snapshot", "status", str(snap), "-w", "json"],
            capture_output=True, text=True, env={"ETCDCTL_API": "3"}, check=False,
        )
        assert status.returncode == 0, status.stderr
        assert snapshot_kind(snap) == "etcd"
        await store.delete("/registry/configmaps/default/c1")
        await store.update("/registry/configmaps/default/c2", b"changed", expected_revision=0)
        await store.create("/registry/secrets/default/new", b"{}")
        await store.update("/other/key", b"after", expected_revision=0)
        revision_before = await store.current_revision()

    result = await restore(ds, snap)

    async with started(ds) as store:
        restored = await contents(store)
        assert_consistent(restored, written)
        assert (result.keys, result.deleted) == (len(restored), 1 + len(written) - (len(restored) - len(FIXED)))
        assert result.written == 2  # c1 back, c2 back: unchanged keys are not rewritten
        back = await store.get("/registry/configmaps/default/c1")
        assert back is not None and back.mod_revision > revision_before
        other = await store.get("/other/key")
        assert other is not None and other.value == b"after"


async def test_migrate_round_trip_sqlite_etcd_sqlite(
    sqlite_store: SQLiteStorage, etcd: EtcdCluster, tmp_path: Path
) -> None:
    """Every key under /registry/ goes sqlite -> etcd -> sqlite unchanged; a non-empty target is refused
    unless forced, and a forced migration makes it hold exactly the source's keys."""
    await populate(sqlite_store)
    await sqlite_store.create("/registry/example.com/widgets/default/w1", b'{"kind":"Widget"}')
    expected = await contents(sqlite_store)
    source = SQLiteDatastore(Path(sqlite_store.path))
    with pytest.raises(SnapshotError, match="stop the server first"):
        await migrate(source, EtcdDatastore(tuple(etcd.endpoints)))
    await sqlite_store.close()

    seen: list[tuple[int, int]] = []
    etcd_ds = EtcdDatastore(tuple(etcd.endpoints))
    assert await migrate(source, etcd_ds, progress=lambda done, total: seen.append((done, total))) == len(expected)
    assert seen[-1] == (len(expected), len(expected))
    back = SQLiteDatastore(tmp_path / "back" / "state.db")
    assert await migrate(etcd_ds, back) == len(expected)
    async with started(back) as store:
        assert await contents(store) == expected
        await store.create("/registry/configmaps/default/extra", b"{}")

    with pytest.raises(SnapshotError, match="already holds"):
        await migrate(etcd_ds, back)
    assert await migrate(etcd_ds, back, force=True) == len(expected)
    async with started(back) as store:
        assert await contents(store) == expected


@pytest.mark.parametrize(
    "content, message",
    [
        pytest.param(None, "does not exist", id="missing-file"),
        pytest.param(b"", "not a kijabi snapshot", id="empty-file"),
        pytest.param(b"apiVersion: v1\nkind: ConfigMap\n", "not a kijabi snapshot", id="text-file"),
        pytest.param("other-sqlite", "not a kijabi datastore snapshot", id="foreign-sqlite-db"),
    ],
)
async def test_restore_refuses_bad_files_and_changes_nothing(
    sqlite_store: SQLiteStorage, tmp_path: Path, content: bytes | str | None, message: str
) -> None:
    """A bad snapshot file is one clear error and the datastore keeps its keys."""
    await populate(sqlite_store)
    await sqlite_store.close()
    ds = SQLiteDatastore(Path(sqlite_store.path))
    before = ds.path.read_bytes()
    bad = tmp_path / "bad"
    if content == "other-sqlite":
        conn = sqlite3.connect(bad)
        conn.execute("CREATE TABLE t (x)")
        conn.commit()
        conn.close()
    elif isinstance(content, bytes):
        bad.write_bytes(content)
    with pytest.raises(SnapshotError, match=message) as info:
        await restore(ds, bad)
    assert "\n" not in str(info.value)
    assert ds.path.read_bytes() == before


async def test_restore_refuses_a_snapshot_of_the_other_backend(sqlite_store: SQLiteStorage, tmp_path: Path) -> None:
    """An SQLite snapshot cannot be restored into etcd (and the reverse): the error says to migrate."""
    ds = SQLiteDatastore(Path(sqlite_store.path))
    await save(ds, tmp_path / "snap")
    with pytest.raises(SnapshotError, match="datastore migrate"):
        await restore(EtcdDatastore(("127.0.0.1:1",)), tmp_path / "snap")


async def test_save_refuses_a_missing_datastore_and_an_existing_file(tmp_path: Path, sqlite_store: SQLiteStorage) -> None:
    """Saving never creates a datastore and never overwrites a snapshot."""
    with pytest.raises(SnapshotError, match="no sqlite datastore"):
        await save(SQLiteDatastore(tmp_path / "nowhere.db"), tmp_path / "s1")
    assert not (tmp_path / "nowhere.db").exists()
    ds = SQLiteDatastore(Path(sqlite_store.path))
    await save(ds, tmp_path / "s2")
    with pytest.raises(SnapshotError, match="already exists"):
        await save(ds, tmp_path / "s2")


@pytest.mark.parametrize(
    "endpoint, expected",
    [
        pytest.param("", SQLiteDatastore(Path("/data/server/db/state.db")), id="default-sqlite"),
        pytest.param("sqlite:///x/state.db?_journal=WAL", SQLiteDatastore(Path("/x/state.db")), id="sqlite-url"),
        pytest.param("etcd://a:2379,b:2379", EtcdDatastore(("etcd://a:2379", "etcd://b:2379")), id="etcd-list"),
        pytest.param("https://a:2379", EtcdDatastore(("https://a:2379",)), id="https"),
    ],
)
def test_parse_datastore(endpoint: str, expected: object) -> None:
    """Endpoints are read like the server's --datastore-endpoint."""
    assert parse_datastore(endpoint, data_dir=Path("/data")) == expected


def test_parse_datastore_refuses_unknown_schemes() -> None:
    with pytest.raises(SnapshotError, match="unsupported datastore endpoint"):
        parse_datastore("mysql://db", data_dir=Path("/data"))


async def test_etcd_write_batch_is_one_revision(etcd: EtcdCluster) -> None:
    """EtcdStorage.write_batch applies puts and deletes in one transaction."""
    store = EtcdStorage(etcd.endpoints, compact_interval=0, prefix="/t")
    await store.start()
    try:
        await store.create("/a", b"1")
        rev = await store.write_batch([("/b", b"2"), ("/c", b"3")], ["/a"])
        assert [(kv.key, kv.mod_revision) for kv in (await store.list("/")).items] == [("/b", rev), ("/c", rev)]
    finally:
        await store.close()
