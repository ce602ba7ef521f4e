"""The API server process: TLS, authentication, routing, and the lifecycle of store and cache."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from kijabi.apiserver import handlers, proxy, serviceaccount
from kijabi.apiserver.auth import ANONYMOUS, TokenAuthenticator, User, user_from_peercert
from kijabi.apiserver.bootstrap import bootstrap
from kijabi.apiserver.certs import ensure_pki
from kijabi.apiserver.crd import CRDController
from kijabi.apiserver.discovery import Discovery, aggregated_content_type, wants_aggregated
from kijabi.apiserver.negotiate import parse_accept
from kijabi.apiserver.nodecerts import PREFIX as NODECERTS_PREFIX
from kijabi.apiserver.nodecerts import NodeCerts
from kijabi.apiserver.openapi import OpenAPI
from kijabi.apiserver.registry import build_registry
from kijabi.apiserver.request import RequestInfo, parse_resource_path
from kijabi.apiserver.serviceaccount import TokenSigner
from kijabi.apiserver.store import Store
from kijabi.apiserver.subresources import handle_subresource
from kijabi.apiserver.watchcache import WatchCache
from kijabi.machinery import errors
from kijabi.storage import Storage

log = logging.getLogger(__name__)

VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.4+kijabi",
    "gitCommit": "kijabi",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version", "/cacerts")


@dataclass
class Config:
    data_dir: Path
    bind_address: str = "127.0.0.1"
    port: int = 6443
    storage: Storage | None = None
    token_file: Path | None = None
    tokens: dict[str, User] = field(default_factory=dict)
    advertise_address: str = "127.0.0.1"
    watch_cache_size: int = 20_000


class APIServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        assert config.storage is not None
        self.storage = config.storage
        self.registry = build_registry()
        self.cache = WatchCache(self.storage, history=config.watch_cache_size)
        self.store = Store(self.storage, self.cache, self.registry)
        self.tokens = TokenAuthenticator()
        self.pki = ensure_pki(config.data_dir / "server" / "tls", hosts=(config.advertise_address,))
        self.signer = TokenSigner(config.data_dir / "server" / "tls" / "service.key")
        self.nodecerts = NodeCerts(self.pki)
        self.ctx = handlers.Context(self.store, authenticate_token=self.authenticate_token, signer=self.signer)
        self.discovery = Discovery(self.registry, f"{config.advertise_address}:{config.port}")
        self.openapi = OpenAPI(self.registry)
        self.runner: web.AppRunner | None = None
        self.port = config.port
        self._background: set[asyncio.Task[Any]] = set()
        self.ready = False

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        if self.config.token_file and self.config.token_file.exists():
            self.tokens.load_file(self.config.token_file)
        for token, user in self.config.tokens.items():
            self.tokens.add(token, user)
        await self.storage.start()
        await self.cache.start()
        for r in self.registry.all():
            if r.strategy is not None and r.stored:
                self.cache.set_fields(r.storage_prefix, r.strategy.fields)
        await bootstrap(self)
        proxy.configure(self.pki.dir)
        self.crd_controller = CRDController(self)
        await self.crd_controller.start()
        app = web.Application(middlewares=[self._middleware], client_max_size=8 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.config.bind_address, self.config.port, ssl_context=self._ssl(), backlog=1024,
                           reuse_address=True)
        await site.start()
        if self.config.port == 0:
            server: Any = site._server
            self.port = server.sockets[0].getsockname()[1]
        self.ready = True

    async def stop(self) -> None:
        self.ready = False
        if self.runner:
            await self.runner.cleanup()
        for t in list(self._background):
            t.cancel()
        await self.cache.close()
        await self.storage.close()

    def spawn(self, coro: Awaitable[Any], name: str) -> None:
        """A named background task whose failure is logged even though nothing awaits it."""
        task = asyncio.ensure_future(coro)
        task.set_name(name)
        self._background.add(task)

        def done(t: asyncio.Task[Any]) -> None:
            self._background.discard(t)
            if not t.cancelled() and t.exception() is not None:
                log.error("background task %s failed", name, exc_info=t.exception())

        task.add_done_callback(done)

    def _ssl(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(self.pki.serving.cert, self.pki.serving.key)
        ctx.load_verify_locations(cafile=str(self.pki.client_ca.cert))
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx

    # -- request path -------------------------------------------------------------------------------

    async def authenticate_token(self, token: str) -> User | None:
        """Static tokens first, then ServiceAccount JWTs."""
        user = self.tokens.authenticate(token)
        if user is None and token.count(".") == 2:
            user = await serviceaccount.authenticate(self.store, self.signer, token)
        return user

    async def authenticate(self, request: web.Request) -> User:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() == "bearer ":
            user = await self.authenticate_token(header[7:].strip())
            if user is None:
                raise errors.StatusError(401, "Unauthorized", "Unauthorized")
            return user
        transport = request.transport
        cert = transport.get_extra_info("peercert") if transport else None
        user = user_from_peercert(cert)
        return user or ANONYMOUS

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        started = time.monotonic()
        try:
            user = await self.authenticate(request)
            if user is ANONYMOUS and request.path not in PUBLIC_PATHS and not request.path.startswith(("/healthz/", "/livez/", "/readyz/")):
                raise errors.StatusError(401, "Unauthorized", "Unauthorized")
            request["user"] = user
            return await handler(request)
        except errors.StatusError as exc:
            return self._error(request, exc)
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception as exc:
            log.exception("internal error serving %s %s", request.method, request.path_qs)
            return self._error(request, errors.internal(f"{type(exc).__name__}: {exc}"))
        finally:
            elapsed = time.monotonic() - started
            streaming = "watch" in request.query or "follow" in request.query or request.headers.get("Upgrade")
            if elapsed > 1.0 and not streaming:
                log.info("slow request %s %s: %.2fs", request.method, request.path_qs, elapsed)

    def _error(self, request: web.Request, exc: errors.StatusError) -> web.Response:
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return web.Response(status=exc.code, body=orjson.dumps(exc.status()), content_type="application/json", headers=headers)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path in ("/healthz", "/livez", "/readyz") or path.startswith(("/healthz/", "/livez/", "/readyz/")):
            if not self.ready and path.startswith("/readyz"):
                return web.Response(status=500, text="[-]ready failed: not ready\nreadyz check failed", content_type="text/plain")
            return web.Response(text="ok", content_type="text/plain")
        if path == "/version":
            return web.Response(body=orjson.dumps(VERSION), content_type="application/json")
        if path == "/cacerts":  # k3s: the server CA for joining agents, unauthenticated
            return web.Response(body=self.pki.server_ca.cert.read_bytes(), content_type="text/plain")
        if path.startswith(NODECERTS_PREFIX):  # k3s's /v1-k3s/: certificates for joining agents (token required)
            return await self.nodecerts.serve(request)
        if path in ("/api", "/apis", "/api/v1") or (path.startswith("/apis/") and path.count("/") <= 3 and not path.endswith("/")):
            if request.method != "GET":
                raise errors.method_not_allowed("the server does not allow this method on the requested resource")
            return self._discovery(request, path)
        if path.startswith("/openapi/"):
            return self.openapi.serve(request)
        info = parse_resource_path(path)
        if info is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource",
                                     details={"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]})
        return await self._resource(request, info)

    def _discovery(self, request: web.Request, path: str) -> web.Response:
        accept = request.headers.get("Accept", "")
        aggregated = wants_aggregated(accept) and path in ("/api", "/apis")
        doc = self.discovery.document(path, aggregated)
        if doc is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        if aggregated:
            ct = aggregated_content_type(accept)
            if "v2beta1" in ct:
                doc = doc.replace(b'"apidiscovery.k8s.io/v2"', b'"apidiscovery.k8s.io/v2beta1"')
            return web.Response(body=doc, headers={"Content-Type": ct})
        return web.Response(body=doc, content_type="application/json")

    async def _resource(self, request: web.Request, info: RequestInfo) -> web.StreamResponse:
        res = self.registry.get(info.group, info.version, info.resource)
        if res is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        if info.namespace is not None and not res.namespaced:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        request["format"] = parse_accept(request.headers.get("Accept"))
        ctx = self.ctx
        method = request.method
        ns = info.namespace or ""
        if info.subresource:
            if info.subresource not in res.subresources:
                raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
            return await handle_subresource(ctx, request, res, ns, info.name, info.subresource, info.rest)
        if res.namespaced and not info.name and info.namespace is None and method not in ("GET",):
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        if res.namespaced and info.name and info.namespace is None:
            raise errors.StatusError(404, "NotFound", "the server could not find the requested resource")
        verb = _verb(method, bool(info.name), handlers.is_watch(request, info))
        if verb not in res.verbs:
            raise errors.method_not_allowed("the server does not allow this method on the requested resource")
        ns_for_list = info.namespace
        if verb == "list":
            return await handlers.handle_list(ctx, request, res, ns_for_list)
        if verb == "watch":
            return await handlers.handle_watch(ctx, request, res, ns_for_list)
        if verb == "get":
            return await handlers.handle_get(ctx, request, res, ns, info.name)
        if verb == "create":
            return await handlers.handle_create(ctx, request, res, ns)
        if verb == "update":
            return await handlers.handle_update(ctx, request, res, ns, info.name)
        if verb == "patch":
            return await handlers.handle_patch(ctx, request, res, ns, info.name)
        if verb == "delete":
            return await handlers.handle_delete(ctx, request, res, ns, info.name)
        if verb == "deletecollection":
            return await handlers.handle_delete_collection(ctx, request, res, ns_for_list)
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")


def _verb(method: str, named: bool, watch: bool) -> str:
    if method == "GET":
        return "watch" if watch else ("get" if named else "list")
    if method == "POST" and not named:
        return "create"
    if method == "PUT" and named:
        return "update"
    if method == "PATCH" and named:
        return "patch"
    if method == "DELETE":
        return "delete" if named else "deletecollection"
    return ""
