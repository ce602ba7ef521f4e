"""The autoscaling group: HorizontalPodAutoscaler, v2 and v1
(upstream kubernetes `pkg/apis/autoscaling/validation/validation.go`, HPAScaleToZero off)."""

from __future__ import annotations

from typing import Any

from kijabi.machinery import errors as E

from . import meta
from ._util import Ctx, Errs, Obj, Validator, d, lst, num, quantity, s

MAX_PERIOD_SECONDS = 1800
MAX_STABILIZATION_WINDOW_SECONDS = 3600
_SOURCE_TYPES = ["ContainerResource", "External", "Object", "Pods", "Resource"]
_SOURCE_FIELDS = {
    "Object": "object",
    "Pods": "pods",
    "Resource": "resource",
    "External": "external",
    "ContainerResource": "containerResource",
}


def _cross_version_ref(ref: Obj, path: str) -> Errs:
    errs: Errs = []
    for key in ("kind", "name"):
        value = s(ref.get(key))
        if not value:
            errs.append(E.required(f"{path}.{key}"))
        else:
            errs.extend(
                E.invalid_value(f"{path}.{key}", value, m) for m in meta.is_valid_path_segment_name(value)
            )
    return errs


def _positive(raw: Any, path: str, errs: Errs) -> None:
    q = quantity(raw, path, errs)
    if q is not None and q.sign() != 1:
        errs.append(E.invalid_value(path, str(q), "must be positive"))


def _metric_target(target: Obj, path: str) -> Errs:
    errs: Errs = []
    kind = s(target.get("type"))
    if not kind:
        errs.append(E.required(f"{path}.type", "must specify a metric target type"))
    if kind not in ("Utilization", "Value", "AverageValue"):
        errs.append(
            E.invalid_value(f"{path}.type", kind, "must be either Utilization, Value, or AverageValue")
        )
    if target.get("value") is not None:
        _positive(target["value"], f"{path}.value", errs)
    if target.get("averageValue") is not None:
        _positive(target["averageValue"], f"{path}.averageValue", errs)
    utilization = target.get("averageUtilization")
    if utilization is not None and num(utilization) < 1:
        errs.append(E.invalid_value(f"{path}.averageUtilization", utilization, "must be greater than 0"))
    return errs


def _metric_identifier(metric: Obj, path: str) -> Errs:
    name = s(metric.get("name"))
    if not name:
        return [E.required(f"{path}.name", "must specify a metric name")]
    return [E.invalid_value(f"{path}.name", name, m) for m in meta.is_valid_path_segment_name(name)]


def _utilization_or_value(target: Obj, path: str) -> Errs:
    errs: Errs = []
    if target.get("averageUtilization") is None and target.get("averageValue") is None:
        errs.append(
            E.required(
                f"{path}.target.averageUtilization",
                "must set either a target raw value or a target utilization",
            )
        )
    if target.get("averageUtilization") is not None and target.get("averageValue") is not None:
        errs.append(
            E.forbidden_field(
                f"{path}.target.averageValue", "may not set both a target raw value and a target utilization"
            )
        )
    return errs


def _source(kind: str, src: Obj, path: str) -> Errs:
    target = d(src.get("target"))
    errs: Errs = []
    if kind == "object":
        errs.extend(_cross_version_ref(d(src.get("describedObject")), f"{path}.describedObject"))
        errs.extend(_metric_identifier(d(src.get("metric")), f"{path}.metric"))
        errs.extend(_metric_target(target, f"{path}.target"))
        if target.get("value") is None and target.get("averageValue") is None:
            errs.append(
                E.required(f"{path}.target.averageValue", "must set either a target value or averageValue")
            )
    elif kind == "external":
        errs.extend(_metric_identifier(d(src.get("metric")), f"{path}.metric"))
        errs.extend(_metric_target(target, f"{path}.target"))
        if target.get("value") is None and target.get("averageValue") is None:
            errs.append(
                E.required(
                    f"{path}.target.averageValue",
                    "must set either a target value for metric or a per-pod target",
                )
            )
        if target.get("value") is not None and target.get("averageValue") is not None:
            errs.append(
                E.forbidden_field(
                    f"{path}.target.value", "may not set both a target value for metric and a per-pod target"
                )
            )
    elif kind == "pods":
        errs.extend(_metric_identifier(d(src.get("metric")), f"{path}.metric"))
        errs.extend(_metric_target(target, f"{path}.target"))
        if target.get("averageValue") is None:
            errs.append(
                E.required(f"{path}.target.averageValue", "must specify a positive target averageValue")
            )
    elif kind == "resource":
        if not s(src.get("name")):
            errs.append(E.required(f"{path}.name", "must specify a resource name"))
        errs.extend(_metric_target(target, f"{path}.target"))
        errs.extend(_utilization_or_value(target, path))
    elif kind == "containerResource":
        if not s(src.get("name")):
            errs.append(E.required(f"{path}.name", "must specify a resource name"))
        container = s(src.get("container"))
        if not container:
            errs.append(E.required(f"{path}.container", "must specify a container"))
        else:
            errs.extend(
                E.invalid_value(f"{path}.container", container, m) for m in meta.is_dns1123_label(container)
            )
        errs.extend(_metric_target(target, f"{path}.target"))
        errs.extend(_utilization_or_value(target, path))
    return errs


def _metric_spec(metric: Obj, path: str) -> Errs:
    errs: Errs = []
    kind = s(metric.get("type"))
    if not kind:
        errs.append(E.required(f"{path}.type", "must specify a metric source type"))
    if kind not in _SOURCE_TYPES:
        errs.append(E.not_supported(f"{path}.type", kind, _SOURCE_TYPES))
    present: list[str] = []
    for field in ("object", "external", "pods", "resource", "containerResource"):
        if metric.get(field) is not None:
            present.append(field)
            if len(present) == 1:
                errs.extend(_source(field, d(metric[field]), f"{path}.{field}"))
    expected = _SOURCE_FIELDS.get(kind, "")
    if expected:
        if metric.get(expected) is None:
            errs.append(
                E.required(f"{path}.{expected}", "must populate information for the given metric source")
            )
    else:
        errs.append(E.not_supported(f"{path}.type", kind, _SOURCE_TYPES))
    if len(present) != 1:
        errs.extend(
            E.forbidden_field(f"{path}.{f}", "must populate the given metric source only")
            for f in present
            if f != expected
        )
    return errs


def _scaling_rules(rules: Any, path: str) -> Errs:
    if rules is None:
        return []
    rules = d(rules)
    errs: Errs = []
    window = rules.get("stabilizationWindowSeconds")
    if window is not None and num(window) < 0:
        errs.append(
            E.invalid_value(
                f"{path}.stabilizationWindowSeconds", window, "must be greater than or equal to zero"
            )
        )
    if window is not None and num(window) > MAX_STABILIZATION_WINDOW_SECONDS:
        errs.append(
            E.invalid_value(
                f"{path}.stabilizationWindowSeconds",
                window,
                f"must be less than or equal to {MAX_STABILIZATION_WINDOW_SECONDS}",
            )
        )
    select = rules.get("selectPolicy")
    if select is not None and select not in ("Disabled", "Max", "Min"):
        errs.append(E.not_supported(f"{path}.selectPolicy", select, ["Disabled", "Max", "Min"]))
    policies = lst(rules.get("policies"))
    if not policies:
        errs.append(E.required(f"{path}.policies", "must specify at least one Policy"))
    for i, policy in enumerate(policies):
        policy = d(policy)
        p = f"{path}.policies[{i}]"
        if policy.get("type") not in ("Percent", "Pods"):
            errs.append(E.not_supported(f"{p}.type", s(policy.get("type")), ["Percent", "Pods"]))
        if num(policy.get("value")) <= 0:
            errs.append(E.invalid_value(f"{p}.value", num(policy.get("value")), "must be greater than zero"))
        period = num(policy.get("periodSeconds"))
        if period <= 0:
            errs.append(E.invalid_value(f"{p}.periodSeconds", period, "must be greater than zero"))
        if period > MAX_PERIOD_SECONDS:
            errs.append(
                E.invalid_value(
                    f"{p}.periodSeconds", period, f"must be less than or equal to {MAX_PERIOD_SECONDS}"
                )
            )
    return errs


def _hpa(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    if old is None:
        errs = meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain)
        lower = 1
    else:
        errs = meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
        lower = 0 if d(old.get("spec")).get("minReplicas") == 0 else 1
    min_replicas, max_replicas = spec.get("minReplicas"), num(spec.get("maxReplicas"))
    if min_replicas is not None and num(min_replicas) < lower:
        errs.append(
            E.invalid_value("spec.minReplicas", min_replicas, f"must be greater than or equal to {lower}")
        )
    if max_replicas < 1:
        errs.append(E.invalid_value("spec.maxReplicas", max_replicas, "must be greater than 0"))
    if min_replicas is not None and max_replicas < num(min_replicas):
        errs.append(
            E.invalid_value(
                "spec.maxReplicas", max_replicas, "must be greater than or equal to `minReplicas`"
            )
        )
    errs.extend(_cross_version_ref(d(spec.get("scaleTargetRef")), "spec.scaleTargetRef"))
    if ctx.version == "v1":
        target = spec.get("targetCPUUtilizationPercentage")
        if target is not None and num(target) < 1:
            errs.append(
                E.invalid_value(
                    "spec.metrics[0].resource.target.averageUtilization", target, "must be greater than 0"
                )
            )
        return errs
    metrics = lst(spec.get("metrics"))
    kinds = set()
    for i, metric in enumerate(metrics):
        errs.extend(_metric_spec(d(metric), f"spec.metrics[{i}]"))
        kinds.add(s(d(metric).get("type")))
    if min_replicas == 0 and not kinds & {"Object", "External"}:
        errs.append(
            E.forbidden_field(
                "spec.metrics",
                "must specify at least one Object or External metric to support scaling to zero replicas",
            )
        )
    behavior = spec.get("behavior")
    if behavior is not None:
        errs.extend(_scaling_rules(d(behavior).get("scaleUp"), "spec.behavior.scaleUp"))
        errs.extend(_scaling_rules(d(behavior).get("scaleDown"), "spec.behavior.scaleDown"))
    return errs


VALIDATORS: dict[str, Validator] = {"HorizontalPodAutoscaler": _hpa}
