"""The SQLite schema of the embedded store, its connection settings and the SQL every part shares.

The layout is kine's: one append-only log table, `kine`, whose row id is the revision. Each write appends
a row for its key; the row's `prev_revision` is the id of the key's previous row (0 for the first create).
A tombstone row (`deleted = 1`) records a delete and keeps the last value, like kine.

- UNIQUE (name, prev_revision) makes compare-and-swap safe even against a buggy writer: two rows can never
  claim the same predecessor, so at most one of two racing writes on the same revision can land.
- INDEX (name, id, deleted) serves "latest row of a key" seeks and covers the per-key GROUP BY of a range
  list, so a list page touches table rows only for the keys it returns.
- `id INTEGER PRIMARY KEY AUTOINCREMENT`: `sqlite_sequence` keeps the highest revision ever used, so the
  revision counter survives restarts and never goes back, even after compaction removed the newest rows.
  A new database is seeded at revision 1 (etcd's empty-store revision); the first write is revision 2.
- `old_value` stays NULL: a row's previous value is read from the row at `prev_revision`, which compaction
  never removes while a newer row above the compaction point refers to it. Writing it would double the
  bytes written per update (measured: 28k -> 14k rows/s in 64-row transactions).
- `kine_meta` holds the logical compaction point (`compact_revision`, below which reads fail with
  Compacted) and how far the physical deletion got (`compact_done`), so an interrupted compaction resumes.

Durability: WAL journal with synchronous=NORMAL by default. A commit returns once its WAL frames were
handed to the kernel with write(2), so an acknowledged write survives the death of the process
(`kill -9`); the WAL is fsynced at checkpoints, so after a power loss or kernel crash the database is
consistent but the last commits may be missing. synchronous=FULL fsyncs the WAL on every commit (one fsync
per group commit) and survives power loss too.
"""

from __future__ import annotations

import sqlite3
from typing import Literal

from kijabi.storage import KeyValue

Synchronous = Literal["NORMAL", "FULL"]

SCHEMA_VERSION = 1

_TABLES = (
    """CREATE TABLE IF NOT EXISTS kine (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL,
        created INTEGER NOT NULL,
        deleted INTEGER NOT NULL,
        create_revision INTEGER NOT NULL,
        prev_revision INTEGER NOT NULL,
        lease INTEGER NOT NULL DEFAULT 0,
        value BLOB,
        old_value BLOB
    )""",
    "CREATE INDEX IF NOT EXISTS kine_name_id_deleted_index ON kine (name, id, deleted)",
    "CREATE UNIQUE INDEX IF NOT EXISTS kine_name_prev_revision_uindex ON kine (name, prev_revision)",
    "CREATE TABLE IF NOT EXISTS kine_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID",
)

# --- shared statements -------------------------------------------------------------------------------

# (current revision, logical compaction point): read in the same transaction as the data they qualify.
SELECT_STATE = (
    "SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'kine'),"
    " (SELECT value FROM kine_meta WHERE key = 'compact_revision')"
)
SELECT_COMPACT_DONE = "SELECT value FROM kine_meta WHERE key = 'compact_done'"
SET_META = "INSERT OR REPLACE INTO kine_meta (key, value) VALUES (?, ?)"

# The newest row of one key: (id, deleted, create_revision, value).
SELECT_LATEST = "SELECT id, deleted, create_revision, value FROM kine WHERE name = ? ORDER BY id DESC LIMIT 1"


def latest(cur: sqlite3.Cursor | sqlite3.Connection, key: str) -> KeyValue | None:
    """The live value of `key` (None if it does not exist or its newest row is a deletion)."""
    rows = cur.execute(SELECT_LATEST, (key,)).fetchall()
    if not rows or rows[0][1]:
        return None
    rev, _, create_revision, value = rows[0]
    return KeyValue(key, value, create_revision, rev)

INSERT_ROW = (
    "INSERT INTO kine (id, name, created, deleted, create_revision, prev_revision, value)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _range_conditions(column: str, *, end: bool, after: bool) -> str:
    cond = f"{column} >= :start"
    if end:
        cond += f" AND {column} < :end"
    if after:
        cond += f" AND {column} > :after"
    return cond


def list_sql(*, end: bool, after: bool) -> str:
    """Newest row per key with id <= :rev, live keys only, in key order, at most :limit of them.

    The inner query walks the covering (name, id, deleted) index in key order; MAX(id) makes SQLite take
    the bare `deleted` column from the newest row of each group, so HAVING drops deleted keys before the
    LIMIT. CROSS JOIN keeps the inner query as the outer loop (a co-routine streaming in key order), so
    only the page's rows are read from the table and nothing is sorted. Callers still sort the (already
    sorted) page in Python, which costs one linear pass, so correctness does not rest on the plan.
    """
    cond = _range_conditions("name", end=end, after=after)
    return (
        "SELECT kv.id, kv.name, kv.create_revision, kv.value FROM"
        f" (SELECT MAX(id) AS id, deleted FROM kine WHERE {cond} AND id <= :rev"
        " GROUP BY name HAVING deleted = 0 ORDER BY name LIMIT :limit) AS mx"
        " CROSS JOIN kine AS kv ON kv.id = mx.id"
    )


def count_sql(*, end: bool, after: bool) -> str:
    """Number of live keys in the range as of :rev (index only)."""
    cond = _range_conditions("name", end=end, after=after)
    return (
        f"SELECT COUNT(*) FROM (SELECT MAX(id) AS id, deleted FROM kine WHERE {cond} AND id <= :rev"
        " GROUP BY name HAVING deleted = 0)"
    )


def history_sql(*, end: bool) -> str:
    """Log rows with :after < id <= :upto under the prefix, in revision order, with each row's previous
    row (LEFT JOIN: absent for a first create)."""
    cond = _range_conditions("kv.name", end=end, after=False)
    return (
        "SELECT kv.id, kv.name, kv.created, kv.deleted, kv.create_revision, kv.value,"
        " pv.id, pv.deleted, pv.create_revision, pv.value"
        " FROM kine AS kv LEFT JOIN kine AS pv ON pv.id = kv.prev_revision"
        f" WHERE kv.id > :after AND kv.id <= :upto AND {cond} ORDER BY kv.id LIMIT :limit"
    )


# --- compaction --------------------------------------------------------------------------------------

# Upper bound of the next compaction window: the id of the :batch-th row after :done (or NULL if fewer).
SELECT_WINDOW_END = (
    "SELECT MAX(id) FROM (SELECT id FROM kine WHERE id > :done AND id <= :target ORDER BY id LIMIT :batch)"
)
# Rows superseded by a row in the window, and tombstones in the window (kine's rule). A row above the
# window is never touched, so every list or watch at or after the compaction point still finds its rows.
DELETE_WINDOW = (
    "DELETE FROM kine WHERE id IN ("
    " SELECT prev_revision FROM kine WHERE id > :lo AND id <= :hi AND prev_revision != 0"
    " UNION ALL SELECT id FROM kine WHERE id > :lo AND id <= :hi AND deleted != 0)"
)


# --- connections -------------------------------------------------------------------------------------


def connect(path: str) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit BEGIN/COMMIT), usable from any thread
    but by one at a time."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, cached_statements=256)
    conn.execute("PRAGMA busy_timeout = 5000")
    return conn


def open_writer(path: str, synchronous: Synchronous) -> sqlite3.Connection:
    """The write connection. Creates the schema on a new database (page settings must come first)."""
    conn = connect(path)
    try:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")  # effective only before the first table exists
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchall()[0][0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"cannot switch {path} to WAL journal mode (got {mode})")
        conn.execute(f"PRAGMA synchronous = {synchronous}")
        conn.execute("PRAGMA journal_size_limit = 67108864")  # truncate the WAL back to 64 MiB after resets
        # 8 MiB of pages: the index and the table's tail, which writes touch; other pages come from the
        # OS page cache at memcpy cost, without counting against the server's memory.
        conn.execute("PRAGMA cache_size = -8192")
        conn.execute("BEGIN IMMEDIATE")
        try:
            for stmt in _TABLES:
                conn.execute(stmt)
            seeded = conn.execute("SELECT 1 FROM sqlite_sequence WHERE name = 'kine'").fetchall()
            if not seeded:
                has_rows = conn.execute("SELECT 1 FROM kine LIMIT 1").fetchall()
                if not has_rows:
                    conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('kine', 1)")
            for key, default in (
                ("schema_version", SCHEMA_VERSION),
                ("compact_revision", 0),
                ("compact_done", 0),
            ):
                conn.execute("INSERT OR IGNORE INTO kine_meta (key, value) VALUES (?, ?)", (key, default))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    except BaseException:
        conn.close()
        raise
    return conn


def open_reader(path: str) -> sqlite3.Connection:
    conn = connect(path)
    try:
        conn.execute("PRAGMA query_only = 1")
        conn.execute("PRAGMA cache_size = -8192")  # reads are mostly served by the API's watch cache
    except BaseException:
        conn.close()
        raise
    return conn
