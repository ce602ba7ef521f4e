"""Pure kubelet decisions, table-driven: what a sync does (compute_actions), the pod phase and conditions,
container statuses, restart backoff."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.kubelet import labels, podstatus
from kijabi.kubelet.backoff import Backoff
from kijabi.kubelet.kuberuntime import ProbeView, compute_actions, sandbox_changed
from kijabi.kubelet.podutil import container_hash
from kijabi.kubelet.runtimestate import (
    CREATED,
    EXITED,
    RUNNING,
    ContainerState,
    PodRuntimeStatus,
    SandboxState,
)


def c(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:kijabi", **fields}


def mkpod(containers: list[dict[str, Any]], inits: list[dict[str, Any]] | None = None, policy: str = "Always",
          **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": containers, "restartPolicy": policy}
    if inits:
        spec["initContainers"] = inits
    return {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", **meta}, "spec": spec, "status": {}}


def sandbox(ready: bool = True, attempt: int = 0, ip: str = "10.0.0.2", sid: str = "sb") -> SandboxState:
    return SandboxState(id=sid, attempt=attempt, ready=ready, created_at=attempt + 1, ip=ip)


def inst(pod: dict[str, Any], name: str, state: str, *, exit_code: int = 0, restarts: int = 0, cid: str = "",
         kind: str = labels.REGULAR, started: int = 1, reason: str = "") -> ContainerState:
    spec = next(x for x in pod["spec"]["containers"] + pod["spec"].get("initContainers", []) if x["name"] == name)
    return ContainerState(id=cid or f"{name}-{restarts}", name=name, attempt=restarts, restart_count=restarts,
                          state=state, sandbox_id="sb", exit_code=exit_code, hash=container_hash(spec), kind=kind,
                          started_at=started * 10**9, finished_at=(started + 1) * 10**9 if state == EXITED else 0,
                          reason=reason)


def runtime(*containers: ContainerState, sandboxes: list[SandboxState] | None = None) -> PodRuntimeStatus:
    ordered = sorted(containers, key=lambda x: x.restart_count, reverse=True)
    return PodRuntimeStatus(uid="u1", sandboxes=[sandbox()] if sandboxes is None else sandboxes, containers=ordered)


# --- sandbox and actions -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sandboxes", "host_network", "want"), [
    ([], False, (True, 0)),
    ([sandbox()], False, (False, 0)),
    ([sandbox(ready=False)], False, (True, 1)),
    ([sandbox(ip="")], False, (True, 1)),
    ([sandbox(ip="")], True, (True, 1)),
    ([sandbox(attempt=1, sid="b"), sandbox(attempt=0, sid="a")], False, (True, 2)),
], ids=["none", "ready-with-ip", "not-ready", "no-ip", "host-network-mismatch", "two-ready"])
def test_sandbox_changed(sandboxes: list[SandboxState], host_network: bool, want: tuple[bool, int]) -> None:
    pod = mkpod([c("a")])
    pod["spec"]["hostNetwork"] = host_network
    create, attempt, _ = sandbox_changed(pod, PodRuntimeStatus(uid="u1", sandboxes=sandboxes))
    assert (create, attempt) == want


def test_new_pod_creates_a_sandbox_and_starts_its_containers() -> None:
    a = compute_actions(mkpod([c("a"), c("b")]), PodRuntimeStatus(uid="u1"))
    assert (a.create_sandbox, a.kill_pod, a.attempt, a.containers_to_start) == (True, False, 0, [0, 1])


def test_new_pod_with_init_containers_starts_only_the_first_init() -> None:
    a = compute_actions(mkpod([c("app")], inits=[c("i1"), c("i2")]), PodRuntimeStatus(uid="u1"))
    assert (a.create_sandbox, a.init_to_start, a.containers_to_start) == (True, [0], [])


@pytest.mark.parametrize(("policy", "exit_code", "restart"), [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 1, True), ("OnFailure", 0, False),
    ("Never", 1, False), ("Never", 0, False),
], ids=lambda v: str(v))
def test_restart_policy(policy: str, exit_code: int, restart: bool) -> None:
    pod = mkpod([c("a")], policy=policy)
    a = compute_actions(pod, runtime(inst(pod, "a", EXITED, exit_code=exit_code)))
    assert (a.containers_to_start == [0]) == restart
    assert a.kill_pod == (not restart), "a pod with nothing running and nothing to start is done"


def test_running_container_is_kept_and_nothing_happens() -> None:
    pod = mkpod([c("a")])
    assert compute_actions(pod, runtime(inst(pod, "a", RUNNING))).noop


def test_changed_spec_and_failed_liveness_restart_the_container() -> None:
    pod = mkpod([c("a"), c("b")])
    running_a = inst(pod, "a", RUNNING, cid="ca")
    running_b = inst(pod, "b", RUNNING, cid="cb")
    running_a.hash = "stale"
    a = compute_actions(pod, runtime(running_a, running_b), ProbeView(liveness_failed=lambda cid: cid == "cb"))
    assert a.containers_to_start == [0, 1]
    assert a.containers_to_kill["ca"].message == "Container a definition changed, will be restarted"
    assert a.containers_to_kill["cb"].message == "Container b failed liveness probe, will be restarted"


def test_init_containers_run_in_order_and_block_the_app() -> None:
    pod = mkpod([c("app")], inits=[c("i1"), c("i2")])
    a = compute_actions(pod, runtime(inst(pod, "i1", RUNNING, kind=labels.INIT)))
    assert (a.init_to_start, a.containers_to_start) == ([], [])
    a = compute_actions(pod, runtime(inst(pod, "i1", EXITED, kind=labels.INIT)))
    assert (a.init_to_start, a.containers_to_start) == ([1], [])
    a = compute_actions(pod, runtime(inst(pod, "i1", EXITED, kind=labels.INIT), inst(pod, "i2", EXITED, kind=labels.INIT)))
    assert (a.init_to_start, a.containers_to_start) == ([], [0])


@pytest.mark.parametrize(("policy", "kill_pod", "restart_init"), [("Never", True, []), ("Always", False, [0])],
                         ids=["never-fails-the-pod", "always-retries"])
def test_failed_init_container(policy: str, kill_pod: bool, restart_init: list[int]) -> None:
    pod = mkpod([c("app")], inits=[c("i1")], policy=policy)
    a = compute_actions(pod, runtime(inst(pod, "i1", EXITED, exit_code=1, kind=labels.INIT)))
    assert (a.kill_pod, a.init_to_start, a.containers_to_start) == (kill_pod, restart_init, [])


def test_sidecar_must_start_before_the_next_init_and_restarts_after_initialization() -> None:
    pod = mkpod([c("app")], inits=[c("side", restartPolicy="Always"), c("i2")])
    side = inst(pod, "side", RUNNING, kind=labels.SIDECAR, cid="s1")
    waiting = compute_actions(pod, runtime(side), ProbeView(started=lambda name, cid: False))
    assert (waiting.init_to_start, waiting.containers_to_start) == ([], [])
    ready = compute_actions(pod, runtime(side), ProbeView(started=lambda name, cid: True))
    assert ready.init_to_start == [1]
    dead_side = inst(pod, "side", EXITED, exit_code=1, kind=labels.SIDECAR)
    initialized = runtime(dead_side, inst(pod, "i2", EXITED, kind=labels.INIT), inst(pod, "app", RUNNING))
    a = compute_actions(pod, initialized)
    assert (a.init_to_start, a.containers_to_start, a.kill_pod) == ([0], [], False)


def test_finished_app_stops_the_pod_even_with_a_running_sidecar() -> None:
    pod = mkpod([c("app")], inits=[c("side", restartPolicy="Always")], policy="Never")
    rt = runtime(inst(pod, "side", RUNNING, kind=labels.SIDECAR), inst(pod, "app", EXITED))
    a = compute_actions(pod, rt)
    assert a.kill_pod and a.init_to_start == []


def test_dead_sandbox_of_a_never_pod_is_not_recreated() -> None:
    pod = mkpod([c("a")], policy="Never")
    rt = runtime(inst(pod, "a", EXITED, exit_code=137), sandboxes=[sandbox(ready=False)])
    a = compute_actions(pod, rt)
    assert a.kill_pod and not a.create_sandbox


def test_container_created_by_a_previous_kubelet_is_resumed_not_recreated() -> None:
    pod = mkpod([c("a")])
    a = compute_actions(pod, runtime(inst(pod, "a", CREATED)))
    assert a.containers_to_start == [0] and not a.containers_to_kill


# --- phase, conditions, statuses ------------------------------------------------------------------------------

def status_of(pod: dict[str, Any], rt: PodRuntimeStatus, **inputs: Any) -> dict[str, Any]:
    return podstatus.generate(pod, rt, {}, podstatus.StatusInputs(host_ips=["192.0.2.1"], **inputs))


@pytest.mark.parametrize(("policy", "states", "terminal", "phase"), [
    ("Always", [RUNNING], False, "Running"),
    ("Always", [EXITED], False, "Running"),
    ("Never", [EXITED], False, "Succeeded"),
    ("Never", [RUNNING, EXITED], False, "Running"),
    ("OnFailure", [EXITED], False, "Succeeded"),
    ("Always", [EXITED], True, "Succeeded"),
    ("Always", [], False, "Pending"),
], ids=["running", "always-restarting", "never-done", "one-still-running", "onfailure-done",
        "deleted-terminal", "nothing-yet"])
def test_phase(policy: str, states: list[str], terminal: bool, phase: str) -> None:
    names = [f"c{i}" for i in range(max(len(states), 1))]
    pod = mkpod([c(n) for n in names], policy=policy)
    rt = runtime(*(inst(pod, n, s) for n, s in zip(names, states, strict=False)))
    assert status_of(pod, rt, is_terminal=terminal)["phase"] == phase


def test_failed_container_under_never_fails_the_pod_and_conditions_say_why() -> None:
    pod = mkpod([c("a"), c("b")], policy="Never")
    st = status_of(pod, runtime(inst(pod, "a", EXITED, exit_code=2, reason="Error"), inst(pod, "b", EXITED)))
    assert st["phase"] == "Failed"
    conds = {x["type"]: x for x in st["conditions"]}
    assert (conds["ContainersReady"]["status"], conds["ContainersReady"]["reason"]) == ("False", "PodFailed")
    assert conds["Ready"]["reason"] == "PodFailed" and conds["PodScheduled"]["status"] == "True"
    a = st["containerStatuses"][0]["state"]["terminated"]
    assert (a["exitCode"], a["reason"]) == (2, "Error")


def test_crash_loop_status_shows_the_reason_and_the_last_termination() -> None:
    pod = mkpod([c("a")])
    rt = runtime(inst(pod, "a", EXITED, exit_code=3, restarts=2, reason="Error"),
                 inst(pod, "a", EXITED, exit_code=3, restarts=1, reason="Error"))
    st = status_of(pod, rt, reasons={"a": ("CrashLoopBackOff", "back-off 20s restarting failed container=a pod=p")})
    cs = st["containerStatuses"][0]
    assert cs["state"] == {"waiting": {"reason": "CrashLoopBackOff",
                                       "message": "back-off 20s restarting failed container=a pod=p"}}
    assert cs["lastState"]["terminated"]["exitCode"] == 3 and cs["restartCount"] == 2
    assert st["phase"] == "Running"


def test_waiting_containers_and_unready_conditions_before_anything_runs() -> None:
    pod = mkpod([c("app")], inits=[c("init")])
    st = status_of(pod, PodRuntimeStatus(uid="u1"), sandbox_needed=True)
    assert st["phase"] == "Pending"
    assert st["initContainerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    conds = {x["type"]: x for x in st["conditions"]}
    assert conds["PodReadyToStartContainers"]["status"] == "False"
    assert conds["Initialized"]["message"] == "containers with incomplete status: [init]"
    assert conds["ContainersReady"]["message"] == "containers with unready status: [app]"
    assert [x["type"] for x in st["conditions"]] == list(podstatus.KUBELET_CONDITIONS)


def test_readiness_gates_and_foreign_conditions() -> None:
    pod = mkpod([c("a")])
    pod["spec"]["readinessGates"] = [{"conditionType": "example.com/lb"}]
    pod["status"]["conditions"] = [{"type": "example.com/lb", "status": "False"}]
    st = status_of(pod, runtime(inst(pod, "a", RUNNING)))
    conds = {x["type"]: x for x in st["conditions"]}
    assert conds["ContainersReady"]["status"] == "True"
    assert (conds["Ready"]["status"], conds["Ready"]["reason"]) == ("False", "ReadinessGatesNotReady")
    assert conds["Ready"]["message"] == 'the status of pod readiness gate "example.com/lb" is not "True", but False'
    assert st["conditions"][0]["type"] == "example.com/lb", "conditions other writers own come first, kept"


def test_terminal_phase_never_goes_back() -> None:
    pod = mkpod([c("a")])
    pod["status"]["phase"] = "Succeeded"
    assert status_of(pod, runtime(inst(pod, "a", RUNNING)))["phase"] == "Succeeded"


def test_transition_time_is_kept_while_the_status_stays() -> None:
    pod = mkpod([c("a")])
    rt = runtime(inst(pod, "a", RUNNING))
    first = podstatus.generate(pod, rt, {}, podstatus.StatusInputs(now=1000.0))
    second = podstatus.generate(pod, rt, first, podstatus.StatusInputs(now=2000.0))
    assert [x["lastTransitionTime"] for x in second["conditions"]] == [x["lastTransitionTime"] for x in first["conditions"]]
    assert podstatus.semantically_equal(first, second)


# --- backoff -------------------------------------------------------------------------------------------------

def test_crash_backoff_doubles_to_the_maximum_and_resets_after_a_long_run() -> None:
    now = [1000.0]
    b = Backoff(10, 300, clock=lambda: now[0])
    assert not b.in_backoff_since("k", now[0])
    delays = [b.next("k", now[0]) for _ in range(7)]
    assert delays == [10, 20, 40, 80, 160, 300, 300]
    assert b.in_backoff_since("k", now[0])
    now[0] += 299
    assert b.in_backoff_since("k", now[0] - 299)
    now[0] += 2
    assert not b.in_backoff_since("k", 1000.0)
    now[0] += 700
    assert b.next("k", now[0]) == 10, "entries older than 2 x maximum start over"


def _running(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1", "resourceVersion": "1",
                                         "labels": {"app": "a"}},
                            "spec": {"containers": [c("main")]},
                            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}
    for path, value in changes.items():
        section, _, key = path.partition("__")
        base[section] = {**base[section], key: value}
    return base


@pytest.mark.parametrize(("new", "want"), [
    pytest.param(_running(metadata__resourceVersion="2", status__podIP="10.0.0.2"), False, id="status-echo"),
    pytest.param(_running(status__conditions=[{"type": "Ready", "status": "False"}]), False,
                 id="condition-no-readiness-gate"),
    pytest.param(_running(spec__containers=[c("main", args=["x"])]), True, id="spec"),
    pytest.param(_running(metadata__labels={"app": "b"}), True, id="labels"),
    pytest.param(_running(metadata__annotations={"a": "b"}), True, id="annotations"),
    pytest.param(_running(metadata__deletionTimestamp="2026-01-01T00:00:00Z"), True, id="deleted"),
    pytest.param(_running(status__phase="Failed"), True, id="terminal-phase-by-another-writer"),
    pytest.param(_running(spec__readinessGates=[{"conditionType": "x/ok"}]), True, id="readiness-gate-added"),
])
def test_which_pod_updates_need_a_sync_pass(new: dict[str, Any], want: bool) -> None:
    """An update from the API wakes the pod worker for a new spec, labels, annotations, a deletion, a
    terminal phase set by another writer, or readiness-gate conditions; not for the echo of a status write."""
    from kijabi.kubelet.podutil import needs_sync

    assert needs_sync(_running(), new) is want


def test_readiness_gate_condition_change_needs_a_sync_pass() -> None:
    from kijabi.kubelet.podutil import needs_sync

    gated = _running(spec__readinessGates=[{"conditionType": "x/ok"}])
    flipped = _running(spec__readinessGates=[{"conditionType": "x/ok"}],
                       status__conditions=[{"type": "x/ok", "status": "True"}])
    assert needs_sync(gated, flipped) is True
    assert needs_sync(gated, {**gated, "metadata": {**gated["metadata"], "resourceVersion": "9"}}) is False
