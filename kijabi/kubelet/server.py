"""The kubelet API on :10250: logs, exec, attach, port-forward, stats, metrics, pods, health.

    GET  /healthz                                           "ok" (no authentication)
    GET  /containerLogs/{ns}/{pod}/{container}?follow&tailLines&sinceSeconds&sinceTime&timestamps
                                                            &previous&limitBytes
    *    /exec/{ns}/{pod}[/{uid}]/{container}?command=..&stdin&stdout&stderr&tty      (upgrade)
    *    /attach/{ns}/{pod}[/{uid}]/{container}?stdin&stdout&stderr&tty               (upgrade)
    *    /portForward/{ns}/{pod}[/{uid}]?ports=                                        (upgrade)
    GET  /stats/summary        Summary API (stats/v1alpha1) from cgroups
    GET  /metrics              the kubelet's own counters (Prometheus text)
    GET  /metrics/resource     node/pod/container CPU and memory (what metrics-server scrapes)
    GET  /pods                 the pods this node runs (v1 PodList)

Exec, attach and port-forward ask the runtime (CRI) for a streaming URL and relay the client's upgraded
connection to it (`streaming.relay`): SPDY/3.1 or WebSocket, whatever the client and the runtime agree.
Errors before the upgrade are plain text with upstream's status codes and messages.

The server finds pods through a `PodLookup` (`streaming.lookup`); `CRIPodLookup` answers from CRI
labels. Authentication: see `streaming.auth`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import resource
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kijabi.kubelet.cri import CRIError, NotFound, RuntimeClient
from kijabi.kubelet.streaming import auth, logs, relay
from kijabi.kubelet.streaming.lookup import LookupFailed, PodInventory, PodLister, PodLookup
from kijabi.kubelet.streaming.stats import PRIME_WAIT, StatsProvider, prometheus_text
from kijabi.machinery.streams import portforward, remotecommand, upgrade

log = logging.getLogger(__name__)

DEFAULT_PORT = 10250
UNAUTHENTICATED = ("/healthz",)
USER_KEY = web.RequestKey("user", auth.User)


@dataclass
class ServerConfig:
    node_name: str
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    bind_address: str = "0.0.0.0"
    port: int = DEFAULT_PORT  # 0: pick a free port (tests)


@dataclass(frozen=True)
class TLSFiles:
    cert: Path
    key: Path
    client_ca: Path


def server_node_tls(data_dir: Path, node_name: str, *, ips: tuple[str, ...] = ("127.0.0.1",),
                    dns: tuple[str, ...] = ()) -> TLSFiles:
    """TLS material for a kubelet on a server node: a serving certificate signed by the cluster's server
    CA (`<data-dir>/server/tls`), kept as `<data-dir>/agent/serving-kubelet.{crt,key}`, and the client CA
    that API server client certificates are checked against."""
    tls = data_dir / "server" / "tls"
    agent = data_dir / "agent"
    files = TLSFiles(agent / "serving-kubelet.crt", agent / "serving-kubelet.key", tls / "client-ca.crt")
    auth.ensure_serving_cert(tls / "server-ca.crt", tls / "server-ca.key", files.cert, files.key,
                             node_name=node_name, ips=ips, dns=dns)
    return files


def _bad(code: int, message: str) -> web.Response:
    return web.Response(status=code, text=message)


def _flag(request: web.Request, name: str) -> bool:
    return remotecommand.truthy(request.query.get(name))


def _int_param(request: web.Request, name: str) -> int | None:
    value = request.query.get(name)
    if value in (None, ""):
        return None
    try:
        return int(value)
    except ValueError:
        raise LookupFailed(400, f"invalid value for {name}: {value!r}") from None


class KubeletServer:
    """The HTTPS server. `start()` binds and serves; `stop()` closes it (open streams are cut)."""

    def __init__(self, config: ServerConfig, *, runtime: RuntimeClient, lookup: PodLookup,
                 token_reviewer: auth.TokenReviewer | None = None, stats: StatsProvider | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.runtime = runtime
        self.lookup = lookup
        self.tokens = auth.TokenCache(token_reviewer) if token_reviewer is not None else None
        self.stats = stats or StatsProvider(config.node_name)
        self.clock = clock
        self.port = config.port
        self._runner: web.AppRunner | None = None
        self._requests: dict[tuple[str, str, str], int] = {}
        self._inflight = 0
        self._started = time.time()

    # -- lifecycle -----------------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        c = self.config
        return auth.server_ssl_context(c.cert_file, c.key_file, c.client_ca_file)

    async def start(self) -> None:
        app = web.Application(middlewares=[self._middleware], client_max_size=1 << 20)
        r = app.router
        r.add_get("/healthz", self._healthz)
        r.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        for verb, handler in (("exec", self._exec), ("attach", self._attach)):
            r.add_route("*", f"/{verb}/{{namespace}}/{{pod}}/{{container}}", handler)
            r.add_route("*", f"/{verb}/{{namespace}}/{{pod}}/{{uid}}/{{container}}", handler)
        r.add_route("*", "/portForward/{namespace}/{pod}", self._port_forward)
        r.add_route("*", "/portForward/{namespace}/{pod}/{uid}", self._port_forward)
        r.add_get("/stats/summary", self._summary)
        r.add_get("/metrics", self._metrics)
        r.add_get("/metrics/resource", self._resource_metrics)
        r.add_get("/pods", self._pods)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.bind_address, self.config.port, ssl_context=self.ssl_context(),
                           reuse_address=True)
        await site.start()
        if self.config.port == 0:
            server: Any = site._server
            self.port = server.sockets[0].getsockname()[1]
        log.info("kubelet API listening on %s:%d", self.config.bind_address, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> KubeletServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- request path --------------------------------------------------------------------------------

    async def authenticate(self, request: web.Request) -> auth.User | None:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            if self.tokens is None:
                return None
            try:
                return await self.tokens(header[7:].strip())
            except Exception:
                log.warning("token review failed", exc_info=True)
                return None
        transport = request.transport
        return auth.user_from_peercert(transport.get_extra_info("peercert") if transport else None)

    @web.middleware
    async def _middleware(self, request: web.Request,
                          handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        path = request.path
        resource_name = path.split("/")[1] if path.count("/") >= 1 else path
        self._inflight += 1
        code = 500
        try:
            if path not in UNAUTHENTICATED:
                user = await self.authenticate(request)
                if user is None:
                    code = 401
                    return _bad(401, "Unauthorized")
                request[USER_KEY] = user
            resp = await handler(request)
            code = resp.status
            return resp
        except LookupFailed as exc:
            code = exc.code
            return _bad(exc.code, exc.message)
        except NotFound as exc:
            code = 404
            return _bad(404, exc.details)
        except CRIError as exc:
            code = 500
            return _bad(500, exc.details)
        except web.HTTPException as exc:
            code = exc.status
            raise
        finally:
            self._inflight -= 1
            key = (request.method, resource_name, str(code))
            self._requests[key] = self._requests.get(key, 0) + 1

    async def _healthz(self, request: web.Request) -> web.StreamResponse:
        return web.Response(text="ok")

    # -- logs ----------------------------------------------------------------------------------------

    def _log_options(self, request: web.Request) -> logs.LogOptions:
        tail = _int_param(request, "tailLines")
        limit = _int_param(request, "limitBytes")
        since_seconds = _int_param(request, "sinceSeconds")
        since_time = request.query.get("sinceTime") or None
        problems = []
        if tail is not None and tail < 0:
            problems.append(f"tailLines: Invalid value: {tail}: must be greater than or equal to 0")
        if limit is not None and limit < 1:
            problems.append(f"limitBytes: Invalid value: {limit}: must be greater than 0")
        if since_seconds is not None and since_time is not None:
            problems.append("at most one of `sinceTime` or `sinceSeconds` may be specified")
        elif since_seconds is not None and since_seconds < 1:
            problems.append(f"sinceSeconds: Invalid value: {since_seconds}: must be greater than 0")
        if problems:
            raise LookupFailed(422, "; ".join(problems))
        since: int | None = None
        if since_seconds is not None:
            since = int((self.clock() - since_seconds) * 1e9)
        elif since_time is not None:
            try:
                since = logs.parse_time(since_time.encode())
            except logs.LogFormatError:
                raise LookupFailed(400, f"invalid value for sinceTime: {since_time!r}") from None
        stream = request.query.get("stream", "")
        if stream in ("All", "all"):
            stream = ""
        elif stream in ("Stdout", "Stderr"):
            stream = stream.lower()
        return logs.LogOptions(follow=_flag(request, "follow"), tail_lines=tail, since=since,
                               timestamps=_flag(request, "timestamps"), limit_bytes=limit, stream=stream)

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        opts = self._log_options(request)
        previous = _flag(request, "previous")
        if await self.lookup.sandbox(ns, pod) is None:
            return _bad(404, f'pod "{pod}" does not exist')
        ref = await self.lookup.container(ns, pod, name, previous=previous)
        if ref is None:
            if previous:
                return _bad(400, f'previous terminated container "{name}" in pod "{pod}" not found')
            return _bad(404, f'container "{name}" not found in pod "{pod}"')
        resp = web.StreamResponse(status=200, headers={"Content-Type": "text/plain"})
        if not ref.log_path or not os.path.exists(ref.log_path):
            await resp.prepare(request)
            return resp
        lookup = self.lookup

        async def running() -> bool:
            return await lookup.running(ref.id)

        await resp.prepare(request)
        async with contextlib.aclosing(logs.read_logs(ref.log_path, opts, running=running)) as chunks:
            try:
                async for chunk in chunks:
                    await resp.write(chunk)
            except ConnectionResetError:  # the client went away (while following)
                return resp
        await resp.write_eof()
        return resp

    # -- exec, attach, port-forward ------------------------------------------------------------------

    @staticmethod
    def _require_upgrade(request: web.Request) -> None:
        if not upgrade.is_upgrade(request.headers.get("Connection", ""), request.headers.get("Upgrade", "")):
            raise LookupFailed(400, "Upgrade request required")

    async def _stream_target(self, request: web.Request) -> tuple[str, remotecommand.Options]:
        self._require_upgrade(request)
        ns, pod, name = (request.match_info[k] for k in ("namespace", "pod", "container"))
        uid = request.match_info.get("uid", "")
        try:
            opts = remotecommand.Options.from_query(request.query.get)
        except remotecommand.OptionsError as exc:
            raise LookupFailed(400, str(exc)) from None
        if await self.lookup.sandbox(ns, pod, uid) is None:
            raise LookupFailed(404, "pod does not exist")
        ref = await self.lookup.container(ns, pod, name, uid=uid)
        if ref is None:
            raise LookupFailed(404, f'container not found ("{name}")')
        return ref.id, opts

    async def _exec(self, request: web.Request) -> web.StreamResponse:
        container_id, opts = await self._stream_target(request)
        command = request.query.getall("command", [])
        if not command:
            raise LookupFailed(400, "you must specify at least one command for the container")
        url = await self.runtime.exec(container_id, command, stdin=opts.stdin, stdout=opts.stdout,
                                      stderr=opts.stderr, tty=opts.tty)
        return await relay.proxy_upgrade(request, url)

    async def _attach(self, request: web.Request) -> web.StreamResponse:
        container_id, opts = await self._stream_target(request)
        url = await self.runtime.attach(container_id, stdin=opts.stdin, stdout=opts.stdout, stderr=opts.stderr,
                                        tty=opts.tty)
        return await relay.proxy_upgrade(request, url)

    async def _port_forward(self, request: web.Request) -> web.StreamResponse:
        self._require_upgrade(request)
        ns, pod = request.match_info["namespace"], request.match_info["pod"]
        sandbox = await self.lookup.sandbox(ns, pod, request.match_info.get("uid", ""))
        if sandbox is None:
            raise LookupFailed(404, "pod does not exist")
        try:
            ports = [p for value in request.query.getall("ports", []) for p in portforward.parse_ports(value)]
        except portforward.PairingError as exc:
            raise LookupFailed(400, str(exc)) from None
        url = await self.runtime.port_forward(sandbox.id, ports)
        return await relay.proxy_upgrade(request, url)

    # -- stats, metrics, pods ------------------------------------------------------------------------

    async def _inventory(self) -> list[Any]:
        if isinstance(self.lookup, PodInventory):
            return await self.lookup.inventory()
        return []

    async def _sampled_inventory(self) -> list[Any]:
        """The running pods, after making sure every cgroup has a first CPU sample (for rates)."""
        inventory = await self._inventory()
        if self.stats.prime(inventory):
            await asyncio.sleep(PRIME_WAIT)
        return inventory

    async def _summary(self, request: web.Request) -> web.StreamResponse:
        doc = self.stats.summary(await self._sampled_inventory())
        return web.Response(body=orjson.dumps(doc), content_type="application/json")

    async def _resource_metrics(self, request: web.Request) -> web.StreamResponse:
        text = self.stats.resource_metrics(await self._sampled_inventory())
        return web.Response(text=text, content_type="text/plain", charset="utf-8",
                            headers={"X-Content-Type-Options": "nosniff"})

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        try:
            rss = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            rss = usage.ru_maxrss * 1024
        families: list[tuple[str, str, str, list[tuple[dict[str, str], float]]]] = [
            ("kubelet_http_requests_total", "counter", "[ALPHA] Number of the http requests received since the server started",
             [({"method": m, "path": p, "code": c, "server_type": "readwrite"}, float(n))
              for (m, p, c), n in sorted(self._requests.items())]),
            ("kubelet_http_inflight_requests", "gauge", "[ALPHA] Number of the inflight http requests",
             [({"server_type": "readwrite"}, float(self._inflight))]),
            ("kubernetes_build_info", "gauge", "[ALPHA] A metric with a constant '1' value labeled by major, minor, git version",
             [({"major": "1", "minor": "32", "git_version": "v1.32.4+kijabi"}, 1.0)]),
            ("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.",
             [({}, usage.ru_utime + usage.ru_stime)]),
            ("process_resident_memory_bytes", "gauge", "Resident memory size in bytes.", [({}, float(rss))]),
            ("process_start_time_seconds", "gauge", "Start time of the process since unix epoch in seconds.",
             [({}, self._started)]),
        ]
        return web.Response(text=prometheus_text(families), content_type="text/plain", charset="utf-8")

    async def _pods(self, request: web.Request) -> web.StreamResponse:
        items: list[dict[str, Any]] = []
        if isinstance(self.lookup, PodLister):
            items = await self.lookup.pods()
        for item in items:
            item.setdefault("kind", "Pod")
            item.setdefault("apiVersion", "v1")
        body = {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}
        return web.Response(body=orjson.dumps(body), content_type="application/json")
