"""A test node: a private containerd in a temp data dir, the test bridge network, imported images.

Network safety: pods live on the bridge `kjtest0` in 10.42.250.0/24 with no default route (the CNI config
gives them the pod CIDR route only), so nothing a test pod sends can leave the bridge. HostPort tests
use 127.0.0.1 only.

Teardown always runs the agent cleanup with this node's names, and `assert_clean` checks that nothing
of the node is left: processes, mounts, network namespaces, links, iptables chains, cgroups, files.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from kijabi.kubelet import cleanup as agent_cleanup
from kijabi.kubelet import cni, images
from kijabi.kubelet.containerd import AgentPaths, Containerd, find_containerds
from kijabi.kubelet.cri import api

POD_CIDR = "10.42.250.0/24"
BRIDGE = "kjtest0"
NETWORK = "kjtest"
CRASH_NET = cni.BridgeNetwork("10.42.251.0/24", bridge="kjcrash0", name="kjcrash", default_route=False)
REQUIRED = ("containerd", "containerd-shim-runc-v2", "runc", "ctr", "ip", "iptables", "nsenter", "unshare")

_T = TypeVar("_T")


def runtime_missing() -> str | None:
    """Why real-runtime tests cannot run here (None when they can)."""
    if os.geteuid() != 0:
        return "needs root"
    missing = [b for b in REQUIRED if shutil.which(b) is None]
    if not Path("/usr/lib/cni/bridge").exists():
        missing.append("containernetworking-plugins")
    if not images.BUSYBOX_BINARY.exists():
        missing.append("busybox-static")
    if missing:
        return "missing Debian packages/binaries: " + ", ".join(missing)
    return None


requires_runtime = pytest.mark.skipif(runtime_missing() is not None, reason=runtime_missing() or "")


@dataclass
class Node:
    data_dir: Path
    containerd: Containerd
    net: cni.BridgeNetwork
    cgroup_parent: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    @property
    def paths(self):  # type: ignore[no-untyped-def]
        return self.containerd.paths

    def sandbox_config(self, name: str, *, port_mappings: list[api.PortMapping] | None = None,
                       attempt: int = 0, share_pid: bool = False) -> api.PodSandboxConfig:
        uid = str(uuid.uuid4())
        pid_mode = api.POD if share_pid else api.CONTAINER
        return api.PodSandboxConfig(
            metadata=api.PodSandboxMetadata(name=name, namespace="kjtest", uid=uid, attempt=attempt),
            hostname=name,
            log_directory=str(self.data_dir / "pod-logs" / uid),
            labels={"kjtest-run": self.run_id, "pod": name},
            port_mappings=port_mappings or [],
            linux=api.LinuxPodSandboxConfig(
                cgroup_parent=f"{self.cgroup_parent}/pod{uid}",
                security_context=api.LinuxSandboxSecurityContext(
                    namespace_options=api.NamespaceOption(network=api.POD, pid=pid_mode, ipc=api.POD))),
        )

    def container_config(self, name: str, command: list[str], *, mounts: list[api.Mount] | None = None,
                         attempt: int = 0, share_pid: bool = False) -> api.ContainerConfig:
        return api.ContainerConfig(
            metadata=api.ContainerMetadata(name=name, attempt=attempt),
            image=api.ImageSpec(image=images.BUSYBOX_IMAGE),
            command=command,
            log_path=f"{name}/{attempt}.log",
            labels={"kjtest-run": self.run_id, "container": name},
            mounts=mounts or [],
            linux=api.LinuxContainerConfig(security_context=api.LinuxContainerSecurityContext(
                namespace_options=api.NamespaceOption(network=api.POD, pid=api.POD if share_pid else api.CONTAINER,
                                                      ipc=api.POD))),
        )


def short_tmp(prefix: str) -> Path:
    """A temp dir with a short path (containerd's socket path must stay under 108 bytes)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


TEST_DIR_PREFIXES = ("kjn", "kjc", "kjo", "kjm")


def sweep_stale_nodes() -> list[str]:
    """Clean up after test runs that were killed (their containerd died with them; pods may live on)."""
    swept = []
    for d in sorted(Path("/tmp").glob("kj*")):
        if not d.name.startswith(TEST_DIR_PREFIXES) or not (d / "agent").is_dir():
            continue
        if find_containerds(AgentPaths(d)):
            continue  # a live run
        for bridge, network in ((BRIDGE, NETWORK), (CRASH_NET.bridge, CRASH_NET.name)):
            agent_cleanup.cleanup(d, bridge=bridge, network_name=network, cgroup_parents=[f"/kjtest-{d.name}"],
                                  service_cidr=None, remove_images=True)
        if not agent_cleanup.mounts_below(d):
            shutil.rmtree(d, ignore_errors=True)
        swept.append(str(d))
    return swept


async def start_node(*, network: cni.BridgeNetwork | None = None, import_images: bool = True) -> Node:
    data_dir = short_tmp("kjn")
    node = Node(data_dir=data_dir, containerd=Containerd(data_dir),
                net=network or cni.BridgeNetwork(POD_CIDR, bridge=BRIDGE, name=NETWORK, default_route=False),
                cgroup_parent=f"/kjtest-{data_dir.name}")
    cni.write_conflist(node.paths.cni_conf_dir, node.net, ipam_dir=node.paths.cni_ipam_dir)
    try:
        await node.containerd.start()
        if import_images:
            images.write_builtin_images(node.paths.images_dir)
            await images.import_directory(node.containerd, node.paths.images_dir)
    except BaseException:
        await stop_node(node)
        raise
    return node


async def stop_node(node: Node) -> agent_cleanup.CleanupReport:
    """Stop containerd and run the agent cleanup for this node; the data dir is removed afterwards."""
    await node.containerd.stop()
    report = await asyncio.to_thread(
        agent_cleanup.cleanup, node.data_dir, bridge=node.net.bridge, network_name=node.net.name,
        cgroup_parents=[node.cgroup_parent], service_cidr=None, remove_images=True)
    if not agent_cleanup.mounts_below(node.data_dir):
        shutil.rmtree(node.data_dir, ignore_errors=True)
    return report


def leftovers(node: Node) -> dict[str, Any]:
    """Everything of `node` still on the host (empty values when clean)."""
    shims = agent_cleanup.find_shims(node.paths)
    cgroups = [str(m / node.cgroup_parent.strip("/")) for m in agent_cleanup.cgroup_mounts()
               if (m / node.cgroup_parent.strip("/")).exists()]
    netns = sorted(p.name for p in node.paths.netns_dir.iterdir()) if node.paths.netns_dir.is_dir() else []
    chains = cni.cni_chains()
    ipt = subprocess.run(["iptables-save"], capture_output=True, text=True).stdout
    return {
        "containerd": find_containerds(node.paths),
        "shims": [p for p in shims if _alive(p)],
        "mounts": agent_cleanup.mounts_below(node.data_dir),
        "netns": netns,
        "links": [node.net.bridge, *cni.bridge_ports(node.net.bridge)] if cni.link_exists(node.net.bridge) else [],
        "iptables chains": chains,
        "iptables rules": [ln for ln in ipt.splitlines() if f'name: \\"{node.net.name}\\"' in ln],
        "cgroups": cgroups,
        "state dir": node.paths.state.exists(),
        "ipam dir": node.paths.cni_ipam_dir.exists(),
        "cni cache": [p.name for p in (cni.CNI_CACHE_DIR / "results").glob(f"{node.net.name}-*")],
    }


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def assert_clean(node: Node) -> None:
    left = {k: v for k, v in leftovers(node).items() if v}
    assert not left, f"left behind: {left}"


async def wait_for(probe: Callable[[], Awaitable[_T | None]], *, timeout: float = 10.0, what: str = "condition") -> _T:
    """Poll `probe` until it returns a truthy value (returned) or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.02)
