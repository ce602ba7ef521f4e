"""Taint-based eviction: pods on a node with NoExecute taints they do not tolerate are deleted; pods that
tolerate them for tolerationSeconds are deleted when that time has passed (upstream
pkg/controller/tainteviction, the NoExecuteTaintManager).

Per pod bound to a node (keys are pod keys):
- no NoExecute taint on the node: any scheduled eviction is cancelled (event TaintManagerEviction
  "Cancelling deletion of Pod ns/name");
- a taint not tolerated: the pod is deleted now;
- all tolerated without tolerationSeconds: never evicted; with tolerationSeconds: evicted after the
  smallest of them, counted from when this controller first scheduled it.
An eviction records TaintManagerEviction "Marking for deletion Pod ns/name", sets the pod condition
DisruptionTarget (reason DeletionByTaintManager) and deletes the pod with its default grace period.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.errors import ClientError, NotFound
from kijabi.client.informers import EventHandlerFuncs, SharedIndexInformer
from kijabi.client.rest import PODS, Client
from kijabi.controllers.cluster._base import (
    ClusterController,
    Object,
    being_deleted,
    matching_tolerations,
    min_toleration_seconds,
    node_name_of,
    now_text,
    set_condition,
    taints_of,
    workers,
)
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)

NODE_INDEX = "spec.nodeName"


def node_index(pod: Object) -> list[str]:
    name = node_name_of(pod)
    return [name] if name else []


def no_execute_taints(node: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if node is None:
        return []
    return [t for t in taints_of(node) if t.get("effect") == "NoExecute"]


@dataclass
class _Scheduled:
    created_at: float
    fire_at: float


class TaintEvictionController(ClusterController):
    """Runs inside the node-lifecycle controller (upstream's taint manager before it became its own
    controller). `pod_informer` and `node_informer` are shared with it."""

    def __init__(self, ctx: ControllerContext, pod_informer: SharedIndexInformer, node_informer: SharedIndexInformer) -> None:
        super().__init__("taint-eviction", workers=workers(ctx, "taint-eviction", 2), clock=ctx.clock)
        self.client: Client = ctx.client
        self.recorder = ctx.recorder("taint-eviction-controller")
        pod_informer.add_indexers({NODE_INDEX: node_index})
        self.pod_informer = pod_informer
        self.pods = pod_informer.lister()
        self.nodes = node_informer.lister()
        self.scheduled: dict[str, _Scheduled] = {}
        pod_informer.add_event_handler(EventHandlerFuncs(add=self._pod_changed, update=self._pod_updated,
                                                         delete=self._pod_deleted))
        node_informer.add_event_handler(EventHandlerFuncs(add=self._node_changed, update=self._node_updated,
                                                          delete=self._node_changed))
        self.watches(pod_informer, node_informer)

    # -- handlers ----------------------------------------------------------------------------------

    def _on_tainted_node(self, pod: Object) -> bool:
        name = node_name_of(pod)
        return bool(name) and bool(no_execute_taints(self.nodes.get(name)))

    def _pod_changed(self, pod: Object) -> None:
        if self._on_tainted_node(pod):
            self.enqueue(pod)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if not node_name_of(new):
            return
        changed = node_name_of(old) != node_name_of(new) or \
            (old.get("spec") or {}).get("tolerations") != (new.get("spec") or {}).get("tolerations")
        if changed or (self.key_of(new) not in self.scheduled and self._on_tainted_node(new)):
            self.enqueue(new)

    def _pod_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        self.scheduled.pop(self.key_of(obj), None)

    def _node_changed(self, obj: Object | DeletedFinalStateUnknown) -> None:
        node = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        for key in self.pod_informer.indexer.index_keys(NODE_INDEX, node["metadata"]["name"]):
            self.queue.add(key)

    def _node_updated(self, old: Object, new: Object) -> None:
        if no_execute_taints(old) != no_execute_taints(new):
            self._node_changed(new)

    # -- sync --------------------------------------------------------------------------------------

    def _cancel(self, key: str) -> None:
        if self.scheduled.pop(key, None) is not None:
            ref = {"apiVersion": "v1", "kind": "Pod", "namespace": key.split("/", 1)[0], "name": key.split("/", 1)[1]}
            self.recorder.event(ref, "Normal", "TaintManagerEviction", f"Cancelling deletion of Pod {key}")

    async def sync(self, key: str) -> float | None:
        ns, name = key.split("/", 1)
        pod = self.pods.get(name, ns)
        if pod is None:
            self.scheduled.pop(key, None)
            return None
        if being_deleted(pod):
            self.scheduled.pop(key, None)
            return None
        node = self.nodes.get(node_name_of(pod)) if node_name_of(pod) else None
        taints = no_execute_taints(node)
        if not taints:
            self._cancel(key)
            return None
        now = self.clock.time()
        tolerations = [t for t in (pod.get("spec") or {}).get("tolerations") or [] if isinstance(t, Mapping)]
        tolerated, used = matching_tolerations(taints, tolerations)
        if not tolerated:
            self.scheduled.pop(key, None)
            await self.evict(pod)
            return None
        seconds = min_toleration_seconds(used)
        if seconds < 0:
            self._cancel(key)
            return None
        current = self.scheduled.get(key)
        if current is None:
            current = self.scheduled[key] = _Scheduled(now, now + seconds)
        trigger = current.fire_at  # an eviction already scheduled keeps its time, as upstream's
        if trigger > now:
            return trigger - now
        self.scheduled.pop(key, None)
        await self.evict(pod)
        return None

    async def evict(self, pod: Object) -> None:
        m = pod["metadata"]
        ns, name = m.get("namespace", ""), m["name"]
        ref = {"apiVersion": "v1", "kind": "Pod", "namespace": ns, "name": name}
        self.recorder.event(ref, "Normal", "TaintManagerEviction", f"Marking for deletion Pod {ns}/{name}")
        try:
            fresh = await self.client.get(PODS, name, namespace=ns)
            conditions = [dict(c) for c in (fresh.get("status") or {}).get("conditions") or []]
            if set_condition(conditions, {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
                                          "message": "Taint manager: deleting due to NoExecute taint"}, now_text(self.clock)):
                await self.client.patch(PODS, name, {"metadata": {"resourceVersion": fresh["metadata"].get("resourceVersion")},
                                                     "status": {"conditions": conditions}},
                                        namespace=ns, subresource="status")
            await self.client.delete(PODS, name, namespace=ns, preconditions={"uid": fresh["metadata"].get("uid", "")})
        except NotFound:
            return
        except ClientError as exc:
            log.info("taint-eviction: deleting pod %s/%s failed: %s", ns, name, exc)
            raise
