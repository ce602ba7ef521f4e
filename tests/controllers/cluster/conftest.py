"""Fixtures of the cluster controller tests: one real kijabi server per session (without its own
controller-manager), every cluster controller in-process with short periods, and a namespace per test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from kijabi.controllers.cluster import CONTROLLERS
from kijabi.controllers.context import Options
from tests.controllers.cluster.harness import ControllerThread, Kube
from tests.e2e.cluster import Cluster, start_cluster

# Periods short enough for tests; everything else keeps upstream's defaults.
TEST_OPTIONS = dict(
    node_monitor_grace_period=3.0,
    node_monitor_period=0.3,
    terminated_pod_gc_threshold=3,
)
TEST_EXTRA = dict(
    node_startup_grace_period=3.0,
    pod_gc_period=0.3,
    pod_gc_quarantine=1.0,
    gc_discovery_period=2.0,
    namespace_deletion_grace=0.2,
    namespace_finalizer_estimate=1,
    hpa_sync_period=0.5,
    resource_quota_sync_period=3.0,
    max_endpoints_per_slice=5,
)


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = start_cluster(None, "--disable-controller-manager", "--disable-scheduler")
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def controllers(cluster: Cluster) -> Iterator[ControllerThread]:
    """Every cluster controller, for the whole session (with the server's CA as the root CA)."""
    options = Options(root_ca_file=str(cluster.data_dir / "server" / "tls" / "server-ca.crt"), extra=dict(TEST_EXTRA),
                      **TEST_OPTIONS)  # type: ignore[arg-type]
    t = ControllerThread(str(cluster.kubeconfig), list(CONTROLLERS), options).start()
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
def kube(cluster: Cluster, controllers: ControllerThread) -> Kube:
    return Kube(cluster)


@pytest.fixture
def namespace(cluster: Cluster, controllers: ControllerThread) -> str:
    name = "c-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", name)
    return name
