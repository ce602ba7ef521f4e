"""Defaults of the remaining kinds (reference 1.6 and the other groups' defaults.go)."""

from __future__ import annotations

from typing import Any

import pytest

from ._support import MISSING, Row, check

NAMESPACE = ("", "v1", "Namespace")
SECRET = ("", "v1", "Secret")
ENDPOINTS = ("", "v1", "Endpoints")
PVC = ("", "v1", "PersistentVolumeClaim")
PV = ("", "v1", "PersistentVolume")
NODE = ("", "v1", "Node")
LIMIT_RANGE = ("", "v1", "LimitRange")
QUOTA = ("", "v1", "ResourceQuota")
CONFIG_MAP = ("", "v1", "ConfigMap")
SLICE = ("discovery.k8s.io", "v1", "EndpointSlice")
HPA_V1 = ("autoscaling", "v1", "HorizontalPodAutoscaler")
HPA_V2 = ("autoscaling", "v2", "HorizontalPodAutoscaler")
PRIORITY_CLASS = ("scheduling.k8s.io", "v1", "PriorityClass")
STORAGE_CLASS = ("storage.k8s.io", "v1", "StorageClass")
CSI_DRIVER = ("storage.k8s.io", "v1", "CSIDriver")
ATTACHMENT = ("storage.k8s.io", "v1", "VolumeAttachment")
NETPOL = ("networking.k8s.io", "v1", "NetworkPolicy")
INGRESS_CLASS = ("networking.k8s.io", "v1", "IngressClass")
INGRESS = ("networking.k8s.io", "v1", "Ingress")
ROLE_BINDING = ("rbac.authorization.k8s.io", "v1", "RoleBinding")
CLUSTER_ROLE_BINDING = ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding")
PDB = ("policy", "v1", "PodDisruptionBudget")
VWC = ("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration")
MWC = ("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration")
VAP = ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy")
VAPB = ("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding")
FLOW_SCHEMA = ("flowcontrol.apiserver.k8s.io", "v1", "FlowSchema")
PLC = ("flowcontrol.apiserver.k8s.io", "v1", "PriorityLevelConfiguration")
CRD = ("apiextensions.k8s.io", "v1", "CustomResourceDefinition")
API_SERVICE = ("apiregistration.k8s.io", "v1", "APIService")


def obj(kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "metadata": {"name": "x"}, **fields}


PVC_OBJ = obj(
    "PersistentVolumeClaim",
    spec={"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "0.5Gi"}}},
)
PV_OBJ = obj("PersistentVolume", spec={"capacity": {"storage": "1024Mi"}, "hostPath": {"path": "/data"}})
HOOK = {
    "name": "h.example.com",
    "clientConfig": {"service": {"namespace": "n", "name": "s"}},
    "rules": [{"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["pods"]}],
}
CRD_OBJ = obj(
    "CustomResourceDefinition",
    spec={
        "group": "example.com",
        "names": {"kind": "Widget", "plural": "widgets"},
        "scope": "Namespaced",
        "versions": [
            {"name": "v1alpha1", "served": True, "storage": False},
            {"name": "v1", "served": True, "storage": True},
        ],
    },
)
SCALE_TARGET = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"}

ROWS = [
    # Namespace
    Row(
        "namespace name label",
        NAMESPACE,
        obj("Namespace"),
        "metadata.labels",
        {"kubernetes.io/metadata.name": "x"},
    ),
    Row(
        "namespace name label forced",
        NAMESPACE,
        obj(
            "Namespace", metadata={"name": "x", "labels": {"kubernetes.io/metadata.name": "other", "a": "b"}}
        ),
        "metadata.labels",
        {"kubernetes.io/metadata.name": "x", "a": "b"},
    ),
    Row(
        "namespace without name gets no label",
        NAMESPACE,
        {"kind": "Namespace", "metadata": {"generateName": "ns-"}},
        "metadata.labels",
        MISSING,
    ),
    Row("namespace phase", NAMESPACE, obj("Namespace"), "status.phase", "Active"),
    Row(
        "namespace phase kept",
        NAMESPACE,
        obj("Namespace", status={"phase": "Terminating"}),
        "status.phase",
        "Terminating",
    ),
    Row("namespace finalizers are the strategy's", NAMESPACE, obj("Namespace"), "spec", MISSING),
    # Secret, ConfigMap
    Row("secret type", SECRET, obj("Secret"), "type", "Opaque"),
    Row("secret type kept", SECRET, obj("Secret", type="kubernetes.io/tls"), "type", "kubernetes.io/tls"),
    Row("configmap has no visible defaults", CONFIG_MAP, obj("ConfigMap"), "data", MISSING),
    # Endpoints and EndpointSlices
    Row(
        "endpoints port protocol",
        ENDPOINTS,
        obj("Endpoints", subsets=[{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]),
        "subsets[0].ports[0].protocol",
        "TCP",
    ),
    Row(
        "endpointslice port protocol",
        SLICE,
        obj("EndpointSlice", addressType="IPv4", endpoints=[], ports=[{"port": 80}]),
        "ports[0].protocol",
        "TCP",
    ),
    Row(
        "endpointslice port name",
        SLICE,
        obj("EndpointSlice", addressType="IPv4", endpoints=[], ports=[{"port": 80}]),
        "ports[0].name",
        "",
    ),
    Row(
        "endpointslice port name kept",
        SLICE,
        obj("EndpointSlice", addressType="IPv4", endpoints=[], ports=[{"name": "http", "port": 80}]),
        "ports[0].name",
        "http",
    ),
    # PVC, PV
    Row("pvc volumeMode", PVC, PVC_OBJ, "spec.volumeMode", "Filesystem"),
    Row(
        "pvc volumeMode kept",
        PVC,
        obj("PersistentVolumeClaim", spec={"volumeMode": "Block"}),
        "spec.volumeMode",
        "Block",
    ),
    Row("pvc status phase", PVC, PVC_OBJ, "status.phase", "Pending"),
    Row("pvc status phase kept", PVC, {**PVC_OBJ, "status": {"phase": "Bound"}}, "status.phase", "Bound"),
    Row("pvc storage rounded", PVC, PVC_OBJ, "spec.resources.requests.storage", "512Mi"),
    Row(
        "pvc status capacity rounded",
        PVC,
        {**PVC_OBJ, "status": {"capacity": {"storage": "1024Mi"}}},
        "status.capacity.storage",
        "1Gi",
    ),
    Row("pv reclaim policy", PV, PV_OBJ, "spec.persistentVolumeReclaimPolicy", "Retain"),
    Row(
        "pv reclaim policy kept",
        PV,
        obj("PersistentVolume", spec={"persistentVolumeReclaimPolicy": "Delete"}),
        "spec.persistentVolumeReclaimPolicy",
        "Delete",
    ),
    Row("pv volumeMode", PV, PV_OBJ, "spec.volumeMode", "Filesystem"),
    Row("pv status phase", PV, PV_OBJ, "status.phase", "Pending"),
    Row("pv capacity rounded", PV, PV_OBJ, "spec.capacity.storage", "1Gi"),
    Row("pv hostPath type", PV, PV_OBJ, "spec.hostPath.type", ""),
    Row(
        "pv rbd pool",
        PV,
        obj("PersistentVolume", spec={"rbd": {"monitors": ["m"], "image": "i"}}),
        "spec.rbd.pool",
        "rbd",
    ),
    Row(
        "pv iscsi interface",
        PV,
        obj("PersistentVolume", spec={"iscsi": {"targetPortal": "t", "iqn": "q", "lun": 0}}),
        "spec.iscsi.iscsiInterface",
        "default",
    ),
    Row(
        "pv azureDisk kind",
        PV,
        obj("PersistentVolume", spec={"azureDisk": {"diskName": "d", "diskURI": "u"}}),
        "spec.azureDisk.kind",
        "Shared",
    ),
    Row(
        "pv scaleIO fsType",
        PV,
        obj("PersistentVolume", spec={"scaleIO": {"gateway": "g", "system": "s"}}),
        "spec.scaleIO.fsType",
        "xfs",
    ),
    # Node
    Row(
        "node allocatable from capacity",
        NODE,
        obj("Node", status={"capacity": {"cpu": "4", "memory": "8Gi"}}),
        "status.allocatable",
        {"cpu": "4", "memory": "8Gi"},
    ),
    Row(
        "node allocatable kept",
        NODE,
        obj("Node", status={"capacity": {"cpu": "4"}, "allocatable": {"cpu": "3500m"}}),
        "status.allocatable",
        {"cpu": "3500m"},
    ),
    Row(
        "node capacity rounded",
        NODE,
        obj("Node", status={"capacity": {"memory": "8388608Ki"}}),
        "status.capacity.memory",
        "8Gi",
    ),
    Row("node without status", NODE, obj("Node", spec={}), "status", MISSING),
    # LimitRange, ResourceQuota
    Row(
        "limitrange default from max",
        LIMIT_RANGE,
        obj("LimitRange", spec={"limits": [{"type": "Container", "max": {"cpu": "2"}}]}),
        "spec.limits[0].default",
        {"cpu": "2"},
    ),
    Row(
        "limitrange defaultRequest from default",
        LIMIT_RANGE,
        obj("LimitRange", spec={"limits": [{"type": "Container", "default": {"memory": "1Gi"}}]}),
        "spec.limits[0].defaultRequest",
        {"memory": "1Gi"},
    ),
    Row(
        "limitrange defaultRequest from min",
        LIMIT_RANGE,
        obj(
            "LimitRange",
            spec={"limits": [{"type": "Container", "min": {"cpu": "100m"}, "default": {"memory": "1Gi"}}]},
        ),
        "spec.limits[0].defaultRequest",
        {"memory": "1Gi", "cpu": "100m"},
    ),
    Row(
        "limitrange default beats min for defaultRequest",
        LIMIT_RANGE,
        obj(
            "LimitRange",
            spec={"limits": [{"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "2"}}]},
        ),
        "spec.limits[0].defaultRequest",
        {"cpu": "2"},
    ),
    Row(
        "limitrange Pod items get no defaults",
        LIMIT_RANGE,
        obj("LimitRange", spec={"limits": [{"type": "Pod", "max": {"cpu": "2"}}]}),
        "spec.limits[0]",
        {"type": "Pod", "max": {"cpu": "2"}},
    ),
    Row(
        "limitrange quantities rounded",
        LIMIT_RANGE,
        obj(
            "LimitRange", spec={"limits": [{"type": "Container", "maxLimitRequestRatio": {"cpu": "0.0001"}}]}
        ),
        "spec.limits[0].maxLimitRequestRatio.cpu",
        "1m",
    ),
    Row(
        "quota hard rounded",
        QUOTA,
        obj("ResourceQuota", spec={"hard": {"requests.cpu": "1000m"}}),
        "spec.hard[requests.cpu]",
        "1",
    ),
    Row(
        "quota used rounded",
        QUOTA,
        obj("ResourceQuota", status={"used": {"requests.memory": "1024Ki"}}),
        "status.used[requests.memory]",
        "1Mi",
    ),
    # HPA
    Row(
        "hpa v1 minReplicas",
        HPA_V1,
        obj("HorizontalPodAutoscaler", spec={"scaleTargetRef": SCALE_TARGET, "maxReplicas": 3}),
        "spec.minReplicas",
        1,
    ),
    Row(
        "hpa v1 no cpu target",
        HPA_V1,
        obj("HorizontalPodAutoscaler", spec={"scaleTargetRef": SCALE_TARGET, "maxReplicas": 3}),
        "spec.targetCPUUtilizationPercentage",
        MISSING,
    ),
    Row(
        "hpa v2 minReplicas",
        HPA_V2,
        obj("HorizontalPodAutoscaler", spec={"scaleTargetRef": SCALE_TARGET, "maxReplicas": 3}),
        "spec.minReplicas",
        1,
    ),
    Row(
        "hpa v2 metrics",
        HPA_V2,
        obj("HorizontalPodAutoscaler", spec={"scaleTargetRef": SCALE_TARGET, "maxReplicas": 3}),
        "spec.metrics",
        [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}},
            }
        ],
    ),
    Row(
        "hpa v2 no behavior unless given",
        HPA_V2,
        obj("HorizontalPodAutoscaler", spec={"maxReplicas": 3}),
        "spec.behavior",
        MISSING,
    ),
    Row(
        "hpa v2 behavior scaleUp",
        HPA_V2,
        obj("HorizontalPodAutoscaler", spec={"maxReplicas": 3, "behavior": {}}),
        "spec.behavior.scaleUp",
        {
            "stabilizationWindowSeconds": 0,
            "selectPolicy": "Max",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 100, "periodSeconds": 15},
            ],
        },
    ),
    Row(
        "hpa v2 behavior scaleDown",
        HPA_V2,
        obj("HorizontalPodAutoscaler", spec={"maxReplicas": 3, "behavior": {}}),
        "spec.behavior.scaleDown",
        {"selectPolicy": "Max", "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]},
    ),
    Row(
        "hpa v2 behavior partly set",
        HPA_V2,
        obj(
            "HorizontalPodAutoscaler",
            spec={"maxReplicas": 3, "behavior": {"scaleDown": {"stabilizationWindowSeconds": 60}}},
        ),
        "spec.behavior.scaleDown",
        {
            "stabilizationWindowSeconds": 60,
            "selectPolicy": "Max",
            "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}],
        },
    ),
    Row(
        "hpa v2 no selectionStrategy in 1.32",
        HPA_V2,
        obj("HorizontalPodAutoscaler", spec={"maxReplicas": 3}),
        "spec.selectionStrategy",
        MISSING,
    ),
    # Scheduling, storage
    Row(
        "priorityclass preemptionPolicy",
        PRIORITY_CLASS,
        obj("PriorityClass", value=10),
        "preemptionPolicy",
        "PreemptLowerPriority",
    ),
    Row(
        "priorityclass preemptionPolicy kept",
        PRIORITY_CLASS,
        obj("PriorityClass", value=10, preemptionPolicy="Never"),
        "preemptionPolicy",
        "Never",
    ),
    Row(
        "storageclass reclaimPolicy",
        STORAGE_CLASS,
        obj("StorageClass", provisioner="p"),
        "reclaimPolicy",
        "Delete",
    ),
    Row(
        "storageclass volumeBindingMode",
        STORAGE_CLASS,
        obj("StorageClass", provisioner="p"),
        "volumeBindingMode",
        "Immediate",
    ),
    Row(
        "storageclass reclaimPolicy kept",
        STORAGE_CLASS,
        obj("StorageClass", provisioner="p", reclaimPolicy="Retain"),
        "reclaimPolicy",
        "Retain",
    ),
    Row(
        "csidriver spec",
        CSI_DRIVER,
        obj("CSIDriver", spec={}),
        "spec",
        {
            "attachRequired": True,
            "podInfoOnMount": False,
            "storageCapacity": False,
            "fsGroupPolicy": "ReadWriteOnceWithFSType",
            "volumeLifecycleModes": ["Persistent"],
            "requiresRepublish": False,
            "seLinuxMount": False,
        },
    ),
    Row(
        "csidriver attachRequired kept",
        CSI_DRIVER,
        obj("CSIDriver", spec={"attachRequired": False}),
        "spec.attachRequired",
        False,
    ),
    Row(
        "volumeattachment inline spec",
        ATTACHMENT,
        obj(
            "VolumeAttachment",
            spec={
                "attacher": "a",
                "nodeName": "n",
                "source": {
                    "inlineVolumeSpec": {
                        "capacity": {"storage": "1024Mi"},
                        "azureDisk": {"diskName": "d", "diskURI": "u"},
                    }
                },
            },
        ),
        "spec.source.inlineVolumeSpec",
        {
            "capacity": {"storage": "1Gi"},
            "azureDisk": {
                "diskName": "d",
                "diskURI": "u",
                "cachingMode": "ReadWrite",
                "fsType": "ext4",
                "readOnly": False,
                "kind": "Shared",
            },
        },
    ),
    # Networking
    Row(
        "networkpolicy policyTypes",
        NETPOL,
        obj("NetworkPolicy", spec={"podSelector": {}}),
        "spec.policyTypes",
        ["Ingress"],
    ),
    Row(
        "networkpolicy policyTypes with egress",
        NETPOL,
        obj("NetworkPolicy", spec={"podSelector": {}, "egress": [{}]}),
        "spec.policyTypes",
        ["Ingress", "Egress"],
    ),
    Row(
        "networkpolicy policyTypes kept",
        NETPOL,
        obj("NetworkPolicy", spec={"podSelector": {}, "policyTypes": ["Egress"]}),
        "spec.policyTypes",
        ["Egress"],
    ),
    Row(
        "networkpolicy ingress port protocol",
        NETPOL,
        obj("NetworkPolicy", spec={"podSelector": {}, "ingress": [{"ports": [{"port": 80}]}]}),
        "spec.ingress[0].ports[0].protocol",
        "TCP",
    ),
    Row(
        "networkpolicy egress port protocol",
        NETPOL,
        obj(
            "NetworkPolicy",
            spec={"podSelector": {}, "egress": [{"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53}]}]},
        ),
        "spec.egress[0].ports[1].protocol",
        "TCP",
    ),
    Row(
        "ingressclass parameters scope",
        INGRESS_CLASS,
        obj("IngressClass", spec={"controller": "c", "parameters": {"kind": "K", "name": "n"}}),
        "spec.parameters.scope",
        "Cluster",
    ),
    Row(
        "ingress pathType not defaulted",
        INGRESS,
        obj("Ingress", spec={"rules": [{"http": {"paths": [{"path": "/"}]}}]}),
        "spec.rules[0].http.paths[0].pathType",
        MISSING,
    ),
    # RBAC
    Row(
        "rolebinding roleRef apiGroup",
        ROLE_BINDING,
        obj("RoleBinding", roleRef={"kind": "Role", "name": "r"}),
        "roleRef.apiGroup",
        "rbac.authorization.k8s.io",
    ),
    Row(
        "clusterrolebinding roleRef apiGroup",
        CLUSTER_ROLE_BINDING,
        obj("ClusterRoleBinding", roleRef={"kind": "ClusterRole", "name": "r"}),
        "roleRef.apiGroup",
        "rbac.authorization.k8s.io",
    ),
    Row(
        "subject User apiGroup",
        ROLE_BINDING,
        obj("RoleBinding", roleRef={}, subjects=[{"kind": "User", "name": "u"}]),
        "subjects[0].apiGroup",
        "rbac.authorization.k8s.io",
    ),
    Row(
        "subject Group apiGroup",
        CLUSTER_ROLE_BINDING,
        obj("ClusterRoleBinding", roleRef={}, subjects=[{"kind": "Group", "name": "g"}]),
        "subjects[0].apiGroup",
        "rbac.authorization.k8s.io",
    ),
    Row(
        "subject ServiceAccount apiGroup",
        ROLE_BINDING,
        obj("RoleBinding", roleRef={}, subjects=[{"kind": "ServiceAccount", "name": "s", "namespace": "n"}]),
        "subjects[0].apiGroup",
        MISSING,
    ),
    # Policy: nothing
    Row(
        "pdb has no defaults",
        PDB,
        obj("PodDisruptionBudget", spec={"minAvailable": 1}),
        "spec",
        {"minAvailable": 1},
    ),
    # Admission registration
    Row(
        "validating webhook failurePolicy",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].failurePolicy",
        "Fail",
    ),
    Row(
        "validating webhook matchPolicy",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].matchPolicy",
        "Equivalent",
    ),
    Row(
        "validating webhook namespaceSelector",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].namespaceSelector",
        {},
    ),
    Row(
        "validating webhook objectSelector",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].objectSelector",
        {},
    ),
    Row(
        "validating webhook timeoutSeconds",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].timeoutSeconds",
        10,
    ),
    Row(
        "validating webhook rule scope",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].rules[0].scope",
        "*",
    ),
    Row(
        "validating webhook service port",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].clientConfig.service.port",
        443,
    ),
    Row(
        "validating webhook sideEffects not defaulted",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].sideEffects",
        MISSING,
    ),
    Row(
        "validating webhook no reinvocationPolicy",
        VWC,
        obj("ValidatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].reinvocationPolicy",
        MISSING,
    ),
    Row(
        "mutating webhook reinvocationPolicy",
        MWC,
        obj("MutatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].reinvocationPolicy",
        "Never",
    ),
    Row(
        "mutating webhook timeoutSeconds",
        MWC,
        obj("MutatingWebhookConfiguration", webhooks=[HOOK]),
        "webhooks[0].timeoutSeconds",
        10,
    ),
    Row(
        "admission policy failurePolicy",
        VAP,
        obj("ValidatingAdmissionPolicy", spec={}),
        "spec.failurePolicy",
        "Fail",
    ),
    Row(
        "admission policy matchConstraints",
        VAP,
        obj(
            "ValidatingAdmissionPolicy", spec={"matchConstraints": {"resourceRules": [{"operations": ["*"]}]}}
        ),
        "spec.matchConstraints",
        {
            "resourceRules": [{"operations": ["*"], "scope": "*"}],
            "matchPolicy": "Equivalent",
            "namespaceSelector": {},
            "objectSelector": {},
        },
    ),
    Row(
        "admission policy binding matchResources",
        VAPB,
        obj(
            "ValidatingAdmissionPolicyBinding",
            spec={"policyName": "p", "matchResources": {"excludeResourceRules": [{}]}},
        ),
        "spec.matchResources",
        {
            "excludeResourceRules": [{"scope": "*"}],
            "matchPolicy": "Equivalent",
            "namespaceSelector": {},
            "objectSelector": {},
        },
    ),
    Row(
        "admission policy binding paramRef untouched",
        VAPB,
        obj("ValidatingAdmissionPolicyBinding", spec={"policyName": "p", "paramRef": {"name": "x"}}),
        "spec.paramRef",
        {"name": "x"},
    ),
    # Flow control
    Row(
        "flowschema matchingPrecedence",
        FLOW_SCHEMA,
        obj("FlowSchema", spec={"priorityLevelConfiguration": {"name": "p"}}),
        "spec.matchingPrecedence",
        1000,
    ),
    Row(
        "flowschema matchingPrecedence kept",
        FLOW_SCHEMA,
        obj("FlowSchema", spec={"matchingPrecedence": 500}),
        "spec.matchingPrecedence",
        500,
    ),
    Row(
        "priority level limited",
        PLC,
        obj(
            "PriorityLevelConfiguration",
            spec={"type": "Limited", "limited": {"limitResponse": {"type": "Queue", "queuing": {}}}},
        ),
        "spec.limited",
        {
            "limitResponse": {
                "type": "Queue",
                "queuing": {"handSize": 8, "queues": 64, "queueLengthLimit": 50},
            },
            "nominalConcurrencyShares": 30,
            "lendablePercent": 0,
        },
    ),
    Row(
        "priority level limited zero shares kept",
        PLC,
        obj(
            "PriorityLevelConfiguration",
            spec={
                "type": "Limited",
                "limited": {"nominalConcurrencyShares": 0, "limitResponse": {"type": "Reject"}},
            },
        ),
        "spec.limited.nominalConcurrencyShares",
        0,
    ),
    Row(
        "priority level exempt",
        PLC,
        obj("PriorityLevelConfiguration", spec={"type": "Exempt", "exempt": {}}),
        "spec.exempt",
        {"nominalConcurrencyShares": 0, "lendablePercent": 0},
    ),
    # CRD, APIService
    Row("crd singular", CRD, CRD_OBJ, "spec.names.singular", "widget"),
    Row("crd listKind", CRD, CRD_OBJ, "spec.names.listKind", "WidgetList"),
    Row("crd conversion", CRD, CRD_OBJ, "spec.conversion", {"strategy": "None"}),
    Row("crd storedVersions", CRD, CRD_OBJ, "status.storedVersions", ["v1"]),
    Row(
        "crd conversion webhook port",
        CRD,
        obj(
            "CustomResourceDefinition",
            spec={
                "names": {"kind": "W"},
                "conversion": {
                    "strategy": "Webhook",
                    "webhook": {"clientConfig": {"service": {"namespace": "n", "name": "s"}}},
                },
            },
        ),
        "spec.conversion.webhook.clientConfig.service.port",
        443,
    ),
    Row(
        "apiservice port",
        API_SERVICE,
        obj("APIService", spec={"group": "g", "version": "v1", "service": {"namespace": "n", "name": "s"}}),
        "spec.service.port",
        443,
    ),
    Row(
        "apiservice local",
        API_SERVICE,
        obj("APIService", spec={"group": "g", "version": "v1"}),
        "spec",
        {"group": "g", "version": "v1"},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_other_defaults(row: Row) -> None:
    """Each upstream default is applied where it is missing and leaves set values alone."""
    check(row)
