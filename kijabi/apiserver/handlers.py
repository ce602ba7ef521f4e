"""HTTP handlers for resource requests: one function per verb, all resources through one path."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import orjson
from aiohttp import web

from kijabi.apiserver import codec
from kijabi.apiserver.negotiate import Format, parse_accept
from kijabi.apiserver.request import RequestInfo
from kijabi.apiserver.resources import Resource
from kijabi.apiserver.store import DeleteOptions, ListOptions, Store, WriteOptions
from kijabi.apiserver.watchcache import CachedObject, TooOld, WatchEvent
from kijabi.machinery import errors, fields, labels, printers
from kijabi.machinery import patch as patching
from kijabi.machinery.apply import apply as ssa_apply
from kijabi.machinery.apply import manager_from_user_agent

log = logging.getLogger(__name__)

BOOKMARK_INTERVAL = 60.0
WRITE_BATCH_BYTES = 256 * 1024  # watch events written in one go, at most (then the socket drains)
LIST_CHUNK_BYTES = 1024 * 1024
TABLE_BATCH = 256  # Table rows built and serialized together


class Context:
    """Everything a handler needs beyond the request."""

    def __init__(self, store: Store, *, clock: Callable[[], float] = time.time,
                 authenticate_token: Callable[[str], Awaitable[Any]] | None = None, signer: Any = None) -> None:
        self.store = store
        self.clock = clock
        self.authenticate_token = authenticate_token
        self.signer = signer


# -- helpers ---------------------------------------------------------------------------------------


def _bool(q: Any, name: str) -> bool:
    v = q.get(name, "")
    return v.lower() in ("true", "1")


def _int(q: Any, name: str, default: int | None = None) -> int | None:
    v = q.get(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        raise errors.bad_request(f"invalid value for {name}: {v!r}") from None


def _dry_run(q: Any) -> bool:
    values = q.getall("dryRun", [])
    for v in values:
        if v != "All":
            raise errors.bad_request(f'dryRun: Unsupported value: "{v}": supported values: "All"')
    return bool(values)


def _field_validation(q: Any) -> str:
    v = q.get("fieldValidation", "") or "Warn"
    if v not in ("Strict", "Warn", "Ignore"):
        raise errors.bad_request(f'fieldValidation: Unsupported value: "{v}": supported values: "Ignore", "Strict", "Warn"')
    return v


def _write_options(request: web.Request, subresource: str = "") -> WriteOptions:
    q = request.query
    manager = q.get("fieldManager", "")
    if len(manager) > 128:
        raise errors.bad_request("fieldManager: Too long: may not be more than 128 bytes")
    if not manager:
        manager = manager_from_user_agent(request.headers.get("User-Agent", ""))
    return WriteOptions(dry_run=_dry_run(q), field_manager=manager, subresource=subresource)


def _warning_headers(warnings: list[str] | None) -> dict[str, str]:
    if not warnings:
        return {}
    return {"Warning": ", ".join(f'299 - "{w.replace(chr(34), chr(92) + chr(34))}"' for w in warnings)}


def respond(request: web.Request, status: int, obj: Any, warnings: list[str] | None = None) -> web.Response:
    fmt: Format = request.get("format") or parse_accept(request.headers.get("Accept"))
    headers = _warning_headers(warnings)
    if fmt.kind == "yaml":
        return web.Response(status=status, body=codec.encode_yaml(obj), content_type="application/yaml", headers=headers)
    return web.Response(status=status, body=orjson.dumps(obj), content_type="application/json", headers=headers)


def respond_raw(status: int, body: bytes, warnings: list[str] | None = None) -> web.Response:
    """A JSON body that is already encoded."""
    return web.Response(status=status, body=body, content_type="application/json", headers=_warning_headers(warnings))


async def read_body(request: web.Request) -> Any:
    length = request.content_length
    if length is not None and length > codec.MAX_BODY:
        raise errors.too_large()
    chunks: list[bytes] = []
    total = 0
    async for chunk in request.content.iter_chunked(65536):
        total += len(chunk)
        if total > codec.MAX_BODY:
            raise errors.too_large()
        chunks.append(chunk)
    body = b"".join(chunks)
    if not body:
        raise errors.bad_request("the request body is empty")
    return codec.decode_body(body, request.headers.get("Content-Type"))


def _expect_object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.bad_request(f"the request body must be a JSON object, not {type(value).__name__}")
    return value


def check_body_type(res: Resource, obj: dict[str, Any], *, kind: str = "", api_version: str = "") -> None:
    """apiVersion/kind in a body must name the endpoint's type; missing ones are filled in."""
    kind = kind or res.kind
    api_version = api_version or res.api_version
    got_kind = obj.get("kind")
    got_version = obj.get("apiVersion")
    if got_kind in (None, ""):
        obj["kind"] = kind
    elif got_kind != kind:
        raise errors.bad_request(f'{got_kind} in version "{got_version or api_version}" cannot be handled as a {kind}: '
                                 f"the kind in the data ({got_kind}) does not match the expected kind ({kind})")
    if got_version in (None, ""):
        obj["apiVersion"] = api_version
    elif got_version != api_version:
        raise errors.bad_request(f'the API version in the data ({got_version}) does not match the expected API version ({api_version})')
    if "metadata" in obj and not isinstance(obj["metadata"], dict | type(None)):
        raise errors.bad_request(f'{kind} in version "{api_version}" cannot be handled as a {kind}: metadata must be an object')
    if obj.get("metadata") is None:
        obj["metadata"] = {}


def prepare_object(request: web.Request, res: Resource, obj: dict[str, Any], validation: str) -> list[str]:
    """Type checks, unknown fields per fieldValidation, pruning and defaults. Returns warnings."""
    assert res.strategy is not None
    return res.strategy.decode(obj, validation)


# -- list / get / watch ----------------------------------------------------------------------------


def list_options(res: Resource, request: web.Request) -> ListOptions:
    q = request.query
    assert res.strategy is not None
    limit = _int(q, "limit", 0) or 0
    if limit < 0:
        limit = 0
    rvm = q.get("resourceVersionMatch", "")
    rv = q.get("resourceVersion", "")
    if rvm and rvm not in ("Exact", "NotOlderThan"):
        raise errors.bad_request(f'resourceVersionMatch: Unsupported value: "{rvm}": supported values: "Exact", "NotOlderThan"')
    if rvm and not rv and "sendInitialEvents" not in q:
        raise errors.bad_request("resourceVersionMatch is forbidden unless resourceVersion is provided")
    if q.get("continue") and rv and rv != "0":
        raise errors.bad_request("specifying resource version is not allowed when using continue")
    return ListOptions(
        labels=labels.parse(q.get("labelSelector")),
        fields=fields.parse(q.get("fieldSelector"), res.strategy.allowed_fields()),
        limit=limit,
        continue_=q.get("continue", ""),
        resource_version=rv,
        resource_version_match=rvm,
    )


def _list_meta(page_rev: int, cont: str, remaining: int | None) -> dict[str, Any]:
    m: dict[str, Any] = {"resourceVersion": str(page_rev)}
    if cont:
        m["continue"] = cont
    if remaining is not None and cont:
        m["remainingItemCount"] = remaining
    return m


def partial(obj: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


async def handle_list(ctx: Context, request: web.Request, res: Resource, namespace: str | None) -> web.StreamResponse:
    opts = list_options(res, request)
    page = await ctx.store.list(res, namespace, opts)
    fmt: Format = request["format"]
    meta = _list_meta(page.revision, page.continue_, page.remaining)
    convert = res.strategy is not None and res.strategy.needs_conversion
    if fmt.kind == "table":
        assert res.strategy is not None
        printer = res.strategy.printer
        include = request.query.get("includeObject", "Metadata")
        now = ctx.clock()
        table = printers.table(
            printer, [ctx.store.served_obj(res, co) for co in page.items] if convert or printer.ordered else [], now=now,
            include_object=include, resource_version=str(page.revision), continue_=page.continue_,
            remaining=meta.get("remainingItemCount"),
        )
        if convert or printer.ordered or not page.items:
            return respond(request, 200, table)
        # Everything but the rows first, then the rows in batches: cells from slimmed objects decoded one
        # at a time, each row embedding the cached JSON as it is.
        table["rows"] = []
        return await _stream(request, orjson.dumps(table)[:-2], _table_rows(printer, page.items, now, include), b"]}")
    if fmt.kind == "partial":
        if convert:
            items: list[Any] = [partial(ctx.store.served_obj(res, co)) for co in page.items]
        else:
            items = [_partial_json(co) for co in page.items]
        return respond(request, 200, {"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1", "metadata": meta,
                                      "items": items})
    if fmt.kind == "yaml":
        return respond(request, 200, {"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta,
                                      "items": [ctx.store.served_obj(res, co) for co in page.items]})
    head = orjson.dumps({"kind": res.list_kind, "apiVersion": res.api_version, "metadata": meta})
    pieces = ((ctx.store.served(res, co),) for co in page.items) if convert else (co.parts for co in page.items)
    return await _stream(request, head[:-1] + b',"items":[', pieces, b"]}")


async def _stream(request: web.Request, head: bytes, items: Iterator[tuple[bytes, ...]], tail: bytes) -> web.StreamResponse:
    """A 200 JSON response `head`, the items (each given as pieces) joined by commas, `tail`; written in
    ~1 MiB pieces, so a 10k-object list never exists as one buffer."""
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    await response.prepare(request)
    parts: list[bytes] = [head]
    size = 0
    for i, pieces in enumerate(items):
        if i:
            parts.append(b",")
        parts += pieces
        size += sum(map(len, pieces))
        if size >= LIST_CHUNK_BYTES:
            await response.write(b"".join(parts))
            parts, size = [], 0
    parts.append(tail)
    await response.write(b"".join(parts))
    await response.write_eof()
    return response


def _table_rows(printer: printers.Printer, items: list[CachedObject], now: float, include: str) -> Iterator[tuple[bytes, ...]]:
    """The JSON of each Table row of `items`, built TABLE_BATCH rows at a time."""
    for start in range(0, len(items), TABLE_BATCH):
        batch = items[start:start + TABLE_BATCH]
        rows = printers.table(printer, (co.slim() for co in batch), now=now, include_object=include,
                              with_columns=False, row_objects=_row_objects(batch, include))["rows"]
        yield (orjson.dumps(rows)[1:-1],)


def _row_objects(items: list[CachedObject], include_object: str) -> Iterator[Any]:
    """What each Table row embeds, as the cached JSON: the object, or its metadata."""
    if include_object == "Object":
        return (orjson.Fragment(co.data) for co in items)
    if include_object == "None":
        return (None for _ in items)
    return (orjson.Fragment(co.metadata_json()) for co in items)


def _partial_json(co: CachedObject) -> dict[str, Any]:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": orjson.Fragment(co.metadata_json())}


async def handle_get(ctx: Context, request: web.Request, res: Resource, namespace: str, name: str) -> web.StreamResponse:
    if request["format"].kind == "json":
        return respond_raw(200, await ctx.store.get_raw(res, namespace, name))
    obj = await ctx.store.get(res, namespace, name)
    return respond_object(ctx, request, res, 200, obj)


def respond_object(ctx: Context, request: web.Request, res: Resource, status: int, obj: dict[str, Any],
                   warnings: list[str] | None = None) -> web.Response:
    fmt: Format = request["format"]
    if fmt.kind == "table":
        assert res.strategy is not None
        return respond(request, status, printers.table(res.strategy.printer, [obj], now=ctx.clock(),
                                                       include_object=request.query.get("includeObject", "Metadata"),
                                                       resource_version=obj["metadata"].get("resourceVersion", "")), warnings)
    if fmt.kind == "partial":
        return respond(request, status, partial(obj), warnings)
    return respond(request, status, obj, warnings)


def _event_bytes(etype: str, data: bytes) -> bytes:
    return b'{"type":"' + etype.encode() + b'","object":' + data + b"}\n"


async def handle_watch(ctx: Context, request: web.Request, res: Resource, namespace: str | None) -> web.StreamResponse:
    q = request.query
    opts = list_options(res, request)
    send_initial = q.get("sendInitialEvents")
    bookmarks = _bool(q, "allowWatchBookmarks")
    if send_initial is not None:
        if not bookmarks or (opts.resource_version_match != "NotOlderThan" and send_initial == "true"):
            raise errors.invalid("ListOptions", "meta.k8s.io", "", [errors.forbidden_field(
                "sendInitialEvents", "sendInitialEvents is forbidden for watch unless allowWatchBookmarks=true and resourceVersionMatch=NotOlderThan")])
    elif opts.resource_version_match:
        raise errors.bad_request("resourceVersionMatch is forbidden for watch")
    timeout = _int(q, "timeoutSeconds")
    if timeout is None:
        timeout = random.randint(1800, 3600)
    store = ctx.store
    cache = store.cache
    prefix = res.prefix(namespace)
    match = store.matcher(opts)
    rv = opts.resource_version
    initial = send_initial == "true" if send_initial is not None else rv in ("", "0")
    from_rev: int | None = None
    if rv not in ("", "0"):
        try:
            from_rev = int(rv)
        except ValueError:
            raise errors.bad_request(f"invalid resource version: {rv!r}") from None
    if rv == "" and not initial:
        from_rev = cache.revision
    if from_rev is not None and from_rev > cache.revision:
        await store._wait(from_rev)
    fmt: Format = request["format"]
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    await response.prepare(request)
    try:
        if initial:
            await cache.wait_for(await store.storage.current_revision()) if rv == "" else None
            watcher = cache.watch(prefix, res.storage_prefix, None, match)
        else:
            watcher = cache.watch(prefix, res.storage_prefix, from_rev, match)
    except TooOld as exc:
        status = errors.expired(f"too old resource version: {exc.requested} ({exc.oldest})").status()
        await response.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
        return response
    initial_end_rev = cache.revision
    encoder = _Encoder(ctx, res, fmt, request.query.get("includeObject", "Metadata"))
    deadline = time.monotonic() + timeout
    pending_initial = initial and bookmarks and send_initial == "true"
    # The initial events are exactly what the queue holds now; the initial-events-end bookmark goes out
    # right after them, before any live event (which has a newer resourceVersion).
    initial_left = watcher.queue.qsize() if pending_initial else 0
    try:
        while True:
            if pending_initial and initial_left == 0:
                await response.write(_bookmark(res, initial_end_rev, initial_end=True))
                pending_initial = False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            # One wakeup per batch: whatever queued meanwhile goes out in the same write below.
            if not await watcher.queue.wait(min(remaining, BOOKMARK_INTERVAL)):
                if bookmarks and not pending_initial:
                    await response.write(_bookmark(res, cache.revision))
                continue
            ev = watcher.queue.get_nowait()
            if ev is None:
                break
            initial_left -= 1
            encode = _frame if encoder.plain else encoder.encode
            chunk = [encode(ev)]
            size = len(chunk[0])
            while not watcher.queue.empty() and size < WRITE_BATCH_BYTES and not (pending_initial and initial_left <= 0):
                initial_left -= 1
                nxt = watcher.queue.get_nowait()
                if nxt is None:
                    watcher.closed = True
                    break
                line = encode(nxt)
                chunk.append(line)
                size += len(line)
            await response.write(b"".join(chunk) if len(chunk) > 1 else chunk[0])
            if watcher.closed and watcher.queue.empty():
                break
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        watcher.close()
    return response


def _bookmark(res: Resource, rev: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rev), "creationTimestamp": None}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    return orjson.dumps({"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version, "metadata": meta}}) + b"\n"


def _frame(ev: WatchEvent) -> bytes:
    return ev.obj.frame(ev.type)


class _Encoder:
    def __init__(self, ctx: Context, res: Resource, fmt: Format, include_object: str) -> None:
        self.ctx = ctx
        self.res = res
        self.fmt = fmt
        self.include_object = include_object
        self.first = True
        # JSON of the stored version: every watcher writes the cache's shared frame of the event.
        self.plain = fmt.kind in ("json", "yaml") and not (res.strategy is not None and res.strategy.needs_conversion)

    def encode(self, ev: WatchEvent) -> bytes:
        store = self.ctx.store
        if self.fmt.kind == "json" or self.fmt.kind == "yaml":
            if self.res.strategy is not None and self.res.strategy.needs_conversion:
                return _event_bytes(ev.type, store.served(self.res, ev.obj))
            return ev.obj.frame(ev.type)
        strategy = self.res.strategy
        assert strategy is not None
        if not strategy.needs_conversion and (self.fmt.kind == "partial" or not strategy.printer.ordered):
            # From the cached bytes: the metadata as it is, cells from the object without managedFields.
            if self.fmt.kind == "partial":
                return orjson.dumps({"type": ev.type, "object": _partial_json(ev.obj)}) + b"\n"
            table = printers.table(strategy.printer, [ev.obj.slim()], now=self.ctx.clock(), include_object=self.include_object,
                                   resource_version=str(ev.rv), with_columns=self.first,
                                   row_objects=_row_objects([ev.obj], self.include_object))
        else:
            obj = store.served_obj(self.res, ev.obj)
            if self.fmt.kind == "partial":
                return orjson.dumps({"type": ev.type, "object": partial(obj)}) + b"\n"
            table = printers.table(strategy.printer, [obj], now=self.ctx.clock(), include_object=self.include_object,
                                   resource_version=str(ev.rv), with_columns=self.first)
        self.first = False
        return orjson.dumps({"type": ev.type, "object": table}) + b"\n"


# -- create / update / patch -----------------------------------------------------------------------


async def handle_create(ctx: Context, request: web.Request, res: Resource, namespace: str) -> web.StreamResponse:
    assert res.strategy is not None
    body = _expect_object(await read_body(request))
    check_body_type(res, body)
    validation = _field_validation(request.query)
    opts = _write_options(request)
    if not res.stored:
        result = await res.strategy.create_virtual(ctx, request, namespace, body)
        return respond(request, 201, result)
    warnings = prepare_object(request, res, body, validation)
    m = body["metadata"]
    if res.namespaced and m.get("namespace") and m["namespace"] != namespace:
        raise errors.bad_request("the namespace of the provided object does not match the namespace sent on the request")
    if not m.get("name") and not m.get("generateName"):
        raise errors.invalid(res.kind, res.group, "", [errors.required("metadata.name", "name or generateName is required")])
    obj, served = await ctx.store.create_with_body(res, namespace, body, opts)
    if served is not None and request["format"].kind == "json":
        return respond_raw(201, served, warnings)
    return respond_object(ctx, request, res, 201, obj, warnings)


async def handle_update(ctx: Context, request: web.Request, res: Resource, namespace: str, name: str,
                        subresource: str = "") -> web.StreamResponse:
    assert res.strategy is not None
    body = _expect_object(await read_body(request))
    check_body_type(res, body)
    validation = _field_validation(request.query)
    opts = _write_options(request, subresource)
    warnings = prepare_object(request, res, body, validation)

    async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
        copy: dict[str, Any] = orjson.loads(orjson.dumps(body))
        return copy

    obj, created = await ctx.store.update(res, namespace, name, transform, opts,
                                          create_missing=res.strategy.allow_create_on_update and not subresource)
    return respond_object(ctx, request, res, 201 if created else 200, obj, warnings)


async def handle_patch(ctx: Context, request: web.Request, res: Resource, namespace: str, name: str,
                       subresource: str = "") -> web.StreamResponse:
    assert res.strategy is not None
    strategy = res.strategy
    ptype = codec.PATCH_TYPES.get(codec.media_type(request.headers.get("Content-Type")))
    if ptype is None or ptype == "apply-cbor":
        raise errors.StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json")
    if ptype == "strategic" and res.crd:
        raise errors.StatusError(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml")
    patch_doc = await read_body(request)
    validation = _field_validation(request.query)
    opts = _write_options(request, subresource)
    warnings: list[str] = []
    force = _bool(request.query, "force")
    if ptype != "apply" and "force" in request.query:
        raise errors.bad_request("force: Forbidden: may not be specified for non-apply patch")
    if ptype == "apply":
        opts.operation = "Apply"
        if not request.query.get("fieldManager"):
            raise errors.invalid("PatchOptions", "meta.k8s.io", "", [errors.required("fieldManager", "is required for apply patch")])
        _expect_object(patch_doc)

    async def transform(old: dict[str, Any] | None) -> dict[str, Any]:
        if ptype == "apply":
            result = ssa_apply(old, patch_doc, manager=opts.field_manager, schema=res.schema, force=force,
                               api_version=res.api_version, kind=res.kind, now=_now(ctx), subresource=subresource,
                               reset_paths=strategy.reset_paths(subresource))
        elif old is None:
            raise errors.not_found(res.plural, res.group, name)
        elif ptype == "json":
            result = patching.json_patch(old, patch_doc)
        elif ptype == "merge":
            result = patching.merge_patch(old, patch_doc)
        else:
            assert res.schema is not None
            result = patching.strategic_merge_patch(old, patch_doc, res.schema)
        check_body_type(res, result)
        if old is not None and not _patch_sets_resource_version(ptype, patch_doc):
            # Only a resourceVersion the patch itself carries is a precondition; otherwise a conflict
            # re-applies the patch to the newer object (the store retries).
            result["metadata"].pop("resourceVersion", None)
        warnings[:] = strategy.decode(result, validation)
        return result

    obj, created = await ctx.store.update(res, namespace, name, transform, opts, create_missing=ptype == "apply" and not subresource)
    return respond_object(ctx, request, res, 201 if created else 200, obj, warnings)


def _patch_sets_resource_version(ptype: str, patch: Any) -> bool:
    if ptype == "json":
        return isinstance(patch, list) and any(isinstance(op, dict) and str(op.get("path", "")).startswith("/metadata/resourceVersion")
                                               for op in patch)
    meta = patch.get("metadata") if isinstance(patch, dict) else None
    return isinstance(meta, dict) and bool(meta.get("resourceVersion"))


def _now(ctx: Context) -> str:
    from kijabi.machinery.meta import rfc3339

    return rfc3339(ctx.clock())


# -- delete ----------------------------------------------------------------------------------------


async def delete_options(request: web.Request) -> DeleteOptions:
    q = request.query
    body: dict[str, Any] = {}
    if request.can_read_body:
        raw = await request.read()
        if len(raw) > codec.MAX_BODY:
            raise errors.too_large()
        if raw.strip():
            body = _expect_object(codec.decode_body(raw, request.headers.get("Content-Type")))
    policy = q.get("propagationPolicy") or body.get("propagationPolicy")
    orphan = q.get("orphanDependents")
    orphan_b = body.get("orphanDependents") if orphan is None else orphan.lower() == "true"
    if policy and orphan_b is not None:
        raise errors.invalid("DeleteOptions", "meta.k8s.io", "", [errors.invalid_value("propagationPolicy", policy, "orphanDependents and deletionPropagation cannot be both set")])
    if policy is None and orphan_b is not None:
        policy = "Orphan" if orphan_b else "Background"
    if policy is not None and policy not in ("Orphan", "Background", "Foreground"):
        raise errors.invalid("DeleteOptions", "meta.k8s.io", "", [errors.not_supported("propagationPolicy", policy, ["Foreground", "Background", "Orphan", "nil"])])
    grace = _int(q, "gracePeriodSeconds")
    if grace is None and body.get("gracePeriodSeconds") is not None:
        grace = body["gracePeriodSeconds"]
        if not isinstance(grace, int):
            raise errors.bad_request("gracePeriodSeconds must be an integer")
    if grace is not None and grace < 0:
        grace = 1
    pre = body.get("preconditions") or {}
    dry = _dry_run(q) or bool(body.get("dryRun"))
    return DeleteOptions(propagation=policy, grace_period=grace, uid=pre.get("uid"), resource_version=pre.get("resourceVersion"), dry_run=dry)


async def handle_delete(ctx: Context, request: web.Request, res: Resource, namespace: str, name: str) -> web.StreamResponse:
    assert res.strategy is not None
    opts = await delete_options(request)
    result = await ctx.store.delete(res, namespace, name, opts)
    status = 200
    if not result.deleted and opts.propagation == "Foreground":
        status = 202
    if result.deleted and not res.strategy.return_deleted_object:
        m = result.obj["metadata"]
        details = {"name": name, "kind": res.plural, "uid": m.get("uid")}
        if res.group:
            details["group"] = res.group
        return respond(request, status, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details})
    return respond_object(ctx, request, res, status, result.obj)


async def handle_delete_collection(ctx: Context, request: web.Request, res: Resource, namespace: str | None) -> web.StreamResponse:
    opts = await delete_options(request)
    lopts = list_options(res, request)
    page = await ctx.store.list(res, namespace, lopts)
    items = []
    for co in page.items:
        try:
            r = await ctx.store.delete(res, co.namespace, co.name, opts)
            items.append(r.obj)
        except errors.StatusError as exc:
            if exc.code != 404:
                raise
    return respond(request, 200, {"kind": res.list_kind, "apiVersion": res.api_version,
                                  "metadata": {"resourceVersion": str(page.revision)}, "items": items})


def is_watch(request: web.Request, info: RequestInfo) -> bool:
    return info.legacy_watch or _bool(request.query, "watch")

