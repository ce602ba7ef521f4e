"""HTTP/1.1 upgrade heads as the proxies write and read them."""

from __future__ import annotations

import pytest

from kijabi.machinery.streams import upgrade


@pytest.mark.parametrize("connection,upgrade_value,any_,ws,spdy", [
    pytest.param("Upgrade", "websocket", True, True, False, id="websocket"),
    pytest.param("keep-alive, Upgrade", "WebSocket", True, True, False, id="websocket-token-list"),
    pytest.param("Upgrade", "SPDY/3.1", True, False, True, id="spdy"),
    pytest.param("keep-alive", "SPDY/3.1", False, False, False, id="no-connection-token"),
    pytest.param("Upgrade", "", False, False, False, id="no-upgrade-header"),
])
def test_upgrade_detection(connection: str, upgrade_value: str, any_: bool, ws: bool, spdy: bool) -> None:
    assert upgrade.is_upgrade(connection, upgrade_value) is any_
    assert upgrade.is_websocket(connection, upgrade_value) is ws
    assert upgrade.is_spdy(connection, upgrade_value) is spdy


def test_forwarded_headers_drop_hop_by_hop_and_keep_the_upgrade() -> None:
    incoming = [("Host", "api:6443"), ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("Authorization", "Bearer x"),
                ("X-Stream-Protocol-Version", "v4.channel.k8s.io"), ("X-Stream-Protocol-Version", "v3.channel.k8s.io"),
                ("Content-Length", "0"), ("Keep-Alive", "timeout=5")]
    out = upgrade.forwarded_headers(incoming, drop=("authorization",))
    assert out == [("X-Stream-Protocol-Version", "v4.channel.k8s.io"), ("X-Stream-Protocol-Version", "v3.channel.k8s.io"),
                   ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1")]
    assert upgrade.forwarded_headers([("Upgrade", "websocket")], upgrade="SPDY/3.1")[-1] == ("Upgrade", "SPDY/3.1")


def test_request_head() -> None:
    head = upgrade.request_head("POST", "/exec/abc?command=sh", "127.0.0.1:1234", [("Upgrade", "SPDY/3.1")])
    assert head == b"POST /exec/abc?command=sh HTTP/1.1\r\nHost: 127.0.0.1:1234\r\nUpgrade: SPDY/3.1\r\n\r\n"
    with pytest.raises(upgrade.UpgradeError):
        upgrade.request_head("GET", "/", "h", [("X", "a\r\nInjected: yes")])


def test_response_head_parsing() -> None:
    raw = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n\x80\x03"
    assert upgrade.parse_response_head(raw[:30]) is None
    head, rest = upgrade.parse_response_head(raw) or (None, b"")
    assert head is not None and head.upgraded and head.reason == "Switching Protocols"
    assert head.get("x-stream-protocol-version") == "v4.channel.k8s.io" and rest == b"\x80\x03"
    lf_only, rest = upgrade.parse_response_head(b"HTTP/1.1 404 Not Found\nContent-Length: 3\n\nabc") or (None, b"")
    assert lf_only is not None and (lf_only.status, lf_only.content_length, rest) == (404, 3, b"abc")
    with pytest.raises(upgrade.UpgradeError):
        upgrade.parse_response_head(b"SPDY nonsense\r\n\r\n")


@pytest.mark.parametrize("body,data,complete", [
    pytest.param(b"5\r\nhello\r\n0\r\n\r\n", b"hello", True, id="complete"),
    pytest.param(b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n", b"hello world", True, id="two-chunks-extension"),
    pytest.param(b"5\r\nhello\r\n3\r\nab", b"hello", False, id="incomplete-chunk"),
    pytest.param(b"", b"", False, id="empty"),
])
def test_dechunk(body: bytes, data: bytes, complete: bool) -> None:
    assert upgrade.dechunk(body) == (data, complete)
