"""Framework runtime mechanics with small test plugins: Skip, PreFilter results, error wrapping, the
partial node search, Permit waits, and FitError messages."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from kijabi.scheduler.framework.interface import CycleState, PreFilterResult
from kijabi.scheduler.framework.status import Code, Diagnosis, FitError, NodeToStatus, Status
from kijabi.scheduler.framework.types import NodeInfo
from kijabi.scheduler.scheduler import num_feasible_nodes_to_find
from tests.scheduler.helpers import Harness, RecordingClient, node, pod

V1 = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


class Recorder:
    """A filter plugin that records the nodes it saw and refuses those listed."""

    def __init__(self, name: str, refuse: dict[str, Status] | None = None, pre: Any = None) -> None:
        self.name = name
        self.refuse = refuse or {}
        self.pre = pre
        self.seen: list[str] = []

    def pre_filter(self, state: CycleState, p: dict[str, Any],
                   nodes: Sequence[NodeInfo]) -> tuple[PreFilterResult | None, Status | None]:
        return self.pre if isinstance(self.pre, tuple) else (self.pre, None)

    def pre_filter_extensions(self) -> None:
        return None

    def filter(self, state: CycleState, p: dict[str, Any], ni: NodeInfo) -> Status | None:
        self.seen.append(ni.name)
        return self.refuse.get(ni.name)


def harness_with(plugins: list[Any], nodes: int = 3, **profile: Any) -> Harness:
    registry = {pl.name: (lambda args, h, pl=pl: pl) for pl in plugins}
    prof = {"plugins": {"multiPoint": {"enabled": [{"name": pl.name} for pl in plugins]}}, **profile}
    return Harness([node(f"n{i}") for i in range(1, nodes + 1)], config={**V1, "profiles": [prof]},
                   registry=registry)


def test_skip_at_pre_filter_skips_filter() -> None:
    skipper = Recorder("Skipper", {"n1": Status(Code.UNSCHEDULABLE, "never")}, pre=(None, Status(Code.SKIP)))
    h = harness_with([skipper])
    assert h.schedule(pod("p")) in ("n1", "n2", "n3")
    assert skipper.seen == []


def test_pre_filter_results_intersect() -> None:
    a = Recorder("A", pre=PreFilterResult({"n1", "n2"}))
    b = Recorder("B", pre=PreFilterResult({"n2", "n3"}))
    h = harness_with([a, b])
    assert h.schedule(pod("p")) == "n2"
    c = Recorder("C", pre=PreFilterResult({"n3"}))
    h = harness_with([a, c])
    assert h.schedule(pod("p")) == "0/3 nodes are available: node(s) didn't satisfy plugin(s) [A C] simultaneously."


def test_filter_stops_at_first_rejection() -> None:
    first = Recorder("First", {"n1": Status(Code.UNSCHEDULABLE, "first says no")})
    second = Recorder("Second", {"n1": Status(Code.UNSCHEDULABLE, "second says no")})
    h = harness_with([first, second])
    st = h.filter(pod("p"), "n1")
    assert (st.plugin, st.reasons) == ("First", ["first says no"])
    assert "n1" not in second.seen


def test_filter_error_is_wrapped_and_aborts() -> None:
    broken = Recorder("Broken", {"n2": Status(Code.ERROR, "boom")})
    h = harness_with([broken])
    st = h.filter(pod("p"), "n2")
    assert (st.code, st.reasons) == (Code.ERROR, ['running "Broken" filter plugin: boom'])


def test_unschedulable_plugins_are_recorded() -> None:
    """The plugins that rejected a pod are what the queue consults for requeueing."""
    a = Recorder("A", {f"n{i}": Status(Code.UNSCHEDULABLE, "a") for i in range(1, 4)})
    h = harness_with([a])
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, CycleState(), pod("p"))
    assert info.value.diagnosis.unschedulable_plugins == {"A"}


@pytest.mark.parametrize(("percentage", "nodes", "want"), [
    (None, 50, 50), (None, 100, 100), (None, 1000, 420), (None, 5000, 500), (None, 6000, 300), (None, 20000, 1000),
    (10, 5000, 500), (1, 500, 100), (100, 300, 300),
])
def test_num_feasible_nodes_to_find(percentage: int | None, nodes: int, want: int) -> None:
    """All nodes below 100; adaptive 50% - nodes/125 (at least 5%); never fewer than 100."""
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def test_partial_search_rotates_start_node() -> None:
    """With percentageOfNodesToScore, each attempt starts where the last one stopped."""
    counter = Recorder("Counter")
    h = harness_with([counter], nodes=200, percentageOfNodesToScore=50)
    h.schedule(pod("p1"))
    assert len(counter.seen) == 100
    first = list(counter.seen)
    counter.seen.clear()
    h.schedule(pod("p2"))
    assert len(counter.seen) == 100 and not set(first) & set(counter.seen)


def test_fit_error_message_sorts_reason_counts() -> None:
    statuses = NodeToStatus({"n1": Status(Code.UNSCHEDULABLE, "Insufficient cpu"),
                             "n2": Status(Code.UNSCHEDULABLE, "Insufficient cpu", "Insufficient memory"),
                             "n3": Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) had untolerated taint {a: b}")})
    fit = FitError({}, 12, Diagnosis(node_to_status=statuses))
    fit.diagnosis.node_to_status.absent = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, "node(s) didn't satisfy plugin(s) [X]")
    assert str(fit) == ("0/12 nodes are available: 1 Insufficient memory, 1 node(s) had untolerated taint {a: b}, "
                        "2 Insufficient cpu, 9 node(s) didn't satisfy plugin(s) [X].")


class Gate:
    """A permit plugin that asks to wait; the test allows or rejects the waiting pod."""

    name = "Gate"

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = timeout

    def permit(self, state: CycleState, p: dict[str, Any], node_name: str) -> tuple[Status | None, float]:
        return Status(Code.WAIT), self.timeout


def _permit_harness(gate: Gate) -> tuple[Harness, RecordingClient]:
    client = RecordingClient()
    registry = {"Gate": lambda args, h: gate}
    cfg = {**V1, "profiles": [{"plugins": {"permit": {"enabled": [{"name": "Gate"}]}}}]}
    h = Harness([node("n1")], config=cfg, client=client, registry=registry)
    return h, client


async def _run_one(h: Harness, p: dict[str, Any]) -> None:
    h.add_pod(p)
    q = h.scheduler.queue.pop_nowait()
    assert q is not None
    h.scheduler.schedule_one(q)


async def test_permit_wait_then_allow_binds() -> None:
    h, client = _permit_harness(Gate())
    p = pod("p")
    await _run_one(h, p)
    waiting = h.fwk.get_waiting_pod(p["metadata"]["uid"])
    assert waiting is not None and client.of("bind") == []
    waiting.allow("Gate")
    await h.scheduler.wait_for_tasks()
    assert client.of("bind") == [("default/p", "n1")]


async def test_permit_timeout_rejects_and_requeues() -> None:
    h, client = _permit_harness(Gate(timeout=5))
    p = pod("p")
    await _run_one(h, p)
    await asyncio.sleep(0)
    h.clock.advance(5)
    await h.scheduler.wait_for_tasks()
    assert client.of("bind") == []
    assert not h.scheduler.cache.is_assumed_pod(p)
    failed = [e for e in h.recorder.events if e[2] == "FailedScheduling"]
    assert failed[-1][3] == "0/1 nodes are available: 1 rejected due to timeout after waiting 5s at plugin Gate."
    assert h.scheduler.queue.pending_counts()["unschedulable"] == 1
