"""The node agent end to end, on real containerd/runc/CNI: `kijabi server` runs its agent and the Node turns
Ready; a Deployment runs and `kubectl logs/exec/port-forward` reach it; `kijabi images import` feeds the
node; `kijabi agent --server --token` joins a second node; `kijabi agent --cleanup` leaves nothing.

One `kijabi server` for the module; the tests run in file order (the cleanup test stops the server).
"""

from __future__ import annotations

import gzip
import json
import ssl
import stat
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kijabi.apiserver import certs
from kijabi.cli import agent as agent_cli
from kijabi.cli import images as images_cli
from kijabi.kubelet import cni
from kijabi.kubelet.containerd import AgentPaths
from kijabi.kubelet.images import build_image, busybox_spec
from tests.agent.node import (
    CLUSTER_CIDR,
    SERVER_BRIDGE,
    SERVICE_CIDR,
    Agent,
    Server,
    http_get,
    leftovers,
    node_ready,
    port_forward,
    remove_cgroup_root,
    running_pods,
    start_agent,
    start_server,
    stop_server,
    sweep_stale,
    teardown,
    wait_for,
)
from tests.kubelet.node import requires_runtime

pytestmark = [requires_runtime]

NODE = f"kjagent-{uuid.uuid4().hex[:6]}"
TOKEN = uuid.uuid4().hex
JOINED = f"{NODE}-joined"
AIRGAP_IMAGE = "docker.io/kijabi/airgap:v1"
READY_TIMEOUT = 120  # the agent's start-up on a loaded 2-core machine (python, containerd, images, CNI)
POD_TIMEOUT = 60


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    sweep_stale()
    s = start_server(NODE, TOKEN, airgap=[busybox_spec(name=AIRGAP_IMAGE)])
    try:
        wait_for(lambda: node_ready(s.cluster, NODE), timeout=READY_TIMEOUT, what=f"node {NODE} to be Ready")
        yield s
    finally:
        stop_server(s)
        teardown(s.data_dir)


def test_server_runs_an_agent_whose_node_turns_ready(server: Server) -> None:
    """The Node registers with its kubelet API endpoint, gets a pod CIDR from the node-ipam, turns Ready
    once the CNI config is in place; the service CIDR route is installed and the airgap images (from
    <data-dir>/agent/images, .tar.gz included) were imported at start."""
    node = node_ready(server.cluster, NODE)
    assert node is not None
    assert {"type": "InternalIP", "address": "127.0.0.1"} in node["status"]["addresses"]
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    assert port > 0 and port != 10250, "--kubelet-port 0 picked a free port and the Node reports it"
    assert node["spec"]["podCIDR"] == "10.42.248.0/24" and CLUSTER_CIDR.startswith("10.42.248.")
    names = {n for image in node["status"]["images"] for n in image["names"]}
    assert {AIRGAP_IMAGE, "docker.io/library/busybox:kijabi", "docker.io/kijabi/pause:3.10"} <= names
    assert cni.has_unreachable_route(SERVICE_CIDR)
    conflist = next(AgentPaths(server.data_dir).cni_conf_dir.glob("*.conflist")).read_text()
    assert f'"bridge": "{SERVER_BRIDGE}"' in conflist and '"subnet": "10.42.248.0/24"' in conflist
    status, _, body = server.cluster.request("GET", "/cacerts", auth=False)
    assert status == 200 and body == (server.data_dir / "server" / "tls" / "server-ca.crt").read_bytes()


def test_kubelet_api_serves_tls_and_authenticates(server: Server) -> None:
    """The agent's kubelet API presents a certificate of the cluster's server CA for the node address and
    lets only authenticated callers in (the admin client certificate here; healthz is open)."""
    node = node_ready(server.cluster, NODE)
    assert node is not None
    port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
    tls = server.data_dir / "server" / "tls"
    anonymous = ssl.create_default_context(cafile=str(tls / "server-ca.crt"))
    admin = server.cluster.ssl_context()  # trusts the same CA, presents the admin client certificate
    results = {}
    for who, ctx in (("anonymous", anonymous), ("admin", admin)):
        for path in ("/healthz", "/pods"):
            try:
                with urllib.request.urlopen(f"https://127.0.0.1:{port}{path}", context=ctx, timeout=10) as resp:
                    results[who, path] = resp.status
            except urllib.error.HTTPError as err:
                results[who, path] = err.code
    assert results == {("anonymous", "/healthz"): 200, ("anonymous", "/pods"): 401,
                       ("admin", "/healthz"): 200, ("admin", "/pods"): 200}


def test_deployment_runs_and_kubectl_logs_exec_port_forward_work(server: Server) -> None:
    """The issue's "Done when": a Deployment of the local busybox image runs httpd in a real container,
    and kubectl reaches it through the API server and the kubelet API: exec, port-forward, logs."""
    c = server.cluster
    c.kubectl("create", "deployment", "web", "--image=busybox:kijabi", "--", "httpd", "-f", "-v", "-p", "8080")
    [pod] = wait_for(lambda: running_pods(c, "default", "app=web"), timeout=POD_TIMEOUT, what="pod web Running")
    name = pod["metadata"]["name"]
    assert pod["spec"]["nodeName"] == NODE and pod["status"]["podIP"].startswith("10.42.248.")
    assert c.kubectl("exec", name, "--", "echo", "hi").stdout == "hi\n"
    with port_forward(c, "default", f"pod/{name}", 8080) as local:
        status, body = http_get(f"http://127.0.0.1:{local}/etc/hostname")
    assert (status, body) == (200, f"{name}\n".encode())
    # httpd -v logs each request; the log reaches the file a moment after the response
    wait_for(lambda: "response:200" in c.kubectl("logs", name).stdout, timeout=10, what="httpd's log of the GET")


def test_images_import_then_a_pod_uses_the_image(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    """`kijabi images import` loads a .tar.gz into the running agent's containerd; `kijabi images ls`
    lists it (from CRI, as crictl would); a pod naming it runs without a registry."""
    built = build_image(busybox_spec(name="docker.io/kijabi/imported:v1"), server.data_dir / "imported.tar")
    archive = built.path.with_name("imported.tar.gz")
    archive.write_bytes(gzip.compress(built.path.read_bytes()))
    d = ["--data-dir", str(server.data_dir)]
    assert images_cli.main(["import", str(archive), *d]) == 0
    assert capsys.readouterr().out == "imported docker.io/kijabi/imported:v1\n"
    assert images_cli.main(["ls", *d]) == 0
    rows = {line.split()[0]: line.split()[1] for line in capsys.readouterr().out.splitlines()[1:]}
    assert rows["docker.io/kijabi/imported:v1"] == built.id.removeprefix("sha256:")[:13]
    c = server.cluster
    c.kubectl("run", "imported", "--image=kijabi/imported:v1", f"--overrides={{\"spec\":{{\"nodeName\":\"{NODE}\"}}}}",
              "--command", "--", "sh", "-c", "echo from-imported; exec sleep 3600")
    wait_for(lambda: running_pods(c, "default", "run=imported"), timeout=POD_TIMEOUT, what="pod imported Running")
    assert c.kubectl("logs", "imported").stdout == "from-imported\n"


@pytest.mark.parametrize("argv, message", [
    (["import", "/nonexistent.tar"], "containerd is not running"),
    (["ls"], "containerd is not running"),
], ids=["import", "ls"])
def test_images_without_a_running_containerd_is_one_error_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    assert images_cli.main([*argv, "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_agent_join_refuses_a_wrong_token(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A wrong --token is refused with one line before anything starts."""
    assert agent_cli.main(["--server", server.cluster.url, "--token", "wrong", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("kijabi agent: ") and "rejected the token (HTTP 401)" in err
    assert not (tmp_path / "agent").exists()


def _csr(node: str) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node)])
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256()).public_bytes(
        serialization.Encoding.PEM)


@pytest.mark.parametrize("method, name, who, headers, body, code", [
    ("GET", "server-ca.crt", "nobody", {}, None, 401),
    ("GET", "client-ca.crt", "wrong-token", {}, None, 401),
    ("POST", "serving-kubelet.crt", "wrong-token", {"kijabi-Node-Name": "n1"}, "csr", 401),
    ("POST", "serving-kubelet.crt", "service-account", {"kijabi-Node-Name": "n1"}, "csr", 403),
    ("POST", "serving-kubelet.crt", "token", {}, "csr", 400),
    ("POST", "serving-kubelet.crt", "token", {"kijabi-Node-Name": "Not_A_Name"}, "csr", 400),
    ("POST", "serving-kubelet.crt", "token", {"kijabi-Node-Name": "n1", "kijabi-Node-IP": "10.0.0.300"}, "csr", 400),
    ("POST", "serving-kubelet.crt", "token", {"kijabi-Node-Name": "n1"}, "garbage", 400),
    ("POST", "serving-kubelet.crt", "token", {"kijabi-Node-Name": "n1"}, None, 400),
    ("GET", "serving-kubelet.crt", "token", {"kijabi-Node-Name": "n1"}, None, 405),
    ("POST", "server-ca.crt", "token", {}, None, 405),
    ("GET", "no-such.crt", "token", {}, None, 404),
], ids=["no-credentials", "wrong-token", "wrong-token-csr", "service-account-is-not-admin", "no-node-name",
        "bad-node-name", "bad-node-ip", "not-a-csr", "no-csr", "get-without-csr", "post-to-ca", "unknown-file"])
def test_node_certificate_endpoints_refuse_bad_requests(server: Server, method: str, name: str, who: str,
                                                        headers: dict[str, str], body: str | None, code: int) -> None:
    """/v1-kijabi/* need the server's token (or another admin) and well-formed input; every refusal is a
    Status with the right code, never a 500."""
    c = server.cluster
    tokens = {"wrong-token": "wrong", "token": server.token}
    if who == "service-account":
        tokens[who] = c.kubectl("create", "token", "default", "-n", "default").stdout.strip()
    if who in tokens:
        headers = {**headers, "Authorization": f"Bearer {tokens[who]}"}
    data = {"csr": _csr("n1"), "garbage": b"not a csr", None: None}[body]
    status, _, raw = c.request(method, f"/v1-kijabi/{name}", data, ctype="application/x-pem-file", headers=headers,
                               auth=False)
    doc = json.loads(raw)
    assert (status, doc["kind"], doc["code"]) == (code, "Status", code), raw


@pytest.mark.parametrize("name, ca, usage, ips", [
    ("serving-kubelet.crt", "server-ca", ExtendedKeyUsageOID.SERVER_AUTH, {"127.0.0.1", "10.0.0.7", "fd00::7"}),
    ("client-kubelet.crt", "client-ca", ExtendedKeyUsageOID.CLIENT_AUTH, set()),
], ids=["serving", "client"])
def test_node_certificate_endpoints_sign_the_agents_key(server: Server, name: str, ca: str,
                                                        usage: x509.ObjectIdentifier, ips: set[str]) -> None:
    """With the token, a CSR gets a certificate for the CSR's key (the private key stays with the agent),
    for system:node:<name> in system:nodes, followed by its CA; the CAs are served as they are on disk."""
    key = ec.generate_private_key(ec.SECP256R1())
    csr = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")])).sign(key, hashes.SHA256())
    auth = {"Authorization": f"Bearer {server.token}"}
    status, _, body = server.cluster.request(
        "POST", f"/v1-kijabi/{name}", csr.public_bytes(serialization.Encoding.DER), ctype="application/pkcs10",
        headers={**auth, "kijabi-Node-Name": "n7", "kijabi-Node-IP": "10.0.0.7, fd00::7"}, auth=False)
    assert status == 200, body
    leaf, issuer = x509.load_pem_x509_certificates(body)
    ca_pem = (server.data_dir / "server" / "tls" / f"{ca}.crt").read_bytes()
    assert issuer == x509.load_pem_x509_certificate(ca_pem) and leaf.issuer == issuer.subject
    assert leaf.public_key() == key.public_key()
    assert leaf.subject.rfc4514_string() == "CN=system:node:n7,O=system:nodes"
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [usage]
    if ips:
        san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} == ips
        assert set(san.get_values_for_type(x509.DNSName)) == {"n7", "localhost"}
    status, _, served = server.cluster.request("GET", f"/v1-kijabi/{ca}.crt", headers=auth, auth=False)
    assert (status, served) == (200, ca_pem)


@pytest.fixture(scope="class")
def joined(server: Server) -> Iterator[Agent]:
    """`kijabi agent --server URL --token T` as a second node, for the tests of TestJoinedNode."""
    agent = start_agent(server, JOINED)
    try:
        node = wait_for(lambda: node_ready(server.cluster, JOINED) if agent.proc.poll() is None else "exited",
                        timeout=READY_TIMEOUT, what=f"node {JOINED} to be Ready")
        assert node != "exited", agent.log.read_text()
        yield agent
    finally:
        agent.stop()
        teardown(agent.data_dir, route=False)  # the route is the server node's too
        server.cluster.request("DELETE", f"/api/v1/nodes/{JOINED}")
    assert agent.proc.returncode == 0, agent.log.read_text()


class TestJoinedNode:
    """`kijabi agent --server URL --token T`: a second node, with a kubelet API the API server can reach."""

    def test_joins_with_server_url_and_token(self, server: Server, joined: Agent) -> None:
        """The agent fetched the CA from /cacerts, checked the token, wrote its kubeconfig and registered a
        Node that turned Ready on its own pod CIDR; its kubelet API runs on a certificate of the server CA
        for its own key (mode 0600), and trusts the cluster's client CA."""
        node = node_ready(server.cluster, JOINED)
        assert node is not None
        assert node["metadata"]["labels"]["kijabi.io/joined"] == "true"
        assert node["spec"]["podCIDR"] == "10.42.249.0/24"
        agent_dir = joined.data_dir / "agent"
        kubeconfig = agent_dir / "kubelet.kubeconfig"
        assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
        doc = yaml.safe_load(kubeconfig.read_text())
        assert doc["users"][0]["user"] == {"token": TOKEN} and doc["clusters"][0]["cluster"]["server"] == server.cluster.url
        tls = server.data_dir / "server" / "tls"
        assert stat.S_IMODE((agent_dir / "serving-kubelet.key").stat().st_mode) == 0o600
        assert (agent_dir / "client-ca.crt").read_bytes() == (tls / "client-ca.crt").read_bytes()
        assert (agent_dir / "server-ca.crt").read_bytes() == (tls / "server-ca.crt").read_bytes()
        cert = x509.load_pem_x509_certificate((agent_dir / "serving-kubelet.crt").read_bytes())
        assert cert.issuer == x509.load_pem_x509_certificate((tls / "server-ca.crt").read_bytes()).subject

    def test_kubectl_logs_exec_port_forward_reach_a_pod_on_the_joined_node(self, server: Server,
                                                                          joined: Agent) -> None:
        """The API server verifies the joined kubelet's serving certificate and presents its client
        certificate, which that kubelet accepts: logs, exec and port-forward work for its pods."""
        c = server.cluster
        c.kubectl("run", "onjoined", "--image=busybox:kijabi", f"--overrides={{\"spec\":{{\"nodeName\":\"{JOINED}\"}}}}",
                  "--command", "--", "httpd", "-f", "-v", "-p", "8080")
        wait_for(lambda: running_pods(c, "default", "run=onjoined"), timeout=POD_TIMEOUT, what="pod onjoined Running")
        assert c.kubectl("exec", "onjoined", "--", "echo", "hi").stdout == "hi\n"
        with port_forward(c, "default", "pod/onjoined", 8080) as local:
            status, body = http_get(f"http://127.0.0.1:{local}/etc/hostname")
        assert (status, body) == (200, b"onjoined\n")
        wait_for(lambda: "response:200" in c.kubectl("logs", "onjoined").stdout, timeout=10,
                 what="httpd's log of the GET")
        c.kubectl("delete", "pod", "onjoined", "--grace-period=0", "--force", check=False)

    def test_joined_kubelet_api_trusts_only_the_cluster_client_ca(self, server: Server, joined: Agent,
                                                                  tmp_path: Path) -> None:
        """The joined kubelet's API: a client certificate of the cluster's client CA gets in, one of a
        foreign CA (same subject: system:masters) is refused at the TLS handshake, none at all is a 401."""
        node = node_ready(server.cluster, JOINED)
        assert node is not None
        port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        foreign_ca = certs.ensure_ca(certs.Pair(tmp_path / "ca.crt", tmp_path / "ca.key"), "foreign-ca")
        foreign = certs.Pair(tmp_path / "admin.crt", tmp_path / "admin.key")
        certs.ensure_leaf(foreign, foreign_ca, cn="system:admin", orgs=("system:masters",))
        contexts = {"cluster-admin": server.cluster.ssl_context(), "no-certificate": server.cluster.ssl_context(client_cert=False),
                    "foreign-ca": ssl.create_default_context(cafile=str(server.data_dir / "server" / "tls" / "server-ca.crt"))}
        contexts["foreign-ca"].load_cert_chain(str(foreign.cert), str(foreign.key))
        results = {who: _kubelet_get(f"https://127.0.0.1:{port}/pods", ctx) for who, ctx in contexts.items()}
        assert results == {"cluster-admin": 200, "no-certificate": 401, "foreign-ca": "refused"}


def _kubelet_get(url: str, ctx: ssl.SSLContext) -> int | str:
    """The HTTP status of GET `url`, or "refused" when the TLS handshake fails."""
    try:
        with urllib.request.urlopen(url, context=ctx, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return err.code
    except (urllib.error.URLError, ssl.SSLError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        assert isinstance(reason, ssl.SSLError | ConnectionError), exc
        return "refused"


def test_cleanup_after_the_server_stopped_leaves_nothing(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    """Stopping the server stops its agent and containerd, but pods keep running (a restarted agent adopts
    them); `kijabi agent --cleanup` then kills shims and pods, unmounts, deletes the bridge, the pod
    cgroups and the service route, prints what it removed, and a second run finds nothing."""
    c = server.cluster
    if not running_pods(c, "default", "run=keeper"):
        c.kubectl("run", "keeper", "--image=busybox:kijabi", f"--overrides={{\"spec\":{{\"nodeName\":\"{NODE}\"}}}}",
                  "--command", "--", "sleep", "3600")
        wait_for(lambda: running_pods(c, "default", "run=keeper"), timeout=POD_TIMEOUT, what="pod keeper Running")
    stop_server(server)
    before = leftovers(server.data_dir, SERVER_BRIDGE)
    assert not before["containerd"], "containerd stopped with the agent"
    assert before["shims"] and before["mounts"] and before["links"] and before["route"] and before["cgroups"]
    cleanup = ["--cleanup", "--data-dir", str(server.data_dir)]
    assert agent_cli.main(cleanup) == 0
    lines = capsys.readouterr().out.splitlines()
    assert f"routes: unreachable {SERVICE_CIDR}" in lines and f"links: {SERVER_BRIDGE}" in lines
    assert any(line.startswith("processes: ") for line in lines) and any(m.startswith("mounts: ") for m in lines)
    remove_cgroup_root(server.data_dir)
    left = {k: v for k, v in leftovers(server.data_dir, SERVER_BRIDGE).items() if v}
    assert not left, f"left behind: {left}"
    assert agent_cli.main(cleanup) == 0
    assert capsys.readouterr().out.endswith("nothing to remove\n")
