"""Handler actions shared by probes and lifecycle hooks: exec (CRI ExecSync), httpGet, tcpSocket, grpc, sleep.

Each returns an `ActionResult` (success flag and the output or error text, trimmed to 10 KiB as upstream
keeps probe output); none raises for a failing target. Targets default to the pod's IP; HTTPS skips
certificate verification, as the kubelet's prober does.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio

from kijabi.kubelet.config import KUBELET_VERSION
from kijabi.kubelet.cri import CRIConnection, CRIError, DeadlineExceeded

MAX_OUTPUT = 10 * 1024
_MINOR = ".".join(KUBELET_VERSION.lstrip("v").split(".")[:2])
USER_AGENT = f"kube-probe/{_MINOR}"
LIFECYCLE_USER_AGENT = f"kube-lifecycle/{_MINOR}"
GRPC_STATUS = {0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}


@dataclass(frozen=True)
class ActionResult:
    success: bool
    output: str = ""
    warning: bool = False


def _trim(data: bytes | str) -> str:
    text = data.decode(errors="replace") if isinstance(data, bytes) else data
    return text[:MAX_OUTPUT]


async def run_exec(cri: CRIConnection, container_id: str, command: Sequence[str], timeout: int) -> ActionResult:
    try:
        result = await cri.runtime.exec_sync(container_id, list(command), timeout=max(timeout, 1))
    except DeadlineExceeded:
        return ActionResult(False, f"command {list(command)!r} timed out")
    except CRIError as exc:
        return ActionResult(False, exc.details)
    output = _trim(result.stdout + result.stderr)
    if result.exit_code != 0:
        return ActionResult(False, output or f"command {list(command)!r} exited with {result.exit_code}")
    return ActionResult(True, output)


async def run_http_get(host: str, port: int, path: str, *, scheme: str = "HTTP",
                       headers: Sequence[Mapping[str, Any]] = (), timeout: float = 1.0,
                       user_agent: str = USER_AGENT) -> ActionResult:
    if not path.startswith("/"):
        path = "/" + path
    ctx: ssl.SSLContext | None = None
    if scheme.upper() == "HTTPS":
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    url = f"{scheme.lower()}://{_hostport(host, port)}{path}"
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port, ssl=ctx)
            hdrs = {"Host": _hostport(host, port), "User-Agent": user_agent, "Accept": "*/*",
                    "Connection": "close"}
            for h in headers:
                name = str(h.get("name", ""))
                if name:
                    hdrs = {k: v for k, v in hdrs.items() if k.lower() != name.lower()}
                    hdrs[name] = str(h.get("value", ""))
            request = f"GET {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items()) + "\r\n"
            writer.write(request.encode("latin-1"))
            await writer.drain()
            status_line = await reader.readline()
            parts = status_line.decode("latin-1").split(" ", 2)
            if len(parts) < 2 or not parts[1].isdigit():
                return ActionResult(False, f"Get {url!r}: malformed HTTP response {status_line[:100]!r}")
            code = int(parts[1])
            body = b""
            with contextlib.suppress(Exception):
                while await reader.readline() not in (b"\r\n", b"\n", b""):
                    pass
                body = await reader.read(MAX_OUTPUT)
    except TimeoutError:
        return ActionResult(False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while '
                                   "awaiting headers)")
    except OSError as exc:
        return ActionResult(False, f'Get "{url}": dial tcp {_hostport(host, port)}: connect: '
                                   f"{exc.strerror or exc}")
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
    if 200 <= code < 400:
        return ActionResult(True, _trim(body))
    return ActionResult(False, f"HTTP probe failed with statuscode: {code}")


async def run_tcp(host: str, port: int, timeout: float = 1.0) -> ActionResult:
    try:
        async with asyncio.timeout(timeout):
            _, writer = await asyncio.open_connection(host, port)
    except TimeoutError:
        return ActionResult(False, f"dial tcp {_hostport(host, port)}: i/o timeout")
    except OSError as exc:
        return ActionResult(False, f"dial tcp {_hostport(host, port)}: connect: {exc.strerror or exc}")
    writer.close()
    with contextlib.suppress(Exception):
        await writer.wait_closed()
    return ActionResult(True)


def _health_request(service: str) -> bytes:
    raw = service.encode()
    if not raw:
        return b""
    out = bytearray(b"\x0a")
    n = len(raw)
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            break
    return bytes(out) + raw


def _health_status(data: bytes) -> int:
    i = 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag == 0x08:
            value, shift = 0, 0
            while i < len(data):
                b = data[i]
                i += 1
                value |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            return value
        break
    return 0


async def run_grpc(host: str, port: int, service: str, timeout: float = 1.0) -> ActionResult:
    target = _hostport(host, port)
    channel = grpc.aio.insecure_channel(target)
    try:
        check = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=lambda b: b,
                                    response_deserializer=lambda b: b)
        try:
            response = await check(_health_request(service), timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
                return ActionResult(False, f"timeout: health rpc did not complete within {timeout:g}s")
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                return ActionResult(False, f"timeout: failed to connect service {target!r} within {timeout:g}s: "
                                           f"{exc.details()}")
            return ActionResult(False, f"error: health rpc probe failed: {exc.details()}")
        status = _health_status(bytes(response))
        if status != 1:
            return ActionResult(False, f'service unhealthy (responded with "{GRPC_STATUS.get(status, status)}")')
        return ActionResult(True)
    finally:
        await channel.close()


def _hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
