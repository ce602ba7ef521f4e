"""The batch group: Job and CronJob (upstream kubernetes `pkg/apis/batch/validation/validation.go`,
with the job strategy's v1.32 options: prefixed selector labels required, elastic indexed jobs on,
scheduling directives mutable while a suspended job has not started)."""

from __future__ import annotations

import re
from typing import Any

from kijabi.machinery import cron
from kijabi.machinery import errors as E

from . import core_pod, meta
from ._util import Ctx, Errs, Obj, Validator, d, immutable, lst, nonnegative, num, s

_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
_JOB_NAME = "batch.kubernetes.io/job-name"
_LEGACY_CONTROLLER_UID = "controller-uid"
_LEGACY_JOB_NAME = "job-name"

_FAILURE_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"]
_EXIT_CODE_OPERATORS = ["In", "NotIn"]
_CONDITION_STATUSES = ["False", "True", "Unknown"]


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(f'"{v}"' for v in values) + "]"


def _has_label(labels: dict[str, Any], key: str, expected: str, path: str) -> Errs:
    if key not in labels:
        return [E.required(f"{path}.labels[{key}]", f"must be '{expected}'")]
    if labels[key] != expected:
        return [E.invalid_value(f"{path}.labels[{key}]", labels, f"must be '{expected}'")]
    return []


def _generated_selector(job: Obj, prefixed: bool) -> Errs:
    spec = d(job.get("spec"))
    if spec.get("manualSelector") is True or spec.get("selector") is None:
        return []
    md = d(job.get("metadata"))
    uid, name = s(md.get("uid")), s(md.get("name"))
    errs: Errs = []
    if not uid:
        errs.append(E.required("metadata.uid"))
    labels = d(d(d(spec.get("template")).get("metadata")).get("labels"))
    tpath = "spec.template.metadata"
    errs.extend(_has_label(labels, _LEGACY_CONTROLLER_UID, uid, tpath))
    errs.extend(_has_label(labels, _LEGACY_JOB_NAME, name, tpath))
    expected = {_LEGACY_CONTROLLER_UID: uid, _LEGACY_JOB_NAME: name}
    if prefixed:
        errs.extend(_has_label(labels, _CONTROLLER_UID, uid, tpath))
        errs.extend(_has_label(labels, _JOB_NAME, name, tpath))
        expected |= {_CONTROLLER_UID: uid, _JOB_NAME: name}
    selector = meta.selector_from(spec["selector"])
    if selector is not None and not selector.matches(expected):
        errs.append(E.invalid_value("spec.selector", spec["selector"], "`selector` not auto-generated"))
    return errs


def _parse_interval(text: str, completions: int) -> tuple[int, int]:
    parts = text.split("-")
    if len(parts) > 2:
        raise ValueError(
            f"the fragment \"{text}\" violates the requirement that an index interval can have at most two parts separated by '-'"
        )
    bounds = []
    for part in parts:
        if not re.fullmatch(r"[+-]?[0-9]+", part):
            raise ValueError(f'cannot convert string to integer for index: "{part}"')
        value = int(part)
        if value >= completions:
            raise ValueError(f'too large index: "{part}"')
        bounds.append(value)
    if len(bounds) == 2 and bounds[0] >= bounds[1]:
        raise ValueError(f"non-increasing order, previous: {bounds[0]}, current: {bounds[1]}")
    return bounds[0], bounds[-1]


def _indexes_total(text: str, completions: int) -> int:
    if not text:
        return 0
    last: int | None = None
    total = 0
    for interval in text.split(","):
        x, y = _parse_interval(interval, completions)
        if last is not None and last >= x:
            raise ValueError(f"non-increasing order, previous: {last}, current: {x}")
        total += y - x + 1
        last = y
    return total


def _pod_failure_policy(spec: Obj, path: str) -> Errs:
    errs: Errs = []
    rules = lst(d(spec.get("podFailurePolicy")).get("rules"))
    if len(rules) > 20:
        errs.append(E.too_many(f"{path}.rules", len(rules), 20))
    tspec = d(d(spec.get("template")).get("spec"))
    containers = {
        s(d(c).get("name")) for c in lst(tspec.get("containers")) + lst(tspec.get("initContainers"))
    }
    for i, rule in enumerate(rules):
        rule = d(rule)
        rp = f"{path}.rules[{i}]"
        action = s(rule.get("action"))
        if not action:
            errs.append(E.required(f"{rp}.action", f"valid values: {_go_list(_FAILURE_ACTIONS)}"))
        elif action == "FailIndex":
            if spec.get("backoffLimitPerIndex") is None:
                errs.append(
                    E.invalid_value(f"{rp}.action", action, "requires the backoffLimitPerIndex to be set")
                )
        elif action not in _FAILURE_ACTIONS:
            errs.append(E.not_supported(f"{rp}.action", action, _FAILURE_ACTIONS))
        on_exit = rule.get("onExitCodes")
        on_conditions = lst(rule.get("onPodConditions"))
        if on_exit is not None:
            on_exit = d(on_exit)
            ep = f"{rp}.onExitCodes"
            op = s(on_exit.get("operator"))
            if not op:
                errs.append(E.required(f"{ep}.operator", f"valid values: {_go_list(_EXIT_CODE_OPERATORS)}"))
            elif op not in _EXIT_CODE_OPERATORS:
                errs.append(E.not_supported(f"{ep}.operator", op, _EXIT_CODE_OPERATORS))
            container = on_exit.get("containerName")
            if container is not None and container not in containers:
                errs.append(
                    E.invalid_value(
                        f"{ep}.containerName",
                        container,
                        "must be one of the container or initContainer names in the pod template",
                    )
                )
            values = lst(on_exit.get("values"))
            if not values:
                errs.append(E.invalid_value(f"{ep}.values", values, "at least one value is required"))
            elif len(values) > 255:
                errs.append(E.too_many(f"{ep}.values", len(values), 255))
            seen: set[int] = set()
            ordered = True
            for j, value in enumerate(values):
                if op == "In" and value == 0:
                    errs.append(
                        E.invalid_value(f"{ep}.values[{j}]", value, "must not be 0 for the In operator")
                    )
                if value in seen:
                    errs.append(E.duplicate(f"{ep}.values[{j}]", value))
                seen.add(value)
                if j > 0 and values[j - 1] > value:
                    ordered = False
            if not ordered:
                errs.append(E.invalid_value(f"{ep}.values", values, "must be ordered"))
        if on_conditions:
            cp = f"{rp}.onPodConditions"
            if len(on_conditions) > 20:
                errs.append(E.too_many(cp, len(on_conditions), 20))
            for j, pattern in enumerate(on_conditions):
                pattern = d(pattern)
                kind = s(pattern.get("type"))
                errs.extend(E.invalid_value(f"{cp}[{j}].type", kind, m) for m in meta.is_qualified_name(kind))
                status = s(pattern.get("status"))
                if not status:
                    errs.append(
                        E.required(f"{cp}[{j}].status", f"valid values: {_go_list(_CONDITION_STATUSES)}")
                    )
                elif status not in _CONDITION_STATUSES:
                    errs.append(E.not_supported(f"{cp}[{j}].status", status, _CONDITION_STATUSES))
        if on_exit is not None and on_conditions:
            errs.append(
                E.FieldError(
                    "FieldValueInvalid",
                    rp,
                    "specifying both OnExitCodes and OnPodConditions is not supported",
                )
            )
        if on_exit is None and not on_conditions:
            errs.append(
                E.FieldError(
                    "FieldValueInvalid", rp, "specifying one of OnExitCodes and OnPodConditions is required"
                )
            )
    return errs


def _success_policy(spec: Obj, path: str) -> Errs:
    errs: Errs = []
    rules = lst(d(spec.get("successPolicy")).get("rules"))
    if not rules:
        errs.append(
            E.required(
                f"{path}.rules", "at least one rules must be specified when the successPolicy is specified"
            )
        )
    if len(rules) > 20:
        errs.append(E.too_many(f"{path}.rules", len(rules), 20))
    completions = num(spec.get("completions"))
    for i, rule in enumerate(rules):
        rule = d(rule)
        rp = f"{path}.rules[{i}]"
        count, indexes = rule.get("succeededCount"), rule.get("succeededIndexes")
        if count is None and indexes is None:
            errs.append(
                E.required(rp, "at least one of succeededCount or succeededIndexes must be specified")
            )
        total = 0
        if indexes is not None:
            if len(s(indexes)) > 64 * 1024:
                errs.append(E.too_long(f"{rp}.succeededIndexes", 64 * 1024))
            try:
                total = _indexes_total(s(indexes), completions)
            except ValueError as exc:
                errs.append(
                    E.invalid_value(
                        f"{rp}.succeededIndexes", indexes, f"error parsing succeededIndexes: {exc}"
                    )
                )
        if count is not None:
            nonnegative(count, f"{rp}.succeededCount", errs)
            if num(count) > completions:
                errs.append(
                    E.invalid_value(
                        f"{rp}.succeededCount",
                        count,
                        f"must be less than or equal to {completions} (the number of specified completions)",
                    )
                )
            if indexes is not None and num(count) > total:
                errs.append(
                    E.invalid_value(
                        f"{rp}.succeededCount",
                        count,
                        f"must be less than or equal to {total} (the number of indexes in the specified succeededIndexes field)",
                    )
                )
    return errs


def _job_spec_body(spec: Obj, path: str) -> Errs:
    """Upstream validateJobSpec: counts, completion mode, policies, and the pod template."""
    errs: Errs = []
    for key in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
    ):
        nonnegative(spec.get(key), f"{path}.{key}", errs)
    per_index, max_failed = spec.get("backoffLimitPerIndex"), spec.get("maxFailedIndexes")
    if max_failed is not None:
        nonnegative(max_failed, f"{path}.maxFailedIndexes", errs)
        if per_index is None:
            errs.append(E.required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    managed_by = spec.get("managedBy")
    if managed_by is not None:
        errs.extend(_domain_prefixed_path(s(managed_by), f"{path}.managedBy"))
        if len(s(managed_by)) > 63:
            errs.append(E.too_long(f"{path}.managedBy", 63))
    mode = spec.get("completionMode")
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    if mode is not None:
        if mode not in ("NonIndexed", "Indexed"):
            errs.append(E.not_supported(f"{path}.completionMode", mode, ["NonIndexed", "Indexed"]))
        if mode == "Indexed":
            if completions is None:
                errs.append(E.required(f"{path}.completions", "when completion mode is Indexed"))
            if parallelism is not None and num(parallelism) > 100000:
                errs.append(
                    E.invalid_value(
                        f"{path}.parallelism",
                        parallelism,
                        "must be less than or equal to 100000 when completion mode is Indexed",
                    )
                )
            if completions is not None and max_failed is not None and num(max_failed) > num(completions):
                errs.append(
                    E.invalid_value(
                        f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to completions"
                    )
                )
            if max_failed is not None and num(max_failed) > 100000:
                errs.append(
                    E.invalid_value(
                        f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to 100000"
                    )
                )
            if completions is not None and num(completions) > 100000 and per_index is not None:
                suffix = "when completions are above 100000 and used with backoff limit per index"
                if max_failed is None:
                    errs.append(
                        E.required(
                            f"{path}.maxFailedIndexes", "must be specified when completions is above 100000"
                        )
                    )
                if parallelism is not None and num(parallelism) > 10000:
                    errs.append(
                        E.invalid_value(
                            f"{path}.parallelism",
                            parallelism,
                            f"must be less than or equal to 10000 {suffix}",
                        )
                    )
                if max_failed is not None and num(max_failed) > 10000:
                    errs.append(
                        E.invalid_value(
                            f"{path}.maxFailedIndexes",
                            max_failed,
                            f"must be less than or equal to 10000 {suffix}",
                        )
                    )
    if mode in (None, "NonIndexed"):
        if per_index is not None:
            errs.append(
                E.invalid_value(f"{path}.backoffLimitPerIndex", per_index, "requires indexed completion mode")
            )
        if max_failed is not None:
            errs.append(
                E.invalid_value(f"{path}.maxFailedIndexes", max_failed, "requires indexed completion mode")
            )
    if spec.get("podFailurePolicy") is not None:
        errs.extend(_pod_failure_policy(spec, f"{path}.podFailurePolicy"))
    if spec.get("successPolicy") is not None:
        if mode != "Indexed":
            errs.append(
                E.invalid_value(
                    f"{path}.successPolicy", spec["successPolicy"], "requires indexed completion mode"
                )
            )
        else:
            errs.extend(_success_policy(spec, f"{path}.successPolicy"))
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if spec.get("podFailurePolicy") is not None:
            if replacement != "Failed":
                errs.append(E.not_supported(f"{path}.podReplacementPolicy", replacement, ["Failed"]))
        elif replacement not in ("Failed", "TerminatingOrFailed"):
            errs.append(
                E.not_supported(
                    f"{path}.podReplacementPolicy", replacement, ["Failed", "TerminatingOrFailed"]
                )
            )
    errs.extend(core_pod.validate_pod_template_spec(spec.get("template"), f"{path}.template"))
    restart = s(d(d(spec.get("template")).get("spec")).get("restartPolicy"))
    rp = f"{path}.template.spec.restartPolicy"
    if restart in ("Always", ""):
        errs.append(E.required(rp, 'valid values: "OnFailure", "Never"'))
    elif restart not in ("OnFailure", "Never"):
        errs.append(E.not_supported(rp, restart, ["OnFailure", "Never"]))
    elif spec.get("podFailurePolicy") is not None and restart != "Never":
        errs.append(
            E.invalid_value(rp, restart, 'only "Never" is supported when podFailurePolicy is specified')
        )
    return errs


_HTTP_PATH_FMT = r"[A-Za-z0-9/\-._~%!$&'()*+,;=:]+"
_HTTP_PATH_RE = re.compile(_HTTP_PATH_FMT)


def _domain_prefixed_path(value: str, path: str) -> Errs:
    if not value:
        return [E.required(path)]
    host, sep, rest = value.partition("/")
    if not sep or not host or not rest:
        return [E.invalid_value(path, value, 'must be a domain-prefixed path (such as "acme.io/foo")')]
    errs = [E.invalid_value(path, host, m) for m in meta.is_dns1123_subdomain(host)]
    if not _HTTP_PATH_RE.fullmatch(rest):
        errs.append(E.invalid_value(path, rest, meta.regex_error("Invalid path", _HTTP_PATH_FMT)))
    return errs


def _selector_checks(spec: Obj, path: str) -> Errs:
    errs: Errs = []
    sel = spec.get("selector")
    if sel is None:
        errs.append(E.required(f"{path}.selector"))
    else:
        errs.extend(meta.validate_label_selector(sel, f"{path}.selector"))
    selector = meta.selector_from(sel)
    labels = d(d(d(spec.get("template")).get("metadata")).get("labels"))
    if selector is not None and not selector.matches(labels):
        errs.append(
            E.invalid_value(
                f"{path}.template.metadata.labels", labels, "`selector` does not match template `labels`"
            )
        )
    return errs


def _job(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    md, spec = d(obj.get("metadata")), d(obj.get("spec"))
    if old is None:
        errs = meta.validate_object_meta(md, True, meta.name_is_dns_subdomain)
        errs.extend(_generated_selector(obj, True))
        errs.extend(_job_spec_body(spec, "spec"))
        errs.extend(_selector_checks(spec, "spec"))
        completions = spec.get("completions")
        if spec.get("completionMode") == "Indexed" and completions is not None and num(completions) > 0:
            hostname = f"{s(md.get('name'))}-{num(completions) - 1}"
            if meta.is_dns1123_label(hostname):
                errs.append(
                    E.invalid_value(
                        "metadata.name",
                        s(md.get("name")),
                        f"will not able to create pod with invalid DNS label: {hostname}",
                    )
                )
        return errs
    old_spec = d(old.get("spec"))
    errs = meta.validate_object_meta_update(md, d(old.get("metadata")))
    errs.extend(_job_spec_body(spec, "spec"))
    errs.extend(_selector_checks(spec, "spec"))
    completions, old_completions = spec.get("completions"), old_spec.get("completions")
    if spec.get("completionMode") != "Indexed":
        immutable(completions, old_completions, "spec.completions", errs)
    elif (
        completions != old_completions and completions is not None and completions != spec.get("parallelism")
    ):
        errs.append(
            E.invalid_value(
                "spec.completions", completions, "can only be modified in tandem with spec.parallelism"
            )
        )
    immutable(spec.get("selector"), old_spec.get("selector"), "spec.selector", errs)
    template, old_template = d(spec.get("template")), d(old_spec.get("template"))
    suspended_never_started = (
        old_spec.get("suspend") is True and d(old.get("status")).get("startTime") is None
    )
    if suspended_never_started:
        old_template = _with_mutable_scheduling(template, old_template)
    immutable(spec.get("template"), old_template, "spec.template", errs)
    for key in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        immutable(spec.get(key), old_spec.get(key), f"spec.{key}", errs)
    return errs


def _with_mutable_scheduling(template: Obj, old_template: Obj) -> Obj:
    """The old template with the fields a suspended, never-started Job may change copied from the new one."""
    md, old_md = d(template.get("metadata")), d(old_template.get("metadata"))
    tspec, old_tspec = d(template.get("spec")), dict(d(old_template.get("spec")))
    affinity, old_affinity = tspec.get("affinity"), old_tspec.get("affinity")
    if affinity is None and old_affinity is not None:
        rest = {k: v for k, v in d(old_affinity).items() if k != "nodeAffinity"}
        old_tspec["affinity"] = rest or None
    elif affinity is not None:
        old_tspec["affinity"] = {**d(old_affinity), "nodeAffinity": d(affinity).get("nodeAffinity")}
    for key in ("nodeSelector", "tolerations", "schedulingGates"):
        old_tspec[key] = tspec.get(key)
    new_md = {**old_md, "labels": md.get("labels"), "annotations": md.get("annotations")}
    return {**old_template, "metadata": new_md, "spec": old_tspec}


# --- CronJob --------------------------------------------------------------------------------------

_TZ_PART_RE = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def _time_zone(tz: Any, path: str) -> Errs:
    if tz is None:
        return []
    if tz == "":
        return [E.invalid_value(path, tz, "timeZone must be nil or non-empty string")]
    text = s(tz)
    for part in text.split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART_RE.fullmatch(part):
            return [E.invalid_value(path, text, f"unknown time zone {text}")]
    if text.lower() == "local":
        return [
            E.invalid_value(
                path,
                text,
                "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
            )
        ]
    problem = cron.load_location_error(text)
    return [E.invalid_value(path, text, problem)] if problem else []


def _job_template(template: Any, path: str) -> Errs:
    template = d(template)
    spec = d(template.get("spec"))
    errs = _job_spec_body(spec, f"{path}.spec")
    if spec.get("selector") is not None:
        errs.append(
            E.invalid_value(f"{path}.spec.selector", spec["selector"], "`selector` will be auto-generated")
        )
    if spec.get("manualSelector") is True:
        errs.append(E.not_supported(f"{path}.spec.manualSelector", True, ["nil", "false"]))
    return errs


def _cron_job(obj: Obj, old: Obj | None, ctx: Ctx) -> Errs:
    md, spec = d(obj.get("metadata")), d(obj.get("spec"))
    old_spec = d(old.get("spec")) if old is not None else None
    if old is None:
        errs = meta.validate_object_meta(md, True, meta.name_is_dns_subdomain)
    else:
        errs = meta.validate_object_meta_update(md, d(old.get("metadata")))
    schedule = s(spec.get("schedule"))
    tz = spec.get("timeZone")
    if not schedule:
        errs.append(E.required("spec.schedule"))
    else:
        problem = cron.parse_error(schedule)
        if problem:
            errs.append(E.invalid_value("spec.schedule", schedule, problem))
        allow_tz = old_spec is not None and "TZ" in s(old_spec.get("schedule"))
        if allow_tz and "TZ" in schedule and tz is not None:
            errs.append(
                E.invalid_value(
                    "spec.schedule", schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"
                )
            )
        elif not allow_tz and "TZ" in schedule:
            errs.append(
                E.invalid_value(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    nonnegative(spec.get("startingDeadlineSeconds"), "spec.startingDeadlineSeconds", errs)
    if old_spec is None or old_spec.get("timeZone") != tz:
        errs.extend(_time_zone(tz, "spec.timeZone"))
    policy = s(spec.get("concurrencyPolicy"))
    if not policy:
        errs.append(E.required("spec.concurrencyPolicy"))
    elif policy not in ("Allow", "Forbid", "Replace"):
        errs.append(E.not_supported("spec.concurrencyPolicy", policy, ["Allow", "Forbid", "Replace"]))
    errs.extend(_job_template(spec.get("jobTemplate"), "spec.jobTemplate"))
    nonnegative(spec.get("successfulJobsHistoryLimit"), "spec.successfulJobsHistoryLimit", errs)
    nonnegative(spec.get("failedJobsHistoryLimit"), "spec.failedJobsHistoryLimit", errs)
    if old is None and len(s(md.get("name"))) > 52:
        errs.append(E.invalid_value("metadata.name", s(md.get("name")), "must be no more than 52 characters"))
    return errs


VALIDATORS: dict[str, Validator] = {"Job": _job, "CronJob": _cron_job}
