"""Unit tests of the workload controllers' pure helpers: cron schedules, completion-index sets, pod
failure policy, rolling-update arithmetic, pod deletion ranking, hashes and DaemonSet node fitting."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from kijabi.controllers.workloads import _deployment_util as du
from kijabi.controllers.workloads import _jobutil as ju
from kijabi.controllers.workloads import _nodes
from kijabi.controllers.workloads import _util as u
from kijabi.controllers.workloads.cronjob import job_name, most_recent_schedule
from kijabi.controllers.workloads.replicaset import deletion_order
from kijabi.machinery import cron as _cron

UTC = dt.UTC


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("schedule", "after", "expected"), [
    ("* * * * *", "2024-01-01T10:00:30", "2024-01-01T10:01:00"),
    ("*/15 * * * *", "2024-01-01T10:01:00", "2024-01-01T10:15:00"),
    ("0 9-17/4 * * *", "2024-01-01T10:00:00", "2024-01-01T13:00:00"),
    ("30 2 * * MON", "2024-01-03T00:00:00", "2024-01-08T02:30:00"),
    ("0 0 1,15 * *", "2024-01-02T00:00:00", "2024-01-15T00:00:00"),
    ("0 0 13 * FRI", "2024-01-01T00:00:00", "2024-01-05T00:00:00"),  # day of month OR day of week
    ("0 0 * FEB *", "2024-03-01T00:00:00", "2025-02-01T00:00:00"),
    ("@hourly", "2024-01-01T10:59:59", "2024-01-01T11:00:00"),
    ("@daily", "2024-01-01T10:00:00", "2024-01-02T00:00:00"),
    ("@weekly", "2024-01-01T10:00:00", "2024-01-07T00:00:00"),
    ("@monthly", "2024-01-31T10:00:00", "2024-02-01T00:00:00"),
    ("@yearly", "2024-06-01T00:00:00", "2025-01-01T00:00:00"),
    ("@every 90s", "2024-01-01T10:00:00", "2024-01-01T10:01:30"),
    ("5 4 29 2 *", "2024-03-01T00:00:00", "2028-02-29T04:05:00"),
], ids=lambda v: str(v))
def test_cron_next(schedule: str, after: str, expected: str) -> None:
    """next() is the first activation strictly after the given time."""
    assert _cron.parse(schedule).next(at(after)) == at(expected)


@pytest.mark.parametrize("bad", ["* * * *", "61 * * * *", "* * * * 8", "@fortnightly", "a b c d e", "*/0 * * * *"])
def test_cron_rejects(bad: str) -> None:
    with pytest.raises(_cron.ScheduleError):
        _cron.parse(bad)


def test_cron_time_zone() -> None:
    """A schedule in a time zone fires on that zone's wall clock."""
    tz = _cron.zone("Asia/Tokyo")
    nxt = _cron.parse("0 9 * * *").next(dt.datetime(2024, 1, 1, 0, 30, tzinfo=UTC).astimezone(tz))
    assert nxt is not None and nxt.astimezone(UTC) == at("2024-01-02T00:00:00")
    with pytest.raises(_cron.ScheduleError):
        _cron.zone("Mars/Olympus")


def _cj(created: str, last: str | None = None, deadline: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"schedule": "*/5 * * * *"}
    if deadline is not None:
        spec["startingDeadlineSeconds"] = deadline
    return {"metadata": {"name": "cj", "creationTimestamp": created + "Z"}, "spec": spec,
            "status": {"lastScheduleTime": last + "Z"} if last else {}}


@pytest.mark.parametrize(("cj", "now", "recent", "missed"), [
    (_cj("2024-01-01T10:01:00"), "2024-01-01T10:04:00", None, 0),
    (_cj("2024-01-01T10:01:00"), "2024-01-01T10:05:10", "2024-01-01T10:05:00", 1),
    (_cj("2024-01-01T10:01:00", "2024-01-01T10:05:00"), "2024-01-01T10:31:00", "2024-01-01T10:30:00", 5),
    (_cj("2024-01-01T10:01:00", deadline=120), "2024-01-01T10:31:00", "2024-01-01T10:30:00", 1),
], ids=["not-yet", "one-due", "five-missed", "deadline-limits-lookback"])
def test_most_recent_schedule(cj: dict[str, Any], now: str, recent: str | None, missed: int) -> None:
    _, got, n = most_recent_schedule(cj, at(now), _cron.parse("*/5 * * * *"), True)
    assert (got, n) == ((at(recent) if recent else None), missed)


def test_job_name_is_minutes_since_epoch() -> None:
    assert job_name({"metadata": {"name": "hello"}}, at("2024-01-01T10:05:00")) == "hello-28401725"


@pytest.mark.parametrize(("text", "indexes"), [
    ("", set()), ("0", {0}), ("1,3-5,7", {1, 3, 4, 5, 7}), ("0-2,4-6", {0, 1, 2, 4, 5, 6}),
])
def test_index_intervals_round_trip(text: str, indexes: set[int]) -> None:
    assert ju.parse_indexes(text) == indexes
    assert ju.format_indexes(indexes) == text


def _failed_pod(code: int, container: str = "main", conditions: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "ns"}, "status": {
        "phase": "Failed", "conditions": conditions or [],
        "containerStatuses": [{"name": container, "state": {"terminated": {"exitCode": code}}}]}}


POLICY = {"podFailurePolicy": {"rules": [
    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
    {"action": "FailJob", "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]}},
    {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}},
]}}


@pytest.mark.parametrize(("pod", "action", "message"), [
    (_failed_pod(42), "FailJob", "Container main for pod ns/p failed with exit code 42 matching FailJob rule at index 1"),
    (_failed_pod(42, "side"), "Count", "Container side for pod ns/p failed with exit code 42 matching Count rule at index 2"),
    (_failed_pod(1), None, None),
    (_failed_pod(1, conditions=[{"type": "DisruptionTarget", "status": "True"}]), "Ignore",
     "Pod ns/p has condition DisruptionTarget matching Ignore rule at index 0"),
], ids=["fail-job", "other-container-counts", "no-rule", "ignore-disruption"])
def test_pod_failure_policy(pod: dict[str, Any], action: str | None, message: str | None) -> None:
    assert ju.match_failure_policy({"spec": POLICY}, pod) == (message, action)


@pytest.mark.parametrize(("failures", "delay"), [(0, 0.0), (1, 10.0), (2, 20.0), (5, 160.0), (6, 320.0), (7, 360.0)])
def test_job_backoff(failures: int, delay: float) -> None:
    assert ju.backoff_delay(failures) == delay


def _deploy(replicas: int, surge: Any = "25%", unavailable: Any = "25%") -> dict[str, Any]:
    return {"spec": {"replicas": replicas, "strategy": {"type": "RollingUpdate", "rollingUpdate": {
        "maxSurge": surge, "maxUnavailable": unavailable}}}}


@pytest.mark.parametrize(("d", "surge", "unavailable"), [
    (_deploy(10), 3, 2), (_deploy(1), 1, 0), (_deploy(4, 0, 0), 0, 1), (_deploy(3, "50%", "50%"), 2, 1),
    (_deploy(5, 2, 10), 2, 5),
], ids=["25%-of-10", "25%-of-1", "both-zero", "50%-of-3", "unavailable-capped"])
def test_rolling_fenceposts(d: dict[str, Any], surge: int, unavailable: int) -> None:
    """maxSurge rounds up, maxUnavailable rounds down, both 0 means 1 unavailable (upstream)."""
    assert (du.max_surge(d), du.max_unavailable(d)) == (surge, unavailable)


def test_proportional_scaling_fraction() -> None:
    """An RS annotated max-replicas 13 with 6 replicas gets round(6 * 26 / 13) - 6 = 6 more when the
    deployment grows to 20 (+ surge 6)."""
    rs = {"metadata": {"annotations": {du.MAX_REPLICAS: "13"}}, "spec": {"replicas": 6}}
    d = _deploy(20, "30%", 0)
    assert du.proportion(rs, d, 10, 0) == 6
    assert du.proportion(rs, d, 10, 8) == 2


def test_revision_history_annotation() -> None:
    """Rolling back to an RS moves its old revision into revision-history."""
    rs: dict[str, Any] = {"metadata": {"annotations": {du.REVISION: "1"}}}
    d = {"metadata": {"annotations": {"kubernetes.io/change-cause": "undo", du.REVISION: "2"}}, "spec": {"replicas": 1}}
    assert du.set_new_rs_annotations(d, rs, "3", True)
    assert rs["metadata"]["annotations"] == {du.REVISION: "3", du.REVISION_HISTORY: "1",
                                             "kubernetes.io/change-cause": "undo"}


def test_template_hash_is_stable_and_safe() -> None:
    template = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    first = u.compute_hash(template, None)
    assert first == u.compute_hash(dict(reversed(list(template.items()))), None)
    assert first != u.compute_hash(template, 1)
    assert set(first) <= set(u.SAFE_ALPHABET) and 1 <= len(first) <= 10


def _pod(name: str, *, node: str = "", phase: str = "Running", ready: bool = True, restarts: int = 0,
         created: str = "2024-01-01T00:00:00Z") -> dict[str, Any]:
    conds = [{"type": "Ready", "status": "True" if ready else "False", "lastTransitionTime": created}]
    return {"metadata": {"name": name, "creationTimestamp": created}, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conds,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


def test_deletion_ranking() -> None:
    """Unscheduled < pending < not ready < restarts < newer, as upstream ranks pods to delete."""
    pods = [
        _pod("old-ready", node="n1", created="2023-01-01T00:00:00Z"),
        _pod("unscheduled", phase="Pending", ready=False),
        _pod("pending", node="n1", phase="Pending", ready=False),
        _pod("not-ready", node="n1", ready=False),
        _pod("restarts", node="n1", restarts=5, created="2023-01-01T00:00:00Z"),
    ]
    order = [p["metadata"]["name"] for p in deletion_order(pods, pods, u.timestamp("2024-06-01T00:00:00Z"))]
    assert order == ["unscheduled", "pending", "not-ready", "restarts", "old-ready"]


NODE = {"metadata": {"name": "n1", "labels": {"disk": "ssd"}}, "spec": {}}


@pytest.mark.parametrize(("pod_spec", "node_spec", "expected"), [
    ({}, {}, (True, True)),
    ({"nodeSelector": {"disk": "hdd"}}, {}, (False, False)),
    ({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}}}}, {}, (True, True)),
    ({}, {"taints": [{"key": "x", "effect": "NoSchedule"}]}, (False, True)),
    ({}, {"taints": [{"key": "x", "effect": "NoExecute"}]}, (False, False)),
    ({"tolerations": [{"operator": "Exists"}]}, {"taints": [{"key": "x", "effect": "NoExecute"}]}, (True, True)),
    ({}, {"taints": [{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}]}, (True, True)),
    ({}, {"taints": [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]}, (True, True)),
], ids=["plain", "selector-mismatch", "affinity-match", "noschedule-taint", "noexecute-taint", "tolerate-all",
        "daemon-toleration-unschedulable", "daemon-toleration-not-ready"])
def test_daemon_pod_fits_node(pod_spec: dict[str, Any], node_spec: dict[str, Any], expected: tuple[bool, bool]) -> None:
    ds = {"spec": {"template": {"spec": pod_spec}}}
    assert _nodes.should_run(ds, {**NODE, "spec": node_spec}) == expected
