"""Async CRI v1 client: `RuntimeClient` and `ImageClient` over one grpc.aio channel to a unix socket.

    async with await connect("/var/lib/kijabi/agent/containerd/containerd.sock") as cri:
        sandbox_id = await cri.runtime.run_pod_sandbox(sandbox_config)
        container_id = await cri.runtime.create_container(sandbox_id, container_config, sandbox_config)
        await cri.runtime.start_container(container_id)
        result = await cri.runtime.exec_sync(container_id, ["echo", "hi"], timeout=5)

Contract:
- Requests and results are the generated protobuf messages of `runtime_v1_pb2` (imported as `api`; its .pyi
  gives them types). Methods whose answer is one id or nothing return that (`str` / `None`); list methods
  return a `list` of items; `*_status` methods return the whole response (`.status` plus the `info` map,
  which `decode_info` turns into JSON values when `verbose=True` was asked for).
- Every failure raises a `kijabi.kubelet.cri.errors.CRIError` subclass; grpc exceptions never escape.
  Cancelling the awaiting task cancels the RPC (CancelledError propagates as usual).
- Deadlines: each call gets `request_timeout` (default 2 minutes, the kubelet's --runtime-request-timeout)
  unless it says otherwise. `stop_container` allows its grace period on top; `exec_sync` allows its
  command timeout on top (no deadline when the command has none); `pull_image` has no deadline by default.
- Not found (observed with containerd 1.6): status and stop calls raise NotFound for an unknown id;
  remove calls succeed for an unknown or already removed id; `image_status` of an unknown image returns a
  response without `image` (see `get_image`).
- containerd 1.6 does not implement GetContainerEvents: a kubelet has to relist (poll), so it is not
  wrapped here. The raw generated stubs remain reachable as `RuntimeClient.stub` / `ImageClient.stub`.
- A client is bound to the event loop on which its channel was created.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import grpc
import grpc.aio
import orjson
from google.protobuf.message import Message

from kijabi.kubelet.cri import runtime_v1_pb2 as api
from kijabi.kubelet.cri import runtime_v1_pb2_grpc as api_grpc
from kijabi.kubelet.cri.errors import CRIError, RuntimeUnavailable, from_status

DEFAULT_REQUEST_TIMEOUT = 120.0
MAX_MESSAGE_BYTES = 16 * 1024 * 1024  # the kubelet's limit for CRI messages
CRI_API_VERSION = "v1"

_Resp = TypeVar("_Resp", bound=Message)

# The generated stubs are untyped; their RPC attributes are used through `_Client._call`, which types results.
_RUNTIME_STUB: Callable[[grpc.aio.Channel], Any] = api_grpc.RuntimeServiceStub
_IMAGE_STUB: Callable[[grpc.aio.Channel], Any] = api_grpc.ImageServiceStub


@dataclass(frozen=True)
class ExecResult:
    """What ExecSync returns: the command's output and exit code (a non-zero exit is not an error)."""

    stdout: bytes
    stderr: bytes
    exit_code: int


def decode_info(info: Mapping[str, str]) -> dict[str, Any]:
    """The `info` map of a verbose status response with each value parsed as JSON (kept as text if not)."""
    out: dict[str, Any] = {}
    for key, value in info.items():
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


class _Client:
    """Shared call path: deadline, error mapping."""

    _service = ""

    def __init__(self, channel: grpc.aio.Channel, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.channel = channel
        self.request_timeout = request_timeout

    def _deadline(self, timeout: float | None, default: float | None) -> float | None:
        return default if timeout is None else timeout

    async def _call(self, method: str, rpc: Callable[..., Any], request: Message, response: type[_Resp],
                    timeout: float | None) -> _Resp:
        try:
            result = await rpc(request, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            raise from_status(exc.code(), exc.details() or "", method) from exc
        except grpc.aio.UsageError as exc:
            raise RuntimeUnavailable(f"channel closed: {exc}", code="UNAVAILABLE", method=method) from exc
        if not isinstance(result, response):
            raise CRIError(f"unexpected response type {type(result).__name__}", method=method)
        return result


class RuntimeClient(_Client):
    """The CRI RuntimeService: sandboxes, containers, exec, stats, runtime status."""

    def __init__(self, channel: grpc.aio.Channel, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        super().__init__(channel, request_timeout=request_timeout)
        self.stub = _RUNTIME_STUB(channel)

    # --- runtime -----------------------------------------------------------------------------------------

    async def version(self, *, timeout: float | None = None) -> api.VersionResponse:
        """Runtime name, runtime version and CRI API version ("v1")."""
        return await self._call("Version", self.stub.Version, api.VersionRequest(version=CRI_API_VERSION),
                                api.VersionResponse, self._deadline(timeout, self.request_timeout))

    async def status(self, *, verbose: bool = False, timeout: float | None = None) -> api.StatusResponse:
        """Runtime conditions (RuntimeReady, NetworkReady); with verbose, `info` (config, cniconfig, ...)."""
        return await self._call("Status", self.stub.Status, api.StatusRequest(verbose=verbose),
                                api.StatusResponse, self._deadline(timeout, self.request_timeout))

    async def update_runtime_config(self, pod_cidr: str, *, timeout: float | None = None) -> None:
        """Tell the runtime the node's pod CIDR (containerd passes it to CNI config templates only)."""
        req = api.UpdateRuntimeConfigRequest(
            runtime_config=api.RuntimeConfig(network_config=api.NetworkConfig(pod_cidr=pod_cidr)))
        await self._call("UpdateRuntimeConfig", self.stub.UpdateRuntimeConfig, req,
                         api.UpdateRuntimeConfigResponse, self._deadline(timeout, self.request_timeout))

    # --- pod sandboxes -----------------------------------------------------------------------------------

    async def run_pod_sandbox(self, config: api.PodSandboxConfig, *, runtime_handler: str = "",
                              timeout: float | None = None) -> str:
        """Create and start a sandbox (pause container, network namespace, CNI ADD); returns its id.

        The name `(metadata.name, namespace, uid, attempt)` must be new: raises NameReserved otherwise.
        """
        req = api.RunPodSandboxRequest(config=config, runtime_handler=runtime_handler)
        resp = await self._call("RunPodSandbox", self.stub.RunPodSandbox, req, api.RunPodSandboxResponse,
                                self._deadline(timeout, self.request_timeout))
        return resp.pod_sandbox_id

    async def stop_pod_sandbox(self, pod_sandbox_id: str, *, timeout: float | None = None) -> None:
        """Kill the sandbox's containers, run CNI DEL, close the netns. Idempotent for a known id."""
        await self._call("StopPodSandbox", self.stub.StopPodSandbox,
                         api.StopPodSandboxRequest(pod_sandbox_id=pod_sandbox_id), api.StopPodSandboxResponse,
                         self._deadline(timeout, self.request_timeout))

    async def remove_pod_sandbox(self, pod_sandbox_id: str, *, timeout: float | None = None) -> None:
        """Remove the sandbox and its containers (stopping them if needed). Succeeds for an unknown id."""
        await self._call("RemovePodSandbox", self.stub.RemovePodSandbox,
                         api.RemovePodSandboxRequest(pod_sandbox_id=pod_sandbox_id), api.RemovePodSandboxResponse,
                         self._deadline(timeout, self.request_timeout))

    async def pod_sandbox_status(self, pod_sandbox_id: str, *, verbose: bool = False,
                                 timeout: float | None = None) -> api.PodSandboxStatusResponse:
        """`.status` (state, network.ip, metadata, ...) and, with verbose, `.info` (see decode_info)."""
        req = api.PodSandboxStatusRequest(pod_sandbox_id=pod_sandbox_id, verbose=verbose)
        return await self._call("PodSandboxStatus", self.stub.PodSandboxStatus, req,
                                api.PodSandboxStatusResponse, self._deadline(timeout, self.request_timeout))

    async def list_pod_sandbox(self, *, id: str = "", state: api.PodSandboxState | None = None,
                               label_selector: Mapping[str, str] | None = None,
                               timeout: float | None = None) -> list[api.PodSandbox]:
        """Sandboxes matching every given filter (labels: all must match exactly)."""
        flt = api.PodSandboxFilter(id=id, label_selector=dict(label_selector or {}))
        if state is not None:
            flt.state.CopyFrom(api.PodSandboxStateValue(state=state))
        resp = await self._call("ListPodSandbox", self.stub.ListPodSandbox, api.ListPodSandboxRequest(filter=flt),
                                api.ListPodSandboxResponse, self._deadline(timeout, self.request_timeout))
        return list(resp.items)

    async def pod_sandbox_stats(self, pod_sandbox_id: str, *, timeout: float | None = None) -> api.PodSandboxStats:
        """CPU, memory, network and process figures of one sandbox, with its containers' stats."""
        resp = await self._call("PodSandboxStats", self.stub.PodSandboxStats,
                                api.PodSandboxStatsRequest(pod_sandbox_id=pod_sandbox_id),
                                api.PodSandboxStatsResponse, self._deadline(timeout, self.request_timeout))
        return resp.stats

    async def list_pod_sandbox_stats(self, *, id: str = "", label_selector: Mapping[str, str] | None = None,
                                     timeout: float | None = None) -> list[api.PodSandboxStats]:
        flt = api.PodSandboxStatsFilter(id=id, label_selector=dict(label_selector or {}))
        resp = await self._call("ListPodSandboxStats", self.stub.ListPodSandboxStats,
                                api.ListPodSandboxStatsRequest(filter=flt), api.ListPodSandboxStatsResponse,
                                self._deadline(timeout, self.request_timeout))
        return list(resp.stats)

    async def port_forward(self, pod_sandbox_id: str, ports: Iterable[int] = (), *,
                           timeout: float | None = None) -> str:
        """A one-use streaming URL (http://127.0.0.1:<port>/portforward/<token>) for the sandbox."""
        resp = await self._call("PortForward", self.stub.PortForward,
                                api.PortForwardRequest(pod_sandbox_id=pod_sandbox_id, port=list(ports)),
                                api.PortForwardResponse, self._deadline(timeout, self.request_timeout))
        return resp.url

    # --- containers --------------------------------------------------------------------------------------

    async def create_container(self, pod_sandbox_id: str, config: api.ContainerConfig,
                               sandbox_config: api.PodSandboxConfig, *, timeout: float | None = None) -> str:
        """Create a container in a sandbox; returns its id. Pass the sandbox's own config again.

        The name `(metadata.name, attempt)` must be new in the sandbox: raises NameReserved otherwise.
        """
        req = api.CreateContainerRequest(pod_sandbox_id=pod_sandbox_id, config=config, sandbox_config=sandbox_config)
        resp = await self._call("CreateContainer", self.stub.CreateContainer, req, api.CreateContainerResponse,
                                self._deadline(timeout, self.request_timeout))
        return resp.container_id

    async def start_container(self, container_id: str, *, timeout: float | None = None) -> None:
        await self._call("StartContainer", self.stub.StartContainer,
                         api.StartContainerRequest(container_id=container_id), api.StartContainerResponse,
                         self._deadline(timeout, self.request_timeout))

    async def stop_container(self, container_id: str, grace_period: int = 0, *,
                             timeout: float | None = None) -> None:
        """SIGTERM (the image's stop signal), then SIGKILL after `grace_period` seconds (0: at once).

        The call's deadline is the grace period plus `request_timeout` unless `timeout` is given.
        """
        req = api.StopContainerRequest(container_id=container_id, timeout=grace_period)
        await self._call("StopContainer", self.stub.StopContainer, req, api.StopContainerResponse,
                         self._deadline(timeout, grace_period + self.request_timeout))

    async def remove_container(self, container_id: str, *, timeout: float | None = None) -> None:
        """Remove a container (killing it if running). Succeeds for an unknown id. Its log file stays."""
        await self._call("RemoveContainer", self.stub.RemoveContainer,
                         api.RemoveContainerRequest(container_id=container_id), api.RemoveContainerResponse,
                         self._deadline(timeout, self.request_timeout))

    async def list_containers(self, *, id: str = "", pod_sandbox_id: str = "",
                              state: api.ContainerState | None = None,
                              label_selector: Mapping[str, str] | None = None,
                              timeout: float | None = None) -> list[api.Container]:
        """Containers matching every given filter (labels: all must match exactly)."""
        flt = api.ContainerFilter(id=id, pod_sandbox_id=pod_sandbox_id, label_selector=dict(label_selector or {}))
        if state is not None:
            flt.state.CopyFrom(api.ContainerStateValue(state=state))
        resp = await self._call("ListContainers", self.stub.ListContainers, api.ListContainersRequest(filter=flt),
                                api.ListContainersResponse, self._deadline(timeout, self.request_timeout))
        return list(resp.containers)

    async def container_status(self, container_id: str, *, verbose: bool = False,
                               timeout: float | None = None) -> api.ContainerStatusResponse:
        """`.status` (state, exit_code, reason, started_at, log_path, ...) and, with verbose, `.info`."""
        req = api.ContainerStatusRequest(container_id=container_id, verbose=verbose)
        return await self._call("ContainerStatus", self.stub.ContainerStatus, req, api.ContainerStatusResponse,
                                self._deadline(timeout, self.request_timeout))

    async def update_container_resources(self, container_id: str, linux: api.LinuxContainerResources, *,
                                         timeout: float | None = None) -> None:
        req = api.UpdateContainerResourcesRequest(container_id=container_id, linux=linux)
        await self._call("UpdateContainerResources", self.stub.UpdateContainerResources, req,
                         api.UpdateContainerResourcesResponse, self._deadline(timeout, self.request_timeout))

    async def reopen_container_log(self, container_id: str, *, timeout: float | None = None) -> None:
        """Make the runtime reopen the container's log file (after the kubelet rotated it)."""
        await self._call("ReopenContainerLog", self.stub.ReopenContainerLog,
                         api.ReopenContainerLogRequest(container_id=container_id), api.ReopenContainerLogResponse,
                         self._deadline(timeout, self.request_timeout))

    async def container_stats(self, container_id: str, *, timeout: float | None = None) -> api.ContainerStats:
        """cpu, memory and writable-layer usage of one container (no cpu/memory once it has exited)."""
        resp = await self._call("ContainerStats", self.stub.ContainerStats,
                                api.ContainerStatsRequest(container_id=container_id), api.ContainerStatsResponse,
                                self._deadline(timeout, self.request_timeout))
        return resp.stats

    async def list_container_stats(self, *, id: str = "", pod_sandbox_id: str = "",
                                   label_selector: Mapping[str, str] | None = None,
                                   timeout: float | None = None) -> list[api.ContainerStats]:
        flt = api.ContainerStatsFilter(id=id, pod_sandbox_id=pod_sandbox_id, label_selector=dict(label_selector or {}))
        resp = await self._call("ListContainerStats", self.stub.ListContainerStats,
                                api.ListContainerStatsRequest(filter=flt), api.ListContainerStatsResponse,
                                self._deadline(timeout, self.request_timeout))
        return list(resp.stats)

    # --- exec, attach ------------------------------------------------------------------------------------

    async def exec_sync(self, container_id: str, cmd: Iterable[str], *, timeout: int = 0) -> ExecResult:
        """Run `cmd` in the container and wait for it. `timeout` in whole seconds (0: none).

        A non-zero exit is a result, not an error. The command running out of time raises DeadlineExceeded;
        an executable that does not exist raises RuntimeFailure (containerd answers UNKNOWN).
        """
        req = api.ExecSyncRequest(container_id=container_id, cmd=list(cmd), timeout=timeout)
        deadline = timeout + self.request_timeout if timeout > 0 else None
        resp = await self._call("ExecSync", self.stub.ExecSync, req, api.ExecSyncResponse, deadline)
        return ExecResult(stdout=resp.stdout, stderr=resp.stderr, exit_code=resp.exit_code)

    async def exec(self, container_id: str, cmd: Iterable[str], *, stdin: bool = False, stdout: bool = True,
                   stderr: bool = True, tty: bool = False, timeout: float | None = None) -> str:
        """A one-use streaming URL (http://127.0.0.1:<port>/exec/<token>, WebSocket or SPDY, v4.channel.k8s.io).

        With `tty`, stderr is merged into stdout by the runtime, so pass stderr=False with tty=True.
        """
        req = api.ExecRequest(container_id=container_id, cmd=list(cmd), stdin=stdin, stdout=stdout,
                              stderr=stderr, tty=tty)
        resp = await self._call("Exec", self.stub.Exec, req, api.ExecResponse,
                                self._deadline(timeout, self.request_timeout))
        return resp.url

    async def attach(self, container_id: str, *, stdin: bool = False, stdout: bool = True, stderr: bool = True,
                     tty: bool = False, timeout: float | None = None) -> str:
        """A one-use streaming URL (.../attach/<token>) to the container's main process."""
        req = api.AttachRequest(container_id=container_id, stdin=stdin, stdout=stdout, stderr=stderr, tty=tty)
        resp = await self._call("Attach", self.stub.Attach, req, api.AttachResponse,
                                self._deadline(timeout, self.request_timeout))
        return resp.url


class ImageClient(_Client):
    """The CRI ImageService: pull, list, inspect and remove images; image filesystem usage."""

    def __init__(self, channel: grpc.aio.Channel, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        super().__init__(channel, request_timeout=request_timeout)
        self.stub = _IMAGE_STUB(channel)

    async def pull_image(self, image: str, *, auth: api.AuthConfig | None = None,
                         sandbox_config: api.PodSandboxConfig | None = None, timeout: float | None = None) -> str:
        """Pull `image` (a reference such as docker.io/library/busybox:1.36); returns the image id/ref.

        No deadline unless `timeout` is given: a large pull legitimately takes long.
        """
        req = api.PullImageRequest(image=api.ImageSpec(image=image), auth=auth, sandbox_config=sandbox_config)
        resp = await self._call("PullImage", self.stub.PullImage, req, api.PullImageResponse, timeout)
        return resp.image_ref

    async def list_images(self, *, image: str = "", timeout: float | None = None) -> list[api.Image]:
        """Every image (or the one matching `image`); each has id, repo_tags, repo_digests, size."""
        flt = api.ImageFilter(image=api.ImageSpec(image=image)) if image else None
        resp = await self._call("ListImages", self.stub.ListImages, api.ListImagesRequest(filter=flt),
                                api.ListImagesResponse, self._deadline(timeout, self.request_timeout))
        return list(resp.images)

    async def image_status(self, image: str, *, verbose: bool = False,
                           timeout: float | None = None) -> api.ImageStatusResponse:
        """`.image` (unset when the image is not present) and, with verbose, `.info`."""
        req = api.ImageStatusRequest(image=api.ImageSpec(image=image), verbose=verbose)
        return await self._call("ImageStatus", self.stub.ImageStatus, req, api.ImageStatusResponse,
                                self._deadline(timeout, self.request_timeout))

    async def get_image(self, image: str, *, timeout: float | None = None) -> api.Image | None:
        """The image if present locally, else None."""
        resp = await self.image_status(image, timeout=timeout)
        return resp.image if resp.HasField("image") else None

    async def remove_image(self, image: str, *, timeout: float | None = None) -> None:
        """Remove the image `image` names, with every tag of it. Succeeds if it is not present."""
        await self._call("RemoveImage", self.stub.RemoveImage, api.RemoveImageRequest(image=api.ImageSpec(image=image)),
                         api.RemoveImageResponse, self._deadline(timeout, self.request_timeout))

    async def image_fs_info(self, *, timeout: float | None = None) -> list[api.FilesystemUsage]:
        """Usage of the filesystem(s) holding images: mountpoint, used bytes, inodes."""
        resp = await self._call("ImageFsInfo", self.stub.ImageFsInfo, api.ImageFsInfoRequest(),
                                api.ImageFsInfoResponse, self._deadline(timeout, self.request_timeout))
        return list(resp.image_filesystems)


class CRIConnection:
    """One channel to a CRI socket with both services. Close it (or use `async with`) when done."""

    def __init__(self, channel: grpc.aio.Channel, *, request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> None:
        self.channel = channel
        self.runtime = RuntimeClient(channel, request_timeout=request_timeout)
        self.images = ImageClient(channel, request_timeout=request_timeout)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> CRIConnection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


def open_channel(socket: str | os.PathLike[str]) -> grpc.aio.Channel:
    """An insecure grpc.aio channel to a unix socket path (or an address already starting with unix:)."""
    path = os.fspath(socket)
    target = path if path.startswith("unix:") else f"unix://{os.path.abspath(path)}"
    return grpc.aio.insecure_channel(target, options=[
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        # No reconnect backoff growth past 1 s: a restarted containerd is picked up quickly.
        ("grpc.max_reconnect_backoff_ms", 1000),
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
    ])


async def connect(socket: str | os.PathLike[str], *, timeout: float = 10.0,
                  request_timeout: float = DEFAULT_REQUEST_TIMEOUT) -> CRIConnection:
    """Connect to the CRI socket and check that it speaks CRI v1 (a Version call), within `timeout` s.

    Raises RuntimeUnavailable if nothing answers in time, Unimplemented if the runtime serves no CRI v1.
    """
    channel = open_channel(socket)
    conn = CRIConnection(channel, request_timeout=request_timeout)
    try:
        try:
            async with asyncio.timeout(timeout):
                await channel.channel_ready()
        except TimeoutError as exc:
            raise RuntimeUnavailable(f"no CRI runtime answered on {os.fspath(socket)} within {timeout:g}s",
                                     code="UNAVAILABLE", method="Version") from exc
        await conn.runtime.version(timeout=timeout)
    except BaseException:
        await conn.close()
        raise
    return conn
