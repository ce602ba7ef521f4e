"""DefaultPreemption: who is eligible, which victims on which node, PDBs, and the API calls made."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.scheduler.framework.interface import CycleState
from kijabi.scheduler.framework.status import Code, FitError
from kijabi.scheduler.plugins.defaultpreemption import DefaultPreemption
from tests.scheduler.helpers import Harness, RecordingClient, node, pod


def _preempt(h: Harness, p: dict[str, Any]) -> tuple[Any, Any]:
    """Run a failing attempt then the PostFilter plugins; (result, status)."""
    state = CycleState()
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, state, p)
    return h.fwk.run_post_filter_plugins(state, p, info.value.diagnosis.node_to_status)


def _plugin(h: Harness) -> DefaultPreemption:
    pl = h.fwk.plugins["DefaultPreemption"]
    assert isinstance(pl, DefaultPreemption)
    return pl


def low(name: str, node_name: str, cpu: str = "1", priority: int = 0, **kw: Any) -> dict[str, Any]:
    return pod(name, cpu=cpu, node_name=node_name, priority=priority, **kw)


async def test_preempts_lowest_priority_node_and_nominates() -> None:
    """The node whose victims have the lowest priority is chosen; victims are marked and deleted."""
    client = RecordingClient()
    existing = [low("v1", "n1", "2", priority=10), low("v2", "n2", "2", priority=5)]
    h = Harness([node("n1", cpu="2"), node("n2", cpu="2")], existing, client=client)
    high = pod("high", cpu="2", priority=100)
    h.pods.put(high)
    result, status = _preempt(h, high)
    assert status.is_success()
    assert result.nominating_info.nominated_node_name == "n2"
    await h.scheduler.wait_for_tasks()
    patches = client.of("patch")
    assert patches[0][0] == "pods/default/v2/status"
    cond = patches[0][1]["status"]["conditions"][0]
    assert (cond["type"], cond["reason"]) == ("DisruptionTarget", "PreemptionByScheduler")
    assert cond["message"] == "default-scheduler: preempting to accommodate a higher priority pod"
    assert client.of("delete") == [("pods/default/v2", None)]
    assert any(e[2] == "Preempted" and e[3].startswith("Preempted by pod ") and e[3].endswith(" on node n2")
               for e in h.recorder.events)


@pytest.mark.parametrize(("existing", "want_node", "want_victims"), [
    pytest.param([low("a", "n1", "1", 1), low("b", "n1", "1", 1), low("c", "n2", "2", 2)], "n1", ["a", "b"],
                 id="lower-highest-priority-wins"),
    pytest.param([low("a", "n1", "1", 3), low("x", "n1", "1", 3), low("b", "n2", "1", 3), low("c", "n2", "1", 1)],
                 "n2", ["b", "c"], id="same-top-priority-smaller-sum-wins"),
    pytest.param([low("a", "n1", "2", 3), low("b", "n2", "1", 3), low("c", "n2", "1", 1)], "n1", ["a"],
                 id="same-top-priority-fewer-pods-sum-smaller"),
    pytest.param([low("a", "n1", "1", 1), low("b", "n1", "1", 1), low("c", "n2", "2", 1)], "n2", ["c"],
                 id="fewer-victims-wins"),
    pytest.param([low("a", "n1", "1", 1), low("keep", "n1", "1", 50)], "n1", ["a"],
                 id="higher-priority-pod-reprieved-when-it-fits"),
])
def test_victim_and_node_selection(existing: list[dict[str, Any]], want_node: str, want_victims: list[str]) -> None:
    nodes = [node("n1", cpu="2"), node("n2", cpu="2")]
    if want_node == "n1" and len(existing) == 2:
        nodes = [node("n1", cpu="3")]
    h = Harness(nodes, existing)
    high = pod("high", cpu="2", priority=100)
    state = CycleState()
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, state, high)
    pl = _plugin(h)
    candidates, _ = pl.find_candidates(state, high, h.scheduler.cache.list(), info.value.diagnosis.node_to_status)
    best = pl.select_candidate(candidates)
    assert best.name == want_node
    assert sorted(v["metadata"]["name"] for v in best.victims) == want_victims


def test_pdb_violations_are_avoided() -> None:
    """A node whose victims would break a PodDisruptionBudget loses to one that would not."""
    pdb = {"metadata": {"name": "pdb", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 0}}
    existing = [low("db", "n1", "2", 1, labels={"app": "db"}), low("web", "n2", "2", 5)]
    h = Harness([node("n1", cpu="2"), node("n2", cpu="2")], existing, objects={"pod_disruption_budgets": [pdb]})
    high = pod("high", cpu="2", priority=100)
    state = CycleState()
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, state, high)
    pl = _plugin(h)
    candidates, _ = pl.find_candidates(state, high, h.scheduler.cache.list(), info.value.diagnosis.node_to_status)
    by_node = {c.name: c.num_pdb_violations for c in candidates}
    assert by_node == {"n1": 1, "n2": 0}
    assert pl.select_candidate(candidates).name == "n2"


def test_preemption_policy_never() -> None:
    h = Harness([node("n1", cpu="1")], [low("v", "n1", "1")])
    _, status = _preempt(h, pod("p", cpu="1", priority=100, preemptionPolicy="Never"))
    assert (status.code, status.message()) == (Code.UNSCHEDULABLE,
                                               "preemption: not eligible due to preemptionPolicy=Never.")


def test_preemption_not_helpful_message() -> None:
    """Unresolvable filter failures (taints) and nodes without lower-priority pods give upstream's text."""
    taint = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    h = Harness([node("n1", cpu="1"), node("n2", cpu="1", taints=taint), node("n3", cpu="1")],
                [low("same", "n1", "1", priority=100), low("v", "n3", "1", priority=200)])
    high = pod("p", cpu="1", priority=100)
    h.pods.put(high)
    state = CycleState()
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, state, high)
    fit = info.value
    _, status = h.fwk.run_post_filter_plugins(state, high, fit.diagnosis.node_to_status)
    fit.diagnosis.post_filter_msg = status.message()
    assert str(fit) == ("0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. "
                        "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
                        "2 No preemption victims found for incoming pod.")


def test_terminating_victim_on_nominated_node_blocks_new_preemption() -> None:
    """While a victim preempted for this pod is terminating, the pod does not preempt again."""
    victim = low("v", "n1", "1", priority=1)
    victim["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    victim["status"]["conditions"] = [{"type": "DisruptionTarget", "status": "True",
                                       "reason": "PreemptionByScheduler"}]
    h = Harness([node("n1", cpu="1"), node("n2", cpu="1")], [victim, low("other", "n2", "1", priority=1)])
    high = pod("p", cpu="1", priority=100)
    high["status"]["nominatedNodeName"] = "n1"
    h.pods.put(high)
    _, status = _preempt(h, high)
    assert status.message() == "preemption: not eligible due to a terminating pod on the nominated node."


def test_nominated_pods_reserve_room() -> None:
    """A pod nominated to a node counts there for pods of lower or equal priority."""
    h = Harness([node("n1", cpu="2"), node("n2", cpu="2")])
    nominated = pod("nom", cpu="2", priority=100)
    nominated["status"]["nominatedNodeName"] = "n1"
    h.pods.put(nominated)
    from kijabi.scheduler.framework.types import PodInfo

    h.scheduler.queue.add_nominated_pod(PodInfo(nominated), None)
    assert h.feasible(pod("low", cpu="1", priority=10)) == ["n2"]
    assert h.feasible(pod("higher", cpu="1", priority=1000)) == ["n1", "n2"]
