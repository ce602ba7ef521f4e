"""Pod rows: READY, STATUS reason precedence, RESTARTS with last-restart age, wide columns."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.printers import printer_for, table

from ._support import NOW, ago, cells_by_name, column_names

PODS = printer_for("", "pods")


def running(
    ready: bool = True, restarts: int = 0, finished: str | None = None, **extra: Any
) -> dict[str, Any]:
    status: dict[str, Any] = {"ready": ready, "restartCount": restarts, "state": {"running": {}}, **extra}
    if finished:
        status["lastState"] = {"terminated": {"exitCode": 1, "finishedAt": finished}}
    return status


def waiting(reason: str = "", restarts: int = 0) -> dict[str, Any]:
    return {
        "ready": False,
        "restartCount": restarts,
        "state": {"waiting": {"reason": reason} if reason else {}},
    }


def terminated(reason: str = "", exit_code: int = 0, signal: int = 0, restarts: int = 0) -> dict[str, Any]:
    term: dict[str, Any] = {"exitCode": exit_code}
    if reason:
        term["reason"] = reason
    if signal:
        term["signal"] = signal
    return {"ready": False, "restartCount": restarts, "state": {"terminated": term}}


def pod(
    containers: int = 1,
    statuses: list[dict[str, Any]] | None = None,
    *,
    phase: str = "Running",
    reason: str = "",
    init: list[dict[str, Any]] | None = None,
    init_statuses: list[dict[str, Any]] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    deleted: bool = False,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "metadata": {"name": "p", "creationTimestamp": ago(minutes=5)},
        "spec": {"containers": [{"name": f"c{i}"} for i in range(containers)]},
        "status": {"phase": phase},
    }
    if deleted:
        obj["metadata"]["deletionTimestamp"] = ago(10)
    if reason:
        obj["status"]["reason"] = reason
    if statuses is not None:
        obj["status"]["containerStatuses"] = statuses
    if init is not None:
        obj["spec"]["initContainers"] = init
    if init_statuses is not None:
        obj["status"]["initContainerStatuses"] = init_statuses
    if conditions is not None:
        obj["status"]["conditions"] = conditions
    return obj


SIDECARS = [{"name": "side-1", "restartPolicy": "Always"}, {"name": "side-2", "restartPolicy": "Always"}]
INITIALIZED = [{"type": "Initialized", "status": "True"}]
NOT_INITIALIZED = [{"type": "Initialized", "status": "False"}]


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        pytest.param(
            pod(2, [running(restarts=3), waiting(restarts=3)], phase="podPhase"),
            "1/2",
            "podPhase",
            "6",
            id="phase-when-nothing-waits",
        ),
        pytest.param(
            pod(2, [running(restarts=3), waiting("ContainerWaitingReason", 3)]),
            "1/2",
            "ContainerWaitingReason",
            "6",
            id="waiting-reason-overrides-phase",
        ),
        pytest.param(
            pod(2, [waiting("First"), terminated("Second")]),
            "0/2",
            "First",
            "0",
            id="first-container-decides",
        ),
        pytest.param(
            pod(2, [running(), {"ready": True, "restartCount": 0}], phase="podPhase"),
            "1/2",
            "podPhase",
            "0",
            id="ready-without-running-not-counted",
        ),
        pytest.param(
            pod(2, [running(), running()], reason="podReason"),
            "2/2",
            "podReason",
            "0",
            id="status-reason-beats-phase",
        ),
        pytest.param(
            pod(1, [running()], reason="NodeLost"), "1/1", "NodeLost", "0", id="nodelost-before-deletion"
        ),
        pytest.param(
            pod(1, [waiting("CrashLoopBackOff", 5)], reason="Evicted"),
            "0/1",
            "CrashLoopBackOff",
            "5",
            id="container-reason-overwrites-evicted",
        ),
        pytest.param(
            pod(2, [terminated("Completed"), running()]),
            "1/2",
            "NotReady",
            "0",
            id="completed-and-running-not-ready",
        ),
        pytest.param(
            pod(2, [terminated("Completed"), running()], conditions=[{"type": "Ready", "status": "True"}]),
            "1/2",
            "Running",
            "0",
            id="completed-and-running-ready",
        ),
        pytest.param(
            pod(1, [terminated(exit_code=137)]), "0/1", "ExitCode:137", "0", id="exit-code-without-reason"
        ),
        pytest.param(
            pod(1, [terminated(exit_code=0, signal=9)]), "0/1", "Signal:9", "0", id="signal-without-reason"
        ),
        pytest.param(
            pod(1, [terminated("OOMKilled", 137)], phase="Failed"),
            "0/1",
            "OOMKilled",
            "0",
            id="terminated-reason",
        ),
        pytest.param(
            pod(
                2,
                [],
                phase="Pending",
                conditions=[{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}],
            ),
            "0/2",
            "SchedulingGated",
            "0",
            id="scheduling-gated",
        ),
        pytest.param(pod(1, [running()], deleted=True), "1/1", "Terminating", "0", id="terminating"),
        pytest.param(
            pod(1, [terminated("Completed")], phase="Succeeded", deleted=True),
            "0/1",
            "Completed",
            "0",
            id="deleted-succeeded-keeps-reason",
        ),
        pytest.param(
            pod(1, [terminated("Error", 1)], phase="Failed", deleted=True),
            "0/1",
            "Error",
            "0",
            id="deleted-failed-keeps-reason",
        ),
        pytest.param(
            pod(1, [running()], reason="NodeLost", deleted=True),
            "1/1",
            "Unknown",
            "0",
            id="deleted-nodelost-unknown",
        ),
        pytest.param(pod(1, None, phase="Pending"), "0/1", "Pending", "0", id="no-statuses"),
    ],
)
def test_pod_status(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    """STATUS follows upstream's precedence: container states (last to first), then deletion."""
    row = cells_by_name(PODS, obj)
    assert (row["Ready"], row["Status"], row["Restarts"]) == (ready, status, restarts)


@pytest.mark.parametrize(
    ("obj", "ready", "status", "restarts"),
    [
        pytest.param(
            pod(
                1,
                [waiting()],
                init=[{"name": "i0"}],
                init_statuses=[{"name": "i0", **running(False, 3, ago(10))}],
                phase="Pending",
            ),
            "0/1",
            "Init:0/1",
            "3 (10s ago)",
            id="init-running-with-restarts",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=[{"name": "i0"}, {"name": "i1"}],
                init_statuses=[
                    terminated(restarts=2) | {"lastState": {"terminated": {"finishedAt": ago(120)}}},
                    running(False, 3, ago(10)),
                ],
                phase="Pending",
            ),
            "0/1",
            "Init:1/2",
            "5 (10s ago)",
            id="init-second-of-two",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=[{"name": "i0"}],
                init_statuses=[waiting("CrashLoopBackOff", 4)],
                phase="Pending",
            ),
            "0/1",
            "Init:CrashLoopBackOff",
            "4",
            id="init-crashloop",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=[{"name": "i0"}],
                init_statuses=[waiting("PodInitializing")],
                phase="Pending",
            ),
            "0/1",
            "Init:0/1",
            "0",
            id="init-podinitializing-is-progress",
        ),
        pytest.param(
            pod(
                1, [waiting()], init=[{"name": "i0"}], init_statuses=[terminated("Error", 1)], phase="Pending"
            ),
            "0/1",
            "Init:Error",
            "0",
            id="init-failed-with-reason",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=[{"name": "i0"}],
                init_statuses=[terminated(exit_code=2)],
                phase="Pending",
            ),
            "0/1",
            "Init:ExitCode:2",
            "0",
            id="init-failed-exit-code",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=[{"name": "i0"}],
                init_statuses=[
                    terminated(exit_code=0, signal=15)
                    | {"state": {"terminated": {"exitCode": 3, "signal": 15}}}
                ],
                phase="Pending",
            ),
            "0/1",
            "Init:Signal:15",
            "0",
            id="init-failed-signal",
        ),
        pytest.param(
            pod(
                1,
                [running(False, 4, ago(20))],
                init=[{"name": "i0"}],
                init_statuses=[
                    terminated(restarts=2) | {"lastState": {"terminated": {"finishedAt": ago(120)}}}
                ],
            ),
            "0/1",
            "Running",
            "4 (20s ago)",
            id="init-done-restarts-dropped",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=SIDECARS,
                init_statuses=[
                    {"name": "side-1", **running(False, 3, ago(10)), "started": False},
                    {"name": "side-2", **waiting(), "started": False},
                ],
                phase="Pending",
                conditions=NOT_INITIALIZED,
            ),
            "0/3",
            "Init:0/2",
            "3 (10s ago)",
            id="sidecar-not-started",
        ),
        pytest.param(
            pod(
                1,
                [waiting()],
                init=SIDECARS,
                init_statuses=[
                    {"name": "side-1", **running(False, 3, ago(10)), "started": True},
                    {"name": "side-2", **running(False), "started": False},
                ],
                phase="Pending",
                conditions=NOT_INITIALIZED,
            ),
            "0/3",
            "Init:1/2",
            "3 (10s ago)",
            id="sidecar-first-started",
        ),
        pytest.param(
            pod(
                1,
                [running(True, 4, ago(20))],
                init=SIDECARS,
                init_statuses=[
                    {"name": "side-1", **running(False, 3, ago(10)), "started": True},
                    {"name": "side-2", **running(True), "started": True},
                ],
                conditions=INITIALIZED,
            ),
            "2/3",
            "Running",
            "7 (10s ago)",
            id="sidecars-running-count-ready-and-restarts",
        ),
        pytest.param(
            pod(
                1,
                [
                    {
                        **terminated("Completed", restarts=4),
                        "lastState": {"terminated": {"finishedAt": ago(20)}},
                    }
                ],
                init=SIDECARS,
                init_statuses=[
                    {
                        "name": "side-1",
                        **terminated("Error", 137, restarts=3),
                        "started": False,
                        "lastState": {"terminated": {"finishedAt": ago(10)}},
                    },
                    {"name": "side-2", **terminated("Error", 137), "started": False},
                ],
                phase="Succeeded",
                conditions=INITIALIZED,
            ),
            "0/3",
            "Completed",
            "7 (10s ago)",
            id="sidecars-failed-after-initialized",
        ),
        pytest.param(
            pod(
                1,
                [{"name": "c0"}],
                init=[{"name": "init1"}, {"name": "side", "restartPolicy": "Always"}],
                init_statuses=[{"name": "bogus"}, {"name": "init1"}, {"name": "side"}],
            ),
            "0/2",
            "Init:0/2",
            "0",
            id="statuses-for-unknown-names",
        ),
    ],
)
def test_pod_init_containers(obj: dict[str, Any], ready: str, status: str, restarts: str) -> None:
    """Init containers: `Init:i/n` progress, `Init:<reason>` failures, sidecars count as containers."""
    row = cells_by_name(PODS, obj)
    assert (row["Ready"], row["Status"], row["Restarts"]) == (ready, status, restarts)


@pytest.mark.parametrize(
    ("statuses", "restarts"),
    [
        pytest.param([running(True, 3, ago(days=5))], "3 (5d ago)", id="restarted-5d-ago"),
        pytest.param([running(), running(True, 3, ago(days=10))], "3 (10d ago)", id="one-of-two-restarted"),
        pytest.param(
            [running(True, 6, ago(days=5)), running(True, 3, ago(days=20))],
            "9 (5d ago)",
            id="latest-restart-wins",
        ),
        pytest.param([running(True, 2)], "2", id="restarts-without-date"),
        pytest.param([running(True, 0, ago(30))], "0", id="date-without-restarts"),
    ],
)
def test_pod_restarts(statuses: list[dict[str, Any]], restarts: str) -> None:
    """RESTARTS adds `(<age> ago)` of the latest termination when there were restarts."""
    assert cells_by_name(PODS, pod(len(statuses), statuses))["Restarts"] == restarts


def test_pod_wide_columns() -> None:
    """IP, node, nominated node and readiness gates (`true/total`, first matching condition)."""
    obj = pod(2, [running(True, 3), {"restartCount": 3}], phase="podPhase")
    obj["spec"].update(
        nodeName="node-a",
        readinessGates=[{"conditionType": "c1"}, {"conditionType": "c2"}, {"conditionType": "c3"}],
    )
    obj["status"].update(
        podIPs=[{"ip": "1.1.1.1"}, {"ip": "2001:db8::"}],
        podIP="1.1.1.1",
        nominatedNodeName="node-b",
        conditions=[
            {"type": "c1", "status": "False"},
            {"type": "c2", "status": "True"},
            {"type": "c2", "status": "False"},
        ],
    )
    assert PODS.cells(obj, NOW) == ["p", "1/2", "podPhase", "6", "5m", "1.1.1.1", "node-a", "node-b", "1/3"]


def test_pod_wide_columns_empty() -> None:
    """Unset wide values print `<none>`; a lone status.podIP stands in for podIPs."""
    obj = pod(1, [waiting("ContainerCreating")], phase="Pending")
    assert PODS.cells(obj, NOW)[5:] == ["<none>", "<none>", "<none>", "<none>"]
    obj["status"]["podIP"] = "10.42.0.7"
    assert PODS.cells(obj, NOW)[5] == "10.42.0.7"


def test_pod_columns() -> None:
    """Nine columns, the last four only with -o wide; RESTARTS is a string column."""
    assert column_names(PODS) == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
        "IP",
        "Node",
        "Nominated Node",
        "Readiness Gates",
    ]
    assert [c["priority"] for c in PODS.columns] == [0, 0, 0, 0, 0, 1, 1, 1, 1]
    assert {c["type"] for c in PODS.columns} == {"string"}
    assert PODS.columns[0]["format"] == "name"


@pytest.mark.parametrize(
    ("phase", "conditions"),
    [
        pytest.param("Running", None, id="running-none"),
        pytest.param(
            "Succeeded",
            [
                {
                    "type": "Completed",
                    "status": "True",
                    "reason": "Succeeded",
                    "message": "The pod has completed successfully.",
                }
            ],
            id="succeeded",
        ),
        pytest.param(
            "Failed",
            [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}],
            id="failed",
        ),
    ],
)
def test_pod_row_conditions(phase: str, conditions: list[dict[str, str]] | None) -> None:
    """Finished pods carry a `Completed` row condition; others have none."""
    body = table(PODS, [pod(1, [running()], phase=phase)], now=NOW)
    assert body["rows"][0].get("conditions") == conditions
