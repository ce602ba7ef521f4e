"""Rows of core/v1 types other than Pod: nodes, services, endpoints, events, volumes and the rest."""

from __future__ import annotations

from typing import Any

import pytest

from kijabi.machinery.printers import printer_for

from ._support import NOW, ago, cells_by_name, column_names, micro_ago


def meta(name: str = "x", **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": ago(hours=3), **extra}


# --- Node -------------------------------------------------------------------------------------------------

NODES = printer_for("", "nodes")


def node(
    conditions: list[dict[str, str]] | None = None, labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    return {
        "metadata": meta("n1", labels=labels or {}),
        "spec": spec,
        "status": {
            "conditions": conditions or [],
            "nodeInfo": {
                "kubeletVersion": "v1.32.0",
                "osImage": "Debian GNU/Linux 12",
                "kernelVersion": "6.1.0",
                "containerRuntimeVersion": "containerd://1.6.20",
            },
            "addresses": [
                {"type": "Hostname", "address": "n1"},
                {"type": "InternalIP", "address": "10.0.0.5"},
                {"type": "InternalIP", "address": "10.0.0.6"},
            ],
        },
    }


@pytest.mark.parametrize(
    ("obj", "status"),
    [
        pytest.param(node([{"type": "Ready", "status": "True"}]), "Ready", id="ready"),
        pytest.param(node([{"type": "Ready", "status": "False"}]), "NotReady", id="not-ready"),
        pytest.param(node([{"type": "Ready", "status": "Unknown"}]), "NotReady", id="unknown-is-not-ready"),
        pytest.param(
            node([{"type": "MemoryPressure", "status": "True"}]), "Unknown", id="no-ready-condition"
        ),
        pytest.param(
            node([{"type": "Ready", "status": "False"}, {"type": "Ready", "status": "True"}]),
            "Ready",
            id="last-ready-wins",
        ),
        pytest.param(
            node([{"type": "Ready", "status": "True"}], unschedulable=True),
            "Ready,SchedulingDisabled",
            id="cordoned",
        ),
        pytest.param(node([], unschedulable=True), "Unknown,SchedulingDisabled", id="cordoned-unknown"),
    ],
)
def test_node_status(obj: dict[str, Any], status: str) -> None:
    """Only the Ready condition counts; a cordoned node appends SchedulingDisabled."""
    assert cells_by_name(NODES, obj)["Status"] == status


@pytest.mark.parametrize(
    ("labels", "roles"),
    [
        pytest.param({}, "<none>", id="none"),
        pytest.param(
            {"node-role.kubernetes.io/control-plane": "", "node-role.kubernetes.io/master": "true"},
            "control-plane,master",
            id="prefix-labels-sorted",
        ),
        pytest.param({"kubernetes.io/role": "worker"}, "worker", id="legacy-role-label"),
        pytest.param(
            {"kubernetes.io/role": "", "node-role.kubernetes.io/": "x"},
            "<none>",
            id="empty-role-values-ignored",
        ),
        pytest.param(
            {"kubernetes.io/role": "etcd", "node-role.kubernetes.io/etcd": ""}, "etcd", id="deduplicated"
        ),
    ],
)
def test_node_roles(labels: dict[str, str], roles: str) -> None:
    """ROLES: suffixes of node-role.kubernetes.io/ labels plus kubernetes.io/role, sorted, deduplicated."""
    assert cells_by_name(NODES, node(labels=labels))["Roles"] == roles


def test_node_full_row() -> None:
    """Version and wide columns: first InternalIP, `<none>` without ExternalIP, `<unknown>` blanks."""
    obj = node([{"type": "Ready", "status": "True"}])
    assert NODES.cells(obj, NOW) == [
        "n1",
        "Ready",
        "<none>",
        "3h",
        "v1.32.0",
        "10.0.0.5",
        "<none>",
        "Debian GNU/Linux 12",
        "6.1.0",
        "containerd://1.6.20",
    ]
    obj["status"]["nodeInfo"] = {}
    assert NODES.cells(obj, NOW)[4:] == ["", "10.0.0.5", "<none>", "<unknown>", "<unknown>", "<unknown>"]


# --- Service -------------------------------------------------------------------------------------------

SERVICES = printer_for("", "services")


def service(
    kind: str, ports: list[dict[str, Any]] | None = None, lb: list[dict[str, str]] | None = None, **spec: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": kind, "clusterIP": "10.43.0.10", "clusterIPs": ["10.43.0.10"], **spec}
    if ports is not None:
        body["ports"] = ports
    return {"metadata": meta("svc"), "spec": body, "status": {"loadBalancer": {"ingress": lb or []}}}


@pytest.mark.parametrize(
    ("obj", "external"),
    [
        pytest.param(service("ClusterIP"), "<none>", id="clusterip"),
        pytest.param(
            service("ClusterIP", externalIPs=["1.2.3.4", "5.6.7.8"]),
            "1.2.3.4,5.6.7.8",
            id="clusterip-external-ips",
        ),
        pytest.param(service("NodePort"), "<none>", id="nodeport"),
        pytest.param(service("LoadBalancer"), "<pending>", id="lb-pending"),
        pytest.param(
            service(
                "LoadBalancer",
                lb=[{"ip": "9.9.9.9"}, {"hostname": "a.example"}, {"ip": "1.1.1.1"}, {"ip": "9.9.9.9"}],
            ),
            "1.1.1.1,9.9.9.9,a.example",
            id="lb-sorted-unique",
        ),
        pytest.param(
            service("LoadBalancer", lb=[{"ip": "2.2.2.2"}], externalIPs=["1.1.1.1"]),
            "2.2.2.2,1.1.1.1",
            id="lb-then-external-ips",
        ),
        pytest.param(service("LoadBalancer", externalIPs=["1.1.1.1"]), "1.1.1.1", id="lb-only-external-ips"),
        pytest.param(
            service("LoadBalancer", lb=[{"ip": "203.0.113.100"}, {"ip": "203.0.113.101"}]),
            "203.0.113.100,203.0.113.101",
            id="lb-never-truncated",
        ),
        pytest.param(
            service("ExternalName", externalName="db.example.com"), "db.example.com", id="external-name"
        ),
        pytest.param(service(""), "<unknown>", id="no-type"),
    ],
)
def test_service_external_ip(obj: dict[str, Any], external: str) -> None:
    """EXTERNAL-IP depends on the type; the server never shortens load-balancer lists."""
    assert cells_by_name(SERVICES, obj)["External-IP"] == external


def test_service_row() -> None:
    """Ports `port[:nodePort]/proto`, first cluster IP, selector in the wide column."""
    obj = service(
        "NodePort",
        ports=[{"port": 80, "protocol": "TCP", "nodePort": 30080}, {"port": 53, "protocol": "UDP"}],
        selector={"b": "2", "a": "1"},
    )
    assert SERVICES.cells(obj, NOW) == [
        "svc",
        "NodePort",
        "10.43.0.10",
        "<none>",
        "80:30080/TCP,53/UDP",
        "3h",
        "a=1,b=2",
    ]
    headless = service("ClusterIP", ports=[], clusterIP="None", clusterIPs=["None"])
    assert SERVICES.cells(headless, NOW)[2:5] == ["None", "<none>", "<none>"]
    no_ips = service("ClusterIP", clusterIP="", clusterIPs=[])
    assert SERVICES.cells(no_ips, NOW)[2] == "<none>"
    assert column_names(SERVICES) == [
        "Name",
        "Type",
        "Cluster-IP",
        "External-IP",
        "Port(s)",
        "Age",
        "Selector",
    ]


# --- Endpoints, EndpointSlice ------------------------------------------------------------------------------

ENDPOINTS = printer_for("", "endpoints")


@pytest.mark.parametrize(
    ("subsets", "text"),
    [
        pytest.param(None, "<none>", id="no-subsets"),
        pytest.param(
            [{"notReadyAddresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}], "", id="only-not-ready"
        ),
        pytest.param(
            [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}]}],
            "10.0.0.1,10.0.0.2",
            id="headless-without-ports",
        ),
        pytest.param(
            [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}, {"port": 443}]}],
            "10.0.0.1:80,10.0.0.1:443",
            id="every-port",
        ),
        pytest.param(
            [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}], "[fd00::1]:80", id="ipv6-bracketed"
        ),
        pytest.param(
            [{"addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 4)], "ports": [{"port": 80}]}],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80",
            id="exactly-three",
        ),
        pytest.param(
            [
                {
                    "addresses": [{"ip": f"10.0.0.{i}"} for i in range(1, 6)],
                    "ports": [{"port": 80}, {"port": 81}],
                }
            ],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 7 more...",
            id="more",
        ),
    ],
)
def test_endpoints(subsets: list[dict[str, Any]] | None, text: str) -> None:
    """ENDPOINTS: ready addresses (times ports), three shown, then ` + N more...`."""
    obj = {"metadata": meta("ep"), **({"subsets": subsets} if subsets is not None else {})}
    assert ENDPOINTS.cells(obj, NOW) == ["ep", text, "3h"]


SLICES = printer_for("discovery.k8s.io", "endpointslices")


@pytest.mark.parametrize(
    ("ports", "endpoints", "port_text", "endpoint_text"),
    [
        pytest.param([], [], "<unset>", "<unset>", id="empty"),
        pytest.param(
            [{"port": 80}, {"name": "dns"}, {}],
            [{"addresses": ["10.0.0.1"]}],
            "80,dns,*",
            "10.0.0.1",
            id="port-name-star",
        ),
        pytest.param(
            [{"port": p} for p in (1, 2, 3, 4, 5)],
            [{"addresses": ["a", "b"]}, {"addresses": ["c", "d"]}],
            "1,2,3 + 2 more...",
            "a,b,c + 1 more...",
            id="more",
        ),
    ],
)
def test_endpoint_slice(
    ports: list[dict[str, Any]], endpoints: list[dict[str, Any]], port_text: str, endpoint_text: str
) -> None:
    """EndpointSlice ports (number, else name, else `*`) and addresses, three each."""
    obj = {"metadata": meta("s"), "addressType": "IPv4", "ports": ports, "endpoints": endpoints}
    assert SLICES.cells(obj, NOW) == ["s", "IPv4", port_text, endpoint_text, "3h"]


# --- Events ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", ["", "events.k8s.io"])
def test_event_columns(group: str) -> None:
    """Core and events.k8s.io events share one table; only five columns show without -o wide."""
    printer = printer_for(group, "events")
    assert column_names(printer) == [
        "Last Seen",
        "Type",
        "Reason",
        "Object",
        "Subobject",
        "Source",
        "Message",
        "First Seen",
        "Count",
        "Name",
    ]
    assert [c["priority"] for c in printer.columns] == [0, 0, 0, 0, 1, 1, 0, 1, 1, 1]


def test_core_event_row() -> None:
    """LAST SEEN, lower-cased `kind/name` object, trimmed message, `component, host` source."""
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": meta("web.17a"),
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{nginx}"},
        "reason": "Pulled",
        "type": "Normal",
        "message": "  Successfully pulled image\n",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": ago(hours=2),
        "lastTimestamp": ago(minutes=5),
        "count": 4,
    }
    assert printer_for("", "events").cells(event, NOW) == [
        "5m",
        "Normal",
        "Pulled",
        "pod/web",
        "spec.containers{nginx}",
        "kubelet, node-1",
        "Successfully pulled image",
        "120m",
        4,
        "web.17a",
    ]


@pytest.mark.parametrize(
    ("fields", "last", "first", "count", "source"),
    [
        pytest.param(
            {"eventTime": micro_ago(90), "reportingController": "ctrl", "reportingInstance": "ctrl-0"},
            "90s",
            "90s",
            1,
            "ctrl, ctrl-0",
            id="new-style-singleton",
        ),
        pytest.param(
            {
                "eventTime": micro_ago(600),
                "series": {"count": 7, "lastObservedTime": micro_ago(30)},
                "reportingController": "ctrl",
            },
            "30s",
            "10m",
            7,
            "ctrl",
            id="series",
        ),
        pytest.param({"firstTimestamp": ago(60)}, "60s", "60s", 1, "", id="last-falls-back-to-first"),
        pytest.param({}, "<unknown>", "<unknown>", 1, "", id="no-times"),
    ],
)
def test_core_event_times(fields: dict[str, Any], last: str, first: str, count: int, source: str) -> None:
    """eventTime stands in for firstTimestamp, series for lastTimestamp/count; count 0 means 1."""
    event = {"metadata": meta("e"), "involvedObject": {"kind": "Node"}, **fields}
    row = cells_by_name(printer_for("", "events"), event)
    assert (row["Last Seen"], row["First Seen"], row["Count"], row["Source"], row["Object"]) == (
        last,
        first,
        count,
        source,
        "node",
    )


def test_events_k8s_io_row() -> None:
    """events.k8s.io/v1 fields (regarding, note, deprecated*) map onto the same cells."""
    event = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": meta("web.17b"),
        "eventTime": micro_ago(300),
        "regarding": {"kind": "Deployment", "name": "web"},
        "note": "Scaled up replica set web-abc to 3",
        "reason": "ScalingReplicaSet",
        "type": "Normal",
        "reportingController": "deployment-controller",
        "deprecatedSource": {"component": "deployment-controller"},
        "deprecatedCount": 2,
        "deprecatedLastTimestamp": ago(60),
    }
    assert printer_for("events.k8s.io", "events").cells(event, NOW) == [
        "60s",
        "Normal",
        "ScalingReplicaSet",
        "deployment/web",
        "",
        "deployment-controller",
        "Scaled up replica set web-abc to 3",
        "5m",
        2,
        "web.17b",
    ]


# --- small types ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "obj", "cells"),
    [
        pytest.param(
            "namespaces",
            {"metadata": meta("kube-system"), "status": {"phase": "Active"}},
            ["kube-system", "Active", "3h"],
            id="namespace",
        ),
        pytest.param(
            "namespaces",
            {"metadata": meta("gone"), "status": {"phase": "Terminating"}},
            ["gone", "Terminating", "3h"],
            id="namespace-terminating",
        ),
        pytest.param(
            "secrets",
            {"metadata": meta("s"), "type": "Opaque", "data": {"a": "", "b": ""}},
            ["s", "Opaque", 2, "3h"],
            id="secret",
        ),
        pytest.param(
            "configmaps",
            {"metadata": meta("c"), "data": {"a": "1"}, "binaryData": {"b": "AA=="}},
            ["c", 2, "3h"],
            id="configmap-counts-binary",
        ),
        pytest.param("configmaps", {"metadata": meta("c")}, ["c", 0, "3h"], id="configmap-empty"),
        pytest.param(
            "serviceaccounts", {"metadata": meta("default")}, ["default", 0, "3h"], id="serviceaccount"
        ),
        pytest.param(
            "componentstatuses",
            {
                "metadata": {"name": "etcd-0"},
                "conditions": [{"type": "Healthy", "status": "True", "message": "ok"}],
            },
            ["etcd-0", "Healthy", "ok", ""],
            id="componentstatus-healthy",
        ),
        pytest.param(
            "componentstatuses",
            {
                "metadata": {"name": "sched"},
                "conditions": [{"type": "Healthy", "status": "False", "error": "refused"}],
            },
            ["sched", "Unhealthy", "", "refused"],
            id="componentstatus-unhealthy",
        ),
        pytest.param(
            "componentstatuses",
            {"metadata": {"name": "cm"}},
            ["cm", "Unknown", "", ""],
            id="componentstatus-unknown",
        ),
        pytest.param(
            "podtemplates",
            {
                "metadata": meta("t"),
                "template": {
                    "metadata": {"labels": {"app": "x"}},
                    "spec": {"containers": [{"name": "a", "image": "i1"}, {"name": "b", "image": "i2"}]},
                },
            },
            ["t", "a,b", "i1,i2", "app=x"],
            id="podtemplate",
        ),
        pytest.param(
            "replicationcontrollers",
            {
                "metadata": meta("rc"),
                "spec": {
                    "replicas": 3,
                    "selector": {"app": "x"},
                    "template": {"spec": {"containers": [{"name": "a", "image": "i"}]}},
                },
                "status": {"replicas": 2, "readyReplicas": 1},
            },
            ["rc", 3, 2, 1, "3h", "a", "i", "app=x"],
            id="replicationcontroller",
        ),
    ],
)
def test_simple_core_types(resource: str, obj: dict[str, Any], cells: list[Any]) -> None:
    """Counts are integer cells even where the column type says string, like upstream."""
    assert printer_for("", resource).cells(obj, NOW) == cells


# --- volumes -----------------------------------------------------------------------------------------

PVS = printer_for("", "persistentvolumes")
PVCS = printer_for("", "persistentvolumeclaims")


def test_persistent_volume_row() -> None:
    """Capacity canonical, access modes in fixed order, claim `ns/name`, beta class annotation wins."""
    pv = {
        "metadata": meta("pv1", annotations={"volume.beta.kubernetes.io/storage-class": "legacy"}),
        "spec": {
            "capacity": {"storage": "1024Mi"},
            "accessModes": ["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "default", "name": "data"},
            "storageClassName": "fast",
            "volumeMode": "Filesystem",
        },
        "status": {"phase": "Bound"},
    }
    assert PVS.cells(pv, NOW) == [
        "pv1",
        "1Gi",
        "RWO,RWX",
        "Retain",
        "Bound",
        "default/data",
        "legacy",
        "<unset>",
        "",
        "3h",
        "Filesystem",
    ]
    pv["metadata"] = meta("pv1", deletionTimestamp=ago(5))
    pv["spec"].update(volumeAttributesClassName="gold")
    del pv["spec"]["volumeMode"]
    pv["status"] = {"phase": "Released", "reason": "Why"}
    assert PVS.cells(pv, NOW) == [
        "pv1",
        "1Gi",
        "RWO,RWX",
        "Retain",
        "Terminating",
        "default/data",
        "fast",
        "gold",
        "Why",
        "3h",
        "<unset>",
    ]


def test_persistent_volume_claim_rows() -> None:
    """Capacity and access modes only once bound to a volume; class from annotation or spec."""
    pvc = {
        "metadata": meta("data"),
        "spec": {
            "resources": {"requests": {"storage": "5Gi"}},
            "storageClassName": "fast",
            "volumeMode": "Block",
        },
        "status": {"phase": "Pending"},
    }
    assert PVCS.cells(pvc, NOW) == ["data", "Pending", "", "", "", "fast", "<unset>", "3h", "Block"]
    pvc["spec"]["volumeName"] = "pv1"
    pvc["status"] = {"phase": "Bound", "capacity": {"storage": "5120Mi"}, "accessModes": ["ReadWriteOncePod"]}
    assert PVCS.cells(pvc, NOW) == ["data", "Bound", "pv1", "5Gi", "RWOP", "fast", "<unset>", "3h", "Block"]
    pvc["metadata"]["annotations"] = {"volume.beta.kubernetes.io/storage-class": ""}
    assert cells_by_name(PVCS, pvc)["StorageClass"] == ""


# --- ResourceQuota -------------------------------------------------------------------------------------


def test_resource_quota() -> None:
    """v1.32 order (Age second); sorted `resource: used/hard`, limits.* in the Limit column."""
    quota = {
        "metadata": meta("q"),
        "status": {
            "hard": {"pods": "10", "limits.memory": "2Gi", "requests.cpu": "1", "limits.cpu": "2000m"},
            "used": {"pods": "3", "requests.cpu": "500m", "limits.cpu": "1"},
        },
    }
    printer = printer_for("", "resourcequotas")
    assert column_names(printer) == ["Name", "Age", "Request", "Limit"]
    assert printer.cells(quota, NOW) == [
        "q",
        "3h",
        "pods: 3/10, requests.cpu: 500m/1",
        "limits.cpu: 1/2, limits.memory: 0/2Gi",
    ]


def test_events_k8s_io_without_api_version() -> None:
    """An events.k8s.io object is recognised by its fields when apiVersion is absent."""
    event = {
        "metadata": meta("e"),
        "regarding": {"kind": "Node", "name": "n1"},
        "note": "hello",
        "eventTime": micro_ago(5),
    }
    row = cells_by_name(printer_for("events.k8s.io", "events"), event)
    assert (row["Object"], row["Message"], row["Last Seen"]) == ("node/n1", "hello", "5s")
