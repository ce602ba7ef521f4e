"""Resources served in two API versions over one stored form (upstream converts through the
internal version; we convert directly between the two external ones).

- events.k8s.io/v1 Event over the stored core/v1 Event (`/registry/events/`).
- autoscaling/v1 HorizontalPodAutoscaler over the stored autoscaling/v2 form.
"""

from __future__ import annotations

from typing import Any

from kijabi.apiserver.strategies.core import EventStrategy
from kijabi.apiserver.strategies.workloads import GenerationStrategy

# events.k8s.io/v1 name -> core/v1 name
_EVENT_FIELDS = {
    "regarding": "involvedObject",
    "note": "message",
    "reportingController": "reportingComponent",
    "deprecatedSource": "source",
    "deprecatedFirstTimestamp": "firstTimestamp",
    "deprecatedLastTimestamp": "lastTimestamp",
    "deprecatedCount": "count",
}
_EVENT_BACK = {v: k for k, v in _EVENT_FIELDS.items()}


class EventsV1Strategy(EventStrategy):
    needs_conversion = True

    def convert_in(self, obj: dict[str, Any]) -> None:
        for new, old in _EVENT_FIELDS.items():
            if new in obj:
                obj[old] = obj.pop(new)
        obj["apiVersion"] = "v1"

    def convert_out(self, obj: dict[str, Any]) -> dict[str, Any]:
        out = {_EVENT_BACK.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = "events.k8s.io/v1"
        return out

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        # The watch cache passes the stored (core/v1) form; a served events.k8s.io form is mapped back.
        return EventStrategy.fields(self, _core(obj) if "regarding" in obj else obj)


def _core(obj: dict[str, Any]) -> dict[str, Any]:
    return {_EVENT_FIELDS.get(k, k): v for k, v in obj.items()}


_CPU = "cpu"


class HPAv1Strategy(GenerationStrategy):
    """autoscaling/v1 carries only a CPU utilization target; the stored v2 form has `metrics`."""

    needs_conversion = True

    def convert_in(self, obj: dict[str, Any]) -> None:
        spec = obj.get("spec") or {}
        target = spec.pop("targetCPUUtilizationPercentage", None)
        if target is not None:
            spec["metrics"] = [{"type": "Resource", "resource": {
                "name": _CPU, "target": {"type": "Utilization", "averageUtilization": target}}}]
        status = obj.get("status")
        if isinstance(status, dict):
            current = status.pop("currentCPUUtilizationPercentage", None)
            if current is not None:
                status["currentMetrics"] = [{"type": "Resource", "resource": {
                    "name": _CPU, "current": {"averageUtilization": current}}}]
        obj["apiVersion"] = "autoscaling/v2"

    def convert_out(self, obj: dict[str, Any]) -> dict[str, Any]:
        obj["apiVersion"] = "autoscaling/v1"
        spec = obj.get("spec") or {}
        metrics = spec.pop("metrics", None) or []
        spec.pop("behavior", None)
        for m in metrics:
            res = m.get("resource") or {}
            if m.get("type") == "Resource" and res.get("name") == _CPU and (res.get("target") or {}).get("type") == "Utilization":
                spec["targetCPUUtilizationPercentage"] = res["target"].get("averageUtilization")
        status = obj.get("status")
        if isinstance(status, dict):
            current = status.pop("currentMetrics", None) or []
            status.pop("conditions", None)
            for m in current:
                res = m.get("resource") or {}
                if m.get("type") == "Resource" and res.get("name") == _CPU:
                    value = (res.get("current") or {}).get("averageUtilization")
                    if value is not None:
                        status["currentCPUUtilizationPercentage"] = value
        return obj
