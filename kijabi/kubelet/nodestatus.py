"""The kubelet's Node: registration, status (upstream kubelet_node_status.go and nodestatus/setters.go) and
its Lease heartbeat (nodelease).

Registration creates the Node (labels kubernetes.io/hostname, os, arch; spec.podCIDR from --pod-cidr) or,
when it exists, reconciles those labels. The status:

    capacity        cpu (cores), memory (MemTotal, Ki), ephemeral-storage (the data dir's filesystem, Ki),
                    pods (110), hugepages-1Gi/2Mi 0
    allocatable     capacity minus the hard eviction thresholds (memory.available, nodefs.available)
    conditions      MemoryPressure, DiskPressure, PIDPressure (from the eviction manager), Ready (runtime
                    and network readiness from CRI Status), with upstream's reasons and messages
    addresses       InternalIP, Hostname
    nodeInfo        machine/system/boot ids, kernel, OS image, containerd://<version>, kubelet v1.32.4
    daemonEndpoints kubeletEndpoint.Port 10250
    images          up to 50 images, largest first

`NodeStatusManager.run()` patches nodes/<name>/status every `node_status_update_frequency` seconds (new
lastHeartbeatTime) and at once when `poke()` says something changed. `NodeLease.run()` keeps
kube-node-lease/<name> renewed every 10 s with a 40 s duration, owned by the Node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from kijabi.client import Client
from kijabi.client.errors import AlreadyExists, ClientError, Conflict, NotFound
from kijabi.client.rest import LEASES, NODES
from kijabi.kubelet import machine
from kijabi.kubelet.config import KUBELET_VERSION, KubeletConfig
from kijabi.kubelet.cri import CRIConnection, CRIError
from kijabi.machinery.meta import rfc3339, rfc3339_micro

log = logging.getLogger(__name__)

Object = dict[str, Any]
MAX_IMAGES = 50

PRESSURE_CONDITIONS = {
    "MemoryPressure": (("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                       ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
    "DiskPressure": (("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                     ("KubeletHasDiskPressure", "kubelet has disk pressure")),
    "PIDPressure": (("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
                    ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
}


def _threshold_bytes(raw: str, capacity: int) -> int:
    if raw.endswith("%"):
        return int(capacity * float(raw[:-1]) / 100)
    from kijabi.kubelet.podutil import quantity

    return quantity(raw).value()


class NodeStatusManager:
    def __init__(self, client: Client, cri: CRIConnection, config: KubeletConfig, *,
                 pressure: Callable[[], Mapping[str, bool]] = lambda: {},
                 info: machine.MachineInfo | None = None) -> None:
        self.client = client
        self.cri = cri
        self.config = config
        self.pressure = pressure
        self.info = info or machine.machine_info()
        self.hostname = config.hostname or machine.hostname()
        self.node_ip = config.node_ip or machine.default_route_ip()
        self.node: Object | None = None
        self.runtime_version = ""
        self.runtime_errors: list[str] = ["container runtime status check may not have completed yet"]
        self._conditions: dict[str, Object] = {}
        self._wake = asyncio.Event()
        self._images: list[Object] = []
        self.on_pod_cidr: Callable[[str], None] | None = None
        self._reported_cidr = ""

    @property
    def host_ips(self) -> list[str]:
        return [self.node_ip]

    @property
    def uid(self) -> str:
        return str(((self.node or {}).get("metadata") or {}).get("uid", ""))

    def poke(self) -> None:
        self._wake.set()

    # --- what the node is ----------------------------------------------------------------------------------

    def capacity(self) -> dict[str, str]:
        fs = machine.fs_stats(self.config.data_dir)
        return {"cpu": str(self.info.cpus), "ephemeral-storage": f"{fs.capacity_bytes // 1024}Ki",
                "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": f"{self.info.memory_bytes // 1024}Ki",
                "pods": str(self.config.max_pods)}

    def allocatable(self) -> dict[str, str]:
        fs = machine.fs_stats(self.config.data_dir)
        mem = self.info.memory_bytes - _threshold_bytes(self.config.eviction_hard.get("memory.available", "0"),
                                                        self.info.memory_bytes)
        disk = fs.capacity_bytes - _threshold_bytes(self.config.eviction_hard.get("nodefs.available", "0"),
                                                    fs.capacity_bytes)
        return {"cpu": str(self.info.cpus), "ephemeral-storage": str(max(disk, 0)), "hugepages-1Gi": "0",
                "hugepages-2Mi": "0", "memory": f"{max(mem, 0) // 1024}Ki", "pods": str(self.config.max_pods)}

    def node_info(self) -> Object:
        i = self.info
        return {"machineID": i.machine_id, "systemUUID": i.system_uuid, "bootID": i.boot_id,
                "kernelVersion": i.kernel_version, "osImage": i.os_image,
                "containerRuntimeVersion": self.runtime_version, "kubeletVersion": KUBELET_VERSION,
                "kubeProxyVersion": "", "operatingSystem": i.operating_system, "architecture": i.architecture}

    def default_labels(self) -> dict[str, str]:
        i = self.info
        return {"kubernetes.io/hostname": self.hostname, "kubernetes.io/os": i.operating_system,
                "kubernetes.io/arch": i.architecture, "beta.kubernetes.io/os": i.operating_system,
                "beta.kubernetes.io/arch": i.architecture, **self.config.node_labels}

    async def check_runtime(self) -> None:
        """Ask CRI for its version and readiness; fills runtime_version and runtime_errors."""
        errors: list[str] = []
        try:
            if not self.runtime_version:
                v = await self.cri.runtime.version(timeout=10)
                self.runtime_version = f"{v.runtime_name}://{v.runtime_version}"
            st = await self.cri.runtime.status(timeout=10)
            conds = {c.type: c for c in st.status.conditions}
            rt = conds.get("RuntimeReady")
            if rt is None or not rt.status:
                errors.append("container runtime not ready: RuntimeReady=false reason:"
                              f"{rt.reason if rt else ''} message:{rt.message if rt else ''}")
            net = conds.get("NetworkReady")
            if net is None or not net.status:
                errors.append("container runtime network not ready: NetworkReady=false reason:"
                              f"{net.reason if net else ''} message:{net.message if net else ''}")
            images = await self.cri.images.list_images(timeout=10)
            images.sort(key=lambda im: im.size, reverse=True)
            self._images = [{"names": [*im.repo_digests, *im.repo_tags], "sizeBytes": im.size}
                            for im in images[:MAX_IMAGES] if im.repo_tags or im.repo_digests]
        except CRIError as exc:
            errors.append(f"container runtime is down: {exc.details}")
        self.runtime_errors = errors

    def conditions(self, now: float) -> list[Object]:
        pressure = self.pressure()
        stamp = rfc3339(now)
        wanted: list[tuple[str, bool, str, str]] = []
        for ctype, (ok, bad) in PRESSURE_CONDITIONS.items():
            under = bool(pressure.get(ctype))
            reason, message = bad if under else ok
            wanted.append((ctype, under, reason, message))
        if self.runtime_errors:
            wanted.append(("Ready", False, "KubeletNotReady", ", ".join(self.runtime_errors)))
        else:
            wanted.append(("Ready", True, "KubeletReady", "kubelet is posting ready status"))
        out = []
        for ctype, status, reason, message in wanted:
            value = "True" if status else "False"
            before = self._conditions.get(ctype)
            transition = before["lastTransitionTime"] if before is not None and before["status"] == value else stamp
            c = {"type": ctype, "status": value, "lastHeartbeatTime": stamp, "lastTransitionTime": transition,
                 "reason": reason, "message": message}
            self._conditions[ctype] = c
            out.append(c)
        return out

    def status(self, now: float | None = None) -> Object:
        now = time.time() if now is None else now
        return {
            "capacity": self.capacity(),
            "allocatable": self.allocatable(),
            "conditions": self.conditions(now),
            "addresses": [{"type": "InternalIP", "address": self.node_ip},
                          {"type": "Hostname", "address": self.hostname}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.config.kubelet_port}},
            "nodeInfo": self.node_info(),
            "images": list(self._images),
        }

    # --- API ------------------------------------------------------------------------------------------------

    async def register(self) -> Object:
        """Create the Node, or reconcile the existing one; retries until the API answers."""
        await self.check_runtime()
        delay = 0.2
        while True:
            try:
                return await self._register_once()
            except ClientError as exc:
                log.warning("registering node %s failed (retrying in %.1fs): %s", self.config.node_name, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 7.0)

    async def _register_once(self) -> Object:
        spec: Object = {}
        if self.config.pod_cidr:
            spec = {"podCIDR": self.config.pod_cidr, "podCIDRs": [self.config.pod_cidr]}
        body = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.config.node_name, "labels": self.default_labels(),
                             "annotations": {"volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
                "spec": spec, "status": self.status()}
        try:
            self.node = await self.client.create(NODES, body)
            log.info("registered node %s", self.config.node_name)
        except AlreadyExists:
            existing = await self.client.get(NODES, self.config.node_name)
            patch: Object = {"metadata": {"labels": self.default_labels()}}
            if spec and not (existing.get("spec") or {}).get("podCIDR"):
                patch["spec"] = spec
            self.node = await self.client.patch(NODES, self.config.node_name, patch, patch_type="strategic")
            log.info("registered node %s (it existed: reconciled)", self.config.node_name)
            for c in (existing.get("status") or {}).get("conditions") or []:
                if c.get("type") in ("Ready", *PRESSURE_CONDITIONS) and c.get("lastTransitionTime"):
                    self._conditions[c["type"]] = dict(c)
            await self.update()
        return self.node

    async def update(self) -> None:
        status = self.status()
        self.node = await self.client.patch(NODES, self.config.node_name, {"status": status}, patch_type="strategic",
                                            subresource="status")
        cidr = self.pod_cidr
        if cidr and cidr != self._reported_cidr and self.on_pod_cidr is not None:
            self._reported_cidr = cidr
            try:
                self.on_pod_cidr(cidr)
            except Exception:
                log.exception("applying pod CIDR %s failed", cidr)

    async def run(self) -> None:
        """Refresh the runtime's readiness and post the node status, every period or when poked."""
        period = self.config.node_status_update_frequency
        while True:
            self._wake.clear()
            await self.check_runtime()
            try:
                await self.update()
            except NotFound:
                log.warning("node %s disappeared; registering it again", self.config.node_name)
                with contextlib.suppress(ClientError):
                    await self._register_once()
            except ClientError as exc:
                log.warning("updating the status of node %s failed: %s", self.config.node_name, exc)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(period):
                    await self._wake.wait()

    @property
    def pod_cidr(self) -> str:
        return str(((self.node or {}).get("spec") or {}).get("podCIDR") or self.config.pod_cidr or "")


class NodeLease:
    """kube-node-lease/<node>: renewed every `renew_interval` seconds (upstream nodelease controller)."""

    def __init__(self, client: Client, config: KubeletConfig, node_uid: Callable[[], str]) -> None:
        self.client = client
        self.config = config
        self.node_uid = node_uid
        self.lease: Object | None = None
        self.renewals = 0

    def _body(self) -> Object:
        meta: Object = {"name": self.config.node_name, "namespace": "kube-node-lease"}
        uid = self.node_uid()
        if uid:
            meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.config.node_name,
                                        "uid": uid}]
        return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": meta,
                "spec": {"holderIdentity": self.config.node_name,
                         "leaseDurationSeconds": self.config.node_lease_duration,
                         "renewTime": rfc3339_micro(time.time())}}

    async def renew(self) -> None:
        if self.lease is None:
            try:
                self.lease = await self.client.get(LEASES, self.config.node_name, namespace="kube-node-lease")
            except NotFound:
                self.lease = await self.client.create(LEASES, self._body(), namespace="kube-node-lease")
                self.renewals += 1
                return
        lease = dict(self.lease)
        spec = dict(lease.get("spec") or {})
        spec.update({"holderIdentity": self.config.node_name, "leaseDurationSeconds": self.config.node_lease_duration,
                     "renewTime": rfc3339_micro(time.time())})
        lease["spec"] = spec
        meta = dict(lease.get("metadata") or {})
        if not meta.get("ownerReferences") and self.node_uid():
            meta["ownerReferences"] = self._body()["metadata"]["ownerReferences"]
        lease["metadata"] = meta
        try:
            self.lease = await self.client.update(LEASES, lease, namespace="kube-node-lease")
        except (Conflict, NotFound):
            self.lease = None
            raise
        self.renewals += 1

    async def run(self) -> None:
        delay = 0.2
        while True:
            try:
                await self.renew()
                delay = 0.2
                await asyncio.sleep(self.config.node_lease_renew_interval)
            except ClientError as exc:
                log.info("renewing the lease of node %s failed (retrying in %.1fs): %s", self.config.node_name,
                         delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 7.0)
