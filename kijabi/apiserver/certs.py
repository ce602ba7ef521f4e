"""The cluster's PKI: a self-generated CA, the serving certificate and client certificates.

Files live under `<data-dir>/server/tls/` (k3s's layout): `server-ca.crt/.key` signs serving
certificates, `client-ca.crt/.key` signs client certificates (the admin's is `client-admin.crt`).
Existing files are reused, so restarts keep the kubeconfig valid. `sign()` issues a leaf for someone
else's public key (a joining agent's CSR, kijabi.apiserver.nodecerts).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_YEARS = 10


@dataclass
class Pair:
    cert: Path
    key: Path


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _name(cn: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def _save(pair: Pair, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
    _write_private(pair.key, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load(pair: Pair) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(pair.cert.read_bytes())
    key = serialization.load_pem_private_key(pair.key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def ensure_ca(pair: Pair, cn: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    if pair.cert.exists() and pair.key.exists():
        return _load(pair)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(f"{cn}@{int(now.timestamp())}"))
        .issuer_name(_name(f"{cn}@{int(now.timestamp())}"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=365 * _YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _save(pair, cert, key)
    return cert, key


def ensure_leaf(
    pair: Pair,
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    *,
    cn: str,
    orgs: tuple[str, ...] = (),
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    server: bool = False,
) -> None:
    """Issue (or keep) a certificate signed by `ca`. A serving certificate is re-issued when its
    names no longer cover `dns`/`ips` or when it was signed by another CA."""
    if pair.cert.exists() and pair.key.exists():
        cert, _ = _load(pair)
        if cert.issuer == ca[0].subject and _covers(cert, dns, ips):
            return
    key = ec.generate_private_key(ec.SECP256R1())
    _save(pair, sign(ca, key.public_key(), cn=cn, orgs=orgs, dns=dns, ips=ips, server=server), key)


LeafPublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def sign(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    public_key: LeafPublicKey,
    *,
    cn: str,
    orgs: tuple[str, ...] = (),
    dns: tuple[str, ...] = (),
    ips: tuple[str, ...] = (),
    server: bool = False,
    days: int = 365 * _YEARS,
) -> x509.Certificate:
    """A leaf certificate for `public_key` signed by `ca`: a serving certificate (`server`, usage
    serverAuth) or a client certificate (clientAuth); `dns`/`ips` become its subject alternative names.
    The key's owner keeps the private key (kijabi.apiserver.nodecerts signs agents' CSRs with this)."""
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn, orgs))
        .issuer_name(ca[0].subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    )
    if dns or ips:
        names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
        names += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca[1], hashes.SHA256())


def _covers(cert: x509.Certificate, dns: tuple[str, ...], ips: tuple[str, ...]) -> bool:
    if not dns and not ips:
        return True
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have_dns = set(san.get_values_for_type(x509.DNSName))
    have_ips = {str(i) for i in san.get_values_for_type(x509.IPAddress)}
    return set(dns) <= have_dns and set(ips) <= have_ips


@dataclass
class PKI:
    dir: Path

    def pair(self, name: str) -> Pair:
        return Pair(self.dir / f"{name}.crt", self.dir / f"{name}.key")

    @property
    def server_ca(self) -> Pair:
        return self.pair("server-ca")

    @property
    def client_ca(self) -> Pair:
        return self.pair("client-ca")

    @property
    def serving(self) -> Pair:
        return self.pair("serving-kube-apiserver")

    @property
    def admin(self) -> Pair:
        return self.pair("client-admin")


def ensure_pki(tls_dir: Path, *, hosts: tuple[str, ...] = ()) -> PKI:
    pki = PKI(tls_dir)
    tls_dir.mkdir(parents=True, exist_ok=True)
    server_ca = ensure_ca(pki.server_ca, "kijabi-server-ca")
    client_ca = ensure_ca(pki.client_ca, "kijabi-client-ca")
    dns = ("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
           "kubernetes.default.svc.cluster.local") + tuple(h for h in hosts if not _is_ip(h))
    ips = ("127.0.0.1", "::1", "10.43.0.1") + tuple(h for h in hosts if _is_ip(h))
    ensure_leaf(pki.serving, server_ca, cn="kube-apiserver", dns=dns, ips=ips, server=True)
    ensure_leaf(pki.admin, client_ca, cn="system:admin", orgs=("system:masters",))
    return pki


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False
