"""The kubelet API's view of the pods (streaming.lookup's PodLookup, PodInventory, PodLister) from the kubelet
core: names resolve to the pod uid the core runs now (a deleted and recreated pod of the same name is not
confused with its predecessor), and GET /pods answers the v1 Pods with the status the kubelet generated.

    server = KubeletServer(config, lookup=KubeletPodLookup(kubelet), ...)

Container and sandbox details (log path, state, cgroups) come from CRI, as in `CRIPodLookup`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from kijabi.kubelet import podutil
from kijabi.kubelet.streaming.lookup import ContainerRef, CRIPodLookup, SandboxRef

if TYPE_CHECKING:
    from kijabi.kubelet.kubelet import Kubelet


class KubeletPodLookup(CRIPodLookup):
    def __init__(self, kubelet: Kubelet) -> None:
        super().__init__(kubelet.cri.runtime)
        self.kubelet = kubelet

    def _uid(self, namespace: str, pod: str, uid: str) -> str:
        if uid:
            return uid
        info = self.kubelet.find_pod(namespace, pod)
        return info.uid if info is not None else ""

    async def sandbox(self, namespace: str, pod: str, uid: str = "") -> SandboxRef | None:
        return await super().sandbox(namespace, pod, self._uid(namespace, pod, uid))

    async def container(self, namespace: str, pod: str, container: str, *, uid: str = "",
                        previous: bool = False) -> ContainerRef | None:
        return await super().container(namespace, pod, container, uid=self._uid(namespace, pod, uid),
                                       previous=previous)

    async def pods(self) -> list[dict[str, Any]]:
        """The node's pods as v1 Pod objects with the newest status the kubelet generated for each."""
        out: list[dict[str, Any]] = []
        for uid, w in list(self.kubelet.workers.items()):
            pod: dict[str, Any] = orjson.loads(orjson.dumps(w.pod))
            pod.setdefault("apiVersion", "v1")
            pod.setdefault("kind", "Pod")
            status = self.kubelet.status_manager.get(uid)
            if status is not None:
                pod["status"] = status
            pod.setdefault("metadata", {})["uid"] = podutil.uid(w.pod)
            out.append(pod)
        return out
