"""Conformance: watch from history and live, ordering, prefixes, DELETE events, compaction, close."""

from __future__ import annotations

import asyncio

import pytest

from kijabi.storage import Compacted, Event, KeyValue, Storage, Unavailable
from tests.storage.storage_testlib import collect, revisions

NS = "/registry/pods/ns/"


async def _history(store: Storage) -> list[KeyValue]:
    """create a, create b, update a, delete b: returns the four results."""
    a = await store.create(f"{NS}a", b"a1")
    b = await store.create(f"{NS}b", b"b1")
    a2 = await store.update(f"{NS}a", b"a2", expected_revision=a.mod_revision)
    b_del = await store.delete(f"{NS}b")
    return [a, b, a2, b_del]


def _expected_events(a: KeyValue, b: KeyValue, a2: KeyValue, b_del: KeyValue) -> list[Event]:
    return [
        Event("PUT", a, None, True),
        Event("PUT", b, None, True),
        Event("PUT", a2, a, False),
        Event("DELETE", b_del, b, False),
    ]


@pytest.mark.parametrize("live", [False, True], ids=["from the log", "live"])
async def test_events_carry_values_prev_and_created(store: Storage, live: bool) -> None:
    """PUT events carry the new value (prev for updates, created for creates); a DELETE carries the
    deletion's revision, the last value and the previous kv. Same whether read back or seen live."""
    start = await store.current_revision()
    watch = store.watch(NS, from_revision=start)
    if live:
        pending = asyncio.ensure_future(collect(watch, 4))
        await asyncio.sleep(0)  # let the watch subscribe before the writes
        made = await _history(store)
        got = await pending
    else:
        made = await _history(store)
        got = await collect(watch, 4)
    await watch.aclose()  # type: ignore[attr-defined]
    assert got == _expected_events(*made)
    assert got[3].kv.mod_revision == start + 4 and got[3].kv.value == b"b1"


@pytest.mark.uncompacted
@pytest.mark.parametrize(
    ("from_offset", "expected_indexes"),
    [(0, [0, 1, 2, 3]), (1, [1, 2, 3]), (3, [3]), (4, [])],
    ids=["from 0", "from after the first write", "from before the last write", "from current"],
)
async def test_watch_from_a_revision_starts_after_it(
    store: Storage, from_offset: int, expected_indexes: list[int]
) -> None:
    """A watch yields exactly the events with revision > from_revision, then continues live."""
    start = await store.current_revision()
    made = await _history(store)
    from_revision = 0 if from_offset == 0 else start + from_offset
    watch = store.watch(NS, from_revision=from_revision)
    expected = [_expected_events(*made)[i] for i in expected_indexes]
    got = await collect(watch, len(expected))
    assert got == expected
    live = await store.create(f"{NS}c", b"c")
    assert await collect(watch, 1) == [Event("PUT", live, None, True)]
    await watch.aclose()  # type: ignore[attr-defined]


@pytest.mark.uncompacted
async def test_watch_from_zero_replays_everything(store: Storage) -> None:
    """from_revision 0 means the whole log (the caller translates the API's "any" itself)."""
    made = await _history(store)
    watch = store.watch(NS, from_revision=0)
    assert revisions(await collect(watch, 4)) == [kv.mod_revision for kv in made]
    await watch.aclose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("live", [False, True], ids=["from the log", "live"])
async def test_watch_sees_only_its_prefix(store: Storage, live: bool) -> None:
    start = await store.current_revision()
    watch = store.watch("/registry/pods/a/", from_revision=start)
    if live:
        pending = asyncio.ensure_future(collect(watch, 2))
        await asyncio.sleep(0)  # let the watch subscribe before the writes
    await store.create("/registry/pods/ab/x", b"no")
    await store.create("/registry/pods/a", b"no")
    mine = await store.create("/registry/pods/a/x", b"yes")
    await store.create("/registry/podsx/a/x", b"no")
    mine2 = await store.update("/registry/pods/a/x", b"yes2", expected_revision=0)
    got = await pending if live else await collect(watch, 2)
    assert [e.kv for e in got] == [mine, mine2]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_no_gap_and_no_duplicate_between_history_and_live(store: Storage) -> None:
    """Watches started while writers keep writing see every write exactly once, in revision order,
    whatever point of the stream they switch from the log to live events."""
    start = await store.current_revision()
    total = 300
    written: list[int] = []

    async def writer(w: int) -> None:
        for i in range(total // 6):
            kv = await store.create(f"{NS}w{w}-{i}", b"v")
            written.append(kv.mod_revision)

    writers = [asyncio.ensure_future(writer(w)) for w in range(6)]
    watches = []
    for _ in range(5):  # start watches at different points of the write stream
        watches.append(store.watch(NS, from_revision=start))
        await asyncio.sleep(0)
        await store.get(f"{NS}w0-0")
    results = await asyncio.gather(*(collect(w, total) for w in watches))
    await asyncio.gather(*writers)
    for got in results:
        assert revisions(got) == sorted(written) == list(range(start + 1, start + total + 1))
    for w in watches:
        await w.aclose()  # type: ignore[attr-defined]


async def test_watch_never_sees_a_write_before_its_caller_got_the_answer(store: Storage) -> None:
    """Ordering contract: an event is delivered only after the write was acknowledged to its caller."""
    acked: set[int] = set()
    violations: list[int] = []
    watch = store.watch(NS, from_revision=await store.current_revision())

    async def consume() -> None:
        for event in await collect(watch, 64):
            if event.kv.mod_revision not in acked:
                violations.append(event.kv.mod_revision)

    async def write(i: int) -> None:
        kv = await store.create(f"{NS}k{i}", b"v")
        acked.add(kv.mod_revision)

    consumer = asyncio.ensure_future(consume())
    await asyncio.sleep(0)
    await asyncio.gather(*(write(i) for i in range(64)))
    await consumer
    assert violations == []
    await watch.aclose()  # type: ignore[attr-defined]


async def test_every_watcher_gets_every_event(store: Storage) -> None:
    start = await store.current_revision()
    watches = [store.watch(NS, from_revision=start) for _ in range(4)] + [
        store.watch("/registry/", from_revision=start)
    ]
    made = await _history(store)
    for watch in watches:
        assert [e.kv for e in await collect(watch, 4)] == made
        await watch.aclose()  # type: ignore[attr-defined]


async def test_watch_below_compaction_point_fails_at_compaction_point_works(store: Storage) -> None:
    """Compacted (on first iteration) below the compaction point; from the point itself, the events
    after it, with their previous values."""
    a = await store.create(f"{NS}a", b"a1")
    a2 = await store.update(a.key, b"a2", expected_revision=0)
    point = a2.mod_revision
    a3 = await store.update(a.key, b"a3", expected_revision=0)
    await store.compact(point)
    assert await store.compacted_revision() == point
    below = store.watch(NS, from_revision=point - 1)
    with pytest.raises(Compacted) as info:
        await anext(below)
    assert (info.value.requested, info.value.compacted) == (point - 1, point)
    with pytest.raises(Compacted):
        await anext(store.watch(NS, from_revision=0))
    at_point = store.watch(NS, from_revision=point)
    assert await collect(at_point, 1) == [Event("PUT", a3, a2, False)]
    await at_point.aclose()  # type: ignore[attr-defined]


async def test_watch_from_future_revision_waits_for_it(store: Storage) -> None:
    """Events up to from_revision are skipped, even when they happen after the watch started."""
    start = await store.current_revision()
    watch = store.watch(NS, from_revision=start + 2)
    pending = asyncio.ensure_future(collect(watch, 1))
    await asyncio.sleep(0)
    await store.create(f"{NS}a", b"1")
    await store.create(f"{NS}b", b"2")
    third = await store.create(f"{NS}c", b"3")
    assert [e.kv for e in await pending] == [third]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_closing_the_store_ends_its_watches(store: Storage) -> None:
    """A watch waiting for events ends (StopAsyncIteration) when the store closes; a watch started
    after that fails with Unavailable (so a retrying caller does not spin)."""
    watch = store.watch(NS, from_revision=await store.current_revision())
    await store.create(f"{NS}a", b"1")
    pending = asyncio.ensure_future(collect(watch, 2))
    await asyncio.sleep(0)
    await store.close()
    with pytest.raises(StopAsyncIteration):
        await pending
    with pytest.raises(Unavailable):
        await anext(store.watch(NS, from_revision=0))
