"""Upgraded connections through aiohttp: dial a backend with an upgrade request, take a client's
connection over, and copy bytes both ways (apimachinery's UpgradeAwareHandler, which the API server
uses towards kubelets and the kubelet towards the runtime's streaming server).

aiohttp's server only knows WebSocket upgrades, so `switch` takes the connection over: a raw reader
replaces the HTTP parser before the 101 goes out (SPDY clients wait for the 101 before sending
frames); from then on the handler owns the transport.

    up = await dial(host, port, method, target, netloc, headers)      # OSError/TimeoutError/UpgradeError
    if not up.head.upgraded:
        body = await up.body(); up.close()                            # pass the refusal on
    client = await switch(request, up.head.headers)
    await splice(client, up)
    return client.response
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable

from aiohttp import web

from kijabi.machinery.streams import upgrade

READ_SIZE = 64 * 1024
HIGH_WATER = 1 << 20
MAX_ERROR_BODY = 1 << 20
# Response headers not copied from the backend's 101 (aiohttp writes its own).
_NOT_COPIED = frozenset({"date", "server", "content-length", "transfer-encoding", "content-type"})


class Upstream:
    """A connection to a backend after its answer's head was read; `rest` holds bytes read past it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: upgrade.ResponseHead,
                 rest: bytes) -> None:
        self.reader, self.writer, self.head, self.rest = reader, writer, head, rest

    async def body(self) -> bytes:
        """The body of a non-upgrade answer (Content-Length, chunked, or up to EOF), capped."""
        length = self.head.content_length
        buf = self.rest
        while len(buf) < MAX_ERROR_BODY:
            if self.head.chunked:
                data, complete = upgrade.dechunk(buf)
                if complete:
                    return data
            elif length is not None and len(buf) >= length:
                break
            chunk = await self.reader.read(READ_SIZE)
            if not chunk:
                break
            buf += chunk
        if self.head.chunked:
            return upgrade.dechunk(buf)[0]
        return buf[:length] if length is not None else buf

    def close(self) -> None:
        self.writer.close()


async def dial(host: str, port: int, method: str, target: str, netloc: str, headers: Iterable[tuple[str, str]], *,
               tls: ssl.SSLContext | None = None, dial_timeout: float = 10.0, head_timeout: float = 30.0) -> Upstream:
    """Connect, send an upgrade request and read the answer's head. Raises OSError, TimeoutError,
    ssl.SSLError or upgrade.UpgradeError; the connection is closed on failure."""
    async with asyncio.timeout(dial_timeout):
        reader, writer = await asyncio.open_connection(host, port, ssl=tls,
                                                       server_hostname=host if tls is not None else None)
    try:
        writer.write(upgrade.request_head(method, target, netloc, list(headers)))
        await writer.drain()
        buf = b""
        async with asyncio.timeout(head_timeout):
            while True:
                chunk = await reader.read(READ_SIZE)
                if not chunk:
                    raise ConnectionResetError("the backend closed the connection before answering")
                buf += chunk
                parsed = upgrade.parse_response_head(buf)
                if parsed is not None:
                    return Upstream(reader, writer, parsed[0], parsed[1])
    except BaseException:
        writer.close()
        raise


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


async def switch(request: web.Request, headers: Iterable[tuple[str, str]]) -> Hijacked:
    """Take the connection over and answer `101 Switching Protocols` with the backend's `headers`."""
    sink = RawSink(request.transport)
    request.protocol.set_parser(sink)  # type: ignore[arg-type]
    request.protocol.keep_alive(False)
    conn = Hijacked(request, sink)
    for name, value in headers:
        if name.lower() not in _NOT_COPIED:
            conn.response.headers.add(name, value)
    await conn.response.prepare(request)
    return conn


async def _pipe(source: asyncio.StreamReader | Hijacked, sink: asyncio.StreamWriter | Hijacked) -> None:
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


async def splice(client: Hijacked, up: Upstream, *, grace: float = 10.0) -> None:
    """Copy both ways until the backend is done, then close both. When the client stops sending
    first, the backend gets `grace` seconds to finish its answer."""

    async def down() -> None:
        if up.rest:
            await client.write(up.rest)
        await _pipe(up.reader, client)

    tasks = [asyncio.create_task(_pipe(client, up.writer), name="relay client->backend"),
             asyncio.create_task(down(), name="relay backend->client")]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        if tasks[1] not in done:
            await asyncio.wait({tasks[1]}, timeout=grace)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        up.close()
        with contextlib.suppress(Exception):
            await up.writer.wait_closed()
        client.close()
