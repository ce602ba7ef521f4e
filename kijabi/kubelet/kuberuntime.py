"""One pod sync against the runtime (upstream kuberuntime_manager.go SyncPod / computePodActions / KillPod).

`compute_actions(pod, runtime_status, probes)` is pure: what to do to bring the runtime to the spec.
    1. A new sandbox when there is none, the newest is not ready, more than one is ready, or it has no IP
       (then every container of the old one is killed and the pod starts over with attempt + 1; a pod with
       restartPolicy Never whose sandbox died is not restarted).
    2. Init containers in order: a regular one must exit 0 before the next starts; a sidecar (restartable
       init container) must be started (startup probe passed) before the next starts and is restarted
       whenever it exits. Once a regular container was created, regular init containers never run again.
    3. Regular containers: start those never started or due for a restart (restartPolicy), kill and
       restart those whose spec hash changed or that failed liveness/startup probes.
    4. When nothing runs and nothing is to start, the pod is done: kill it (sidecars included).

`PodRuntimeManager.sync_pod` carries the actions out: RunPodSandbox (+ the managed /etc/hosts), image
pulls, CreateContainer/StartContainer with postStart hooks, StopContainer after preStop hooks with the
grace period (at least 2 s unless overridden), CrashLoopBackOff (10 s doubling to 300 s per container),
and removes dead containers beyond the newest one of each name. Failures to start are recorded per
container as (reason, message), e.g. ("CrashLoopBackOff", "back-off 10s restarting failed container=..."),
and shown as the container's waiting state.

Restart safety: everything is derived from the runtime's labels (pod uid, container name, restart
count) on every sync; a container found CREATED but never started (a kubelet killed mid-start) is
started as it is, and the runtime's name reservation (name + attempt) rejects a duplicate create.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kijabi.kubelet import actions, envvars, labels, podconfig, podutil, startuptrace
from kijabi.kubelet.backoff import Backoff
from kijabi.kubelet.config import KubeletConfig
from kijabi.kubelet.cri import CRIConnection, CRIError, NameReserved, NotFound, api
from kijabi.kubelet.imagepull import ImageError, ImageManager
from kijabi.kubelet.podstatus import should_restart
from kijabi.kubelet.runtimestate import (
    CREATED,
    EXITED,
    RUNNING,
    UNKNOWN,
    ContainerState,
    PodRuntimeStatus,
    fetch_pod_status,
    interrupted_start,
)
from kijabi.kubelet.volumes import Volume, VolumeError, VolumeManager

log = logging.getLogger(__name__)

MIN_GRACE_PERIOD = 2
Pod = Mapping[str, Any]
EventFunc = Callable[[Mapping[str, Any], str, str, str], None]


@dataclass
class KillInfo:
    name: str
    message: str
    grace_override: int | None = None


@dataclass
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""
    attempt: int = 0
    init_to_start: list[int] = field(default_factory=list)
    containers_to_start: list[int] = field(default_factory=list)
    containers_to_kill: dict[str, KillInfo] = field(default_factory=dict)

    @property
    def noop(self) -> bool:
        return not (self.kill_pod or self.create_sandbox or self.init_to_start or self.containers_to_start
                    or self.containers_to_kill)


@dataclass
class ProbeView:
    """The probe results compute_actions needs."""

    started: Callable[[str, str], bool] = lambda name, cid: True
    liveness_failed: Callable[[str], bool] = lambda cid: False
    startup_failed: Callable[[str], bool] = lambda cid: False


def sandbox_changed(pod: Pod, rt: PodRuntimeStatus) -> tuple[bool, int, str]:
    """(a new sandbox is needed, its attempt, the current sandbox id)."""
    if not rt.sandboxes:
        return True, 0, ""
    latest = rt.sandboxes[0]
    ready = [s for s in rt.sandboxes if s.ready]
    if len(ready) > 1 or not latest.ready:
        return True, latest.attempt + 1, latest.id
    if latest.host_network != podutil.host_network(pod):
        return True, latest.attempt + 1, latest.id
    if not podutil.host_network(pod) and not latest.ip:
        return True, latest.attempt + 1, latest.id
    return False, latest.attempt, latest.id


def _probe_failure(c: Mapping[str, Any], latest: ContainerState, probes: ProbeView) -> tuple[str, int | None] | None:
    name = str(c.get("name", ""))
    if latest.hash and latest.hash != podutil.container_hash(c):
        return f"Container {name} definition changed", None
    if probes.liveness_failed(latest.id):
        grace = (c.get("livenessProbe") or {}).get("terminationGracePeriodSeconds")
        return f"Container {name} failed liveness probe", grace
    if probes.startup_failed(latest.id):
        grace = (c.get("startupProbe") or {}).get("terminationGracePeriodSeconds")
        return f"Container {name} failed startup probe", grace
    return None


def compute_actions(pod: Pod, rt: PodRuntimeStatus, probes: ProbeView | None = None) -> PodActions:
    probes = probes or ProbeView()
    a = PodActions()
    create, attempt, sandbox_id = sandbox_changed(pod, rt)
    a.sandbox_id, a.attempt = sandbox_id, attempt
    regular = podutil.containers(pod)
    inits = podutil.init_containers(pod)
    policy = podutil.restart_policy(pod)
    if create:
        if policy == "Never" and attempt != 0 and rt.containers:
            a.kill_pod = True   # the sandbox died: a Never pod is not run again
            return a
        a.kill_pod = bool(rt.sandboxes)
        a.create_sandbox = True
        for idx, c in enumerate(regular):
            latest = rt.latest(str(c.get("name", "")))
            if policy == "OnFailure" and latest is not None and latest.state == EXITED and latest.exit_code == 0:
                continue
            a.containers_to_start.append(idx)
        if not a.containers_to_start and attempt != 0:
            a.create_sandbox = False
            return a
        if inits:
            a.init_to_start = [0]
            a.containers_to_start = []
        return a
    initialized = _init_actions(pod, rt, a, probes)
    if a.kill_pod or not initialized:
        return a
    keep = 0
    for idx, c in enumerate(regular):
        name = str(c.get("name", ""))
        latest = rt.latest(name)
        if latest is None or latest.state != RUNNING:
            if should_restart(c, labels.REGULAR, pod, latest):
                a.containers_to_start.append(idx)
                if latest is not None and latest.state == UNKNOWN:
                    a.containers_to_kill[latest.id] = KillInfo(name, f"Container {name} is in an unknown state")
            continue
        failure = _probe_failure(c, latest, probes)
        if failure is None:
            keep += 1
            continue
        message, grace = failure
        if policy != "Never" or message.endswith("definition changed"):
            message += ", will be restarted"
            a.containers_to_start.append(idx)
        a.containers_to_kill[latest.id] = KillInfo(name, message, grace)
    if keep == 0 and not a.containers_to_start:
        a.kill_pod = True
        a.init_to_start = []
    return a


def _init_actions(pod: Pod, rt: PodRuntimeStatus, a: PodActions, probes: ProbeView) -> bool:
    """Fill the init container actions; returns whether the pod is initialized."""
    inits = podutil.init_containers(pod)
    if not inits:
        return True
    regular_created = any(rt.latest(str(c.get("name", ""))) is not None for c in podutil.containers(pod))
    policy = podutil.restart_policy(pod)
    for i, c in enumerate(inits):
        name = str(c.get("name", ""))
        latest = rt.latest(name)
        if podutil.is_sidecar(c):
            if latest is None or latest.state != RUNNING:
                if latest is not None and latest.state == UNKNOWN:
                    a.containers_to_kill[latest.id] = KillInfo(name, f"Container {name} is in an unknown state")
                if not podutil.is_deleted(pod):
                    a.init_to_start.append(i)
                if not regular_created:
                    return False
                continue
            failure = _probe_failure(c, latest, probes)
            if failure is not None:
                a.containers_to_kill[latest.id] = KillInfo(name, failure[0] + ", will be restarted", failure[1])
                a.init_to_start.append(i)
                if not regular_created:
                    return False
                continue
            if not probes.started(name, latest.id) and not regular_created:
                return False
            continue
        if regular_created:
            continue
        if latest is None:
            a.init_to_start.append(i)
            return False
        if latest.state == RUNNING:
            return False
        if latest.state == EXITED:
            if latest.exit_code == 0:
                continue
            if policy == "Never":
                a.kill_pod = True
                return False
            a.init_to_start.append(i)
            return False
        if latest.state == UNKNOWN:
            a.containers_to_kill[latest.id] = KillInfo(name, f"Init container {name} is in an unknown state")
        a.init_to_start.append(i)
        return False
    return True


@dataclass
class SyncContext:
    """Per-sync inputs the runtime manager needs from the kubelet."""

    volumes: Mapping[str, Volume]
    env_sources: envvars.Sources
    pull_secrets: Sequence[Mapping[str, Any]]
    probes: ProbeView
    reasons: dict[str, tuple[str, str]]          # container -> (reason, message); updated in place
    wake_after: list[float] = field(default_factory=list)   # seconds until the worker should sync again
    trace: startuptrace.StartTrace | None = None             # the pod's start trace, while it is traced


class SyncError(Exception):
    """The sync could not finish; retried later. `reason` for the pod's event."""


class PodRuntimeManager:
    def __init__(self, cri: CRIConnection, config: KubeletConfig, *, images: ImageManager, volumes: VolumeManager,
                 backoff: Backoff, on_event: EventFunc, memory_capacity: int, node_hostname: Callable[[], str],
                 ensure_cgroup: Callable[[Pod, str], Awaitable[None]]) -> None:
        self.cri = cri
        self.config = config
        self.paths = config.paths
        self.images = images
        self.volumes = volumes
        self.backoff = backoff
        self.on_event = on_event
        self.memory_capacity = memory_capacity
        self.node_hostname = node_hostname
        self.ensure_cgroup = ensure_cgroup
        self._resolv_cache: tuple[float, str] | None = None
        self._start_gate = asyncio.Semaphore(max(config.max_parallel_pod_starts, 1))
        self.instance = uuid.uuid4().hex[:12]

    # --- sandbox -----------------------------------------------------------------------------------------

    def _host_resolv(self) -> str:
        try:
            mtime = self.config.resolv_conf.stat().st_mtime
        except OSError:
            return ""
        if self._resolv_cache is None or self._resolv_cache[0] != mtime:
            self._resolv_cache = (mtime, self.config.resolv_conf.read_text(errors="replace"))
        return self._resolv_cache[1]

    def sandbox_config(self, pod: Pod, attempt: int) -> api.PodSandboxConfig:
        hostname = "" if podutil.host_network(pod) else podconfig.pod_hostname(pod, self.node_hostname())[0]
        dns = podconfig.dns_config(pod, cluster_dns=self.config.cluster_dns, cluster_domain=self.config.cluster_domain,
                                   host_resolv=self._host_resolv())
        return podconfig.sandbox_config(
            pod, node=self.config.node_name, attempt=attempt, hostname=hostname,
            log_directory=self.paths.pod_log_directory(podutil.namespace(pod), podutil.name(pod), podutil.uid(pod)),
            dns=dns, cgroup_parent=podconfig.cgroup_parent(pod, self.config.cgroup_root))

    def write_hosts_file(self, pod: Pod, ips: Sequence[str]) -> Path:
        hostname, subdomain = podconfig.pod_hostname(pod, self.node_hostname())
        domain = f"{subdomain}.{podutil.namespace(pod)}.svc.{self.config.cluster_domain}" if subdomain else ""
        host_hosts = None
        if podutil.host_network(pod):
            try:
                host_hosts = Path("/etc/hosts").read_text(errors="replace")
            except OSError:
                host_hosts = ""
        text = podconfig.hosts_file(pod, ips=ips, hostname=hostname, domain=domain, host_hosts=host_hosts)
        path = self.paths.etc_hosts(podutil.uid(pod))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if path.read_text() == text:
                return path
        except OSError:
            pass
        tmp = path.with_name(".etc-hosts.tmp")
        tmp.write_text(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
        return path

    async def run_sandbox(self, pod: Pod, attempt: int,
                          trace: startuptrace.StartTrace | None = None) -> tuple[str, api.PodSandboxConfig, list[str]]:
        config = self.sandbox_config(pod, attempt)
        with startuptrace.phase(trace, "cgroup"):
            await self.ensure_cgroup(pod, config.linux.cgroup_parent)
        started = time.monotonic()
        try:
            with startuptrace.phase(trace, "sandbox"):
                sandbox_id = await self.cri.runtime.run_pod_sandbox(config)
            log.debug("pod %s: sandbox %s (attempt %d) in %.3fs", podutil.full_name(pod), sandbox_id[:12], attempt,
                      time.monotonic() - started)
        except NameReserved as exc:
            raise SyncError(f"the sandbox of attempt {attempt} is being created already: {exc.details}") from exc
        except CRIError as exc:
            self.on_event(pod, "Warning", "FailedCreatePodSandBox",
                          f"Failed to create pod sandbox: {exc.details}")
            raise SyncError(f"failed to create the pod sandbox: {exc.details}") from exc
        ips: list[str] = []
        if not podutil.host_network(pod):
            with startuptrace.phase(trace, "sandbox_status"):
                st = (await self.cri.runtime.pod_sandbox_status(sandbox_id)).status
            ips = [ip for ip in [st.network.ip, *(i.ip for i in st.network.additional_ips)] if ip]
        return sandbox_id, config, ips

    # --- sync --------------------------------------------------------------------------------------------

    async def sync_pod(self, pod: Pod, rt: PodRuntimeStatus, ctx: SyncContext, host_ips: Sequence[str]) -> PodActions:
        """Carry out compute_actions for `pod`. Raises SyncError when the sandbox could not be set up."""
        a = compute_actions(pod, rt, ctx.probes)
        if a.noop:
            return a
        if a.kill_pod:
            await self.kill_pod(pod, rt)
            if not a.create_sandbox:
                return a
        elif a.containers_to_kill:
            await asyncio.gather(*(self.kill_container(pod, self._find(rt, cid), info.message, info.grace_override)
                                   for cid, info in a.containers_to_kill.items() if self._find(rt, cid) is not None))
        gate_asked = time.monotonic()
        async with self._start_gate:
            if ctx.trace is not None:
                ctx.trace.add("start_gate", time.monotonic() - gate_asked)
            if a.create_sandbox:
                if a.attempt > 0:
                    self.on_event(pod, "Normal", "SandboxChanged",
                                  "Pod sandbox changed, it will be killed and re-created.")
                if rt.containers:
                    # the old instances are stopped now: number the new ones after them
                    rt = await fetch_pod_status(self.cri, rt.uid, self.config.node_name, self.instance)
                    rt = PodRuntimeStatus(uid=rt.uid, containers=[c for c in rt.containers if c.state == EXITED])
                sandbox_id, sandbox_cfg, ips = await self.run_sandbox(pod, a.attempt, ctx.trace)
            else:
                sandbox_id = a.sandbox_id
                sandbox_cfg = self.sandbox_config(pod, a.attempt)
                ips = rt.ips
            pod_ips = list(host_ips[:1]) if podutil.host_network(pod) else ips
            ctx.env_sources.pod_ips = pod_ips
            ctx.env_sources.host_ips = list(host_ips)
            with startuptrace.phase(ctx.trace, "hosts"):
                hosts = self.write_hosts_file(pod, pod_ips)
            inits = podutil.init_containers(pod)
            for i in a.init_to_start:
                c = inits[i]
                kind = labels.SIDECAR if podutil.is_sidecar(c) else labels.INIT
                ok = await self.start_container(pod, c, kind, rt, sandbox_id, sandbox_cfg, ctx, hosts)
                if not ok and kind == labels.INIT:
                    break
            regular = podutil.containers(pod)
            for i in a.containers_to_start:
                await self.start_container(pod, regular[i], labels.REGULAR, rt, sandbox_id, sandbox_cfg, ctx, hosts)
        return a

    @staticmethod
    def _find(rt: PodRuntimeStatus, cid: str) -> ContainerState | None:
        return next((c for c in rt.containers if c.id == cid), None)

    def backoff_key(self, pod: Pod, container: Mapping[str, Any]) -> str:
        return f"{podutil.uid(pod)}_{container.get('name')}_{podutil.container_hash(container)}"

    async def start_container(self, pod: Pod, container: Mapping[str, Any], kind: str, rt: PodRuntimeStatus,
                              sandbox_id: str, sandbox_cfg: api.PodSandboxConfig, ctx: SyncContext,
                              hosts_file: Path) -> bool:
        """Start one container (a new instance, or resume one found CREATED); records why not in ctx.reasons."""
        name = str(container.get("name", ""))
        latest = rt.latest(name)
        pod_label = f"{podutil.name(pod)}_{podutil.namespace(pod)}({podutil.uid(pod)})"
        if latest is not None and latest.state == CREATED and latest.sandbox_id == sandbox_id \
                and latest.hash == podutil.container_hash(container):
            try:
                await self.cri.runtime.start_container(latest.id)
            except CRIError as exc:
                if "starting state" in exc.details:
                    ctx.wake_after.append(0.2)   # the runtime is still starting it for a previous kubelet
                    return False
                log.info("pod %s: could not start the created container %s (%s); recreating", podutil.full_name(pod),
                         name, exc.details)
                await self._remove_quietly(latest.id)
            else:
                self.on_event(pod, "Normal", "Started", f"Started container {name}")
                ctx.reasons.pop(name, None)
                return True
        elif latest is not None and interrupted_start(latest):
            # a kubelet died while starting it: it never ran, so it is started again under the same attempt
            await self._remove_quietly(latest.id)
            rt = PodRuntimeStatus(uid=rt.uid, containers=[c for c in rt.containers if c.id != latest.id])
            return await self.start_container(pod, container, kind, rt, sandbox_id, sandbox_cfg, ctx, hosts_file)
        elif latest is not None and latest.state == EXITED and latest.finished_at:
            key = self.backoff_key(pod, container)
            finished = latest.finished_at / 1e9
            if self.backoff.in_backoff_since(key, finished):
                delay = self.backoff.get(key)
                ctx.reasons[name] = ("CrashLoopBackOff", f"back-off {_duration(delay)} restarting failed "
                                                         f"container={name} pod={pod_label}")
                self.on_event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {pod_label}")
                ctx.wake_after.append(self.backoff.remaining(key, finished) + 0.05)
                return False
            self.backoff.next(key, finished)
        restart_count = latest.restart_count + 1 if latest is not None else 0
        if latest is not None and latest.state == CREATED and latest.restart_count == restart_count - 1:
            await self._remove_quietly(latest.id)
            restart_count = latest.restart_count
        try:
            with startuptrace.phase(ctx.trace, "image"):
                image = await self.images.ensure(pod, container, ctx.pull_secrets, sandbox_cfg)
        except ImageError as exc:
            ctx.reasons[name] = (exc.reason, exc.message)
            if exc.reason == "ImagePullBackOff":
                ctx.wake_after.append(self.images.backoff.remaining_since_update(
                    f"{podutil.uid(pod)}_{image_name(container)}") + 0.05)
            else:
                ctx.wake_after.append(1.0)
            return False
        config_started = time.monotonic()
        try:
            env = envvars.make_env(pod, container, ctx.env_sources)
            mounts = self.volumes.container_mounts(container, ctx.volumes, dict(env))
            termination_file = self._termination_file(pod, container, restart_count)
            mounts = self._extra_mounts(pod, container, mounts, hosts_file, termination_file)
            image_info = None
            if _run_as_non_root(pod, container):
                image_info = await self.images.cri.images.get_image(image)
            podconfig.check_run_as_non_root(pod, container, image_info)
            config = podconfig.container_config(pod, container, node=self.config.node_name, kind=kind, image=image,
                                                restart_count=restart_count, env=env, mounts=mounts,
                                                memory_capacity=self.memory_capacity,
                                                termination_file=str(termination_file) if termination_file else "",
                                                instance=self.instance)
        except (envvars.EnvError, VolumeError, podconfig.ConfigError) as exc:
            ctx.reasons[name] = ("CreateContainerConfigError", str(exc))
            self.on_event(pod, "Warning", "Failed", f"Error: {exc}")
            ctx.wake_after.append(2.0)
            return False
        if ctx.trace is not None:
            ctx.trace.add("config", time.monotonic() - config_started)
        try:
            with startuptrace.phase(ctx.trace, "create"):
                cid = await self.cri.runtime.create_container(sandbox_id, config, sandbox_cfg)
        except NameReserved:
            ctx.wake_after.append(0.2)  # an instance of this attempt exists already: adopt it next sync
            return False
        except CRIError as exc:
            ctx.reasons[name] = ("CreateContainerError", exc.details)
            self.on_event(pod, "Warning", "Failed", f"Error: {exc.details}")
            ctx.wake_after.append(2.0)
            return False
        self.on_event(pod, "Normal", "Created", f"Created container: {name}")
        try:
            with startuptrace.phase(ctx.trace, "start"):
                await self.cri.runtime.start_container(cid)
        except CRIError as exc:
            ctx.reasons[name] = ("RunContainerError", exc.details)
            self.on_event(pod, "Warning", "Failed", f"Error: {exc.details}")
            ctx.wake_after.append(1.0)
            return False
        self.on_event(pod, "Normal", "Started", f"Started container {name}")
        log.debug("pod %s: container %s started (%s, restart %d)", podutil.full_name(pod), name, cid[:12],
                  restart_count)
        ctx.reasons.pop(name, None)
        hook = (container.get("lifecycle") or {}).get("postStart")
        if hook:
            ip = ctx.env_sources.pod_ips[0] if ctx.env_sources.pod_ips else ""
            result = await self.run_hook(hook, container, cid, ip, timeout=None)
            if not result.success:
                msg = f"PostStartHook failed: {result.output}".rstrip(": ")
                self.on_event(pod, "Warning", "FailedPostStartHook", msg)
                state = ContainerState(id=cid, name=name, attempt=restart_count, restart_count=restart_count,
                                       state=RUNNING, sandbox_id=sandbox_id)
                await self.kill_container(pod, state, "FailedPostStartHook", None, run_pre_stop=False)
                ctx.reasons[name] = ("PostStartHookError", msg)
                return False
        return True

    def _termination_file(self, pod: Pod, container: Mapping[str, Any], restart_count: int) -> Path | None:
        path = container.get("terminationMessagePath") or "/dev/termination-log"
        if not path:
            return None
        d = self.paths.container_dir(podutil.uid(pod), str(container.get("name", "")))
        d.mkdir(parents=True, exist_ok=True)
        f = d / f"{restart_count}"
        if not f.exists():
            f.touch(mode=0o666)
            os.chmod(f, 0o666)
        return f

    @staticmethod
    def _extra_mounts(pod: Pod, container: Mapping[str, Any], mounts: list[api.Mount], hosts: Path,
                      termination_file: Path | None) -> list[api.Mount]:
        targets = {m.container_path for m in mounts}
        out = list(mounts)
        if "/etc/hosts" not in targets:
            out.append(api.Mount(container_path="/etc/hosts", host_path=str(hosts)))
        path = container.get("terminationMessagePath") or "/dev/termination-log"
        if termination_file is not None and path not in targets:
            out.append(api.Mount(container_path=path, host_path=str(termination_file)))
        return out

    async def _remove_quietly(self, cid: str) -> None:
        try:
            await self.cri.runtime.remove_container(cid)
        except CRIError as exc:
            if "running task" not in exc.details:
                log.info("removing container %s: %s", cid, exc.details)
                return
            # a start cut off mid-way can leave a task behind a container the runtime reports exited
            try:
                await self.cri.runtime.stop_container(cid, 0)
                await self.cri.runtime.remove_container(cid)
            except CRIError as again:
                log.info("removing container %s: %s", cid, again.details)

    # --- hooks ---------------------------------------------------------------------------------------------

    async def run_hook(self, hook: Mapping[str, Any], container: Mapping[str, Any], container_id: str, pod_ip: str,
                       timeout: float | None) -> actions.ActionResult:
        limit = timeout if timeout is not None else 3600.0
        try:
            async with asyncio.timeout(max(limit, 0.001)):
                if "exec" in hook:
                    return await actions.run_exec(self.cri, container_id, (hook["exec"] or {}).get("command") or [],
                                                  int(limit) if timeout is not None else 0)
                if "httpGet" in hook:
                    h = hook["httpGet"] or {}
                    port = podutil.find_port(container, h.get("port"))
                    if port is None:
                        return actions.ActionResult(False, f"unknown port {h.get('port')!r}")
                    return await actions.run_http_get(h.get("host") or pod_ip, port, h.get("path") or "/",
                                                      scheme=h.get("scheme") or "HTTP",
                                                      headers=h.get("httpHeaders") or [], timeout=limit,
                                                      user_agent=actions.LIFECYCLE_USER_AGENT)
                if "sleep" in hook:
                    await asyncio.sleep(int((hook["sleep"] or {}).get("seconds", 0)))
                    return actions.ActionResult(True)
                if "tcpSocket" in hook:
                    return actions.ActionResult(True)  # deprecated: accepted, does nothing (upstream)
        except TimeoutError:
            return actions.ActionResult(False, "hook timed out")
        return actions.ActionResult(False, "unknown hook handler")

    # --- killing -----------------------------------------------------------------------------------------

    async def kill_container(self, pod: Pod, c: ContainerState | None, message: str = "",
                             grace_override: int | None = None, *, run_pre_stop: bool = True,
                             override: int | None = None) -> None:
        """preStop hook, then StopContainer with what is left of the grace period."""
        if c is None:
            return
        found = podutil.container_spec(pod, c.name)
        spec = found[0] if found is not None else {}
        grace = int(grace_override) if grace_override is not None else podutil.termination_grace_period(pod)
        if override is not None:
            grace = override
        self.on_event(pod, "Normal", "Killing", message or f"Stopping container {c.name}")
        hook = (spec.get("lifecycle") or {}).get("preStop")
        if hook and run_pre_stop and c.state == RUNNING and grace > 0:
            started = time.monotonic()
            result = await self.run_hook(hook, spec, c.id, await self._pod_ip(c.sandbox_id), grace)
            if not result.success:
                self.on_event(pod, "Warning", "FailedPreStopHook", f"PreStopHook failed: {result.output}".rstrip(": "))
            grace -= int(time.monotonic() - started)
        if override is None:
            grace = max(grace, MIN_GRACE_PERIOD)   # a minimal shutdown window, unless overridden (eviction)
        grace = max(grace, 0)
        try:
            await self.cri.runtime.stop_container(c.id, grace)
        except NotFound:
            pass
        except CRIError as exc:
            log.warning("pod %s: stopping container %s failed: %s", podutil.full_name(pod), c.name, exc.details)

    async def _pod_ip(self, sandbox_id: str) -> str:
        if not sandbox_id:
            return ""
        try:
            return (await self.cri.runtime.pod_sandbox_status(sandbox_id)).status.network.ip
        except CRIError:
            return ""

    async def kill_pod(self, pod: Pod, rt: PodRuntimeStatus, *, grace_override: int | None = None) -> None:
        """Stop every container (regular ones first, in parallel; then sidecars in reverse order) and every
        sandbox of the pod."""
        live = {}
        for c in rt.containers:
            if c.state in (RUNNING, CREATED, UNKNOWN) and c.name not in live:
                live[c.name] = c
        order = {str(c.get("name")): i for i, c in enumerate(podutil.init_containers(pod))}
        sidecars = sorted((c for c in live.values() if c.kind == labels.SIDECAR), key=lambda c: order.get(c.name, 0),
                          reverse=True)
        others = [c for c in live.values() if c.kind != labels.SIDECAR]
        await asyncio.gather(*(self.kill_container(pod, c, "", None, override=grace_override) for c in others))
        for c in sidecars:
            await self.kill_container(pod, c, "", None, override=grace_override)
        for sb in rt.sandboxes:
            try:
                await self.cri.runtime.stop_pod_sandbox(sb.id)
            except NotFound:
                pass
            except CRIError as exc:
                raise SyncError(f"stopping the sandbox failed: {exc.details}") from exc

    async def remove_pod(self, rt: PodRuntimeStatus) -> None:
        """Remove every container and sandbox of the pod (they are stopped already)."""
        for c in rt.containers:
            await self._remove_quietly(c.id)
        for sb in rt.sandboxes:
            try:
                await self.cri.runtime.remove_pod_sandbox(sb.id)
            except CRIError as exc:
                log.warning("removing sandbox %s failed: %s", sb.id, exc.details)

    async def gc_pod(self, pod: Pod, rt: PodRuntimeStatus) -> set[str]:
        """Remove dead containers beyond the newest dead one of each name (and their logs), and sandboxes
        that are not ready once a newer one is; returns the removed container ids."""
        removed: set[str] = set()
        seen_dead: set[str] = set()
        for c in rt.containers:
            if c.state != EXITED:
                continue
            if c.name not in seen_dead:
                seen_dead.add(c.name)
                continue
            await self._remove_quietly(c.id)
            removed.add(c.id)
            if c.log_path:
                with _suppress_oserror():
                    os.unlink(c.log_path)
            if c.termination_message_file:
                with _suppress_oserror():
                    os.unlink(c.termination_message_file)
        if rt.sandboxes and rt.sandboxes[0].ready:
            for sb in rt.sandboxes[1:]:
                if not sb.ready and not any(c.sandbox_id == sb.id and c.state != EXITED for c in rt.containers):
                    if any(c.sandbox_id == sb.id and c.id not in removed for c in rt.containers):
                        continue
                    try:
                        await self.cri.runtime.remove_pod_sandbox(sb.id)
                    except CRIError:
                        pass
        return removed


class _suppress_oserror:
    def __enter__(self) -> None:
        return None

    def __exit__(self, et: Any, e: Any, tb: Any) -> bool:
        return et is not None and issubclass(et, OSError)


def _run_as_non_root(pod: Pod, container: Mapping[str, Any]) -> bool:
    return bool(podconfig.effective_security_context(pod, container).get("runAsNonRoot"))


def image_name(container: Mapping[str, Any]) -> str:
    from kijabi.kubelet.imagepull import with_default_tag

    return with_default_tag(str(container.get("image") or ""))


def _duration(seconds: float) -> str:
    """Go's time.Duration formatting for whole seconds and minutes (10s, 40s, 1m20s, 5m0s)."""
    s = int(seconds)
    if s < 60:
        return f"{s}s"
    return f"{s // 60}m{s % 60}s"
