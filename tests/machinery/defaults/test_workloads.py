"""Workload defaults: ReplicationController, apps/v1 (reference 1.3), Job and CronJob (1.4)."""

from __future__ import annotations

from typing import Any

import pytest

from ._support import (
    CRON_JOB,
    DAEMON_SET,
    DEPLOYMENT,
    JOB,
    MISSING,
    RC,
    REPLICA_SET,
    STATEFUL_SET,
    Row,
    check,
    container,
    defaulted,
    template,
    workload,
)


def rc(labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc", **({"labels": labels} if labels is not None else {})},
        "spec": {"template": template(), **spec},
    }


def w(gvk: tuple[str, str, str], **spec: Any) -> dict[str, Any]:
    return workload(gvk, template(), **spec)


def job(
    labels: dict[str, str] | None = None, tmpl: dict[str, Any] | None = None, **spec: Any
) -> dict[str, Any]:
    body = workload(JOB, tmpl or template(restartPolicy="Never"), **spec)
    del body["spec"]["selector"]
    if labels is not None:
        body["metadata"]["labels"] = labels
    return body


CLAIM = {
    "metadata": {"name": "data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1024Mi"}}},
}

ROWS = [
    # ReplicationController
    Row("rc replicas", RC, rc(), "spec.replicas", 1),
    Row("rc replicas 0 kept", RC, rc(replicas=0), "spec.replicas", 0),
    Row("rc selector from template labels", RC, rc(), "spec.selector", {"app": "web"}),
    Row("rc selector kept", RC, rc(selector={"tier": "x"}), "spec.selector", {"tier": "x"}),
    Row("rc labels from template labels", RC, rc(), "metadata.labels", {"app": "web"}),
    Row("rc labels kept", RC, rc(labels={"own": "yes"}), "metadata.labels", {"own": "yes"}),
    Row(
        "rc without template",
        RC,
        {"kind": "ReplicationController", "metadata": {"name": "x"}, "spec": {}},
        "spec",
        {"replicas": 1},
    ),
    # ReplicaSet
    Row("rs replicas", REPLICA_SET, w(REPLICA_SET), "spec.replicas", 1),
    Row(
        "rs selector not defaulted",
        REPLICA_SET,
        {"kind": "ReplicaSet", "spec": {"template": template()}},
        "spec.selector",
        MISSING,
    ),
    # Deployment
    Row("deployment replicas", DEPLOYMENT, w(DEPLOYMENT), "spec.replicas", 1),
    Row("deployment replicas kept", DEPLOYMENT, w(DEPLOYMENT, replicas=3), "spec.replicas", 3),
    Row(
        "deployment strategy",
        DEPLOYMENT,
        w(DEPLOYMENT),
        "spec.strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
    ),
    Row(
        "deployment rollingUpdate partly set",
        DEPLOYMENT,
        w(DEPLOYMENT, strategy={"rollingUpdate": {"maxSurge": 1}}),
        "spec.strategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": "25%"}},
    ),
    Row(
        "deployment Recreate has no rollingUpdate",
        DEPLOYMENT,
        w(DEPLOYMENT, strategy={"type": "Recreate"}),
        "spec.strategy",
        {"type": "Recreate"},
    ),
    Row("deployment revisionHistoryLimit", DEPLOYMENT, w(DEPLOYMENT), "spec.revisionHistoryLimit", 10),
    Row("deployment progressDeadlineSeconds", DEPLOYMENT, w(DEPLOYMENT), "spec.progressDeadlineSeconds", 600),
    # StatefulSet
    Row("statefulset replicas", STATEFUL_SET, w(STATEFUL_SET), "spec.replicas", 1),
    Row(
        "statefulset podManagementPolicy",
        STATEFUL_SET,
        w(STATEFUL_SET),
        "spec.podManagementPolicy",
        "OrderedReady",
    ),
    Row("statefulset revisionHistoryLimit", STATEFUL_SET, w(STATEFUL_SET), "spec.revisionHistoryLimit", 10),
    Row(
        "statefulset persistentVolumeClaimRetentionPolicy",
        STATEFUL_SET,
        w(STATEFUL_SET),
        "spec.persistentVolumeClaimRetentionPolicy",
        {"whenDeleted": "Retain", "whenScaled": "Retain"},
    ),
    Row(
        "statefulset retention policy partly set",
        STATEFUL_SET,
        w(STATEFUL_SET, persistentVolumeClaimRetentionPolicy={"whenDeleted": "Delete"}),
        "spec.persistentVolumeClaimRetentionPolicy",
        {"whenDeleted": "Delete", "whenScaled": "Retain"},
    ),
    Row(
        "statefulset updateStrategy",
        STATEFUL_SET,
        w(STATEFUL_SET),
        "spec.updateStrategy",
        {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
    ),
    Row(
        "statefulset explicit RollingUpdate stays bare",
        STATEFUL_SET,
        w(STATEFUL_SET, updateStrategy={"type": "RollingUpdate"}),
        "spec.updateStrategy",
        {"type": "RollingUpdate"},
    ),
    Row(
        "statefulset rollingUpdate partition",
        STATEFUL_SET,
        w(STATEFUL_SET, updateStrategy={"type": "RollingUpdate", "rollingUpdate": {}}),
        "spec.updateStrategy.rollingUpdate.partition",
        0,
    ),
    Row(
        "statefulset OnDelete",
        STATEFUL_SET,
        w(STATEFUL_SET, updateStrategy={"type": "OnDelete"}),
        "spec.updateStrategy",
        {"type": "OnDelete"},
    ),
    Row(
        "statefulset claim volumeMode",
        STATEFUL_SET,
        w(STATEFUL_SET, volumeClaimTemplates=[CLAIM]),
        "spec.volumeClaimTemplates[0].spec.volumeMode",
        "Filesystem",
    ),
    Row(
        "statefulset claim status phase",
        STATEFUL_SET,
        w(STATEFUL_SET, volumeClaimTemplates=[CLAIM]),
        "spec.volumeClaimTemplates[0].status",
        {"phase": "Pending"},
    ),
    Row(
        "statefulset claim storage rounded",
        STATEFUL_SET,
        w(STATEFUL_SET, volumeClaimTemplates=[CLAIM]),
        "spec.volumeClaimTemplates[0].spec.resources.requests.storage",
        "1Gi",
    ),
    # DaemonSet
    Row(
        "daemonset updateStrategy",
        DAEMON_SET,
        w(DAEMON_SET),
        "spec.updateStrategy",
        {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}},
    ),
    Row(
        "daemonset OnDelete",
        DAEMON_SET,
        w(DAEMON_SET, updateStrategy={"type": "OnDelete"}),
        "spec.updateStrategy",
        {"type": "OnDelete"},
    ),
    Row("daemonset revisionHistoryLimit", DAEMON_SET, w(DAEMON_SET), "spec.revisionHistoryLimit", 10),
    Row("daemonset no replicas", DAEMON_SET, w(DAEMON_SET), "spec.replicas", MISSING),
    # Job
    Row("job completions", JOB, job(), "spec.completions", 1),
    Row("job parallelism", JOB, job(), "spec.parallelism", 1),
    Row("job only parallelism nil: completions stays nil", JOB, job(completions=5), "spec.completions", 5),
    Row("job only completions set: parallelism 1", JOB, job(completions=5), "spec.parallelism", 1),
    Row("job only completions nil stays nil", JOB, job(parallelism=3), "spec.completions", MISSING),
    Row("job backoffLimit", JOB, job(), "spec.backoffLimit", 6),
    Row(
        "job backoffLimit with backoffLimitPerIndex",
        JOB,
        job(backoffLimitPerIndex=1, completionMode="Indexed", completions=2),
        "spec.backoffLimit",
        2147483647,
    ),
    Row("job completionMode", JOB, job(), "spec.completionMode", "NonIndexed"),
    Row("job suspend", JOB, job(), "spec.suspend", False),
    Row("job manualSelector", JOB, job(), "spec.manualSelector", False),
    Row("job podReplacementPolicy", JOB, job(), "spec.podReplacementPolicy", "TerminatingOrFailed"),
    Row(
        "job podReplacementPolicy with podFailurePolicy",
        JOB,
        job(
            podFailurePolicy={
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            }
        ),
        "spec.podReplacementPolicy",
        "Failed",
    ),
    Row(
        "job onPodConditions status",
        JOB,
        job(
            podFailurePolicy={
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]
            }
        ),
        "spec.podFailurePolicy.rules[0].onPodConditions[0].status",
        "True",
    ),
    Row("job labels from template", JOB, job(), "metadata.labels", {"app": "web"}),
    Row("job labels kept", JOB, job(labels={"own": "yes"}), "metadata.labels", {"own": "yes"}),
    Row(
        "job template restartPolicy not forced",
        JOB,
        job(tmpl=template()),
        "spec.template.spec.restartPolicy",
        "Always",
    ),
    Row("job selector not defaulted", JOB, job(), "spec.selector", MISSING),
    # CronJob
    Row("cronjob concurrencyPolicy", CRON_JOB, w(CRON_JOB), "spec.concurrencyPolicy", "Allow"),
    Row("cronjob suspend", CRON_JOB, w(CRON_JOB), "spec.suspend", False),
    Row("cronjob successfulJobsHistoryLimit", CRON_JOB, w(CRON_JOB), "spec.successfulJobsHistoryLimit", 3),
    Row("cronjob failedJobsHistoryLimit", CRON_JOB, w(CRON_JOB), "spec.failedJobsHistoryLimit", 1),
    Row(
        "cronjob jobTemplate gets no Job defaults",
        CRON_JOB,
        w(CRON_JOB),
        "spec.jobTemplate.spec.backoffLimit",
        MISSING,
    ),
    Row(
        "cronjob jobTemplate no completions",
        CRON_JOB,
        w(CRON_JOB),
        "spec.jobTemplate.spec.completions",
        MISSING,
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_workload_defaults(row: Row) -> None:
    """Each upstream workload default is applied where it is missing and leaves set values alone."""
    check(row)


def test_job_labels_share_the_template_map() -> None:
    """Like upstream, a label-less Job takes the template's very map (strategy labels show on both)."""
    out = defaulted(JOB, job())
    assert out["metadata"]["labels"] is out["spec"]["template"]["metadata"]["labels"]


def test_rc_selector_and_labels_are_copies() -> None:
    """The RC's selector and labels equal the template labels without sharing them."""
    out = defaulted(RC, rc())
    labels = out["spec"]["template"]["metadata"]["labels"]
    assert out["spec"]["selector"] == labels and out["spec"]["selector"] is not labels
    assert out["metadata"]["labels"] == labels and out["metadata"]["labels"] is not labels


def test_complete_deployment() -> None:
    """A minimal Deployment comes out with exactly the fields a v1.32 API server adds to its spec."""
    out = defaulted(DEPLOYMENT, workload(DEPLOYMENT, template(container(image="nginx:1.27"))))
    spec = out["spec"]
    assert {k: v for k, v in spec.items() if k != "template"} == {
        "selector": {"matchLabels": {"app": "web"}},
        "replicas": 1,
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}},
        "revisionHistoryLimit": 10,
        "progressDeadlineSeconds": 600,
    }
    assert spec["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
