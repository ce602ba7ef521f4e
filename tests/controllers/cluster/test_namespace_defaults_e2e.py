"""Every namespace gets a `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap; both come back
when deleted, and the ConfigMap is put back to the cluster CA when someone changes it."""

from __future__ import annotations

from tests.controllers.cluster.harness import Kube, wait_for
from tests.e2e.cluster import Cluster


def test_default_service_account_appears_and_is_recreated(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """kubectl sees `default` in a new namespace; deleting it brings a new one (a new uid)."""
    first = wait_for(lambda: kube.get("v1", "serviceaccounts", "default", namespace), what="default SA")
    cluster.kubectl("delete", "serviceaccount", "default", "-n", namespace)
    again = wait_for(lambda: (sa := kube.get("v1", "serviceaccounts", "default", namespace)) and
                     sa["metadata"]["uid"] != first["metadata"]["uid"] and sa, what="recreated default SA")
    assert again["metadata"]["name"] == "default"
    out = cluster.kubectl("get", "serviceaccounts", "-n", namespace, "-o", "name").stdout.split()
    assert out == ["serviceaccount/default"]


def test_root_ca_configmap_holds_the_cluster_ca(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """kube-root-ca.crt carries ca.crt = the server CA and the upstream description annotation."""
    ca = (cluster.data_dir / "server" / "tls" / "server-ca.crt").read_text()
    cm = wait_for(lambda: kube.get("v1", "configmaps", "kube-root-ca.crt", namespace), what="kube-root-ca.crt")
    assert cm["data"] == {"ca.crt": ca}
    assert cm["metadata"]["annotations"]["kubernetes.io/description"].startswith(
        "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints")


def test_root_ca_configmap_is_repaired_and_recreated(kube: Kube, namespace: str, cluster: Cluster) -> None:
    """A changed ca.crt is put back; a deleted ConfigMap is created again."""
    ca = (cluster.data_dir / "server" / "tls" / "server-ca.crt").read_text()
    wait_for(lambda: kube.get("v1", "configmaps", "kube-root-ca.crt", namespace), what="kube-root-ca.crt")
    kube.patch("v1", "configmaps", "kube-root-ca.crt", {"data": {"ca.crt": "tampered"}}, namespace)
    wait_for(lambda: kube.get("v1", "configmaps", "kube-root-ca.crt", namespace)["data"] == {"ca.crt": ca},
             what="ca.crt restored")
    first = kube.get("v1", "configmaps", "kube-root-ca.crt", namespace)
    cluster.kubectl("delete", "configmap", "kube-root-ca.crt", "-n", namespace)
    wait_for(lambda: (cm := kube.get("v1", "configmaps", "kube-root-ca.crt", namespace)) and
             cm["metadata"]["uid"] != first["metadata"]["uid"], what="kube-root-ca.crt recreated")


def test_system_namespaces_are_served_too(kube: Kube) -> None:
    """Namespaces that existed before the controllers started get both objects as well."""
    for ns in ("default", "kube-system", "kube-public", "kube-node-lease"):
        wait_for(lambda ns=ns: kube.get("v1", "serviceaccounts", "default", ns), what=f"default SA in {ns}")
        wait_for(lambda ns=ns: kube.get("v1", "configmaps", "kube-root-ca.crt", ns), what=f"root CA in {ns}")
