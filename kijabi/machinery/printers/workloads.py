"""Printers of workload APIs: apps, batch, autoscaling (HPA, Scale) and policy (PodDisruptionBudget)."""

from __future__ import annotations

from typing import Any

from kijabi.machinery.printers._base import Printer, age_col, col, containers_cols, doc, name_col
from kijabi.machinery.printers._format import (
    GO_ZERO_TIME,
    bool_ptr,
    containers,
    first_condition_true,
    format_label_selector,
    format_labels,
    go_group_kind,
    human_duration,
    int_or_string,
    parse_time,
    quantity_ptr,
    selector_string,
    since,
)
from kijabi.machinery.printers.core import replicas

Obj = dict[str, Any]
_EMPTY: dict[str, Any] = {}


def _parts(obj: Obj) -> tuple[Obj, Obj, Obj]:
    return obj.get("metadata") or _EMPTY, obj.get("spec") or _EMPTY, obj.get("status") or _EMPTY


def _template_spec(spec: Obj) -> Obj:
    return (spec.get("template") or _EMPTY).get("spec") or _EMPTY


def deployment_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        names, images = containers(_template_spec(spec))
        selector = selector_string(spec.get("selector"))
        return [
            meta.get("name") or "",
            f"{status.get('readyReplicas') or 0}/{replicas(spec)}",
            status.get("updatedReplicas") or 0,
            status.get("availableReplicas") or 0,
            since(meta.get("creationTimestamp"), now),
            names,
            images,
            "<invalid>" if selector is None else selector,
        ]

    return Printer(
        [
            name_col(),
            col("Ready", "string", "Number of the pod with ready state"),
            col("Up-to-date", "string", doc("apps.v1.DeploymentStatus", "updatedReplicas")),
            col("Available", "string", doc("apps.v1.DeploymentStatus", "availableReplicas")),
            age_col(),
            *containers_cols(),
            col("Selector", "string", doc("apps.v1.DeploymentSpec", "selector"), priority=1),
        ],
        cells,
    )


def replica_set_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        names, images = containers(_template_spec(spec))
        return [
            meta.get("name") or "",
            replicas(spec),
            status.get("replicas") or 0,
            status.get("readyReplicas") or 0,
            since(meta.get("creationTimestamp"), now),
            names,
            images,
            format_label_selector(spec.get("selector")),
        ]

    return Printer(
        [
            name_col(),
            col("Desired", "integer", doc("apps.v1.ReplicaSetSpec", "replicas")),
            col("Current", "integer", doc("apps.v1.ReplicaSetStatus", "replicas")),
            col("Ready", "integer", doc("apps.v1.ReplicaSetStatus", "readyReplicas")),
            age_col(),
            *containers_cols(),
            col("Selector", "string", doc("apps.v1.ReplicaSetSpec", "selector"), priority=1),
        ],
        cells,
    )


def stateful_set_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        names, images = containers(_template_spec(spec))
        return [
            meta.get("name") or "",
            f"{status.get('readyReplicas') or 0}/{replicas(spec)}",
            since(meta.get("creationTimestamp"), now),
            names,
            images,
        ]

    return Printer(
        [
            name_col(),
            col("Ready", "string", "Number of the pod with ready state"),
            age_col(),
            *containers_cols(),
        ],
        cells,
    )


def daemon_set_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        pod_spec = _template_spec(spec)
        names, images = containers(pod_spec)
        return [
            meta.get("name") or "",
            status.get("desiredNumberScheduled") or 0,
            status.get("currentNumberScheduled") or 0,
            status.get("numberReady") or 0,
            status.get("updatedNumberScheduled") or 0,
            status.get("numberAvailable") or 0,
            format_labels(pod_spec.get("nodeSelector")),
            since(meta.get("creationTimestamp"), now),
            names,
            images,
            format_label_selector(spec.get("selector")),
        ]

    st = "apps.v1.DaemonSetStatus"
    return Printer(
        [
            name_col(),
            col("Desired", "integer", doc(st, "desiredNumberScheduled")),
            col("Current", "integer", doc(st, "currentNumberScheduled")),
            col("Ready", "integer", doc(st, "numberReady")),
            col("Up-to-date", "integer", doc(st, "updatedNumberScheduled")),
            col("Available", "integer", doc(st, "numberAvailable")),
            col("Node Selector", "string", doc("core.v1.PodSpec", "nodeSelector")),
            age_col(),
            *containers_cols(),
            col("Selector", "string", doc("apps.v1.DaemonSetSpec", "selector"), priority=1),
        ],
        cells,
    )


def controller_revision_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta = obj.get("metadata") or _EMPTY
        controller = "<none>"
        for ref in meta.get("ownerReferences") or ():
            if ref.get("controller"):
                group_kind = go_group_kind(ref.get("apiVersion") or "", ref.get("kind") or "")
                name = ref.get("name") or ""
                controller = f"{group_kind.lower()}/{name}" if group_kind else name
                break
        return [
            meta.get("name") or "",
            controller,
            obj.get("revision") or 0,
            since(meta.get("creationTimestamp"), now),
        ]

    return Printer(
        [
            name_col(),
            col("Controller", "string", "Controller of the object"),
            col("Revision", "string", doc("apps.v1.ControllerRevision", "revision")),
            age_col(),
        ],
        cells,
    )


# --- batch --------------------------------------------------------------------------------------------


def _job_status(meta: Obj, conditions: Any) -> str:
    if first_condition_true(conditions, "Complete"):
        return "Complete"
    if first_condition_true(conditions, "Failed"):
        return "Failed"
    if meta.get("deletionTimestamp"):
        return "Terminating"
    if first_condition_true(conditions, "Suspended"):
        return "Suspended"
    if first_condition_true(conditions, "FailureTarget"):
        return "FailureTarget"
    return "Running"


def _job_cells(obj: Obj, now: float) -> list[Any]:
    meta, spec, status = _parts(obj)
    succeeded = status.get("succeeded") or 0
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    else:
        parallelism = spec.get("parallelism") or 0
        completions = f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"
    duration = ""
    if status.get("startTime") is not None:
        start = parse_time(status["startTime"])
        start = GO_ZERO_TIME if start is None else start
        end = parse_time(status.get("completionTime"))
        if end is None and status.get("completionTime") is not None:
            end = GO_ZERO_TIME
        duration = human_duration((now if end is None else end) - start)
    names, images = containers(_template_spec(spec))
    return [
        meta.get("name") or "",
        _job_status(meta, status.get("conditions")),
        completions,
        duration,
        since(meta.get("creationTimestamp"), now),
        names,
        images,
        format_label_selector(spec.get("selector")),
    ]


def job_printer() -> Printer:
    return Printer(
        [
            name_col(),
            col("Status", "string", "Status of the job."),
            col("Completions", "string", doc("batch.v1.JobStatus", "succeeded")),
            col("Duration", "string", "Time required to complete the job."),
            age_col(),
            *containers_cols(),
            col("Selector", "string", doc("batch.v1.JobSpec", "selector"), priority=1),
        ],
        _job_cells,
    )


def cron_job_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        last = "<none>"
        if status.get("lastScheduleTime") is not None:
            last = since(status["lastScheduleTime"], now)
        job_spec = (spec.get("jobTemplate") or _EMPTY).get("spec") or _EMPTY
        names, images = containers(_template_spec(job_spec))
        zone = spec.get("timeZone")
        return [
            meta.get("name") or "",
            spec.get("schedule") or "",
            "<none>" if zone is None else zone,
            bool_ptr(spec.get("suspend")),
            len(status.get("active") or ()),
            last,
            since(meta.get("creationTimestamp"), now),
            names,
            images,
            format_label_selector(job_spec.get("selector")),
        ]

    cj_spec, cj_status = "batch.v1.CronJobSpec", "batch.v1.CronJobStatus"
    return Printer(
        [
            name_col(),
            col("Schedule", "string", doc(cj_spec, "schedule")),
            col("Timezone", "string", doc(cj_spec, "timeZone")),
            col("Suspend", "boolean", doc(cj_spec, "suspend")),
            col("Active", "integer", doc(cj_status, "active")),
            col("Last Schedule", "string", doc(cj_status, "lastScheduleTime")),
            age_col(),
            *containers_cols(),
            col("Selector", "string", doc("batch.v1.JobSpec", "selector"), priority=1),
        ],
        cells,
    )


# --- autoscaling ------------------------------------------------------------------------------------------


def _hpa_metrics(spec: Obj, status: Obj) -> tuple[list[Obj], list[Obj]]:
    """spec.metrics and status.currentMetrics in autoscaling/v2 shape (v1 objects converted)."""
    if "metrics" in spec or "targetCPUUtilizationPercentage" not in spec:
        metrics = list(spec.get("metrics") or ())
        current = list(status.get("currentMetrics") or ())
        if "currentCPUUtilizationPercentage" in status and not current:
            current = [_v1_cpu_status(status)]
        return metrics, current
    target = spec.get("targetCPUUtilizationPercentage")
    metrics = [
        {
            "type": "Resource",
            "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": target}},
        }
    ]
    current = [_v1_cpu_status(status)] if status.get("currentCPUUtilizationPercentage") is not None else []
    return metrics, current


def _v1_cpu_status(status: Obj) -> Obj:
    value = status.get("currentCPUUtilizationPercentage")
    return {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": value}}}


def _resource_target(source: Obj, current: Obj | None) -> str:
    target = source.get("target") or _EMPTY
    name = source.get("name") or ""
    now_value = (current or _EMPTY).get("current") or _EMPTY
    if target.get("averageValue") is not None:
        shown = quantity_ptr(now_value.get("averageValue")) if current is not None else "<unknown>"
        return f"{name}: {shown}/{quantity_ptr(target.get('averageValue'))}"
    shown = "<unknown>"
    if current is not None and now_value.get("averageUtilization") is not None:
        shown = f"{now_value['averageUtilization']}%"
    wanted = "<auto>" if target.get("averageUtilization") is None else f"{target['averageUtilization']}%"
    return f"{name}: {shown}/{wanted}"


def _object_target(source: Obj, current: Obj | None) -> str:
    target = source.get("target") or _EMPTY
    now_value = (current or _EMPTY).get("current") or _EMPTY
    if target.get("averageValue") is not None:
        shown = "<unknown>"
        if current is not None and now_value.get("averageValue") is not None:
            shown = quantity_ptr(now_value["averageValue"])
        return f"{shown}/{quantity_ptr(target['averageValue'])} (avg)"
    shown = quantity_ptr(now_value.get("value")) if current is not None else "<unknown>"
    return f"{shown}/{quantity_ptr(target.get('value'))}"


_SOURCE_KEYS = {
    "External": "external",
    "Pods": "pods",
    "Object": "object",
    "Resource": "resource",
    "ContainerResource": "containerResource",
}


def format_hpa_targets(metrics: list[Obj], statuses: list[Obj]) -> str:
    """`formatHPAMetrics`: each metric's `current/target`, status matched by index, two shown."""
    if not metrics:
        return "<none>"
    shown: list[str] = []
    for i, metric in enumerate(metrics):
        kind = metric.get("type")
        key = _SOURCE_KEYS.get(kind or "")
        if key is None:
            shown.append("<unknown type>")
            continue
        source = metric.get(key) or _EMPTY
        current = statuses[i].get(key) if i < len(statuses) else None
        if kind in ("External", "Object"):
            shown.append(_object_target(source, current))
        elif kind == "Pods":
            now_value = (current or _EMPTY).get("current") or _EMPTY
            value = quantity_ptr(now_value.get("averageValue")) if current is not None else "<unknown>"
            shown.append(f"{value}/{quantity_ptr((source.get('target') or _EMPTY).get('averageValue'))}")
        else:
            shown.append(_resource_target(source, current))
    text = ", ".join(shown[:2])
    return f"{text} + {len(shown) - 2} more..." if len(shown) > 2 else text


def hpa_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        ref = spec.get("scaleTargetRef") or _EMPTY
        metrics, current = _hpa_metrics(spec, status)
        min_pods = spec.get("minReplicas")
        return [
            meta.get("name") or "",
            f"{ref.get('kind') or ''}/{ref.get('name') or ''}",
            format_hpa_targets(metrics, current),
            "<unset>" if min_pods is None else str(min_pods),
            spec.get("maxReplicas") or 0,
            status.get("currentReplicas") or 0,
            since(meta.get("creationTimestamp"), now),
        ]

    hspec = "autoscaling.v2.HorizontalPodAutoscalerSpec"
    return Printer(
        [
            name_col(),
            col("Reference", "string", doc(hspec, "scaleTargetRef")),
            col("Targets", "string", doc(hspec, "metrics")),
            col("MinPods", "string", doc(hspec, "minReplicas")),
            col("MaxPods", "string", doc(hspec, "maxReplicas")),
            col("Replicas", "string", doc("autoscaling.v2.HorizontalPodAutoscalerStatus", "currentReplicas")),
            age_col(),
        ],
        cells,
    )


def scale_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        return [
            meta.get("name") or "",
            spec.get("replicas") or 0,
            status.get("replicas") or 0,
            since(meta.get("creationTimestamp"), now),
        ]

    return Printer(
        [
            col("Name", "string", doc("meta.v1.ObjectMeta", "name")),
            col("Desired", "integer", doc("autoscaling.v1.ScaleSpec", "replicas")),
            col("Available", "integer", doc("autoscaling.v1.ScaleStatus", "replicas")),
            age_col(),
        ],
        cells,
    )


# --- policy -------------------------------------------------------------------------------------------


def pdb_printer() -> Printer:
    def cells(obj: Obj, now: float) -> list[Any]:
        meta, spec, status = _parts(obj)
        low, high = spec.get("minAvailable"), spec.get("maxUnavailable")
        return [
            meta.get("name") or "",
            "N/A" if low is None else int_or_string(low),
            "N/A" if high is None else int_or_string(high),
            status.get("disruptionsAllowed") or 0,
            since(meta.get("creationTimestamp"), now),
        ]

    return Printer(
        [
            name_col(),
            col("Min Available", "string", "The minimum number of pods that must be available."),
            col("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
            col(
                "Allowed Disruptions",
                "integer",
                "Calculated number of pods that may be disrupted at this time.",
            ),
            age_col(),
        ],
        cells,
    )
