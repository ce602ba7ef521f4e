"""Objects in the exact shape Go's JSON encoding gives them (zero values where Go writes them,
null for unset non-omitempty pointers and slices), so that decode(encode(obj)) == obj.
"""

from __future__ import annotations

from typing import Any

T0 = "2024-01-02T03:04:05Z"


def container(i: int) -> dict[str, Any]:
    return {
        "name": f"c{i}",
        "image": f"registry.example.com/team/app-{i}:v1.2.3",
        "command": ["/bin/app", "--serve"],
        "args": ["--port=8080", "--verbose"],
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "env": [{"name": f"ENV_{k}", "value": f"value-{k}"} for k in range(4)]
        + [{"name": "POD", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.name"}}}],
        "resources": {
            "limits": {"cpu": "500m", "memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "volumeMounts": [
            {"name": "data", "mountPath": "/data"},
            {
                "name": "kube-api-access-abcde",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            },
        ],
        "livenessProbe": {
            "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
            "initialDelaySeconds": 3,
            "timeoutSeconds": 1,
            "periodSeconds": 10,
            "successThreshold": 1,
            "failureThreshold": 3,
        },
        "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "imagePullPolicy": "IfNotPresent",
        "securityContext": {
            "runAsUser": 0,
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        },
    }


def pod() -> dict[str, Any]:
    """A running pod as the apiserver stores it (~5 KB of JSON)."""
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": "web-7d4b9c8f6d-x2x7q",
            "generateName": "web-7d4b9c8f6d-",
            "namespace": "default",
            "uid": "0f3c1f0e-8a4e-4b59-9a5e-3f2b8c1d2e4f",
            "resourceVersion": "123456",
            "creationTimestamp": T0,
            "labels": {"app": "web", "pod-template-hash": "7d4b9c8f6d", "tier": "frontend"},
            "annotations": {"kubernetes.io/psp": "restricted", "prometheus.io/scrape": "true"},
            "ownerReferences": [
                {
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "name": "web-7d4b9c8f6d",
                    "uid": "5b1a2c3d-4e5f-6a7b-8c9d-0e1f2a3b4c5d",
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
            "managedFields": [
                {
                    "manager": "kube-controller-manager",
                    "operation": "Update",
                    "apiVersion": "v1",
                    "time": T0,
                    "fieldsType": "FieldsV1",
                    "fieldsV1": {
                        "f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}}},
                        "f:spec": {
                            "f:containers": {'k:{"name":"c0"}': {".": {}, "f:image": {}, "f:name": {}}}
                        },
                    },
                }
            ],
        },
        "spec": {
            "volumes": [
                {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
                {
                    "name": "kube-api-access-abcde",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                            {
                                "configMap": {
                                    "name": "kube-root-ca.crt",
                                    "items": [{"key": "ca.crt", "path": "ca.crt"}],
                                }
                            },
                        ],
                        "defaultMode": 420,
                    },
                },
            ],
            "containers": [container(0), container(1)],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "serviceAccount": "default",
            "nodeName": "node-1",
            "securityContext": {"supplementalGroups": [1000, 2000], "fsGroup": 2000},
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                },
            ],
            "priority": 0,
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {
                    "type": t,
                    "status": "True",
                    "lastProbeTime": None,
                    "lastTransitionTime": "2024-01-02T03:04:07Z",
                }
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": "10.0.0.5",
            "podIP": "10.42.0.17",
            "podIPs": [{"ip": "10.42.0.17"}],
            "startTime": T0,
            "qosClass": "Burstable",
            "containerStatuses": [
                {
                    "name": f"c{i}",
                    "state": {"running": {"startedAt": "2024-01-02T03:04:06Z"}},
                    "lastState": {
                        "terminated": {"exitCode": -1, "reason": "Error", "startedAt": None, "finishedAt": T0}
                    },
                    "ready": True,
                    "restartCount": 1,
                    "image": f"registry.example.com/team/app-{i}:v1.2.3",
                    "imageID": "registry.example.com/team/app@sha256:" + "ab" * 32,
                    "containerID": "containerd://" + "cd" * 32,
                    "started": True,
                }
                for i in range(2)
            ],
        },
    }
