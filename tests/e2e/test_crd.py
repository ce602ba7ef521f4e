"""CustomResourceDefinitions through the generic path: discovery, validation, printer columns, subresources."""

from __future__ import annotations

import json
import textwrap
import time

from tests.e2e.cluster import Cluster

CRD = textwrap.dedent("""
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata:
      name: widgets.example.com
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wg]}
      versions:
      - name: v1
        served: true
        storage: true
        subresources:
          status: {}
          scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
        additionalPrinterColumns:
        - {name: Size, type: integer, jsonPath: .spec.size}
        - {name: Color, type: string, jsonPath: .spec.color}
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec:
                type: object
                properties:
                  size: {type: integer, minimum: 1}
                  color: {type: string, default: blue, enum: [blue, red]}
                  replicas: {type: integer}
              status:
                type: object
                properties:
                  replicas: {type: integer}
                  phase: {type: string}
      - name: v1beta1
        served: true
        storage: false
        schema:
          openAPIV3Schema:
            type: object
            x-kubernetes-preserve-unknown-fields: true
""")

WIDGET = textwrap.dedent("""
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: w1}
    spec: {size: 3, replicas: 1}
""")


def _wait_established(cluster: Cluster) -> None:
    cluster.kubectl("wait", "--for=condition=Established", "crd/widgets.example.com", "--timeout=30s")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if "widgets" in cluster.kubectl("api-resources", "--api-group=example.com").stdout:
            return
        time.sleep(0.2)
    raise AssertionError("widgets never appeared in discovery")


def test_crd_lifecycle(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("apply", "-f", "-", input=CRD)
    _wait_established(cluster)
    cluster.kubectl("apply", "-n", namespace, "-f", "-", input=WIDGET)
    w = cluster.kubectl_json("get", "widget", "w1", "-n", namespace)
    assert w["spec"]["color"] == "blue", "schema default applied"
    table = cluster.kubectl("get", "wg", "-n", namespace).stdout.splitlines()
    assert table[0].split() == ["NAME", "SIZE", "COLOR"]
    assert table[1].split()[:3] == ["w1", "3", "blue"]
    # validation against the schema: 422
    bad = WIDGET.replace("size: 3", "size: 0").replace("w1", "w2")
    r = cluster.kubectl("apply", "-n", namespace, "-f", "-", input=bad, check=False)
    assert r.returncode != 0 and "spec.size" in r.stderr
    # status subresource: the main resource ignores status, /status takes it
    cluster.kubectl("patch", "widget", "w1", "-n", namespace, "--type=merge", "-p", '{"status":{"phase":"Ready"}}')
    assert cluster.kubectl_json("get", "widget", "w1", "-n", namespace).get("status", {}).get("phase") is None
    cluster.kubectl("patch", "widget", "w1", "-n", namespace, "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Ready"}}')
    assert cluster.kubectl_json("get", "widget", "w1", "-n", namespace)["status"]["phase"] == "Ready"
    # scale subresource
    cluster.kubectl("scale", "widget", "w1", "--replicas=4", "-n", namespace)
    assert cluster.kubectl_json("get", "widget", "w1", "-n", namespace)["spec"]["replicas"] == 4
    # the second served version sees the same object
    raw = json.loads(cluster.kubectl("get", "--raw", f"/apis/example.com/v1beta1/namespaces/{namespace}/widgets/w1").stdout)
    assert raw["apiVersion"] == "example.com/v1beta1" and raw["spec"]["size"] == 3
    # deleting the CRD removes its objects and its API
    cluster.kubectl("delete", "crd", "widgets.example.com", "--timeout=30s")
    r = cluster.kubectl("get", "--raw", f"/apis/example.com/v1/namespaces/{namespace}/widgets", check=False)
    assert r.returncode != 0
