"""SPDY/3.1 framing, as spoken by Kubernetes streaming (moby/spdystream on the Go side).

Kubernetes uses SPDY only as a stream multiplexer after an HTTP `Upgrade: SPDY/3.1`: exec/attach open
one stream per stdio channel, port-forward a pair of streams per forwarded connection. This module is
sans-I/O: `FrameReader.feed(bytes)` returns frames, `FrameWriter.encode(frame)` returns bytes, and
`Session` keeps the per-connection state (stream ids, replies, FIN, ping echo) on top of both.

Wire format (all integers big-endian):

    control frame:  |1| version(15) | type(16) | flags(8) | length(24) | payload
    data frame:     |0| stream id(31)          | flags(8) | length(24) | data

Header blocks (SYN_STREAM, SYN_REPLY, HEADERS) are `count(32) {len(32) name len(32) value}*`, values
of one name joined by NUL, compressed with one zlib stream per direction for the whole connection,
primed with the SPDY/3 dictionary and flushed with Z_SYNC_FLUSH after each block.

Like spdystream, the session does not do SPDY flow control (WINDOW_UPDATE and SETTINGS are parsed and
ignored): every Kubernetes peer ignores them too.

    SpdyError           malformed input: bad version, truncated frame, corrupt header block
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kijabi.machinery.streams.spdy_dictionary import DICTIONARY

VERSION = 3

SYN_STREAM = 1
SYN_REPLY = 2
RST_STREAM = 3
SETTINGS = 4
PING = 6
GOAWAY = 7
HEADERS = 8
WINDOW_UPDATE = 9

FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

MAX_LENGTH = (1 << 24) - 1
MAX_STREAM_ID = (1 << 31) - 1
# Data frames this module writes are cut at this size (spdystream writes one frame per Write call).
DATA_CHUNK = 32 * 1024
# A decompressed header block larger than this is refused (spdystream has no limit; 1 MiB is plenty).
MAX_HEADER_BLOCK = 1 << 20

# RST_STREAM status codes
PROTOCOL_ERROR = 1
INVALID_STREAM = 2
REFUSED_STREAM = 3
UNSUPPORTED_VERSION = 4
CANCEL = 5
INTERNAL_ERROR = 6
FLOW_CONTROL_ERROR = 7
STREAM_IN_USE = 8
STREAM_ALREADY_CLOSED = 9

# GOAWAY status codes
GOAWAY_OK = 0
GOAWAY_PROTOCOL_ERROR = 1
GOAWAY_INTERNAL_ERROR = 2

Headers = dict[str, list[str]]


class SpdyError(Exception):
    """The peer sent bytes that are not valid SPDY/3."""


# -- frames ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass(frozen=True)
class SynStream:
    stream_id: int
    headers: Headers
    associated_to: int = 0
    priority: int = 0
    slot: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass(frozen=True)
class SynReply:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class RstStream:
    stream_id: int
    status: int


@dataclass(frozen=True)
class SettingsEntry:
    flags: int
    id: int
    value: int


@dataclass(frozen=True)
class Settings:
    entries: tuple[SettingsEntry, ...] = ()
    clear: bool = False


@dataclass(frozen=True)
class Ping:
    id: int


@dataclass(frozen=True)
class GoAway:
    last_good_stream_id: int
    status: int = GOAWAY_OK


@dataclass(frozen=True)
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass(frozen=True)
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass(frozen=True)
class UnknownControl:
    """A control frame type SPDY/3 does not define; peers must ignore it."""

    type: int
    flags: int
    payload: bytes


Frame = (DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate
         | UnknownControl)


def headers_of(pairs: Mapping[str, str | Iterable[str]]) -> Headers:
    """A header block from a mapping (names are lowercased, as SPDY requires)."""
    out: Headers = {}
    for name, value in pairs.items():
        values = [value] if isinstance(value, str) else list(value)
        out.setdefault(name.lower(), []).extend(values)
    return out


def first(headers: Headers, name: str) -> str:
    """The first value of a header ("" when absent); names are compared lowercased."""
    values = headers.get(name.lower())
    return values[0] if values else ""


# -- header blocks -----------------------------------------------------------------------------------


def encode_header_block(headers: Headers) -> bytes:
    out = bytearray(len(headers).to_bytes(4, "big"))
    for name, values in headers.items():
        raw_name = name.lower().encode("utf-8")
        raw_value = "\x00".join(values).encode("utf-8")
        out += len(raw_name).to_bytes(4, "big") + raw_name + len(raw_value).to_bytes(4, "big") + raw_value
    return bytes(out)


def decode_header_block(block: bytes) -> Headers:
    if len(block) < 4:
        raise SpdyError("header block is truncated")
    count = int.from_bytes(block[:4], "big")
    pos = 4
    headers: Headers = {}

    def take() -> str:
        nonlocal pos
        if pos + 4 > len(block):
            raise SpdyError("header block is truncated")
        n = int.from_bytes(block[pos:pos + 4], "big")
        pos += 4
        if pos + n > len(block):
            raise SpdyError("header block is truncated")
        raw = block[pos:pos + n]
        pos += n
        return raw.decode("utf-8", "replace")

    for _ in range(count):
        name = take()
        value = take()
        if not name:
            raise SpdyError("header block has an empty header name")
        if name != name.lower():
            raise SpdyError("header was not lowercased")
        if name in headers:
            raise SpdyError("multiple headers with same name")
        headers[name] = value.split("\x00")
    return headers


class HeaderCompressor:
    """One direction's header compression context (one per connection and direction)."""

    def __init__(self) -> None:
        self._z = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    def compress(self, headers: Headers) -> bytes:
        block = encode_header_block(headers)
        return self._z.compress(block) + self._z.flush(zlib.Z_SYNC_FLUSH)


class HeaderDecompressor:
    def __init__(self) -> None:
        self._z = zlib.decompressobj(15, DICTIONARY)

    def decompress(self, data: bytes) -> Headers:
        try:
            block = self._z.decompress(data, MAX_HEADER_BLOCK)
        except zlib.error as exc:
            raise SpdyError(f"corrupt header block: {exc}") from None
        if self._z.unconsumed_tail:
            raise SpdyError("header block is too large")
        return decode_header_block(block)


# -- reading -----------------------------------------------------------------------------------------


def _u31(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos:pos + 4], "big") & MAX_STREAM_ID


class FrameReader:
    """Incremental parser: `feed()` bytes as they arrive, get the complete frames back in order."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._headers = HeaderDecompressor()

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            length = int.from_bytes(self._buf[5:8], "big")
            if len(self._buf) < 8 + length:
                break
            head = bytes(self._buf[:8])
            payload = bytes(self._buf[8:8 + length])
            del self._buf[:8 + length]
            frames.append(self._frame(head, payload))
        return frames

    @property
    def buffered(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)

    def _frame(self, head: bytes, payload: bytes) -> Frame:
        flags = head[4]
        if not head[0] & 0x80:
            return DataFrame(_u31(head, 0), payload, bool(flags & FLAG_FIN))
        version = int.from_bytes(head[0:2], "big") & 0x7FFF
        if version != VERSION:
            raise SpdyError(f"unsupported SPDY version {version}")
        kind = int.from_bytes(head[2:4], "big")
        fin = bool(flags & FLAG_FIN)
        if kind == SYN_STREAM:
            self._need(payload, 10, "SYN_STREAM")
            return SynStream(_u31(payload, 0), self._headers.decompress(payload[10:]), associated_to=_u31(payload, 4),
                             priority=payload[8] >> 5, slot=payload[9], fin=fin,
                             unidirectional=bool(flags & FLAG_UNIDIRECTIONAL))
        if kind == SYN_REPLY:
            self._need(payload, 4, "SYN_REPLY")
            return SynReply(_u31(payload, 0), self._headers.decompress(payload[4:]), fin=fin)
        if kind == HEADERS:
            self._need(payload, 4, "HEADERS")
            return HeadersFrame(_u31(payload, 0), self._headers.decompress(payload[4:]), fin=fin)
        if kind == RST_STREAM:
            self._need(payload, 8, "RST_STREAM")
            return RstStream(_u31(payload, 0), int.from_bytes(payload[4:8], "big"))
        if kind == SETTINGS:
            self._need(payload, 4, "SETTINGS")
            count = int.from_bytes(payload[:4], "big")
            self._need(payload, 4 + 8 * count, "SETTINGS")
            entries = tuple(
                SettingsEntry(payload[4 + 8 * i], int.from_bytes(payload[5 + 8 * i:8 + 8 * i], "big"),
                              int.from_bytes(payload[8 + 8 * i:12 + 8 * i], "big"))
                for i in range(count))
            return Settings(entries, clear=bool(flags & 0x01))
        if kind == PING:
            self._need(payload, 4, "PING")
            return Ping(int.from_bytes(payload[:4], "big"))
        if kind == GOAWAY:
            self._need(payload, 4, "GOAWAY")
            status = int.from_bytes(payload[4:8], "big") if len(payload) >= 8 else GOAWAY_OK
            return GoAway(_u31(payload, 0), status)
        if kind == WINDOW_UPDATE:
            self._need(payload, 8, "WINDOW_UPDATE")
            return WindowUpdate(_u31(payload, 0), _u31(payload, 4))
        return UnknownControl(kind, flags, payload)

    @staticmethod
    def _need(payload: bytes, n: int, what: str) -> None:
        if len(payload) < n:
            raise SpdyError(f"{what} frame is too short ({len(payload)} bytes)")


# -- writing -----------------------------------------------------------------------------------------


def _control(kind: int, flags: int, payload: bytes) -> bytes:
    if len(payload) > MAX_LENGTH:
        raise SpdyError("control frame is too large")
    return (0x8000 | VERSION).to_bytes(2, "big") + kind.to_bytes(2, "big") + bytes([flags]) + \
        len(payload).to_bytes(3, "big") + payload


def _id(n: int) -> bytes:
    if not 0 <= n <= MAX_STREAM_ID:
        raise SpdyError(f"stream id {n} out of range")
    return n.to_bytes(4, "big")


class FrameWriter:
    """Serializes frames; holds this direction's header compression context."""

    def __init__(self) -> None:
        self._headers = HeaderCompressor()

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_LENGTH:
                raise SpdyError("data frame is too large")
            return _id(frame.stream_id) + bytes([FLAG_FIN if frame.fin else 0]) + \
                len(frame.data).to_bytes(3, "big") + frame.data
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            payload = _id(frame.stream_id) + _id(frame.associated_to) + bytes([(frame.priority & 7) << 5, frame.slot])
            return _control(SYN_STREAM, flags, payload + self._headers.compress(frame.headers))
        if isinstance(frame, SynReply):
            return _control(SYN_REPLY, FLAG_FIN if frame.fin else 0,
                            _id(frame.stream_id) + self._headers.compress(frame.headers))
        if isinstance(frame, HeadersFrame):
            return _control(HEADERS, FLAG_FIN if frame.fin else 0,
                            _id(frame.stream_id) + self._headers.compress(frame.headers))
        if isinstance(frame, RstStream):
            return _control(RST_STREAM, 0, _id(frame.stream_id) + frame.status.to_bytes(4, "big"))
        if isinstance(frame, Settings):
            body = len(frame.entries).to_bytes(4, "big") + b"".join(
                bytes([e.flags]) + e.id.to_bytes(3, "big") + e.value.to_bytes(4, "big") for e in frame.entries)
            return _control(SETTINGS, 0x01 if frame.clear else 0, body)
        if isinstance(frame, Ping):
            return _control(PING, 0, frame.id.to_bytes(4, "big"))
        if isinstance(frame, GoAway):
            return _control(GOAWAY, 0, _id(frame.last_good_stream_id) + frame.status.to_bytes(4, "big"))
        if isinstance(frame, WindowUpdate):
            return _control(WINDOW_UPDATE, 0, _id(frame.stream_id) + _id(frame.delta))
        return _control(frame.type, frame.flags, frame.payload)


# -- session -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StreamOpened:
    """The peer opened a stream (SYN_STREAM). A server answers with `Session.reply`."""

    stream_id: int
    headers: Headers
    fin: bool


@dataclass(frozen=True)
class StreamReplied:
    """The peer accepted a stream we opened (SYN_REPLY): data may now flow on it."""

    stream_id: int
    headers: Headers


@dataclass(frozen=True)
class DataReceived:
    stream_id: int
    data: bytes


@dataclass(frozen=True)
class StreamEnded:
    """The peer will send nothing more on this stream (FIN)."""

    stream_id: int


@dataclass(frozen=True)
class StreamReset:
    stream_id: int
    status: int


@dataclass(frozen=True)
class PingAcknowledged:
    id: int


@dataclass(frozen=True)
class GoAwayReceived:
    last_good_stream_id: int
    status: int


Event = StreamOpened | StreamReplied | DataReceived | StreamEnded | StreamReset | PingAcknowledged | GoAwayReceived


@dataclass
class _Stream:
    headers: Headers
    local: bool
    replied: bool = False
    local_closed: bool = False
    remote_closed: bool = False


@dataclass
class Session:
    """State of one SPDY connection, either end. Methods return the bytes to write; `receive` turns
    incoming bytes into events and queues any automatic answers (PING echoes) for `data_to_send()`.

    Streams we open get odd ids on a client, even ids on a server. Data frames for a stream that is
    unknown or already reset are dropped, as spdystream does.
    """

    client: bool
    _reader: FrameReader = field(default_factory=FrameReader)
    _writer: FrameWriter = field(default_factory=FrameWriter)
    _streams: dict[int, _Stream] = field(default_factory=dict)
    _next_id: int = 0
    _next_ping: int = 0
    _outgoing: bytearray = field(default_factory=bytearray)
    _last_remote_id: int = 0
    gone_away: bool = False

    def __post_init__(self) -> None:
        self._next_id = 1 if self.client else 2
        self._next_ping = 1 if self.client else 2

    # -- sending -----------------------------------------------------------------------------------

    def open_stream(self, headers: Headers, *, fin: bool = False, priority: int = 0) -> tuple[int, bytes]:
        """A new stream of ours; returns its id and the SYN_STREAM bytes."""
        if self._next_id > MAX_STREAM_ID:
            raise SpdyError("stream ids exhausted")
        stream_id = self._next_id
        self._next_id += 2
        self._streams[stream_id] = _Stream(headers, local=True, local_closed=fin)
        return stream_id, self._writer.encode(SynStream(stream_id, headers, priority=priority, fin=fin))

    def reply(self, stream_id: int, headers: Headers | None = None, *, fin: bool = False) -> bytes:
        """Accept a stream the peer opened (SYN_REPLY)."""
        stream = self._streams.get(stream_id)
        if stream is not None:
            stream.replied = True
            stream.local_closed = stream.local_closed or fin
        return self._writer.encode(SynReply(stream_id, headers or {}, fin=fin))

    def send(self, stream_id: int, data: bytes, *, fin: bool = False) -> bytes:
        """Data on a stream, cut into frames of at most DATA_CHUNK bytes; `fin` half-closes it."""
        stream = self._streams.get(stream_id)
        if stream is not None and stream.local_closed:
            raise SpdyError(f"stream {stream_id} is closed for writing")
        out = bytearray()
        view = memoryview(data)
        for start in range(0, len(view), DATA_CHUNK):
            chunk = bytes(view[start:start + DATA_CHUNK])
            last = start + DATA_CHUNK >= len(view)
            out += self._writer.encode(DataFrame(stream_id, chunk, fin=fin and last))
        if fin and not view:
            out += self._writer.encode(DataFrame(stream_id, b"", fin=True))
        if fin and stream is not None:
            stream.local_closed = True
            self._forget_if_done(stream_id)
        return bytes(out)

    def close(self, stream_id: int) -> bytes:
        """Half-close our side of a stream (an empty FIN data frame); nothing if already closed."""
        stream = self._streams.get(stream_id)
        if stream is not None and stream.local_closed:
            return b""
        return self.send(stream_id, b"", fin=True)

    def reset(self, stream_id: int, status: int = CANCEL) -> bytes:
        self._streams.pop(stream_id, None)
        return self._writer.encode(RstStream(stream_id, status))

    def ping(self) -> tuple[int, bytes]:
        ping_id = self._next_ping
        self._next_ping += 2
        return ping_id, self._writer.encode(Ping(ping_id))

    def go_away(self, status: int = GOAWAY_OK) -> bytes:
        return self._writer.encode(GoAway(self._last_remote_id, status))

    def data_to_send(self) -> bytes:
        """Automatic answers queued by `receive` (PING echoes); empty when there are none."""
        out = bytes(self._outgoing)
        self._outgoing.clear()
        return out

    # -- receiving ---------------------------------------------------------------------------------

    def receive(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        for frame in self._reader.feed(data):
            self._handle(frame, events)
        return events

    def _handle(self, frame: Frame, events: list[Event]) -> None:
        if isinstance(frame, DataFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is None or stream.remote_closed:
                return
            if frame.data:
                events.append(DataReceived(frame.stream_id, frame.data))
            if frame.fin:
                self._remote_fin(frame.stream_id, stream, events)
        elif isinstance(frame, SynStream):
            if frame.stream_id in self._streams or frame.stream_id % 2 == (1 if self.client else 0):
                self._outgoing += self._writer.encode(RstStream(frame.stream_id, PROTOCOL_ERROR))
                return
            self._last_remote_id = max(self._last_remote_id, frame.stream_id)
            stream = _Stream(frame.headers, local=False, remote_closed=frame.fin)
            self._streams[frame.stream_id] = stream
            events.append(StreamOpened(frame.stream_id, frame.headers, frame.fin))
            if frame.fin:
                events.append(StreamEnded(frame.stream_id))
        elif isinstance(frame, SynReply):
            stream = self._streams.get(frame.stream_id)
            if stream is None or stream.replied:
                return
            stream.replied = True
            events.append(StreamReplied(frame.stream_id, frame.headers))
            if frame.fin:
                self._remote_fin(frame.stream_id, stream, events)
        elif isinstance(frame, HeadersFrame):
            stream = self._streams.get(frame.stream_id)
            if stream is not None and frame.fin:
                self._remote_fin(frame.stream_id, stream, events)
        elif isinstance(frame, RstStream):
            if self._streams.pop(frame.stream_id, None) is not None:
                events.append(StreamReset(frame.stream_id, frame.status))
        elif isinstance(frame, Ping):
            if frame.id % 2 == (1 if self.client else 0):
                events.append(PingAcknowledged(frame.id))
            else:
                self._outgoing += self._writer.encode(frame)
        elif isinstance(frame, GoAway):
            self.gone_away = True
            events.append(GoAwayReceived(frame.last_good_stream_id, frame.status))
        # SETTINGS, WINDOW_UPDATE and unknown control frames are ignored.

    def _remote_fin(self, stream_id: int, stream: _Stream, events: list[Event]) -> None:
        if stream.remote_closed:
            return
        stream.remote_closed = True
        events.append(StreamEnded(stream_id))
        self._forget_if_done(stream_id)

    def _forget_if_done(self, stream_id: int) -> None:
        stream = self._streams.get(stream_id)
        if stream is not None and stream.local_closed and stream.remote_closed:
            del self._streams[stream_id]

    def headers(self, stream_id: int) -> Headers | None:
        """The headers a live stream was opened with (None once it is gone)."""
        stream = self._streams.get(stream_id)
        return stream.headers if stream is not None else None

    @property
    def open_streams(self) -> int:
        return len(self._streams)
