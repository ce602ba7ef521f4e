"""Image pulls through CRI from a registry on 127.0.0.1: imagePullPolicy, imagePullSecrets (basic auth),
ErrImagePull and ImagePullBackOff."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import pytest_asyncio

from kijabi.client.rest import EVENTS, SECRETS
from kijabi.kubelet import images
from tests.kubelet.kubelet_harness import KubeletEnv, kubelet_env, pod, short_name, wait_for
from tests.kubelet.node import Node, requires_runtime
from tests.kubelet.registry import Registry

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]
USER, PASSWORD = "puller", "s3cret"


class AuthRegistry:
    """tests.kubelet.registry.Registry's content behind HTTP basic authentication."""

    def __init__(self, content: Registry) -> None:
        self.content = content
        self.requests: list[tuple[str, bool]] = []
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def answer(self, *, body: bool) -> None:
                authorized = self.headers.get("Authorization") == expected
                outer.requests.append((f"{self.command} {self.path}", authorized))
                if not authorized:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="kjtest"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status, ctype, data, digest = outer.content.route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                if digest:
                    self.send_header("Docker-Content-Digest", digest)
                self.end_headers()
                if body:
                    self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Registry, AuthRegistry]]:
    """Both registries serve a busybox variant with an image id of its own: pulling it must not add tags
    to the session's busybox:kijabi image (the runtime would report containers under the new name)."""
    d: Path = tmp_path_factory.mktemp("images")
    spec = images.busybox_spec("docker.io/kjtest/busybox:registry")
    variant = dataclasses.replace(spec, config={**spec.config, "Env": [*spec.config.get("Env", []), "KJTEST=1"]})
    tarball = images.build_image(variant, d / "variant.tar").path
    with Registry() as open_registry:
        open_registry.add(tarball, "kjtest/busybox", "open")
        secured = Registry()
        secured.add(tarball, "kjtest/busybox", "secret")
        auth = AuthRegistry(secured)
        try:
            yield open_registry, auth
        finally:
            auth.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def env(node: Node) -> AsyncIterator[KubeletEnv]:
    async with kubelet_env(node) as e:
        try:
            yield e
        finally:
            for image in await e.cri.images.list_images():
                if any(tag.startswith("127.0.0.1:") for tag in image.repo_tags):
                    await e.cri.images.remove_image(image.id)


def waiting_reason(p: dict) -> str:
    cs = (p["status"].get("containerStatuses") or [{}])[0]
    return str(cs.get("state", {}).get("waiting", {}).get("reason", ""))


async def test_pull_policies_against_a_registry(env: KubeletEnv, registries: tuple[Registry, AuthRegistry]) -> None:
    """Always pulls (the registry sees the manifest requests); IfNotPresent with the image present does not
    ask the registry again."""
    registry, _ = registries
    image = f"{registry.host}/kjtest/busybox:open"
    name = short_name("always")
    await env.create(pod(name, [{"name": "main", "image": image, "command": ["sleep", "3600"],
                                 "imagePullPolicy": "Always"}], node=env.node_name))
    p = await env.wait_running(name)
    assert p["status"]["containerStatuses"][0]["image"] == image
    pulled = len(registry.requests)
    assert any("/manifests/open" in r for r in registry.requests)
    again = short_name("present")
    await env.create(pod(again, [{"name": "main", "image": image, "command": ["sleep", "3600"],
                                  "imagePullPolicy": "IfNotPresent"}], node=env.node_name))
    await env.wait_running(again)
    assert len(registry.requests) == pulled


async def test_pull_secret_authenticates_and_missing_credentials_back_off(
        env: KubeletEnv, registries: tuple[Registry, AuthRegistry]) -> None:
    """Without credentials the pull fails (ErrImagePull, then ImagePullBackOff with upstream's message);
    with a dockerconfigjson imagePullSecret for that registry it succeeds with basic auth."""
    _, registry = registries
    image = f"{registry.host}/kjtest/busybox:secret"
    denied = short_name("denied")
    await env.create(pod(denied, [{"name": "main", "image": image, "command": ["sleep", "3600"]}], node=env.node_name))
    p = await env.wait_pod(denied, lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"),
                           what="a failed pull")
    p = await env.wait_pod(denied, lambda p: waiting_reason(p) == "ImagePullBackOff", what="ImagePullBackOff")
    assert p["status"]["containerStatuses"][0]["state"]["waiting"]["message"] == f'Back-off pulling image "{image}"'
    assert p["status"]["phase"] == "Pending"

    secret = short_name("regcred")
    config = {"auths": {registry.host: {"username": USER, "password": PASSWORD,
                                        "auth": base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}
    await env.client.create(SECRETS, {"metadata": {"name": secret, "namespace": env.namespace},
                                      "type": "kubernetes.io/dockerconfigjson",
                                      "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}})
    allowed = short_name("allowed")
    await env.create(pod(allowed, [{"name": "main", "image": image, "command": ["sleep", "3600"]}],
                         node=env.node_name, imagePullSecrets=[{"name": secret}]))
    await env.wait_running(allowed, timeout=30)
    assert any(ok for _, ok in registry.requests)


async def test_unknown_image_reports_err_image_pull(env: KubeletEnv, registries: tuple[Registry, AuthRegistry]) -> None:
    """A tag the registry does not have: ErrImagePull with the runtime's not-found message."""
    registry, _ = registries
    image = f"{registry.host}/kjtest/busybox:missing"
    name = short_name("missing")
    await env.create(pod(name, [{"name": "main", "image": image}], node=env.node_name))
    await env.wait_pod(name, lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"),
                       what="a failed pull")

    async def failed_event() -> str | None:
        listed = await env.client.list(EVENTS, namespace=env.namespace)
        return next((e["message"] for e in listed["items"] if e["involvedObject"].get("name") == name
                     and e["reason"] == "Failed" and "rpc error" in e["message"]), None)

    message = await wait_for(failed_event, what="the Failed event")
    assert message.startswith(f'Failed to pull image "{image}": rpc error: code = NotFound desc = ')
