"""An upgrade-aware proxy from an aiohttp request to the runtime's streaming server.

The kubelet does not speak exec/attach/port-forward itself: CRI Exec/Attach/PortForward return a
one-use URL on containerd's streaming server, which serves both SPDY/3.1 and WebSocket. The kubelet
passes the client's upgrade request on (same method, headers and query; the URL's path), and once the
runtime answers 101 it copies bytes both ways until either side closes (kijabi.client.hijack). Any
other answer is returned to the client as it is.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from kijabi.client import hijack
from kijabi.machinery.streams import upgrade


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
        up = await hijack.dial(host, port, request.method, path, f"{host}:{port}", headers)
    except (OSError, TimeoutError, upgrade.UpgradeError) as exc:
        return web.Response(status=502, text=f"error talking to the container runtime's streaming server: {exc}")
    if not up.head.upgraded:
        body = await up.body()
        up.close()
        return web.Response(status=up.head.status, body=body,
                            content_type=(up.head.get("Content-Type") or "text/plain").split(";")[0])
    client = await hijack.switch(request, up.head.headers)
    await hijack.splice(client, up)
    return client.response
