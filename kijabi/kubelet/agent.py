"""`kijabi agent`: a node in one process: containerd (a child that dies with it), the kubelet and its API.

    await run(AgentOptions(data_dir=..., server="https://10.0.0.1:6443", token="..."), stop=stop)

Start-up, in order:

1. credentials: `--kubeconfig` as given, or the k3s join: `GET <server>/cacerts` (served without
   authentication) gives the cluster's CA, then an authenticated request with `--token` over TLS verified by
   that CA proves both (a wrong token is one clear error), then `<data-dir>/agent/kubelet.kubeconfig` holds
   the server, the CA and the token;
2. `<data-dir>/agent/cleanup.json` records the bridge, CNI network, pod cgroup parent and service CIDR,
   so that `kijabi agent --cleanup` finds everything again even after a crash (kijabi.kubelet.cleanup);
3. the unreachable route for the service CIDR (`ip route replace unreachable 10.43.0.0/16`): traffic to an
   unallocated ClusterIP fails on the node instead of leaving it; it stays until `--cleanup`;
4. the kubelet API's certificates of a joined agent (k3s's `/v1-k3s/serving-kubelet.crt` and friends,
   kijabi.apiserver.nodecerts): the agent keeps `<data-dir>/agent/serving-kubelet.key` (mode 0600, made
   once), POSTs a CSR for it with its node name and IPs in the `kijabi-Node-Name`/`kijabi-Node-IP` headers
   and the token, and gets `serving-kubelet.crt` signed by the server CA; `client-ca.crt` is the CA the API
   server's client certificate is checked against. Fetched at every start (names may have changed), and
   skipped when `--kubelet-arg tls-cert-file=...` gives the files;
5. kijabi.kubelet.main.run with the kubelet flags the agent derives (node name, IP, labels, pod CIDR,
   cluster DNS, port, the TLS files of step 4) followed by every `--kubelet-arg name=value`, so a
   kubelet-arg wins. Without --server (`kijabi server`'s own agent, `--kubeconfig`), the kubelet API serves
   with the server node's certificate when the data dir holds the cluster CA, or else a self-signed CA of
   the agent's own (then the API server cannot verify it; logs/exec through the API need the former).

    AgentError     bad flags or a failed join (one line for the user)
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kijabi.client.config import write_kubeconfig
from kijabi.kubelet import cgroups, cleanup, cni, main
from kijabi.kubelet.config import DEFAULT_CLUSTER_DOMAIN, DEFAULT_KUBELET_PORT, KubeletConfig
from kijabi.kubelet.containerd import AgentPaths
from kijabi.kubelet.streaming import auth

log = logging.getLogger(__name__)

KUBECONFIG_NAME = "kubelet.kubeconfig"
SERVER_CA_NAME = "server-ca.crt"
CLIENT_CA_NAME = "client-ca.crt"
SERVING_CERT_NAME, SERVING_KEY_NAME = "serving-kubelet.crt", "serving-kubelet.key"
NODE_CERTS_PATH = "/v1-kijabi/"
NODE_NAME_HEADER, NODE_IP_HEADER = "kijabi-Node-Name", "kijabi-Node-IP"
JOIN_TIMEOUT = 30.0
CA_DAYS = 3650


class AgentError(Exception):
    """The agent cannot start: bad flags, an unreachable server, a rejected token."""


@dataclass
class AgentOptions:
    """`kijabi agent`'s flags (see kijabi.cli.agent)."""

    data_dir: Path
    server: str = ""
    token: str = ""
    kubeconfig: Path | None = None
    node_name: str = ""
    node_ip: str = ""
    node_labels: list[str] = field(default_factory=list)
    kubelet_args: list[str] = field(default_factory=list)
    pod_cidr: str = ""
    cluster_dns: str = ""          # "": the tenth address of the service CIDR (10.43.0.10)
    cluster_domain: str = DEFAULT_CLUSTER_DOMAIN
    kubelet_port: int = DEFAULT_KUBELET_PORT
    service_cidr: str = cni.DEFAULT_SERVICE_CIDR
    log_level: str = "info"

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).absolute()

    @property
    def agent_dir(self) -> Path:
        return AgentPaths(self.data_dir).agent


def default_cluster_dns(service_cidr: str) -> str:
    """k3s's default cluster DNS: the tenth address of the service CIDR."""
    try:
        net = ipaddress.ip_network(service_cidr, strict=True)
    except ValueError as exc:
        raise AgentError(f"invalid --service-cidr {service_cidr!r}: {exc}") from None
    return str(net.network_address + 10)


# --- joining -------------------------------------------------------------------------------------------------

async def fetch_ca(server: str, *, timeout: float = JOIN_TIMEOUT) -> bytes:
    """The cluster CA (PEM) from `GET <server>/cacerts`, fetched before we can verify the server."""
    url = server.rstrip("/") + "/cacerts"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.get(url, ssl=False) as resp:
            body = await resp.read()
            if resp.status != 200:
                raise AgentError(f"GET {url}: HTTP {resp.status}")
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AgentError(f"cannot reach the server at {server}: {exc or type(exc).__name__}") from None
    try:
        x509.load_pem_x509_certificates(body)
    except ValueError:
        raise AgentError(f"GET {url} did not return a PEM certificate") from None
    return body


async def check_token(server: str, ca_pem: bytes, token: str, *, timeout: float = JOIN_TIMEOUT) -> None:
    """An authenticated request with `token`, over TLS verified with `ca_pem`; AgentError if refused."""
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    url = server.rstrip("/") + "/api"
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                session.get(url, ssl=ctx, headers={"Authorization": f"Bearer {token}"}) as resp:
            status = resp.status
    except aiohttp.ClientSSLError as exc:
        raise AgentError(f"the server's certificate does not match its /cacerts: {exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AgentError(f"cannot reach the server at {server}: {exc or type(exc).__name__}") from None
    if status in (401, 403):
        raise AgentError(f"the server at {server} rejected the token (HTTP {status})")
    if status != 200:
        raise AgentError(f"GET {url} with the token: HTTP {status}")


async def credentials(options: AgentOptions) -> Path:
    """The kubeconfig the kubelet uses: --kubeconfig, or one written after joining --server with --token."""
    if options.kubeconfig is not None:
        if not options.kubeconfig.exists():
            raise AgentError(f"--kubeconfig {options.kubeconfig}: no such file")
        return options.kubeconfig
    if not options.server:
        raise AgentError("--server is required (or --kubeconfig); `kijabi server` runs its own agent")
    if not options.server.startswith("https://"):
        raise AgentError(f"--server {options.server!r}: expected an https:// URL")
    if not options.token:
        raise AgentError("--token is required with --server")
    ca_pem = await fetch_ca(options.server)
    await check_token(options.server, ca_pem, options.token)
    _write_file(options.agent_dir / SERVER_CA_NAME, ca_pem)
    path = write_kubeconfig(options.agent_dir / KUBECONFIG_NAME, options.server, ca_pem, {"token": options.token})
    log.info("joined %s; credentials in %s", options.server, path)
    return path


async def fetch_node_tls(server: str, ca_pem: bytes, token: str, agent_dir: Path, *, node_name: str,
                         ips: tuple[str, ...], timeout: float = JOIN_TIMEOUT) -> main.APITLS:
    """The kubelet API's TLS files of a joined node, from the server's `/v1-kijabi/` endpoints (module
    docstring, step 4): our key (kept), a serving certificate for it signed by the server CA, the client CA."""
    key_path = agent_dir / SERVING_KEY_NAME
    key = await asyncio.to_thread(_node_key, key_path)
    csr = (x509.CertificateSigningRequestBuilder()
           .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node_name}")]))
           .sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    base = server.rstrip("/") + NODE_CERTS_PATH
    headers = {"Authorization": f"Bearer {token}", NODE_NAME_HEADER: node_name, NODE_IP_HEADER: ",".join(ips)}
    ctx = ssl.create_default_context(cadata=ca_pem.decode())
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session:
            serving = await _node_request(session, "POST", base + SERVING_CERT_NAME, ctx, headers, csr)
            client_ca = await _node_request(session, "GET", base + CLIENT_CA_NAME, ctx, headers, None)
    except aiohttp.ClientSSLError as exc:
        raise AgentError(f"the server's certificate does not match its /cacerts: {exc}") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise AgentError(f"cannot reach the server at {server}: {exc or type(exc).__name__}") from None
    try:
        leaf = x509.load_pem_x509_certificates(serving)[0]
        x509.load_pem_x509_certificates(client_ca)
    except ValueError:
        raise AgentError(f"{base}: the server did not answer with PEM certificates") from None
    if leaf.public_key() != key.public_key():
        raise AgentError(f"{base}{SERVING_CERT_NAME}: the certificate is not for the key the agent sent")
    cert_path, client_ca_path = agent_dir / SERVING_CERT_NAME, agent_dir / CLIENT_CA_NAME
    await asyncio.to_thread(_write_file, cert_path, serving)
    await asyncio.to_thread(_write_file, client_ca_path, client_ca)
    return main.APITLS(cert_path, key_path, client_ca_path)


async def _node_request(session: aiohttp.ClientSession, method: str, url: str, ctx: ssl.SSLContext,
                        headers: dict[str, str], body: bytes | None) -> bytes:
    async with session.request(method, url, ssl=ctx, headers=headers, data=body) as resp:
        data = await resp.read()
        if resp.status == 200:
            return data
    if resp.status in (401, 403):
        raise AgentError(f"the server rejected the token for {url} (HTTP {resp.status})")
    try:
        message = str(orjson.loads(data).get("message") or "")
    except (orjson.JSONDecodeError, AttributeError):
        message = ""
    raise AgentError(f"{method} {url}: HTTP {resp.status}{': ' + message if message else ''}")


def _node_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The kubelet's serving key: the one in `path` (mode 0600), made on first use."""
    if path.exists():
        loaded = serialization.load_pem_private_key(path.read_bytes(), None)
        if isinstance(loaded, ec.EllipticCurvePrivateKey):
            return loaded
    key = ec.generate_private_key(ec.SECP256R1())
    _write_file(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()), mode=0o600)
    return key


def _write_file(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `path` atomically (a temporary file renamed over it), created with `mode`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


async def joined_tls(options: AgentOptions, args: argparse.Namespace) -> None:
    """For an agent joined with --server/--token: fetch the kubelet API's TLS files and point the kubelet's
    --tls-cert-file/--tls-private-key-file/--client-ca-file at them (flags given by --kubelet-arg win)."""
    if options.kubeconfig is not None or (args.tls_cert_file and args.tls_private_key_file):
        return
    config = main.config_from_args(args)
    ca_pem = (options.agent_dir / SERVER_CA_NAME).read_bytes()
    tls = await fetch_node_tls(options.server, ca_pem, options.token, options.agent_dir,
                               node_name=config.node_name, ips=await asyncio.to_thread(main.serving_ips, config))
    args.tls_cert_file, args.tls_private_key_file = tls.cert, tls.key
    if args.client_ca_file is None:
        args.client_ca_file = tls.client_ca
    log.info("kubelet API certificate for %s issued by %s", config.node_name, options.server)


# --- the kubelet -----------------------------------------------------------------------------------------

def kubelet_argv(options: AgentOptions, kubeconfig: Path) -> list[str]:
    """The kubelet's command line: what the agent's flags imply, then every --kubelet-arg."""
    argv = ["--kubeconfig", str(kubeconfig), "--data-dir", str(options.data_dir),
            "--cluster-dns", options.cluster_dns or default_cluster_dns(options.service_cidr),
            "--cluster-domain", options.cluster_domain, "--kubelet-port", str(options.kubelet_port),
            "--log-level", options.log_level]
    for flag, value in (("--node-name", options.node_name), ("--node-ip", options.node_ip),
                        ("--pod-cidr", options.pod_cidr), ("--node-labels", ",".join(options.node_labels))):
        if value:
            argv += [flag, value]
    for arg in options.kubelet_args:
        name, sep, value = arg.removeprefix("--").partition("=")
        if not name or not sep:
            raise AgentError(f"--kubelet-arg {arg!r}: expected name=value")
        argv.append(f"--{name}={value}")
    return argv


def kubelet_args(options: AgentOptions, kubeconfig: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="kijabi agent", add_help=False)
    main.add_flags(parser)
    try:
        args, unknown = parser.parse_known_args(kubelet_argv(options, kubeconfig))
    except SystemExit:
        raise AgentError("invalid --kubelet-arg (see the messages above)") from None
    if unknown:
        raise AgentError(f"unknown kubelet flags: {' '.join(unknown)}")
    return args


def agent_record(options: AgentOptions, args: argparse.Namespace) -> cleanup.AgentRecord:
    return cleanup.AgentRecord(bridge=args.cni_bridge, network_name=args.cni_network_name,
                               cgroup_parents=tuple(cgroups.pod_cgroup_parents(args.cgroup_root)[:1]),
                               service_cidr=options.service_cidr)


def self_signed_tls(config: KubeletConfig, ips: tuple[str, ...]) -> main.APITLS:
    """A serving certificate from a CA of the agent's own (`<data-dir>/agent/tls/kubelet-ca.*`), for a
    joined agent that was given no certificate; bearer tokens only (no client CA)."""
    agent = config.data_dir / "agent"
    ca_cert, ca_key = agent / "tls" / "kubelet-ca.crt", agent / "tls" / "kubelet-ca.key"
    if not (ca_cert.exists() and ca_key.exists()):
        _write_ca(ca_cert, ca_key, f"kijabi-kubelet-ca@{config.node_name}")
    cert, key = agent / "serving-kubelet.crt", agent / "serving-kubelet.key"
    auth.ensure_serving_cert(ca_cert, ca_key, cert, key, node_name=config.node_name, ips=ips)
    return main.APITLS(cert, key, None)


def _write_ca(cert: Path, key: Path, common_name: str) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    built = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(private, hashes.SHA256())
    )
    _write_file(key, private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()), mode=0o600)
    _write_file(cert, built.public_bytes(serialization.Encoding.PEM))


async def run(options: AgentOptions, *, stop: asyncio.Event | None = None) -> None:
    """Join (or use --kubeconfig), record, route, then run the kubelet until `stop` (module docstring)."""
    kubeconfig = await credentials(options)
    args = kubelet_args(options, kubeconfig)
    await joined_tls(options, args)
    await asyncio.to_thread(cleanup.write_record, options.data_dir, agent_record(options, args))
    try:
        await asyncio.to_thread(cni.add_unreachable_route, options.service_cidr)
    except (cni.NetworkConfigError, ValueError) as exc:
        raise AgentError(f"cannot install the service CIDR route: {exc}") from None
    await main.run(args, stop=stop, tls_fallback=self_signed_tls)
