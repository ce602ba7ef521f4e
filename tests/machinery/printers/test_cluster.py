"""Rows of networking, storage, RBAC, admission, certificates, flow control and other cluster APIs."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.printers import printer_for, table

from ._support import NOW, ago, column_names


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ago(minutes=7), **extra}


# --- networking.k8s.io ---------------------------------------------------------------------------------

INGRESSES = printer_for("networking.k8s.io", "ingresses")


@pytest.mark.parametrize(
    ("spec", "lb", "cells"),
    [
        pytest.param({}, [], ["<none>", "*", "", "80"], id="bare"),
        pytest.param(
            {
                "ingressClassName": "nginx",
                "rules": [{"host": "a.example"}, {}, {"host": "b.example"}],
                "tls": [{"hosts": ["a.example"]}],
            },
            [{"ip": "5.5.5.5"}, {"hostname": "lb.example"}, {"ip": "1.1.1.1"}],
            ["nginx", "a.example,b.example", "1.1.1.1,5.5.5.5,lb.example", "80, 443"],
            id="class-hosts-tls",
        ),
        pytest.param(
            {"rules": [{"host": h} for h in ("a", "b", "c", "d", "e")]},
            [],
            ["<none>", "a,b,c + 2 more...", "", "80"],
            id="more-hosts",
        ),
    ],
)
def test_ingress(spec: dict[str, Any], lb: list[dict[str, str]], cells: list[str]) -> None:
    """CLASS, HOSTS (three, then more), ADDRESS (sorted, unique), PORTS by TLS."""
    obj = {"metadata": meta("ing"), "spec": spec, "status": {"loadBalancer": {"ingress": lb}}}
    assert INGRESSES.cells(obj, NOW) == ["ing", *cells, "7m"]


@pytest.mark.parametrize(
    ("parameters", "text"),
    [
        pytest.param(None, "<none>", id="none"),
        pytest.param(
            {"kind": "IngressParameters", "apiGroup": "k8s.example.com", "name": "p"},
            "IngressParameters.k8s.example.com/p",
            id="with-group",
        ),
        pytest.param({"kind": "ConfigMap", "name": "p"}, "ConfigMap/p", id="core-group"),
    ],
)
def test_ingress_class(parameters: dict[str, str] | None, text: str) -> None:
    """PARAMETERS is `kind[.group]/name`."""
    spec: dict[str, Any] = {"controller": "example.com/ingress"}
    if parameters is not None:
        spec["parameters"] = parameters
    obj = {"metadata": meta("ic"), "spec": spec}
    assert printer_for("networking.k8s.io", "ingressclasses").cells(obj, NOW) == [
        "ic",
        "example.com/ingress",
        text,
        "7m",
    ]


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        pytest.param({}, "<none>", id="all-pods"),
        pytest.param(
            {
                "matchLabels": {"role": "db"},
                "matchExpressions": [{"key": "env", "operator": "NotIn", "values": ["prod", "dev"]}],
            },
            "env notin (dev,prod),role=db",
            id="sorted-by-key",
        ),
        pytest.param({"matchLabels": {"bad key!": "x"}}, "<error>", id="invalid"),
    ],
)
def test_network_policy(selector: dict[str, Any], text: str) -> None:
    """POD-SELECTOR is FormatLabelSelector: `<none>` for all pods, `<error>` when invalid."""
    obj = {"metadata": meta("np"), "spec": {"podSelector": selector}}
    assert printer_for("networking.k8s.io", "networkpolicies").cells(obj, NOW) == ["np", text, "7m"]


def test_service_cidr_and_ip_address() -> None:
    """ServiceCIDR joins its CIDRs; IPAddress prints `resource.group/ns/name` plus upstream's extra age cell."""
    cidr = {"metadata": meta("kubernetes"), "spec": {"cidrs": ["10.43.0.0/16", "fd00::/108"]}}
    assert printer_for("networking.k8s.io", "servicecidrs").cells(cidr, NOW) == [
        "kubernetes",
        "10.43.0.0/16,fd00::/108",
        "7m",
    ]
    ip_printer = printer_for("networking.k8s.io", "ipaddresses")
    assert column_names(ip_printer) == ["Name", "ParentRef"]
    ip = {
        "metadata": meta("10.43.0.1"),
        "spec": {
            "parentRef": {"group": "", "resource": "Services", "namespace": "default", "name": "kubernetes"}
        },
    }
    assert ip_printer.cells(ip, NOW) == ["10.43.0.1", "services/default/kubernetes", "7m"]
    ip["spec"]["parentRef"] = {"group": "gateway.networking.k8s.io", "resource": "gateways", "name": "gw"}
    assert ip_printer.cells(ip, NOW)[1] == "gateways.gateway.networking.k8s.io/gw"


# --- storage.k8s.io -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "cells"),
    [
        pytest.param(
            {"metadata": meta("local"), "provisioner": "rancher.io/local-path"},
            ["local", "rancher.io/local-path", "Delete", "Immediate", False, "7m"],
            id="defaults",
        ),
        pytest.param(
            {
                "metadata": meta("fast", annotations={"storageclass.kubernetes.io/is-default-class": "true"}),
                "provisioner": "csi",
                "reclaimPolicy": "Retain",
                "volumeBindingMode": "WaitForFirstConsumer",
                "allowVolumeExpansion": True,
            },
            ["fast (default)", "csi", "Retain", "WaitForFirstConsumer", True, "7m"],
            id="default-class",
        ),
        pytest.param(
            {
                "metadata": meta(
                    "old", annotations={"storageclass.beta.kubernetes.io/is-default-class": "true"}
                ),
                "provisioner": "p",
            },
            ["old (default)", "p", "Delete", "Immediate", False, "7m"],
            id="beta-default-annotation",
        ),
        pytest.param(
            {
                "metadata": meta("no", annotations={"storageclass.kubernetes.io/is-default-class": "True"}),
                "provisioner": "p",
            },
            ["no", "p", "Delete", "Immediate", False, "7m"],
            id="annotation-must-be-lowercase-true",
        ),
    ],
)
def test_storage_class(obj: dict[str, Any], cells: list[Any]) -> None:
    """`(default)` marker, reclaim/binding defaults, ALLOWVOLUMEEXPANSION a boolean cell."""
    assert printer_for("storage.k8s.io", "storageclasses").cells(obj, NOW) == cells


@pytest.mark.parametrize(
    ("resource", "obj", "cells"),
    [
        pytest.param(
            "volumeattributesclasses",
            {
                "metadata": meta(
                    "gold", annotations={"volumeattributesclass.alpha.kubernetes.io/is-default-class": "true"}
                ),
                "driverName": "csi.example",
            },
            ["gold (default)", "csi.example", "7m"],
            id="volumeattributesclass",
        ),
        pytest.param(
            "volumeattachments",
            {
                "metadata": meta("va"),
                "spec": {
                    "attacher": "csi.example",
                    "nodeName": "n1",
                    "source": {"persistentVolumeName": "pv1"},
                },
                "status": {"attached": True},
            },
            ["va", "csi.example", "pv1", "n1", True, "7m"],
            id="volumeattachment",
        ),
        pytest.param(
            "csinodes",
            {"metadata": meta("n1"), "spec": {"drivers": [{"name": "a"}, {"name": "b"}]}},
            ["n1", 2, "7m"],
            id="csinode",
        ),
        pytest.param(
            "csidrivers",
            {"metadata": meta("csi.example"), "spec": {}},
            ["csi.example", True, False, False, "<unset>", False, "<none>", "7m"],
            id="csidriver-defaults",
        ),
        pytest.param(
            "csidrivers",
            {
                "metadata": meta("d"),
                "spec": {
                    "attachRequired": False,
                    "podInfoOnMount": True,
                    "storageCapacity": True,
                    "tokenRequests": [{"audience": "a"}, {"audience": "b"}],
                    "requiresRepublish": True,
                    "volumeLifecycleModes": ["Persistent", "Ephemeral"],
                },
            },
            ["d", False, True, True, "a,b", True, "Persistent,Ephemeral", "7m"],
            id="csidriver-set",
        ),
    ],
)
def test_storage_types(resource: str, obj: dict[str, Any], cells: list[Any]) -> None:
    """Storage API rows, booleans as boolean cells."""
    assert printer_for("storage.k8s.io", resource).cells(obj, NOW) == cells


# --- rbac, coordination, scheduling, node -----------------------------------------------------------------


@pytest.mark.parametrize("resource", ["rolebindings", "clusterrolebindings"])
def test_role_bindings(resource: str) -> None:
    """ROLE is `kind/name`; subjects split by kind, each list joined by `, `."""
    obj = {
        "metadata": meta("rb"),
        "roleRef": {"kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "ServiceAccount", "namespace": "ci", "name": "bot"},
            {"kind": "Group", "name": "devs"},
            {"kind": "User", "name": "bob"},
        ],
    }
    printer = printer_for("rbac.authorization.k8s.io", resource)
    assert column_names(printer) == ["Name", "Role", "Age", "Users", "Groups", "ServiceAccounts"]
    assert printer.cells(obj, NOW) == ["rb", "ClusterRole/view", "7m", "alice, bob", "devs", "ci/bot"]


@pytest.mark.parametrize(
    ("group", "resource", "obj", "cells"),
    [
        pytest.param(
            "coordination.k8s.io",
            "leases",
            {"metadata": meta("kube-scheduler"), "spec": {"holderIdentity": "node-1_abc"}},
            ["kube-scheduler", "node-1_abc", "7m"],
            id="lease",
        ),
        pytest.param(
            "coordination.k8s.io",
            "leases",
            {"metadata": meta("free"), "spec": {}},
            ["free", "", "7m"],
            id="lease-unheld",
        ),
        pytest.param(
            "coordination.k8s.io",
            "leasecandidates",
            {
                "metadata": meta("c1"),
                "spec": {
                    "leaseName": "kube-controller-manager",
                    "binaryVersion": "1.32.0",
                    "emulationVersion": "1.32",
                },
            },
            ["c1", "kube-controller-manager", "1.32.0", "1.32", "7m"],
            id="leasecandidate",
        ),
        pytest.param(
            "scheduling.k8s.io",
            "priorityclasses",
            {"metadata": meta("high"), "value": 1000, "globalDefault": True, "preemptionPolicy": "Never"},
            ["high", 1000, True, "7m", "Never"],
            id="priorityclass",
        ),
        pytest.param(
            "scheduling.k8s.io",
            "priorityclasses",
            {"metadata": meta("low"), "value": 0},
            ["low", 0, False, "7m", ""],
            id="priorityclass-unset",
        ),
        pytest.param(
            "node.k8s.io",
            "runtimeclasses",
            {"metadata": meta("gvisor"), "handler": "runsc"},
            ["gvisor", "runsc", "7m"],
            id="runtimeclass",
        ),
    ],
)
def test_cluster_types(group: str, resource: str, obj: dict[str, Any], cells: list[Any]) -> None:
    """Small cluster-scoped types."""
    assert printer_for(group, resource).cells(obj, NOW) == cells


# --- admissionregistration.k8s.io ---------------------------------------------------------------------

ADMISSION = "admissionregistration.k8s.io"


@pytest.mark.parametrize("resource", ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"])
def test_webhook_configurations(resource: str) -> None:
    """WEBHOOKS is an integer count."""
    obj = {"metadata": meta("hooks"), "webhooks": [{"name": "a"}, {"name": "b"}]}
    assert printer_for(ADMISSION, resource).cells(obj, NOW) == ["hooks", 2, "7m"]


@pytest.mark.parametrize(
    ("resource", "spec", "cells"),
    [
        pytest.param(
            "validatingadmissionpolicies",
            {"validations": [{"expression": "true"}]},
            [1, "<unset>"],
            id="vap-no-params",
        ),
        pytest.param(
            "validatingadmissionpolicies",
            {"validations": [], "paramKind": {"apiVersion": "v1", "kind": "ConfigMap"}},
            [0, "v1/ConfigMap"],
            id="vap-param-kind",
        ),
        pytest.param("mutatingadmissionpolicies", {"mutations": [{}, {}]}, [2, "<unset>"], id="map"),
    ],
)
def test_admission_policies(resource: str, spec: dict[str, Any], cells: list[Any]) -> None:
    """Policies count their rules and show `apiVersion/kind` of their param kind."""
    assert printer_for(ADMISSION, resource).cells({"metadata": meta("p"), "spec": spec}, NOW) == [
        "p",
        *cells,
        "7m",
    ]


@pytest.mark.parametrize(
    ("param_ref", "text"),
    [
        pytest.param(None, "<unset>", id="none"),
        pytest.param({"name": "cfg", "namespace": "ns1"}, "ns1/cfg", id="namespaced"),
        pytest.param({"name": "cfg"}, "*/cfg", id="any-namespace"),
        pytest.param(
            {
                "selector": {
                    "matchLabels": {"b": "2", "a": "1"},
                    "matchExpressions": [{"key": "k", "operator": "In", "values": ["x", "y"]}],
                }
            },
            "&LabelSelector{MatchLabels:map[string]string{a: 1,b: 2,},MatchExpressions:[]LabelSelectorRequirement{LabelSelectorRequirement{Key:k,Operator:In,Values:[x y],},},}",
            id="selector-go-string",
        ),
    ],
)
@pytest.mark.parametrize("resource", ["validatingadmissionpolicybindings", "mutatingadmissionpolicybindings"])
def test_policy_bindings(resource: str, param_ref: dict[str, Any] | None, text: str) -> None:
    """PARAMREF: `ns/name`, `*/name`, or the selector as Go's generated String() prints it."""
    spec: dict[str, Any] = {"policyName": "pol"}
    if param_ref is not None:
        spec["paramRef"] = param_ref
    assert printer_for(ADMISSION, resource).cells({"metadata": meta("b"), "spec": spec}, NOW) == [
        "b",
        "pol",
        text,
        "7m",
    ]


# --- certificates.k8s.io ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "certificate", "text"),
    [
        pytest.param([], "", "Pending", id="pending"),
        pytest.param([{"type": "Approved"}], "", "Approved", id="approved"),
        pytest.param([{"type": "Approved"}], "LS0t", "Approved,Issued", id="issued"),
        pytest.param([{"type": "Approved"}, {"type": "Denied"}], "", "Denied", id="denied-wins"),
        pytest.param([{"type": "Approved"}, {"type": "Failed"}], "", "Approved,Failed", id="failed"),
    ],
)
def test_certificate_signing_request(conditions: list[dict[str, str]], certificate: str, text: str) -> None:
    """CONDITION combines Denied/Approved/Pending with Failed and Issued; AGE is the second column."""
    obj = {
        "metadata": meta("csr-1"),
        "spec": {
            "signerName": "kubernetes.io/kube-apiserver-client",
            "username": "alice",
            "expirationSeconds": 86400,
        },
        "status": {"conditions": conditions, "certificate": certificate},
    }
    printer = printer_for("certificates.k8s.io", "certificatesigningrequests")
    assert column_names(printer) == [
        "Name",
        "Age",
        "SignerName",
        "Requestor",
        "RequestedDuration",
        "Condition",
    ]
    assert printer.cells(obj, NOW) == [
        "csr-1",
        "7m",
        "kubernetes.io/kube-apiserver-client",
        "alice",
        "24h",
        text,
    ]


def test_csr_without_duration_and_trust_bundle() -> None:
    """Unset signer and duration print `<none>`; ClusterTrustBundle has no Age column."""
    csr = {"metadata": meta("csr-2"), "spec": {"username": "bob"}}
    assert printer_for("certificates.k8s.io", "certificatesigningrequests").cells(csr, NOW)[2:5] == [
        "<none>",
        "bob",
        "<none>",
    ]
    bundle = {"metadata": meta("b"), "spec": {"signerName": "example.com/signer"}}
    assert printer_for("certificates.k8s.io", "clustertrustbundles").cells(bundle, NOW) == [
        "b",
        "example.com/signer",
    ]


# --- flowcontrol.apiserver.k8s.io ---------------------------------------------------------------------


def test_flow_schemas_are_sorted() -> None:
    """FlowSchema rows are ordered by matchingPrecedence then name; MISSINGPL from Dangling."""
    schemas = [
        {
            "metadata": meta("zeta"),
            "spec": {
                "priorityLevelConfiguration": {"name": "global-default"},
                "matchingPrecedence": 9900,
                "distinguisherMethod": {"type": "ByUser"},
            },
        },
        {
            "metadata": meta("exempt"),
            "spec": {"priorityLevelConfiguration": {"name": "exempt"}, "matchingPrecedence": 1},
            "status": {"conditions": [{"type": "Dangling", "status": "False"}]},
        },
        {
            "metadata": meta("alpha"),
            "spec": {"priorityLevelConfiguration": {"name": "global-default"}, "matchingPrecedence": 9900},
        },
    ]
    printer = printer_for("flowcontrol.apiserver.k8s.io", "flowschemas")
    rows = table(printer, schemas, now=NOW)["rows"]
    assert [r["cells"] for r in rows] == [
        ["exempt", "exempt", 1, "<none>", "7m", "False"],
        ["alpha", "global-default", 9900, "<none>", "7m", "?"],
        ["zeta", "global-default", 9900, "ByUser", "7m", "?"],
    ]


@pytest.mark.parametrize(
    ("spec", "cells"),
    [
        pytest.param(
            {"type": "Exempt", "exempt": {}}, ["Exempt", "<none>", "<none>", "<none>", "<none>"], id="exempt"
        ),
        pytest.param(
            {
                "type": "Limited",
                "limited": {"nominalConcurrencyShares": 30, "limitResponse": {"type": "Reject"}},
            },
            ["Limited", 30, "<none>", "<none>", "<none>"],
            id="limited-reject",
        ),
        pytest.param(
            {
                "type": "Limited",
                "limited": {
                    "nominalConcurrencyShares": 100,
                    "limitResponse": {
                        "type": "Queue",
                        "queuing": {"queues": 128, "handSize": 6, "queueLengthLimit": 50},
                    },
                },
            },
            ["Limited", 100, 128, 6, 50],
            id="limited-queuing",
        ),
    ],
)
def test_priority_level_configuration(spec: dict[str, Any], cells: list[Any]) -> None:
    """Integer cells when limited (and queuing), `<none>` otherwise."""
    obj = {"metadata": meta("pl"), "spec": spec}
    assert printer_for("flowcontrol.apiserver.k8s.io", "prioritylevelconfigurations").cells(obj, NOW) == [
        "pl",
        *cells,
        "7m",
    ]


# --- storage versions, DRA, aggregation ------------------------------------------------------------------


def test_storage_version_and_migration() -> None:
    """StorageVersion lists `apiserver=version` (three, then more); migrations show resource.version.group."""
    sv = {
        "metadata": meta("apps.deployments"),
        "status": {
            "commonEncodingVersion": "apps/v1",
            "storageVersions": [{"apiServerID": f"s{i}", "encodingVersion": "apps/v1"} for i in range(4)],
        },
    }
    assert printer_for("internal.apiserver.k8s.io", "storageversions").cells(sv, NOW) == [
        "apps.deployments",
        "apps/v1",
        "s0=apps/v1,s1=apps/v1,s2=apps/v1 + 1 more...",
        "7m",
    ]
    assert printer_for("internal.apiserver.k8s.io", "storageversions").cells(
        {"metadata": meta("x"), "status": {}}, NOW
    )[1:3] == ["<unset>", "<unset>"]
    svm = {
        "metadata": meta("m"),
        "spec": {"resource": {"group": "apps", "version": "v1", "resource": "deployments"}},
    }
    printer = printer_for("storagemigration.k8s.io", "storageversionmigrations")
    assert printer.cells(svm, NOW) == ["m", "deployments.v1.apps"]
    assert printer.columns[0]["format"] == ""


@pytest.mark.parametrize(
    ("meta_extra", "status", "state"),
    [
        pytest.param({}, {}, "pending", id="pending"),
        pytest.param({}, {"allocation": {}}, "allocated", id="allocated"),
        pytest.param(
            {},
            {"allocation": {}, "reservedFor": [{"resource": "pods", "name": "p"}]},
            "allocated,reserved",
            id="reserved",
        ),
        pytest.param({"deletionTimestamp": "2024-05-01T09:59:00Z"}, {}, "deleted", id="deleted"),
        pytest.param(
            {"deletionTimestamp": "2024-05-01T09:59:00Z"},
            {"allocation": {}},
            "deleted,allocated",
            id="deleted-allocated",
        ),
    ],
)
def test_resource_claim_state(meta_extra: dict[str, Any], status: dict[str, Any], state: str) -> None:
    """STATE lists deleted, pending or allocated[,reserved]."""
    obj = {"metadata": meta("claim", **meta_extra), "status": status}
    assert printer_for("resource.k8s.io", "resourceclaims").cells(obj, NOW) == ["claim", state, "7m"]


def test_resource_slices_and_classes() -> None:
    """ResourceSlice shows node, driver and pool; DeviceClass and templates only name and age."""
    rs = {
        "metadata": meta("s"),
        "spec": {"nodeName": "n1", "driver": "gpu.example.com", "pool": {"name": "n1"}},
    }
    assert printer_for("resource.k8s.io", "resourceslices").cells(rs, NOW) == [
        "s",
        "n1",
        "gpu.example.com",
        "n1",
        "7m",
    ]
    for resource in ("deviceclasses", "resourceclaimtemplates"):
        printer = printer_for("resource.k8s.io", resource)
        assert column_names(printer) == ["Name", "Age"]
        assert printer.cells({"metadata": meta("d")}, NOW) == ["d", "7m"]


@pytest.mark.parametrize(
    ("spec", "conditions", "service", "available"),
    [
        pytest.param({}, [{"type": "Available", "status": "True"}], "Local", "True", id="local"),
        pytest.param(
            {"service": {"namespace": "kube-system", "name": "metrics-server"}},
            [{"type": "Available", "status": "False", "reason": "MissingEndpoints"}],
            "kube-system/metrics-server",
            "False (MissingEndpoints)",
            id="unavailable",
        ),
        pytest.param(
            {"service": {"namespace": "ns", "name": "api"}}, [], "ns/api", "Unknown", id="no-condition"
        ),
    ],
)
def test_api_service(
    spec: dict[str, Any], conditions: list[dict[str, str]], service: str, available: str
) -> None:
    """kube-aggregator's table: SERVICE `ns/name` or Local, AVAILABLE with the reason when not True."""
    obj = {"metadata": meta("v1beta1.metrics.k8s.io"), "spec": spec, "status": {"conditions": conditions}}
    assert printer_for("apiregistration.k8s.io", "apiservices").cells(obj, NOW) == [
        "v1beta1.metrics.k8s.io",
        service,
        available,
        "7m",
    ]
