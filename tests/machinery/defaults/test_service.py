"""Service defaults (reference 1.5): only what upstream defaulting sets, no IP or port allocation."""

from __future__ import annotations

from typing import Any

import pytest

from ._support import MISSING, Row, check, defaulted

SERVICE = ("", "v1", "Service")


def svc(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s", "namespace": "default"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}], **spec},
    }
    if status is not None:
        body["status"] = status
    return body


LB_STATUS = {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}, {"hostname": "lb.example.com"}]}}

ROWS = [
    Row("type", SERVICE, svc(), "spec.type", "ClusterIP"),
    Row("type kept", SERVICE, svc(type="NodePort"), "spec.type", "NodePort"),
    Row("sessionAffinity", SERVICE, svc(), "spec.sessionAffinity", "None"),
    Row(
        "sessionAffinityConfig dropped for None",
        SERVICE,
        svc(sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}}),
        "spec.sessionAffinityConfig",
        MISSING,
    ),
    Row(
        "ClientIP timeoutSeconds",
        SERVICE,
        svc(sessionAffinity="ClientIP"),
        "spec.sessionAffinityConfig",
        {"clientIP": {"timeoutSeconds": 10800}},
    ),
    Row(
        "ClientIP timeoutSeconds kept",
        SERVICE,
        svc(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
        "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
        60,
    ),
    Row("port protocol", SERVICE, svc(), "spec.ports[0].protocol", "TCP"),
    Row(
        "port protocol kept",
        SERVICE,
        svc(ports=[{"port": 53, "protocol": "UDP"}]),
        "spec.ports[0].protocol",
        "UDP",
    ),
    Row("targetPort from port", SERVICE, svc(), "spec.ports[0].targetPort", 80),
    Row(
        "targetPort 0 from port",
        SERVICE,
        svc(ports=[{"port": 81, "targetPort": 0}]),
        "spec.ports[0].targetPort",
        81,
    ),
    Row(
        "targetPort empty from port",
        SERVICE,
        svc(ports=[{"port": 82, "targetPort": ""}]),
        "spec.ports[0].targetPort",
        82,
    ),
    Row(
        "targetPort name kept",
        SERVICE,
        svc(ports=[{"port": 80, "targetPort": "http"}]),
        "spec.ports[0].targetPort",
        "http",
    ),
    Row(
        "targetPort number kept",
        SERVICE,
        svc(ports=[{"port": 80, "targetPort": 8080}]),
        "spec.ports[0].targetPort",
        8080,
    ),
    Row(
        "externalTrafficPolicy NodePort",
        SERVICE,
        svc(type="NodePort"),
        "spec.externalTrafficPolicy",
        "Cluster",
    ),
    Row(
        "externalTrafficPolicy LoadBalancer",
        SERVICE,
        svc(type="LoadBalancer"),
        "spec.externalTrafficPolicy",
        "Cluster",
    ),
    Row(
        "externalTrafficPolicy kept",
        SERVICE,
        svc(type="LoadBalancer", externalTrafficPolicy="Local"),
        "spec.externalTrafficPolicy",
        "Local",
    ),
    Row(
        "externalTrafficPolicy ClusterIP with externalIPs",
        SERVICE,
        svc(externalIPs=["192.0.2.9"]),
        "spec.externalTrafficPolicy",
        "Cluster",
    ),
    Row("no externalTrafficPolicy for ClusterIP", SERVICE, svc(), "spec.externalTrafficPolicy", MISSING),
    Row(
        "no externalTrafficPolicy for ExternalName",
        SERVICE,
        svc(type="ExternalName", externalName="x.example.com"),
        "spec.externalTrafficPolicy",
        MISSING,
    ),
    Row("internalTrafficPolicy ClusterIP", SERVICE, svc(), "spec.internalTrafficPolicy", "Cluster"),
    Row(
        "internalTrafficPolicy NodePort",
        SERVICE,
        svc(type="NodePort"),
        "spec.internalTrafficPolicy",
        "Cluster",
    ),
    Row(
        "internalTrafficPolicy LoadBalancer",
        SERVICE,
        svc(type="LoadBalancer"),
        "spec.internalTrafficPolicy",
        "Cluster",
    ),
    Row(
        "internalTrafficPolicy kept",
        SERVICE,
        svc(internalTrafficPolicy="Local"),
        "spec.internalTrafficPolicy",
        "Local",
    ),
    Row(
        "no internalTrafficPolicy for ExternalName",
        SERVICE,
        svc(type="ExternalName", externalName="x.example.com"),
        "spec.internalTrafficPolicy",
        MISSING,
    ),
    Row(
        "allocateLoadBalancerNodePorts",
        SERVICE,
        svc(type="LoadBalancer"),
        "spec.allocateLoadBalancerNodePorts",
        True,
    ),
    Row(
        "allocateLoadBalancerNodePorts kept",
        SERVICE,
        svc(type="LoadBalancer", allocateLoadBalancerNodePorts=False),
        "spec.allocateLoadBalancerNodePorts",
        False,
    ),
    Row(
        "no allocateLoadBalancerNodePorts for NodePort",
        SERVICE,
        svc(type="NodePort"),
        "spec.allocateLoadBalancerNodePorts",
        MISSING,
    ),
    Row(
        "ingress ipMode",
        SERVICE,
        svc(LB_STATUS, type="LoadBalancer"),
        "status.loadBalancer.ingress[0].ipMode",
        "VIP",
    ),
    Row(
        "no ipMode without ip",
        SERVICE,
        svc(LB_STATUS, type="LoadBalancer"),
        "status.loadBalancer.ingress[1].ipMode",
        MISSING,
    ),
    Row(
        "no ipMode unless LoadBalancer",
        SERVICE,
        svc(LB_STATUS),
        "status.loadBalancer.ingress[0].ipMode",
        MISSING,
    ),
    # Allocation belongs to the Service storage, not to defaulting.
    Row("no clusterIP", SERVICE, svc(), "spec.clusterIP", MISSING),
    Row("no ipFamilyPolicy", SERVICE, svc(), "spec.ipFamilyPolicy", MISSING),
    Row("no ipFamilies", SERVICE, svc(), "spec.ipFamilies", MISSING),
    Row("no nodePort", SERVICE, svc(type="NodePort"), "spec.ports[0].nodePort", MISSING),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_service_defaults(row: Row) -> None:
    """Each upstream Service default is applied where it is missing and leaves set values alone."""
    check(row)


def test_complete_service() -> None:
    """A minimal ClusterIP Service gets exactly the defaulted fields of v1.32."""
    out = defaulted(SERVICE, svc())
    assert out["spec"] == {
        "selector": {"app": "web"},
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
    }
