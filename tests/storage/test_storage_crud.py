"""Conformance: create, get, conditional and unconditional update and delete, and their refusals."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kijabi.storage import (
    MAX_VALUE_BYTES,
    Conflict,
    KeyExists,
    KeyNotFound,
    KeyValue,
    Storage,
    StorageError,
    ValueTooLarge,
)

KEY = "/registry/configmaps/default/cm"


async def test_create_assigns_next_revision_and_get_returns_it(store: Storage) -> None:
    """A create gets a revision above the store's, as both create and mod revision; get returns it."""
    before = await store.current_revision()
    kv = await store.create(KEY, b'{"a":1}')
    assert kv == KeyValue(KEY, b'{"a":1}', kv.mod_revision, kv.mod_revision)
    assert kv.mod_revision > before
    assert await store.current_revision() == kv.mod_revision
    assert await store.get(KEY) == kv


async def test_get_of_missing_key_is_none(store: Storage) -> None:
    assert await store.get("/registry/configmaps/default/nothing") is None


async def test_create_of_existing_key_fails_and_changes_nothing(store: Storage) -> None:
    kv = await store.create(KEY, b"1")
    with pytest.raises(KeyExists) as info:
        await store.create(KEY, b"2")
    assert info.value.key == KEY
    assert await store.get(KEY) == kv
    assert await store.current_revision() == kv.mod_revision, "a refused write uses no revision"


async def test_empty_value_is_stored(store: Storage) -> None:
    kv = await store.create(KEY, b"")
    assert (await store.get(KEY)) == kv and kv.value == b""


@dataclass(frozen=True)
class UpdateCase:
    id: str
    exists: str  # "live" | "deleted" | "never"
    expected: str  # "0" | "current" | "stale"
    error: type[StorageError] | None
    conflict_current: str = ""  # "stored" | "none" when error is Conflict


UPDATE_CASES = [
    UpdateCase("unconditional", "live", "0", None),
    UpdateCase("matching revision", "live", "current", None),
    UpdateCase("stale revision", "live", "stale", Conflict, "stored"),
    UpdateCase("missing key, unconditional", "never", "0", KeyNotFound),
    UpdateCase("missing key, conditional", "never", "stale", Conflict, "none"),
    UpdateCase("deleted key, unconditional", "deleted", "0", KeyNotFound),
    UpdateCase("deleted key, conditional on its last revision", "deleted", "current", Conflict, "none"),
]


async def _prepare(store: Storage, exists: str) -> tuple[KeyValue | None, int]:
    """Returns (the stored kv or None, a revision the caller may have read earlier)."""
    first = await store.create(KEY, b"v1")
    if exists == "never":
        await store.delete(KEY)
        return None, first.mod_revision
    second = await store.update(KEY, b"v2", expected_revision=first.mod_revision)
    if exists == "deleted":
        await store.delete(KEY)
        return None, second.mod_revision
    return second, second.mod_revision


def _expected_revision(case_expected: str, last_seen: int) -> int:
    return {"0": 0, "current": last_seen, "stale": last_seen - 1}[case_expected]


@pytest.mark.parametrize("case", UPDATE_CASES, ids=lambda c: c.id)
async def test_update(store: Storage, case: UpdateCase) -> None:
    """update replaces the value iff the key exists and (if asked) its mod revision matches."""
    stored, last_seen = await _prepare(store, case.exists)
    expected = _expected_revision(case.expected, last_seen)
    before = await store.current_revision()
    if case.error is None:
        assert stored is not None
        kv = await store.update(KEY, b"v3", expected_revision=expected)
        assert kv == KeyValue(KEY, b"v3", stored.create_revision, before + 1)
        assert await store.get(KEY) == kv
        return
    with pytest.raises(case.error) as info:
        await store.update(KEY, b"v3", expected_revision=expected)
    if isinstance(info.value, Conflict):
        assert info.value.key == KEY
        assert info.value.current == (stored if case.conflict_current == "stored" else None)
    assert await store.get(KEY) == stored
    assert await store.current_revision() == before


DELETE_CASES = [
    UpdateCase("unconditional", "live", "0", None),
    UpdateCase("matching revision", "live", "current", None),
    UpdateCase("stale revision", "live", "stale", Conflict, "stored"),
    UpdateCase("missing key, unconditional", "never", "0", KeyNotFound),
    UpdateCase("missing key, conditional", "never", "stale", Conflict, "none"),
    UpdateCase("already deleted, unconditional", "deleted", "0", KeyNotFound),
]


@pytest.mark.parametrize("case", DELETE_CASES, ids=lambda c: c.id)
async def test_delete(store: Storage, case: UpdateCase) -> None:
    """delete returns the last value at the deletion's revision; refusals leave the key alone."""
    stored, last_seen = await _prepare(store, case.exists)
    expected = _expected_revision(case.expected, last_seen)
    before = await store.current_revision()
    if case.error is None:
        assert stored is not None
        kv = await store.delete(KEY, expected_revision=expected)
        assert kv == KeyValue(KEY, stored.value, stored.create_revision, before + 1)
        assert await store.get(KEY) is None
        assert await store.current_revision() == before + 1
        return
    with pytest.raises(case.error) as info:
        await store.delete(KEY, expected_revision=expected)
    if isinstance(info.value, Conflict):
        assert info.value.current == (stored if case.conflict_current == "stored" else None)
    assert await store.get(KEY) == stored
    assert await store.current_revision() == before


async def test_recreate_after_delete_starts_a_new_life(store: Storage) -> None:
    """A key created again after a delete has a new create revision."""
    first = await store.create(KEY, b"1")
    await store.delete(KEY)
    again = await store.create(KEY, b"2")
    assert again.create_revision == again.mod_revision > first.create_revision
    assert await store.get(KEY) == again


@pytest.mark.parametrize(
    ("op", "size", "refused"),
    [
        ("create", MAX_VALUE_BYTES, False),
        ("create", MAX_VALUE_BYTES + 1, True),
        ("update", MAX_VALUE_BYTES, False),
        ("update", MAX_VALUE_BYTES + 1, True),
    ],
    ids=["create at the limit", "create over the limit", "update at the limit", "update over the limit"],
)
async def test_value_size_limit(store: Storage, op: str, size: int, refused: bool) -> None:
    value = b"x" * size
    if op == "update":
        await store.create(KEY, b"small")
    before = await store.current_revision()
    call = store.create(KEY, value) if op == "create" else store.update(KEY, value, expected_revision=0)
    if refused:
        with pytest.raises(ValueTooLarge) as info:
            await call
        assert (info.value.key, info.value.size) == (KEY, size)
        assert await store.current_revision() == before
    else:
        kv = await call
        got = await store.get(KEY)
        assert got is not None and got.value == value and got.mod_revision == kv.mod_revision


async def test_revisions_increase_by_one_per_write(store: Storage) -> None:
    """Every successful write takes exactly the next revision, across keys and kinds of write."""
    start = await store.current_revision()
    a = await store.create("/registry/pods/ns/a", b"a")
    b = await store.create("/registry/pods/ns/b", b"b")
    a2 = await store.update("/registry/pods/ns/a", b"a2", expected_revision=a.mod_revision)
    b_del = await store.delete("/registry/pods/ns/b")
    assert [a.mod_revision, b.mod_revision, a2.mod_revision, b_del.mod_revision] == [
        start + 1,
        start + 2,
        start + 3,
        start + 4,
    ]
    assert await store.current_revision() == start + 4
