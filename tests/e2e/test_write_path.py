"""The create path's shortcuts, seen from a client: the reply made from the stored bytes, YAML replies
of objects whose parts repeat, and the admission facts remembered between creates (namespace state,
global default PriorityClass), which must follow changes at once."""

from __future__ import annotations

import json
import uuid
from typing import Any

import yaml

from tests.e2e.cluster import Cluster


def _pod(name: str, *, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    env = [{"name": "TZ", "value": "UTC"}, {"name": "MODE", "value": "prod"}]
    mount = {"name": "data", "mountPath": "/data"}
    containers = [{"name": n, "image": "busybox", "env": [dict(e) for e in env], "volumeMounts": [dict(mount)],
                   "ports": [{"containerPort": 8080}]} for n in ("a", "b")]
    spec: dict[str, Any] = {"containers": containers, "volumes": [{"name": "data", "emptyDir": {}}]}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, **(extra or {})}, "spec": spec}


def _create(cluster: Cluster, namespace: str, body: dict[str, Any], *, query: str = "",
            accept: str = "application/json") -> tuple[int, dict[str, str], bytes]:
    return cluster.request("POST", f"/api/v1/namespaces/{namespace}/pods{query}", json.dumps(body).encode(),
                           headers={"Accept": accept})


def test_create_reply_is_the_stored_object(cluster: Cluster, namespace: str) -> None:
    """The JSON reply to a create is the object a GET then returns, resourceVersion and managedFields included."""
    status, _, body = _create(cluster, namespace, _pod("stored"), query="?fieldManager=e2e")
    assert status == 201, body
    created = json.loads(body)
    status, _, got = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods/stored")
    assert status == 200
    assert json.loads(got) == created
    assert created["metadata"]["resourceVersion"] and created["metadata"]["uid"]
    assert [e["manager"] for e in created["metadata"]["managedFields"]] == ["e2e"]


def test_create_reply_keeps_warnings(cluster: Cluster, namespace: str) -> None:
    """Unknown fields with fieldValidation=Warn: 201, the field pruned, and a Warning header."""
    body = _pod("warned")
    body["spec"]["containers"][0]["bogus"] = 1
    status, headers, reply = _create(cluster, namespace, body, query="?fieldValidation=Warn")
    assert status == 201, reply
    assert 'unknown field \\"spec.containers[0].bogus\\"' in headers.get("Warning", "")
    assert "bogus" not in json.loads(reply)["spec"]["containers"][0]


def test_yaml_reply_has_no_aliases(cluster: Cluster, namespace: str) -> None:
    """A YAML reply writes repeated parts (equal containers' field sets) out in full, without anchors."""
    _create(cluster, namespace, _pod("warm-up"))
    status, _, reply = _create(cluster, namespace, _pod("as-yaml"), accept="application/yaml")
    assert status == 201, reply
    text = reply.decode()
    assert "&id" not in text and "*id" not in text
    status, _, got = cluster.request("GET", f"/api/v1/namespaces/{namespace}/pods/as-yaml")
    assert yaml.safe_load(text) == json.loads(got)


def test_equal_pods_get_equal_field_sets(cluster: Cluster, namespace: str) -> None:
    """Pods created alike by one manager record the same fieldsV1 (the second from remembered nodes)."""
    sets = []
    for name in ("same-1", "same-2"):
        status, _, reply = _create(cluster, namespace, _pod(name), query="?fieldManager=e2e")
        assert status == 201, reply
        sets.append(json.loads(reply)["metadata"]["managedFields"][0]["fieldsV1"])
    assert sets[0] == sets[1]
    containers = sets[0]["f:spec"]["f:containers"]
    assert 'k:{"name":"a"}' in containers and 'k:{"name":"b"}' in containers
    assert containers['k:{"name":"a"}']["f:env"] == containers['k:{"name":"b"}']["f:env"]


def test_creates_stop_once_the_namespace_terminates(cluster: Cluster) -> None:
    """After creates in a namespace succeeded, deleting it (it stays Terminating: no namespace controller
    here) makes the next create a 403 NamespaceTerminating."""
    ns = "t-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", ns)
    for i in range(2):
        status, _, reply = _create(cluster, ns, _pod(f"before-{i}"))
        assert status == 201, reply
    status, _, reply = cluster.request("DELETE", f"/api/v1/namespaces/{ns}")
    assert status in (200, 202), reply
    status, _, reply = _create(cluster, ns, _pod("after"))
    assert status == 403, reply
    assert json.loads(reply)["details"]["causes"][0]["reason"] == "NamespaceTerminating"


def test_a_new_global_default_priority_class_applies_to_the_next_pod(cluster: Cluster, namespace: str) -> None:
    """Pods created before a globalDefault PriorityClass exists get priority 0; the next one gets its value."""
    status, _, reply = _create(cluster, namespace, _pod("no-default"))
    assert status == 201, reply
    assert json.loads(reply)["spec"]["priority"] == 0
    name = "default-" + uuid.uuid4().hex[:6]
    pc = {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
          "value": 1234, "globalDefault": True}
    status, _, reply = cluster.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", json.dumps(pc).encode())
    assert status == 201, reply
    try:
        status, _, reply = _create(cluster, namespace, _pod("with-default"))
        assert status == 201, reply
        spec = json.loads(reply)["spec"]
        assert (spec["priority"], spec["priorityClassName"]) == (1234, name)
    finally:
        cluster.request("DELETE", f"/apis/scheduling.k8s.io/v1/priorityclasses/{name}")
    status, _, reply = _create(cluster, namespace, _pod("default-gone"))
    assert status == 201, reply
    assert json.loads(reply)["spec"]["priority"] == 0
