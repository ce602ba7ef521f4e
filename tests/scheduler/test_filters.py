"""Filter semantics of the node-local plugins: NodeName, NodeUnschedulable, TaintToleration, NodePorts,
NodeResourcesFit, NodeAffinity (upstream's reasons and codes)."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.scheduler.framework.status import Code
from tests.scheduler.helpers import Harness, node, pod

NO_SCHEDULE = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
NO_EXECUTE = {"key": "k", "value": "v", "effect": "NoExecute"}
PREFER = {"key": "soft", "value": "x", "effect": "PreferNoSchedule"}


def _verdict(n: dict[str, Any], p: dict[str, Any], existing: list[dict[str, Any]] = ()) -> tuple[Code, list[str]]:
    h = Harness([n], list(existing))
    st = h.filter(p, n["metadata"]["name"])
    return (Code.SUCCESS, []) if st is None else (st.code, st.reasons)


UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


@pytest.mark.parametrize(("n", "p", "want"), [
    pytest.param(node("n1"), pod("p", nodeName="n1"), (Code.SUCCESS, []), id="node-name-matches"),
    pytest.param(node("n1"), pod("p", nodeName="n2"),
                 (UNRESOLVABLE, ["node(s) didn't match the requested node name"]), id="node-name-differs"),
    pytest.param(node("n1", unschedulable=True), pod("p"), (UNRESOLVABLE, ["node(s) were unschedulable"]),
                 id="unschedulable-node"),
    pytest.param(node("n1", unschedulable=True),
                 pod("p", tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                                        "effect": "NoSchedule"}]), (Code.SUCCESS, []),
                 id="unschedulable-node-tolerated"),
    pytest.param(node("n1", taints=[NO_SCHEDULE]), pod("p"),
                 (UNRESOLVABLE, ["node(s) had untolerated taint {dedicated: gpu}"]), id="taint-no-schedule"),
    pytest.param(node("n1", taints=[NO_EXECUTE]), pod("p"),
                 (UNRESOLVABLE, ["node(s) had untolerated taint {k: v}"]), id="taint-no-execute"),
    pytest.param(node("n1", taints=[PREFER]), pod("p"), (Code.SUCCESS, []), id="taint-prefer-no-schedule-passes"),
    pytest.param(node("n1", taints=[NO_SCHEDULE]),
                 pod("p", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu", "effect": "NoSchedule"}]),
                 (Code.SUCCESS, []), id="toleration-equal"),
    pytest.param(node("n1", taints=[NO_SCHEDULE]), pod("p", tolerations=[{"key": "dedicated", "operator": "Exists"}]),
                 (Code.SUCCESS, []), id="toleration-exists-any-effect"),
    pytest.param(node("n1", taints=[NO_SCHEDULE]), pod("p", tolerations=[{"operator": "Exists"}]),
                 (Code.SUCCESS, []), id="toleration-exists-everything"),
    pytest.param(node("n1", taints=[NO_SCHEDULE]),
                 pod("p", tolerations=[{"key": "dedicated", "value": "cpu", "effect": "NoSchedule"}]),
                 (UNRESOLVABLE, ["node(s) had untolerated taint {dedicated: gpu}"]), id="toleration-wrong-value"),
    pytest.param(node("n1", taints=[NO_SCHEDULE]),
                 pod("p", tolerations=[{"key": "dedicated", "value": "gpu", "effect": "NoExecute"}]),
                 (UNRESOLVABLE, ["node(s) had untolerated taint {dedicated: gpu}"]), id="toleration-wrong-effect"),
])
def test_node_local_filters(n: dict[str, Any], p: dict[str, Any], want: tuple[Code, list[str]]) -> None:
    """Name, unschedulable and taint filters give upstream's codes and reasons."""
    assert _verdict(n, p) == want


def _port_pod(name: str, port: int, ip: str = "", proto: str = "TCP", node_name: str | None = None) -> dict[str, Any]:
    ports: dict[str, Any] = {"containerPort": 80, "hostPort": port, "protocol": proto}
    if ip:
        ports["hostIP"] = ip
    return pod(name, containers=[{"name": "c", "image": "i", "ports": [ports]}], node_name=node_name)


@pytest.mark.parametrize(("existing", "wanted", "fits"), [
    pytest.param([], _port_pod("p", 8080), True, id="free-port"),
    pytest.param([_port_pod("e", 8080, node_name="n1")], _port_pod("p", 8080), False, id="same-port-any-ip"),
    pytest.param([_port_pod("e", 8080, node_name="n1")], _port_pod("p", 8081), True, id="other-port"),
    pytest.param([_port_pod("e", 8080, proto="UDP", node_name="n1")], _port_pod("p", 8080), True, id="other-protocol"),
    pytest.param([_port_pod("e", 8080, ip="10.0.0.1", node_name="n1")], _port_pod("p", 8080, ip="10.0.0.2"), True,
                 id="different-host-ips"),
    pytest.param([_port_pod("e", 8080, ip="10.0.0.1", node_name="n1")], _port_pod("p", 8080, ip="0.0.0.0"), False,
                 id="wildcard-wanted-conflicts-with-specific"),
    pytest.param([_port_pod("e", 8080, node_name="n1")], _port_pod("p", 8080, ip="10.0.0.2"), False,
                 id="specific-wanted-conflicts-with-wildcard"),
])
def test_node_ports(existing: list[dict[str, Any]], wanted: dict[str, Any], fits: bool) -> None:
    """hostPort conflicts follow upstream's (ip, protocol, port) rules with 0.0.0.0 as wildcard."""
    code, reasons = _verdict(node("n1"), wanted, existing)
    assert (code == Code.SUCCESS) == fits
    if not fits:
        assert (code, reasons) == (Code.UNSCHEDULABLE, ["node(s) didn't have free ports for the requested pod ports"])


def _c(name: str, **requests: str) -> dict[str, Any]:
    return {"name": name, "image": "i", "resources": {"requests": requests}}


@pytest.mark.parametrize(("n", "existing", "p", "want"), [
    pytest.param(node("n1", cpu="2", memory="2Gi"), [], pod("p", cpu="1", memory="1Gi"), [], id="fits"),
    pytest.param(node("n1", cpu="2"), [pod("e", cpu="1500m", node_name="n1")], pod("p", cpu="600m"),
                 ["Insufficient cpu"], id="insufficient-cpu"),
    pytest.param(node("n1", cpu="2"), [pod("e", cpu="1500m", node_name="n1")], pod("p", cpu="500m"), [],
                 id="exactly-full"),
    pytest.param(node("n1", cpu="1", memory="1Gi"), [], pod("p", cpu="2", memory="2Gi"),
                 ["Insufficient cpu", "Insufficient memory"], id="all-reasons-kept"),
    pytest.param(node("n1", pods=1), [pod("e", node_name="n1")], pod("p"), ["Too many pods"], id="too-many-pods"),
    pytest.param(node("n1", extra={"ephemeral-storage": "1Gi"}), [],
                 pod("p", containers=[_c("c", **{"ephemeral-storage": "2Gi"})]), ["Insufficient ephemeral-storage"],
                 id="insufficient-ephemeral-storage"),
    pytest.param(node("n1", extra={"example.com/gpu": "1"}), [],
                 pod("p", containers=[_c("c", **{"example.com/gpu": "2"})]), ["Insufficient example.com/gpu"],
                 id="insufficient-extended-resource"),
    pytest.param(node("n1"), [], pod("p", containers=[_c("c", **{"example.com/gpu": "1"})]),
                 ["Insufficient example.com/gpu"], id="extended-resource-absent-on-node"),
    pytest.param(node("n1", cpu="2"), [],
                 pod("p", containers=[_c("a", cpu="1"), _c("b", cpu="1")], initContainers=[_c("i", cpu="2")]), [],
                 id="init-container-max-not-sum"),
    pytest.param(node("n1", cpu="2"), [],
                 pod("p", containers=[_c("a", cpu="1")], initContainers=[_c("i", cpu="3")]), ["Insufficient cpu"],
                 id="large-init-container"),
    pytest.param(node("n1", cpu="2"), [],
                 pod("p", containers=[_c("a", cpu="1500m")],
                     initContainers=[{**_c("side", cpu="1"), "restartPolicy": "Always"}]), ["Insufficient cpu"],
                 id="sidecar-adds-to-containers"),
    pytest.param(node("n1", cpu="2"), [], pod("p", cpu="1500m", overhead={"cpu": "600m"}), ["Insufficient cpu"],
                 id="overhead-counts"),
])
def test_node_resources_fit(n: dict[str, Any], existing: list[dict[str, Any]], p: dict[str, Any],
                            want: list[str]) -> None:
    """Requests (containers, init containers, sidecars, overhead) against allocatable minus requested."""
    code, reasons = _verdict(n, p, existing)
    assert reasons == want
    assert code == (Code.UNSCHEDULABLE if want else Code.SUCCESS)


def test_fit_ignores_configured_extended_resources() -> None:
    """ignoredResources and ignoredResourceGroups skip extended resources in the filter."""
    cfg = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", "profiles": [{
        "pluginConfig": [{"name": "NodeResourcesFit", "args": {"ignoredResources": ["example.com/gpu"],
                                                               "ignoredResourceGroups": ["vendor.io"]}}]}]}
    h = Harness([node("n1")], config=cfg)
    p = pod("p", containers=[_c("c", **{"example.com/gpu": "1", "vendor.io/fpga": "1"})])
    assert h.filter(p, "n1") is None
    assert h.filter(pod("q", containers=[_c("c", **{"other.io/x": "1"})]), "n1").reasons == ["Insufficient other.io/x"]


def _affinity(*terms: dict[str, Any]) -> dict[str, Any]:
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}}}


def _expr(key: str, op: str, *values: str) -> dict[str, Any]:
    e: dict[str, Any] = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


LABELED = node("n1", labels={"disk": "ssd", "gen": "5", "zone": "a"})
MISMATCH = (UNRESOLVABLE, ["node(s) didn't match Pod's node affinity/selector"])


@pytest.mark.parametrize(("p", "want"), [
    pytest.param(pod("p", nodeSelector={"disk": "ssd"}), (Code.SUCCESS, []), id="node-selector-match"),
    pytest.param(pod("p", nodeSelector={"disk": "hdd"}), MISMATCH, id="node-selector-mismatch"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "In", "ssd", "nvme")]})),
                 (Code.SUCCESS, []), id="in"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "NotIn", "ssd")]})), MISMATCH,
                 id="not-in"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("absent", "NotIn", "x")]})),
                 (Code.SUCCESS, []), id="not-in-absent-key-matches"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "Exists")]})), (Code.SUCCESS, []),
                 id="exists"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "DoesNotExist")]})), MISMATCH,
                 id="does-not-exist"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("gen", "Gt", "4")]})), (Code.SUCCESS, []),
                 id="gt"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("gen", "Lt", "5")]})), MISMATCH, id="lt"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "Gt", "4")]})), MISMATCH,
                 id="gt-non-integer-label"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "In", "hdd")]},
                                             {"matchExpressions": [_expr("zone", "In", "a")]})),
                 (Code.SUCCESS, []), id="terms-are-ored"),
    pytest.param(pod("p", affinity=_affinity({"matchExpressions": [_expr("disk", "In", "ssd"),
                                                                   _expr("zone", "In", "b")]})), MISMATCH,
                 id="expressions-are-anded"),
    pytest.param(pod("p", affinity=_affinity({})), MISMATCH, id="empty-term-matches-nothing"),
    pytest.param(pod("p", affinity=_affinity({"matchFields": [_expr("metadata.name", "In", "n1")]})),
                 (Code.SUCCESS, []), id="match-fields-name"),
    pytest.param(pod("p", nodeSelector={"disk": "ssd"},
                     affinity=_affinity({"matchExpressions": [_expr("zone", "In", "b")]})), MISMATCH,
                 id="selector-and-affinity-both-required"),
])
def test_node_affinity_filter(p: dict[str, Any], want: tuple[Code, list[str]]) -> None:
    """nodeSelector and required node affinity (operators, ORed terms, ANDed expressions, matchFields)."""
    assert _verdict(LABELED, p) == want


def test_node_affinity_match_fields_narrow_candidates() -> None:
    """matchFields on metadata.name becomes a PreFilterResult: other nodes are not even evaluated."""
    h = Harness([node("n1"), node("n2"), node("n3")])
    p = pod("p", affinity=_affinity({"matchFields": [_expr("metadata.name", "In", "n2")]}))
    assert h.schedule(p) == "n2"
    p = pod("p", cpu="100", affinity=_affinity({"matchFields": [_expr("metadata.name", "In", "n2")]}))
    assert h.schedule(p) == ("0/3 nodes are available: 1 Insufficient cpu, "
                             "2 node(s) didn't satisfy plugin(s) [NodeAffinity].")


def test_node_affinity_added_affinity() -> None:
    """Args addedAffinity is enforced on every pod with its own reason."""
    cfg = {"apiVersion": "kubescheduler.config.k8s.io/v1", "kind": "KubeSchedulerConfiguration", "profiles": [{
        "pluginConfig": [{"name": "NodeAffinity", "args": {"addedAffinity": _affinity(
            {"matchExpressions": [_expr("pool", "In", "batch")]})["nodeAffinity"]}}]}]}
    h = Harness([node("n1", labels={"pool": "batch"}), node("n2")], config=cfg)
    assert h.feasible(pod("p")) == ["n1"]
    st = h.filter(pod("p"), "n2")
    assert (st.code, st.reasons) == (UNRESOLVABLE, ["node(s) didn't match scheduler-enforced node affinity"])
