"""The private containerd: generated config, start/ready/stop, refusals, and stopping one left behind."""

from __future__ import annotations

import asyncio
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kijabi.kubelet import cni, images
from kijabi.kubelet.containerd import (
    AgentPaths,
    Containerd,
    ContainerdError,
    find_containerds,
    has_capability,
    read_pid,
    render_toml,
    stop_stale,
)
from tests.kubelet.node import requires_runtime, short_tmp, wait_for


@pytest.fixture
def data_dir() -> Iterator[Path]:
    d = short_tmp("kjc")
    try:
        yield d
    finally:
        stop_stale(AgentPaths(d))
        shutil.rmtree(d, ignore_errors=True)


def test_config_keeps_every_path_inside_the_data_dir(data_dir: Path) -> None:
    """Root, state, sockets, runc roots and CNI dirs all live under <data-dir>/agent; CRI is set up as the
    reference recipe says."""
    c = Containerd(data_dir, restrict_oom_score_adj=True)
    written = tomllib.loads(c.write_config().read_text())
    assert written == c.config()
    agent = str(data_dir / "agent")
    cri = written["plugins"]["io.containerd.grpc.v1.cri"]
    paths = [written["root"], written["state"], written["grpc"]["address"], written["ttrpc"]["address"],
             written["plugins"]["io.containerd.runtime.v1.linux"]["runtime_root"],
             written["plugins"]["io.containerd.internal.v1.opt"]["path"],
             cri["containerd"]["runtimes"]["runc"]["options"]["Root"], cri["cni"]["conf_dir"], cri["registry"]["config_path"]]
    assert all(p.startswith(agent + "/") for p in paths), paths
    assert cri["sandbox_image"] == images.PAUSE_IMAGE
    assert cri["containerd"]["runtimes"]["runc"]["runtime_type"] == "io.containerd.runc.v2"
    assert cri["containerd"]["runtimes"]["runc"]["options"]["SystemdCgroup"] is False
    assert (cri["restrict_oom_score_adj"], cri["netns_mounts_under_state_dir"], cri["stream_server_address"]) == (
        True, True, "127.0.0.1")
    assert cri["cni"]["bin_dir"] == "/usr/lib/cni"
    assert all(p.is_dir() for p in (c.paths.root, c.paths.state, c.paths.images_dir, c.paths.cni_conf_dir))


CAPS = [
    ("root with every capability", "000001ffffffffff", True),
    ("root without CAP_SYS_RESOURCE", "000001fffeffffff", False),
    ("no capabilities", "0000000000000000", False),
]


@pytest.mark.parametrize(("capeff", "has"), [(c, h) for _, c, h in CAPS], ids=[i for i, _, _ in CAPS])
def test_oom_score_restriction_follows_cap_sys_resource(tmp_path: Path, capeff: str, has: bool) -> None:
    status = tmp_path / "status"
    status.write_text(f"Name:\tx\nCapInh:\t0000000000000000\nCapEff:\t{capeff}\n")
    assert has_capability(24, status_file=status) is has


TOML = [
    ("scalars", {"a": 1, "b": True, "c": "x\"y"}, 'a = 1\nb = true\nc = "x\\"y"\n'),
    ("nested tables with dotted keys", {"plugins": {"io.x": {"k": [1, "two"]}}},
     '[plugins."io.x"]\nk = [1, "two"]\n'),
    ("keys before tables", {"t": {"a": 1, "sub": {"b": 2}}, "z": 0}, 'z = 0\n\n[t]\na = 1\n\n[t.sub]\nb = 2\n'),
]


@pytest.mark.parametrize(("doc", "text"), [(d, t) for _, d, t in TOML], ids=[i for i, _, _ in TOML])
def test_render_toml(doc: dict[str, Any], text: str) -> None:
    assert render_toml(doc) == text
    assert tomllib.loads(text) == doc


async def test_socket_path_too_long_is_refused(tmp_path: Path) -> None:
    c = Containerd(tmp_path / ("x" * 90))
    with pytest.raises(ContainerdError, match="longer than 107 bytes"):
        await c.start()


async def test_missing_binary_is_a_clear_error(data_dir: Path) -> None:
    with pytest.raises(ContainerdError, match="cannot run /nonexistent/containerd"):
        await Containerd(data_dir, containerd_bin="/nonexistent/containerd").start()


async def test_a_containerd_that_exits_at_once_is_reported_with_its_status(data_dir: Path) -> None:
    with pytest.raises(ContainerdError, match="exited with status 1"):
        await Containerd(data_dir, containerd_bin="false").start(timeout=5)
    assert not AgentPaths(data_dir).pid_file.exists()


@requires_runtime
async def test_start_serves_cri_and_stop_ends_the_process(data_dir: Path) -> None:
    """start() returns once CRI answers; the PID is recorded; a second start is refused; stop() ends it."""
    c = Containerd(data_dir)
    await c.start()
    try:
        pid = c.pid
        assert pid is not None and read_pid(c.paths) == pid and find_containerds(c.paths) == [pid]
        async with await c.connect() as cri:
            assert (await cri.runtime.version()).runtime_name == "containerd"
        with pytest.raises(ContainerdError, match="already started"):
            await c.start()
        with pytest.raises(ContainerdError, match="already running"):
            await Containerd(data_dir).start()
    finally:
        await c.stop()
    assert not c.running and not Path(f"/proc/{pid}").exists()
    assert read_pid(c.paths) is None and not c.paths.pid_file.exists()
    await c.stop()  # idempotent


@requires_runtime
async def test_stop_stale_stops_only_the_containerd_of_its_data_dir(data_dir: Path) -> None:
    """`kijabi agent --cleanup` finds our containerd by its config file and stops it; others are untouched."""
    other_dir = short_tmp("kjo")
    ours, other = Containerd(data_dir), Containerd(other_dir)
    await asyncio.gather(ours.start(), other.start())
    try:
        pid = ours.pid
        assert await asyncio.to_thread(stop_stale, ours.paths) == [pid]
        assert find_containerds(ours.paths) == [] and other.running
        assert await asyncio.to_thread(stop_stale, ours.paths) == []
    finally:
        await ours.stop()
        await other.stop()
        shutil.rmtree(other_dir, ignore_errors=True)


@requires_runtime
def test_containerd_dies_with_the_agent_that_started_it(data_dir: Path) -> None:
    """When the agent process is killed, its containerd gets SIGKILL (no orphaned containerd)."""
    script = textwrap.dedent(f"""
        import asyncio, sys
        from pathlib import Path
        from kijabi.kubelet.containerd import Containerd
        async def main():
            c = Containerd(Path({str(data_dir)!r}))
            await c.start()
            print(c.pid, flush=True)
            await asyncio.sleep(60)
        asyncio.run(main())
    """)
    agent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert agent.stdout is not None
        pid = int(agent.stdout.readline())
        assert find_containerds(AgentPaths(data_dir)) == [pid]
    finally:
        agent.send_signal(signal.SIGKILL)
        agent.wait()
    deadline = time.monotonic() + 5
    while find_containerds(AgentPaths(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert find_containerds(AgentPaths(data_dir)) == []


@requires_runtime
async def test_network_becomes_ready_when_the_conflist_appears_after_start(data_dir: Path) -> None:
    """The agent may learn its pod CIDR after containerd started: NetworkReady turns true once written."""
    c = Containerd(data_dir)
    await c.start()
    try:
        async with await c.connect() as cri:
            async def network_ready() -> bool:
                conditions = (await cri.runtime.status()).status.conditions
                return bool(next(cond.status for cond in conditions if cond.type == "NetworkReady"))

            assert not await network_ready()
            net = cni.BridgeNetwork("10.42.248.0/24", bridge="kjlate0", name="kjlate", default_route=False)
            cni.write_conflist(c.paths.cni_conf_dir, net, ipam_dir=c.paths.cni_ipam_dir)
            assert await wait_for(network_ready, what="NetworkReady")
    finally:
        await c.stop()
