"""Conformance: list (prefixes, order, paging, snapshots at a revision) and count."""

from __future__ import annotations

import pytest

from kijabi.storage import Compacted, FutureRevision, KeyValue, Storage

PODS = "/registry/pods/"


async def _fill(store: Storage, keys: list[str]) -> dict[str, KeyValue]:
    return {k: await store.create(k, k.encode()) for k in keys}


async def test_list_returns_live_keys_in_key_order_at_current_revision(store: Storage) -> None:
    made = await _fill(store, [f"{PODS}ns/p{i}" for i in (3, 1, 2, 10)])
    await store.delete(f"{PODS}ns/p2")
    result = await store.list(f"{PODS}ns/")
    assert [kv.key for kv in result.items] == [f"{PODS}ns/p1", f"{PODS}ns/p10", f"{PODS}ns/p3"]
    assert result.items[0] == made[f"{PODS}ns/p1"]
    assert result.revision == await store.current_revision()
    assert (result.more, result.remaining) == (False, 0)


LAYOUT = [
    "/registry/pods/a/x",
    "/registry/pods/a/y",
    "/registry/pods/ab/z",
    "/registry/pods/a",
    "/registry/podsecuritypolicies/p",
    "/registry/pod/q",
    "/registry/services/specs/a/s",
]


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("/registry/pods/a/", ["/registry/pods/a/x", "/registry/pods/a/y"]),
        ("/registry/pods/ab/", ["/registry/pods/ab/z"]),
        (
            "/registry/pods/",
            ["/registry/pods/a", "/registry/pods/a/x", "/registry/pods/a/y", "/registry/pods/ab/z"],
        ),
        ("/registry/pods/a/x", ["/registry/pods/a/x"]),
        ("/registry/pods/c/", []),
        ("/registry/services/specs/", ["/registry/services/specs/a/s"]),
        ("", sorted(LAYOUT)),
    ],
    ids=[
        "namespace a excludes ab",
        "namespace ab excludes a",
        "resource prefix excludes podsecuritypolicies and pod",
        "exact key",
        "empty namespace",
        "nested prefix",
        "empty prefix is everything",
    ],
)
async def test_list_prefix_does_not_leak(store: Storage, prefix: str, expected: list[str]) -> None:
    """A prefix selects exactly the keys that start with it (callers end namespace prefixes with '/')."""
    await _fill(store, LAYOUT)
    assert [kv.key for kv in (await store.list(prefix)).items] == expected
    assert await store.count(prefix) == len(expected)


async def test_keys_sort_by_code_point(store: Storage) -> None:
    """Key order is Python string order, also for non-ASCII keys."""
    keys = [f"{PODS}ns/{name}" for name in ("z", "é", "A", "日本", "a-b", "a", "\U0001f600")]
    await _fill(store, keys)
    assert [kv.key for kv in (await store.list(f"{PODS}ns/")).items] == sorted(keys)


@pytest.mark.parametrize("limit", [1, 3, 7, 10, 11], ids=lambda n: f"limit {n}")
async def test_paging_walks_every_key_once(store: Storage, limit: int) -> None:
    """limit + start_after pages through all keys; `more` and `remaining` describe what is left."""
    keys = sorted(f"{PODS}ns/p{i:02d}" for i in range(10))
    await _fill(store, keys)
    seen: list[str] = []
    after = ""
    revision = 0
    while True:
        page = await store.list(f"{PODS}ns/", limit=limit, start_after=after, revision=revision)
        revision = page.revision
        seen += [kv.key for kv in page.items]
        assert len(page.items) <= limit
        assert page.remaining == (len(keys) - len(seen) if page.more else 0)
        if not page.more:
            break
        after = page.items[-1].key
    assert seen == keys


async def test_pages_at_a_revision_are_one_snapshot_despite_writes_in_between(store: Storage) -> None:
    """Pages served at the first page's revision ignore creates, updates and deletes made meanwhile."""
    keys = [f"{PODS}ns/p{i:02d}" for i in range(12)]
    made = await _fill(store, keys)
    first = await store.list(f"{PODS}ns/", limit=4)
    await store.delete(keys[5])
    await store.update(keys[9], b"changed", expected_revision=0)
    await store.create(f"{PODS}ns/p05a", b"new")
    await store.create(f"{PODS}ns/p99", b"new")
    items = list(first.items)
    page = first
    while page.more:
        page = await store.list(
            f"{PODS}ns/", limit=4, start_after=page.items[-1].key, revision=first.revision
        )
        assert page.revision == first.revision
        items += page.items
    assert items == [made[k] for k in keys]
    now = await store.list(f"{PODS}ns/")
    assert len(now.items) == 13 and now.revision == first.revision + 4


async def test_list_at_old_revision_sees_old_values_and_deleted_keys(store: Storage) -> None:
    a = await store.create(f"{PODS}ns/a", b"a1")
    b = await store.create(f"{PODS}ns/b", b"b1")
    then = await store.current_revision()
    await store.update(a.key, b"a2", expected_revision=a.mod_revision)
    await store.delete(b.key)
    await store.create(f"{PODS}ns/c", b"c1")
    old = await store.list(f"{PODS}ns/", revision=then)
    assert old.items == [a, b]
    assert old.revision == then
    before_b = await store.list(f"{PODS}ns/", revision=a.mod_revision)
    assert before_b.items == [a]


async def test_list_at_future_revision_fails(store: Storage) -> None:
    await store.create(f"{PODS}ns/a", b"a")
    current = await store.current_revision()
    with pytest.raises(FutureRevision) as info:
        await store.list(PODS, revision=current + 1)
    assert (info.value.requested, info.value.current) == (current + 1, current)


async def test_list_at_compacted_revision_fails(store: Storage) -> None:
    """Below the compaction point: Compacted. At the compaction point: served."""
    a = await store.create(f"{PODS}ns/a", b"a1")
    await store.update(a.key, b"a2", expected_revision=0)
    point = await store.current_revision()
    await store.update(a.key, b"a3", expected_revision=0)
    await store.compact(point)
    with pytest.raises(Compacted) as info:
        await store.list(PODS, revision=point - 1)
    assert (info.value.requested, info.value.compacted) == (point - 1, point)
    at_point = await store.list(PODS, revision=point)
    assert [kv.value for kv in at_point.items] == [b"a2"]


async def test_paging_fails_once_its_revision_is_compacted(store: Storage) -> None:
    """A continued list whose revision got compacted meanwhile fails instead of mixing states."""
    await _fill(store, [f"{PODS}ns/p{i}" for i in range(4)])
    first = await store.list(PODS, limit=2)
    await store.update(f"{PODS}ns/p3", b"x", expected_revision=0)
    await store.compact(await store.current_revision())
    with pytest.raises(Compacted):
        await store.list(PODS, limit=2, start_after=first.items[-1].key, revision=first.revision)


async def test_count_counts_live_keys_under_prefix(store: Storage) -> None:
    await _fill(store, [f"{PODS}a/p{i}" for i in range(5)] + [f"{PODS}ab/p{i}" for i in range(3)])
    await store.delete(f"{PODS}a/p0")
    assert await store.count(f"{PODS}a/") == 4
    assert await store.count(PODS) == 7
    assert await store.count("/registry/none/") == 0


@pytest.mark.parametrize(
    ("start_after", "expected"),
    [("/registry/pods/ns/p9", []), ("/registry/pods/zz", []), ("/registry/", ["p1", "p2"])],
    ids=["after the last key", "beyond the prefix", "before the prefix"],
)
async def test_start_after_outside_the_keys(store: Storage, start_after: str, expected: list[str]) -> None:
    """start_after past every key gives an empty page; before the prefix it is ignored."""
    await _fill(store, [f"{PODS}ns/p1", f"{PODS}ns/p2"])
    page = await store.list(f"{PODS}ns/", start_after=start_after)
    assert [kv.key.rsplit("/", 1)[1] for kv in page.items] == expected
    assert (page.more, page.remaining) == (False, 0)
