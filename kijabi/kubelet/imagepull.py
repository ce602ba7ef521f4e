"""Images for containers: imagePullPolicy, imagePullSecrets, pull backoff (upstream images/image_manager.go).

`ImageManager.ensure(pod, container, secrets)` returns once the container's image is present, or raises
`ImageError` with the reason the container status shows:

    ErrImageNeverPull   policy Never and the image is absent
    ErrImagePull        the pull failed (the runtime's message); the image enters backoff
    ImagePullBackOff    a pull failed less than the backoff delay ago (10 s doubling to 300 s per pod+image)
    InvalidImageName    the reference cannot be parsed

Credentials come from the pod's imagePullSecrets (`kubernetes.io/dockerconfigjson` or `.dockercfg`),
matched against the image's registry like Docker does (host, optional path prefix, `*.` wildcards);
each matching credential is tried in turn, and without any match the pull is anonymous. Concurrent
pulls of one image share a single CRI PullImage. Events: Pulling, Pulled, Failed, BackOff.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kijabi.kubelet import podutil
from kijabi.kubelet.backoff import Backoff
from kijabi.kubelet.cri import CRIConnection, CRIError, api

DOCKER_HUB_KEYS = ("https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io")

EventFunc = Callable[[Mapping[str, Any], str, str, str], None]


class ImageError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Credential:
    username: str = ""
    password: str = ""
    auth: str = ""
    server: str = ""


def registry_of(image: str) -> tuple[str, str]:
    """(registry host, repository path) of an image reference; Docker Hub is "docker.io"."""
    ref = image.split("@", 1)[0]
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        repo = rest
        host = first
    else:
        host, repo = "docker.io", ref if sep else f"library/{ref}"
    tail = repo.rsplit("/", 1)
    last = tail[-1].split(":", 1)[0]
    repo = f"{tail[0]}/{last}" if len(tail) > 1 else last
    return host, repo


def with_default_tag(image: str) -> str:
    """`image` with ":latest" added when it has neither tag nor digest (upstream applyDefaultImageTag)."""
    if "@" in image:
        return image
    last = image.rsplit("/", 1)[-1]
    return image if ":" in last else image + ":latest"


def parse_pull_secret(secret: Mapping[str, Any]) -> dict[str, Credential]:
    """Registry key -> credential from a dockerconfigjson or dockercfg secret."""
    data = secret.get("data") or {}
    raw: Any = None
    try:
        if ".dockerconfigjson" in data:
            raw = json.loads(base64.b64decode(data[".dockerconfigjson"])).get("auths") or {}
        elif ".dockercfg" in data:
            raw = json.loads(base64.b64decode(data[".dockercfg"]))
    except (ValueError, TypeError):
        return {}
    out: dict[str, Credential] = {}
    for key, entry in (raw or {}).items():
        if not isinstance(entry, dict):
            continue
        user, password = entry.get("username", ""), entry.get("password", "")
        auth = entry.get("auth", "")
        if auth and not user:
            try:
                user, _, password = base64.b64decode(auth).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                pass
        out[key] = Credential(user, password, auth, key)
    return out


def _key_matches(key: str, host: str, repo: str) -> bool:
    k = key
    for prefix in ("https://", "http://"):
        if k.startswith(prefix):
            k = k[len(prefix):]
    k = k.rstrip("/")
    if host == "docker.io" and (key in DOCKER_HUB_KEYS or k in ("index.docker.io/v1", "docker.io",
                                                                  "index.docker.io", "registry-1.docker.io")):
        return True
    key_host, _, key_path = k.partition("/")
    if key_host.startswith("*."):
        host_ok = host.endswith(key_host[1:]) and host.count(".") == key_host.count(".")
    else:
        host_ok = key_host == host
    return host_ok and (not key_path or repo == key_path or repo.startswith(key_path + "/"))


def credentials_for(image: str, secrets: Sequence[Mapping[str, Any]]) -> list[Credential]:
    host, repo = registry_of(image)
    found: list[Credential] = []
    for secret in secrets:
        for key, cred in parse_pull_secret(secret).items():
            if _key_matches(key, host, repo) and cred not in found:
                found.append(cred)
    return found


class ImageManager:
    def __init__(self, cri: CRIConnection, *, backoff: Backoff, on_event: EventFunc) -> None:
        self.cri = cri
        self.backoff = backoff
        self.on_event = on_event
        self._pulls: dict[str, asyncio.Task[str]] = {}

    async def ensure(self, pod: Mapping[str, Any], container: Mapping[str, Any],
                     secrets: Sequence[Mapping[str, Any]], sandbox_config: api.PodSandboxConfig | None = None) -> str:
        """Make the container's image present; returns the image reference to create the container with."""
        image = str(container.get("image") or "")
        if not image or image != image.strip():
            raise ImageError("InvalidImageName", f'Failed to apply default image tag "{image}": couldn\'t parse '
                                                 "image name: invalid reference format")
        image = with_default_tag(image)
        policy = container.get("imagePullPolicy") or ("Always" if image.endswith(":latest") else "IfNotPresent")
        present = False
        if policy != "Always":
            try:
                present = await self.cri.images.get_image(image) is not None
            except CRIError as exc:
                raise ImageError("ErrImageInspect", f"Failed to inspect image {image!r}: {exc.details}") from exc
        if present:
            self.on_event(pod, "Normal", "Pulled", f'Container image "{image}" already present on machine')
            return image
        if policy == "Never":
            msg = f'Container image "{image}" is not present with pull policy of Never'
            self.on_event(pod, "Warning", "ErrImageNeverPull", msg)
            raise ImageError("ErrImageNeverPull", msg)
        key = f"{podutil.uid(pod)}_{image}"
        if self.backoff.in_backoff_since_update(key):
            msg = f'Back-off pulling image "{image}"'
            self.on_event(pod, "Normal", "BackOff", msg)
            raise ImageError("ImagePullBackOff", msg)
        self.on_event(pod, "Normal", "Pulling", f'Pulling image "{image}"')
        started = time.monotonic()
        try:
            await self._pull(image, credentials_for(image, secrets), sandbox_config)
        except ImageError as exc:
            self.backoff.next(key, time.time())
            self.on_event(pod, "Warning", "Failed", f'Failed to pull image "{image}": {exc.message}')
            self.on_event(pod, "Warning", "Failed", "Error: ErrImagePull")
            raise
        elapsed = time.monotonic() - started
        size = 0
        try:
            img = await self.cri.images.get_image(image)
            size = img.size if img is not None else 0
        except CRIError:
            pass
        self.on_event(pod, "Normal", "Pulled", f'Successfully pulled image "{image}" in {elapsed:.3f}s '
                                               f"({elapsed:.3f}s including waiting). Image size: {size} bytes.")
        return image

    async def _pull(self, image: str, creds: list[Credential], sandbox_config: api.PodSandboxConfig | None) -> str:
        key = f"{image}|{hash(tuple(creds))}"
        task = self._pulls.get(key)
        if task is None:
            task = asyncio.ensure_future(self._do_pull(image, creds, sandbox_config))
            self._pulls[key] = task
            task.add_done_callback(lambda _t: self._pulls.pop(key, None))
        return await asyncio.shield(task)

    async def _do_pull(self, image: str, creds: list[Credential], sandbox_config: api.PodSandboxConfig | None) -> str:
        last: CRIError | None = None
        attempts: list[Credential | None] = list(creds) or [None]
        for cred in attempts:
            auth = None
            if cred is not None:
                # no server_address: containerd 1.6 cannot parse a bare host:port there, and the
                # credentials are for the image's own registry anyway (they were matched on it)
                auth = api.AuthConfig(username=cred.username, password=cred.password, auth=cred.auth)
            try:
                return await self.cri.images.pull_image(image, auth=auth, sandbox_config=sandbox_config)
            except CRIError as exc:
                last = exc
        assert last is not None
        raise ImageError("ErrImagePull", f"rpc error: code = {last.code.title().replace('_', '')} "
                                         f"desc = {last.details}")
