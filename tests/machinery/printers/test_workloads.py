"""Rows of apps, batch, autoscaling and policy objects."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.printers import printer_for

from ._support import NOW, ago, cells_by_name, column_names


def meta(name: str = "w", **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ago(days=3), **extra}


TEMPLATE = {
    "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}, {"name": "log", "image": "busybox"}]}
}


# --- apps ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        pytest.param({"matchLabels": {"app": "web"}}, "app=web", id="match-labels"),
        pytest.param({}, "", id="empty-is-blank"),
        pytest.param(None, "", id="nil-is-blank"),
        pytest.param({"matchExpressions": [{"key": "tier", "operator": "Bogus"}]}, "<invalid>", id="invalid"),
    ],
)
def test_deployment(selector: dict[str, Any] | None, text: str) -> None:
    """READY `ready/desired`, integer UP-TO-DATE/AVAILABLE, wide containers, images and selector."""
    obj = {
        "metadata": meta("web"),
        "spec": {"replicas": 3, "selector": selector, "template": TEMPLATE},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    printer = printer_for("apps", "deployments")
    assert column_names(printer) == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
        "Containers",
        "Images",
        "Selector",
    ]
    assert printer.cells(obj, NOW) == ["web", "2/3", 3, 2, "3d", "web,log", "nginx:1.25,busybox", text]


def test_deployment_fresh() -> None:
    """A deployment without status prints zeros; unset replicas default to 1."""
    obj = {"metadata": meta("new"), "spec": {"template": {"spec": {"containers": []}}}}
    assert printer_for("apps", "deployments").cells(obj, NOW)[:4] == ["new", "0/1", 0, 0]


def test_replica_set_and_stateful_set() -> None:
    """ReplicaSet integer counts with FormatLabelSelector; StatefulSet READY without a selector."""
    rs = {
        "metadata": meta("web-abc"),
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web", "pod-template-hash": "abc"}},
            "template": TEMPLATE,
        },
        "status": {"replicas": 3, "readyReplicas": 1},
    }
    assert printer_for("apps", "replicasets").cells(rs, NOW) == [
        "web-abc",
        3,
        3,
        1,
        "3d",
        "web,log",
        "nginx:1.25,busybox",
        "app=web,pod-template-hash=abc",
    ]
    ss = {
        "metadata": meta("db"),
        "spec": {"replicas": 2, "template": TEMPLATE},
        "status": {"readyReplicas": 2},
    }
    ss_printer = printer_for("apps", "statefulsets")
    assert column_names(ss_printer) == ["Name", "Ready", "Age", "Containers", "Images"]
    assert ss_printer.cells(ss, NOW) == ["db", "2/2", "3d", "web,log", "nginx:1.25,busybox"]


def test_daemon_set() -> None:
    """Five integer counts, the pod template's node selector, then the wide columns."""
    ds = {
        "metadata": meta("agent"),
        "spec": {
            "selector": {
                "matchExpressions": [
                    {"key": "app", "operator": "In", "values": ["b", "a"]},
                    {"key": "gpu", "operator": "DoesNotExist"},
                ]
            },
            "template": {
                "spec": {"nodeSelector": {"os": "linux"}, "containers": [{"name": "a", "image": "img"}]}
            },
        },
        "status": {
            "desiredNumberScheduled": 3,
            "currentNumberScheduled": 3,
            "numberReady": 2,
            "updatedNumberScheduled": 3,
            "numberAvailable": 2,
        },
    }
    assert printer_for("apps", "daemonsets").cells(ds, NOW) == [
        "agent",
        3,
        3,
        2,
        3,
        2,
        "os=linux",
        "3d",
        "a",
        "img",
        "app in (a,b),!gpu",
    ]


def test_controller_revision() -> None:
    """CONTROLLER is `kind.group/name` of the controlling owner, lower-cased."""
    rev: dict[str, Any] = {
        "metadata": meta(
            "web-5d8",
            ownerReferences=[
                {"apiVersion": "v1", "kind": "Pod", "name": "other"},
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True},
            ],
        ),
        "revision": 4,
    }
    printer = printer_for("apps", "controllerrevisions")
    assert printer.cells(rev, NOW) == ["web-5d8", "statefulset.apps/web", 4, "3d"]
    rev["metadata"]["ownerReferences"] = []
    assert printer.cells(rev, NOW)[1] == "<none>"


# --- batch -------------------------------------------------------------------------------------------------

JOBS = printer_for("batch", "jobs")


def job(conditions: list[dict[str, str]] | None = None, deleted: bool = False, **spec: Any) -> dict[str, Any]:
    metadata = meta("pi", **({"deletionTimestamp": ago(1)} if deleted else {}))
    return {
        "metadata": metadata,
        "spec": {
            "template": TEMPLATE,
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}},
            **spec,
        },
        "status": {"succeeded": 1, "conditions": conditions or []},
    }


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        pytest.param(job(), "Running", id="running"),
        pytest.param(job([{"type": "Complete", "status": "True"}]), "Complete", id="complete"),
        pytest.param(job([{"type": "Failed", "status": "True"}]), "Failed", id="failed"),
        pytest.param(
            job([{"type": "Complete", "status": "False"}, {"type": "Complete", "status": "True"}]),
            "Running",
            id="first-condition-of-type-counts",
        ),
        pytest.param(job([{"type": "Suspended", "status": "True"}]), "Suspended", id="suspended"),
        pytest.param(
            job([{"type": "FailureTarget", "status": "True"}]), "FailureTarget", id="failure-target"
        ),
        pytest.param(
            job([{"type": "Suspended", "status": "True"}], deleted=True),
            "Terminating",
            id="terminating-beats-suspended",
        ),
        pytest.param(
            job([{"type": "Complete", "status": "True"}], deleted=True),
            "Complete",
            id="complete-beats-terminating",
        ),
        pytest.param(
            job([{"type": "SuccessCriteriaMet", "status": "True"}]),
            "Running",
            id="success-criteria-not-in-1.32",
        ),
    ],
)
def test_job_status(obj: dict[str, Any], status: str) -> None:
    """STATUS precedence: Complete, Failed, Terminating, Suspended, FailureTarget, Running."""
    assert cells_by_name(JOBS, obj)["Status"] == status


@pytest.mark.parametrize(
    ("spec", "text"),
    [
        pytest.param({"completions": 5, "parallelism": 2}, "1/5", id="completions"),
        pytest.param({"parallelism": 3}, "1/1 of 3", id="work-queue-parallel"),
        pytest.param({"parallelism": 1}, "1/1", id="work-queue-single"),
        pytest.param({}, "1/1", id="nothing-set"),
    ],
)
def test_job_completions(spec: dict[str, Any], text: str) -> None:
    """COMPLETIONS: `succeeded/completions`, or `/1 of N` for parallel work queues."""
    assert cells_by_name(JOBS, job(**spec))["Completions"] == text


@pytest.mark.parametrize(
    ("status", "duration"),
    [
        pytest.param({}, "", id="not-started"),
        pytest.param({"startTime": ago(minutes=4, seconds=10)}, "4m10s", id="running-since-start"),
        pytest.param({"startTime": ago(hours=1), "completionTime": ago(minutes=30)}, "30m", id="completed"),
    ],
)
def test_job_duration(status: dict[str, Any], duration: str) -> None:
    """DURATION: empty before start, age while running, completion minus start when done."""
    obj = job()
    obj["status"].update(status)
    row = cells_by_name(JOBS, obj)
    assert row["Duration"] == duration
    assert row["Selector"] == "batch.kubernetes.io/controller-uid=u1"


@pytest.mark.parametrize(
    ("spec", "status", "zone", "suspend", "active", "last"),
    [
        pytest.param({"suspend": False}, {}, "<none>", "False", 0, "<none>", id="defaults"),
        pytest.param(
            {"suspend": True, "timeZone": "Etc/UTC"},
            {"active": [{"name": "j1"}, {"name": "j2"}], "lastScheduleTime": ago(minutes=3)},
            "Etc/UTC",
            "True",
            2,
            "3m",
            id="scheduled",
        ),
        pytest.param({}, {}, "<none>", "<unset>", 0, "<none>", id="suspend-unset"),
    ],
)
def test_cron_job(
    spec: dict[str, Any], status: dict[str, Any], zone: str, suspend: str, active: int, last: str
) -> None:
    """SUSPEND is a bool-pointer string, ACTIVE a count, LAST SCHEDULE an age or `<none>`."""
    obj = {
        "metadata": meta("tick"),
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": TEMPLATE}}, **spec},
        "status": status,
    }
    printer = printer_for("batch", "cronjobs")
    assert printer.cells(obj, NOW) == [
        "tick",
        "*/5 * * * *",
        zone,
        suspend,
        active,
        last,
        "3d",
        "web,log",
        "nginx:1.25,busybox",
        "<none>",
    ]
    assert [c["type"] for c in printer.columns[3:5]] == ["boolean", "integer"]


# --- autoscaling -----------------------------------------------------------------------------------------

HPAS = printer_for("autoscaling", "horizontalpodautoscalers")


def resource_metric(name: str, **target: Any) -> dict[str, Any]:
    return {"type": "Resource", "resource": {"name": name, "target": target}}


@pytest.mark.parametrize(
    ("metrics", "current", "text"),
    [
        pytest.param([], [], "<none>", id="no-metrics"),
        pytest.param(
            [resource_metric("cpu", type="Utilization", averageUtilization=80)],
            [],
            "cpu: <unknown>/80%",
            id="cpu-unknown",
        ),
        pytest.param(
            [resource_metric("cpu", type="Utilization", averageUtilization=80)],
            [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "current": {"averageUtilization": 50, "averageValue": "100m"},
                    },
                }
            ],
            "cpu: 50%/80%",
            id="cpu-utilization",
        ),
        pytest.param(
            [resource_metric("memory", type="Utilization")],
            [],
            "memory: <unknown>/<auto>",
            id="utilization-without-target",
        ),
        pytest.param(
            [resource_metric("memory", type="AverageValue", averageValue="1024Mi")],
            [{"type": "Resource", "resource": {"name": "memory", "current": {"averageValue": "512Mi"}}}],
            "memory: 512Mi/1Gi",
            id="average-value",
        ),
        pytest.param(
            [resource_metric("memory", type="AverageValue", averageValue="1Gi")],
            [{"type": "Resource", "resource": {"name": "memory", "current": {"averageUtilization": 5}}}],
            "memory: <nil>/1Gi",
            id="average-value-status-without-value",
        ),
        pytest.param(
            [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                }
            ],
            [{"type": "Pods", "pods": {"current": {"averageValue": "2500m"}}}],
            "2500m/10",
            id="pods",
        ),
        pytest.param(
            [{"type": "Object", "object": {"target": {"type": "Value", "value": "100"}}}],
            [{"type": "Object", "object": {"current": {"value": "50"}}}],
            "50/100",
            id="object-value",
        ),
        pytest.param(
            [{"type": "External", "external": {"target": {"type": "AverageValue", "averageValue": "30"}}}],
            [],
            "<unknown>/30 (avg)",
            id="external-average",
        ),
        pytest.param(
            [
                {
                    "type": "ContainerResource",
                    "containerResource": {
                        "name": "cpu",
                        "container": "app",
                        "target": {"type": "Utilization", "averageUtilization": 60},
                    },
                }
            ],
            [],
            "cpu: <unknown>/60%",
            id="container-resource",
        ),
        pytest.param([{"type": "Weird"}], [], "<unknown type>", id="unknown-type"),
        pytest.param(
            [
                resource_metric("cpu", type="Utilization", averageUtilization=80),
                resource_metric("memory", type="Utilization", averageUtilization=70),
                {"type": "Weird"},
                {"type": "Weird"},
            ],
            [],
            "cpu: <unknown>/80%, memory: <unknown>/70% + 2 more...",
            id="more-than-two",
        ),
    ],
)
def test_hpa_targets(metrics: list[dict[str, Any]], current: list[dict[str, Any]], text: str) -> None:
    """TARGETS: `current/target` per metric (status matched by index), two shown."""
    obj = {
        "metadata": meta("hpa"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "metrics": metrics,
            "minReplicas": 1,
            "maxReplicas": 5,
        },
        "status": {"currentMetrics": current, "currentReplicas": 2},
    }
    assert HPAS.cells(obj, NOW) == ["hpa", "Deployment/web", text, "1", 5, 2, "3d"]


def test_hpa_autoscaling_v1() -> None:
    """autoscaling/v1 objects: targetCPUUtilizationPercentage reads as a cpu utilization metric."""
    obj = {
        "apiVersion": "autoscaling/v1",
        "metadata": meta("hpa"),
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "targetCPUUtilizationPercentage": 70,
            "maxReplicas": 4,
        },
        "status": {"currentReplicas": 1, "currentCPUUtilizationPercentage": 35},
    }
    assert HPAS.cells(obj, NOW) == ["hpa", "Deployment/web", "cpu: 35%/70%", "<unset>", 4, 1, "3d"]


def test_scale_subresource() -> None:
    """`*/scale` returns the Scale table, whose Name column has no `name` format."""
    printer = printer_for("apps", "deployments/scale")
    assert printer is printer_for("", "replicationcontrollers/scale")
    assert column_names(printer) == ["Name", "Desired", "Available", "Age"]
    assert printer.columns[0]["format"] == ""
    obj = {"metadata": meta("web"), "spec": {"replicas": 3}, "status": {"replicas": 2}}
    assert printer.cells(obj, NOW) == ["web", 3, 2, "3d"]


# --- policy -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "low", "high"),
    [
        pytest.param({"minAvailable": 2}, "2", "N/A", id="min-int"),
        pytest.param({"maxUnavailable": "25%"}, "N/A", "25%", id="max-percent"),
        pytest.param({}, "N/A", "N/A", id="neither"),
    ],
)
def test_pod_disruption_budget(spec: dict[str, Any], low: str, high: str) -> None:
    """MIN AVAILABLE / MAX UNAVAILABLE as IntOrString or `N/A`; ALLOWED DISRUPTIONS an integer."""
    obj = {"metadata": meta("pdb"), "spec": spec, "status": {"disruptionsAllowed": 1}}
    assert printer_for("policy", "poddisruptionbudgets").cells(obj, NOW) == ["pdb", low, high, 1, "3d"]
