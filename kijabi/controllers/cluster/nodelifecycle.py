"""The node-lifecycle controller: node health from kubelet heartbeats, the taints that follow from it,
and (with kijabi.controllers.cluster.tainteviction) taint-based eviction (upstream
pkg/controller/nodelifecycle).

Health. Every `node_monitor_period` seconds each node is checked. A node is heard from when its Ready
condition's lastHeartbeatTime changes or its Lease in kube-node-lease is renewed. When nothing was heard
for `node_monitor_grace_period` (or `node_startup_grace_period` for a node that never posted a Ready
condition), its Ready, MemoryPressure, DiskPressure and PIDPressure conditions become Unknown (reason
NodeStatusUnknown, "Kubelet stopped posting node status."; NodeStatusNeverUpdated / "Kubelet never
posted node status." for conditions it never had). When a node stops being Ready the event NodeNotReady
is recorded and its pods get Ready=False (MarkPodsNotReady).

Taints. NoSchedule taints mirror conditions on every node change (Ready False -> not-ready, Unknown ->
unreachable, MemoryPressure/DiskPressure/PIDPressure/NetworkUnavailable True, spec.unschedulable ->
unschedulable). NoExecute: node.kubernetes.io/not-ready while Ready is False, node.kubernetes.io/
unreachable while it is Unknown (one replaces the other); both are removed once the node is Ready.
Taints are written with a resourceVersion precondition, retried on conflicts.

Not implemented from upstream: zone disruption states (partial/full disruption slowing or stopping
evictions) and the eviction rate limits per zone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.errors import ClientError, Conflict, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import LEASES, NODES, PODS, Client
from kijabi.controllers.cluster._base import (
    NODE_LEASE_NAMESPACE,
    TAINT_DISK_PRESSURE,
    TAINT_MEMORY_PRESSURE,
    TAINT_NETWORK_UNAVAILABLE,
    TAINT_NOT_READY,
    TAINT_PID_PRESSURE,
    TAINT_UNREACHABLE,
    TAINT_UNSCHEDULABLE,
    ClusterController,
    Object,
    get_condition,
    node_name_of,
    set_condition,
    settings,
    taint_matches,
    taints_of,
    timestamp,
    uid_of,
    workers,
)
from kijabi.controllers.cluster.tainteviction import NODE_INDEX, TaintEvictionController
from kijabi.controllers.context import ControllerContext
from kijabi.machinery.meta import rfc3339

log = logging.getLogger(__name__)

CONDITION_TAINTS: dict[str, dict[str, str]] = {
    "Ready": {"False": TAINT_NOT_READY, "Unknown": TAINT_UNREACHABLE},
    "MemoryPressure": {"True": TAINT_MEMORY_PRESSURE},
    "DiskPressure": {"True": TAINT_DISK_PRESSURE},
    "NetworkUnavailable": {"True": TAINT_NETWORK_UNAVAILABLE},
    "PIDPressure": {"True": TAINT_PID_PRESSURE},
}
CONDITION_TAINT_KEYS = {key for by_status in CONDITION_TAINTS.values() for key in by_status.values()}
UNKNOWN_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
NOT_READY_NO_EXECUTE = {"key": TAINT_NOT_READY, "effect": "NoExecute"}
UNREACHABLE_NO_EXECUTE = {"key": TAINT_UNREACHABLE, "effect": "NoExecute"}
TAINT_RETRIES = 5


def no_schedule_taints(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The NoSchedule taints a node's conditions and spec.unschedulable call for."""
    out = []
    for c in (node.get("status") or {}).get("conditions") or []:
        key = CONDITION_TAINTS.get(str(c.get("type")), {}).get(str(c.get("status")))
        if key:
            out.append({"key": key, "effect": "NoSchedule"})
    if (node.get("spec") or {}).get("unschedulable"):
        out.append({"key": TAINT_UNSCHEDULABLE, "effect": "NoSchedule"})
    return out


def taint_diff(wanted: Sequence[Mapping[str, Any]], current: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    add = [dict(t) for t in wanted if not any(taint_matches(t, c) for c in current)]
    remove = [dict(t) for t in current if not any(taint_matches(t, w) for w in wanted)]
    return add, remove


def swapped_taints(node: Mapping[str, Any], add: Sequence[Mapping[str, Any]], remove: Sequence[Mapping[str, Any]],
                   now: str) -> list[dict[str, Any]] | None:
    """The node's taints with `remove` gone and `add` present (stamped timeAdded); None if unchanged."""
    current = taints_of(node)
    kept = [t for t in current if not any(taint_matches(t, r) for r in remove)]
    added = [{**t, "timeAdded": now} for t in add if not any(taint_matches(t, k) for k in kept)]
    result = kept + added
    if len(result) == len(current) and not added:
        return None
    return result


async def swap_taints(client: Client, node: Object, add: Sequence[Mapping[str, Any]], remove: Sequence[Mapping[str, Any]],
                      now: str) -> bool:
    """Add and remove taints with a resourceVersion precondition, re-reading the node on conflicts.
    Returns whether the node now has the wanted taints."""
    current = node
    name = node["metadata"]["name"]
    for _ in range(TAINT_RETRIES):
        taints = swapped_taints(current, add, remove, now)
        if taints is None:
            return True
        patch = {"metadata": {"resourceVersion": current["metadata"].get("resourceVersion")}, "spec": {"taints": taints or None}}
        try:
            await client.patch(NODES, name, patch)
            return True
        except Conflict:
            try:
                current = await client.get(NODES, name)
            except NotFound:
                return False
        except NotFound:
            return False
    return False


@dataclass
class NodeHealth:
    status: Mapping[str, Any]
    probe: float  # monotonic seconds of the last heartbeat we saw
    ready_transition: float
    lease_renew: float | None = None


class NodeLifecycleController(ClusterController):
    """The NoSchedule tainting pass is the keyed part (node names); health monitoring is a periodic loop."""

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("node-lifecycle", workers=workers(ctx, "node-lifecycle", 1), clock=ctx.clock)
        s = settings(ctx)
        self.client = ctx.client
        self.recorder = ctx.recorder("node-controller")
        self.grace = s.node_monitor_grace_period
        self.startup_grace = s.node_startup_grace_period
        self.period = s.node_monitor_period
        self.node_informer = ctx.informers.informer(NODES)
        self.lease_informer = ctx.informers.informer(LEASES, namespace=NODE_LEASE_NAMESPACE)
        self.pod_informer = ctx.informers.informer(PODS)
        self.nodes = self.node_informer.lister()
        self.leases = self.lease_informer.lister()
        self.health: dict[str, NodeHealth] = {}
        self.known: dict[str, str] = {}  # node name -> uid
        self.retry_pods: set[str] = set()
        self.node_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda o, n: self.enqueue(n),
                                                               delete=self._node_deleted))
        self.watches(self.node_informer, self.lease_informer, self.pod_informer)
        self.eviction = TaintEvictionController(ctx, self.pod_informer, self.node_informer)

    def _node_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        self.health.pop(self.key_of(obj), None)

    async def run(self, informers: Any = ()) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(super().run(informers), name="node-lifecycle: taints")
            tg.create_task(self.eviction.run(), name="node-lifecycle: taint eviction")
            tg.create_task(self._monitor_loop(), name="node-lifecycle: health")

    # -- NoSchedule taints from conditions ---------------------------------------------------------

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None:
            return
        wanted = no_schedule_taints(node)
        current = [t for t in taints_of(node) if t.get("effect") == "NoSchedule"
                   and (t.get("key") == TAINT_UNSCHEDULABLE or t.get("key") in CONDITION_TAINT_KEYS)]
        add, remove = taint_diff(wanted, current)
        if not add and not remove:
            return
        if not await swap_taints(self.client, node, add, remove, rfc3339(self.clock.time())):
            raise RuntimeError(f"failed to swap taints of node {key}")

    # -- health ------------------------------------------------------------------------------------

    async def _monitor_loop(self) -> None:
        await asyncio.gather(*(i.wait_for_sync() for i in (self.node_informer, self.lease_informer, self.pod_informer)))
        while True:
            try:
                await self.monitor_node_health()
            except Exception:
                log.exception("node-lifecycle: monitoring node health failed")
            await self.clock.sleep(self.period)

    async def monitor_node_health(self) -> None:
        nodes = self.nodes.list()
        names = {n["metadata"]["name"]: uid_of(n) for n in nodes}
        for name, uid in names.items():
            if name not in self.known:
                self.known[name] = uid
                self._node_event(name, uid, "RegisteredNode", f"Registered Node {name} in Controller")
        for name in [n for n in self.known if n not in names]:
            self._node_event(name, self.known.pop(name), "RemovingNode", f"Removing Node {name} from Controller")
            self.health.pop(name, None)
            self.retry_pods.discard(name)
        for node in nodes:
            try:
                await self.monitor_node(node)
            except ClientError as exc:
                log.warning("node-lifecycle: node %s: %s", node["metadata"]["name"], exc)

    async def monitor_node(self, cached: Object) -> None:
        node = copy_object(cached)
        name = node["metadata"]["name"]
        for _ in range(TAINT_RETRIES):
            try:
                observed, current = await self.try_update_node_health(node)
                break
            except Conflict:
                try:
                    node = await self.client.get(NODES, name)
                except NotFound:
                    return
        else:
            return
        if current is None:
            return
        await self.process_taint_based_eviction(node, str(current.get("status")))
        if current.get("status") != "True" and observed.get("status") == "True":
            self._node_event(name, uid_of(node), "NodeNotReady", f"Node {name} status is now: NodeNotReady")
            await self.mark_pods_not_ready(name)
        elif name in self.retry_pods and observed.get("status") != "True":
            await self.mark_pods_not_ready(name)
        else:
            self.retry_pods.discard(name)

    async def try_update_node_health(self, node: Object) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
        """Upstream tryUpdateNodeHealth: (Ready condition as observed, Ready condition now). May write the
        node's status (raises Conflict when the node changed meanwhile)."""
        name = node["metadata"]["name"]
        now = self.clock.now()
        status = node.setdefault("status", {})
        conditions: list[dict[str, Any]] = status.setdefault("conditions", [])
        current = get_condition(conditions, "Ready")
        created = node["metadata"].get("creationTimestamp")
        health = self.health.get(name)
        if current is None:
            observed: Mapping[str, Any] = {"type": "Ready", "status": "Unknown", "lastHeartbeatTime": created,
                                           "lastTransitionTime": created}
            grace = self.startup_grace
            if health is not None:
                health.status = copy_object(status)
            else:
                start = now - max(self.clock.time() - (timestamp(created) or self.clock.time()), 0.0)
                health = NodeHealth(copy_object(status), start, start)
        else:
            observed = dict(current)
            grace = self.grace
        saved = get_condition((health.status.get("conditions") if health else None), "Ready")
        if health is None or (saved is None and current is not None):
            health = NodeHealth(copy_object(status), now, now, health.lease_renew if health else None)
        elif saved is not None and current is None:
            health = NodeHealth(copy_object(status), now, now, health.lease_renew)
        elif saved is not None and current is not None and saved.get("lastHeartbeatTime") != current.get("lastHeartbeatTime"):
            transition = now if saved.get("lastTransitionTime") != current.get("lastTransitionTime") else health.ready_transition
            health = NodeHealth(copy_object(status), now, transition, health.lease_renew)
        lease = self.leases.get(name, NODE_LEASE_NAMESPACE)
        if lease is not None:
            renew = timestamp((lease.get("spec") or {}).get("renewTime"))
            renew_exact = (lease.get("spec") or {}).get("renewTime")
            if renew is not None and (health.lease_renew is None or _later(renew_exact, health.lease_renew)):
                health.lease_renew = _exact(renew_exact)
                health.probe = now
        self.health[name] = health
        if now <= health.probe + grace:
            return observed, current
        wall = rfc3339(self.clock.time())
        for ctype in UNKNOWN_CONDITIONS:
            c = get_condition(conditions, ctype)
            if c is None:
                conditions.append({"type": ctype, "status": "Unknown", "lastHeartbeatTime": created,
                                   "lastTransitionTime": wall, "reason": "NodeStatusNeverUpdated",
                                   "message": "Kubelet never posted node status."})
            elif c.get("status") != "Unknown":
                set_condition(conditions, {"type": ctype, "status": "Unknown", "reason": "NodeStatusUnknown",
                                           "message": "Kubelet stopped posting node status.",
                                           "lastTransitionTime": wall}, wall)
        current = get_condition(conditions, "Ready")
        if current is not None and dict(current) != dict(observed):
            log.info("node-lifecycle: node %s has not been heard from for %.0fs: marking its conditions Unknown",
                     name, now - health.probe)
            updated = await self.client.update_status(NODES, node)
            node["metadata"] = updated["metadata"]
            self.health[name] = NodeHealth(copy_object(updated.get("status") or {}), health.probe, now, health.lease_renew)
        return observed, current

    async def process_taint_based_eviction(self, node: Object, ready: str) -> None:
        now = rfc3339(self.clock.time())
        if ready == "False":
            await swap_taints(self.client, node, [NOT_READY_NO_EXECUTE], [UNREACHABLE_NO_EXECUTE], now)
        elif ready == "Unknown":
            await swap_taints(self.client, node, [UNREACHABLE_NO_EXECUTE], [NOT_READY_NO_EXECUTE], now)
        elif ready == "True":
            if any(taint_matches(t, x) for t in taints_of(node) for x in (NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE)):
                if await swap_taints(self.client, node, [], [NOT_READY_NO_EXECUTE, UNREACHABLE_NO_EXECUTE], now):
                    log.info("node-lifecycle: node %s is healthy again, removed all taints", node["metadata"]["name"])

    async def mark_pods_not_ready(self, node_name: str) -> None:
        """Set Ready=False on the pods of the node (upstream MarkPodsNotReady); remembers the node for a
        retry when some update failed."""
        failed = False
        for pod in self.pod_informer.lister().by_index(NODE_INDEX, node_name):
            if node_name_of(pod) != node_name:
                continue
            conditions = [dict(c) for c in (pod.get("status") or {}).get("conditions") or []]
            ready = get_condition(conditions, "Ready")
            if ready is None or ready.get("status") == "False":
                continue
            set_condition(conditions, {"type": "Ready", "status": "False"}, rfc3339(self.clock.time()))
            fresh = copy_object(pod)
            fresh.setdefault("status", {})["conditions"] = conditions
            try:
                await self.client.update_status(PODS, fresh)
            except NotFound:
                continue
            except ClientError as exc:
                log.info("node-lifecycle: marking pod %s/%s not ready failed: %s", pod["metadata"].get("namespace"),
                         pod["metadata"]["name"], exc)
                failed = True
                continue
            self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")
        if failed:
            self.retry_pods.add(node_name)
        else:
            self.retry_pods.discard(node_name)

    def _node_event(self, name: str, uid: str, reason: str, message: str) -> None:
        self.recorder.event({"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid}, "Normal", reason, message)


def _exact(text: Any) -> float:
    """A renewTime (MicroTime) as float seconds, keeping the microseconds."""
    t = timestamp(text)
    return t if t is not None else 0.0


def _later(text: Any, than: float) -> bool:
    return _exact(text) > than


def new(ctx: ControllerContext) -> NodeLifecycleController:
    return NodeLifecycleController(ctx)
