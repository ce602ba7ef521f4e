"""What the endpoints and endpointslice controllers compute from a service and its pods (pure parts)."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.controllers.cluster.endpoints import desired_subsets, find_port, repack_subsets, truncate
from kijabi.controllers.cluster.endpointslice import (
    MAX_ENDPOINTS_PER_SLICE,
    SliceTracker,
    endpoint_key,
    endpoint_ports,
    plan_slices,
    pod_to_endpoint,
    ports_key,
)


def svc(**spec: Any) -> dict[str, Any]:
    base = {"selector": {"app": "web"}, "clusterIP": "10.43.0.10", "ports": [{"name": "http", "port": 80, "targetPort": "web",
                                                                             "protocol": "TCP"}]}
    return {"metadata": {"name": "web", "namespace": "ns", "uid": "svc-uid", "labels": {"tier": "front"}},
            "spec": {**base, **spec}}


def pod(name: str, ip: str | None, *, ready: bool = True, port: int = 8080, deleting: bool = False,
        phase: str = "Running", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2030-01-01T00:00:00Z"
    status: dict[str, Any] = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}
    if ip:
        status["podIP"] = ip
        status["podIPs"] = [{"ip": ip}]
    return {"metadata": meta, "spec": {"nodeName": "n1", "containers": [
        {"name": "c", "ports": [{"name": "web", "containerPort": port}]}], **spec}, "status": status}


def ips(subsets: list[dict[str, Any]], field: str) -> list[str]:
    return [a["ip"] for s in subsets for a in s.get(field, [])]


@pytest.mark.parametrize(("pods", "spec", "ready", "not_ready"), [
    ([pod("a", "10.0.0.1")], {}, ["10.0.0.1"], []),
    ([pod("a", "10.0.0.1", ready=False)], {}, [], ["10.0.0.1"]),
    ([pod("a", "10.0.0.1", ready=False)], {"publishNotReadyAddresses": True}, ["10.0.0.1"], []),
    ([pod("a", None)], {}, [], []),
    ([pod("a", "10.0.0.1", phase="Succeeded")], {}, [], []),
    ([pod("a", "10.0.0.1", deleting=True)], {}, [], []),
    ([pod("a", "10.0.0.1", deleting=True)], {"publishNotReadyAddresses": True}, ["10.0.0.1"], []),
], ids=["ready", "not-ready", "publish-not-ready", "no-ip", "terminal", "terminating", "terminating-published"])
def test_which_pods_become_addresses(pods: list[dict[str, Any]], spec: dict[str, Any], ready: list[str],
                                     not_ready: list[str]) -> None:
    subsets, _ = desired_subsets(svc(**spec), pods)
    assert ips(subsets, "addresses") == ready
    assert ips(subsets, "notReadyAddresses") == not_ready


def test_named_target_port_resolves_per_pod_and_repacks_by_port() -> None:
    """Pods listening on different container ports end in different subsets; a pod without the named
    port is left out of that port."""
    pods = [pod("a", "10.0.0.1", port=8080), pod("b", "10.0.0.2", port=8080), pod("c", "10.0.0.3", port=9090)]
    lacking = pod("d", "10.0.0.4")
    lacking["spec"]["containers"][0]["ports"] = []
    subsets, _ = desired_subsets(svc(), [*pods, lacking])
    assert [(ips([s], "addresses"), s["ports"]) for s in subsets] == [
        (["10.0.0.1", "10.0.0.2"], [{"port": 8080, "protocol": "TCP", "name": "http"}]),
        (["10.0.0.3"], [{"port": 9090, "protocol": "TCP", "name": "http"}]),
    ]
    addr = subsets[0]["addresses"][0]
    assert addr["nodeName"] == "n1"
    assert addr["targetRef"] == {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}


@pytest.mark.parametrize(("target", "expected"), [(8080, 8080), ("web", 8080), ("9000", 9000), ("nope", None), (None, 80)],
                         ids=["number", "name", "numeric-string", "unknown-name", "defaults-to-port"])
def test_find_port(target: Any, expected: int | None) -> None:
    sp: dict[str, Any] = {"port": 80, "protocol": "TCP"}
    if target is not None:
        sp["targetPort"] = target
    assert find_port(pod("a", "10.0.0.1"), sp) == expected


def test_hostname_needs_the_matching_subdomain() -> None:
    with_sub = pod("a", "10.0.0.1", hostname="a", subdomain="web")
    other_sub = pod("b", "10.0.0.2", hostname="b", subdomain="other")
    subsets, _ = desired_subsets(svc(), [with_sub, other_sub])
    hosts = {a["ip"]: a.get("hostname") for s in subsets for a in s["addresses"]}
    assert hosts == {"10.0.0.1": "a", "10.0.0.2": None}


def test_headless_service_without_ports_lists_addresses() -> None:
    subsets, _ = desired_subsets(svc(clusterIP="None", ports=[]), [pod("a", "10.0.0.1")])
    assert subsets == [{"addresses": [subsets[0]["addresses"][0]]}]
    subsets, _ = desired_subsets(svc(ports=[]), [pod("a", "10.0.0.1")])
    assert subsets == []


def test_repack_prefers_not_ready_when_an_address_is_seen_both_ways() -> None:
    a = {"ip": "10.0.0.1", "targetRef": {"uid": "1"}}
    port = {"port": 80, "protocol": "TCP"}
    out = repack_subsets([{"addresses": [a], "ports": [port]}, {"notReadyAddresses": [a], "ports": [port]}])
    assert out == [{"notReadyAddresses": [a], "ports": [port]}]


def test_truncate_keeps_ready_addresses_first() -> None:
    subsets = [{"addresses": [{"ip": f"10.0.{i // 250}.{i % 250}"} for i in range(900)],
                "notReadyAddresses": [{"ip": f"10.1.{i // 250}.{i % 250}"} for i in range(300)]}]
    assert truncate(subsets)
    assert len(subsets[0]["addresses"]) == 900 and len(subsets[0]["notReadyAddresses"]) == 100
    assert not truncate([{"addresses": [{"ip": "10.0.0.1"}]}])


# -- endpoint slices ---------------------------------------------------------------------------------


def test_pod_to_endpoint_conditions() -> None:
    node = {"metadata": {"name": "n1", "labels": {"topology.kubernetes.io/zone": "z1"}}}
    ep = pod_to_endpoint(pod("a", "10.0.0.1", deleting=True), node, svc(), "IPv4")
    assert ep == {"addresses": ["10.0.0.1"], "conditions": {"ready": False, "serving": True, "terminating": True},
                  "targetRef": {"kind": "Pod", "namespace": "ns", "name": "a", "uid": "uid-a"}, "nodeName": "n1", "zone": "z1"}
    assert pod_to_endpoint(pod("a", "10.0.0.1"), None, svc(), "IPv6")["addresses"] == []


def desired_for(pods: list[dict[str, Any]], service: dict[str, Any] | None = None) -> dict[str, Any]:
    service = service or svc()
    groups: dict[Any, Any] = {}
    for p in pods:
        ports = endpoint_ports(service, p)
        group = groups.setdefault(ports_key(ports), (ports, {}))
        ep = pod_to_endpoint(p, None, service, "IPv4")
        group[1][endpoint_key(ep)] = ep
    return {"IPv4": groups}


def many(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [pod(f"p{i}", f"10.0.{i // 200}.{i % 200 + 1}") for i in range(start, start + n)]


def materialize(plan_create: list[dict[str, Any]], names: list[str]) -> list[dict[str, Any]]:
    out = []
    for s, name in zip(plan_create, names, strict=True):
        s = {**s, "metadata": {**s["metadata"], "name": name, "uid": name, "resourceVersion": "1"}}
        out.append(s)
    return out


def test_250_endpoints_fill_three_slices_of_at_most_100() -> None:
    plan = plan_slices(svc(), desired_for(many(250)), [])
    assert sorted(len(s["endpoints"]) for s in plan.create) == [50, 100, 100]
    assert MAX_ENDPOINTS_PER_SLICE == 100
    first = plan.create[0]
    assert first["metadata"]["generateName"] == "web-"
    assert first["metadata"]["labels"] == {"tier": "front", "kubernetes.io/service-name": "web",
                                           "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert first["metadata"]["ownerReferences"][0]["uid"] == "svc-uid"
    assert first["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_nothing_to_do_when_slices_match() -> None:
    pods = many(10)
    existing = materialize(plan_slices(svc(), desired_for(pods), []).create, ["s1"])
    assert plan_slices(svc(), desired_for(pods), existing).empty()


def test_a_changed_endpoint_updates_only_its_slice() -> None:
    pods = many(150)
    existing = materialize(plan_slices(svc(), desired_for(pods), []).create, ["s1", "s2"])
    pods[120]["status"]["conditions"][0]["status"] = "False"
    plan = plan_slices(svc(), desired_for(pods), existing)
    assert not plan.create and not plan.delete
    [updated] = plan.update
    holder = next(s for s in existing if any(e["targetRef"]["name"] == "p120" for e in s["endpoints"]))
    assert updated["metadata"]["name"] == holder["metadata"]["name"]


def test_new_endpoints_fill_an_unchanged_slice_with_room() -> None:
    existing = materialize(plan_slices(svc(), desired_for(many(3)), []).create, ["s1"])
    plan = plan_slices(svc(), desired_for(many(5)), existing)
    assert not plan.create and [len(s["endpoints"]) for s in plan.update] == [5]


def test_emptied_slice_is_deleted_and_empty_service_keeps_a_placeholder() -> None:
    existing = materialize(plan_slices(svc(), desired_for(many(150)), []).create, ["s1", "s2"])
    plan = plan_slices(svc(), desired_for(many(100)), existing)
    assert len(plan.delete) + len(plan.update) >= 1 and not plan.create
    kept = [s for s in existing if s["metadata"]["name"] not in {d["metadata"]["name"] for d in plan.delete}]
    assert sum(len(s["endpoints"]) for s in plan.update) + sum(
        len(s["endpoints"]) for s in kept if s["metadata"]["name"] not in {u["metadata"]["name"] for u in plan.update}) == 100
    # No pods: one slice is turned into the placeholder (a create paired with a delete is an update).
    plan = plan_slices(svc(), desired_for([]), existing)
    assert not plan.create and len(plan.delete) == 1
    [placeholder] = plan.update
    assert placeholder["endpoints"] == [] and placeholder["ports"] == []
    # The placeholder alone is left as it is.
    assert plan_slices(svc(), desired_for([]), [placeholder]).empty()


def test_slices_of_another_address_type_are_deleted() -> None:
    existing = materialize(plan_slices(svc(), desired_for(many(2)), []).create, ["s1"])
    existing[0]["addressType"] = "IPv6"
    plan = plan_slices(svc(), desired_for(many(2)), existing)
    assert [s["metadata"]["name"] for s in plan.delete] == ["s1"] and len(plan.create) == 1


def test_tracker_reports_a_cache_behind_our_writes() -> None:
    t = SliceTracker()
    t.wrote("ns/web", {"metadata": {"name": "s1", "resourceVersion": "10"}})
    assert t.stale("ns/web", [])
    assert t.stale("ns/web", [{"metadata": {"name": "s1", "resourceVersion": "9"}}])
    assert not t.stale("ns/web", [{"metadata": {"name": "s1", "resourceVersion": "10"}}])
    t.removed("ns/web", "s1")
    assert t.stale("ns/web", [{"metadata": {"name": "s1", "resourceVersion": "10"}}])
    assert not t.stale("ns/web", [])
