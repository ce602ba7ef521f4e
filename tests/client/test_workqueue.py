"""Work queues: dedupe, one worker per key, delays, rate limiters, shutdown (client-go semantics)."""

from __future__ import annotations

import asyncio

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.workqueue import (
    BucketRateLimiter,
    DelayingQueue,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    Queue,
    RateLimitingQueue,
    ShutDown,
    default_controller_rate_limiter,
)
from tests.client.helpers import until


async def test_adding_a_queued_item_again_is_a_no_op() -> None:
    q: Queue[str] = Queue()
    for key in ["a", "b", "a", "c", "b"]:
        q.add(key)
    assert len(q) == 3
    assert [await q.get() for _ in range(3)] == ["a", "b", "c"]


async def test_item_being_processed_is_not_handed_out_again_until_done() -> None:
    """Added while processing, the item waits (dirty) and is queued again by done()."""
    q: Queue[str] = Queue()
    q.add("a")
    item = await q.get()
    q.add("a")
    assert len(q) == 0 and q.is_dirty("a") and q.is_processing("a")
    q.add("a")  # still one pending re-add
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert len(q) == 0


async def test_done_without_re_add_does_not_requeue_and_double_done_is_harmless() -> None:
    q: Queue[str] = Queue()
    q.add("a")
    item = await q.get()
    q.done(item)
    q.done(item)
    assert len(q) == 0


async def test_two_workers_never_hold_the_same_key() -> None:
    """Many adds of few keys with concurrent workers: at no time is a key processed twice at once."""
    q: Queue[str] = Queue()
    active: set[str] = set()
    violations: list[str] = []
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await q.get()
            except ShutDown:
                return
            if key in active:
                violations.append(key)
            active.add(key)
            await asyncio.sleep(0)
            if len(processed) < 50:
                q.add(key)  # re-added while processing: must wait until done()
            await asyncio.sleep(0)
            active.discard(key)
            processed.append(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for i in range(20):
        q.add(f"k{i % 3}")
    await until(lambda: len(processed) >= 50 and len(q) == 0 and not any(q.is_processing(f"k{i}") for i in range(3)))
    q.shutdown()
    await asyncio.gather(*workers)
    assert violations == []


async def test_get_waits_for_an_item() -> None:
    q: Queue[str] = Queue()
    getter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.add("x")
    assert await getter == "x"


async def test_shutdown_wakes_waiting_getters_and_refuses_new_items() -> None:
    q: Queue[str] = Queue()
    getters = [asyncio.create_task(q.get()) for _ in range(3)]
    await asyncio.sleep(0)
    q.shutdown()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, ShutDown) for r in results)
    q.add("late")
    assert len(q) == 0


async def test_shutdown_hands_out_remaining_items_first() -> None:
    q: Queue[str] = Queue()
    q.add("a")
    q.shutdown()
    assert await q.get() == "a"
    with pytest.raises(ShutDown):
        await q.get()


async def test_shutdown_with_drain_waits_for_items_in_flight() -> None:
    q: Queue[str] = Queue()
    q.add("a")
    item = await q.get()
    drain = asyncio.create_task(q.shutdown_with_drain())
    await asyncio.sleep(0)
    assert not drain.done()
    q.done(item)
    await drain


async def test_cancelled_getter_passes_its_wake_up_on() -> None:
    q: Queue[str] = Queue()
    first = asyncio.create_task(q.get())
    second = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("x")
    first.cancel()
    assert await second == "x"


async def test_add_after_adds_when_the_delay_passes() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", 5.0)
    q.add_after("b", 0)
    assert len(q) == 1 and q.waiting() == 1
    clock.advance(4.9)
    assert len(q) == 1
    clock.advance(0.1)
    assert len(q) == 2
    assert [await q.get(), await q.get()] == ["b", "a"]


@pytest.mark.parametrize(("first", "second", "fires_at"), [(5.0, 2.0, 2.0), (2.0, 5.0, 2.0)],
                         ids=["later-then-earlier", "earlier-then-later"])
async def test_add_after_keeps_the_earliest_time(first: float, second: float, fires_at: float) -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", first)
    q.add_after("a", second)
    clock.advance(fires_at - 0.01)
    assert len(q) == 0
    clock.advance(0.01)
    assert len(q) == 1
    clock.advance(10)
    assert len(q) == 1


async def test_shutdown_drops_delayed_items() -> None:
    clock = FakeClock()
    q: DelayingQueue[str] = DelayingQueue(clock=clock)
    q.add_after("a", 1.0)
    q.shutdown()
    clock.advance(2.0)
    assert len(q) == 0


def test_exponential_limiter_doubles_from_5ms_to_1000s_per_item() -> None:
    lim: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter()
    delays = [lim.when("a") for _ in range(20)]
    assert delays[:4] == [0.005, 0.01, 0.02, 0.04]
    assert delays[-1] == 1000.0
    assert lim.when("b") == 0.005
    assert lim.num_requeues("a") == 20
    lim.forget("a")
    assert lim.num_requeues("a") == 0 and lim.when("a") == 0.005


def test_exponential_limiter_survives_huge_failure_counts() -> None:
    lim: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(0.005, 1000.0)
    for _ in range(2000):
        last = lim.when("a")
    assert last == 1000.0


def test_fast_slow_limiter() -> None:
    lim: ItemFastSlowRateLimiter[str] = ItemFastSlowRateLimiter(0.1, 10.0, 2)
    assert [lim.when("a") for _ in range(4)] == [0.1, 0.1, 10.0, 10.0]


def test_bucket_limiter_is_10_qps_burst_100_across_items() -> None:
    clock = FakeClock()
    lim: BucketRateLimiter[str] = BucketRateLimiter(clock=clock)
    delays = [lim.when(f"k{i}") for i in range(102)]
    assert delays[:100] == [0.0] * 100
    assert delays[100] == pytest.approx(0.1) and delays[101] == pytest.approx(0.2)


def test_default_controller_limiter_takes_the_larger_delay() -> None:
    """Per-item backoff dominates for one failing key; the bucket dominates for a storm of keys."""
    clock = FakeClock()
    lim: MaxOfRateLimiter[str] = default_controller_rate_limiter(clock)
    assert lim.when("a") == 0.005
    assert lim.when("a") == 0.01
    for i in range(200):
        lim.when(f"storm{i}")
    assert lim.when("fresh") > 1.0
    assert lim.num_requeues("a") == 2


async def test_rate_limited_queue_requeues_with_backoff_and_forget_resets() -> None:
    clock = FakeClock()
    q: RateLimitingQueue[str] = RateLimitingQueue(ItemExponentialFailureRateLimiter(1.0, 100.0), clock=clock)
    q.add_rate_limited("a")
    assert q.num_requeues("a") == 1 and len(q) == 0
    clock.advance(1.0)
    assert len(q) == 1
    q.add_rate_limited("b")
    q.add_rate_limited("b")  # second failure: 2 s, but the pending 1 s add wins
    clock.advance(1.0)
    assert len(q) == 2
    q.forget("b")
    assert q.num_requeues("b") == 0
