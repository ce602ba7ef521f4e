"""A private containerd for the node agent: generated config, child process, readiness, stop by PID.

Like k3s, the agent runs its own containerd (Debian's `containerd` + `runc`) and never touches a system
containerd: every path it configures lies under `<data-dir>/agent` (`AgentPaths`):

    <data-dir>/agent/
    ├── containerd/           config.toml, containerd.sock(.ttrpc), containerd.log, containerd.pid
    │   ├── root/             images, snapshots, metadata (kept across restarts)
    │   ├── state/            runtime state, task bundles, netns mounts (io.containerd.grpc.v1.cri/netns)
    │   ├── runc/ runc-v1/    runc state roots (otherwise /run/containerd/runc)
    │   ├── fifo/             FIFOs of `ctr run` (benchmarks and tools)
    │   └── opt/
    ├── etc/cni/net.d/        the CNI conflist (kijabi.kubelet.cni)
    ├── etc/containerd/certs.d/   registry hosts (containerd's config_path)
    ├── cni/ipam/             host-local IPAM allocations
    └── images/               auto-import directory for image tarballs (kijabi.kubelet.images)

Two paths containerd 1.6 does not let us move: shim sockets in /run/containerd/s/ (each removed when its
shim exits) and libcni's result cache in /var/lib/cni/results/; kijabi.kubelet.cleanup deals with both.

Config decisions (see shared/reference/CRI-ON-CONTAINERD.md for why each was needed on this machine):
- CRI plugin with the runc v2 shim, cgroupfs driver (`SystemdCgroup = false`), overlayfs snapshotter.
- `sandbox_image` = our locally imported pause image; it is never pulled when present.
- `restrict_oom_score_adj` is on when this process lacks CAP_SYS_RESOURCE (else every sandbox fails to
  start: the pause spec asks for oom_score_adj -998).
- `io.containerd.runtime.v1.linux` stays enabled (the CRI plugin does not load without it).
- The streaming server (exec/attach/port-forward URLs) listens on 127.0.0.1 on a random port.
- `netns_mounts_under_state_dir`: pod network namespaces live under our state dir, not /run/netns.

Lifecycle: `await Containerd(data_dir).start()` spawns containerd (in its own session; it gets SIGKILL if
the spawning thread dies, so spawn it from the agent's main/event-loop thread), waits until the socket
answers CRI Version, and returns; `await stop()` sends SIGTERM to that PID, then SIGKILL after a grace
period. Pods survive a containerd restart (their shims keep running). `containerd.pid` lets a later
`kijabi agent --cleanup` stop a containerd left behind (see `stop_stale`).

    ContainerdError        containerd could not be started (message: the cause plus its log's last errors)

How a node agent uses this package (kijabi.kubelet.{containerd, cni, images, cri, cleanup}):

    paths = AgentPaths(data_dir)
    cni.add_unreachable_route(service_cidr)                        # before any pod exists
    images.write_builtin_images(paths.images_dir)                  # pause.tar, busybox.tar (no-op if current)
    containerd = Containerd(data_dir)
    await containerd.start()                                       # ~0.15 s; NetworkReady false until ...
    cni.write_conflist(paths.cni_conf_dir, cni.BridgeNetwork(pod_cidr), ipam_dir=paths.cni_ipam_dir)
                                                                   # ... this (may come later: containerd
                                                                   # watches the directory)
    await images.import_directory(containerd, paths.images_dir)    # every tarball there, ~0.1 s each
    cri = await containerd.connect()                               # the kubelet's RuntimeClient/ImageClient
    ...
    await cri.close(); await containerd.stop()                     # pods keep running
    cleanup.cleanup(data_dir)                                      # `kijabi agent --cleanup` only
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket as socketlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kijabi.client.tasks import dying_with_parent
from kijabi.kubelet.cri import CRIConnection, CRIError, RuntimeUnavailable, connect
from kijabi.kubelet.images import PAUSE_IMAGE

DEFAULT_CNI_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
MAX_SOCKET_PATH = 107                        # sun_path is 108 bytes with the terminating NUL
CAP_SYS_RESOURCE = 24


class ContainerdError(Exception):
    """containerd failed to start or to become ready."""


@dataclass(frozen=True)
class AgentPaths:
    """Where the node agent keeps containerd, CNI and image files (all under `<data-dir>/agent`)."""

    data_dir: Path

    @property
    def agent(self) -> Path:
        return self.data_dir / "agent"

    @property
    def containerd_dir(self) -> Path:
        return self.agent / "containerd"

    @property
    def config(self) -> Path:
        return self.containerd_dir / "config.toml"

    @property
    def root(self) -> Path:
        return self.containerd_dir / "root"

    @property
    def state(self) -> Path:
        return self.containerd_dir / "state"

    @property
    def socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def ttrpc_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock.ttrpc"

    @property
    def log(self) -> Path:
        return self.containerd_dir / "containerd.log"

    @property
    def pid_file(self) -> Path:
        return self.containerd_dir / "containerd.pid"

    @property
    def runc_root(self) -> Path:
        return self.containerd_dir / "runc"

    @property
    def runc_root_v1(self) -> Path:
        return self.containerd_dir / "runc-v1"

    @property
    def fifo_dir(self) -> Path:
        return self.containerd_dir / "fifo"

    @property
    def opt(self) -> Path:
        return self.containerd_dir / "opt"

    @property
    def netns_dir(self) -> Path:
        """Where the CRI plugin mounts pod network namespaces."""
        return self.state / "io.containerd.grpc.v1.cri" / "netns"

    @property
    def cni_conf_dir(self) -> Path:
        return self.agent / "etc" / "cni" / "net.d"

    @property
    def cni_ipam_dir(self) -> Path:
        return self.agent / "cni" / "ipam"

    @property
    def registry_dir(self) -> Path:
        return self.agent / "etc" / "containerd" / "certs.d"

    @property
    def images_dir(self) -> Path:
        """The auto-import directory: every image tarball here is imported when the agent starts."""
        return self.agent / "images"


def has_capability(cap: int, *, status_file: Path = Path("/proc/self/status")) -> bool:
    """Whether this process has capability number `cap` in its effective set."""
    for line in status_file.read_text().splitlines():
        if line.startswith("CapEff:"):
            return bool(int(line.split()[1], 16) >> cap & 1)
    return False


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML rendering for {type(value).__name__}")


def render_toml(doc: Mapping[str, Any]) -> str:
    """TOML text of nested dicts (tables) holding str/int/bool/list values; tables after plain keys."""
    lines: list[str] = []

    def table(prefix: str, body: Mapping[str, Any]) -> None:
        subtables = [(k, v) for k, v in body.items() if isinstance(v, Mapping)]
        plain = [(k, v) for k, v in body.items() if not isinstance(v, Mapping)]
        if prefix and (plain or not subtables):
            lines.append("")
            lines.append(f"[{prefix}]")
        for key, value in plain:
            lines.append(f"{_key(key)} = {_toml(value)}")
        for key, value in subtables:
            table(f"{prefix}.{_key(key)}" if prefix else _key(key), value)

    table("", doc)
    return "\n".join(lines).lstrip("\n") + "\n"


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


class Containerd:
    """A containerd child process with a config generated under `<data_dir>/agent/containerd`."""

    def __init__(self, data_dir: Path, *, sandbox_image: str = PAUSE_IMAGE, containerd_bin: str = "containerd",
                 runc_bin: str | None = None, cni_bin_dir: Path = DEFAULT_CNI_BIN_DIR,
                 cni_conf_dir: Path | None = None, stream_address: str = "127.0.0.1", stream_port: int = 0,
                 snapshotter: str = "overlayfs", log_level: str = "info",
                 restrict_oom_score_adj: bool | None = None, max_container_log_line_size: int = 16384,
                 die_with_parent: bool = True) -> None:
        self.paths = AgentPaths(Path(data_dir).absolute())
        self.sandbox_image = sandbox_image
        self.containerd_bin = containerd_bin
        self.runc_bin = runc_bin or shutil.which("runc") or "/usr/sbin/runc"
        self.cni_bin_dir = cni_bin_dir
        self.cni_conf_dir = cni_conf_dir or self.paths.cni_conf_dir
        self.stream_address = stream_address
        self.stream_port = stream_port
        self.snapshotter = snapshotter
        self.log_level = log_level
        self.restrict_oom_score_adj = (not has_capability(CAP_SYS_RESOURCE) if restrict_oom_score_adj is None
                                       else restrict_oom_score_adj)
        self.max_container_log_line_size = max_container_log_line_size
        self.die_with_parent = die_with_parent
        self._proc: asyncio.subprocess.Process | None = None

    # --- configuration -----------------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        """The containerd config (version 2) as nested dicts, as written to config.toml."""
        p = self.paths
        cri_runtimes = {"runc": {
            "runtime_type": "io.containerd.runc.v2",
            "options": {"BinaryName": self.runc_bin, "Root": str(p.runc_root), "SystemdCgroup": False},
        }}
        return {
            "version": 2,
            "root": str(p.root),
            "state": str(p.state),
            "disabled_plugins": [
                "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
            ],
            "grpc": {"address": str(p.socket)},
            "ttrpc": {"address": str(p.ttrpc_socket)},
            "debug": {"level": self.log_level},
            "plugins": {
                "io.containerd.runtime.v1.linux": {"runtime_root": str(p.runc_root_v1)},
                "io.containerd.internal.v1.opt": {"path": str(p.opt)},
                "io.containerd.grpc.v1.cri": {
                    "sandbox_image": self.sandbox_image,
                    "stream_server_address": self.stream_address,
                    "stream_server_port": str(self.stream_port),
                    "enable_tls_streaming": False,
                    "netns_mounts_under_state_dir": True,
                    "disable_apparmor": True,
                    "restrict_oom_score_adj": self.restrict_oom_score_adj,
                    "max_container_log_line_size": self.max_container_log_line_size,
                    "containerd": {
                        "snapshotter": self.snapshotter,
                        "default_runtime_name": "runc",
                        "runtimes": cri_runtimes,
                    },
                    "cni": {"bin_dir": str(self.cni_bin_dir), "conf_dir": str(self.cni_conf_dir), "max_conf_num": 1},
                    "registry": {"config_path": str(p.registry_dir)},
                },
            },
        }

    def write_config(self) -> Path:
        """Create the directories and write config.toml; returns its path."""
        p = self.paths
        if len(str(p.socket)) > MAX_SOCKET_PATH:
            raise ContainerdError(f"socket path {p.socket} is longer than {MAX_SOCKET_PATH} bytes; "
                                  "use a shorter --data-dir")
        for d in (p.containerd_dir, p.root, p.state, p.runc_root, p.runc_root_v1, p.opt, p.fifo_dir,
                  self.cni_conf_dir, p.registry_dir, p.images_dir):
            d.mkdir(parents=True, exist_ok=True)
        os.chmod(p.root, 0o700)
        os.chmod(p.state, 0o711)
        tmp = p.config.with_suffix(".tmp")
        tmp.write_text("# Generated by kijabi (kijabi.kubelet.containerd); rewritten at every start.\n"
                       + render_toml(self.config()))
        os.replace(tmp, p.config)
        return p.config

    # --- process -----------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    @property
    def running(self) -> bool:
        return self.pid is not None

    async def start(self, *, timeout: float = 30.0) -> None:
        """Write the config, start containerd and wait until its CRI service answers.

        Raises ContainerdError if a containerd of this data dir is already running, if the process exits
        or if the CRI plugin is not serving within `timeout` seconds (the process is then killed).
        """
        if self._proc is not None and self._proc.returncode is None:
            raise ContainerdError(f"containerd already started (pid {self._proc.pid})")
        stale = read_pid(self.paths)
        if stale is not None:
            raise ContainerdError(f"a containerd of {self.paths.data_dir} is already running (pid {stale}); "
                                  "stop it or run the agent's cleanup")
        self.write_config()
        with contextlib.suppress(FileNotFoundError):
            self.paths.socket.unlink()
        log = os.open(self.paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)  # the child's stdout/err
        try:
            binary = shutil.which(self.containerd_bin)  # through setpriv a missing one fails only after the fork
            if binary is None:
                raise ContainerdError(f"cannot run {self.containerd_bin}: not found or not executable")
            argv = [binary, "--config", str(self.paths.config)]
            self._proc = await asyncio.create_subprocess_exec(
                *(dying_with_parent(argv) if self.die_with_parent else argv),
                stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        except OSError as exc:
            raise ContainerdError(f"cannot run {self.containerd_bin}: {exc}") from exc
        finally:
            os.close(log)
        self.paths.pid_file.write_text(f"{self._proc.pid}\n")
        try:
            await self._wait_ready(timeout)
        except BaseException:
            await self.stop(timeout=5)
            raise

    async def _wait_ready(self, timeout: float) -> None:
        assert self._proc is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not await asyncio.to_thread(_socket_answers, self.paths.socket):
            if self._proc.returncode is not None:
                raise ContainerdError(f"containerd exited with status {self._proc.returncode}{self._log_tail()}")
            if loop.time() > deadline:
                raise ContainerdError(f"containerd socket not ready after {timeout:g}s{self._log_tail()}")
            await asyncio.sleep(0.02)
        # The CRI plugin answers "not initialized" while it recovers the state of existing pods.
        while True:
            try:
                conn = await connect(self.paths.socket, timeout=max(1.0, deadline - loop.time()))
            except RuntimeUnavailable as exc:
                if self._proc.returncode is not None or loop.time() > deadline:
                    raise ContainerdError(f"containerd's CRI service is not ready: {exc}{self._log_tail()}") from exc
                await asyncio.sleep(0.02)
                continue
            except CRIError as exc:
                raise ContainerdError(f"containerd's CRI service is not answering: {exc}{self._log_tail()}") from exc
            await conn.close()
            return

    def _log_tail(self, lines: int = 5) -> str:
        """The last error lines of containerd's log, as a suffix for error messages."""
        try:
            text = self.paths.log.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        errors = [ln for ln in text if "level=error" in ln or "level=fatal" in ln] or text
        return "; containerd log: " + " | ".join(errors[-lines:]) if errors else ""

    async def stop(self, *, timeout: float = 10.0) -> None:
        """SIGTERM containerd, SIGKILL after `timeout` seconds; wait for it. Pods (shims) keep running."""
        proc = self._proc
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(timeout):
                    await proc.wait()
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()
        with contextlib.suppress(FileNotFoundError):
            self.paths.pid_file.unlink()

    async def connect(self, *, timeout: float = 10.0) -> CRIConnection:
        """A CRI connection to this containerd (close it when done)."""
        return await connect(self.paths.socket, timeout=timeout)

    async def __aenter__(self) -> Containerd:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


def _socket_answers(path: Path) -> bool:
    s = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
    try:
        s.settimeout(1.0)
        s.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        s.close()


# --- a containerd left behind ----------------------------------------------------------------------------

def read_pid(paths: AgentPaths) -> int | None:
    """The PID in containerd.pid if that process is alive and is a containerd using our config."""
    try:
        pid = int(paths.pid_file.read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _is_our_containerd(pid, paths) else None


def _is_our_containerd(pid: int, paths: AgentPaths) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(argv) and os.path.basename(argv[0]) == b"containerd" and str(paths.config).encode() in argv


def find_containerds(paths: AgentPaths) -> list[int]:
    """PIDs of every running containerd started with our config file (pid file or not)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _is_our_containerd(int(entry), paths):
            pids.append(int(entry))
    return sorted(pids)


def stop_stale(paths: AgentPaths, *, timeout: float = 10.0) -> list[int]:
    """Stop (SIGTERM, then SIGKILL) every containerd running with our config; returns their PIDs.

    Synchronous, for `kijabi agent --cleanup`. Never signals a process that is not our containerd.
    """
    pids = find_containerds(paths)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline + 5:
            time.sleep(0.02)
    with contextlib.suppress(FileNotFoundError):
        paths.pid_file.unlink()
    return pids


def _alive(pid: int) -> bool:
    """Alive and not a zombie (a zombie child of ours still has a /proc entry)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
