"""Subresources: status, scale, pods/binding, pods/eviction, namespaces/finalize.

Status and finalize reuse the resource's own update path with `subresource` set, so the strategy
decides what the write may change. Scale translates between the resource and autoscaling/v1 Scale.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from kijabi.apiserver import handlers, proxy, serviceaccount
from kijabi.apiserver.resources import Resource
from kijabi.apiserver.store import DeleteOptions, ListOptions, WriteOptions
from kijabi.machinery import errors, fields, labels
from kijabi.machinery import patch as patching
from kijabi.machinery.meta import rfc3339

SCALE_PATHS = ("spec.replicas", "status.replicas", "status.selector")


async def handle_subresource(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                             sub: str, rest: str) -> web.StreamResponse:
    method = request.method
    if sub in ("status", "approval", "ephemeralcontainers"):
        if method == "GET":
            return await handlers.handle_get(ctx, request, res, namespace, name)
        if method == "PUT":
            return await handlers.handle_update(ctx, request, res, namespace, name, subresource=sub if sub == "status" else "")
        if method == "PATCH":
            return await handlers.handle_patch(ctx, request, res, namespace, name, subresource=sub if sub == "status" else "")
    elif sub == "scale":
        return await _scale(ctx, request, res, namespace, name)
    elif sub == "binding" and method == "POST":
        body = handlers._expect_object(await handlers.read_body(request))
        await bind(ctx, request, namespace, name, body)
        return handlers.respond(request, 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
    elif sub == "eviction" and method == "POST":
        body = handlers._expect_object(await handlers.read_body(request))
        return await _evict(ctx, request, res, namespace, name, body)
    elif sub == "token" and method == "POST":
        body = handlers._expect_object(await handlers.read_body(request))
        return handlers.respond(request, 201, await serviceaccount.request_token(ctx.store, ctx.signer, namespace, name, body))
    elif sub == "finalize" and method == "PUT":
        return await _finalize(ctx, request, res, name)
    elif sub in ("log", "exec", "attach", "portforward", "proxy"):
        return await proxy.handle(ctx, request, res, namespace, name, sub, rest)
    raise errors.method_not_allowed("the server does not allow this method on the requested resource")


# -- scale -----------------------------------------------------------------------------------------


def _get_path(obj: dict[str, Any], path: str) -> Any:
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def _set_path(obj: dict[str, Any], path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value


def selector_string(sel: dict[str, Any] | None) -> str:
    if not sel:
        return ""
    terms = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op, key, values = e.get("operator"), e.get("key"), ",".join(sorted(e.get("values") or []))
        terms.append({"In": f"{key} in ({values})", "NotIn": f"{key} notin ({values})", "Exists": key,
                      "DoesNotExist": f"!{key}"}.get(op, key))
    return ",".join(terms)


def scale_of(res: Resource, obj: dict[str, Any]) -> dict[str, Any]:
    spec_path, status_path, selector_path = res.scale_paths or SCALE_PATHS
    m = obj["metadata"]
    status: dict[str, Any] = {"replicas": _get_path(obj, status_path) or 0}
    if not res.crd:
        sel = (obj.get("spec") or {}).get("selector")
        s = selector_string(sel) if isinstance(sel, dict) and ("matchLabels" in sel or "matchExpressions" in sel) else \
            ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items()))
        if s:
            status["selector"] = s
    elif selector_path:
        s = _get_path(obj, selector_path)
        if s:
            status["selector"] = s
    return {
        "kind": "Scale", "apiVersion": "autoscaling/v1",
        "metadata": {k: m[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp") if k in m},
        "spec": {"replicas": _get_path(obj, spec_path) or 0},
        "status": status,
    }


async def _scale(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str) -> web.StreamResponse:
    method = request.method
    if method == "GET":
        return handlers.respond(request, 200, scale_of(res, await ctx.store.get(res, namespace, name)))
    if method not in ("PUT", "PATCH"):
        raise errors.method_not_allowed("the server does not allow this method on the requested resource")
    body = await handlers.read_body(request)
    ptype = None
    if method == "PATCH":
        from kijabi.apiserver import codec

        ptype = codec.PATCH_TYPES.get(codec.media_type(request.headers.get("Content-Type")))
        if ptype is None or ptype.startswith("apply"):
            raise errors.StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json")
    opts = handlers._write_options(request, "scale")
    spec_path = (res.scale_paths or SCALE_PATHS)[0]

    async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
        assert old is not None
        current = scale_of(res, old)
        if ptype is None:
            scale = handlers._expect_object(body)
        elif ptype == "json":
            scale = patching.json_patch(current, body)
        else:
            scale = patching.merge_patch(current, handlers._expect_object(body))
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool):
            raise errors.invalid("Scale", "autoscaling", name, [errors.invalid_value("spec.replicas", replicas, "must be an integer")])
        if replicas < 0:
            raise errors.invalid("Scale", "autoscaling", name, [errors.invalid_value("spec.replicas", replicas, "must be greater than or equal to 0")])
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        new: dict[str, Any] = orjson.loads(orjson.dumps(old))
        if rv:
            new["metadata"]["resourceVersion"] = rv
        _set_path(new, spec_path, replicas)
        return new

    obj, _ = await ctx.store.update(res, namespace, name, transform, opts)
    return handlers.respond(request, 200, scale_of(res, obj))


# -- binding ---------------------------------------------------------------------------------------


async def bind(ctx: handlers.Context, request: web.Request, namespace: str, name: str, body: dict[str, Any]) -> None:
    registry = ctx.store.registry
    pods = registry.get("", "v1", "pods")
    assert pods is not None
    target = body.get("target") or {}
    node = target.get("name")
    if not node:
        raise errors.invalid("Binding", "", name, [errors.required("target.name", "")])
    uid = (body.get("metadata") or {}).get("uid")

    async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
        assert old is not None
        if old["metadata"].get("deletionTimestamp"):
            raise errors.conflict("pods", "", name, "pod is being deleted, cannot be assigned to a host")
        if uid and old["metadata"].get("uid") != uid:
            raise errors.conflict("pods", "", name, "Precondition failed: UID in precondition")
        current = (old.get("spec") or {}).get("nodeName")
        if current:
            raise errors.conflict("pods", "", name, f"pod {name} is already assigned to node \"{current}\"")
        old.setdefault("spec", {})["nodeName"] = node
        status = old.setdefault("status", {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None, "lastTransitionTime": rfc3339(ctx.clock())})
        status["conditions"] = conds
        return old

    opts = WriteOptions(field_manager=handlers._write_options(request).field_manager, subresource="binding")
    # Binding changes spec.nodeName and status together, past the strategies' split.
    await ctx.store.update(pods, namespace, name, transform, opts, bypass_strategy=True)


# -- eviction --------------------------------------------------------------------------------------


async def _evict(ctx: handlers.Context, request: web.Request, res: Resource, namespace: str, name: str,
                 body: dict[str, Any]) -> web.StreamResponse:
    store = ctx.store
    pod = await store.get(res, namespace, name)
    delete_opts = body.get("deleteOptions") or {}
    pdbs = store.registry.get("policy", "v1", "poddisruptionbudgets")
    assert pdbs is not None
    phase = (pod.get("status") or {}).get("phase")
    pod_labels = pod["metadata"].get("labels") or {}
    if phase not in ("Succeeded", "Failed", "Pending") and not pod["metadata"].get("deletionTimestamp"):
        page = await store.list(pdbs, namespace, ListOptions(labels=labels.EVERYTHING, fields=fields.EVERYTHING))
        matching = []
        for co in page.items:
            pdb = co.obj()
            sel = (pdb.get("spec") or {}).get("selector")
            if sel is None or not labels.from_label_selector(sel).matches(pod_labels) or not sel:
                continue
            matching.append(pdb)
        if len(matching) > 1:
            raise errors.internal("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
        if matching:
            pdb = matching[0]
            pdb_name = pdb["metadata"]["name"]

            async def take(old: dict[str, Any] | None) -> dict[str, Any]:
                assert old is not None
                status = old.get("status") or {}
                if (status.get("observedGeneration") or 0) < (old["metadata"].get("generation") or 0):
                    raise errors.too_many_requests("Cannot evict pod as it would violate the pod's disruption budget.",
                                                   details={"causes": [{"reason": "DisruptionBudget", "message": f"The disruption budget {pdb_name} is still being processed by the server."}]})
                allowed = status.get("disruptionsAllowed") or 0
                if allowed <= 0:
                    needed = status.get("desiredHealthy", 0)
                    raise errors.too_many_requests("Cannot evict pod as it would violate the pod's disruption budget.",
                                                   details={"causes": [{"reason": "DisruptionBudget", "message": f"The disruption budget {pdb_name} needs {needed} healthy pods and has {status.get('currentHealthy', 0)} currently"}]})
                status["disruptionsAllowed"] = allowed - 1
                disrupted = status.setdefault("disruptedPods", {})
                disrupted[name] = rfc3339(ctx.clock())
                old["status"] = status
                return old

            await store.update(pdbs, namespace, pdb_name, take, WriteOptions(field_manager="kube-apiserver", subresource="status"))
    pre = delete_opts.get("preconditions") or {}
    await store.delete(res, namespace, name, DeleteOptions(
        grace_period=delete_opts.get("gracePeriodSeconds"), uid=pre.get("uid"), resource_version=pre.get("resourceVersion"),
        dry_run=bool(delete_opts.get("dryRun"))))
    return handlers.respond(request, 201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})


# -- namespaces/finalize ---------------------------------------------------------------------------


async def _finalize(ctx: handlers.Context, request: web.Request, res: Resource, name: str) -> web.StreamResponse:
    body = handlers._expect_object(await handlers.read_body(request))
    strategy = res.strategy
    assert strategy is not None and hasattr(strategy, "prepare_for_finalize")

    async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
        assert old is not None
        result: dict[str, Any] = strategy.prepare_for_finalize(body, old)
        return result

    obj, _ = await ctx.store.update(res, "", name, transform, WriteOptions(
        field_manager=handlers._write_options(request).field_manager, subresource="finalize"), bypass_strategy=True)
    return handlers.respond_object(ctx, request, res, 200, obj)
