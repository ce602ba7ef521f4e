"""Pod create rules: containers, ports, env, volumes and mounts, resources, probes, policies,
security contexts and scheduling constraints. Each case breaks one rule of a valid pod and pins
the exact (type, field, detail) upstream reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_messages import (
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    NEGATIVE,
    PORT_RANGE,
    QUALIFIED_NAME_PART,
)
from tests.machinery.validation.validation_objects import DELETE, container, edit, run

INVALID, REQUIRED, FORBIDDEN = "FieldValueInvalid", "FieldValueRequired", "FieldValueForbidden"
DUPLICATE, UNSUPPORTED, NOT_FOUND = "FieldValueDuplicate", "FieldValueNotSupported", "FieldValueNotFound"
C0 = "spec.containers[0]"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A mutation applying several (path, value) edits."""

    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


def probe(**handler: Any) -> dict[str, Any]:
    return {**handler, "timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}


CASES = [
    # containers
    pytest.param(e(("spec.containers", [])), [(REQUIRED, "spec.containers", "")], id="containers-required"),
    pytest.param(
        e((f"{C0}.name", "App")), [(INVALID, f"{C0}.name", DNS1123_LABEL)], id="container-name-label"
    ),
    pytest.param(e((f"{C0}.name", "")), [(REQUIRED, f"{C0}.name", "")], id="container-name-required"),
    pytest.param(
        e(("spec.containers[1]", container("app"))),
        [(DUPLICATE, "spec.containers[1].name", "")],
        id="container-name-duplicate",
    ),
    pytest.param(
        e(("spec.initContainers", [container("app")])),
        [(DUPLICATE, "spec.initContainers[0].name", "")],
        id="init-container-name-clashes-with-container",
    ),
    pytest.param(e((f"{C0}.image", "")), [(REQUIRED, f"{C0}.image", "")], id="image-required"),
    pytest.param(
        e((f"{C0}.image", " nginx")),
        [(INVALID, f"{C0}.image", "must not have leading or trailing whitespace")],
        id="image-whitespace",
    ),
    pytest.param(
        e((f"{C0}.imagePullPolicy", "Sometimes")),
        [(UNSUPPORTED, f"{C0}.imagePullPolicy", 'supported values: "Always", "IfNotPresent", "Never"')],
        id="pull-policy",
    ),
    pytest.param(
        e((f"{C0}.terminationMessagePolicy", "Logs")),
        [
            (
                UNSUPPORTED,
                f"{C0}.terminationMessagePolicy",
                'supported values: "File", "FallbackToLogsOnError"',
            )
        ],
        id="termination-message-policy",
    ),
    # ports
    pytest.param(
        e((f"{C0}.ports", [{"containerPort": 70000, "protocol": "TCP"}])),
        [(INVALID, f"{C0}.ports[0].containerPort", PORT_RANGE)],
        id="container-port-range",
    ),
    pytest.param(
        e((f"{C0}.ports", [{"containerPort": 0, "protocol": "TCP"}])),
        [(REQUIRED, f"{C0}.ports[0].containerPort", "")],
        id="container-port-required",
    ),
    pytest.param(
        e((f"{C0}.ports", [{"containerPort": 80, "hostPort": 65536, "protocol": "TCP"}])),
        [(INVALID, f"{C0}.ports[0].hostPort", PORT_RANGE)],
        id="host-port-range",
    ),
    pytest.param(
        e((f"{C0}.ports", [{"containerPort": 80, "protocol": "HTTP"}])),
        [(UNSUPPORTED, f"{C0}.ports[0].protocol", 'supported values: "SCTP", "TCP", "UDP"')],
        id="port-protocol",
    ),
    pytest.param(
        e(
            (
                f"{C0}.ports",
                [
                    {"name": "http", "containerPort": 80, "protocol": "TCP"},
                    {"name": "http", "containerPort": 81, "protocol": "TCP"},
                ],
            )
        ),
        [(DUPLICATE, f"{C0}.ports[1].name", "")],
        id="port-name-duplicate",
    ),
    pytest.param(
        e((f"{C0}.ports", [{"name": "HTTP", "containerPort": 80, "protocol": "TCP"}])),
        [
            (
                INVALID,
                f"{C0}.ports[0].name",
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            ),
            (INVALID, f"{C0}.ports[0].name", "must contain at least one letter (a-z)"),
        ],
        id="port-name-format",
    ),
    pytest.param(
        e(
            (f"{C0}.ports", [{"containerPort": 80, "hostPort": 8080, "protocol": "TCP"}]),
            (
                "spec.containers[1]",
                {**container("side"), "ports": [{"containerPort": 81, "hostPort": 8080, "protocol": "TCP"}]},
            ),
        ),
        [(DUPLICATE, "spec.containers[1].ports[0].hostPort", "")],
        id="host-port-conflict",
    ),
    pytest.param(
        e(
            ("spec.hostNetwork", True),
            (f"{C0}.ports", [{"containerPort": 80, "hostPort": 81, "protocol": "TCP"}]),
        ),
        [(INVALID, f"{C0}.ports[0].hostPort", "must match `containerPort` when `hostNetwork` is true")],
        id="host-network-port-mismatch",
    ),
    # env
    pytest.param(
        e((f"{C0}.env", [{"name": "", "value": "x"}])),
        [(REQUIRED, f"{C0}.env[0].name", "")],
        id="env-name-required",
    ),
    pytest.param(
        e((f"{C0}.env", [{"name": "A=B"}])),
        [
            (
                INVALID,
                f"{C0}.env[0].name",
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            )
        ],
        id="env-name-equals",
    ),
    pytest.param(
        e((f"{C0}.env", [{"name": "A", "valueFrom": {}}])),
        [
            (
                INVALID,
                f"{C0}.env[0].valueFrom",
                "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
            )
        ],
        id="env-value-from-empty",
    ),
    pytest.param(
        e(
            (
                f"{C0}.env",
                [{"name": "A", "value": "x", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
            )
        ),
        [(INVALID, f"{C0}.env[0].valueFrom", "may not be specified when `value` is not empty")],
        id="env-value-and-value-from",
    ),
    pytest.param(
        e(
            (
                f"{C0}.env",
                [
                    {
                        "name": "A",
                        "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "spec.restartPolicy"}},
                    }
                ],
            )
        ),
        [
            (
                UNSUPPORTED,
                f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
                'supported values: "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName", '
                '"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"',
            )
        ],
        id="env-field-ref-unsupported",
    ),
    pytest.param(
        e(
            (
                f"{C0}.env",
                [{"name": "A", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.nope"}}}],
            )
        ),
        [
            (
                INVALID,
                f"{C0}.env[0].valueFrom.fieldRef.fieldPath",
                "error converting fieldPath: field label not supported: status.nope",
            )
        ],
        id="env-field-ref-unknown",
    ),
    pytest.param(
        e((f"{C0}.env", [{"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a b"}}}])),
        [
            (
                INVALID,
                f"{C0}.env[0].valueFrom.configMapKeyRef.key",
                "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or "
                "'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')",
            )
        ],
        id="env-config-map-key",
    ),
    pytest.param(
        e((f"{C0}.envFrom", [{}])),
        [(INVALID, f"{C0}.envFrom", "must specify one of: `configMapRef` or `secretRef`")],
        id="env-from-empty",
    ),
    # volumes and mounts
    pytest.param(
        e(("spec.volumes", [{"name": "data"}])),
        [(REQUIRED, "spec.volumes[0]", "must specify a volume type")],
        id="volume-without-source",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "data", "emptyDir": {}, "hostPath": {"path": "/x"}}])),
        [(FORBIDDEN, "spec.volumes[0].hostPath", "may not specify more than 1 volume type")],
        id="volume-two-sources",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "data", "emptyDir": {}}, {"name": "data", "emptyDir": {}}])),
        [(DUPLICATE, "spec.volumes[1].name", "")],
        id="volume-name-duplicate",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "Data", "emptyDir": {}}])),
        [(INVALID, "spec.volumes[0].name", DNS1123_LABEL)],
        id="volume-name-label",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "s", "secret": {"defaultMode": 1000}}])),
        [
            (REQUIRED, "spec.volumes[0].secret.secretName", ""),
            (
                INVALID,
                "spec.volumes[0].secret.defaultMode",
                "must be a number between 0 and 0777 (octal), both inclusive",
            ),
        ],
        id="secret-volume",
    ),
    pytest.param(
        e(
            (
                "spec.volumes",
                [{"name": "c", "configMap": {"name": "cfg", "items": [{"key": "k", "path": "../x"}]}}],
            )
        ),
        [(INVALID, "spec.volumes[0].configMap.items[0].path", "must not contain '..'")],
        id="config-map-item-backsteps",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "h", "hostPath": {"path": "/a/../b", "type": "Folder"}}])),
        [
            (INVALID, "spec.volumes[0].hostPath.path", "must not contain '..'"),
            (
                UNSUPPORTED,
                "spec.volumes[0].hostPath.type",
                'supported values: "", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File", "FileOrCreate", "Socket"',
            ),
        ],
        id="host-path",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "d", "downwardAPI": {"items": [{"path": "labels"}]}}])),
        [(REQUIRED, "spec.volumes[0].downwardAPI", "one of fieldRef and resourceFieldRef is required")],
        id="downward-api-item-source",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "c", "persistentVolumeClaim": {}}])),
        [(REQUIRED, "spec.volumes[0].persistentVolumeClaim.claimName", "")],
        id="pvc-claim-name",
    ),
    pytest.param(
        e(("spec.volumes", [{"name": "n", "nfs": {"server": "nfs", "path": "exports"}}])),
        [(INVALID, "spec.volumes[0].nfs.path", "must be an absolute path")],
        id="nfs-relative",
    ),
    pytest.param(
        e(
            (
                "spec.volumes",
                [
                    {
                        "name": "p",
                        "projected": {
                            "sources": [
                                {"configMap": {"name": "a", "items": [{"key": "k", "path": "x"}]}},
                                {"secret": {"name": "b", "items": [{"key": "k", "path": "x"}]}},
                            ]
                        },
                    }
                ],
            )
        ),
        [(INVALID, "spec.volumes[0].projected", "conflicting duplicate paths")],
        id="projected-duplicate-paths",
    ),
    pytest.param(
        e(
            ("spec.serviceAccountName", ""),
            (
                "spec.volumes",
                [
                    {
                        "name": "t",
                        "projected": {
                            "sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]
                        },
                    }
                ],
            ),
        ),
        [
            (
                FORBIDDEN,
                "spec.volumes[0].projected.sources[0].serviceAccountToken",
                "must not be specified when serviceAccountName is not set",
            )
        ],
        id="token-without-service-account",
    ),
    pytest.param(
        e((f"{C0}.volumeMounts", [{"name": "missing", "mountPath": "/x"}])),
        [(NOT_FOUND, f"{C0}.volumeMounts[0].name", "")],
        id="mount-volume-not-found",
    ),
    pytest.param(
        e(
            ("spec.volumes", [{"name": "d", "emptyDir": {}}]),
            (f"{C0}.volumeMounts", [{"name": "d", "mountPath": ""}]),
        ),
        [(REQUIRED, f"{C0}.volumeMounts[0].mountPath", "")],
        id="mount-path-required",
    ),
    pytest.param(
        e(
            ("spec.volumes", [{"name": "d", "emptyDir": {}}]),
            (f"{C0}.volumeMounts", [{"name": "d", "mountPath": "/x"}, {"name": "d", "mountPath": "/x"}]),
        ),
        [(INVALID, f"{C0}.volumeMounts[1].mountPath", "must be unique")],
        id="mount-path-unique",
    ),
    pytest.param(
        e(
            ("spec.volumes", [{"name": "d", "emptyDir": {}}]),
            (f"{C0}.volumeMounts", [{"name": "d", "mountPath": "/x", "subPath": "/abs"}]),
        ),
        [(INVALID, f"{C0}.volumeMounts.subPath", "must be a relative path")],
        id="mount-sub-path-absolute",
    ),
    pytest.param(
        e(
            ("spec.volumes", [{"name": "d", "emptyDir": {}}]),
            (f"{C0}.volumeMounts", [{"name": "d", "mountPath": "/x", "mountPropagation": "Bidirectional"}]),
        ),
        [
            (
                FORBIDDEN,
                f"{C0}.volumeMounts.mountPropagation",
                "Bidirectional mount propagation is available only to privileged containers",
            )
        ],
        id="mount-propagation-unprivileged",
    ),
    # resources
    pytest.param(
        e((f"{C0}.resources", {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})),
        [(INVALID, f"{C0}.resources.requests", "must be less than or equal to cpu limit of 1")],
        id="request-above-limit",
    ),
    pytest.param(
        e((f"{C0}.resources", {"requests": {"memory": "1536Mi"}, "limits": {"memory": "1Gi"}})),
        [(INVALID, f"{C0}.resources.requests", "must be less than or equal to memory limit of 1Gi")],
        id="request-above-limit-binary",
    ),
    pytest.param(
        e((f"{C0}.resources", {"limits": {"cpu": "-1"}})),
        [(INVALID, f"{C0}.resources.limits[cpu]", NEGATIVE)],
        id="negative-limit",
    ),
    pytest.param(
        e(
            (
                f"{C0}.resources",
                {"requests": {"cpu": "100m", "hugepages-2Mi": "2Mi"}, "limits": {"hugepages-2Mi": "4Mi"}},
            )
        ),
        [(INVALID, f"{C0}.resources.requests", "must be equal to hugepages-2Mi limit of 4Mi")],
        id="hugepages-request-equals-limit",
    ),
    pytest.param(
        e((f"{C0}.resources", {"requests": {"example.com/gpu": "1"}})),
        [(REQUIRED, f"{C0}.resources.limits", "Limit must be set for non overcommitable resources")],
        id="extended-resource-needs-limit",
    ),
    pytest.param(
        e(
            (
                f"{C0}.resources",
                {"requests": {"example.com/gpu": "500m"}, "limits": {"example.com/gpu": "500m"}},
            )
        ),
        [
            (INVALID, f"{C0}.resources.limits[example.com/gpu]", "must be an integer"),
            (INVALID, f"{C0}.resources.requests[example.com/gpu]", "must be an integer"),
        ],
        id="extended-resource-integer",
    ),
    pytest.param(
        e((f"{C0}.resources", {"limits": {"gpu": "1"}})),
        [
            (INVALID, f"{C0}.resources.limits[gpu]", "must be a standard resource type or fully qualified"),
            (INVALID, f"{C0}.resources.limits[gpu]", "must be a standard resource for containers"),
        ],
        id="resource-name",
    ),
    pytest.param(
        e((f"{C0}.resources", {"limits": {"hugepages-2Mi": "2Mi"}})),
        [(FORBIDDEN, f"{C0}.resources", "HugePages require cpu or memory")],
        id="hugepages-without-cpu-memory",
    ),
    # probes and lifecycle
    pytest.param(
        e((f"{C0}.livenessProbe", probe())),
        [(REQUIRED, f"{C0}.livenessProbe", "must specify a handler type")],
        id="probe-without-handler",
    ),
    pytest.param(
        e((f"{C0}.livenessProbe", probe(exec={"command": ["true"]}, tcpSocket={"port": 80}))),
        [(FORBIDDEN, f"{C0}.livenessProbe.tcpSocket", "may not specify more than 1 handler type")],
        id="probe-two-handlers",
    ),
    pytest.param(
        e((f"{C0}.livenessProbe", {**probe(tcpSocket={"port": 80}), "successThreshold": 2})),
        [(INVALID, f"{C0}.livenessProbe.successThreshold", "must be 1")],
        id="liveness-success-threshold",
    ),
    pytest.param(
        e((f"{C0}.readinessProbe", {**probe(tcpSocket={"port": 80}), "terminationGracePeriodSeconds": 5})),
        [
            (
                INVALID,
                f"{C0}.readinessProbe.terminationGracePeriodSeconds",
                "must not be set for readinessProbes",
            )
        ],
        id="readiness-grace-period",
    ),
    pytest.param(
        e(
            (
                f"{C0}.startupProbe",
                {**probe(httpGet={"path": "/", "port": 0, "scheme": "HTTP"}), "initialDelaySeconds": -1},
            )
        ),
        [
            (INVALID, f"{C0}.startupProbe.httpGet.port", PORT_RANGE),
            (INVALID, f"{C0}.startupProbe.initialDelaySeconds", NEGATIVE),
        ],
        id="startup-probe-port-and-delay",
    ),
    pytest.param(
        e((f"{C0}.lifecycle", {"preStop": {"sleep": {"seconds": 60}}})),
        [
            (
                INVALID,
                f"{C0}.lifecycle.preStop.sleep",
                "must be greater than 0 and less than terminationGracePeriodSeconds (30)",
            )
        ],
        id="pre-stop-sleep",
    ),
    pytest.param(
        e(
            (
                "spec.initContainers",
                [{**container("init"), "readinessProbe": probe(exec={"command": ["true"]})}],
            )
        ),
        [
            (
                FORBIDDEN,
                "spec.initContainers[0].readinessProbe",
                "may not be set for init containers without restartPolicy=Always",
            )
        ],
        id="init-container-probe",
    ),
    pytest.param(
        e(
            (
                "spec.initContainers",
                [
                    {
                        **container("init"),
                        "restartPolicy": "Always",
                        "readinessProbe": probe(exec={"command": ["true"]}),
                    }
                ],
            )
        ),
        [],
        id="sidecar-probe-ok",
    ),
    pytest.param(
        e((f"{C0}.restartPolicy", "Always")),
        [(FORBIDDEN, f"{C0}.restartPolicy", "may not be set for non-init containers")],
        id="container-restart-policy",
    ),
    # pod-level fields
    pytest.param(
        e(("spec.restartPolicy", "Sometimes")),
        [(UNSUPPORTED, "spec.restartPolicy", 'supported values: "Always", "OnFailure", "Never"')],
        id="restart-policy",
    ),
    pytest.param(
        e(("spec.dnsPolicy", "Cluster")),
        [
            (
                UNSUPPORTED,
                "spec.dnsPolicy",
                'supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"',
            )
        ],
        id="dns-policy",
    ),
    pytest.param(
        e(("spec.dnsPolicy", "None")),
        [(REQUIRED, "spec.dnsConfig", "must provide `dnsConfig` when `dnsPolicy` is None")],
        id="dns-none-needs-config",
    ),
    pytest.param(
        e(("spec.terminationGracePeriodSeconds", DELETE)),
        [(REQUIRED, "spec.terminationGracePeriodSeconds", "")],
        id="grace-period-required",
    ),
    pytest.param(
        e(("spec.activeDeadlineSeconds", 0)),
        [(INVALID, "spec.activeDeadlineSeconds", "must be between 1 and 2147483647, inclusive")],
        id="active-deadline",
    ),
    pytest.param(
        e(("spec.serviceAccountName", "Builder")),
        [(INVALID, "spec.serviceAccountName", DNS1123_SUBDOMAIN)],
        id="service-account-name",
    ),
    pytest.param(
        e(("spec.hostname", "web.1")), [(INVALID, "spec.hostname", "must not contain dots")], id="hostname"
    ),
    pytest.param(
        e(("spec.nodeSelector", {"a b": "x"})),
        [(INVALID, "spec.nodeSelector", QUALIFIED_NAME_PART)],
        id="node-selector",
    ),
    pytest.param(
        e(("spec.imagePullSecrets", [{"name": "regcred", "namespace": "x"}])),
        [(INVALID, "spec.imagePullSecrets[0]", "only name may be set")],
        id="image-pull-secret-extra-field",
    ),
    pytest.param(
        e(
            (
                "spec.securityContext",
                {"runAsUser": -1, "sysctls": [{"name": "net.ipv4.ip_forward", "value": "1"}]},
            ),
            ("spec.hostNetwork", True),
        ),
        [
            (INVALID, "spec.securityContext.runAsUser", "must be between 0 and 2147483647, inclusive"),
            (
                INVALID,
                "spec.securityContext.sysctls[0].name",
                "may not be specified when 'hostNetwork' is true",
            ),
        ],
        id="pod-security-context",
    ),
    pytest.param(
        e((f"{C0}.securityContext", {"privileged": True, "allowPrivilegeEscalation": False})),
        [
            (
                INVALID,
                f"{C0}.securityContext",
                "cannot set `allowPrivilegeEscalation` to false and `privileged` to true",
            )
        ],
        id="container-security-context",
    ),
    pytest.param(
        e((f"{C0}.securityContext", {"seccompProfile": {"type": "Localhost"}})),
        [
            (
                REQUIRED,
                f"{C0}.securityContext.seccompProfile.localhostProfile",
                "must be set when seccomp type is Localhost",
            )
        ],
        id="seccomp-localhost",
    ),
    pytest.param(
        e(("spec.tolerations", [{"operator": "Equal", "value": "x"}])),
        [
            (
                INVALID,
                "spec.tolerations[0].operator",
                'operator must be Exists when `key` is empty, which means "match all values and all keys"',
            )
        ],
        id="toleration-empty-key",
    ),
    pytest.param(
        e(
            (
                "spec.tolerations",
                [{"key": "k", "operator": "Equal", "effect": "NoSchedule", "tolerationSeconds": 5}],
            )
        ),
        [
            (
                INVALID,
                "spec.tolerations[0].effect",
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        ],
        id="toleration-seconds-effect",
    ),
    pytest.param(
        e(("spec.tolerations", [{"key": "k", "operator": "Equal", "effect": "Never"}])),
        [
            (
                UNSUPPORTED,
                "spec.tolerations[0].effect",
                'supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"',
            )
        ],
        id="toleration-effect",
    ),
    pytest.param(
        e(
            (
                "spec.affinity",
                {
                    "nodeAffinity": {
                        "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": []}
                    }
                },
            )
        ),
        [
            (
                REQUIRED,
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
                "must have at least one node selector term",
            )
        ],
        id="node-affinity-terms",
    ),
    pytest.param(
        e(
            (
                "spec.affinity",
                {
                    "podAntiAffinity": {
                        "preferredDuringSchedulingIgnoredDuringExecution": [
                            {"weight": 0, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname"}}
                        ]
                    }
                },
            )
        ),
        [
            (
                INVALID,
                "spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight",
                "must be in the range 1-100",
            )
        ],
        id="pod-anti-affinity-weight",
    ),
    pytest.param(
        e(
            (
                "spec.topologySpreadConstraints",
                [{"maxSkew": 0, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
            )
        ),
        [(INVALID, "spec.topologySpreadConstraints[0].maxSkew", "must be greater than zero")],
        id="topology-spread-skew",
    ),
    pytest.param(
        e(("spec.schedulingGates", [{"name": "example.com/wait"}]), ("spec.nodeName", "node-1")),
        [(FORBIDDEN, "spec.nodeName", "cannot be set until all schedulingGates have been cleared")],
        id="node-name-with-gates",
    ),
    pytest.param(
        e(("spec.ephemeralContainers", [container("debug")])),
        [(FORBIDDEN, "spec.ephemeralContainers", "cannot be set on create")],
        id="ephemeral-on-create",
    ),
    pytest.param(
        e(("metadata.annotations", {"controller.kubernetes.io/pod-deletion-cost": "lots"})),
        [
            (
                INVALID,
                "metadata.annotations[controller.kubernetes.io/pod-deletion-cost]",
                "must be a 32bit integer",
            )
        ],
        id="deletion-cost-annotation",
    ),
    pytest.param(
        e(("spec.priorityClassName", "High")),
        [(INVALID, "spec.priorityClassName", DNS1123_SUBDOMAIN)],
        id="priority-class-name",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), CASES)
def test_pod_create_rule(
    mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run("Pod", mutate) == expected


def test_value_of_an_invalid_port_is_shown_as_a_number() -> None:
    from tests.machinery.validation.validation_objects import field_errors, pod

    errs = field_errors("Pod", edit(pod(), f"{C0}.ports", [{"containerPort": 70000, "protocol": "TCP"}]))
    assert (
        str(errs[0])
        == f"{C0}.ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"
    )


def test_request_message_uses_canonical_quantities() -> None:
    from tests.machinery.validation.validation_objects import field_errors, pod

    errs = field_errors(
        "Pod", edit(pod(), f"{C0}.resources", {"requests": {"cpu": "1.5"}, "limits": {"cpu": "1000m"}})
    )
    assert (
        str(errs[0])
        == f'{C0}.resources.requests: Invalid value: "1500m": must be less than or equal to cpu limit of 1'
    )
