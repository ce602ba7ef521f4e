"""`kijabi agent --cleanup`: after an agent crash with pods running, nothing of the node is left; twice is fine."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from kijabi.kubelet import cleanup, cni
from kijabi.kubelet.containerd import AgentPaths, Containerd
from kijabi.kubelet.cri import api
from tests.kubelet.node import (
    CRASH_NET,
    Node,
    leftovers,
    requires_runtime,
    short_tmp,
    start_node,
    stop_node,
    wait_for,
)

SERVICE_CIDR = "10.43.253.0/24"


async def _run_pod(node: Node, name: str, host_port: int) -> str:
    mapping = api.PortMapping(protocol=api.TCP, container_port=80, host_port=host_port, host_ip="127.0.0.1")
    config = node.sandbox_config(name, port_mappings=[mapping])
    async with await node.containerd.connect() as cri:
        sandbox_id = await cri.runtime.run_pod_sandbox(config)
        cid = await cri.runtime.create_container(sandbox_id, node.container_config("main", ["sleep", "3600"]), config)
        await cri.runtime.start_container(cid)
    return sandbox_id


@requires_runtime
async def test_cleanup_after_a_crash_leaves_nothing_and_is_idempotent() -> None:
    """Pods running, containerd killed: cleanup kills shims and containers, unmounts rootfs/shm/netns,
    deletes bridge, veths, CNI chains, cgroups, state and caches, and the service route."""
    node = await start_node(network=CRASH_NET)
    try:
        await asyncio.gather(_run_pod(node, "a", 18601), _run_pod(node, "b", 18602))
        cni.add_unreachable_route(SERVICE_CIDR)
        before = leftovers(node)
        assert len(before["shims"]) == 2 and len(before["netns"]) == 2 and before["links"] and before["cgroups"]
        assert before["iptables rules"] and before["mounts"]
        async def kill_containerd() -> None:
            pid = node.containerd.pid
            assert pid is not None
            os.kill(pid, signal.SIGKILL)  # the agent "crashes": shims and pods keep running

            async def containerd_gone() -> bool:
                return not node.containerd.running
            await wait_for(containerd_gone, what="containerd to die")

        await kill_containerd()
        # A restarted containerd finds the pods again and can still run commands in them.
        node.containerd = Containerd(node.data_dir)
        await node.containerd.start()
        async with await node.containerd.connect() as cri:
            sandboxes = await cri.runtime.list_pod_sandbox(label_selector={"kjtest-run": node.run_id},
                                                           state=api.SANDBOX_READY)
            assert len(sandboxes) == 2
            [container] = await cri.runtime.list_containers(pod_sandbox_id=sandboxes[0].id)
            assert (await cri.runtime.exec_sync(container.id, ["echo", "alive"], timeout=5)).stdout == b"alive\n"
        await kill_containerd()

        report = await asyncio.to_thread(
            cleanup.cleanup, node.data_dir, bridge=CRASH_NET.bridge, network_name=CRASH_NET.name,
            cgroup_parents=[node.cgroup_parent], service_cidr=SERVICE_CIDR)
        assert report.errors == []
        assert len(report.processes) >= 6  # 2 shims, 2 pause, 2 sleep
        assert report.mounts and report.links and report.iptables and report.cgroups and report.files
        assert report.routes == [f"unreachable {SERVICE_CIDR}"]
        left = {k: v for k, v in leftovers(node).items() if v}
        assert left == {}
        assert not cni.has_unreachable_route(SERVICE_CIDR)
        assert node.paths.root.is_dir()  # images are kept unless remove_images

        again = await asyncio.to_thread(
            cleanup.cleanup, node.data_dir, bridge=CRASH_NET.bridge, network_name=CRASH_NET.name,
            cgroup_parents=[node.cgroup_parent], service_cidr=SERVICE_CIDR)
        assert not again.removed_anything and again.errors == [], again
        assert again.summary() == "nothing to remove"
    finally:
        cni.remove_unreachable_route(SERVICE_CIDR)
        await stop_node(node)


@requires_runtime
def test_a_directory_with_a_mount_below_is_never_deleted() -> None:
    """File removal refuses a tree that still has something mounted inside (it would reach into it);
    the full cleanup unmounts first and then removes it."""
    data_dir = short_tmp("kjm")
    paths = AgentPaths(data_dir)
    target = paths.state / "io.containerd.runtime.v2.task" / "k8s.io" / "x" / "rootfs"
    target.mkdir(parents=True)
    try:
        subprocess.run(["mount", "-t", "tmpfs", "kjtest", str(target)], check=True)
        (target / "precious").write_text("keep me")
        errors: list[str] = []
        cleanup.remove_files(paths, "kjmount", [], errors=errors)
        assert (target / "precious").read_text() == "keep me"
        assert errors and "still mounted below it" in errors[0]
        report = cleanup.cleanup(data_dir, bridge="kjmount0", network_name="kjmount", cgroup_parents=["/kjmount"],
                                 service_cidr=None)
        assert report.mounts == [str(target)] and str(paths.state) in report.files and report.errors == []
        assert not paths.state.exists()
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)
        shutil.rmtree(data_dir, ignore_errors=True)


MOUNTINFO = [
    ("plain", "36 35 98:0 / /mnt rw,noatime master:1 - ext3 /dev/root rw", "/mnt", "ext3"),
    ("space escaped", r"36 35 0:5 / /tmp/a\040b rw shared:2 - tmpfs tmp\040fs rw", "/tmp/a b", "tmpfs"),
    ("no optional fields", "40 35 0:6 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw", "/sys/fs/cgroup/unified",
     "cgroup2"),
]


@pytest.mark.parametrize(("line", "target", "fstype"), [(line, t, f) for _, line, t, f in MOUNTINFO],
                         ids=[i for i, *_ in MOUNTINFO])
def test_mountinfo_parsing(tmp_path: Path, line: str, target: str, fstype: str) -> None:
    f = tmp_path / "mountinfo"
    f.write_text(line + "\n")
    [mount] = cleanup.mounts(f)
    assert (mount.target, mount.fstype) == (target, fstype)


def test_report_summary_counts_what_was_removed() -> None:
    report = cleanup.CleanupReport(processes=[1, 2], links=["cni0"], errors=["umount /x: busy"])
    assert report.removed_anything
    assert report.summary() == "removed 2 processes, 1 links; 1 errors: umount /x: busy"


def _nft(*items: dict[str, object]) -> str:
    return json.dumps({"nftables": [{"metainfo": {"version": "1.0.6"}}, {"table": {"family": "ip", "name": "nat"}},
                                    *items]})


NFT_TABLES = [
    ("empty chains only", _nft({"chain": {"name": "CNI-X"}}, {"chain": {"name": "POSTROUTING", "policy": "accept"}}),
     True),
    ("a rule left", _nft({"chain": {"name": "POSTROUTING"}}, {"rule": {"chain": "POSTROUTING"}}), False),
    ("a set left", _nft({"set": {"name": "s"}}), False),
    ("base chain with drop policy", _nft({"chain": {"name": "FORWARD", "policy": "drop"}}), False),
    ("not JSON", "Error: No such file or directory", False),
]


@pytest.mark.parametrize(("listing", "removable"), [(x, r) for _, x, r in NFT_TABLES], ids=[i for i, _, _ in NFT_TABLES])
def test_only_nft_tables_that_do_nothing_are_removed(listing: str, removable: bool) -> None:
    assert cleanup.removable_nft_table(listing) is removable
