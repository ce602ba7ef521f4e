"""Defaults of `batch/v1` (upstream pkg/apis/batch/v1/defaults.go).

A Job without labels takes its template's labels. Upstream assigns the very same map, and the Job
strategy later adds the generated selector labels (`controller-uid`, `job-name`, ...) to the
template's map, so they show on the Job's own labels too. The dict is shared here on purpose so a
strategy that updates the template labels in place reproduces that; copy it to avoid the effect.

A CronJob's job template gets PodSpec defaults only, not the Job defaults. JobPodReplacementPolicy
is beta and on in v1.32, so `podReplacementPolicy` is defaulted.
"""

from __future__ import annotations

from . import core
from ._walk import Defaulter, Obj, each, pointer, struct

GROUP = "batch"

_MAX_INT32 = 2**31 - 1


def job(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    if spec.get("parallelism") is None:
        spec["parallelism"] = 1
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = _MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    template = struct(spec, "template")
    template_meta = pointer(template, "metadata")
    labels = pointer(template_meta, "labels") if template_meta is not None else None
    if labels:
        meta = struct(obj, "metadata")
        if not meta.get("labels"):
            meta["labels"] = labels
    if spec.get("completionMode") is None:
        spec["completionMode"] = "NonIndexed"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    failure_policy = pointer(spec, "podFailurePolicy")
    if failure_policy is not None:
        for rule in each(failure_policy, "rules"):
            for pattern in each(rule, "onPodConditions"):
                if not pattern.get("status"):
                    pattern["status"] = "True"
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = "Failed" if failure_policy is not None else "TerminatingOrFailed"
    if spec.get("manualSelector") is None:
        spec["manualSelector"] = False
    core.pod_template(template)


def cron_job(obj: Obj) -> None:
    spec = struct(obj, "spec")
    if not spec.get("concurrencyPolicy"):
        spec["concurrencyPolicy"] = "Allow"
    if spec.get("suspend") is None:
        spec["suspend"] = False
    if spec.get("successfulJobsHistoryLimit") is None:
        spec["successfulJobsHistoryLimit"] = 3
    if spec.get("failedJobsHistoryLimit") is None:
        spec["failedJobsHistoryLimit"] = 1
    job_spec = struct(struct(spec, "jobTemplate"), "spec")
    core.pod_template(struct(job_spec, "template"))


DEFAULTERS: dict[tuple[str, str], Defaulter] = {
    ("v1", "Job"): job,
    ("v1", "CronJob"): cron_job,
}
