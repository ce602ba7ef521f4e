"""Image references as upstream's ParseImageName sees them: the tag that decides imagePullPolicy."""

from __future__ import annotations

import pytest

from kijabi.machinery.defaults._image import image_tag

SHA256 = "sha256:" + "0123456789abcdef" * 4

CASES = [
    ("nginx", "latest"),
    ("nginx:latest", "latest"),
    ("nginx:1.27", "1.27"),
    ("library/nginx:stable", "stable"),
    ("docker.io/library/nginx", "latest"),
    ("index.docker.io/nginx:1", "1"),
    ("registry.example.com/team/app", "latest"),
    ("registry.example.com:5000/team/app:v2", "v2"),
    ("localhost/app", "latest"),
    ("localhost:5000/app:dev", "dev"),
    ("127.0.0.1:5000/app", "latest"),
    ("[::1]:5000/app:x", "x"),
    ("Registry.Example.com/app:Tag", "Tag"),
    ("my_app-x.y__z", "latest"),
    ("nginx:V1_rc", "V1_rc"),
    (f"nginx@{SHA256}", None),
    (f"nginx:latest@{SHA256}", "latest"),
    (f"nginx:1.27@{SHA256}", "1.27"),
    ("app@sha512:" + "ab" * 64, None),
    ("sha512:x@sha512:" + "ab" * 64, "x"),
]

INVALID = [
    "",
    "Nginx",
    "NGINX:latest",
    "nginx:",
    "nginx::1",
    ":latest",
    "nginx:-bad",
    "a//b",
    "-nginx",
    "nginx@sha256:abc",
    "nginx@sha256:" + "A" * 64,
    "nginx@md5:" + "a" * 32,
    "0123456789abcdef" * 4,
    "nginx:" + "t" * 129,
    "a/" * 130 + "b",
    "x" * 5000,
    "nginx latest",
]


@pytest.mark.parametrize(("image", "tag"), CASES, ids=[c[0][:40] for c in CASES])
def test_tag_of_valid_references(image: str, tag: str | None) -> None:
    """Untagged references mean `latest`; digests without a tag have no tag."""
    assert image_tag(image) == tag


@pytest.mark.parametrize("image", INVALID, ids=[i[:40] or "empty" for i in INVALID])
def test_invalid_references_have_no_tag(image: str) -> None:
    """References that do not parse have no tag (so their pull policy is IfNotPresent)."""
    assert image_tag(image) is None
