"""The etcd backend of the fault runs and its faults: API servers on one real 3-member etcd cluster.

    EtcdBackend          a Starter: `kijabi apiserver --datastore-endpoint etcd://m0,m1,m2`; the etcd
                         cluster (tests/storage/etcd_cluster.py) is started on first use, shared by every
                         server of the backend, and ended by `close()`
    KillEtcdLeader       kill -9 of the etcd leader in the middle of the run; restarted on its data dir
                         a moment later. The API server rides through on the other members.
    SecondAPIServer      a second API server on the same etcd cluster, sharing the first one's CA (its
                         CA and service-account key files are copied into its data dir before it starts,
                         as k3s does for a joining server); half of the writers and watchers use it. In the
                         middle of the run the first is killed with SIGKILL and its clients fail over to
                         the second (same TLS context: they keep trusting the shared CA with their client
                         certificate), resuming their watches there from the last revision they saw.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from tests.e2e.cluster import Cluster, start_cluster
from tests.robustness.workload import Endpoint, Fault, Run, Starter, free_port
from tests.storage.etcd_cluster import EtcdCluster

SHARED_PKI = ("server-ca.crt", "server-ca.key", "client-ca.crt", "client-ca.key", "service.key")
"""What a joining server takes from the first one's <data-dir>/server/tls: the CAs and the service-account
signing key. Its serving and admin certificates are its own, issued by the shared CAs."""


class EtcdBackend:
    """Starts API servers on one shared etcd cluster (see the module docstring)."""

    def __init__(self, size: int = 3) -> None:
        self.size = size
        self._etcd: EtcdCluster | None = None

    @property
    def etcd(self) -> EtcdCluster:
        if self._etcd is None:
            self._etcd = EtcdCluster.start(self.size)
        return self._etcd

    @property
    def url(self) -> str:
        return "etcd://" + ",".join(self.etcd.endpoints)

    def __call__(self, data_dir: Path | None, port: int) -> Cluster:
        return start_cluster(data_dir, "--https-listen-port", str(port), "--datastore-endpoint", self.url)

    def close(self) -> None:
        """Stop the etcd cluster (the API servers on it are their callers' to stop)."""
        if self._etcd is not None:
            self._etcd.stop()
            self._etcd = None


def _backend(start: Starter) -> EtcdBackend:
    if not isinstance(start, EtcdBackend):
        raise ValueError("this fault needs the etcd backend")
    return start


class KillEtcdLeader(Fault):
    """kill -9 of the etcd leader; `down` seconds of workload later it is restarted on its data dir."""

    def __init__(self, start: Starter, down: float = 1.0) -> None:
        self.backend = _backend(start)
        self.down = down

    def inject(self, run: Run) -> None:
        etcd = self.backend.etcd
        leader = etcd.leader()
        etcd.kill(leader)
        run.stop_writes.wait(self.down)
        successor = etcd.leader()
        etcd.restart(leader)
        run.notes.append(f"etcd leader {leader.name} killed, {successor.name} took over, {leader.name} restarted")


class SecondAPIServer(Fault):
    """A second API server sharing the first's CA; half the clients use it; the first is killed."""

    def __init__(self, start: Starter) -> None:
        self.backend = _backend(start)
        self.second: Cluster | None = None
        self.killed: Cluster | None = None

    def setup(self, run: Run) -> None:
        first = run.ep.cluster
        data_dir = Path(tempfile.mkdtemp(prefix="kijabi-test-"))
        tls = data_dir / "server" / "tls"
        tls.mkdir(parents=True)
        for name in SHARED_PKI:
            shutil.copy2(first.data_dir / "server" / "tls" / name, tls / name)
        self.second = self.backend(data_dir, free_port())
        run.eps = [run.ep, Endpoint(self.second)]

    def inject(self, run: Run) -> None:
        assert self.second is not None
        first = run.ep.cluster
        first.kill9()
        self.killed = first
        run.ep.set(self.second, ctx=run.ep.ctx)  # the first's clients move over with their credentials
        run.notes.append("first API server killed, its clients moved to the second")

    def teardown(self, run: Run) -> None:
        if self.killed is not None:  # the second one serves on as run.ep.cluster
            shutil.rmtree(self.killed.data_dir, ignore_errors=True)
        elif self.second is not None:  # the run failed before the fault: the first one stays
            self.second.stop()
            shutil.rmtree(self.second.data_dir, ignore_errors=True)
