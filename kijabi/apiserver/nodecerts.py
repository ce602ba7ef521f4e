"""Certificates for joining agents, over token-authenticated endpoints (k3s's `/v1-k3s/...`).

    GET  /v1-kijabi/server-ca.crt        the CA that signs serving certificates (API server, kubelets)
    GET  /v1-kijabi/client-ca.crt        the CA that signs client certificates; a kubelet checks the API
                                         server's `kube-apiserver-kubelet-client` certificate against it
    POST /v1-kijabi/serving-kubelet.crt  body: a CSR (PEM or DER). Answer: the kubelet's serving certificate
                                         (server CA; CN system:node:<name>, O system:nodes; SANs the node
                                         name, localhost, 127.0.0.1 and the node IPs), then the server CA
    POST /v1-kijabi/client-kubelet.crt   body: a CSR. Answer: a client certificate system:node:<name>
                                         (O system:nodes) of the client CA, then the client CA

The agent names its node in the `kijabi-Node-Name` header and lists its addresses, comma-separated, in
`kijabi-Node-IP` (k3s's `k3s-Node-Name` / `k3s-Node-IP`). Only the public key of the CSR is used: the
private key never leaves the agent (k3s also hands out a shared key to agents that send no CSR; kijabi
requires the CSR). The subject and names come from the headers, never from the CSR.

Who may call: the API server's middleware has authenticated the request already (no or a wrong bearer
token: 401); these handlers then require an admin, i.e. a user of the `system:masters` group, which is
what the server's `--token` and the admin client certificate are (403 otherwise). Bad input is a 400.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from aiohttp import web
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from kijabi.apiserver.auth import User
from kijabi.apiserver.certs import PKI, Pair, ensure_ca, sign
from kijabi.machinery import errors
from kijabi.machinery.validation.meta import is_dns1123_subdomain

PREFIX = "/v1-kijabi/"
NODE_NAME_HEADER = "kijabi-Node-Name"
NODE_IP_HEADER = "kijabi-Node-IP"
ADMIN_GROUP = "system:masters"
NODES_GROUP = "system:nodes"
MAX_CSR_BYTES = 64 * 1024
CERT_DAYS = 365

CA = tuple[x509.Certificate, ec.EllipticCurvePrivateKey]


@dataclass
class NodeCerts:
    """The `/v1-kijabi/` handlers of one API server, over its PKI (the CAs are read once)."""

    pki: PKI
    _cas: dict[str, CA] = field(default_factory=dict)

    def _ca(self, pair: Pair, cn: str) -> CA:
        ca = self._cas.get(cn)
        if ca is None:
            ca = self._cas[cn] = ensure_ca(pair, cn)
        return ca

    @property
    def server_ca(self) -> CA:
        return self._ca(self.pki.server_ca, "kijabi-server-ca")

    @property
    def client_ca(self) -> CA:
        return self._ca(self.pki.client_ca, "kijabi-client-ca")

    async def serve(self, request: web.Request) -> web.Response:
        """Answer one request under PREFIX; StatusError for every refusal."""
        name = request.path[len(PREFIX):]
        if name not in ("server-ca.crt", "client-ca.crt", "serving-kubelet.crt", "client-kubelet.crt"):
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        authorize(request.get("user"), name)
        if name.endswith("-ca.crt"):
            if request.method != "GET":
                raise errors.method_not_allowed(f"{PREFIX}{name}: only GET is allowed")
            ca = self.server_ca if name == "server-ca.crt" else self.client_ca
            return _pem(ca[0])
        if request.method != "POST":
            raise errors.method_not_allowed(f"{PREFIX}{name}: POST a certificate signing request")
        node = node_name(request.headers.get(NODE_NAME_HEADER, ""))
        public_key = csr_public_key(await _body(request))
        if name == "serving-kubelet.crt":
            ips = tuple(dict.fromkeys(("127.0.0.1", *node_ips(request.headers.get(NODE_IP_HEADER, "")))))
            ca = self.server_ca
            cert = sign(ca, public_key, cn=f"system:node:{node}", orgs=(NODES_GROUP,),
                        dns=tuple(dict.fromkeys((node, "localhost"))), ips=ips, server=True, days=CERT_DAYS)
        else:
            ca = self.client_ca
            cert = sign(ca, public_key, cn=f"system:node:{node}", orgs=(NODES_GROUP,), days=CERT_DAYS)
        return _pem(cert, ca[0])


def authorize(user: User | None, name: str) -> None:
    """Only admins (the server's --token, the admin certificate) get node certificates or the CAs here."""
    if user is None:
        raise errors.StatusError(401, "Unauthorized", "Unauthorized")
    if ADMIN_GROUP not in user.groups:
        raise errors.StatusError(403, "Forbidden", f'{PREFIX}{name} is forbidden: user "{user.name}" is not '
                                 "allowed to join nodes (use the server's token)")


def node_name(value: str) -> str:
    """The node name header, which must be a DNS-1123 subdomain (a Node's name)."""
    value = value.strip()
    if not value:
        raise errors.bad_request(f"the {NODE_NAME_HEADER} header is required")
    problems = is_dns1123_subdomain(value)
    if problems:
        raise errors.bad_request(f"invalid {NODE_NAME_HEADER} {value!r}: {'; '.join(problems)}")
    return value


def node_ips(value: str) -> tuple[str, ...]:
    """The comma-separated node IP header (may be empty), each a unicast address."""
    out = []
    for item in filter(None, (s.strip() for s in value.split(","))):
        try:
            ip = ipaddress.ip_address(item)
        except ValueError:
            raise errors.bad_request(f"invalid {NODE_IP_HEADER} {item!r}: not an IP address") from None
        if ip.is_unspecified or ip.is_multicast:
            raise errors.bad_request(f"invalid {NODE_IP_HEADER} {item!r}: not a unicast address")
        out.append(str(ip))
    return tuple(out)


def csr_public_key(body: bytes) -> ec.EllipticCurvePublicKey | rsa.RSAPublicKey:
    """The public key of a self-signed certificate signing request (PEM or DER)."""
    if not body.strip():
        raise errors.bad_request("the request body must be a certificate signing request (PEM or DER)")
    try:
        csr = (x509.load_pem_x509_csr(body) if body.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_csr(body))
    except ValueError:
        raise errors.bad_request("the request body is not a certificate signing request (PEM or DER)") from None
    try:
        valid = csr.is_signature_valid
        key = csr.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise errors.bad_request(f"unusable certificate signing request: {exc}") from None
    if not valid:
        raise errors.bad_request("the certificate signing request's signature does not match its key")
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise errors.bad_request("the certificate signing request must carry an ECDSA or RSA public key")
    return key


async def _body(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_CSR_BYTES:
        raise errors.too_large("a certificate signing request is at most 64 KiB")
    body = await request.content.read(MAX_CSR_BYTES + 1)
    if len(body) > MAX_CSR_BYTES:
        raise errors.too_large("a certificate signing request is at most 64 KiB")
    return body


def _pem(*certs: x509.Certificate) -> web.Response:
    body = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)
    return web.Response(body=body, content_type="text/plain")
