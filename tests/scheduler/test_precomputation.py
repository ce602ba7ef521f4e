"""The scheduler's precomputations give the answers a from-scratch computation gives.

InterPodAffinity keeps its PreFilter/PreScore sums (existing pods' anti-affinity, the incoming pod's
affinity and anti-affinity counts, topology scores) across attempts and recounts only the nodes the
cache says changed; DefaultPreemption skips the dry run of nodes where the pod cannot fit even with
every lower-priority pod gone. Each test changes the cluster between attempts and compares with a
fresh scheduler that never saw the earlier state.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from kijabi.scheduler.framework.interface import MODE_OVERRIDE, CycleState, NominatingInfo
from kijabi.scheduler.framework.status import FitError
from kijabi.scheduler.framework.types import NodeInfo, PodInfo
from kijabi.scheduler.plugins.defaultpreemption import DefaultPreemption, _sort_important
from tests.scheduler.helpers import Harness, node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def nodes() -> list[dict[str, Any]]:
    return [node("a1", zone="a"), node("a2", zone="a"), node("b1", zone="b"), node("b2", zone="b")]


def term(labels: dict[str, str], key: str) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key}


def required(kind: str, labels: dict[str, str], key: str) -> dict[str, Any]:
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": [term(labels, key)]}}


def preferred(kind: str, weight: int, labels: dict[str, str], key: str) -> dict[str, Any]:
    return {kind: {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": weight, "podAffinityTerm": term(labels, key)}]}}


def fresh(h: Harness) -> Harness:
    """A new scheduler holding the same nodes and assigned pods as `h`."""
    c = h.scheduler.cache
    node_objs = [ni.node for ni in c.list() if ni.node is not None]
    pods = [ni_pod.pod for ni in c.list() for ni_pod in ni.pods]
    return Harness(node_objs, pods)


INCOMING = {
    "anti-host": pod("in", labels={"app": "web"}, affinity=required("podAntiAffinity", {"app": "web"}, HOST)),
    "anti-zone": pod("in", labels={"app": "web"}, affinity=required("podAntiAffinity", {"app": "db"}, ZONE)),
    "affinity-zone": pod("in", labels={"app": "web"}, affinity=required("podAffinity", {"app": "db"}, ZONE)),
    "self-affinity": pod("in", labels={"app": "web"}, affinity=required("podAffinity", {"app": "web"}, ZONE)),
    "plain-web": pod("in", labels={"app": "web"}),
    "preferred": pod("in", labels={"app": "api"}, affinity={
        **preferred("podAffinity", 7, {"app": "db"}, ZONE), **preferred("podAntiAffinity", 3, {"app": "web"}, HOST)}),
}

EXISTING: list[tuple[dict[str, str], dict[str, Any] | None]] = [
    ({"app": "web"}, None),
    ({"app": "db"}, None),
    ({"app": "web"}, required("podAntiAffinity", {"app": "web"}, HOST)),
    ({"app": "guard"}, required("podAntiAffinity", {"app": "api"}, ZONE)),
    ({"app": "db"}, required("podAffinity", {"app": "api"}, ZONE)),
    ({"app": "x"}, preferred("podAffinity", 5, {"app": "web"}, ZONE)),
]


@pytest.mark.parametrize("incoming", list(INCOMING), ids=list(INCOMING))
def test_incremental_sums_match_a_fresh_scheduler(incoming: str) -> None:
    """After every change (pod added, pod removed, node relabelled) the same pod gets the same
    feasible nodes and scores as on a scheduler built from scratch with the resulting cluster."""
    rng = random.Random(incoming)
    h = Harness(nodes())
    p = INCOMING[incoming]
    placed: list[dict[str, Any]] = []
    for step in range(24):
        action = rng.random()
        if action < 0.6 or not placed:
            labels, aff = rng.choice(EXISTING)
            extra: dict[str, Any] = {"affinity": aff} if aff else {}
            e = pod(f"e{step}", labels=dict(labels), node_name=rng.choice(["a1", "a2", "b1", "b2"]), **extra)
            h.add_pod(e)
            placed.append(e)
        elif action < 0.9:
            e = placed.pop(rng.randrange(len(placed)))
            h.scheduler.on_assigned_pod_delete(e)
        else:
            old = h.scheduler.cache.get("b2")
            assert old is not None and old.node is not None
            new = {**old.node, "metadata": {**old.node["metadata"], "labels": {
                HOST: "b2", ZONE: rng.choice(["a", "b"])}}}
            h.scheduler.on_node_update(old.node, new)
        ref = fresh(h)
        assert h.feasible(p) == ref.feasible(p), f"step {step}"
        if h.feasible(p):
            assert h.scores(p, "InterPodAffinity") == ref.scores(p, "InterPodAffinity"), f"step {step}"


def test_existing_anti_affinity_still_filters_with_cached_counts() -> None:
    """The counts of existing pods' anti-affinity are reused between attempts, yet follow the pods."""
    guard = pod("guard", labels={"app": "guard"}, node_name="a1",
                affinity=required("podAntiAffinity", {"app": "web"}, HOST))
    h = Harness(nodes(), [guard])
    web = pod("web", labels={"app": "web"})
    assert h.feasible(web) == ["a2", "b1", "b2"]
    assert h.feasible(web) == ["a2", "b1", "b2"]  # second attempt: from the cached counts
    guard2 = pod("guard2", labels={"app": "guard"}, node_name="b2",
                 affinity=required("podAntiAffinity", {"app": "web"}, HOST))
    h.add_pod(guard2)
    assert h.feasible(web) == ["a2", "b1"]
    h.scheduler.on_assigned_pod_delete(guard)
    assert h.feasible(web) == ["a1", "a2", "b1"]


def test_incoming_anti_affinity_counts_follow_bound_pods() -> None:
    """Pods of one anti-affine group, scheduled one after another, never share a host."""
    h = Harness(nodes())
    hosts = []
    for i in range(4):
        p = pod(f"w{i}", labels={"app": "web"}, affinity=required("podAntiAffinity", {"app": "web"}, HOST))
        host = h.schedule(p)
        hosts.append(host)
        h.add_pod({**p, "spec": {**p["spec"], "nodeName": host}})
    assert sorted(hosts) == ["a1", "a2", "b1", "b2"]
    last = pod("w4", labels={"app": "web"}, affinity=required("podAntiAffinity", {"app": "web"}, HOST))
    assert h.schedule(last).startswith("0/4 nodes are available: 4 node(s) didn't match pod anti-affinity rules")


def test_node_info_without_matches_removing_one_by_one() -> None:
    ni = NodeInfo(node("n", cpu="4"))
    pis = [ni.add_pod(pod(f"p{i}", cpu="1", node_name="n", ports=None,
                          affinity=required("podAntiAffinity", {"a": "b"}, HOST) if i % 2 else None))
           for i in range(4)]
    reduced = ni.without(pis[1:3])
    manual = ni.clone()
    for pi in pis[1:3]:
        manual.remove_pod(pi.pod)
    assert [p.uid for p in reduced.pods] == [p.uid for p in pis if p not in pis[1:3]]
    assert reduced.requested == manual.requested
    assert reduced.non_zero_requested == manual.non_zero_requested
    assert [p.uid for p in reduced.pods_with_required_anti_affinity] == [pis[3].uid]
    assert [p.uid for p in ni.pods] == [p.uid for p in pis]  # the original is untouched


def test_victims_sorted_by_priority_then_start_time() -> None:
    def p(name: str, prio: int, start: str | None) -> dict[str, Any]:
        out = pod(name, priority=prio)
        if start:
            out["status"]["startTime"] = start
        return out

    pods = [p("late-low", 1, "2026-01-01T00:00:10Z"), p("early-high", 5, "2026-01-01T00:00:05Z"),
            p("early-low", 1, "2026-01-01T00:00:01Z"), p("late-high", 5, "2026-01-01T00:00:09Z"),
            p("unstarted-low", 1, None)]
    order = _sort_important([PodInfo(x) for x in pods], lambda pi: pi.pod, now=1e12)
    assert [pi.name for pi in order] == ["early-high", "late-high", "early-low", "late-low", "unstarted-low"]


def _preempt(h: Harness, p: dict[str, Any]) -> tuple[Any, Any]:
    state = CycleState()
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, state, p)
    return h.fwk.run_post_filter_plugins(state, p, info.value.diagnosis.node_to_status)


@pytest.mark.parametrize(("existing", "nominated", "dry_runs"), [
    pytest.param([("a1", "3", 0), ("a2", "3", 0), ("b1", "1", 0), ("b1", "2", 0)], [], 3, id="every-node-possible"),
    pytest.param([("a1", "3", 100), ("a2", "3", 0), ("b1", "3", 100), ("b2", "2", 100), ("b2", "1", 0)], [], 3,
                 id="higher-priority-pods-make-the-others-hopeless"),
    pytest.param([("a1", "1", 0), ("a1", "1", 0), ("a1", "1", 0), ("a2", "1", 10), ("a2", "2", 0), ("b1", "2", 0),
                  ("b1", "2", 100)], [], 2, id="mixed-priorities"),
    pytest.param([("a1", "3", 0), ("a2", "3", 0), ("b1", "3", 0)], [("a1", "2", 60), ("b1", "1", 10)], 2,
                 id="higher-priority-nominated-pods-make-a-node-hopeless"),
])
async def test_preemption_skips_hopeless_nodes_but_picks_the_same(
        monkeypatch: pytest.MonkeyPatch, existing: list[tuple[str, str, int]],
        nominated: list[tuple[str, str, int]], dry_runs: int) -> None:
    """Skipping the dry run where the pod cannot fit anyway changes neither the node nor the victims."""
    def run() -> tuple[str, list[str], int]:
        pods = [pod(f"e{i}", cpu=cpu, node_name=n, priority=prio) for i, (n, cpu, prio) in enumerate(existing)]
        h = Harness([node(n, cpu="4") for n in sorted({n for n, _, _ in existing})], pods)
        for i, (n, cpu, prio) in enumerate(nominated):
            waiting = pod(f"nom{i}", cpu=cpu, priority=prio)
            h.pods.put(waiting)
            h.scheduler.queue.add_nominated_pod(PodInfo(waiting), NominatingInfo(n, MODE_OVERRIDE))
        chosen: list[Any] = []
        plugin = h.fwk.plugins["DefaultPreemption"]
        monkeypatch.setattr(plugin, "prepare_candidate", lambda c, p: chosen.append(c))
        calls = 0
        select, on_sums = plugin.select_victims_on_node, plugin._select_victims_on_sums

        def counting(*args: Any) -> Any:
            nonlocal calls
            calls += 1
            return select(*args)

        def counting_on_sums(*args: Any) -> Any:
            nonlocal calls
            found = on_sums(*args)
            calls += found is not None  # None: the plain dry run follows (and counts)
            return found

        monkeypatch.setattr(plugin, "select_victims_on_node", counting)
        monkeypatch.setattr(plugin, "_select_victims_on_sums", counting_on_sums)
        high = pod("high", cpu="3", priority=50)
        h.pods.put(high)
        result, status = _preempt(h, high)
        assert status.is_success()
        assert result.nominating_info.nominated_node_name == chosen[0].name
        return chosen[0].name, sorted(v["metadata"]["name"] for v in chosen[0].victims), calls

    with_skip = run()
    monkeypatch.setattr(DefaultPreemption, "_cannot_fit", lambda *a: False)
    without_skip = run()
    assert with_skip[:2] == without_skip[:2]
    assert with_skip[2] == dry_runs
    assert without_skip[2] == len({n for n, _, _ in existing})
    assert with_skip[0] != "a1" or not nominated


async def test_preemption_failure_still_explains_every_node(monkeypatch: pytest.MonkeyPatch) -> None:
    """When no node can be freed, the message gives each node's reason from a full dry run."""
    def run() -> str:
        pods = [pod("hi", cpu="3", node_name="a1", priority=100), pod("lo", cpu="1", node_name="a2", priority=0),
                pod("lo2", cpu="1", node_name="b1", priority=0), pod("hi2", cpu="2", node_name="b1", priority=99)]
        h = Harness([node("a1", cpu="4"), node("a2", cpu="2"), node("b1", cpu="4")], pods)
        high = pod("high", cpu="3", priority=50)
        h.pods.put(high)
        result, status = _preempt(h, high)
        assert result is None or result.nominating_info is None
        return str(status.message())

    message = run()
    assert message == ("preemption: 0/3 nodes are available: 1 No preemption victims found for incoming pod, "
                       "2 Insufficient cpu.")
    monkeypatch.setattr(DefaultPreemption, "_cannot_fit", lambda *a: False)
    assert run() == message


# (node, cpu, priority, labels) of the pods on the nodes; the preemptor asks for 3 cpu at priority 50.
_SUMS_CASES = {
    "one-victim-enough": [("n", "2", 0, {}), ("n", "1", 0, {}), ("n", "1", 10, {})],
    "higher-priority-pods-stay": [("n", "1", 100, {}), ("n", "2", 0, {}), ("n", "1", 0, {})],
    "pdb-protected-pod-goes-last": [("n", "1", 0, {"app": "db"}), ("n", "1", 0, {}), ("n", "1", 0, {}),
                                    ("n", "1", 0, {})],
    "pod-count": [("n", "100m", 0, {})] * 4,
    "everything-goes": [("n", "2", 0, {}), ("n", "2", 5, {})],
    "big-one-goes-small-one-stays": [("n", "2", 10, {}), ("n", "1", 0, {})],
    "cannot-fit-at-all": [("n", "2", 100, {}), ("n", "1", 0, {})],
}


@pytest.mark.parametrize("case", list(_SUMS_CASES))
@pytest.mark.parametrize("nominated_cpu", [None, "500m"], ids=["no-nominated", "nominated"])
def test_dry_run_on_sums_matches_the_dry_run_on_a_copy(case: str, nominated_cpu: str | None) -> None:
    """Victims and PDB violations worked out on sums are those of the dry run on a copy of the node."""
    pdb = {"metadata": {"name": "pdb", "namespace": "default"}, "spec": {"selector": {"matchLabels": {"app": "db"}}},
           "status": {"disruptionsAllowed": 0}}
    existing = [pod(f"e{i}", cpu=cpu, node_name=n, priority=prio, labels=labels)
                for i, (n, cpu, prio, labels) in enumerate(_SUMS_CASES[case])]
    h = Harness([node("n", cpu="4", pods=4)], existing, objects={"pod_disruption_budgets": [pdb]})
    if nominated_cpu is not None:
        waiting = pod("nom", cpu=nominated_cpu, priority=60)
        h.pods.put(waiting)
        h.scheduler.queue.add_nominated_pod(PodInfo(waiting), NominatingInfo("n", MODE_OVERRIDE))
    high = pod("high", cpu="3", priority=50)
    state, _ = h.pre_filter(high)
    plugin = h.fwk.plugins["DefaultPreemption"]
    request = plugin._dry_run_on_sums(state)
    assert request is not None
    ni = h.scheduler.cache.get("n")
    assert ni is not None
    lower = [pi for pi in ni.pods if pi.priority < 50]
    nominated = [pi for pi in h.fwk.nominated_pods_for_node("n") if pi.priority >= 50]
    pdbs = [pdb]
    on_sums = plugin._select_victims_on_sums(state, high, ni, lower, nominated, pdbs, request)
    victims, violations, status = plugin.select_victims_on_node(state, high, ni.without(lower), pdbs, lower)
    if on_sums is None:  # the pod cannot fit at all: the plain dry run says why
        assert not status.is_success()
        return
    assert status.is_success() and on_sums[2] is not None and on_sums[2].is_success()
    assert ([v["metadata"]["name"] for v in on_sums[0]], on_sums[1]) == \
        ([v["metadata"]["name"] for v in victims], violations)


def test_dry_run_on_sums_only_when_no_other_filter_looks_at_pods() -> None:
    """Host ports (NodePorts looks at the node's pods) or extended resources: the dry run uses a copy."""
    h = Harness([node("n", cpu="4")])
    plugin = h.fwk.plugins["DefaultPreemption"]
    plain, _ = h.pre_filter(pod("p", cpu="1"))
    assert plugin._dry_run_on_sums(plain) is not None
    ports, _ = h.pre_filter(pod("p", containers=[{"name": "c", "image": "x", "ports": [
        {"containerPort": 80, "hostPort": 80}], "resources": {"requests": {"cpu": "1"}}}]))
    assert plugin._dry_run_on_sums(ports) is None
    extended, _ = h.pre_filter(pod("p", containers=[{"name": "c", "image": "x", "resources": {
        "requests": {"example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}}]))
    assert plugin._dry_run_on_sums(extended) is None


def _candidates(h: Harness, p: dict[str, Any]) -> dict[str, list[str]]:
    state = CycleState()
    with pytest.raises(FitError) as info:
        h.scheduler.schedule_pod(h.fwk, state, p)
    plugin = h.fwk.plugins["DefaultPreemption"]
    found, _ = plugin.find_candidates(state, p, h.scheduler.cache.list(), info.value.diagnosis.node_to_status)
    return {c.name: sorted(v["metadata"]["name"] for v in c.victims) for c in found}


def test_remembered_dry_runs_follow_node_changes() -> None:
    """Dry runs remembered per node give the next pod of the template the same candidates, and a
    node whose pods changed is worked out again (compared with a scheduler that remembers nothing)."""
    layout = [("n1", "2"), ("n1", "2"), ("n2", "3"), ("n2", "1"), ("n3", "1"), ("n3", "1"), ("n3", "1"), ("n3", "1")]
    low = [pod(f"low{i}", cpu=cpu, node_name=n, priority=0) for i, (n, cpu) in enumerate(layout)]

    def harness(pods: list[dict[str, Any]]) -> Harness:
        return Harness([node(n, cpu="4") for n in ("n1", "n2", "n3")], pods)

    h = harness(low)
    first = _candidates(h, pod("p0", cpu="3", priority=50))
    assert {n: len(v) for n, v in first.items()} == {"n1": 2, "n2": 1, "n3": 3}
    n1 = h.scheduler.cache.get("n1")
    assert n1 is not None and any(str(k).startswith("preemption:") for k in n1.memo or {})
    assert _candidates(h, pod("p1", cpu="3", priority=50)) == first
    h.scheduler.on_assigned_pod_delete(low[4])
    after = _candidates(h, pod("p2", cpu="3", priority=50))
    fresh = _candidates(harness(low[:4] + low[5:]), pod("p2", cpu="3", priority=50))
    # Equal pods may be chosen in another order; how many go from each node is what must agree.
    assert {n: len(v) for n, v in after.items()} == {n: len(v) for n, v in fresh.items()} == {"n1": 2, "n2": 1, "n3": 2}
    assert "low4" not in after["n3"]
