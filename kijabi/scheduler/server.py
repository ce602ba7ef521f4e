"""The scheduler's HTTP endpoints: /healthz, /livez, /readyz and Prometheus /metrics (plain HTTP)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web

from kijabi.scheduler.metrics import Metrics

log = logging.getLogger(__name__)


class HealthServer:
    """Serves health and metrics on `host:port` (port 0 picks a free one; see `port` once started)."""

    def __init__(self, metrics: Metrics, host: str = "127.0.0.1", port: int = 10259,
                 ready: Callable[[], bool] | None = None) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self.ready = ready or (lambda: True)
        self._runner: web.AppRunner | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/healthz", self._ok)
        app.router.add_get("/livez", self._ok)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        return app

    async def _ok(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _readyz(self, request: web.Request) -> web.Response:
        if self.ready():
            return web.Response(text="ok")
        return web.Response(status=500, text="[-]informer-sync failed: not synced yet\nreadyz check failed")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(text=self.metrics.render(), content_type="text/plain",
                            headers={"X-Content-Type-Options": "nosniff"}, charset="utf-8")

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = getattr(site, "_server", None)
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("serving healthz and metrics on http://%s:%d", self.host, self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
