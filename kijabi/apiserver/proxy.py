"""Subresources served by someone else: pods/log, exec, attach, portforward, proxy; nodes/proxy; services/proxy.

    pods/log          GET  -> kubelet /containerLogs/{ns}/{pod}/{container}, body streamed back as text/plain
    pods/exec|attach  WebSocket v5.channel.k8s.io  -> translated to SPDY/3.1 towards the kubelet (`_translate`)
                      other WebSocket or SPDY upgrades -> relayed byte for byte to the kubelet (`_relay`)
    pods/portforward  WebSocket `SPDY/3.1+portforward.k8s.io` -> SPDY upgrade to the kubelet, WebSocket
                      messages carry the SPDY byte stream (`_tunnel`); plain SPDY upgrades are relayed
    nodes/proxy       any method, to https://<kubelet>/<path> (or http(s)://<node>:<port>/<path>)
    pods/proxy        to http(s)://<pod IP>:<port>/<path>
    services/proxy    to the first ready endpoint of the service

This mirrors upstream's pkg/registry/core/pod (LogLocation, streamLocation, PortForwardLocation),
apiserver pkg/util/proxy (UpgradeAwareHandler, StreamTranslatorHandler, TunnelingHandler) and
client-go's remotecommand for the SPDY side: errors before a connection is switched are Status errors;
after the switch, exec/attach report on channel 3 (Success, or NonZeroExitCode with an ExitCode cause).

The kubelet is found from the Node: the first address of the preferred types in status.addresses and
status.daemonEndpoints.kubeletEndpoint.Port. The API server authenticates with a client certificate
(`kube-apiserver-kubelet-client`, issued by `ensure_kubelet_client_cert` from the cluster's client CA) and
verifies the kubelet's serving certificate against the server CA. Where the PKI lives: `configure()`,
else the running APIServer's `pki` (found through the application's middleware).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import aiohttp
import orjson
from aiohttp import web

from kijabi.apiserver import handlers
from kijabi.apiserver.certs import PKI, Pair, ensure_ca, ensure_leaf
from kijabi.apiserver.resources import Resource
from kijabi.client import hijack
from kijabi.machinery import errors
from kijabi.machinery.streams import channels, locations, portforward, remotecommand, spdy, upgrade

log = logging.getLogger(__name__)

KUBELET_CLIENT = "client-kube-apiserver-kubelet"
DIAL_TIMEOUT = 10.0
STREAM_CREATION_TIMEOUT = 30.0
READ_SIZE = 64 * 1024
MAX_ERROR_BODY = 1 << 20
PROXY_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

_tls_dir: Path | None = None
_clients: dict[Path, KubeletClient] = {}


def configure(tls_dir: Path) -> None:
    """Use the PKI in `tls_dir` (`<data-dir>/server/tls`) to reach kubelets."""
    global _tls_dir
    _tls_dir = tls_dir


def ensure_kubelet_client_cert(pki: PKI) -> Pair:
    """The client certificate the API server presents to kubelets (CN kube-apiserver-kubelet-client,
    O system:masters), signed by the cluster's client CA; issued once and kept."""
    pair = pki.pair(KUBELET_CLIENT)
    ensure_leaf(pair, ensure_ca(pki.client_ca, "kijabi-client-ca"), cn="kube-apiserver-kubelet-client",
                orgs=("system:masters",))
    return pair


@dataclass
class KubeletClient:
    """TLS settings for talking to kubelets: our client certificate, and trust in the server CA."""

    verified: ssl.SSLContext
    insecure: ssl.SSLContext

    @classmethod
    def from_pki(cls, pki: PKI) -> KubeletClient:
        pair = ensure_kubelet_client_cert(pki)

        def make(verify: bool) -> ssl.SSLContext:
            ctx = ssl.create_default_context(cafile=str(pki.server_ca.cert))
            if not verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            ctx.load_cert_chain(str(pair.cert), str(pair.key))
            ctx.set_alpn_protocols(["http/1.1"])
            return ctx

        return cls(make(True), make(False))


def _kubelet_client(request: web.Request) -> KubeletClient:
    tls_dir = _tls_dir
    if tls_dir is None:
        raise errors.service_unavailable("no kubelet client credentials are configured")
    client = _clients.get(tls_dir)
    if client is None:
        client = _clients[tls_dir] = KubeletClient.from_pki(PKI(tls_dir))
    return client


# -- locations ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Location:
    scheme: str
    host: str
    port: int
    path: str
    query: str = ""
    kubelet: bool = True  # use the kubelet client TLS settings

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def target(self) -> str:
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.target}"


async def node_address(ctx: handlers.Context, node_name: str) -> tuple[str, int]:
    """The kubelet's address and port, from the Node object."""
    nodes = ctx.store.registry.get("", "v1", "nodes")
    assert nodes is not None
    return locations.kubelet_endpoint(await ctx.store.get(nodes, "", node_name))


def _go_bool(q: Any, name: str) -> bool:
    return locations.go_bool(q.get(name))


def _kubelet_location(host: str, port: int, path: str, query: list[tuple[str, str]] | str = "") -> Location:
    return Location("https", host, port, path, query if isinstance(query, str) else urlencode(query))


# -- entry point -------------------------------------------------------------------------------------


async def handle(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                 sub: str, rest: str) -> web.StreamResponse:
    if res.plural == "nodes" and res.group == "" and sub == "proxy":
        return await _node_proxy(ctx, request, name, rest)
    if res.plural == "services" and res.group == "" and sub == "proxy":
        return await _service_proxy(ctx, request, res, namespace, name, rest)
    if res.plural != "pods" or res.group != "":
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    if sub == "proxy":
        return await _pod_proxy(ctx, request, res, namespace, name, rest)
    if rest:
        raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
    if sub == "log":
        if request.method != "GET":
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        return await _logs(ctx, request, res, namespace, name)
    if request.method not in ("GET", "POST"):
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    if sub in ("exec", "attach"):
        return await _remote_command(ctx, request, res, namespace, name, sub)
    if sub == "portforward":
        return await _port_forward(ctx, request, res, namespace, name)
    raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")


# -- pods/log ----------------------------------------------------------------------------------------


async def _logs(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str,
                name: str) -> web.StreamResponse:
    params = locations.log_params(request.query.get, name)
    pod = await ctx.store.get(res, namespace, name)
    container = locations.validate_container(pod, request.query.get("container", ""))
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        return web.Response(status=200, body=b"", content_type="text/plain")  # upstream: an empty stream
    host, port = await node_address(ctx, node)
    loc = _kubelet_location(host, port, f"/containerLogs/{quote(namespace)}/{quote(name)}/{quote(container)}", params)
    client = _kubelet_client(request)
    tls = client.insecure if _go_bool(request.query, "insecureSkipTLSVerifyBackend") else client.verified
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=DIAL_TIMEOUT)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, force_close=True),
                                         timeout=timeout, auto_decompress=False) as session, \
                session.get(loc.url) as backend:
            if not 200 <= backend.status <= 206:
                raise locations.backend_error(backend.status, await backend.content.read(MAX_ERROR_BODY), "pods/log", name)
            out = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
            await out.prepare(request)
            try:
                async for chunk in backend.content.iter_any():
                    await out.write(chunk)
            except (ConnectionResetError, aiohttp.ClientError):  # either side went away mid-stream
                return out
            await out.write_eof()
            return out
    except aiohttp.ClientError as exc:
        raise errors.internal(f"error dialing backend: {exc}") from exc


# -- upgraded connections: dialing and hijacking -----------------------------------------------------


async def _dial(request: web.Request, loc: Location, method: str, headers: list[tuple[str, str]],
                *, insecure: bool = False) -> hijack.Upstream:
    """Open a connection to `loc` and send an upgrade request; the response head is read."""
    tls: ssl.SSLContext | None = None
    if loc.scheme == "https":
        client = _kubelet_client(request) if loc.kubelet else None
        if client is not None:
            tls = client.insecure if insecure else client.verified
        else:
            tls = ssl.create_default_context()
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
    try:
        return await hijack.dial(loc.host, loc.port, method, loc.target, loc.netloc, headers, tls=tls,
                                 dial_timeout=DIAL_TIMEOUT, head_timeout=STREAM_CREATION_TIMEOUT)
    except (OSError, TimeoutError, ssl.SSLError, upgrade.UpgradeError) as exc:
        raise errors.internal(f"error dialing backend: {exc}") from exc


def _passthrough(up: hijack.Upstream, body: bytes) -> web.Response:
    ctype = up.head.get("Content-Type") or "text/plain"
    return web.Response(status=up.head.status, body=body, headers={"Content-Type": ctype})


async def _relay(request: web.Request, loc: Location, *, insecure: bool = False) -> web.StreamResponse:
    """UpgradeAwareHandler: pass the client's upgrade request on and splice the two connections."""
    headers = upgrade.forwarded_headers(request.headers.items(), drop=("authorization", "impersonate-user",
                                                                       "impersonate-group"))
    up = await _dial(request, loc, request.method, headers, insecure=insecure)
    if not up.head.upgraded:
        body = await up.body()
        up.close()
        return _passthrough(up, body)
    client = await hijack.switch(request, up.head.headers)
    await hijack.splice(client, up)
    return client.response


def _is_upgrade(request: web.Request) -> bool:
    return upgrade.is_upgrade(request.headers.get("Connection", ""), request.headers.get("Upgrade", ""))


def _is_websocket(request: web.Request) -> bool:
    return upgrade.is_websocket(request.headers.get("Connection", ""), request.headers.get("Upgrade", ""))


def _ws_protocols(request: web.Request) -> list[str]:
    return channels.parse_protocol_header(request.headers.getall("Sec-WebSocket-Protocol", []))


# -- exec / attach -----------------------------------------------------------------------------------


async def _remote_command(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                          sub: str) -> web.StreamResponse:
    q = request.query
    opts = remotecommand.Options(stdin=_go_bool(q, "stdin"), stdout=_go_bool(q, "stdout"),
                                 stderr=_go_bool(q, "stderr"), tty=_go_bool(q, "tty"))
    command = q.getall("command", []) if sub == "exec" else []
    pod = await ctx.store.get(res, namespace, name)
    container = locations.validate_container(pod, q.get("container", ""))
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    host, port = await node_address(ctx, node)
    params = [("command", c) for c in command] + opts.query()
    loc = _kubelet_location(host, port, f"/{sub}/{quote(namespace)}/{quote(name)}/{quote(container)}", params)
    if not _is_upgrade(request):
        raise errors.bad_request("Upgrade request required")
    if _is_websocket(request) and channels.V5 in _ws_protocols(request):
        return await _translate(request, loc, opts)
    return await _relay(request, loc)


async def _translate(request: web.Request, loc: Location, opts: remotecommand.Options) -> web.StreamResponse:
    """StreamTranslatorHandler: WebSocket v5 from the client, SPDY to the kubelet, status on channel 3."""
    ws = web.WebSocketResponse(protocols=(channels.V5,), autoping=True, max_msg_size=0)
    await ws.prepare(request)
    proto = channels.PROTOCOLS[channels.V5]
    first = channels.STDOUT if opts.stdout else channels.STDERR if opts.stderr else channels.ERROR
    await ws.send_bytes(bytes([first]))
    try:
        outcome = await _spdy_session(request, ws, proto, loc, opts)
    except errors.StatusError as exc:
        outcome = remotecommand.Outcome(None, exc.message, exc.status())
    with contextlib.suppress(ConnectionError, RuntimeError):
        status = outcome.as_status()
        await ws.send_bytes(bytes([channels.ERROR]) + orjson.dumps(status))
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.close()
    return ws


async def _spdy_session(request: web.Request, ws: web.WebSocketResponse, proto: channels.ChannelProtocol,
                        loc: Location, opts: remotecommand.Options) -> remotecommand.Outcome:
    headers = [(remotecommand.HEADER_PROTOCOL_VERSION, v) for v in remotecommand.SPDY_PROTOCOLS if v != remotecommand.V5]
    headers += [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"), ("Content-Length", "0"),
                ("User-Agent", request.headers.get("User-Agent", "kijabi-apiserver"))]
    up = await _dial(request, loc, "POST", headers)
    try:
        if not up.head.upgraded:
            body = await up.body()
            try:
                status = orjson.loads(body)
            except orjson.JSONDecodeError:
                status = None
            if isinstance(status, dict) and status.get("kind") == "Status":
                return remotecommand.Outcome(None, str(status.get("message", "")), status)
            text = body.decode("utf-8", "replace").strip()
            return remotecommand.Outcome(None, f"unable to upgrade connection: {text}")
        negotiated = up.head.get(remotecommand.HEADER_PROTOCOL_VERSION) or remotecommand.V1
        return await _pump(ws, proto, up, negotiated, opts)
    finally:
        up.close()


async def _pump(ws: web.WebSocketResponse, proto: channels.ChannelProtocol, up: hijack.Upstream, negotiated: str,
                opts: remotecommand.Options) -> remotecommand.Outcome:
    session = spdy.Session(client=True)
    ids: dict[str, int] = {}
    for kind in opts.spdy_streams(negotiated):
        stream_id, frame = session.open_stream({remotecommand.HEADER_STREAM_TYPE: [kind]})
        ids[kind] = stream_id
        up.writer.write(frame)
    await up.writer.drain()
    by_id = {v: k for k, v in ids.items()}
    replied: set[int] = set()
    all_replied = asyncio.Event()
    error_data = bytearray()
    outputs = {remotecommand.STREAM_STDOUT: channels.STDOUT, remotecommand.STREAM_STDERR: channels.STDERR}

    async def from_backend() -> None:
        data = up.rest
        while True:
            if data:
                for event in session.receive(data):
                    if isinstance(event, spdy.StreamReplied):
                        replied.add(event.stream_id)
                        if len(replied) == len(ids):
                            all_replied.set()
                    elif isinstance(event, spdy.DataReceived):
                        kind = by_id.get(event.stream_id)
                        if kind == remotecommand.STREAM_ERROR:
                            error_data.extend(event.data)
                        elif kind in outputs:
                            await ws.send_bytes(channels.encode(proto, outputs[kind], event.data))  # type: ignore[arg-type]
                    elif isinstance(event, spdy.StreamOpened):
                        up.writer.write(session.reset(event.stream_id, spdy.REFUSED_STREAM))
                auto = session.data_to_send()
                if auto:
                    up.writer.write(auto)
            data = await up.reader.read(READ_SIZE)
            if not data:
                return

    async def from_client() -> None:
        await all_replied.wait()
        async for msg in ws:
            if msg.type not in (aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.TEXT):
                break
            decoded = channels.decode(proto, msg.data)
            if decoded is None:
                continue
            channel, payload = decoded
            if channel == channels.STDIN and remotecommand.STREAM_STDIN in ids:
                up.writer.write(session.send(ids[remotecommand.STREAM_STDIN], payload))
            elif channel == channels.RESIZE and remotecommand.STREAM_RESIZE in ids:
                up.writer.write(session.send(ids[remotecommand.STREAM_RESIZE], payload))
            elif channel == channels.CLOSE and proto.supports_close:
                if channels.closed_channel(payload) == channels.STDIN and remotecommand.STREAM_STDIN in ids:
                    up.writer.write(session.close(ids[remotecommand.STREAM_STDIN]))
            await up.writer.drain()

    backend = asyncio.create_task(from_backend(), name="exec spdy->ws")
    client = asyncio.create_task(from_client(), name="exec ws->spdy")
    try:
        done, _ = await asyncio.wait({backend, client}, return_when=asyncio.FIRST_COMPLETED)
        if backend not in done:
            # The client went away: stop the command's streams.
            return remotecommand.Outcome(None, "the client closed the connection")
        backend.result()
    except (ConnectionError, spdy.SpdyError, channels.ChannelError) as exc:
        return remotecommand.Outcome(None, str(exc))
    finally:
        for t in (backend, client):
            t.cancel()
        for t in (backend, client):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    if not all_replied.is_set() and not error_data:
        return remotecommand.Outcome(None, "timed out waiting for the backend to accept the streams")
    return remotecommand.decode_error_stream(negotiated, bytes(error_data))


# -- port-forward ------------------------------------------------------------------------------------


async def _port_forward(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str,
                        name: str) -> web.StreamResponse:
    pod = await ctx.store.get(res, namespace, name)
    node = (pod.get("spec") or {}).get("nodeName")
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    ports: list[int] = []
    for value in request.query.getall("ports", []):
        try:
            ports += portforward.parse_ports(value)
        except portforward.PairingError as exc:
            raise errors.bad_request(str(exc)) from None
    host, port = await node_address(ctx, node)
    query = [("port", ",".join(str(p) for p in ports))] if ports else []
    loc = _kubelet_location(host, port, f"/portForward/{quote(namespace)}/{quote(name)}", query)
    if not _is_upgrade(request):
        raise errors.bad_request("Upgrade request required")
    if _is_websocket(request):
        tunnelled = portforward.tunnel_protocols(_ws_protocols(request))
        if tunnelled:
            return await _tunnel(request, loc, tunnelled)
    return await _relay(request, loc)


async def _tunnel(request: web.Request, loc: Location, spdy_protocols: list[str]) -> web.StreamResponse:
    """TunnelingHandler: SPDY upgrade to the kubelet, its bytes carried in the client's WebSocket."""
    headers = [h for h in upgrade.forwarded_headers(request.headers.items(), upgrade="SPDY/3.1", drop=(
        "authorization", "sec-websocket-key", "sec-websocket-version", "sec-websocket-protocol",
        "sec-websocket-extensions", remotecommand.HEADER_PROTOCOL_VERSION))]
    headers += [(remotecommand.HEADER_PROTOCOL_VERSION, p) for p in spdy_protocols]
    up = await _dial(request, loc, "POST", headers)
    if not up.head.upgraded:
        body = await up.body()
        up.close()
        return _passthrough(up, body)
    chosen = up.head.get(remotecommand.HEADER_PROTOCOL_VERSION).strip()
    ws = web.WebSocketResponse(protocols=(portforward.tunnelled(chosen),) if chosen else (), autoping=True,
                               max_msg_size=0)
    await ws.prepare(request)

    async def from_backend() -> None:
        if up.rest:
            await ws.send_bytes(up.rest)
        while data := await up.reader.read(READ_SIZE):
            await ws.send_bytes(data)

    async def from_client() -> None:
        async for msg in ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                up.writer.write(msg.data)
                await up.writer.drain()
            elif msg.type != aiohttp.WSMsgType.TEXT:
                break

    tasks = [asyncio.create_task(from_backend(), name="portforward spdy->ws"),
             asyncio.create_task(from_client(), name="portforward ws->spdy")]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        up.close()
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.close()
    return ws


# -- proxies -----------------------------------------------------------------------------------------


def _proxy_path(request: web.Request, rest: str) -> str:
    path = "/" + "/".join(quote(p) for p in rest.split("/")) if rest else "/"
    if request.path.endswith("/") and not path.endswith("/"):
        path += "/"
    return path


async def _http_proxy(request: web.Request, loc: Location) -> web.StreamResponse:
    """Proxy one plain HTTP request (or an upgrade) to `loc`, streaming the answer back."""
    if request.method not in PROXY_METHODS:
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    if _is_upgrade(request):
        return await _relay(request, loc)
    if loc.scheme == "https":
        tls: ssl.SSLContext | bool = _kubelet_client(request).verified if loc.kubelet else False
    else:
        tls = False
    headers = {k: v for k, v in request.headers.items()
               if k.lower() not in upgrade.HOP_BY_HOP and k.lower() not in ("authorization", "accept-encoding")}
    body = await request.read() if request.can_read_body else None
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=DIAL_TIMEOUT)
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=tls, force_close=True), timeout=timeout,
                                         auto_decompress=False) as session, \
                session.request(request.method, loc.url, headers=headers, data=body, allow_redirects=False) as backend:
            out = web.StreamResponse(status=backend.status, reason=backend.reason)
            for k, v in backend.headers.items():
                if k.lower() not in upgrade.HOP_BY_HOP:
                    out.headers.add(k, v)
            await out.prepare(request)
            try:
                async for chunk in backend.content.iter_any():
                    await out.write(chunk)
            except (ConnectionResetError, aiohttp.ClientError):  # either side went away mid-stream
                return out
            await out.write_eof()
            return out
    except aiohttp.ClientError as exc:
        raise errors.StatusError(503, "ServiceUnavailable", f"error trying to reach service: {exc}") from exc


async def _node_proxy(ctx: handlers.Context, request: web.Request, name: str, rest: str) -> web.StreamResponse:
    scheme, node, port_text = locations.split_scheme_name_port(name)
    host, kubelet_port = await node_address(ctx, node)
    port = kubelet_port
    if port_text:
        try:
            port = int(port_text)
        except ValueError:
            raise errors.bad_request(f"invalid port {port_text!r}") from None
    kubelet = port == kubelet_port and scheme in ("", "https")
    loc = Location(scheme or "https", host, port, _proxy_path(request, rest), request.rel_url.raw_query_string, kubelet=kubelet)
    return await _http_proxy(request, loc)


async def _pod_proxy(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                     rest: str) -> web.StreamResponse:
    scheme, pod_name, port = locations.split_scheme_name_port(name)
    pod = await ctx.store.get(res, namespace, pod_name)
    port = port or locations.first_container_port(pod)
    ip = locations.pod_ip(pod)
    if not locations.global_unicast(ip):
        raise errors.bad_request("address not allowed")
    loc = Location(scheme or "http", ip, int(port or 80), _proxy_path(request, rest), request.rel_url.raw_query_string,
                   kubelet=False)
    return await _http_proxy(request, loc)


async def _service_proxy(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                         rest: str) -> web.StreamResponse:
    scheme, svc_name, port_name = locations.split_scheme_name_port(name)
    service = await ctx.store.get(res, namespace, svc_name)
    ports = (service.get("spec") or {}).get("ports") or []
    wanted = None
    for p in ports:
        if not port_name or p.get("name") == port_name or str(p.get("port")) == port_name:
            wanted = p
            break
    if wanted is None:
        raise errors.StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
    endpoints_res = ctx.store.registry.get("", "v1", "endpoints")
    assert endpoints_res is not None
    try:
        endpoints = await ctx.store.get(endpoints_res, namespace, svc_name)
    except errors.StatusError:
        raise errors.StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"') from None
    for subset in endpoints.get("subsets") or []:
        target = next((p for p in subset.get("ports") or []
                       if p.get("name", "") == wanted.get("name", "") or len(subset.get("ports") or []) == 1), None)
        for address in subset.get("addresses") or []:
            if target is not None and locations.global_unicast(address.get("ip", "")):
                loc = Location(scheme or "http", address["ip"], int(target["port"]), _proxy_path(request, rest),
                               request.rel_url.raw_query_string, kubelet=False)
                return await _http_proxy(request, loc)
    raise errors.StatusError(503, "ServiceUnavailable", f'no endpoints available for service "{name}"')
