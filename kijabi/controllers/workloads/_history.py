"""ControllerRevisions for StatefulSets and DaemonSets (upstream pkg/controller/history).

A revision stores `{"spec": {"template": {..., "$patch": "replace"}}}` (the patch that restores the
owner's pod template) and a revision number. StatefulSet revisions are named <set>-<hash of the data
(FNV-1, collision count appended as decimal)>; DaemonSet revisions are named <ds>-<pod template hash>
(the Deployment-style hash). Pods carry the revision in the controller-revision-hash label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from kijabi.client.errors import AlreadyExists
from kijabi.client.rest import GVR, Client
from kijabi.controllers.workloads import _util as u

Object = dict[str, Any]
CONTROLLERREVISIONS = GVR("apps", "v1", "controllerrevisions")


def fnv32(data: bytes) -> int:
    h = 0x811C9DC5
    for b in data:
        h = (h * 0x01000193) & 0xFFFFFFFF
        h ^= b
    return h


def patch_of(owner: Mapping[str, Any]) -> Object:
    template = u.copy(u.spec(owner).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def raw(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)


def revision_hash(data: Any, collision_count: int | None) -> str:
    payload = raw(data)
    if collision_count is not None:
        payload += str(collision_count).encode()
    return u.safe_encode(str(fnv32(payload)))


def revision_name(prefix: str, hash_: str) -> str:
    if len(prefix) > 223:
        prefix = prefix[:223]
    return f"{prefix}-{hash_}"


def template_of(revision: Mapping[str, Any]) -> Object:
    template = u.copy(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def number(revision: Mapping[str, Any]) -> int:
    return u.int_value(revision.get("revision"))


def sort_revisions(revisions: Sequence[Object]) -> list[Object]:
    return sorted(revisions, key=lambda r: (number(r), u.created(r), u.name_of(r)))


def same_data(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return raw(a.get("data")) == raw(b.get("data"))


def new_revision(owner: Mapping[str, Any], *, api_version: str, kind: str, revision: int, name: str = "",
                 extra_labels: Mapping[str, str] | None = None) -> Object:
    tlabels = dict(((u.spec(owner).get("template") or {}).get("metadata") or {}).get("labels") or {})
    tlabels.update(extra_labels or {})
    meta: Object = {"namespace": u.namespace_of(owner), "labels": tlabels,
                    "ownerReferences": [u.new_controller_ref(owner, api_version, kind)]}
    if name:
        meta["name"] = name
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": meta, "data": patch_of(owner),
            "revision": revision}


async def create_revision(client: Client, owner: Mapping[str, Any], revision: Object,
                          collision_count: int) -> tuple[Object, int]:
    """Create `revision` named <owner>-<hash>; on a name collision with different data, bump the
    collision count and try again. Returns (the stored revision, the collision count used)."""
    while True:
        clone = u.copy(revision)
        clone["metadata"]["name"] = revision_name(u.name_of(owner), revision_hash(clone["data"], collision_count))
        try:
            created = await client.create(CONTROLLERREVISIONS, clone, namespace=u.namespace_of(owner))
            return created, collision_count
        except AlreadyExists:
            existing = await client.get(CONTROLLERREVISIONS, clone["metadata"]["name"], namespace=u.namespace_of(owner))
            if same_data(existing, clone):
                return existing, collision_count
            collision_count += 1
