"""The scheduler's fast paths answer exactly as the plain code does.

Filters prepared once per attempt for the pod (PreparedFilter) against the plugins' Filter; plugins
whose Filter cannot reject any node for the pod left out of the attempt; the partial search that stops
after enough feasible nodes and starts the next attempt where this one stopped (also when some nodes
have nominated pods); ties broken uniformly; batch scoring against per-node scoring; preemption's
"cannot fit" test on sums against NodeResourcesFit on a changed copy of the node.
"""

from __future__ import annotations

import collections
import random
from typing import Any

import pytest

from kijabi.scheduler.framework.interface import MODE_OVERRIDE, CycleState, NominatingInfo
from kijabi.scheduler.framework.status import Code
from kijabi.scheduler.framework.types import NodeInfo, PodInfo
from kijabi.scheduler.plugins.noderesources import (
    BalancedAllocation,
    Fit,
    prefilter_request,
    resources_cannot_fit,
)
from kijabi.scheduler.scheduler import num_feasible_nodes_to_find
from tests.scheduler.helpers import Harness, node, pod

NO_SCHEDULE = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
PREFER_NOT = {"key": "spot", "value": "yes", "effect": "PreferNoSchedule"}

NODES = [
    node("plain"),
    node("small", cpu="500m", memory="1Gi"),
    node("full-pods", pods=1),
    node("tainted", taints=[NO_SCHEDULE]),
    node("prefer-not", taints=[PREFER_NOT]),
    node("cordoned", unschedulable=True),
    node("gpu", extra={"example.com/gpu": "2"}),
    node("no-memory", memory="0"),
]
EXISTING = [pod("busy", cpu="300m", memory="1Gi", node_name="small"), pod("only", node_name="full-pods")]

PODS = {
    "best-effort": pod("p"),
    "requests": pod("p", cpu="400m", memory="512Mi"),
    "too-big": pod("p", cpu="8", memory="64Gi"),
    "tolerates-taint": pod("p", cpu="100m", tolerations=[{"key": "dedicated", "operator": "Exists"}]),
    "tolerates-cordon": pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                               "effect": "NoSchedule"}]),
    "extended": pod("p", containers=[{"name": "c", "image": "x", "resources": {
        "requests": {"cpu": "100m", "example.com/gpu": "1"}, "limits": {"example.com/gpu": "1"}}}]),
    "ephemeral": pod("p", containers=[{"name": "c", "image": "x", "resources": {
        "requests": {"ephemeral-storage": "1Ti"}}}]),
    "node-affinity": pod("p", nodeSelector={"kubernetes.io/hostname": "plain"}),
    "required-affinity": pod("p", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                                     "values": ["small", "gpu", "cordoned"]}]}]}}}),
}


def _describe(st: Any) -> tuple[Any, ...] | None:
    return None if st is None or st.is_success() else (st.code, tuple(st.reasons))


@pytest.mark.parametrize("pod_name", list(PODS))
def test_prepared_filters_match_the_plugins_filter(pod_name: str) -> None:
    """On every node, each filter of the attempt gives what the plugin's own Filter gives."""
    h = Harness(NODES, EXISTING)
    p = PODS[pod_name]
    state, st = h.pre_filter(p)
    assert st is None or st.is_success()
    assert state.filters is not None
    for flt, name in state.filters:
        plugin = h.fwk.plugins[name]
        for ni in h.scheduler.cache.list():
            assert _describe(flt(state, p, ni)) == _describe(plugin.filter(state, p, ni)), (name, ni.name)


@pytest.mark.parametrize(("pod_name", "absent"), [
    ("best-effort", {"NodeName", "NodePorts", "NodeAffinity", "InterPodAffinity", "PodTopologySpread"}),
    ("tolerates-cordon", {"NodeName", "NodeUnschedulable"}),
])
def test_filters_that_cannot_reject_are_left_out(pod_name: str, absent: set[str]) -> None:
    """A plugin whose Filter passes every node for this pod (PreFilter Skip, or nothing to check: no
    spec.nodeName, the unschedulable taint tolerated) is not called per node."""
    h = Harness(NODES, EXISTING)
    state, _ = h.pre_filter(PODS[pod_name])
    names = {name for _, name in state.filters or ()}
    assert not names & absent
    assert {"NodeResourcesFit", "TaintToleration"} <= names


@pytest.mark.parametrize("pod_name", list(PODS))
def test_filtering_all_nodes_gives_the_plain_verdicts(pod_name: str) -> None:
    """The scheduler's own filter loop agrees node by node with the framework's two-pass filter."""
    h = Harness(NODES, EXISTING)
    p = PODS[pod_name]
    plain = {name: _describe(h.filter(p, name)) for name in (ni.name for ni in h.scheduler.cache.list())}
    state, _ = h.pre_filter(p)
    from kijabi.scheduler.framework.status import Diagnosis

    diagnosis = Diagnosis()
    feasible = h.scheduler.find_nodes_that_pass_filters(h.fwk, state, p, diagnosis, h.scheduler.cache.list())
    got = {ni.name: None for ni in feasible}
    got.update({name: _describe(st) for name, st in diagnosis.node_to_status.items()})
    assert got == plain


def many_nodes(n: int) -> list[dict[str, Any]]:
    return [node(f"n{i:03}", zone=f"z{i % 3}") for i in range(n)]


def test_search_stops_after_enough_feasible_nodes_and_rotates() -> None:
    """With the adaptive percentage (50% - nodes/125, at least 100 nodes), an attempt filters only
    that many nodes when they all fit, and the next one starts right after them; together the attempts
    go round every node once."""
    h = Harness(many_nodes(250))
    s = h.scheduler
    want = num_feasible_nodes_to_find(None, 250)
    assert want == 120
    seen: list[str] = []
    for i in range(3):
        state, _ = h.pre_filter(pod(f"p{i}"))
        start = s.next_start_node_index
        feasible, diagnosis = s.find_nodes_that_fit(h.fwk, state, pod(f"p{i}"), s.cache.list())
        assert len(feasible) == want and not diagnosis.node_to_status.statuses
        assert s.next_start_node_index == (start + want) % 250
        seen += [ni.name for ni in feasible]
    assert collections.Counter(seen[:250]) == collections.Counter(ni.name for ni in s.cache.list())


def test_search_counts_rejected_nodes_and_checks_nominated_ones_twice() -> None:
    """Rejected nodes count as processed for the next start index; a node whose nominated pod (of
    higher priority) takes the room rejects the pod, one without nominations does not."""
    nodes = many_nodes(150)
    nodes[0] = node("n000", cpu="1", zone="z0")
    nodes[1] = node("n001", cpu="1", zone="z1")
    h = Harness(nodes)
    s = h.scheduler
    waiting = pod("nominated", cpu="800m", priority=100)
    h.pods.put(waiting)
    s.queue.add_nominated_pod(PodInfo(waiting), NominatingInfo("n000", MODE_OVERRIDE))
    p = pod("p", cpu="500m", priority=10)
    state, _ = h.pre_filter(p)
    feasible, diagnosis = s.find_nodes_that_fit(h.fwk, state, p, s.cache.list())
    assert set(diagnosis.node_to_status.statuses) == {"n000"}
    assert diagnosis.node_to_status.statuses["n000"].reasons == ["Insufficient cpu"]
    assert "n001" in {ni.name for ni in feasible}
    assert len(feasible) == 100 and s.next_start_node_index == 101  # 100 feasible found, 101 nodes processed


def test_ties_are_broken_uniformly_among_the_best() -> None:
    """Only best-scored nodes are chosen, each of them about equally often."""
    h = Harness([node("a"), node("b"), node("c"), node("d")])
    h.scheduler.rng = random.Random(7)
    infos = h.scheduler.cache.list()
    by_name = {ni.name: ni for ni in infos}
    ordered = [by_name[n] for n in "abcd"]
    picks = collections.Counter(h.scheduler.select_host(ordered, [5, 9, 3, 9]) for _ in range(4000))
    assert set(picks) == {"b", "d"}
    assert abs(picks["b"] - picks["d"]) < 400
    assert h.scheduler.select_host(ordered, [1, 2, 3, 0]) == "c"


@pytest.mark.parametrize("strategy", ["LeastAllocated", "MostAllocated", "Balanced"])
def test_batch_scores_equal_per_node_scores(strategy: str) -> None:
    """score_nodes gives score() of each node, nodes without cpu or memory allocatable included."""
    h = Harness(NODES, EXISTING + [pod("heavy", cpu="3500m", memory="6Gi", node_name="plain"),
                                   pod("over", cpu="2", node_name="no-memory")])
    if strategy == "Balanced":
        plugin: Any = BalancedAllocation({}, h.fwk)
    else:
        plugin = Fit({"scoringStrategy": {"type": strategy}}, h.fwk)
    infos = h.scheduler.cache.list()
    for p in PODS.values():
        state = CycleState()
        plugin.pre_score(state, p, infos)
        batch, st = plugin.score_nodes(state, p, infos)
        assert st is None
        assert batch == [plugin.score(state, p, ni)[0] for ni in infos], p["metadata"]["name"]


@pytest.mark.parametrize(("existing", "lower", "nominated", "wanted"), [
    pytest.param([("1", 10), ("1", 10), ("1", 100)], [0, 1], [], "3", id="fits-once-two-leave"),
    pytest.param([("1", 10), ("1", 100), ("2", 100)], [0], [], "2", id="higher-priority-pods-stay"),
    pytest.param([("2", 10)], [0], [("3", 100)], "2", id="nominated-pod-takes-the-room"),
    pytest.param([("2", 10)], [0], [("1", 100)], "2", id="nominated-pod-leaves-room"),
    pytest.param([("500m", 10)] * 3, [0], [], "100m", id="pod-count"),
])
def test_cannot_fit_on_sums_matches_fit_on_a_copy(existing: list[tuple[str, int]], lower: list[int],
                                                  nominated: list[tuple[str, int]], wanted: str) -> None:
    """Preemption's quick test: the node without some pods and with others added, on sums, rejects
    exactly when NodeResourcesFit rejects a changed copy of the node."""
    h = Harness([node("n", cpu="4", pods=3)],
                [pod(f"e{i}", cpu=cpu, node_name="n", priority=prio) for i, (cpu, prio) in enumerate(existing)])
    ni = h.scheduler.cache.get("n")
    assert ni is not None
    removed = [ni.pods[i] for i in lower]
    added = [PodInfo(pod(f"nom{i}", cpu=cpu, priority=prio)) for i, (cpu, prio) in enumerate(nominated)]
    p = pod("p", cpu=wanted, priority=50)
    state, _ = h.pre_filter(p)
    req = prefilter_request(state)
    assert req is not None
    copy: NodeInfo = ni.without(removed)
    for pi in added:
        copy.add_pod_info(pi)
    st = h.fwk.plugins["NodeResourcesFit"].filter(state, p, copy)
    assert resources_cannot_fit(req, ni, removed, added) == (st is not None and not st.is_success())


def _aggregates(ni: NodeInfo) -> tuple[Any, ...]:
    return (sorted(pi.uid for pi in ni.pods), sorted(pi.uid for pi in ni.pods_with_affinity),
            sorted(pi.uid for pi in ni.pods_with_required_anti_affinity), ni.requested, ni.non_zero_requested,
            ni.used_ports.ports, ni.pvc_ref_counts)


def test_read_only_copy_with_nominated_pods_has_the_aggregates_of_a_full_copy() -> None:
    """NodeInfo.with_added gives what clone() + add_pod_info() give, and leaves the node unchanged."""
    anti = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": "x"}}, "topologyKey": "kubernetes.io/hostname"}]}}
    h = Harness([node("n")], [pod("e1", cpu="1", node_name="n", containers=[
        {"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 8080}]}])])
    ni = h.scheduler.cache.get("n")
    assert ni is not None
    before = _aggregates(ni)
    added = [PodInfo(pod("a1", cpu="500m", memory="1Gi", affinity=anti)),
             PodInfo(pod("a2", containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 53, "hostPort": 53,
                                                                                   "protocol": "UDP"}]}],
                         volumes=[{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]))]
    full = ni.clone()
    for pi in added:
        full.add_pod_info(pi)
    copy = ni.with_added(added)
    assert _aggregates(copy) == _aggregates(full)
    assert _aggregates(ni) == before
    assert copy.generation not in (ni.generation, 0)


def _verdicts(h: Harness, p: dict[str, Any]) -> dict[str, Any]:
    """Node -> the scheduler's own filter loop's verdict (None: feasible), over every node."""
    from kijabi.scheduler.framework.status import Diagnosis

    state, _ = h.pre_filter(p)
    diagnosis = Diagnosis()
    feasible = h.scheduler.find_nodes_that_pass_filters(h.fwk, state, p, diagnosis, h.scheduler.cache.list())
    got: dict[str, Any] = {ni.name: None for ni in feasible}
    got.update({name: _describe(st) for name, st in diagnosis.node_to_status.items()})
    return got


def test_remembered_verdicts_and_scores_follow_node_changes() -> None:
    """Verdicts and scores remembered per node (NodeInfo.memo) are recomputed once the node's pods or
    the node itself change: a pod of the same template sees the new state."""
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "topology.kubernetes.io/zone", "operator": "In", "values": ["z1"]}]}]}}}
    a = node("a", cpu="1", zone="z1")
    h = Harness([a, node("b", cpu="4", zone="z1")])

    def template(i: int) -> dict[str, Any]:
        return pod(f"p{i}", cpu="600m", affinity=affinity)

    assert _verdicts(h, template(0)) == {"a": None, "b": None}
    fit_a = h.scores(template(0), "NodeResourcesFit")["a"]
    tenant = pod("tenant", cpu="600m", node_name="a")
    h.add_pod(tenant)
    assert _verdicts(h, template(1))["a"] == (Code.UNSCHEDULABLE, ("Insufficient cpu",))
    assert h.scores(template(1), "NodeResourcesFit")["a"] < fit_a
    h.scheduler.on_assigned_pod_delete(tenant)
    assert _verdicts(h, template(2)) == {"a": None, "b": None}
    assert h.scores(template(2), "NodeResourcesFit")["a"] == fit_a
    moved = node("a", cpu="1", zone="z2")
    h.scheduler.on_node_update(a, moved)
    assert _verdicts(h, template(3))["a"] == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                               ("node(s) didn't match Pod's node affinity/selector",))
    assert _verdicts(h, template(4))["b"] is None


def test_filters_key_names_what_the_verdicts_depend_on() -> None:
    """An attempt's filters have a key when all are keyed: pods of one template share it, other
    tolerations or requests do not; a filter without a key (NodePorts) leaves the attempt without one."""
    h = Harness(NODES, EXISTING)

    def key(p: dict[str, Any]) -> str | None:
        state, _ = h.pre_filter(p)
        return state.filters_key

    assert key(pod("a", cpu="1")) == key(pod("b", cpu="1")) is not None
    assert key(pod("a", cpu="1")) != key(pod("a", cpu="2"))
    assert key(pod("a", cpu="1")) != key(pod("a", cpu="1", tolerations=[{"key": "dedicated", "operator": "Exists"}]))
    assert key(pod("a", containers=[{"name": "c", "image": "x", "ports": [{"containerPort": 80, "hostPort": 80}]}])) \
        is None


def test_remembered_joint_verdicts_follow_taints_and_cordons() -> None:
    """A node tainted or cordoned after a verdict was remembered rejects the next pod of the template."""
    a = node("a")
    h = Harness([a, node("b")])
    assert _verdicts(h, pod("p0", cpu="1")) == {"a": None, "b": None}
    tainted = node("a", taints=[NO_SCHEDULE])
    h.scheduler.on_node_update(a, tainted)
    assert _verdicts(h, pod("p1", cpu="1"))["a"] == (
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) had untolerated taint {dedicated: gpu}",))
    cordoned = node("a", unschedulable=True)
    h.scheduler.on_node_update(tainted, cordoned)
    assert _verdicts(h, pod("p2", cpu="1"))["a"] == (
        Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ("node(s) were unschedulable",))
    assert _verdicts(h, pod("p3", cpu="1"))["b"] is None


def test_remembered_verdicts_with_nominated_pods_follow_nominations() -> None:
    """On a node with nominated pods, the two-pass verdict remembered for pods of a template changes
    when a nomination comes or goes, and a pod nominated to the node does not count itself there."""
    h = Harness([node("a", cpu="4"), node("b", cpu="1")], [pod("tenant", cpu="2", node_name="a")])
    queue = h.scheduler.queue

    def nominate(p: dict[str, Any]) -> None:
        h.pods.put(p)
        queue.add_nominated_pod(PodInfo(p), NominatingInfo("a", MODE_OVERRIDE))

    def template(i: int) -> dict[str, Any]:
        return pod(f"p{i}", cpu="1", priority=50)

    big = pod("big", cpu="2", priority=60)
    nominate(big)
    assert _verdicts(h, template(0))["a"] == (Code.UNSCHEDULABLE, ("Insufficient cpu",))
    assert _verdicts(h, template(1))["a"] == (Code.UNSCHEDULABLE, ("Insufficient cpu",))
    queue.nominator.delete(big)
    assert _verdicts(h, template(2))["a"] is None
    nominate(pod("small", cpu="1", priority=60))
    assert _verdicts(h, template(3))["a"] is None
    itself = template(4)
    nominate(itself)
    # Another pod of the template counts both nominated pods: 2 + 1 + 1 + its own 1 > 4 ...
    assert _verdicts(h, template(5))["a"] == (Code.UNSCHEDULABLE, ("Insufficient cpu",))
    # ... the nominated pod does not count itself: 2 + 1 + 1 = 4 fits.
    assert _verdicts(h, itself)["a"] is None


def test_a_node_memo_stays_bounded() -> None:
    """Pods of ever new shapes on an unchanged node do not grow its memo without bound."""
    from kijabi.scheduler.framework.types import MEMO_LIMIT

    h = Harness([node("a", cpu="64")])
    for i in range(MEMO_LIMIT + 10):
        assert _verdicts(h, pod(f"p{i}", cpu=f"{i + 1}m")) == {"a": None}
    ni = h.scheduler.cache.get("a")
    assert ni is not None and ni.memo is not None and 0 < len(ni.memo) <= MEMO_LIMIT
