"""Resources that appear after the controllers started (a new CRD) are picked up: the garbage collector
collects custom resources whose owner went away, and a quota counts them as count/<plural>.<group>."""

from __future__ import annotations

import textwrap
import uuid

from tests.controllers.cluster.harness import Kube, owner_ref, wait_for
from tests.e2e.cluster import Cluster


def crd(group: str) -> str:
    return textwrap.dedent(f"""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: sprockets.{group}
        spec:
          group: {group}
          scope: Namespaced
          names: {{plural: sprockets, singular: sprocket, kind: Sprocket}}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                x-kubernetes-preserve-unknown-fields: true
        """)


def test_new_crd_is_garbage_collected_and_counted(kube: Kube, namespace: str, cluster: Cluster) -> None:
    group = f"g{uuid.uuid4().hex[:6]}.kijabi.io"
    cluster.kubectl("apply", "-f", "-", input=crd(group))
    api = f"{group}/v1"
    wait_for(lambda: kube.call("GET", f"/apis/{api}/sprockets")[0] == 200, what="CRD served")
    count = f"count/sprockets.{group}"
    kube.create("v1", "resourcequotas", {"metadata": {"name": "q"}, "spec": {"hard": {count: "5"}}}, namespace)
    owner = kube.create("v1", "configmaps", {"metadata": {"name": "owner"}}, namespace)
    # Quota admission refuses creates until the controller has computed the quota's usage (upstream).
    wait_for(lambda: count in ((kube.get("v1", "resourcequotas", "q", namespace).get("status") or {}).get("used") or {}),
             timeout=90, what="quota usage computed")
    for i in range(2):
        kube.create(api, "sprockets", {"apiVersion": api, "kind": "Sprocket",
                                       "metadata": {"name": f"s{i}", "ownerReferences": [owner_ref(owner)]}}, namespace)

    def used() -> str | None:
        q = kube.get("v1", "resourcequotas", "q", namespace) or {}
        return (q.get("status") or {}).get("used", {}).get(count)

    wait_for(lambda: used() == "2", what="quota counts the custom resources")
    kube.delete("v1", "configmaps", "owner", namespace)
    wait_for(lambda: kube.list(api, "sprockets", namespace) == [], what="custom resources collected with their owner")
    wait_for(lambda: used() == "0", what="quota usage released")
