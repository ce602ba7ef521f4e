from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from kijabi.hollow.objects import NodeShape
from tests.e2e.cluster import Cluster, start_cluster
from tests.hollow.harness import Components

NODES = 50


@pytest.fixture(scope="package")
def cluster() -> Iterator[Cluster]:
    c = start_cluster()
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture(scope="package")
def components(cluster: Cluster) -> Iterator[Components]:
    """50 hollow nodes over 3 zones (leases renewed every second), the scheduler and the workload
    controllers, against one real API server."""
    c = Components(str(cluster.kubeconfig), NodeShape(count=NODES), ready_delay=0.2, lease_period=1.0).start()
    try:
        yield c
    finally:
        c.stop()
