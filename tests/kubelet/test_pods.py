"""Pods through CRI on a real containerd + runc + CNI bridge: the calls a kubelet makes, end to end."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio
import websocket

from kijabi.kubelet import images
from kijabi.kubelet.cri import (
    CRIConnection,
    DeadlineExceeded,
    NameReserved,
    NotFound,
    RuntimeFailure,
    api,
    decode_info,
)
from tests.kubelet.node import POD_CIDR, Node, requires_runtime, wait_for
from tests.kubelet.registry import DockerRegistry

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]

LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$")


async def sh(*argv: str) -> str:
    """Run a host command; its stdout (fails the test on a non-zero exit)."""
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, f"{argv}: {err.decode()}"
    return out.decode()


@dataclass
class Pod:
    sandbox_id: str
    config: api.PodSandboxConfig
    ip: str
    containers: dict[str, str] = field(default_factory=dict)


class Pods:
    """Runs pods for one test and removes them all afterwards, whatever happened."""

    def __init__(self, node: Node, cri: CRIConnection) -> None:
        self.node, self.cri = node, cri
        self.sandboxes: list[str] = []

    async def run(self, name: str, containers: dict[str, list[str]], *, mounts: list[api.Mount] | None = None,
                  port_mappings: list[api.PortMapping] | None = None, share_pid: bool = False) -> Pod:
        config = self.node.sandbox_config(name, port_mappings=port_mappings, share_pid=share_pid)
        sandbox_id = await self.cri.runtime.run_pod_sandbox(config)
        self.sandboxes.append(sandbox_id)
        status = (await self.cri.runtime.pod_sandbox_status(sandbox_id)).status
        pod = Pod(sandbox_id, config, status.network.ip)
        for cname, command in containers.items():
            cid = await self.cri.runtime.create_container(
                sandbox_id, self.node.container_config(cname, command, mounts=mounts, share_pid=share_pid), config)
            await self.cri.runtime.start_container(cid)
            pod.containers[cname] = cid
        return pod

    async def remove_all(self) -> None:
        for sandbox_id in self.sandboxes:
            await self.cri.runtime.stop_pod_sandbox(sandbox_id)
            await self.cri.runtime.remove_pod_sandbox(sandbox_id)


@pytest_asyncio.fixture(loop_scope="session")
async def pods(node: Node, cri: CRIConnection) -> AsyncIterator[Pods]:
    p = Pods(node, cri)
    try:
        yield p
    finally:
        await p.remove_all()


async def test_runtime_reports_version_and_ready_conditions(cri: CRIConnection) -> None:
    """Version names containerd and CRI v1; Status has RuntimeReady and NetworkReady (CNI config loaded)."""
    version = await cri.runtime.version()
    assert (version.runtime_name, version.runtime_api_version) == ("containerd", "v1")
    status = await cri.runtime.status(verbose=True)
    conditions = {c.type: c.status for c in status.status.conditions}
    assert conditions == {"RuntimeReady": True, "NetworkReady": True}
    info = decode_info(status.info)
    assert info["config"]["sandboxImage"] == images.PAUSE_IMAGE


async def test_imported_images_are_listed_with_their_ids(cri: CRIConnection) -> None:
    """Both built-in images are visible to CRI under their names, with the config digest as id."""
    listed = {tag: image for image in await cri.images.list_images() for tag in image.repo_tags}
    assert images.PAUSE_IMAGE in listed and images.BUSYBOX_IMAGE in listed
    busybox = await cri.images.get_image(images.BUSYBOX_IMAGE)
    assert busybox is not None and busybox.id == listed[images.BUSYBOX_IMAGE].id
    assert busybox.id.startswith("sha256:") and busybox.size > 500_000
    assert await cri.images.get_image("docker.io/library/not-here:nope") is None
    filesystems = await cri.images.image_fs_info()
    assert filesystems and filesystems[0].fs_id.mountpoint


async def test_a_pod_runs_a_container_and_exec_sync_reports_output_and_exit_codes(pods: Pods, cri: CRIConnection) -> None:
    """A busybox container runs; ExecSync returns stdout, stderr and the exit code; errors map to our tree."""
    pod = await pods.run("exec", {"main": ["sleep", "3600"]})
    cid = pod.containers["main"]
    status = (await cri.runtime.container_status(cid)).status
    assert status.state == api.CONTAINER_RUNNING
    result = await cri.runtime.exec_sync(cid, ["echo", "hi"], timeout=10)
    assert (result.stdout, result.stderr, result.exit_code) == (b"hi\n", b"", 0)
    result = await cri.runtime.exec_sync(cid, ["sh", "-c", "echo oops >&2; exit 3"], timeout=10)
    assert (result.stderr, result.exit_code) == (b"oops\n", 3)
    with pytest.raises(RuntimeFailure, match="executable file not found"):
        await cri.runtime.exec_sync(cid, ["no-such-binary"], timeout=10)
    with pytest.raises(DeadlineExceeded):
        await cri.runtime.exec_sync(cid, ["sleep", "10"], timeout=1)


async def test_two_pods_get_bridge_addresses_and_reach_each_other(pods: Pods, cri: CRIConnection, node: Node,
                                                                  tmp_path: Path) -> None:
    """Each sandbox gets its own address of the pod CIDR on the bridge, in a netns containerd created;
    pod B fetches a page from pod A's httpd over the bridge."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "index.html").write_text("hello from pod A\n")
    mount = api.Mount(container_path="/www", host_path=str(www), readonly=True)
    pod_a = await pods.run("web", {"httpd": ["httpd", "-f", "-p", "8080", "-h", "/www"]}, mounts=[mount])
    pod_b = await pods.run("client", {"main": ["sleep", "3600"]})

    cidr = ipaddress.ip_network(POD_CIDR)
    assert pod_a.ip != pod_b.ip
    assert ipaddress.ip_address(pod_a.ip) in cidr and ipaddress.ip_address(pod_b.ip) in cidr
    bridge_addr = await sh("ip", "-4", "-o", "addr", "show", "dev", node.net.bridge)
    assert f"inet {node.net.gateway}/24" in bridge_addr

    for pod in (pod_a, pod_b):
        info = decode_info((await cri.runtime.pod_sandbox_status(pod.sandbox_id, verbose=True)).info)["info"]
        netns = next(ns["path"] for ns in info["runtimeSpec"]["linux"]["namespaces"] if ns["type"] == "network")
        assert Path(netns).parent == node.paths.netns_dir
        inside = await sh("nsenter", f"--net={netns}", "ip", "-4", "-o", "addr", "show", "dev", "eth0")
        assert f"inet {pod.ip}/24" in inside
        routes = await sh("nsenter", f"--net={netns}", "ip", "-4", "route")
        assert "default" not in routes  # network safety: nothing can leave the bridge

    async def page() -> bytes | None:
        r = await cri.runtime.exec_sync(pod_b.containers["main"],
                                        ["wget", "-q", "-O", "-", f"http://{pod_a.ip}:8080/"], timeout=5)
        return r.stdout if r.exit_code == 0 else None

    assert await wait_for(page, what="httpd in pod A to answer") == b"hello from pod A\n"
    ping = await cri.runtime.exec_sync(pod_a.containers["httpd"], ["ping", "-c", "1", "-W", "2", pod_b.ip], timeout=5)
    assert ping.exit_code == 0, ping.stdout + ping.stderr


async def test_container_output_lands_in_the_cri_log_file(pods: Pods, cri: CRIConnection) -> None:
    """stdout and stderr lines are written to <log_directory>/<log_path> in the CRI log format."""
    pod = await pods.run("logs", {"talker": ["sh", "-c", "echo out-line; echo err-line >&2; exec sleep 3600"]})
    log_path = Path((await cri.runtime.container_status(pod.containers["talker"])).status.log_path)
    assert log_path == Path(pod.config.log_directory) / "talker" / "0.log"

    async def lines() -> list[str] | None:
        text = log_path.read_text() if log_path.exists() else ""
        got = text.splitlines()
        return got if len(got) >= 2 else None

    parsed = [LOG_LINE.match(line) for line in await wait_for(lines, what="two log lines")]
    assert all(parsed), parsed
    assert sorted((m.group(3), m.group(4), m.group(5)) for m in parsed if m) == [
        ("stderr", "F", "err-line"), ("stdout", "F", "out-line")]


async def test_container_status_stats_and_list_filters(pods: Pods, cri: CRIConnection, node: Node) -> None:
    """Status carries image and log path; stats have cpu and memory; list filters select by sandbox,
    state and labels."""
    pod = await pods.run("stats", {"busy": ["sleep", "3600"], "other": ["sleep", "3600"]})
    cid = pod.containers["busy"]
    status = (await cri.runtime.container_status(cid, verbose=True))
    assert status.status.image.image == images.BUSYBOX_IMAGE and status.status.image_ref.startswith("sha256:")
    assert decode_info(status.info)["info"]["sandboxID"] == pod.sandbox_id

    stats = await cri.runtime.container_stats(cid)
    assert stats.attributes.id == cid and stats.memory.working_set_bytes.value > 0
    assert stats.cpu.usage_core_nano_seconds.value > 0
    listed = await cri.runtime.list_container_stats(pod_sandbox_id=pod.sandbox_id)
    assert {s.attributes.id for s in listed} == set(pod.containers.values())

    in_pod = await cri.runtime.list_containers(pod_sandbox_id=pod.sandbox_id, state=api.CONTAINER_RUNNING)
    assert {c.id for c in in_pod} == set(pod.containers.values())
    by_label = await cri.runtime.list_containers(label_selector={"kjtest-run": node.run_id, "container": "other"})
    assert [c.id for c in by_label] == [pod.containers["other"]]
    sandboxes = await cri.runtime.list_pod_sandbox(label_selector={"pod": "stats", "kjtest-run": node.run_id},
                                                   state=api.SANDBOX_READY)
    assert [s.id for s in sandboxes] == [pod.sandbox_id]
    sandbox_stats = await cri.runtime.pod_sandbox_stats(pod.sandbox_id)
    assert sandbox_stats.linux.memory.working_set_bytes.value > 0


async def test_exec_url_streams_output_over_websocket(pods: Pods, cri: CRIConnection) -> None:
    """Exec returns a one-use URL on 127.0.0.1; over WebSocket (v4.channel.k8s.io) it streams stdout and
    ends with a Success status on channel 3."""
    pod = await pods.run("stream", {"main": ["sleep", "3600"]})
    url = await cri.runtime.exec(pod.containers["main"], ["echo", "streamed"], stdout=True, stderr=True)
    assert re.match(r"^http://127\.0\.0\.1:\d+/exec/[\w-]+$", url), url
    for rpc_url in (await cri.runtime.attach(pod.containers["main"]), await cri.runtime.port_forward(pod.sandbox_id, [80])):
        assert rpc_url.startswith("http://127.0.0.1:")

    def stream() -> tuple[bytes, dict[str, object]]:
        ws = websocket.create_connection(url.replace("http://", "ws://"), subprotocols=["v4.channel.k8s.io"], timeout=10)
        out, status = b"", {}
        try:
            while True:
                frame = ws.recv()
                if not frame:
                    break
                data = frame if isinstance(frame, bytes) else frame.encode()
                if data[:1] == b"\x01":
                    out += data[1:]
                elif data[:1] == b"\x03":
                    status = json.loads(data[1:])
        except websocket.WebSocketConnectionClosedException:
            pass
        finally:
            ws.close()
        return out, status

    out, status = await asyncio.to_thread(stream)
    assert out == b"streamed\n" and status.get("status") == "Success"


async def test_host_port_reaches_the_pod_through_loopback(pods: Pods, cri: CRIConnection, tmp_path: Path) -> None:
    """A port mapping on 127.0.0.1 (portmap plugin) forwards host connections to the pod's port."""
    (tmp_path / "index.html").write_text("via hostPort\n")
    mount = api.Mount(container_path="/www", host_path=str(tmp_path), readonly=True)
    mapping = api.PortMapping(protocol=api.TCP, container_port=8080, host_port=18480, host_ip="127.0.0.1")
    await pods.run("hostport", {"httpd": ["httpd", "-f", "-p", "8080", "-h", "/www"]}, mounts=[mount],
                   port_mappings=[mapping])

    async def fetch() -> bytes | None:
        def get() -> bytes | None:
            try:
                with urllib.request.urlopen("http://127.0.0.1:18480/", timeout=2) as resp:
                    return bytes(resp.read())
            except OSError:
                return None
        return await asyncio.to_thread(get)

    assert await wait_for(fetch, what="the hostPort to answer") == b"via hostPort\n"


async def test_pause_reaps_orphans_in_a_shared_pid_namespace(pods: Pods, cri: CRIConnection) -> None:
    """With a pod-wide PID namespace the pause process is PID 1 and reaps orphaned processes."""
    pod = await pods.run("pidns", {"main": ["sleep", "3600"]}, share_pid=True)
    cid = pod.containers["main"]
    ps = await cri.runtime.exec_sync(cid, ["ps", "-o", "pid,comm"], timeout=5)
    assert re.search(rb"^\s*1\s+pause$", ps.stdout, re.M), ps.stdout
    await cri.runtime.exec_sync(cid, ["sh", "-c", "sleep 0.1 & sleep 0.1 & exit 0"], timeout=5)

    async def no_zombies() -> bool:
        out = (await cri.runtime.exec_sync(cid, ["ps", "-o", "stat,comm"], timeout=5)).stdout.decode()
        procs = [line.split() for line in out.splitlines()[1:] if line.strip()]
        zombies = [p for p in procs if p[0].startswith("Z")]
        sleeps = [p for p in procs if p[-1] == "sleep"]
        return not zombies and len(sleeps) == 1  # only the container's own `sleep 3600` is left

    assert await wait_for(no_zombies, what="orphans to be reaped")


async def test_stop_and_remove_follow_the_cri_contract(node: Node, cri: CRIConnection) -> None:
    """Stop kills with SIGKILL after the grace period (137/Error); removal is idempotent; status of a removed
    object is NotFound; a reused sandbox name is NameReserved until the old sandbox is removed."""
    config = node.sandbox_config("lifecycle")
    sandbox_id = await cri.runtime.run_pod_sandbox(config)
    try:
        with pytest.raises(NameReserved):
            await cri.runtime.run_pod_sandbox(config)
        cid = await cri.runtime.create_container(sandbox_id, node.container_config("c", ["sleep", "3600"]), config)
        await cri.runtime.start_container(cid)
        await cri.runtime.stop_container(cid, 0)
        status = (await cri.runtime.container_status(cid)).status
        assert (status.state, status.exit_code, status.reason) == (api.CONTAINER_EXITED, 137, "Error")
        await cri.runtime.remove_container(cid)
        await cri.runtime.remove_container(cid)
        with pytest.raises(NotFound):
            await cri.runtime.container_status(cid)
        await cri.runtime.stop_pod_sandbox(sandbox_id)
        stopped = (await cri.runtime.pod_sandbox_status(sandbox_id)).status
        assert stopped.state == api.SANDBOX_NOTREADY and not stopped.network.ip
    finally:
        await cri.runtime.remove_pod_sandbox(sandbox_id)
    await cri.runtime.remove_pod_sandbox(sandbox_id)
    with pytest.raises(NotFound):
        await cri.runtime.pod_sandbox_status(sandbox_id)
    again = await cri.runtime.run_pod_sandbox(config)
    await cri.runtime.remove_pod_sandbox(again)


async def test_import_pull_free_image_roundtrip_with_gzip_and_remove(node: Node, cri: CRIConnection, tmp_path: Path) -> None:
    """A gzip-compressed tarball imports; RemoveImage deletes it and ImageStatus then finds nothing."""
    import gzip

    built = images.build_image(images.pause_spec("docker.io/kijabi/scratch-test:1"), tmp_path / "x.tar")
    gz = tmp_path / "x.tar.gz"
    gz.write_bytes(gzip.compress(built.path.read_bytes()))
    assert await images.import_images(node.containerd, [gz]) == ["docker.io/kijabi/scratch-test:1"]
    image = await cri.images.get_image("docker.io/kijabi/scratch-test:1")
    assert image is not None and image.id == built.id
    await cri.images.remove_image("docker.io/kijabi/scratch-test:1")
    assert await cri.images.get_image("docker.io/kijabi/scratch-test:1") is None
    with pytest.raises(images.ImageImportError):
        bad = tmp_path / "bad.tar"
        bad.write_bytes(b"not a tarball")
        await images.import_images(node.containerd, [bad])


async def test_pull_image_from_a_loopback_registry(node: Node, cri: CRIConnection, tmp_path: Path) -> None:
    """PullImage fetches an image over plain HTTP from a registry on 127.0.0.1; a missing tag is NotFound."""
    built = images.build_image(images.pause_spec("docker.io/kijabi/pulled:1"), tmp_path / "p.tar")
    with DockerRegistry(tmp_path / "registry") as registry:
        digest = registry.push(built.path, "kijabi/pulled", "v1")
        ref = f"{registry.host}/kijabi/pulled:v1"
        try:
            image_ref = await cri.images.pull_image(ref, timeout=30)
            assert image_ref == built.id
            image = await cri.images.get_image(ref)
            assert image is not None and list(image.repo_digests) == [f"{registry.host}/kijabi/pulled@{digest}"]
            with pytest.raises(NotFound):
                await cri.images.pull_image(f"{registry.host}/kijabi/pulled:missing", timeout=30)
        finally:
            await cri.images.remove_image(ref)
    assert await cri.images.get_image(ref) is None
