"""Pod start traces (kijabi.kubelet.startuptrace): the trace line format the benchmark reads back, phase
timing, the event-loop stall and gc pause watcher, and the status manager's write acknowledgement hook
the kubelet closes a trace with."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

import pytest

from kijabi.kubelet import startuptrace
from kijabi.kubelet.statusmanager import PodRef, StatusManager

LOGGER = "kijabi.kubelet.startuptrace"


@pytest.mark.parametrize(("phases", "want"), [
    pytest.param({}, {}, id="no-phase"),
    pytest.param({"sandbox": 0.25}, {"sandbox": 250.0}, id="one-phase"),
    pytest.param({"sandbox": 0.2, "create": 0.04, "start": 0.1}, {"sandbox": 200.0, "create": 40.0, "start": 100.0},
                 id="several-phases"),
])
def test_trace_line_round_trips_through_parse(phases: dict[str, float], want: dict[str, float]) -> None:
    """A trace line names the pod and carries the wall-clock time it was seen and every phase in ms."""
    trace = startuptrace.StartTrace("bench/bench-007")
    for name, seconds in phases.items():
        trace.add(name, seconds)
    parsed = startuptrace.parse("2026-01-01 00:00:00,000 DEBUG x: " + trace.line(trace.seen + 0.5))
    assert parsed is not None
    key, values = parsed
    assert key == "bench/bench-007"
    assert values.pop("seen") == pytest.approx(trace.seen_wall, abs=1e-5)
    assert values.pop("total") == pytest.approx(500.0, abs=0.1)
    assert values == pytest.approx(want, abs=0.1)


@pytest.mark.parametrize("line", [
    pytest.param("", id="empty"),
    pytest.param("2026-01-01 INFO kijabi.kubelet: pod a/b cleaned up", id="other-log-line"),
    pytest.param("event loop stalled 20.0 ms cpu 1.0 ms at 1.0", id="stall-line"),
])
def test_parse_ignores_other_lines(line: str) -> None:
    assert startuptrace.parse(line) is None


def test_phases_add_up_and_no_trace_times_nothing() -> None:
    """A phase that runs twice (two containers) adds up; without a trace the block just runs."""
    trace = startuptrace.StartTrace("ns/p")
    for _ in range(2):
        with startuptrace.phase(trace, "create"):
            pass
    trace.add("create", 0.01)
    assert set(trace.phases) == {"create"} and trace.phases["create"] >= 0.01
    ran = []
    with startuptrace.phase(None, "create"):
        ran.append(True)
    assert ran == [True]


def test_tracing_follows_the_logger_level(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    assert not startuptrace.enabled()
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    assert startuptrace.enabled()


async def test_stall_watcher_reports_a_blocked_loop_and_gc_pauses(caplog: pytest.LogCaptureFixture) -> None:
    """Blocking the loop for 80 ms is logged as a stall with the loop thread's CPU time; a collection longer
    than the threshold (0 here) is logged as a gc pause."""
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    task = asyncio.create_task(startuptrace.watch_stalls(probe=0.01, threshold=0.03, gc_threshold=0.0))
    await asyncio.sleep(0.02)
    deadline = time.monotonic() + 0.08
    while time.monotonic() < deadline:   # a callback that holds the loop, on the CPU
        pass
    gc.collect()
    await asyncio.sleep(0.03)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stalls = [r.getMessage() for r in caplog.records if "event loop stalled" in r.getMessage()]
    assert stalls, caplog.text
    ms, cpu = float(stalls[0].split()[3]), float(stalls[0].split()[6])
    assert ms >= 30 and cpu >= 30
    assert any("gc pause" in r.getMessage() and "generation 2" in r.getMessage() for r in caplog.records)
    assert all(cb.__name__ != "on_gc" for cb in gc.callbacks)


class FakeClient:
    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    async def patch(self, resource: Any, name: str, body: dict[str, Any], **kw: Any) -> dict[str, Any]:
        self.patches.append((name, body))
        await asyncio.sleep(0)
        return body


async def test_status_manager_reports_each_acknowledged_write() -> None:
    """on_written gets (pod key, the status written, sent, acknowledged) once the PATCH returned."""
    written: list[tuple[str, dict[str, Any], float, float]] = []
    client = FakeClient()
    sm = StatusManager(client, on_written=lambda *args: written.append(args))  # type: ignore[arg-type]
    before = time.monotonic()
    sm.set("u1", PodRef("ns", "p", "u1"), {"phase": "Running"})
    await sm.wait("u1")
    assert [name for name, _ in client.patches] == ["p"]
    assert len(written) == 1
    key, status, sent, acked = written[0]
    assert key == "u1" and status == {"phase": "Running"}
    assert before <= sent <= acked <= time.monotonic()
