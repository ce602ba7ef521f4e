"""How the kubelet API finds the runtime objects behind a pod and container name.

The kubelet API server needs only this from the rest of the kubelet:

    PodLookup        required: namespace/pod(/container) -> sandbox and container ids, log path, state
    PodInventory     optional: every running pod with its containers and cgroups (stats, /metrics/resource)
    PodLister        optional: the v1 Pod objects the node runs (GET /pods)

The kubelet core implements them from its pod manager; `CRIPodLookup` implements all three from the
container runtime alone, by the CRI labels of `labels` (which the core sets on everything it creates).

A lookup may raise `LookupFailed` to answer with its own HTTP code and message (for example "waiting to
start" while a container is being created); returning None means "no such pod/container".
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from kijabi.kubelet.cri import CRIError, NotFound, RuntimeClient, api, decode_info
from kijabi.kubelet.streaming import labels


class LookupFailed(Exception):
    """A lookup's own refusal: `code` is the HTTP status the kubelet answers with."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class SandboxRef:
    id: str
    namespace: str
    name: str
    uid: str
    ready: bool = True
    cgroup: str = ""  # the pod-level cgroup (cgroupfs path such as /kubepods/pod<uid>), "" if unknown


@dataclass(frozen=True)
class ContainerRef:
    id: str
    sandbox_id: str
    name: str
    log_path: str
    running: bool
    attempt: int = 0
    started_at: int = 0  # ns since the epoch, 0 if never started
    cgroup: str = ""


@dataclass(frozen=True)
class PodEntry:
    """A running pod as stats see it."""

    sandbox: SandboxRef
    containers: tuple[ContainerRef, ...] = ()


@runtime_checkable
class PodLookup(Protocol):
    async def sandbox(self, namespace: str, pod: str, uid: str = "") -> SandboxRef | None:
        """The pod's current sandbox (None: the node runs no such pod)."""
        ...

    async def container(self, namespace: str, pod: str, container: str, *, uid: str = "",
                        previous: bool = False) -> ContainerRef | None:
        """The container's current instance, or with `previous` the one before it."""
        ...

    async def running(self, container_id: str) -> bool:
        """Whether the container is still running (log follow stops once it is not)."""
        ...


@runtime_checkable
class PodInventory(Protocol):
    async def inventory(self) -> list[PodEntry]:
        ...


@runtime_checkable
class PodLister(Protocol):
    async def pods(self) -> list[dict[str, Any]]:
        ...


def _cgroup_of(info: Mapping[str, Any]) -> str:
    spec = ((info.get("info") or {}).get("runtimeSpec") or {}) if isinstance(info.get("info"), dict) else {}
    path = ((spec.get("linux") or {}).get("cgroupsPath")) or ""
    return str(path)


@dataclass
class CRIPodLookup:
    """PodLookup, PodInventory and PodLister answered from CRI labels alone (no pod manager needed)."""

    runtime: RuntimeClient
    _cgroups: dict[str, str] = field(default_factory=dict)  # container/sandbox id -> cgroup (immutable)

    async def sandbox(self, namespace: str, pod: str, uid: str = "") -> SandboxRef | None:
        items = await self.runtime.list_pod_sandbox(label_selector=labels.pod_selector(namespace, pod, uid))
        if not items:
            return None
        # The newest ready sandbox; a pod whose sandboxes all stopped still exists (logs remain).
        items.sort(key=lambda s: (s.state == api.SANDBOX_READY, s.metadata.attempt, s.created_at), reverse=True)
        best = items[0]
        return SandboxRef(best.id, namespace, pod, best.labels.get(labels.POD_UID) or best.metadata.uid,
                          ready=best.state == api.SANDBOX_READY,
                          cgroup=await self._sandbox_cgroup(best.id))

    async def container(self, namespace: str, pod: str, container: str, *, uid: str = "",
                        previous: bool = False) -> ContainerRef | None:
        if not uid:
            # Only the current incarnation of the pod: a deleted and recreated pod reuses the name.
            current = await self.sandbox(namespace, pod)
            uid = current.uid if current is not None else ""
        selector = {**labels.pod_selector(namespace, pod, uid), labels.CONTAINER_NAME: container}
        items = await self.runtime.list_containers(label_selector=selector)
        items.sort(key=lambda c: (c.metadata.attempt, c.created_at), reverse=True)
        index = 1 if previous else 0
        if len(items) <= index:
            return None
        item = items[index]
        try:
            resp = await self.runtime.container_status(item.id, verbose=True)
        except NotFound:
            return None
        status = resp.status
        cgroup = _cgroup_of(decode_info(resp.info))
        if cgroup:
            self._cgroups[item.id] = cgroup
        return ContainerRef(item.id, item.pod_sandbox_id, container, status.log_path,
                            status.state == api.CONTAINER_RUNNING, attempt=item.metadata.attempt,
                            started_at=status.started_at, cgroup=cgroup)

    async def running(self, container_id: str) -> bool:
        try:
            resp = await self.runtime.container_status(container_id)
        except NotFound:
            return False
        return resp.status.state == api.CONTAINER_RUNNING

    async def _container_cgroup(self, container_id: str) -> str:
        cached = self._cgroups.get(container_id)
        if cached is not None:
            return cached
        try:
            resp = await self.runtime.container_status(container_id, verbose=True)
        except CRIError:
            return ""
        path = self._cgroups[container_id] = _cgroup_of(decode_info(resp.info))
        return path

    async def _sandbox_cgroup(self, sandbox_id: str) -> str:
        cached = self._cgroups.get(sandbox_id)
        if cached is not None:
            return cached
        try:
            resp = await self.runtime.pod_sandbox_status(sandbox_id, verbose=True)
        except CRIError:
            return ""
        pause = _cgroup_of(decode_info(resp.info))
        # The pause container sits in <pod cgroup>/<sandbox id>; the pod cgroup is its parent.
        path = self._cgroups[sandbox_id] = pause.rsplit("/", 1)[0] if "/" in pause.strip("/") else pause
        return path

    async def inventory(self) -> list[PodEntry]:
        sandboxes = await self.runtime.list_pod_sandbox(state=api.SANDBOX_READY)
        containers = await self.runtime.list_containers(state=api.CONTAINER_RUNNING)
        by_sandbox: dict[str, list[api.Container]] = {}
        for c in containers:
            by_sandbox.setdefault(c.pod_sandbox_id, []).append(c)
        live = {s.id for s in sandboxes} | {c.id for c in containers}
        for gone in [k for k in self._cgroups if k not in live]:
            del self._cgroups[gone]
        out: list[PodEntry] = []
        for s in sandboxes:
            ns = s.labels.get(labels.POD_NAMESPACE) or s.metadata.namespace
            name = s.labels.get(labels.POD_NAME) or s.metadata.name
            refs = []
            for c in by_sandbox.get(s.id, []):
                cname = c.labels.get(labels.CONTAINER_NAME) or c.metadata.name
                refs.append(ContainerRef(c.id, s.id, cname, "", True, attempt=c.metadata.attempt,
                                         started_at=c.created_at, cgroup=await self._container_cgroup(c.id)))
            sandbox = SandboxRef(s.id, ns, name, s.labels.get(labels.POD_UID) or s.metadata.uid,
                                 cgroup=await self._sandbox_cgroup(s.id))
            out.append(PodEntry(sandbox, tuple(refs)))
        return out

    async def pods(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in await self.inventory():
            s = entry.sandbox
            out.append({
                "metadata": {"name": s.name, "namespace": s.namespace, "uid": s.uid, "creationTimestamp": None},
                "spec": {"containers": [{"name": c.name, "resources": {}} for c in entry.containers]},
                "status": {"phase": "Running", "containerStatuses": [
                    {"name": c.name, "containerID": f"containerd://{c.id}", "ready": True, "restartCount": c.attempt,
                     "state": {"running": {"startedAt": _rfc3339(c.started_at)}}, "image": "", "imageID": ""}
                    for c in entry.containers]},
            })
        return out


def _rfc3339(ns: int) -> str | None:
    if not ns:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))
