"""Conformance: many concurrent writers (64 tasks, like the API server under load)."""

from __future__ import annotations

import asyncio

from kijabi.storage import Conflict, KeyExists, KeyValue, Storage
from tests.storage.storage_testlib import collect, revisions

KEY = "/registry/leases/kube-system/leader"
TASKS = 64


async def test_racing_compare_and_swap_on_one_revision_has_exactly_one_winner(store: Storage) -> None:
    """64 updates expecting the same revision: one succeeds; the 63 others get Conflict carrying the
    winner's value."""
    base = await store.create(KEY, b"0")

    async def attempt(i: int) -> KeyValue | Conflict:
        try:
            return await store.update(KEY, f"{i}".encode(), expected_revision=base.mod_revision)
        except Conflict as exc:
            return exc

    outcomes = await asyncio.gather(*(attempt(i) for i in range(TASKS)))
    winners = [o for o in outcomes if isinstance(o, KeyValue)]
    conflicts = [o for o in outcomes if isinstance(o, Conflict)]
    assert len(winners) == 1 and len(conflicts) == TASKS - 1
    assert all(c.current == winners[0] for c in conflicts)
    assert await store.get(KEY) == winners[0]
    assert await store.current_revision() == base.mod_revision + 1


async def test_racing_creates_of_one_key_have_exactly_one_winner(store: Storage) -> None:
    async def attempt(i: int) -> KeyValue | KeyExists:
        try:
            return await store.create(KEY, f"{i}".encode())
        except KeyExists as exc:
            return exc

    outcomes = await asyncio.gather(*(attempt(i) for i in range(TASKS)))
    winners = [o for o in outcomes if isinstance(o, KeyValue)]
    assert len(winners) == 1
    assert sum(isinstance(o, KeyExists) for o in outcomes) == TASKS - 1
    assert await store.get(KEY) == winners[0]


async def test_guaranteed_update_loops_lose_no_increment(store: Storage) -> None:
    """64 read-modify-write loops (retry on Conflict) each add 5 to one counter: the counter ends at
    320, every success has its own revision, and each task sees its own revisions increase."""
    await store.create(KEY, b"0")
    per_task = 5
    all_revisions: list[int] = []

    async def increment_loop() -> list[int]:
        mine: list[int] = []
        for _ in range(per_task):
            while True:
                current = await store.get(KEY)
                assert current is not None
                new = str(int(current.value) + 1).encode()
                try:
                    kv = await store.update(KEY, new, expected_revision=current.mod_revision)
                except Conflict as exc:
                    assert exc.current is not None and exc.current.mod_revision > current.mod_revision
                    continue
                mine.append(kv.mod_revision)
                break
        return mine

    for mine in await asyncio.gather(*(increment_loop() for _ in range(TASKS))):
        assert mine == sorted(mine)
        all_revisions += mine
    final = await store.get(KEY)
    assert final is not None and final.value == str(TASKS * per_task).encode()
    assert len(set(all_revisions)) == TASKS * per_task
    assert final.mod_revision == max(all_revisions)


async def test_concurrent_writers_get_distinct_revisions_seen_in_order(store: Storage) -> None:
    """Writes from 64 tasks get distinct revisions with no holes, and a watch sees them in strictly
    increasing revision order with the values each writer wrote."""
    start = await store.current_revision()
    watch = store.watch("/registry/pods/", from_revision=start)
    per_task = 8

    async def writer(t: int) -> list[KeyValue]:
        out = []
        for i in range(per_task):
            key = f"/registry/pods/ns/t{t}-{i}"
            kv = await store.create(key, key.encode())
            out.append(await store.update(key, kv.value + b"!", expected_revision=kv.mod_revision))
        return out

    results = [kv for kvs in await asyncio.gather(*(writer(t) for t in range(TASKS))) for kv in kvs]
    total = 2 * TASKS * per_task
    assert await store.current_revision() == start + total
    events = await collect(watch, total)
    assert revisions(events) == list(range(start + 1, start + total + 1))
    updates = {e.kv.key: e.kv for e in events if not e.created}
    assert updates == {kv.key: kv for kv in results}
    await watch.aclose()  # type: ignore[attr-defined]
