"""The registry: which kinds default, idempotence for every kind, lists, and robustness to bad input."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from kijabi.machinery import schema
from kijabi.machinery.defaults import default, defaulter, kinds
from kijabi.machinery.defaults.core import _VOLUME_SOURCES

from ._support import Row, container, defaulted, pod, template, workload

SHA = "sha256:" + "b" * 64
RICH_POD_SPEC: dict[str, Any] = {
    "containers": [
        container(
            image="nginx",
            ports=[{"containerPort": 80}],
            env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
            resources={"limits": {"cpu": "0.0001", "memory": "1.5Gi"}, "requests": {"cpu": "+1"}},
            livenessProbe={"httpGet": {"port": 80}},
            readinessProbe={"grpc": {"port": 9}},
            startupProbe={"exec": {"command": ["true"]}, "periodSeconds": 0},
            lifecycle={"postStart": {"httpGet": {"port": 1}}, "preStop": {"sleep": {"seconds": 1}}},
        )
    ],
    "initContainers": [container(name="init", image=f"busybox@{SHA}", resources={"limits": {"cpu": "1"}})],
    "ephemeralContainers": [container(name="dbg", image="busybox:latest")],
    "hostNetwork": True,
    "overhead": {"cpu": "0.5"},
    "volumes": [
        {"name": "a"},
        {"name": "b", "secret": {"secretName": "s"}},
        {
            "name": "c",
            "projected": {
                "sources": [
                    {"serviceAccountToken": {"path": "t"}},
                    {"downwardAPI": {"items": [{"path": "p", "fieldRef": {"fieldPath": "x"}}]}},
                ]
            },
        },
        {
            "name": "d",
            "ephemeral": {
                "volumeClaimTemplate": {"spec": {"resources": {"requests": {"storage": "1024Mi"}}}}
            },
        },
        {"name": "e", "azureDisk": {"diskName": "d", "diskURI": "u"}},
        {"name": "f", "rbd": {"monitors": ["m"], "image": "i"}},
        {"name": "g", "hostPath": {"path": "/"}},
    ],
}
HOOK = {
    "name": "h",
    "clientConfig": {"service": {"name": "s", "namespace": "n"}},
    "rules": [{"operations": ["*"]}],
}

SAMPLES: dict[tuple[str, str, str], dict[str, Any]] = {
    ("", "v1", "Pod"): {
        **pod(),
        "spec": copy.deepcopy(RICH_POD_SPEC),
        "status": {"containerStatuses": [{"name": "app", "allocatedResources": {"cpu": "0.5"}}]},
    },
    ("", "v1", "PodTemplate"): workload(
        ("", "v1", "PodTemplate"), {"metadata": {}, "spec": copy.deepcopy(RICH_POD_SPEC)}
    ),
    ("", "v1", "ReplicationController"): {
        "kind": "ReplicationController",
        "metadata": {"name": "r"},
        "spec": {"template": template()},
    },
    ("", "v1", "Service"): {
        "kind": "Service",
        "spec": {
            "type": "LoadBalancer",
            "sessionAffinity": "ClientIP",
            "ports": [{"port": 80}, {"port": 81, "targetPort": ""}],
        },
        "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1"}]}},
    },
    ("", "v1", "Endpoints"): {"kind": "Endpoints", "subsets": [{"ports": [{"port": 80}]}]},
    ("", "v1", "Namespace"): {"kind": "Namespace", "metadata": {"name": "n"}},
    ("", "v1", "Secret"): {"kind": "Secret"},
    ("", "v1", "PersistentVolume"): {
        "kind": "PersistentVolume",
        "spec": {"capacity": {"storage": "0.5Gi"}, "iscsi": {}, "scaleIO": {}, "hostPath": {}},
    },
    ("", "v1", "PersistentVolumeClaim"): {
        "kind": "PersistentVolumeClaim",
        "spec": {"resources": {"requests": {"storage": "1e3"}}},
    },
    ("", "v1", "Node"): {"kind": "Node", "status": {"capacity": {"cpu": "4", "memory": "4096Mi"}}},
    ("", "v1", "LimitRange"): {
        "kind": "LimitRange",
        "spec": {"limits": [{"type": "Container", "max": {"cpu": "2"}, "min": {"memory": "0.5Gi"}}]},
    },
    ("", "v1", "ResourceQuota"): {
        "kind": "ResourceQuota",
        "spec": {"hard": {"cpu": "1000m"}},
        "status": {"used": {"cpu": "0.1"}},
    },
    ("apps", "v1", "Deployment"): workload(("apps", "v1", "Deployment"), template()),
    ("apps", "v1", "ReplicaSet"): workload(("apps", "v1", "ReplicaSet"), template()),
    ("apps", "v1", "DaemonSet"): workload(("apps", "v1", "DaemonSet"), template()),
    ("apps", "v1", "StatefulSet"): workload(
        ("apps", "v1", "StatefulSet"),
        template(),
        volumeClaimTemplates=[{"spec": {"resources": {"requests": {"storage": "1"}}}}],
    ),
    ("batch", "v1", "Job"): {
        **workload(("batch", "v1", "Job"), template(restartPolicy="Never")),
        "metadata": {"name": "j"},
    },
    ("batch", "v1", "CronJob"): workload(("batch", "v1", "CronJob"), template(restartPolicy="OnFailure")),
    ("autoscaling", "v1", "HorizontalPodAutoscaler"): {
        "kind": "HorizontalPodAutoscaler",
        "spec": {"maxReplicas": 2},
    },
    ("autoscaling", "v2", "HorizontalPodAutoscaler"): {
        "kind": "HorizontalPodAutoscaler",
        "spec": {"maxReplicas": 2, "behavior": {"scaleUp": {"policies": []}}},
    },
    ("networking.k8s.io", "v1", "NetworkPolicy"): {
        "kind": "NetworkPolicy",
        "spec": {"egress": [{"ports": [{}]}], "ingress": [{"ports": [{}]}]},
    },
    ("networking.k8s.io", "v1", "IngressClass"): {
        "kind": "IngressClass",
        "spec": {"parameters": {"kind": "k", "name": "n"}},
    },
    ("rbac.authorization.k8s.io", "v1", "RoleBinding"): {
        "kind": "RoleBinding",
        "roleRef": {},
        "subjects": [{"kind": "User"}, {"kind": "ServiceAccount"}],
    },
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"): {
        "kind": "ClusterRoleBinding",
        "subjects": [{"kind": "Group"}],
    },
    ("storage.k8s.io", "v1", "StorageClass"): {"kind": "StorageClass", "provisioner": "p"},
    ("storage.k8s.io", "v1", "CSIDriver"): {"kind": "CSIDriver"},
    ("storage.k8s.io", "v1", "VolumeAttachment"): {
        "kind": "VolumeAttachment",
        "spec": {"source": {"inlineVolumeSpec": {"rbd": {}, "capacity": {"storage": "2Gi"}}}},
    },
    ("scheduling.k8s.io", "v1", "PriorityClass"): {"kind": "PriorityClass", "value": 1},
    ("discovery.k8s.io", "v1", "EndpointSlice"): {"kind": "EndpointSlice", "ports": [{}]},
    ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration"): {
        "webhooks": [copy.deepcopy(HOOK)]
    },
    ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration"): {
        "webhooks": [copy.deepcopy(HOOK)]
    },
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy"): {
        "spec": {"matchConstraints": {"resourceRules": [{}]}}
    },
    ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding"): {
        "spec": {"matchResources": {}}
    },
    ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema"): {"spec": {}},
    ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration"): {
        "spec": {"limited": {"limitResponse": {"queuing": {}}}, "exempt": {}}
    },
    ("apiextensions.k8s.io", "v1", "CustomResourceDefinition"): {
        "spec": {
            "names": {"kind": "Foo"},
            "versions": [{"name": "v1", "storage": True}],
            "conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {}}}},
        }
    },
    ("apiregistration.k8s.io", "v1", "APIService"): {"spec": {"service": {"name": "s"}}},
}

ALL = sorted(SAMPLES)


def test_every_kind_with_defaults_has_a_sample() -> None:
    """The idempotence table covers exactly the registered kinds."""
    assert set(SAMPLES) == kinds()


@pytest.mark.parametrize("gvk", ALL, ids=["/".join(filter(None, g)) for g in ALL])
def test_every_registered_kind_exists_in_v1_32(gvk: tuple[str, str, str]) -> None:
    """Registered kinds are real v1.32 types."""
    assert schema.builtin().for_kind(*gvk) is not None


@pytest.mark.parametrize("gvk", ALL, ids=["/".join(filter(None, g)) for g in ALL])
def test_defaulting_is_idempotent(gvk: tuple[str, str, str]) -> None:
    """Defaulting twice gives the same object as defaulting once (objects read back are re-defaulted)."""
    once = copy.deepcopy(SAMPLES[gvk])
    default(*gvk, once)
    assert once != SAMPLES[gvk]
    twice = copy.deepcopy(once)
    default(*gvk, twice)
    assert twice == once


@pytest.mark.parametrize("gvk", ALL, ids=["/".join(filter(None, g)) for g in ALL])
def test_lists_default_each_item(gvk: tuple[str, str, str]) -> None:
    """`<Kind>List` bodies have every item defaulted, like upstream's generated list defaulters."""
    group, version, kind = gvk
    item = copy.deepcopy(SAMPLES[gvk])
    expected = copy.deepcopy(item)
    default(*gvk, expected)
    body = {"kind": kind + "List", "items": [copy.deepcopy(item), copy.deepcopy(item)]}
    default(group, version, kind + "List", body)
    assert body["items"] == [expected, expected]
    looked_up = defaulter(group, version, kind + "List")
    assert looked_up is not None
    body = {"items": [copy.deepcopy(item)]}
    looked_up(body)
    assert body["items"] == [expected]


@pytest.mark.parametrize(
    "gvk",
    [
        ("", "v1", "ConfigMap"),
        ("", "v1", "ServiceAccount"),
        ("", "v1", "Event"),
        ("policy", "v1", "PodDisruptionBudget"),
        ("coordination.k8s.io", "v1", "Lease"),
        ("rbac.authorization.k8s.io", "v1", "Role"),
        ("example.com", "v1", "Widget"),
        ("", "v1", "WidgetList"),
        ("apps", "v1beta1", "Deployment"),
    ],
    ids=lambda g: "/".join(filter(None, g)),
)
def test_kinds_without_defaults_are_untouched(gvk: tuple[str, str, str]) -> None:
    """Kinds without upstream defaults (and unknown kinds) are a no-op."""
    body = {"kind": gvk[2], "metadata": {"name": "x"}, "spec": {"replicas": None}, "items": [{"spec": {}}]}
    before = copy.deepcopy(body)
    default(*gvk, body)
    assert body == before
    assert defaulter(*gvk) is None


def test_volume_sources_match_the_v1_32_schema() -> None:
    """The emptyDir rule knows every VolumeSource field of v1.32."""
    props = schema.builtin().get("io.k8s.api.core.v1.Volume").properties
    assert _VOLUME_SOURCES == set(props) - {"name"}


_JUNK = ["x", 7, None, [], {}, True, [1, "a"], {"a": 1}]


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield (*path, key)
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield (*path, index)
            yield from _paths(child, (*path, index))


def _replace(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    out = copy.deepcopy(obj)
    cur = out
    for step in path[:-1]:
        cur = cur[step]
    cur[path[-1]] = value
    return out


@pytest.mark.parametrize("gvk", ALL, ids=["/".join(filter(None, g)) for g in ALL])
def test_wrong_types_never_raise(gvk: tuple[str, str, str]) -> None:
    """Any field holding a value of the wrong JSON type is tolerated (the decoder reports it)."""
    sample = SAMPLES[gvk]
    for path in _paths(sample):
        for junk in _JUNK:
            body = _replace(sample, path, junk)
            default(*gvk, body)
    for junk in _JUNK:
        for key in ("spec", "metadata", "status", "template"):
            default(*gvk, {key: junk})


def _all_rows() -> list[Row]:
    from . import test_other_kinds, test_pod, test_service, test_workloads

    return [*test_pod.POD_ROWS, *test_workloads.ROWS, *test_service.ROWS, *test_other_kinds.ROWS]


@pytest.mark.parametrize("row", _all_rows(), ids=lambda r: r.id)
def test_every_table_row_is_idempotent(row: Row) -> None:
    """Every object of the defaulting tables is a fixed point once defaulted."""
    once = defaulted(row.gvk, row.obj)
    assert defaulted(row.gvk, once) == once
