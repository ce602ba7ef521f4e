from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator

import pytest

from tests.e2e.cluster import Cluster, start_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = start_cluster()
    try:
        yield c
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture
def namespace(cluster: Cluster) -> Iterator[str]:
    """A fresh namespace per test (left behind: namespace deletion needs the controller-manager)."""
    name = "t-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", name)
    yield name


@pytest.fixture(scope="session")
def api(cluster: Cluster):
    """The official Python client, configured from the admin kubeconfig."""
    from kubernetes import client, config

    cfg = client.Configuration()
    config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    return client.ApiClient(cfg)
