"""Score semantics: NodeResourcesFit strategies, BalancedAllocation, TaintToleration, NodeAffinity,
ImageLocality; and the default weights summing them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.scheduler.helpers import Harness, node, pod

V1 = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration"}


def _only(plugin: str, args: dict[str, Any] | None = None) -> dict[str, Any]:
    """A profile scoring with `plugin` alone (weight 1)."""
    prof: dict[str, Any] = {"plugins": {"score": {"disabled": [{"name": "*"}], "enabled": [{"name": plugin}]}}}
    if args is not None:
        prof["pluginConfig"] = [{"name": plugin, "args": args}]
    return {**V1, "profiles": [prof]}


NODES = [node("n1", cpu="4", memory="10000"), node("n2", cpu="6", memory="10000")]
REQ = pod("p", cpu="3", memory="5000")


@pytest.mark.parametrize(("args", "want"), [
    pytest.param(None, {"n1": 37, "n2": 50}, id="least-allocated-default"),
    pytest.param({"scoringStrategy": {"type": "MostAllocated"}}, {"n1": 62, "n2": 50}, id="most-allocated"),
    pytest.param({"scoringStrategy": {"type": "LeastAllocated", "resources": [{"name": "cpu", "weight": 3},
                                                                             {"name": "memory", "weight": 1}]}},
                 {"n1": 31, "n2": 50}, id="least-allocated-weighted"),
    pytest.param({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {
        "shape": [{"utilization": 0, "score": 10}, {"utilization": 100, "score": 0}]}}},
                 {"n1": 38, "n2": 50}, id="requested-to-capacity-ratio-rounds-half-up"),
    pytest.param({"scoringStrategy": {"type": "RequestedToCapacityRatio", "requestedToCapacityRatio": {
        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]}}},
                 {"n1": 63, "n2": 50}, id="requested-to-capacity-ratio-bin-packing"),
])
def test_node_resources_fit_strategies(args: dict[str, Any] | None, want: dict[str, int]) -> None:
    """Upstream's reference case: pod 3000m/5000 on nodes 4000m/10000 and 6000m/10000."""
    h = Harness(NODES, config=_only("NodeResourcesFit", args))
    assert h.scores(REQ, "NodeResourcesFit") == want


def test_least_allocated_counts_default_requests_of_empty_pods() -> None:
    """Pods without requests count as 100m CPU / 200Mi for scoring (non-zero requests)."""
    h = Harness([node("n1", cpu="1", memory="1000Mi"), node("n2", cpu="1", memory="1000Mi")],
                [pod("e1", node_name="n1"), pod("e2", node_name="n1")], config=_only("NodeResourcesFit"))
    # n1: cpu 300/1000 used -> 70, memory 600/1000Mi -> 40 => 55; n2: 90 and 80 => 85
    assert h.scores(pod("p"), "NodeResourcesFit") == {"n1": 55, "n2": 85}


def test_extended_resource_scored_only_when_requested() -> None:
    """A scored extended resource counts only for pods that request it."""
    args = {"scoringStrategy": {"type": "MostAllocated", "resources": [
        {"name": "cpu", "weight": 1}, {"name": "example.com/gpu", "weight": 1}]}}
    nodes = [node("n1", cpu="4", extra={"example.com/gpu": "4"}), node("n2", cpu="4", extra={"example.com/gpu": "2"})]
    h = Harness(nodes, config=_only("NodeResourcesFit", args))
    assert h.scores(pod("p", cpu="2"), "NodeResourcesFit") == {"n1": 50, "n2": 50}
    gpu = pod("g", containers=[{"name": "c", "image": "i", "resources": {"requests": {"cpu": "2",
                                                                                      "example.com/gpu": "1"}}}])
    assert h.scores(gpu, "NodeResourcesFit") == {"n1": 37, "n2": 50}


@pytest.mark.parametrize(("nodes", "existing", "p", "want"), [
    pytest.param(NODES, [], REQ, {"n1": 87, "n2": 100}, id="differently-sized-nodes"),
    pytest.param([node("n1", cpu="10", memory="20000")], [pod("e", cpu="3", memory="5000", node_name="n1")],
                 pod("p", cpu="3", memory="5000"), {"n1": 95}, id="existing-requests-count"),
    pytest.param([node("n1", cpu="4", memory="10000")], [], pod("p", cpu="6", memory="5000"), {"n1": 75},
                 id="fraction-capped-at-one"),
])
def test_balanced_allocation(nodes: list[dict[str, Any]], existing: list[dict[str, Any]], p: dict[str, Any],
                             want: dict[str, int]) -> None:
    """(1 - |cpu fraction - memory fraction| / 2) * 100 on actual requests."""
    h = Harness(nodes, existing, config=_only("NodeResourcesBalancedAllocation"))
    assert h.scores(p, "NodeResourcesBalancedAllocation") == want


def _prefer(key: str, value: str) -> dict[str, str]:
    return {"key": key, "value": value, "effect": "PreferNoSchedule"}


def test_taint_toleration_score() -> None:
    """Fewer untolerated PreferNoSchedule taints score higher; normalized in reverse."""
    nodes = [node("n1"), node("n2", taints=[_prefer("a", "1")]),
             node("n3", taints=[_prefer("a", "1"), _prefer("b", "2")]),
             node("n4", taints=[_prefer("a", "1"), {"key": "c", "value": "3", "effect": "NoSchedule"}])]
    h = Harness(nodes, config=_only("TaintToleration"))
    assert h.scores(pod("p"), "TaintToleration") == {"n1": 100, "n2": 50, "n3": 0, "n4": 50}
    tolerant = pod("q", tolerations=[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert h.scores(tolerant, "TaintToleration") == {"n1": 100, "n2": 100, "n3": 0, "n4": 100}


def test_node_affinity_preferred_score() -> None:
    """Sum of the weights of matching preferred terms, normalized to the best node."""
    def pref(weight: int, key: str, value: str) -> dict[str, Any]:
        return {"weight": weight, "preference": {"matchExpressions": [{"key": key, "operator": "In",
                                                                         "values": [value]}]}}

    p = pod("p", affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        pref(2, "disk", "ssd"), pref(8, "zone", "a"), {"weight": 5, "preference": {}}]}})
    nodes = [node("n1", labels={"disk": "ssd"}), node("n2", labels={"zone": "a"}),
             node("n3", labels={"disk": "ssd", "zone": "a"}), node("n4")]
    h = Harness(nodes, config=_only("NodeAffinity"))
    assert h.scores(p, "NodeAffinity") == {"n1": 20, "n2": 80, "n3": 100, "n4": 0}


def test_image_locality_score() -> None:
    """Nodes holding big images score higher, scaled by how many nodes have them."""
    mb = 1024 * 1024
    nodes = [node("n1", images=[(["gcr.io/big:v1"], 300 * mb), (["gcr.io/small:v1"], 10 * mb)]),
             node("n2", images=[(["gcr.io/small:v1"], 10 * mb)]), node("n3")]
    h = Harness(nodes, config=_only("ImageLocality"))
    p = pod("p", containers=[{"name": "a", "image": "gcr.io/big:v1"}, {"name": "b", "image": "gcr.io/small:v1"}])
    # n1: 300MB * 1/3 + 10MB * 2/3 = 106.67MB -> 100 * (106.67 - 23) / (2000 - 23) = 4
    assert h.scores(p, "ImageLocality") == {"n1": 4, "n2": 0, "n3": 0}
    latest = pod("q", containers=[{"name": "a", "image": "gcr.io/big"}])
    assert h.scores(latest, "ImageLocality") == {"n1": 0, "n2": 0, "n3": 0}


def test_default_profile_weights() -> None:
    """The default profile weighs TaintToleration 3, NodeAffinity 2, Fit 1, BalancedAllocation 1."""
    h = Harness([node("n1", cpu="2"), node("n2", cpu="4")])
    weights = {pl.name: w for pl, w in h.fwk.score_plugins}
    assert weights == {"TaintToleration": 3, "NodeAffinity": 2, "NodeResourcesFit": 1, "PodTopologySpread": 2,
                       "InterPodAffinity": 2, "NodeResourcesBalancedAllocation": 1, "ImageLocality": 1}
    # n1: taint 300 + fit (50 + 97) / 2 = 73 + balanced 75 = 448; n2: 300 + 86 + 87 = 473
    assert h.scores(pod("p", cpu="1")) == {"n1": 448, "n2": 473}
    assert h.schedule(pod("p", cpu="1")) == "n2"


@pytest.mark.parametrize("plugin", ["NodeResourcesFit", "NodeResourcesBalancedAllocation", "TaintToleration",
                                    "ImageLocality", "PodTopologySpread"])
def test_batch_scoring_equals_per_node_scoring(plugin: str) -> None:
    """The plugins' all-nodes fast path (score_nodes) gives exactly the per-node Score results."""
    from kijabi.scheduler.framework.interface import CycleState

    mb = 1024 * 1024
    nodes = [node(f"n{i}", cpu=str(1 + i % 5), memory=f"{1 + i % 7}Gi", zone=f"z{i % 3}",
                  taints=[{"key": "t", "value": str(i), "effect": "PreferNoSchedule"}] if i % 4 == 0 else None,
                  images=[([f"img:{i % 2}"], 300 * mb)] if i % 3 == 0 else None) for i in range(30)]
    existing = [pod(f"e{i}", cpu=f"{100 * (i % 9)}m", memory=f"{i % 5}00Mi", node_name=f"n{i % 30}",
                    labels={"app": "web"}) for i in range(60)]
    h = Harness(nodes, existing)
    p = pod("p", cpu="300m", memory="1Gi", labels={"app": "web"},
            containers=[{"name": "c", "image": "img:1", "resources": {"requests": {"cpu": "300m"}}}],
            topologySpreadConstraints=[{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                        "whenUnsatisfiable": "ScheduleAnyway",
                                        "labelSelector": {"matchLabels": {"app": "web"}}}])
    pl = h.fwk.plugins[plugin]
    state = CycleState()
    all_nodes = h.scheduler.cache.list()
    h.fwk.run_pre_score_plugins(state, p, all_nodes)
    batch, st = pl.score_nodes(state, p, all_nodes)
    assert st is None
    assert batch == [pl.score(state, p, ni)[0] for ni in all_nodes]
