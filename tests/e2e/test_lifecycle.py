"""The server as a process: restarts keep state, kill -9 loses no acknowledged write, real manifests apply."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import textwrap
from pathlib import Path

from tests.e2e.cluster import start_cluster

MANIFEST = textwrap.dedent("""
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: web-config}
    data: {greeting: hello}
    ---
    apiVersion: apps/v1
    kind: Deployment
    metadata: {name: web, labels: {app: web}}
    spec:
      replicas: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            ports: [{containerPort: 80, name: http}]
            envFrom: [{configMapRef: {name: web-config}}]
            resources: {requests: {cpu: 100m, memory: 64Mi}, limits: {memory: 128Mi}}
            readinessProbe: {httpGet: {path: /, port: http}}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec:
      selector: {app: web}
      ports: [{port: 80, targetPort: http, name: http}]
    ---
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: backups.ops.example.com}
    spec:
      group: ops.example.com
      scope: Namespaced
      names: {plural: backups, singular: backup, kind: Backup}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  schedule: {type: string}
""")

BACKUP = "apiVersion: ops.example.com/v1\nkind: Backup\nmetadata: {name: nightly}\nspec: {schedule: '0 3 * * *'}\n"


def test_real_world_manifest_and_restart() -> None:
    c = start_cluster()
    try:
        c.kubectl("apply", "-f", "-", input=MANIFEST)
        c.kubectl("wait", "--for=condition=Established", "crd/backups.ops.example.com", "--timeout=30s")
        c.kubectl("apply", "-f", "-", input=BACKUP)
        assert c.kubectl_json("get", "deploy", "web")["spec"]["replicas"] == 3
        assert c.kubectl_json("get", "svc", "web")["spec"]["clusterIP"].startswith("10.43.")
        rows = c.kubectl("get", "pods").stdout  # no scheduler or nodes yet: nothing runs
        assert "No resources" in rows or rows.strip() == "" or "Pending" in rows
        before = c.kubectl_json("get", "backup", "nightly")
        c.stop()
        c2 = start_cluster(c.data_dir)
        try:
            after = c2.kubectl_json("get", "backup", "nightly")
            assert after["metadata"]["uid"] == before["metadata"]["uid"]
            assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
            # the re-apply after restart is a no-op
            assert "unchanged" in c2.kubectl("apply", "-f", "-", input=MANIFEST).stdout
            # a new Service does not get the old Service's address
            c2.kubectl("create", "service", "clusterip", "other", "--tcp=81:81")
            ips = {c2.kubectl_json("get", "svc", n)["spec"]["clusterIP"] for n in ("web", "other", "kubernetes")}
            assert len(ips) == 3
        finally:
            c2.stop()
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


def test_kill_9_loses_no_acknowledged_write() -> None:
    c = start_cluster()
    try:
        acknowledged = []
        for i in range(40):
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": f"k{i}"}, "data": {"i": str(i)}}).encode()
            status, _, raw = c.request("POST", "/api/v1/namespaces/default/configmaps", body)
            assert status == 201
            acknowledged.append((f"k{i}", json.loads(raw)["metadata"]["resourceVersion"]))
        c.kill9()
        c2 = start_cluster(c.data_dir)
        try:
            for name, rv in acknowledged:
                got = c2.kubectl_json("get", "cm", name, "-n", "default")
                assert got["metadata"]["resourceVersion"] == rv
            # revisions keep growing after the crash
            status, _, raw = c2.request("POST", "/api/v1/namespaces/default/configmaps",
                                        json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "after"}}).encode())
            assert status == 201 and int(json.loads(raw)["metadata"]["resourceVersion"]) > int(acknowledged[-1][1])
        finally:
            c2.stop()
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)


def test_server_supervises_the_controller_manager() -> None:
    """`kijabi server` runs the controller-manager as a child that comes back when killed."""
    import subprocess
    import time

    c = start_cluster(None, "--disable-agent", command="server")
    try:
        def children() -> list[int]:
            out = subprocess.run(["pgrep", "-P", str(c.proc.pid), "-f", "controller-manager"], capture_output=True, text=True).stdout
            return [int(p) for p in out.split()]

        deadline = time.monotonic() + 20
        while not children() and time.monotonic() < deadline:
            time.sleep(0.2)
        first = children()
        assert len(first) == 1
        os.kill(first[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while (not children() or children() == first) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert children() and children() != first
    finally:
        c.stop()
        shutil.rmtree(c.data_dir, ignore_errors=True)
    assert not subprocess.run(["pgrep", "-f", f"kijabi.cli.main controller-manager --kubeconfig {c.data_dir}"], capture_output=True).stdout


def test_server_children_die_with_it() -> None:
    """kill -9 of `kijabi server` takes its supervised children along (PR_SET_PDEATHSIG via setpriv)."""
    import subprocess
    import time

    c = start_cluster(None, "--disable-agent", command="server")
    kids: list[int] = []
    try:
        def children() -> list[int]:
            out = subprocess.run(["pgrep", "-P", str(c.proc.pid)], capture_output=True, text=True).stdout
            return [int(p) for p in out.split()]

        deadline = time.monotonic() + 20
        while len(children()) < 2 and time.monotonic() < deadline:  # controller-manager and scheduler
            time.sleep(0.2)
        kids = children()
        assert len(kids) >= 2
        def alive(pid: int) -> bool:  # a zombie (not reaped yet) is dead
            try:
                return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
            except (FileNotFoundError, ProcessLookupError):
                return False

        c.kill9()
        deadline = time.monotonic() + 10
        while any(alive(pid) for pid in kids) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [pid for pid in kids if alive(pid)]
    finally:
        c.stop()
        for pid in kids:  # had they outlived the server
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        shutil.rmtree(c.data_dir, ignore_errors=True)
