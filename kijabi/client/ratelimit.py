"""Token buckets and exponential backoff, on an injectable clock.

`TokenBucket` is golang.org/x/time/rate's limiter as client-go uses it: `burst` tokens, refilled at `qps`
per second; `reserve()` takes a token now and says how long to wait before using it (tokens may go
negative, so waiters queue up fairly). The REST client's QPS limit and the workqueue's overall limit
(10 qps, burst 100) are both token buckets.

`Backoff` is client-go's exponential backoff manager (wait.NewExponentialBackoffManager): each call to
`next()` doubles the delay up to a cap, with jitter, and starts over once nothing failed for
`reset_after` seconds.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable

from kijabi.client.clock import REAL_CLOCK, Clock


class TokenBucket:
    """`qps` tokens per second, at most `burst` saved up. `qps` <= 0 or infinite means no limit."""

    def __init__(self, qps: float, burst: int, *, clock: Clock = REAL_CLOCK) -> None:
        self.qps = qps
        self.burst = max(burst, 1)
        self.clock = clock
        self._tokens = float(self.burst)
        self._last = clock.now()

    @property
    def unlimited(self) -> bool:
        return self.qps <= 0 or math.isinf(self.qps)

    def _refill(self) -> None:
        now = self.clock.now()
        if now > self._last:
            self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
            self._last = now

    def tokens(self) -> float:
        """Tokens available now (negative when callers are queued)."""
        if self.unlimited:
            return float(self.burst)
        self._refill()
        return self._tokens

    def reserve(self) -> float:
        """Take one token; return the seconds to wait before it may be used (0 if at once)."""
        if self.unlimited:
            return 0.0
        self._refill()
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.qps

    def try_accept(self) -> bool:
        """Take a token only if one is available now."""
        if self.unlimited:
            return True
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    async def wait(self) -> None:
        """Block until a token is ours."""
        delay = self.reserve()
        if delay > 0:
            await self.clock.sleep(delay)


class Backoff:
    """Exponential backoff: `initial`, x`factor` per failure, at most `maximum`, plus up to `jitter`x more.

    Defaults are the reflector's (800 ms .. 30 s, reset after 2 min without failures).
    """

    def __init__(
        self,
        initial: float = 0.8,
        maximum: float = 30.0,
        *,
        factor: float = 2.0,
        jitter: float = 1.0,
        reset_after: float = 120.0,
        clock: Clock = REAL_CLOCK,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.initial = initial
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self.reset_after = reset_after
        self.clock = clock
        self.rng = rng
        self._current = 0.0
        self._last: float | None = None

    def reset(self) -> None:
        self._current = 0.0
        self._last = None

    def next(self) -> float:
        """The next delay to wait."""
        now = self.clock.now()
        if self._last is not None and now - self._last > self.reset_after:
            self._current = 0.0
        self._last = now
        self._current = self.initial if self._current == 0 else min(self._current * self.factor, self.maximum)
        delay = self._current
        if self.jitter > 0:
            delay += delay * self.jitter * self.rng()
        return delay

    async def wait(self) -> None:
        await self.clock.sleep(self.next())
