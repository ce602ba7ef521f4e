"""The REST client over a fake transport: requests on the wire, retries, rate limit, errors, watch decoding."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from kijabi.client import errors
from kijabi.client.clock import FakeClock
from kijabi.client.config import Config
from kijabi.client.rest import (
    CONFIGMAPS,
    DEPLOYMENTS,
    GVR,
    NO_RETRY,
    PODS,
    Client,
    RetryPolicy,
    resource_path,
)
from kijabi.client.testing import (
    FakeAPIServer,
    FakeTransport,
    json_response,
    status_body,
    status_response,
    stream_response,
)
from kijabi.client.transport import Request, Response
from tests.client.helpers import configmap


def _client(handler: Callable[[Request], Any], clock: FakeClock, *, qps: float = -1, burst: int = 10,
            retry: RetryPolicy = RetryPolicy(max_retries=3, initial_backoff=1.0, jitter=0.0)) -> tuple[Client, FakeTransport]:
    transport = FakeTransport(handler)
    return Client(Config(server="https://fake", qps=qps, burst=burst), transport=transport, clock=clock, retry=retry), transport


def _script(*responses: Response | Exception) -> Callable[[Request], Response]:
    queue = list(responses)

    def handler(request: Request) -> Response:
        item = queue.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    return handler


async def _run_with_clock(clock: FakeClock, coro: Any) -> Any:
    """Run `coro`, advancing fake time whenever it sleeps, until it finishes."""
    task = asyncio.ensure_future(coro)
    while not task.done():
        await asyncio.sleep(0)
        deadline = clock.next_deadline()
        if deadline is not None:
            clock.advance(deadline - clock.now())
    return task.result()


# -- addressing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gvr", "ns", "name", "sub", "path"),
    [
        (PODS, None, None, None, "/api/v1/pods"),
        (PODS, "kube-system", None, None, "/api/v1/namespaces/kube-system/pods"),
        (PODS, "ns", "web-0", "status", "/api/v1/namespaces/ns/pods/web-0/status"),
        (DEPLOYMENTS, "ns", "d", "scale", "/apis/apps/v1/namespaces/ns/deployments/d/scale"),
        (GVR("rbac.authorization.k8s.io", "v1", "clusterroles"), None, "system:node", None,
         "/apis/rbac.authorization.k8s.io/v1/clusterroles/system:node"),
        (CONFIGMAPS, "ns", "a b/c", None, "/api/v1/namespaces/ns/configmaps/a%20b%2Fc"),
    ],
    ids=["core-cluster-wide", "core-namespaced", "subresource", "group-subresource", "colon-in-name", "escaped-name"],
)
def test_resource_paths(gvr: GVR, ns: str | None, name: str | None, sub: str | None, path: str) -> None:
    assert resource_path(gvr, ns, name, sub) == path


def test_gvr_helpers() -> None:
    assert GVR.of("apps/v1", "deployments") == DEPLOYMENTS
    assert GVR.of("v1", "pods") == PODS
    assert (DEPLOYMENTS.api_version, PODS.api_version) == ("apps/v1", "v1")
    assert str(DEPLOYMENTS) == "deployments.v1.apps"


async def test_list_query_carries_selectors_paging_and_version(clock: FakeClock) -> None:
    client, transport = _client(lambda r: json_response(200, {"kind": "PodList", "items": [], "metadata": {}}), clock)
    await client.list(PODS, namespace="ns", label_selector={"b": "2", "a": "1"}, field_selector="spec.nodeName=n1",
                      limit=50, continue_="tok", resource_version="0", resource_version_match="NotOlderThan",
                      timeout_seconds=5)
    req = transport.requests[0]
    assert req.method == "GET" and req.path == "/api/v1/namespaces/ns/pods"
    assert dict(req.query) == {"labelSelector": "a=1,b=2", "fieldSelector": "spec.nodeName=n1", "limit": "50",
                               "continue": "tok", "resourceVersion": "0", "resourceVersionMatch": "NotOlderThan",
                               "timeoutSeconds": "5"}
    assert req.headers["Accept"] == "application/json"


@pytest.mark.parametrize(
    ("patch_type", "content_type"),
    [("json", "application/json-patch+json"), ("merge", "application/merge-patch+json"),
     ("strategic", "application/strategic-merge-patch+json"), ("apply", "application/apply-patch+yaml")],
    ids=["json", "merge", "strategic", "apply"],
)
async def test_patch_content_types(clock: FakeClock, patch_type: Any, content_type: str) -> None:
    client, transport = _client(lambda r: json_response(200, {"kind": "ConfigMap"}), clock)
    await client.patch(CONFIGMAPS, "c", {"data": {}}, namespace="ns", patch_type=patch_type, field_manager="me",
                       force=True)
    req = transport.requests[0]
    assert req.method == "PATCH" and req.headers["Content-Type"] == content_type
    assert req.param("fieldManager") == "me"
    assert req.param("force") == ("true" if patch_type == "apply" else None)


async def test_apply_requires_a_field_manager(clock: FakeClock) -> None:
    client, _ = _client(lambda r: json_response(200, {}), clock)
    with pytest.raises(ValueError, match="field_manager"):
        await client.patch(CONFIGMAPS, "c", {}, namespace="ns", patch_type="apply")


async def test_delete_sends_delete_options(clock: FakeClock) -> None:
    client, transport = _client(lambda r: json_response(200, {"kind": "Status", "status": "Success"}), clock)
    await client.delete(PODS, "p", namespace="ns", propagation_policy="Foreground", grace_period_seconds=0,
                        preconditions={"uid": "u-1", "resourceVersion": "7"}, dry_run=True)
    req = transport.requests[0]
    assert req.method == "DELETE" and req.path == "/api/v1/namespaces/ns/pods/p"
    assert orjson.loads(req.body or b"") == {
        "kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Foreground", "gracePeriodSeconds": 0,
        "preconditions": {"uid": "u-1", "resourceVersion": "7"}, "dryRun": ["All"]}


async def test_create_and_update_take_the_namespace_from_the_object(clock: FakeClock) -> None:
    client, transport = _client(lambda r: json_response(201, {"kind": "ConfigMap"}), clock)
    await client.create(CONFIGMAPS, configmap("c", "team"), field_manager="ctl", field_validation="Strict", dry_run=True)
    await client.update(CONFIGMAPS, configmap("c", "team"))
    await client.update_status(PODS, {"metadata": {"name": "p", "namespace": "n"}})
    assert [(r.method, r.path) for r in transport.requests] == [
        ("POST", "/api/v1/namespaces/team/configmaps"), ("PUT", "/api/v1/namespaces/team/configmaps/c"),
        ("PUT", "/api/v1/namespaces/n/pods/p/status")]
    assert dict(transport.requests[0].query) == {"dryRun": "All", "fieldManager": "ctl", "fieldValidation": "Strict"}


async def test_bind_and_evict_bodies(clock: FakeClock) -> None:
    client, transport = _client(lambda r: json_response(201, {"kind": "Status", "status": "Success"}), clock)
    await client.bind("ns", "p", "node-1", uid="u")
    await client.evict("ns", "p", grace_period_seconds=3)
    bind, evict = (orjson.loads(r.body or b"") for r in transport.requests)
    assert transport.requests[0].path == "/api/v1/namespaces/ns/pods/p/binding"
    assert bind["target"] == {"apiVersion": "v1", "kind": "Node", "name": "node-1"} and bind["metadata"]["uid"] == "u"
    assert transport.requests[1].path == "/api/v1/namespaces/ns/pods/p/eviction"
    assert evict["apiVersion"] == "policy/v1" and evict["deleteOptions"]["gracePeriodSeconds"] == 3


# -- errors ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", errors.BadRequest), (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden), (404, "NotFound", errors.NotFound),
        (405, "MethodNotAllowed", errors.MethodNotAllowed), (409, "AlreadyExists", errors.AlreadyExists),
        (409, "Conflict", errors.Conflict), (410, "Expired", errors.Expired), (410, "Gone", errors.Expired),
        (413, "RequestEntityTooLarge", errors.RequestEntityTooLarge),
        (415, "UnsupportedMediaType", errors.UnsupportedMediaType), (422, "Invalid", errors.Invalid),
        (500, "InternalError", errors.InternalError), (504, "Timeout", errors.ServerTimeout),
        (418, "Teapot", errors.APIError),
    ],
    ids=lambda v: str(v) if not isinstance(v, type) else v.__name__,
)
async def test_status_maps_to_exception(clock: FakeClock, code: int, reason: str, cls: type[errors.APIError]) -> None:
    client, _ = _client(lambda r: status_response(code, reason, f"it is {reason}"), clock, retry=NO_RETRY)
    with pytest.raises(errors.APIError) as info:
        await client.get(PODS, "p", namespace="ns")
    assert type(info.value) is cls
    assert (info.value.code, info.value.reason, info.value.message) == (code, reason, f"it is {reason}")
    assert info.value.status()["code"] == code


async def test_invalid_exposes_causes(clock: FakeClock) -> None:
    body = status_body(422, "Invalid", 'Pod "p" is invalid', {"causes": [{"field": "spec.containers", "reason": "FieldValueRequired"}]})
    client, _ = _client(lambda r: json_response(422, body), clock)
    with pytest.raises(errors.Invalid) as info:
        await client.create(PODS, {"metadata": {"name": "p", "namespace": "n"}})
    assert info.value.causes[0]["field"] == "spec.containers"


async def test_non_status_error_body_becomes_the_message(clock: FakeClock) -> None:
    from kijabi.client.testing import FakeResponse

    client, _ = _client(lambda r: FakeResponse(404, b"404 page not found"), clock)
    with pytest.raises(errors.NotFound, match="404 page not found"):
        await client.get(PODS, "p", namespace="ns")


async def test_non_json_success_is_a_decode_error(clock: FakeClock) -> None:
    from kijabi.client.testing import FakeResponse

    client, _ = _client(lambda r: FakeResponse(200, b"<html>"), clock)
    with pytest.raises(errors.DecodeError):
        await client.get(PODS, "p", namespace="ns")


# -- retries and rate limit ------------------------------------------------------------------------


async def test_429_is_retried_for_any_verb_after_retry_after(clock: FakeClock) -> None:
    client, transport = _client(_script(status_response(429, "TooManyRequests", retry_after=7),
                                        json_response(201, {"kind": "ConfigMap"})), clock)
    start = clock.now()
    result = await _run_with_clock(clock, client.create(CONFIGMAPS, configmap("c")))
    assert result == {"kind": "ConfigMap"}
    assert len(transport.requests) == 2 and clock.now() - start == pytest.approx(7.0)


async def test_503_is_retried_with_exponential_backoff_for_get(clock: FakeClock) -> None:
    client, transport = _client(_script(status_response(503, "ServiceUnavailable"), status_response(503, "ServiceUnavailable"),
                                        json_response(200, {"kind": "Pod"})), clock)
    start = clock.now()
    assert await _run_with_clock(clock, client.get(PODS, "p", namespace="ns")) == {"kind": "Pod"}
    assert len(transport.requests) == 3 and clock.now() - start == pytest.approx(1.0 + 2.0)


async def test_503_is_not_retried_for_post(clock: FakeClock) -> None:
    client, transport = _client(_script(status_response(503, "ServiceUnavailable"), json_response(201, {})), clock)
    with pytest.raises(errors.ServiceUnavailable):
        await client.create(CONFIGMAPS, configmap("c"))
    assert len(transport.requests) == 1


async def test_5xx_with_retry_after_is_retried_even_for_post(clock: FakeClock) -> None:
    client, transport = _client(_script(status_response(500, "InternalError", retry_after=1), json_response(201, {})), clock)
    await _run_with_clock(clock, client.create(CONFIGMAPS, configmap("c")))
    assert len(transport.requests) == 2


async def test_500_without_retry_after_is_not_retried(clock: FakeClock) -> None:
    client, transport = _client(_script(status_response(500, "InternalError"), json_response(200, {})), clock)
    with pytest.raises(errors.InternalError):
        await client.get(PODS, "p", namespace="ns")
    assert len(transport.requests) == 1


@pytest.mark.parametrize(("method", "sent", "retried"),
                         [("GET", True, True), ("POST", True, False), ("POST", False, True)],
                         ids=["get-broken", "post-broken", "post-never-sent"])
async def test_connection_failures(clock: FakeClock, method: str, sent: bool, retried: bool) -> None:
    client, transport = _client(_script(errors.TransportError("reset", sent=sent), json_response(200, {"ok": True})), clock)
    coro = client.request(method, "/api/v1/namespaces/ns/configmaps", body={} if method == "POST" else None)
    if retried:
        assert await _run_with_clock(clock, coro) == {"ok": True}
    else:
        with pytest.raises(errors.TransportError):
            await coro
    assert len(transport.requests) == (2 if retried else 1)


async def test_retries_give_up_after_max_retries(clock: FakeClock) -> None:
    client, transport = _client(lambda r: status_response(429, "TooManyRequests", retry_after=1), clock)
    with pytest.raises(errors.TooManyRequests):
        await _run_with_clock(clock, client.get(PODS, "p", namespace="ns"))
    assert len(transport.requests) == 4


async def test_qps_limit_spaces_requests(clock: FakeClock) -> None:
    """burst 2 at 4 qps: two requests at once, then one every 0.25 s."""
    times: list[float] = []

    def handler(request: Request) -> Response:
        times.append(clock.now())
        return json_response(200, {})

    client, _ = _client(handler, clock, qps=4.0, burst=2)
    start = clock.now()

    async def five() -> None:
        for _ in range(5):
            await client.get(PODS, "p", namespace="ns")

    await _run_with_clock(clock, five())
    assert [round(t - start, 3) for t in times] == [0.0, 0.0, 0.25, 0.5, 0.75]


# -- list_all and watch ----------------------------------------------------------------------------


async def test_list_all_follows_continue_tokens(client: Client, api: FakeAPIServer) -> None:
    for i in range(7):
        api.seed(CONFIGMAPS, configmap(f"c{i}"))
    result = await client.list_all(CONFIGMAPS, namespace="default", page_size=3)
    assert [o["metadata"]["name"] for o in result["items"]] == [f"c{i}" for i in range(7)]
    assert "continue" not in result["metadata"] and result["metadata"]["resourceVersion"] == str(api.rv)
    assert [a.query.get("limit") for a in api.actions_of("list")] == ["3", "3", "3"]


async def test_list_all_falls_back_to_a_full_list_when_the_token_expires(client: Client, api: FakeAPIServer) -> None:
    for i in range(5):
        api.seed(CONFIGMAPS, configmap(f"c{i}"))

    def expire_second_page(action: Any) -> Response | None:
        if action.query.get("continue") and not api.get_object(CONFIGMAPS, "late", "default"):
            api.seed(CONFIGMAPS, configmap("late"))  # a write, then compaction, while paging
            api.compact()
        return None

    api.prepend_reactor("list", "configmaps", expire_second_page)
    result = await client.list_all(CONFIGMAPS, namespace="default", page_size=2)
    assert len(result["items"]) == 6
    assert [dict(a.query).get("limit") for a in api.actions_of("list")] == ["2", "2", None]


async def test_watch_yields_events_including_bookmarks(clock: FakeClock) -> None:
    events = [{"type": "ADDED", "object": {"metadata": {"name": "a", "resourceVersion": "5"}}},
              {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}},
              {"type": "DELETED", "object": {"metadata": {"name": "a", "resourceVersion": "10"}}}]
    client, transport = _client(lambda r: stream_response(events), clock)
    async with client.watch(CONFIGMAPS, namespace="ns", resource_version="4", timeout_seconds=60) as w:
        got = [(t, o["metadata"]["resourceVersion"]) async for t, o in w]
    assert got == [("ADDED", "5"), ("BOOKMARK", "9"), ("DELETED", "10")]
    assert dict(transport.requests[0].query) == {"watch": "true", "resourceVersion": "4", "timeoutSeconds": "60",
                                                 "allowWatchBookmarks": "true"}
    assert transport.requests[0].stream


async def test_watch_error_event_410_raises_expired(clock: FakeClock) -> None:
    events = [{"type": "ADDED", "object": {"metadata": {"name": "a"}}},
              {"type": "ERROR", "object": status_body(410, "Expired", "too old resource version: 1 (20)")}]
    client, _ = _client(lambda r: stream_response(events), clock)
    seen = []
    with pytest.raises(errors.Expired, match="too old resource version"):
        async for ev in client.watch(CONFIGMAPS, resource_version="1"):
            seen.append(ev.type)
    assert seen == ["ADDED"]


async def test_watch_survives_events_split_across_chunks(clock: FakeClock) -> None:
    from kijabi.client.testing import FakeResponse

    line = orjson.dumps({"type": "ADDED", "object": {"metadata": {"name": "x" * 5000}}}) + b"\n"
    resp = FakeResponse(200, stream=True)
    for i in range(0, len(line) * 2, 777):
        resp.push((line * 2)[i:i + 777])
    resp.end()
    client, _ = _client(lambda r: resp, clock)
    names = [o["metadata"]["name"] async for _, o in client.watch(CONFIGMAPS)]
    assert names == ["x" * 5000] * 2


async def test_closing_a_watch_closes_the_stream(client: Client, api: FakeAPIServer) -> None:
    w = client.watch(CONFIGMAPS, namespace="default")
    async with w:
        assert len(api.watchers) == 1
    assert api.watchers == []
    assert [ev async for ev in w] == []


async def test_fake_server_round_trip(client: Client, api: FakeAPIServer) -> None:
    """The in-memory server behaves like an API for the verbs (sanity check of the test double)."""
    created = await client.create(CONFIGMAPS, configmap("c", a="1"))
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    with pytest.raises(errors.AlreadyExists):
        await client.create(CONFIGMAPS, configmap("c"))
    stale = dict(created)
    await client.patch(CONFIGMAPS, "c", {"data": {"a": "2"}}, namespace="default")
    with pytest.raises(errors.Conflict):
        await client.update(CONFIGMAPS, stale)
    with pytest.raises(errors.Conflict):
        await client.delete(CONFIGMAPS, "c", namespace="default", preconditions={"uid": "other"})
    await client.delete(CONFIGMAPS, "c", namespace="default")
    with pytest.raises(errors.NotFound):
        await client.get(CONFIGMAPS, "c", namespace="default")
