"""The `Storage` protocol on a real etcd v3 cluster, over gRPC (grpc.aio).

    EtcdStorage (this module: the protocol's verbs as etcd requests, answers mapped to store errors)
    ├── _etcd_client   endpoints, one channel each, failover, what a gRPC error means for a retry
    ├── _etcd_watch    one Watch stream per watch(), resumed on another member from the last revision
    └── etcdpb         kijabi's own .proto of the etcd messages, and the modules generated from it

Keys are stored exactly as given, after an optional `prefix` (so with no prefix `etcdctl get --prefix
/registry/` shows the API server's objects). etcd's revision is the store's revision.

    create   Txn  if create_revision(key) == 0   then put, range(key, keys_only)   else range(key)
    update   Txn  if mod_revision(key) == E      then put, range(key, keys_only)   else range(key)
                  (E = 0: if create_revision(key) > 0, i.e. the key exists)
    delete   Txn  same compares                  then delete_range(key, prev_kv)   else range(key)
    get/list/count  linearizable Range (limit, revision, count_only)
    compact  Compact(physical): "already compacted" is a no-op
    watch    Watch with prev_kv and progress_notify (see _etcd_watch)

Choices shared with the SQLite backend (kijabi.storage.sqlite): an update or delete expecting a revision
on a missing key is Conflict with current None; compact(R) keeps R readable and fails list/watch below R;
watch(from_revision=R) yields events after R and fails with Compacted iff R is below the compaction point.

Failover (see _etcd_client): reads and compactions are retried on the next member. A write that fails
in a way that leaves its outcome unknown (the member died after the request was sent, or the attempt
timed out) is sent again, and the answer to the retry is read knowing that the first attempt may have
landed. A compare-and-swap (update or delete expecting revision E) is at most once by construction: only
one write can replace version E. If the retry's compare fails, the key's history tells whose write
replaced E (binary search over reads at revisions): the value it wrote at that revision is its own
result; another writer's value (or a deletion, for an update) is a Conflict. A create whose retry finds
the key holding, at its creation, exactly the value it wrote treats that version as its own (later
writes of others included); a delete whose retry finds the key gone looks up the revision at which the
value it meant to delete was deleted. When the history needed for that is compacted the write fails with
Unavailable (the caller may read the key and retry; the API answers 5xx, an unknown outcome), never with
a wrong answer. Unconditional writes (not used by the API server) carry no such guarantee: a resent
unconditional update may be applied twice with the same value (two revisions, two events), and a create
resent after its first attempt landed and was deleted by someone else may be applied again.

etcd refuses requests over its --max-request-bytes (1.5 MiB by default, key and framing included); a value
of exactly MAX_VALUE_BYTES needs etcd run with --max-request-bytes of at least 2 MiB. Values over
MAX_VALUE_BYTES are refused here (ValueTooLarge) before anything is sent; etcd's own refusal maps to
ValueTooLarge too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from types import TracebackType
from typing import Literal, TypeVar

from kijabi.storage import (
    MAX_VALUE_BYTES,
    Compacted,
    Conflict,
    Event,
    FutureRevision,
    KeyExists,
    KeyNotFound,
    KeyValue,
    ListResult,
    StorageError,
    Unavailable,
    ValueTooLarge,
)
from kijabi.storage._etcd_client import EtcdClient, EtcdError, OutcomeUnknown
from kijabi.storage._etcd_endpoints import parse_endpoints, split_url
from kijabi.storage._etcd_watch import Watcher, WriteTracker
from kijabi.storage.etcdpb import kv_pb2, rpc_pb2

log = logging.getLogger(__name__)

_WriteOp = Literal["create", "update", "delete"]
_T = TypeVar("_T")
_Cmp = rpc_pb2.Compare


class EtcdStorage:
    """`Storage` on an etcd v3 cluster (see the module docstring for the mapping and the failover rules).

    `endpoints`: members as `host:port`, `http://`, `https://` or `etcd://host:port` (TLS when https, or
    when certificate files are given). `ca_file` / `cert_file` / `key_file`: PEM files for TLS (a client
    certificate for etcd's --client-cert-auth). `prefix` is put before every key (tests use it to share
    one cluster). `request_timeout` bounds one attempt of one request (lists get at least a minute); it is
    below etcd's own request timeout (5 s + 2 election timeouts), so that a write stuck on a follower
    whose leader died is sent to another member sooner. `retry_timeout` bounds the retries of one call
    over the members before Unavailable.

    Every `compact_interval` seconds (0: never) the store compacts etcd to the revision it saw one interval
    earlier, keeping at least `compact_keep` revisions: like kube-apiserver's compactor, watchers get an
    interval's worth of history to catch up from. Several API servers compacting one cluster is harmless
    (compacting to a revision at or below the compaction point is a no-op).

    Bind to one event loop: `start()` must be awaited on the loop that will use the store, and every
    method must be called from that loop."""

    def __init__(
        self,
        endpoints: Sequence[str],
        *,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        prefix: str = "",
        request_timeout: float = 5.0,
        retry_timeout: float = 30.0,
        compact_interval: float = 300.0,
        compact_keep: int = 1000,
    ) -> None:
        parsed = parse_endpoints(endpoints, tls_files=bool(ca_file or cert_file))
        self.prefix = prefix
        self._prefix = prefix.encode()
        self._client = EtcdClient(
            parsed,
            ca_file=ca_file,
            cert_file=cert_file,
            key_file=key_file,
            request_timeout=request_timeout,
            retry_timeout=retry_timeout,
        )
        self._list_timeout = max(request_timeout, 60.0)
        self._writes = WriteTracker()
        self._watchers: set[Watcher] = set()
        self._compacted = 0  # a lower bound of etcd's compaction point, raised by what we learn
        self._compact_interval = compact_interval
        self._compact_keep = compact_keep
        self._compactor: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        prefix: str = "",
    ) -> EtcdStorage:
        """From a k3s-style datastore endpoint: `etcd://h1:2379,h2:2379` or
        `https://h1:2379,https://h2:2379` (or `http://...`)."""
        return cls(split_url(url), ca_file=ca_file, cert_file=cert_file, key_file=key_file, prefix=prefix)

    async def __aenter__(self) -> EtcdStorage:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # --- lifecycle ------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the channels and read the current revision: Unavailable if no member serves within
        `retry_timeout`."""
        if self._started:
            raise StorageError("the store was already started")
        self._client.start()
        self._started = True
        try:
            await self.current_revision()
        except BaseException:
            await self.close()
            raise
        if self._compact_interval > 0:
            self._compactor = asyncio.get_running_loop().create_task(
                self._compact_periodically(), name="etcd-compactor"
            )

    async def close(self) -> None:
        """End every watch (their consumers see the end of the stream), let requests in flight finish
        (up to `request_timeout`), close the channels. Idempotent."""
        if not self._started or self._closed:
            return
        self._closed = True
        if self._compactor is not None:
            self._compactor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._compactor
        watchers, self._watchers = list(self._watchers), set()
        for w in watchers:
            w.stop()
        await self._client.close(grace=self._client.request_timeout)

    def _check_open(self) -> None:
        if not self._started:
            raise Unavailable("the store is not started")
        if self._closed:
            raise Unavailable("the store is closed")

    # --- keys -----------------------------------------------------------------------------------------

    def _key(self, key: str) -> bytes:
        try:
            return self._prefix + key.encode()
        except UnicodeEncodeError as exc:
            raise StorageError(f"invalid key {key!r}: {exc}") from exc

    def _name(self, raw: bytes) -> str:
        return raw[len(self._prefix) :].decode()

    def _span(self, prefix: str) -> tuple[bytes, bytes]:
        """[start, end) of the keys under `prefix` ("\\0" as end: no upper bound)."""
        start = self._key(prefix)
        if not start:
            return b"\0", b"\0"
        return start, _prefix_end(start)

    def _kv(self, kv: kv_pb2.KeyValue) -> KeyValue:
        return KeyValue(self._name(kv.key), kv.value, kv.create_revision, kv.mod_revision)

    # --- writes ---------------------------------------------------------------------------------------

    async def create(self, key: str, value: bytes) -> KeyValue:
        return await self._write("create", key, value, 0)

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        """Replace `key` iff its mod revision is `expected_revision` (0: unconditionally).

        Raises KeyNotFound if the key does not exist and `expected_revision` is 0, Conflict (with
        `current` None) if it does not exist and a revision was expected, Conflict with the stored value
        if the revision differs."""
        return await self._write("update", key, value, expected_revision)

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Delete `key` iff its mod revision is `expected_revision` (0: unconditionally); returns the last
        value with `mod_revision` = the deletion's revision. Missing key: as for update."""
        return await self._write("delete", key, b"", expected_revision)

    async def _write(self, op: _WriteOp, key: str, value: bytes, expected: int) -> KeyValue:
        self._check_open()
        if not key:
            raise StorageError("empty key")
        if expected < 0:
            raise StorageError("expected_revision must not be negative")
        if len(value) > MAX_VALUE_BYTES:
            raise ValueTooLarge(key, len(value))
        bkey = self._key(key)
        request = _write_txn(op, bkey, bytes(value), expected)
        in_flight = self._writes.begin(bkey)
        try:
            known = self._client.revision  # the store was at least here before this write was sent
            deadline = time.monotonic() + self._client.retry_timeout
            retried = False
            backoff = 0.0  # the first resend goes at once (to the next member), later ones back off
            while True:
                try:
                    resp = await self._client.txn(request)
                except OutcomeUnknown as exc:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise Unavailable(f"etcd write of {key} has an unknown outcome: {exc}") from exc
                    log.info("etcd write of %s may not have been applied (%s); sending it again", key, exc)
                    retried = True
                    if backoff:
                        await asyncio.sleep(min(backoff, left))
                    backoff = min(max(backoff * 2, 0.05), 1.0)
                    continue
                except EtcdError as exc:
                    raise self._write_error(exc, key, value) from exc
                return await self._result(op, key, bkey, value, expected, resp, retried=retried, known=known)
        finally:
            self._writes.end(bkey, in_flight)

    async def write_batch(self, puts: Sequence[tuple[str, bytes]], deletes: Sequence[str]) -> int:
        """Unconditional puts and deletes in ONE etcd transaction (one revision, all or nothing); returns
        its revision. For bulk tools (restore, migration), not the API path: no compare, no events
        bookkeeping. The caller keeps a batch within etcd's --max-txn-ops (128 by default) and request
        size. Sent again when the outcome is unknown: applying the same batch twice leaves the same keys."""
        self._check_open()
        ops = [
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=self._key(k), value=bytes(v)))
            for k, v in puts
        ]
        ops += [
            rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=self._key(k)))
            for k in deletes
        ]
        try:
            resp: rpc_pb2.TxnResponse = await self._client.call(
                lambda m: m.kv.Txn, rpc_pb2.TxnRequest(success=ops), idempotent=True
            )
        except EtcdError as exc:
            raise Unavailable(f"etcd refused a batch of {len(ops)} writes: {exc.details}") from exc
        return int(resp.header.revision)

    def _write_error(self, exc: EtcdError, key: str, value: bytes) -> StorageError:
        if exc.too_large:
            return ValueTooLarge(key, len(value))
        return Unavailable(f"etcd refused the write of {key}: {exc.details}")

    async def _result(
        self,
        op: _WriteOp,
        key: str,
        bkey: bytes,
        value: bytes,
        expected: int,
        resp: rpc_pb2.TxnResponse,
        *,
        retried: bool,
        known: int,
    ) -> KeyValue:
        """The write's outcome from the Txn response (see _write_txn for the ops' order)."""
        rev = resp.header.revision
        if resp.succeeded:
            if op == "delete":
                prev = resp.responses[0].response_delete_range.prev_kvs[0]
                return KeyValue(key, prev.value, prev.create_revision, rev)
            written = resp.responses[1].response_range.kvs[0]
            return KeyValue(key, value, written.create_revision, written.mod_revision)
        current = _only(resp.responses[0].response_range.kvs) if resp.responses else None
        now = self._kv(current) if current is not None else None
        if op == "create":
            if retried and now is not None and now.value == value and now.create_revision == now.mod_revision:
                return now  # the first attempt created it
            if retried and now is not None and now.create_revision > known:
                # Created after the first attempt was sent, and changed since: by the first attempt?
                created = await self._history(key, lambda: self._at(bkey, now.create_revision))
                if created is not None and created.value == value and created.mod_revision == now.create_revision:
                    return KeyValue(key, value, created.create_revision, created.mod_revision)
            raise KeyExists(key)
        if op == "update":
            if expected == 0:
                raise KeyNotFound(key)
            if retried and now is not None and now.value == value and now.mod_revision > expected:
                return now  # the first attempt wrote it
            if retried:  # version `expected` was replaced: by the first attempt, then overwritten?
                replaced = await self._history(key, lambda: self._replacement(bkey, expected))
                if replaced is not None:
                    then, rev, after = replaced
                    if then.mod_revision == expected and after is not None and after.value == value:
                        return KeyValue(key, value, then.create_revision, rev)
            raise Conflict(key, now)
        # delete
        if retried and now is None:  # gone: deleted by the first attempt, or by someone else before
            found = await self._find_deletion(key, bkey, since=expected or known, expected=expected)
            if found is not None:
                return found
        if expected == 0:
            raise KeyNotFound(key)
        raise Conflict(key, now)

    async def _find_deletion(self, key: str, bkey: bytes, *, since: int, expected: int) -> KeyValue | None:
        """After a retried delete found the key gone: the deletion of the value the key held at revision
        `since` (the expected revision, or one from before the first attempt), as delete() would have
        returned it. None when that value could not have been the one deleted: the key did not hold it
        (or, with `expected`, was not at that revision) then, or it was overwritten rather than deleted.
        Unavailable when the history needed is compacted: the outcome cannot be known."""
        found = await self._history(key, lambda: self._replacement(bkey, since))
        if found is None:
            return None
        then, rev, after = found
        if (expected and then.mod_revision != expected) or after is not None:
            return None  # not the version expected, or overwritten rather than deleted
        return KeyValue(key, then.value, then.create_revision, rev)

    async def _history(self, key: str, read: Callable[[], Awaitable[_T]]) -> _T:
        """`read()` of the key's history for a write whose outcome is being found out: Unavailable (an
        unknown outcome) when that history is compacted."""
        try:
            return await read()
        except Compacted as exc:
            raise Unavailable(f"etcd write of {key} has an unknown outcome: its history is compacted") from exc

    async def _replacement(
        self, bkey: bytes, since: int
    ) -> tuple[kv_pb2.KeyValue, int, kv_pb2.KeyValue | None] | None:
        """The version the key held at revision `since` and what replaced it: (then, revision, after),
        `after` being the key at the first revision where it no longer held `then` (None: deleted).
        None if the key did not exist at `since` or still holds that version now. A version never comes
        back once replaced, so the revision is found by binary search over reads at revisions."""
        then = await self._at(bkey, since)
        if then is None:
            return None
        lo, hi = then.mod_revision, await self.current_revision()
        at_hi = await self._at(bkey, hi)
        if at_hi is not None and at_hi.mod_revision == then.mod_revision:
            return None
        while hi - lo > 1:  # the key holds `then` at lo, not at hi
            mid = (lo + hi) // 2
            at = await self._at(bkey, mid)
            if at is not None and at.mod_revision == then.mod_revision:
                lo = mid
            else:
                hi, at_hi = mid, at
        return then, hi, at_hi

    async def _at(self, bkey: bytes, revision: int) -> kv_pb2.KeyValue | None:
        resp = await self._read(rpc_pb2.RangeRequest(key=bkey, revision=revision), revision)
        return _only(resp.kvs)

    # --- reads ----------------------------------------------------------------------------------------

    async def current_revision(self) -> int:
        """The cluster's revision now (a linearizable read)."""
        resp = await self._read(rpc_pb2.RangeRequest(key=self._prefix or b"\0", count_only=True), 0)
        return int(resp.header.revision)

    async def get(self, key: str) -> KeyValue | None:
        bkey = self._key(key)
        resp = await self._read(rpc_pb2.RangeRequest(key=bkey), 0)
        kv = _only(resp.kvs)
        return KeyValue(key, kv.value, kv.create_revision, kv.mod_revision) if kv is not None else None

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys under `prefix` in key order as of `revision` (0 = now), after `start_after`; at most
        `limit` (0 = all). Compacted below the compaction point, FutureRevision above the current one."""
        if revision < 0 or limit < 0:
            raise StorageError("revision and limit must not be negative")
        start, end = self._span(prefix)
        if start_after:
            after = self._key(start_after) + b"\0"  # the smallest key above start_after
            start = max(start, after)
        request = rpc_pb2.RangeRequest(key=start, range_end=end, limit=limit, revision=revision)
        resp = await self._read(request, revision, timeout=self._list_timeout)
        name = self._name
        items = [KeyValue(name(kv.key), kv.value, kv.create_revision, kv.mod_revision) for kv in resp.kvs]
        more = bool(resp.more)
        return ListResult(
            items=items,
            revision=revision or int(resp.header.revision),
            more=more,
            remaining=int(resp.count) - len(items) if more else 0,
        )

    async def count(self, prefix: str) -> int:
        start, end = self._span(prefix)
        resp = await self._read(rpc_pb2.RangeRequest(key=start, range_end=end, count_only=True), 0)
        return int(resp.count)

    async def _read(
        self, request: rpc_pb2.RangeRequest, revision: int, *, timeout: float | None = None
    ) -> rpc_pb2.RangeResponse:
        self._check_open()
        try:
            return await self._client.range(request, timeout=timeout)
        except EtcdError as exc:
            raise await self._read_error(exc, revision) from exc

    async def _read_error(self, exc: EtcdError, revision: int) -> StorageError:
        if exc.compacted:
            return Compacted(revision, await self.compacted_revision())
        if exc.future_revision:
            return FutureRevision(revision, await self.current_revision())
        return Unavailable(f"etcd refused the read: {exc.details}")

    # --- compaction -----------------------------------------------------------------------------------

    async def compact(self, revision: int) -> None:
        """Forget history below `revision` (etcd Compact, physical): list/watch below it fail with
        Compacted afterwards. At or below the current compaction point: a no-op; above the current
        revision: FutureRevision."""
        self._check_open()
        if revision <= self._compacted:
            return
        try:
            await self._client.compact(rpc_pb2.CompactionRequest(revision=revision, physical=True))
        except EtcdError as exc:
            if exc.compacted:  # etcd: "already compacted" at or below its compaction point
                self._compacted = max(self._compacted, revision)
                return
            if exc.future_revision:
                raise FutureRevision(revision, await self.current_revision()) from exc
            raise Unavailable(f"etcd refused to compact: {exc.details}") from exc
        self._compacted = max(self._compacted, revision)

    async def _compact_periodically(self) -> None:
        assert self._compact_interval > 0
        seen = 0  # the revision at the previous tick
        while True:
            await asyncio.sleep(self._compact_interval)
            try:
                current = await self.current_revision()
                target = min(seen, current - self._compact_keep)
                seen = current
                if target > self._compacted:
                    await self.compact(target)
            except StorageError as exc:
                log.warning("periodic etcd compaction failed: %s", exc)
            except Exception:
                log.exception("periodic etcd compaction failed")

    async def compacted_revision(self) -> int:
        """etcd's compaction point. etcd 3.4 does not report it, so it is found by reading at revisions
        (a read below it fails): one read when it has not moved since last asked, ~log2(revision) when it
        has."""
        probe = self._prefix or b"\0"

        async def readable(rev: int) -> bool:
            try:
                await self._client.range(rpc_pb2.RangeRequest(key=probe, revision=rev, count_only=True))
            except EtcdError as exc:
                if exc.compacted:
                    return False
                if exc.future_revision:
                    return True
                raise Unavailable(f"etcd refused the read: {exc.details}") from exc
            return True

        self._check_open()
        lo = self._compacted  # known: nothing below lo is readable... or lo == 0
        if await readable(max(lo, 1)):
            return lo
        hi = await self.current_revision()  # always readable
        while hi - lo > 1:  # invariant: lo unreadable (or 0), hi readable
            mid = (lo + hi) // 2
            if await readable(mid):
                hi = mid
            else:
                lo = mid
        self._compacted = max(self._compacted, hi)
        return hi

    # --- watch ----------------------------------------------------------------------------------------

    def watch(self, prefix: str, *, from_revision: int) -> AsyncGenerator[Event, None]:
        """Events with revision > `from_revision` under `prefix`, in revision order, each once; from
        etcd's history, then live. Raises Compacted on first iteration if `from_revision` is below the
        compaction point, Unavailable if the store is not running or no member can be reached within
        `retry_timeout`. Survives the loss of the member it streams from (see _etcd_watch). Ends when
        the store closes."""
        return self._watch(prefix, from_revision)

    async def _watch(self, prefix: str, from_revision: int) -> AsyncGenerator[Event, None]:
        self._check_open()
        if from_revision < 0:
            raise StorageError("from_revision must not be negative")
        start, end = self._span(prefix)
        watcher = Watcher(
            self._client,
            self._writes,
            key=start,
            range_end=end,
            from_revision=from_revision,
            decode_key=self._name,
            name=f"etcd-watch {prefix or '/'}",
        )
        self._watchers.add(watcher)
        watcher.start()
        try:
            while True:
                batch = await watcher.next_batch()
                if batch is None:
                    return
                for event in batch:
                    yield event
        finally:
            watcher.stop()
            self._watchers.discard(watcher)


def _prefix_end(key: bytes) -> bytes:
    """The smallest byte string above every key starting with `key` ("\\0": none, the range is open)."""
    stem = key.rstrip(b"\xff")
    if not stem:
        return b"\0"
    return stem[:-1] + bytes([stem[-1] + 1])


def _only(kvs: Sequence[kv_pb2.KeyValue]) -> kv_pb2.KeyValue | None:
    return kvs[0] if len(kvs) else None


def _write_txn(op: _WriteOp, key: bytes, value: bytes, expected: int) -> rpc_pb2.TxnRequest:
    """The Txn for a write (module docstring). Success ops: [put, range(keys_only)] or [delete_range];
    failure ops: [range(key)]."""
    if op == "create":
        cmp = _Cmp(key=key, target=_Cmp.CREATE, result=_Cmp.EQUAL, create_revision=0)
    elif expected == 0:
        cmp = _Cmp(key=key, target=_Cmp.CREATE, result=_Cmp.GREATER, create_revision=0)
    else:
        cmp = _Cmp(key=key, target=_Cmp.MOD, result=_Cmp.EQUAL, mod_revision=expected)
    if op == "delete":
        success = [rpc_pb2.RequestOp(request_delete_range=rpc_pb2.DeleteRangeRequest(key=key, prev_kv=True))]
    else:
        success = [
            rpc_pb2.RequestOp(request_put=rpc_pb2.PutRequest(key=key, value=value)),
            rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key, keys_only=True)),
        ]
    failure = [rpc_pb2.RequestOp(request_range=rpc_pb2.RangeRequest(key=key))]
    return rpc_pb2.TxnRequest(compare=[cmp], success=success, failure=failure)
