"""Event recording: upstream's correlation (dedupe by patch, aggregation, spam filter) and write retries."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kijabi.client.clock import FakeClock
from kijabi.client.errors import TransportError
from kijabi.client.events import (
    COMBINED_PREFIX,
    EVENTS_V1,
    EventBroadcaster,
    EventsV1Sink,
    object_reference,
)
from kijabi.client.rest import EVENTS, Client
from kijabi.client.testing import Action, FakeAPIServer
from kijabi.client.transport import Response
from tests.client.helpers import pod

POD = {**pod("web-1", "shop"), "metadata": {"name": "web-1", "namespace": "shop", "uid": "u-1", "resourceVersion": "42"}}


@pytest.fixture
async def broadcaster(client: Client, clock: FakeClock) -> AsyncIterator[EventBroadcaster]:
    b = EventBroadcaster(client, sleep_duration=10.0, rng=lambda: 0.5)
    b.start()
    yield b
    await b.shutdown()


def events(api: FakeAPIServer) -> list[dict[str, Any]]:
    return api.list_objects(EVENTS, "shop")


def test_object_reference() -> None:
    assert object_reference(POD) == {"kind": "Pod", "namespace": "shop", "name": "web-1", "uid": "u-1",
                                     "apiVersion": "v1", "resourceVersion": "42"}
    ref = {"kind": "Node", "name": "n1", "uid": "", "apiVersion": "v1"}
    assert object_reference(ref) == {"kind": "Node", "name": "n1", "apiVersion": "v1"}


async def test_an_event_is_written_with_source_and_timestamps(broadcaster: EventBroadcaster, api: FakeAPIServer,
                                                              clock: FakeClock) -> None:
    rec = broadcaster.new_recorder("kijabi-scheduler", host="node-a")
    rec.eventf(POD, "Normal", "Scheduled", "Successfully assigned %s/%s to %s", "shop", "web-1", "node-a")
    await broadcaster.flush()
    [ev] = events(api)
    assert ev["metadata"]["name"].startswith("web-1.")
    assert int(ev["metadata"]["name"].split(".", 1)[1], 16) >= int(clock.time() * 1e9)
    assert (ev["reason"], ev["message"], ev["type"], ev["count"]) == (
        "Scheduled", "Successfully assigned shop/web-1 to node-a", "Normal", 1)
    assert ev["source"] == {"component": "kijabi-scheduler", "host": "node-a"}
    assert (ev["reportingComponent"], ev["reportingInstance"]) == ("kijabi-scheduler", "node-a")
    assert ev["involvedObject"]["uid"] == "u-1" and ev["firstTimestamp"] == ev["lastTimestamp"]


async def test_cluster_scoped_objects_get_events_in_default(broadcaster: EventBroadcaster, api: FakeAPIServer) -> None:
    broadcaster.new_recorder("kubelet", host="n1").event(
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "n"}}, "Normal", "Starting", "Starting kubelet.")
    await broadcaster.flush()
    assert [e["metadata"]["namespace"] for e in api.list_objects(EVENTS)] == ["default"]


async def test_repeated_event_patches_count_and_last_timestamp(broadcaster: EventBroadcaster, api: FakeAPIServer,
                                                               clock: FakeClock) -> None:
    rec = broadcaster.new_recorder("kubelet", host="n1")
    for _ in range(5):
        rec.event(POD, "Warning", "BackOff", "Back-off restarting failed container")
        clock.advance(3)
    await broadcaster.flush()
    [ev] = events(api)
    assert ev["count"] == 5
    assert ev["lastTimestamp"] > ev["firstTimestamp"]
    assert len(api.actions_of("create", "events")) == 1 and len(api.actions_of("patch", "events")) == 4
    patch = api.actions_of("patch", "events")[-1]
    assert set(patch.body) == {"count", "lastTimestamp", "message"} and patch.body["count"] == 5


async def test_patch_of_a_vanished_event_creates_it_again(broadcaster: EventBroadcaster, api: FakeAPIServer) -> None:
    rec = broadcaster.new_recorder("kubelet", host="n1")
    rec.event(POD, "Normal", "Pulled", "image pulled")
    await broadcaster.flush()
    api.objects[("", "events")].clear()
    rec.event(POD, "Normal", "Pulled", "image pulled")
    await broadcaster.flush()
    [ev] = events(api)
    assert ev["count"] == 2


async def test_similar_events_are_combined_after_ten_messages(broadcaster: EventBroadcaster, api: FakeAPIServer) -> None:
    """Same reason, different messages: nine events stand alone, from the tenth on they fold into one."""
    rec = broadcaster.new_recorder("kubelet", host="n1")
    for i in range(14):
        rec.event(POD, "Warning", "FailedMount", f"volume {i} not ready")
    await broadcaster.flush()
    stored = events(api)
    combined = [e for e in stored if e["message"].startswith(COMBINED_PREFIX)]
    assert len(stored) == 10 and len(combined) == 1
    assert combined[0]["count"] == 5 and combined[0]["message"] == COMBINED_PREFIX + "volume 13 not ready"


async def test_aggregation_window_is_ten_minutes(broadcaster: EventBroadcaster, api: FakeAPIServer,
                                                 clock: FakeClock) -> None:
    rec = broadcaster.new_recorder("kubelet", host="n1")
    for i in range(9):
        rec.event(POD, "Warning", "FailedMount", f"volume {i}")
    await broadcaster.flush()  # events are correlated when written, at the broadcaster's time
    clock.advance(601)
    rec.event(POD, "Warning", "FailedMount", "volume 9")
    await broadcaster.flush()
    assert not any(e["message"].startswith(COMBINED_PREFIX) for e in events(api))


async def test_spam_filter_allows_25_events_per_object_then_one_per_5_minutes(broadcaster: EventBroadcaster,
                                                                              api: FakeAPIServer, clock: FakeClock) -> None:
    rec = broadcaster.new_recorder("kubelet", host="n1")
    for i in range(30):
        rec.event(POD, "Normal", f"Reason{i}", "m")
    await broadcaster.flush()
    assert len(events(api)) == 25
    clock.advance(300)
    rec.event(POD, "Normal", "Late", "m")
    rec.event(POD, "Normal", "TooLate", "m")
    await broadcaster.flush()
    reasons = {e["reason"] for e in events(api)}
    assert len(reasons) == 26 and "Late" in reasons and "TooLate" not in reasons


async def test_unreachable_server_is_retried_then_written(broadcaster: EventBroadcaster, api: FakeAPIServer,
                                                          clock: FakeClock) -> None:
    failures = 3

    def flaky(action: Action) -> Response | None:
        nonlocal failures
        if failures:
            failures -= 1
            raise TransportError("connection refused", sent=True)
        return None

    api.prepend_reactor("create", "events", flaky)
    broadcaster.new_recorder("kubelet", host="n1").event(POD, "Normal", "Pulled", "ok")
    waits = []
    while failures or not events(api):
        await clock.wait_for_timers(1)
        deadline = clock.next_deadline()
        assert deadline is not None
        waits.append(round(deadline - clock.now(), 3))
        clock.advance(deadline - clock.now())
        await asyncio.sleep(0)
    await broadcaster.flush()
    assert len(events(api)) == 1
    assert waits[0] == 5.0 and all(w in (0.1, 0.2, 10.0) for w in waits[1:])  # first wait random (x0.5), then 10 s


async def test_refused_event_is_dropped(broadcaster: EventBroadcaster, api: FakeAPIServer) -> None:
    from kijabi.client.testing import status_response

    api.prepend_reactor("create", "events", lambda a: status_response(403, "Forbidden", "nope"))
    broadcaster.new_recorder("kubelet", host="n1").event(POD, "Normal", "Pulled", "ok")
    await broadcaster.flush()
    assert len(api.actions_of("create", "events")) == 1 and events(api) == []


async def test_unknown_event_type_is_not_recorded(broadcaster: EventBroadcaster, api: FakeAPIServer) -> None:
    broadcaster.new_recorder("kubelet", host="n1").event(POD, "Fatal", "Oops", "x")
    await broadcaster.flush()
    assert api.actions == []


async def test_events_v1_sink_writes_series(client: Client, api: FakeAPIServer, clock: FakeClock) -> None:
    b = EventBroadcaster(sink=EventsV1Sink(client), clock=clock)
    b.start()
    try:
        rec = b.new_recorder("kijabi-controller-manager", host="cm-1")
        for _ in range(3):
            rec.event(POD, "Normal", "SuccessfulCreate", "Created pod")
        await b.flush()
    finally:
        await b.shutdown()
    [ev] = api.list_objects(EVENTS_V1, "shop")
    assert (ev["regarding"]["name"], ev["note"], ev["action"], ev["reportingController"], ev["reportingInstance"]) == (
        "web-1", "Created pod", "SuccessfulCreate", "kijabi-controller-manager", "cm-1")
    assert ev["series"]["count"] == 3 and ev["eventTime"].endswith("Z")
