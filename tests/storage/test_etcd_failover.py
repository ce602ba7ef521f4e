"""etcd backend under member failures: kill -9 a member (the leader, or the member the client talks to)
while 8 tasks write and a watch streams. The store must keep serving (no write fails), every write must be
acknowledged exactly once, and the watch must deliver every revision once, in order, with no gap.

These tests use their own 3-member cluster (module scope), so the conformance suite's cluster is never
degraded; each case restarts the member it killed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator

import pytest

from kijabi.storage import Event, KeyValue
from kijabi.storage.etcd import EtcdStorage
from tests.storage.etcd_cluster import EtcdCluster, Member
from tests.storage.storage_testlib import eventually, require_etcd

Opener = Callable[..., Awaitable[EtcdStorage]]
WRITERS = 8
WRITES_BEFORE = 150  # acknowledged writes before the kill
WRITES_AFTER = 150  # and after it


@pytest.fixture(scope="module")
def cluster() -> Iterator[EtcdCluster]:
    require_etcd()
    c = EtcdCluster.start(3)
    try:
        yield c
    finally:
        c.stop()


class Workload:
    """WRITERS tasks, each cycling create -> compare-and-swap update -> conditional delete on its own key,
    recording every acknowledged result by revision."""

    def __init__(self, store: EtcdStorage) -> None:
        self.store = store
        self.acked: dict[int, tuple[str, KeyValue]] = {}
        self.stop = False
        self.tasks = [asyncio.ensure_future(self._writer(w)) for w in range(WRITERS)]

    async def _writer(self, w: int) -> None:
        key = f"/registry/pods/ns/w{w}"
        while not self.stop:
            kv = await self.store.create(key, f"{w}-created".encode())
            self.acked[kv.mod_revision] = ("PUT", kv)
            kv = await self.store.update(key, f"{w}-updated".encode(), expected_revision=kv.mod_revision)
            self.acked[kv.mod_revision] = ("PUT", kv)
            kv = await self.store.delete(key, expected_revision=kv.mod_revision)
            self.acked[kv.mod_revision] = ("DELETE", kv)

    async def finish(self) -> None:
        self.stop = True
        await asyncio.gather(*self.tasks)  # any write that failed fails the test here


@pytest.mark.parametrize(
    ("victim", "client_on"),
    [("leader", "leader"), ("leader", "follower"), ("follower", "follower")],
    ids=["leader killed, client on it", "leader killed, client on a follower", "client's follower killed"],
)
async def test_member_killed_during_writes_and_watch(
    cluster: EtcdCluster, open_etcd: Opener, victim: str, client_on: str
) -> None:
    cluster.wait_ready()
    leader = cluster.leader()
    follower = next(m for m in cluster.members if m is not leader)
    first = leader if client_on == "leader" else follower
    killed: Member = leader if victim == "leader" else follower
    order = [first] + [m for m in cluster.members if m is not first]
    store = await open_etcd([m.endpoint for m in order])
    assert store._client.preferred.target == first.endpoint  # requests and the watch start on `first`

    start = await store.current_revision()
    events: list[Event] = []

    async def consume() -> None:
        async for event in store.watch("/registry/", from_revision=start):
            events.append(event)

    consumer = asyncio.ensure_future(consume())
    work = Workload(store)
    try:
        await eventually(_count_at_least(work, WRITES_BEFORE), within=20)
        cluster.kill(killed)
        at_kill = len(work.acked)
        await eventually(_count_at_least(work, at_kill + WRITES_AFTER), within=30)
        await work.finish()
        final = await store.current_revision()
        await eventually(_watched_up_to(events, final), within=20)
    finally:
        work.stop = True
        consumer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await consumer
        for task in work.tasks:
            task.cancel()
        await asyncio.gather(*work.tasks, return_exceptions=True)
        cluster.restart(killed)

    assert store._client.preferred.target != killed.endpoint
    revisions = [e.kv.mod_revision for e in events]
    assert revisions == list(range(start + 1, final + 1)), "watch: a gap or a duplicate"
    assert sorted(work.acked) == revisions, "a write applied but not acknowledged, or acknowledged twice"
    for event in events:
        kind, kv = work.acked[event.kv.mod_revision]
        assert (event.type, event.kv) == (kind, kv)


def _count_at_least(work: Workload, n: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        for task in work.tasks:
            if task.done():
                task.result()  # a writer failed: raise its error now
        return len(work.acked) >= n

    return check


def _watched_up_to(events: list[Event], revision: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return bool(events) and events[-1].kv.mod_revision >= revision

    return check


async def test_watch_resumes_on_a_restarted_cluster_member(cluster: EtcdCluster, open_etcd: Opener) -> None:
    """With only one member reachable from the client, killing and restarting it interrupts the watch;
    it resumes from the last delivered revision once the member is back."""
    cluster.wait_ready()
    member = cluster.members[0]
    store = await open_etcd([member.endpoint], retry_timeout=30)
    start = await store.current_revision()
    watch = store.watch("/registry/", from_revision=start)
    first = await store.create("/registry/pods/ns/a", b"1")
    assert (await anext(watch)).kv == first
    cluster.kill(member)
    cluster.restart(member)
    second = await store.create("/registry/pods/ns/b", b"2")
    async with asyncio.timeout(20):
        got = await anext(watch)
    assert got.kv == second
    await watch.aclose()  # type: ignore[attr-defined]
