"""The RESTMapper: kinds to resources and back, names as kubectl accepts them, refresh on a miss."""

from __future__ import annotations

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.config import Config
from kijabi.client.errors import NoMatchError
from kijabi.client.rest import DEPLOYMENTS, GVR, Client
from kijabi.client.testing import FakeAPIServer, FakeTransport, json_response
from kijabi.client.transport import Request, Response


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("deployments", DEPLOYMENTS), ("deployment", DEPLOYMENTS), ("Deployment", DEPLOYMENTS),
        ("deployments.apps", DEPLOYMENTS), ("deployments.v1.apps", DEPLOYMENTS),
        ("events", GVR("", "v1", "events")), ("events.events.k8s.io", GVR("events.k8s.io", "v1", "events")),
        ("leases", GVR("coordination.k8s.io", "v1", "leases")),
    ],
    ids=lambda v: str(v),
)
async def test_resource_for_name(client: Client, name: str, expected: GVR) -> None:
    assert (await client.mapper.resource_for_name(name)).gvr == expected


async def test_resource_for_kind_and_kind_for(client: Client) -> None:
    r = await client.resource_for("apps/v1", "Deployment")
    assert (r.gvr, r.namespaced, "status" in r.subresources) == (DEPLOYMENTS, True, True)
    node = await client.mapper.kind_for(GVR("", "v1", "nodes"))
    assert (node.kind, node.namespaced) == ("Node", False)


async def test_discovery_is_cached(client: Client, transport: FakeTransport) -> None:
    await client.resource_for("v1", "Pod")
    await client.resource_for("v1", "ConfigMap")
    assert [r.path for r in transport.requests] == ["/api", "/apis"]
    assert "apidiscovery.k8s.io" in transport.requests[0].headers["Accept"]


async def test_a_miss_rereads_discovery_at_most_once_per_interval(client: Client, api: FakeAPIServer,
                                                                  transport: FakeTransport, clock: FakeClock) -> None:
    """A CRD created after the first lookup is found once discovery is re-read."""
    await client.resource_for("v1", "Pod")
    clock.advance(10)
    api.register(GVR("example.com", "v1", "widgets"), "Widget")
    assert (await client.resource_for("example.com/v1", "Widget")).gvr.resource == "widgets"
    assert len(transport.requests) == 4  # the first read, and the re-read for Widget
    with pytest.raises(NoMatchError, match='kind "Gadget"'):
        await client.resource_for("example.com/v1", "Gadget")
    assert len(transport.requests) == 4  # discovery was read less than 5 s ago: no re-read
    clock.advance(10)
    with pytest.raises(NoMatchError):
        await client.resource_for("example.com/v1", "Gadget")
    assert len(transport.requests) == 6


async def test_legacy_discovery_is_walked_when_aggregated_is_not_served(clock: FakeClock) -> None:
    docs = {
        "/api": {"kind": "APIVersions", "versions": ["v1"]},
        "/api/v1": {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "pods", "kind": "Pod", "namespaced": True, "verbs": ["get"], "shortNames": ["po"]},
            {"name": "pods/status", "kind": "Pod", "namespaced": True, "verbs": ["get"]}]},
        "/apis": {"kind": "APIGroupList", "groups": [{"name": "batch", "preferredVersion": {"version": "v1"},
                                                      "versions": [{"version": "v1beta1"}, {"version": "v1"}]}]},
        "/apis/batch/v1": {"kind": "APIResourceList", "resources": [{"name": "jobs", "kind": "Job", "namespaced": True}]},
        "/apis/batch/v1beta1": {"kind": "APIResourceList", "resources": [{"name": "jobs", "kind": "Job", "namespaced": True}]},
    }

    def handler(request: Request) -> Response:
        return json_response(200, docs[request.path])

    client = Client(Config(server="https://x", qps=-1), transport=FakeTransport(handler), clock=clock)
    pods = await client.mapper.resource_for_name("po")
    assert (pods.gvr, pods.subresources) == (GVR("", "v1", "pods"), ("status",))
    assert (await client.mapper.resource_for_name("jobs")).gvr == GVR("batch", "v1", "jobs")
