"""What the runtime holds for one pod: its sandboxes and containers, read through CRI (kubecontainer.PodStatus).

`fetch_pod_status(cri, uid)` lists the pod's sandboxes and containers by the pod-uid label and asks the
status of the newest sandbox and of every container; lists come back newest first. Nothing is cached:
a sync always works on what the runtime says now, which is what makes a restarted kubelet adopt what it
finds instead of starting it again.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kijabi.kubelet import labels
from kijabi.kubelet.cri import CRIConnection, NotFound, api

RUNNING = "running"
CREATED = "created"
EXITED = "exited"
UNKNOWN = "unknown"

_STATES = {api.CONTAINER_CREATED: CREATED, api.CONTAINER_RUNNING: RUNNING, api.CONTAINER_EXITED: EXITED,
           api.CONTAINER_UNKNOWN: UNKNOWN}


@dataclass
class SandboxState:
    id: str
    attempt: int
    ready: bool
    created_at: int               # ns
    ip: str = ""
    additional_ips: list[str] = field(default_factory=list)
    host_network: bool = False

    @property
    def ips(self) -> list[str]:
        return [ip for ip in [self.ip, *self.additional_ips] if ip]


@dataclass
class ContainerState:
    id: str
    name: str
    attempt: int
    restart_count: int
    state: str                    # RUNNING, CREATED, EXITED, UNKNOWN
    sandbox_id: str
    created_at: int = 0           # ns
    started_at: int = 0
    finished_at: int = 0
    exit_code: int = 0
    reason: str = ""
    message: str = ""
    image: str = ""
    image_ref: str = ""
    hash: str = ""
    kind: str = labels.REGULAR
    log_path: str = ""
    termination_message_file: str = ""
    termination_message_path: str = ""
    termination_message_policy: str = ""
    interrupted: bool = False     # created by another kubelet run whose StartContainer never completed

    @property
    def runtime_id(self) -> str:
        """containerID as the API shows it."""
        return f"containerd://{self.id}"


@dataclass
class PodRuntimeStatus:
    uid: str
    sandboxes: list[SandboxState] = field(default_factory=list)      # newest first
    containers: list[ContainerState] = field(default_factory=list)   # newest first

    @property
    def sandbox(self) -> SandboxState | None:
        return self.sandboxes[0] if self.sandboxes else None

    def latest(self, name: str) -> ContainerState | None:
        for c in self.containers:
            if c.name == name:
                return c
        return None

    def instances(self, name: str) -> list[ContainerState]:
        return [c for c in self.containers if c.name == name]

    def running(self) -> list[ContainerState]:
        return [c for c in self.containers if c.state == RUNNING]

    @property
    def ips(self) -> list[str]:
        sb = self.sandbox
        return sb.ips if sb is not None and sb.ready else []

    def fingerprint(self) -> tuple[tuple[str, str], ...]:
        return tuple(sorted((c.id, c.state) for c in self.containers)) + tuple(
            sorted((s.id, "ready" if s.ready else "notready") for s in self.sandboxes))


def interrupted_start(c: ContainerState) -> bool:
    """An instance whose StartContainer was cut off because the kubelet that started it went away (killed
    mid-start: the runtime reports StartError and no start time). It never ran: it is started again under
    the same attempt instead of counting as a restart."""
    return c.interrupted


async def fetch_pod_status(cri: CRIConnection, uid: str, node: str | None = None,
                           instance: str = "") -> PodRuntimeStatus:
    """The pod's runtime state. `instance` is the calling kubelet run (see ContainerState.interrupted)."""
    selector = {labels.POD_UID: uid}
    if node:
        selector[labels.NODE] = node
    sandboxes, containers = await asyncio.gather(
        cri.runtime.list_pod_sandbox(label_selector=selector),
        cri.runtime.list_containers(label_selector=selector))
    result = PodRuntimeStatus(uid=uid)
    sandboxes.sort(key=lambda s: (s.metadata.attempt, s.created_at), reverse=True)
    for i, sb in enumerate(sandboxes):
        state = SandboxState(id=sb.id, attempt=sb.metadata.attempt, ready=sb.state == api.SANDBOX_READY,
                             created_at=sb.created_at)
        if i == 0:
            try:
                st = (await cri.runtime.pod_sandbox_status(sb.id)).status
            except NotFound:
                continue
            state.ready = st.state == api.SANDBOX_READY
            state.ip = st.network.ip
            state.additional_ips = [ip.ip for ip in st.network.additional_ips]
            state.host_network = st.linux.namespaces.options.network == api.NODE
        result.sandboxes.append(state)
    statuses = await asyncio.gather(*(_container_status(cri, c, instance) for c in containers))
    result.containers = [s for s in statuses if s is not None]
    result.containers.sort(key=lambda c: (c.restart_count, c.created_at), reverse=True)
    return result


async def _container_status(cri: CRIConnection, c: api.Container, instance: str) -> ContainerState | None:
    try:
        st = (await cri.runtime.container_status(c.id)).status
    except NotFound:
        return None
    lbl, ann = dict(st.labels), dict(st.annotations)
    return ContainerState(
        id=st.id, name=lbl.get(labels.CONTAINER_NAME, st.metadata.name), attempt=st.metadata.attempt,
        restart_count=labels.restart_count(lbl, ann), state=_STATES.get(st.state, UNKNOWN),
        sandbox_id=c.pod_sandbox_id, created_at=st.created_at, started_at=st.started_at,
        finished_at=st.finished_at, exit_code=st.exit_code, reason=st.reason, message=st.message,
        image=st.image.image, image_ref=st.image_ref, hash=ann.get(labels.CONTAINER_HASH, ""),
        kind=lbl.get(labels.CONTAINER_TYPE, labels.REGULAR), log_path=st.log_path,
        termination_message_file=ann.get(labels.TERMINATION_MESSAGE_FILE, ""),
        termination_message_path=ann.get(labels.TERMINATION_MESSAGE_PATH, ""),
        termination_message_policy=ann.get(labels.TERMINATION_MESSAGE_POLICY, ""),
        interrupted=(st.state == api.CONTAINER_EXITED and st.started_at == 0 and st.reason == "StartError"
                     and lbl.get(labels.KUBELET_INSTANCE, "") != instance),
    )
