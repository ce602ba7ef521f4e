"""HTTP/1.1 connection upgrades, byte level: the request head a proxy writes to its backend and the
response head it reads back before the connection turns into SPDY or WebSocket frames.

Only what an upgrade-aware proxy needs: no bodies, no chunking. Hop-by-hop headers are dropped from
forwarded requests except the ones the upgrade itself needs.

    UpgradeError     a response head that cannot be parsed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MAX_HEAD = 64 * 1024

# Not forwarded by a proxy (RFC 9110 section 7.6.1), except Connection/Upgrade which it sets itself.
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade", "host", "content-length",
})


class UpgradeError(ValueError):
    """The peer's response head is malformed or too large."""


def is_upgrade(connection: str, upgrade: str) -> bool:
    """Whether `Connection`/`Upgrade` header values ask for an upgrade (any protocol)."""
    return bool(upgrade) and "upgrade" in [t.strip().lower() for t in connection.split(",")]


def is_websocket(connection: str, upgrade: str) -> bool:
    return is_upgrade(connection, upgrade) and upgrade.strip().lower() == "websocket"


def is_spdy(connection: str, upgrade: str) -> bool:
    return is_upgrade(connection, upgrade) and upgrade.strip().lower().startswith("spdy/")


def request_head(method: str, target: str, host: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """An HTTP/1.1 request head (target = path plus query, already encoded)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    for name, value in headers:
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise UpgradeError(f"header {name!r} has a line break")
        lines.append(f"{name}: {value}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def forwarded_headers(headers: Iterable[tuple[str, str]], *, upgrade: str | None = None,
                      drop: Iterable[str] = ()) -> list[tuple[str, str]]:
    """Request headers a proxy passes on: end-to-end ones, then `Connection: Upgrade` and the given
    `Upgrade` value (the client's own when None)."""
    dropped = {d.lower() for d in drop}
    out: list[tuple[str, str]] = []
    client_upgrade = ""
    for name, value in headers:
        low = name.lower()
        if low == "upgrade":
            client_upgrade = value
        if low in HOP_BY_HOP or low in dropped:
            continue
        out.append((name, value))
    wanted = client_upgrade if upgrade is None else upgrade
    if wanted:
        out += [("Connection", "Upgrade"), ("Upgrade", wanted)]
    return out


@dataclass(frozen=True)
class ResponseHead:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    raw: bytes

    def get(self, name: str, default: str = "") -> str:
        low = name.lower()
        for k, v in self.headers:
            if k.lower() == low:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        low = name.lower()
        return [v for k, v in self.headers if k.lower() == low]

    @property
    def content_length(self) -> int | None:
        value = self.get("Content-Length")
        try:
            return int(value) if value else None
        except ValueError:
            return None

    @property
    def chunked(self) -> bool:
        return "chunked" in self.get("Transfer-Encoding").lower()

    @property
    def upgraded(self) -> bool:
        return self.status == 101


def parse_response_head(buffer: bytes) -> tuple[ResponseHead, bytes] | None:
    """The response head at the start of `buffer` and the bytes after it; None if incomplete."""
    end = buffer.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end = buffer.find(b"\n\n")
        sep = 2
    if end < 0:
        if len(buffer) > MAX_HEAD:
            raise UpgradeError("response head is too large")
        return None
    raw = buffer[:end + sep]
    lines = raw.decode("latin-1").replace("\r\n", "\n").split("\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/"):
        raise UpgradeError(f"malformed status line {lines[0]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise UpgradeError(f"malformed status line {lines[0]!r}") from None
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line:
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise UpgradeError(f"malformed header line {line!r}")
        headers.append((name.strip(), value.strip()))
    return ResponseHead(status, status_line[2] if len(status_line) > 2 else "", headers, raw), buffer[end + sep:]


def dechunk(buf: bytes) -> tuple[bytes, bool]:
    """The data of the complete chunks at the start of a chunked body, and whether the last (empty)
    chunk was among them. An incomplete chunk at the end is left out."""
    out = bytearray()
    pos = 0
    while True:
        end = buf.find(b"\r\n", pos)
        if end < 0:
            return bytes(out), False
        try:
            size = int(buf[pos:end].split(b";")[0].strip() or b"0", 16)
        except ValueError:
            raise UpgradeError(f"malformed chunk size {buf[pos:end][:20]!r}") from None
        if size == 0:
            return bytes(out), True
        start = end + 2
        if len(buf) < start + size + 2:
            return bytes(out), False
        out += buf[start:start + size]
        pos = start + size + 2
