"""Per-key exponential backoff with upstream's semantics (client-go util/flowcontrol.Backoff).

The kubelet keys it by pod uid + container name (+ spec hash) for CrashLoopBackOff and by pod uid +
image for image pulls:

- `next(key, event_time)` records a failure at `event_time`: the first one (or the first after the entry
  expired) sets the delay to `initial`, each later one doubles it, up to `maximum`.
- `in_backoff_since(key, event_time)` is true while less than the current delay has passed since
  `event_time` (for a crashed container: its finishedAt); `in_backoff_since_update(key)` counts from the
  last recorded failure (image pulls).
- An entry expires when `event_time` is more than 2 x `maximum` after its last update: a container that
  ran for 10 minutes (2 x 300 s) starts over at 10 s.

Times are seconds (time.time()); the clock is injectable for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Entry:
    delay: float
    last_update: float


class Backoff:
    def __init__(self, initial: float = 10.0, maximum: float = 300.0, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.initial = initial
        self.maximum = maximum
        self.clock = clock
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, entry: _Entry) -> bool:
        return event_time - entry.last_update > 2 * self.maximum

    def get(self, key: str) -> float:
        """The current delay of `key` (0 when it has none)."""
        entry = self._entries.get(key)
        return entry.delay if entry is not None else 0.0

    def next(self, key: str, event_time: float) -> float:
        """Record a failure; returns the new delay."""
        entry = self._entries.get(key)
        now = self.clock()
        if entry is None or self._expired(event_time, entry):
            entry = self._entries[key] = _Entry(self.initial, now)
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
            entry.last_update = now
        return entry.delay

    def in_backoff_since(self, key: str, event_time: float) -> bool:
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return False
        return self.clock() - event_time < entry.delay

    def in_backoff_since_update(self, key: str) -> bool:
        """Whether less than the current delay has passed since the last failure was recorded."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        return self.clock() - entry.last_update < entry.delay

    def remaining_since_update(self, key: str) -> float:
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        return max(entry.last_update + entry.delay - self.clock(), 0.0)

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until the backoff of `key` counted from `event_time` ends (0 if it has)."""
        entry = self._entries.get(key)
        if entry is None or self._expired(event_time, entry):
            return 0.0
        return max(event_time + entry.delay - self.clock(), 0.0)

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def forget_prefix(self, prefix: str) -> None:
        for key in [k for k in self._entries if k.startswith(prefix)]:
            del self._entries[key]

    def gc(self) -> None:
        """Drop entries not updated for 2 x maximum."""
        now = self.clock()
        for key in [k for k, e in self._entries.items() if self._expired(now, e)]:
            del self._entries[key]
