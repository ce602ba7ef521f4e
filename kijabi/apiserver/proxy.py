"""Streaming subresources proxied to the node's kubelet: pods/log, exec, attach, portforward, proxy,
and nodes/proxy. Until the kubelet connection exists they answer 503."""

from __future__ import annotations

from aiohttp import web

from kijabi.apiserver import handlers
from kijabi.apiserver.resources import Resource
from kijabi.machinery import errors


async def handle(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                 sub: str, rest: str) -> web.StreamResponse:
    obj = await ctx.store.get(res, namespace, name)
    node = (obj.get("spec") or {}).get("nodeName") if res.plural == "pods" else name
    if not node:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    raise errors.service_unavailable(f"no kubelet connection is available for node {node!r}")
