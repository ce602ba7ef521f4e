"""The apps group: Deployment, ReplicaSet, StatefulSet, DaemonSet, ControllerRevision.

Upstream: kubernetes `pkg/apis/apps/validation/validation.go`, plus the apps/v1 selector
immutability that `pkg/registry/apps/*/strategy.go` adds on update.
"""

from __future__ import annotations

from typing import Any

from kijabi.machinery import errors as E

from . import core_pod, meta
from ._util import (
    Ctx,
    Errs,
    Obj,
    Validator,
    d,
    immutable,
    int_or_percent,
    lst,
    nonnegative,
    num,
    s,
    sem_equal,
)


def validate_positive_int_or_percent(value: Any, path: str) -> Errs:
    """An IntOrString that is a non-negative int or a `N%` string."""
    if isinstance(value, str):
        return [E.invalid_value(path, value, m) for m in meta.is_valid_percent(value)]
    if isinstance(value, int) and not isinstance(value, bool):
        errs: Errs = []
        nonnegative(value, path, errs)
        return errs
    return [E.invalid_value(path, value, "must be an integer or percentage (e.g '5%%')")]


def not_more_than_100_percent(value: Any, path: str) -> Errs:
    number, percent = int_or_percent(value)
    if percent and number > 100:
        return [E.invalid_value(path, value, "must not be greater than 100%")]
    return []


def _selector(spec: Obj, kind: str, errs: Errs) -> meta.Selector | None:
    """Required, well-formed, non-empty; returns the converted selector (None if conversion fails)."""
    sel = spec.get("selector")
    if sel is None:
        errs.append(E.required("spec.selector"))
    else:
        errs.extend(meta.validate_label_selector(sel, "spec.selector"))
        if not d(sel).get("matchLabels") and not lst(d(sel).get("matchExpressions")):
            errs.append(E.invalid_value("spec.selector", sel, f"empty selector is invalid for {kind}"))
    return meta.selector_from(sel)


def _template_for_replica_set(spec: Obj, selector: meta.Selector, kind: str) -> Errs:
    template = spec.get("template")
    if not isinstance(template, dict):
        return [E.required("spec.template")]
    errs: Errs = []
    labels = d(d(template.get("metadata")).get("labels"))
    if not selector.empty and not selector.matches(labels):
        errs.append(
            E.invalid_value(
                "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    errs.extend(core_pod.validate_pod_template_spec(template, "spec.template"))
    tspec = d(template.get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(
            E.not_supported("spec.template.spec.restartPolicy", s(tspec.get("restartPolicy")), ["Always"])
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            E.forbidden_field(
                "spec.template.spec.activeDeadlineSeconds",
                f"activeDeadlineSeconds in {kind} is not Supported",
            )
        )
    return errs


def _rs_like_spec(spec: Obj, selector_kind: str, errs: Errs) -> None:
    selector = _selector(spec, selector_kind, errs)
    if selector is None:
        errs.append(E.invalid_value("spec.selector", spec.get("selector"), "invalid label selector"))
    else:
        errs.extend(_template_for_replica_set(spec, selector, "ReplicaSet"))


def _meta(obj: Obj, old: Obj | None, name_fn: meta.NameFn) -> Errs:
    if old is None:
        return meta.validate_object_meta(obj.get("metadata"), True, name_fn)
    return meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))


def _immutable_selector(obj: Obj, old: Obj | None, errs: Errs) -> None:
    if old is not None:
        immutable(
            d(obj.get("spec")).get("selector"), d(old.get("spec")).get("selector"), "spec.selector", errs
        )


# --- Deployment -----------------------------------------------------------------------------------


def _deployment_strategy(strategy: Obj, path: str) -> Errs:
    errs: Errs = []
    kind = strategy.get("type")
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate":
        if rolling is not None:
            errs.append(
                E.forbidden_field(
                    f"{path}.rollingUpdate", "may not be specified when strategy `type` is 'Recreate'"
                )
            )
    elif kind == "RollingUpdate":
        if rolling is None:
            errs.append(E.required(f"{path}.rollingUpdate", "this should be defaulted and never be nil"))
        else:
            rolling = d(rolling)
            rp = f"{path}.rollingUpdate"
            unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
            errs.extend(validate_positive_int_or_percent(unavailable, f"{rp}.maxUnavailable"))
            errs.extend(validate_positive_int_or_percent(surge, f"{rp}.maxSurge"))
            if int_or_percent(unavailable)[0] == 0 and int_or_percent(surge)[0] == 0:
                errs.append(
                    E.invalid_value(f"{rp}.maxUnavailable", unavailable, "may not be 0 when `maxSurge` is 0")
                )
            errs.extend(not_more_than_100_percent(unavailable, f"{rp}.maxUnavailable"))
    else:
        errs.append(E.not_supported(path, strategy, ["Recreate", "RollingUpdate"]))
    return errs


def _deployment(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs = _meta(obj, old, meta.name_is_dns_subdomain)
    nonnegative(spec.get("replicas"), "spec.replicas", errs)
    _rs_like_spec(spec, "deployment", errs)
    errs.extend(_deployment_strategy(d(spec.get("strategy")), "spec.strategy"))
    nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", errs)
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        nonnegative(deadline, "spec.progressDeadlineSeconds", errs)
        if num(deadline) <= num(spec.get("minReadySeconds")):
            errs.append(
                E.invalid_value(
                    "spec.progressDeadlineSeconds", deadline, "must be greater than minReadySeconds"
                )
            )
    _immutable_selector(obj, old, errs)
    return errs


# --- ReplicaSet -----------------------------------------------------------------------------------


def _replica_set(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs = _meta(obj, old, meta.name_is_dns_subdomain)
    nonnegative(spec.get("replicas"), "spec.replicas", errs)
    nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    # Upstream says "deployment" here too.
    _rs_like_spec(spec, "deployment", errs)
    _immutable_selector(obj, old, errs)
    return errs


# --- DaemonSet ------------------------------------------------------------------------------------


def _daemon_set_strategy(strategy: Obj, path: str) -> Errs:
    kind = strategy.get("type")
    if kind == "OnDelete":
        return []
    if kind != "RollingUpdate":
        return [E.not_supported(path, strategy, ["RollingUpdate", "OnDelete"])]
    rolling = strategy.get("rollingUpdate")
    if rolling is None:
        return [E.required(f"{path}.rollingUpdate")]
    rolling = d(rolling)
    rp = f"{path}.rollingUpdate"
    unavailable, surge = rolling.get("maxUnavailable"), rolling.get("maxSurge")
    errs = validate_positive_int_or_percent(unavailable, f"{rp}.maxUnavailable")
    errs.extend(validate_positive_int_or_percent(surge, f"{rp}.maxSurge"))
    errs.extend(not_more_than_100_percent(unavailable, f"{rp}.maxUnavailable"))
    errs.extend(not_more_than_100_percent(surge, f"{rp}.maxSurge"))
    has_unavailable = int_or_percent(unavailable)[0] != 0
    has_surge = int_or_percent(surge)[0] != 0
    if has_unavailable and has_surge:
        errs.append(
            E.invalid_value(f"{rp}.maxSurge", surge, "may not be set when maxUnavailable is non-zero")
        )
    elif not has_unavailable and not has_surge:
        errs.append(E.required(f"{rp}.maxUnavailable", "cannot be 0 when maxSurge is 0"))
    return errs


def _daemon_set(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs = _meta(obj, old, meta.name_is_dns_subdomain)
    sel = spec.get("selector")
    errs.extend(meta.validate_label_selector(sel, "spec.selector"))
    selector = meta.selector_from(sel)
    template = d(spec.get("template"))
    labels = d(d(template.get("metadata")).get("labels"))
    if selector is not None and not selector.matches(labels):
        errs.append(
            E.invalid_value(
                "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    if sel is not None and not d(sel).get("matchLabels") and not lst(d(sel).get("matchExpressions")):
        errs.append(E.invalid_value("spec.selector", sel, "empty selector is invalid for daemonset"))
    errs.extend(core_pod.validate_pod_template_spec(template, "spec.template"))
    tspec = d(template.get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(
            E.not_supported("spec.template.spec.restartPolicy", s(tspec.get("restartPolicy")), ["Always"])
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            E.forbidden_field(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in DaemonSet is not Supported",
            )
        )
    nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    errs.extend(_daemon_set_strategy(d(spec.get("updateStrategy")), "spec.updateStrategy"))
    nonnegative(spec.get("revisionHistoryLimit"), "spec.revisionHistoryLimit", errs)
    _immutable_selector(obj, old, errs)
    return errs


# --- StatefulSet ----------------------------------------------------------------------------------

_STS_MUTABLE = (
    "replicas",
    "template",
    "updateStrategy",
    "minReadySeconds",
    "ordinals",
    "persistentVolumeClaimRetentionPolicy",
)


def _stateful_set(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    spec = d(obj.get("spec"))
    errs = _meta(obj, old, meta.name_is_dns_label)
    policy = s(spec.get("podManagementPolicy"))
    if not policy:
        errs.append(E.required("spec.podManagementPolicy"))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(
            E.invalid_value("spec.podManagementPolicy", policy, "must be 'OrderedReady' or 'Parallel'")
        )
    strategy = d(spec.get("updateStrategy"))
    kind = s(strategy.get("type"))
    rolling = strategy.get("rollingUpdate")
    if not kind:
        errs.append(E.required("spec.updateStrategy"))
    elif kind == "OnDelete":
        if rolling is not None:
            errs.append(
                E.invalid_value(
                    "spec.updateStrategy.rollingUpdate",
                    rolling,
                    "only allowed for updateStrategy 'RollingUpdate'",
                )
            )
    elif kind == "RollingUpdate":
        if rolling is not None:
            nonnegative(d(rolling).get("partition"), "spec.updateStrategy.rollingUpdate.partition", errs)
    else:
        errs.append(E.invalid_value("spec.updateStrategy", strategy, "must be 'RollingUpdate' or 'OnDelete'"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy")
    if retention is not None:
        for key in ("whenDeleted", "whenScaled"):
            value = s(d(retention).get(key))
            if value not in ("Retain", "Delete"):
                errs.append(
                    E.not_supported(
                        f"spec.persistentVolumeClaimRetentionPolicy.{key}", value, ["Retain", "Delete"]
                    )
                )
    nonnegative(spec.get("replicas"), "spec.replicas", errs)
    nonnegative(spec.get("minReadySeconds"), "spec.minReadySeconds", errs)
    ordinals = spec.get("ordinals")
    if ordinals is not None:
        nonnegative(d(ordinals).get("start"), "spec.ordinals.start", errs)
    selector = _selector(spec, "statefulset", errs)
    if selector is None:
        errs.append(E.invalid_value("spec.selector", spec.get("selector"), ""))
    else:
        template = d(spec.get("template"))
        md = d(template.get("metadata"))
        labels = d(md.get("labels"))
        if not selector.empty and not selector.matches(labels):
            errs.append(
                E.invalid_value(
                    "spec.template.metadata.labels", labels, "`selector` does not match template `labels`"
                )
            )
        # Upstream validates only the template's labels and annotations here, not its pod spec.
        errs.extend(meta.validate_template_labels_annotations(md, "spec.template"))
        errs.extend(
            core_pod.validate_pod_annotations(
                md.get("annotations"), d(template.get("spec")), "spec.template.annotations"
            )
        )
    tspec = d(d(spec.get("template")).get("spec"))
    if tspec.get("restartPolicy") != "Always":
        errs.append(
            E.not_supported("spec.template.spec.restartPolicy", s(tspec.get("restartPolicy")), ["Always"])
        )
    if tspec.get("activeDeadlineSeconds") is not None:
        errs.append(
            E.forbidden_field(
                "spec.template.spec.activeDeadlineSeconds",
                "activeDeadlineSeconds in StatefulSet is not Supported",
            )
        )
    if old is not None:
        old_spec = d(old.get("spec"))
        rest = {k: v for k, v in spec.items() if k not in _STS_MUTABLE}
        old_rest = {k: v for k, v in old_spec.items() if k not in _STS_MUTABLE}
        if not sem_equal(rest, old_rest):
            errs.append(
                E.forbidden_field(
                    "spec",
                    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
                    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                )
            )
    return errs


# --- ControllerRevision ---------------------------------------------------------------------------


def _controller_revision(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    errs = [] if old is None else meta.validate_object_meta_update(obj.get("metadata"), old.get("metadata"))
    errs.extend(meta.validate_object_meta(obj.get("metadata"), True, meta.name_is_dns_subdomain))
    if obj.get("data") is None:
        errs.append(E.required("data", "data is mandatory"))
    nonnegative(obj.get("revision"), "revision", errs)
    if old is not None and obj.get("data") != old.get("data"):
        # A RawExtension compares byte for byte: an empty object is not the same as no object.
        errs.append(E.invalid_value("data", obj.get("data"), "field is immutable"))
    return errs


VALIDATORS: dict[str, Validator] = {
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "DaemonSet": _daemon_set,
    "StatefulSet": _stateful_set,
    "ControllerRevision": _controller_revision,
}
