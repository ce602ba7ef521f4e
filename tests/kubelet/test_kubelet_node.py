"""The node side of the kubelet: Node registration and status, the Lease, static pods with mirror pods,
node-pressure eviction, container log rotation."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import yaml

from kijabi.client import NotFound
from kijabi.client.rest import LEASES, NODES, PODS
from kijabi.kubelet import labels
from kijabi.kubelet.eviction import Observation, observe_node
from kijabi.kubelet.logs import TMP_SUFFIX
from tests.kubelet.kubelet_harness import (
    KubeletEnv,
    container,
    kubelet_env,
    pod,
    short_name,
    start_kubelet,
    stop_kubelet,
    wait_for,
)
from tests.kubelet.node import Node, requires_runtime

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node, start=False, pod_cidr="10.42.250.0/24", node_status_update_frequency=1.0,
                           node_lease_renew_interval=0.5, housekeeping_interval=0.3) as e:
        yield e


@pytest_asyncio.fixture(loop_scope="session")
async def kubelet(env: KubeletEnv) -> AsyncIterator[KubeletEnv]:
    await start_kubelet(env)
    try:
        yield env
    finally:
        await stop_kubelet(env)


async def test_node_registers_with_capacity_conditions_and_info(kubelet: KubeletEnv) -> None:
    """The Node carries upstream's labels, the pod CIDR, machine capacity and allocatable (minus the hard
    eviction thresholds), the four conditions with their reasons, addresses, the kubelet port, nodeInfo
    and the runtime's images."""
    env = kubelet
    node = await env.client.get(NODES, env.node_name)
    meta, spec, st = node["metadata"], node["spec"], node["status"]
    assert meta["labels"]["kubernetes.io/hostname"] and meta["labels"]["kubernetes.io/os"] == "linux"
    assert meta["labels"]["kubernetes.io/arch"] == "amd64"
    assert spec["podCIDR"] == "10.42.250.0/24" and spec["podCIDRs"] == ["10.42.250.0/24"]
    cap, alloc = st["capacity"], st["allocatable"]
    assert cap["cpu"] == str(os.cpu_count()) and cap["pods"] == "110"
    mem_ki = int(cap["memory"].removesuffix("Ki"))
    assert abs(mem_ki * 1024 - os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) < 64 * 1024 * 1024
    assert int(alloc["memory"].removesuffix("Ki")) == mem_ki - 100 * 1024
    disk = int(cap["ephemeral-storage"].removesuffix("Ki")) * 1024
    assert int(alloc["ephemeral-storage"]) == disk - disk // 10
    conds = {c["type"]: c for c in st["conditions"]}
    assert [c["type"] for c in st["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure", "Ready"]
    assert (conds["Ready"]["status"], conds["Ready"]["reason"], conds["Ready"]["message"]) == \
        ("True", "KubeletReady", "kubelet is posting ready status")
    assert (conds["MemoryPressure"]["status"], conds["MemoryPressure"]["reason"]) == \
        ("False", "KubeletHasSufficientMemory")
    assert conds["DiskPressure"]["reason"] == "KubeletHasNoDiskPressure"
    assert conds["PIDPressure"]["reason"] == "KubeletHasSufficientPID"
    assert {"type": "InternalIP", "address": "127.0.0.1"} in st["addresses"]
    assert any(a["type"] == "Hostname" for a in st["addresses"])
    assert st["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = st["nodeInfo"]
    assert info["kubeletVersion"] == "v1.32.4" and info["containerRuntimeVersion"].startswith("containerd://")
    assert info["operatingSystem"] == "linux" and info["architecture"] == "amd64"
    assert info["kernelVersion"] == os.uname().release and info["bootID"] and info["osImage"]
    assert any("docker.io/library/busybox:kijabi" in i["names"] for i in st["images"])


async def test_lease_and_status_heartbeats(kubelet: KubeletEnv) -> None:
    """kube-node-lease/<node> is held by the node for 40 s, owned by the Node, and renewed; the Ready
    condition's lastHeartbeatTime advances while its lastTransitionTime stays."""
    env = kubelet
    node = await env.client.get(NODES, env.node_name)
    lease = await env.client.get(LEASES, env.node_name, namespace="kube-node-lease")
    assert lease["spec"]["holderIdentity"] == env.node_name and lease["spec"]["leaseDurationSeconds"] == 40
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    first = lease["spec"]["renewTime"]

    async def renewed() -> bool:
        again = await env.client.get(LEASES, env.node_name, namespace="kube-node-lease")
        return again["spec"]["renewTime"] != first

    await wait_for(renewed, timeout=5, what="a lease renewal")
    ready = next(c for c in node["status"]["conditions"] if c["type"] == "Ready")

    async def heartbeat() -> dict | None:
        n = await env.client.get(NODES, env.node_name)
        c = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        return c if c["lastHeartbeatTime"] != ready["lastHeartbeatTime"] else None

    later = await wait_for(heartbeat, timeout=5, what="a newer heartbeat")
    assert later["lastTransitionTime"] == ready["lastTransitionTime"]


async def test_static_pod_runs_with_a_mirror_pod(kubelet: KubeletEnv) -> None:
    """A manifest in the pod-manifests directory runs without the API; its mirror pod shows it (annotation
    kubernetes.io/config.mirror, owned by the Node, Running); a deleted mirror pod comes back; removing the
    manifest stops the pod and deletes the mirror."""
    env = kubelet
    manifests = env.config.paths.pod_manifests
    manifests.mkdir(parents=True, exist_ok=True)
    base = short_name("static")
    manifest = manifests / f"{base}.yaml"
    manifest.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "Pod",
                                        "metadata": {"name": base, "namespace": env.namespace, "labels": {"a": "b"}},
                                        "spec": {"containers": [container("main", ["sleep", "3600"])],
                                                 "terminationGracePeriodSeconds": 1}}))
    name = f"{base}-{env.node_name}"
    mirror = await env.wait_running(name, timeout=20)
    ann = mirror["metadata"]["annotations"]
    assert ann[labels.CONFIG_SOURCE] == "file" and ann[labels.CONFIG_MIRROR] == ann[labels.CONFIG_HASH]
    assert mirror["metadata"]["ownerReferences"][0]["kind"] == "Node"
    assert mirror["metadata"]["labels"] == {"a": "b"}
    static_uid = ann[labels.CONFIG_HASH]
    assert static_uid != mirror["metadata"]["uid"]
    assert len(await env.sandboxes(static_uid)) == 1
    await env.client.delete(PODS, name, namespace=env.namespace, grace_period_seconds=0)

    async def recreated() -> dict | None:
        try:
            p = await env.get(name)
        except NotFound:
            return None
        return p if p["metadata"]["uid"] != mirror["metadata"]["uid"] else None

    await wait_for(recreated, timeout=10, what="the mirror pod to come back")
    assert len(await env.sandboxes(static_uid)) == 1, "the static pod itself kept running"
    manifest.unlink()
    await env.wait_gone(name, timeout=20)

    async def stopped() -> bool:
        return not await env.sandboxes(static_uid)

    await wait_for(stopped, timeout=20, what="the static pod's sandbox to go")


async def test_memory_pressure_evicts_a_best_effort_pod_and_refuses_new_ones(env: KubeletEnv) -> None:
    """With memory.available under the threshold the node reports MemoryPressure, the BestEffort pod is
    evicted first (Failed, Evicted, upstream's message, DisruptionTarget) while the Guaranteed one keeps
    running, and a new BestEffort pod is refused at admission."""
    env.config.eviction_monitoring_period = 0.3
    state: dict[str, object] = {"kubelet": None}

    def observe() -> dict[str, Observation]:
        real = observe_node(env.config.data_dir, env.config.data_dir)
        k = state["kubelet"]
        if k is not None and k.eviction.evictions == 0 and state.get("pressure"):
            real["memory.available"] = Observation(50 * 1024 * 1024, real["memory.available"].capacity)
        return real

    kubelet = await start_kubelet(env, observe=observe)
    state["kubelet"] = kubelet
    try:
        best, guaranteed = short_name("besteffort"), short_name("guaranteed")
        await env.create(pod(best, node=env.node_name))
        g = container("main", ["sleep", "3600"], resources={"limits": {"cpu": "100m", "memory": "64Mi"}})
        await env.create(pod(guaranteed, [g], node=env.node_name))
        await env.wait_running(best)
        await env.wait_running(guaranteed)
        state["pressure"] = True
        evicted = await env.wait_pod(best, lambda p: p["status"].get("phase") == "Failed", what="eviction")
        assert evicted["status"]["reason"] == "Evicted"
        assert evicted["status"]["message"].startswith(
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. ")
        conds = {c["type"]: c for c in evicted["status"]["conditions"]}
        assert conds["DisruptionTarget"]["reason"] == "TerminationByKubelet"
        assert (await env.get(guaranteed))["status"]["phase"] == "Running"

        async def pressure() -> bool:
            n = await env.client.get(NODES, env.node_name)
            c = next(c for c in n["status"]["conditions"] if c["type"] == "MemoryPressure")
            return c["status"] == "True" and c["reason"] == "KubeletHasInsufficientMemory"

        await wait_for(pressure, timeout=10, what="MemoryPressure True")
        late = short_name("refused")
        await env.create(pod(late, node=env.node_name))
        refused = await env.wait_pod(late, lambda p: p["status"].get("phase") == "Failed", what="refusal")
        assert refused["status"]["reason"] == "Evicted"
        assert refused["status"]["message"] == "The node was low on resource: [MemoryPressure]. "
        assert await env.sandboxes(refused["metadata"]["uid"]) == []
    finally:
        await stop_kubelet(env)
        env.config.eviction_monitoring_period = 10.0


async def test_container_logs_are_rotated(env: KubeletEnv) -> None:
    """A log past the size limit is renamed with a timestamp, the runtime reopens it, older rotations are
    compressed, and no more than max_files files are kept."""
    env.config.container_log_max_size = 4096
    env.config.container_log_max_files = 3
    env.config.log_rotation_period = 0.2
    await start_kubelet(env)
    try:
        name = short_name("chatty")
        created = await env.create(pod(name, command=["sh", "-c", "while true; do echo $(date) some log text; done"],
                                       node=env.node_name))
        await env.wait_running(name)
        log_dir = env.config.paths.pod_log_directory(env.namespace, name, created["metadata"]["uid"]) / "main"

        async def rotated() -> list[Path] | None:
            # Between the rename and the runtime's reopen there is briefly no 0.log, and a compression
            # briefly adds a temporary file: look at a settled directory.
            files = sorted(log_dir.iterdir()) if log_dir.is_dir() else []
            names = [f.name for f in files]
            settled = "0.log" in names and not any(n.endswith(TMP_SUFFIX) for n in names)
            return files if settled and any(n.endswith(".gz") for n in names) else None

        files = await wait_for(rotated, timeout=20, what="a compressed rotation next to a reopened log")
        names = [f.name for f in files]
        assert len(files) <= 3
        assert any(n.startswith("0.log.") and not n.endswith(".gz") for n in names)

        async def written() -> bool:
            return (log_dir / "0.log").stat().st_size > 0

        await wait_for(written, timeout=5, what="the reopened log to be written")
    finally:
        await stop_kubelet(env)
        env.config.container_log_max_size = 10 * 1024 * 1024
        env.config.log_rotation_period = 10.0
