"""The REST client against a real kijabi server (TLS, client certificates) and a local plain HTTP server."""

from __future__ import annotations

import gzip
import socket
from collections.abc import AsyncIterator

import orjson
import pytest
from aiohttp import web

from kijabi.client import errors
from kijabi.client.config import Config
from kijabi.client.rest import CONFIGMAPS, DEPLOYMENTS, NODES, PODS, Client, RetryPolicy
from tests.client.helpers import configmap, pod
from tests.e2e.cluster import Cluster


def _deployment(name: str, replicas: int = 1) -> dict[str, object]:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


async def test_crud_and_optimistic_concurrency(kube: Client, ns: str) -> None:
    created = await kube.create(CONFIGMAPS, configmap("c1", ns, a="1"))
    assert created["metadata"]["uid"] and created["metadata"]["namespace"] == ns
    got = await kube.get(CONFIGMAPS, "c1", namespace=ns)
    assert got["data"] == {"a": "1"}
    got["data"]["a"] = "2"
    updated = await kube.update(CONFIGMAPS, got)
    assert int(updated["metadata"]["resourceVersion"]) > int(created["metadata"]["resourceVersion"])
    with pytest.raises(errors.Conflict, match="the object has been modified"):
        await kube.update(CONFIGMAPS, got)  # stale resourceVersion
    with pytest.raises(errors.AlreadyExists):
        await kube.create(CONFIGMAPS, configmap("c1", ns))
    patched = await kube.patch(CONFIGMAPS, "c1", [{"op": "add", "path": "/data/b", "value": "3"}], namespace=ns,
                               patch_type="json")
    assert patched["data"] == {"a": "2", "b": "3"}
    patched = await kube.patch(CONFIGMAPS, "c1", {"data": {"a": None}}, namespace=ns)
    assert patched["data"] == {"b": "3"}
    with pytest.raises(errors.Conflict, match="Precondition failed"):
        await kube.delete(CONFIGMAPS, "c1", namespace=ns, preconditions={"uid": "not-the-uid"})
    await kube.delete(CONFIGMAPS, "c1", namespace=ns, preconditions={"uid": created["metadata"]["uid"]})
    with pytest.raises(errors.NotFound, match='configmaps "c1" not found'):
        await kube.get(CONFIGMAPS, "c1", namespace=ns)


async def test_validation_errors_are_invalid_with_causes(kube: Client, ns: str) -> None:
    with pytest.raises(errors.Invalid) as info:
        await kube.create(DEPLOYMENTS, _deployment("bad", replicas=-1), namespace=ns)
    assert any(c.get("field") == "spec.replicas" for c in info.value.causes)


async def test_server_side_apply_with_field_managers(kube: Client, ns: str) -> None:
    await kube.apply(CONFIGMAPS, configmap("applied", ns, owner="a"), field_manager="alpha")
    with pytest.raises(errors.Conflict):
        await kube.apply(CONFIGMAPS, configmap("applied", ns, owner="b"), field_manager="beta")
    forced = await kube.apply(CONFIGMAPS, configmap("applied", ns, owner="b"), field_manager="beta", force=True)
    assert forced["data"] == {"owner": "b"}
    assert {m["manager"] for m in forced["metadata"]["managedFields"]} >= {"beta"}


async def test_pagination_and_selectors(kube: Client, ns: str) -> None:
    for i in range(7):
        await kube.create(CONFIGMAPS, configmap(f"p{i}", ns, labels={"parity": "even" if i % 2 == 0 else "odd"}))
    first = await kube.list(CONFIGMAPS, namespace=ns, limit=3)
    assert len(first["items"]) == 3 and first["metadata"]["continue"]
    everything = await kube.list_all(CONFIGMAPS, namespace=ns, page_size=3)
    names = [o["metadata"]["name"] for o in everything["items"]]
    assert [n for n in names if n.startswith("p")] == [f"p{i}" for i in range(7)]
    evens = await kube.list(CONFIGMAPS, namespace=ns, label_selector={"parity": "even"})
    assert sorted(o["metadata"]["name"] for o in evens["items"]) == ["p0", "p2", "p4", "p6"]
    one = await kube.list(CONFIGMAPS, namespace=ns, field_selector="metadata.name=p5")
    assert [o["metadata"]["name"] for o in one["items"]] == ["p5"]
    gone = await kube.delete_collection(CONFIGMAPS, namespace=ns, label_selector="parity=odd")
    assert len(gone["items"]) == 3
    assert len((await kube.list(CONFIGMAPS, namespace=ns, label_selector="parity"))["items"]) == 4


async def test_watch_and_resume_from_a_resource_version(kube: Client, ns: str) -> None:
    listed = await kube.list(CONFIGMAPS, namespace=ns)
    start_rv = listed["metadata"]["resourceVersion"]
    seen: list[tuple[str, str]] = []
    async with kube.watch(CONFIGMAPS, namespace=ns, resource_version=start_rv, timeout_seconds=30) as w:
        await kube.create(CONFIGMAPS, configmap("w1", ns))
        await kube.patch(CONFIGMAPS, "w1", {"data": {"x": "1"}}, namespace=ns)
        async for etype, obj in w:
            seen.append((etype, obj["metadata"]["name"]))
            last_rv = obj["metadata"]["resourceVersion"]
            if len(seen) == 2:
                break
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1")]
    await kube.delete(CONFIGMAPS, "w1", namespace=ns)  # while nobody watches
    async with kube.watch(CONFIGMAPS, namespace=ns, resource_version=last_rv, timeout_seconds=30) as w:
        etype, obj = await anext(w)
    assert (etype, obj["metadata"]["name"]) == ("DELETED", "w1")


async def test_watch_timeout_ends_the_iteration(kube: Client, ns: str) -> None:
    listed = await kube.list(CONFIGMAPS, namespace=ns)
    events = [ev async for ev in kube.watch(CONFIGMAPS, namespace=ns, timeout_seconds=1,
                                            resource_version=listed["metadata"]["resourceVersion"])]
    assert all(ev.type == "BOOKMARK" for ev in events)


async def test_subresources_status_scale_binding_eviction(kube: Client, ns: str) -> None:
    await kube.create(DEPLOYMENTS, _deployment("web", 1), namespace=ns)
    scale = await kube.get_scale(DEPLOYMENTS, "web", namespace=ns)
    assert (scale["kind"], scale["spec"]["replicas"]) == ("Scale", 1)
    scaled = await kube.scale(DEPLOYMENTS, "web", 4, namespace=ns)
    assert scaled["spec"]["replicas"] == 4
    assert (await kube.get(DEPLOYMENTS, "web", namespace=ns))["spec"]["replicas"] == 4

    await kube.create(NODES, {"metadata": {"name": f"node-{ns}"}})
    created = await kube.create(PODS, pod("p", ns))
    await kube.bind(ns, "p", f"node-{ns}", uid=created["metadata"]["uid"])
    bound = await kube.get(PODS, "p", namespace=ns)
    assert bound["spec"]["nodeName"] == f"node-{ns}"
    bound["status"] = {**bound.get("status", {}), "phase": "Running"}
    after = await kube.update_status(PODS, bound)
    assert after["status"]["phase"] == "Running"
    await kube.evict(ns, "p")
    evicted = await kube.get(PODS, "p", namespace=ns)  # a bound pod is deleted gracefully (its kubelet finishes)
    assert evicted["metadata"]["deletionTimestamp"]


async def test_discovery_mapper_on_the_real_server(kube: Client) -> None:
    dep = await kube.resource_for("apps/v1", "Deployment")
    assert dep.gvr == DEPLOYMENTS and dep.namespaced and "scale" in dep.subresources
    assert (await kube.mapper.resource_for_name("no")).gvr == NODES
    with pytest.raises(errors.NoMatchError):
        await kube.resource_for("example.com/v1", "Nothing")


async def test_bad_credentials_are_unauthorized(cluster: Cluster) -> None:
    cfg = Client.from_kubeconfig(str(cluster.kubeconfig)).config
    cfg = cfg.with_options(client_cert_data=None, client_key_data=None, token="wrong")
    async with Client(cfg) as c:
        with pytest.raises(errors.Unauthorized):
            await c.list(NODES)


# -- the transport over a local plain-HTTP server -------------------------------------------------


@pytest.fixture
async def local() -> AsyncIterator[tuple[str, list[web.Request], list[web.Response]]]:
    """A local HTTP server answering from a script (the last answer repeats)."""
    seen: list[web.Request] = []
    script: list[web.Response] = []

    async def handle(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        return script.pop(0) if len(script) > 1 else script[0]

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen, script
    await runner.cleanup()


async def test_gzip_answers_are_decoded(local: tuple[str, list[web.Request], list[web.Response]]) -> None:
    url, seen, script = local
    body = orjson.dumps({"kind": "ConfigMap", "data": {"big": "x" * 10000}})
    script.append(web.Response(body=gzip.compress(body), headers={"Content-Encoding": "gzip",
                                                                   "Content-Type": "application/json"}))
    async with Client(Config(server=url, qps=-1, token="t")) as c:
        got = await c.get(CONFIGMAPS, "big", namespace="ns")
    assert got["data"]["big"] == "x" * 10000
    assert seen[0].headers["Accept-Encoding"] == "gzip" and seen[0].headers["Authorization"] == "Bearer t"
    assert seen[0].headers["User-Agent"].startswith("kijabi-client/")


async def test_retry_after_is_honoured_over_the_wire(local: tuple[str, list[web.Request], list[web.Response]]) -> None:
    url, seen, script = local
    script.append(web.json_response({"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "slow down"},
                                    status=429, headers={"Retry-After": "0"}))
    script.append(web.json_response({"kind": "ConfigMap"}))
    async with Client(Config(server=url, qps=-1)) as c:
        assert await c.create(CONFIGMAPS, configmap("c", "ns")) == {"kind": "ConfigMap"}
    assert [r.method for r in seen] == ["POST", "POST"]


async def test_refused_connection_is_a_transport_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with Client(Config(server=f"http://127.0.0.1:{port}", qps=-1),
                      retry=RetryPolicy(max_retries=1, initial_backoff=0.01)) as c:
        with pytest.raises(errors.TransportError) as info:
            await c.get(NODES, "n")
    assert info.value.sent is False
