"""The API status of a pod from what the runtime holds (upstream kubelet_pods.go generateAPIPodStatus and
status/generate.go), as a pure function.

- Container statuses: the newest runtime instance gives `state`, the one before it `lastState`; a
  container that is to be (re)started and has a recorded failure shows it as `waiting` (CrashLoopBackOff,
  ErrImagePull, ImagePullBackOff, CreateContainerConfigError, ...); a container never started shows
  `waiting: ContainerCreating` (`PodInitializing` when the pod has init containers). `ready` and
  `started` come from the probes; a regular init container is ready once it exited 0.
- Phase: upstream getPhase (init containers pending -> Pending, all running/started -> Running, all
  terminated -> Succeeded/Failed according to the restart policy; a terminal phase never goes back).
- Conditions, in upstream order after the ones the kubelet does not own: PodReadyToStartContainers,
  Initialized, Ready, ContainersReady, PodScheduled; `lastTransitionTime` kept while a condition's status
  does not change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kijabi.kubelet import labels, podutil
from kijabi.kubelet.runtimestate import (
    CREATED,
    EXITED,
    RUNNING,
    UNKNOWN,
    ContainerState,
    PodRuntimeStatus,
    interrupted_start,
)
from kijabi.machinery.meta import rfc3339

Object = dict[str, Any]
KUBELET_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")


@dataclass
class StatusInputs:
    """Everything besides the pod and the runtime snapshot that goes into its status."""

    host_ips: list[str] = field(default_factory=list)
    reasons: Mapping[str, tuple[str, str]] = field(default_factory=dict)   # container -> (reason, message)
    ready: Callable[[str, str], bool] = lambda name, cid: True             # (container name, id) -> ready
    started: Callable[[str, str], bool] = lambda name, cid: True
    termination_message: Callable[[ContainerState], str] = lambda c: ""
    is_terminal: bool = False           # the pod will not run containers any more
    sandbox_needed: bool = False        # a new sandbox has to be created
    reason: str = ""                    # forced phase reason/message (eviction, admission)
    message: str = ""
    forced_phase: str = ""
    extra_conditions: Sequence[Object] = ()
    now: float = field(default_factory=time.time)


def _ts(ns: int) -> str | None:
    return rfc3339(ns / 1e9) if ns > 0 else None


def should_restart(container: Mapping[str, Any], kind: str, pod: Mapping[str, Any], latest: ContainerState | None) -> bool:
    """Upstream ShouldContainerBeRestarted."""
    if podutil.is_deleted(pod):
        return False
    if latest is None:
        return True
    if latest.state == RUNNING:
        return False
    if latest.state in (UNKNOWN, CREATED) or interrupted_start(latest):
        return True
    if kind == labels.SIDECAR:
        return True
    policy = podutil.restart_policy(pod)
    if policy == "Never":
        return False
    if policy == "OnFailure" and latest.exit_code == 0:
        return False
    return True


def _state_of(c: ContainerState, inputs: StatusInputs) -> Object:
    if c.state == RUNNING:
        return {"running": {"startedAt": _ts(c.started_at)}}
    if c.state == EXITED:
        message = inputs.termination_message(c) or c.message
        term: Object = {"exitCode": c.exit_code, "reason": c.reason or ("Completed" if c.exit_code == 0 else "Error"),
                        "startedAt": _ts(c.started_at), "finishedAt": _ts(c.finished_at),
                        "containerID": c.runtime_id}
        if message:
            term["message"] = message
        return {"terminated": term}
    return {"waiting": {}}


def _container_statuses(pod: Mapping[str, Any], runtime: PodRuntimeStatus, specs: Sequence[Mapping[str, Any]],
                        kinds: Sequence[str], old: Sequence[Mapping[str, Any]], inputs: StatusInputs,
                        is_init: bool) -> list[Object]:
    has_init = bool(podutil.init_containers(pod))
    default_reason = "PodInitializing" if has_init else "ContainerCreating"
    olds = {o.get("name"): o for o in old}
    out: list[Object] = []
    for spec, kind in zip(specs, kinds, strict=True):
        name = str(spec.get("name", ""))
        status: Object = {"name": name, "state": {"waiting": {"reason": default_reason}}, "lastState": {},
                          "ready": False, "restartCount": 0, "image": spec.get("image", ""), "imageID": "",
                          "started": False}
        prev = olds.get(name)
        if prev is not None:
            if "terminated" in (prev.get("state") or {}):
                status = {**dict(prev), "ready": False, "started": False}
            else:
                status["restartCount"] = int(prev.get("restartCount") or 0)
                status["lastState"] = dict(prev.get("lastState") or {})
        instances = runtime.instances(name)
        if not instances and prev is not None and "running" in (prev.get("state") or {}) \
                and not status["lastState"].get("terminated"):
            status["lastState"] = {"terminated": {
                "exitCode": 137, "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was deleted.  The container used "
                           "to be Running"}}
            if not podutil.is_deleted(pod):
                status["restartCount"] = int(status.get("restartCount") or 0) + 1
        if instances:
            latest = instances[0]
            status["state"] = _state_of(latest, inputs)
            status["restartCount"] = latest.restart_count
            status["image"] = latest.image or spec.get("image", "")
            status["imageID"] = latest.image_ref
            status["containerID"] = latest.runtime_id
            status["lastState"] = _state_of(instances[1], inputs) if len(instances) > 1 else {}
            if len(instances) == 1 and prev is not None and prev.get("lastState", {}).get("terminated") \
                    and prev.get("containerID") == latest.runtime_id:
                status["lastState"] = dict(prev["lastState"])
            if latest.state == RUNNING:
                status["started"] = inputs.started(name, latest.id)
                status["ready"] = status["started"] and inputs.ready(name, latest.id)
            elif is_init and kind == labels.INIT and latest.state == EXITED and latest.exit_code == 0:
                status["ready"] = True
        # a container due for a restart shows why it is waiting
        latest_c = instances[0] if instances else None
        skip = is_init and kind == labels.INIT and latest_c is not None and latest_c.state == EXITED \
            and latest_c.exit_code == 0
        if not skip and not inputs.is_terminal and should_restart(spec, kind, pod, latest_c) and name in inputs.reasons:
            reason, message = inputs.reasons[name]
            if "terminated" in status["state"]:
                status["lastState"] = status["state"]
            waiting: Object = {"reason": reason}
            if message:
                waiting["message"] = message
            status["state"] = {"waiting": waiting}
        mounts = []
        for vm in spec.get("volumeMounts") or []:
            m: Object = {"name": vm.get("name", ""), "mountPath": vm.get("mountPath", "")}
            if vm.get("readOnly"):
                m["readOnly"] = True
                m["recursiveReadOnly"] = "Disabled"
            mounts.append(m)
        if mounts:
            status["volumeMounts"] = mounts
        out.append(status)
    return out


def get_phase(pod: Mapping[str, Any], statuses: Sequence[Mapping[str, Any]], is_terminal: bool) -> str:
    """Upstream getPhase."""
    by_name = {s.get("name"): s for s in statuses}
    pending_init = failed_init = 0
    for c in podutil.init_containers(pod):
        if podutil.is_sidecar(c):
            continue
        st = by_name.get(c.get("name"))
        state = (st or {}).get("state") or {}
        if st is None:
            pending_init += 1
        elif "running" in state:
            pending_init += 1
        elif "terminated" in state:
            if state["terminated"].get("exitCode", 0) != 0:
                failed_init += 1
        elif "waiting" in state:
            last = (st.get("lastState") or {}).get("terminated")
            if last is not None:
                if last.get("exitCode", 0) != 0:
                    failed_init += 1
            else:
                pending_init += 1
        else:
            pending_init += 1
    unknown = running = waiting = stopped = succeeded = 0
    for c in podutil.init_containers(pod):
        if not podutil.is_sidecar(c):
            continue
        st = by_name.get(c.get("name"))
        if st is None:
            unknown += 1
            continue
        state = st.get("state") or {}
        if "running" in state:
            if not st.get("started"):
                pending_init += 1
            running += 1
        elif "terminated" in state:
            pass
        elif "waiting" in state:
            if not (st.get("lastState") or {}).get("terminated"):
                pending_init += 1
                waiting += 1
        else:
            pending_init += 1
            unknown += 1
    for c in podutil.containers(pod):
        st = by_name.get(c.get("name"))
        if st is None:
            unknown += 1
            continue
        state = st.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode", 0) == 0:
                succeeded += 1
        elif "waiting" in state:
            if (st.get("lastState") or {}).get("terminated"):
                stopped += 1
            else:
                waiting += 1
        else:
            unknown += 1
    policy = podutil.restart_policy(pod)
    if failed_init > 0 and policy == "Never":
        return "Failed"
    regular_started = _any_regular_started(pod, by_name)
    if (pending_init > 0 and not regular_started) or waiting > 0:
        return "Pending"
    if running > 0 and unknown == 0:
        return "Running"
    if running == 0 and stopped > 0 and unknown == 0:
        if is_terminal and not podutil.is_static(pod):
            return "Succeeded" if stopped == succeeded else "Failed"
        if policy == "Always":
            return "Running"
        if stopped == succeeded:
            return "Succeeded"
        if policy == "Never":
            return "Failed"
        return "Running"
    return "Pending"


def _any_regular_started(pod: Mapping[str, Any], by_name: Mapping[Any, Mapping[str, Any]]) -> bool:
    for c in podutil.containers(pod):
        st = by_name.get(c.get("name"))
        if st is None:
            continue
        state = st.get("state") or {}
        if "running" in state or "terminated" in state:
            return True
    return False


def _cond(ctype: str, ok: bool, reason: str = "", message: str = "") -> Object:
    c: Object = {"type": ctype, "status": "True" if ok else "False"}
    if reason:
        c["reason"] = reason
    if message:
        c["message"] = message
    return c


def _names(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def containers_ready_condition(pod: Mapping[str, Any], statuses: Sequence[Mapping[str, Any]], phase: str) -> Object:
    by_name = {s.get("name"): s for s in statuses}
    unknown: list[str] = []
    unready: list[str] = []
    for c in [c for c in podutil.init_containers(pod) if podutil.is_sidecar(c)] + podutil.containers(pod):
        st = by_name.get(c.get("name"))
        if st is None:
            unknown.append(str(c.get("name")))
        elif not st.get("ready"):
            unready.append(str(c.get("name")))
    if phase == "Succeeded" and not unknown:
        return _cond("ContainersReady", False, "PodCompleted")
    if phase == "Failed":
        return _cond("ContainersReady", False, "PodFailed")
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if unready:
        msgs.append(f"containers with unready status: {_names(unready)}")
    if msgs:
        return _cond("ContainersReady", False, "ContainersNotReady", ", ".join(msgs))
    return _cond("ContainersReady", True)


def ready_condition(pod: Mapping[str, Any], conditions: Sequence[Mapping[str, Any]],
                    statuses: Sequence[Mapping[str, Any]], phase: str) -> Object:
    cr = containers_ready_condition(pod, statuses, phase)
    if cr["status"] != "True":
        return {**cr, "type": "Ready"}
    msgs = []
    for gate in podutil.spec(pod).get("readinessGates") or []:
        ctype = gate.get("conditionType")
        found = next((c for c in conditions if c.get("type") == ctype), None)
        if found is None:
            msgs.append(f'corresponding condition of pod readiness gate "{ctype}" does not exist.')
        elif found.get("status") != "True":
            msgs.append(f'the status of pod readiness gate "{ctype}" is not "True", but {found.get("status")}')
    if msgs:
        return _cond("Ready", False, "ReadinessGatesNotReady", ", ".join(msgs))
    return _cond("Ready", True)


def initialized_condition(pod: Mapping[str, Any], statuses: Sequence[Mapping[str, Any]], phase: str) -> Object:
    by_name = {s.get("name"): s for s in statuses}
    unknown: list[str] = []
    incomplete: list[str] = []
    for c in podutil.init_containers(pod):
        st = by_name.get(c.get("name"))
        if st is None:
            unknown.append(str(c.get("name")))
            continue
        done = bool(st.get("started")) if podutil.is_sidecar(c) else bool(st.get("ready"))
        if not done:
            incomplete.append(str(c.get("name")))
    if phase == "Succeeded" and not unknown:
        return _cond("Initialized", True, "PodCompleted")
    if _any_regular_started(pod, by_name):
        return _cond("Initialized", True)
    msgs = []
    if unknown:
        msgs.append(f"containers with unknown status: {_names(unknown)}")
    if incomplete:
        msgs.append(f"containers with incomplete status: {_names(incomplete)}")
    if msgs:
        return _cond("Initialized", False, "ContainersNotInitialized", ", ".join(msgs))
    return _cond("Initialized", True)


def generate(pod: Mapping[str, Any], runtime: PodRuntimeStatus, old_status: Mapping[str, Any],
             inputs: StatusInputs) -> Object:
    """The pod's full status as the kubelet writes it."""
    api_status = podutil.status(pod)
    init_specs = podutil.init_containers(pod)
    init_kinds = [labels.SIDECAR if podutil.is_sidecar(c) else labels.INIT for c in init_specs]
    regular = podutil.containers(pod)
    container_statuses = _container_statuses(pod, runtime, regular, [labels.REGULAR] * len(regular),
                                             old_status.get("containerStatuses") or [], inputs, False)
    init_statuses = _container_statuses(pod, runtime, init_specs, init_kinds,
                                        old_status.get("initContainerStatuses") or [], inputs, True)
    everything = init_statuses + container_statuses
    phase = get_phase(pod, everything, inputs.is_terminal)
    old_phase = old_status.get("phase")
    api_phase = api_status.get("phase")
    if phase not in ("Failed", "Succeeded"):
        if old_phase in ("Failed", "Succeeded"):
            phase = str(old_phase)
        elif api_phase in ("Failed", "Succeeded"):
            phase = str(api_phase)
    reason, message = "", ""
    if phase == old_phase:
        reason = str(old_status.get("reason") or api_status.get("reason") or "")
        message = str(old_status.get("message") or api_status.get("message") or "")
    if inputs.forced_phase:
        phase, reason, message = inputs.forced_phase, inputs.reason, inputs.message
    if api_phase in ("Failed", "Succeeded") and phase != api_phase:
        phase = str(api_phase)
    status: Object = {"phase": phase}
    # IPs
    host_network = podutil.host_network(pod)
    ips = list(inputs.host_ips[:1]) if host_network else runtime.ips
    if not ips:
        ips = [p.get("ip") for p in old_status.get("podIPs") or api_status.get("podIPs") or [] if p.get("ip")]
        if not inputs.is_terminal and not host_network:
            ips = []
    if inputs.host_ips:
        status["hostIP"] = inputs.host_ips[0]
        status["hostIPs"] = [{"ip": ip} for ip in inputs.host_ips]
    if ips:
        status["podIP"] = ips[0]
        status["podIPs"] = [{"ip": ip} for ip in ips]
    start = old_status.get("startTime") or api_status.get("startTime") or rfc3339(inputs.now)
    status["startTime"] = start
    status["qosClass"] = api_status.get("qosClass") or podutil.qos_class(pod)
    if reason:
        status["reason"] = reason
    if message:
        status["message"] = message
    if init_statuses:
        status["initContainerStatuses"] = init_statuses
    status["containerStatuses"] = container_statuses
    # conditions
    kept = [dict(c) for c in api_status.get("conditions") or [] if c.get("type") not in KUBELET_CONDITIONS]
    for extra in inputs.extra_conditions:
        kept = [c for c in kept if c.get("type") != extra.get("type")] + [dict(extra)]
    ours = [
        _cond("PodReadyToStartContainers", not inputs.sandbox_needed),
        initialized_condition(pod, everything, phase),
        ready_condition(pod, kept, everything, phase),
        containers_ready_condition(pod, everything, phase),
        _cond("PodScheduled", True),
    ]
    previous = {c.get("type"): c for c in (old_status.get("conditions") or api_status.get("conditions") or [])}
    now = rfc3339(inputs.now)
    for c in ours:
        before = previous.get(c["type"])
        c["lastProbeTime"] = None
        if before is not None and before.get("status") == c["status"] and before.get("lastTransitionTime"):
            c["lastTransitionTime"] = before["lastTransitionTime"]
        else:
            c["lastTransitionTime"] = now
    status["conditions"] = kept + ours
    return status


def semantically_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Whether two statuses differ only in timestamps the kubelet refreshes (nothing to write)."""
    return bool(_strip(a) == _strip(b))


def _strip(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip(v) for k, v in value.items() if k not in ("lastProbeTime",)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
