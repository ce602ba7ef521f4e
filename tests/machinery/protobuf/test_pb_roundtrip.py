"""encode() then decode() gives the object back, for objects in the shape Go's JSON gives them."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery import protobuf
from tests.machinery.protobuf.pb_objects import T0, pod

META = {"name": "x", "namespace": "default", "creationTimestamp": None}
TEMPLATE = {
    "metadata": {"creationTimestamp": None, "labels": {"app": "x"}},
    "spec": {
        "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "1"], "resources": {}}],
        "restartPolicy": "Never",
    },
}

OBJECTS: list[tuple[str, dict[str, Any]]] = [
    ("pod", pod()),
    (
        "deployment",
        {
            "kind": "Deployment",
            "apiVersion": "apps/v1",
            "metadata": {**META, "labels": {"app": "x"}, "generation": 3},
            "spec": {
                "replicas": 0,
                "selector": {
                    "matchLabels": {"app": "x"},
                    "matchExpressions": [{"key": "tier", "operator": "In", "values": ["a", "b"]}],
                },
                "template": TEMPLATE,
                "strategy": {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": 1},
                },
                "revisionHistoryLimit": 10,
                "progressDeadlineSeconds": 600,
            },
            "status": {
                "observedGeneration": 3,
                "replicas": 1,
                "updatedReplicas": 1,
                "readyReplicas": 1,
                "availableReplicas": 1,
                "conditions": [
                    {
                        "type": "Available",
                        "status": "True",
                        "lastUpdateTime": T0,
                        "lastTransitionTime": T0,
                        "reason": "MinimumReplicasAvailable",
                        "message": "Deployment has minimum availability.",
                    }
                ],
            },
        },
    ),
    (
        "service",
        {
            "kind": "Service",
            "apiVersion": "v1",
            "metadata": META,
            "spec": {
                "ports": [
                    {"name": "http", "protocol": "TCP", "port": 80, "targetPort": "http", "nodePort": 30080},
                    {"name": "dns", "protocol": "UDP", "appProtocol": "dns", "port": 53, "targetPort": 5353},
                ],
                "selector": {"app": "x"},
                "clusterIP": "10.43.0.10",
                "clusterIPs": ["10.43.0.10"],
                "type": "NodePort",
                "sessionAffinity": "None",
                "externalTrafficPolicy": "Cluster",
                "ipFamilies": ["IPv4"],
                "ipFamilyPolicy": "SingleStack",
                "internalTrafficPolicy": "Cluster",
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.1", "ipMode": "VIP"}]}},
        },
    ),
    (
        "configmap",
        {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": META,
            "data": {"a": "b", "empty": "", "unicode": "\u00e9\u4e2d\U0001f600"},
            "binaryData": {"blob": "AAEC/w=="},
            "immutable": False,
        },
    ),
    (
        "secret",
        {
            "kind": "Secret",
            "apiVersion": "v1",
            "metadata": META,
            "data": {"password": "cEBzcw==", "empty": ""},
            "stringData": {"plain": "text"},
            "type": "Opaque",
        },
    ),
    (
        "job",
        {
            "kind": "Job",
            "apiVersion": "batch/v1",
            "metadata": META,
            "spec": {
                "parallelism": 1,
                "completions": 1,
                "backoffLimit": 6,
                "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                "manualSelector": False,
                "template": TEMPLATE,
                "completionMode": "NonIndexed",
                "suspend": False,
                "podFailurePolicy": {
                    "rules": [{"action": "FailJob", "onExitCodes": {"operator": "In", "values": [1, 42]}}]
                },
            },
            "status": {
                "startTime": T0,
                "active": 1,
                "uncountedTerminatedPods": {},
                "ready": 0,
                "terminating": 0,
            },
        },
    ),
    (
        "cronjob",
        {
            "kind": "CronJob",
            "apiVersion": "batch/v1",
            "metadata": META,
            "spec": {
                "schedule": "*/5 * * * *",
                "timeZone": "Etc/UTC",
                "concurrencyPolicy": "Forbid",
                "suspend": True,
                "jobTemplate": {"metadata": {"creationTimestamp": None}, "spec": {"template": TEMPLATE}},
                "successfulJobsHistoryLimit": 3,
                "failedJobsHistoryLimit": 1,
            },
            "status": {"lastScheduleTime": T0},
        },
    ),
    (
        "namespace",
        {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": "ns1", "creationTimestamp": None, "deletionTimestamp": T0},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating"},
        },
    ),
    (
        "selfsubjectaccessreview",
        {
            "kind": "SelfSubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {"resourceAttributes": {"namespace": "default", "verb": "create", "resource": "pods"}},
            "status": {"allowed": True, "reason": "RBAC: allowed"},
        },
    ),
    (
        "subjectaccessreview",
        {
            "kind": "SubjectAccessReview",
            "apiVersion": "authorization.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {
                "nonResourceAttributes": {"path": "/healthz", "verb": "get"},
                "user": "alice",
                "groups": ["dev", "system:authenticated"],
                "extra": {"scopes": ["a", "b"], "none": []},
                "uid": "42",
            },
            "status": {"allowed": False, "denied": True, "reason": "no"},
        },
    ),
    (
        "tokenreview",
        {
            "kind": "TokenReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": {"creationTimestamp": None},
            "spec": {"token": "abc.def.ghi", "audiences": ["https://kubernetes.default.svc"]},
            "status": {
                "authenticated": True,
                "user": {
                    "username": "system:serviceaccount:default:sa",
                    "uid": "u",
                    "groups": ["g"],
                    "extra": {"k": ["v"]},
                },
                "audiences": ["https://kubernetes.default.svc"],
            },
        },
    ),
    (
        "event-microtime",
        {
            "kind": "Event",
            "apiVersion": "events.k8s.io/v1",
            "metadata": META,
            "eventTime": "2024-01-02T03:04:05.123456Z",
            "series": {"count": 2, "lastObservedTime": "2024-01-02T03:04:06.000001Z"},
            "reportingController": "kijabi/scheduler",
            "reportingInstance": "node-1",
            "action": "Binding",
            "reason": "Scheduled",
            "regarding": {"kind": "Pod", "namespace": "default", "name": "p"},
            "note": "Successfully assigned",
            "type": "Normal",
            "deprecatedSource": {},
            "deprecatedFirstTimestamp": None,
            "deprecatedLastTimestamp": None,
        },
    ),
    (
        "lease",
        {
            "kind": "Lease",
            "apiVersion": "coordination.k8s.io/v1",
            "metadata": META,
            "spec": {
                "holderIdentity": "node-1",
                "leaseDurationSeconds": 40,
                "acquireTime": "2024-01-02T03:04:05.000000Z",
                "renewTime": "2024-01-02T03:04:45.500000Z",
                "leaseTransitions": 0,
            },
        },
    ),
    (
        "resourcequota",
        {
            "kind": "ResourceQuota",
            "apiVersion": "v1",
            "metadata": META,
            "spec": {"hard": {"cpu": "1", "memory": "1G", "pods": "2"}, "scopes": ["BestEffort"]},
            "status": {"hard": {"cpu": "1"}, "used": {"cpu": "0"}},
        },
    ),
    (
        "hpa-v2",
        {
            "kind": "HorizontalPodAutoscaler",
            "apiVersion": "autoscaling/v2",
            "metadata": META,
            "spec": {
                "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                "minReplicas": 1,
                "maxReplicas": 10,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {"type": "Utilization", "averageUtilization": 50},
                        },
                    },
                    {
                        "type": "Pods",
                        "pods": {
                            "metric": {"name": "qps"},
                            "target": {"type": "AverageValue", "averageValue": "1k"},
                        },
                    },
                ],
            },
            "status": {"desiredReplicas": 0, "currentMetrics": None},
        },
    ),
    (
        "clusterrole",
        {
            "kind": "ClusterRole",
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "metadata": {"name": "cr", "creationTimestamp": None},
            "rules": [
                {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]},
                {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            ],
            "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"agg": "true"}}]},
        },
    ),
    (
        "controllerrevision-rawextension",
        {
            "kind": "ControllerRevision",
            "apiVersion": "apps/v1",
            "metadata": META,
            "data": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}},
            "revision": 2,
        },
    ),
    (
        "crd",
        {
            "kind": "CustomResourceDefinition",
            "apiVersion": "apiextensions.k8s.io/v1",
            "metadata": {"name": "widgets.example.com", "creationTimestamp": None},
            "spec": {
                "group": "example.com",
                "names": {
                    "plural": "widgets",
                    "singular": "widget",
                    "kind": "Widget",
                    "listKind": "WidgetList",
                },
                "scope": "Namespaced",
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "required": ["spec"],
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {
                                            "size": {
                                                "type": "integer",
                                                "minimum": 0,
                                                "maximum": 10.5,
                                                "default": 1,
                                            },
                                            "mode": {
                                                "type": "string",
                                                "enum": ["a", "b"],
                                                "pattern": "^[ab]$",
                                            },
                                            "tags": {
                                                "type": "array",
                                                "items": {"type": "string"},
                                                "x-kubernetes-list-type": "set",
                                            },
                                            "extra": {
                                                "type": "object",
                                                "additionalProperties": {"type": "string"},
                                            },
                                            "free": {"x-kubernetes-preserve-unknown-fields": True},
                                            "port": {
                                                "x-kubernetes-int-or-string": True,
                                                "anyOf": [{"type": "integer"}, {"type": "string"}],
                                            },
                                        },
                                        "x-kubernetes-validations": [
                                            {"rule": "self.size >= 0", "message": "size"}
                                        ],
                                    },
                                    "closed": {"type": "object", "additionalProperties": False},
                                },
                            }
                        },
                        "subresources": {
                            "status": {},
                            "scale": {"specReplicasPath": ".spec.size", "statusReplicasPath": ".status.size"},
                        },
                        "additionalPrinterColumns": [
                            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"}
                        ],
                    }
                ],
                "conversion": {"strategy": "None"},
            },
            "status": {
                "conditions": None,
                "acceptedNames": {"plural": "", "kind": ""},
                "storedVersions": None,
            },
        },
    ),
    (
        "delete-options",
        {
            "kind": "DeleteOptions",
            "apiVersion": "v1",
            "gracePeriodSeconds": 0,
            "preconditions": {"uid": "u", "resourceVersion": "5"},
            "propagationPolicy": "Foreground",
            "dryRun": ["All"],
        },
    ),
    (
        "status",
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'pods "x" not found',
            "reason": "NotFound",
            "details": {
                "name": "x",
                "kind": "pods",
                "causes": [{"reason": "FieldValueRequired", "field": "spec"}],
            },
            "code": 404,
        },
    ),
]


@pytest.mark.parametrize("obj", [o for _, o in OBJECTS], ids=[name for name, _ in OBJECTS])
def test_round_trip(obj: dict[str, Any]) -> None:
    """decode(encode(obj)) == obj, and encoding is deterministic."""
    data = protobuf.encode(obj)
    assert data.startswith(protobuf.MAGIC)
    assert protobuf.decode(data) == obj
    assert protobuf.encode(protobuf.decode(data)) == data


@pytest.mark.parametrize("obj", [o for _, o in OBJECTS], ids=[name for name, _ in OBJECTS])
def test_encode_object_is_the_envelope_raw(obj: dict[str, Any]) -> None:
    """encode_object gives the bare message that decode_object reads back."""
    raw = protobuf.encode_object(obj)
    assert protobuf.decode_object(raw, obj["apiVersion"], obj["kind"]) == obj
    assert raw in protobuf.encode(obj)
