"""Defaults of `scheduling.k8s.io/v1` (upstream pkg/apis/scheduling/v1/defaults.go)."""

from __future__ import annotations

from ._walk import Defaulter, Obj

GROUP = "scheduling.k8s.io"


def priority_class(obj: Obj) -> None:
    if obj.get("preemptionPolicy") is None:
        obj["preemptionPolicy"] = "PreemptLowerPriority"


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "PriorityClass"): priority_class,
}
