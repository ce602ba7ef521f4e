"""kubectl changing the cluster: create, label, annotate, scale, patch, edit, delete, wait, watch."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import tempfile
import time

import pytest

from tests.e2e.cluster import Cluster


def test_create_each_kind(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "-n", namespace)
    cluster.kubectl("create", "secret", "generic", "s1", "--from-literal=password=hunter2", "-n", namespace)
    cluster.kubectl("create", "service", "clusterip", "svc1", "--tcp=80:8080", "-n", namespace)
    dep = cluster.kubectl_json("get", "deployment", "web", "-n", namespace)
    assert dep["spec"]["replicas"] == 2
    assert dep["metadata"]["generation"] == 1
    # upstream defaults were applied
    assert dep["spec"]["strategy"]["type"] == "RollingUpdate"
    assert dep["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    secret = cluster.kubectl_json("get", "secret", "s1", "-n", namespace)
    assert secret["type"] == "Opaque"
    svc = cluster.kubectl_json("get", "service", "svc1", "-n", namespace)
    assert svc["spec"]["clusterIP"].startswith("10.43.")
    assert svc["spec"]["ports"][0]["targetPort"] == 8080


def test_label_and_annotate(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "cm", "-n", namespace)
    cluster.kubectl("label", "configmap", "cm", "tier=backend", "-n", namespace)
    cluster.kubectl("annotate", "configmap", "cm", "note=hello", "-n", namespace)
    cm = cluster.kubectl_json("get", "configmap", "cm", "-n", namespace)
    assert cm["metadata"]["labels"] == {"tier": "backend"}
    assert cm["metadata"]["annotations"] == {"note": "hello"}
    assert cluster.kubectl("get", "cm", "-l", "tier=backend", "-n", namespace, "-o", "name").stdout.strip() == "configmap/cm"
    assert cluster.kubectl("get", "cm", "-l", "tier!=backend", "-n", namespace, "-o", "name").stdout.strip() == ""
    cluster.kubectl("label", "configmap", "cm", "tier-", "-n", namespace)
    assert "labels" not in cluster.kubectl_json("get", "configmap", "cm", "-n", namespace)["metadata"]


def test_scale_deployment_updates_spec_not_generation_of_status(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "deployment", "web", "--image=nginx", "-n", namespace)
    cluster.kubectl("scale", "deployment", "web", "--replicas=5", "-n", namespace)
    dep = cluster.kubectl_json("get", "deployment", "web", "-n", namespace)
    assert dep["spec"]["replicas"] == 5
    assert dep["metadata"]["generation"] == 2


@pytest.mark.parametrize("ptype,patch", [
    ("strategic", '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}'),
    ("merge", '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:2"}]}}}}'),
    ("json", '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:2"}]'),
], ids=["strategic", "merge", "json"])
def test_patch_types(cluster: Cluster, namespace: str, ptype: str, patch: str) -> None:
    cluster.kubectl("create", "deployment", "web", "--image=nginx:1", "-n", namespace)
    cluster.kubectl("patch", "deployment", "web", "--type", ptype, "-p", patch, "-n", namespace)
    dep = cluster.kubectl_json("get", "deployment", "web", "-n", namespace)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:2"
    assert dep["metadata"]["generation"] == 2


def test_edit_with_editor_script(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "edited", "--from-literal=k=old", "-n", namespace)
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write("#!/bin/sh\nsed -i 's/k: old/k: new/' \"$1\"\n")
    os.chmod(f.name, stat.S_IRWXU)
    try:
        cluster.kubectl("edit", "configmap", "edited", "-n", namespace, env={"KUBE_EDITOR": f.name, "EDITOR": f.name})
    finally:
        os.unlink(f.name)
    assert cluster.kubectl_json("get", "configmap", "edited", "-n", namespace)["data"]["k"] == "new"


def test_wait_for_condition_set_through_status(cluster: Cluster, namespace: str, api) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client

    cluster.kubectl("run", "waiter", "--image=busybox", "--restart=Never", "-n", namespace)
    wait = subprocess.Popen(["kubectl", "wait", "--for=condition=Ready", "pod/waiter", "-n", namespace, "--timeout=30s"],
                            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, stdout=subprocess.PIPE, text=True)
    time.sleep(0.5)
    core = client.CoreV1Api(api)
    core.patch_namespaced_pod_status("waiter", namespace, {"status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    out, _ = wait.communicate(timeout=30)
    assert wait.returncode == 0
    assert "condition met" in out


def test_get_watch_sees_changes(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "watched", "-n", namespace)
    proc = subprocess.Popen(["kubectl", "get", "configmap", "-w", "-n", namespace, "--output-watch-events"],
                            env={**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split()[:2] == ["EVENT", "NAME"]
        assert "watched" in proc.stdout.readline()
        cluster.kubectl("label", "configmap", "watched", "x=y", "-n", namespace)
        assert "MODIFIED" in proc.stdout.readline()
        cluster.kubectl("delete", "configmap", "watched", "-n", namespace)
        assert "DELETED" in proc.stdout.readline()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("cascade,finalizer", [
    ("orphan", "orphan"),
    ("foreground", "foregroundDeletion"),
], ids=["orphan", "foreground"])
def test_delete_cascade_records_finalizer(cluster: Cluster, namespace: str, cascade: str, finalizer: str) -> None:
    """Without the garbage collector the object stays, carrying upstream's finalizer."""
    cluster.kubectl("create", "deployment", "gone", "--image=nginx", "-n", namespace)
    cluster.kubectl("delete", "deployment", "gone", f"--cascade={cascade}", "--wait=false", "-n", namespace)
    dep = cluster.kubectl_json("get", "deployment", "gone", "-n", namespace)
    assert finalizer in dep["metadata"]["finalizers"]
    assert dep["metadata"]["deletionTimestamp"]
    cluster.kubectl("patch", "deployment", "gone", "--type=merge", "-p", '{"metadata":{"finalizers":null}}', "-n", namespace)
    assert cluster.kubectl("get", "deployment", "gone", "-n", namespace, check=False).returncode != 0


def test_delete_background_removes_at_once(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "deployment", "bg", "--image=nginx", "-n", namespace)
    cluster.kubectl("delete", "deployment", "bg", "--cascade=background", "-n", namespace)
    assert "NotFound" in cluster.kubectl("get", "deployment", "bg", "-n", namespace, check=False).stderr


def test_unbound_pod_deletes_at_once_bound_pod_waits(cluster: Cluster, namespace: str, api) -> None:  # type: ignore[no-untyped-def]
    from kubernetes import client

    core = client.CoreV1Api(api)
    cluster.kubectl("run", "free", "--image=busybox", "--restart=Never", "-n", namespace)
    cluster.kubectl("delete", "pod", "free", "-n", namespace, "--wait=false")
    assert cluster.kubectl("get", "pod", "free", "-n", namespace, check=False).returncode != 0
    cluster.kubectl("run", "bound", "--image=busybox", "--restart=Never", "-n", namespace)
    core.create_namespaced_binding(namespace, client.V1Binding(metadata=client.V1ObjectMeta(name="bound"),
                                                                target=client.V1ObjectReference(kind="Node", name="node-a")),
                                   _preload_content=False)
    cluster.kubectl("delete", "pod", "bound", "-n", namespace, "--wait=false")
    pod = cluster.kubectl_json("get", "pod", "bound", "-n", namespace)
    assert pod["metadata"]["deletionTimestamp"]
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    # the kubelet confirms with a zero grace period
    core.delete_namespaced_pod("bound", namespace, grace_period_seconds=0)
    assert cluster.kubectl("get", "pod", "bound", "-n", namespace, check=False).returncode != 0


def test_namespace_lifecycle_blocks_creates(cluster: Cluster) -> None:
    r = cluster.kubectl("create", "configmap", "x", "-n", "does-not-exist", check=False)
    assert r.returncode != 0 and "not found" in r.stderr
    cluster.kubectl("create", "ns", "doomed")
    cluster.kubectl("delete", "ns", "doomed", "--wait=false")
    ns = cluster.kubectl_json("get", "ns", "doomed")
    assert ns["status"]["phase"] == "Terminating"
    r = cluster.kubectl("create", "configmap", "x", "-n", "doomed", check=False)
    assert r.returncode != 0 and "being terminated" in r.stderr


def test_dry_run_stores_nothing(cluster: Cluster, namespace: str) -> None:
    out = cluster.kubectl("create", "configmap", "dry", "--from-literal=a=b", "--dry-run=server", "-o", "json", "-n", namespace).stdout
    assert json.loads(out)["data"] == {"a": "b"}
    assert cluster.kubectl("get", "configmap", "dry", "-n", namespace, check=False).returncode != 0
