"""Image pulls through CRI from a real registry (docker-registry) on 127.0.0.1: imagePullPolicy, imagePullSecrets (basic auth),
ErrImagePull and ImagePullBackOff."""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from kijabi.client.rest import EVENTS, SECRETS
from kijabi.kubelet import images
from tests.kubelet.kubelet_harness import KubeletEnv, kubelet_env, pod, short_name, wait_for
from tests.kubelet.node import Node, requires_runtime
from tests.kubelet.registry import DockerRegistry

pytestmark = [requires_runtime, pytest.mark.asyncio(loop_scope="session")]
USER, PASSWORD = "puller", "s3cret"


@pytest.fixture(scope="module")
def registries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DockerRegistry, DockerRegistry]]:
    """An open registry and one behind basic authentication (both Debian's docker-registry). Both serve
    a busybox variant with an image id of its own: pulling it must not add tags to the session's
    busybox:kijabi image (the runtime would report containers under the new name)."""
    d: Path = tmp_path_factory.mktemp("images")
    spec = images.busybox_spec("docker.io/kjtest/busybox:registry")
    variant = dataclasses.replace(spec, config={**spec.config, "Env": [*spec.config.get("Env", []), "KJTEST=1"]})
    tarball = images.build_image(variant, d / "variant.tar").path
    with DockerRegistry(d / "open") as open_registry, DockerRegistry(d / "auth", auth=(USER, PASSWORD)) as secured:
        open_registry.push(tarball, "kjtest/busybox", "open")
        secured.push(tarball, "kjtest/busybox", "secret")
        yield open_registry, secured


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


async def test_pull_policies_against_a_registry(env: KubeletEnv, registries: tuple[DockerRegistry, DockerRegistry]) -> None:
    """Always pulls (the registry sees the manifest requests); IfNotPresent with the image present does not
    ask the registry again."""
    registry, _ = registries
    image = f"{registry.host}/kjtest/busybox:open"
    name = short_name("always")
    await env.create(pod(name, [{"name": "main", "image": image, "command": ["sleep", "3600"],
                                 "imagePullPolicy": "Always"}], node=env.node_name))
    p = await env.wait_running(name)
    assert p["status"]["containerStatuses"][0]["image"] == image
    pulled = len(registry.requests())
    assert any(r.split()[1] == "/v2/kjtest/busybox/manifests/open" for r in registry.requests())
    again = short_name("present")
    await env.create(pod(again, [{"name": "main", "image": image, "command": ["sleep", "3600"],
                                  "imagePullPolicy": "IfNotPresent"}], node=env.node_name))
    await env.wait_running(again)
    assert len(registry.requests()) == pulled


async def test_pull_secret_authenticates_and_missing_credentials_back_off(
        env: KubeletEnv, registries: tuple[DockerRegistry, DockerRegistry]) -> None:
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
    # the manifest was served with the credentials; the attempts without them got 401
    served = registry.requests()
    assert any(r.split()[1].startswith("/v2/kjtest/busybox/manifests/") and r.endswith(" 200") for r in served)
    assert any(r.endswith(" 401") for r in served)


async def test_unknown_image_reports_err_image_pull(env: KubeletEnv, registries: tuple[DockerRegistry, DockerRegistry]) -> None:
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
