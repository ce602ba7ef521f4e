"""The kubelet: runs the pods bound to its node through CRI and reports them and the node to the API server.

    Kubelet(config, client, cri).run()      registers the Node, then until cancelled:
      pod sources    an informer on pods with spec.nodeName=<node>; static pods from the manifest directory
      pod workers    one task per pod (podworkers): sync -> terminate -> clean up, see kuberuntime
      relist (PLEG)  every second the runtime's containers/sandboxes of this node; a pod whose set changed is
                     woken (containerd 1.6 has no container events)
      housekeeping   static pods and their mirror pods; orphans (sandboxes, pod directories, cgroups of pods
                     no source has) are removed once every source was read
      node status, Lease, eviction manager, log rotation, event broadcaster

State other components read (the kubelet's HTTP server, streaming): `Kubelet.cri` (the CRI connection)
and `Kubelet.pods` (pod uid -> `PodInfo`: namespace, name, sandbox id, container ids by name and the
previous instance of each), with `find_pod(namespace, name)`, `container_id(...)` and `sandbox_id(...)`.
`PodInfo` is replaced after every sync, never mutated, so readers may keep a reference.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kijabi.client import Client, EventBroadcaster, EventHandlerFuncs, SharedInformerFactory
from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.errors import AlreadyExists, ClientError, Conflict, MethodNotAllowed, NotFound
from kijabi.client.informers import SharedIndexInformer
from kijabi.client.rest import PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, PODS, SERVICEACCOUNTS, SERVICES
from kijabi.client.tasks import spawn
from kijabi.kubelet import cgroups, envvars, labels, machine, podstatus, podutil, startuptrace, staticpods
from kijabi.kubelet.backoff import Backoff
from kijabi.kubelet.config import KubeletConfig
from kijabi.kubelet.cri import CRIConnection, CRIError, api
from kijabi.kubelet.eviction import EvictionManager, PodUsage, observe_node, parse_thresholds
from kijabi.kubelet.imagepull import ImageManager
from kijabi.kubelet.kuberuntime import PodRuntimeManager, ProbeView, SyncContext, SyncError
from kijabi.kubelet.logs import LogRotator
from kijabi.kubelet.nodestatus import NodeLease, NodeStatusManager
from kijabi.kubelet.objects import ObjectStore
from kijabi.kubelet.podworkers import SYNCING, TERMINATED, TERMINATING, PodWorker, run_worker
from kijabi.kubelet.probes import ContainerInfo, ProbeManager
from kijabi.kubelet.runtimestate import EXITED, RUNNING, ContainerState, PodRuntimeStatus, fetch_pod_status
from kijabi.kubelet.statusmanager import PodRef, StatusManager
from kijabi.kubelet.volumes import TokenUnsupported, VolumeError, VolumeManager, VolumeSources

log = logging.getLogger(__name__)

Object = dict[str, Any]
MAX_TERMINATION_MESSAGE = 4096
FALLBACK_LOG_LINES = 80


@dataclass(frozen=True)
class PodInfo:
    """What the runtime runs for one pod, as of its last sync."""

    uid: str
    namespace: str
    name: str
    sandbox_id: str | None
    containers: Mapping[str, str] = field(default_factory=dict)   # container name -> newest container id
    previous: Mapping[str, str] = field(default_factory=dict)     # container name -> the instance before
    log_directory: str = ""


class Kubelet:
    def __init__(self, config: KubeletConfig, client: Client, cri: CRIConnection, *,
                 event_client: Client | None = None, machine_info: machine.MachineInfo | None = None,
                 observe: Any = None) -> None:
        self.config = config
        self.client = client
        self.cri = cri
        self.paths = config.paths
        self.info = machine_info or machine.machine_info()
        self.node_status = NodeStatusManager(client, cri, config, pressure=self._pressure, info=self.info)
        self.lease = NodeLease(client, config, lambda: self.node_status.uid)
        self.status_manager = StatusManager(client, on_written=self._status_written)
        self.objects = ObjectStore(client, on_change=self._object_changed)
        self.backoff = Backoff(config.backoff_initial, config.backoff_max)
        self.image_backoff = Backoff(config.backoff_initial, config.backoff_max)
        self.broadcaster = EventBroadcaster(event_client or client)
        self.recorder = self.broadcaster.new_recorder("kubelet", config.node_name)
        self.images = ImageManager(cri, backoff=self.image_backoff, on_event=self._event)
        self.volumes = VolumeManager(self.paths)
        self.probes = ProbeManager(cri, on_change=self._wake_uid, on_event=self._event)
        self.runtime = PodRuntimeManager(cri, config, images=self.images, volumes=self.volumes, backoff=self.backoff,
                                         on_event=self._event, memory_capacity=self.info.memory_bytes,
                                         node_hostname=lambda: self.node_status.hostname,
                                         ensure_cgroup=self._ensure_cgroup)
        image_dir = config.data_dir / "agent" / "containerd"
        self.eviction = EvictionManager(
            parse_thresholds(config.eviction_hard),
            observe=observe or (lambda: observe_node(config.data_dir, image_dir)),
            pod_usage=self._pod_usage, active_pods=self._active_pods, evict=self._evict,
            transition_period=config.eviction_pressure_transition_period,
            on_pressure_change=lambda: self.node_status.poke())
        self.logs = LogRotator(cri, max_size=config.container_log_max_size, max_files=config.container_log_max_files)
        self.static_source = staticpods.StaticPodSource(self.paths.pod_manifests, config.node_name)
        self.workers: dict[str, PodWorker] = {}
        self.mirrors: dict[str, Object] = {}
        self._static: dict[str, Object] = {}
        self._pods: dict[str, PodInfo] = {}
        self._relist: dict[str, tuple[tuple[str, int], ...]] = {}
        self._running_logs: list[tuple[str, str]] = []
        self._traces: dict[str, startuptrace.StartTrace] = {}
        self._tg: asyncio.TaskGroup | None = None
        self._housekeeping_wake = asyncio.Event()
        self.services: SharedIndexInformer | None = None
        self.pod_informer: SharedIndexInformer | None = None
        self.sources_ready = asyncio.Event()
        self.registered = asyncio.Event()

    # --- what other components read ---------------------------------------------------------------------

    @property
    def pods(self) -> Mapping[str, PodInfo]:
        return self._pods

    def find_pod(self, namespace: str, name: str) -> PodInfo | None:
        for info in self._pods.values():
            if info.namespace == namespace and info.name == name:
                return info
        return None

    def container_id(self, namespace: str, pod: str, container: str) -> str | None:
        info = self.find_pod(namespace, pod)
        return info.containers.get(container) if info is not None else None

    def sandbox_id(self, namespace: str, pod: str) -> str | None:
        info = self.find_pod(namespace, pod)
        return info.sandbox_id if info is not None else None

    # --- running -----------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled."""
        await self.node_status.register()
        self.registered.set()
        factory = SharedInformerFactory(self.client)
        self.pod_informer = factory.informer(PODS, field_selector=f"spec.nodeName={self.config.node_name}")
        self.pod_informer.add_event_handler(EventHandlerFuncs(
            add=self._on_pod, update=lambda _old, new: self._on_pod(new), delete=self._on_pod_deleted))
        self.services = factory.informer(SERVICES)
        try:
            async with asyncio.TaskGroup() as tg:
                self._tg = tg
                factory.start(tg)
                self.broadcaster.start(tg)
                spawn(self.node_status.run(), name="node status", tg=tg)
                spawn(self.lease.run(), name="node lease", tg=tg)
                spawn(self._relist_loop(), name="pod lifecycle relist", tg=tg)
                spawn(self._housekeeping_loop(), name="housekeeping", tg=tg)
                spawn(self.eviction.run(self.config.eviction_monitoring_period), name="eviction manager", tg=tg)
                spawn(self._log_rotation_loop(), name="log rotation", tg=tg)
                spawn(self._gc_loop(), name="garbage collection", tg=tg)
                if startuptrace.enabled():
                    spawn(startuptrace.watch_stalls(), name="stall watch", tg=tg)
                await self.pod_informer.wait_for_sync()
                self._poll_static()
                self.sources_ready.set()
                self._housekeeping_wake.set()
        finally:
            self._tg = None
            await self.probes.shutdown()
            await self.objects.shutdown()
            await self.status_manager.shutdown()

    # --- pod sources ---------------------------------------------------------------------------------------

    def _on_pod(self, pod: Object) -> None:
        if podutil.is_mirror(pod):
            key = podutil.full_name(pod)
            self.mirrors[key] = pod
            self._housekeeping_wake.set()
            return
        w = self.workers.get(podutil.uid(pod))
        if w is not None and not podutil.needs_sync(w.pod, pod):
            w.pod = pod   # a status-only change (our own write, mostly): kept for the status view, no pass
            return
        self._dispatch(pod, static=False)

    def _on_pod_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        if podutil.is_mirror(pod):
            key = podutil.full_name(pod)
            if self.mirrors.get(key, {}).get("metadata", {}).get("uid") == podutil.uid(pod):
                del self.mirrors[key]
            self._housekeeping_wake.set()
            return
        w = self.workers.get(podutil.uid(pod))
        if w is not None:
            w.removed = True
            w.update(pod)

    def _dispatch(self, pod: Object, *, static: bool) -> None:
        uid = podutil.uid(pod)
        w = self.workers.get(uid)
        if w is not None:
            w.update(pod)
            return
        if self._tg is None:
            return
        w = PodWorker(uid=uid, pod=pod, static=static)
        self.workers[uid] = w
        if startuptrace.enabled():
            self._traces[uid] = startuptrace.StartTrace(podutil.full_name(pod))
        w.task = self._tg.create_task(self._worker(w), name=f"pod worker {podutil.full_name(pod)}")
        w.wake()

    async def _worker(self, w: PodWorker) -> None:
        try:
            await run_worker(w, self._sync)
        finally:
            if self.workers.get(w.uid) is w:
                del self.workers[w.uid]
            self._pods.pop(w.uid, None)
            self._traces.pop(w.uid, None)

    def _poll_static(self) -> None:
        current = self.static_source.poll()
        for uid, pod in current.items():
            if uid not in self._static:
                log.info("static pod %s (%s) added", podutil.full_name(pod), uid)
            self._static[uid] = pod
            if uid not in self.workers:
                self._dispatch(pod, static=True)
        for uid in list(self._static):
            if uid not in current:
                log.info("static pod %s removed", podutil.full_name(self._static[uid]))
                del self._static[uid]
                w = self.workers.get(uid)
                if w is not None:
                    w.removed = True
                    w.wake()

    def _wake_uid(self, uid: str) -> None:
        w = self.workers.get(uid)
        if w is not None:
            w.wake()

    def _object_changed(self, kind: str, namespace: str, name: str) -> None:
        for uid in self.objects.users(kind, namespace, name):
            self._wake_uid(uid)

    # --- events --------------------------------------------------------------------------------------------

    def _event(self, pod: Mapping[str, Any], type: str, reason: str, message: str) -> None:
        ref = {"kind": "Pod", "apiVersion": "v1", "namespace": podutil.namespace(pod), "name": podutil.name(pod),
               "uid": podutil.uid(pod)}
        self.recorder.event(ref, type, reason, message)

    # --- syncing one pod ---------------------------------------------------------------------------------------

    def _ref(self, w: PodWorker) -> PodRef | None:
        pod = w.pod
        if w.static:
            mirror = self.mirrors.get(podutil.full_name(pod))
            if mirror is None or staticpods.mirror_hash(mirror) != podutil.uid(pod):
                return None
            return PodRef(podutil.namespace(pod), podutil.name(pod), podutil.uid(mirror))
        return PodRef(podutil.namespace(pod), podutil.name(pod), podutil.uid(pod))

    def _api_view(self, w: PodWorker) -> Mapping[str, Any]:
        """The pod as the status generator should see it: a static pod's status lives on its mirror."""
        if w.static:
            mirror = self.mirrors.get(podutil.full_name(w.pod))
            if mirror is not None:
                return {**w.pod, "status": mirror.get("status") or {}}
        return w.pod

    async def _fetch(self, uid: str) -> PodRuntimeStatus:
        return await fetch_pod_status(self.cri, uid, self.config.node_name, self.runtime.instance)

    async def _sync(self, w: PodWorker) -> bool:
        if w.state == SYNCING:
            if w.should_stop:
                w.state = TERMINATING
            else:
                terminal = await self._sync_pod(w)
                if not terminal:
                    return False
                w.state = TERMINATING
        if w.state == TERMINATING:
            await self._terminate_pod(w)
            w.state = TERMINATED
        if w.removed or podutil.is_deleted(w.pod):
            await self._cleanup_pod(w)
            return True
        return False

    def _admit(self, pod: Mapping[str, Any]) -> tuple[bool, str, str]:
        ok, reason, message = self.eviction.admit(pod)
        if not ok:
            return ok, reason, message
        for key, value in (podutil.spec(pod).get("nodeSelector") or {}).items():
            labels_ = (self.node_status.node or {}).get("metadata", {}).get("labels") or {}
            if labels_.get(key) != value:
                return False, "NodeAffinity", "Predicate NodeAffinity failed: node(s) didn't match Pod's node " \
                                              "affinity/selector"
        allocatable = self.node_status.allocatable()
        active = [w.pod for w in self.workers.values()
                  if w.admitted and w.state == SYNCING and podutil.uid(w.pod) != podutil.uid(pod)]
        if len(active) + 1 > self.config.max_pods:
            return False, "OutOfpods", (f"Node didn't have enough resource: pods, requested: 1, used: {len(active)}, "
                                        f"capacity: {self.config.max_pods}")
        want = podutil.pod_requests(pod)
        for resource, milli in (("cpu", True), ("memory", False)):
            req = want.get(resource)
            if req is None or req.is_zero():
                continue
            used = sum((podutil.pod_requests(p).get(resource) or podutil.ZERO).scaled_value(-3 if milli else 0)
                       for p in active)
            cap = podutil.quantity(allocatable.get(resource)).scaled_value(-3 if milli else 0)
            asked = req.scaled_value(-3 if milli else 0)
            if used + asked > cap:
                return False, f"OutOf{resource}", (f"Node didn't have enough resource: {resource}, requested: {asked}, "
                                                 f"used: {used}, capacity: {cap}")
        return True, "", ""

    async def _sync_pod(self, w: PodWorker) -> bool:
        """One SYNCING pass; returns True when the pod reached a terminal phase."""
        pod = w.pod
        uid = w.uid
        trace = self._traces.get(uid)
        if trace is not None and "queue" not in trace.phases:
            trace.add("queue", time.monotonic() - trace.seen)
        with startuptrace.phase(trace, "fetch"):
            rt = await self._fetch(uid)
        if trace is not None and (rt.containers or rt.sandboxes) and not trace.published and w.syncs == 0:
            self._traces.pop(uid, None)   # adopted from a previous kubelet run: not a start to trace
            trace = None
        if not w.admitted:
            if not rt.containers and not rt.sandboxes and not podutil.is_terminal_phase(pod) \
                    and podutil.status(pod).get("phase") != "Running":
                ok, reason, message = self._admit(pod)
                if not ok:
                    log.info("pod %s refused: %s: %s", podutil.full_name(pod), reason, message)
                    self._event(pod, "Warning", reason, message)
                    w.forced = ("Failed", reason, f"Pod was rejected: {message}" if reason != "Evicted" else message)
                    return True
            w.admitted = True
        if podutil.is_terminal_phase(self._api_view(w)):
            return True
        deadline = self._active_deadline(w)
        if deadline is not None:
            if deadline <= 0:
                message = "Pod was active on the node longer than the specified deadline"
                self._event(pod, "Normal", "DeadlineExceeded", message)
                w.forced = ("Failed", "DeadlineExceeded", message)
                return True
            w.request_sync_in(deadline + 0.05)
        self.objects.register(pod)
        with startuptrace.phase(trace, "objects"):
            await self.objects.wait(pod)
        self.probes.add_pod(pod)
        host_ips = self.node_status.host_ips
        sources = self._volume_sources(rt, host_ips)
        try:
            with startuptrace.phase(trace, "volumes"):
                volumes = await self.volumes.setup(pod, sources)
        except VolumeError as exc:
            self._event(pod, "Warning", "FailedMount", f"MountVolume.SetUp failed: {exc}")
            self._publish(w, rt, sandbox_needed=True)
            w.request_sync_in(2.0)
            return False
        ctx = SyncContext(volumes=volumes, env_sources=self._env_sources(rt, host_ips),
                          pull_secrets=self._pull_secrets(pod),
                          probes=ProbeView(started=lambda name, cid: self.probes.started(uid, name, cid),
                                           liveness_failed=self.probes.liveness_failed,
                                           startup_failed=self.probes.startup_failed),
                          reasons=w.reasons, trace=trace)
        try:
            actions = await self.runtime.sync_pod(pod, rt, ctx, host_ips)
        except SyncError as exc:
            log.info("pod %s: %s", podutil.full_name(pod), exc)
            rt = await self._fetch(uid)
            self._publish(w, rt, sandbox_needed=True)
            w.request_sync_in(1.0)
            return False
        if not actions.noop:
            with startuptrace.phase(trace, "refetch"):
                rt = await self._fetch(uid)
        if len(rt.sandboxes) > 1 or \
                sum(1 for c in rt.containers if c.state == EXITED) > len(set(c.name for c in rt.containers)):
            removed = await self.runtime.gc_pod(pod, rt)
            if removed:
                self.probes.forget_containers(removed)
                rt.containers = [c for c in rt.containers if c.id not in removed]
        with startuptrace.phase(trace, "publish"):
            status = self._publish(w, rt)
        if trace is not None and status.get("phase") == "Running" and trace.published == 0.0:
            trace.published = time.monotonic()
        self._update_probes(w, rt)
        for delay in ctx.wake_after:
            w.request_sync_in(delay)
        token_due = self.volumes.token_refresh_due(uid)
        if token_due is not None:
            w.request_sync_in(token_due + 0.1)
        w.request_sync_in(self.config.sync_frequency)
        return status.get("phase") in ("Succeeded", "Failed") and not rt.running()

    def _active_deadline(self, w: PodWorker) -> float | None:
        """Seconds left of spec.activeDeadlineSeconds, counted from the pod's start time (None: no deadline)."""
        limit = podutil.spec(w.pod).get("activeDeadlineSeconds")
        if limit is None:
            return None
        started = (self.status_manager.get(w.uid) or podutil.status(self._api_view(w))).get("startTime")
        if not started:
            return float(limit)
        from kijabi.machinery.meta import parse_time

        try:
            return parse_time(str(started)) + int(limit) - time.time()
        except ValueError:
            return float(limit)

    def _publish(self, w: PodWorker, rt: PodRuntimeStatus, *, sandbox_needed: bool | None = None,
                 is_terminal: bool = False) -> Object:
        pod = w.pod
        uid = w.uid
        view = self._api_view(w)
        old = self.status_manager.get(uid) or podutil.status(view)
        if sandbox_needed is None:
            from kijabi.kubelet.kuberuntime import sandbox_changed

            sandbox_needed = sandbox_changed(pod, rt)[0]
        forced = w.forced
        inputs = podstatus.StatusInputs(
            host_ips=self.node_status.host_ips, reasons=dict(w.reasons),
            ready=lambda name, cid: self.probes.ready(uid, name, cid),
            started=lambda name, cid: self.probes.started(uid, name, cid),
            termination_message=self._termination_message, is_terminal=is_terminal,
            sandbox_needed=sandbox_needed, forced_phase=forced[0] if forced else "",
            reason=forced[1] if forced else "", message=forced[2] if forced else "",
            extra_conditions=w.extra_conditions)
        status = podstatus.generate(view, rt, old, inputs)
        ref = self._ref(w)
        if ref is None:
            self.status_manager.remember(uid, status)
        else:
            self.status_manager.set(uid, ref, status)
        self._record_info(w, rt)
        return status

    def _status_written(self, uid: str, status: Object, sent: float, acked: float) -> None:
        trace = self._traces.get(uid)
        if trace is None or status.get("phase") != "Running" or not trace.published:
            return
        del self._traces[uid]
        trace.add("patch_wait", max(sent - trace.published, 0.0))
        trace.add("patch", acked - sent)
        startuptrace.log.debug("%s", trace.line(acked))

    def _record_info(self, w: PodWorker, rt: PodRuntimeStatus) -> None:
        newest: dict[str, str] = {}
        previous: dict[str, str] = {}
        for c in rt.containers:
            if c.name not in newest:
                newest[c.name] = c.id
            elif c.name not in previous:
                previous[c.name] = c.id
        sandbox = rt.sandbox
        pod = w.pod
        self._pods[w.uid] = PodInfo(
            uid=w.uid, namespace=podutil.namespace(pod), name=podutil.name(pod),
            sandbox_id=sandbox.id if sandbox is not None else None, containers=newest, previous=previous,
            log_directory=str(self.paths.pod_log_directory(podutil.namespace(pod), podutil.name(pod), w.uid)))

    def _update_probes(self, w: PodWorker, rt: PodRuntimeStatus) -> None:
        ips = rt.ips or (self.node_status.host_ips if podutil.host_network(w.pod) else [])
        infos: dict[str, ContainerInfo] = {}
        for c in rt.containers:
            if c.name not in infos:
                infos[c.name] = ContainerInfo(c.id, c.state == RUNNING, c.started_at / 1e9, ips[0] if ips else "")
        self.probes.update(w.uid, infos)

    def _termination_message(self, c: ContainerState) -> str:
        text = ""
        if c.termination_message_file:
            try:
                with open(c.termination_message_file, "rb") as f:
                    text = f.read(MAX_TERMINATION_MESSAGE).decode(errors="replace")
            except OSError:
                text = ""
        if not text and c.termination_message_policy == "FallbackToLogsOnError" and c.exit_code != 0 and c.log_path:
            text = _tail_log(c.log_path, FALLBACK_LOG_LINES, 2048)
        return text

    def _env_sources(self, rt: PodRuntimeStatus, host_ips: list[str]) -> envvars.Sources:
        services = self.services
        return envvars.Sources(
            get_configmap=lambda ns, n: self.objects.get("configmap", ns, n),
            get_secret=lambda ns, n: self.objects.get("secret", ns, n),
            services=(lambda: services.indexer.list()) if services is not None else (lambda: ()),
            pod_ips=rt.ips, host_ips=list(host_ips), node_allocatable=self.node_status.allocatable())

    def _volume_sources(self, rt: PodRuntimeStatus, host_ips: list[str]) -> VolumeSources:
        return VolumeSources(
            get_configmap=lambda ns, n: self.objects.get("configmap", ns, n),
            get_secret=lambda ns, n: self.objects.get("secret", ns, n),
            get_pvc=self._get_pvc, get_pv=self._get_pv, request_token=self._request_token,
            pod_ips=rt.ips, host_ips=list(host_ips), node_allocatable=self.node_status.allocatable())

    def _pull_secrets(self, pod: Mapping[str, Any]) -> list[Object]:
        ns = podutil.namespace(pod)
        out = []
        for ref in podutil.spec(pod).get("imagePullSecrets") or []:
            secret = self.objects.get("secret", ns, str(ref.get("name", "")))
            if secret is not None:
                out.append(secret)
        return out

    async def _get_pvc(self, namespace: str, name: str) -> Object | None:
        try:
            return await self.client.get(PERSISTENTVOLUMECLAIMS, name, namespace=namespace)
        except NotFound:
            return None

    async def _get_pv(self, name: str) -> Object | None:
        try:
            return await self.client.get(PERSISTENTVOLUMES, name)
        except NotFound:
            return None

    async def _request_token(self, pod: Mapping[str, Any], sa: str, audiences: list[str],
                             expiration: int) -> tuple[str, float]:
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": expiration,
                         "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": podutil.name(pod),
                                            "uid": podutil.uid(pod)}}}
        try:
            result = await self.client.create_subresource(SERVICEACCOUNTS, sa, "token", body,
                                                          namespace=podutil.namespace(pod))
        except NotFound as exc:
            if (exc.details or {}).get("kind") == "serviceaccounts" and (exc.details or {}).get("name") == sa:
                raise VolumeError(f'failed to fetch token: serviceaccounts "{sa}" not found') from exc
            raise TokenUnsupported(str(exc)) from exc
        except MethodNotAllowed as exc:
            raise TokenUnsupported(str(exc)) from exc
        except ClientError as exc:
            raise VolumeError(f"failed to fetch token: {exc}") from exc
        st = result.get("status") or {}
        expires = time.time() + expiration
        if st.get("expirationTimestamp"):
            from kijabi.machinery.meta import parse_time

            with contextlib.suppress(ValueError):
                expires = parse_time(st["expirationTimestamp"])
        return str(st.get("token", "")), expires

    async def _ensure_cgroup(self, pod: Mapping[str, Any], parent: str) -> None:
        await asyncio.to_thread(cgroups.ensure_pod_cgroup, pod, parent)

    # --- stopping one pod -------------------------------------------------------------------------------------

    async def _terminate_pod(self, w: PodWorker) -> None:
        pod = w.pod
        rt = await self._fetch(w.uid)
        if rt.running() or any(c.state != EXITED for c in rt.containers) or any(s.ready for s in rt.sandboxes):
            await self.runtime.kill_pod(pod, rt, grace_override=w.grace_override)
            rt = await self._fetch(w.uid)
        self.probes.remove_pod(w.uid)
        self._publish(w, rt, sandbox_needed=True, is_terminal=True)
        await self.status_manager.wait(w.uid)

    async def _cleanup_pod(self, w: PodWorker) -> None:
        pod = w.pod
        uid = w.uid
        rt = await self._fetch(uid)
        if rt.running() or any(s.ready for s in rt.sandboxes):
            await self.runtime.kill_pod(pod, rt, grace_override=w.grace_override)
            rt = await self._fetch(uid)
        await self.runtime.remove_pod(rt)
        await asyncio.to_thread(self.volumes.teardown, uid)
        log_dir = self.paths.pod_log_directory(podutil.namespace(pod), podutil.name(pod), uid)
        await asyncio.to_thread(shutil.rmtree, log_dir, True)
        from kijabi.kubelet import podconfig

        await asyncio.to_thread(cgroups.remove_pod_cgroup, podconfig.cgroup_parent(pod, self.config.cgroup_root))
        self.objects.unregister(uid)
        self.backoff.forget_prefix(uid)
        self.image_backoff.forget_prefix(uid)
        ref = self._ref(w)
        if w.static:
            if ref is not None:
                await self.status_manager.delete(ref)
        elif not w.removed and ref is not None:
            await self.status_manager.delete(ref)
        self.status_manager.forget(uid)
        log.info("pod %s (%s) cleaned up", podutil.full_name(pod), uid)

    async def _evict(self, pod: Mapping[str, Any], message: str) -> None:
        w = self.workers.get(podutil.uid(pod))
        if w is None or w.state != SYNCING:
            return
        self._event(pod, "Warning", "Evicted", message)
        w.forced = ("Failed", "Evicted", message)
        w.grace_override = 0
        w.extra_conditions = [{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet",
                               "message": message, "lastTransitionTime": None}]
        w.wake()

    def _active_pods(self) -> list[Mapping[str, Any]]:
        return [w.pod for w in self.workers.values() if w.state == SYNCING and w.forced is None and not w.removed]

    async def _pod_usage(self) -> dict[str, PodUsage]:
        stats = await self.cri.runtime.list_container_stats(label_selector={labels.NODE: self.config.node_name})
        mem: dict[str, dict[str, tuple[int, int]]] = {}
        for s in stats:
            uid = s.attributes.labels.get(labels.POD_UID, "")
            name = s.attributes.labels.get(labels.CONTAINER_NAME, "")
            m = s.memory.working_set_bytes.value if s.HasField("memory") else 0
            d = s.writable_layer.used_bytes.value if s.HasField("writable_layer") else 0
            mem.setdefault(uid, {})[name] = (m, d)
        out = {}
        for uid, per in mem.items():
            out[uid] = PodUsage(memory=sum(v[0] for v in per.values()), disk=sum(v[1] for v in per.values()),
                                containers=per)
        return out

    def _pressure(self) -> Mapping[str, bool]:
        return self.eviction.pressure()

    # --- background loops ---------------------------------------------------------------------------------------

    async def _relist_loop(self) -> None:
        selector = {labels.NODE: self.config.node_name}
        while True:
            try:
                containers, sandboxes = await asyncio.gather(
                    self.cri.runtime.list_containers(label_selector=selector),
                    self.cri.runtime.list_pod_sandbox(label_selector=selector))
                state: dict[str, list[tuple[str, int]]] = {}
                logs = []
                for c in containers:
                    uid = c.labels.get(labels.POD_UID, "")
                    state.setdefault(uid, []).append((c.id, c.state))
                    if c.state == api.CONTAINER_RUNNING:
                        path = self.paths.pod_log_directory(c.labels.get(labels.POD_NAMESPACE, ""),
                                                            c.labels.get(labels.POD_NAME, ""), uid)
                        logs.append((c.id, str(path / c.labels.get(labels.CONTAINER_NAME, "") /
                                               f"{labels.restart_count(c.labels)}.log")))
                for sb in sandboxes:
                    state.setdefault(sb.labels.get(labels.POD_UID, ""), []).append((sb.id, 10 + sb.state))
                frozen = {uid: tuple(sorted(v)) for uid, v in state.items()}
                for uid in set(frozen) | set(self._relist):
                    if frozen.get(uid) != self._relist.get(uid):
                        self._wake_uid(uid)
                self._relist = frozen
                self._running_logs = logs
            except CRIError as exc:
                log.warning("relisting the runtime failed: %s", exc)
            await asyncio.sleep(self.config.pleg_relist_period)

    async def _housekeeping_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.housekeeping_interval):
                    await self._housekeeping_wake.wait()
            self._housekeeping_wake.clear()
            if not self.sources_ready.is_set():
                continue
            try:
                self._poll_static()
                await self._reconcile_mirrors()
                await self._remove_orphans()
            except (CRIError, ClientError, OSError) as exc:
                log.warning("housekeeping failed: %s", exc)

    async def _reconcile_mirrors(self) -> None:
        wanted: dict[str, PodWorker] = {}
        for w in list(self.workers.values()):
            if w.static and not w.removed:
                wanted[podutil.full_name(w.pod)] = w
        for key, mirror in list(self.mirrors.items()):
            owner = wanted.get(key)
            stale = owner is None or staticpods.mirror_hash(mirror) != owner.uid or podutil.is_deleted(mirror)
            if stale:
                ns, name = podutil.namespace(mirror), podutil.name(mirror)
                with contextlib.suppress(NotFound, Conflict):
                    await self.client.delete(PODS, name, namespace=ns, grace_period_seconds=0,
                                             preconditions={"uid": podutil.uid(mirror)})
                self.mirrors.pop(key, None)
        for key, w in wanted.items():
            if key in self.mirrors or w.state == TERMINATED:
                continue
            body = staticpods.mirror_pod(w.pod, self.config.node_name, self.node_status.uid)
            try:
                created = await self.client.create(PODS, body, namespace=podutil.namespace(w.pod))
            except AlreadyExists:
                continue
            self.mirrors[key] = created
            w.wake()

    async def _remove_orphans(self) -> None:
        known = set(self.workers)
        sandboxes = await self.cri.runtime.list_pod_sandbox(label_selector={labels.NODE: self.config.node_name})
        orphans = {sb.labels.get(labels.POD_UID, "") for sb in sandboxes} - known
        for uid in orphans:
            if not uid or uid in self.workers:
                continue
            rt = await self._fetch(uid)
            log.info("removing the containers of pod %s, which no source has any more", uid)
            for sb in rt.sandboxes:
                with contextlib.suppress(CRIError):
                    await self.cri.runtime.stop_pod_sandbox(sb.id)
            await self.runtime.remove_pod(rt)
            meta = next((sb for sb in sandboxes if sb.labels.get(labels.POD_UID) == uid), None)
            if meta is not None:
                log_dir = self.paths.pod_log_directory(meta.metadata.namespace, meta.metadata.name, uid)
                await asyncio.to_thread(shutil.rmtree, log_dir, True)
        if self.paths.pods_dir.is_dir():
            for entry in os.listdir(self.paths.pods_dir):
                if entry not in self.workers:
                    log.info("removing the directory of pod %s, which no source has any more", entry)
                    await asyncio.to_thread(self.volumes.teardown, entry)
        live_sandboxes = {sb.labels.get(labels.POD_UID, "") for sb in sandboxes}
        for uid, parent in (await asyncio.to_thread(cgroups.existing_pod_cgroups, self.config.cgroup_root)).items():
            if uid not in self.workers and uid not in live_sandboxes:
                await asyncio.to_thread(cgroups.remove_pod_cgroup, parent)

    async def _log_rotation_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.log_rotation_period)
            await self.logs.rotate_all(list(self._running_logs))

    async def _gc_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.container_gc_period)
            self.backoff.gc()
            self.image_backoff.gc()


def _tail_log(path: str, lines: int, max_bytes: int) -> str:
    """The last lines of a CRI-format log file, messages only."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - 64 * 1024, 0))
            data = f.read().decode(errors="replace").splitlines()
    except OSError:
        return ""
    out = []
    for line in data[-lines:]:
        parts = line.split(" ", 3)
        out.append(parts[3] if len(parts) == 4 else line)
    text = "\n".join(out)
    return text[-max_bytes:]
