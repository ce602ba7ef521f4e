"""Time for the client library, injected so that tests run on fake time.

Everything in `kijabi.client` that waits (workqueue delays, backoff, rate limiters, leader election,
resync, event retries) asks a `Clock` instead of calling `time` or `asyncio.sleep` itself. `RealClock`
is the event loop's time; `FakeClock` stands still until a test calls `advance()`, which fires the due
timers in deadline order (the clock reads each timer's deadline while its callback runs).

Two readings: `now()` is monotonic (durations, deadlines); `time()` is wall time in Unix seconds
(timestamps written into objects: Lease renewTime, Event lastTimestamp).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time as _time
from collections.abc import Callable
from typing import Protocol


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Monotonic seconds."""
        ...

    def time(self) -> float:
        """Wall-clock Unix seconds."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        """Run `callback` on the event loop after `delay` seconds (at once if `delay` <= 0)."""
        ...

    async def sleep(self, delay: float) -> None: ...


class RealClock:
    """The event loop's clock."""

    def now(self) -> float:
        return _time.monotonic()

    def time(self) -> float:
        return _time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(delay, 0.0), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(delay, 0.0))


REAL_CLOCK = RealClock()


class _FakeTimer:
    __slots__ = ("callback", "cancelled", "deadline")

    def __init__(self, deadline: float, callback: Callable[[], None]) -> None:
        self.deadline = deadline
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeClock:
    """A clock that moves only when told to. Timers fire inside `advance()`, in deadline order.

    `sleep()` registers a timer and waits for it, so a task sleeping on this clock wakes up only when a
    test advances past its deadline. `wait_for_timers(n)` lets a test wait (in real time, bounded) until
    tasks under test have gone to sleep before it advances.
    """

    def __init__(self, start: float = 1000.0, wall: float = 1_767_225_600.0) -> None:
        self._now = start
        self._start = start
        self._wall = wall
        self._heap: list[tuple[float, int, _FakeTimer]] = []
        self._seq = itertools.count()
        self._changed: asyncio.Event | None = None

    def now(self) -> float:
        return self._now

    def time(self) -> float:
        return self._wall + (self._now - self._start)

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        if delay <= 0:
            timer = _FakeTimer(self._now, callback)
            asyncio.get_running_loop().call_soon(lambda: None if timer.cancelled else callback())
            return timer
        timer = _FakeTimer(self._now + delay, callback)
        heapq.heappush(self._heap, (timer.deadline, next(self._seq), timer))
        if self._changed is not None:
            self._changed.set()
        return timer

    async def sleep(self, delay: float) -> None:
        if delay <= 0:
            await asyncio.sleep(0)
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not fut.done():
                fut.set_result(None)

        handle = self.call_later(delay, wake)
        try:
            await fut
        finally:
            handle.cancel()

    def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing every timer that falls due on the way."""
        target = self._now + max(seconds, 0.0)
        while self._heap and self._heap[0][0] <= target:
            deadline, _, timer = heapq.heappop(self._heap)
            if timer.cancelled:
                continue
            self._now = max(self._now, deadline)
            timer.callback()
        self._now = target

    def pending(self) -> int:
        """How many timers (sleeps included) are waiting."""
        return sum(1 for _, _, t in self._heap if not t.cancelled)

    def next_deadline(self) -> float | None:
        live = [d for d, _, t in self._heap if not t.cancelled]
        return min(live) if live else None

    async def wait_for_timers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait (real time, at most `timeout` s) until at least `count` timers are pending."""
        async with asyncio.timeout(timeout):
            while self.pending() < count:
                self._changed = asyncio.Event()
                await self._changed.wait()
