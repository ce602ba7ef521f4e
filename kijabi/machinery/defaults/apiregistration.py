"""Defaults of `apiregistration.k8s.io/v1` APIServices (kube-aggregator): service port 443."""

from __future__ import annotations

from ._walk import Defaulter, Obj, pointer

GROUP = "apiregistration.k8s.io"


def api_service(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    service = pointer(spec, "service") if spec is not None else None
    if service is not None and service.get("port") is None:
        service["port"] = 443


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "APIService"): api_service,
}
