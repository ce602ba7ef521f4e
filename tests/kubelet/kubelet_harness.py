"""A kubelet under test: a real kijabi API server, the session's containerd (tests/kubelet/node.py) and a
`Kubelet` running in-process on the test's event loop (or as a subprocess, for kill -9 tests).

Each test module gets its own `KubeletEnv` (API server + kubelet with its own node name); everything the
kubelet ran is removed at teardown through CRI, and the node's containerd is torn down by the session
fixture (`node`), which also checks that nothing is left on the host.

Helpers build pods (`pod()`), wait on conditions with deadlines (`wait_pod()`, `wait_for()`), and run
commands in containers through CRI (`exec_in()`).
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kijabi.client import Client, NotFound
from kijabi.client.errors import ClientError
from kijabi.client.rest import NAMESPACES, PODS
from kijabi.kubelet import cleanup as agent_cleanup
from kijabi.kubelet import labels
from kijabi.kubelet.config import KubeletConfig
from kijabi.kubelet.cri import CRIConnection, CRIError
from kijabi.kubelet.kubelet import Kubelet
from tests.e2e.cluster import Cluster, start_cluster
from tests.kubelet.node import Node

BUSYBOX = "busybox:kijabi"
T = TypeVar("T")


@dataclass
class KubeletEnv:
    cluster: Cluster
    node: Node
    client: Client
    cri: CRIConnection
    config: KubeletConfig
    kubelet: Kubelet | None = None
    task: asyncio.Task[None] | None = None
    namespace: str = "default"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def node_name(self) -> str:
        return self.config.node_name

    async def create(self, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = dict(body)
        obj.setdefault("metadata", {}).setdefault("namespace", self.namespace)
        return await self.client.create(PODS, obj)

    async def get(self, name: str) -> dict[str, Any]:
        return await self.client.get(PODS, name, namespace=self.namespace)

    async def wait_pod(self, name: str, check: Callable[[dict[str, Any]], Any], *, timeout: float = 30.0,
                       what: str = "") -> dict[str, Any]:
        """Poll the pod until `check(pod)` is truthy; fails with the last status seen."""
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while True:
            with contextlib.suppress(NotFound):
                last = await self.get(name)
                if check(last):
                    return last
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what or 'condition'} on pod {name}; "
                                     f"last status: {last.get('status')}")
            await asyncio.sleep(0.05)

    async def wait_running(self, name: str, timeout: float = 30.0) -> dict[str, Any]:
        return await self.wait_pod(name, lambda p: p["status"].get("phase") == "Running", timeout=timeout,
                                   what="phase Running")

    async def wait_gone(self, name: str, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                await self.get(name)
            except NotFound:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"pod {name} still exists after {timeout}s")
            await asyncio.sleep(0.05)

    async def container_id(self, pod: str, container: str) -> str:
        p = await self.get(pod)
        for s in (p["status"].get("containerStatuses") or []) + (p["status"].get("initContainerStatuses") or []):
            if s["name"] == container and s.get("containerID"):
                return str(s["containerID"]).split("://", 1)[1]
        raise AssertionError(f"no container {container} in pod {pod}: {p['status']}")

    async def exec_in(self, pod: str, container: str, *cmd: str, timeout: int = 10) -> tuple[int, str]:
        cid = await self.container_id(pod, container)
        result = await self.cri.runtime.exec_sync(cid, list(cmd), timeout=timeout)
        return result.exit_code, (result.stdout + result.stderr).decode(errors="replace")

    async def sandboxes(self, uid: str) -> list[Any]:
        return await self.cri.runtime.list_pod_sandbox(label_selector={labels.POD_UID: uid})

    async def containers(self, uid: str) -> list[Any]:
        return await self.cri.runtime.list_containers(label_selector={labels.POD_UID: uid})


def pod(name: str, containers: list[dict[str, Any]] | None = None, *, command: list[str] | None = None,
        node: str = "", **spec: Any) -> dict[str, Any]:
    """A Pod bound to `node` (spec.nodeName) with busybox containers."""
    cs = containers if containers is not None else [container("main", command or ["sleep", "3600"])]
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                            "spec": {"containers": cs, "terminationGracePeriodSeconds": 2, **spec}}
    if node:
        body["spec"]["nodeName"] = node
    return body


def container(name: str, command: list[str], **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": BUSYBOX, "command": command, **fields}


def short_name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def wait_for(probe: Callable[[], Awaitable[T | None]], *, timeout: float = 20.0, what: str = "condition",
                   interval: float = 0.05) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


def kubelet_config(node: Node, node_name: str, **overrides: Any) -> KubeletConfig:
    # below the node's agent directory, so that the node's agent cleanup unmounts pod volumes left behind
    data_dir = node.data_dir / "agent" / f"kubelet-{node_name}"
    data_dir.mkdir(parents=True, exist_ok=True)
    cfg = KubeletConfig(node_name=node_name, data_dir=data_dir, pod_log_dir=data_dir / "pod-logs",
                        cgroup_root=node.cgroup_parent, node_ip="127.0.0.1", **overrides)
    return cfg


_CLUSTER: Cluster | None = None


def shared_cluster() -> Cluster:
    """One API server for every kubelet test module of the session (stopped when the interpreter exits)."""
    global _CLUSTER
    if _CLUSTER is None or _CLUSTER.proc.poll() is not None:
        cluster = start_cluster(None, "--disable-agent")

        def stop() -> None:
            cluster.stop()
            shutil.rmtree(cluster.data_dir, ignore_errors=True)

        atexit.register(stop)
        _CLUSTER = cluster
    return _CLUSTER


@contextlib.asynccontextmanager
async def kubelet_env(node: Node, *, node_name: str | None = None, start: bool = True,
                      **overrides: Any) -> AsyncIterator[KubeletEnv]:
    """The session's API server, a fresh namespace and (unless start=False) an in-process kubelet with a
    node name of its own for `node`'s containerd."""
    cluster = await asyncio.to_thread(shared_cluster)
    client = Client.from_kubeconfig(str(cluster.kubeconfig), qps=0)
    cri = await node.containerd.connect()
    name = node_name or short_name("kjnode")
    env = KubeletEnv(cluster=cluster, node=node, client=client, cri=cri, config=kubelet_config(node, name, **overrides))
    try:
        env.namespace = "kt-" + uuid.uuid4().hex[:6]
        await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": env.namespace}})
        if start:
            await start_kubelet(env)
        yield env
    finally:
        if env.task is not None and not env.task.done():
            await drain(env)
        await stop_kubelet(env)
        await remove_node_pods(cri, name)
        await asyncio.to_thread(agent_cleanup.unmount_below, env.config.data_dir)
        await cri.close()
        await client.close()


async def drain(env: KubeletEnv, timeout: float = 20.0) -> None:
    """Delete every pod of the env's namespace and let the kubelet clean them up."""
    with contextlib.suppress(ClientError):
        await env.client.delete_collection(PODS, namespace=env.namespace, grace_period_seconds=0)
    kubelet = env.kubelet
    if kubelet is None:
        return
    async def drained() -> bool:
        return not any(not w.static for w in kubelet.workers.values())

    with contextlib.suppress(AssertionError):
        await wait_for(drained, timeout=timeout, what="the kubelet to finish its pods")


async def start_kubelet(env: KubeletEnv, **options: Any) -> Kubelet:
    """Start an in-process kubelet for the env (options go to the Kubelet constructor)."""
    kubelet = Kubelet(env.config, env.client, env.cri, **options)
    env.kubelet = kubelet
    env.task = asyncio.create_task(kubelet.run(), name=f"kubelet {env.node_name}")
    await asyncio.wait_for(kubelet.sources_ready.wait(), 20)
    return kubelet


async def stop_kubelet(env: KubeletEnv) -> None:
    task, env.task = env.task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def remove_node_pods(cri: CRIConnection, node_name: str) -> None:
    """Stop and remove every sandbox and container the kubelet of `node_name` left in the runtime."""
    selector = {labels.NODE: node_name}
    gate = asyncio.Semaphore(8)

    async def remove_container(cid: str) -> None:
        async with gate:
            with contextlib.suppress(CRIError):
                await cri.runtime.stop_container(cid, 0)
                await cri.runtime.remove_container(cid)

    async def remove_sandbox(sid: str) -> None:
        async with gate:
            with contextlib.suppress(CRIError):
                await cri.runtime.stop_pod_sandbox(sid)
                await cri.runtime.remove_pod_sandbox(sid)

    await asyncio.gather(*(remove_container(c.id) for c in await cri.runtime.list_containers(label_selector=selector)))
    await asyncio.gather(*(remove_sandbox(s.id) for s in await cri.runtime.list_pod_sandbox(label_selector=selector)))


# --- the kubelet as a subprocess (kill -9 tests) -------------------------------------------------------------

@dataclass
class KubeletProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    def kill9(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()


def spawn_kubelet(env: KubeletEnv, log: Path) -> KubeletProcess:
    cfg = env.config
    argv = [sys.executable, "-m", "kijabi.kubelet.main", "--kubeconfig", str(env.cluster.kubeconfig),
            "--node-name", cfg.node_name, "--data-dir", str(cfg.data_dir), "--node-ip", cfg.node_ip,
            "--container-runtime-endpoint", str(env.node.paths.socket), "--cgroup-root", cfg.cgroup_root,
            "--pod-log-dir", str(cfg.pod_log_dir), "--log-level", os.environ.get("KJTEST_KUBELET_LOG_LEVEL", "info")]
    out = open(log, "ab")
    try:
        proc = subprocess.Popen(argv, stdout=out, stderr=out, env={**os.environ, "PYTHONPATH": str(Path.cwd())})
    finally:
        out.close()
    return KubeletProcess(proc, log)
