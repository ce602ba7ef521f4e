"""Valid, already-defaulted objects of every validated kind, and helpers to derive broken ones.

Every builder returns a fresh dict, so a test may mutate it freely. `edit(obj, path, value)`
sets a field by a field path as errors print them (`spec.containers[0].image`, `data[key]`);
`DELETE` as the value removes the field.
"""

from __future__ import annotations

import copy
import itertools
import re
from collections.abc import Callable
from typing import Any

from kijabi.machinery.errors import FieldError
from kijabi.machinery.validation import validate

DELETE = object()
_TOKEN = re.compile(r"([^.\[\]]+)|\[([^\]]*)\]")

# (group, version, kind, namespaced) of each builder's object
KINDS: dict[str, tuple[str, str, str, bool]] = {}


def edit(obj: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """Set (or with DELETE, remove) the field at `path`, creating objects on the way."""
    keys: list[str | int] = []
    for name, index in _TOKEN.findall(path):
        keys.append(name if name else (int(index) if index.isdigit() else index))
    target: Any = obj
    for key, nxt in itertools.pairwise(keys):
        if isinstance(key, int):
            target = target[key]
        else:
            target = target.setdefault(key, [] if isinstance(nxt, int) else {})
    last = keys[-1]
    if value is DELETE:
        del target[last]
    elif isinstance(last, int) and last == len(target):
        target.append(value)
    else:
        target[last] = value
    return obj


def errors_of(
    kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None
) -> list[tuple[str, str, str]]:
    group, version, k, namespaced = KINDS[kind]
    return [(e.type, e.field, e.detail) for e in validate(group, version, k, obj, old, namespaced=namespaced)]


def run(kind: str, mutate: Callable[[dict[str, Any]], Any]) -> list[tuple[str, str, str]]:
    obj = BUILDERS[kind]()
    mutate(obj)
    return errors_of(kind, obj)


def field_errors(kind: str, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[FieldError]:
    group, version, k, namespaced = KINDS[kind]
    return validate(group, version, k, obj, old, namespaced=namespaced)


def stored(obj: dict[str, Any], rv: str = "100") -> dict[str, Any]:
    """The object as read back from storage: uid, creationTimestamp and resourceVersion set."""
    out = copy.deepcopy(obj)
    md = out.setdefault("metadata", {})
    md.setdefault("uid", "6f1c1b2e-0000-4000-8000-000000000001")
    md.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
    md["resourceVersion"] = rv
    return out


# --- builders --------------------------------------------------------------------------------------


def container(name: str = "app", image: str = "nginx:1.27") -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "resources": {},
    }


def pod_spec() -> dict[str, Any]:
    return {
        "containers": [container()],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "securityContext": {},
        "schedulerName": "default-scheduler",
    }


def pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {**pod_spec(), "enableServiceLinks": True},
    }


def template(labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"metadata": {"labels": dict(labels or {"app": "web"})}, "spec": pod_spec()}


def pod_template() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PodTemplate",
        "metadata": {"name": "tpl", "namespace": "default"},
        "template": template(),
    }


def replication_controller() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": "rc", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"app": "web"}, "template": template()},
    }


def service() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}],
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
            "clusterIP": "10.43.0.20",
            "clusterIPs": ["10.43.0.20"],
            "ipFamilies": ["IPv4"],
            "ipFamilyPolicy": "SingleStack",
        },
    }


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cfg", "namespace": "default"},
        "data": {"app.properties": "a=b", "KEY_1": "x"},
        "binaryData": {"blob.bin": "AAEC"},
    }


def secret() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "creds", "namespace": "default"},
        "type": "Opaque",
        "data": {"password": "c2VjcmV0"},
    }


def namespace() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def node() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "node-1"},
        "spec": {
            "podCIDR": "10.42.0.0/24",
            "podCIDRs": ["10.42.0.0/24"],
            "taints": [{"key": "dedicated", "value": "db", "effect": "NoSchedule"}],
        },
        "status": {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
        },
    }


def service_account() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": "builder", "namespace": "default"},
    }


def endpoints() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": {"name": "web", "namespace": "default"},
        "subsets": [
            {
                "addresses": [{"ip": "10.42.0.5", "nodeName": "node-1"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }
        ],
    }


def core_event() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web.17a2b", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web"},
        "reason": "Started",
        "message": "Started container app",
        "source": {"component": "kubelet"},
        "type": "Normal",
        "count": 1,
    }


def events_event() -> dict[str, Any]:
    return {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "web.17a2b", "namespace": "default"},
        "eventTime": "2025-01-01T00:00:00.000000Z",
        "regarding": {"kind": "Pod", "namespace": "default", "name": "web"},
        "reason": "Started",
        "note": "Started container app",
        "action": "Start",
        "reportingController": "kijabi.io/kubelet",
        "reportingInstance": "kubelet-node-1",
        "type": "Normal",
    }


def persistent_volume() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": "pv-1"},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "volumeMode": "Filesystem",
            "hostPath": {"path": "/srv/data", "type": ""},
            "storageClassName": "local",
        },
        "status": {"phase": "Pending"},
    }


def persistent_volume_claim() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default"},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeMode": "Filesystem",
            "storageClassName": "local",
        },
        "status": {"phase": "Pending"},
    }


def limit_range() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": {"name": "limits", "namespace": "default"},
        "spec": {"limits": []},
    }


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": template(),
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
    }


def replica_set() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web-5d4f", "namespace": "default"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": template()},
    }


def stateful_set() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "db", "namespace": "default"},
        "spec": {
            "replicas": 3,
            "serviceName": "db",
            "selector": {"matchLabels": {"app": "db"}},
            "template": template({"app": "db"}),
            "podManagementPolicy": "OrderedReady",
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
            "revisionHistoryLimit": 10,
            "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
        },
    }


def daemon_set() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "namespace": "kube-system"},
        "spec": {
            "selector": {"matchLabels": {"app": "agent"}},
            "template": template({"app": "agent"}),
            "updateStrategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0},
            },
            "revisionHistoryLimit": 10,
        },
    }


def controller_revision() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ControllerRevision",
        "metadata": {"name": "web-1", "namespace": "default"},
        "data": {},
        "revision": 1,
    }


JOB_UID = "0a1b2c3d-0000-4000-8000-00000000cafe"


def job() -> dict[str, Any]:
    labels = {
        "controller-uid": JOB_UID,
        "batch.kubernetes.io/controller-uid": JOB_UID,
        "job-name": "pi",
        "batch.kubernetes.io/job-name": "pi",
    }
    tpl = template(labels)
    tpl["spec"]["restartPolicy"] = "Never"
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "pi", "namespace": "default", "uid": JOB_UID, "labels": dict(labels)},
        "spec": {
            "parallelism": 1,
            "completions": 1,
            "backoffLimit": 6,
            "completionMode": "NonIndexed",
            "suspend": False,
            "manualSelector": False,
            "podReplacementPolicy": "TerminatingOrFailed",
            "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": JOB_UID}},
            "template": tpl,
        },
    }


def cron_job() -> dict[str, Any]:
    tpl = template({})
    tpl["spec"]["restartPolicy"] = "OnFailure"
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "nightly", "namespace": "default"},
        "spec": {
            "schedule": "*/5 * * * *",
            "concurrencyPolicy": "Allow",
            "suspend": False,
            "successfulJobsHistoryLimit": 3,
            "failedJobsHistoryLimit": 1,
            "jobTemplate": {"spec": {"template": tpl}},
        },
    }


def ingress() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "ingressClassName": "traefik",
            "rules": [
                {
                    "host": "web.example.com",
                    "http": {
                        "paths": [
                            {
                                "path": "/",
                                "pathType": "Prefix",
                                "backend": {"service": {"name": "web", "port": {"number": 80}}},
                            }
                        ]
                    },
                }
            ],
            "tls": [{"hosts": ["web.example.com"], "secretName": "web-tls"}],
        },
    }


def ingress_class() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": "traefik"},
        "spec": {"controller": "traefik.io/ingress-controller"},
    }


def network_policy() -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "db-access", "namespace": "default"},
        "spec": {
            "podSelector": {"matchLabels": {"app": "db"}},
            "ingress": [
                {
                    "from": [
                        {"podSelector": {"matchLabels": {"app": "web"}}},
                        {"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}},
                    ],
                    "ports": [{"protocol": "TCP", "port": 5432}],
                }
            ],
            "policyTypes": ["Ingress"],
        },
    }


def role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "pod-reader", "namespace": "default"},
        "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
    }


def cluster_role() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "system:node-reader"},
        "rules": [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
            {"nonResourceURLs": ["/healthz"], "verbs": ["get"]},
        ],
    }


def role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "read-pods", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [
            {"kind": "User", "apiGroup": "rbac.authorization.k8s.io", "name": "jane"},
            {"kind": "ServiceAccount", "name": "builder", "namespace": "default"},
        ],
    }


def cluster_role_binding() -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "admins"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "system:masters"}],
    }


def pdb() -> dict[str, Any]:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
    }


def priority_class() -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": "high"},
        "value": 1000,
        "preemptionPolicy": "PreemptLowerPriority",
    }


def storage_class() -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": "local-path"},
        "provisioner": "rancher.io/local-path",
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "parameters": {"nodePath": "/var/lib/kijabi/storage"},
    }


def runtime_class() -> dict[str, Any]:
    return {
        "apiVersion": "node.k8s.io/v1",
        "kind": "RuntimeClass",
        "metadata": {"name": "runc"},
        "handler": "runc",
        "overhead": {"podFixed": {"cpu": "10m", "memory": "16Mi"}},
        "scheduling": {
            "nodeSelector": {"runtime": "runc"},
            "tolerations": [{"key": "runtime", "operator": "Exists", "effect": "NoSchedule"}],
        },
    }


def lease() -> dict[str, Any]:
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {"name": "kube-scheduler", "namespace": "kube-system"},
        "spec": {"holderIdentity": "node-1_abc", "leaseDurationSeconds": 15, "leaseTransitions": 0},
    }


def endpoint_slice() -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "web-abcde",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "web"},
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.42.0.5"], "conditions": {"ready": True}, "hostname": "web-0"}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def hpa() -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
                }
            ],
            "behavior": {
                "scaleUp": {
                    "stabilizationWindowSeconds": 0,
                    "selectPolicy": "Max",
                    "policies": [{"type": "Pods", "value": 4, "periodSeconds": 15}],
                }
            },
        },
    }


def webhook_configuration() -> dict[str, Any]:
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": "policy"},
        "webhooks": [
            {
                "name": "pods.policy.example.com",
                "clientConfig": {
                    "service": {"name": "policy", "namespace": "system", "port": 443, "path": "/validate"}
                },
                "rules": [
                    {
                        "operations": ["CREATE", "UPDATE"],
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "resources": ["pods"],
                        "scope": "*",
                    }
                ],
                "failurePolicy": "Fail",
                "matchPolicy": "Equivalent",
                "sideEffects": "None",
                "timeoutSeconds": 10,
                "admissionReviewVersions": ["v1"],
                "namespaceSelector": {},
                "objectSelector": {},
            }
        ],
    }


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
                "shortNames": ["wd"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
                            },
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"}
                    ],
                }
            ],
            "conversion": {"strategy": "None"},
        },
        "status": {"storedVersions": ["v1"], "acceptedNames": {"plural": "", "kind": ""}},
    }


def custom_resource() -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3},
    }


BUILDERS: dict[str, Callable[[], dict[str, Any]]] = {}


def _register(
    name: str, builder: Callable[[], dict[str, Any]], group: str, version: str, kind: str, namespaced: bool
) -> None:
    BUILDERS[name] = builder
    KINDS[name] = (group, version, kind, namespaced)


for _args in [
    ("Pod", pod, "", "v1", "Pod", True),
    ("PodTemplate", pod_template, "", "v1", "PodTemplate", True),
    ("ReplicationController", replication_controller, "", "v1", "ReplicationController", True),
    ("Service", service, "", "v1", "Service", True),
    ("ConfigMap", config_map, "", "v1", "ConfigMap", True),
    ("Secret", secret, "", "v1", "Secret", True),
    ("Namespace", namespace, "", "v1", "Namespace", False),
    ("Node", node, "", "v1", "Node", False),
    ("ServiceAccount", service_account, "", "v1", "ServiceAccount", True),
    ("Endpoints", endpoints, "", "v1", "Endpoints", True),
    ("Event", core_event, "", "v1", "Event", True),
    ("events.Event", events_event, "events.k8s.io", "v1", "Event", True),
    ("PersistentVolume", persistent_volume, "", "v1", "PersistentVolume", False),
    ("PersistentVolumeClaim", persistent_volume_claim, "", "v1", "PersistentVolumeClaim", True),
    ("LimitRange", limit_range, "", "v1", "LimitRange", True),
    ("Deployment", deployment, "apps", "v1", "Deployment", True),
    ("ReplicaSet", replica_set, "apps", "v1", "ReplicaSet", True),
    ("StatefulSet", stateful_set, "apps", "v1", "StatefulSet", True),
    ("DaemonSet", daemon_set, "apps", "v1", "DaemonSet", True),
    ("ControllerRevision", controller_revision, "apps", "v1", "ControllerRevision", True),
    ("Job", job, "batch", "v1", "Job", True),
    ("CronJob", cron_job, "batch", "v1", "CronJob", True),
    ("Ingress", ingress, "networking.k8s.io", "v1", "Ingress", True),
    ("IngressClass", ingress_class, "networking.k8s.io", "v1", "IngressClass", False),
    ("NetworkPolicy", network_policy, "networking.k8s.io", "v1", "NetworkPolicy", True),
    ("Role", role, "rbac.authorization.k8s.io", "v1", "Role", True),
    ("ClusterRole", cluster_role, "rbac.authorization.k8s.io", "v1", "ClusterRole", False),
    ("RoleBinding", role_binding, "rbac.authorization.k8s.io", "v1", "RoleBinding", True),
    (
        "ClusterRoleBinding",
        cluster_role_binding,
        "rbac.authorization.k8s.io",
        "v1",
        "ClusterRoleBinding",
        False,
    ),
    ("PodDisruptionBudget", pdb, "policy", "v1", "PodDisruptionBudget", True),
    ("PriorityClass", priority_class, "scheduling.k8s.io", "v1", "PriorityClass", False),
    ("StorageClass", storage_class, "storage.k8s.io", "v1", "StorageClass", False),
    ("RuntimeClass", runtime_class, "node.k8s.io", "v1", "RuntimeClass", False),
    ("Lease", lease, "coordination.k8s.io", "v1", "Lease", True),
    ("EndpointSlice", endpoint_slice, "discovery.k8s.io", "v1", "EndpointSlice", True),
    ("HorizontalPodAutoscaler", hpa, "autoscaling", "v2", "HorizontalPodAutoscaler", True),
    (
        "ValidatingWebhookConfiguration",
        webhook_configuration,
        "admissionregistration.k8s.io",
        "v1",
        "ValidatingWebhookConfiguration",
        False,
    ),
    ("CustomResourceDefinition", crd, "apiextensions.k8s.io", "v1", "CustomResourceDefinition", False),
    ("Widget", custom_resource, "example.com", "v1", "Widget", True),
]:
    _register(*_args)


def mutating_webhook_configuration() -> dict[str, Any]:
    obj = webhook_configuration()
    obj["kind"] = "MutatingWebhookConfiguration"
    obj["webhooks"][0]["reinvocationPolicy"] = "Never"
    return obj


_register(
    "MutatingWebhookConfiguration",
    mutating_webhook_configuration,
    "admissionregistration.k8s.io",
    "v1",
    "MutatingWebhookConfiguration",
    False,
)
