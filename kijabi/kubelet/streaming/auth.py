"""TLS and authentication of the kubelet API (:10250).

Serving certificate: on a server node the kubelet signs its own with the cluster's server CA
(`<data-dir>/server/tls/server-ca.{crt,key}`, k3s's layout) for the node's names and addresses, so the
API server can verify it; a joined agent is given a certificate and key instead.

Who may call: a client certificate signed by the client CA (the API server presents a
`kube-apiserver-kubelet-client` certificate), or a bearer token that the API server accepts in a
TokenReview (answers cached for `ttl` seconds, as upstream's webhook authenticator does). Anything else
gets 401. Every authenticated user may use every endpoint (the API server has no RBAC yet; upstream
would ask a SubjectAccessReview for nodes/proxy, nodes/log, ...).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kijabi.machinery import x509subject

if TYPE_CHECKING:
    from kijabi.client import Client

CERT_DAYS = 365


@dataclass(frozen=True)
class User:
    name: str
    groups: tuple[str, ...] = ()
    uid: str = ""


TokenReviewer = Callable[[str], Awaitable[User | None]]


def _covers(cert: x509.Certificate, dns: tuple[str, ...], ips: tuple[str, ...]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    return set(dns) <= have_dns and set(ips) <= have_ips


def ensure_serving_cert(ca_cert: Path, ca_key: Path, cert: Path, key: Path, *, node_name: str,
                        ips: tuple[str, ...] = ("127.0.0.1",), dns: tuple[str, ...] = ()) -> None:
    """Issue (or keep) the kubelet's serving certificate, signed by the CA at `ca_cert`/`ca_key`.

    Kept when it exists, was signed by that CA, covers the names and is not within a tenth of its
    lifetime of expiring; re-issued otherwise.
    """
    ca = x509.load_pem_x509_certificate(ca_cert.read_bytes())
    names = tuple(dict.fromkeys((node_name, "localhost", *dns)))
    if cert.exists() and key.exists():
        current = x509.load_pem_x509_certificate(cert.read_bytes())
        remaining = current.not_valid_after_utc - dt.datetime.now(dt.UTC)
        if current.issuer == ca.subject and _covers(current, names, ips) and remaining > dt.timedelta(days=CERT_DAYS / 10):
            return
    ca_private = serialization.load_pem_private_key(ca_key.read_bytes(), None)
    if not isinstance(ca_private, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{ca_key}: expected an EC private key")
    private = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    san: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
    san += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    built = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}"),
                                 ]))
        .issuer_name(ca.subject)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CERT_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .sign(ca_private, hashes.SHA256())
    )
    key.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    cert.write_bytes(built.public_bytes(serialization.Encoding.PEM))


def server_ssl_context(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """TLS for :10250: our certificate; client certificates verified against `client_ca` when given
    (optional at the TLS level: bearer-token clients present none)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    if client_ca is not None:
        ctx.load_verify_locations(cafile=str(client_ca))
        ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def user_from_peercert(cert: dict[str, Any] | None) -> User | None:
    """The user of a verified client certificate: CN is the name, O entries the groups."""
    found = x509subject.user_of(cert)
    return User(found[0], found[1]) if found else None


@dataclass
class TokenCache:
    """Remembers TokenReview answers (both ways) for `ttl` seconds."""

    review: TokenReviewer
    ttl: float = 120.0
    clock: Callable[[], float] = time.monotonic
    _cache: dict[str, tuple[float, User | None]] = field(default_factory=dict)

    async def __call__(self, token: str) -> User | None:
        now = self.clock()
        hit = self._cache.get(token)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        user = await self.review(token)
        if len(self._cache) > 4096:
            self._cache.clear()
        self._cache[token] = (now, user)
        return user


def api_token_reviewer(client: Client) -> TokenReviewer:
    """A TokenReviewer that asks the API server with a TokenReview (authentication.k8s.io/v1)."""
    from kijabi.client import GVR

    gvr = GVR("authentication.k8s.io", "v1", "tokenreviews")

    async def review(token: str) -> User | None:
        result = await client.create(gvr, {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                           "spec": {"token": token}})
        status = result.get("status") or {}
        if not status.get("authenticated"):
            return None
        info = status.get("user") or {}
        return User(info.get("username", ""), tuple(info.get("groups") or ()), info.get("uid", ""))

    return review
