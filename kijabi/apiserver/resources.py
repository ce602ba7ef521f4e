"""The resource registry: every resource the API serves, built-in or from a CRD.

A `Resource` says how a resource is addressed (group, version, plural), what it is (kind, scope, the
schema), which verbs and subresources it has, and where it lives in the store. Per-resource behaviour
(defaulting, validation, tables, status/spec split, selectable fields) is the `Strategy` it points to.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kijabi.machinery.schema import Schema

if TYPE_CHECKING:
    from kijabi.apiserver.strategy import Strategy

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
READ_VERBS = ("get", "list", "watch")
CREATE_ONLY = ("create",)


@dataclass
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: dict[str, str] = field(default_factory=dict)  # name -> response kind ("" = same kind)
    storage_prefix: str = ""  # "/registry/<...>/"; shared by all versions of one resource
    schema: Schema | None = None
    strategy: Strategy | None = None
    crd: bool = False
    # Scale subresource paths (spec replicas, status replicas, status selector); None: the built-in ones.
    scale_paths: tuple[str, str, str] | None = None

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    @property
    def group_resource(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def stored(self) -> bool:
        return "get" in self.verbs

    def key(self, namespace: str, name: str) -> str:
        return f"{self.storage_prefix}{namespace}/{name}" if self.namespaced else f"{self.storage_prefix}{name}"

    def prefix(self, namespace: str | None) -> str:
        return f"{self.storage_prefix}{namespace}/" if (self.namespaced and namespace) else self.storage_prefix


# name -> response kind for subresources. "" means the parent's kind.
_STATUS = {"status": ""}
_SCALE = {"scale": "autoscaling/v1/Scale", "status": ""}

# (group, version, plural, kind, namespaced, short names, categories, subresources, verbs, storage name)
_BUILTIN: list[tuple[str, str, str, str, bool, tuple[str, ...], tuple[str, ...], dict[str, str], tuple[str, ...], str]] = [
    ("", "v1", "bindings", "Binding", True, (), (), {}, CREATE_ONLY, ""),
    ("", "v1", "componentstatuses", "ComponentStatus", False, ("cs",), (), {}, ("get", "list"), ""),
    ("", "v1", "configmaps", "ConfigMap", True, ("cm",), (), {}, ALL_VERBS, ""),
    ("", "v1", "endpoints", "Endpoints", True, ("ep",), (), {}, ALL_VERBS, "services/endpoints"),
    ("", "v1", "events", "Event", True, ("ev",), (), {}, ALL_VERBS, ""),
    ("", "v1", "limitranges", "LimitRange", True, ("limits",), (), {}, ALL_VERBS, ""),
    ("", "v1", "namespaces", "Namespace", False, ("ns",), (), {"finalize": "", "status": ""}, ("create", "delete", "get", "list", "patch", "update", "watch"), ""),
    ("", "v1", "nodes", "Node", False, ("no",), (), {"proxy": "v1/NodeProxyOptions", "status": ""}, ALL_VERBS, "minions"),
    ("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim", True, ("pvc",), (), _STATUS, ALL_VERBS, ""),
    ("", "v1", "persistentvolumes", "PersistentVolume", False, ("pv",), (), _STATUS, ALL_VERBS, ""),
    ("", "v1", "pods", "Pod", True, ("po",), ("all",), {
        "attach": "v1/PodAttachOptions", "binding": "v1/Binding", "ephemeralcontainers": "", "eviction": "policy/v1/Eviction",
        "exec": "v1/PodExecOptions", "log": "v1/Pod", "portforward": "v1/PodPortForwardOptions", "proxy": "v1/PodProxyOptions",
        "status": ""}, ALL_VERBS, ""),
    ("", "v1", "podtemplates", "PodTemplate", True, (), (), {}, ALL_VERBS, ""),
    ("", "v1", "replicationcontrollers", "ReplicationController", True, ("rc",), ("all",), _SCALE, ALL_VERBS, "controllers"),
    ("", "v1", "resourcequotas", "ResourceQuota", True, ("quota",), (), _STATUS, ALL_VERBS, ""),
    ("", "v1", "secrets", "Secret", True, (), (), {}, ALL_VERBS, ""),
    ("", "v1", "serviceaccounts", "ServiceAccount", True, ("sa",), (), {"token": "authentication.k8s.io/v1/TokenRequest"}, ALL_VERBS, ""),
    ("", "v1", "services", "Service", True, ("svc",), ("all",), {"proxy": "v1/ServiceProxyOptions", "status": ""}, ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"), "services/specs"),
    ("apps", "v1", "controllerrevisions", "ControllerRevision", True, (), (), {}, ALL_VERBS, ""),
    ("apps", "v1", "daemonsets", "DaemonSet", True, ("ds",), ("all",), _STATUS, ALL_VERBS, ""),
    ("apps", "v1", "deployments", "Deployment", True, ("deploy",), ("all",), _SCALE, ALL_VERBS, ""),
    ("apps", "v1", "replicasets", "ReplicaSet", True, ("rs",), ("all",), _SCALE, ALL_VERBS, ""),
    ("apps", "v1", "statefulsets", "StatefulSet", True, ("sts",), ("all",), _SCALE, ALL_VERBS, ""),
    ("authentication.k8s.io", "v1", "selfsubjectreviews", "SelfSubjectReview", False, (), (), {}, CREATE_ONLY, ""),
    ("authentication.k8s.io", "v1", "tokenreviews", "TokenReview", False, (), (), {}, CREATE_ONLY, ""),
    ("authorization.k8s.io", "v1", "localsubjectaccessreviews", "LocalSubjectAccessReview", True, (), (), {}, CREATE_ONLY, ""),
    ("authorization.k8s.io", "v1", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False, (), (), {}, CREATE_ONLY, ""),
    ("authorization.k8s.io", "v1", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False, (), (), {}, CREATE_ONLY, ""),
    ("authorization.k8s.io", "v1", "subjectaccessreviews", "SubjectAccessReview", False, (), (), {}, CREATE_ONLY, ""),
    ("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",), ("all",), _STATUS, ALL_VERBS, ""),
    ("autoscaling", "v1", "horizontalpodautoscalers", "HorizontalPodAutoscaler", True, ("hpa",), ("all",), _STATUS, ALL_VERBS, ""),
    ("batch", "v1", "cronjobs", "CronJob", True, ("cj",), ("all",), _STATUS, ALL_VERBS, ""),
    ("batch", "v1", "jobs", "Job", True, (), ("all",), _STATUS, ALL_VERBS, ""),
    ("certificates.k8s.io", "v1", "certificatesigningrequests", "CertificateSigningRequest", False, ("csr",), (), {"approval": "", "status": ""}, ALL_VERBS, ""),
    ("coordination.k8s.io", "v1", "leases", "Lease", True, (), (), {}, ALL_VERBS, ""),
    ("discovery.k8s.io", "v1", "endpointslices", "EndpointSlice", True, (), (), {}, ALL_VERBS, ""),
    ("events.k8s.io", "v1", "events", "Event", True, ("ev",), (), {}, ALL_VERBS, "events"),
    ("networking.k8s.io", "v1", "ingressclasses", "IngressClass", False, (), (), {}, ALL_VERBS, ""),
    ("networking.k8s.io", "v1", "ingresses", "Ingress", True, ("ing",), (), _STATUS, ALL_VERBS, "ingress"),
    ("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, ("netpol",), (), {}, ALL_VERBS, ""),
    ("node.k8s.io", "v1", "runtimeclasses", "RuntimeClass", False, (), (), {}, ALL_VERBS, ""),
    ("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, ("pdb",), (), _STATUS, ALL_VERBS, ""),
    ("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False, (), (), {}, ALL_VERBS, ""),
    ("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False, (), (), {}, ALL_VERBS, ""),
    ("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True, (), (), {}, ALL_VERBS, ""),
    ("rbac.authorization.k8s.io", "v1", "roles", "Role", True, (), (), {}, ALL_VERBS, ""),
    ("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", False, ("pc",), (), {}, ALL_VERBS, ""),
    ("storage.k8s.io", "v1", "csidrivers", "CSIDriver", False, (), (), {}, ALL_VERBS, ""),
    ("storage.k8s.io", "v1", "csinodes", "CSINode", False, (), (), {}, ALL_VERBS, ""),
    ("storage.k8s.io", "v1", "csistoragecapacities", "CSIStorageCapacity", True, (), (), {}, ALL_VERBS, ""),
    ("storage.k8s.io", "v1", "storageclasses", "StorageClass", False, ("sc",), (), {}, ALL_VERBS, ""),
    ("storage.k8s.io", "v1", "volumeattachments", "VolumeAttachment", False, (), (), _STATUS, ALL_VERBS, ""),
    ("admissionregistration.k8s.io", "v1", "mutatingwebhookconfigurations", "MutatingWebhookConfiguration", False, (), ("api-extensions",), {}, ALL_VERBS, ""),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicies", "ValidatingAdmissionPolicy", False, (), ("api-extensions",), _STATUS, ALL_VERBS, ""),
    ("admissionregistration.k8s.io", "v1", "validatingadmissionpolicybindings", "ValidatingAdmissionPolicyBinding", False, (), ("api-extensions",), {}, ALL_VERBS, ""),
    ("admissionregistration.k8s.io", "v1", "validatingwebhookconfigurations", "ValidatingWebhookConfiguration", False, (), ("api-extensions",), {}, ALL_VERBS, ""),
    ("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", False, ("crd", "crds"), ("api-extensions",), _STATUS, ALL_VERBS, ""),
]

# Groups in discovery order (upstream's preference order), with the versions in preference order.
GROUP_ORDER = [
    "", "apps", "events.k8s.io", "authentication.k8s.io", "authorization.k8s.io", "autoscaling", "batch",
    "certificates.k8s.io", "networking.k8s.io", "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
    "admissionregistration.k8s.io", "apiextensions.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
    "node.k8s.io", "discovery.k8s.io",
]


def builtin_resources() -> list[Resource]:
    out = []
    for group, version, plural, kind, namespaced, short, cats, subs, verbs, storage in _BUILTIN:
        prefix = f"/registry/{storage or plural}/"
        out.append(Resource(group, version, plural, kind, namespaced, verbs, short, cats, dict(subs), prefix))
    return out


class Registry:
    """Resources by (group, version, plural), changing at run time as CRDs come and go.

    Readers never lock: every change swaps in new dicts (copy-on-write); `generation` counts changes
    so discovery and OpenAPI documents can be cached per generation.
    """

    def __init__(self, resources: Iterable[Resource] = ()) -> None:
        self._lock = threading.Lock()
        self._by_gvr: dict[tuple[str, str, str], Resource] = {}
        self.generation = 0
        for r in resources:
            self._by_gvr[(r.group, r.version, r.plural)] = r

    def get(self, group: str, version: str, plural: str) -> Resource | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[Resource]:
        return list(self._by_gvr.values())

    def versions(self, group: str) -> list[str]:
        """Served versions of a group, preferred first."""
        seen: list[str] = []
        for r in self._by_gvr.values():
            if r.group == group and r.version not in seen:
                seen.append(r.version)
        return sorted(seen, key=version_priority, reverse=True)

    def groups(self) -> list[str]:
        gs = {r.group for r in self._by_gvr.values()}
        order = {g: i for i, g in enumerate(GROUP_ORDER)}
        return sorted(gs, key=lambda g: (order.get(g, len(order)), g))

    def by_kind(self, group: str, kind: str) -> list[Resource]:
        return [r for r in self._by_gvr.values() if r.group == group and r.kind == kind]

    def replace_group_resources(self, group: str, plural: str, resources: Iterable[Resource]) -> None:
        """Atomically swap every version of group/plural (a CRD changed)."""
        with self._lock:
            new = {k: v for k, v in self._by_gvr.items() if not (k[0] == group and k[2] == plural)}
            for r in resources:
                new[(r.group, r.version, r.plural)] = r
            self._by_gvr = new
            self.generation += 1


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, then by number (v2 > v1, v1beta2 > v1beta1)."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (-1, 0, 0)
    major = int(m.group(1))
    stage = {"alpha": 0, "beta": 1, None: 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, major, minor)
