"""The CRI client against a fake runtime (an in-process gRPC server on a unix socket): requests it builds,
errors it maps, deadlines it sets. No containerd needed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import pytest

from kijabi.kubelet.cri import (
    CRIConnection,
    CRIError,
    DeadlineExceeded,
    InvalidArgument,
    NameReserved,
    NotFound,
    RuntimeFailure,
    RuntimeUnavailable,
    Unimplemented,
    api,
    connect,
    decode_info,
)
from kijabi.kubelet.cri import runtime_v1_pb2_grpc as api_grpc


@dataclass
class Behaviour:
    """What the fake runtime does: an error to abort with, and the requests it saw."""

    abort: tuple[grpc.StatusCode, str] | None = None
    delay: float = 0.0
    seen: list[tuple[str, Any, float | None]] = field(default_factory=list)


class FakeRuntime(api_grpc.RuntimeServiceServicer):
    def __init__(self, behaviour: Behaviour) -> None:
        self.b = behaviour

    async def _answer(self, name: str, request: Any, context: grpc.aio.ServicerContext, response: Any) -> Any:
        self.b.seen.append((name, request, context.time_remaining()))
        if self.b.delay:
            await asyncio.sleep(self.b.delay)
        if self.b.abort:
            await context.abort(*self.b.abort)
        return response

    async def Version(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("Version", request, context, api.VersionResponse(
            version="0.1.0", runtime_name="fake", runtime_version="1", runtime_api_version="v1"))

    async def RunPodSandbox(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("RunPodSandbox", request, context, api.RunPodSandboxResponse(pod_sandbox_id="sb1"))

    async def ListPodSandbox(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("ListPodSandbox", request, context, api.ListPodSandboxResponse(
            items=[api.PodSandbox(id="sb1"), api.PodSandbox(id="sb2")]))

    async def ListContainers(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("ListContainers", request, context, api.ListContainersResponse())

    async def StopContainer(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("StopContainer", request, context, api.StopContainerResponse())

    async def ExecSync(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("ExecSync", request, context, api.ExecSyncResponse(
            stdout=b"out", stderr=b"err", exit_code=7))

    async def PodSandboxStatus(self, request, context):  # type: ignore[no-untyped-def]
        return await self._answer("PodSandboxStatus", request, context, api.PodSandboxStatusResponse(
            status=api.PodSandboxStatus(id=request.pod_sandbox_id), info={"info": '{"pid": 42}', "raw": "not json"}))


class FakeImages(api_grpc.ImageServiceServicer):
    def __init__(self, behaviour: Behaviour) -> None:
        self.b = behaviour

    async def ImageStatus(self, request, context):  # type: ignore[no-untyped-def]
        self.b.seen.append(("ImageStatus", request, context.time_remaining()))
        if request.image.image == "present":
            return api.ImageStatusResponse(image=api.Image(id="sha256:abc", repo_tags=["present"]))
        return api.ImageStatusResponse()

    async def PullImage(self, request, context):  # type: ignore[no-untyped-def]
        self.b.seen.append(("PullImage", request, context.time_remaining()))
        return api.PullImageResponse(image_ref="sha256:abc")


@dataclass
class Fake:
    socket: Path
    behaviour: Behaviour
    server: grpc.aio.Server


@pytest.fixture
async def fake(tmp_path: Path) -> AsyncIterator[Fake]:
    behaviour = Behaviour()
    server = grpc.aio.server()
    add_runtime: Any = api_grpc.add_RuntimeServiceServicer_to_server
    add_images: Any = api_grpc.add_ImageServiceServicer_to_server
    add_runtime(FakeRuntime(behaviour), server)
    add_images(FakeImages(behaviour), server)
    socket = tmp_path / "cri.sock"
    server.add_insecure_port(f"unix://{socket}")
    await server.start()
    try:
        yield Fake(socket, behaviour, server)
    finally:
        await server.stop(None)


@pytest.fixture
async def conn(fake: Fake) -> AsyncIterator[CRIConnection]:
    c = await connect(fake.socket, timeout=5, request_timeout=30)
    try:
        yield c
    finally:
        await c.close()


ERRORS = [
    (grpc.StatusCode.NOT_FOUND, "an error occurred when try to find sandbox", NotFound),
    (grpc.StatusCode.UNAVAILABLE, "connection refused", RuntimeUnavailable),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "timeout 1s exceeded", DeadlineExceeded),
    (grpc.StatusCode.INVALID_ARGUMENT, "bad", InvalidArgument),
    (grpc.StatusCode.UNIMPLEMENTED, "method RunPodSandbox not implemented", Unimplemented),
    (grpc.StatusCode.ALREADY_EXISTS, "exists", NameReserved),
    (grpc.StatusCode.UNKNOWN, 'failed to reserve sandbox name "web_ns_uid_0": name is reserved', NameReserved),
    (grpc.StatusCode.UNKNOWN, "failed to create containerd task", RuntimeFailure),
    (grpc.StatusCode.INTERNAL, "boom", RuntimeFailure),
    (grpc.StatusCode.UNKNOWN, "server is not initialized yet", RuntimeUnavailable),
]


@pytest.mark.parametrize(("code", "details", "expected"), ERRORS, ids=[f"{c.name}-{e.__name__}" for c, _, e in ERRORS])
async def test_grpc_errors_become_our_exceptions(conn: CRIConnection, fake: Fake, code: grpc.StatusCode,
                                                 details: str, expected: type[CRIError]) -> None:
    """Every gRPC status maps to one CRIError subclass carrying code, method and the runtime's message."""
    fake.behaviour.abort = (code, details)
    with pytest.raises(expected) as info:
        await conn.runtime.run_pod_sandbox(api.PodSandboxConfig())
    err = info.value
    assert (err.code, err.method, err.details) == (code.name, "RunPodSandbox", details)
    assert not isinstance(err, grpc.RpcError)
    assert str(err) == f"RunPodSandbox: {details}"


async def test_connect_to_a_missing_socket_is_runtime_unavailable(tmp_path: Path) -> None:
    with pytest.raises(RuntimeUnavailable, match="no CRI runtime answered"):
        await connect(tmp_path / "nothing.sock", timeout=0.3)


async def test_calls_after_close_are_runtime_unavailable(fake: Fake) -> None:
    conn = await connect(fake.socket, timeout=5)
    await conn.close()
    with pytest.raises(RuntimeUnavailable):
        await conn.runtime.version()


async def test_runtime_going_away_is_runtime_unavailable(conn: CRIConnection, fake: Fake) -> None:
    await fake.server.stop(None)
    with pytest.raises(RuntimeUnavailable):
        await conn.runtime.version(timeout=2)


async def test_filters_are_sent_as_given(conn: CRIConnection, fake: Fake) -> None:
    """List filters carry id, state and labels; an unset state stays unset (it is not SANDBOX_READY)."""
    items = await conn.runtime.list_pod_sandbox(label_selector={"app": "web"}, state=api.SANDBOX_NOTREADY)
    assert [i.id for i in items] == ["sb1", "sb2"]
    await conn.runtime.list_pod_sandbox()
    await conn.runtime.list_containers(pod_sandbox_id="sb1", state=api.CONTAINER_RUNNING)
    (_, first, _), (_, second, _), (_, third, _) = fake.behaviour.seen[-3:]
    assert dict(first.filter.label_selector) == {"app": "web"} and first.filter.state.state == api.SANDBOX_NOTREADY
    assert not second.filter.HasField("state")
    assert third.filter.pod_sandbox_id == "sb1" and third.filter.state.state == api.CONTAINER_RUNNING


DEADLINES = [
    ("default request timeout", lambda c: c.runtime.version(), 30.0),
    ("explicit timeout", lambda c: c.runtime.version(timeout=3), 3.0),
    ("stop adds its grace period", lambda c: c.runtime.stop_container("c1", 20), 50.0),
    ("exec adds its command timeout", lambda c: c.runtime.exec_sync("c1", ["true"], timeout=10), 40.0),
    ("exec without timeout has no deadline", lambda c: c.runtime.exec_sync("c1", ["true"]), None),
    ("pull has no deadline", lambda c: c.images.pull_image("busybox"), None),
]


@pytest.mark.parametrize(("call", "expected"), [(c, e) for _, c, e in DEADLINES], ids=[n for n, _, _ in DEADLINES])
async def test_deadlines(conn: CRIConnection, fake: Fake, call: Any, expected: float | None) -> None:
    """The deadline the runtime sees: request timeout, or the operation's own time on top of it."""
    await call(conn)
    remaining = fake.behaviour.seen[-1][2]
    if expected is None:
        assert remaining is None
    else:
        assert remaining is not None and expected - 2 < remaining < expected + 1  # wire encoding rounds up


async def test_exec_sync_returns_output_and_nonzero_exit_as_a_result(conn: CRIConnection, fake: Fake) -> None:
    result = await conn.runtime.exec_sync("c1", ["sh", "-c", "exit 7"], timeout=5)
    assert (result.stdout, result.stderr, result.exit_code) == (b"out", b"err", 7)
    request = fake.behaviour.seen[-1][1]
    assert (request.container_id, list(request.cmd), request.timeout) == ("c1", ["sh", "-c", "exit 7"], 5)


async def test_client_deadline_maps_to_deadline_exceeded(conn: CRIConnection, fake: Fake) -> None:
    fake.behaviour.delay = 1.0
    with pytest.raises(DeadlineExceeded):
        await conn.runtime.version(timeout=0.1)


async def test_status_info_decodes_json_values(conn: CRIConnection) -> None:
    resp = await conn.runtime.pod_sandbox_status("sb9", verbose=True)
    assert resp.status.id == "sb9"
    assert decode_info(resp.info) == {"info": {"pid": 42}, "raw": "not json"}


async def test_get_image_is_none_for_an_absent_image(conn: CRIConnection) -> None:
    present = await conn.images.get_image("present")
    assert present is not None and present.id == "sha256:abc"
    assert await conn.images.get_image("absent") is None
    assert await conn.images.pull_image("busybox") == "sha256:abc"
