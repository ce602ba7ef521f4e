"""Indexers, listers and shared informers: cache contents, notifications, resync, sharing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kijabi.client.cache import (
    DeletedFinalStateUnknown,
    Indexer,
    Lister,
    copy_object,
    meta_namespace_key,
    split_key,
)
from kijabi.client.clock import FakeClock
from kijabi.client.informers import (
    EventHandlerFuncs,
    FilteringEventHandler,
    SharedIndexInformer,
    SharedInformerFactory,
)
from kijabi.client.ratelimit import Backoff
from kijabi.client.rest import CONFIGMAPS, PODS, Client
from kijabi.client.testing import FakeAPIServer
from tests.client.helpers import configmap, pod, until


class Recorder:
    """A handler that records what it was told."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def on_add(self, obj: dict[str, Any], is_initial_list: bool) -> None:
        self.events.append(("add", obj["metadata"]["name"], is_initial_list))

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.events.append(("update", new["metadata"]["name"], old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion")))

    def on_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self.events.append(("delete-unknown", obj.key))
        else:
            self.events.append(("delete", obj["metadata"]["name"]))


def by_node(obj: dict[str, Any]) -> list[str]:
    node = (obj.get("spec") or {}).get("nodeName")
    return [node] if node else []


# -- keys, indexer, lister -------------------------------------------------------------------------


@pytest.mark.parametrize(("obj", "key"), [
    (configmap("a", "ns"), "ns/a"),
    ({"metadata": {"name": "node-1"}}, "node-1"),
    (DeletedFinalStateUnknown("ns/gone", {}), "ns/gone"),
], ids=["namespaced", "cluster-scoped", "deleted-final-state-unknown"])
def test_keys(obj: Any, key: str) -> None:
    assert meta_namespace_key(obj) == key


def test_split_key() -> None:
    assert split_key("ns/a") == ("ns", "a")
    assert split_key("node-1") == ("", "node-1")
    with pytest.raises(ValueError):
        split_key("a/b/c")


def test_indexer_keeps_indices_in_step_with_updates_and_deletes() -> None:
    idx = Indexer({"node": by_node})
    idx.add(pod("p1", node="n1"))
    idx.add(pod("p2", node="n1"))
    idx.add(pod("p3", "other", node="n2"))
    assert sorted(o["metadata"]["name"] for o in idx.by_index("node", "n1")) == ["p1", "p2"]
    idx.update(pod("p2", node="n2"))
    assert idx.index_keys("node", "n2") == {"default/p2", "other/p3"}
    idx.delete("other/p3")
    assert idx.index_keys("node", "n2") == {"default/p2"}
    assert idx.index_values("node") == ["n1", "n2"]
    assert idx.index_keys("namespace", "other") == set()
    assert [o["metadata"]["name"] for o in idx.index("node", pod("x", node="n1"))] == ["p1"]


def test_indexers_added_later_index_existing_objects() -> None:
    idx = Indexer()
    idx.add(pod("p1", node="n1"))
    idx.add_indexers({"node": by_node})
    assert idx.index_keys("node", "n1") == {"default/p1"}
    with pytest.raises(ValueError):
        idx.add_indexers({"node": lambda o: []})


def test_lister_filters_by_namespace_and_selector_and_shares_objects() -> None:
    idx = Indexer()
    stored = configmap("a", "ns1", labels={"app": "web", "tier": "fe"})
    idx.add(stored)
    idx.add(configmap("b", "ns1", labels={"app": "db"}))
    idx.add(configmap("c", "ns2", labels={"app": "web"}))
    lister = Lister(idx)

    def names(objs: list[dict[str, Any]]) -> list[str]:
        return sorted(o["metadata"]["name"] for o in objs)

    assert names(lister.list()) == ["a", "b", "c"]
    assert names(lister.list("ns1")) == ["a", "b"]
    assert names(lister.list(selector="app=web")) == ["a", "c"]
    assert names(lister.list("ns1", {"app": "web"})) == ["a"]
    assert names(lister.list(selector="app in (web,db),tier!=fe")) == ["b", "c"]
    assert lister.get("a", "ns1") is stored  # the very same dict: no copy on read
    assert lister.get("a", "ns2") is None
    assert lister.get_by_key("ns1/a") is stored
    clone = copy_object(stored)
    clone["data"]["x"] = "changed"
    assert "x" not in stored["data"]


# -- informers over the fake API -------------------------------------------------------------------


@pytest.fixture
async def informer(client: Client, clock: FakeClock) -> AsyncIterator[SharedIndexInformer]:
    inf = SharedIndexInformer(client, CONFIGMAPS, namespace="default", clock=clock,
                              backoff=Backoff(1.0, 8.0, jitter=0.0, clock=clock))
    yield inf


async def _run(inf: SharedIndexInformer) -> asyncio.Task[None]:
    task = asyncio.create_task(inf.run())
    assert await inf.wait_for_sync(5)
    return task


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def test_handlers_see_initial_list_then_changes(informer: SharedIndexInformer, api: FakeAPIServer,
                                                      client: Client) -> None:
    api.seed(CONFIGMAPS, configmap("a"))
    rec = Recorder()
    informer.add_event_handler(rec)
    assert not informer.has_synced()
    task = await _run(informer)
    try:
        await until(lambda: len(api.watchers) == 1)
        await client.create(CONFIGMAPS, configmap("b"))
        await client.patch(CONFIGMAPS, "a", {"data": {"k": "v"}}, namespace="default")
        await client.delete(CONFIGMAPS, "b", namespace="default")
        await until(lambda: len(rec.events) == 4)
        assert rec.events == [("add", "a", True), ("add", "b", False), ("update", "a", False), ("delete", "b")]
        assert informer.lister().get("a", "default")["data"] == {"k": "v"}  # type: ignore[index]
        assert informer.last_sync_resource_version == str(api.rv)
    finally:
        await _stop(task)


async def test_relist_reports_what_changed_while_disconnected(informer: SharedIndexInformer, api: FakeAPIServer,
                                                              clock: FakeClock) -> None:
    """After a 410 re-list: vanished objects come as DeletedFinalStateUnknown, changed ones as updates,
    new ones as adds, unchanged ones not at all."""
    for name in ("keep", "change", "vanish"):
        api.seed(CONFIGMAPS, configmap(name))
    rec = Recorder()
    informer.add_event_handler(rec)
    task = await _run(informer)
    try:
        await until(lambda: len(api.watchers) == 1)
        api.close_watches()  # no events on this watch: "very short watch", so a re-list follows a backoff
        await clock.wait_for_timers(1)
        api.objects[("", "configmaps")].pop(("default", "vanish"))
        api.seed(CONFIGMAPS, configmap("new"))
        stored = api.objects[("", "configmaps")][("default", "change")]
        stored["data"] = {"x": "1"}
        stored["metadata"]["resourceVersion"] = str(api._next_rv())
        api.compact()
        clock.advance(1.0)
        await until(lambda: len(rec.events) == 6)
        assert rec.events[3:] == [("update", "change", False), ("add", "new", False), ("delete-unknown", "default/vanish")]
        assert sorted(informer.indexer.list_keys()) == ["default/change", "default/keep", "default/new"]
    finally:
        await _stop(task)


async def test_late_handler_gets_the_cache_as_initial_adds(informer: SharedIndexInformer, api: FakeAPIServer) -> None:
    api.seed(CONFIGMAPS, configmap("a"))
    task = await _run(informer)
    try:
        rec = Recorder()
        reg = informer.add_event_handler(rec)
        assert rec.events == [("add", "a", True)] and reg.has_synced()
        informer.remove_event_handler(reg)
        api.seed(CONFIGMAPS, configmap("b"))
        await until(lambda: informer.lister().get("b", "default") is not None)
        assert rec.events == [("add", "a", True)]
    finally:
        await _stop(task)


async def test_resync_redelivers_every_object_per_handler_period(informer: SharedIndexInformer, api: FakeAPIServer,
                                                                 clock: FakeClock) -> None:
    api.seed(CONFIGMAPS, configmap("a"))
    fast, slow, never = Recorder(), Recorder(), Recorder()
    informer.add_event_handler(fast, resync_period=10)
    informer.add_event_handler(slow, resync_period=30)
    informer.add_event_handler(never)
    task = await _run(informer)
    try:
        for _ in range(3):
            await clock.wait_for_timers(1)
            clock.advance(10)
            await asyncio.sleep(0)
        await until(lambda: len(fast.events) == 4 and len(slow.events) == 2)
        assert fast.events[1:] == [("update", "a", True)] * 3
        assert slow.events[1:] == [("update", "a", True)]
        assert never.events == [("add", "a", True)]
    finally:
        await _stop(task)


async def test_handler_failure_does_not_stop_other_handlers(informer: SharedIndexInformer, api: FakeAPIServer) -> None:
    api.seed(CONFIGMAPS, configmap("a"))

    def boom(obj: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    rec = Recorder()
    informer.add_event_handler(EventHandlerFuncs(add=boom))
    informer.add_event_handler(rec)
    task = await _run(informer)
    try:
        assert rec.events == [("add", "a", True)]
    finally:
        await _stop(task)


def test_filtering_handler_turns_crossings_into_adds_and_deletes() -> None:
    rec = Recorder()
    h = FilteringEventHandler(lambda o: (o.get("metadata", {}).get("labels") or {}).get("on") == "1", rec)
    on = configmap("a", labels={"on": "1"})
    off = configmap("a", labels={"on": "0"})
    h.on_add(off, False)
    h.on_update(off, on)
    h.on_update(on, on)
    h.on_update(on, off)
    h.on_delete(DeletedFinalStateUnknown("default/a", on))
    assert [e[0] for e in rec.events] == ["add", "update", "delete", "delete-unknown"]


async def test_transform_is_applied_before_storing(client: Client, api: FakeAPIServer, clock: FakeClock) -> None:
    def strip(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"].pop("managedFields", None)
        return obj

    api.seed(CONFIGMAPS, {**configmap("a"), "metadata": {"name": "a", "namespace": "default", "managedFields": [{}]}})
    inf = SharedIndexInformer(client, CONFIGMAPS, clock=clock, transform=strip)
    task = await _run(inf)
    try:
        assert "managedFields" not in inf.lister().get("a", "default")["metadata"]  # type: ignore[index]
    finally:
        await _stop(task)


async def test_factory_shares_informers_and_waits_for_all_caches(client: Client, api: FakeAPIServer) -> None:
    api.seed(PODS, pod("p1", node="n1"))
    api.seed(CONFIGMAPS, configmap("c"))
    factory = SharedInformerFactory(client)
    pods = factory.informer(PODS, indexers={"node": by_node})
    assert factory.informer(PODS) is pods
    assert factory.informer(PODS, label_selector="app=x") is not pods
    cms = factory.lister(CONFIGMAPS)
    factory.start()
    try:
        synced = await factory.wait_for_cache_sync(timeout=5)
        assert synced == {PODS: True, CONFIGMAPS: True}
        assert [p["metadata"]["name"] for p in pods.indexer.by_index("node", "n1")] == ["p1"]
        assert cms.get("c", "default") is not None
        assert len(api.actions_of("list", "pods")) == 2  # the selector informer is separate
    finally:
        await factory.shutdown()
    assert api.watchers == []  # the informers' watches were closed


async def test_informer_runs_inside_a_task_group(client: Client, api: FakeAPIServer) -> None:
    """A component starts its informers in its TaskGroup; cancelling the component stops them cleanly."""
    factory = SharedInformerFactory(client)
    inf = factory.informer(CONFIGMAPS)

    async def component() -> None:
        async with asyncio.TaskGroup() as tg:
            factory.start(tg)

    task = asyncio.create_task(component())
    assert await inf.wait_for_sync(5)
    await until(lambda: len(api.watchers) == 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert api.watchers == []
