"""Startup, liveness and readiness probes: one task per (pod, container, probe), results per container id.

Semantics (upstream prober/worker.go):
- A worker probes the container instance the pod worker last reported (`update()`); a new container id
  resets its counters and result. Results: readiness starts False, liveness True (success), startup
  False until the startup probe succeeds.
- Nothing is probed before `initialDelaySeconds` after the container started, nor (liveness,
  readiness) before the startup probe succeeded; a container that is not running is not ready.
- A result changes after `failureThreshold` consecutive failures or `successThreshold` consecutive
  successes; then `on_change(pod uid)` wakes the pod worker, which restarts the container (liveness,
  startup failure) or republishes readiness. After a liveness/startup failure the worker holds until
  the container id changes.
- Probes run every `periodSeconds`; the first one as soon as the initial delay has passed.
- Failures are reported as Warning events "Unhealthy" ("Liveness probe failed: <output>").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from kijabi.client.tasks import spawn
from kijabi.kubelet import actions, podutil
from kijabi.kubelet.cri import CRIConnection

log = logging.getLogger(__name__)

LIVENESS = "liveness"
READINESS = "readiness"
STARTUP = "startup"
KINDS = ((STARTUP, "startupProbe"), (LIVENESS, "livenessProbe"), (READINESS, "readinessProbe"))

EventFunc = Callable[[Mapping[str, Any], str, str, str], None]


@dataclass
class ContainerInfo:
    """What the pod worker last saw of a container instance."""

    id: str
    running: bool
    started_at: float   # seconds since the epoch
    pod_ip: str


@dataclass
class _Worker:
    uid: str
    container: str
    kind: str
    probe: Mapping[str, Any]
    spec: Mapping[str, Any]
    pod: Mapping[str, Any]
    info: ContainerInfo | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class ProbeManager:
    def __init__(self, cri: CRIConnection, *, on_change: Callable[[str], None], on_event: EventFunc) -> None:
        self.cri = cri
        self.on_change = on_change
        self.on_event = on_event
        self._workers: dict[tuple[str, str, str], _Worker] = {}
        # results, by container id
        self._ready: dict[str, bool] = {}
        self._live: dict[str, bool] = {}
        self._started: dict[str, bool] = {}
        self._startup_failed: set[str] = set()

    # --- results -----------------------------------------------------------------------------------------

    def has_probe(self, uid: str, container: str, kind: str) -> bool:
        return (uid, container, kind) in self._workers

    def started(self, uid: str, container: str, container_id: str) -> bool:
        if not self.has_probe(uid, container, STARTUP):
            return True
        return self._started.get(container_id, False)

    def ready(self, uid: str, container: str, container_id: str) -> bool:
        if not self.started(uid, container, container_id):
            return False
        if not self.has_probe(uid, container, READINESS):
            return True
        return self._ready.get(container_id, False)

    def liveness_failed(self, container_id: str) -> bool:
        return self._live.get(container_id) is False

    def startup_failed(self, container_id: str) -> bool:
        return container_id in self._startup_failed

    # --- pods --------------------------------------------------------------------------------------------

    def add_pod(self, pod: Mapping[str, Any]) -> None:
        """Create the workers of `pod`'s probes (a no-op for those that exist)."""
        uid = podutil.uid(pod)
        for container, _kind in podutil.all_containers(pod):
            if _kind == "init":
                continue  # regular init containers have no probes
            for kind, key in KINDS:
                probe = container.get(key)
                wkey = (uid, str(container.get("name", "")), kind)
                if not probe:
                    continue
                worker = self._workers.get(wkey)
                if worker is None:
                    worker = _Worker(uid, wkey[1], kind, probe, container, pod)
                    self._workers[wkey] = worker
                    worker.task = spawn(self._run(worker), name=f"probe {kind} {podutil.full_name(pod)}/{wkey[1]}")
                else:
                    worker.pod = pod

    def update(self, uid: str, containers: Mapping[str, ContainerInfo]) -> None:
        """Tell the workers of pod `uid` which instance of each container runs now."""
        for (wuid, cname, _), worker in self._workers.items():
            if wuid != uid:
                continue
            info = containers.get(cname)
            if info != worker.info:
                worker.info = info
                worker.wake.set()

    def remove_pod(self, uid: str) -> None:
        for key in [k for k in self._workers if k[0] == uid]:
            worker = self._workers.pop(key)
            if worker.task is not None:
                worker.task.cancel()

    def forget_containers(self, ids: set[str]) -> None:
        for d in (self._ready, self._live, self._started):
            for cid in ids & d.keys():
                del d[cid]
        self._startup_failed -= ids

    async def shutdown(self) -> None:
        tasks = [w.task for w in self._workers.values() if w.task is not None]
        self._workers.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    # --- workers -----------------------------------------------------------------------------------------

    async def _run(self, w: _Worker) -> None:
        probe = w.probe
        period = max(int(probe.get("periodSeconds") or 10), 1)
        initial_delay = int(probe.get("initialDelaySeconds") or 0)
        failure_threshold = max(int(probe.get("failureThreshold") or 3), 1)
        success_threshold = max(int(probe.get("successThreshold") or 1), 1)
        current = ""
        run_result: bool | None = None
        run_count = 0
        on_hold = False
        last_probe = 0.0
        while True:
            info = w.info
            timeout: float | None = None
            if info is None or not info.running:
                if info is not None and w.kind == READINESS and self._ready.get(info.id):
                    self._set(self._ready, info.id, False, w.uid)
                timeout = None
            else:
                if info.id != current:
                    current, run_result, run_count, on_hold, last_probe = info.id, None, 0, False, 0.0
                    if w.kind == READINESS:
                        self._ready.setdefault(info.id, False)
                    elif w.kind == LIVENESS:
                        self._live.setdefault(info.id, True)
                now = time.time()
                blocked = on_hold or (w.kind == STARTUP and self._started.get(info.id)) or (
                    w.kind != STARTUP and not self.started(w.uid, w.container, info.id))
                due = max(info.started_at + initial_delay, last_probe + period)
                if blocked:
                    timeout = period
                elif now < due:
                    timeout = due - now
                else:
                    last_probe = now
                    ok, output = await self._probe(w, info)
                    if ok == run_result:
                        run_count += 1
                    else:
                        run_result, run_count = ok, 1
                    if not ok:
                        self.on_event(w.pod, "Warning", "Unhealthy",
                                      f"{w.kind.capitalize()} probe failed: {output}".rstrip())
                    if (ok and run_count >= success_threshold) or (not ok and run_count >= failure_threshold):
                        self._record(w, info.id, ok)
                        if not ok and w.kind in (LIVENESS, STARTUP):
                            on_hold = True
                            run_count = 0
                    timeout = period
            w.wake.clear()
            if timeout is None:
                await w.wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(timeout):
                        await w.wake.wait()

    def _record(self, w: _Worker, cid: str, ok: bool) -> None:
        if w.kind == READINESS:
            self._set(self._ready, cid, ok, w.uid)
        elif w.kind == LIVENESS:
            self._set(self._live, cid, ok, w.uid)
        elif ok:
            self._set(self._started, cid, True, w.uid)
        else:
            self._startup_failed.add(cid)
            self.on_change(w.uid)

    def _set(self, results: dict[str, bool], cid: str, value: bool, uid: str) -> None:
        if results.get(cid) != value:
            results[cid] = value
            self.on_change(uid)

    async def _probe(self, w: _Worker, info: ContainerInfo) -> tuple[bool, str]:
        probe = w.probe
        timeout = max(int(probe.get("timeoutSeconds") or 1), 1)
        try:
            if "exec" in probe:
                result = await actions.run_exec(self.cri, info.id, (probe["exec"] or {}).get("command") or [], timeout)
            elif "httpGet" in probe:
                h = probe["httpGet"] or {}
                port = podutil.find_port(w.spec, h.get("port"))
                if port is None:
                    return False, f"unknown port {h.get('port')!r}"
                result = await actions.run_http_get(h.get("host") or info.pod_ip, port, h.get("path") or "/",
                                                    scheme=h.get("scheme") or "HTTP",
                                                    headers=h.get("httpHeaders") or [], timeout=timeout)
            elif "tcpSocket" in probe:
                t = probe["tcpSocket"] or {}
                port = podutil.find_port(w.spec, t.get("port"))
                if port is None:
                    return False, f"unknown port {t.get('port')!r}"
                result = await actions.run_tcp(t.get("host") or info.pod_ip, port, timeout)
            elif "grpc" in probe:
                g = probe["grpc"] or {}
                result = await actions.run_grpc(info.pod_ip, int(g.get("port", 0)), g.get("service") or "", timeout)
            else:
                return True, ""
        except Exception as exc:  # a probe must never kill its worker
            log.exception("probe %s of %s/%s failed to run", w.kind, w.uid, w.container)
            return False, str(exc)
        return result.success, result.output
