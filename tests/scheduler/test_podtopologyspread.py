"""PodTopologySpread: hard constraints (maxSkew, minDomains, missing labels, inclusion policies), soft
constraints scoring, and the cluster default constraints for pods of a ReplicaSet or Service."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.scheduler.framework.status import Code
from tests.scheduler.helpers import Harness, node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"


def spread(max_skew: int = 1, key: str = ZONE, when: str = "DoNotSchedule", **extra: Any) -> dict[str, Any]:
    return {"maxSkew": max_skew, "topologyKey": key, "whenUnsatisfiable": when,
            "labelSelector": {"matchLabels": {"app": "web"}}, **extra}


def web(name: str, node_name: str | None = None, **spec: Any) -> dict[str, Any]:
    return pod(name, labels={"app": "web"}, node_name=node_name, **spec)


ZONED = [node("a1", zone="a"), node("a2", zone="a"), node("b1", zone="b"), node("c1", zone="c")]


@pytest.mark.parametrize(("existing", "constraint", "feasible"), [
    pytest.param([], spread(), ["a1", "a2", "b1", "c1"], id="empty-cluster"),
    pytest.param([web("w1", "a1")], spread(), ["b1", "c1"], id="zone-a-ahead"),
    pytest.param([web("w1", "a1"), web("w2", "b1")], spread(), ["c1"], id="only-zone-c-behind"),
    pytest.param([web("w1", "a1"), web("w2", "b1")], spread(max_skew=2), ["a1", "a2", "b1", "c1"],
                 id="max-skew-2"),
    pytest.param([web("w1", "a1"), pod("other", labels={"app": "db"}, node_name="a1")], spread(), ["b1", "c1"],
                 id="non-matching-pods-ignored"),
    pytest.param([web("w1", "a1", ), web("w2", "b1"), web("w3", "c1")], spread(key=HOST), ["a2"],
                 id="hostname-key"),
    pytest.param([web("w1", "a1"), web("w2", "b1"), web("w3", "c1")], spread(), ["a1", "a2", "b1", "c1"],
                 id="evenly-spread"),
    pytest.param([web("w1", "a1"), web("w2", "b1"), web("w3", "c1")], spread(minDomains=4), [],
                 id="min-domains-above-domain-count-makes-min-zero"),
])
def test_hard_constraint_filter(existing: list[dict[str, Any]], constraint: dict[str, Any],
                                feasible: list[str]) -> None:
    """skew = matching pods in the node's domain + self - global minimum must not exceed maxSkew."""
    h = Harness(ZONED, existing)
    assert h.feasible(web("new", topologySpreadConstraints=[constraint])) == feasible


def test_terminating_pods_do_not_count() -> None:
    """Pods being deleted are left out of the counts (upstream #87621)."""
    gone = web("w1", "a1")
    gone["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    h = Harness(ZONED, [gone])
    assert h.feasible(web("new", topologySpreadConstraints=[spread()])) == ["a1", "a2", "b1", "c1"]


def test_node_without_topology_label() -> None:
    """A node missing the topology key is refused as unresolvable, with its own reason."""
    h = Harness([*ZONED, node("bare")])
    st = h.filter(web("new", topologySpreadConstraints=[spread()]), "bare")
    assert (st.code, st.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE,
                                     ["node(s) didn't match pod topology spread constraints (missing required label)"])
    st = h.filter(web("new", topologySpreadConstraints=[spread()]), "a1")
    assert st is None


def test_skew_failure_message() -> None:
    h = Harness(ZONED, [web("w1", "a1"), web("w2", "b1")])
    assert h.schedule(web("new", cpu="100", topologySpreadConstraints=[spread()])) == \
        "0/4 nodes are available: 4 Insufficient cpu."
    st = h.filter(web("new", topologySpreadConstraints=[spread()]), "a2")
    assert (st.code, st.reasons) == (Code.UNSCHEDULABLE, ["node(s) didn't match pod topology spread constraints"])


def test_node_affinity_policy() -> None:
    """With nodeAffinityPolicy Honor (default) only nodes the pod may use define the domains; Ignore counts all."""
    nodes = [node("a1", zone="a", labels={"pool": "x"}), node("b1", zone="b", labels={"pool": "x"}),
             node("c1", zone="c")]
    existing = [web("w1", "a1"), web("w2", "b1")]
    selector = {"pool": "x"}
    h = Harness(nodes, existing)
    honor = web("new", nodeSelector=selector, topologySpreadConstraints=[spread()])
    assert h.feasible(honor) == ["a1", "b1"]
    ignore = web("new", nodeSelector=selector, topologySpreadConstraints=[spread(nodeAffinityPolicy="Ignore")])
    assert h.feasible(ignore) == []  # zone c (count 0) is the minimum but the pod cannot go there


def test_node_taints_policy() -> None:
    """nodeTaintsPolicy Honor leaves tainted nodes out of the domain counts."""
    taint = [{"key": "k", "value": "v", "effect": "NoSchedule"}]
    nodes = [node("a1", zone="a"), node("b1", zone="b"), node("c1", zone="c", taints=taint)]
    h = Harness(nodes, [web("w1", "a1")])
    assert h.feasible(web("new", topologySpreadConstraints=[spread()])) == ["b1"]
    assert h.feasible(web("new", topologySpreadConstraints=[spread(nodeTaintsPolicy="Honor")])) == ["b1"]
    tolerating = web("new", tolerations=[{"operator": "Exists"}],
                     topologySpreadConstraints=[spread(nodeTaintsPolicy="Honor")])
    assert h.feasible(tolerating) == ["b1", "c1"]


def test_match_label_keys() -> None:
    """matchLabelKeys adds the pod's own values of those keys to the selector."""
    nodes = [node("a1", zone="a"), node("b1", zone="b")]
    old = pod("o1", labels={"app": "web", "rev": "1"}, node_name="a1")
    h = Harness(nodes, [old])
    new = pod("n", labels={"app": "web", "rev": "2"}, topologySpreadConstraints=[spread(matchLabelKeys=["rev"])])
    assert h.feasible(new) == ["a1", "b1"]
    same_rev = pod("n", labels={"app": "web", "rev": "1"}, topologySpreadConstraints=[spread(matchLabelKeys=["rev"])])
    assert h.feasible(same_rev) == ["b1"]


def test_soft_constraint_scores() -> None:
    """ScheduleAnyway constraints score emptier domains higher."""
    h = Harness(ZONED, [web("w1", "a1"), web("w2", "a2"), web("w3", "b1")])
    scores = h.scores(web("new", topologySpreadConstraints=[spread(when="ScheduleAnyway")]), "PodTopologySpread")
    assert scores["c1"] > scores["b1"] > scores["a1"]
    assert scores["a1"] == scores["a2"]
    assert scores["c1"] == 200  # best node: 100 x weight 2


def _replica_set(name: str, labels: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name, "namespace": "default",
                                                                          "uid": "rs-" + name},
            "spec": {"selector": {"matchLabels": labels}}}


def _owned(name: str, node_name: str | None = None) -> dict[str, Any]:
    p = web(name, node_name)
    p["metadata"]["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-rs",
                                         "uid": "rs-web-rs", "controller": True}]
    return p


def test_system_default_constraints_spread_replica_set_pods() -> None:
    """Pods of a ReplicaSet get the system defaults (hostname 3, zone 5, ScheduleAnyway)."""
    nodes = [node("a1", zone="a"), node("b1", zone="b")]
    existing = [_owned(f"w{i}", "a1") for i in range(4)]
    h = Harness(nodes, existing, objects={"replica_sets": [_replica_set("web-rs", {"app": "web"})]})
    scores = h.scores(_owned("new"), "PodTopologySpread")
    assert scores["b1"] > scores["a1"]
    # a pod that belongs to no controller or service gets no default constraints
    assert h.scores(web("loner"), "PodTopologySpread") == {"a1": 0, "b1": 0}


def test_service_selector_defines_the_group() -> None:
    """A Service selecting the pod also yields a default selector."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "default"},
           "spec": {"selector": {"app": "web"}}}
    nodes = [node("a1", zone="a"), node("b1", zone="b")]
    h = Harness(nodes, [web("w1", "a1"), web("w2", "a1")], objects={"services": [svc]})
    scores = h.scores(web("new"), "PodTopologySpread")
    assert scores["b1"] > scores["a1"]


def test_list_defaulting_with_hard_default_constraint() -> None:
    """defaultingType List with a DoNotSchedule default constraint filters like a pod constraint."""
    cfg = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", "profiles": [{
        "pluginConfig": [{"name": "PodTopologySpread", "args": {"defaultingType": "List", "defaultConstraints": [
            {"maxSkew": 1, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule"}]}}]}]}
    nodes = [node("a1", zone="a"), node("b1", zone="b")]
    h = Harness(nodes, [_owned("w1", "a1")], config=cfg,
                objects={"replica_sets": [_replica_set("web-rs", {"app": "web"})]})
    assert h.feasible(_owned("new")) == ["b1"]


def test_incremental_counts_follow_pod_and_node_changes() -> None:
    """The per-domain counts kept between attempts match a fresh count after pods and nodes change."""
    nodes = [node(f"n{i}", zone=f"z{i % 3}") for i in range(9)]
    h = Harness(nodes, [web(f"w{i}", f"n{i}") for i in range(5)])
    new = web("new", topologySpreadConstraints=[spread(max_skew=1)])
    assert h.feasible(new) == ["n2", "n5", "n8"]  # zones z0 and z1 have 2 pods, z2 has 1
    h.scheduler.on_assigned_pod_add(web("w9", "n8"))  # z2 catches up
    assert h.feasible(new) == [f"n{i}" for i in range(9)]
    gone = h.scheduler.cache.nodes["n1"].pods[0].pod
    h.scheduler.on_assigned_pod_delete(gone)  # z1 drops to 1
    assert h.feasible(new) == ["n1", "n4", "n7"]
    moved = node("n4", zone="z9")
    h.scheduler.on_node_update(node("n4", zone="z1"), moved)  # n4 (one web pod) leaves zone z1
    fresh = Harness([*nodes[:4], moved, *nodes[5:]],
                    [p.pod for ni in h.scheduler.cache.list() for p in ni.pods])
    assert h.feasible(new) == fresh.feasible(new)
