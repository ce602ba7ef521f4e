"""Lease-based leader election on fake time: acquire, renew, take over, release, lose."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.config import Config
from kijabi.client.leaderelection import LeaderElectionConfig, LeaderElector
from kijabi.client.rest import LEASES, NO_RETRY, Client
from kijabi.client.testing import Action, FakeAPIServer, FakeTransport, status_response
from kijabi.client.transport import Response
from tests.client.helpers import settle, until

MICRO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


class Candidate:
    def __init__(self, api: FakeAPIServer, clock: FakeClock, identity: str, *, release: bool = True) -> None:
        self.identity = identity
        self.started = asyncio.Event()
        self.leading_cancelled = False
        self.stopped = 0
        self.new_leaders: list[str] = []
        client = Client(Config(server="https://fake", qps=-1), transport=FakeTransport(api), clock=clock, retry=NO_RETRY)
        self.elector = LeaderElector(client, LeaderElectionConfig(
            namespace="kube-system", name="lock", identity=identity, on_started_leading=self.lead,
            on_stopped_leading=self.on_stopped, on_new_leader=self.new_leaders.append, release_on_cancel=release,
        ), clock=clock, rng=lambda: 0.0)
        self.task: asyncio.Task[None] | None = None

    async def lead(self) -> None:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.leading_cancelled = True
            raise

    def on_stopped(self) -> None:
        self.stopped += 1

    def start(self) -> None:
        self.task = asyncio.create_task(self.elector.run())

    async def stop(self) -> None:
        assert self.task is not None
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


async def run_for(clock: FakeClock, seconds: float, step: float = 0.25) -> None:
    """Let fake time pass in small steps, letting every task run in between."""
    for _ in range(round(seconds / step)):
        clock.advance(step)
        await settle()


def lease(api: FakeAPIServer) -> dict[str, Any]:
    obj = api.get_object(LEASES, "lock", "kube-system")
    assert obj is not None
    spec: dict[str, Any] = obj["spec"]
    return spec


async def test_first_candidate_creates_the_lease_and_leads(api: FakeAPIServer, clock: FakeClock) -> None:
    a = Candidate(api, clock, "a")
    a.start()
    try:
        await asyncio.wait_for(a.started.wait(), 5)
        spec = lease(api)
        assert (spec["holderIdentity"], spec["leaseDurationSeconds"], spec["leaseTransitions"]) == ("a", 15, 0)
        assert MICRO.match(spec["acquireTime"]) and MICRO.match(spec["renewTime"])
        assert a.elector.is_leader() and a.new_leaders == ["a"]
        first_renew = spec["renewTime"]
        await run_for(clock, 2.0)
        assert lease(api)["renewTime"] > first_renew and lease(api)["acquireTime"] == spec["acquireTime"]
    finally:
        await a.stop()


async def test_follower_waits_while_leader_renews_and_takes_over_after_lease_duration(api: FakeAPIServer,
                                                                                     clock: FakeClock) -> None:
    a = Candidate(api, clock, "a", release=False)
    b = Candidate(api, clock, "b", release=False)
    a.start()
    await asyncio.wait_for(a.started.wait(), 5)
    b.start()
    try:
        await run_for(clock, 30.0)
        assert not b.started.is_set() and b.new_leaders == ["a"] and b.elector.leader() == "a"
        await a.stop()  # a crashes: no release
        assert a.leading_cancelled and a.stopped == 1
        assert lease(api)["holderIdentity"] == "a"
        await run_for(clock, 14.0)
        assert not b.started.is_set()  # b saw the record change < 15 s ago
        await run_for(clock, 4.0)
        assert b.started.is_set()
        spec = lease(api)
        assert (spec["holderIdentity"], spec["leaseTransitions"]) == ("b", 1)
        assert b.new_leaders == ["a", "b"]
    finally:
        await b.stop()


async def test_release_on_cancel_hands_over_at_once(api: FakeAPIServer, clock: FakeClock) -> None:
    a = Candidate(api, clock, "a", release=True)
    b = Candidate(api, clock, "b")
    a.start()
    await asyncio.wait_for(a.started.wait(), 5)
    b.start()
    try:
        await run_for(clock, 4.0)
        await a.stop()
        spec = lease(api)
        assert (spec["holderIdentity"], spec["leaseDurationSeconds"]) == ("", 1)
        await run_for(clock, 2.5)
        assert b.started.is_set() and lease(api)["holderIdentity"] == "b"
    finally:
        await b.stop()


async def test_leader_that_cannot_renew_steps_down(api: FakeAPIServer, clock: FakeClock) -> None:
    """Renewals failing for the renew deadline (10 s): leading stops, run() returns, callbacks fire."""
    a = Candidate(api, clock, "a")
    a.start()
    assert a.task is not None
    await asyncio.wait_for(a.started.wait(), 5)
    broken = True

    def fail(action: Action) -> Response | None:
        return status_response(500, "InternalError", "etcd is down") if broken else None

    api.prepend_reactor("update", "leases", fail)
    api.prepend_reactor("get", "leases", fail)
    await run_for(clock, 9.0)
    assert not a.task.done()
    await run_for(clock, 4.0)
    await until(lambda: a.task is not None and a.task.done())
    assert a.task.result() is None
    assert a.leading_cancelled and a.stopped == 1
    broken = False


async def test_failing_leader_work_releases_and_reraises(api: FakeAPIServer, clock: FakeClock) -> None:
    client = Client(Config(server="https://fake", qps=-1), transport=FakeTransport(api), clock=clock)

    async def crash() -> None:
        raise RuntimeError("controller crashed")

    elector = LeaderElector(client, LeaderElectionConfig(namespace="ns", name="l", identity="me",
                                                         on_started_leading=crash), clock=clock)
    with pytest.raises(RuntimeError, match="controller crashed"):
        await elector.run()
    assert api.get_object(LEASES, "l", "ns")["spec"]["holderIdentity"] == ""  # type: ignore[index]


@pytest.mark.parametrize(("changes", "message"), [
    ({"identity": ""}, "identity"),
    ({"lease_duration": 10.0}, "lease_duration"),
    ({"retry_period": 9.0}, "retry_period"),
], ids=["empty-identity", "lease-not-longer-than-renew", "retry-too-long"])
def test_config_validation(changes: dict[str, Any], message: str) -> None:
    async def nothing() -> None:
        return None

    kwargs: dict[str, Any] = {"namespace": "n", "name": "l", "identity": "me", "on_started_leading": nothing, **changes}
    with pytest.raises(ValueError, match=message):
        LeaderElectionConfig(**kwargs).validate()
