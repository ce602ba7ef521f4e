"""The port-forward protocol: SPDY stream pairs, and SPDY tunnelled through a WebSocket.

Over SPDY (`X-Stream-Protocol-Version: portforward.k8s.io`) the client opens two streams per forwarded
connection, both carrying headers `port` and `requestid`: first `streamtype: error` (the client closes
its side at once; the server writes an error message there if forwarding fails), then `streamtype: data`
(the connection's bytes, both ways). The server pairs them by request id (`StreamPairs`); old clients
without a request id are paired by stream id (error = n, data = n + 2).

Since kubectl 1.31 the same SPDY bytes travel inside a WebSocket whose subprotocol is the SPDY protocol
prefixed with `SPDY/3.1+` (`SPDY/3.1+portforward.k8s.io`): each binary message is a chunk of the SPDY
byte stream, so a proxy only re-frames bytes (`tunnel_protocols`, `tunnelled`).

    PairingError    a stream with missing or invalid headers, or a second stream of the same type
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kijabi.machinery.streams import spdy

PROTOCOL_V1 = "portforward.k8s.io"
TUNNEL_PREFIX = "SPDY/3.1+"
KUBERNETES_SUFFIX = "k8s.io"

HEADER_PORT = "port"
HEADER_REQUEST_ID = "requestid"
HEADER_STREAM_TYPE = "streamtype"
STREAM_ERROR = "error"
STREAM_DATA = "data"


class PairingError(ValueError):
    """A port-forward stream the server must refuse; the message is what upstream reports."""


def tunnel_protocols(websocket_protocols: Iterable[str]) -> list[str]:
    """The SPDY protocols a WebSocket client asks to tunnel (`SPDY/3.1+x.k8s.io` -> `x.k8s.io`)."""
    return [p[len(TUNNEL_PREFIX):] for p in websocket_protocols
            if p.startswith(TUNNEL_PREFIX) and p.endswith(KUBERNETES_SUFFIX)]


def tunnelled(spdy_protocol: str) -> str:
    """The WebSocket subprotocol that carries `spdy_protocol`."""
    return TUNNEL_PREFIX + spdy_protocol


def parse_port(headers: spdy.Headers) -> int:
    text = spdy.first(headers, HEADER_PORT)
    if not text:
        raise PairingError(f'"{HEADER_PORT}" header is required')
    try:
        port = int(text, 10)
    except ValueError:
        raise PairingError(f'unable to parse "{text}" as a port') from None
    if not 0 <= port <= 65535:
        raise PairingError(f'unable to parse "{text}" as a port: value out of range')
    if port < 1:
        raise PairingError(f'port "{text}" must be > 0')
    return port


def parse_ports(text: str) -> list[int]:
    """The `ports` query parameter (comma separated) of a port-forward request."""
    ports: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            port = int(part, 10)
        except ValueError:
            raise PairingError(f"unable to parse {part!r} as a port") from None
        if not 1 <= port <= 65535:
            raise PairingError(f"port {part!r} must be > 0 and < 65536")
        ports.append(port)
    return ports


@dataclass
class Pair:
    request_id: str
    port: int
    created: float
    error_stream: int | None = None
    data_stream: int | None = None

    @property
    def complete(self) -> bool:
        return self.error_stream is not None and self.data_stream is not None


@dataclass
class StreamPairs:
    """Pairs incoming error/data streams by request id; pairs left incomplete expire after `timeout`
    seconds (the clock is the caller's: pass `now` in)."""

    timeout: float = 30.0
    _pairs: dict[str, Pair] = field(default_factory=dict)

    def add(self, stream_id: int, headers: spdy.Headers, now: float) -> Pair | None:
        """Register a new stream; returns its pair once both streams are there (and forgets it)."""
        port = parse_port(headers)
        kind = spdy.first(headers, HEADER_STREAM_TYPE)
        if not kind:
            raise PairingError(f'"{HEADER_STREAM_TYPE}" header is required')
        if kind not in (STREAM_ERROR, STREAM_DATA):
            raise PairingError(f'invalid stream type "{kind}"')
        request_id = spdy.first(headers, HEADER_REQUEST_ID)
        if not request_id:
            request_id = str(stream_id if kind == STREAM_ERROR else stream_id - 2)
        pair = self._pairs.get(request_id)
        if pair is None:
            pair = self._pairs[request_id] = Pair(request_id, port, now)
        if kind == STREAM_ERROR:
            if pair.error_stream is not None:
                raise PairingError("error stream already assigned")
            pair.error_stream = stream_id
        else:
            if pair.data_stream is not None:
                raise PairingError("data stream already assigned")
            pair.data_stream = stream_id
        if pair.complete:
            del self._pairs[request_id]
            return pair
        return None

    def expired(self, now: float) -> list[Pair]:
        """Pairs still incomplete after the timeout; they are forgotten."""
        gone = [p for p in self._pairs.values() if now - p.created >= self.timeout]
        for p in gone:
            del self._pairs[p.request_id]
        return gone

    def __len__(self) -> int:
        return len(self._pairs)
