"""The official Python client against the API: CRUD, conflicts, validation errors, watch, pagination."""

from __future__ import annotations

import threading

import pytest
from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def _cm(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)


def test_crud_and_optimistic_concurrency(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(api)
    created = core.create_namespaced_config_map(namespace, _cm("c1", a="1"))
    assert created.metadata.uid and created.metadata.creation_timestamp
    rv = created.metadata.resource_version
    created.data["a"] = "2"
    updated = core.replace_namespaced_config_map("c1", namespace, created)
    assert updated.data == {"a": "2"} and int(updated.metadata.resource_version) > int(rv)
    created.metadata.resource_version = rv  # stale
    with pytest.raises(ApiException) as exc:
        core.replace_namespaced_config_map("c1", namespace, created)
    assert exc.value.status == 409 and "the object has been modified" in exc.value.body
    with pytest.raises(ApiException) as exc:
        core.create_namespaced_config_map(namespace, _cm("c1"))
    assert exc.value.status == 409 and "AlreadyExists" in exc.value.body
    status = core.delete_namespaced_config_map("c1", namespace)
    assert status["status"] == "Success"
    with pytest.raises(ApiException) as exc:
        core.read_namespaced_config_map("c1", namespace)
    assert exc.value.status == 404


def test_generate_name(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(api)
    obj = core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-")))
    assert obj.metadata.name.startswith("gen-") and len(obj.metadata.name) == 9


def test_validation_error_is_422_with_causes(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    apps = client.AppsV1Api(api)
    dep = client.V1Deployment(
        metadata=client.V1ObjectMeta(name="bad"),
        spec=client.V1DeploymentSpec(
            replicas=-1, selector=client.V1LabelSelector(match_labels={"app": "x"}),
            template=client.V1PodTemplateSpec(metadata=client.V1ObjectMeta(labels={"app": "x"}),
                                              spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="i")]))))
    with pytest.raises(ApiException) as exc:
        apps.create_namespaced_deployment(namespace, dep)
    assert exc.value.status == 422
    import json

    body = json.loads(exc.value.body)
    assert body["reason"] == "Invalid"
    assert any(c["field"] == "spec.replicas" for c in body["details"]["causes"])


def test_list_pagination_is_consistent(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(api)
    for i in range(7):
        core.create_namespaced_config_map(namespace, _cm(f"p{i}"))
    first = core.list_namespaced_config_map(namespace, limit=3)
    assert len(first.items) == 3 and first.metadata._continue
    core.create_namespaced_config_map(namespace, _cm("p-late"))  # not part of the snapshot
    names = [c.metadata.name for c in first.items]
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        names += [c.metadata.name for c in page.items]
        token = page.metadata._continue
    assert names == [f"p{i}" for i in range(7)]


def test_label_and_field_selectors(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(api)
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels={"tier": tier})))
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace, label_selector="tier=web").items] == ["a", "c"]
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace, label_selector="tier in (db)").items] == ["b"]
    assert [c.metadata.name for c in core.list_namespaced_config_map(namespace, field_selector="metadata.name=b").items] == ["b"]
    with pytest.raises(ApiException) as exc:
        core.list_namespaced_config_map(namespace, field_selector="spec.nope=1")
    assert exc.value.status == 400


def test_watch_from_resource_version(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    core = client.CoreV1Api(api)
    listed = core.list_namespaced_config_map(namespace)
    events: list[tuple[str, str]] = []
    done = threading.Event()

    def follow() -> None:
        w = watch.Watch()
        for ev in w.stream(core.list_namespaced_config_map, namespace, resource_version=listed.metadata.resource_version, timeout_seconds=20):
            events.append((ev["type"], ev["object"].metadata.name))
            if len(events) == 3:
                w.stop()
        done.set()

    t = threading.Thread(target=follow)
    t.start()
    import time

    time.sleep(0.5)
    core.create_namespaced_config_map(namespace, _cm("w1"))
    core.patch_namespaced_config_map("w1", namespace, {"data": {"x": "y"}})
    core.delete_namespaced_config_map("w1", namespace)
    done.wait(20)
    t.join(5)
    assert events == [("ADDED", "w1"), ("MODIFIED", "w1"), ("DELETED", "w1")]


def test_service_cluster_ips_are_unique_under_concurrency(api, namespace: str) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    core = client.CoreV1Api(api)

    def make(i: int) -> str:
        svc = client.V1Service(metadata=client.V1ObjectMeta(name=f"s{i}"),
                               spec=client.V1ServiceSpec(type="NodePort", ports=[client.V1ServicePort(port=80)]))
        out = core.create_namespaced_service(namespace, svc)
        return f"{out.spec.cluster_ip}/{out.spec.ports[0].node_port}"

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(make, range(40)))
    ips = [r.split("/")[0] for r in results]
    ports = [r.split("/")[1] for r in results]
    assert len(set(ips)) == 40 and len(set(ports)) == 40
    assert all(30000 <= int(p) <= 32767 for p in ports)


def test_self_subject_review_names_the_admin(api) -> None:  # type: ignore[no-untyped-def]
    review = client.AuthenticationV1Api(api).create_self_subject_review(client.V1SelfSubjectReview())
    assert review.status.user_info.username == "system:admin"
    assert "system:masters" in review.status.user_info.groups
