"""The in-memory API server other components test against: subresources, finalizers, watches, reactors."""

from __future__ import annotations

import pytest

from kijabi.client import errors
from kijabi.client.rest import CONFIGMAPS, DEPLOYMENTS, PODS, Client
from kijabi.client.testing import Action, FakeAPIServer, status_response
from tests.client.helpers import configmap, pod


async def test_status_and_main_updates_do_not_overwrite_each_other(client: Client) -> None:
    created = await client.create(PODS, pod("p"))
    created["status"] = {"phase": "Running"}
    with_status = await client.update_status(PODS, created)
    assert with_status["status"] == {"phase": "Running"}
    with_status["status"] = {"phase": "Failed"}
    with_status["metadata"]["labels"] = {"a": "b"}
    main = await client.update(PODS, with_status)
    assert main["status"] == {"phase": "Running"} and main["metadata"]["labels"] == {"a": "b"}


async def test_binding_sets_the_node_once(client: Client) -> None:
    await client.create(PODS, pod("p"))
    await client.bind("default", "p", "n1")
    assert (await client.get(PODS, "p", namespace="default"))["spec"]["nodeName"] == "n1"
    with pytest.raises(errors.Conflict, match="already assigned"):
        await client.bind("default", "p", "n2")


async def test_scale_subresource(client: Client) -> None:
    await client.create(DEPLOYMENTS, {"metadata": {"name": "d", "namespace": "default"}, "spec": {"replicas": 1}})
    assert (await client.get_scale(DEPLOYMENTS, "d", namespace="default"))["spec"]["replicas"] == 1
    await client.scale(DEPLOYMENTS, "d", 3, namespace="default")
    assert (await client.get(DEPLOYMENTS, "d", namespace="default"))["spec"]["replicas"] == 3


async def test_finalizers_defer_deletion_until_removed(client: Client, api: FakeAPIServer) -> None:
    cm = configmap("f")
    cm["metadata"]["finalizers"] = ["example.com/hold"]
    await client.create(CONFIGMAPS, cm)
    pending = await client.delete(CONFIGMAPS, "f", namespace="default")
    assert pending["metadata"]["deletionTimestamp"]
    await client.patch(CONFIGMAPS, "f", {"metadata": {"finalizers": None}}, namespace="default")
    assert api.get_object(CONFIGMAPS, "f", "default") is None


async def test_generate_name_and_strategic_merge(client: Client) -> None:
    p = pod("")
    p["metadata"] = {"generateName": "web-", "namespace": "default"}
    created = await client.create(PODS, p)
    name = created["metadata"]["name"]
    assert name.startswith("web-") and len(name) == 9
    patched = await client.patch(PODS, name, {"spec": {"containers": [{"name": "c", "image": "v2"}]}},
                                 namespace="default", patch_type="strategic")
    assert patched["spec"]["containers"] == [{"name": "c", "image": "v2"}]


async def test_reactors_answer_first_and_actions_are_recorded(client: Client, api: FakeAPIServer) -> None:
    api.prepend_reactor("create", "configmaps", lambda a: status_response(503, "ServiceUnavailable"))
    with pytest.raises(errors.ServiceUnavailable):
        await client.create(CONFIGMAPS, configmap("c"))
    assert api.actions == [Action("create", CONFIGMAPS, "default", "", "", configmap("c"), {})]


async def test_watch_from_an_old_version_after_compaction_is_410(client: Client, api: FakeAPIServer) -> None:
    old = await client.create(CONFIGMAPS, configmap("a"))
    await client.create(CONFIGMAPS, configmap("b"))
    api.compact()
    with pytest.raises(errors.Expired):
        async for _ in client.watch(CONFIGMAPS, resource_version=old["metadata"]["resourceVersion"]):
            pass
