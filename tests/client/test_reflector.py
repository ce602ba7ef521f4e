"""The reflector against the in-memory API: list, watch, resume, bookmarks, 410 re-lists, backoff."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.errors import TransportError
from kijabi.client.ratelimit import Backoff
from kijabi.client.reflector import Reflector
from kijabi.client.rest import CONFIGMAPS, Client
from kijabi.client.testing import Action, FakeAPIServer, status_response
from kijabi.client.transport import Response
from tests.client.helpers import configmap, until


class RecordingStore:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self.items: dict[str, dict[str, Any]] = {}

    def replace(self, objects: list[dict[str, Any]], resource_version: str) -> None:
        self.calls.append(("replace", (sorted(o["metadata"]["name"] for o in objects), resource_version)))
        self.items = {o["metadata"]["name"]: o for o in objects}

    def add(self, obj: dict[str, Any]) -> None:
        self.calls.append(("add", obj["metadata"]["name"]))
        self.items[obj["metadata"]["name"]] = obj

    def update(self, obj: dict[str, Any]) -> None:
        self.calls.append(("update", obj["metadata"]["name"]))
        self.items[obj["metadata"]["name"]] = obj

    def delete(self, obj: dict[str, Any]) -> None:
        self.calls.append(("delete", obj["metadata"]["name"]))
        self.items.pop(obj["metadata"]["name"], None)


@pytest.fixture
async def running(client: Client, clock: FakeClock) -> AsyncIterator[tuple[Reflector, RecordingStore]]:
    store = RecordingStore()
    reflector = Reflector(client, CONFIGMAPS, store, namespace="default", page_size=2, clock=clock,
                          backoff=Backoff(1.0, 8.0, jitter=0.0, clock=clock), rng=lambda: 0.5)
    yield reflector, store
    # tests start the task themselves; nothing to clean here


async def _start(reflector: Reflector) -> asyncio.Task[None]:
    return asyncio.create_task(reflector.run())


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass


async def test_lists_then_watches_from_the_list_version(running: tuple[Reflector, RecordingStore], api: FakeAPIServer,
                                                        client: Client) -> None:
    reflector, store = running
    for name in ("a", "b", "c"):
        api.seed(CONFIGMAPS, configmap(name))
    list_rv = str(api.rv)
    task = await _start(reflector)
    try:
        await until(lambda: len(api.watchers) == 1)
        assert store.calls == [("replace", (["a", "b", "c"], list_rv))]
        first_list = api.actions_of("list")[0].query
        assert (first_list["resourceVersion"], first_list["limit"]) == ("0", "2")
        watch = api.actions_of("watch")[0].query
        assert watch["resourceVersion"] == list_rv and watch["allowWatchBookmarks"] == "true"
        assert watch["timeoutSeconds"] == "450"  # 300 s x (1 + 0.5)
        await client.create(CONFIGMAPS, configmap("d"))
        await client.patch(CONFIGMAPS, "a", {"data": {"x": "1"}}, namespace="default")
        await client.delete(CONFIGMAPS, "b", namespace="default")
        await until(lambda: len(store.calls) == 4)
        assert store.calls[1:] == [("add", "d"), ("update", "a"), ("delete", "b")]
        assert reflector.last_sync_resource_version == str(api.rv)
    finally:
        await _stop(task)


async def test_watch_end_resumes_from_last_version_without_a_list(running: tuple[Reflector, RecordingStore],
                                                                  api: FakeAPIServer, client: Client) -> None:
    reflector, store = running
    task = await _start(reflector)
    try:
        await until(lambda: len(api.watchers) == 1)
        await client.create(CONFIGMAPS, configmap("a"))
        await until(lambda: ("add", "a") in store.calls)
        seen_rv = reflector.last_sync_resource_version
        api.close_watches()
        await client.create(CONFIGMAPS, configmap("b"))  # happens while no watch is open
        await until(lambda: ("add", "b") in store.calls)
        assert [a.query["resourceVersion"] for a in api.actions_of("watch")] == [api.actions_of("watch")[0].query["resourceVersion"], seen_rv]
        assert len(api.actions_of("list")) == 1
    finally:
        await _stop(task)


async def test_bookmarks_move_the_resource_version(running: tuple[Reflector, RecordingStore], api: FakeAPIServer) -> None:
    reflector, store = running
    task = await _start(reflector)
    try:
        await until(lambda: len(api.watchers) == 1)
        api.seed(CONFIGMAPS, configmap("elsewhere", namespace="other"))  # moves the global version only
        api.send_bookmarks()
        await until(lambda: reflector.last_sync_resource_version == str(api.rv))
        assert store.calls == [("replace", ([], "1"))]
    finally:
        await _stop(task)


async def test_expired_watch_relists_at_the_last_version_paginated(running: tuple[Reflector, RecordingStore],
                                                                   api: FakeAPIServer, client: Client,
                                                                   clock: FakeClock) -> None:
    """410 on the watch: re-list (after backoff) at the last seen version, in pages, then watch again."""
    reflector, store = running
    task = await _start(reflector)
    try:
        await until(lambda: len(api.watchers) == 1)
        for i in range(5):
            await client.create(CONFIGMAPS, configmap(f"c{i}"))
        await until(lambda: len(store.items) == 5)
        last = reflector.last_sync_resource_version
        api.close_watches()  # the watch had events: the reflector will watch again from `last`...
        api.seed(CONFIGMAPS, configmap("c5"))  # ...but this event is lost with the history: 410
        api.compact()
        await clock.wait_for_timers(1)
        assert len(api.actions_of("list")) == 1
        clock.advance(1.0)  # the backoff before the re-list
        await until(lambda: len(api.watchers) == 1 and len(api.actions_of("list")) > 1)
        lists = [a.query for a in api.actions_of("list")]
        assert lists[1]["resourceVersion"] == last and lists[1]["limit"] == "2"
        assert [bool(q.get("continue")) for q in lists[1:]] == [False, True, True]
        assert store.calls[-1] == ("replace", ([f"c{i}" for i in range(6)], str(api.rv)))
        assert reflector.lists == 2
    finally:
        await _stop(task)


async def test_expired_list_asks_for_the_latest_state(running: tuple[Reflector, RecordingStore], api: FakeAPIServer,
                                                      clock: FakeClock) -> None:
    reflector, _ = running
    reflector.last_sync_resource_version = "3"
    answers = iter([status_response(410, "Expired", "too old resource version: 3 (9)")])

    def first_fails(action: Action) -> Response | None:
        return next(answers, None)

    api.prepend_reactor("list", "configmaps", first_fails)
    task = await _start(reflector)
    try:
        await clock.wait_for_timers(1)
        clock.advance(1.0)
        await until(lambda: len(api.watchers) == 1)
        assert [a.query["resourceVersion"] for a in api.actions_of("list")] == ["3", ""]
    finally:
        await _stop(task)


@pytest.mark.parametrize("failure", ["throttled", "connection-lost"])
async def test_failed_watch_backs_off_and_watches_again_without_listing(
        running: tuple[Reflector, RecordingStore], api: FakeAPIServer, clock: FakeClock, failure: str) -> None:
    reflector, _ = running
    left = 4  # the client's own 3 retries, then the reflector's backoff

    def fail(action: Action) -> Response | None:
        nonlocal left
        if left == 0:
            return None
        left -= 1
        if failure == "throttled":
            return status_response(429, "TooManyRequests")
        raise TransportError("connection reset by peer", sent=True)

    api.prepend_reactor("watch", "configmaps", fail)
    task = await _start(reflector)
    try:
        while len(api.watchers) == 0:
            await clock.wait_for_timers(1)
            clock.advance(clock.next_deadline() - clock.now())  # type: ignore[operator]
            await asyncio.sleep(0)
        assert len(api.actions_of("watch")) == 5
        assert len(api.actions_of("list")) == 1
    finally:
        await _stop(task)


async def test_list_items_get_kind_and_api_version(running: tuple[Reflector, RecordingStore], api: FakeAPIServer) -> None:
    reflector, store = running
    api.seed(CONFIGMAPS, {"metadata": {"name": "bare", "namespace": "default"}})
    api.objects[("", "configmaps")][("default", "bare")].pop("kind")
    task = await _start(reflector)
    try:
        await until(lambda: len(api.watchers) == 1)
        assert (store.items["bare"]["kind"], store.items["bare"]["apiVersion"]) == ("ConfigMap", "v1")
    finally:
        await _stop(task)
