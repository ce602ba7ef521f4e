"""Parsing a request path into what it addresses (upstream's RequestInfo)."""

from __future__ import annotations

from dataclasses import dataclass

from kijabi.machinery import errors


@dataclass
class RequestInfo:
    group: str
    version: str
    resource: str
    namespace: str | None = None
    name: str = ""
    subresource: str = ""
    rest: str = ""  # anything after the subresource (proxy paths)
    legacy_watch: bool = False


def parse_resource_path(path: str) -> RequestInfo | None:
    """`/api/v1/...` or `/apis/<group>/<version>/...` naming a resource; None for anything else."""
    parts = [p for p in path.split("/") if p != ""]
    if len(parts) >= 3 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 4 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None
    legacy_watch = False
    if rest and rest[0] == "watch":
        legacy_watch = True
        rest = rest[1:]
        if not rest:
            return None
    info = RequestInfo(group, version, "", legacy_watch=legacy_watch)
    if rest[0] == "namespaces" and len(rest) >= 3 and not (group == "" and rest[2] in ("status", "finalize")):
        info.namespace = rest[1]
        rest = rest[2:]
    info.resource = rest[0]
    if len(rest) >= 2:
        info.name = rest[1]
    if len(rest) >= 3:
        info.subresource = rest[2]
    if len(rest) >= 4:
        info.rest = "/".join(rest[3:])
    for value in (info.namespace, info.name):
        if value is not None and value in (".", ".."):
            raise errors.bad_request(f"invalid path segment {value!r}")
    return info
