"""Leader failover between two `kijabi controller-manager` processes: kill -9 the leader, the other takes
over within the lease duration, and nothing is created twice."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.controllers.cluster.harness import Kube, wait_for
from tests.e2e.cluster import Cluster, start_cluster

LEASE_DURATION = 4
CONTROLLERS = "serviceaccount,endpoints,endpointslice"


@pytest.fixture
def own_cluster() -> Iterator[Cluster]:
    """A cluster of its own: the session's in-process controllers must not do the work here."""
    c = start_cluster(None, "--disable-controller-manager", "--disable-scheduler")
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


def manager(cluster: Cluster, name: str) -> subprocess.Popen[bytes]:
    log = open(cluster.data_dir / f"{name}.log", "wb")
    return subprocess.Popen(
        [sys.executable, "-m", "kijabi.cli.main", "controller-manager", "--kubeconfig", str(cluster.kubeconfig),
         f"--controllers={CONTROLLERS}", f"--leader-elect-lease-duration={LEASE_DURATION}",
         "--leader-elect-renew-deadline=3", "--leader-elect-retry-period=1"],
        stdout=log, stderr=subprocess.STDOUT)


def holder(kube: Kube) -> str:
    lease = kube.get("coordination.k8s.io/v1", "leases", "kube-controller-manager", "kube-system") or {}
    return str((lease.get("spec") or {}).get("holderIdentity") or "")


def slices(kube: Kube, ns: str) -> list[Any]:
    return kube.list("discovery.k8s.io/v1", "endpointslices", ns, labelSelector="kubernetes.io/service-name=web")


def test_standby_takes_over_after_kill_9_without_duplicates(own_cluster: Cluster) -> None:
    kube = Kube(own_cluster)
    kube.node("fo-node", heartbeat=None)
    first = manager(own_cluster, "first")
    second: subprocess.Popen[bytes] | None = None
    try:
        leader = wait_for(lambda: holder(kube), timeout=30, what="first manager leading")
        second = manager(own_cluster, "second")
        ns = "fo-" + uuid.uuid4().hex[:6]
        own_cluster.kubectl("create", "namespace", ns)
        wait_for(lambda: kube.get("v1", "serviceaccounts", "default", ns), what="default SA from the leader")
        kube.create("v1", "services", {"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"},
                                                                           "ports": [{"port": 80}]}}, ns)
        for i in range(3):
            kube.pod(ns, f"web-{i}", labels={"app": "web"}, node="fo-node")
            kube.set_pod_status(ns, f"web-{i}", ready=True, ip=f"10.42.3.{i + 1}")
        wait_for(lambda: (s := slices(kube, ns)) and len(s[0].get("endpoints") or []) == 3, what="slice with 3 endpoints")
        assert holder(kube) == leader  # the standby waits

        first.kill()  # kill -9: no release of the lease
        first.wait()
        killed_at = time.monotonic()
        # Meanwhile the world changes: a new namespace and a fourth pod.
        ns2 = "fo-" + uuid.uuid4().hex[:6]
        own_cluster.kubectl("create", "namespace", ns2)
        kube.pod(ns, "web-3", labels={"app": "web"}, node="fo-node")
        kube.set_pod_status(ns, "web-3", ready=True, ip="10.42.3.4")

        new_leader = wait_for(lambda: (h := holder(kube)) != leader and h, timeout=LEASE_DURATION + 10, interval=0.05,
                              what="standby taking the lease")
        took = time.monotonic() - killed_at
        # The standby waits for the lease to expire (the last renewal was at most a retry period before the
        # kill), then takes it at its next attempt (retry period + jitter); a loaded machine adds a little.
        assert LEASE_DURATION - 1.5 <= took <= 2 * LEASE_DURATION + 3, f"takeover took {took:.1f}s"
        assert new_leader
        wait_for(lambda: kube.get("v1", "serviceaccounts", "default", ns2), what="default SA from the new leader")
        wait_for(lambda: (s := slices(kube, ns)) and sum(len(x.get("endpoints") or []) for x in s) == 4,
                 what="new leader adds the fourth endpoint")
        assert len(slices(kube, ns)) == 1  # the new leader reused the slice, it did not make another
        assert [sa["metadata"]["name"] for sa in kube.list("v1", "serviceaccounts", ns)] == ["default"]
        lease = kube.get("coordination.k8s.io/v1", "leases", "kube-controller-manager", "kube-system")
        assert lease["spec"]["leaseTransitions"] >= 1
        assert second.poll() is None
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()

