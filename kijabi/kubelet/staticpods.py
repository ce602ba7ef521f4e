"""Static pods: Pod manifests in a directory, run by the kubelet without the API server (upstream config/file.go),
each mirrored in the API by a read-only "mirror pod" (upstream mirror_client.go).

A manifest (*.yaml, *.yml, *.json; one Pod; hidden files ignored) becomes a pod named
`<name>-<node>` in its namespace (default "default") with `spec.nodeName` = the node, a toleration of
every NoExecute taint, upstream's defaults, and a uid that is a hash of the manifest, the node and the
file (so a changed manifest is a new pod: the old one is killed, the new one started). Its annotations
say where it came from: kubernetes.io/config.source=file, config.hash=<uid>, config.seen.

The mirror pod has the same name, namespace, labels and spec plus `kubernetes.io/config.mirror=<hash>`
and an owner reference to the Node; the kubelet writes the static pod's status to it, recreates it when
someone deletes it, and deletes it when the manifest goes away.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from kijabi.kubelet import labels
from kijabi.machinery import defaults
from kijabi.machinery.meta import rfc3339

log = logging.getLogger(__name__)

Object = dict[str, Any]
SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class _Seen:
    mtime: float
    size: int
    pod: Object | None


class StaticPodSource:
    """Reads the manifest directory; `poll()` returns the current static pods keyed by uid."""

    def __init__(self, directory: Path, node_name: str) -> None:
        self.directory = directory
        self.node_name = node_name
        self._seen: dict[str, _Seen] = {}
        self._first_seen: dict[str, str] = {}

    def poll(self) -> dict[str, Object]:
        pods: dict[str, Object] = {}
        try:
            entries = sorted(os.scandir(self.directory), key=lambda e: e.name)
        except OSError:
            return pods
        present = set()
        for entry in entries:
            if entry.name.startswith(".") or not entry.name.endswith(SUFFIXES) or not entry.is_file():
                continue
            present.add(entry.path)
            st = entry.stat()
            seen = self._seen.get(entry.path)
            if seen is None or seen.mtime != st.st_mtime or seen.size != st.st_size:
                seen = _Seen(st.st_mtime, st.st_size, self._load(Path(entry.path)))
                self._seen[entry.path] = seen
            if seen.pod is not None:
                pods[seen.pod["metadata"]["uid"]] = seen.pod
        for path in set(self._seen) - present:
            del self._seen[path]
        return pods

    def _load(self, path: Path) -> Object | None:
        try:
            text = path.read_text()
            doc = orjson.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            log.warning("static pod manifest %s: %s", path, exc)
            return None
        if not isinstance(doc, dict) or doc.get("kind") != "Pod" or not (doc.get("metadata") or {}).get("name"):
            log.warning("static pod manifest %s is not a Pod with a name", path)
            return None
        return self.to_pod(doc, str(path))

    def to_pod(self, manifest: Mapping[str, Any], source: str) -> Object:
        pod: Object = orjson.loads(orjson.dumps(manifest))
        pod.setdefault("apiVersion", "v1")
        meta = pod.setdefault("metadata", {})
        meta.setdefault("namespace", "default")
        meta["name"] = f"{meta['name']}-{self.node_name}"
        spec = pod.setdefault("spec", {})
        spec["nodeName"] = self.node_name
        tolerations = list(spec.get("tolerations") or [])
        tolerations.append({"operator": "Exists", "effect": "NoExecute"})
        spec["tolerations"] = tolerations
        defaults.default("", "v1", "Pod", pod)
        digest = hashlib.md5(orjson.dumps(manifest, option=orjson.OPT_SORT_KEYS))  # identity, not security
        digest.update(f"host:{self.node_name}".encode())
        digest.update(f"file:{source}".encode())
        uid = digest.hexdigest()
        meta["uid"] = uid
        meta.pop("resourceVersion", None)
        meta.pop("selfLink", None)
        ann = dict(meta.get("annotations") or {})
        seen = self._first_seen.setdefault(uid, rfc3339_now())
        ann.update({labels.CONFIG_HASH: uid, labels.CONFIG_SOURCE: "file", labels.CONFIG_SEEN: seen})
        meta["annotations"] = ann
        pod.setdefault("status", {"phase": "Pending"})
        return pod


def rfc3339_now() -> str:
    import time

    return rfc3339(time.time())


def mirror_pod(static: Mapping[str, Any], node_name: str, node_uid: str) -> Object:
    """The mirror pod of a static pod (its API stand-in)."""
    meta = static.get("metadata") or {}
    ann = dict(meta.get("annotations") or {})
    ann[labels.CONFIG_MIRROR] = ann.get(labels.CONFIG_HASH, str(meta.get("uid", "")))
    out_meta: Object = {"name": meta.get("name"), "namespace": meta.get("namespace", "default"), "annotations": ann}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    if node_uid:
        out_meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid,
                                        "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": out_meta,
            "spec": orjson.loads(orjson.dumps(static.get("spec") or {}))}


def mirror_hash(pod: Mapping[str, Any]) -> str:
    return str(((pod.get("metadata") or {}).get("annotations") or {}).get(labels.CONFIG_MIRROR, ""))
