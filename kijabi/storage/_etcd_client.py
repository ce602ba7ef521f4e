"""Connection layer of the etcd backend: endpoints, gRPC channels, failover and the meaning of errors.

    EtcdClient
    ├── one grpc.aio channel per endpoint (TLS when configured), all opened by `start()`
    ├── call(method, request, idempotent=...)   one unary RPC on the preferred endpoint; failures that
    │                                            say "this member cannot serve now" make the next endpoint
    │                                            preferred and the call is tried again there
    └── open_watch(create)                      a Watch stream on the preferred endpoint, created

Every request carries etcd's `hasleader` metadata: a member that has lost its leader refuses at once
("etcdserver: no leader") instead of queueing the request until it times out.

What a failed RPC means (`classify`):

    NOT_APPLIED  certainly had no effect: the connection could not be made, the member has no leader,
                 is overloaded, or dropped the proposal. Retried on the next endpoint, writes included.
    UNKNOWN      may or may not have been applied: the connection broke after the request was sent, or
                 the attempt timed out (a follower's proposal to a leader that died is lost silently).
                 Reads are retried; for writes the call raises OutcomeUnknown and the caller, which
                 knows what it asked for, finds out what happened (see `etcd.EtcdStorage`).
    ANSWER       etcd's own answer (compacted, future revision, request too large, ...): raised as the
                 matching `EtcdError` at once, never retried.

Retries stop after `retry_timeout` seconds with `Unavailable`; between rounds over all endpoints the
client backs off (50 ms doubling to 1 s). Each attempt has its own deadline (`request_timeout`).
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import grpc
import grpc.aio

from kijabi.storage import StorageError, Unavailable
from kijabi.storage._etcd_endpoints import Endpoint
from kijabi.storage.etcdpb import rpc_pb2, rpc_pb2_grpc

log = logging.getLogger(__name__)

METADATA = (("hasleader", "true"),)
CHANNEL_OPTIONS: list[tuple[str, Any]] = [
    ("grpc.max_receive_message_length", -1),  # a list of 10k objects is tens of MB
    ("grpc.max_send_message_length", -1),  # the store checks value sizes itself; etcd has the last word
    ("grpc.keepalive_time_ms", 10_000),  # etcd permits pings every 5 s (--grpc-keepalive-min-time)
    ("grpc.keepalive_timeout_ms", 5_000),
    ("grpc.http2.max_pings_without_data", 0),
    ("grpc.initial_reconnect_backoff_ms", 100),  # a restarted member is used again within ~2 s
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
    ("grpc.enable_retries", 0),  # retries are decided here, where their safety is known
]

_Resp = TypeVar("_Resp")


class Failure(enum.Enum):
    NOT_APPLIED = "not applied"
    UNKNOWN = "unknown"
    ANSWER = "answer"


class EtcdError(StorageError):
    """An answer from etcd that the store maps to its own errors (internal to the backend)."""

    def __init__(self, code: grpc.StatusCode, details: str) -> None:
        super().__init__(f"etcd: {details} ({code.name})")
        self.code = code
        self.details = details

    @property
    def compacted(self) -> bool:
        return "required revision has been compacted" in self.details

    @property
    def future_revision(self) -> bool:
        return "required revision is a future revision" in self.details

    @property
    def too_large(self) -> bool:
        return "request is too large" in self.details or "larger than max" in self.details


class OutcomeUnknown(StorageError):
    """A write may or may not have been applied (internal to the backend)."""


# Substrings of etcd's error messages (rpctypes) and of gRPC's own, by what they mean for a retry.
_NOT_APPLIED = (
    "etcdserver: no leader",
    "etcdserver: not capable",
    "etcdserver: too many requests",
    "etcdserver: unhealthy cluster",
    "etcdserver: rpc not supported for learner",
    "etcdserver: leader changed",  # reads only: a linearizable read lost its read index
    "raft proposal dropped",
    "failed to connect",
    "connection refused",
    "connections to all backends failing",
    "dns resolution failed",
    "name resolution failure",
    "empty address list",
)
_UNKNOWN_ETCD = ("etcdserver: request timed out", "etcdserver: server stopped")


def classify(exc: grpc.aio.AioRpcError) -> Failure:
    code = exc.code()
    details = (exc.details() or "").lower()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.RESOURCE_EXHAUSTED):
        if any(s in details for s in _NOT_APPLIED):
            return Failure.NOT_APPLIED
        if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return Failure.ANSWER  # message too large, or etcd's space quota (NOSPACE alarm)
        return Failure.UNKNOWN  # connection lost mid-call, server stopping, etcd's own request timeout
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return Failure.UNKNOWN
    if code == grpc.StatusCode.FAILED_PRECONDITION and "etcdserver: not capable" in details:
        return Failure.NOT_APPLIED
    return Failure.ANSWER


class _Member:
    """One endpoint's channel and stubs."""

    __slots__ = ("channel", "endpoint", "kv", "maintenance", "watch")

    def __init__(self, endpoint: Endpoint, credentials: grpc.ChannelCredentials | None) -> None:
        self.endpoint = endpoint
        if credentials is None:
            self.channel = grpc.aio.insecure_channel(endpoint.target, options=CHANNEL_OPTIONS)
        else:
            self.channel = grpc.aio.secure_channel(endpoint.target, credentials, options=CHANNEL_OPTIONS)
        self.kv = rpc_pb2_grpc.KVStub(self.channel)  # type: ignore[no-untyped-call]
        self.watch = rpc_pb2_grpc.WatchStub(self.channel)  # type: ignore[no-untyped-call]
        self.maintenance = rpc_pb2_grpc.MaintenanceStub(self.channel)  # type: ignore[no-untyped-call]


class EtcdClient:
    """Unary calls with failover, and Watch streams, over every endpoint of one etcd cluster.

    Bind to one event loop (`start()` opens the channels on the running loop). Safe for concurrent use.
    `revision` is the highest store revision seen in any response header so far."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        *,
        ca_file: str | None = None,
        cert_file: str | None = None,
        key_file: str | None = None,
        request_timeout: float = 5.0,
        retry_timeout: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.endpoints = endpoints
        self._files = (ca_file, cert_file, key_file)
        self.request_timeout = request_timeout
        self.retry_timeout = retry_timeout
        self._sleep = sleep
        self._members: list[_Member] = []
        self._preferred = 0
        self.revision = 0

    def start(self) -> None:
        credentials = None
        if self.endpoints[0].tls:
            credentials = self._credentials()
        self._members = [_Member(e, credentials) for e in self.endpoints]

    def _credentials(self) -> grpc.ChannelCredentials:
        ca_file, cert_file, key_file = self._files
        if (cert_file is None) != (key_file is None):
            raise StorageError("an etcd client certificate needs both cert_file and key_file")
        try:
            root = Path(ca_file).read_bytes() if ca_file else None
            key = Path(key_file).read_bytes() if key_file else None
            cert = Path(cert_file).read_bytes() if cert_file else None
        except OSError as exc:
            raise StorageError(f"cannot read etcd TLS files: {exc}") from exc
        return grpc.ssl_channel_credentials(root_certificates=root, private_key=key, certificate_chain=cert)

    async def close(self, grace: float) -> None:
        members, self._members = self._members, []
        await asyncio.gather(*(m.channel.close(grace) for m in members), return_exceptions=True)

    @property
    def preferred(self) -> Endpoint:
        return self.endpoints[self._preferred]

    def _demote(self, index: int, why: str) -> None:
        """The member at `index` failed: prefer the next one (unless another failure already moved on)."""
        if index == self._preferred and len(self._members) > 1:
            self._preferred = (index + 1) % len(self._members)
            log.warning(
                "etcd %s: %s; switching to %s", self.endpoints[index].target, why, self.preferred.target
            )

    def note(self, header: rpc_pb2.ResponseHeader) -> None:
        if header.revision > self.revision:
            self.revision = header.revision

    # --- unary calls ------------------------------------------------------------------------------------

    async def call(
        self,
        method: Callable[[_Member], Callable[..., Awaitable[_Resp]]],
        request: Any,
        *,
        idempotent: bool,
        timeout: float | None = None,
    ) -> _Resp:
        """`method(member)(request)` on the preferred member, failing over as the module docstring says.

        Raises EtcdError for etcd's answers, OutcomeUnknown for a write that may have been applied,
        Unavailable when no member served before `retry_timeout`."""
        deadline = time.monotonic() + self.retry_timeout
        attempt_timeout = timeout or self.request_timeout
        failures_in_round = 0
        backoff = 0.05
        last = ""
        while True:
            if not self._members:
                raise Unavailable("the etcd client is closed")
            index = self._preferred
            member = self._members[index]
            try:
                resp = await method(member)(request, timeout=attempt_timeout, metadata=METADATA)
            except grpc.aio.AioRpcError as exc:
                failure = classify(exc)
                if failure is Failure.ANSWER:
                    raise EtcdError(exc.code(), exc.details() or "") from exc
                last = f"{member.endpoint.target}: {exc.details() or exc.code().name}"
                self._demote(index, exc.details() or exc.code().name)
                if failure is Failure.UNKNOWN and not idempotent:
                    raise OutcomeUnknown(last) from exc
            else:
                header = getattr(resp, "header", None)
                if header is not None:
                    self.note(header)
                return resp
            failures_in_round += 1
            now = time.monotonic()
            if now >= deadline:
                raise Unavailable(f"no etcd member could serve the request ({last})")
            if failures_in_round >= len(self._members):  # every member tried: wait a little
                failures_in_round = 0
                await self._sleep(min(backoff, max(deadline - now, 0.0)))
                backoff = min(backoff * 2, 1.0)

    async def range(
        self, request: rpc_pb2.RangeRequest, *, timeout: float | None = None
    ) -> rpc_pb2.RangeResponse:
        return await self.call(lambda m: m.kv.Range, request, idempotent=True, timeout=timeout)

    async def txn(self, request: rpc_pb2.TxnRequest) -> rpc_pb2.TxnResponse:
        return await self.call(lambda m: m.kv.Txn, request, idempotent=False)

    async def compact(self, request: rpc_pb2.CompactionRequest) -> rpc_pb2.CompactionResponse:
        # Compacting twice is harmless (the second is "already compacted"), so it may be retried.
        return await self.call(lambda m: m.kv.Compact, request, idempotent=True)

    # --- watch streams --------------------------------------------------------------------------------

    def open_stream(self) -> tuple[int, grpc.aio.StreamStreamCall[Any, Any]]:
        """A new Watch call on the preferred member: (member index, call)."""
        if not self._members:
            raise Unavailable("the etcd client is closed")
        index = self._preferred
        call: grpc.aio.StreamStreamCall[Any, Any] = self._members[index].watch.Watch(metadata=METADATA)
        return index, call

    def stream_failed(self, index: int, why: str) -> None:
        self._demote(index, why)
