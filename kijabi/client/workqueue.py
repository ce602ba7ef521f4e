"""Work queues for controllers (client-go util/workqueue), on the event loop and an injectable clock.

`Queue` semantics, which controllers rely on:
- An item is queued at most once: adding an item already waiting is a no-op (dedupe).
- An item being processed (between `get()` and `done()`) is never handed to a second worker. Adding it
  meanwhile marks it dirty; `done()` then queues it again, so the change is not lost.
- FIFO otherwise. `get()` waits for an item; after `shutdown()` it raises `ShutDown` once the queue is
  empty (`shutdown(drain=True)` also waits for items in flight to be `done()`).

`DelayingQueue.add_after(item, delay)` adds later (an earlier pending time wins). `RateLimitingQueue`
adds `add_rate_limited(item)` (delay from the rate limiter), `forget(item)` (reset its failure count)
and `num_requeues(item)`. The default limiter is client-go's DefaultControllerRateLimiter: the larger of
a per-item exponential backoff (5 ms doubling to 1000 s) and an overall token bucket (10 qps, burst 100).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

from kijabi.client.clock import REAL_CLOCK, Clock, TimerHandle
from kijabi.client.ratelimit import TokenBucket

T = TypeVar("T", bound=Hashable)
T_contra = TypeVar("T_contra", bound=Hashable, contravariant=True)


class ShutDown(Exception):
    """The queue was shut down and has nothing left to hand out."""


# -- rate limiters ---------------------------------------------------------------------------------


class RateLimiter(Protocol[T_contra]):
    def when(self, item: T_contra) -> float:
        """How long `item` should wait before it is processed again (and count this failure)."""
        ...

    def forget(self, item: T_contra) -> None:
        """Stop tracking `item` (it succeeded)."""
        ...

    def num_requeues(self, item: T_contra) -> int: ...


class ItemExponentialFailureRateLimiter(Generic[T]):
    """base * 2^failures, capped at `maximum`, per item."""

    def __init__(self, base: float = 0.005, maximum: float = 1000.0) -> None:
        self.base = base
        self.maximum = maximum
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        exp = self._failures.get(item, 0)
        self._failures[item] = exp + 1
        if exp >= 64:
            return self.maximum
        return min(self.base * (2.0**exp), self.maximum)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class ItemFastSlowRateLimiter(Generic[T]):
    """`fast` for the first `max_fast_attempts` failures of an item, `slow` after."""

    def __init__(self, fast: float, slow: float, max_fast_attempts: int) -> None:
        self.fast = fast
        self.slow = slow
        self.max_fast_attempts = max_fast_attempts
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        n = self._failures.get(item, 0) + 1
        self._failures[item] = n
        return self.fast if n <= self.max_fast_attempts else self.slow

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[T]):
    """One token bucket for all items: bounds the overall retry rate."""

    def __init__(self, qps: float = 10.0, burst: int = 100, *, clock: Clock = REAL_CLOCK) -> None:
        self.bucket = TokenBucket(qps, burst, clock=clock)

    def when(self, item: T) -> float:
        return self.bucket.reserve()

    def forget(self, item: T) -> None:
        pass

    def num_requeues(self, item: T) -> int:
        return 0


class MaxOfRateLimiter(Generic[T]):
    """The longest delay of several limiters; failures counted by all."""

    def __init__(self, *limiters: RateLimiter[T]) -> None:
        self.limiters = limiters

    def when(self, item: T) -> float:
        return max(lim.when(item) for lim in self.limiters)

    def forget(self, item: T) -> None:
        for lim in self.limiters:
            lim.forget(item)

    def num_requeues(self, item: T) -> int:
        return max(lim.num_requeues(item) for lim in self.limiters)


def default_controller_rate_limiter(clock: Clock = REAL_CLOCK) -> MaxOfRateLimiter[T]:
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter(10.0, 100, clock=clock))


# -- queues ----------------------------------------------------------------------------------------


class Queue(Generic[T]):
    def __init__(self, name: str = "") -> None:
        self.name = name
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._getters: deque[asyncio.Future[None]] = deque()
        self._shutting_down = False
        self._drained: asyncio.Event | None = None

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    def _wake_all(self) -> None:
        while self._getters:
            fut = self._getters.popleft()
            if not fut.done():
                fut.set_result(None)

    async def get(self) -> T:
        """The next item (now processing: call `done(item)` when finished). Raises ShutDown."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown(self.name)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(fut)
            try:
                await fut
            except asyncio.CancelledError:
                if fut.done() and not fut.cancelled() and self._queue:
                    self._wake_one()  # we were woken for an item we will not take: pass it on
                raise
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def get_nowait(self) -> T | None:
        if not self._queue:
            return None
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """`item` is processed. If it was added meanwhile, it is queued again now."""
        if item not in self._processing:
            return
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._wake_one()
        elif not self._processing and self._drained is not None:
            self._drained.set()

    def shutdown(self) -> None:
        """Refuse new items; waiting `get()`s raise ShutDown once the queue is empty."""
        self._shutting_down = True
        self._wake_all()

    async def shutdown_with_drain(self) -> None:
        """Shut down, then wait until every item handed out has been `done()`."""
        self.shutdown()
        if self._processing:
            self._drained = asyncio.Event()
            await self._drained.wait()

    def is_processing(self, item: T) -> bool:
        return item in self._processing

    def is_dirty(self, item: T) -> bool:
        return item in self._dirty


class DelayingQueue(Queue[T]):
    def __init__(self, name: str = "", *, clock: Clock = REAL_CLOCK) -> None:
        super().__init__(name)
        self.clock = clock
        self._waiting: dict[T, tuple[float, TimerHandle]] = {}

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` after `delay` seconds (at once if <= 0). An earlier pending add wins."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        ready_at = self.clock.now() + delay
        pending = self._waiting.get(item)
        if pending is not None:
            if pending[0] <= ready_at:
                return
            pending[1].cancel()

        def fire() -> None:
            self._waiting.pop(item, None)
            self.add(item)

        self._waiting[item] = (ready_at, self.clock.call_later(delay, fire))

    def waiting(self) -> int:
        """Items waiting for their delay to pass."""
        return len(self._waiting)

    def shutdown(self) -> None:
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        super().shutdown()


class RateLimitingQueue(DelayingQueue[T]):
    def __init__(self, rate_limiter: RateLimiter[T] | None = None, name: str = "", *, clock: Clock = REAL_CLOCK) -> None:
        super().__init__(name, clock=clock)
        self.rate_limiter: RateLimiter[T] = rate_limiter if rate_limiter is not None else default_controller_rate_limiter(clock)

    def add_rate_limited(self, item: T) -> None:
        """Add `item` once the rate limiter allows (counts as one more failure of it)."""
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)
