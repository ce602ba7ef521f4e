"""Endpoints and EndpointSlices follow the pods of a Service: readiness, publishNotReadyAddresses, named
target ports, hostname/subdomain, nodeName, targetRef; selector-less services are left alone."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.controllers.cluster.harness import Kube, wait_for
from tests.e2e.cluster import Cluster

NODE = "ep-node"
SLICE_LABEL = "kubernetes.io/service-name"


@pytest.fixture
def node(kube: Kube) -> str:
    if kube.get("v1", "nodes", NODE) is None:
        kube.node(NODE, labels={"topology.kubernetes.io/zone": "zone-a"})
    return NODE


def service(kube: Kube, ns: str, name: str = "web", **spec: Any) -> Any:
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"tier": "front"}},
            "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}], **spec}}
    return kube.create("v1", "services", body, ns)


def web_pod(kube: Kube, ns: str, name: str, ip: str, *, ready: bool, node: str, port: int = 8080, **spec: Any) -> None:
    kube.pod(ns, name, labels={"app": "web"}, node=node, ports=[{"name": "web", "containerPort": port}], **spec)
    kube.set_pod_status(ns, name, ready=ready, ip=ip)


def endpoints(kube: Kube, ns: str, name: str = "web") -> Any:
    return kube.get("v1", "endpoints", name, ns)


def addresses(ep: Any, field: str = "addresses") -> list[str]:
    return sorted(a["ip"] for s in (ep or {}).get("subsets") or [] for a in s.get(field) or [])


def slices(kube: Kube, ns: str, name: str = "web") -> list[Any]:
    return kube.list("discovery.k8s.io/v1", "endpointslices", ns, labelSelector=f"{SLICE_LABEL}={name}")


def slice_endpoints(kube: Kube, ns: str, name: str = "web") -> dict[str, dict[str, Any]]:
    return {e["addresses"][0]: e for s in slices(kube, ns, name) for e in s.get("endpoints") or []}


def test_endpoints_follow_pod_readiness(kube: Kube, namespace: str, node: str, cluster: Cluster) -> None:
    """Ready pods are addresses, others notReadyAddresses; the named targetPort resolves per pod."""
    service(kube, namespace)
    web_pod(kube, namespace, "a", "10.42.0.11", ready=True, node=node)
    web_pod(kube, namespace, "b", "10.42.0.12", ready=False, node=node, port=9090)
    wait_for(lambda: addresses(endpoints(kube, namespace)) == ["10.42.0.11"] and
             addresses(endpoints(kube, namespace), "notReadyAddresses") == ["10.42.0.12"], what="endpoints split")
    ep = endpoints(kube, namespace)
    assert ep["metadata"]["labels"] == {"tier": "front"}
    by_ip = {a["ip"]: (a, s["ports"]) for s in ep["subsets"] for f in ("addresses", "notReadyAddresses") for a in s.get(f, [])}
    addr, ports = by_ip["10.42.0.11"]
    assert ports == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert by_ip["10.42.0.12"][1] == [{"name": "http", "port": 9090, "protocol": "TCP"}]
    assert addr["nodeName"] == node
    assert addr["targetRef"]["kind"] == "Pod" and addr["targetRef"]["name"] == "a" and addr["targetRef"]["namespace"] == namespace
    kube.set_pod_status(namespace, "b", ready=True, ip="10.42.0.12")
    wait_for(lambda: addresses(endpoints(kube, namespace)) == ["10.42.0.11", "10.42.0.12"], what="b ready")
    out = cluster.kubectl("get", "endpoints", "web", "-n", namespace).stdout
    assert "10.42.0.11:8080" in out and "10.42.0.12:9090" in out
    kube.delete("v1", "pods", "a", namespace, gracePeriodSeconds=0)
    wait_for(lambda: addresses(endpoints(kube, namespace)) == ["10.42.0.12"], what="a removed")


def test_endpoint_slices_follow_pods(kube: Kube, namespace: str, node: str) -> None:
    """One slice with both pods, conditions ready/serving/terminating, zone from the node, owned by the
    service and labelled as upstream's controller labels them."""
    svc = service(kube, namespace)
    web_pod(kube, namespace, "a", "10.42.0.21", ready=True, node=node)
    web_pod(kube, namespace, "b", "10.42.0.22", ready=False, node=node)
    wait_for(lambda: set(slice_endpoints(kube, namespace)) == {"10.42.0.21", "10.42.0.22"}, what="slice endpoints")
    [s] = slices(kube, namespace)
    assert s["addressType"] == "IPv4"
    assert s["metadata"]["generateName"] == "web-"
    assert s["metadata"]["labels"] == {"tier": "front", SLICE_LABEL: "web",
                                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                 "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert s["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    eps = slice_endpoints(kube, namespace)
    assert eps["10.42.0.21"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert eps["10.42.0.22"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert eps["10.42.0.21"]["nodeName"] == node and eps["10.42.0.21"]["zone"] == "zone-a"
    assert eps["10.42.0.21"]["targetRef"]["name"] == "a"
    # A pod going away gracefully (it is bound to a node) stays as a terminating endpoint.
    kube.delete("v1", "pods", "a", namespace)
    wait_for(lambda: slice_endpoints(kube, namespace)["10.42.0.21"]["conditions"] ==
             {"ready": False, "serving": True, "terminating": True}, what="terminating endpoint")


def test_publish_not_ready_addresses(kube: Kube, namespace: str, node: str) -> None:
    service(kube, namespace, publishNotReadyAddresses=True)
    web_pod(kube, namespace, "a", "10.42.0.31", ready=False, node=node)
    wait_for(lambda: addresses(endpoints(kube, namespace)) == ["10.42.0.31"], what="not-ready published")
    wait_for(lambda: slice_endpoints(kube, namespace).get("10.42.0.31", {}).get("conditions") ==
             {"ready": True, "serving": False, "terminating": False}, what="slice ready by publishNotReadyAddresses")


def test_headless_service_with_hostname_and_subdomain(kube: Kube, namespace: str, node: str) -> None:
    service(kube, namespace, clusterIP="None")
    web_pod(kube, namespace, "a", "10.42.0.41", ready=True, node=node, hostname="a", subdomain="web")
    ep = wait_for(lambda: (e := endpoints(kube, namespace)) and addresses(e) == ["10.42.0.41"] and e, what="endpoints")
    assert ep["subsets"][0]["addresses"][0]["hostname"] == "a"
    assert ep["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    eps = wait_for(lambda: slice_endpoints(kube, namespace), what="slice")
    assert eps["10.42.0.41"]["hostname"] == "a"


def test_service_without_selector_is_left_alone(kube: Kube, namespace: str, node: str) -> None:
    """Endpoints written by hand for a selector-less service are not touched, no slices are made."""
    kube.create("v1", "services", {"metadata": {"name": "manual"}, "spec": {"ports": [{"port": 80}]}}, namespace)
    kube.create("v1", "endpoints", {"metadata": {"name": "manual"}, "subsets": [
        {"addresses": [{"ip": "192.0.2.1"}], "ports": [{"port": 80}]}]}, namespace)
    service(kube, namespace)  # a selector service, as a witness that the controllers ran meanwhile
    web_pod(kube, namespace, "a", "10.42.0.51", ready=True, node=node)
    wait_for(lambda: addresses(endpoints(kube, namespace)) == ["10.42.0.51"], what="witness endpoints")
    assert addresses(endpoints(kube, namespace, "manual")) == ["192.0.2.1"]
    assert slices(kube, namespace, "manual") == []


def test_deleting_the_service_removes_endpoints_and_slices(kube: Kube, namespace: str, node: str) -> None:
    service(kube, namespace)
    web_pod(kube, namespace, "a", "10.42.0.61", ready=True, node=node)
    wait_for(lambda: addresses(endpoints(kube, namespace)) and slices(kube, namespace), what="endpoints and slices")
    kube.delete("v1", "services", "web", namespace)
    wait_for(lambda: endpoints(kube, namespace) is None and not slices(kube, namespace), what="all removed")


def test_service_without_pods_gets_a_placeholder_slice(kube: Kube, namespace: str) -> None:
    service(kube, namespace)
    [s] = wait_for(lambda: slices(kube, namespace), what="placeholder slice")
    assert s["endpoints"] in ([], None) and not s.get("ports")
    ep = wait_for(lambda: endpoints(kube, namespace), what="empty endpoints")
    assert not ep.get("subsets")


def test_many_pods_are_split_into_slices(kube: Kube, namespace: str, node: str) -> None:
    """12 ready pods with at most 5 endpoints per slice (the session's setting; upstream's 100 is covered
    by the unit tests): slices of 5, 5 and 2, every endpoint exactly once."""
    service(kube, namespace)
    for i in range(12):
        web_pod(kube, namespace, f"p{i}", f"10.42.1.{i + 1}", ready=True, node=node)
    got = wait_for(lambda: (s := slices(kube, namespace)) and sum(len(x.get("endpoints") or []) for x in s) == 12 and s,
                   what="12 endpoints in slices")
    sizes = sorted(len(x["endpoints"]) for x in got)
    assert sizes == [2, 5, 5]
    ips = [e["addresses"][0] for x in got for e in x["endpoints"]]
    assert len(set(ips)) == 12


def test_pods_of_unknown_nodes_are_left_out_of_slices(kube: Kube, namespace: str) -> None:
    """As upstream: a pod bound to a node that does not exist is skipped (the Endpoints still list it)."""
    service(kube, namespace)
    ghost = "ghost-" + uuid.uuid4().hex[:6]
    web_pod(kube, namespace, "a", "10.42.0.71", ready=True, node=ghost)
    wait_for(lambda: addresses(endpoints(kube, namespace)) == ["10.42.0.71"], what="endpoints")
    [s] = wait_for(lambda: slices(kube, namespace), what="slice")
    assert not s.get("endpoints")
