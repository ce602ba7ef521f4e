"""Defaults of `networking.k8s.io/v1` (upstream pkg/apis/networking/v1/defaults.go).

NetworkPolicy ports default to TCP and `policyTypes` to `[Ingress]` (plus `Egress` when egress
rules exist); IngressClass parameters default to cluster scope. Ingress has no defaults (`pathType`
is required, not defaulted).
"""

from __future__ import annotations

from ._walk import Defaulter, Obj, each, pointer, struct

GROUP = "networking.k8s.io"


def network_policy(obj: Obj) -> None:
    spec = struct(obj, "spec")
    for direction in ("ingress", "egress"):
        for rule in each(spec, direction):
            for port in each(rule, "ports"):
                if port.get("protocol") is None:
                    port["protocol"] = "TCP"
    if not spec.get("policyTypes"):
        types = ["Ingress"]
        if spec.get("egress"):
            types.append("Egress")
        spec["policyTypes"] = types


def ingress_class(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    parameters = pointer(spec, "parameters") if spec is not None else None
    if parameters is not None and parameters.get("scope") is None:
        parameters["scope"] = "Cluster"


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "NetworkPolicy"): network_policy,
    ("v1", "IngressClass"): ingress_class,
}
