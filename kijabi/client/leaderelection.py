"""Leader election on a coordination.k8s.io/v1 Lease (client-go tools/leaderelection).

Candidates race to write their identity into one Lease. The holder renews it every `retry_period`;
others watch its record change. A candidate takes over when the record has not changed for
`lease_duration` measured on ITS OWN clock since it last saw a change (never comparing clocks across
machines), or at once when the holder released it (empty holderIdentity). Writes are compare-and-swap
on the Lease's resourceVersion, so two candidates never both win.

Lifecycle of `LeaderElector.run()`:
1. acquire: try every `retry_period` (+ up to 1.2x jitter) until this candidate holds the Lease;
2. lead: `on_started_leading()` runs as a task while a renew loop refreshes renewTime every
   `retry_period`; a renewal that keeps failing for `renew_deadline` means leadership is lost;
3. stop: the leading task is cancelled (on loss, on cancellation of `run()`, or when it returns); with
   `release_on_cancel` the Lease is released (holder "", leaseDurationSeconds 1) so a successor need not
   wait; then `on_stopped_leading()` is called (always, as upstream's deferred callback).

`run()` returns after losing leadership (a component should then exit, as upstream's do) and re-raises
an exception of `on_started_leading`. `on_new_leader(identity)` is called whenever the observed holder
changes. Durations: lease 15 s, renew deadline 10 s, retry 2 s (upstream's defaults); the Lease stores
whole seconds, acquireTime/renewTime as MicroTime.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from kijabi.client.clock import Clock
from kijabi.client.errors import ClientError, NotFound
from kijabi.client.rest import LEASES, Client
from kijabi.client.tasks import spawn
from kijabi.machinery.meta import rfc3339_micro

log = logging.getLogger(__name__)

JITTER_FACTOR = 1.2
Object = dict[str, Any]


class Recorder(Protocol):
    """The part of an EventRecorder leader election uses (kijabi.client.events.EventRecorder fits)."""

    def event(self, obj: Mapping[str, Any], type: str, reason: str, message: str) -> None: ...


def default_identity() -> str:
    """hostname_<uuid>, as upstream components name themselves."""
    return f"{socket.gethostname()}_{uuid.uuid4()}"


@dataclass
class LeaderElectionConfig:
    namespace: str
    name: str
    identity: str
    on_started_leading: Callable[[], Awaitable[None]]
    on_stopped_leading: Callable[[], None] | None = None
    on_new_leader: Callable[[str], None] | None = None
    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0
    release_on_cancel: bool = True
    recorder: Recorder | None = None

    def validate(self) -> None:
        if not self.identity:
            raise ValueError("leader election: identity must not be empty")
        if self.lease_duration <= self.renew_deadline:
            raise ValueError("leader election: lease_duration must be greater than renew_deadline")
        if self.renew_deadline <= JITTER_FACTOR * self.retry_period:
            raise ValueError(f"leader election: renew_deadline must be greater than {JITTER_FACTOR} x retry_period")
        if min(self.lease_duration, self.renew_deadline, self.retry_period) <= 0:
            raise ValueError("leader election: durations must be positive")


@dataclass(frozen=True)
class LeaderElectionRecord:
    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: str | None = None
    renew_time: str | None = None
    leader_transitions: int = 0

    def spec(self) -> Object:
        spec: Object = {"holderIdentity": self.holder_identity, "leaseDurationSeconds": self.lease_duration_seconds,
                        "leaseTransitions": self.leader_transitions}
        if self.acquire_time:
            spec["acquireTime"] = self.acquire_time
        if self.renew_time:
            spec["renewTime"] = self.renew_time
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> LeaderElectionRecord:
        return cls(
            holder_identity=spec.get("holderIdentity") or "",
            lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
            acquire_time=spec.get("acquireTime"),
            renew_time=spec.get("renewTime"),
            leader_transitions=int(spec.get("leaseTransitions") or 0),
        )


class LeaseLock:
    """A Lease used as the lock. Remembers the last Lease it read or wrote, for compare-and-swap."""

    def __init__(self, client: Client, namespace: str, name: str, identity: str) -> None:
        self.client = client
        self.namespace = namespace
        self.name = name
        self.identity = identity
        self.lease: Object | None = None

    async def get(self) -> tuple[LeaderElectionRecord, bytes]:
        """The current record and its raw bytes (to detect change). Raises NotFound."""
        self.lease = await self.client.get(LEASES, self.name, namespace=self.namespace)
        spec = self.lease.get("spec") or {}
        return LeaderElectionRecord.from_spec(spec), orjson.dumps(spec, option=orjson.OPT_SORT_KEYS)

    async def create(self, record: LeaderElectionRecord) -> None:
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": self.namespace}, "spec": record.spec()}
        self.lease = await self.client.create(LEASES, body, namespace=self.namespace)

    async def update(self, record: LeaderElectionRecord) -> None:
        if self.lease is None:
            raise RuntimeError("leader election: update before get or create")
        body = dict(self.lease)
        body["spec"] = record.spec()
        self.lease = await self.client.update(LEASES, body, namespace=self.namespace)

    def describe(self) -> str:
        return f"{self.namespace}/{self.name}"

    def subject(self) -> Object:
        """The Lease as an event's involved object."""
        meta = (self.lease or {}).get("metadata") or {"name": self.name, "namespace": self.namespace}
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta}


class LeaderElector:
    def __init__(self, client: Client, config: LeaderElectionConfig, *, clock: Clock | None = None,
                 rng: Callable[[], float] = random.random) -> None:
        config.validate()
        self.config = config
        self.clock = clock or client.clock
        self.rng = rng
        self.lock = LeaseLock(client, config.namespace, config.name, config.identity)
        self.observed_record = LeaderElectionRecord()
        self._observed_raw = b""
        self._observed_time = float("-inf")
        self._reported_leader = ""

    # -- state -------------------------------------------------------------------------------------

    def is_leader(self) -> bool:
        return self.observed_record.holder_identity == self.config.identity

    def leader(self) -> str:
        """The holder last observed ("" if none)."""
        return self.observed_record.holder_identity

    def _lease_valid(self, now: float) -> bool:
        return self._observed_time + self.config.lease_duration > now

    def _set_observed(self, record: LeaderElectionRecord, raw: bytes | None = None) -> None:
        self.observed_record = record
        self._observed_raw = raw if raw is not None else orjson.dumps(record.spec(), option=orjson.OPT_SORT_KEYS)
        self._observed_time = self.clock.now()

    def _maybe_report_transition(self) -> None:
        holder = self.observed_record.holder_identity
        if holder == self._reported_leader:
            return
        self._reported_leader = holder
        if self.config.on_new_leader is not None and holder:
            try:
                self.config.on_new_leader(holder)
            except Exception:
                log.exception("leader election %s: on_new_leader failed", self.lock.describe())

    def _record_event(self, what: str) -> None:
        if self.config.recorder is not None:
            self.config.recorder.event(self.lock.subject(), "Normal", "LeaderElection", f"{self.config.identity} {what}")

    # -- one attempt -------------------------------------------------------------------------------

    async def try_acquire_or_renew(self) -> bool:
        """One attempt to take or keep the Lease; True if this candidate holds it afterwards."""
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                return await self._try_acquire_or_renew()
        except (ClientError, TimeoutError) as exc:
            log.info("leader election %s: %s", self.lock.describe(), exc)
            return False

    async def _try_acquire_or_renew(self) -> bool:
        cfg = self.config
        now_wall = rfc3339_micro(self.clock.time())
        record = LeaderElectionRecord(cfg.identity, max(int(cfg.lease_duration), 1), now_wall, now_wall, 0)
        # 1. Fast path: the leader renews optimistically against the Lease it wrote last.
        if self.is_leader() and self._lease_valid(self.clock.now()) and self.lock.lease is not None:
            old = self.observed_record
            renewed = LeaderElectionRecord(record.holder_identity, record.lease_duration_seconds, old.acquire_time,
                                           record.renew_time, old.leader_transitions)
            try:
                await self.lock.update(renewed)
            except ClientError as exc:
                log.info("leader election %s: optimistic renew failed (%s); re-reading", self.lock.describe(), exc)
            else:
                self._set_observed(renewed)
                return True
        # 2. Read (or create) the record.
        try:
            old_record, raw = await self.lock.get()
        except NotFound:
            await self.lock.create(record)
            self._set_observed(record)
            return True
        # 3. Someone else's valid lease: wait.
        if raw != self._observed_raw:
            self._set_observed(old_record, raw)
        if old_record.holder_identity and self._lease_valid(self.clock.now()) and not self.is_leader():
            return False
        # 4. Take it (or renew it after the fast path failed).
        if self.is_leader():
            record = LeaderElectionRecord(record.holder_identity, record.lease_duration_seconds, old_record.acquire_time,
                                          record.renew_time, old_record.leader_transitions)
        else:
            record = LeaderElectionRecord(record.holder_identity, record.lease_duration_seconds, record.acquire_time,
                                          record.renew_time, old_record.leader_transitions + 1)
        await self.lock.update(record)
        self._set_observed(record)
        return True

    # -- the loops ---------------------------------------------------------------------------------

    async def _acquire(self) -> None:
        log.info("leader election %s: %s attempting to acquire the lease", self.lock.describe(), self.config.identity)
        while True:
            ok = await self.try_acquire_or_renew()
            self._maybe_report_transition()
            if ok:
                log.info("leader election %s: %s acquired the lease", self.lock.describe(), self.config.identity)
                return
            period = self.config.retry_period
            await self.clock.sleep(period + self.rng() * JITTER_FACTOR * period)

    async def _renew(self) -> None:
        """Renew every retry period; return when a renewal failed for longer than the renew deadline."""
        cfg = self.config
        while True:
            deadline = self.clock.now() + cfg.renew_deadline
            while True:
                ok = await self.try_acquire_or_renew()
                if ok:
                    break
                remaining = deadline - self.clock.now()
                if remaining <= 0:
                    break
                await self.clock.sleep(min(cfg.retry_period, remaining))
            self._maybe_report_transition()
            if not ok:
                log.warning("leader election %s: failed to renew the lease within %.1fs; leadership lost",
                            self.lock.describe(), cfg.renew_deadline)
                return
            await self.clock.sleep(cfg.retry_period)

    async def _release(self) -> None:
        if not self.is_leader():
            return
        now_wall = rfc3339_micro(self.clock.time())
        record = LeaderElectionRecord("", 1, now_wall, now_wall, self.observed_record.leader_transitions)
        try:
            async with asyncio.timeout(self.config.renew_deadline):
                await self.lock.update(record)
        except (ClientError, TimeoutError) as exc:
            log.warning("leader election %s: failed to release the lease: %s", self.lock.describe(), exc)
            return
        self._set_observed(record)
        log.info("leader election %s: %s released the lease", self.lock.describe(), self.config.identity)

    async def run(self) -> None:
        """Acquire, lead, and stop (see the module docstring)."""
        failure: BaseException | None = None
        try:
            await self._acquire()
            self._record_event("became leader")
            leading = spawn(self._lead(), name=f"leading {self.lock.describe()}")
            renewing = spawn(self._renew(), name=f"renewing {self.lock.describe()}")
            try:
                await asyncio.wait({leading, renewing}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for t in (leading, renewing):
                    t.cancel()
                await asyncio.wait({leading, renewing})
                if leading.done() and not leading.cancelled():
                    failure = leading.exception()
                if self.config.release_on_cancel:
                    await self._release()
                self._record_event("stopped leading")
        finally:
            if self.config.on_stopped_leading is not None:
                try:
                    self.config.on_stopped_leading()
                except Exception:
                    log.exception("leader election %s: on_stopped_leading failed", self.lock.describe())
        if failure is not None:
            raise failure

    async def _lead(self) -> None:
        await self.config.on_started_leading()

