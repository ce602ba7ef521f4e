"""`kijabi.kubelet.main.run`: flags, and the default runtime (a private containerd under the data dir)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kijabi.client import Client
from kijabi.client.rest import NODES
from kijabi.kubelet import cleanup, main
from kijabi.kubelet.containerd import AgentPaths, find_containerds
from tests.kubelet.kubelet_harness import shared_cluster, short_name, wait_for
from tests.kubelet.node import requires_runtime, short_tmp

pytestmark = [requires_runtime]


def test_flags_become_the_kubelet_config() -> None:
    """Every flag lands in KubeletConfig; defaults are k3s/upstream's."""
    import argparse

    parser = argparse.ArgumentParser()
    main.add_flags(parser)
    args = parser.parse_args(["--kubeconfig", "/k", "--node-name", "n1", "--data-dir", "/d", "--pod-cidr",
                              "10.42.3.0/24", "--cluster-dns", "10.43.0.10,10.43.0.11", "--node-labels", "a=b,c=d",
                              "--eviction-hard", "memory.available<1Gi", "--max-pods", "20"])
    cfg = main.config_from_args(args)
    assert (cfg.node_name, str(cfg.data_dir), cfg.pod_cidr, cfg.cluster_dns) == \
        ("n1", "/d", "10.42.3.0/24", ("10.43.0.10", "10.43.0.11"))
    assert cfg.cluster_domain == "cluster.local" and cfg.node_labels == {"a": "b", "c": "d"}
    assert cfg.eviction_hard == {"memory.available": "1Gi"} and cfg.max_pods == 20
    assert str(cfg.pod_log_dir) == "/var/log/pods" and cfg.cgroup_root == "/"
    defaults = main.config_from_args(parser.parse_args(["--kubeconfig", "/k", "--node-name", "x"]))
    assert defaults.cluster_dns == ("10.43.0.10",) and defaults.eviction_hard["nodefs.available"] == "10%"


@pytest_asyncio.fixture(loop_scope="session")
async def data_dir() -> AsyncIterator:
    d = short_tmp("kjm")
    try:
        yield d
    finally:
        await asyncio.to_thread(cleanup.cleanup, d, bridge="kjnone0", network_name="kjnone",
                                cgroup_parents=[f"/kjtest-{d.name}"], service_cidr=None, remove_images=True)
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.asyncio(loop_scope="session")
async def test_run_starts_its_own_containerd_and_reports_the_missing_network(data_dir) -> None:  # type: ignore[no-untyped-def]
    """Without --container-runtime-endpoint the kubelet starts containerd under <data-dir>/agent with the
    built-in images; with no pod CIDR yet there is no CNI config, so the Node is NotReady with the
    runtime's network message. Stopping the kubelet stops that containerd."""
    cluster = await asyncio.to_thread(shared_cluster)
    node_name = short_name("kjmain")
    stop = asyncio.Event()
    task = asyncio.create_task(main.run(["--kubeconfig", str(cluster.kubeconfig), "--node-name", node_name,
                                         "--data-dir", str(data_dir), "--cgroup-root", f"/kjtest-{data_dir.name}",
                                         "--pod-log-dir", str(data_dir / "pod-logs"), "--node-ip", "127.0.0.1"],
                                        stop=stop))
    try:
        async with Client.from_kubeconfig(str(cluster.kubeconfig), qps=0) as client:
            async def not_ready() -> dict | None:
                try:
                    node = await client.get(NODES, node_name)
                except Exception:
                    return None
                ready = next((c for c in node["status"].get("conditions") or [] if c["type"] == "Ready"), None)
                return ready if ready and ready["status"] == "False" else None

            ready = await wait_for(not_ready, timeout=60, what="the node to register")
            assert ready["reason"] == "KubeletNotReady"
            assert ready["message"].startswith("container runtime network not ready: NetworkReady=false")
            node = await client.get(NODES, node_name)
            assert node["status"]["nodeInfo"]["containerRuntimeVersion"].startswith("containerd://")
            assert find_containerds(AgentPaths(data_dir)), "the kubelet's own containerd runs"
            assert (data_dir / "agent" / "images" / "busybox.tar").exists()
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)
    assert not find_containerds(AgentPaths(data_dir))
