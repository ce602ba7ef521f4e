"""etcd endpoints as users write them (`--datastore-endpoint etcd://h1:2379,h2:2379`), parsed without
loading gRPC: a server on the embedded store never imports the etcd client."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from kijabi.storage import StorageError

DEFAULT_PORT = 2379


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def parse_endpoints(endpoints: Sequence[str], *, tls_files: bool) -> list[Endpoint]:
    """Endpoints as `host:port`, `http://host:port`, `https://host:port` or `etcd://host:port` (the
    k3s-style scheme: TLS iff certificate files are given). A bare `host:port` uses TLS iff files are
    given. Raises StorageError for an empty list, an unknown scheme, or a mix of http and https."""
    out: list[Endpoint] = []
    for raw in endpoints:
        text = raw.strip()
        if not text:
            continue
        if "://" not in text:
            text = "etcd://" + text
        parts = urlsplit(text)
        scheme = parts.scheme.lower()
        if scheme not in ("etcd", "http", "https"):
            raise StorageError(f"unsupported etcd endpoint {raw!r} (use etcd://, http:// or https://)")
        if not parts.hostname or parts.path not in ("", "/"):
            raise StorageError(f"invalid etcd endpoint {raw!r}")
        try:
            port = parts.port or DEFAULT_PORT
        except ValueError as exc:
            raise StorageError(f"invalid etcd endpoint {raw!r}: {exc}") from exc
        tls = scheme == "https" or (scheme == "etcd" and tls_files)
        out.append(Endpoint(parts.hostname, port, tls))
    if not out:
        raise StorageError("no etcd endpoints given")
    if len({e.tls for e in out}) > 1:
        raise StorageError("etcd endpoints mix http and https")
    return out


def split_url(url: str) -> list[str]:
    """`etcd://h1:2379,h2:2379` -> ["etcd://h1:2379", "etcd://h2:2379"]: a member without a scheme
    takes the scheme of the one before it (k3s also accepts one full URL per member)."""
    scheme = "etcd"
    out: list[str] = []
    for part in url.split(","):
        part = part.strip()
        if not part:
            continue
        if "://" in part:
            scheme = part.split("://", 1)[0]
        else:
            part = f"{scheme}://{part}"
        out.append(part)
    return out
