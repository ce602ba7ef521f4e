"""`kijabi apiserver --datastore-endpoint etcd://...` on a real 3-member etcd cluster."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.e2e.cluster import start_cluster
from tests.storage.etcd_cluster import EtcdCluster
from tests.storage.storage_testlib import require_etcd


def test_apiserver_on_etcd_cluster_survives_leader_kill() -> None:
    require_etcd()
    etcd = EtcdCluster.start(3)
    c = None
    try:
        endpoint = "etcd://" + ",".join(etcd.endpoints)
        c = start_cluster(None, "--datastore-endpoint", endpoint)
        c.kubectl("create", "configmap", "before", "--from-literal=a=1", "-n", "default")
        # Keys are laid out like upstream, so etcd's own tooling sees them.
        member = etcd.endpoints[0]
        keys = subprocess.run(["etcdctl", f"--endpoints={member}", "get", "--prefix", "--keys-only", "/registry/configmaps/default/"],
                              capture_output=True, text=True, env={"ETCDCTL_API": "3"}).stdout.split()
        assert "/registry/configmaps/default/before" in keys
        etcd.kill(etcd.leader())
        for i in range(5):
            c.kubectl("create", "configmap", f"after{i}", "-n", "default")
        names = {i["metadata"]["name"] for i in json.loads(c.kubectl("get", "cm", "-n", "default", "-o", "json").stdout)["items"]}
        assert {"before", *(f"after{i}" for i in range(5))} <= names
    finally:
        if c is not None:
            c.stop()
            shutil.rmtree(c.data_dir, ignore_errors=True)
        etcd.stop()
