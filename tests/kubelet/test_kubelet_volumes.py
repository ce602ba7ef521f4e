"""Pod volumes: emptyDir (disk and Memory), configMap with live updates, secret, downwardAPI, projected with a
service-account token, hostPath, and a PersistentVolumeClaim bound to a hostPath PersistentVolume."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kijabi.client.rest import CONFIGMAPS, PERSISTENTVOLUMECLAIMS, PERSISTENTVOLUMES, SECRETS, SERVICEACCOUNTS
from tests.kubelet.kubelet_harness import KubeletEnv, container, kubelet_env, pod, short_name, wait_for
from tests.kubelet.node import Node, requires_runtime

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node) as e:
        yield e


def mounted(name: str, path: str, **extra: object) -> dict:
    return {"name": name, "mountPath": path, **extra}


async def test_configmap_volume_updates_reach_the_running_container(env: KubeletEnv) -> None:
    """configMap keys become files (items rename and set modes); an update of the ConfigMap is visible in
    the running container through the ..data symlink swap, without a restart."""
    cm = short_name("cm")
    await env.client.create(CONFIGMAPS, {"metadata": {"name": cm, "namespace": env.namespace},
                                         "data": {"greeting": "hello", "other": "x"}})
    name = short_name("cmpod")
    c = container("main", ["sleep", "3600"], volumeMounts=[mounted("conf", "/etc/conf"), mounted("items", "/etc/items")])
    await env.create(pod(name, [c], node=env.node_name, volumes=[
        {"name": "conf", "configMap": {"name": cm}},
        {"name": "items", "configMap": {"name": cm, "items": [{"key": "greeting", "path": "sub/hi.txt", "mode": 0o600}]}},
    ]))
    await env.wait_running(name)
    assert await env.exec_in(name, "main", "cat", "/etc/conf/greeting") == (0, "hello")
    assert await env.exec_in(name, "main", "cat", "/etc/items/sub/hi.txt") == (0, "hello")
    code, out = await env.exec_in(name, "main", "stat", "-L", "-c", "%a", "/etc/items/sub/hi.txt")
    assert (code, out.strip()) == (0, "600")
    code, out = await env.exec_in(name, "main", "readlink", "/etc/conf/greeting")
    assert out.strip() == "..data/greeting"
    await env.client.patch(CONFIGMAPS, cm, {"data": {"greeting": "updated"}}, namespace=env.namespace)

    async def updated() -> bool:
        return await env.exec_in(name, "main", "cat", "/etc/conf/greeting") == (0, "updated")

    await wait_for(updated, timeout=15, what="the new ConfigMap value in the container")
    code, out = await env.exec_in(name, "main", "touch", "/etc/conf/new")
    assert code != 0, "configMap volumes are read-only"
    assert (await env.get(name))["status"]["containerStatuses"][0]["restartCount"] == 0


async def test_missing_configmap_keeps_the_pod_waiting_until_it_exists(env: KubeletEnv) -> None:
    """A pod whose ConfigMap does not exist stays ContainerCreating; creating the ConfigMap lets it run."""
    cm = short_name("late")
    name = short_name("waits")
    c = container("main", ["sleep", "3600"], volumeMounts=[mounted("conf", "/conf")])
    await env.create(pod(name, [c], node=env.node_name, volumes=[{"name": "conf", "configMap": {"name": cm}}]))
    p = await env.wait_pod(name, lambda p: p["status"].get("containerStatuses"), what="a status")
    assert p["status"]["phase"] == "Pending"
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
    await env.client.create(CONFIGMAPS, {"metadata": {"name": cm, "namespace": env.namespace}, "data": {"k": "v"}})
    await env.wait_running(name, timeout=20)
    assert await env.exec_in(name, "main", "cat", "/conf/k") == (0, "v")


async def test_secret_downward_api_and_projected_token(env: KubeletEnv) -> None:
    """Secret data is decoded on a tmpfs; downwardAPI writes labels and fields; a projected volume
    combines a ConfigMap key, pod metadata and a service-account token bound to the pod."""
    secret, cm, sa = short_name("sec"), short_name("pcm"), short_name("sa")
    await env.client.create(SECRETS, {"metadata": {"name": secret, "namespace": env.namespace},
                                      "data": {"password": base64.b64encode(b"s3cr3t").decode()}})
    await env.client.create(CONFIGMAPS, {"metadata": {"name": cm, "namespace": env.namespace}, "data": {"ca.crt": "CA"}})
    await env.client.create(SERVICEACCOUNTS, {"metadata": {"name": sa, "namespace": env.namespace}})
    name = short_name("mix")
    c = container("main", ["sleep", "3600"], volumeMounts=[
        mounted("secret", "/secret"), mounted("info", "/info"), mounted("proj", "/var/run/secrets/proj")])
    body = pod(name, [c], node=env.node_name, serviceAccountName=sa, volumes=[
        {"name": "secret", "secret": {"secretName": secret, "defaultMode": 0o400}},
        {"name": "info", "downwardAPI": {"items": [
            {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
            {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
            {"path": "mem", "resourceFieldRef": {"containerName": "main", "resource": "limits.memory",
                                                 "divisor": "1Mi"}}]}},
        {"name": "proj", "projected": {"sources": [
            {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "api"}},
            {"configMap": {"name": cm, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
            {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}}]}},
    ])
    body["metadata"]["labels"] = {"app": "mix", "tier": "db"}
    c["resources"] = {"limits": {"memory": "64Mi"}}
    created = await env.create(body)
    await env.wait_running(name)
    assert await env.exec_in(name, "main", "cat", "/secret/password") == (0, "s3cr3t")
    code, out = await env.exec_in(name, "main", "sh", "-c", "stat -L -c %a /secret/password; grep ' /secret ' /proc/mounts")
    assert out.split("\n")[0] == "400" and "tmpfs" in out
    assert await env.exec_in(name, "main", "cat", "/info/labels") == (0, 'app="mix"\ntier="db"')
    assert await env.exec_in(name, "main", "cat", "/info/name") == (0, name)
    assert await env.exec_in(name, "main", "cat", "/info/mem") == (0, "64")
    assert await env.exec_in(name, "main", "cat", "/var/run/secrets/proj/ca.crt") == (0, "CA")
    assert await env.exec_in(name, "main", "cat", "/var/run/secrets/proj/namespace") == (0, env.namespace)
    code, token = await env.exec_in(name, "main", "cat", "/var/run/secrets/proj/token")
    assert code == 0 and token.count(".") == 2
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert claims["sub"] == f"system:serviceaccount:{env.namespace}:{sa}"
    assert claims["aud"] in ("api", ["api"])
    assert claims["kubernetes.io"]["pod"]["uid"] == created["metadata"]["uid"]


async def test_empty_dir_memory_host_path_and_pvc(env: KubeletEnv, tmp_path: Path) -> None:
    """emptyDir with medium Memory is a tmpfs; hostPath DirectoryOrCreate creates the directory; a PVC
    bound to a hostPath PV mounts that path (read-only when the claim says so)."""
    host = env.config.data_dir / short_name("hostpath")
    pv_dir = env.config.data_dir / short_name("pv")
    pv_dir.mkdir()
    (pv_dir / "data").write_text("persisted")
    pv, pvc = short_name("pv"), short_name("pvc")
    await env.client.create(PERSISTENTVOLUMES, {"metadata": {"name": pv}, "spec": {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": str(pv_dir)},
        "persistentVolumeReclaimPolicy": "Retain"}})
    await env.client.create(PERSISTENTVOLUMECLAIMS, {"metadata": {"name": pvc, "namespace": env.namespace}, "spec": {
        "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}, "volumeName": pv}})
    await env.client.patch(PERSISTENTVOLUMECLAIMS, pvc, {"status": {"phase": "Bound"}}, namespace=env.namespace,
                           subresource="status")
    name = short_name("vols")
    c = container("main", ["sleep", "3600"], volumeMounts=[
        mounted("mem", "/mem"), mounted("host", "/host"), mounted("claim", "/claim")])
    await env.create(pod(name, [c], node=env.node_name, volumes=[
        {"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
        {"name": "host", "hostPath": {"path": str(host), "type": "DirectoryOrCreate"}},
        {"name": "claim", "persistentVolumeClaim": {"claimName": pvc, "readOnly": True}},
    ]))
    await env.wait_running(name)
    code, out = await env.exec_in(name, "main", "grep", " /mem ", "/proc/mounts")
    assert code == 0 and out.startswith("tmpfs") and "size=16384k" in out
    assert host.is_dir()
    assert await env.exec_in(name, "main", "sh", "-c", "echo from-pod > /host/f") == (0, "")
    assert (host / "f").read_text() == "from-pod\n"
    assert await env.exec_in(name, "main", "cat", "/claim/data") == (0, "persisted")
    assert (await env.exec_in(name, "main", "touch", "/claim/x"))[0] != 0
