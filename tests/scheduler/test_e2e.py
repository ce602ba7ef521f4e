"""End to end: a real kijabi server, Node objects created by the test, and the scheduler process
(SchedulerApp) in the test's event loop. Checks bindings, events and conditions as users see them."""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

from kijabi.client import Client
from kijabi.client.rest import LEASES, PODS
from tests.scheduler.conftest import PRIORITY_CLASSES, Env, Running, e2e_config, start_app
from tests.scheduler.helpers import pod

TAINT = {"key": "dedicated", "value": "x", "effect": "NoSchedule"}


def _scheduled_false(p: dict[str, Any]) -> bool:
    return any(c.get("type") == "PodScheduled" and c.get("status") == "False"
               for c in (p.get("status") or {}).get("conditions") or [])


async def test_resources_taints_and_events(env: Env, scheduler: Running) -> None:
    """A pod goes to the only node with room and no untolerated taint; Scheduled event text."""
    await env.add_node("small", cpu="1")
    await env.add_node("tainted", cpu="8", taints=[TAINT])
    await env.add_node("big", cpu="4")
    await env.add_pod("web", cpu="2")
    assert await env.bound_node("web") == env.node_name("big")
    event = await env.wait_event("web", "Scheduled")
    assert event["message"] == f"Successfully assigned {env.ns}/web to {env.node_name('big')}"
    assert event["source"]["component"] == env.scheduler_name
    bound = await env.get_pod("web")
    assert any(c["type"] == "PodScheduled" and c["status"] == "True" for c in bound["status"]["conditions"])


async def test_failed_scheduling_message_then_node_added(env: Env, scheduler: Running) -> None:
    """Upstream's FailedScheduling text and PodScheduled=False; the pod binds once a fitting node appears."""
    await env.add_node("small", cpu="1")
    await env.add_node("tainted", cpu="8", taints=[TAINT])
    await env.add_pod("big", cpu="2")
    pending = await env.wait_pod("big", _scheduled_false)
    want = ("0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: x}. "
            "preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, "
            "1 Preemption is not helpful for scheduling.")
    cond = next(c for c in pending["status"]["conditions"] if c["type"] == "PodScheduled")
    assert (cond["reason"], cond["message"]) == ("Unschedulable", want)
    event = await env.wait_event("big", "FailedScheduling")
    assert (event["type"], event["message"]) == ("Warning", want)
    await env.add_node("large", cpu="4")
    assert await env.bound_node("big") == env.node_name("large")


async def test_pod_deleted_makes_room(env: Env, scheduler: Running) -> None:
    await env.add_node("only", cpu="1")
    await env.add_pod("first", cpu="1")
    await env.bound_node("first")
    await env.add_pod("second", cpu="1")
    await env.wait_pod("second", _scheduled_false)
    await env.kube.delete(PODS, "first", namespace=env.ns, grace_period_seconds=0)
    assert await env.bound_node("second") == env.node_name("only")


async def test_node_affinity_and_selector(env: Env, scheduler: Running) -> None:
    await env.add_node("ssd", labels={"disk": "ssd"})
    await env.add_node("hdd", labels={"disk": "hdd"})
    await env.add_pod("sel", nodeSelector={"disk": "ssd"})
    await env.add_pod("aff", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "disk", "operator": "NotIn", "values": ["ssd"]}]}]}}})
    assert await env.bound_node("sel") == env.node_name("ssd")
    assert await env.bound_node("aff") == env.node_name("hdd")


async def test_topology_spread_across_zones(env: Env, scheduler: Running) -> None:
    """Six pods with a zone constraint (maxSkew 1) over three zones end up two per zone."""
    for zone in "abc":
        await env.add_node(f"{zone}1", zone=f"{env.ns}-{zone}", cpu="8")
        await env.add_node(f"{zone}2", zone=f"{env.ns}-{zone}", cpu="8")
    constraint = {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
                  "labelSelector": {"matchLabels": {"app": "spread"}}}
    for i in range(6):
        await env.add_pod(f"s{i}", labels={"app": "spread"}, topologySpreadConstraints=[constraint])
    per_zone: dict[str, int] = {}
    for i in range(6):
        host = await env.bound_node(f"s{i}")
        zone = host.removeprefix(env.ns + "-")[0]
        per_zone[zone] = per_zone.get(zone, 0) + 1
    assert per_zone == {"a": 2, "b": 2, "c": 2}


async def test_preemption(env: Env, scheduler: Running) -> None:
    """A high-priority pod evicts a low-priority one, is nominated, and binds once the victim is gone."""
    for name, value in ((f"{env.ns}-low", 10), (f"{env.ns}-high", 1000)):
        await env.kube.create(PRIORITY_CLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                 "metadata": {"name": name}, "value": value})
    await env.add_node("only", cpu="2")
    await env.add_pod("victim", cpu="2", priorityClassName=f"{env.ns}-low")
    await env.bound_node("victim")
    await env.add_pod("vip", cpu="2", priorityClassName=f"{env.ns}-high")
    nominated = await env.wait_pod("vip", lambda p: (p.get("status") or {}).get("nominatedNodeName"))
    assert nominated["status"]["nominatedNodeName"] == env.node_name("only")
    victim = await env.wait_pod("victim", lambda p: bool(p["metadata"].get("deletionTimestamp")))
    cond = next(c for c in victim["status"]["conditions"] if c["type"] == "DisruptionTarget")
    assert (cond["reason"], cond["message"]) == (
        "PreemptionByScheduler", f"{env.scheduler_name}: preempting to accommodate a higher priority pod")
    preempted = await env.wait_event("victim", "Preempted")
    assert preempted["message"] == f"Preempted by pod {nominated['metadata']['uid']} on node {env.node_name('only')}"
    await env.kube.delete(PODS, "victim", namespace=env.ns, grace_period_seconds=0)  # the kubelet's part
    assert await env.bound_node("vip") == env.node_name("only")


async def test_two_profiles(env: Env, kube: Client) -> None:
    """One scheduler, two profiles: each pod is scheduled by its schedulerName's profile; others are ignored."""
    other = f"{env.scheduler_name}-packer"
    running = await start_app(kube, e2e_config(env.scheduler_name, other))
    try:
        await env.add_node("n1")
        await env.add_pod("a")
        await env.add_pod("b", scheduler=other)
        await env.add_pod("stranger", scheduler="nobody")
        await env.bound_node("a")
        await env.bound_node("b")
        assert (await env.wait_event("b", "Scheduled"))["source"]["component"] == other
        stranger = await env.get_pod("stranger")
        assert not stranger["spec"].get("nodeName") and not (stranger.get("status") or {}).get("conditions")
    finally:
        await running.stop()


async def test_metrics_and_healthz(env: Env, scheduler: Running) -> None:
    await env.add_node("n1")
    await env.add_pod("p")
    await env.bound_node("p")
    port = scheduler.app.health.port

    def fetch(path: str) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as resp:
            return resp.read().decode()

    assert await asyncio.to_thread(fetch, "/healthz") == "ok"
    text = await asyncio.to_thread(fetch, "/metrics")
    assert f'scheduler_schedule_attempts_total{{profile="{env.scheduler_name}",result="scheduled"}} 1' in text
    assert 'scheduler_pending_pods{queue="active"} 0' in text
    assert "scheduler_scheduling_attempt_duration_seconds_bucket{" in text


async def test_leader_failover(env: Env, kube: Client) -> None:
    """Two schedulers share a Lease: only the leader schedules; when it stops the other takes over."""
    lease = {"leaderElect": True, "leaseDuration": "3s", "renewDeadline": "2s", "retryPeriod": "500ms",
             "resourceName": f"{env.ns}-lock", "resourceNamespace": env.ns}
    cfg1 = e2e_config(env.scheduler_name, leaderElection=lease)
    cfg2 = e2e_config(env.scheduler_name, leaderElection=lease)
    first = await start_app(kube, cfg1, identity="first")
    await asyncio.wait_for(first.app.leading.wait(), 10)
    second = await start_app(kube, cfg2, identity="second")
    try:
        await env.add_node("n1")
        await env.add_pod("one")
        await env.bound_node("one")
        assert not second.app.leading.is_set()
        await first.stop()  # releases the Lease
        await asyncio.wait_for(second.app.leading.wait(), 15)
        await env.add_pod("two")
        await env.bound_node("two")
        record = await kube.get(LEASES, f"{env.ns}-lock", namespace=env.ns)
        assert record["spec"]["holderIdentity"] == "second"
    finally:
        await second.stop()
        await first.stop()


def test_pod_builder_sanity() -> None:
    assert pod("x", cpu="1")["spec"]["containers"][0]["resources"]["requests"] == {"cpu": "1"}


async def test_finished_pod_frees_its_node(env: Env, scheduler: Running) -> None:
    """Pods that reached Succeeded leave the scheduler's view (its pod informer skips terminal pods)."""
    await env.add_node("only", cpu="1")
    await env.add_pod("job", cpu="1")
    await env.bound_node("job")
    await env.add_pod("next", cpu="1")
    await env.wait_pod("next", _scheduled_false)
    done = await env.get_pod("job")
    done["status"]["phase"] = "Succeeded"
    await env.kube.update_status(PODS, done, namespace=env.ns)
    assert await env.bound_node("next") == env.node_name("only")


async def test_main_entry_point(env: Env, cluster: Any, tmp_path: Any) -> None:
    """`kijabi.scheduler.main.run(argv)` with --config, --kubeconfig and flags schedules pods; a bad
    configuration is one clear error."""
    import pytest

    from kijabi.scheduler import main

    config = tmp_path / "sched.yaml"
    config.write_text(f"""apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: {env.scheduler_name}
""")
    task = asyncio.create_task(main.run(["--kubeconfig", str(cluster.kubeconfig), "--config", str(config),
                                         "--leader-elect=false", "--secure-port", "0"]))
    try:
        await env.add_node("n1")
        await env.add_pod("p")
        assert await env.bound_node("p") == env.node_name("n1")
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    config.write_text("apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\n"
                      "percentageOfNodesToScore: 500\n")
    with pytest.raises(SystemExit) as info:
        await main.run(["--kubeconfig", str(cluster.kubeconfig), "--config", str(config)])
    assert str(info.value) == ("kijabi scheduler: invalid configuration: percentageOfNodesToScore: Invalid value: "
                               "500: not in valid range [0-100]")
