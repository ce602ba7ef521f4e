"""SPDY/3.1 framing: the dictionary, every frame type on the wire, header compression, and the session."""

from __future__ import annotations

import zlib

import pytest

from kijabi.machinery.streams import spdy
from kijabi.machinery.streams.spdy_dictionary import DICTIONARY, DICTIONARY_ID


def test_dictionary_is_the_published_spdy3_dictionary() -> None:
    """1423 bytes whose Adler-32 is the dictionary id peers check; it starts with the length-prefixed
    "options" and ends with the unprefixed tail."""
    assert len(DICTIONARY) == 1423
    assert zlib.adler32(DICTIONARY) == DICTIONARY_ID == 0xE3C6A7C2
    assert DICTIONARY.startswith(b"\x00\x00\x00\x07options\x00\x00\x00\x04head")
    assert b"\x00\x00\x00\x06200 OK" in DICTIONARY
    assert DICTIONARY.endswith(b"charset=iso-8859-1,utf-,*,enq=0.")


def test_compressed_header_blocks_name_the_dictionary() -> None:
    """A header block's zlib stream sets FDICT with the SPDY dictionary id, as Go's zlib expects."""
    raw = spdy.HeaderCompressor().compress({"streamtype": ["error"]})
    assert raw[1] & 0x20, "FDICT flag"
    assert int.from_bytes(raw[2:6], "big") == DICTIONARY_ID
    # A plain zlib decompressor without the dictionary cannot read it; with it, it can.
    with pytest.raises(zlib.error):
        zlib.decompressobj().decompress(raw)
    assert zlib.decompressobj(zdict=DICTIONARY).decompress(raw) == spdy.encode_header_block({"streamtype": ["error"]})


FRAMES = [
    pytest.param(spdy.DataFrame(1, b"hello"), id="data"),
    pytest.param(spdy.DataFrame(3, b"", fin=True), id="data-empty-fin"),
    pytest.param(spdy.DataFrame(2**31 - 1, b"x" * 70000), id="data-large-max-stream-id"),
    pytest.param(spdy.SynStream(1, {"streamtype": ["stdin"], "port": ["80"]}), id="syn-stream"),
    pytest.param(spdy.SynStream(5, {"a": ["1", "2"]}, associated_to=3, priority=7, slot=2, fin=True,
                                unidirectional=True), id="syn-stream-all-fields"),
    pytest.param(spdy.SynStream(7, {}), id="syn-stream-no-headers"),
    pytest.param(spdy.SynReply(1, {":status": ["200"]}), id="syn-reply"),
    pytest.param(spdy.SynReply(1, {}, fin=True), id="syn-reply-fin"),
    pytest.param(spdy.RstStream(9, spdy.CANCEL), id="rst-stream"),
    pytest.param(spdy.Settings((spdy.SettingsEntry(1, 7, 65536), spdy.SettingsEntry(0, 4, 100)), clear=True), id="settings"),
    pytest.param(spdy.Ping(4242), id="ping"),
    pytest.param(spdy.GoAway(11, spdy.GOAWAY_PROTOCOL_ERROR), id="goaway"),
    pytest.param(spdy.HeadersFrame(3, {"x-y": ["z"]}, fin=True), id="headers"),
    pytest.param(spdy.WindowUpdate(3, 1 << 20), id="window-update"),
    pytest.param(spdy.UnknownControl(99, 3, b"\x01\x02"), id="unknown-control-type"),
]


@pytest.mark.parametrize("frame", FRAMES)
def test_frames_round_trip(frame: spdy.Frame) -> None:
    """Every frame type encodes and decodes back to itself."""
    assert spdy.FrameReader().feed(spdy.FrameWriter().encode(frame)) == [frame]


@pytest.mark.parametrize("frame,wire", [
    pytest.param(spdy.Ping(1), b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", id="ping"),
    pytest.param(spdy.DataFrame(5, b"ab", fin=True), b"\x00\x00\x00\x05\x01\x00\x00\x02ab", id="data-fin"),
    pytest.param(spdy.RstStream(3, spdy.REFUSED_STREAM), b"\x80\x03\x00\x03\x00\x00\x00\x08\x00\x00\x00\x03\x00\x00\x00\x03",
                 id="rst-refused"),
    pytest.param(spdy.GoAway(0), b"\x80\x03\x00\x07\x00\x00\x00\x08" + bytes(8), id="goaway-ok"),
])
def test_frames_have_the_spdy3_wire_layout(frame: spdy.Frame, wire: bytes) -> None:
    """Control bit, version 3, type, flags and 24-bit length, then the payload, all big-endian."""
    assert spdy.FrameWriter().encode(frame) == wire


def test_header_compression_context_spans_the_connection() -> None:
    """Header blocks share one zlib stream per direction: later blocks only decode after earlier ones."""
    writer = spdy.FrameWriter()
    frames = [spdy.SynStream(i, {"streamtype": ["data"], "port": ["8080"], "requestid": [str(i)]}) for i in (1, 3, 5)]
    wires = [writer.encode(f) for f in frames]
    assert len(wires[1]) < len(wires[0]), "repeated headers compress against the shared history"
    assert spdy.FrameReader().feed(b"".join(wires)) == frames
    with pytest.raises(spdy.SpdyError):
        spdy.FrameReader().feed(wires[1])


def test_reader_accepts_bytes_in_any_split() -> None:
    """Frames fed one byte at a time come out whole, once, in order."""
    writer = spdy.FrameWriter()
    frames: list[spdy.Frame] = [spdy.SynStream(1, {"streamtype": ["stdout"]}), spdy.DataFrame(1, b"x" * 1000),
                                spdy.Ping(2), spdy.DataFrame(1, b"", fin=True)]
    wire = b"".join(writer.encode(f) for f in frames)
    reader = spdy.FrameReader()
    got: list[spdy.Frame] = []
    for i in range(len(wire)):
        got += reader.feed(wire[i:i + 1])
    assert got == frames and reader.buffered == 0


def _control(kind: int, payload: bytes, version: int = 3) -> bytes:
    return (0x8000 | version).to_bytes(2, "big") + kind.to_bytes(2, "big") + b"\x00" + len(payload).to_bytes(3, "big") + payload


@pytest.mark.parametrize("wire,message", [
    pytest.param(_control(spdy.PING, b"\x00\x00\x00\x01", version=2), "unsupported SPDY version 2", id="version-2"),
    pytest.param(_control(spdy.SYN_STREAM, b"\x00\x00\x00\x01"), "too short", id="short-syn-stream"),
    pytest.param(_control(spdy.RST_STREAM, b"\x00\x00\x00\x01"), "too short", id="short-rst"),
    pytest.param(_control(spdy.SYN_REPLY, b"\x00\x00\x00\x01" + b"garbage"), "corrupt header block", id="not-zlib"),
])
def test_malformed_frames_are_refused(wire: bytes, message: str) -> None:
    with pytest.raises(spdy.SpdyError, match=message):
        spdy.FrameReader().feed(wire)


@pytest.mark.parametrize("block,message", [
    pytest.param(b"\x00\x00\x00\x01\x00\x00\x00\x01A\x00\x00\x00\x01b", "not lowercased", id="uppercase-name"),
    pytest.param(b"\x00\x00\x00\x02" + (b"\x00\x00\x00\x01a\x00\x00\x00\x01b") * 2, "same name", id="duplicate-name"),
    pytest.param(b"\x00\x00\x00\x01\x00\x00\x00\x09ab", "truncated", id="truncated"),
    pytest.param(b"\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00", "empty header name", id="empty-name"),
])
def test_invalid_header_blocks_are_refused(block: bytes, message: str) -> None:
    with pytest.raises(spdy.SpdyError, match=message):
        spdy.decode_header_block(block)


def test_header_values_of_one_name_travel_nul_separated() -> None:
    block = spdy.encode_header_block(spdy.headers_of({"X-Stream-Protocol-Version": ["v4.channel.k8s.io", "v3.channel.k8s.io"]}))
    assert b"v4.channel.k8s.io\x00v3.channel.k8s.io" in block
    assert spdy.decode_header_block(block) == {"x-stream-protocol-version": ["v4.channel.k8s.io", "v3.channel.k8s.io"]}


# -- session ------------------------------------------------------------------------------------------


def _pair() -> tuple[spdy.Session, spdy.Session]:
    return spdy.Session(client=True), spdy.Session(client=False)


def test_session_opens_replies_and_carries_data_both_ways() -> None:
    """Client streams get odd ids; the server sees them opened with their headers, replies, and data flows
    both ways until each side's FIN; a stream closed both ways is forgotten."""
    client, server = _pair()
    sid, wire = client.open_stream({"streamtype": ["stdin"]})
    sid2, wire2 = client.open_stream({"streamtype": ["stdout"]})
    assert (sid, sid2) == (1, 3)
    assert server.receive(wire + wire2) == [spdy.StreamOpened(1, {"streamtype": ["stdin"]}, False),
                                            spdy.StreamOpened(3, {"streamtype": ["stdout"]}, False)]
    assert client.receive(server.reply(1) + server.reply(3)) == [spdy.StreamReplied(1, {}), spdy.StreamReplied(3, {})]
    assert server.receive(client.send(1, b"input", fin=True)) == [spdy.DataReceived(1, b"input"), spdy.StreamEnded(1)]
    assert client.receive(server.send(3, b"output") + server.close(3)) == [spdy.DataReceived(3, b"output"),
                                                                          spdy.StreamEnded(3)]
    assert client.open_streams == 2  # each stream is still open in one direction
    assert server.receive(client.close(3)) == [spdy.StreamEnded(3)]
    assert server.open_streams == 1 and client.open_streams == 1
    assert server.receive(b"") == []
    assert server.headers(1) == {"streamtype": ["stdin"]} and server.headers(3) is None


def test_session_splits_large_writes_and_refuses_writes_after_fin() -> None:
    client, server = _pair()
    sid, wire = client.open_stream({})
    server.receive(wire)
    payload = bytes(range(256)) * 400  # 100 KiB
    frames = spdy.FrameReader().feed(client.send(sid, payload, fin=True))
    assert all(isinstance(f, spdy.DataFrame) and len(f.data) <= spdy.DATA_CHUNK for f in frames)
    assert b"".join(f.data for f in frames if isinstance(f, spdy.DataFrame)) == payload
    assert [f.fin for f in frames if isinstance(f, spdy.DataFrame)] == [False] * (len(frames) - 1) + [True]
    with pytest.raises(spdy.SpdyError, match="closed for writing"):
        client.send(sid, b"more")
    assert client.close(sid) == b""


def test_session_answers_peer_pings_and_reports_its_own() -> None:
    """A PING from the peer (other parity) is echoed through data_to_send; our own coming back is an ack."""
    client, server = _pair()
    ping_id, wire = server.ping()
    assert ping_id % 2 == 0
    assert client.receive(wire) == []
    echo = client.data_to_send()
    assert echo == wire and client.data_to_send() == b""
    assert server.receive(echo) == [spdy.PingAcknowledged(ping_id)]


def test_session_handles_reset_goaway_and_protocol_errors() -> None:
    client, server = _pair()
    sid, wire = client.open_stream({"streamtype": ["data"]})
    server.receive(wire)
    assert client.receive(server.reset(sid, spdy.REFUSED_STREAM)) == [spdy.StreamReset(sid, spdy.REFUSED_STREAM)]
    assert client.receive(server.send(sid, b"late")) == [], "data on a reset stream is dropped"
    # A peer may not open a stream with our parity: it is refused with RST_STREAM(PROTOCOL_ERROR).
    bad = spdy.FrameWriter().encode(spdy.SynStream(7, {}))
    assert client.receive(bad) == []
    assert spdy.FrameReader().feed(client.data_to_send()) == [spdy.RstStream(7, spdy.PROTOCOL_ERROR)]
    assert client.receive(server.go_away()) == [spdy.GoAwayReceived(1, spdy.GOAWAY_OK)]
    assert client.gone_away


def test_session_ignores_flow_control_and_unknown_frames() -> None:
    client, server = _pair()
    sid, wire = client.open_stream({})
    server.receive(wire)
    writer = spdy.FrameWriter()
    noise = writer.encode(spdy.WindowUpdate(sid, 1000)) + writer.encode(spdy.Settings((spdy.SettingsEntry(0, 7, 1),)))
    noise += writer.encode(spdy.UnknownControl(42, 0, b"?"))
    assert server.receive(noise) == []
