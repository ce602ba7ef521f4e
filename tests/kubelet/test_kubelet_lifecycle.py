"""Pod lifecycle through the kubelet on real containerd: Running with a full status, restart policies,
CrashLoopBackOff, OOMKilled, init containers and sidecars, hooks, graceful termination."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from kijabi.client.rest import PODS
from kijabi.kubelet import labels, startuptrace
from kijabi.kubelet.cri import api
from tests.kubelet.kubelet_harness import KubeletEnv, container, kubelet_env, pod, short_name, wait_for
from tests.kubelet.node import Node, requires_runtime

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node) as e:
        yield e


def state(p: dict, name: str, init: bool = False) -> dict:
    key = "initContainerStatuses" if init else "containerStatuses"
    for s in p["status"].get(key) or []:
        if s["name"] == name:
            return s
    return {}


def conditions(p: dict) -> dict[str, str]:
    return {c["type"]: c["status"] for c in p["status"].get("conditions") or []}


async def test_pod_runs_with_a_full_status(env: KubeletEnv) -> None:
    """A busybox pod turns Running: phase, IPs, start time, QoS class, the five conditions True, and a
    container status with running state, ready/started, image, imageID and containerID."""
    name = short_name("run")
    await env.create(pod(name, node=env.node_name))
    p = await env.wait_pod(name, lambda p: conditions(p).get("Ready") == "True", what="Ready")
    st = p["status"]
    assert st["phase"] == "Running"
    assert st["podIP"].startswith("10.42.250.") and st["podIPs"] == [{"ip": st["podIP"]}]
    assert st["hostIP"] == "127.0.0.1" and st["hostIPs"] == [{"ip": "127.0.0.1"}]
    assert st["qosClass"] == "BestEffort" and st["startTime"]
    assert [c["type"] for c in st["conditions"]] == ["PodReadyToStartContainers", "Initialized", "Ready",
                                                    "ContainersReady", "PodScheduled"]
    assert set(conditions(p).values()) == {"True"}
    cs = state(p, "main")
    assert "running" in cs["state"] and cs["ready"] is True and cs["started"] is True
    assert cs["restartCount"] == 0 and cs["lastState"] == {}
    assert cs["image"] == "docker.io/library/busybox:kijabi" and cs["imageID"].startswith("sha256:")
    assert cs["containerID"].startswith("containerd://")
    sandboxes = await env.sandboxes(p["metadata"]["uid"])
    assert len(sandboxes) == 1 and sandboxes[0].state == api.SANDBOX_READY
    assert sandboxes[0].labels[labels.POD_NAME] == name and sandboxes[0].labels[labels.NODE] == env.node_name
    info = env.kubelet.find_pod(env.namespace, name) if env.kubelet else None
    assert info is not None and info.sandbox_id == sandboxes[0].id
    assert info.containers["main"] == cs["containerID"].split("://")[1]


async def test_traced_pod_start_logs_its_phases(env: KubeletEnv, caplog: pytest.LogCaptureFixture) -> None:
    """With the start-trace logger at debug level, a pod's first start is logged once its Running status
    is acknowledged: the sandbox, create and start phases and the status PATCH, which add up to at most the
    total from the moment the kubelet saw the pod."""
    caplog.set_level(logging.DEBUG, logger="kijabi.kubelet.startuptrace")
    name = short_name("trace")
    await env.create(pod(name, node=env.node_name))
    await env.wait_pod(name, lambda p: p["status"].get("phase") == "Running", what="Running")

    async def traced() -> dict[str, float] | None:
        for r in caplog.records:
            parsed = startuptrace.parse(r.getMessage())
            if parsed is not None and parsed[0] == f"{env.namespace}/{name}":
                return parsed[1]
        return None

    values = await wait_for(traced, what="the start trace")
    assert {"queue", "fetch", "cgroup", "sandbox", "image", "create", "start", "refetch", "patch"} <= set(values)
    assert abs(values["seen"] - time.time()) < 60
    parts = sum(v for k, v in values.items() if k not in ("seen", "total"))
    assert 0 < values["sandbox"] and 0 < values["start"] and parts <= values["total"] + 1


@pytest.mark.parametrize(("policy", "script", "phase", "reason", "exit_code"), [
    ("Never", "exit 0", "Succeeded", "Completed", 0),
    ("Never", "exit 3", "Failed", "Error", 3),
    ("OnFailure", "exit 0", "Succeeded", "Completed", 0),
], ids=["never-success", "never-failure", "onfailure-success"])
async def test_restart_policy_decides_the_terminal_phase(env: KubeletEnv, policy: str, script: str, phase: str,
                                                         reason: str, exit_code: int) -> None:
    """Containers that exit and are not restarted leave the pod Succeeded or Failed, with the exit code and
    reason in the terminated state; the sandbox is stopped."""
    name = short_name("exit")
    await env.create(pod(name, command=["sh", "-c", script], node=env.node_name, restartPolicy=policy))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == phase, what=phase)
    term = state(p, "main")["state"]["terminated"]
    assert (term["exitCode"], term["reason"]) == (exit_code, reason)
    assert term["startedAt"] and term["finishedAt"] and term["containerID"].startswith("containerd://")
    assert conditions(p)["Ready"] == "False" and conditions(p)["ContainersReady"] == "False"

    async def sandbox_stopped() -> bool:
        # as upstream, the phase is reported when the containers stopped; the sandbox stops right after
        sandboxes = await env.sandboxes(p["metadata"]["uid"])
        return bool(sandboxes) and all(sb.state == api.SANDBOX_NOTREADY for sb in sandboxes)

    await wait_for(sandbox_stopped, timeout=20, what="the sandbox stopped")


async def test_crashing_container_enters_crash_loop_backoff(env: KubeletEnv) -> None:
    """restartPolicy Always: the first crash restarts at once (restartCount 1), the next waits in
    CrashLoopBackOff with upstream's message and the last exit in lastState."""
    name = short_name("crash")
    await env.create(pod(name, command=["sh", "-c", "echo bye; exit 2"], node=env.node_name))

    def in_backoff(p: dict) -> bool:
        return state(p, "main").get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"

    p = await env.wait_pod(name, in_backoff, what="CrashLoopBackOff", timeout=20)
    cs = state(p, "main")
    assert cs["restartCount"] == 1
    msg = cs["state"]["waiting"]["message"]
    assert msg.startswith("back-off 10s restarting failed container=main pod=" + name)
    assert cs["lastState"]["terminated"]["exitCode"] == 2
    assert p["status"]["phase"] == "Running"
    assert conditions(p)["Ready"] == "False"
    # only the newest dead instance is kept
    containers = await env.containers(p["metadata"]["uid"])
    assert len(containers) <= 2


async def test_memory_limit_ends_in_oom_killed(env: KubeletEnv) -> None:
    """A process allocating past a 20Mi limit is killed by the kernel: terminated reason OOMKilled, 137."""
    name = short_name("oom")
    c = container("hog", ["sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1"],
                  resources={"limits": {"memory": "20Mi", "cpu": "500m"}})
    await env.create(pod(name, [c], node=env.node_name, restartPolicy="Never"))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Failed", what="Failed")
    term = state(p, "hog")["state"]["terminated"]
    assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
    assert p["status"]["qosClass"] == "Guaranteed"


async def test_init_containers_run_in_order_before_sidecars_and_app(env: KubeletEnv) -> None:
    """Init containers run one after the other; a sidecar starts before the app and keeps running; the
    app sees what the init containers wrote; Initialized turns True; the sidecar is ready in its status."""
    name = short_name("init")
    shared = [{"name": "work", "mountPath": "/work"}]
    spec = pod(name, [container("app", ["sh", "-c", "cat /work/log; sleep 3600"], volumeMounts=shared)],
               node=env.node_name, volumes=[{"name": "work", "emptyDir": {}}],
               initContainers=[
                   container("first", ["sh", "-c", "echo first >> /work/log"], volumeMounts=shared),
                   container("second", ["sh", "-c", "echo second >> /work/log"], volumeMounts=shared),
                   container("sidecar", ["sh", "-c", "echo sidecar >> /work/log; sleep 3600"], volumeMounts=shared,
                             restartPolicy="Always"),
               ])
    await env.create(spec)
    p = await env.wait_pod(name, lambda p: conditions(p).get("Ready") == "True", what="Ready")
    assert conditions(p)["Initialized"] == "True"
    first, second = state(p, "first", init=True), state(p, "second", init=True)
    assert first["state"]["terminated"]["reason"] == "Completed" and first["ready"] is True
    assert second["state"]["terminated"]["exitCode"] == 0
    sidecar = state(p, "sidecar", init=True)
    assert "running" in sidecar["state"] and sidecar["started"] is True and sidecar["ready"] is True
    code, out = await env.exec_in(name, "app", "cat", "/work/log")
    assert (code, out.split()) == (0, ["first", "second", "sidecar"])
    t_first = first["state"]["terminated"]["finishedAt"]
    t_second = second["state"]["terminated"]["startedAt"]
    assert t_first <= t_second


async def test_failing_init_container_with_restart_never_fails_the_pod(env: KubeletEnv) -> None:
    """A regular init container that fails under restartPolicy Never fails the pod; the app never starts."""
    name = short_name("initfail")
    await env.create(pod(name, node=env.node_name, restartPolicy="Never",
                         initContainers=[container("setup", ["sh", "-c", "exit 1"])]))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Failed", what="Failed")
    assert state(p, "setup", init=True)["state"]["terminated"]["exitCode"] == 1
    assert "waiting" in state(p, "main")["state"]
    conds = {c["type"]: c for c in p["status"]["conditions"]}
    assert conds["Initialized"]["status"] == "False"
    assert conds["Initialized"]["message"] == "containers with incomplete status: [setup]"


async def test_sidecar_stops_after_the_app_when_the_job_is_done(env: KubeletEnv) -> None:
    """A pod whose app exits (restartPolicy Never) completes even though its sidecar runs forever: the
    sidecar is stopped and the pod Succeeds."""
    name = short_name("job")
    await env.create(pod(name, [container("app", ["sh", "-c", "sleep 0.5"])], node=env.node_name,
                         restartPolicy="Never",
                         initContainers=[container("proxy", ["sleep", "3600"], restartPolicy="Always")]))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Succeeded", what="Succeeded", timeout=30)
    assert state(p, "app")["state"]["terminated"]["exitCode"] == 0
    assert "terminated" in state(p, "proxy", init=True)["state"]


async def test_graceful_deletion_runs_pre_stop_then_confirms_the_delete(env: KubeletEnv) -> None:
    """Deleting a running pod: the preStop hook runs in the container, SIGTERM follows, and the kubelet
    removes the API object (grace 0) once everything stopped; its sandbox and containers are gone."""
    name = short_name("grace")
    mark = env.config.data_dir / f"prestop-{name}"
    c = container("main", ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"],
                  volumeMounts=[{"name": "host", "mountPath": "/host"}],
                  lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "echo stopping > /host/" + mark.name]}}})
    created = await env.create(pod(name, [c], node=env.node_name,
                                   volumes=[{"name": "host", "hostPath": {"path": str(env.config.data_dir)}}]))
    await env.wait_running(name)
    started = time.monotonic()
    await env.client.delete(PODS, name, namespace=env.namespace, grace_period_seconds=10)
    await env.wait_gone(name, timeout=20)
    assert time.monotonic() - started < 8, "the container honoured SIGTERM; no need to wait the grace period"
    assert mark.read_text() == "stopping\n"
    uid = created["metadata"]["uid"]
    assert await env.sandboxes(uid) == [] and await env.containers(uid) == []
    assert not (env.config.paths.pod_dir(uid)).exists()


async def test_post_start_hook_runs_after_the_container_starts(env: KubeletEnv) -> None:
    """postStart (exec) runs inside the started container before the kubelet reports it running."""
    name = short_name("poststart")
    c = container("main", ["sleep", "3600"],
                  lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "echo hooked > /tmp/hook"]}}})
    await env.create(pod(name, [c], node=env.node_name))
    await env.wait_running(name)
    code, out = await env.exec_in(name, "main", "cat", "/tmp/hook")
    assert (code, out) == (0, "hooked\n")


async def test_image_policy_never_without_the_image_waits_with_err_image_never_pull(env: KubeletEnv) -> None:
    """imagePullPolicy Never and an absent image: the container waits with ErrImageNeverPull."""
    name = short_name("never")
    c = {"name": "main", "image": "docker.io/library/absent:1.0", "imagePullPolicy": "Never"}
    await env.create(pod(name, [c], node=env.node_name))

    def waiting(p: dict) -> bool:
        return state(p, "main").get("state", {}).get("waiting", {}).get("reason") == "ErrImageNeverPull"

    p = await env.wait_pod(name, waiting, what="ErrImageNeverPull")
    assert state(p, "main")["state"]["waiting"]["message"] == \
        'Container image "docker.io/library/absent:1.0" is not present with pull policy of Never'
    assert p["status"]["phase"] == "Pending"


async def test_pod_lookup_for_the_kubelet_api(env: KubeletEnv) -> None:
    """The kubelet API's lookup resolves names through the kubelet core: sandbox, current container with
    its log path, and GET /pods with the status the kubelet generated."""
    from kijabi.kubelet.lookup import KubeletPodLookup

    name = short_name("lookup")
    created = await env.create(pod(name, command=["sh", "-c", "echo hi; sleep 3600"], node=env.node_name))
    await env.wait_running(name)
    assert env.kubelet is not None
    lookup = KubeletPodLookup(env.kubelet)
    sandbox = await lookup.sandbox(env.namespace, name)
    assert sandbox is not None and sandbox.uid == created["metadata"]["uid"] and sandbox.ready
    ref = await lookup.container(env.namespace, name, "main")
    assert ref is not None and ref.running and ref.log_path.endswith("/main/0.log")
    assert await lookup.container(env.namespace, name, "main", previous=True) is None
    assert await lookup.container(env.namespace, "no-such-pod", "main") is None
    listed = {p["metadata"]["name"]: p for p in await lookup.pods()}
    assert listed[name]["status"]["phase"] == "Running" and listed[name]["kind"] == "Pod"


async def test_active_deadline_fails_the_pod(env: KubeletEnv) -> None:
    """spec.activeDeadlineSeconds: once the pod ran that long it is killed and fails with DeadlineExceeded."""
    name = short_name("deadline")
    await env.create(pod(name, command=["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"],
                         node=env.node_name, activeDeadlineSeconds=2))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Failed", what="Failed", timeout=20)
    assert p["status"]["reason"] == "DeadlineExceeded"
    assert p["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    assert "terminated" in state(p, "main")["state"]


async def test_http_get_hooks_call_their_target(env: KubeletEnv) -> None:
    """postStart and preStop httpGet hooks send GET requests with the hook's path and headers to the
    given host and port (here a server of the test on 127.0.0.1)."""
    import asyncio

    seen: list[str] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
        seen.append(head)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        name = short_name("httphook")
        hook = {"host": "127.0.0.1", "port": port, "httpHeaders": [{"name": "X-Hook", "value": "yes"}]}
        c = container("main", ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"], lifecycle={
            "postStart": {"httpGet": {**hook, "path": "/started"}},
            "preStop": {"httpGet": {**hook, "path": "/stopping"}}})
        await env.create(pod(name, [c], node=env.node_name))
        await env.wait_running(name)
        assert seen and seen[0].startswith("GET /started HTTP/1.1") and "X-Hook: yes" in seen[0]
        assert "User-Agent: kube-lifecycle/1.32" in seen[0]
        await env.client.delete(PODS, name, namespace=env.namespace, grace_period_seconds=5)
        await env.wait_gone(name)
        assert any(h.startswith("GET /stopping HTTP/1.1") for h in seen)
    finally:
        server.close()
        await server.wait_closed()


async def test_pod_that_does_not_fit_is_refused_at_admission(env: KubeletEnv) -> None:
    """A pod requesting more CPU than the node has fails at admission with OutOfcpu; nothing runs."""
    name = short_name("toobig")
    c = container("main", ["sleep", "3600"], resources={"requests": {"cpu": "1000"}})
    created = await env.create(pod(name, [c], node=env.node_name))
    p = await env.wait_pod(name, lambda p: p["status"].get("phase") == "Failed", what="refusal")
    assert p["status"]["reason"] == "OutOfcpu"
    assert p["status"]["message"].startswith("Pod was rejected: Node didn't have enough resource: cpu, "
                                             "requested: 1000000, used: ")
    assert await env.sandboxes(created["metadata"]["uid"]) == []
