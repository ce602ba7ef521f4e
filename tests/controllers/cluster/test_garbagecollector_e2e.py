"""The garbage collector with real kubectl: `delete --cascade=background|foreground|orphan` of a
Deployment -> ReplicaSet -> Pods chain (made by hand, with ownerReferences, as the workload controllers
would), dangling owner references, partial ownership and cross-namespace references."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.controllers.cluster.harness import Kube, owner_ref, wait_for
from tests.e2e.cluster import Cluster

LABELS = {"app": "web"}


def _template() -> dict[str, Any]:
    return {"metadata": {"labels": LABELS}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def make_chain(kube: Kube, ns: str, pods: int = 2) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    dep = kube.create("apps/v1", "deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": pods, "selector": {"matchLabels": LABELS}, "template": _template()}}, ns)
    rs = kube.create("apps/v1", "replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "web-5d4f6b", "labels": LABELS, "ownerReferences": [owner_ref(dep)]},
        "spec": {"replicas": pods, "selector": {"matchLabels": LABELS}, "template": _template()}}, ns)
    made = [kube.pod(ns, f"web-5d4f6b-{i}", labels=LABELS, owner=owner_ref(rs)) for i in range(pods)]
    return dep, rs, made


def names(kube: Kube, api_version: str, resource: str, ns: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in kube.list(api_version, resource, ns))


def test_background_cascade_deletes_the_chain(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """The Deployment goes at once; the collector then removes its ReplicaSet, and that one's Pods."""
    make_chain(kube, namespace)
    cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--cascade=background")
    assert kube.get("apps/v1", "deployments", "web", namespace) is None
    wait_for(lambda: not names(kube, "apps/v1", "replicasets", namespace), what="replica set collected")
    wait_for(lambda: not names(kube, "v1", "pods", namespace), what="pods collected")


def test_foreground_cascade_removes_dependents_before_the_owner(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """With foreground propagation the Deployment is still there (deletionTimestamp, foregroundDeletion)
    while dependents exist; kubectl returns once everything is gone."""
    make_chain(kube, namespace)
    # One pod carries a finalizer, so the chain is held up at the bottom and we can look at it.
    kube.patch("v1", "pods", "web-5d4f6b-0", {"metadata": {"finalizers": ["test.kijabi.io/hold"]}}, namespace)
    cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--cascade=foreground", "--wait=false")

    def held() -> bool:
        dep = kube.get("apps/v1", "deployments", "web", namespace)
        rs = kube.get("apps/v1", "replicasets", "web-5d4f6b", namespace)
        pod1 = kube.get("v1", "pods", "web-5d4f6b-1", namespace)
        return bool(dep and rs and pod1 is None and dep["metadata"].get("deletionTimestamp")
                    and "foregroundDeletion" in dep["metadata"].get("finalizers", [])
                    and "foregroundDeletion" in rs["metadata"].get("finalizers", []))

    wait_for(held, what="deployment and replica set waiting on the held pod")
    kube.patch("v1", "pods", "web-5d4f6b-0", {"metadata": {"finalizers": None}}, namespace)
    wait_for(lambda: kube.get("apps/v1", "deployments", "web", namespace) is None, what="deployment gone")
    assert names(kube, "apps/v1", "replicasets", namespace) == []
    assert names(kube, "v1", "pods", namespace) == []


def test_foreground_cascade_with_kubectl_waiting(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """`kubectl delete --cascade=foreground` (which waits) finishes with nothing left."""
    make_chain(kube, namespace, pods=3)
    cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--cascade=foreground", "--timeout=30s")
    assert kube.get("apps/v1", "deployments", "web", namespace) is None
    assert names(kube, "apps/v1", "replicasets", namespace) == []
    assert names(kube, "v1", "pods", namespace) == []


def test_orphan_cascade_keeps_dependents_without_the_reference(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """The ReplicaSet survives the Deployment, without its ownerReference; its Pods keep theirs."""
    _, rs, _ = make_chain(kube, namespace)
    cluster.kubectl("delete", "deployment", "web", "-n", namespace, "--cascade=orphan")
    wait_for(lambda: kube.get("apps/v1", "deployments", "web", namespace) is None, what="deployment gone")
    left = kube.get("apps/v1", "replicasets", "web-5d4f6b", namespace)
    assert left is not None and left["metadata"]["uid"] == rs["metadata"]["uid"]
    assert not left["metadata"].get("ownerReferences")
    pods = kube.list("v1", "pods", namespace)
    assert len(pods) == 2
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"] for p in pods)


def _cm(name: str, owners: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = owners
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


@pytest.mark.parametrize("kind", ["ConfigMap", "Secret"], ids=["owner-kind-configmap", "owner-kind-secret"])
def test_dangling_owner_reference_is_collected(kube: Kube, namespace: str, kind: str) -> None:
    """An object whose only owner never existed is deleted."""
    ghost = {"apiVersion": "v1", "kind": kind, "name": "ghost", "uid": str(uuid.uuid4())}
    kube.create("v1", "configmaps", _cm("orphaned", [ghost]), namespace)
    wait_for(lambda: kube.get("v1", "configmaps", "orphaned", namespace) is None, what="dangling dependent collected")


def test_dependent_with_one_live_owner_loses_only_the_dangling_reference(kube: Kube, namespace: str) -> None:
    owner = kube.create("v1", "configmaps", _cm("owner"), namespace)
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": str(uuid.uuid4())}
    kube.create("v1", "configmaps", _cm("shared", [owner_ref(owner, controller=False), ghost]), namespace)

    def refs() -> list[str]:
        cm = kube.get("v1", "configmaps", "shared", namespace)
        return [r["name"] for r in cm["metadata"].get("ownerReferences", [])]

    wait_for(lambda: refs() == ["owner"], what="dangling reference removed")
    kube.delete("v1", "configmaps", "owner", namespace)
    wait_for(lambda: kube.get("v1", "configmaps", "shared", namespace) is None, what="dependent collected with its owner")


def test_owner_in_another_namespace_counts_as_absent(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """ownerReferences have no namespace: an owner living elsewhere is not found in the dependent's
    namespace, the dependent is collected and the event OwnerRefInvalidNamespace is recorded."""
    other = "c-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", other)
    owner = kube.create("v1", "configmaps", _cm("elsewhere"), other)
    wait_for(lambda: kube.get("v1", "configmaps", "elsewhere", other), what="owner")
    kube.create("v1", "configmaps", _cm("misplaced", [owner_ref(owner)]), namespace)
    wait_for(lambda: kube.get("v1", "configmaps", "misplaced", namespace) is None, what="misplaced dependent collected")
    assert kube.get("v1", "configmaps", "elsewhere", other) is not None
    events = wait_for(lambda: [e for e in kube.events(namespace, "misplaced") if e["reason"] == "OwnerRefInvalidNamespace"],
                      what="OwnerRefInvalidNamespace event")
    assert events[0]["type"] == "Warning"
    assert events[0]["message"] == (f"ownerRef [v1/ConfigMap, namespace: {namespace}, name: elsewhere, uid: "
                                    f"{owner['metadata']['uid']}] does not exist in namespace \"{namespace}\"")


def test_cluster_scoped_owner_of_namespaced_dependent(kube: Kube, namespace: str) -> None:
    """A Namespace can own namespaced objects (cluster-scoped owners are looked up cluster-wide)."""
    ns = kube.get("v1", "namespaces", namespace)
    kube.create("v1", "configmaps", _cm("owned-by-ns", [owner_ref(ns, controller=False, block=False)]), namespace)
    ghost_ns = {"apiVersion": "v1", "kind": "Namespace", "name": "no-such-ns", "uid": str(uuid.uuid4())}
    kube.create("v1", "configmaps", _cm("owned-by-ghost-ns", [ghost_ns]), namespace)
    wait_for(lambda: kube.get("v1", "configmaps", "owned-by-ghost-ns", namespace) is None, what="ghost-owned collected")
    assert kube.get("v1", "configmaps", "owned-by-ns", namespace) is not None
