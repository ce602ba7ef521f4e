"""The bodies hollow nodes write, and the command's flags (no server)."""

from __future__ import annotations

import pytest

from kijabi.hollow.main import build_parser, shape_of
from kijabi.hollow.objects import (
    NodeShape,
    lease_object,
    node_object,
    pod_ip,
    running_status,
    without_not_ready,
)

POD = {"metadata": {"name": "p", "namespace": "d", "uid": "u1"},
       "spec": {"nodeName": "hollow-1", "containers": [{"name": "a", "image": "img:1"}, {"name": "b", "image": "i2"}]},
       "status": {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}]}}


@pytest.mark.parametrize(("index", "zone"), [(0, "zone-0"), (1, "zone-1"), (5, "zone-2"), (6, "zone-0")],
                         ids=["first", "second", "wraps-last", "wraps-first"])
def test_node_labels_spread_over_zones(index: int, zone: str) -> None:
    """Node i is named PREFIX<i>, carries its hostname and zone-<i % zones>, and is marked hollow."""
    node = node_object(NodeShape(count=10, name_prefix="h-", zones=3), index, 0)
    labels = node["metadata"]["labels"]
    assert node["metadata"]["name"] == f"h-{index}"
    assert labels["kubernetes.io/hostname"] == f"h-{index}"
    assert labels["topology.kubernetes.io/zone"] == zone


def test_node_status_reports_capacity_ready_and_node_info() -> None:
    status = node_object(NodeShape(cpu="8", memory="32Gi", pods=50), 0, 1_700_000_000)["status"]
    assert status["capacity"] == status["allocatable"]
    assert (status["capacity"]["cpu"], status["capacity"]["memory"], status["capacity"]["pods"]) == ("8", "32Gi", "50")
    ready = [c for c in status["conditions"] if c["type"] == "Ready"]
    assert ready and ready[0]["status"] == "True"
    assert status["nodeInfo"]["kubeletVersion"].startswith("v1.")


@pytest.mark.parametrize(("taints", "kept"), [
    ([{"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}], []),
    ([{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}],
     [{"key": "node.kubernetes.io/not-ready", "effect": "NoExecute"}]),
    ([{"key": "x", "effect": "NoSchedule"}, {"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"}],
     [{"key": "x", "effect": "NoSchedule"}]),
], ids=["only-not-ready", "noexecute-kept", "others-kept"])
def test_ready_node_loses_only_the_not_ready_noschedule_taint(taints: list, kept: list) -> None:
    assert without_not_ready(taints) == kept


def test_lease_is_held_by_its_node_and_owned_by_it() -> None:
    lease = lease_object("hollow-3", "uid-3", 1_700_000_000.25)
    assert lease["metadata"]["namespace"] == "kube-node-lease"
    assert lease["spec"]["holderIdentity"] == "hollow-3"
    assert lease["spec"]["renewTime"] == "2023-11-14T22:13:20.250000Z"
    assert lease["metadata"]["ownerReferences"][0]["uid"] == "uid-3"


def test_running_status_has_ip_start_time_and_ready_containers() -> None:
    st = running_status(POD, "10.42.0.7", "10.41.0.2", 1_700_000_000)
    assert st is not None
    assert (st["phase"], st["podIP"], st["hostIP"]) == ("Running", "10.42.0.7", "10.41.0.2")
    assert st["startTime"] == "2023-11-14T22:13:20Z"
    assert {c["type"] for c in st["conditions"] if c["status"] == "True"} >= {"Ready", "ContainersReady", "PodScheduled"}
    assert [(c["name"], c["ready"], "running" in c["state"]) for c in st["containerStatuses"]] == [
        ("a", True, True), ("b", True, True)]


@pytest.mark.parametrize("status", [
    {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    {"phase": "Succeeded"},
    {"phase": "Failed"},
], ids=["already-running", "succeeded", "failed"])
def test_running_status_leaves_settled_pods_alone(status: dict) -> None:
    assert running_status({**POD, "status": status}, "10.42.0.7", "10.41.0.2", 0) is None


def test_pod_ips_are_distinct_and_inside_the_cluster_cidr() -> None:
    ips = [pod_ip(i) for i in range(1, 70_000)]
    assert all(ip.startswith("10.42.") and not ip.endswith((".0", ".255")) for ip in ips)
    assert len(set(ips[:60_000])) == 60_000


@pytest.mark.parametrize(("argv", "expected"), [
    ([], NodeShape(count=1)),
    (["--count", "5000", "--name-prefix", "n-", "--cpu", "8", "--memory", "64Gi", "--pods", "250", "--zones", "5"],
     NodeShape(count=5000, name_prefix="n-", cpu="8", memory="64Gi", pods=250, zones=5)),
], ids=["defaults", "all-flags"])
def test_flags_make_the_node_shape(argv: list[str], expected: NodeShape) -> None:
    ns = build_parser().parse_args(argv)
    assert shape_of(ns) == expected
    assert (ns.ready_delay, ns.lease_period) == (0.5, 10.0)


@pytest.mark.parametrize("argv", [["--count", "0"], ["--zones", "0"], ["--count", "x"]],
                         ids=["no-nodes", "no-zones", "not-a-number"])
def test_bad_flags_are_refused(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
