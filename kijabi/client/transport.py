"""The HTTP exchange under the REST client, behind a small protocol so tests can swap it.

`Transport.send(request)` returns a `Response` whose body is not read yet: the client reads it whole
(`read()`) or as a stream of lines (`lines()`, for watches) and always `close()`s it. A transport adds
nothing but authentication and the wire: retries, rate limits and error mapping are the client's.

`AiohttpTransport` is the real one (one aiohttp session, keep-alive, TLS from the Config, gzip-encoded
answers decoded). Errors of aiohttp, ssl and the OS become `TransportError` here, never above.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlencode

import aiohttp
import yarl

from kijabi.client.config import Config
from kijabi.client.errors import TransportError

Query = list[tuple[str, str]]


@dataclass
class Request:
    """One HTTP request. `path` is already percent-encoded; `query` pairs are encoded by `target()`."""

    method: str
    path: str
    query: Query = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: float | None = None  # whole exchange; None: no limit (streams)
    stream: bool = False

    def target(self) -> str:
        return f"{self.path}?{urlencode(self.query)}" if self.query else self.path

    def param(self, name: str) -> str | None:
        for k, v in self.query:
            if k == name:
                return v
        return None


class Response(Protocol):
    status: int
    headers: Mapping[str, str]

    async def read(self) -> bytes: ...

    def chunks(self) -> AsyncIterator[bytes]: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    async def send(self, request: Request) -> Response: ...

    async def close(self) -> None: ...


async def lines(response: Response) -> AsyncGenerator[bytes, None]:
    """The non-empty newline-delimited lines of a streamed body (the last one may lack its newline)."""
    buf = b""
    async for chunk in response.chunks():
        buf += chunk
        if b"\n" not in chunk:
            continue
        *complete, buf = buf.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if buf.strip():
        yield buf


class _AiohttpResponse:
    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.status = resp.status
        self.headers: Mapping[str, str] = resp.headers

    async def read(self) -> bytes:
        try:
            return await self._resp.read()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"reading the response failed: {_describe(exc)}") from exc

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._resp.content.iter_any():
                yield chunk
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"the stream broke: {_describe(exc)}") from exc

    async def close(self) -> None:
        # release() hands a fully read connection back to the pool (keep-alive) and closes one whose
        # body was not read to the end (an abandoned watch), which can never be reused.
        self._resp.release()


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class AiohttpTransport:
    """HTTP over aiohttp sessions (created on first use, inside the running loop).

    Requests share a pool of at most `limit` keep-alive connections; watches get a separate unbounded
    pool, since each open watch holds a connection for minutes and must not starve ordinary requests."""

    def __init__(self, config: Config, *, limit: int = 32) -> None:
        self.config = config
        self.base = config.server.rstrip("/")
        self._limit = limit
        self._ssl: ssl.SSLContext | None = config.ssl_context()
        self._sessions: dict[bool, aiohttp.ClientSession] = {}

    def _get_session(self, stream: bool) -> aiohttp.ClientSession:
        session = self._sessions.get(stream)
        if session is None or session.closed:
            connector = aiohttp.TCPConnector(limit=0 if stream else self._limit,
                                             ssl=self._ssl if self._ssl is not None else False)
            session = self._sessions[stream] = aiohttp.ClientSession(connector=connector, auto_decompress=True)
        return session

    def _auth_headers(self) -> dict[str, str]:
        cfg = self.config
        token = cfg.bearer_token()
        if token:
            return {"Authorization": f"Bearer {token}"}
        if cfg.username:
            raw = f"{cfg.username}:{cfg.password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(raw).decode()}
        return {}

    async def send(self, request: Request) -> Response:
        session = self._get_session(request.stream)
        headers = {"User-Agent": self.config.user_agent, "Accept-Encoding": "gzip", **self._auth_headers(),
                   **request.headers}
        url = yarl.URL(self.base + request.target(), encoded=True)
        if request.stream:
            timeout = aiohttp.ClientTimeout(total=None, connect=self.config.timeout, sock_read=None)
        else:
            timeout = aiohttp.ClientTimeout(total=request.timeout)
        try:
            resp = await session.request(request.method, url, data=request.body, headers=headers, timeout=timeout,
                                         server_hostname=self.config.tls_server_name)
        except aiohttp.ClientConnectorError as exc:
            raise TransportError(f"cannot connect to {self.base}: {_describe(exc)}", sent=False) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{request.method} {request.path} failed: {_describe(exc)}") from exc
        return _AiohttpResponse(resp)

    async def close(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await session.close()
