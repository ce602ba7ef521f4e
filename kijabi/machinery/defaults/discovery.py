"""Defaults of `discovery.k8s.io/v1` (upstream pkg/apis/discovery/v1/defaults.go).

EndpointSlice ports are pointers in the API, so their defaults are visible: `name: ""` and
`protocol: TCP`.
"""

from __future__ import annotations

from ._walk import Defaulter, Obj, each

GROUP = "discovery.k8s.io"


def endpoint_slice(obj: Obj) -> None:
    for port in each(obj, "ports"):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "EndpointSlice"): endpoint_slice,
}
