"""The store behind the API server: one protocol, the etcd v3 model, several backends.

Keys are strings laid out like upstream (`/registry/<resource>/<namespace>/<name>`), values are bytes
(the object's JSON). Every write gets the next global revision; a key's `mod_revision` is the revision
of its last write and is what the API calls `resourceVersion`.

Exception tree::

    StorageError
    ├── KeyNotFound        get/update/delete of a key that does not exist
    ├── KeyExists          create of a key that exists
    ├── Conflict           compare-and-swap lost: `current` is what is stored now (None if deleted)
    ├── Compacted          list/watch at a revision older than the compaction point
    ├── FutureRevision     list at a revision newer than the store has
    ├── ValueTooLarge      a value over `MAX_VALUE_BYTES`
    └── Unavailable        the backend cannot be reached or failed; the caller may retry
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol

MAX_VALUE_BYTES = 1_572_864  # 1.5 MiB, etcd's default request limit


class StorageError(Exception):
    pass


class KeyNotFound(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class KeyExists(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class Conflict(StorageError):
    def __init__(self, key: str, current: KeyValue | None) -> None:
        super().__init__(f"compare-and-swap failed: {key}")
        self.key = key
        self.current = current


class Compacted(StorageError):
    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (compacted revision {compacted})")
        self.requested = requested
        self.compacted = compacted


class FutureRevision(StorageError):
    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"required revision {requested} is a future revision (current {current})")
        self.requested = requested
        self.current = current


class ValueTooLarge(StorageError):
    def __init__(self, key: str, size: int) -> None:
        super().__init__(f"value for {key} is {size} bytes, over the {MAX_VALUE_BYTES} byte limit")
        self.key = key
        self.size = size


class Unavailable(StorageError):
    pass


class KeyValue(NamedTuple):  # a NamedTuple, not a frozen dataclass: built per row and per event, 3x cheaper
    key: str
    value: bytes
    create_revision: int
    mod_revision: int


class Event(NamedTuple):
    """One change. For DELETE, `kv.value` is the last value and `kv.mod_revision` the deletion's revision."""

    type: Literal["PUT", "DELETE"]
    kv: KeyValue
    prev: KeyValue | None
    created: bool  # PUT that created the key


@dataclass(frozen=True, slots=True)
class ListResult:
    items: list[KeyValue]
    revision: int  # the revision the list was served at
    more: bool  # True when `limit` cut the list; continue from after items[-1].key
    remaining: int = 0  # keys after the page, when more (for ListMeta.remainingItemCount)


class Storage(Protocol):
    """What the API server needs from a store. All methods are safe to call concurrently.

    Ordering contract: revisions are strictly increasing in commit order; a watcher sees every event
    with revision > from_revision for its prefix, in revision order, each exactly once, and sees no event
    before the write that caused it was acknowledged to its caller.
    """

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def current_revision(self) -> int: ...

    async def get(self, key: str) -> KeyValue | None: ...

    async def list(
        self, prefix: str, *, revision: int = 0, limit: int = 0, start_after: str = ""
    ) -> ListResult:
        """Keys under `prefix` in key order as of `revision` (0 = now), after `start_after`."""
        ...

    async def count(self, prefix: str) -> int: ...

    async def create(self, key: str, value: bytes) -> KeyValue: ...

    async def update(self, key: str, value: bytes, *, expected_revision: int) -> KeyValue:
        """Replace `key` iff its mod revision is `expected_revision` (0: unconditionally)."""
        ...

    async def delete(self, key: str, *, expected_revision: int = 0) -> KeyValue:
        """Delete `key` iff its mod revision is `expected_revision` (0: unconditionally); returns the
        deleted value with `mod_revision` set to the deletion's revision."""
        ...

    def watch(self, prefix: str, *, from_revision: int) -> AsyncIterator[Event]:
        """Events with revision > `from_revision` under `prefix`. Raises Compacted (on first iteration)
        if from_revision is older than the compaction point. Ends only when the consumer stops (aclose)
        or the store closes."""
        ...

    async def compact(self, revision: int) -> None: ...

    async def compacted_revision(self) -> int: ...
