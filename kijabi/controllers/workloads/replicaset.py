"""The ReplicaSet and ReplicationController controllers (upstream pkg/controller/replicaset).

One core serves both kinds (as upstream's replication controller is the replica set controller behind
an adapter): keep `spec.replicas` active pods matching the selector, creating in slow-start batches
(1, 2, 4, ... at most 500 per sync) and deleting the pods that rank first for deletion; adopt matching
orphans and release owned pods that stopped matching; report replicas / fullyLabeledReplicas /
readyReplicas / availableReplicas / observedGeneration and a ReplicaFailure condition.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.controller import Controller
from kijabi.client.errors import NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import GVR, PODS, REPLICASETS
from kijabi.controllers.context import ControllerContext
from kijabi.controllers.workloads import _util as u
from kijabi.controllers.workloads._expectations import Expectations
from kijabi.machinery import labels

log = logging.getLogger(__name__)

Object = dict[str, Any]
REPLICATIONCONTROLLERS = GVR("", "v1", "replicationcontrollers")


@dataclass(frozen=True)
class Kind:
    """What differs between ReplicaSet and ReplicationController."""

    gvr: GVR
    api_version: str
    kind: str
    component: str

    def selector(self, obj: Mapping[str, Any]) -> labels.Selector:
        if self.kind == "ReplicationController":
            sel = u.spec(obj).get("selector")
            if not sel:
                return u.selector_of({"spec": {}})
            return labels.from_label_selector({"matchLabels": dict(sel)})
        return u.selector_of(obj)


REPLICA_SET = Kind(REPLICASETS, "apps/v1", "ReplicaSet", "replicaset-controller")
REPLICATION_CONTROLLER = Kind(REPLICATIONCONTROLLERS, "v1", "ReplicationController", "replication-controller")

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}


def _log_bucket(age: float) -> int:
    return math.floor(math.log2(age)) if age >= 1 else -1


def deletion_order(pods: list[Object], related: list[Object], now: float) -> list[Object]:
    """Pods sorted so that the ones to delete first come first (upstream ActivePodsWithRanks with
    logarithmic scale-down): unscheduled, pending, not ready, low deletion cost, crowded node, ready for
    less time, more restarts, newer."""
    on_node: dict[str, int] = {}
    for p in related:
        if u.pod_active(p):
            node = str(u.spec(p).get("nodeName") or "")
            on_node[node] = on_node.get(node, 0) + 1

    def key(p: Object) -> tuple[Any, ...]:
        node = str(u.spec(p).get("nodeName") or "")
        ready = u.pod_ready(p)
        try:
            cost = int((u.meta(p).get("annotations") or {}).get(u.DELETION_COST, "0"))
        except ValueError:
            cost = 0
        ready_age = _log_bucket(now - u.pod_ready_since(p)) if ready else 0
        return (bool(node), _PHASE_ORDER.get(u.pod_phase(p), 0), ready, cost, -on_node.get(node, 0), ready_age,
                -u.restart_count(p), _log_bucket(now - u.created(p)), -u.created(p))

    return sorted(pods, key=key)


class ReplicaSetController(Controller):
    """Keeps the pods of every ReplicaSet (or ReplicationController) at spec.replicas."""

    def __init__(self, ctx: ControllerContext, kind: Kind = REPLICA_SET, *, workers: int = 5,
                 burst_replicas: int = u.BURST_REPLICAS) -> None:
        super().__init__(kind.kind.lower(), workers=workers, clock=ctx.clock)
        self.ctx = ctx
        self.kind = kind
        self.client = ctx.client
        self.burst = burst_replicas
        self.recorder = ctx.recorder(kind.component)
        self.pod_control = u.PodControl(ctx.client, self.recorder)
        self.expectations = Expectations(ctx.clock)
        self.rs_informer = ctx.informers.informer(kind.gvr, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.pod_informer = ctx.informers.informer(PODS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.rs_lister = self.rs_informer.lister()
        self.pod_lister = self.pod_informer.lister()
        self.rs_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=self._update_rs,
                                                             delete=self._delete_rs))
        self.pod_informer.add_event_handler(EventHandlerFuncs(add=self._add_pod, update=self._update_pod,
                                                              delete=self._delete_pod))
        self.watches(self.rs_informer, self.pod_informer)

    # -- event handlers ----------------------------------------------------------------------------

    def _update_rs(self, old: Object, new: Object) -> None:
        if u.uid_of(old) != u.uid_of(new):
            self._delete_rs(DeletedFinalStateUnknown(u.key_of(old), old))
        self.enqueue(new)

    def _delete_rs(self, obj: Object | DeletedFinalStateUnknown) -> None:
        rs = u.unwrap(obj)
        key = u.key_of(rs)
        self.expectations.delete(key)
        self.queue.add(key)

    def _resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Object | None:
        return u.resolve_controller_ref(ref, self.kind.kind, lambda n: self.rs_lister.get(n, namespace))

    def _owners_matching(self, pod: Object) -> list[Object]:
        pod_labels = u.meta(pod).get("labels")
        if not pod_labels:
            return []
        return [rs for rs in self.rs_lister.list(u.namespace_of(pod))
                if self.kind.selector(rs).matches(pod_labels)]

    def _add_pod(self, pod: Object) -> None:
        if u.deleting(pod):
            self._delete_pod(pod)
            return
        ref = u.controller_ref(pod)
        if ref is not None:
            rs = self._resolve(u.namespace_of(pod), ref)
            if rs is not None:
                self.expectations.creation_observed(u.key_of(rs))
                self.enqueue(rs)
            return
        for rs in self._owners_matching(pod):
            self.enqueue(rs)

    def _update_pod(self, old: Object, new: Object) -> None:
        if u.meta(old).get("resourceVersion") == u.meta(new).get("resourceVersion"):
            return
        label_changed = u.meta(old).get("labels") != u.meta(new).get("labels")
        if u.deleting(new):
            self._delete_pod(new)
            if label_changed:
                self._delete_pod(old)
            return
        cur_ref, old_ref = u.controller_ref(new), u.controller_ref(old)
        ref_changed = cur_ref != old_ref
        if ref_changed and old_ref is not None:
            rs = self._resolve(u.namespace_of(old), old_ref)
            if rs is not None:
                self.enqueue(rs)
        if cur_ref is not None:
            rs = self._resolve(u.namespace_of(new), cur_ref)
            if rs is None:
                return
            self.enqueue(rs)
            min_ready = u.int_value(u.spec(rs).get("minReadySeconds"))
            if not u.pod_ready(old) and u.pod_ready(new) and min_ready > 0:
                self.enqueue_after(rs, min_ready + 1)
            return
        if label_changed or ref_changed:
            for rs in self._owners_matching(new):
                self.enqueue(rs)

    def _delete_pod(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = u.unwrap(obj)
        rs = self._resolve(u.namespace_of(pod), u.controller_ref(pod))
        if rs is None:
            return
        key = u.key_of(rs)
        self.expectations.deletion_observed(key, u.key_of(pod))
        self.queue.add(key)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        rs = self.rs_lister.get_by_key(key)
        if rs is None:
            self.expectations.delete(key)
            return None
        needs_sync = self.expectations.satisfied(key)
        selector = self.kind.selector(rs)
        pods = await self._claim_pods(rs, selector)
        manage_error: BaseException | None = None
        diff = 0
        if needs_sync and not u.deleting(rs):
            diff, manage_error = await self._manage(rs, key, pods)
        new_status = self.calculate_status(rs, pods, manage_error, diff)
        updated = await self._write_status(rs, new_status)
        if manage_error is not None:
            raise manage_error
        min_ready = u.int_value(u.spec(updated).get("minReadySeconds"))
        st = u.status(updated)
        replicas = u.int_value(u.spec(updated).get("replicas"), 1)
        if min_ready > 0 and st.get("readyReplicas", 0) == replicas and st.get("availableReplicas", 0) != replicas:
            return float(min_ready)
        return None

    async def _claim_pods(self, rs: Object, selector: labels.Selector) -> list[Object]:
        ns = u.namespace_of(rs)
        owned = self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(rs))
        orphans = [p for p in self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, f"orphan/{ns}")
                   if u.pod_active(p)]
        candidates = [p for p in owned if u.pod_active(p)] + orphans
        manager = u.RefManager(self.client, rs, selector, api_version=self.kind.api_version, kind=self.kind.kind,
                               can_adopt=u.recheck_owner(self.client, self.kind.gvr, rs))
        return await manager.claim(PODS, candidates)

    def _related_pods(self, rs: Object) -> list[Object]:
        """Pods of every ReplicaSet sharing this one's controller (a Deployment's other ReplicaSets)."""
        ref = u.controller_ref(rs)
        if ref is None:
            return self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(rs))
        siblings = self.rs_lister.by_index(u.CONTROLLER_UID_INDEX, str(ref.get("uid")))
        related: list[Object] = []
        for sibling in siblings:
            related.extend(self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(sibling)))
        return related

    async def _manage(self, rs: Object, key: str, pods: list[Object]) -> tuple[int, BaseException | None]:
        replicas = u.int_value(u.spec(rs).get("replicas"), 1)
        diff = len(pods) - replicas
        if diff < 0:
            count = min(-diff, self.burst)
            self.expectations.expect_creations(key, count)
            ref = u.new_controller_ref(rs, self.kind.api_version, self.kind.kind)
            template = u.spec(rs).get("template") or {}

            async def create_one() -> None:
                pod = u.pod_from_template(template, rs, ref)
                await self.pod_control.create(rs, pod)

            successes, error = await u.slow_start_batch(count, u.SLOW_START_INITIAL_BATCH, create_one)
            skipped = count - successes
            for _ in range(skipped):
                self.expectations.creation_observed(key)
            return diff, error
        if diff > 0:
            count = min(diff, self.burst)
            victims = deletion_order(pods, self._related_pods(rs), self.clock.time())[:count]
            self.expectations.expect_deletions(key, [u.key_of(p) for p in victims])
            first_error: BaseException | None = None

            async def delete_one(pod: Object) -> None:
                nonlocal first_error
                try:
                    await self.pod_control.delete(rs, u.namespace_of(pod), u.name_of(pod), u.uid_of(pod))
                except NotFound:
                    self.expectations.deletion_observed(key, u.key_of(pod))
                except Exception as exc:
                    self.expectations.deletion_observed(key, u.key_of(pod))
                    if first_error is None:
                        first_error = exc

            await asyncio.gather(*(delete_one(p) for p in victims))
            return diff, first_error
        return 0, None

    # -- status ------------------------------------------------------------------------------------

    def calculate_status(self, rs: Object, pods: list[Object], manage_error: BaseException | None,
                         diff: int) -> Object:
        new_status = u.copy(u.status(rs))
        template_labels = (u.spec(rs).get("template") or {}).get("metadata", {}).get("labels") or {}
        template_selector = labels.from_label_selector({"matchLabels": template_labels})
        min_ready = u.int_value(u.spec(rs).get("minReadySeconds"))
        now = self.clock.time()
        fully = ready = available = 0
        for p in pods:
            if template_selector.matches(u.meta(p).get("labels")):
                fully += 1
            if u.pod_ready(p):
                ready += 1
                if u.pod_available(p, min_ready, now):
                    available += 1
        failure = u.get_condition(new_status, "ReplicaFailure")
        if manage_error is not None and failure is None:
            reason = "FailedCreate" if diff < 0 else "FailedDelete"
            ts = u.now_text(now)
            u.set_condition(new_status, {"type": "ReplicaFailure", "status": "True", "lastTransitionTime": ts,
                                         "reason": reason, "message": str(manage_error)})
        elif manage_error is None and failure is not None:
            u.remove_condition(new_status, "ReplicaFailure")
        new_status["replicas"] = len(pods)
        new_status["fullyLabeledReplicas"] = fully
        new_status["readyReplicas"] = ready
        new_status["availableReplicas"] = available
        for k in ("fullyLabeledReplicas", "readyReplicas", "availableReplicas"):
            if new_status[k] == 0:
                del new_status[k]
        return new_status

    async def _write_status(self, rs: Object, new_status: Object) -> Object:
        generation = u.meta(rs).get("generation")
        if generation is not None:
            new_status["observedGeneration"] = generation
        if new_status == dict(u.status(rs)):
            return rs
        try:
            return await u.update_status(self.client, self.kind.gvr, rs, new_status)
        except NotFound:
            return rs


def new_replicaset_controller(ctx: ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx, REPLICA_SET, workers=ctx.options.concurrent_syncs.get("replicaset", 5))


def new_replicationcontroller_controller(ctx: ControllerContext) -> ReplicaSetController:
    return ReplicaSetController(ctx, REPLICATION_CONTROLLER,
                                workers=ctx.options.concurrent_syncs.get("replicationcontroller", 5))
