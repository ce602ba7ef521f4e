"""WebSocket channel framing (`*.channel.k8s.io`): encoding, decoding, negotiation and the v5 close message."""

from __future__ import annotations

import pytest

from kijabi.machinery.streams import channels

V5 = channels.PROTOCOLS[channels.V5]
V4 = channels.PROTOCOLS[channels.V4]
V4B64 = channels.PROTOCOLS[channels.V4_BASE64]
V1B64 = channels.PROTOCOLS[channels.V1_BASE64]


@pytest.mark.parametrize("protocol,channel,data,message", [
    pytest.param(V5, channels.STDIN, b"foo\n", b"\x00foo\n", id="binary-stdin"),
    pytest.param(V4, channels.ERROR, b'{"status":"Success"}', b'\x03{"status":"Success"}', id="binary-error"),
    pytest.param(V5, channels.STDOUT, b"", b"\x01", id="binary-empty-announcement"),
    pytest.param(V4B64, channels.STDIN, b"foo\n", "0Zm9vCg==", id="base64-stdin"),
    pytest.param(V1B64, channels.STDOUT, b"\n", "1Cg==", id="base64-stdout"),
    pytest.param(V5, channels.CLOSE, b"\x00", b"\xff\x00", id="binary-close"),
])
def test_messages_carry_the_channel_first(protocol: channels.ChannelProtocol, channel: int, data: bytes,
                                          message: bytes | str) -> None:
    """Binary protocols prefix the channel byte; base64 ones the channel digit and base64 text (upstream's
    examples: "foo\\n" on stdin is "0Zm9vCg==")."""
    assert channels.encode(protocol, channel, data) == message
    assert channels.decode(protocol, message) == (channel, data)


def test_empty_messages_are_ignored() -> None:
    assert channels.decode(V5, b"") is None
    assert channels.decode(V4B64, "") is None


@pytest.mark.parametrize("protocol,message,error", [
    pytest.param(V4B64, "0!!notbase64", "invalid base64", id="bad-base64"),
    pytest.param(V4B64, "x" + "Zm9v", "invalid channel character", id="bad-channel-digit"),
])
def test_invalid_messages_are_refused(protocol: channels.ChannelProtocol, message: str, error: str) -> None:
    with pytest.raises(channels.ChannelError, match=error):
        channels.decode(protocol, message)


def test_base64_protocols_cannot_carry_channels_above_nine() -> None:
    with pytest.raises(channels.ChannelError):
        channels.encode(V4B64, channels.CLOSE, b"\x00")


@pytest.mark.parametrize("offered,supported,chosen", [
    pytest.param(["v5.channel.k8s.io"], [channels.V5], channels.V5, id="kubectl-1.32"),
    pytest.param(["v4.channel.k8s.io", "v5.channel.k8s.io"], [channels.V5, channels.V4], channels.V4, id="client-order-wins"),
    pytest.param(["base64.channel.k8s.io"], [channels.V4, channels.V1], None, id="nothing-in-common"),
    pytest.param([], ["", channels.V1], "", id="no-offer-means-empty-protocol"),
    pytest.param([], [channels.V5], None, id="no-offer-but-empty-unsupported"),
])
def test_negotiation_picks_the_clients_first_supported_protocol(offered: list[str], supported: list[str],
                                                               chosen: str | None) -> None:
    assert channels.negotiate(offered, supported) == chosen


def test_protocol_headers_split_on_commas() -> None:
    assert channels.parse_protocol_header(["SPDY/3.1+portforward.k8s.io, portforward.k8s.io", "v5.channel.k8s.io"]) == [
        "SPDY/3.1+portforward.k8s.io", "portforward.k8s.io", "v5.channel.k8s.io"]


@pytest.mark.parametrize("name,status_json,close", [
    pytest.param(channels.V5, True, True, id="v5"),
    pytest.param(channels.V4, True, False, id="v4"),
    pytest.param(channels.V4_BASE64, True, False, id="v4-base64"),
    pytest.param(channels.V1, False, False, id="v1"),
    pytest.param("", False, False, id="no-subprotocol"),
])
def test_protocol_versions_differ_in_status_format_and_close_support(name: str, status_json: bool, close: bool) -> None:
    """Only v4+ send a JSON Status on channel 3; only v5 lets a client half-close a channel."""
    p = channels.PROTOCOLS[name]
    assert (p.status_json, p.supports_close) == (status_json, close)


def test_close_message_names_one_channel() -> None:
    assert channels.close_message(channels.STDIN) == b"\xff\x00"
    assert channels.closed_channel(b"\x00") == channels.STDIN
    with pytest.raises(channels.ChannelError):
        channels.closed_channel(b"\x00\x01")


def test_websocket_port_forward_channels_start_with_the_port_little_endian() -> None:
    assert channels.port_prefix(8080) == b"\x90\x1f"
