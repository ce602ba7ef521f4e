"""Where the API server is and how to authenticate: kubeconfig files and the in-cluster environment.

`Config` is client-go's rest.Config: server URL, TLS material (CA, client certificate and key, as PEM
bytes or file paths), a bearer token (literal or a file that is re-read, so projected service-account
tokens that rotate keep working), and the client's own limits (QPS/burst, timeout, user agent).

Sources, in the order `load_default()` tries them:
1. `$KUBECONFIG` (a ':'-separated list, merged like kubectl: the first file that sets a name wins),
2. `~/.kube/config`,
3. in-cluster: `KUBERNETES_SERVICE_HOST`/`_PORT` and /var/run/secrets/kubernetes.io/serviceaccount/.

Exec plugins and auth providers are not supported (ConfigError names them).
"""

from __future__ import annotations

import base64
import os
import ssl
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from kijabi.client.errors import ConfigError

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_USER_AGENT = "kijabi-client/0.1.0"
TOKEN_REFRESH = 60.0  # seconds between re-reads of a token file (client-go re-reads every minute)


@dataclass
class Config:
    """Connection settings for one API server. Build with `load_kubeconfig`, `load_incluster` or by hand."""

    server: str
    ca_data: bytes | None = None
    ca_file: str | None = None
    client_cert_data: bytes | None = None
    client_cert_file: str | None = None
    client_key_data: bytes | None = None
    client_key_file: str | None = None
    token: str | None = None
    token_file: str | None = None
    username: str | None = None
    password: str | None = None
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    namespace: str = "default"
    qps: float = 5.0
    burst: int = 10
    timeout: float = 60.0
    user_agent: str = DEFAULT_USER_AGENT
    _token_cache: tuple[float, str] | None = field(default=None, repr=False, compare=False)

    def with_options(self, **changes: Any) -> Config:
        """A copy with some fields changed (e.g. `qps=50, burst=100, user_agent="kube-scheduler"`)."""
        return replace(self, **changes)

    def bearer_token(self) -> str | None:
        """The token to send now: the literal token, or the token file's content (re-read every minute)."""
        if self.token:
            return self.token
        if not self.token_file:
            return None
        now = time.monotonic()
        cached = self._token_cache
        if cached is not None and now - cached[0] < TOKEN_REFRESH:
            return cached[1]
        try:
            value = Path(self.token_file).read_text().strip()
        except OSError as exc:
            if cached is not None:
                return cached[1]
            raise ConfigError(f"cannot read token file {self.token_file}: {exc}") from exc
        self._token_cache = (now, value)
        return value

    def ssl_context(self) -> ssl.SSLContext | None:
        """The TLS context for an https server (None for plain http)."""
        if not self.server.startswith("https://"):
            return None
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        ctx.set_alpn_protocols(["http/1.1"])
        if self.insecure_skip_tls_verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        else:
            try:
                if self.ca_data:
                    ctx.load_verify_locations(cadata=self.ca_data.decode())
                elif self.ca_file:
                    ctx.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError, ValueError) as exc:
                raise ConfigError(f"cannot load the certificate authority: {exc}") from exc
        self._load_client_cert(ctx)
        return ctx

    def _load_client_cert(self, ctx: ssl.SSLContext) -> None:
        cert = self.client_cert_data
        key = self.client_key_data
        if cert is None and self.client_cert_file:
            cert = _read(self.client_cert_file, "client certificate")
        if key is None and self.client_key_file:
            key = _read(self.client_key_file, "client key")
        if cert is None and key is None:
            return
        if cert is None or key is None:
            raise ConfigError("a client certificate needs both the certificate and the key")
        # ssl can load a certificate chain only from files: write both to a private temporary file.
        fd, path = tempfile.mkstemp(prefix="kijabi-client-", suffix=".pem")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(cert.rstrip(b"\n") + b"\n" + key)
            ctx.load_cert_chain(path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the client certificate: {exc}") from exc
        finally:
            os.unlink(path)


def _read(path: str, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read {what} {path}: {exc}") from exc


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=False)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{what} is not valid base64") from exc


# -- kubeconfig ------------------------------------------------------------------------------------


def _load_docs(paths: list[Path]) -> list[tuple[Path, dict[str, Any]]]:
    docs = []
    for p in paths:
        try:
            text = p.read_text()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"cannot read kubeconfig {p}: {exc}") from exc
        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"kubeconfig {p} is not valid YAML: {exc}") from exc
        if not isinstance(doc, dict):
            raise ConfigError(f"kubeconfig {p} is not a mapping")
        docs.append((p, doc))
    return docs


def _named(docs: list[tuple[Path, dict[str, Any]]], section: str, key: str) -> dict[str, tuple[Path, dict[str, Any]]]:
    out: dict[str, tuple[Path, dict[str, Any]]] = {}
    for path, doc in docs:
        for entry in doc.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") not in out:
                body = entry.get(key) or {}
                if isinstance(body, dict):
                    out[str(entry.get("name"))] = (path, body)
    return out


def _resolve(base: Path, p: str) -> str:
    q = Path(os.path.expanduser(p))
    return str(q if q.is_absolute() else base.parent / q)


def kubeconfig_paths(explicit: str | os.PathLike[str] | None = None) -> list[Path]:
    """The files that make up the kubeconfig: `explicit`, else $KUBECONFIG's list, else ~/.kube/config."""
    if explicit:
        return [Path(explicit)]
    env = os.environ.get("KUBECONFIG", "")
    if env:
        return [Path(p) for p in env.split(os.pathsep) if p]
    return [Path.home() / ".kube" / "config"]


def load_kubeconfig(path: str | os.PathLike[str] | None = None, *, context: str | None = None) -> Config:
    """The Config of `context` (default: current-context) in a kubeconfig (see `kubeconfig_paths`)."""
    paths = kubeconfig_paths(path)
    docs = _load_docs(paths)
    if not docs:
        raise ConfigError(f"no kubeconfig found at {', '.join(str(p) for p in paths)}")
    if context is None:
        context = next((str(d["current-context"]) for _, d in docs if d.get("current-context")), None)
    if not context:
        raise ConfigError("the kubeconfig has no current-context")
    contexts = _named(docs, "contexts", "context")
    if context not in contexts:
        raise ConfigError(f'context "{context}" not found in the kubeconfig')
    _, ctx = contexts[context]
    clusters = _named(docs, "clusters", "cluster")
    cluster_name = str(ctx.get("cluster", ""))
    if cluster_name not in clusters:
        raise ConfigError(f'cluster "{cluster_name}" of context "{context}" not found in the kubeconfig')
    cpath, cluster = clusters[cluster_name]
    users = _named(docs, "users", "user")
    user_name = str(ctx.get("user", ""))
    upath, user = users.get(user_name, (cpath, {}))
    if user.get("exec") or user.get("auth-provider"):
        raise ConfigError(f'user "{user_name}": exec plugins and auth providers are not supported')
    server = str(cluster.get("server") or "")
    if not server:
        raise ConfigError(f'cluster "{cluster_name}" has no server')
    cfg = Config(server=server.rstrip("/"), namespace=str(ctx.get("namespace") or "default"))
    if cluster.get("certificate-authority-data"):
        cfg.ca_data = _b64(cluster["certificate-authority-data"], "certificate-authority-data")
    elif cluster.get("certificate-authority"):
        cfg.ca_file = _resolve(cpath, cluster["certificate-authority"])
    cfg.insecure_skip_tls_verify = bool(cluster.get("insecure-skip-tls-verify", False))
    cfg.tls_server_name = cluster.get("tls-server-name") or None
    if user.get("client-certificate-data"):
        cfg.client_cert_data = _b64(user["client-certificate-data"], "client-certificate-data")
    elif user.get("client-certificate"):
        cfg.client_cert_file = _resolve(upath, user["client-certificate"])
    if user.get("client-key-data"):
        cfg.client_key_data = _b64(user["client-key-data"], "client-key-data")
    elif user.get("client-key"):
        cfg.client_key_file = _resolve(upath, user["client-key"])
    if user.get("token"):
        cfg.token = str(user["token"])
    elif user.get("tokenFile"):
        cfg.token_file = _resolve(upath, user["tokenFile"])
    if user.get("username"):
        cfg.username = str(user["username"])
        cfg.password = str(user.get("password") or "")
    return cfg


# -- in-cluster ------------------------------------------------------------------------------------


def load_incluster(*, environ: Mapping[str, str] | None = None, root: Path = SERVICE_ACCOUNT_DIR) -> Config:
    """The Config of a pod: the kubernetes Service from the environment, the service account's files."""
    env = os.environ if environ is None else environ
    host = env.get("KUBERNETES_SERVICE_HOST", "")
    port = env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be set")
    token_file = root / "token"
    if not token_file.exists():
        raise ConfigError(f"not running in a cluster: no service account token at {token_file}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    cfg = Config(server=f"https://{host}:{port}", token_file=str(token_file))
    ca = root / "ca.crt"
    if ca.exists():
        cfg.ca_file = str(ca)
    ns = root / "namespace"
    if ns.exists():
        cfg.namespace = ns.read_text().strip() or "default"
    cfg.bearer_token()  # fail now, not on the first request, when the token is unreadable
    return cfg


def load_default(path: str | os.PathLike[str] | None = None, *, context: str | None = None) -> Config:
    """`path` if given; else $KUBECONFIG or ~/.kube/config if present; else the in-cluster config."""
    if path:
        return load_kubeconfig(path, context=context)
    paths = kubeconfig_paths(None)
    if any(p.exists() for p in paths):
        return load_kubeconfig(None, context=context)
    return load_incluster()


def write_kubeconfig(path: Path, server: str, ca_pem: bytes, user: Mapping[str, str], *, mode: int = 0o600) -> Path:
    """Write a one-context kubeconfig for `server` (trusting `ca_pem`) with the `user` credentials
    (`{"token": ...}` or `{"client-certificate-data": ..., "client-key-data": ...}`), atomically and with
    `mode` (the file is replaced, never rewritten in place)."""
    doc = {
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "default", "cluster": {
            "server": server.rstrip("/"), "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": "default", "user": dict(user)}],
        "contexts": [{"name": "default", "context": {"cluster": "default", "user": "default"}}],
        "current-context": "default", "preferences": {},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return path
