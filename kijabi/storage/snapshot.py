"""Datastore snapshots and migration: save a consistent copy of a store, put one back, copy between backends.

A datastore is named the way the server's flags name it (`parse_datastore`): a SQLite file or an etcd
cluster. Snapshots are files, one per snapshot, in the backend's own format:

    SQLite   a SQLite database file, written by `VACUUM INTO` from a connection of its own while the
             server keeps writing (WAL: the copy is one read transaction, so it is consistent, and the
             server's writes never wait for it). The file holds the store's log table as it was.
    etcd     the real etcd snapshot (Maintenance.Snapshot: the member's bolt database followed by the
             SHA-256 of its bytes), exactly what `etcdctl snapshot save` writes; `etcdctl snapshot
             status` and `etcdctl snapshot restore` accept it.

Restore:

    SQLite   with the server stopped: the file is checked (a kijabi store, `PRAGMA quick_check`), copied
             next to the database, the old database's WAL is checkpointed into it (so no stale -wal can
             ever be replayed onto the new file), and the copy renamed over the database in one
             `rename(2)`. While a server runs, its exclusive `flock` on the file makes the restore refuse.
    etcd     logically, into the running cluster (kijabi does not manage etcd members, so it cannot do a
             member-level `etcdctl snapshot restore` of someone else's cluster): the snapshot is restored
             with `etcdctl snapshot restore` into a temporary data dir, a temporary single etcd is started
             from it on free 127.0.0.1 ports, every key under the registry prefix is read from it, and the
             target cluster's keys under that prefix are made equal to them in transactions of at most
             `ETCD_TXN_OPS` operations (puts of changed or missing keys, deletes of keys the snapshot does
             not have). Keys outside the prefix are not touched. The restored objects get new revisions
             (the cluster's revision only moves forward), so clients re-list, as after any restore.
             Each batch is atomic, the whole restore is not: a restore cut short is finished by running
             it again. Writes that API servers make while the restore runs may be overwritten by it.

Migration (`migrate`) copies every key under the registry prefix from one open datastore to another
(either direction); values are copied byte for byte, revisions become the target's.

Errors are `SnapshotError` (a `StorageError`) with a one-line message meant for the user; store errors of
the backends pass through as they are (they are one line too).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import logging
import os
import shutil
import socket
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Literal

from kijabi.storage import KeyValue, Storage, StorageError, Unavailable
from kijabi.storage._etcd_endpoints import parse_endpoints, split_url
from kijabi.storage._keys import prefix_end
from kijabi.storage.sqlite import SQLiteStorage

if TYPE_CHECKING:  # gRPC and the etcd client load only when an etcd datastore is used
    import grpc

    from kijabi.storage.etcd import EtcdStorage

log = logging.getLogger(__name__)

REGISTRY_PREFIX: Final = "/registry/"
ETCD_TXN_OPS: Final = 128  # etcd's default --max-txn-ops
ETCD_TXN_BYTES: Final = 1 << 20  # values per transaction, below etcd's default --max-request-bytes
SQLITE_BATCH: Final = 512  # writes submitted at once to the SQLite writer (it commits them as groups)
LIST_PAGE: Final = 500
SQLITE_MAGIC: Final = b"SQLite format 3\0"
BOLT_MAGIC: Final = 0xED0CDAED  # bbolt's meta page magic, at offset 16 of the file
ETCD_START_TIMEOUT: Final = 30.0

SnapshotKind = Literal["sqlite", "etcd"]
Progress = Callable[[int, int], None]  # (keys done, keys in all)


class SnapshotError(StorageError):
    """A snapshot, restore or migration could not be done; the message is one line for the user."""


# --- naming a datastore --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SQLiteDatastore:
    path: Path

    def __str__(self) -> str:
        return f"sqlite://{self.path}"


@dataclass(frozen=True)
class EtcdDatastore:
    endpoints: tuple[str, ...]
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None

    def __str__(self) -> str:
        return "etcd://" + ",".join(e.split("://", 1)[-1] for e in self.endpoints)


Datastore = SQLiteDatastore | EtcdDatastore


def parse_datastore(
    endpoint: str, *, data_dir: Path, ca_file: str = "", cert_file: str = "", key_file: str = ""
) -> Datastore:
    """The datastore a server with these flags uses: `--datastore-endpoint` (`sqlite:///path`,
    `etcd://h1:2379,h2:2379`, `http(s)://...`; empty: `<data_dir>/server/db/state.db`) and the etcd TLS
    files. SnapshotError for an endpoint of another kind."""
    if endpoint.startswith(("etcd://", "http://", "https://")):
        endpoints = tuple(split_url(endpoint))
        try:
            parse_endpoints(endpoints, tls_files=bool(ca_file or cert_file))
        except StorageError as exc:
            raise SnapshotError(str(exc)) from exc
        return EtcdDatastore(endpoints, ca_file or None, cert_file or None, key_file or None)
    if not endpoint:
        return SQLiteDatastore(data_dir / "server" / "db" / "state.db")
    if endpoint.startswith("sqlite://"):
        path = endpoint[len("sqlite://") :].split("?", 1)[0]
        if path:
            return SQLiteDatastore(Path(path))
    raise SnapshotError(
        f"unsupported datastore endpoint {endpoint!r} (sqlite:///path or etcd://host:2379,...)"
    )


def open_datastore(ds: Datastore, *, create: bool = False, server: bool = False) -> Storage:
    """A Storage on the datastore, not started. A SQLite file that does not exist is an error unless
    `create` (so that a typo does not silently read an empty store). For a tool (the default) the store
    does no periodic compaction and etcd requests give up after 10 s; `server` keeps the stores' own
    defaults (what the API server runs with) and creates a missing SQLite file."""
    if isinstance(ds, SQLiteDatastore):
        if not (create or server) and not ds.path.exists():
            raise SnapshotError(f"no sqlite datastore at {ds.path}")
        ds.path.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteStorage(str(ds.path)) if server else SQLiteStorage(str(ds.path), compact_interval=0)
    from kijabi.storage.etcd import EtcdStorage

    if server:
        return EtcdStorage(list(ds.endpoints), ca_file=ds.ca_file, cert_file=ds.cert_file, key_file=ds.key_file)
    return EtcdStorage(list(ds.endpoints), ca_file=ds.ca_file, cert_file=ds.cert_file, key_file=ds.key_file,
                       compact_interval=0, retry_timeout=10.0)


@contextlib.asynccontextmanager
async def started(ds: Datastore, *, create: bool = False) -> AsyncIterator[Storage]:
    """The datastore opened and started, closed on exit; a store in use by a running server (SQLite) or
    unreachable (etcd) is a SnapshotError."""
    store = open_datastore(ds, create=create)
    try:
        await store.start()
    except Unavailable as exc:
        hint = "; stop the server first" if "in use" in str(exc) else ""
        raise SnapshotError(f"{exc}{hint}") from exc
    try:
        yield store
    finally:
        await store.close()


# --- snapshot files ----------------------------------------------------------------------------------


def snapshot_kind(path: Path) -> SnapshotKind:
    """Which backend wrote the snapshot file; SnapshotError if it is missing or neither."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
    except FileNotFoundError:
        raise SnapshotError(f"snapshot {path} does not exist") from None
    except IsADirectoryError:
        raise SnapshotError(f"snapshot {path} is a directory") from None
    except OSError as exc:
        raise SnapshotError(f"cannot read snapshot {path}: {exc.strerror}") from exc
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if len(head) >= 20 and int.from_bytes(head[16:20], "little") == BOLT_MAGIC:
        return "etcd"
    raise SnapshotError(f"{path} is not a kijabi snapshot (neither a SQLite database nor an etcd snapshot)")


def datastore_kind(ds: Datastore) -> SnapshotKind:
    return "sqlite" if isinstance(ds, SQLiteDatastore) else "etcd"


async def save(ds: Datastore, dest: Path) -> int:
    """Write a consistent snapshot of the datastore to `dest` (which must not exist); returns its size.
    The file appears complete or not at all (written as `dest.partial`, then renamed)."""
    if dest.exists():
        raise SnapshotError(f"snapshot {dest} already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    try:
        if isinstance(ds, SQLiteDatastore):
            await asyncio.to_thread(_sqlite_save, ds.path, partial)
        else:
            await _etcd_save(ds, partial)
        os.replace(partial, dest)
        _fsync_dir(dest.parent)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise
    return dest.stat().st_size


def _sqlite_save(db: Path, dest: Path) -> None:
    if not db.is_file():
        raise SnapshotError(f"no sqlite datastore at {db}")
    try:
        conn = sqlite3.connect(str(db), isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            if not _has_store_tables(conn):
                raise SnapshotError(f"{db} is not a kijabi sqlite datastore")
            conn.execute("VACUUM INTO ?", (str(dest),))
        finally:
            conn.close()
        with open(dest, "rb+") as f:
            os.fsync(f.fileno())
    except sqlite3.Error as exc:
        raise SnapshotError(f"sqlite snapshot of {db} failed: {exc}") from exc


def _has_store_tables(conn: sqlite3.Connection) -> bool:
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"kine", "kine_meta"} <= names


def _etcd_credentials(ds: EtcdDatastore) -> grpc.ChannelCredentials | None:
    import grpc

    endpoints = parse_endpoints(ds.endpoints, tls_files=bool(ds.ca_file or ds.cert_file))
    if not endpoints[0].tls:
        return None
    try:
        root = Path(ds.ca_file).read_bytes() if ds.ca_file else None
        key = Path(ds.key_file).read_bytes() if ds.key_file else None
        cert = Path(ds.cert_file).read_bytes() if ds.cert_file else None
    except OSError as exc:
        raise SnapshotError(f"cannot read etcd TLS files: {exc}") from exc
    return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert)


async def _etcd_save(ds: EtcdDatastore, dest: Path) -> None:
    """Stream Maintenance.Snapshot from the first member that serves it into `dest`."""
    import grpc.aio

    from kijabi.storage._etcd_client import METADATA
    from kijabi.storage.etcdpb import rpc_pb2, rpc_pb2_grpc

    credentials = _etcd_credentials(ds)
    errors: list[str] = []
    for endpoint in parse_endpoints(ds.endpoints, tls_files=bool(ds.ca_file or ds.cert_file)):
        if credentials is None:
            channel = grpc.aio.insecure_channel(endpoint.target)
        else:
            channel = grpc.aio.secure_channel(endpoint.target, credentials)
        try:
            stub = rpc_pb2_grpc.MaintenanceStub(channel)  # type: ignore[no-untyped-call]
            call = stub.Snapshot(rpc_pb2.SnapshotRequest(), metadata=METADATA, timeout=600)
            digest = hashlib.sha256()
            tail = b""
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                async for resp in call:
                    _write_all(fd, resp.blob)
                    data = tail + resp.blob
                    digest.update(data[:-32])
                    tail = data[-32:]
                os.fsync(fd)
            finally:
                os.close(fd)
        except grpc.aio.AioRpcError as exc:
            errors.append(f"{endpoint.target}: {exc.details() or exc.code().name}")
            continue
        finally:
            await channel.close()
        if len(tail) != 32 or digest.digest() != tail:
            raise SnapshotError(f"etcd snapshot from {endpoint.target} failed its SHA-256 check")
        return
    raise SnapshotError(f"no etcd member could send a snapshot ({'; '.join(errors)})")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- restore -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RestoreResult:
    keys: int  # keys under the prefix after the restore
    written: int  # keys put (etcd: changed or missing; SQLite: the whole file was replaced)
    deleted: int  # keys removed (etcd only)


async def restore(
    ds: Datastore, snapshot: Path, *, prefix: str = REGISTRY_PREFIX, progress: Progress | None = None
) -> RestoreResult:
    """Make the datastore hold what the snapshot holds (see the module docstring for each backend).
    SnapshotError for a missing or foreign file, a snapshot of the other backend, a SQLite datastore
    in use by a running server, or a snapshot etcd cannot restore; nothing is changed then."""
    kind = snapshot_kind(snapshot)
    if kind != datastore_kind(ds):
        raise SnapshotError(
            f"{snapshot} is a{'n' if kind == 'etcd' else ''} {kind} snapshot but the datastore {ds} is"
            f" {datastore_kind(ds)} (use `kijabi datastore migrate` to move between backends)"
        )
    if isinstance(ds, SQLiteDatastore):
        keys = await asyncio.to_thread(_sqlite_restore, ds.path, snapshot, prefix)
        return RestoreResult(keys=keys, written=keys, deleted=0)
    return await _etcd_restore(ds, snapshot, prefix, progress)


def _sqlite_restore(db: Path, snapshot: Path, prefix: str) -> int:
    keys = _check_sqlite_snapshot(snapshot, prefix)
    db.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(db, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SnapshotError(
                f"sqlite datastore {db} is in use by a running server; stop it before restoring"
            ) from None
        staged = db.with_name(db.name + ".restore")
        try:
            shutil.copyfile(snapshot, staged)
            os.chmod(staged, 0o600)
            with open(staged, "rb+") as f:
                os.fsync(f.fileno())
            _checkpoint_away(db)
            os.replace(staged, db)
        except BaseException:
            with contextlib.suppress(OSError):
                staged.unlink()
            raise
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(f"{db}{suffix}")
        _fsync_dir(db.parent)
    except OSError as exc:
        raise SnapshotError(f"cannot restore {db}: {exc}") from exc
    finally:
        os.close(fd)
    return keys


def _check_sqlite_snapshot(snapshot: Path, prefix: str) -> int:
    """The number of live keys under `prefix` in a SQLite snapshot; SnapshotError if it is not a sound
    kijabi store."""
    try:
        conn = sqlite3.connect(f"file:{snapshot}?mode=ro&immutable=1", uri=True, isolation_level=None)
        try:
            if not _has_store_tables(conn):
                raise SnapshotError(f"{snapshot} is a SQLite database but not a kijabi datastore snapshot")
            check = conn.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise SnapshotError(f"{snapshot} is damaged: {check[0][0]}")
            count: int = conn.execute(
                "SELECT COUNT(*) FROM (SELECT MAX(id) AS id, deleted FROM kine WHERE name >= ? AND name < ?"
                " GROUP BY name HAVING deleted = 0)",
                (prefix, prefix_end(prefix)),
            ).fetchall()[0][0]
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise SnapshotError(f"{snapshot} is not a readable SQLite snapshot: {exc}") from exc
    return count


def _checkpoint_away(db: Path) -> None:
    """Fold the database's WAL into the file and remove it, so that no -wal of the old database is left
    to be replayed onto the file that replaces it. The caller holds the store's lock."""
    if not os.path.exists(f"{db}-wal"):
        return
    conn = sqlite3.connect(str(db), isolation_level=None)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()  # the last connection of a WAL database checkpoints and deletes the -wal
    with contextlib.suppress(FileNotFoundError):
        if os.path.getsize(f"{db}-wal") == 0:
            os.unlink(f"{db}-wal")
    if os.path.exists(f"{db}-wal"):
        raise SnapshotError(f"cannot checkpoint the write-ahead log of {db}; is a server using it?")


async def _etcd_restore(
    ds: EtcdDatastore, snapshot: Path, prefix: str, progress: Progress | None
) -> RestoreResult:
    async with _temporary_etcd(snapshot) as source:
        wanted = await read_all(source, prefix)
    from kijabi.storage.etcd import EtcdStorage

    async with started(ds) as target:
        assert isinstance(target, EtcdStorage)
        current = await read_all(target, prefix)
        want = {kv.key: kv.value for kv in wanted}
        have = {kv.key: kv.value for kv in current}
        puts = [(k, v) for k, v in want.items() if have.get(k) != v]
        deletes = [k for k in have if k not in want]
        await write_keys(target, puts, deletes, existing=set(have), progress=progress)
    return RestoreResult(keys=len(want), written=len(puts), deleted=len(deletes))


def _etcd_tools() -> tuple[str, str]:
    etcd, etcdctl = shutil.which("etcd"), shutil.which("etcdctl")
    if etcd is None or etcdctl is None:
        raise SnapshotError(
            "restoring an etcd snapshot needs the etcd and etcdctl commands (Debian package etcd-server)"
        )
    return etcd, etcdctl


def _free_ports(n: int) -> list[int]:
    socks: list[socket.socket] = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@contextlib.asynccontextmanager
async def _temporary_etcd(snapshot: Path) -> AsyncIterator[EtcdStorage]:
    """A single etcd on 127.0.0.1 serving the snapshot's data, as a started store; gone on exit."""
    from kijabi.storage.etcd import EtcdStorage

    etcd, etcdctl = _etcd_tools()
    work = Path(tempfile.mkdtemp(prefix="kijabi-etcd-restore-"))
    proc: asyncio.subprocess.Process | None = None
    try:
        client_port, peer_port = _free_ports(2)
        peer = f"http://127.0.0.1:{peer_port}"
        client = f"http://127.0.0.1:{client_port}"
        data = work / "data"
        restore = await asyncio.create_subprocess_exec(
            etcdctl, "snapshot", "restore", str(snapshot), "--data-dir", str(data), "--name", "restore",
            "--initial-cluster", f"restore={peer}", "--initial-advertise-peer-urls", peer,
            env={**os.environ, "ETCDCTL_API": "3"},
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await restore.communicate()
        if restore.returncode != 0:
            raise SnapshotError(f"etcdctl cannot restore {snapshot}: {_last_line(out)}")
        log_path = work / "etcd.log"
        log_fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            proc = await asyncio.create_subprocess_exec(
                etcd, "--name", "restore", "--data-dir", str(data),
                "--listen-client-urls", client, "--advertise-client-urls", client,
                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                "--initial-cluster", f"restore={peer}", "--logger", "zap", "--log-level", "warn",
                stdin=asyncio.subprocess.DEVNULL, stdout=log_fd, stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            os.close(log_fd)
        store = EtcdStorage([client], compact_interval=0, retry_timeout=ETCD_START_TIMEOUT)
        starting = asyncio.ensure_future(store.start())
        exited = asyncio.ensure_future(proc.wait())
        await asyncio.wait({starting, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():
            starting.cancel()
            with contextlib.suppress(asyncio.CancelledError, StorageError):
                await starting
            raise SnapshotError(
                f"the temporary etcd for the restore exited: {_last_line(log_path.read_bytes())}"
            )
        exited.cancel()
        try:
            starting.result()
        except StorageError as exc:
            raise SnapshotError(f"the temporary etcd for the restore did not start: {exc}") from exc
        try:
            yield store
        finally:
            await store.close()
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def _last_line(out: bytes) -> str:
    lines = [line.strip() for line in out.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


# --- reading and writing whole prefixes -----------------------------------------------------------------


async def read_all(store: Storage, prefix: str = REGISTRY_PREFIX, *, page: int = LIST_PAGE) -> list[KeyValue]:
    """Every key under `prefix`, as of one revision (the first page's), in key order."""
    out: list[KeyValue] = []
    revision = 0
    after = ""
    while True:
        result = await store.list(prefix, revision=revision, limit=page, start_after=after)
        out.extend(result.items)
        revision = result.revision
        if not result.more or not result.items:
            return out
        after = result.items[-1].key


async def write_keys(
    store: Storage,
    puts: Sequence[tuple[str, bytes]],
    deletes: Sequence[str],
    *,
    existing: set[str],
    progress: Progress | None = None,
) -> None:
    """Put `puts` (unconditionally) and delete `deletes` on an open store; `existing` are the keys the
    store holds now (a put of one of them is an update, of another a create). Batched: etcd gets
    transactions of at most ETCD_TXN_OPS operations, SQLite gets its writes in groups."""
    total = len(puts) + len(deletes)
    done = 0
    if not isinstance(store, SQLiteStorage):
        from kijabi.storage.etcd import EtcdStorage  # loaded already: the store is one

        assert isinstance(store, EtcdStorage)
        for batch_puts, batch_deletes in _txn_batches(puts, deletes):
            await store.write_batch(batch_puts, batch_deletes)
            done += len(batch_puts) + len(batch_deletes)
            if progress is not None:
                progress(done, total)
        return
    ops: list[tuple[str, bytes | None]] = [*puts, *((k, None) for k in deletes)]
    for i in range(0, len(ops), SQLITE_BATCH):
        chunk = ops[i : i + SQLITE_BATCH]
        await asyncio.gather(*(_write_one(store, key, value, key in existing) for key, value in chunk))
        done += len(chunk)
        if progress is not None:
            progress(done, total)


async def _write_one(store: Storage, key: str, value: bytes | None, exists: bool) -> None:
    if value is None:
        await store.delete(key)
    elif exists:
        await store.update(key, value, expected_revision=0)
    else:
        await store.create(key, value)


def _txn_batches(
    puts: Sequence[tuple[str, bytes]], deletes: Sequence[str]
) -> list[tuple[list[tuple[str, bytes]], list[str]]]:
    batches: list[tuple[list[tuple[str, bytes]], list[str]]] = []
    cur_puts: list[tuple[str, bytes]] = []
    cur_deletes: list[str] = []
    size = 0
    for key, value in puts:
        if cur_puts and (len(cur_puts) >= ETCD_TXN_OPS or size + len(value) > ETCD_TXN_BYTES):
            batches.append((cur_puts, []))
            cur_puts, size = [], 0
        cur_puts.append((key, value))
        size += len(key) + len(value)
    if cur_puts:
        batches.append((cur_puts, []))
    for i in range(0, len(deletes), ETCD_TXN_OPS):
        cur_deletes = list(deletes[i : i + ETCD_TXN_OPS])
        batches.append(([], cur_deletes))
    return batches


# --- migration -----------------------------------------------------------------------------------------


async def migrate(
    source: Datastore,
    target: Datastore,
    *,
    prefix: str = REGISTRY_PREFIX,
    force: bool = False,
    progress: Progress | None = None,
) -> int:
    """Copy every key under `prefix` from `source` to `target`; returns the number copied. A target
    that holds keys under the prefix is refused unless `force`, which makes it hold exactly the
    source's keys. A SQLite source or target must not be in use by a running server."""
    if str(source) == str(target):
        raise SnapshotError(f"the source and the target are the same datastore ({source})")
    async with started(source) as src:
        items = await read_all(src, prefix)
    async with started(target, create=True) as dst:
        current = await read_all(dst, prefix)
        if current and not force:
            raise SnapshotError(
                f"the target datastore {target} already holds {len(current)} keys under {prefix}"
                " (use --force to replace them)"
            )
        keep = {kv.key for kv in items}
        deletes = [kv.key for kv in current if kv.key not in keep]
        await write_keys(
            dst, [(kv.key, kv.value) for kv in items], deletes, existing={kv.key for kv in current},
            progress=progress,
        )
    return len(items)
