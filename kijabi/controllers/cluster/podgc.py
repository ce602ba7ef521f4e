"""The pod-garbage-collector: every `pod_gc_period` seconds (upstream 20 s) it force-deletes
- terminated pods (Succeeded/Failed) beyond --terminated-pod-gc-threshold, evicted ones first, then the
  oldest (<= 0 disables this);
- terminating pods on nodes that are not Ready and carry the node.kubernetes.io/out-of-service taint;
- orphaned pods: bound to a node that does not exist, once the node has been missing for the quarantine
  time (upstream 40 s) and a live GET confirms it is gone; they get the DisruptionTarget condition
  (reason DeletionByPodGC, "PodGC: node no longer exists");
- terminating pods that were never scheduled.
Pods not yet in a terminal phase are first marked Failed through the status subresource, so a pod that
no kubelet will ever finish still ends Failed (upstream markFailedAndDeletePodWithCondition). Deletion
is immediate (grace period 0).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kijabi.client.errors import ClientError, NotFound
from kijabi.client.rest import NODES, PODS
from kijabi.controllers.cluster._base import (
    TAINT_OUT_OF_SERVICE,
    Object,
    being_deleted,
    is_pod_terminal,
    node_name_of,
    node_ready_status,
    now_text,
    set_condition,
    settings,
    taints_of,
    timestamp,
)
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)


def is_evicted(pod: Object) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Failed" and status.get("reason") == "Evicted"


def deletion_order(pod: Object) -> tuple[Any, ...]:
    """Evicted pods first, then by creation time, then by name (upstream byEvictionAndCreationTimestamp)."""
    m = pod.get("metadata") or {}
    return (not is_evicted(pod), timestamp(m.get("creationTimestamp")) or 0.0, m.get("name", ""))


class PodGCController:
    def __init__(self, ctx: ControllerContext) -> None:
        s = settings(ctx)
        self.client = ctx.client
        self.clock = ctx.clock
        self.threshold = s.terminated_pod_gc_threshold
        self.period = s.pod_gc_period
        self.quarantine = s.pod_gc_quarantine
        self.pod_informer = ctx.informers.informer(PODS)
        self.node_informer = ctx.informers.informer(NODES)
        self.pods = self.pod_informer.lister()
        self.nodes = self.node_informer.lister()
        self.missing_since: dict[str, float] = {}

    async def run(self) -> None:
        await asyncio.gather(self.pod_informer.wait_for_sync(), self.node_informer.wait_for_sync())
        while True:
            try:
                await self.gc()
            except Exception:
                log.exception("pod-gc: pass failed")
            await self.clock.sleep(self.period)

    async def gc(self) -> None:
        pods = self.pods.list()
        if self.threshold > 0:
            await self.gc_terminated(pods)
        await self.gc_terminating(pods)
        await self.gc_orphaned(pods)
        await self.gc_unscheduled_terminating(pods)

    async def gc_terminated(self, pods: list[Object]) -> None:
        terminated = [p for p in pods if is_pod_terminal(p)]
        count = len(terminated) - self.threshold
        if count <= 0:
            return
        log.info("pod-gc: garbage collecting %d terminated pods", count)
        terminated.sort(key=deletion_order)
        await asyncio.gather(*(self._mark_failed_and_delete(p) for p in terminated[:count]))

    async def gc_terminating(self, pods: list[Object]) -> None:
        victims = []
        for pod in pods:
            if not being_deleted(pod):
                continue
            node = self.nodes.get(node_name_of(pod)) if node_name_of(pod) else None
            if node is None:
                continue
            if node_ready_status(node) != "True" and any(t.get("key") == TAINT_OUT_OF_SERVICE for t in taints_of(node)):
                victims.append(pod)
        victims.sort(key=deletion_order)
        await asyncio.gather(*(self._mark_failed_and_delete(p) for p in victims))

    async def gc_orphaned(self, pods: list[Object]) -> None:
        now = self.clock.now()
        existing = set(self.nodes.keys())
        referenced = {node_name_of(p) for p in pods if node_name_of(p)}
        for name in list(self.missing_since):
            if name in existing or name not in referenced:
                del self.missing_since[name]
        deleted: set[str] = set()
        for name in sorted(referenced - existing):
            since = self.missing_since.setdefault(name, now)
            if now - since < self.quarantine:
                continue
            try:
                await self.client.get(NODES, name)
            except NotFound:
                deleted.add(name)
            except ClientError as exc:
                log.info("pod-gc: error while getting node %s: %s", name, exc)
        condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                     "message": "PodGC: node no longer exists"}
        for pod in pods:
            if node_name_of(pod) in deleted:
                log.info("pod-gc: found orphaned pod %s/%s assigned to node %s, deleting", pod["metadata"].get("namespace"),
                         pod["metadata"]["name"], node_name_of(pod))
                await self._mark_failed_and_delete(pod, condition)

    async def gc_unscheduled_terminating(self, pods: list[Object]) -> None:
        for pod in pods:
            if being_deleted(pod) and not node_name_of(pod):
                await self._mark_failed_and_delete(pod)

    async def _mark_failed_and_delete(self, pod: Object, condition: dict[str, Any] | None = None) -> None:
        m = pod["metadata"]
        ns, name = m.get("namespace", ""), m["name"]
        try:
            if not is_pod_terminal(pod):
                status: dict[str, Any] = {"phase": "Failed"}
                if condition is not None:
                    conditions = [dict(c) for c in (pod.get("status") or {}).get("conditions") or []]
                    set_condition(conditions, condition, now_text(self.clock))
                    status["conditions"] = conditions
                await self.client.patch(PODS, name, {"metadata": {"uid": m.get("uid")}, "status": status},
                                        namespace=ns, subresource="status")
            await self.client.delete(PODS, name, namespace=ns, grace_period_seconds=0,
                                     preconditions={"uid": m.get("uid", "")})
        except NotFound:
            return
        except ClientError as exc:
            log.warning("pod-gc: deleting pod %s/%s failed: %s", ns, name, exc)


def new(ctx: ControllerContext) -> PodGCController:
    return PodGCController(ctx)
