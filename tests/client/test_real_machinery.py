"""Informers, leader election and events against a real kijabi server."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import shutil
import socket
import time

import pytest

from kijabi.client.events import COMBINED_PREFIX, EventBroadcaster
from kijabi.client.informers import EventHandlerFuncs, SharedIndexInformer, SharedInformerFactory
from kijabi.client.leaderelection import LeaderElectionConfig, LeaderElector
from kijabi.client.ratelimit import Backoff
from kijabi.client.rest import CONFIGMAPS, LEASES, SECRETS, Client
from tests.client.helpers import configmap, until, until_async
from tests.e2e.cluster import Cluster, start_cluster


async def test_informer_cache_converges_under_concurrent_writers(kube: Client, ns: str) -> None:
    """Four writers create, update and delete while the informer runs; the cache ends equal to the server."""
    factory = SharedInformerFactory(kube, namespace=ns)
    informer = factory.informer(CONFIGMAPS)
    adds = deletes = 0

    def on_add(obj: dict[str, object]) -> None:
        nonlocal adds
        adds += 1

    def on_delete(obj: object) -> None:
        nonlocal deletes
        deletes += 1

    informer.add_event_handler(EventHandlerFuncs(add=on_add, delete=on_delete))
    for i in range(10):  # some objects exist before the informer lists
        await kube.create(CONFIGMAPS, configmap(f"pre{i}", ns))
    factory.start()
    try:
        assert (await factory.wait_for_cache_sync(10)) == {CONFIGMAPS: True}

        async def writer(w: int) -> None:
            rng = random.Random(w)
            for i in range(40):
                name = f"w{w}-{i % 8}"
                try:
                    op = rng.choice(["create", "update", "delete"])
                    if op == "create":
                        await kube.create(CONFIGMAPS, configmap(name, ns, n=str(i)))
                    elif op == "update":
                        await kube.patch(CONFIGMAPS, name, {"data": {"n": str(i)}}, namespace=ns)
                    else:
                        await kube.delete(CONFIGMAPS, name, namespace=ns)
                except Exception as exc:  # NotFound / AlreadyExists are part of the game
                    assert getattr(exc, "code", None) in (404, 409), exc

        await asyncio.gather(*(writer(w) for w in range(4)))
        truth = await kube.list(CONFIGMAPS, namespace=ns)
        expected = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in truth["items"]}

        def converged() -> bool:
            cached = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.lister().list(ns)}
            return cached == expected

        await until(converged, timeout=10)
        assert adds - deletes == len(expected)
    finally:
        await factory.shutdown()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_reflector_relists_after_410_when_the_apiserver_restarts(caplog: pytest.LogCaptureFixture) -> None:
    """The restarted server's watch cache starts at the current revision, so a watch from the
    informer's older resourceVersion gets 410 Expired; the informer re-lists and stays correct."""
    port = _free_port()
    cluster = await asyncio.to_thread(start_cluster, None, "--https-listen-port", str(port))
    client = Client.from_kubeconfig(str(cluster.kubeconfig), qps=-1)
    informer = SharedIndexInformer(client, CONFIGMAPS, namespace="default",
                                   backoff=Backoff(0.05, 0.5, jitter=0.0))
    caplog.set_level(logging.INFO, logger="kijabi.client.reflector")
    task = asyncio.create_task(informer.run())
    try:
        assert await informer.wait_for_sync(10)
        await client.create(CONFIGMAPS, configmap("before"))
        await until(lambda: informer.lister().get("before", "default") is not None)
        # Move the global revision past the informer's last resourceVersion (another resource).
        await client.create(SECRETS, {"metadata": {"name": "unrelated", "namespace": "default"}})
        await asyncio.to_thread(cluster.stop)
        cluster = await asyncio.to_thread(start_cluster, cluster.data_dir, "--https-listen-port", str(port))
        await client.create(CONFIGMAPS, configmap("after"))
        await until(lambda: informer.reflector.lists >= 2, timeout=20)
        await until(lambda: informer.lister().get("after", "default") is not None, timeout=10)
        assert any("watch expired" in r.message and "too old resource version" in r.message for r in caplog.records)
        assert informer.reflector.lists == 2
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.close()
        await asyncio.to_thread(cluster.stop)
        shutil.rmtree(cluster.data_dir, ignore_errors=True)


async def test_leader_election_between_two_electors(cluster: Cluster, ns: str) -> None:
    """Two electors on one Lease: one leads; killing it (no release) hands over within the lease duration."""
    clients = [Client.from_kubeconfig(str(cluster.kubeconfig), qps=-1) for _ in range(2)]
    leading: dict[str, asyncio.Event] = {"a": asyncio.Event(), "b": asyncio.Event()}

    def elector(i: int, identity: str) -> LeaderElector:
        async def lead() -> None:
            leading[identity].set()
            await asyncio.Event().wait()

        return LeaderElector(clients[i], LeaderElectionConfig(
            namespace=ns, name="controller-lock", identity=identity, on_started_leading=lead,
            lease_duration=2.0, renew_deadline=1.5, retry_period=0.25, release_on_cancel=False))

    a, b = elector(0, "a"), elector(1, "b")
    ta = asyncio.create_task(a.run())
    await asyncio.wait_for(leading["a"].wait(), 10)
    tb = asyncio.create_task(b.run())
    try:
        await until(lambda: b.leader() == "a", timeout=5)
        assert not leading["b"].is_set()
        ta.cancel()  # the leader dies without releasing
        await asyncio.gather(ta, return_exceptions=True)
        killed = time.monotonic()
        await asyncio.wait_for(leading["b"].wait(), 10)
        took = time.monotonic() - killed
        # b may not take over before the lease (2 s) ran out on its own clock since it last saw a renewal
        # (at most one retry period, 0.25 s, before the kill), and takes over at its next try after that.
        assert 1.5 < took < 2.0 + 1.5, took
        spec = (await clients[1].get(LEASES, "controller-lock", namespace=ns))["spec"]
        assert (spec["holderIdentity"], spec["leaseTransitions"], spec["leaseDurationSeconds"]) == ("b", 1, 2)
    finally:
        tb.cancel()
        await asyncio.gather(tb, return_exceptions=True)
        for c in clients:
            await c.close()


async def test_event_aggregation_is_visible_with_kubectl(kube: Client, cluster: Cluster, ns: str) -> None:
    target = await kube.create(CONFIGMAPS, configmap("target", ns))
    broadcaster = EventBroadcaster(kube)
    broadcaster.start()
    try:
        rec = broadcaster.new_recorder("kijabi-test-controller", host="test-host")
        for _ in range(5):
            rec.event(target, "Warning", "SyncFailed", "could not sync: boom")
        for i in range(12):
            rec.event(target, "Normal", "Progress", f"step {i} done")
        await broadcaster.flush()
    finally:
        await broadcaster.shutdown()

    async def listed() -> bool:
        out = await asyncio.to_thread(cluster.kubectl, "get", "events", "-n", ns, "-o", "json")
        items = json.loads(out.stdout)["items"]
        return len(items) == 11

    await until_async(listed)
    items = json.loads(cluster.kubectl("get", "events", "-n", ns, "-o", "json").stdout)["items"]
    failed = [e for e in items if e["reason"] == "SyncFailed"]
    assert len(failed) == 1 and failed[0]["count"] == 5
    assert failed[0]["source"] == {"component": "kijabi-test-controller", "host": "test-host"}
    assert failed[0]["involvedObject"]["name"] == "target" and failed[0]["involvedObject"]["kind"] == "ConfigMap"
    progress = [e for e in items if e["reason"] == "Progress"]
    combined = [e for e in progress if e["message"].startswith(COMBINED_PREFIX)]
    assert len(progress) == 10 and len(combined) == 1 and combined[0]["count"] == 3
    table = cluster.kubectl("get", "events", "-n", ns).stdout
    assert "SyncFailed" in table and "(combined from similar events): step 11 done" in table
