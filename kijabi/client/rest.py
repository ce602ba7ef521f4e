"""The REST client every component talks to the API server with (client-go's rest + dynamic client).

Objects are plain JSON dicts. A resource is addressed by `GVR(group, version, resource)` plus an
optional namespace; `Client.mapper` (a discovery-backed RESTMapper, see kijabi.client.discovery) turns
an apiVersion/kind into a GVR when only the kind is known.

Contracts:
- Every request first takes a token from the client's QPS/burst bucket (`Config.qps`, `Config.burst`;
  client-go's defaults 5/10; qps <= 0 disables the limit). Retries take a token again.
- Retries (`RetryPolicy`), exponential backoff with jitter, at most `max_retries` times:
  * 429 TooManyRequests: any verb (the server did not process it), after Retry-After if given;
  * 5xx with a Retry-After header: any verb (the server asks for it, as client-go honours it);
  * 502/503/504 and broken connections: idempotent verbs only (GET, HEAD, PUT, DELETE);
  * a connection that could not be opened: any verb (nothing was sent).
- Failures raise the exception tree of kijabi.client.errors (NotFound, AlreadyExists, Conflict,
  Invalid, Expired, ...); aiohttp errors never escape.
- `watch()` returns a `Watch`: an async iterator of `WatchEvent(type, object)` (ADDED, MODIFIED, DELETED,
  BOOKMARK). An ERROR event raises its Status as an exception (410 -> `Expired`); the server ending
  the stream ends the iteration. Close it (`async with` or `close()`) to free the connection.
- Returned dicts belong to the caller.
"""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple
from urllib.parse import quote

import orjson

from kijabi.client.clock import REAL_CLOCK, Clock
from kijabi.client.config import Config, load_default, load_kubeconfig
from kijabi.client.errors import (
    APIError,
    BadRequest,
    DecodeError,
    Expired,
    TransportError,
    error_from_status,
)
from kijabi.client.ratelimit import TokenBucket
from kijabi.client.transport import AiohttpTransport, Query, Request, Response, Transport, lines

if TYPE_CHECKING:
    from kijabi.client.discovery import APIResource, RESTMapper

log = logging.getLogger(__name__)

Object = dict[str, Any]
PatchType = Literal["json", "merge", "strategic", "apply"]
Selector = str | Mapping[str, str] | None

PATCH_CONTENT_TYPES: dict[str, str] = {
    "json": "application/json-patch+json",
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "apply": "application/apply-patch+yaml",
}
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


class GVR(NamedTuple):
    """A resource: API group ("" for core), version and plural resource name."""

    group: str
    version: str
    resource: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @classmethod
    def of(cls, api_version: str, resource: str) -> GVR:
        group, _, version = api_version.rpartition("/")
        return cls(group, version, resource)

    def __str__(self) -> str:
        return f"{self.resource}.{self.version}.{self.group}" if self.group else f"{self.resource}.{self.version}"


# The resources the components use most.
PODS = GVR("", "v1", "pods")
NODES = GVR("", "v1", "nodes")
NAMESPACES = GVR("", "v1", "namespaces")
SERVICES = GVR("", "v1", "services")
ENDPOINTS = GVR("", "v1", "endpoints")
CONFIGMAPS = GVR("", "v1", "configmaps")
SECRETS = GVR("", "v1", "secrets")
SERVICEACCOUNTS = GVR("", "v1", "serviceaccounts")
EVENTS = GVR("", "v1", "events")
PERSISTENTVOLUMES = GVR("", "v1", "persistentvolumes")
PERSISTENTVOLUMECLAIMS = GVR("", "v1", "persistentvolumeclaims")
LEASES = GVR("coordination.k8s.io", "v1", "leases")
DEPLOYMENTS = GVR("apps", "v1", "deployments")
REPLICASETS = GVR("apps", "v1", "replicasets")
STATEFULSETS = GVR("apps", "v1", "statefulsets")
DAEMONSETS = GVR("apps", "v1", "daemonsets")
JOBS = GVR("batch", "v1", "jobs")
ENDPOINTSLICES = GVR("discovery.k8s.io", "v1", "endpointslices")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently failed requests are retried (see the module docstring)."""

    max_retries: int = 5
    initial_backoff: float = 0.2
    max_backoff: float = 5.0
    factor: float = 2.0
    jitter: float = 0.25

    def backoff(self, attempt: int, rng: Callable[[], float]) -> float:
        delay = min(self.initial_backoff * self.factor**attempt, self.max_backoff)
        return delay * (1 + self.jitter * rng())


NO_RETRY = RetryPolicy(max_retries=0)


class WatchEvent(NamedTuple):
    type: str  # ADDED, MODIFIED, DELETED, BOOKMARK
    object: Object


def resource_path(gvr: GVR, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
    """The URL path of a collection, an object or an object's subresource."""
    path = f"/apis/{gvr.group}/{gvr.version}" if gvr.group else f"/api/{gvr.version}"
    if namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{gvr.resource}"
    if name:
        path += f"/{quote(name, safe=':@')}"
    if subresource:
        path += f"/{subresource}"
    return path


def selector_string(selector: Selector) -> str | None:
    """A label selector as the query string wants it (a mapping means key=value for each pair)."""
    if selector is None or isinstance(selector, str):
        return selector or None
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


class Watch:
    """One watch stream. Iterate it for `WatchEvent`s; close it when done (or use `async with`)."""

    def __init__(self, client: Client, request: Request) -> None:
        self._client = client
        self._request = request
        self._response: Response | None = None
        self._lines: AsyncGenerator[bytes, None] | None = None
        self._closed = False

    @property
    def request(self) -> Request:
        return self._request

    async def _open(self) -> AsyncGenerator[bytes, None]:
        if self._lines is None:
            self._response = await self._client._exchange(self._request)
            self._lines = lines(self._response)
        return self._lines

    async def __aenter__(self) -> Watch:
        try:
            await self._open()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        if self._closed:
            raise StopAsyncIteration
        try:
            stream = await self._open()
            line = await anext(stream)
        except StopAsyncIteration:
            await self.close()
            raise
        except BaseException:
            await self.close()
            raise
        try:
            ev = orjson.loads(line)
            etype = ev["type"]
            obj = ev["object"]
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            await self.close()
            raise DecodeError(f"bad watch event: {line[:200]!r}") from exc
        if etype == "ERROR":
            await self.close()
            code = obj.get("code", 500) if isinstance(obj, dict) else 500
            raise error_from_status(obj, code if isinstance(code, int) else 500)
        if not isinstance(obj, dict):
            await self.close()
            raise DecodeError(f"watch event object is not an object: {line[:200]!r}")
        return WatchEvent(etype, obj)

    async def close(self) -> None:
        """Stop the watch and free its connection (safe to call more than once, from any task)."""
        self._closed = True
        if self._response is not None:
            response, self._response = self._response, None
            await response.close()
        if self._lines is not None:
            stream, self._lines = self._lines, None
            try:
                await stream.aclose()
            except RuntimeError:
                pass  # being read by another task: closing the response ends that read


class Client:
    """An API client for one server. Share one per process; it is cheap to call from many tasks.

    `transport` defaults to aiohttp over the Config's TLS settings; tests pass a fake one.
    """

    def __init__(
        self,
        config: Config,
        *,
        transport: Transport | None = None,
        clock: Clock = REAL_CLOCK,
        retry: RetryPolicy = RetryPolicy(),
        rng: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.transport: Transport = transport if transport is not None else AiohttpTransport(config)
        self.clock = clock
        self.retry = retry
        self.rng = rng
        self.limiter = TokenBucket(config.qps, config.burst, clock=clock)
        self._mapper: RESTMapper | None = None

    @classmethod
    def from_kubeconfig(cls, path: str | None = None, *, context: str | None = None, **options: Any) -> Client:
        """A client for `path` (or $KUBECONFIG / ~/.kube/config); `options` change Config fields (qps=...)."""
        cfg = load_kubeconfig(path, context=context)
        return cls(cfg.with_options(**options) if options else cfg)

    @classmethod
    def from_environment(cls, path: str | None = None, **options: Any) -> Client:
        """A client from `load_default()`: kubeconfig if there is one, else the in-cluster config."""
        cfg = load_default(path)
        return cls(cfg.with_options(**options) if options else cfg)

    async def close(self) -> None:
        await self.transport.close()

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    @property
    def mapper(self) -> RESTMapper:
        """The discovery-backed RESTMapper of this server (created on first use, cached)."""
        if self._mapper is None:
            from kijabi.client.discovery import RESTMapper

            self._mapper = RESTMapper(self)
        return self._mapper

    async def resource_for(self, api_version: str, kind: str) -> APIResource:
        """The resource serving `kind` in `api_version` (through discovery)."""
        return await self.mapper.resource_for_kind(api_version, kind)

    # -- the exchange ------------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, query: Query | None = None, body: Any = None,
                 content_type: str = "application/json", accept: str = "application/json",
                 stream: bool = False, timeout: float | None = None) -> Request:
        headers = {"Accept": accept}
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else orjson.dumps(body)
            headers["Content-Type"] = content_type
        return Request(method, path, query or [], headers, data,
                       timeout=None if stream else (timeout or self.config.timeout), stream=stream)

    def _retry_delay(self, request: Request, attempt: int, error: Exception, header_retry: int | None) -> float | None:
        """Seconds to wait before retrying `request` after `error`, or None to give up. `header_retry` is
        the answer's Retry-After header, if it had one."""
        if attempt >= self.retry.max_retries:
            return None
        idempotent = request.method in IDEMPOTENT
        if isinstance(error, TransportError):
            if idempotent or not error.sent:
                return self.retry.backoff(attempt, self.rng)
            return None
        if not isinstance(error, APIError):
            return None
        server_asks = error.code == 429 or (error.code >= 500 and header_retry is not None)
        transient = idempotent and error.code in (502, 503, 504)
        if not (server_asks or transient):
            return None
        if error.retry_after is not None and error.retry_after >= 0:
            return float(error.retry_after)
        return self.retry.backoff(attempt, self.rng)

    async def _exchange(self, request: Request) -> Response:
        """Send with rate limiting and retries. Returns an open 2xx response; raises everything else."""
        attempt = 0
        while True:
            await self.limiter.wait()
            error: Exception
            header_retry: int | None = None
            try:
                response = await self.transport.send(request)
            except TransportError as exc:
                error = exc
            else:
                if 200 <= response.status < 300:
                    return response
                try:
                    body = await response.read()
                except TransportError as exc:
                    error = exc
                else:
                    error, header_retry = self._api_error(response, body)
                finally:
                    await response.close()
            delay = self._retry_delay(request, attempt, error, header_retry)
            if delay is None:
                raise error
            log.info("retrying %s %s in %.2fs (attempt %d): %s", request.method, request.path, delay, attempt + 1, error)
            attempt += 1
            await self.clock.sleep(delay)

    @staticmethod
    def _api_error(response: Response, body: bytes) -> tuple[APIError, int | None]:
        header = response.headers.get("Retry-After")
        retry_after: int | None = None
        if header is not None:
            try:
                retry_after = max(int(header.strip()), 0)
            except ValueError:
                retry_after = None
        try:
            decoded = orjson.loads(body) if body else None
        except orjson.JSONDecodeError:
            decoded = None
        err = error_from_status(decoded, response.status, retry_after=retry_after,
                                text=body[:1024].decode(errors="replace") if decoded is None else "")
        return err, retry_after

    async def request(self, method: str, path: str, *, query: Query | None = None, body: Any = None,
                      content_type: str = "application/json", accept: str = "application/json",
                      timeout: float | None = None) -> Any:
        """One request to `path`; returns the decoded JSON answer (None when the body is empty)."""
        req = self._request(method, path, query=query, body=body, content_type=content_type, accept=accept,
                            timeout=timeout)
        response = await self._exchange(req)
        try:
            raw = await response.read()
        finally:
            await response.close()
        if not raw:
            return None
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"{method} {path}: the answer is not JSON: {raw[:200]!r}") from exc

    async def _object(self, method: str, path: str, *, query: Query | None = None, body: Any = None,
                      content_type: str = "application/json") -> Object:
        result = await self.request(method, path, query=query, body=body, content_type=content_type)
        if not isinstance(result, dict):
            raise DecodeError(f"{method} {path}: expected an object, got {type(result).__name__}")
        return result

    # -- reading -----------------------------------------------------------------------------------

    async def version(self) -> Object:
        return await self._object("GET", "/version")

    async def get(self, gvr: GVR, name: str, *, namespace: str | None = None, subresource: str | None = None,
                  resource_version: str | None = None) -> Object:
        query: Query = [("resourceVersion", resource_version)] if resource_version is not None else []
        return await self._object("GET", resource_path(gvr, namespace, name, subresource), query=query)

    @staticmethod
    def _list_query(*, label_selector: Selector, field_selector: str | None, limit: int | None, continue_: str | None,
                    resource_version: str | None, resource_version_match: str | None,
                    timeout_seconds: int | None) -> Query:
        q: Query = []
        sel = selector_string(label_selector)
        if sel:
            q.append(("labelSelector", sel))
        if field_selector:
            q.append(("fieldSelector", field_selector))
        if limit:
            q.append(("limit", str(limit)))
        if continue_:
            q.append(("continue", continue_))
        if resource_version is not None:
            q.append(("resourceVersion", resource_version))
        if resource_version_match:
            q.append(("resourceVersionMatch", resource_version_match))
        if timeout_seconds is not None:
            q.append(("timeoutSeconds", str(timeout_seconds)))
        return q

    async def list(self, gvr: GVR, *, namespace: str | None = None, label_selector: Selector = None,
                   field_selector: str | None = None, limit: int | None = None, continue_: str | None = None,
                   resource_version: str | None = None, resource_version_match: str | None = None,
                   timeout_seconds: int | None = None) -> Object:
        """One page of a collection: the List object (`items`, `metadata.resourceVersion`/`continue`)."""
        q = self._list_query(label_selector=label_selector, field_selector=field_selector, limit=limit,
                             continue_=continue_, resource_version=resource_version,
                             resource_version_match=resource_version_match, timeout_seconds=timeout_seconds)
        return await self._object("GET", resource_path(gvr, namespace), query=q)

    async def list_all(self, gvr: GVR, *, namespace: str | None = None, label_selector: Selector = None,
                       field_selector: str | None = None, resource_version: str | None = None,
                       resource_version_match: str | None = None, page_size: int = 500) -> Object:
        """Every item, page by page (client-go's pager). The result is one List; its resourceVersion is
        the snapshot all pages were read at. If a continue token expires midway, one unpaginated list is
        made instead."""
        first = await self.list(gvr, namespace=namespace, label_selector=label_selector, field_selector=field_selector,
                                limit=page_size, resource_version=resource_version,
                                resource_version_match=resource_version_match)
        items: list[Object] = list(first.get("items") or [])
        meta = dict(_meta(first))
        token = meta.get("continue")
        while token:
            try:
                page = await self.list(gvr, namespace=namespace, label_selector=label_selector,
                                       field_selector=field_selector, limit=page_size, continue_=token)
            except Expired:
                full = await self.list(gvr, namespace=namespace, label_selector=label_selector,
                                       field_selector=field_selector, resource_version=resource_version,
                                       resource_version_match=resource_version_match)
                full["metadata"] = {k: v for k, v in _meta(full).items() if k not in ("continue", "remainingItemCount")}
                return full
            items.extend(page.get("items") or [])
            token = _meta(page).get("continue")
        meta.pop("continue", None)
        meta.pop("remainingItemCount", None)
        first["metadata"] = meta
        first["items"] = items
        return first

    def watch(self, gvr: GVR, *, namespace: str | None = None, label_selector: Selector = None,
              field_selector: str | None = None, resource_version: str | None = None,
              allow_watch_bookmarks: bool = True, timeout_seconds: int | None = None,
              send_initial_events: bool | None = None, resource_version_match: str | None = None) -> Watch:
        """A watch of a collection from `resource_version` (see the module docstring). Nothing is sent
        until the Watch is entered or iterated."""
        q = self._list_query(label_selector=label_selector, field_selector=field_selector, limit=None, continue_=None,
                             resource_version=resource_version, resource_version_match=resource_version_match,
                             timeout_seconds=timeout_seconds)
        q.insert(0, ("watch", "true"))
        if allow_watch_bookmarks:
            q.append(("allowWatchBookmarks", "true"))
        if send_initial_events is not None:
            q.append(("sendInitialEvents", "true" if send_initial_events else "false"))
        return Watch(self, self._request("GET", resource_path(gvr, namespace), query=q, stream=True))

    # -- writing -----------------------------------------------------------------------------------

    @staticmethod
    def _write_query(dry_run: bool, field_manager: str | None, field_validation: str | None,
                     force: bool | None = None) -> Query:
        q: Query = []
        if dry_run:
            q.append(("dryRun", "All"))
        if field_manager:
            q.append(("fieldManager", field_manager))
        if field_validation:
            q.append(("fieldValidation", field_validation))
        if force is not None:
            q.append(("force", "true" if force else "false"))
        return q

    async def create(self, gvr: GVR, obj: Mapping[str, Any], *, namespace: str | None = None, dry_run: bool = False,
                     field_manager: str | None = None, field_validation: str | None = None) -> Object:
        """POST `obj`; the namespace defaults to the object's own."""
        ns = namespace if namespace is not None else _meta(obj).get("namespace")
        return await self._object("POST", resource_path(gvr, ns), body=obj,
                                  query=self._write_query(dry_run, field_manager, field_validation))

    async def update(self, gvr: GVR, obj: Mapping[str, Any], *, namespace: str | None = None,
                     subresource: str | None = None, dry_run: bool = False, field_manager: str | None = None,
                     field_validation: str | None = None) -> Object:
        """PUT `obj` (its metadata.resourceVersion, if set, makes this a compare-and-swap)."""
        meta = _meta(obj)
        name = meta.get("name")
        if not name:
            raise BadRequest(400, "BadRequest", "update needs metadata.name")
        ns = namespace if namespace is not None else meta.get("namespace")
        return await self._object("PUT", resource_path(gvr, ns, name, subresource), body=obj,
                                  query=self._write_query(dry_run, field_manager, field_validation))

    async def update_status(self, gvr: GVR, obj: Mapping[str, Any], *, namespace: str | None = None,
                            dry_run: bool = False, field_manager: str | None = None) -> Object:
        return await self.update(gvr, obj, namespace=namespace, subresource="status", dry_run=dry_run,
                                 field_manager=field_manager)

    async def patch(self, gvr: GVR, name: str, patch: Any, *, namespace: str | None = None,
                    patch_type: PatchType = "merge", subresource: str | None = None, dry_run: bool = False,
                    field_manager: str | None = None, force: bool | None = None,
                    field_validation: str | None = None) -> Object:
        """PATCH with a JSON patch (list), merge patch, strategic merge patch or apply configuration."""
        if patch_type not in PATCH_CONTENT_TYPES:
            raise ValueError(f"unknown patch type {patch_type!r}")
        if patch_type == "apply" and not field_manager:
            raise ValueError("an apply patch needs a field_manager")
        q = self._write_query(dry_run, field_manager, field_validation, force if patch_type == "apply" else None)
        return await self._object("PATCH", resource_path(gvr, namespace, name, subresource), body=patch, query=q,
                                  content_type=PATCH_CONTENT_TYPES[patch_type])

    async def apply(self, gvr: GVR, obj: Mapping[str, Any], *, field_manager: str, force: bool = False,
                    namespace: str | None = None, subresource: str | None = None, dry_run: bool = False) -> Object:
        """Server-side apply of `obj` (the fields this manager owns); `force` takes over conflicting fields."""
        meta = _meta(obj)
        ns = namespace if namespace is not None else meta.get("namespace")
        name = meta.get("name")
        if not name:
            raise BadRequest(400, "BadRequest", "apply needs metadata.name")
        return await self.patch(gvr, name, obj, namespace=ns, patch_type="apply", subresource=subresource,
                                dry_run=dry_run, field_manager=field_manager, force=force)

    @staticmethod
    def _delete_options(propagation_policy: str | None, grace_period_seconds: int | None,
                        preconditions: Mapping[str, str] | None, dry_run: bool) -> Object:
        body: Object = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            body["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            body["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            body["preconditions"] = {k: v for k, v in preconditions.items() if v is not None}
        if dry_run:
            body["dryRun"] = ["All"]
        return body

    async def delete(self, gvr: GVR, name: str, *, namespace: str | None = None, propagation_policy: str | None = None,
                     grace_period_seconds: int | None = None, preconditions: Mapping[str, str] | None = None,
                     dry_run: bool = False) -> Object:
        """DELETE one object. `preconditions` may hold `uid` and/or `resourceVersion`. Returns the
        server's answer: a Status, or the object when deletion is deferred (finalizers, grace period)."""
        body = self._delete_options(propagation_policy, grace_period_seconds, preconditions, dry_run)
        return await self._object("DELETE", resource_path(gvr, namespace, name), body=body)

    async def delete_collection(self, gvr: GVR, *, namespace: str | None = None, label_selector: Selector = None,
                                field_selector: str | None = None, propagation_policy: str | None = None,
                                grace_period_seconds: int | None = None, dry_run: bool = False) -> Object:
        body = self._delete_options(propagation_policy, grace_period_seconds, None, dry_run)
        q = self._list_query(label_selector=label_selector, field_selector=field_selector, limit=None, continue_=None,
                             resource_version=None, resource_version_match=None, timeout_seconds=None)
        return await self._object("DELETE", resource_path(gvr, namespace), body=body, query=q)

    # -- subresources ------------------------------------------------------------------------------

    async def create_subresource(self, gvr: GVR, name: str, subresource: str, body: Mapping[str, Any], *,
                                 namespace: str | None = None, dry_run: bool = False) -> Object:
        """POST to an object's subresource (binding, eviction, token, ...)."""
        return await self._object("POST", resource_path(gvr, namespace, name, subresource), body=body,
                                  query=self._write_query(dry_run, None, None))

    async def get_scale(self, gvr: GVR, name: str, *, namespace: str | None = None) -> Object:
        """The autoscaling/v1 Scale of a deployment, replica set, stateful set, ..."""
        return await self.get(gvr, name, namespace=namespace, subresource="scale")

    async def scale(self, gvr: GVR, name: str, replicas: int, *, namespace: str | None = None) -> Object:
        """Set spec.replicas through the scale subresource; returns the new Scale."""
        return await self.patch(gvr, name, {"spec": {"replicas": replicas}}, namespace=namespace, subresource="scale")

    async def bind(self, namespace: str, pod: str, node: str, *, uid: str | None = None) -> Object:
        """Bind a pod to a node (the scheduler's write): POST pods/<pod>/binding."""
        meta: Object = {"name": pod, "namespace": namespace}
        if uid:
            meta["uid"] = uid
        binding = {"apiVersion": "v1", "kind": "Binding", "metadata": meta,
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        return await self.create_subresource(PODS, pod, "binding", binding, namespace=namespace)

    async def evict(self, namespace: str, pod: str, *, grace_period_seconds: int | None = None,
                    dry_run: bool = False) -> Object:
        """Evict a pod through the eviction subresource (policy/v1), honouring disruption budgets."""
        eviction: Object = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": pod, "namespace": namespace}}
        if grace_period_seconds is not None or dry_run:
            eviction["deleteOptions"] = self._delete_options(None, grace_period_seconds, None, dry_run)
        return await self.create_subresource(PODS, pod, "eviction", eviction, namespace=namespace)
