"""The tag of a container image reference, as upstream's `parsers.ParseImageName` sees it.

`imagePullPolicy` defaults to `Always` exactly when that tag is `latest`, which includes references
with neither tag nor digest (`nginx`). A reference that does not parse has no tag (so the policy is
`IfNotPresent`). The grammar is the one of github.com/distribution/reference (v0.6), which
Kubernetes uses through `ParseNormalizedNamed`:

    reference   := name [ ":" tag ] [ "@" digest ]
    name        := [domain "/"] path-component ["/" path-component]*
    domain      := (domain-name | "[" ipv6 "]") [":" port]
    tag         := [\\w][\\w.-]{0,127}
    digest      := algorithm ":" hex   (sha256/sha384/sha512 with 64/96/128 lowercase hex digits)
"""

from __future__ import annotations

import functools
import re

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[(?:[a-fA-F0-9:]+)\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_REFERENCE = re.compile(rf"({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?", re.ASCII)
_IDENTIFIER = re.compile(r"[a-f0-9]{64}")
_DIGEST_HEX_LENGTH = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX = re.compile(r"[a-f0-9]+")
_NAME_TOTAL_LENGTH_MAX = 255
# No valid reference is longer (255-byte name, 128-byte tag, sha512 digest); longer text is refused
# before any regular expression runs, so backtracking stays bounded.
_REFERENCE_LENGTH_MAX = 600


@functools.lru_cache(maxsize=1024)
def image_tag(image: str) -> str | None:
    """The tag `image` resolves to (`latest` when it names none and has no digest); None if invalid."""
    if len(image) > _REFERENCE_LENGTH_MAX or _IDENTIFIER.fullmatch(image):
        return None
    slash = image.find("/")
    first = image[:slash] if slash != -1 else ""
    if slash == -1 or (not any(c in ".:" for c in first) and first != "localhost" and first.lower() == first):
        domain, remainder = "docker.io", image
    else:
        domain, remainder = first, image[slash + 1 :]
    if domain == "index.docker.io":
        domain = "docker.io"
    if domain == "docker.io" and "/" not in remainder:
        remainder = "library/" + remainder
    colon = remainder.find(":")
    remote = remainder[:colon] if colon > -1 else remainder
    if remote.lower() != remote:
        return None
    match = _REFERENCE.fullmatch(f"{domain}/{remainder}")
    if match is None or len(match.group(1)) > _NAME_TOTAL_LENGTH_MAX:
        return None
    tag, digest = match.group(2), match.group(3)
    if digest is not None:
        algorithm, _, hexdigits = digest.partition(":")
        if _DIGEST_HEX_LENGTH.get(algorithm) != len(hexdigits) or not _LOWER_HEX.fullmatch(hexdigits):
            return None
    if tag is None and digest is None:
        return "latest"
    return tag
