"""The non-core API groups: networking, RBAC, policy, scheduling, storage, coordination,
discovery, events, autoscaling, node, admission webhooks and CustomResourceDefinitions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_messages import (
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    NEGATIVE,
    PORT_RANGE,
)
from tests.machinery.validation.validation_objects import BUILDERS, DELETE, edit, errors_of, run, stored

INVALID, REQUIRED, FORBIDDEN, TOO_LONG = (
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueForbidden",
    "FieldValueTooLong",
)
DUPLICATE, UNSUPPORTED, TOO_MANY = "FieldValueDuplicate", "FieldValueNotSupported", "FieldValueTooMany"
BACKEND = "spec.rules[0].http.paths[0].backend"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


CASES = [
    # Ingress
    pytest.param(
        "Ingress",
        e(("spec.rules", []), ("spec.tls", [])),
        [(INVALID, "spec", "either `defaultBackend` or `rules` must be specified")],
        id="ingress-empty",
    ),
    pytest.param(
        "Ingress",
        e(("spec.rules[0].host", "10.0.0.1"), ("spec.tls", [])),
        [(INVALID, "spec.rules[0].host", "must be a DNS name, not an IP address")],
        id="ingress-host-ip",
    ),
    pytest.param(
        "Ingress",
        e(("spec.rules[0].host", "*.example.com"), ("spec.tls", [])),
        [],
        id="ingress-wildcard-host",
    ),
    pytest.param(
        "Ingress",
        e(("spec.rules[0].http.paths[0].pathType", DELETE)),
        [(REQUIRED, "spec.rules[0].http.paths[0].pathType", "pathType must be specified")],
        id="ingress-path-type-required",
    ),
    pytest.param(
        "Ingress",
        e(("spec.rules[0].http.paths[0].path", "api")),
        [(INVALID, "spec.rules[0].http.paths[0].path", "must be an absolute path")],
        id="ingress-relative-path",
    ),
    pytest.param(
        "Ingress",
        e(("spec.rules[0].http.paths[0].path", "/a//b")),
        [(INVALID, "spec.rules[0].http.paths[0].path", "must not contain '//'")],
        id="ingress-double-slash",
    ),
    pytest.param(
        "Ingress",
        e((f"{BACKEND}.service.port", {})),
        [(REQUIRED, BACKEND, "port name or number is required")],
        id="ingress-backend-port",
    ),
    pytest.param(
        "Ingress",
        e((f"{BACKEND}.service.name", "1web")),
        [(INVALID, f"{BACKEND}.service.name", DNS1035_LABEL)],
        id="ingress-backend-service-name",
    ),
    pytest.param(
        "Ingress",
        e((f"{BACKEND}", {})),
        [(INVALID, BACKEND, "resource or service backend is required")],
        id="ingress-backend-missing",
    ),
    pytest.param(
        "Ingress",
        e(("metadata.annotations", {"kubernetes.io/ingress.class": "nginx"})),
        [
            (
                INVALID,
                "annotations.kubernetes.io/ingress.class",
                "must match `ingressClassName` when both are specified",
            )
        ],
        id="ingress-class-annotation-mismatch",
    ),
    pytest.param(
        "Ingress",
        e(("spec.tls[0].secretName", "Web")),
        [(INVALID, "spec.tls[0].secretName", DNS1123_SUBDOMAIN)],
        id="ingress-tls-secret",
    ),
    pytest.param(
        "IngressClass",
        e(("spec.controller", "traefik")),
        [(INVALID, "spec.controller", 'must be a domain-prefixed path (such as "acme.io/foo")')],
        id="ingress-class-controller",
    ),
    pytest.param(
        "IngressClass",
        e(("spec.parameters", {"kind": "Config", "name": "c"})),
        [(REQUIRED, "spec.parameters.scope", "")],
        id="ingress-class-parameters-scope",
    ),
    # NetworkPolicy
    pytest.param(
        "NetworkPolicy",
        e(("spec.ingress[0].ports[0].port", 0)),
        [(INVALID, "spec.ingress[0].ports[0].port", PORT_RANGE)],
        id="netpol-port",
    ),
    pytest.param(
        "NetworkPolicy",
        e(("spec.ingress[0].ports[0].endPort", 100)),
        [(INVALID, "spec.ingress[0].ports[0].endPort", "must be greater than or equal to `port`")],
        id="netpol-end-port",
    ),
    pytest.param(
        "NetworkPolicy",
        e(("spec.ingress[0].from[1].ipBlock.except", ["192.168.0.0/16"])),
        [(INVALID, "spec.ingress[0].from[1].ipBlock.except[0]", "must be a strict subset of `cidr`")],
        id="netpol-except-outside",
    ),
    pytest.param(
        "NetworkPolicy",
        e(("spec.ingress[0].from[1].podSelector", {})),
        [(FORBIDDEN, "spec.ingress[0].from[1]", "may not specify both ipBlock and another peer")],
        id="netpol-ipblock-and-selector",
    ),
    pytest.param(
        "NetworkPolicy",
        e(("spec.ingress[0].from[0]", {})),
        [(REQUIRED, "spec.ingress[0].from[0]", "must specify a peer")],
        id="netpol-empty-peer",
    ),
    pytest.param(
        "NetworkPolicy",
        e(("spec.policyTypes", ["Ingress", "Sideways"])),
        [(UNSUPPORTED, "spec.policyTypes[1]", 'supported values: "Ingress", "Egress"')],
        id="netpol-policy-type",
    ),
    # RBAC
    pytest.param(
        "Role",
        e(("rules[0].verbs", [])),
        [(REQUIRED, "rules[0].verbs", "verbs must contain at least one value")],
        id="role-verbs",
    ),
    pytest.param(
        "Role",
        e(("rules[0]", {"verbs": ["get"], "nonResourceURLs": ["/metrics"]})),
        [(INVALID, "rules[0].nonResourceURLs", "namespaced rules cannot apply to non-resource URLs")],
        id="role-non-resource-url",
    ),
    pytest.param(
        "ClusterRole",
        e(("rules[0].apiGroups", [])),
        [(REQUIRED, "rules[0].apiGroups", "resource rules must supply at least one api group")],
        id="cluster-role-api-groups",
    ),
    pytest.param(
        "ClusterRole",
        e(("aggregationRule", {"clusterRoleSelectors": []})),
        [
            (
                REQUIRED,
                "aggregationRule.clusterRoleSelectors",
                "at least one clusterRoleSelector required if aggregationRule is non-nil",
            )
        ],
        id="cluster-role-aggregation",
    ),
    pytest.param(
        "RoleBinding",
        e(("roleRef.kind", "Group")),
        [(UNSUPPORTED, "roleRef.kind", 'supported values: "Role", "ClusterRole"')],
        id="role-binding-ref-kind",
    ),
    pytest.param(
        "RoleBinding",
        e(("roleRef.apiGroup", "")),
        [(UNSUPPORTED, "roleRef.apiGroup", 'supported values: "rbac.authorization.k8s.io"')],
        id="role-binding-ref-group",
    ),
    pytest.param(
        "RoleBinding",
        e(("subjects[0].apiGroup", "")),
        [(UNSUPPORTED, "subjects[0].apiGroup", 'supported values: "rbac.authorization.k8s.io"')],
        id="role-binding-user-group",
    ),
    pytest.param(
        "ClusterRoleBinding",
        e(("subjects[0]", {"kind": "ServiceAccount", "name": "sa"})),
        [(REQUIRED, "subjects[0].namespace", "")],
        id="cluster-binding-sa-namespace",
    ),
    pytest.param(
        "ClusterRoleBinding",
        e(("roleRef.kind", "Role")),
        [(UNSUPPORTED, "roleRef.kind", 'supported values: "ClusterRole"')],
        id="cluster-binding-role",
    ),
    # PodDisruptionBudget
    pytest.param(
        "PodDisruptionBudget",
        e(("spec.maxUnavailable", 1)),
        [(INVALID, "spec", "minAvailable and maxUnavailable cannot be both set")],
        id="pdb-both",
    ),
    pytest.param(
        "PodDisruptionBudget",
        e(("spec.minAvailable", "120%")),
        [(INVALID, "spec.minAvailable", "must not be greater than 100%")],
        id="pdb-percent",
    ),
    pytest.param(
        "PodDisruptionBudget",
        e(("spec.unhealthyPodEvictionPolicy", "Never")),
        [
            (
                UNSUPPORTED,
                "spec.unhealthyPodEvictionPolicy",
                'supported values: "AlwaysAllow", "IfHealthyBudget"',
            )
        ],
        id="pdb-eviction-policy",
    ),
    # PriorityClass
    pytest.param(
        "PriorityClass",
        e(("metadata.name", "system-custom")),
        [
            (
                FORBIDDEN,
                "metadata.name",
                "priority class names with 'system-' prefix are reserved for system use only. error: system-custom is not a known system priority class",
            )
        ],
        id="priority-class-system-prefix",
    ),
    pytest.param(
        "PriorityClass",
        e(("metadata.name", "system-node-critical"), ("value", 2000001000)),
        [],
        id="priority-class-system-known",
    ),
    pytest.param(
        "PriorityClass",
        e(("value", 1000000001)),
        [(FORBIDDEN, "value", "maximum allowed value of a user defined priority is 1000000000")],
        id="priority-class-value",
    ),
    # StorageClass
    pytest.param(
        "StorageClass",
        e(("provisioner", "")),
        [(REQUIRED, "provisioner", "")],
        id="storage-class-provisioner",
    ),
    pytest.param(
        "StorageClass",
        e(("reclaimPolicy", "Recycle")),
        [(UNSUPPORTED, "reclaimPolicy", 'supported values: "Delete", "Retain"')],
        id="storage-class-reclaim",
    ),
    pytest.param(
        "StorageClass",
        e(("volumeBindingMode", DELETE)),
        [(REQUIRED, "volumeBindingMode", "")],
        id="storage-class-binding-mode",
    ),
    # Lease
    pytest.param(
        "Lease",
        e(("spec.leaseDurationSeconds", 0)),
        [(INVALID, "spec.leaseDurationSeconds", "must be greater than 0")],
        id="lease-duration",
    ),
    pytest.param(
        "Lease",
        e(("spec.leaseTransitions", -1)),
        [(INVALID, "spec.leaseTransitions", "must be greater than or equal to 0")],
        id="lease-transitions",
    ),
    # EndpointSlice
    pytest.param(
        "EndpointSlice",
        e(("addressType", "IP")),
        [(UNSUPPORTED, "addressType", 'supported values: "FQDN", "IPv4", "IPv6"')],
        id="slice-address-type",
    ),
    pytest.param(
        "EndpointSlice",
        e(("endpoints[0].addresses", ["fd00::1"])),
        [(INVALID, "endpoints[0].addresses[0]", "must be a valid IPv4 address")],
        id="slice-address-family",
    ),
    pytest.param(
        "EndpointSlice",
        e(("endpoints[0].addresses", [])),
        [(REQUIRED, "endpoints[0].addresses", "must contain at least 1 address")],
        id="slice-addresses-required",
    ),
    pytest.param(
        "EndpointSlice",
        e(("ports[1]", {"name": "http", "port": 80, "protocol": "TCP"})),
        [(DUPLICATE, "ports[1].name", "")],
        id="slice-port-name-duplicate",
    ),
    pytest.param(
        "EndpointSlice",
        e(("endpoints[0].hostname", "web.0")),
        [(INVALID, "endpoints[0].hostname", "must not contain dots")],
        id="slice-hostname",
    ),
    # events.k8s.io Event
    pytest.param(
        "events.Event", e(("eventTime", DELETE)), [(REQUIRED, "eventTime", "")], id="event-time-required"
    ),
    pytest.param(
        "events.Event", e(("type", "Info")), [(INVALID, "type", "has invalid value: Info")], id="event-type"
    ),
    pytest.param(
        "events.Event",
        e(("series", {"count": 1, "lastObservedTime": "2025-01-01T00:00:00.000000Z"})),
        [(INVALID, "series.count", "should be at least 2")],
        id="event-series-count",
    ),
    pytest.param(
        "events.Event",
        e(("deprecatedCount", 3)),
        [(INVALID, "count", "needs to be unset")],
        id="event-deprecated-count",
    ),
    pytest.param(
        "events.Event",
        e(("action", "x" * 129)),
        [(INVALID, "action", "can have at most 128 characters")],
        id="event-action-length",
    ),
    # HorizontalPodAutoscaler
    pytest.param(
        "HorizontalPodAutoscaler",
        e(("spec.maxReplicas", 0)),
        [
            (INVALID, "spec.maxReplicas", "must be greater than 0"),
            (INVALID, "spec.maxReplicas", "must be greater than or equal to `minReplicas`"),
        ],
        id="hpa-max-replicas",
    ),
    pytest.param(
        "HorizontalPodAutoscaler",
        e(("spec.minReplicas", 0)),
        [
            (INVALID, "spec.minReplicas", "must be greater than or equal to 1"),
            (
                FORBIDDEN,
                "spec.metrics",
                "must specify at least one Object or External metric to support scaling to zero replicas",
            ),
        ],
        id="hpa-min-replicas",
    ),
    pytest.param(
        "HorizontalPodAutoscaler",
        e(("spec.scaleTargetRef.name", "")),
        [(REQUIRED, "spec.scaleTargetRef.name", "")],
        id="hpa-target-name",
    ),
    pytest.param(
        "HorizontalPodAutoscaler",
        e(("spec.metrics[0].resource.target", {"type": "Utilization", "averageUtilization": 0})),
        [(INVALID, "spec.metrics[0].resource.target.averageUtilization", "must be greater than 0")],
        id="hpa-utilization",
    ),
    pytest.param(
        "HorizontalPodAutoscaler",
        e(
            (
                "spec.metrics[0]",
                {
                    "type": "Pods",
                    "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
                },
            )
        ),
        [(REQUIRED, "spec.metrics[0].pods", "must populate information for the given metric source")],
        id="hpa-metric-source-mismatch",
    ),
    pytest.param(
        "HorizontalPodAutoscaler",
        e(("spec.behavior.scaleUp.policies[0].periodSeconds", 3600)),
        [(INVALID, "spec.behavior.scaleUp.policies[0].periodSeconds", "must be less than or equal to 1800")],
        id="hpa-policy-period",
    ),
    # RuntimeClass
    pytest.param(
        "RuntimeClass",
        e(("handler", "Runc")),
        [(INVALID, "handler", DNS1123_LABEL)],
        id="runtime-class-handler",
    ),
    pytest.param(
        "RuntimeClass",
        e(("overhead.podFixed.cpu", "-1")),
        [(INVALID, "overhead.limits[cpu]", NEGATIVE)],
        id="runtime-class-overhead",
    ),
    # Webhook configurations
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].name", "policy")),
        [(INVALID, "webhooks[0].name", "should be a domain with at least three segments separated by dots")],
        id="webhook-name",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].sideEffects", "Some")),
        [(UNSUPPORTED, "webhooks[0].sideEffects", 'supported values: "None", "NoneOnDryRun"')],
        id="webhook-side-effects",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].timeoutSeconds", 31)),
        [(INVALID, "webhooks[0].timeoutSeconds", "the timeout value must be between 1 and 30 seconds")],
        id="webhook-timeout",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].clientConfig", {"url": "http://policy.example.com/validate"})),
        [
            (
                INVALID,
                "webhooks[0].clientConfig.url",
                "'https' is the only allowed URL scheme; desired format: https://host[/path]",
            )
        ],
        id="webhook-url-scheme",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].clientConfig", {})),
        [(REQUIRED, "webhooks[0].clientConfig", "exactly one of url or service is required")],
        id="webhook-client-config",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].rules[0].operations", ["*", "CREATE"])),
        [
            (
                INVALID,
                "webhooks[0].rules[0].operations",
                "if '*' is present, must not specify other operations",
            )
        ],
        id="webhook-operations",
    ),
    pytest.param(
        "ValidatingWebhookConfiguration",
        e(("webhooks[0].admissionReviewVersions", ["v2"])),
        [(INVALID, "webhooks[0].admissionReviewVersions", "must include at least one of v1, v1beta1")],
        id="webhook-review-versions",
    ),
    pytest.param(
        "MutatingWebhookConfiguration",
        e(("webhooks[0].reinvocationPolicy", "Always")),
        [(UNSUPPORTED, "webhooks[0].reinvocationPolicy", 'supported values: "IfNeeded", "Never"')],
        id="webhook-reinvocation",
    ),
    # CustomResourceDefinition
    pytest.param(
        "CustomResourceDefinition",
        e(("metadata.name", "gadgets.example.com")),
        [(INVALID, "metadata.name", 'must be spec.names.plural+"."+spec.group')],
        id="crd-name",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.group", "example"), ("metadata.name", "widgets.example")),
        [(INVALID, "spec.group", "should be a domain with at least one dot")],
        id="crd-group-dot",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.versions[0].storage", False)),
        [(INVALID, "spec.versions", "must have exactly one version marked as storage version")],
        id="crd-no-storage-version",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(
            (
                "spec.versions[1]",
                {
                    "name": "v1",
                    "served": True,
                    "storage": False,
                    "schema": {"openAPIV3Schema": {"type": "object"}},
                },
            )
        ),
        [(INVALID, "spec.versions", "must contain unique version names")],
        id="crd-duplicate-version",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.versions[0].schema", DELETE)),
        [(REQUIRED, "spec.versions[0].schema.openAPIV3Schema", "schemas are required")],
        id="crd-schema-required",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.versions[0].name", "V1"), ("status.storedVersions", ["V1"])),
        [(INVALID, "spec.versions[0].name", DNS1035_LABEL)],
        id="crd-version-name",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.scope", "Global")),
        [(UNSUPPORTED, "spec.scope", 'supported values: "Cluster", "Namespaced"')],
        id="crd-scope",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.names.listKind", "Widget")),
        [(INVALID, "spec.names.listKind", "kind and listKind may not be the same")],
        id="crd-list-kind",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.versions[0].subresources.scale.specReplicasPath", ".status.replicas")),
        [
            (
                INVALID,
                "spec.versions[0].subresources.scale.specReplicasPath",
                "should be a json path under .spec",
            )
        ],
        id="crd-scale-path",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.versions[0].additionalPrinterColumns[0].type", "float")),
        [
            (
                INVALID,
                "spec.versions[0].additionalPrinterColumns[0].type",
                "must be one of boolean,date,integer,number,string",
            )
        ],
        id="crd-printer-column-type",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.conversion", {"strategy": "Webhook"})),
        [
            (REQUIRED, "spec.conversion.webhookClientConfig", "required when strategy is set to Webhook"),
            (REQUIRED, "spec.conversion.conversionReviewVersions", ""),
        ],
        id="crd-conversion-webhook",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.group", "widgets.k8s.io"), ("metadata.name", "widgets.widgets.k8s.io")),
        [
            (
                REQUIRED,
                "metadata.annotations[api-approved.kubernetes.io]",
                'protected groups must have approval annotation "api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111',
            )
        ],
        id="crd-protected-group",
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("status.storedVersions", [])),
        [(INVALID, "status.storedVersions", "must have at least one stored version")],
        id="crd-stored-versions",
    ),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), CASES)
def test_api_group_create_rule(
    kind: str, mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run(kind, mutate) == expected


UPDATE_CASES = [
    pytest.param(
        "RoleBinding",
        e(("roleRef.name", "other")),
        [(INVALID, "roleRef", "cannot change roleRef")],
        id="role-ref-immutable",
    ),
    pytest.param(
        "PriorityClass",
        e(("value", 5)),
        [(FORBIDDEN, "value", "may not be changed in an update.")],
        id="priority-value",
    ),
    pytest.param(
        "StorageClass",
        e(("parameters.nodePath", "/x")),
        [(FORBIDDEN, "parameters", "updates to parameters are forbidden.")],
        id="storage-parameters",
    ),
    pytest.param(
        "RuntimeClass",
        e(("handler", "crun")),
        [(INVALID, "handler", "field is immutable")],
        id="runtime-handler",
    ),
    pytest.param(
        "IngressClass",
        e(("spec.controller", "example.com/other")),
        [(INVALID, "spec.controller", "field is immutable")],
        id="ingress-class-controller",
    ),
    pytest.param(
        "EndpointSlice",
        e(("addressType", "IPv6"), ("endpoints[0].addresses", ["fd00::5"])),
        [(INVALID, "addressType", "field is immutable")],
        id="slice-address-type",
    ),
    pytest.param(
        "events.Event", e(("note", "changed")), [(INVALID, "message", "field is immutable")], id="event-note"
    ),
    pytest.param(
        "CustomResourceDefinition",
        e(("spec.group", "example.org"), ("metadata.name", "widgets.example.org")),
        [(INVALID, "metadata.name", "field is immutable"), (INVALID, "spec.group", "field is immutable")],
        id="crd-group",
    ),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), UPDATE_CASES)
def test_api_group_update_rule(
    kind: str, mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    old = stored(BUILDERS[kind]())
    new = stored(BUILDERS[kind]())
    mutate(new)
    assert errors_of(kind, new, old) == expected


def test_established_crd_kind_is_immutable() -> None:
    old = edit(
        stored(BUILDERS["CustomResourceDefinition"]()),
        "status.conditions",
        [{"type": "Established", "status": "True"}],
    )
    new = edit(stored(BUILDERS["CustomResourceDefinition"]()), "spec.names.kind", "Gizmo")
    new["spec"]["names"]["listKind"] = "GizmoList"
    assert errors_of("CustomResourceDefinition", new, old) == [
        (INVALID, "spec.names.kind", "field is immutable")
    ]


def test_hpa_v1_target_cpu() -> None:
    from kijabi.machinery.validation import validate

    obj = {
        "apiVersion": "autoscaling/v1",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "targetCPUUtilizationPercentage": 0,
        },
    }
    errs = validate("autoscaling", "v1", "HorizontalPodAutoscaler", obj, None, namespaced=True)
    assert [(x.type, x.field, x.detail) for x in errs] == [
        (INVALID, "spec.metrics[0].resource.target.averageUtilization", "must be greater than 0")
    ]
