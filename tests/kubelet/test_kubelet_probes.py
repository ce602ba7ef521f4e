"""Startup, liveness and readiness probes (exec, httpGet, tcpSocket, grpc) driving restarts and readiness."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
import pytest
import pytest_asyncio

from kijabi.client.rest import EVENTS
from kijabi.kubelet import actions
from tests.kubelet.kubelet_harness import KubeletEnv, container, kubelet_env, pod, short_name, wait_for
from tests.kubelet.node import Node, requires_runtime

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]

HTTPD = ["sh", "-c", "mkdir -p /www && echo ok > /www/healthz && httpd -f -p 8080 -h /www"]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node) as e:
        yield e


def status_of(p: dict, name: str = "main") -> dict:
    return next((s for s in p["status"].get("containerStatuses") or [] if s["name"] == name), {})


def ready(p: dict) -> str:
    return next((c["status"] for c in p["status"].get("conditions") or [] if c["type"] == "Ready"), "")


def probe(handler: dict, **fields: int) -> dict:
    return {**handler, "periodSeconds": 1, "failureThreshold": 1, **fields}


async def test_liveness_failure_restarts_the_container(env: KubeletEnv) -> None:
    """An exec liveness probe that starts failing makes the kubelet kill and restart the container
    (restartCount 1, lastState terminated), with an Unhealthy event and a Killing event."""
    name = short_name("live")
    c = container("main", ["sh", "-c", "touch /tmp/alive; sleep 2; rm /tmp/alive; sleep 3600"],
                  livenessProbe=probe({"exec": {"command": ["test", "-e", "/tmp/alive"]}}))
    await env.create(pod(name, [c], node=env.node_name, terminationGracePeriodSeconds=1))
    p = await env.wait_pod(name, lambda p: (status_of(p).get("restartCount") or 0) >= 1, what="a restart",
                           timeout=20)
    assert "terminated" in status_of(p)["lastState"]

    async def events() -> set[tuple[str, str]] | None:
        listed = await env.client.list(EVENTS, namespace=env.namespace)
        found = {(e["reason"], e["message"]) for e in listed["items"] if e["involvedObject"].get("name") == name}
        return found if ("Killing", "Container main failed liveness probe, will be restarted") in found else None

    found = await wait_for(events, what="the Killing event")
    assert any(r == "Unhealthy" and m.startswith("Liveness probe failed") for r, m in found)


async def test_readiness_flips_the_ready_condition(env: KubeletEnv) -> None:
    """An httpGet readiness probe gates Ready: ready once /healthz answers 200, not ready after the file
    is removed (404), ready again when it is back; the container is never restarted."""
    name = short_name("ready")
    c = container("main", HTTPD, ports=[{"containerPort": 8080, "name": "http"}],
                  readinessProbe=probe({"httpGet": {"path": "/healthz", "port": "http"}}))
    await env.create(pod(name, [c], node=env.node_name))
    await env.wait_pod(name, lambda p: ready(p) == "True", what="Ready")
    assert (await env.exec_in(name, "main", "rm", "/www/healthz"))[0] == 0
    p = await env.wait_pod(name, lambda p: ready(p) == "False", what="not Ready")
    assert status_of(p)["ready"] is False and "running" in status_of(p)["state"]
    conds = {c["type"]: c for c in p["status"]["conditions"]}
    assert conds["Ready"]["reason"] == "ContainersNotReady"
    assert conds["Ready"]["message"] == "containers with unready status: [main]"
    assert (await env.exec_in(name, "main", "sh", "-c", "echo ok > /www/healthz"))[0] == 0
    p = await env.wait_pod(name, lambda p: ready(p) == "True", what="Ready again")
    assert status_of(p)["restartCount"] == 0


async def test_tcp_readiness_and_startup_probe_gate_started(env: KubeletEnv) -> None:
    """A startup probe keeps `started` false (and readiness unprobed) until it passes; then a tcpSocket
    readiness probe makes the container ready."""
    name = short_name("startup")
    c = container("main", ["sh", "-c", "sleep 1.5; touch /tmp/up; " + HTTPD[2]],
                  ports=[{"containerPort": 8080}],
                  startupProbe=probe({"exec": {"command": ["test", "-e", "/tmp/up"]}}, failureThreshold=30),
                  readinessProbe=probe({"tcpSocket": {"port": 8080}}))
    await env.create(pod(name, [c], node=env.node_name))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Running", what="Running")
    early = status_of(p)
    assert early["started"] is False and early["ready"] is False
    p = await env.wait_pod(name, lambda p: ready(p) == "True", what="Ready", timeout=20)
    assert status_of(p)["started"] is True and status_of(p)["restartCount"] == 0


async def test_grpc_probe_action_reads_the_health_service() -> None:
    """The grpc action speaks grpc.health.v1: SERVING is success, NOT_SERVING and a closed port fail."""
    statuses = {"": 1, "db": 2}

    async def check(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        service = request[2:].decode() if request else ""
        return bytes([0x08, statuses.get(service, 3)])

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("grpc.health.v1.Health", {
        "Check": grpc.unary_unary_rpc_method_handler(check, request_deserializer=lambda b: b,
                                                     response_serializer=lambda b: b)})
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        ok = await actions.run_grpc("127.0.0.1", port, "", timeout=2)
        assert ok.success
        bad = await actions.run_grpc("127.0.0.1", port, "db", timeout=2)
        assert not bad.success and bad.output == 'service unhealthy (responded with "NOT_SERVING")'
    finally:
        await server.stop(0)
    closed = await actions.run_grpc("127.0.0.1", port, "", timeout=1)
    assert not closed.success
