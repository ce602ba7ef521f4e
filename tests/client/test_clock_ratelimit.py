"""Fake time, token buckets and exponential backoff: the timing primitives everything else waits on."""

from __future__ import annotations

import asyncio

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.ratelimit import Backoff, TokenBucket


async def test_fake_clock_fires_timers_in_deadline_order_at_their_deadline() -> None:
    """advance() fires due timers in order, each seeing its own deadline as now()."""
    clock = FakeClock(start=0.0)
    seen: list[tuple[str, float]] = []
    clock.call_later(3.0, lambda: seen.append(("c", clock.now())))
    clock.call_later(1.0, lambda: seen.append(("a", clock.now())))
    h = clock.call_later(2.0, lambda: seen.append(("cancelled", clock.now())))
    clock.call_later(2.5, lambda: seen.append(("b", clock.now())))
    h.cancel()
    clock.advance(2.6)
    assert seen == [("a", 1.0), ("b", 2.5)]
    assert clock.now() == pytest.approx(2.6)
    clock.advance(1.0)
    assert seen[-1] == ("c", 3.0)
    assert clock.pending() == 0


async def test_fake_clock_sleep_wakes_only_when_advanced() -> None:
    clock = FakeClock()
    task = asyncio.create_task(clock.sleep(5.0))
    await clock.wait_for_timers(1)
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert not task.done()
    clock.advance(0.1)
    await task
    assert clock.pending() == 0


async def test_fake_clock_wall_time_moves_with_monotonic_time() -> None:
    clock = FakeClock(start=10.0, wall=1_000_000.0)
    clock.advance(2.5)
    assert clock.time() == pytest.approx(1_000_002.5)


async def test_token_bucket_allows_burst_then_spaces_by_qps() -> None:
    """A bucket of burst 3 at 2 qps: three tokens at once, then one every 0.5 s (waits queue up)."""
    clock = FakeClock()
    bucket = TokenBucket(2.0, 3, clock=clock)
    assert [bucket.reserve() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.5)
    assert bucket.reserve() == pytest.approx(1.0)
    clock.advance(1.0)
    assert bucket.reserve() == pytest.approx(0.5)
    assert not bucket.try_accept()


async def test_token_bucket_refills_up_to_burst_only() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10.0, 5, clock=clock)
    for _ in range(5):
        assert bucket.try_accept()
    assert not bucket.try_accept()
    clock.advance(100.0)
    assert bucket.tokens() == pytest.approx(5.0)


@pytest.mark.parametrize("qps", [0.0, -1.0, float("inf")], ids=["zero", "negative", "infinite"])
async def test_token_bucket_without_limit_never_waits(qps: float) -> None:
    bucket = TokenBucket(qps, 1, clock=FakeClock())
    assert all(bucket.reserve() == 0.0 for _ in range(1000))


async def test_token_bucket_wait_blocks_on_the_clock() -> None:
    clock = FakeClock()
    bucket = TokenBucket(1.0, 1, clock=clock)
    await bucket.wait()
    waiter = asyncio.create_task(bucket.wait())
    await clock.wait_for_timers(1)
    assert not waiter.done()
    clock.advance(1.0)
    await waiter


async def test_backoff_doubles_up_to_cap_and_resets_after_quiet_period() -> None:
    clock = FakeClock()
    b = Backoff(0.8, 30.0, jitter=0.0, reset_after=120.0, clock=clock)
    delays = [b.next() for _ in range(8)]
    assert delays == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    clock.advance(121.0)
    assert b.next() == 0.8


async def test_backoff_jitter_adds_up_to_jitter_times_delay() -> None:
    b = Backoff(1.0, 10.0, jitter=1.0, clock=FakeClock(), rng=lambda: 0.5)
    assert b.next() == pytest.approx(1.5)
    assert b.next() == pytest.approx(3.0)
