"""Content negotiation for replies: JSON, YAML, Table and PartialObjectMetadata."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from kijabi.machinery import errors


@dataclass(frozen=True)
class Format:
    kind: str  # "json", "yaml", "table", "partial"
    media: str = "application/json"


JSON = Format("json")


def parse_accept(accept: str | None) -> Format:
    """Pick the first acceptable type of the Accept header (protobuf is answered with JSON)."""
    if not accept:
        return JSON
    return _parse_accept(accept)


@functools.lru_cache(maxsize=256)
def _parse_accept(accept: str) -> Format:
    # Clients send the same few headers on every request: remember the answers (errors are not kept).
    saw_unsupported_as = ""
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        params = {}
        for f in fields[1:]:
            if "=" in f:
                k, v = f.split("=", 1)
                params[k.strip()] = v.strip()
        as_ = params.get("as")
        if as_:
            if media not in ("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"):
                continue
            if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
                saw_unsupported_as = as_
                continue
            if as_ == "Table":
                return Format("table")
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return Format("partial")
            saw_unsupported_as = as_
            continue
        if media in ("application/json", "*/*", "application/*", "application/vnd.kubernetes.protobuf",
                     "application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"):
            return JSON
        if media in ("application/yaml", "text/yaml"):
            return Format("yaml", "application/yaml")
    if saw_unsupported_as:
        raise errors.not_acceptable("only the following media types are accepted: application/json, application/yaml, application/vnd.kubernetes.protobuf")
    return JSON
