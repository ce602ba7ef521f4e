"""Fixtures of the workload controller tests: one real kijabi server (no controller-manager, no
scheduler: the controllers under test run in-process) and a fresh namespace per test."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.controllers.workloads.harness import ControllerThread
from tests.e2e.cluster import Cluster, start_cluster

ALL = ["deployment", "replicaset", "replicationcontroller", "statefulset", "daemonset", "job", "cronjob"]


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
    """Every workload controller registered so far, plus the fake kubelet, for the whole session."""
    from kijabi.controllers.workloads import CONTROLLERS

    t = ControllerThread(str(cluster.kubeconfig), [n for n in ALL if n in CONTROLLERS]).start()
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
def namespace(cluster: Cluster) -> str:
    name = "w-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", name)
    return name
