"""Volume plugins: VolumeBinding (bound claims, WaitForFirstConsumer matching and provisioning,
immediate claims), VolumeRestrictions, VolumeZone, NodeVolumeLimits; and VolumeBinding's reserve and
pre-bind API writes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kijabi.scheduler.framework.interface import CycleState
from kijabi.scheduler.framework.status import Code
from kijabi.scheduler.plugins.volumebinding import ANN_BIND_COMPLETED, ANN_SELECTED_NODE, VolumeBinding
from tests.scheduler.helpers import Harness, RecordingClient, node, pod

UNRESOLVABLE = Code.UNSCHEDULABLE_AND_UNRESOLVABLE


def sc(name: str, mode: str = "WaitForFirstConsumer", provisioner: str = "example.com/csi",
       topologies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"metadata": {"name": name}, "provisioner": provisioner, "volumeBindingMode": mode}
    if topologies:
        obj["allowedTopologies"] = topologies
    return obj


def pvc(name: str, cls: str = "local", size: str = "1Gi", volume: str = "", bound: bool = False,
        annotations: dict[str, str] | None = None, modes: list[str] | None = None) -> dict[str, Any]:
    ann = dict(annotations or {})
    if bound:
        ann[ANN_BIND_COMPLETED] = "yes"
    return {"metadata": {"name": name, "namespace": "default", "uid": "uid-" + name, "annotations": ann,
                         "resourceVersion": "5"},
            "spec": {"storageClassName": cls, "accessModes": modes or ["ReadWriteOnce"], "volumeName": volume,
                     "resources": {"requests": {"storage": size}}},
            "status": {"phase": "Bound" if bound else "Pending"}}


def pv(name: str, cls: str = "local", size: str = "1Gi", host: str | None = None, claim: str | None = None,
       labels: dict[str, str] | None = None, phase: str = "Available") -> dict[str, Any]:
    spec: dict[str, Any] = {"storageClassName": cls, "capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"]}
    if host is not None:
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [host]}]}]}}
    if claim is not None:
        spec["claimRef"] = {"name": claim, "namespace": "default"}
    return {"metadata": {"name": name, "labels": labels or {}, "resourceVersion": "3"}, "spec": spec,
            "status": {"phase": phase}}


def with_claims(name: str, *claims: str, **kw: Any) -> dict[str, Any]:
    return pod(name, volumes=[{"name": c, "persistentVolumeClaim": {"claimName": c}} for c in claims], **kw)


NODES = [node("n1", zone="a"), node("n2", zone="b")]


def harness(pvcs: list[dict[str, Any]], pvs: list[dict[str, Any]] = (), classes: list[dict[str, Any]] = (),
            client: Any = None, nodes: list[dict[str, Any]] = NODES, existing: list[dict[str, Any]] = ()) -> Harness:
    return Harness(nodes, list(existing), client=client, objects={
        "persistent_volume_claims": pvcs, "persistent_volumes": list(pvs),
        "storage_classes": list(classes) or [sc("local"), sc("immediate", mode="Immediate"),
                                             sc("static", provisioner="kubernetes.io/no-provisioner")]})


@pytest.mark.parametrize(("pvcs", "pvs", "feasible"), [
    pytest.param([pvc("c", volume="v", bound=True)], [pv("v", host="n2", claim="c")], ["n2"],
                 id="bound-pv-node-affinity"),
    pytest.param([pvc("c", cls="static")], [pv("v1", cls="static", host="n1")], ["n1"],
                 id="wait-for-first-consumer-matching-local-pv"),
    pytest.param([pvc("c", cls="static", size="5Gi")], [pv("v1", cls="static", host="n1")], [],
                 id="pv-too-small"),
    pytest.param([pvc("c", cls="static")], [pv("v1", cls="static", host="n1", phase="Released")], [],
                 id="pv-not-available"),
    pytest.param([pvc("c", cls="static")], [pv("v1", cls="static", host="n1", claim="someone-else")], [],
                 id="pv-claimed-by-another"),
    pytest.param([pvc("c")], [], ["n1", "n2"], id="dynamic-provisioning-anywhere"),
    pytest.param([pvc("c", annotations={ANN_SELECTED_NODE: "n2"})], [], ["n2"], id="provisioning-selected-node"),
])
def test_volume_binding_filter(pvcs: list[dict[str, Any]], pvs: list[dict[str, Any]], feasible: list[str]) -> None:
    h = harness(pvcs, pvs)
    assert h.feasible(with_claims("p", "c")) == feasible


def test_volume_binding_reasons() -> None:
    h = harness([pvc("c", cls="static"), pvc("b", volume="gone", bound=True), pvc("i", cls="immediate")],
                [pv("v1", cls="static", host="n1")])
    st = h.filter(with_claims("p", "c"), "n2")
    assert (st.code, st.reasons) == (UNRESOLVABLE, ["node(s) didn't find available persistent volumes to bind"])
    st = h.filter(with_claims("p", "b"), "n1")
    assert st.reasons == ['persistentvolume "gone" not found']  # VolumeZone's PreFilter sees it first
    plugin = h.fwk.plugins["VolumeBinding"]
    state = CycleState()
    plugin.pre_filter(state, with_claims("p", "b"), [])
    st = plugin.filter(state, with_claims("p", "b"), h.scheduler.cache.get("n1"))
    assert st.reasons == ["node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"]
    assert h.schedule(with_claims("p", "i")) == \
        "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims."
    assert h.schedule(with_claims("p", "missing")) == \
        '0/2 nodes are available: persistentvolumeclaim "missing" not found.'
    h2 = harness([pvc("c", volume="v", bound=True)], [pv("v", host="n2", claim="c")])
    assert h2.filter(with_claims("p", "c"), "n1").reasons == ["node(s) had volume node affinity conflict"]


def test_storage_class_allowed_topologies() -> None:
    topo = [{"matchLabelExpressions": [{"key": "topology.kubernetes.io/zone", "values": ["b"]}]}]
    h = harness([pvc("c", cls="zonal")], classes=[sc("zonal", topologies=topo)])
    assert h.feasible(with_claims("p", "c")) == ["n2"]


async def test_reserve_and_pre_bind_write_the_bindings() -> None:
    """Reserve assumes the PV's claimRef and the claim's selected node; PreBind writes both, then waits
    for the PV controller to bind (here: the test plays the controller)."""
    client = RecordingClient()
    claims = [pvc("static-claim", cls="static"), pvc("dyn")]
    h = harness(claims, [pv("v1", cls="static", host="n1")], client=client)
    p = with_claims("p", "static-claim", "dyn")
    state = CycleState()
    assert h.scheduler.schedule_pod(h.fwk, state, p).suggested_host == "n1"
    plugin = h.fwk.plugins["VolumeBinding"]
    assert isinstance(plugin, VolumeBinding)
    assert plugin.reserve(state, p, "n1") is None
    assert plugin.pvs.get("v1")["spec"]["claimRef"]["name"] == "static-claim"
    assert plugin.pvcs.get("dyn", "default")["metadata"]["annotations"][ANN_SELECTED_NODE] == "n1"
    # the PV controller's part: both claims end up bound
    pvcs = h.lister("persistent_volume_claims")
    pvs = h.lister("persistent_volumes")
    bound_pv = pv("v1", cls="static", host="n1", claim="static-claim")
    pvs.put(bound_pv)
    pvs.put(pv("pvc-dyn", claim="dyn"))
    pvcs.put(pvc("static-claim", cls="static", volume="v1", bound=True))
    pvcs.put(pvc("dyn", volume="pvc-dyn", bound=True, annotations={ANN_SELECTED_NODE: "n1"}))
    task = asyncio.create_task(plugin.pre_bind(state, p, "n1"))
    await h.clock.wait_for_timers(1)
    h.clock.advance(1)
    assert await task is None
    updates = [target for target, _ in client.of("update")]
    assert updates == ["persistentvolumes//v1", "persistentvolumeclaims/default/dyn"]


async def test_pre_bind_times_out_without_pv_controller() -> None:
    client = RecordingClient()
    h = harness([pvc("dyn")], client=client)
    plugin = h.fwk.plugins["VolumeBinding"]
    assert isinstance(plugin, VolumeBinding)
    plugin.bind_timeout = 0
    p = with_claims("p", "dyn")
    state = CycleState()
    h.scheduler.schedule_pod(h.fwk, state, p)
    plugin.reserve(state, p, "n1")
    st = await plugin.pre_bind(state, p, "n1")
    assert st is not None and st.code == Code.ERROR and "context deadline exceeded" in st.message()
    plugin.unreserve(state, p, "n1")
    assert ANN_SELECTED_NODE not in (plugin.pvcs.get("dyn", "default")["metadata"]["annotations"])


def _disk(name: str, pd: str, read_only: bool = False, **kw: Any) -> dict[str, Any]:
    return pod(name, volumes=[{"name": "d", "gcePersistentDisk": {"pdName": pd, "readOnly": read_only}}], **kw)


@pytest.mark.parametrize(("existing", "p", "fits"), [
    pytest.param(_disk("e", "disk1", node_name="n1"), _disk("p", "disk1"), False, id="same-disk"),
    pytest.param(_disk("e", "disk1", node_name="n1"), _disk("p", "disk2"), True, id="other-disk"),
    pytest.param(_disk("e", "disk1", True, node_name="n1"), _disk("p", "disk1", True), True, id="both-read-only"),
])
def test_volume_restrictions_disk_conflict(existing: dict[str, Any], p: dict[str, Any], fits: bool) -> None:
    h = Harness([node("n1")], [existing])
    st = h.filter(p, "n1")
    if fits:
        assert st is None
    else:
        assert (st.code, st.reasons) == (Code.UNSCHEDULABLE, ["node(s) had no available disk"])


def test_read_write_once_pod_conflict() -> None:
    claim = pvc("solo", volume="v", bound=True, modes=["ReadWriteOncePod"])
    user = with_claims("user", "solo", node_name="n1")
    h = harness([claim], [pv("v", claim="solo")], existing=[user])
    st = h.filter(with_claims("p", "solo"), "n2")
    assert (st.code, st.reasons) == (UNRESOLVABLE, ["node has pod using PersistentVolumeClaim with the same name "
                                                    "and ReadWriteOncePod access mode"])


def test_volume_zone() -> None:
    zonal_pv = pv("v", claim="c", labels={"topology.kubernetes.io/zone": "b"})
    h = harness([pvc("c", volume="v", bound=True)], [zonal_pv])
    assert h.feasible(with_claims("p", "c")) == ["n2"]
    assert h.filter(with_claims("p", "c"), "n1").reasons == ["node(s) had no available volume zone"]


def test_node_volume_limits() -> None:
    csi_pv = pv("v1", claim="c1")
    csi_pv["spec"]["csi"] = {"driver": "ebs.csi.example.com", "volumeHandle": "h1"}
    csi_pv2 = pv("v2", claim="c2")
    csi_pv2["spec"]["csi"] = {"driver": "ebs.csi.example.com", "volumeHandle": "h2"}
    csinode = {"metadata": {"name": "n1"}, "spec": {"drivers": [
        {"name": "ebs.csi.example.com", "nodeID": "n1", "allocatable": {"count": 1}}]}}
    h = Harness([node("n1")], [with_claims("e", "c1", node_name="n1")], objects={
        "persistent_volume_claims": [pvc("c1", volume="v1", bound=True), pvc("c2", volume="v2", bound=True)],
        "persistent_volumes": [csi_pv, csi_pv2], "csi_nodes": [csinode]})
    assert h.filter(with_claims("p", "c2"), "n1").reasons == ["node(s) exceed max volume count"]
    assert h.filter(with_claims("p", "c1"), "n1") is None
