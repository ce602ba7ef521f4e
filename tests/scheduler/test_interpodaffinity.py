"""InterPodAffinity: required affinity and anti-affinity, the anti-affinity of existing pods,
namespaces and namespaceSelector, the self-affinity exception, and preferred terms scoring."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.scheduler.framework.status import Code
from tests.scheduler.helpers import Harness, node, pod

ZONE = "topology.kubernetes.io/zone"
HOST = "kubernetes.io/hostname"
NODES = [node("a1", zone="a"), node("a2", zone="a"), node("b1", zone="b")]


def term(labels: dict[str, str], key: str = ZONE, **extra: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": labels}, "topologyKey": key, **extra}


def affinity(*terms: dict[str, Any], anti: bool = False) -> dict[str, Any]:
    kind = "podAntiAffinity" if anti else "podAffinity"
    return {kind: {"requiredDuringSchedulingIgnoredDuringExecution": list(terms)}}


def running(name: str, node_name: str, labels: dict[str, str], ns: str = "default", **spec: Any) -> dict[str, Any]:
    return pod(name, labels=labels, node_name=node_name, ns=ns, **spec)


@pytest.mark.parametrize(("existing", "p", "feasible"), [
    pytest.param([running("db", "a1", {"app": "db"})], pod("p", affinity=affinity(term({"app": "db"}))),
                 ["a1", "a2"], id="affinity-zone"),
    pytest.param([running("db", "a1", {"app": "db"})], pod("p", affinity=affinity(term({"app": "db"}, HOST))),
                 ["a1"], id="affinity-host"),
    pytest.param([running("db", "a1", {"app": "db"})],
                 pod("p", affinity=affinity(term({"app": "db"}), term({"tier": "x"}))), [],
                 id="affinity-all-terms-must-match-one-pod"),
    pytest.param([running("db", "a1", {"app": "db"})], pod("p", affinity=affinity(term({"app": "db"}), anti=True)),
                 ["b1"], id="anti-affinity-zone"),
    pytest.param([running("db", "a1", {"app": "db"}, ns="other")], pod("p", affinity=affinity(term({"app": "db"}))),
                 [], id="affinity-other-namespace-not-matched"),
    pytest.param([running("db", "a1", {"app": "db"}, ns="other")],
                 pod("p", affinity=affinity(term({"app": "db"}, namespaces=["other"]))), ["a1", "a2"],
                 id="affinity-listed-namespace"),
    pytest.param([running("db", "a1", {"app": "db"}, ns="other")],
                 pod("p", affinity=affinity(term({"app": "db"}, namespaceSelector={"matchLabels": {"team": "x"}}))),
                 ["a1", "a2"], id="affinity-namespace-selector"),
    pytest.param([running("db", "a1", {"app": "db"}, ns="other")],
                 pod("p", affinity=affinity(term({"app": "db"}, namespaceSelector={}))), ["a1", "a2"],
                 id="affinity-empty-namespace-selector-means-all"),
    pytest.param([], pod("p", labels={"app": "web"}, affinity=affinity(term({"app": "web"}))), ["a1", "a2", "b1"],
                 id="self-affinity-first-pod"),
    pytest.param([], pod("p", labels={"app": "x"}, affinity=affinity(term({"app": "web"}))), [],
                 id="affinity-nothing-matches"),
    pytest.param([running("e", "a1", {"app": "e"}, affinity=affinity(term({"app": "web"}), anti=True))],
                 pod("p", labels={"app": "web"}), ["b1"], id="existing-pod-anti-affinity"),
    pytest.param([running("e", "a1", {"app": "e"}, affinity=affinity(term({"app": "web"}, HOST), anti=True))],
                 pod("p", labels={"app": "web"}), ["a2", "b1"], id="existing-pod-anti-affinity-host"),
    pytest.param([running("e", "a1", {"app": "e"}, affinity=affinity(term({"app": "web"}), anti=True))],
                 pod("p", labels={"app": "api"}), ["a1", "a2", "b1"], id="existing-anti-affinity-not-matching"),
])
def test_required_terms(existing: list[dict[str, Any]], p: dict[str, Any], feasible: list[str]) -> None:
    """Which nodes pass the required (anti-)affinity of the pod and of the pods already running."""
    h = Harness(NODES, existing, objects={"namespaces": [
        {"metadata": {"name": "default", "labels": {}}}, {"metadata": {"name": "other", "labels": {"team": "x"}}}]})
    assert h.feasible(p) == feasible


def test_failure_reasons_and_codes() -> None:
    """Affinity misses are unresolvable; anti-affinity conflicts can be solved by preemption."""
    h = Harness(NODES, [running("db", "a1", {"app": "db"}),
                        running("e", "b1", {"app": "e"}, affinity=affinity(term({"app": "web"}), anti=True))])
    st = h.filter(pod("p", affinity=affinity(term({"app": "db"}))), "b1")
    assert (st.code, st.reasons) == (Code.UNSCHEDULABLE_AND_UNRESOLVABLE, ["node(s) didn't match pod affinity rules"])
    st = h.filter(pod("p", affinity=affinity(term({"app": "db"}), anti=True)), "a2")
    assert (st.code, st.reasons) == (Code.UNSCHEDULABLE, ["node(s) didn't match pod anti-affinity rules"])
    st = h.filter(pod("p", labels={"app": "web"}), "b1")
    assert (st.code, st.reasons) == (Code.UNSCHEDULABLE,
                                     ["node(s) didn't satisfy existing pods anti-affinity rules"])


def test_plugin_skipped_without_terms() -> None:
    """No terms and no existing anti-affinity: PreFilter says Skip and Filter is not run."""
    h = Harness(NODES, [running("db", "a1", {"app": "db"})])
    state, _ = h.pre_filter(pod("p"))
    assert "InterPodAffinity" in state.skip_filter_plugins


def _preferred(weight: int, labels: dict[str, str], key: str = ZONE) -> dict[str, Any]:
    return {"weight": weight, "podAffinityTerm": term(labels, key)}


def test_preferred_affinity_and_anti_affinity_scores() -> None:
    h = Harness(NODES, [running("db", "a1", {"app": "db"}), running("cache", "b1", {"app": "cache"})])
    p = pod("p", affinity={"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        _preferred(10, {"app": "db"})]}, "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            _preferred(5, {"app": "cache"})]}})
    # zone a: +10, zone b: -5 -> normalized (score - min) / (max - min) * 100, weight 2
    assert h.scores(p, "InterPodAffinity") == {"a1": 200, "a2": 200, "b1": 0}


def test_existing_pods_terms_score_the_incoming_pod() -> None:
    """Existing pods' preferred terms and required affinity (hardPodAffinityWeight) pull the pod closer."""
    existing = [running("e1", "a1", {"app": "e1"}, affinity=affinity(term({"app": "web"}))),
                running("e2", "b1", {"app": "e2"}, affinity={"podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [_preferred(3, {"app": "web"})]}})]
    h = Harness(NODES, existing)
    assert h.scores(pod("p", labels={"app": "web"}), "InterPodAffinity") == {"a1": 200, "a2": 200, "b1": 0}
    cfg = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", "profiles": [{
        "pluginConfig": [{"name": "InterPodAffinity", "args": {"hardPodAffinityWeight": 0,
                                                               "ignorePreferredTermsOfExistingPods": True}}]}]}
    h = Harness(NODES, existing, config=cfg)
    assert h.scores(pod("p", labels={"app": "web"}), "InterPodAffinity") == {"a1": 0, "a2": 0, "b1": 0}
