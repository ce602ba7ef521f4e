"""Controller expectations (upstream pkg/controller ControllerExpectations / UIDTrackingExpectations).

A controller that has just asked for N creations and M deletions must not act again on the same owner
until its informers have shown it those changes, or it would create (or delete) twice. It records what it
expects here before writing; the informer handlers call `creation_observed` / `deletion_observed`; `sync`
acts only when `satisfied(key)`. Expectations older than `ttl` seconds count as satisfied, so a lost
watch event cannot wedge a controller forever.

Deletions are tracked by object key (as upstream's UIDTrackingExpectations), so an object that is first
updated with a deletionTimestamp and later deleted is counted once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kijabi.client.clock import REAL_CLOCK, Clock

EXPECTATIONS_TTL = 300.0


@dataclass
class _Record:
    adds: int
    dels: int
    stamp: float
    pending_deletes: set[str] = field(default_factory=set)


class Expectations:
    """Pending creations/deletions per controller key; everything happens on the event loop."""

    def __init__(self, clock: Clock = REAL_CLOCK, ttl: float = EXPECTATIONS_TTL) -> None:
        self.clock = clock
        self.ttl = ttl
        self._records: dict[str, _Record] = {}

    def satisfied(self, key: str) -> bool:
        """True when nothing is pending for `key`, nothing was ever recorded, or the record expired."""
        rec = self._records.get(key)
        if rec is None:
            return True
        if rec.adds <= 0 and rec.dels <= 0:
            return True
        return self.clock.now() - rec.stamp > self.ttl

    def expect_creations(self, key: str, adds: int) -> None:
        self._records[key] = _Record(adds, 0, self.clock.now())

    def expect_deletions(self, key: str, object_keys: list[str]) -> None:
        self._records[key] = _Record(0, len(object_keys), self.clock.now(), set(object_keys))

    def expect(self, key: str, adds: int, delete_keys: list[str]) -> None:
        """Both at once: `adds` creations and the deletions of `delete_keys`."""
        self._records[key] = _Record(adds, len(delete_keys), self.clock.now(), set(delete_keys))

    def raise_expectations(self, key: str, adds: int, dels: int) -> None:
        rec = self._records.get(key)
        if rec is None:
            self._records[key] = _Record(adds, dels, self.clock.now())
        else:
            rec.adds += adds
            rec.dels += dels

    def creation_observed(self, key: str) -> None:
        rec = self._records.get(key)
        if rec is not None:
            rec.adds -= 1

    def deletion_observed(self, key: str, object_key: str | None = None) -> None:
        rec = self._records.get(key)
        if rec is None:
            return
        if object_key is not None and rec.pending_deletes:
            if object_key not in rec.pending_deletes:
                return
            rec.pending_deletes.discard(object_key)
        rec.dels -= 1

    def pending(self, key: str) -> tuple[int, int]:
        rec = self._records.get(key)
        return (rec.adds, rec.dels) if rec is not None else (0, 0)

    def delete(self, key: str) -> None:
        self._records.pop(key, None)
