"""kubectl apply, client-side (three-way strategic merge) and server-side (managedFields, conflicts)."""

from __future__ import annotations

import textwrap

from tests.e2e.cluster import Cluster

DEPLOYMENT = textwrap.dedent("""
    apiVersion: apps/v1
    kind: Deployment
    metadata:
      name: web
      labels: {app: web}
    spec:
      replicas: {replicas}
      selector: {{matchLabels: {{app: web}}}}
      template:
        metadata: {{labels: {{app: web}}}}
        spec:
          containers:
          - name: web
            image: nginx:1.25
            {extra}
""")


def manifest(replicas: int = 2, extra: str = "") -> str:
    return DEPLOYMENT.replace("{replicas}", str(replicas)).replace("{extra}", extra).replace("{{", "{").replace("}}", "}")


def test_client_side_apply_create_change_remove_reapply(cluster: Cluster, namespace: str) -> None:
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest(extra="env: [{name: A, value: '1'}]")).stdout
    assert "created" in out
    dep = cluster.kubectl_json("get", "deploy", "web", "-n", namespace)
    assert "kubectl.kubernetes.io/last-applied-configuration" in dep["metadata"]["annotations"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "A", "value": "1"}]
    # change a field
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest(replicas=3, extra="env: [{name: A, value: '1'}]")).stdout
    assert "configured" in out
    assert cluster.kubectl_json("get", "deploy", "web", "-n", namespace)["spec"]["replicas"] == 3
    # remove a field
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest(replicas=3))
    dep = cluster.kubectl_json("get", "deploy", "web", "-n", namespace)
    assert "env" not in dep["spec"]["template"]["spec"]["containers"][0]
    # re-apply: nothing changes
    out = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=manifest(replicas=3)).stdout
    assert "unchanged" in out
    assert cluster.kubectl_json("get", "deploy", "web", "-n", namespace)["metadata"]["generation"] == dep["metadata"]["generation"]


def test_server_side_apply_conflict_and_force(cluster: Cluster, namespace: str) -> None:
    out = cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest()).stdout
    assert "serverside-applied" in out
    dep = cluster.kubectl_json("get", "deploy", "web", "-n", namespace, "--show-managed-fields")
    managers = {m["manager"]: m for m in dep["metadata"]["managedFields"]}
    assert managers["kubectl"]["operation"] == "Apply"
    assert "f:replicas" in managers["kubectl"]["fieldsV1"]["f:spec"]
    # another manager takes replicas
    cluster.kubectl("scale", "deploy", "web", "--replicas=4", "-n", namespace)
    r = cluster.kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest(replicas=5), check=False)
    assert r.returncode != 0
    assert "conflict" in r.stderr.lower() and ".spec.replicas" in r.stderr
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-n", namespace, "-f", "-", input=manifest(replicas=5))
    assert cluster.kubectl_json("get", "deploy", "web", "-n", namespace)["spec"]["replicas"] == 5
