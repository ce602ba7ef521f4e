"""A node for streaming tests: real containerd, our kubelet API server, and the API objects that point at it.

The node (containerd connection + `KubeletServer` with the CRI `PodLookup`) lives on its own event loop in a
background thread, so tests can run kubectl synchronously (the kubelet keeps serving meanwhile).
Pods are started through CRI with the labels of `kijabi.kubelet.streaming.labels`, and a matching Pod object
bound to the node is created in the API server (status Running, with the sandbox's IP).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kijabi.client import Client
from kijabi.kubelet import cni, images
from kijabi.kubelet.cri import CRIConnection, api
from kijabi.kubelet.server import KubeletServer, ServerConfig, server_node_tls
from kijabi.kubelet.streaming import labels
from kijabi.kubelet.streaming.auth import api_token_reviewer
from kijabi.kubelet.streaming.lookup import CRIPodLookup
from tests.e2e.cluster import Cluster
from tests.kubelet.node import Node, start_node, stop_node

T = TypeVar("T")
# Our own bridge and subnet: tests/kubelet's session node (kjtest0, 10.42.250.0/24) may be alive at the same time.
NETWORK = cni.BridgeNetwork("10.42.252.0/24", bridge="kjstream0", name="kjstream", default_route=False)


class LoopThread:
    """An event loop running in a daemon thread; `run()` executes a coroutine on it and waits."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="streaming-node-loop", daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 120) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Container:
    command: list[str]
    stdin: bool = False
    tty: bool = False
    env: dict[str, str] = field(default_factory=dict)


@dataclass
class RunningPod:
    namespace: str
    name: str
    uid: str
    sandbox_id: str
    ip: str
    containers: dict[str, str]  # name -> container id


@dataclass
class StreamingNode:
    cluster: Cluster
    loop: LoopThread
    node: Node
    cri: CRIConnection
    server: KubeletServer
    client: Client
    name: str
    pods: list[RunningPod] = field(default_factory=list)

    @property
    def port(self) -> int:
        return self.server.port

    # -- API helpers ---------------------------------------------------------------------------------

    def api(self, method: str, path: str, body: Any = None, *, ctype: str = "application/json") -> Any:
        data = json.dumps(body).encode() if body is not None else None
        status, _, raw = self.cluster.request(method, path, data, ctype=ctype)
        if status >= 300:
            raise AssertionError(f"{method} {path} -> {status}: {raw[:500]!r}")
        return json.loads(raw) if raw else None

    def register(self) -> None:
        """The Node object: InternalIP 127.0.0.1 and our kubelet port."""
        self.api("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": self.name}})
        self.api("PATCH", f"/api/v1/nodes/{self.name}/status", {"status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.port}},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "test node"}],
        }}, ctype="application/merge-patch+json")

    # -- pods ----------------------------------------------------------------------------------------

    def run_pod(self, namespace: str, name: str, containers: dict[str, Container], *, api_object: bool = True,
                annotations: dict[str, str] | None = None) -> RunningPod:
        pod = self.loop.run(self._start_pod(namespace, name, containers))
        self.pods.append(pod)
        if api_object:
            self.api("POST", f"/api/v1/namespaces/{namespace}/pods", {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
                "spec": {"nodeName": self.name, "containers": [
                    {"name": c, "image": images.BUSYBOX_IMAGE, "stdin": spec.stdin, "tty": spec.tty,
                     "stdinOnce": spec.stdin} for c, spec in containers.items()]},
            })
            self.api("PATCH", f"/api/v1/namespaces/{namespace}/pods/{name}/status", {"status": {
                "phase": "Running", "podIP": pod.ip, "podIPs": [{"ip": pod.ip}], "hostIP": "127.0.0.1",
                "containerStatuses": [
                    {"name": c, "ready": True, "restartCount": 0, "image": images.BUSYBOX_IMAGE, "imageID": "",
                     "containerID": f"containerd://{cid}", "started": True,
                     "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
                    for c, cid in pod.containers.items()],
            }}, ctype="application/merge-patch+json")
        return pod

    async def _start_pod(self, namespace: str, name: str, containers: dict[str, Container]) -> RunningPod:
        uid = str(uuid.uuid4())
        config = api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=name, namespace=namespace, uid=uid, attempt=0),
            hostname=name,
            log_directory=str(self.node.data_dir / "pod-logs" / f"{namespace}_{name}_{uid}"),
            labels={**labels.sandbox_labels(namespace, name, uid), "kjtest-run": self.node.run_id},
            linux=api.LinuxPodSandboxConfig(
                cgroup_parent=f"{self.node.cgroup_parent}/pod{uid}",
                security_context=api.LinuxSandboxSecurityContext(
                    namespace_options=api.NamespaceOption(network=api.POD, pid=api.CONTAINER, ipc=api.POD))),
        )
        runtime = self.cri.runtime
        sandbox_id = await runtime.run_pod_sandbox(config)
        ip = (await runtime.pod_sandbox_status(sandbox_id)).status.network.ip
        ids: dict[str, str] = {}
        for cname, spec in containers.items():
            cfg = api.ContainerConfig(
                metadata=api.ContainerMetadata(name=cname, attempt=0),
                image=api.ImageSpec(image=images.BUSYBOX_IMAGE),
                command=spec.command,
                envs=[api.KeyValue(key=k, value=v) for k, v in spec.env.items()],
                log_path=f"{cname}/0.log",
                labels={**labels.container_labels(namespace, name, uid, cname), "kjtest-run": self.node.run_id},
                stdin=spec.stdin, stdin_once=spec.stdin, tty=spec.tty,
                linux=api.LinuxContainerConfig(security_context=api.LinuxContainerSecurityContext(
                    namespace_options=api.NamespaceOption(network=api.POD, pid=api.CONTAINER, ipc=api.POD))),
            )
            cid = await runtime.create_container(sandbox_id, cfg, config)
            await runtime.start_container(cid)
            ids[cname] = cid
        return RunningPod(namespace, name, uid, sandbox_id, ip, ids)

    def restart_container(self, pod: RunningPod, cname: str, spec: Container, attempt: int = 1) -> str:
        """Stop the container and start a new instance with the next attempt number (a kubelet restart)."""
        async def go() -> str:
            runtime = self.cri.runtime
            await runtime.stop_container(pod.containers[cname], 0)
            cfg = api.ContainerConfig(
                metadata=api.ContainerMetadata(name=cname, attempt=attempt),
                image=api.ImageSpec(image=images.BUSYBOX_IMAGE), command=spec.command,
                log_path=f"{cname}/{attempt}.log",
                labels={**labels.container_labels(pod.namespace, pod.name, pod.uid, cname),
                        "kjtest-run": self.node.run_id},
            )
            sandbox_config = api.PodSandboxConfig(
                metadata=api.PodSandboxMetadata(name=pod.name, namespace=pod.namespace, uid=pod.uid, attempt=0),
                log_directory=str(self.node.data_dir / "pod-logs" / f"{pod.namespace}_{pod.name}_{pod.uid}"),
                linux=api.LinuxPodSandboxConfig(cgroup_parent=f"{self.node.cgroup_parent}/pod{pod.uid}"))
            cid = await runtime.create_container(pod.sandbox_id, cfg, sandbox_config)
            await runtime.start_container(cid)
            pod.containers[cname] = cid
            return cid
        return self.loop.run(go())

    def remove_pods(self) -> None:
        async def go() -> None:
            for pod in self.pods:
                await self.cri.runtime.stop_pod_sandbox(pod.sandbox_id)
                await self.cri.runtime.remove_pod_sandbox(pod.sandbox_id)
        self.loop.run(go())
        self.pods.clear()


@dataclass
class Runtime:
    """The cluster-independent half of a node: containerd with images, and a CRI connection."""

    loop: LoopThread
    node: Node
    cri: CRIConnection


def start_runtime(loop: LoopThread) -> concurrent.futures.Future[Runtime]:
    """Bring containerd up on `loop` in the background (it takes ~2 s: start it while the cluster starts)."""
    async def up() -> Runtime:
        node = await start_node(network=NETWORK)
        try:
            return Runtime(loop, node, await node.containerd.connect())
        except BaseException:
            await stop_node(node)
            raise

    return asyncio.run_coroutine_threadsafe(up(), loop.loop)


def start_streaming_node(cluster: Cluster, runtime: Runtime, name: str = "stream-node") -> StreamingNode:
    """Our kubelet API on the runtime, with TLS from the cluster's PKI, registered as Node `name`."""
    async def up() -> tuple[KubeletServer, Client]:
        client = Client.from_kubeconfig(str(cluster.kubeconfig))
        tls = server_node_tls(cluster.data_dir, name)
        server = KubeletServer(
            ServerConfig(node_name=name, cert_file=tls.cert, key_file=tls.key, client_ca_file=tls.client_ca,
                         bind_address="127.0.0.1", port=0),
            runtime=runtime.cri.runtime, lookup=CRIPodLookup(runtime.cri.runtime),
            token_reviewer=api_token_reviewer(client))
        await server.start()
        return server, client

    server, client = runtime.loop.run(up())
    sn = StreamingNode(cluster, runtime.loop, runtime.node, runtime.cri, server, client, name)
    sn.register()
    return sn


def stop_runtime(runtime: Runtime) -> None:
    async def down() -> None:
        await runtime.cri.close()
        await stop_node(runtime.node)

    runtime.loop.run(down())


def stop_streaming_node(sn: StreamingNode) -> None:
    """Remove the test pods and stop the kubelet API (the runtime stays: see stop_runtime)."""
    try:
        if sn.pods:
            sn.remove_pods()
    finally:
        async def down() -> None:
            await sn.server.stop()
            await sn.client.close()

        sn.loop.run(down())


def log_dir(sn: StreamingNode, pod: RunningPod) -> Path:
    return sn.node.data_dir / "pod-logs" / f"{pod.namespace}_{pod.name}_{pod.uid}"
