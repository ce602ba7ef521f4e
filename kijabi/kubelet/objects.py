"""The ConfigMaps and Secrets the node's pods use, each kept fresh by its own watch (upstream's watch-based
configmap/secret manager, the kubelet's default change-detection strategy).

`register(pod)` counts the pod's references (volumes, projected sources, env, envFrom, imagePullSecrets)
and starts a watcher for each object not watched yet: a list with `fieldSelector=metadata.name=<name>`,
then a watch from that list's resourceVersion, re-listed after errors. `wait(pod)` returns once every
object the pod references has been read once (present or absent). `get()` answers from the cache
(None: absent). `unregister(uid)` drops the pod's references; a watcher nobody references stops.
Every change calls `on_change(kind, namespace, name)` so the kubelet can re-sync the pods that use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from kijabi.client import Client
from kijabi.client.errors import ClientError, Expired
from kijabi.client.rest import CONFIGMAPS, GVR, SECRETS
from kijabi.client.tasks import spawn
from kijabi.kubelet import podutil

log = logging.getLogger(__name__)

Key = tuple[str, str, str]   # (kind, namespace, name); kind "configmap" or "secret"
KINDS: dict[str, GVR] = {"configmap": CONFIGMAPS, "secret": SECRETS}


def references(pod: Mapping[str, Any]) -> set[Key]:
    """Every ConfigMap and Secret a pod refers to."""
    ns = podutil.namespace(pod)
    spec = podutil.spec(pod)
    refs: set[Key] = set()

    def add(kind: str, name: Any) -> None:
        if name:
            refs.add((kind, ns, str(name)))

    for s in spec.get("imagePullSecrets") or []:
        add("secret", s.get("name"))
    for vol in spec.get("volumes") or []:
        if "configMap" in vol:
            add("configmap", (vol["configMap"] or {}).get("name"))
        if "secret" in vol:
            add("secret", (vol["secret"] or {}).get("secretName"))
        for src in (vol.get("projected") or {}).get("sources") or []:
            if "configMap" in src:
                add("configmap", (src["configMap"] or {}).get("name"))
            if "secret" in src:
                add("secret", (src["secret"] or {}).get("name"))
    for c, _ in podutil.all_containers(pod):
        for e in c.get("envFrom") or []:
            if "configMapRef" in e:
                add("configmap", (e["configMapRef"] or {}).get("name"))
            if "secretRef" in e:
                add("secret", (e["secretRef"] or {}).get("name"))
        for e in c.get("env") or []:
            vf = e.get("valueFrom") or {}
            if "configMapKeyRef" in vf:
                add("configmap", (vf["configMapKeyRef"] or {}).get("name"))
            if "secretKeyRef" in vf:
                add("secret", (vf["secretKeyRef"] or {}).get("name"))
    return refs


@dataclass
class _Watched:
    obj: dict[str, Any] | None = None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)
    users: set[str] = field(default_factory=set)
    task: asyncio.Task[None] | None = None


class ObjectStore:
    def __init__(self, client: Client, *, on_change: Callable[[str, str, str], None]) -> None:
        self.client = client
        self.on_change = on_change
        self._objects: dict[Key, _Watched] = {}
        self._by_pod: dict[str, set[Key]] = {}

    def register(self, pod: Mapping[str, Any]) -> None:
        uid = podutil.uid(pod)
        new = references(pod)
        old = self._by_pod.get(uid, set())
        if new == old:
            return
        self._by_pod[uid] = new
        for key in old - new:
            self._release(uid, key)
        for key in new - old:
            w = self._objects.get(key)
            if w is None:
                w = self._objects[key] = _Watched()
                w.task = spawn(self._watch(key, w), name=f"watch {key[0]} {key[1]}/{key[2]}")
            w.users.add(uid)

    def unregister(self, uid: str) -> None:
        for key in self._by_pod.pop(uid, set()):
            self._release(uid, key)

    def _release(self, uid: str, key: Key) -> None:
        w = self._objects.get(key)
        if w is None:
            return
        w.users.discard(uid)
        if not w.users:
            del self._objects[key]
            if w.task is not None:
                w.task.cancel()

    async def wait(self, pod: Mapping[str, Any], timeout: float = 10.0) -> None:
        keys = self._by_pod.get(podutil.uid(pod), set())
        pending = [self._objects[k].loaded.wait() for k in keys if k in self._objects
                   and not self._objects[k].loaded.is_set()]
        if pending:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await asyncio.gather(*pending)

    def get(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        w = self._objects.get((kind, namespace, name))
        return w.obj if w is not None else None

    def users(self, kind: str, namespace: str, name: str) -> set[str]:
        w = self._objects.get((kind, namespace, name))
        return set(w.users) if w is not None else set()

    def keys(self) -> Iterator[Key]:
        return iter(list(self._objects))

    async def shutdown(self) -> None:
        tasks = [w.task for w in self._objects.values() if w.task is not None]
        self._objects.clear()
        self._by_pod.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    async def _watch(self, key: Key, w: _Watched) -> None:
        kind, ns, name = key
        gvr = KINDS[kind]
        selector = f"metadata.name={name}"
        delay = 0.5
        while True:
            try:
                listed = await self.client.list(gvr, namespace=ns, field_selector=selector)
                items = listed.get("items") or []
                self._set(key, w, items[0] if items else None)
                rv = str((listed.get("metadata") or {}).get("resourceVersion", ""))
                async with self.client.watch(gvr, namespace=ns, field_selector=selector, resource_version=rv,
                                             timeout_seconds=300) as watch:
                    async for ev in watch:
                        if ev.type == "BOOKMARK":
                            continue
                        self._set(key, w, None if ev.type == "DELETED" else ev.object)
                delay = 0.5
            except asyncio.CancelledError:
                raise
            except Expired:
                continue
            except ClientError as exc:
                log.info("watch of %s %s/%s failed (retrying in %.1fs): %s", kind, ns, name, delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    def _set(self, key: Key, w: _Watched, obj: dict[str, Any] | None) -> None:
        before = w.obj
        w.obj = obj
        first = not w.loaded.is_set()
        w.loaded.set()
        if not first and _rv(before) != _rv(obj):
            self.on_change(*key)


def _rv(obj: Mapping[str, Any] | None) -> str:
    return str(((obj or {}).get("metadata") or {}).get("resourceVersion", ""))
