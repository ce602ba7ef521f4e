"""Where a pod's start spends its time: per-phase timings of one pod's first start, logged when its first
Running status is acknowledged by the API server.

Enabled by the debug level of the `kijabi.kubelet.startuptrace` logger (bench/pod_startup.py --trace turns
it on in the kubelet it runs); when it is off no trace is recorded and nothing is timed. One line a pod:

    pod bench/bench-007 start trace: seen=1764310000.123456 queue=0.2 fetch=4.1 volumes=0.3 start_gate=0.0 cgroup=1.0
        sandbox=180.2 sandbox_status=2.0 hosts=0.2 image=3.1 config=0.8 create=41.0 start=95.3 refetch=6.0
        publish=0.4 patch_wait=0.1 patch=12.3 total=346.9

`seen` is the wall-clock time (time.time()) the pod's spec reached the kubelet from the API watch; every
other figure is milliseconds. Phases that run more than once (several containers, several passes) add
up; `total` runs from seen to the acknowledgement of the first status PATCH showing the pod Running.

While tracing, `watch_stalls()` (a task of the kubelet) also logs what delays every pod at once:

    event loop stalled 73.2 ms cpu 2.1 ms at 1764310001.5   the loop ran late; `cpu` is what the loop's thread
                                                           ran meanwhile: close to the stall, a callback held
                                                           the loop; far below it, the process waited for a CPU
    gc pause 41.0 ms generation 2 at 1764310001.5          a collection of the cyclic garbage collector
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from typing import Any

log = logging.getLogger(__name__)


class StartTrace:
    """The phases of one pod's start (monotonic clock), from the moment the kubelet saw it."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.seen_wall = time.time()
        self.seen = time.monotonic()
        self.phases: dict[str, float] = {}
        self.published = 0.0      # when the first Running status was handed to the status manager

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)

    def line(self, acked: float) -> str:
        parts = [f"seen={self.seen_wall:.6f}"]
        parts += [f"{name}={seconds * 1000:.1f}" for name, seconds in self.phases.items()]
        parts.append(f"total={(acked - self.seen) * 1000:.1f}")
        return f"pod {self.key} start trace: " + " ".join(parts)


@contextlib.contextmanager
def phase(trace: StartTrace | None, name: str) -> Iterator[None]:
    """Time the block as `name` of `trace` (nothing when there is no trace)."""
    if trace is None:
        yield
        return
    with trace.phase(name):
        yield


def enabled() -> bool:
    return log.isEnabledFor(logging.DEBUG)


def parse(line: str) -> tuple[str, dict[str, float]] | None:
    """(pod key, {phase: value}) of a trace line as `StartTrace.line` writes it (None for other lines)."""
    head, sep, rest = line.partition(" start trace: ")
    if not sep or "pod " not in head:
        return None
    key = head.rsplit("pod ", 1)[1]
    values: dict[str, float] = {}
    for item in rest.split():
        name, eq, value = item.partition("=")
        if eq:
            with contextlib.suppress(ValueError):
                values[name] = float(value)
    return key, values


STALL_PROBE = 0.05       # seconds between probes of the event loop
STALL_THRESHOLD = 0.02   # a probe this much late is a stall
GC_THRESHOLD = 0.005     # a collection this long is logged


async def watch_stalls(*, probe: float = STALL_PROBE, threshold: float = STALL_THRESHOLD,
                       gc_threshold: float = GC_THRESHOLD) -> None:
    """Until cancelled: log event-loop stalls (a probe waking `threshold` late) and long gc pauses."""
    started: list[float] = []

    def on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[:] = [time.perf_counter()]
        elif started:
            took = time.perf_counter() - started[0]
            if took >= gc_threshold:
                log.debug("gc pause %.1f ms generation %d at %.3f", took * 1000, info.get("generation", -1),
                          time.time())

    gc.callbacks.append(on_gc)
    try:
        while True:
            before, cpu = time.monotonic(), time.thread_time()
            await asyncio.sleep(probe)
            late = time.monotonic() - before - probe
            if late >= threshold:
                log.debug("event loop stalled %.1f ms cpu %.1f ms at %.3f", late * 1000,
                          (time.thread_time() - cpu) * 1000, time.time())
    finally:
        gc.callbacks.remove(on_gc)
