"""Helpers for the node agent tests: a `kijabi server` with its agent, a joined `kijabi agent`, teardown.

Network safety and coexistence with tests/kubelet (which owns `kjtest0`/`kjcrash0`, 10.42.250-251.0/24 and
the service route 10.43.253.0/24): the agents here use their own bridges (`kjagent0`, `kjagent1`), CNI
networks, pod CIDRs 10.42.248.0/24 and 10.42.249.0/24 (the server's --cluster-cidr 10.42.248.0/23), the
service CIDR 10.43.252.0/24, pods without a default route, a cgroup root `/kjtest-<dir>` per agent, and
the kubelet API on 127.0.0.1 with a free port. Data dirs are /tmp/kja* (short: containerd's socket path).

Teardown (`stop_server`, `stop_agent`, `teardown`) always stops processes by PID, then runs the agent
cleanup of each data dir with what the agent recorded, removes the cgroup root and the data dir.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from kijabi.kubelet import cleanup as agent_cleanup
from kijabi.kubelet import cni
from kijabi.kubelet.containerd import AgentPaths, find_containerds
from kijabi.kubelet.images import ImageSpec, build_image
from tests.e2e.cluster import Cluster, start_cluster
from tests.kubelet.node import short_tmp

CLUSTER_CIDR = "10.42.248.0/23"
SERVICE_CIDR = "10.43.252.0/24"
SERVER_BRIDGE, SERVER_NETWORK = "kjagent0", "kjagent"
JOIN_BRIDGE, JOIN_NETWORK = "kjagent1", "kjagent1"
DIR_PREFIX = "kja"

T = TypeVar("T")


def kubelet_args(data_dir: Path, bridge: str, network: str) -> list[str]:
    """The --kubelet-arg values that keep a test agent on its own bridge, cgroups, logs and 127.0.0.1."""
    return ["address=127.0.0.1", f"cgroup-root={cgroup_root(data_dir)}", f"pod-log-dir={data_dir / 'pod-logs'}",
            f"cni-bridge={bridge}", f"cni-network-name={network}", "cni-default-route=false"]


def cgroup_root(data_dir: Path) -> str:
    return f"/kjtest-{data_dir.name}"


@dataclass
class Server:
    cluster: Cluster
    node_name: str
    token: str

    @property
    def data_dir(self) -> Path:
        return self.cluster.data_dir


def start_server(node_name: str, token: str, *, airgap: Sequence[ImageSpec] = ()) -> Server:
    """`kijabi server` (API server, controller-manager, scheduler and the agent) in a fresh /tmp/kja* dir;
    the agent's node name and kubelet flags come through the KIJABI_* environment, as for users. The
    `airgap` images are written as .tar.gz files into the auto-import directory before the start."""
    data_dir = short_tmp(DIR_PREFIX)
    for spec in airgap:
        built = build_image(spec, data_dir / "airgap.tar")
        target = AgentPaths(data_dir).images_dir / f"{spec.name.rsplit('/', 1)[-1].replace(':', '_')}.tar.gz"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.compress(built.path.read_bytes()))
        built.path.unlink()
    env = {
        "KIJABI_NODE_NAME": node_name, "KIJABI_NODE_IP": "127.0.0.1", "KIJABI_KUBELET_PORT": "0",
        "KIJABI_KUBELET_ARG": " ".join(kubelet_args(data_dir, SERVER_BRIDGE, SERVER_NETWORK)),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        cluster = start_cluster(data_dir, "--cluster-cidr", CLUSTER_CIDR, "--service-cidr", SERVICE_CIDR,
                                "--token", token, command="server")
    except BaseException:
        teardown(data_dir)
        raise
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Server(cluster, node_name, token)


def agent_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "kijabi.cli.main", "agent", *args]


@dataclass
class Agent:
    proc: subprocess.Popen[bytes]
    data_dir: Path
    node_name: str
    log: Path

    def stop(self) -> None:
        stop_process(self.proc)


def start_agent(server: Server, node_name: str) -> Agent:
    """`kijabi agent --server URL --token T` with its own data dir (a self-signed kubelet certificate)."""
    data_dir = short_tmp(DIR_PREFIX)
    log = data_dir / "agent.log"
    argv = agent_argv("--server", server.cluster.url, "--token", server.token, "--data-dir", str(data_dir),
                      "--node-name", node_name, "--node-ip", "127.0.0.1", "--kubelet-port", "0",
                      "--service-cidr", SERVICE_CIDR, "--node-label", "kijabi.io/joined=true",
                      *(a for arg in kubelet_args(data_dir, JOIN_BRIDGE, JOIN_NETWORK) for a in ("--kubelet-arg", arg)))
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=out)
    return Agent(proc, data_dir, node_name, log)


def stop_process(proc: subprocess.Popen[Any], sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def stop_server(server: Server) -> None:
    stop_process(server.cluster.proc, signal.SIGINT)
    if server.cluster.proc.stdout is not None:
        server.cluster.proc.stdout.close()


def teardown(data_dir: Path, *, route: bool = True) -> agent_cleanup.CleanupReport | None:
    """The agent cleanup of `data_dir` (its containerd is stopped first), then its cgroup root and the dir;
    `route=False` keeps the service route (another agent of this host still uses it)."""
    if not data_dir.exists():
        return None
    if agent_cleanup.record_path(data_dir).exists():
        r = agent_cleanup.read_record(data_dir)
    else:  # the agent never started: never fall back to the host defaults (cni0, /kubepods, 10.43.0.0/16)
        r = agent_cleanup.AgentRecord("kjnone0", "kjnone", (f"{cgroup_root(data_dir)}/kubepods",), SERVICE_CIDR)
        route = False
    report = agent_cleanup.cleanup(data_dir, bridge=r.bridge, network_name=r.network_name,
                                   cgroup_parents=r.cgroup_parents, service_cidr=r.service_cidr if route else None,
                                   remove_images=True)
    remove_cgroup_root(data_dir)
    if not agent_cleanup.mounts_below(data_dir):
        shutil.rmtree(data_dir, ignore_errors=True)
    return report


def remove_cgroup_root(data_dir: Path) -> None:
    for mount in agent_cleanup.cgroup_mounts():
        with contextlib.suppress(OSError):
            (mount / cgroup_root(data_dir).strip("/")).rmdir()


def sweep_stale() -> list[Path]:
    """Tear down what killed runs of these tests left: /tmp/kja* dirs whose containerd no longer runs."""
    swept = []
    for d in sorted(Path("/tmp").glob(f"{DIR_PREFIX}*")):
        if d.is_dir() and (d / "agent").is_dir() and not find_containerds(AgentPaths(d)):
            teardown(d)
            swept.append(d)
    return swept


def leftovers(data_dir: Path, bridge: str) -> dict[str, Any]:
    """What an agent of `data_dir` still has on the host (empty values when clean)."""
    paths = AgentPaths(data_dir)
    record = agent_cleanup.read_record(data_dir)
    cgroups = [str(m / p.strip("/")) for m in agent_cleanup.cgroup_mounts() for p in record.cgroup_parents
               if (m / p.strip("/")).exists()]
    return {
        "containerd": find_containerds(paths),
        "shims": agent_cleanup.find_shims(paths),
        "mounts": agent_cleanup.mounts_below(data_dir),
        "netns": sorted(p.name for p in paths.netns_dir.iterdir()) if paths.netns_dir.is_dir() else [],
        "links": [bridge, *cni.bridge_ports(bridge)] if cni.link_exists(bridge) else [],
        "route": cni.has_unreachable_route(SERVICE_CIDR),
        "cgroups": cgroups,
    }


# --- API helpers -----------------------------------------------------------------------------------------

def get_json(cluster: Cluster, path: str) -> dict[str, Any] | None:
    status, _, body = cluster.request("GET", path)
    return json.loads(body) if status == 200 else None


def wait_for(probe: Callable[[], T | None], *, timeout: float, what: str, interval: float = 0.2) -> T:
    """Poll `probe` until it returns something truthy (returned), or fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def node_ready(cluster: Cluster, name: str) -> dict[str, Any] | None:
    node = get_json(cluster, f"/api/v1/nodes/{name}")
    if node is None:
        return None
    ready = [c for c in node.get("status", {}).get("conditions") or [] if c["type"] == "Ready"]
    return node if ready and ready[0]["status"] == "True" else None


def running_pods(cluster: Cluster, namespace: str, selector: str) -> list[dict[str, Any]]:
    doc = get_json(cluster, f"/api/v1/namespaces/{namespace}/pods?labelSelector={selector}") or {}
    return [p for p in doc.get("items") or [] if (p.get("status") or {}).get("phase") == "Running"]


def http_get(url: str, timeout: float = 10) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@contextlib.contextmanager
def port_forward(cluster: Cluster, namespace: str, target: str, port: int) -> Iterator[int]:
    """`kubectl port-forward TARGET :PORT`; yields the local port, stops kubectl (by PID) afterwards."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
    proc = subprocess.Popen(["kubectl", "-n", namespace, "port-forward", target, f":{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None and proc.stderr is not None
        line = proc.stdout.readline()
        local = line.split("127.0.0.1:", 1)[1].split(" ", 1)[0] if "127.0.0.1:" in line else ""
        if not local.isdigit():
            stop_process(proc, timeout=10)
            raise AssertionError(f"kubectl port-forward said {line!r} {proc.stderr.read()!r}")
        yield int(local)
    finally:
        stop_process(proc, timeout=10)
