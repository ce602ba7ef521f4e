"""Restart safety: a kubelet that restarts (cleanly or by kill -9) adopts what runs instead of starting it
again; exactly one sandbox per pod, no duplicated containers, restart counts unchanged."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from kijabi.client.rest import PODS
from kijabi.kubelet import labels
from tests.kubelet.kubelet_harness import (
    KubeletEnv,
    container,
    kubelet_env,
    pod,
    short_name,
    spawn_kubelet,
    start_kubelet,
    stop_kubelet,
    wait_for,
)
from tests.kubelet.node import Node, requires_runtime

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node, start=False) as e:
        yield e


async def runtime_view(env: KubeletEnv, uid: str) -> tuple[list[str], list[tuple[str, str, int]]]:
    sandboxes = sorted(sb.id for sb in await env.sandboxes(uid))
    containers = sorted((c.metadata.name, c.id, c.metadata.attempt) for c in await env.containers(uid))
    return sandboxes, containers


async def test_restarted_kubelet_adopts_running_pods(env: KubeletEnv) -> None:
    """Pods started by one kubelet keep their sandboxes, containers and restart counts when a new kubelet
    takes over; their status stays Running and Ready (no restart, no new container)."""
    await start_kubelet(env)
    names = [short_name("adopt") for _ in range(3)]
    crasher = container("main", ["sh", "-c", "test -e /data/crashed || { touch /data/crashed; exit 1; }; sleep 3600"],
                        volumeMounts=[{"name": "data", "mountPath": "/data"}])
    await env.create(pod(names[0], [crasher], node=env.node_name, volumes=[{"name": "data", "emptyDir": {}}]))
    for n in names[1:]:
        await env.create(pod(n, node=env.node_name))
    before = {}
    for i, n in enumerate(names):
        p = await env.wait_pod(n, lambda p, i=i: _ready(p) and (i > 0 or _restarts(p) == 1), what="Ready")
        before[n] = (p, await runtime_view(env, p["metadata"]["uid"]))
    assert before[names[0]][0]["status"]["containerStatuses"][0]["restartCount"] == 1

    await stop_kubelet(env)
    kubelet = await start_kubelet(env)
    await wait_for(lambda: _synced(kubelet, [p["metadata"]["uid"] for p, _ in before.values()]),
                   what="a sync of every pod by the new kubelet")
    for n, (p, view) in before.items():
        after = await env.get(n)
        assert await runtime_view(env, p["metadata"]["uid"]) == view
        cs_before, cs_after = p["status"]["containerStatuses"][0], after["status"]["containerStatuses"][0]
        assert cs_after["containerID"] == cs_before["containerID"]
        assert cs_after["restartCount"] == cs_before["restartCount"]
        assert after["status"]["phase"] == "Running" and cs_after["ready"] is True
    await stop_kubelet(env)


def _ready(p: dict) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])


def _restarts(p: dict) -> int:
    return int(((p["status"].get("containerStatuses") or [{}])[0]).get("restartCount") or 0)


async def _synced(kubelet: object, uids: list[str]) -> bool:
    workers = getattr(kubelet, "workers", {})
    return all(uid in workers and workers[uid].syncs >= 2 for uid in uids)


async def test_kill9_of_the_kubelet_during_50_pod_starts(env: KubeletEnv, tmp_path: Path) -> None:
    """50 pods are created; while the kubelet process starts them it is killed with SIGKILL five times (each
    time after it started a few more) and started again: all 50 end Running, each with exactly one sandbox
    and one container, at restart count 0."""
    await kill9_while_starting(env, tmp_path / "kubelet.log", pods=50, kills=5, step=4)


@pytest.mark.slow
async def test_kill9_soak_with_churn(env: KubeletEnv, tmp_path: Path) -> None:
    """Soak: 105 pods (within the node's 110), 15 kills -9, and a third of the pods deleted while the
    kubelet keeps dying: the rest all run once, the deleted ones leave nothing in the runtime."""
    await kill9_while_starting(env, tmp_path / "kubelet.log", pods=105, kills=15, step=4, delete_every=3)


async def kill9_while_starting(env: KubeletEnv, log: Path, *, pods: int, kills: int, step: int,
                               delete_every: int = 0) -> None:
    names = [f"k9-{i:03d}-{short_name('p')}" for i in range(pods)]
    uids = {}
    for n in names:
        uids[n] = (await env.create(pod(n, node=env.node_name)))["metadata"]["uid"]
    doomed = set(names[::delete_every]) if delete_every else set()
    keep = [n for n in names if n not in doomed]

    async def running() -> dict[str, dict]:
        listed = await env.client.list(PODS, namespace=env.namespace)
        return {p["metadata"]["name"]: p for p in listed["items"]
                if p["metadata"]["name"] in names and p["status"].get("phase") == "Running"}

    proc = spawn_kubelet(env, log)
    try:
        seen = 0
        for k in range(kills):
            target = min(seen + step, len(keep))

            async def progressed(target: int = target) -> int | None:
                n = len(await running())
                return n if n >= target else None

            try:
                seen = await wait_for(progressed, timeout=90, what=f"{target} pods Running", interval=0.02)
            except AssertionError as exc:
                listed = await env.client.list(PODS, namespace=env.namespace)
                phases = Counter(p["status"].get("phase") for p in listed["items"])
                raise AssertionError(f"{exc} after {k} kills; phases {dict(phases)}; kubelet log tail:\n"
                                     f"{log.read_text()[-4000:]}") from exc
            if doomed and k == kills // 2:
                for n in doomed:
                    await env.client.delete(PODS, n, namespace=env.namespace, grace_period_seconds=0)
            proc.kill9()
            proc = spawn_kubelet(env, log)
        assert seen < len(keep), "the kills should happen while pods are still starting"

        async def all_running() -> dict[str, dict] | None:
            now = await running()
            return now if all(n in now for n in keep) else None

        final = await wait_for(all_running, timeout=120, what=f"{len(keep)} pods Running", interval=0.2)
        for n in keep:
            p = final[n]
            sandboxes = await env.sandboxes(uids[n])
            containers = await env.containers(uids[n])
            assert len(sandboxes) == 1, f"{n}: {len(sandboxes)} sandboxes"
            assert Counter(c.metadata.name for c in containers) == {"main": 1}, f"{n}: {containers}"
            assert containers[0].metadata.attempt == 0 and containers[0].labels[labels.RESTART_COUNT] == "0"
            assert p["status"]["containerStatuses"][0]["restartCount"] == 0
        for n in doomed:
            async def gone(n: str = n) -> bool:
                return not await env.sandboxes(uids[n]) and not await env.containers(uids[n])

            await wait_for(gone, timeout=60, what=f"the runtime objects of deleted pod {n} to go")
        assert log.read_text().count("registered node") == kills + 1
    finally:
        await env.client.delete_collection(PODS, namespace=env.namespace, grace_period_seconds=0)
        await wait_for(lambda: _none_left(env), timeout=120, what="the kubelet to remove every pod")
        proc.stop()


async def _none_left(env: KubeletEnv) -> bool:
    return not (await env.client.list(PODS, namespace=env.namespace))["items"]
