"""Test doubles for code built on kijabi.client: a scripted transport and an in-memory API server.

    server = FakeAPIServer(clock=clock)
    client = Client(Config(server="https://fake", qps=-1), transport=FakeTransport(server), clock=clock)

`FakeTransport(handler)` records every `Request` and answers with whatever the handler returns (use
`json_response`, `status_response`, `stream_response`). `FakeAPIServer` is such a handler: an object
tracker in the spirit of client-go's fake clientset. It keeps objects per resource with a global
resourceVersion, records `Action`s, and serves get/list (label and field selectors, limit/continue),
watch (history replay from a resourceVersion, live events, bookmarks on demand, 410 after `compact()`),
create (generateName, AlreadyExists), update (Conflict on a stale resourceVersion; status kept apart),
patch (json, merge, strategic; apply approximated by merge with create), delete (preconditions,
finalizers), deletecollection, and the status, scale, binding and eviction subresources. Reactors
(`prepend_reactor`) answer instead of the tracker, to inject failures. It is not an apiserver: no
defaulting, validation, admission or server-side apply field ownership.
"""

from __future__ import annotations

import asyncio
import inspect
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

from kijabi.client.clock import REAL_CLOCK, Clock
from kijabi.client.rest import GVR
from kijabi.client.transport import Request, Response
from kijabi.machinery import errors, labels, schema
from kijabi.machinery import patch as patching
from kijabi.machinery.meta import generate_name, rfc3339

Object = dict[str, Any]


# -- responses -------------------------------------------------------------------------------------


class FakeResponse:
    """A response with a whole body, or a stream fed through `push()` and ended by `end()`."""

    def __init__(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None,
                 *, stream: bool = False) -> None:
        self.status = status
        self.headers: Mapping[str, str] = dict(headers or {"Content-Type": "application/json"})
        self._body = body
        self._stream: asyncio.Queue[bytes | None] | None = asyncio.Queue() if stream else None
        self.closed = False
        self.on_close: Callable[[], None] | None = None

    def push(self, data: bytes) -> None:
        if self._stream is not None and not self.closed:
            self._stream.put_nowait(data)

    def end(self) -> None:
        if self._stream is not None:
            self._stream.put_nowait(None)

    async def read(self) -> bytes:
        if self._stream is None:
            return self._body
        parts = [chunk async for chunk in self.chunks()]
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            if self._body:
                yield self._body
            return
        if self._body:
            yield self._body
        while not self.closed:
            chunk = await self._stream.get()
            if chunk is None:
                return
            yield chunk

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            if self._stream is not None:
                self._stream.put_nowait(None)
            if self.on_close is not None:
                self.on_close()


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> FakeResponse:
    return FakeResponse(status, orjson.dumps(body), {"Content-Type": "application/json", **(headers or {})})


def status_body(code: int, reason: str, message: str, details: Object | None = None) -> Object:
    body: Object = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
                    "reason": reason, "code": code}
    if details:
        body["details"] = details
    return body


def status_response(code: int, reason: str, message: str = "", *, retry_after: int | None = None,
                    details: Object | None = None) -> FakeResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return json_response(code, status_body(code, reason, message or reason, details), headers)


def stream_response(events: list[Object] | None = None, *, end: bool = True) -> FakeResponse:
    """A watch stream that sends `events` (dicts with type/object), then ends (unless `end` is False)."""
    resp = FakeResponse(200, stream=True)
    for ev in events or []:
        resp.push(orjson.dumps(ev) + b"\n")
    if end:
        resp.end()
    return resp


Handler = Callable[[Request], "Awaitable[Response] | Response"]


class FakeTransport:
    """Answers requests with `handler`; keeps every request in `requests`."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self.closed = False

    async def send(self, request: Request) -> Response:
        self.requests.append(request)
        result = self.handler(request)
        if inspect.isawaitable(result):
            return await result
        return result

    async def close(self) -> None:
        self.closed = True


# -- the in-memory API server ----------------------------------------------------------------------


@dataclass
class Action:
    verb: str
    resource: GVR
    namespace: str = ""
    name: str = ""
    subresource: str = ""
    body: Any = None
    query: dict[str, str] = field(default_factory=dict)


Reactor = Callable[[Action], "Response | None"]

# resource -> (kind, namespaced, has status subresource)
KNOWN: dict[GVR, tuple[str, bool, bool]] = {
    GVR("", "v1", "pods"): ("Pod", True, True),
    GVR("", "v1", "nodes"): ("Node", False, True),
    GVR("", "v1", "namespaces"): ("Namespace", False, True),
    GVR("", "v1", "services"): ("Service", True, True),
    GVR("", "v1", "endpoints"): ("Endpoints", True, False),
    GVR("", "v1", "configmaps"): ("ConfigMap", True, False),
    GVR("", "v1", "secrets"): ("Secret", True, False),
    GVR("", "v1", "serviceaccounts"): ("ServiceAccount", True, False),
    GVR("", "v1", "events"): ("Event", True, False),
    GVR("", "v1", "persistentvolumes"): ("PersistentVolume", False, True),
    GVR("", "v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True, True),
    GVR("apps", "v1", "deployments"): ("Deployment", True, True),
    GVR("apps", "v1", "replicasets"): ("ReplicaSet", True, True),
    GVR("apps", "v1", "statefulsets"): ("StatefulSet", True, True),
    GVR("apps", "v1", "daemonsets"): ("DaemonSet", True, True),
    GVR("batch", "v1", "jobs"): ("Job", True, True),
    GVR("coordination.k8s.io", "v1", "leases"): ("Lease", True, False),
    GVR("discovery.k8s.io", "v1", "endpointslices"): ("EndpointSlice", True, False),
    GVR("events.k8s.io", "v1", "events"): ("Event", True, False),
}
SCALABLE = {"deployments", "replicasets", "statefulsets", "replicationcontrollers"}


class _StatusFailure(Exception):
    def __init__(self, error: errors.StatusError) -> None:
        super().__init__(error.message)
        self.error = error


def _fail(error: errors.StatusError) -> _StatusFailure:
    return _StatusFailure(error)


def _copy(obj: Any) -> Object:
    """A deep copy (of an object, usually; any JSON value works)."""
    result: Object = orjson.loads(orjson.dumps(obj))
    return result


def _field_value(obj: Object, path: str) -> str:
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def _field_match(obj: Object, selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if _field_value(obj, key.strip()) == value.strip():
                return False
        else:
            key, _, value = term.partition("==") if "==" in term else term.partition("=")
            if _field_value(obj, key.strip()) != value.strip():
                return False
    return True


@dataclass(eq=False)
class _Watcher:
    resource: GVR
    namespace: str
    label_selector: labels.Selector
    field_selector: str
    bookmarks: bool
    response: FakeResponse

    def matches(self, obj: Object) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace and meta.get("namespace") != self.namespace:
            return False
        if not self.label_selector.matches(meta.get("labels")):
            return False
        return not self.field_selector or _field_match(obj, self.field_selector)


class FakeAPIServer:
    """In-memory API server for unit tests; use as the handler of a FakeTransport."""

    def __init__(self, *, clock: Clock = REAL_CLOCK) -> None:
        self.clock = clock
        self.rv = 1
        self.oldest = 0  # watches and continue tokens from a resourceVersion below this get 410
        self.objects: dict[tuple[str, str], dict[tuple[str, str], Object]] = {}
        self.history: list[tuple[int, GVR, str, Object]] = []
        self.actions: list[Action] = []
        self.reactors: list[tuple[str, str, Reactor]] = []
        self.watchers: list[_Watcher] = []
        self.kinds: dict[GVR, tuple[str, bool, bool]] = dict(KNOWN)

    # -- set-up helpers ----------------------------------------------------------------------------

    def register(self, gvr: GVR, kind: str, *, namespaced: bool = True, status: bool = False) -> None:
        self.kinds[gvr] = (kind, namespaced, status)

    def prepend_reactor(self, verb: str, resource: str, reactor: Reactor) -> None:
        """`reactor(action)` answers first for matching requests ("*" matches anything); None passes on."""
        self.reactors.insert(0, (verb, resource, reactor))

    def seed(self, gvr: GVR, obj: Object) -> Object:
        """Store `obj` directly (no action recorded); returns the stored copy."""
        meta = obj.get("metadata") or {}
        return self._create(gvr, str(meta.get("namespace", "")), _copy(obj))

    def get_object(self, gvr: GVR, name: str, namespace: str = "") -> Object | None:
        obj = self._bucket(gvr).get((namespace, name))
        return _copy(obj) if obj is not None else None

    def list_objects(self, gvr: GVR, namespace: str | None = None) -> list[Object]:
        return [_copy(o) for (ns, _), o in sorted(self._bucket(gvr).items()) if namespace is None or ns == namespace]

    def compact(self) -> None:
        """Forget the event history: watches and continue tokens from older versions now get 410."""
        self.history.clear()
        self.oldest = self.rv

    def close_watches(self) -> None:
        """End every open watch stream (as a server does at its timeout)."""
        for w in list(self.watchers):
            w.response.end()
        self.watchers.clear()

    def send_bookmarks(self) -> None:
        for w in self.watchers:
            if w.bookmarks:
                kind = self.kinds.get(w.resource, ("", True, False))[0]
                w.response.push(orjson.dumps({"type": "BOOKMARK", "object": {
                    "kind": kind, "apiVersion": w.resource.api_version,
                    "metadata": {"resourceVersion": str(self.rv)}}}) + b"\n")

    def actions_of(self, verb: str, resource: str | None = None) -> list[Action]:
        return [a for a in self.actions if a.verb == verb and (resource is None or a.resource.resource == resource)]

    # -- plumbing ----------------------------------------------------------------------------------

    def _bucket(self, gvr: GVR) -> dict[tuple[str, str], Object]:
        return self.objects.setdefault((gvr.group, gvr.resource), {})

    def _next_rv(self) -> int:
        self.rv += 1
        return self.rv

    def _emit(self, gvr: GVR, etype: str, obj: Object) -> None:
        rv = int(obj["metadata"]["resourceVersion"])
        self.history.append((rv, gvr, etype, _copy(obj)))
        line = orjson.dumps({"type": etype, "object": obj}) + b"\n"
        for w in self.watchers:
            if (w.resource.group, w.resource.resource) == (gvr.group, gvr.resource) and w.matches(obj):
                w.response.push(line)

    async def __call__(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except _StatusFailure as exc:
            headers = {"Retry-After": str(exc.error.retry_after)} if exc.error.retry_after is not None else None
            return json_response(exc.error.code, exc.error.status(), headers)

    def _parse(self, path: str) -> tuple[GVR, str, str, str] | None:
        segs = [unquote(s) for s in path.strip("/").split("/")]
        if segs[:1] == ["api"] and len(segs) >= 3:
            group, version, rest = "", segs[1], segs[2:]
        elif segs[:1] == ["apis"] and len(segs) >= 4:
            group, version, rest = segs[1], segs[2], segs[3:]
        else:
            return None
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3 and not (len(rest) == 3 and rest[2] in ("status", "finalize")):
            namespace, rest = rest[1], rest[2:]
        resource = rest[0]
        name = rest[1] if len(rest) > 1 else ""
        sub = rest[2] if len(rest) > 2 else ""
        return GVR(group, version, resource), namespace, name, sub

    def _handle(self, request: Request) -> Response:
        if request.path in ("/api", "/apis"):
            return json_response(200, self._discovery(request.path == "/api"))
        if request.path == "/version":
            return json_response(200, {"major": "1", "minor": "32", "gitVersion": "v1.32.0-fake"})
        parsed = self._parse(request.path)
        if parsed is None:
            raise _fail(errors.StatusError(404, "NotFound", "the server could not find the requested resource"))
        gvr, ns, name, sub = parsed
        query = dict(request.query)
        body = orjson.loads(request.body) if request.body else None
        method = request.method
        if method == "GET":
            verb = "get" if name else ("watch" if query.get("watch") in ("true", "1") else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
        action = Action(verb, gvr, ns, name, sub, body, query)
        self.actions.append(action)
        for rverb, rres, reactor in self.reactors:
            if rverb in ("*", verb) and rres in ("*", gvr.resource):
                answer = reactor(action)
                if answer is not None:
                    return answer
        if method == "POST" and sub:
            return self._post_subresource(gvr, ns, name, sub, body)
        if sub == "scale":
            return self._scale(gvr, ns, name, method, body, request)
        if verb == "get":
            return json_response(200, self._get(gvr, ns, name))
        if verb == "list":
            return json_response(200, self._list(gvr, ns, query))
        if verb == "watch":
            return self._watch(gvr, ns, query)
        if verb == "create":
            obj = self._create(gvr, ns, body)
            return json_response(201, obj)
        if verb == "update":
            return json_response(200, self._update(gvr, ns, name, body, sub))
        if verb == "patch":
            ctype = request.headers.get("Content-Type", "")
            obj, created = self._patch(gvr, ns, name, body, ctype, sub)
            return json_response(201 if created else 200, obj)
        if verb == "delete":
            return json_response(200, self._delete(gvr, ns, name, body or {}))
        if verb == "deletecollection":
            listed = self._list(gvr, ns, query)
            for item in listed["items"]:
                m = item["metadata"]
                self._delete(gvr, m.get("namespace", ""), m["name"], body or {})
            return json_response(200, listed)
        raise _fail(errors.method_not_allowed("the server does not allow this method on the requested resource"))

    # -- verbs -------------------------------------------------------------------------------------

    def _kind(self, gvr: GVR) -> str:
        known = self.kinds.get(gvr)
        if known is not None:
            return known[0]
        singular = gvr.resource[:-1] if gvr.resource.endswith("s") else gvr.resource
        return singular[:1].upper() + singular[1:]

    def _get(self, gvr: GVR, ns: str, name: str) -> Object:
        obj = self._bucket(gvr).get((ns, name))
        if obj is None:
            raise _fail(errors.not_found(gvr.resource, gvr.group, name))
        return _copy(obj)

    def _matching(self, gvr: GVR, ns: str, query: Mapping[str, str]) -> list[Object]:
        sel = labels.parse(query.get("labelSelector"))
        fsel = query.get("fieldSelector", "")
        out = []
        for (ons, _), obj in sorted(self._bucket(gvr).items()):
            if ns and ons != ns:
                continue
            if not sel.matches((obj.get("metadata") or {}).get("labels")):
                continue
            if fsel and not _field_match(obj, fsel):
                continue
            out.append(obj)
        return out

    def _list(self, gvr: GVR, ns: str, query: Mapping[str, str]) -> Object:
        items = self._matching(gvr, ns, query)
        start = 0
        list_rv = self.rv
        cont = query.get("continue")
        if cont:
            rv_text, _, offset = cont.partition(":")
            if int(rv_text) < self.oldest:
                raise _fail(errors.StatusError(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."))
            start, list_rv = int(offset), int(rv_text)
        limit = int(query.get("limit") or 0)
        if query.get("resourceVersion") == "0":
            limit = 0
        meta: Object = {"resourceVersion": str(list_rv)}
        page = items[start:]
        if limit and len(page) > limit:
            page = page[:limit]
            meta["continue"] = f"{list_rv}:{start + limit}"
            meta["remainingItemCount"] = len(items) - start - limit
        kind = self._kind(gvr)
        return {"kind": f"{kind}List", "apiVersion": gvr.api_version, "metadata": meta, "items": [_copy(o) for o in page]}

    def _watch(self, gvr: GVR, ns: str, query: Mapping[str, str]) -> Response:
        resp = FakeResponse(200, stream=True)
        w = _Watcher(gvr, ns, labels.parse(query.get("labelSelector")), query.get("fieldSelector", ""),
                     query.get("allowWatchBookmarks") == "true", resp)
        rv = query.get("resourceVersion", "")
        if rv in ("", "0"):
            for obj in self._matching(gvr, ns, query):
                resp.push(orjson.dumps({"type": "ADDED", "object": obj}) + b"\n")
        else:
            from_rv = int(rv)
            if from_rv < self.oldest:
                status = errors.expired(f"too old resource version: {from_rv} ({self.oldest})").status()
                resp.push(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
                resp.end()
                return resp
            for hrv, hgvr, etype, obj in self.history:
                if hrv > from_rv and (hgvr.group, hgvr.resource) == (gvr.group, gvr.resource) and w.matches(obj):
                    resp.push(orjson.dumps({"type": etype, "object": obj}) + b"\n")
        self.watchers.append(w)

        def closed() -> None:
            if w in self.watchers:
                self.watchers.remove(w)

        resp.on_close = closed
        return resp

    def _create(self, gvr: GVR, ns: str, body: Any) -> Object:
        if not isinstance(body, dict):
            raise _fail(errors.bad_request("the request body must be a JSON object"))
        obj = _copy(body)
        meta = obj.setdefault("metadata", {})
        if ns:
            meta["namespace"] = ns
        if not meta.get("name"):
            if not meta.get("generateName"):
                raise _fail(errors.invalid(self._kind(gvr), gvr.group, "", [errors.required("metadata.name", "name or generateName is required")]))
            meta["name"] = generate_name(meta["generateName"])
        key = (meta.get("namespace", ""), meta["name"])
        bucket = self._bucket(gvr)
        if key in bucket:
            raise _fail(errors.already_exists(gvr.resource, gvr.group, meta["name"]))
        obj.setdefault("apiVersion", gvr.api_version)
        obj.setdefault("kind", self._kind(gvr))
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = rfc3339(self.clock.time())
        meta["resourceVersion"] = str(self._next_rv())
        meta.setdefault("generation", 1)
        bucket[key] = obj
        self._emit(gvr, "ADDED", obj)
        return _copy(obj)

    def _store_update(self, gvr: GVR, old: Object, new: Object) -> Object:
        meta = new.setdefault("metadata", {})
        old_meta = old["metadata"]
        for k in ("uid", "creationTimestamp", "namespace", "name", "deletionTimestamp"):
            if k in old_meta:
                meta[k] = old_meta[k]
        meta["generation"] = old_meta.get("generation", 1) + (1 if new.get("spec") != old.get("spec") else 0)
        meta["resourceVersion"] = str(self._next_rv())
        new.setdefault("apiVersion", old.get("apiVersion"))
        new.setdefault("kind", old.get("kind"))
        key = (meta.get("namespace", ""), meta["name"])
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self._bucket(gvr)[key]
            self._emit(gvr, "DELETED", new)
        else:
            self._bucket(gvr)[key] = new
            self._emit(gvr, "MODIFIED", new)
        return _copy(new)

    def _existing(self, gvr: GVR, ns: str, name: str) -> Object:
        old = self._bucket(gvr).get((ns, name))
        if old is None:
            raise _fail(errors.not_found(gvr.resource, gvr.group, name))
        return old

    def _update(self, gvr: GVR, ns: str, name: str, body: Any, sub: str) -> Object:
        if not isinstance(body, dict):
            raise _fail(errors.bad_request("the request body must be a JSON object"))
        old = self._existing(gvr, ns, name)
        rv = (body.get("metadata") or {}).get("resourceVersion")
        if rv and rv != old["metadata"]["resourceVersion"]:
            raise _fail(errors.stale_conflict(gvr.resource, gvr.group, name))
        has_status = self.kinds.get(gvr, ("", True, False))[2]
        if sub == "status":
            new = _copy(old)
            new["status"] = _copy(body.get("status"))
        else:
            new = _copy(body)
            if has_status:
                if "status" in old:
                    new["status"] = _copy(old["status"])
                else:
                    new.pop("status", None)
        return self._store_update(gvr, old, new)

    def _patch(self, gvr: GVR, ns: str, name: str, body: Any, content_type: str, sub: str) -> tuple[Object, bool]:
        ctype = content_type.split(";")[0].strip()
        old = self._bucket(gvr).get((ns, name))
        if old is None:
            if ctype == "application/apply-patch+yaml":
                return self._create(gvr, ns, body), True
            raise _fail(errors.not_found(gvr.resource, gvr.group, name))
        try:
            if ctype == "application/json-patch+json":
                new = patching.json_patch(old, body)
            elif ctype == "application/strategic-merge-patch+json":
                kind = self._kind(gvr)
                node = schema.builtin().for_kind(gvr.group, gvr.version, kind)
                new = patching.strategic_merge_patch(old, body, node) if node is not None else patching.merge_patch(old, body)
            elif ctype in ("application/merge-patch+json", "application/apply-patch+yaml"):
                new = patching.merge_patch(old, body)
            else:
                raise _fail(errors.unsupported_media_type(ctype))
        except errors.StatusError as exc:
            raise _fail(exc) from None
        if sub == "status":
            merged = _copy(old)
            merged["status"] = new.get("status")
            new = merged
        return self._store_update(gvr, old, new), False

    def _delete(self, gvr: GVR, ns: str, name: str, options: Mapping[str, Any]) -> Object:
        old = self._existing(gvr, ns, name)
        pre = options.get("preconditions") or {}
        if pre.get("uid") and pre["uid"] != old["metadata"].get("uid"):
            raise _fail(errors.conflict(gvr.resource, gvr.group, name,
                                        f"Precondition failed: UID in precondition: {pre['uid']}, UID in object meta: {old['metadata'].get('uid')}"))
        if pre.get("resourceVersion") and pre["resourceVersion"] != old["metadata"]["resourceVersion"]:
            raise _fail(errors.conflict(gvr.resource, gvr.group, name,
                                        f"Precondition failed: ResourceVersion in precondition: {pre['resourceVersion']}, ResourceVersion in object meta: {old['metadata']['resourceVersion']}"))
        if options.get("dryRun"):
            return _copy(old)
        if old["metadata"].get("finalizers"):
            new = _copy(old)
            new["metadata"].setdefault("deletionTimestamp", rfc3339(self.clock.time()))
            new["metadata"].setdefault("deletionGracePeriodSeconds", 0)
            return self._store_update(gvr, old, new)
        del self._bucket(gvr)[(ns, name)]
        gone = _copy(old)
        gone["metadata"]["resourceVersion"] = str(self._next_rv())
        self._emit(gvr, "DELETED", gone)
        return gone

    # -- subresources ------------------------------------------------------------------------------

    def _post_subresource(self, gvr: GVR, ns: str, name: str, sub: str, body: Any) -> Response:
        if gvr.resource == "pods" and sub == "binding":
            pod = self._existing(gvr, ns, name)
            if (pod.get("spec") or {}).get("nodeName"):
                raise _fail(errors.conflict("pods", "", name, f"pod {name} is already assigned to node \"{pod['spec']['nodeName']}\""))
            new = _copy(pod)
            new.setdefault("spec", {})["nodeName"] = ((body or {}).get("target") or {}).get("name", "")
            self._store_update(gvr, pod, new)
            return json_response(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
        if gvr.resource == "pods" and sub == "eviction":
            self._delete(gvr, ns, name, (body or {}).get("deleteOptions") or {})
            return json_response(201, {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201})
        raise _fail(errors.StatusError(404, "NotFound", "the server could not find the requested resource"))

    def _scale(self, gvr: GVR, ns: str, name: str, method: str, body: Any, request: Request) -> Response:
        if gvr.resource not in SCALABLE:
            raise _fail(errors.StatusError(404, "NotFound", "the server could not find the requested resource"))
        obj = self._existing(gvr, ns, name)

        def scale_of(o: Object) -> Object:
            m = o["metadata"]
            return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                    "metadata": {"name": m["name"], "namespace": m.get("namespace"), "uid": m.get("uid"),
                                 "resourceVersion": m["resourceVersion"], "creationTimestamp": m.get("creationTimestamp")},
                    "spec": {"replicas": (o.get("spec") or {}).get("replicas", 0)},
                    "status": {"replicas": (o.get("status") or {}).get("replicas", 0)}}

        if method == "GET":
            return json_response(200, scale_of(obj))
        if method == "PUT":
            replicas = ((body or {}).get("spec") or {}).get("replicas", 0)
        else:
            new_scale = patching.merge_patch(scale_of(obj), body)
            replicas = (new_scale.get("spec") or {}).get("replicas", 0)
        new = _copy(obj)
        new.setdefault("spec", {})["replicas"] = replicas
        stored = self._store_update(gvr, obj, new)
        return json_response(200, scale_of(stored))

    # -- discovery ---------------------------------------------------------------------------------

    def _discovery(self, core: bool) -> Object:
        groups: dict[str, dict[str, list[Object]]] = {}
        for gvr, (kind, namespaced, status) in self.kinds.items():
            if (gvr.group == "") != core:
                continue
            subs = [{"subresource": "status", "responseKind": {"group": gvr.group, "version": gvr.version, "kind": kind},
                     "verbs": ["get", "patch", "update"]}] if status else []
            groups.setdefault(gvr.group, {}).setdefault(gvr.version, []).append({
                "resource": gvr.resource, "responseKind": {"group": gvr.group, "version": gvr.version, "kind": kind},
                "scope": "Namespaced" if namespaced else "Cluster", "singularResource": kind.lower(),
                "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
                "subresources": subs,
            })
        items = [{"metadata": {"name": g} if g else {},
                  "versions": [{"version": v, "resources": rs, "freshness": "Current"} for v, rs in versions.items()]}
                 for g, versions in groups.items()]
        return {"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {}, "items": items}
