"""Writes to etcd whose answer was lost (the member died after applying them), and whose key another
writer changed before the store could look: the store must still give the write's true outcome, or
Unavailable (unknown outcome), never a definite refusal of a write that was applied.

These are the races the fault runs can hit when the etcd leader is killed under 8 writers sharing 12
keys; here they are made to happen every time with the lost-answer fault of tests/storage. Own
single-member etcd cluster (the race is in the client, not in the cluster)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from kijabi.storage import Conflict, KeyValue, Unavailable
from kijabi.storage.etcd import EtcdStorage
from tests.storage.etcd_cluster import EtcdCluster
from tests.storage.storage_testlib import require_etcd
from tests.storage.test_etcd_backend import LostAnswers

KEY = "/registry/configmaps/ns/race"


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdCluster]:
    require_etcd()
    cluster = EtcdCluster.start(1)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def lossy(etcd: EtcdCluster, request: pytest.FixtureRequest) -> AsyncIterator[tuple[EtcdStorage, LostAnswers]]:
    store = EtcdStorage(etcd.endpoints, prefix=f"/{request.node.name}", compact_interval=0)
    await store.start()
    faults = LostAnswers(count=0)
    faults.install(store)
    try:
        yield store, faults
    finally:
        await store.close()


async def test_lost_update_overwritten_by_another_writer_is_still_acknowledged(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    """The compare-and-swap landed, another writer replaced it before the retry: the retry's compare
    fails, but the history shows this write replaced the expected version, so it is its success."""
    store, faults = lossy
    first = await store.create(KEY, b"v1")

    async def other_writer_overwrites() -> None:
        faults.count = 0
        current = await store.get(KEY)
        assert current is not None and current.value == b"mine"
        await store.update(KEY, b"theirs", expected_revision=current.mod_revision)

    faults.count, faults.before_error = 1, other_writer_overwrites
    kv = await store.update(KEY, b"mine", expected_revision=first.mod_revision)
    assert kv == KeyValue(KEY, b"mine", first.create_revision, first.mod_revision + 1)


async def test_lost_update_then_deleted_by_another_writer_is_still_acknowledged(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    store, faults = lossy
    first = await store.create(KEY, b"v1")

    async def other_writer_deletes() -> None:
        faults.count = 0
        await store.delete(KEY, expected_revision=first.mod_revision + 1)

    faults.count, faults.before_error = 1, other_writer_deletes
    kv = await store.update(KEY, b"mine", expected_revision=first.mod_revision)
    assert kv == KeyValue(KEY, b"mine", first.create_revision, first.mod_revision + 1)


async def test_lost_create_updated_by_another_writer_is_still_acknowledged(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    """The create landed and another writer updated the new key before the retry: the key was created
    after this write was sent, with this write's value, so the create is its own."""
    store, faults = lossy

    async def other_writer_updates() -> None:
        faults.count = 0
        current = await store.get(KEY)
        assert current is not None
        await store.update(KEY, b"theirs", expected_revision=current.mod_revision)

    faults.count, faults.before_error = 1, other_writer_updates
    kv = await store.create(KEY, b"mine")
    assert kv.value == b"mine" and kv.create_revision == kv.mod_revision
    latest = await store.get(KEY)
    assert latest is not None and latest.value == b"theirs" and latest.create_revision == kv.create_revision


async def test_update_not_applied_and_replaced_by_another_writer_is_a_conflict(
    lossy: tuple[EtcdStorage, LostAnswers],
) -> None:
    """The first attempt never landed and another writer replaced the version meanwhile: Conflict."""
    store, faults = lossy
    first = await store.create(KEY, b"v1")

    async def other_writer_overwrites() -> None:
        faults.count = 0
        await store.update(KEY, b"theirs", expected_revision=first.mod_revision)
        await store.update(KEY, b"again", expected_revision=first.mod_revision + 1)

    faults.count, faults.applied, faults.before_error = 1, False, other_writer_overwrites
    with pytest.raises(Conflict):
        await store.update(KEY, b"mine", expected_revision=first.mod_revision)


async def test_lost_update_with_compacted_history_is_unavailable(lossy: tuple[EtcdStorage, LostAnswers]) -> None:
    """When the history that would tell whose write replaced the version is compacted, the outcome is
    unknown: Unavailable, never Conflict."""
    store, faults = lossy
    first = await store.create(KEY, b"v1")

    async def overwrite_and_compact() -> None:
        faults.count = 0
        await store.update(KEY, b"theirs", expected_revision=first.mod_revision + 1)
        await store.compact(await store.current_revision())

    faults.count, faults.before_error = 1, overwrite_and_compact
    with pytest.raises(Unavailable):
        await store.update(KEY, b"mine", expected_revision=first.mod_revision)
