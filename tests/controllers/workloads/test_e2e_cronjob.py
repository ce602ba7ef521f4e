"""CronJobs end to end: firing on schedule, concurrency policies and history limits. The controllers'
clock is shifted forward (harness.ShiftedClock) instead of waiting for minute boundaries; a touch of
the CronJob (an annotation) makes the controller look again after each shift."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.controllers.workloads.harness import ControllerThread, wait_for
from tests.e2e.cluster import Cluster


@pytest.fixture
def clock(controllers: ControllerThread) -> Iterator[Any]:
    yield controllers.clock
    controllers.clock.offset = 0.0


def cronjob(name: str, *, policy: str = "Allow", hold: bool = False, extra: dict[str, Any] | None = None) -> str:
    labels = {"app": name}
    labels["test.kijabi.io/hold" if hold else "test.kijabi.io/exit-code"] = "true" if hold else "0"
    return json.dumps({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name}, "spec": {
        "schedule": "* * * * *", "concurrencyPolicy": policy, **(extra or {}),
        "jobTemplate": {"spec": {"template": {"metadata": {"labels": labels}, "spec": {
                                     "restartPolicy": "Never",
                                     "containers": [{"name": "c", "image": "busybox"}]}}}}}})


def _tick(cluster: Cluster, clock: Any, ns: str, name: str, n: int) -> None:
    clock.offset += 60.0
    cluster.kubectl("annotate", "cronjob", name, "-n", ns, f"tick={n}", "--overwrite")


def _jobs(cluster: Cluster, ns: str) -> list[dict[str, Any]]:
    return cluster.kubectl_json("get", "jobs", "-n", ns)["items"]


def _cj(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    return cluster.kubectl_json("get", "cronjob", name, "-n", ns)


def test_cronjob_fires_and_records_success(cluster: Cluster, controllers: ControllerThread, clock: Any,
                                           namespace: str) -> None:
    """Every minute: a Job <cronjob>-<minutes> is created with the scheduled-timestamp annotation; when it
    completes, status.active empties and lastSuccessfulTime is set; history keeps 1 successful job."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=cronjob("tick", extra={"successfulJobsHistoryLimit": 1}))
    _tick(cluster, clock, namespace, "tick", 1)
    jobs = wait_for(lambda: _jobs(cluster, namespace), what="the first job")
    job = jobs[0]
    cj = _cj(cluster, namespace, "tick")
    minutes = int(job["metadata"]["name"].rsplit("-", 1)[1])
    assert job["metadata"]["name"] == f"tick-{minutes}"
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].endswith("Z")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert cj["status"]["lastScheduleTime"] is not None

    def succeeded() -> bool:
        st = _cj(cluster, namespace, "tick").get("status") or {}
        return "lastSuccessfulTime" in st and not st.get("active")

    wait_for(succeeded, what="lastSuccessfulTime")
    _tick(cluster, clock, namespace, "tick", 2)
    wait_for(lambda: any(j["metadata"]["name"] == f"tick-{minutes + 1}" for j in _jobs(cluster, namespace)),
             what="the second job")
    wait_for(lambda: [j["metadata"]["name"] for j in _jobs(cluster, namespace)] == [f"tick-{minutes + 1}"],
             what="history limited to 1 successful job")


def test_forbid_and_replace(cluster: Cluster, controllers: ControllerThread, clock: Any, namespace: str) -> None:
    """Forbid skips a run while one is active (JobAlreadyActive); Replace deletes it and starts anew."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=cronjob("f", policy="Forbid", hold=True))
    _tick(cluster, clock, namespace, "f", 1)
    first = wait_for(lambda: _jobs(cluster, namespace), what="the first job")[0]["metadata"]["name"]
    wait_for(lambda: (_cj(cluster, namespace, "f").get("status") or {}).get("active"), what="active job")
    _tick(cluster, clock, namespace, "f", 2)

    def forbidden() -> bool:
        events = cluster.kubectl_json("get", "events", "-n", namespace, "--field-selector", "reason=JobAlreadyActive")
        return bool(events["items"])

    wait_for(forbidden, what="JobAlreadyActive event")
    assert [j["metadata"]["name"] for j in _jobs(cluster, namespace)] == [first]

    cluster.kubectl("patch", "cronjob", "f", "-n", namespace, "-p", '{"spec":{"concurrencyPolicy":"Replace"}}')
    _tick(cluster, clock, namespace, "f", 3)

    def replaced() -> bool:
        active = (_cj(cluster, namespace, "f").get("status") or {}).get("active") or []
        return len(active) == 1 and active[0]["name"] != first

    wait_for(replaced, what="a replacing job")
    events = cluster.kubectl_json("get", "events", "-n", namespace, "--field-selector", "involvedObject.kind=CronJob")
    assert f"Deleted job {first}" in {e["message"] for e in events["items"]}


def test_suspended_cronjob_does_not_fire(cluster: Cluster, controllers: ControllerThread, clock: Any,
                                         namespace: str) -> None:
    """A suspended CronJob creates nothing; unsuspended it catches up with the most recent schedule."""
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=cronjob("s", extra={"suspend": True}))
    _tick(cluster, clock, namespace, "s", 1)
    cluster.kubectl("patch", "cronjob", "s", "-n", namespace, "-p", '{"metadata":{"annotations":{"x":"y"}}}')
    assert _jobs(cluster, namespace) == []
    cluster.kubectl("patch", "cronjob", "s", "-n", namespace, "-p", '{"spec":{"suspend":false}}')
    wait_for(lambda: len(_jobs(cluster, namespace)) == 1, what="a job after resuming")


def test_time_zone(cluster: Cluster, controllers: ControllerThread, clock: Any, namespace: str) -> None:
    """`spec.timeZone`: "0 9 * * *" in Asia/Tokyo (UTC+9, no DST) fires at 00:00 UTC, and the Job is named
    after that scheduled minute."""
    import time

    cluster.kubectl("apply", "-n", namespace, "-f", "-",
                    input=cronjob("tz", extra={"schedule": "0 9 * * *", "timeZone": "Asia/Tokyo"}))
    now = time.time() + clock.offset
    midnight_utc = (int(now) // 86400 + 1) * 86400
    clock.offset += midnight_utc - now + 1
    cluster.kubectl("annotate", "cronjob", "tz", "-n", namespace, "tick=1", "--overwrite")
    jobs = wait_for(lambda: _jobs(cluster, namespace), what="the job at 09:00 in Tokyo")
    assert [j["metadata"]["name"] for j in jobs] == [f"tz-{midnight_utc // 60}"]
    # the scheduled time, written in the CronJob's zone
    assert jobs[0]["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
        time.strftime("%Y-%m-%dT09:00:00+09:00", time.gmtime(midnight_utc))
    assert _cj(cluster, namespace, "tz")["status"]["lastScheduleTime"] == \
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(midnight_utc))
