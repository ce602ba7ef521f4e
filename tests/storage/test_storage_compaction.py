"""Conformance: compaction forgets history at or below a revision and keeps everything after it."""

from __future__ import annotations

import pytest

from kijabi.storage import Event, FutureRevision, Storage
from tests.storage.storage_testlib import collect

NS = "/registry/secrets/ns/"


async def test_compaction_keeps_current_state(store: Storage) -> None:
    """After compacting to the current revision, every live key reads back the same, deleted keys stay
    deleted, and the revision counter does not move."""
    for i in range(10):
        kv = await store.create(f"{NS}s{i}", b"v1")
        await store.update(kv.key, b"v2", expected_revision=kv.mod_revision)
    for i in range(0, 10, 3):
        await store.delete(f"{NS}s{i}")
    before = await store.list(NS)
    current = await store.current_revision()
    await store.compact(current)
    assert await store.compacted_revision() == current
    assert await store.current_revision() == current
    after = await store.list(NS)
    assert after.items == before.items and after.revision == current
    assert await store.get(f"{NS}s0") is None
    assert await store.get(f"{NS}s1") == before.items[0]
    assert await store.count(NS) == 6


async def test_keys_live_again_after_compacting_their_tombstone(store: Storage) -> None:
    """Compaction removes a deleted key's rows; creating it again is a fresh create."""
    first = await store.create(f"{NS}a", b"1")
    await store.delete(first.key)
    await store.compact(await store.current_revision())
    again = await store.create(first.key, b"2")
    assert again.create_revision == again.mod_revision > first.mod_revision
    assert await store.get(first.key) == again


async def test_history_after_the_compaction_point_is_kept(store: Storage) -> None:
    """Lists at any revision from the compaction point on, and watches from it, still work, with
    previous values for updates and deletes."""
    a = await store.create(f"{NS}a", b"a1")
    b = await store.create(f"{NS}b", b"b1")
    point = await store.current_revision()
    a2 = await store.update(a.key, b"a2", expected_revision=0)
    b_del = await store.delete(b.key)
    mid = await store.current_revision()
    a3 = await store.update(a.key, b"a3", expected_revision=0)
    await store.compact(point)
    assert (await store.list(NS, revision=point)).items == [a, b]
    assert (await store.list(NS, revision=mid)).items == [a2]
    watch = store.watch(NS, from_revision=point)
    assert await collect(watch, 3) == [
        Event("PUT", a2, a, False),
        Event("DELETE", b_del, b, False),
        Event("PUT", a3, a2, False),
    ]
    await watch.aclose()  # type: ignore[attr-defined]


async def test_compacting_again_at_or_below_the_point_is_a_no_op(store: Storage) -> None:
    kv = await store.create(f"{NS}a", b"1")
    await store.update(kv.key, b"2", expected_revision=0)
    point = await store.current_revision()
    await store.compact(point)
    await store.compact(point)
    await store.compact(point - 1)
    assert await store.compacted_revision() == point


async def test_compacting_a_future_revision_fails(store: Storage) -> None:
    await store.create(f"{NS}a", b"1")
    current = await store.current_revision()
    with pytest.raises(FutureRevision):
        await store.compact(current + 1)
    assert await store.compacted_revision() < current
