"""Defaults of HorizontalPodAutoscaler in `autoscaling/v1` and `autoscaling/v2`.

v2 (upstream pkg/apis/autoscaling/v2/defaults.go): one CPU utilization metric at 80% when no metric
is given, and when `behavior` is present its missing parts are filled from the historical policies.
The later `tolerance` and `selectionStrategy` fields do not exist in v1.32 and get no default.
"""

from __future__ import annotations

from typing import Any

from ._walk import Defaulter, Obj, pointer, struct

GROUP = "autoscaling"

_DEFAULT_CPU_UTILIZATION = 80


def _scale_up_rules() -> dict[str, Any]:
    return {
        "stabilizationWindowSeconds": 0,
        "selectPolicy": "Max",
        "policies": [
            {"type": "Pods", "value": 4, "periodSeconds": 15},
            {"type": "Percent", "value": 100, "periodSeconds": 15},
        ],
    }


def _scale_down_rules() -> dict[str, Any]:
    # The scale-down stabilization window stays unset: the controller's flag decides it.
    return {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]}


def _fill_rules(behavior: Obj, key: str, defaults: dict[str, Any]) -> None:
    given = pointer(behavior, key)
    if given is None:
        behavior[key] = defaults
        return
    for field, value in defaults.items():
        if given.get(field) is None:
            given[field] = value


def horizontal_pod_autoscaler_v1(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1


def horizontal_pod_autoscaler_v2(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("minReplicas") is None:
        spec["minReplicas"] = 1
    if not spec.get("metrics"):
        spec["metrics"] = [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": _DEFAULT_CPU_UTILIZATION},
                },
            }
        ]
    behavior = pointer(spec, "behavior")
    if behavior is not None:
        _fill_rules(behavior, "scaleUp", _scale_up_rules())
        _fill_rules(behavior, "scaleDown", _scale_down_rules())


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "HorizontalPodAutoscaler"): horizontal_pod_autoscaler_v1,
    ("v2", "HorizontalPodAutoscaler"): horizontal_pod_autoscaler_v2,
}
