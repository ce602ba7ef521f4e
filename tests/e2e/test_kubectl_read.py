"""kubectl reading the cluster: version, discovery, get in every output form, describe, explain."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cluster import VERSIONED, Cluster


def test_version_reports_1_32(cluster: Cluster) -> None:
    out = json.loads(cluster.kubectl("version", "-o", "json").stdout)
    assert out["serverVersion"]["major"] == "1"
    assert out["serverVersion"]["minor"] == "32"


def test_system_namespaces_exist_at_start(cluster: Cluster) -> None:
    names = cluster.kubectl("get", "ns", "-o", "name").stdout.split()
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        assert f"namespace/{ns}" in names


def test_api_resources_lists_every_group(cluster: Cluster) -> None:
    out = cluster.kubectl("api-resources", "-o", "wide").stdout
    for expected in ("pods", "deployments", "cronjobs", "horizontalpodautoscalers", "poddisruptionbudgets",
                     "clusterroles", "leases", "endpointslices", "ingresses", "storageclasses", "priorityclasses",
                     "runtimeclasses", "validatingwebhookconfigurations", "customresourcedefinitions",
                     "selfsubjectaccessreviews", "tokenreviews"):
        assert expected in out, expected
    assert "po" in cluster.kubectl("api-resources", "--api-group=", "-o", "name").stdout


def test_default_kubernetes_service(cluster: Cluster) -> None:
    svc = cluster.kubectl_json("get", "svc", "kubernetes", "-n", "default")
    assert svc["spec"]["clusterIP"] == "10.43.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443


@pytest.mark.parametrize("fmt,check", [
    ("wide", lambda out: "NAME" in out and "STATUS" in out and "AGE" in out),
    ("yaml", lambda out: "kind: ConfigMap" in out),
    ("json", lambda out: json.loads(out)["data"] == {"k": "v"}),
    ("jsonpath={.data.k}", lambda out: out == "v"),
    ("custom-columns=NAME:.metadata.name,VALUE:.data.k", lambda out: out.split()[-1] == "v"),
], ids=["wide", "yaml", "json", "jsonpath", "custom-columns"])
def test_get_output_formats(cluster: Cluster, namespace: str, fmt: str, check) -> None:  # type: ignore[no-untyped-def]
    cluster.kubectl("create", "configmap", "cm", "--from-literal=k=v", "-n", namespace)
    args = ["get", "configmap", "cm", "-n", namespace, "-o", fmt] if fmt != "wide" else ["get", "ns", namespace, "-o", "wide"]
    assert check(cluster.kubectl(*args).stdout)


def test_get_pods_table_has_upstream_columns(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("run", "p1", "--image=busybox", "-n", namespace, "--restart=Never")
    header = cluster.kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()[0].split()
    assert header[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert "NODE" in header and "IP" in header
    row = cluster.kubectl("get", "pods", "-n", namespace).stdout.splitlines()[1].split()
    assert row[:3] == ["p1", "0/1", "Pending"]


def test_describe_configmap(cluster: Cluster, namespace: str) -> None:
    cluster.kubectl("create", "configmap", "described", "--from-literal=alpha=beta", "-n", namespace)
    out = cluster.kubectl("describe", "configmap", "described", "-n", namespace).stdout
    assert "Name:" in out and "described" in out and "alpha" in out and "beta" in out


def test_explain_uses_openapi_v3(cluster: Cluster) -> None:
    out = cluster.kubectl("explain", "deployment.spec.replicas").stdout
    assert "replicas" in out and "integer" in out


def test_auth_can_i(cluster: Cluster) -> None:
    assert cluster.kubectl("auth", "can-i", "create", "pods").stdout.strip() == "yes"


@pytest.mark.parametrize("minor", ["27", "33"])
def test_other_kubectl_versions_smoke(cluster: Cluster, namespace: str, minor: str) -> None:
    binary = VERSIONED.format(minor=minor)
    cluster.kubectl("create", "configmap", f"cm{minor}", "--from-literal=a=b", "-n", namespace, binary=binary)
    out = cluster.kubectl("get", "configmap", f"cm{minor}", "-n", namespace, "-o", "jsonpath={.data.a}", binary=binary).stdout
    assert out == "b"
    assert "default" in cluster.kubectl("get", "ns", binary=binary).stdout
