"""Deleting a namespace empties it (config maps, secrets, pods, services, custom resources...), reports
progress in its conditions, and releases it through the finalize subresource."""

from __future__ import annotations

import textwrap
import uuid
from typing import Any

from tests.controllers.cluster.harness import Kube, wait_for
from tests.e2e.cluster import Cluster

CRD = textwrap.dedent("""
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: gadgets.nstest.kijabi.io
    spec:
      group: nstest.kijabi.io
      scope: Namespaced
      names: {plural: gadgets, singular: gadget, kind: Gadget}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            x-kubernetes-preserve-unknown-fields: true
""")


def ensure_crd(cluster: Cluster, kube: Kube) -> None:
    cluster.kubectl("apply", "-f", "-", input=CRD)
    wait_for(lambda: kube.call("GET", "/apis/nstest.kijabi.io/v1/gadgets")[0] == 200, what="CRD served")


def fill(kube: Kube, ns: str) -> None:
    kube.create("v1", "configmaps", {"metadata": {"name": "cm1"}, "data": {"a": "b"}}, ns)
    kube.create("v1", "secrets", {"metadata": {"name": "s1"}, "stringData": {"a": "b"}}, ns)
    kube.create("v1", "services", {"metadata": {"name": "svc"}, "spec": {"selector": {"app": "x"},
                                                                         "ports": [{"port": 80}]}}, ns)
    kube.pod(ns, "p1", labels={"app": "x"})
    kube.create("nstest.kijabi.io/v1", "gadgets", {"apiVersion": "nstest.kijabi.io/v1", "kind": "Gadget",
                                                     "metadata": {"name": "g1"}, "spec": {"size": 1}}, ns)


def test_namespace_deletion_empties_everything(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """`kubectl delete namespace` returns once the namespace and all its content are gone."""
    ensure_crd(cluster, kube)
    fill(kube, namespace)
    wait_for(lambda: kube.get("v1", "serviceaccounts", "default", namespace), what="default SA")
    cluster.kubectl("delete", "namespace", namespace, "--timeout=60s")
    assert kube.get("v1", "namespaces", namespace) is None
    for api_version, resource in (("v1", "configmaps"), ("v1", "secrets"), ("v1", "pods"), ("v1", "services"),
                                  ("v1", "serviceaccounts"), ("nstest.kijabi.io/v1", "gadgets")):
        assert kube.list(api_version, resource, namespace) == [], resource


def conditions(kube: Kube, ns: str) -> dict[str, dict[str, Any]]:
    obj = kube.get("v1", "namespaces", ns) or {}
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def test_content_held_by_a_finalizer_is_reported_then_released(kube: Kube, cluster: Cluster, controllers: Any) -> None:
    """A custom resource with a finalizer keeps the namespace Terminating with the upstream conditions;
    once its finalizer is removed the namespace goes away."""
    ensure_crd(cluster, kube)
    ns = "c-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", ns)
    kube.create("nstest.kijabi.io/v1", "gadgets", {"apiVersion": "nstest.kijabi.io/v1", "kind": "Gadget",
                                                     "metadata": {"name": "held", "finalizers": ["example.com/hold"]}}, ns)
    kube.create("v1", "configmaps", {"metadata": {"name": "cm1"}}, ns)
    cluster.kubectl("delete", "namespace", ns, "--wait=false")

    def remaining() -> dict[str, dict[str, Any]] | None:
        c = conditions(kube, ns)
        return c if c.get("NamespaceFinalizersRemaining", {}).get("status") == "True" else None

    conds = wait_for(remaining, what="NamespaceFinalizersRemaining")
    assert kube.get("v1", "namespaces", ns)["status"]["phase"] == "Terminating"
    assert conds["NamespaceContentRemaining"] == {**conds["NamespaceContentRemaining"], "status": "True",
                                                   "reason": "SomeResourcesRemain",
                                                   "message": "Some resources are remaining: gadgets.nstest.kijabi.io has 1 resource instances"}
    assert conds["NamespaceFinalizersRemaining"]["reason"] == "SomeFinalizerRemain"
    assert conds["NamespaceFinalizersRemaining"]["message"] == "Some finalizers are remaining: example.com/hold in 1 resource instances"
    assert conds["NamespaceDeletionDiscoveryFailure"]["status"] == "False"
    assert conds["NamespaceDeletionDiscoveryFailure"]["reason"] == "ResourcesDiscovered"
    assert conds["NamespaceDeletionContentFailure"]["message"] == "All content successfully deleted, may be waiting on finalization"
    assert kube.list("v1", "configmaps", ns) == []
    held = kube.get("nstest.kijabi.io/v1", "gadgets", "held", ns)
    assert held["metadata"].get("deletionTimestamp")
    kube.patch("nstest.kijabi.io/v1", "gadgets", "held", {"metadata": {"finalizers": None}}, ns)
    wait_for(lambda: kube.get("v1", "namespaces", ns) is None, what="namespace gone")


def test_no_new_content_while_terminating(kube: Kube, cluster: Cluster, controllers: Any) -> None:
    """Creating in a terminating namespace is refused (NamespaceTerminating), and the controllers that
    create per-namespace objects do not fight the deletion."""
    ns = "c-" + uuid.uuid4().hex[:8]
    cluster.kubectl("create", "namespace", ns)
    kube.create("v1", "configmaps", {"metadata": {"name": "hold", "finalizers": ["example.com/hold"]}}, ns)
    cluster.kubectl("delete", "namespace", ns, "--wait=false")
    wait_for(lambda: kube.list("v1", "serviceaccounts", ns) == [], what="service accounts removed")
    code, body = kube.call("POST", kube.path("v1", "configmaps", ns), {"metadata": {"name": "late"}})
    assert code == 403 and body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    assert kube.get("v1", "configmaps", "kube-root-ca.crt", ns) is None
    kube.patch("v1", "configmaps", "hold", {"metadata": {"finalizers": None}}, ns)
    wait_for(lambda: kube.get("v1", "namespaces", ns) is None, what="namespace gone")
