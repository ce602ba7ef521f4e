"""The single writer of the SQLite store: one thread, one connection, group commit.

Callers on the event loop put requests on a queue and await a future. The writer thread takes everything
queued (up to `MAX_GROUP` requests or `MAX_GROUP_BYTES` of values) and runs it in ONE transaction, checking
each write on its own against the rows the transaction sees, its own earlier writes included: a lost
compare-and-swap fails only that write. After COMMIT it hands the results and the group's events to the
loop in one `call_soon_threadsafe` callback, which resolves the futures first and then publishes the
events, so no watcher sees a write before it is durable and acknowledged. If the transaction fails (disk
full, I/O error: any sqlite3 error but a constraint violation), it is rolled back, every request of the
group fails with Unavailable and nothing of it is published. Any other exception is a bug: the group
fails the same way, the queue is drained with Unavailable and the thread exits (the store then refuses
everything until it is restarted).

Small groups skip the thread: a write submitted on the loop waits in a list until the end of the
current loop iteration; if the thread is idle then (nothing queued, no group or compaction step running)
and the list holds at most `INLINE_MAX` requests, the loop runs the group itself, under the same lock the
thread holds for its groups, and delivers through `call_soon` behind any delivery the thread queued
before. A lone write so costs one transaction and no thread hand-off; larger groups still go to the
thread, where SQLite's work overlaps the loop's. Not with synchronous=FULL (an fsync per commit would
stall the loop). For the same reason the connection never checkpoints on commit: the thread checkpoints
(PASSIVE) after every `CHECKPOINT_BYTES` of written values.

Revisions: the writer is the only writer (the store holds an exclusive lock on the database file), so it
numbers rows itself: the next revision is the last committed one plus one, and a rolled back group gives
its numbers back. The table is AUTOINCREMENT, so `sqlite_sequence` records the high-water mark on disk.

Compaction runs on this thread too, one window of at most `COMPACT_BATCH` log rows per transaction,
interleaved with write groups (one window after each group while writes keep coming, back to back when
the queue is empty), so a writer never waits for more than one window. The logical compaction point is
committed first, then the rows are deleted; the progress is kept in `kine_meta`, so a compaction cut short
by a restart resumes. When a compaction finishes, the freed pages beyond a slack are returned to the file
system (incremental vacuum, also in bounded steps) and the WAL is checkpointed and truncated.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal

from kijabi.storage import (
    Conflict,
    Event,
    KeyExists,
    KeyNotFound,
    KeyValue,
    StorageError,
    Unavailable,
)
from kijabi.storage import _sqlite_schema as sql

log = logging.getLogger(__name__)

MAX_GROUP: Final = 1024  # requests per transaction
MAX_GROUP_BYTES: Final = 16 << 20  # values per transaction (keeps the WAL small with large values)
COMPACT_BATCH: Final = 1000  # log rows examined per compaction window
VACUUM_STEP: Final = 512  # pages returned to the file system per step
FREE_SLACK: Final = 0.1  # fraction of the file kept as free pages for reuse
INLINE_MAX: Final = 8  # largest group the loop runs itself when the thread is idle
CHECKPOINT_BYTES: Final = 4 << 20  # values written between two WAL checkpoints

WriteOp = Literal["create", "update", "delete"]


class WriteRequest:
    __slots__ = ("expected", "future", "key", "op", "value")

    def __init__(
        self, op: WriteOp, key: str, value: bytes, expected: int, future: asyncio.Future[KeyValue]
    ) -> None:
        self.op = op
        self.key = key
        self.value = value
        self.expected = expected
        self.future = future


class CompactRequest:
    __slots__ = ("future", "revision")

    def __init__(self, revision: int, future: asyncio.Future[None]) -> None:
        self.revision = revision
        self.future = future


class _Stop:
    """Queued by close(): everything queued before it is committed, then the thread exits."""


class _Checkpoint:
    """Queued after inline groups wrote `CHECKPOINT_BYTES`: the thread checkpoints the WAL."""


STOP: Final = _Stop()
_CHECKPOINT: Final = _Checkpoint()

Request = WriteRequest | CompactRequest | _Stop | _Checkpoint
Outcome = KeyValue | StorageError | None
Results = list[tuple["asyncio.Future[Any]", Outcome]]
# deliver(results, events, compact_revision): runs on the loop; events ascending, compact_revision set
# when a new logical compaction point was committed.
Deliver = Callable[[Results, list[Event], "int | None"], None]


class Writer:
    """Owns the write connection; `submit` is the only method called from other threads."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        loop: asyncio.AbstractEventLoop,
        deliver: Deliver,
        on_exit: Callable[[], None],
        revision: int,
        compact_revision: int,
        compact_done: int,
        inline: bool = True,
    ) -> None:
        """`inline`: small groups may run on the loop (see the module docstring)."""
        self._conn = conn
        self._cur = conn.cursor()
        self._loop = loop
        self._deliver = deliver
        self._on_exit = on_exit
        self._queue: queue.SimpleQueue[Request] = queue.SimpleQueue()
        self._revision = revision  # last committed revision
        self._compact_target = compact_revision
        self._compact_done = compact_done
        self._compact_waiters: list[CompactRequest] = []
        self._vacuuming = False
        self._thread = threading.Thread(target=self._run, name="kijabi-sqlite-writer", daemon=True)
        self._lock = threading.Lock()  # held by whoever uses the connection: the thread or the loop
        self._inline = inline
        self._pending: list[WriteRequest] = []  # submitted in this loop iteration, for _flush
        self._unchecked_bytes = 0  # values written since the last checkpoint
        self._checkpoint_queued = False
        self._broken = False  # a bug in an inline group: the thread is told to stop

    # --- called from the loop -------------------------------------------------------------------------

    def start(self) -> None:
        self._conn.execute("PRAGMA wal_autocheckpoint = 0")  # checkpoints are the thread's (_checkpoint)
        self._thread.start()

    def submit(self, request: Request) -> None:
        if self._inline and isinstance(request, WriteRequest):
            if not self._pending:
                self._loop.call_soon(self._flush)
            self._pending.append(request)
            return
        self._flush_to_queue()  # keep the order: writes submitted before STOP are committed before it
        self._queue.put(request)

    def _flush(self) -> None:
        """End of the loop iteration in which writes were submitted: run them here if the thread is idle
        and they are few, else queue them for the thread."""
        group = self._pending
        if not group:
            return
        if self._broken:
            self._pending = []
            failed: Results = [(req.future, Unavailable("the sqlite writer stopped")) for req in group]
            self._deliver(failed, [], None)
            return
        if (
            len(group) <= INLINE_MAX
            and self._queue.empty()
            and self._lock.acquire(blocking=False)
        ):
            self._pending = []
            try:
                self._run_group(group, self._loop.call_soon)
                self._count_written(group, on_thread=False)
            except BaseException:
                log.exception("sqlite write failed on the event loop; the store is unavailable")
                self._broken = True
                self._queue.put(STOP)  # the thread exits; the store sees it did so unasked
            finally:
                self._lock.release()
            return
        self._flush_to_queue()

    def _flush_to_queue(self) -> None:
        group, self._pending = self._pending, []
        for req in group:
            self._queue.put(req)

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    # --- the thread ---------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop_forever()
        except BaseException:
            log.exception("sqlite writer thread failed; the store is unavailable")
            self._fail_queued("the sqlite writer thread failed")
        finally:
            try:
                self._conn.close()
            except sqlite3.Error:
                log.exception("closing the sqlite write connection")
            self._call_loop(self._on_exit)

    def _loop_forever(self) -> None:
        call = self._loop.call_soon_threadsafe
        while True:
            if self._compaction_pending():
                try:
                    first = self._queue.get_nowait()
                except queue.Empty:
                    with self._lock:
                        self._compact_step()
                    continue
            else:
                first = self._queue.get()
            with self._lock:
                group = self._take_group(first)
                stop = self._run_group(group, call)
                self._count_written(group, on_thread=True)
                if self._compaction_pending():
                    self._compact_step()
                else:
                    self._finish_compaction_waiters()
                if stop:
                    # The logical compaction point is committed; the physical part resumes at the next start.
                    self._finish_compaction_waiters(everyone=True)
                    return

    def _count_written(self, group: Sequence[Request], *, on_thread: bool) -> None:
        """Checkpoint the WAL once enough was written (or when asked): on the thread right away, from
        the loop by queueing the request for the thread (once)."""
        self._unchecked_bytes += sum(len(req.value) for req in group if isinstance(req, WriteRequest))
        asked = on_thread and any(isinstance(req, _Checkpoint) for req in group)
        if self._unchecked_bytes < CHECKPOINT_BYTES and not asked:
            return
        if on_thread:
            self._unchecked_bytes = 0
            self._checkpoint_queued = False
            self._checkpoint("PASSIVE")
        elif not self._checkpoint_queued:
            self._checkpoint_queued = True
            self._queue.put(_CHECKPOINT)

    def _take_group(self, first: Request) -> list[Request]:
        """`first` and whatever else is queued, up to MAX_GROUP requests or MAX_GROUP_BYTES of values."""
        group = [first]
        size = len(first.value) if isinstance(first, WriteRequest) else 0
        while len(group) < MAX_GROUP and size < MAX_GROUP_BYTES:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            group.append(req)
            if isinstance(req, WriteRequest):
                size += len(req.value)
        return group

    def _run_group(self, group: Sequence[Request], call: Callable[..., object]) -> bool:
        """One transaction for the whole group; its outcome goes to the loop through `call` (call_soon on
        the loop, call_soon_threadsafe on the thread). Returns True when STOP was in it."""
        stop = any(isinstance(req, _Stop) for req in group)
        results: Results = []
        events: list[Event] = []
        new_compact: int | None = None
        first_revision = self._revision
        try:
            self._cur.execute("BEGIN IMMEDIATE")
            for req in group:
                if isinstance(req, _Stop | _Checkpoint):
                    continue
                if isinstance(req, WriteRequest):
                    outcome, event = self._apply(req)
                    results.append((req.future, outcome))
                    if event is not None:
                        events.append(event)
                    continue
                if req.revision > max(self._compact_target, new_compact or 0):
                    self._cur.execute(sql.SET_META, ("compact_revision", req.revision))
                    new_compact = req.revision
                self._compact_waiters.append(req)
            self._cur.execute("COMMIT")
        except BaseException as exc:
            # Nothing of the group is committed: every request in it fails, none is published.
            self._rollback()
            self._revision = first_revision
            self._compact_waiters = [w for w in self._compact_waiters if w not in group]
            failed: Results = [
                (req.future, _unavailable(f"sqlite write failed: {exc}", exc))
                for req in group
                if isinstance(req, WriteRequest | CompactRequest)
            ]
            self._call_loop(self._deliver, failed, [], None, call=call)
            if not isinstance(exc, sqlite3.Error):
                raise  # a bug: the thread dies, the store reports itself unavailable
            return stop
        if new_compact is not None:
            self._compact_target = new_compact
        self._call_loop(self._deliver, results, events, new_compact, call=call)
        return stop

    def _apply(self, req: WriteRequest) -> tuple[Outcome, Event | None]:
        """Check one write against the newest row of its key and append its row. sqlite3.Error other
        than a constraint violation propagates and fails the whole group."""
        key = req.key
        try:
            rows = self._cur.execute(sql.SELECT_LATEST, (key,)).fetchall()
        except (UnicodeError, ValueError, OverflowError) as exc:
            error = StorageError(f"invalid key {key!r}: {exc}")
            error.__cause__ = exc
            return error, None
        live = bool(rows) and not rows[0][1]
        rev = self._revision + 1
        if req.op == "create":
            if live:
                return KeyExists(key), None
            prev_id = rows[0][0] if rows else 0
            row = (rev, key, 1, 0, rev, prev_id, req.value)
            kv = KeyValue(key, req.value, rev, rev)
            event = Event("PUT", kv, None, True)
        else:
            if not live:
                if req.expected:
                    return Conflict(key, None), None
                return KeyNotFound(key), None
            cur_id, _, create_rev, cur_value = rows[0]
            current = KeyValue(key, cur_value, create_rev, cur_id)
            if req.expected and req.expected != cur_id:
                return Conflict(key, current), None
            if req.op == "update":
                row = (rev, key, 0, 0, create_rev, cur_id, req.value)
                kv = KeyValue(key, req.value, create_rev, rev)
                event = Event("PUT", kv, current, False)
            else:
                row = (rev, key, 0, 1, create_rev, cur_id, cur_value)
                kv = KeyValue(key, cur_value, create_rev, rev)
                event = Event("DELETE", kv, current, False)
        try:
            self._cur.execute(sql.INSERT_ROW, row)
        except sqlite3.IntegrityError:
            # Only possible if someone else wrote the database behind our back: the unique
            # (name, prev_revision) index refused the row. Report what is stored now.
            return Conflict(key, sql.latest(self._cur, key)), None
        self._revision = rev
        return kv, event

    # --- compaction -----------------------------------------------------------------------------------

    def _compaction_pending(self) -> bool:
        return self._compact_done < self._compact_target or self._vacuuming

    def _compact_step(self) -> None:
        """One bounded unit of compaction work in its own transaction."""
        try:
            if self._compact_done < self._compact_target:
                self._delete_window()
                if self._compact_done >= self._compact_target:
                    self._vacuuming = True
            elif self._vacuuming and not self._vacuum_step():
                self._vacuuming = False
                self._checkpoint("TRUNCATE")
            if not self._compaction_pending():
                self._finish_compaction_waiters()
        except sqlite3.Error as exc:
            self._rollback()
            log.warning("sqlite compaction step failed (will retry on the next compaction): %s", exc)
            waiters, self._compact_waiters = self._compact_waiters, []
            self._vacuuming = False
            self._compact_target = self._compact_done  # stop until the next request or restart
            failed: Results = [
                (w.future, _unavailable(f"sqlite compaction failed: {exc}", exc)) for w in waiters
            ]
            self._call_loop(self._deliver, failed, [], None)

    def _delete_window(self) -> None:
        cur = self._cur
        lo = self._compact_done
        cur.execute("BEGIN IMMEDIATE")
        try:
            bound = cur.execute(
                sql.SELECT_WINDOW_END, {"done": lo, "target": self._compact_target, "batch": COMPACT_BATCH}
            ).fetchall()[0][0]
            hi = self._compact_target if bound is None else int(bound)
            if hi > lo:
                cur.execute(sql.DELETE_WINDOW, {"lo": lo, "hi": hi})
            done = self._compact_target if bound is None else hi
            cur.execute(sql.SET_META, ("compact_done", done))
            cur.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self._compact_done = done

    def _vacuum_step(self) -> bool:
        """Return up to VACUUM_STEP free pages beyond the slack; False when nothing is left to do."""
        cur = self._cur
        free = int(cur.execute("PRAGMA freelist_count").fetchall()[0][0])
        pages = int(cur.execute("PRAGMA page_count").fetchall()[0][0])
        excess = free - int(pages * FREE_SLACK)
        if excess <= 0:
            return False
        cur.execute(f"PRAGMA incremental_vacuum({min(excess, VACUUM_STEP)})").fetchall()
        return True

    def _checkpoint(self, mode: Literal["PASSIVE", "TRUNCATE"]) -> None:
        try:
            self._cur.execute(f"PRAGMA wal_checkpoint({mode})").fetchall()
        except sqlite3.OperationalError as exc:  # busy readers: the next checkpoint will do it
            log.debug("wal checkpoint skipped: %s", exc)

    def _finish_compaction_waiters(self, *, everyone: bool = False) -> None:
        """Resolve the compact() calls whose revision is physically compacted (all of them on close)."""
        if not self._compact_waiters:
            return
        if everyone:
            done, self._compact_waiters = self._compact_waiters, []
        else:
            done = [w for w in self._compact_waiters if w.revision <= self._compact_done]
            self._compact_waiters = [w for w in self._compact_waiters if w.revision > self._compact_done]
        if done:
            self._call_loop(self._deliver, [(w.future, None) for w in done], [], None)

    # --- helpers ------------------------------------------------------------------------------------

    def _rollback(self) -> None:
        try:
            if self._conn.in_transaction:
                self._cur.execute("ROLLBACK")
        except sqlite3.Error:
            log.exception("sqlite rollback failed")

    def _fail_queued(self, message: str) -> None:
        """Fail every queued request and compaction waiter (the thread is about to exit)."""
        results: Results = []
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(req, WriteRequest | CompactRequest):
                results.append((req.future, Unavailable(message)))
        results.extend((w.future, Unavailable(message)) for w in self._compact_waiters)
        self._compact_waiters = []
        if results:
            self._call_loop(self._deliver, results, [], None)

    def abandoned(self) -> list[WriteRequest | CompactRequest]:
        """Requests still queued after the thread exited (call only once it has)."""
        left: list[WriteRequest | CompactRequest] = []
        while True:
            try:
                req = self._queue.get_nowait()
            except queue.Empty:
                return left
            if isinstance(req, WriteRequest | CompactRequest):
                left.append(req)

    def _call_loop(self, fn: Callable[..., None], *args: object, call: Callable[..., object] | None = None) -> None:
        try:
            (call or self._loop.call_soon_threadsafe)(fn, *args)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            log.debug("event loop closed; dropping a sqlite writer callback")


def _unavailable(message: str, cause: BaseException) -> Unavailable:
    error = Unavailable(message)
    error.__cause__ = cause
    return error
