"""Certificates for joined agents without a runtime: the checks of kijabi.apiserver.nodecerts, and the
agent's side of the exchange (kijabi.kubelet.agent.fetch_node_tls, joined_tls) against the real handlers
served in-process over TLS (a stand-in for the API server's token authentication in front of them)."""

from __future__ import annotations

import ssl
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.typedefs import Handler
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

from kijabi.apiserver import nodecerts
from kijabi.apiserver.auth import User
from kijabi.apiserver.certs import PKI, ensure_pki
from kijabi.kubelet import agent, main
from kijabi.machinery import errors

TOKEN = "join-secret"
pytestmark = pytest.mark.filterwarnings("ignore::aiohttp.web.NotAppKeyWarning")  # request["user"], as app.py


def _csr(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey,
         encoding: serialization.Encoding = serialization.Encoding.PEM) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "n1")])
    algorithm = None if isinstance(key, ed25519.Ed25519PrivateKey) else hashes.SHA256()
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, algorithm).public_bytes(encoding)


@pytest.mark.parametrize("value, expected", [
    ("n1", "n1"), (" node-2.example.com ", "node-2.example.com"),
    ("", 400), ("Node_1", 400), ("a" * 254, 400), ("-n", 400),
], ids=["simple", "dns-subdomain", "empty", "uppercase-underscore", "too-long", "leading-dash"])
def test_node_name_must_be_a_dns_subdomain(value: str, expected: str | int) -> None:
    if isinstance(expected, str):
        assert nodecerts.node_name(value) == expected
        return
    with pytest.raises(errors.StatusError) as caught:
        nodecerts.node_name(value)
    assert caught.value.code == expected and nodecerts.NODE_NAME_HEADER in caught.value.message


@pytest.mark.parametrize("value, expected", [
    ("", ()), ("10.0.0.5", ("10.0.0.5",)), ("10.0.0.5, fd00::0005", ("10.0.0.5", "fd00::5")),
    ("10.0.0.256", 400), ("node1", 400), ("0.0.0.0", 400), ("224.0.0.1", 400),
], ids=["none", "one", "dual-stack", "out-of-range", "name", "unspecified", "multicast"])
def test_node_ips_must_be_unicast_addresses(value: str, expected: tuple[str, ...] | int) -> None:
    if isinstance(expected, tuple):
        assert nodecerts.node_ips(value) == expected
        return
    with pytest.raises(errors.StatusError) as caught:
        nodecerts.node_ips(value)
    assert caught.value.code == expected and nodecerts.NODE_IP_HEADER in caught.value.message


@pytest.mark.parametrize("make, ok", [
    (lambda: _csr(ec.generate_private_key(ec.SECP256R1())), True),
    (lambda: _csr(ec.generate_private_key(ec.SECP384R1()), serialization.Encoding.DER), True),
    (lambda: _csr(rsa.generate_private_key(public_exponent=65537, key_size=2048)), True),
    (lambda: _csr(ed25519.Ed25519PrivateKey.generate()), False),
    (lambda: b"", False),
    (lambda: b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", False),
    (lambda: b"\x30\x03\x02\x01\x00", False),
], ids=["ec-pem", "ec-der", "rsa", "ed25519", "empty", "bad-pem", "bad-der"])
def test_csr_public_key(make: object, ok: bool) -> None:
    """A CSR (PEM or DER) with an ECDSA or RSA key gives its key; anything else is a 400."""
    assert callable(make)
    body = make()
    if ok:
        assert isinstance(nodecerts.csr_public_key(body), ec.EllipticCurvePublicKey | rsa.RSAPublicKey)
        return
    with pytest.raises(errors.StatusError) as caught:
        nodecerts.csr_public_key(body)
    assert caught.value.code == 400


@pytest.mark.parametrize("user, code", [
    (None, 401), (User("system:serviceaccount:default:default", groups=("system:serviceaccounts",)), 403),
    (User("system:node:n1", groups=("system:nodes",)), 403), (User("kijabi:admin-token", groups=("system:masters",)), 0),
], ids=["anonymous", "service-account", "node", "admin"])
def test_only_admins_may_join(user: User | None, code: int) -> None:
    if not code:
        nodecerts.authorize(user, "serving-kubelet.crt")
        return
    with pytest.raises(errors.StatusError) as caught:
        nodecerts.authorize(user, "serving-kubelet.crt")
    assert caught.value.code == code


@dataclass
class JoinServer:
    url: str
    ca_pem: bytes
    pki: PKI


@pytest.fixture
async def join_server(tmp_path: Path) -> AsyncIterator[JoinServer]:
    """The nodecerts handlers on 127.0.0.1 over TLS, behind a token check like the API server's."""
    pki = ensure_pki(tmp_path / "server" / "tls")
    handlers = nodecerts.NodeCerts(pki)

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            if request.headers.get("Authorization") != f"Bearer {TOKEN}":
                raise errors.StatusError(401, "Unauthorized", "Unauthorized")
            request["user"] = User("kijabi:admin-token", groups=("system:masters",))
            return await handler(request)
        except errors.StatusError as exc:
            return web.json_response(exc.status(), status=exc.code)

    app = web.Application(middlewares=[authenticate])
    app.router.add_route("*", "/v1-kijabi/{name}", handlers.serve)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(pki.serving.cert, pki.serving.key)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield JoinServer(f"https://127.0.0.1:{port}", pki.server_ca.cert.read_bytes(), pki)
    finally:
        await runner.cleanup()


async def test_agent_fetches_a_serving_certificate_for_its_own_key(join_server: JoinServer, tmp_path: Path) -> None:
    """The agent makes its key once (mode 0600) and keeps it; each fetch gets a certificate of the server
    CA for that key, covering the node name and IPs, and the client CA the kubelet API must trust."""
    agent_dir = tmp_path / "agent"
    first = await agent.fetch_node_tls(join_server.url, join_server.ca_pem, TOKEN, agent_dir,
                                       node_name="n1", ips=("127.0.0.1", "10.0.0.5"))
    assert first == main.APITLS(agent_dir / "serving-kubelet.crt", agent_dir / "serving-kubelet.key",
                                      agent_dir / "client-ca.crt")
    assert stat.S_IMODE(first.key.stat().st_mode) == 0o600
    assert first.client_ca is not None
    assert first.client_ca.read_bytes() == join_server.pki.client_ca.cert.read_bytes()
    key_pem = first.key.read_bytes()
    second = await agent.fetch_node_tls(join_server.url, join_server.ca_pem, TOKEN, agent_dir,
                                        node_name="n1", ips=("127.0.0.1", "10.0.0.6"))
    assert second.key.read_bytes() == key_pem, "the key is kept across fetches"
    cert = x509.load_pem_x509_certificate(second.cert.read_bytes())
    key = serialization.load_pem_private_key(key_pem, None)
    assert cert.public_key() == key.public_key()
    ca = x509.load_pem_x509_certificate(join_server.ca_pem)
    cert.verify_directly_issued_by(ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {str(i) for i in san.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "10.0.0.6"}
    # the files make a working TLS server context, verifiable by a client trusting the server CA only
    ssl.create_default_context().load_cert_chain(second.cert, second.key)


@pytest.mark.parametrize("token, node_name, message", [
    ("wrong", "n1", r"rejected the token .*\(HTTP 401\)"),
    (TOKEN, "Bad_Name", r"HTTP 400: invalid kijabi-Node-Name 'Bad_Name'"),
], ids=["wrong-token", "bad-node-name"])
async def test_agent_fetch_refusals_are_one_agent_error(join_server: JoinServer, tmp_path: Path, token: str,
                                                        node_name: str, message: str) -> None:
    with pytest.raises(agent.AgentError, match=message):
        await agent.fetch_node_tls(join_server.url, join_server.ca_pem, token, tmp_path / "agent",
                                   node_name=node_name, ips=("127.0.0.1",))
    assert not (tmp_path / "agent" / "serving-kubelet.crt").exists()


@pytest.mark.parametrize("kubelet_args, fetched", [
    ((), True),
    (("tls-cert-file=/mine.crt", "tls-private-key-file=/mine.key"), False),
    (("client-ca-file=/my-ca.crt",), True),
], ids=["joined", "own-certificate", "own-client-ca"])
async def test_joined_agent_points_the_kubelet_at_its_certificates(
        join_server: JoinServer, tmp_path: Path, kubelet_args: tuple[str, ...], fetched: bool) -> None:
    """A joined agent's kubelet serves with the fetched files; --kubelet-arg TLS flags win."""
    options = agent.AgentOptions(data_dir=tmp_path, server=join_server.url, token=TOKEN, node_name="n1",
                                 node_ip="127.0.0.1", kubelet_args=list(kubelet_args))
    (options.agent_dir).mkdir(parents=True)
    (options.agent_dir / agent.SERVER_CA_NAME).write_bytes(join_server.ca_pem)
    args = agent.kubelet_args(options, tmp_path / "k.kubeconfig")
    await agent.joined_tls(options, args)
    tls = main.api_tls(args, main.config_from_args(args))
    assert tls is not None
    a = options.agent_dir
    if not fetched:
        assert tls == main.APITLS(Path("/mine.crt"), Path("/mine.key"), None)
        assert not (a / "serving-kubelet.crt").exists()
        return
    client_ca = Path("/my-ca.crt") if "client-ca-file=/my-ca.crt" in kubelet_args else a / "client-ca.crt"
    assert tls == main.APITLS(a / "serving-kubelet.crt", a / "serving-kubelet.key", client_ca)
