"""Services: ports, types, cluster IPs, traffic policies, session affinity and the update rules
(cluster IPs, families and load balancer class may not change once set)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_messages import DNS1123_LABEL, LABEL_VALUE, PORT_RANGE
from tests.machinery.validation.validation_objects import BUILDERS, DELETE, edit, errors_of, run, stored

INVALID, REQUIRED, FORBIDDEN = "FieldValueInvalid", "FieldValueRequired", "FieldValueForbidden"
DUPLICATE, UNSUPPORTED = "FieldValueDuplicate", "FieldValueNotSupported"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


def port(name: str = "", number: int = 80, protocol: str = "TCP", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"port": number, "protocol": protocol, "targetPort": number, **extra}
    if name:
        out["name"] = name
    return out


CASES = [
    pytest.param(e(("spec.ports", [])), [(REQUIRED, "spec.ports", "")], id="ports-required"),
    pytest.param(
        e(("spec.ports", []), ("spec.clusterIP", "None"), ("spec.clusterIPs", ["None"])),
        [],
        id="headless-without-ports",
    ),
    pytest.param(
        e(("spec.ports[0].port", 70000), ("spec.ports[0].targetPort", 8080)),
        [(INVALID, "spec.ports[0].port", PORT_RANGE)],
        id="port-range",
    ),
    pytest.param(
        e(("spec.ports[0].protocol", "HTTP")),
        [(UNSUPPORTED, "spec.ports[0].protocol", 'supported values: "SCTP", "TCP", "UDP"')],
        id="protocol",
    ),
    pytest.param(
        e(("spec.ports", [port("http"), port(number=443)])),
        [(REQUIRED, "spec.ports[1].name", "")],
        id="names-required-with-several-ports",
    ),
    pytest.param(
        e(("spec.ports", [port("http"), port("http", 443)])),
        [(DUPLICATE, "spec.ports[1].name", "")],
        id="port-name-duplicate",
    ),
    pytest.param(
        e(("spec.ports[0].name", "HTTP")),
        [(INVALID, "spec.ports[0].name", DNS1123_LABEL)],
        id="port-name-label",
    ),
    pytest.param(
        e(("spec.ports", [port("a"), port("b")])),
        [(DUPLICATE, "spec.ports[1]", "")],
        id="port-protocol-duplicate",
    ),
    pytest.param(
        e(("spec.ports[0].targetPort", "Http")),
        [
            (
                INVALID,
                "spec.ports[0].targetPort",
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            )
        ],
        id="target-port-name",
    ),
    pytest.param(
        e(("spec.type", "Internal")),
        [
            (
                UNSUPPORTED,
                "spec.type",
                'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
            )
        ],
        id="type",
    ),
    pytest.param(
        e(("spec.ports[0].nodePort", 30080)),
        [(FORBIDDEN, "spec.ports[0].nodePort", "may not be used when `type` is 'ClusterIP'")],
        id="node-port-on-cluster-ip",
    ),
    pytest.param(
        e(
            ("spec.type", "NodePort"),
            ("spec.externalTrafficPolicy", "Cluster"),
            ("spec.ports", [port("a", 80, nodePort=30080), port("b", 81, nodePort=30080)]),
        ),
        [(DUPLICATE, "spec.ports[1].nodePort", "")],
        id="node-port-duplicate",
    ),
    pytest.param(
        e(("spec.externalTrafficPolicy", "Local")),
        [(INVALID, "spec.externalTrafficPolicy", "may only be set for externally-accessible services")],
        id="external-traffic-policy-cluster-ip",
    ),
    pytest.param(
        e(("spec.type", "NodePort")),
        [(REQUIRED, "spec.externalTrafficPolicy", "")],
        id="external-traffic-policy-required",
    ),
    pytest.param(
        e(
            ("spec.type", "LoadBalancer"),
            ("spec.externalTrafficPolicy", "Local"),
            ("spec.allocateLoadBalancerNodePorts", True),
        ),
        [(REQUIRED, "spec.healthCheckNodePort", "")],
        id="health-check-node-port-required",
    ),
    pytest.param(
        e(("spec.type", "LoadBalancer"), ("spec.externalTrafficPolicy", "Cluster")),
        [(REQUIRED, "allocateLoadBalancerNodePorts", "")],
        id="allocate-node-ports-required",
    ),
    pytest.param(
        e(
            ("spec.type", "LoadBalancer"),
            ("spec.externalTrafficPolicy", "Cluster"),
            ("spec.allocateLoadBalancerNodePorts", True),
            ("spec.ports[0].port", 10250),
        ),
        [(INVALID, "spec.ports[0]", "may not expose port 10250 externally since it is used by kubelet")],
        id="load-balancer-kubelet-port",
    ),
    pytest.param(
        e(("spec.loadBalancerSourceRanges", ["10.0.0.0/8"])),
        [(FORBIDDEN, "spec.LoadBalancerSourceRanges", "may only be used when `type` is 'LoadBalancer'")],
        id="source-ranges-not-lb",
    ),
    pytest.param(
        e(
            ("spec.type", "ExternalName"),
            ("spec.externalName", ""),
            ("spec.clusterIP", DELETE),
            ("spec.clusterIPs", DELETE),
            ("spec.ipFamilies", DELETE),
            ("spec.ipFamilyPolicy", DELETE),
            ("spec.internalTrafficPolicy", DELETE),
        ),
        [(REQUIRED, "spec.externalName", "")],
        id="external-name-required",
    ),
    pytest.param(
        e(
            ("spec.type", "ExternalName"),
            ("spec.externalName", "db.example.com."),
            ("spec.internalTrafficPolicy", DELETE),
        ),
        [
            (FORBIDDEN, "spec.clusterIPs", "may not be set for ExternalName services"),
            (FORBIDDEN, "spec.ipFamilies", "may not be set for ExternalName services"),
            (FORBIDDEN, "spec.ipFamilyPolicy", "may not be set for ExternalName services"),
        ],
        id="external-name-with-ips",
    ),
    pytest.param(
        e(("spec.clusterIPs", ["10.43.0.21"])),
        [(INVALID, "spec.clusterIPs", "first value must match `clusterIP`")],
        id="cluster-ips-first",
    ),
    pytest.param(
        e(("spec.clusterIP", "10.43.0.300"), ("spec.clusterIPs", ["10.43.0.300"])),
        [(INVALID, "spec.clusterIPs[0]", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")],
        id="cluster-ip-invalid",
    ),
    pytest.param(
        e(("spec.clusterIPs", ["10.43.0.20", "10.43.0.21"])),
        [(INVALID, "spec.clusterIPs", "may specify no more than one IP for each IP family")],
        id="cluster-ips-same-family",
    ),
    pytest.param(
        e(("spec.ipFamilies", ["IPv6"])),
        [(INVALID, "spec.clusterIPs[0]", "expected an IPv6 value as indicated by `ipFamilies[0]`")],
        id="cluster-ip-family-mismatch",
    ),
    pytest.param(
        e(("spec.sessionAffinity", "ClientIP")),
        [(REQUIRED, "spec.sessionAffinityConfig", "when session affinity type is ClientIP")],
        id="client-ip-affinity-config",
    ),
    pytest.param(
        e(
            ("spec.sessionAffinity", "ClientIP"),
            ("spec.sessionAffinityConfig", {"clientIP": {"timeoutSeconds": 100000}}),
        ),
        [
            (
                INVALID,
                "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                "must be greater than 0 and less than 86400",
            )
        ],
        id="client-ip-timeout",
    ),
    pytest.param(
        e(("spec.internalTrafficPolicy", DELETE)),
        [(REQUIRED, "spec.internalTrafficPolicy", "")],
        id="internal-traffic-policy-required",
    ),
    pytest.param(
        e(("spec.externalIPs", ["127.0.0.1"]), ("spec.externalTrafficPolicy", "Cluster")),
        [(INVALID, "spec.externalIPs[0]", "may not be in the loopback range (127.0.0.0/8, ::1/128)")],
        id="external-ip-loopback",
    ),
    pytest.param(
        e(("spec.loadBalancerClass", "example.com/lb")),
        [(FORBIDDEN, "spec.loadBalancerClass", "may only be used when `type` is 'LoadBalancer'")],
        id="load-balancer-class-not-lb",
    ),
    pytest.param(
        e(("spec.selector", {"app": "-x"})), [(INVALID, "spec.selector", LABEL_VALUE)], id="selector-labels"
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), CASES)
def test_service_create_rule(
    mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run("Service", mutate) == expected


def test_cluster_ip_may_not_change() -> None:
    old = stored(BUILDERS["Service"]())
    new = e(("spec.clusterIP", "10.43.0.99"), ("spec.clusterIPs", ["10.43.0.99"]))
    changed = stored(BUILDERS["Service"]())
    new(changed)
    assert errors_of("Service", changed, old) == [(INVALID, "spec.clusterIPs[0]", "may not change once set")]


def test_service_type_may_change() -> None:
    old = stored(BUILDERS["Service"]())
    new = edit(
        edit(stored(BUILDERS["Service"]()), "spec.type", "NodePort"), "spec.externalTrafficPolicy", "Cluster"
    )
    assert errors_of("Service", new, old) == []


def test_health_check_node_port_is_immutable() -> None:
    def lb(hc: int) -> dict[str, Any]:
        obj = stored(BUILDERS["Service"]())
        obj["spec"] |= {
            "type": "LoadBalancer",
            "externalTrafficPolicy": "Local",
            "allocateLoadBalancerNodePorts": True,
            "healthCheckNodePort": hc,
        }
        return obj

    assert errors_of("Service", lb(31000), lb(30000)) == [
        (FORBIDDEN, "spec.healthCheckNodePort", "field is immutable")
    ]
