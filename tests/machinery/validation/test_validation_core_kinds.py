"""Other core kinds: ConfigMap, Secret, Namespace, Node, Endpoints, Event, PersistentVolume and
PersistentVolumeClaim — their create rules and immutable fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.machinery.validation.validation_messages import (
    CONFIG_KEY,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    PORT_RANGE,
)
from tests.machinery.validation.validation_objects import BUILDERS, DELETE, edit, errors_of, run, stored

INVALID, REQUIRED, FORBIDDEN, TOO_LONG = (
    "FieldValueInvalid",
    "FieldValueRequired",
    "FieldValueForbidden",
    "FieldValueTooLong",
)
DUPLICATE, UNSUPPORTED = "FieldValueDuplicate", "FieldValueNotSupported"


def e(*pairs: tuple[str, Any]) -> Callable[[dict[str, Any]], None]:
    def apply(obj: dict[str, Any]) -> None:
        for path, value in pairs:
            edit(obj, path, value)

    return apply


CASES = [
    # ConfigMap
    pytest.param(
        "ConfigMap", e(("data", {"a b": "x"})), [(INVALID, "data[a b]", CONFIG_KEY)], id="configmap-key"
    ),
    pytest.param(
        "ConfigMap",
        e(("data", {"..x": "x"})),
        [(INVALID, "data[..x]", "must not start with '..'")],
        id="configmap-key-dotdot",
    ),
    pytest.param(
        "ConfigMap",
        e(("data", {"blob.bin": "x"})),
        [(INVALID, "data[blob.bin]", "duplicate of key present in binaryData")],
        id="configmap-key-in-both",
    ),
    pytest.param(
        "ConfigMap",
        e(("data", {"big": "x" * (1024 * 1024 + 1)})),
        [(TOO_LONG, "", "may not be more than 1048576 bytes")],
        id="configmap-size",
    ),
    # Secret
    pytest.param(
        "Secret", e(("data", {"a/b": "eA=="})), [(INVALID, "data[a/b]", CONFIG_KEY)], id="secret-key"
    ),
    pytest.param(
        "Secret",
        e(("type", "kubernetes.io/tls"), ("data", {"tls.crt": "eA=="})),
        [(REQUIRED, "data[tls.key]", "")],
        id="secret-tls-key",
    ),
    pytest.param(
        "Secret",
        e(("type", "kubernetes.io/dockerconfigjson"), ("data", {".dockerconfigjson": "W10="})),
        [
            (
                INVALID,
                "data[.dockerconfigjson]",
                "json: cannot unmarshal array into Go value of type map[string]interface {}",
            )
        ],
        id="secret-docker-config-not-object",
    ),
    pytest.param(
        "Secret",
        e(("type", "kubernetes.io/basic-auth"), ("data", {})),
        [(REQUIRED, "data[username]", ""), (REQUIRED, "data[password]", "")],
        id="secret-basic-auth",
    ),
    pytest.param(
        "Secret",
        e(("type", "kubernetes.io/service-account-token")),
        [(REQUIRED, "metadata.annotations[kubernetes.io/service-account.name]", "")],
        id="secret-sa-token",
    ),
    pytest.param(
        "Secret",
        e(("stringData", {"user name": "x"})),
        [(INVALID, "data[user name]", CONFIG_KEY)],
        id="secret-string-data-key",
    ),
    # Namespace
    pytest.param(
        "Namespace",
        e(("spec.finalizers", ["custom"])),
        [(INVALID, "spec.finalizers", "name is neither a standard finalizer name nor is it fully qualified")],
        id="namespace-finalizer",
    ),
    # Node
    pytest.param(
        "Node",
        e(("spec.taints", [{"key": "a", "effect": "NoSchedule"}, {"key": "a", "effect": "NoSchedule"}])),
        [(DUPLICATE, "metadata.taints[1]", "taints must be unique by key and effect pair")],
        id="node-taints-duplicate",
    ),
    pytest.param(
        "Node",
        e(("spec.taints", [{"key": "a", "effect": ""}])),
        [(REQUIRED, "metadata.taints[0].effect", "")],
        id="node-taint-effect",
    ),
    pytest.param(
        "Node",
        e(("spec.podCIDRs", ["10.42.0.0/24", "10.43.0.0/24"])),
        [(INVALID, "spec.podCIDRs", "may specify no more than one CIDR for each IP family")],
        id="node-pod-cidrs-family",
    ),
    pytest.param(
        "Node",
        e(("spec.podCIDRs", ["10.42.0.0"])),
        [(INVALID, "spec.podCIDRs[0]", "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")],
        id="node-pod-cidr-format",
    ),
    pytest.param(
        "Node",
        e(("status.capacity.pods", "1500m")),
        [(INVALID, "status.capacity.pods", "must be an integer")],
        id="node-capacity-integer",
    ),
    # ServiceAccount and Endpoints
    pytest.param(
        "ServiceAccount",
        e(("metadata.name", "Builder")),
        [(INVALID, "metadata.name", DNS1123_SUBDOMAIN)],
        id="sa-name",
    ),
    pytest.param(
        "Endpoints",
        e(("subsets[0].addresses", [])),
        [(REQUIRED, "subsets[0]", "must specify `addresses` or `notReadyAddresses`")],
        id="endpoints-no-addresses",
    ),
    pytest.param(
        "Endpoints",
        e(("subsets[0].addresses[0].ip", "127.0.0.1")),
        [(INVALID, "subsets[0].addresses[0].ip", "may not be in the loopback range (127.0.0.0/8, ::1/128)")],
        id="endpoints-loopback",
    ),
    pytest.param(
        "Endpoints",
        e(("subsets[0].ports[0].port", 0)),
        [(INVALID, "subsets[0].ports[0].port", PORT_RANGE)],
        id="endpoints-port",
    ),
    # core/v1 Event: only the legacy rules
    pytest.param(
        "Event",
        e(("involvedObject.namespace", "other")),
        [(INVALID, "involvedObject.namespace", "does not match event.namespace")],
        id="event-namespace-mismatch",
    ),
    pytest.param(
        "Event",
        e(("eventTime", "2025-01-01T00:00:00.000000Z")),
        [
            (REQUIRED, "reportingComponent", ""),
            (INVALID, "reportingComponent", "name part must be non-empty"),
            (
                INVALID,
                "reportingComponent",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            ),
            (REQUIRED, "reportingInstance", ""),
            (REQUIRED, "action", ""),
        ],
        id="event-with-event-time-needs-reporting-fields",
    ),
    # PersistentVolume
    pytest.param(
        "PersistentVolume",
        e(("spec.accessModes", [])),
        [(REQUIRED, "spec.accessModes", "")],
        id="pv-access-modes",
    ),
    pytest.param(
        "PersistentVolume",
        e(("spec.accessModes", ["ReadWriteOncePod", "ReadWriteOnce"])),
        [(FORBIDDEN, "spec.accessModes", "may not use ReadWriteOncePod with other access modes")],
        id="pv-rwop-mixed",
    ),
    pytest.param(
        "PersistentVolume",
        e(("spec.capacity", {"storage": "0"})),
        [(INVALID, "spec.capacity[storage]", "must be greater than zero")],
        id="pv-capacity-zero",
    ),
    pytest.param(
        "PersistentVolume",
        e(("spec.hostPath", DELETE)),
        [(REQUIRED, "spec", "must specify a volume type")],
        id="pv-no-source",
    ),
    pytest.param(
        "PersistentVolume",
        e(("spec.nfs", {"server": "nfs", "path": "/x"})),
        [(FORBIDDEN, "spec.nfs", "may not specify more than 1 volume type")],
        id="pv-two-sources",
    ),
    pytest.param(
        "PersistentVolume",
        e(("spec.persistentVolumeReclaimPolicy", "Keep")),
        [
            (
                UNSUPPORTED,
                "spec.persistentVolumeReclaimPolicy",
                'supported values: "Delete", "Recycle", "Retain"',
            )
        ],
        id="pv-reclaim-policy",
    ),
    pytest.param(
        "PersistentVolume",
        e(("spec.hostPath", DELETE), ("spec.local", {"path": "/mnt/disk"})),
        [(REQUIRED, "spec.nodeAffinity", "Local volume requires node affinity")],
        id="pv-local-needs-affinity",
    ),
    # PersistentVolumeClaim
    pytest.param(
        "PersistentVolumeClaim",
        e(("spec.accessModes", [])),
        [(REQUIRED, "spec.accessModes", "at least 1 access mode is required")],
        id="pvc-access-modes",
    ),
    pytest.param(
        "PersistentVolumeClaim",
        e(("spec.resources.requests", {})),
        [(REQUIRED, "spec.resources[storage]", "")],
        id="pvc-storage-required",
    ),
    pytest.param(
        "PersistentVolumeClaim",
        e(("spec.volumeMode", "Raw")),
        [(UNSUPPORTED, "spec.volumeMode", 'supported values: "Block", "Filesystem"')],
        id="pvc-volume-mode",
    ),
    pytest.param(
        "PersistentVolumeClaim",
        e(("spec.dataSource", {"kind": "Snapshot", "name": "s"})),
        [
            (
                INVALID,
                "spec.dataSource",
                "must be 'PersistentVolumeClaim' when referencing the default apiGroup",
            )
        ],
        id="pvc-data-source",
    ),
]


@pytest.mark.parametrize(("kind", "mutate", "expected"), CASES)
def test_core_kind_create_rule(
    kind: str, mutate: Callable[[dict[str, Any]], None], expected: list[tuple[str, str, str]]
) -> None:
    assert run(kind, mutate) == expected


def test_immutable_config_map_cannot_change() -> None:
    old = edit(stored(BUILDERS["ConfigMap"]()), "immutable", True)
    new = edit(edit(stored(BUILDERS["ConfigMap"]()), "immutable", True), "data.KEY_1", "changed")
    assert errors_of("ConfigMap", new, old) == [
        (FORBIDDEN, "data", "field is immutable when `immutable` is set")
    ]
    unset = stored(BUILDERS["ConfigMap"]())
    assert errors_of("ConfigMap", unset, old) == [
        (FORBIDDEN, "immutable", "field is immutable when `immutable` is set")
    ]


def test_secret_type_is_immutable() -> None:
    old = stored(BUILDERS["Secret"]())
    new = edit(stored(BUILDERS["Secret"]()), "type", "example.com/custom")
    assert errors_of("Secret", new, old) == [(INVALID, "type", "field is immutable")]


def test_node_pod_cidr_and_provider_id_are_set_once() -> None:
    old = edit(stored(BUILDERS["Node"]()), "spec.providerID", "k3s://node-1")
    new = edit(
        edit(stored(BUILDERS["Node"]()), "spec.providerID", "k3s://node-2"), "spec.podCIDRs", ["10.42.1.0/24"]
    )
    assert errors_of("Node", new, old) == [
        (FORBIDDEN, "spec.podCIDRs", 'node updates may not change podCIDR except from "" to valid'),
        (FORBIDDEN, "spec.providerID", 'node updates may not change providerID except from "" to valid'),
    ]


def test_pv_source_is_immutable() -> None:
    old = stored(BUILDERS["PersistentVolume"]())
    new = edit(stored(BUILDERS["PersistentVolume"]()), "spec.hostPath.path", "/srv/other")
    errs = errors_of("PersistentVolume", new, old)
    assert len(errs) == 1
    kind, field, detail = errs[0]
    assert (kind, field) == (FORBIDDEN, "spec.persistentvolumesource")
    assert detail.startswith("spec.persistentvolumesource is immutable after creation\n")


def test_pvc_spec_is_immutable_except_bound_storage_growth() -> None:
    old = stored(BUILDERS["PersistentVolumeClaim"]())
    grown = edit(
        edit(stored(BUILDERS["PersistentVolumeClaim"]()), "spec.resources.requests.storage", "2Gi"),
        "status.phase",
        "Bound",
    )
    shrunk = edit(
        edit(stored(BUILDERS["PersistentVolumeClaim"]()), "spec.resources.requests.storage", "512Mi"),
        "status.phase",
        "Bound",
    )
    pending_grown = edit(
        stored(BUILDERS["PersistentVolumeClaim"]()), "spec.resources.requests.storage", "2Gi"
    )
    assert errors_of("PersistentVolumeClaim", grown, old) == []
    assert errors_of("PersistentVolumeClaim", shrunk, old) == [
        (FORBIDDEN, "spec.resources.requests.storage", "field can not be less than previous value")
    ]
    errs = errors_of("PersistentVolumeClaim", pending_grown, old)
    assert [(t, f) for t, f, _ in errs] == [(FORBIDDEN, "spec")]
    assert errs[0][2].startswith(
        "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims\n"
    )


def test_pvc_may_be_bound_to_a_volume() -> None:
    old = stored(BUILDERS["PersistentVolumeClaim"]())
    new = edit(stored(BUILDERS["PersistentVolumeClaim"]()), "spec.volumeName", "pv-1")
    assert errors_of("PersistentVolumeClaim", new, old) == []


def test_namespace_name_must_be_a_label() -> None:
    assert run("Namespace", e(("metadata.name", "Team"))) == [(INVALID, "metadata.name", DNS1123_LABEL)]
