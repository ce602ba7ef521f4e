"""Real etcd clusters for the storage tests and the benchmark: `etcd` processes on 127.0.0.1.

    cluster = EtcdCluster.start(size=3)      # free ports, own data dirs (on tmpfs when there is one)
    store = EtcdStorage(cluster.endpoints)   # ["127.0.0.1:port", ...]
    cluster.kill(cluster.leader())           # kill -9, as in a crash
    cluster.restart(member)                  # the member rejoins with its data dir
    cluster.stop()                           # every process ended, every directory removed

Each etcd process is started with PR_SET_PDEATHSIG so that it dies with the thread that started it even
when that process is killed; `stop()` (also registered with atexit) ends and removes the rest, and data
dirs left by a killed test process are removed by the next `start()`.
Uses Debian's `etcd-server` (etcd 3.4); `etcd_binary()` is None when it is not installed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from kijabi.client.tasks import dying_with_parent
from kijabi.storage.etcdpb import rpc_pb2, rpc_pb2_grpc

ELECTION_MS = 500  # fast elections (default 1000): a killed leader is replaced within ~0.5-1 s
HEARTBEAT_MS = 50
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # room for a value of MAX_VALUE_BYTES plus key and framing


def etcd_binary() -> str | None:
    return shutil.which("etcd")


@dataclass(frozen=True)
class TLSFiles:
    """PEM files: the CA both sides trust, the server's certificate, and a client certificate."""

    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    log_path: Path
    scheme: str = "http"
    proc: subprocess.Popen[bytes] | None = None
    member_id: int = 0  # etcd's id, learned once the member answered

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://127.0.0.1:{self.peer_port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class EtcdCluster:
    base_dir: Path
    members: list[Member]
    tls: TLSFiles | None = None
    _token: str = field(default_factory=lambda: f"kijabi-test-{os.getpid()}-{time.monotonic_ns()}")

    @classmethod
    def start(cls, size: int = 3, *, tls: TLSFiles | None = None, timeout: float = 30.0) -> EtcdCluster:
        """Start `size` members and wait until the cluster has a leader and every member answers."""
        if etcd_binary() is None:
            raise RuntimeError("etcd is not installed (Debian package etcd-server)")
        shm = Path("/dev/shm")
        parent = shm if shm.is_dir() else Path(tempfile.gettempdir())
        _sweep(parent)
        base = Path(tempfile.mkdtemp(prefix=f"kijabi-etcd-{os.getpid()}-", dir=parent))
        ports = _free_ports(2 * size)
        members = [
            Member(
                name=f"m{i}",
                client_port=ports[2 * i],
                peer_port=ports[2 * i + 1],
                data_dir=base / f"m{i}",
                log_path=base / f"m{i}.log",
                scheme="https" if tls else "http",
            )
            for i in range(size)
        ]
        cluster = cls(base, members, tls)
        atexit.register(cluster.stop)
        try:
            for member in members:
                cluster._spawn(member, new=True)
            cluster.wait_ready(timeout=timeout)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def endpoints(self) -> list[str]:
        return [m.endpoint for m in self.members]

    def _spawn(self, member: Member, *, new: bool) -> None:
        binary = etcd_binary()
        assert binary is not None
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        args = dying_with_parent([  # etcd gets SIGKILL when the test process dies
            binary,
            "--name", member.name,
            "--data-dir", str(member.data_dir),
            "--listen-client-urls", member.client_url,
            "--advertise-client-urls", member.client_url,
            "--listen-peer-urls", member.peer_url,
            "--initial-advertise-peer-urls", member.peer_url,
            "--initial-cluster", initial,
            "--initial-cluster-token", self._token,
            "--initial-cluster-state", "new" if new else "existing",
            "--heartbeat-interval", str(HEARTBEAT_MS),
            "--election-timeout", str(ELECTION_MS),
            "--max-request-bytes", str(MAX_REQUEST_BYTES),
            "--logger", "zap",
            "--log-level", "warn",
        ])  # fmt: skip
        if self.tls is not None:
            args += [
                "--cert-file", self.tls.server_cert,
                "--key-file", self.tls.server_key,
                "--trusted-ca-file", self.tls.ca,
                "--client-cert-auth",
            ]  # fmt: skip
        log = open(member.log_path, "ab")  # handed to the child
        try:
            member.proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        finally:
            log.close()

    # --- state ---------------------------------------------------------------------------------------

    def status(self, member: Member, timeout: float = 1.0) -> rpc_pb2.StatusResponse | None:
        """The member's Maintenance.Status, or None if it does not answer."""
        if not member.running:
            return None
        try:
            with self._channel(member) as channel:
                resp: rpc_pb2.StatusResponse = rpc_pb2_grpc.MaintenanceStub(channel).Status(
                    rpc_pb2.StatusRequest(), timeout=timeout
                )
        except grpc.RpcError:
            return None
        member.member_id = resp.header.member_id
        return resp

    def _channel(self, member: Member) -> grpc.Channel:
        if self.tls is None:
            return grpc.insecure_channel(member.endpoint)
        creds = grpc.ssl_channel_credentials(
            Path(self.tls.ca).read_bytes(),
            Path(self.tls.client_key).read_bytes(),
            Path(self.tls.client_cert).read_bytes(),
        )
        return grpc.secure_channel(member.endpoint, creds)

    def _serves(self, member: Member) -> bool:
        """The member answers a linearizable read (it has a leader and is caught up)."""
        if not member.running:
            return False
        try:
            with self._channel(member) as channel:
                rpc_pb2_grpc.KVStub(channel).Range(
                    rpc_pb2.RangeRequest(key=b"\0", count_only=True), timeout=1.0
                )
        except grpc.RpcError:
            return False
        return True

    def wait_ready(self, *, timeout: float = 30.0) -> None:
        """Until every running member serves linearizable reads; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for member in self.members:
            while member.running and not self._serves(member):
                if member.proc is not None and member.proc.poll() is not None:
                    raise RuntimeError(f"etcd {member.name} exited:\n{member.log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"etcd {member.name} not ready:\n{member.log_path.read_text()[-3000:]}"
                    )
                time.sleep(0.02)
            self.status(member)

    def leader(self, *, timeout: float = 10.0) -> Member:
        """The member the running members agree leads (waiting for an election to settle)."""
        deadline = time.monotonic() + timeout
        while True:
            statuses = [(m, self.status(m)) for m in self.members if m.running]
            leaders = {s.leader for _, s in statuses if s is not None and s.leader}
            if len(leaders) == 1:
                (leader_id,) = leaders
                for member, st in statuses:
                    if st is not None and st.header.member_id == leader_id:
                        return member
            if time.monotonic() > deadline:
                raise TimeoutError(f"no agreed leader: {leaders}")
            time.sleep(0.02)

    # --- faults and teardown ---------------------------------------------------------------------------

    def kill(self, member: Member) -> None:
        """kill -9 the member's process and reap it."""
        if member.proc is not None and member.proc.poll() is None:
            member.proc.send_signal(signal.SIGKILL)
            member.proc.wait()

    def restart(self, member: Member, *, timeout: float = 30.0) -> None:
        """Start a stopped member again on its data dir and wait until it serves."""
        self.kill(member)
        self._spawn(member, new=False)
        self.wait_ready(timeout=timeout)

    def stop(self) -> None:
        """Kill every member and remove the data directories (idempotent). SIGKILL, not SIGTERM: a
        terminated etcd leader first tries to hand its leadership over, which takes seconds."""
        for member in self.members:
            self.kill(member)
        shutil.rmtree(self.base_dir, ignore_errors=True)
        with contextlib.suppress(Exception):
            atexit.unregister(self.stop)


def _free_ports(n: int) -> list[int]:
    """n distinct ports the kernel considers free right now on 127.0.0.1."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _sweep(parent: Path) -> None:
    """Remove data dirs left by clusters whose process died without stop() (kill -9 of the tests)."""
    for path in parent.glob("kijabi-etcd-*-*"):
        pid = path.name.split("-")[2]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(path, ignore_errors=True)

