"""An upgrade-aware proxy from an aiohttp request to the runtime's streaming server.

The kubelet does not speak exec/attach/port-forward itself: CRI Exec/Attach/PortForward return a
one-use URL on containerd's streaming server, which serves both SPDY/3.1 and WebSocket. The kubelet
passes the client's upgrade request on (same method, headers and query; the URL's path), and once the
runtime answers 101 it copies bytes both ways until either side closes. Any other answer is returned
to the client as it is.

aiohttp's server only knows WebSocket upgrades, so `hijack` takes over the connection: it installs a
raw reader in place of the HTTP parser before the 101 goes out (SPDY clients wait for the 101 before
sending frames), then the handler owns the transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from urllib.parse import urlsplit

from aiohttp import web

from kijabi.machinery.streams import upgrade

log = logging.getLogger(__name__)

READ_SIZE = 64 * 1024
HIGH_WATER = 1 << 20
MAX_ERROR_BODY = 1 << 20
# Response headers not copied from the backend's 101 (aiohttp writes its own).
_NOT_COPIED = frozenset({"date", "server", "content-length", "transfer-encoding", "content-type"})


class RawSink:
    """Stands in for aiohttp's payload parser after an upgrade: raw bytes go to a queue, reading
    pauses while more than HIGH_WATER bytes wait."""

    def __init__(self, transport: asyncio.Transport | None) -> None:
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._queued = 0
        self._transport = transport
        self._paused = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if data:
            self._queue.put_nowait(bytes(data))
            self._queued += len(data)
            if self._queued > HIGH_WATER and self._transport is not None and not self._paused:
                self._paused = True
                self._transport.pause_reading()
        return False, b""

    def feed_eof(self) -> None:
        self._queue.put_nowait(None)

    async def read(self) -> bytes:
        """The next chunk; b"" at EOF."""
        data = await self._queue.get()
        if data is None:
            self._queue.put_nowait(None)
            return b""
        self._queued -= len(data)
        if self._paused and self._queued < HIGH_WATER // 2 and self._transport is not None:
            self._paused = False
            with contextlib.suppress(RuntimeError):
                self._transport.resume_reading()
        return data


class Hijacked:
    """The client side of an upgraded connection: read raw bytes, write raw bytes with backpressure.
    `response` is the prepared 101 the handler must return (aiohttp then writes nothing more)."""

    def __init__(self, request: web.Request, sink: RawSink) -> None:
        self.request = request
        self.sink = sink
        self.response = web.StreamResponse(status=101)

    async def read(self) -> bytes:
        return await self.sink.read()

    async def write(self, data: bytes) -> None:
        transport = self.request.transport
        if transport is None or transport.is_closing():
            raise ConnectionResetError("client connection closed")
        transport.write(data)
        await self.request.writer.drain()

    def close(self) -> None:
        transport = self.request.transport
        if transport is not None:
            transport.close()


def take_over(request: web.Request) -> Hijacked:
    """Route the connection's further bytes to a RawSink (call before answering 101)."""
    sink = RawSink(request.transport)
    request.protocol.set_parser(sink)  # type: ignore[arg-type]
    request.protocol.keep_alive(False)
    return Hijacked(request, sink)


async def switch(request: web.Request, headers: Iterable[tuple[str, str]]) -> Hijacked:
    """Hijack the connection and answer `101 Switching Protocols` with `headers`."""
    conn = take_over(request)
    for name, value in headers:
        if name.lower() not in _NOT_COPIED:
            conn.response.headers.add(name, value)
    await conn.response.prepare(request)
    return conn


async def pipe(source: asyncio.StreamReader | Hijacked, sink: asyncio.StreamWriter | Hijacked) -> None:
    """Copy until EOF; then half-close a TCP destination."""
    while True:
        data = await (source.read(READ_SIZE) if isinstance(source, asyncio.StreamReader) else source.read())
        if not data:
            break
        if isinstance(sink, asyncio.StreamWriter):
            sink.write(data)
            await sink.drain()
        else:
            await sink.write(data)
    if isinstance(sink, asyncio.StreamWriter) and sink.can_write_eof():
        with contextlib.suppress(OSError, RuntimeError):
            sink.write_eof()


async def splice(client: Hijacked, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *,
                 grace: float = 10.0) -> None:
    """Copy both ways until the backend is done, then close both. When the client stops sending
    first, the backend gets `grace` seconds to finish its answer."""
    up = asyncio.create_task(pipe(client, writer), name="relay client->backend")
    down = asyncio.create_task(pipe(reader, client), name="relay backend->client")
    try:
        done, _ = await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        if down not in done:
            await asyncio.wait({down}, timeout=grace)
    finally:
        for t in (up, down):
            t.cancel()
        for t in (up, down):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        client.close()


async def read_head(reader: asyncio.StreamReader) -> tuple[upgrade.ResponseHead, bytes]:
    buf = b""
    while True:
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            raise ConnectionResetError("the backend closed the connection before answering")
        buf += chunk
        parsed = upgrade.parse_response_head(buf)
        if parsed is not None:
            return parsed


async def read_body(reader: asyncio.StreamReader, head: upgrade.ResponseHead, rest: bytes) -> bytes:
    """A non-upgrade answer's body (Content-Length, or up to EOF), capped at MAX_ERROR_BODY."""
    length = head.content_length
    body = rest
    while (length is None or len(body) < length) and len(body) < MAX_ERROR_BODY:
        chunk = await reader.read(READ_SIZE)
        if not chunk:
            break
        body += chunk
    return body[:length] if length is not None else body


async def proxy_upgrade(request: web.Request, url: str) -> web.StreamResponse:
    """Pass an upgrade request on to `url` (an http:// streaming URL) and splice the connections."""
    target = urlsplit(url)
    host = target.hostname or "127.0.0.1"
    port = target.port or 80
    path = target.path or "/"
    if request.rel_url.raw_query_string:
        path += "?" + request.rel_url.raw_query_string
    headers = upgrade.forwarded_headers(request.headers.items(), drop=("authorization",))
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        return web.Response(status=502, text=f"error dialing the container runtime's streaming server: {exc}")
    try:
        writer.write(upgrade.request_head(request.method, path, f"{host}:{port}", headers))
        await writer.drain()
        head, rest = await read_head(reader)
        if not head.upgraded:
            body = await read_body(reader, head, rest)
            writer.close()
            return web.Response(status=head.status, body=body,
                                content_type=(head.get("Content-Type") or "text/plain").split(";")[0])
    except (OSError, upgrade.UpgradeError) as exc:
        writer.close()
        return web.Response(status=502, text=f"error talking to the container runtime's streaming server: {exc}")
    client = await switch(request, head.headers)
    if rest:
        await client.write(rest)
    await splice(client, reader, writer)
    return client.response
