"""Defaults of `flowcontrol.apiserver.k8s.io/v1` (upstream pkg/apis/flowcontrol/v1/defaults.go)."""

from __future__ import annotations

from ._walk import Defaulter, Obj, pointer, struct

GROUP = "flowcontrol.apiserver.k8s.io"


def flow_schema(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if not spec.get("matchingPrecedence"):
        spec["matchingPrecedence"] = 1000


def priority_level_configuration(obj: Obj) -> None:
    spec = pointer(obj, "spec")
    if spec is None:
        return
    limited = pointer(spec, "limited")
    if limited is not None:
        if limited.get("nominalConcurrencyShares") is None:
            limited["nominalConcurrencyShares"] = 30
        if limited.get("lendablePercent") is None:
            limited["lendablePercent"] = 0
        response = pointer(limited, "limitResponse")
        queuing = pointer(response, "queuing") if response is not None else None
        if queuing is not None:
            if not queuing.get("handSize"):
                queuing["handSize"] = 8
            if not queuing.get("queues"):
                queuing["queues"] = 64
            if not queuing.get("queueLengthLimit"):
                queuing["queueLengthLimit"] = 50
    exempt = pointer(spec, "exempt")
    if exempt is not None:
        if exempt.get("nominalConcurrencyShares") is None:
            exempt["nominalConcurrencyShares"] = 0
        if exempt.get("lendablePercent") is None:
            exempt["lendablePercent"] = 0


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "FlowSchema"): flow_schema,
    ("v1", "PriorityLevelConfiguration"): priority_level_configuration,
}
