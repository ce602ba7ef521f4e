"""WebSocket channel framing of Kubernetes streaming (`*.channel.k8s.io` subprotocols).

Every message carries one channel: binary protocols prefix the payload with the channel byte, base64
protocols send text made of the channel digit ('0'..'9') and the base64 of the payload.

    channel  0 stdin   1 stdout   2 stderr   3 error (status)   4 resize (JSON {"Width","Height"})
    255      close: `[255, n]` means "the sender will write nothing more on channel n" (v5 only)

Subprotocols, newest first:
- `v5.channel.k8s.io`: v4 plus the close message, so a client can half-close stdin (kubectl >= 1.30).
- `v4.channel.k8s.io` / `v4.base64.channel.k8s.io`: channel 3 carries a JSON metav1.Status with the exit code.
- `channel.k8s.io` / `base64.channel.k8s.io` (and no subprotocol at all): channel 3 carries plain text.

Negotiation follows the server side of upstream (golang.org/x/net/websocket handshake): the first
subprotocol in the client's list that the server supports wins.

    ChannelError      a message that is not valid for the negotiated protocol
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

STDIN = 0
STDOUT = 1
STDERR = 2
ERROR = 3
RESIZE = 4
CLOSE = 255

V5 = "v5.channel.k8s.io"
V4 = "v4.channel.k8s.io"
V4_BASE64 = "v4.base64.channel.k8s.io"
V1 = "channel.k8s.io"
V1_BASE64 = "base64.channel.k8s.io"


class ChannelError(ValueError):
    """A WebSocket message that does not follow the negotiated channel protocol."""


@dataclass(frozen=True)
class ChannelProtocol:
    name: str
    version: int  # 1, 4 or 5: what the error channel carries and whether CLOSE exists
    base64: bool = False

    @property
    def status_json(self) -> bool:
        """Channel 3 carries a JSON Status (v4+), not plain text."""
        return self.version >= 4

    @property
    def supports_close(self) -> bool:
        return self.version >= 5


PROTOCOLS: dict[str, ChannelProtocol] = {
    p.name: p for p in (
        ChannelProtocol(V5, 5),
        ChannelProtocol(V4, 4),
        ChannelProtocol(V4_BASE64, 4, base64=True),
        ChannelProtocol(V1, 1),
        ChannelProtocol(V1_BASE64, 1, base64=True),
        ChannelProtocol("", 1),
    )
}


def parse_protocol_header(values: Iterable[str]) -> list[str]:
    """The subprotocols of one or more `Sec-WebSocket-Protocol` headers, in order."""
    out: list[str] = []
    for value in values:
        out.extend(p.strip() for p in value.split(",") if p.strip())
    return out


def negotiate(offered: Sequence[str], supported: Iterable[str]) -> str | None:
    """The subprotocol to answer with: the client's first supported choice. With no offer at all the
    empty protocol is chosen if supported. None means the handshake must fail."""
    allowed = list(supported)
    for name in offered or [""]:
        if name in allowed:
            return name
    return None


def encode(protocol: ChannelProtocol, channel: int, data: bytes) -> bytes | str:
    """One WebSocket message: bytes for a binary protocol, text for a base64 one."""
    if not 0 <= channel <= 255:
        raise ChannelError(f"channel {channel} out of range")
    if protocol.base64:
        if channel > 9:
            raise ChannelError(f"channel {channel} cannot be written in a base64 protocol")
        return chr(ord("0") + channel) + base64.b64encode(data).decode("ascii")
    return bytes([channel]) + data


def decode(protocol: ChannelProtocol, message: bytes | str) -> tuple[int, bytes] | None:
    """(channel, payload) of one message; None for an empty message (ignored by upstream)."""
    if not message:
        return None
    if protocol.base64:
        text = message if isinstance(message, str) else message.decode("ascii", "replace")
        channel = ord(text[0]) - ord("0")
        if not 0 <= channel <= 9:
            raise ChannelError(f"invalid channel character {text[0]!r}")
        try:
            return channel, base64.b64decode(text[1:], validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ChannelError(f"invalid base64 payload on channel {channel}: {exc}") from None
    raw = message.encode("utf-8") if isinstance(message, str) else message
    return raw[0], raw[1:]


def close_message(channel: int) -> bytes:
    """The v5 message announcing that the sender has finished writing `channel`."""
    return bytes([CLOSE, channel])


def closed_channel(payload: bytes) -> int:
    """The channel named by the payload of a CLOSE message."""
    if len(payload) != 1:
        raise ChannelError(f"close message must name exactly one channel, got {len(payload)} bytes")
    return payload[0]


def port_prefix(port: int) -> bytes:
    """First message on each channel of the WebSocket port-forward protocol: the port, little-endian."""
    return port.to_bytes(2, "little")
