"""The Deployment controller (upstream pkg/controller/deployment).

A Deployment owns ReplicaSets named <deployment>-<pod-template-hash>; the one whose template equals
the deployment's (ignoring the hash label) is the new one, every other is old. Each sync:
paused or a pure scaling event -> scale proportionally and update status; otherwise roll out with the
strategy (RollingUpdate within maxSurge/maxUnavailable, or Recreate), then report status with the
Available and Progressing conditions (ProgressDeadlineExceeded after progressDeadlineSeconds without
progress) and clean up old ReplicaSets beyond revisionHistoryLimit.

ReplicaSets carry `deployment.kubernetes.io/revision` (and `revision-history` when a template is
rolled back to), `desired-replicas` and `max-replicas`, and the deployment's own annotations (such as
kubernetes.io/change-cause), which is what `kubectl rollout history` and `rollout undo` read.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.controller import Controller
from kijabi.client.errors import AlreadyExists, APIError, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import DEPLOYMENTS, PODS, REPLICASETS
from kijabi.controllers.context import ControllerContext
from kijabi.controllers.workloads import _deployment_util as du
from kijabi.controllers.workloads import _util as u

log = logging.getLogger(__name__)

Object = dict[str, Any]


class DeploymentController(Controller):
    def __init__(self, ctx: ControllerContext, *, workers: int = 5) -> None:
        super().__init__("deployment", workers=workers, clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("deployment-controller")
        self.d_informer = ctx.informers.informer(DEPLOYMENTS)
        self.rs_informer = ctx.informers.informer(REPLICASETS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.pod_informer = ctx.informers.informer(PODS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.d_lister = self.d_informer.lister()
        self.rs_lister = self.rs_informer.lister()
        self.pod_lister = self.pod_informer.lister()
        self.d_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda o, n: self.enqueue(n),
                                                            delete=self.enqueue))
        self.rs_informer.add_event_handler(EventHandlerFuncs(add=self._add_rs, update=self._update_rs,
                                                             delete=self._delete_rs))
        self.pod_informer.add_event_handler(EventHandlerFuncs(delete=self._delete_pod))
        self.watches(self.d_informer, self.rs_informer, self.pod_informer)

    # -- event handlers ----------------------------------------------------------------------------

    def _resolve(self, namespace: str, ref: Mapping[str, Any] | None) -> Object | None:
        return u.resolve_controller_ref(ref, "Deployment", lambda n: self.d_lister.get(n, namespace))

    def _deployments_matching(self, rs: Object) -> list[Object]:
        rs_labels = u.meta(rs).get("labels")
        if not rs_labels:
            return []
        return [d for d in self.d_lister.list(u.namespace_of(rs)) if u.selector_of(d).matches(rs_labels)
                and not u.selector_of(d).empty()]

    def _add_rs(self, rs: Object) -> None:
        if u.deleting(rs):
            self._delete_rs(rs)
            return
        ref = u.controller_ref(rs)
        if ref is not None:
            d = self._resolve(u.namespace_of(rs), ref)
            if d is not None:
                self.enqueue(d)
            return
        for d in self._deployments_matching(rs):
            self.enqueue(d)

    def _update_rs(self, old: Object, new: Object) -> None:
        if u.meta(old).get("resourceVersion") == u.meta(new).get("resourceVersion"):
            return
        cur_ref, old_ref = u.controller_ref(new), u.controller_ref(old)
        if cur_ref != old_ref and old_ref is not None:
            d = self._resolve(u.namespace_of(old), old_ref)
            if d is not None:
                self.enqueue(d)
        if cur_ref is not None:
            d = self._resolve(u.namespace_of(new), cur_ref)
            if d is not None:
                self.enqueue(d)
            return
        if u.meta(old).get("labels") != u.meta(new).get("labels") or cur_ref != old_ref:
            for d in self._deployments_matching(new):
                self.enqueue(d)

    def _delete_rs(self, obj: Object | DeletedFinalStateUnknown) -> None:
        rs = u.unwrap(obj)
        d = self._resolve(u.namespace_of(rs), u.controller_ref(rs))
        if d is not None:
            self.enqueue(d)

    def _delete_pod(self, obj: Object | DeletedFinalStateUnknown) -> None:
        """Recreate waits for every old pod to be gone: a pod deletion may unblock it."""
        pod = u.unwrap(obj)
        rs = u.resolve_controller_ref(u.controller_ref(pod), "ReplicaSet",
                                      lambda n: self.rs_lister.get(n, u.namespace_of(pod)))
        if rs is None:
            return
        d = self._resolve(u.namespace_of(rs), u.controller_ref(rs))
        if d is not None and du.strategy_type(d) == "Recreate":
            self.enqueue(d)

    # -- sync --------------------------------------------------------------------------------------

    def _now(self) -> str:
        return u.now_text(self.clock.time())

    async def sync(self, key: str) -> float | None:
        cached = self.d_lister.get_by_key(key)
        if cached is None:
            return None
        d = u.copy(cached)
        sel = u.spec(d).get("selector")
        if not sel or (not sel.get("matchLabels") and not sel.get("matchExpressions")):
            self.recorder.event(d, "Warning", "SelectingAll",
                                "This deployment is selecting all pods. A non-empty selector is required.")
            gen = u.meta(d).get("generation", 0)
            if u.int_value(u.status(d).get("observedGeneration")) < gen:
                d.setdefault("status", {})["observedGeneration"] = gen
                await self._update_status(d)
            return None
        rss = await self._claim_replicasets(d)
        if u.deleting(d):
            await self._sync_status_only(d, rss)
            return None
        d = await self._check_paused_conditions(d)
        if u.spec(d).get("paused"):
            await self._sync(d, rss)
            return None
        if self._is_scaling_event(d, rss):
            await self._sync(d, rss)
            return None
        if du.strategy_type(d) == "Recreate":
            return await self._rollout_recreate(d, rss)
        return await self._rollout_rolling(d, rss)

    async def _claim_replicasets(self, d: Object) -> list[Object]:
        ns = u.namespace_of(d)
        owned = self.rs_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(d))
        orphans = self.rs_lister.by_index(u.CONTROLLER_UID_INDEX, f"orphan/{ns}")
        manager = u.RefManager(self.client, d, u.selector_of(d), api_version="apps/v1", kind="Deployment",
                               can_adopt=u.recheck_owner(self.client, DEPLOYMENTS, d))
        return await manager.claim(REPLICASETS, owned + orphans)

    async def _update_status(self, d: Object) -> Object:
        """Write d's status. The revision annotation rides along as upstream writes it (through the
        status update); where the server keeps metadata out of status writes it is patched in."""
        revision = du.annots(d).get(du.REVISION)
        updated = await self.client.update_status(DEPLOYMENTS, d, namespace=u.namespace_of(d))
        if revision is not None and du.annots(updated).get(du.REVISION) != revision:
            updated = await self.client.patch(DEPLOYMENTS, u.name_of(d),
                                              {"metadata": {"annotations": {du.REVISION: revision}}},
                                              namespace=u.namespace_of(d))
        d.clear()
        d.update(updated)
        return d

    async def _check_paused_conditions(self, d: Object) -> Object:
        if not du.has_progress_deadline(d):
            return d
        st = d.setdefault("status", {})
        cond = u.get_condition(st, "Progressing")
        if cond is not None and cond.get("reason") == du.TIMED_OUT:
            return d
        paused_exists = cond is not None and cond.get("reason") == du.PAUSED
        now = self._now()
        if u.spec(d).get("paused") and not paused_exists:
            u.set_condition(st, du.condition("Progressing", "Unknown", du.PAUSED, "Deployment is paused", now))
        elif not u.spec(d).get("paused") and paused_exists:
            u.set_condition(st, du.condition("Progressing", "Unknown", du.RESUMED, "Deployment is resumed", now))
        else:
            return d
        return await self._update_status(d)

    def _is_scaling_event(self, d: Object, rss: list[Object]) -> bool:
        new_rs = du.find_new(d, rss)
        _, all_old = du.find_old(d, rss, new_rs)
        for rs in du.active([*all_old, new_rs]):
            desired = du.desired_annotation(rs)
            if desired is not None and desired != du.replicas(d):
                return True
        return False

    async def _new_and_old(self, d: Object, rss: list[Object], create: bool) -> tuple[Object | None, list[Object]]:
        existing = du.find_new(d, rss)
        _, all_old = du.find_old(d, rss, existing)
        new_rs = await self._get_new_rs(d, rss, all_old, create)
        return new_rs, all_old

    async def _get_new_rs(self, d: Object, rss: list[Object], old_rss: list[Object], create: bool) -> Object | None:
        existing = du.find_new(d, rss)
        new_revision = str(du.max_revision(old_rss) + 1)
        st = d.setdefault("status", {})
        if existing is not None:
            rs_copy = u.copy(existing)
            changed = du.set_new_rs_annotations(d, rs_copy, new_revision, True)
            min_ready = u.int_value(u.spec(d).get("minReadySeconds"))
            if changed or u.int_value(u.spec(rs_copy).get("minReadySeconds")) != min_ready:
                rs_copy["spec"]["minReadySeconds"] = min_ready
                return await self.client.update(REPLICASETS, rs_copy)
            needs_update = self._set_revision(d, du.annots(rs_copy).get(du.REVISION, ""))
            if du.has_progress_deadline(d) and u.get_condition(st, "Progressing") is None:
                u.set_condition(st, du.condition("Progressing", "True", du.FOUND_NEW_RS,
                                                 f'Found new replica set "{u.name_of(rs_copy)}"', self._now()))
                needs_update = True
            if needs_update:
                await self._update_status(d)
            return rs_copy
        if not create:
            return None
        template = u.copy(u.spec(d).get("template") or {})
        collision = st.get("collisionCount")
        pod_hash = u.compute_hash(template, collision if isinstance(collision, int) else None)
        template.setdefault("metadata", {}).setdefault("labels", {})[u.POD_TEMPLATE_HASH] = pod_hash
        selector = u.copy(u.spec(d).get("selector") or {})
        selector.setdefault("matchLabels", {})[u.POD_TEMPLATE_HASH] = pod_hash
        new_rs: Object = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{u.name_of(d)}-{pod_hash}", "namespace": u.namespace_of(d),
                         "ownerReferences": [u.new_controller_ref(d, "apps/v1", "Deployment")],
                         "labels": dict(template["metadata"]["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": u.int_value(u.spec(d).get("minReadySeconds")),
                     "selector": selector, "template": template},
        }
        count = du.new_rs_new_replicas(d, [*old_rss, new_rs], new_rs)
        new_rs["spec"]["replicas"] = count
        du.set_new_rs_annotations(d, new_rs, new_revision, False)
        already = False
        try:
            created_rs = await self.client.create(REPLICASETS, new_rs)
        except AlreadyExists:
            already = True
            found = self.rs_lister.get(new_rs["metadata"]["name"], u.namespace_of(d))
            ref = u.controller_ref(found) if found is not None else None
            if found is not None and ref is not None and ref.get("uid") == u.uid_of(d) and \
                    du.equal_ignore_hash(u.spec(d).get("template"), u.spec(found).get("template")):
                created_rs = u.copy(found)
            else:
                st["collisionCount"] = (collision if isinstance(collision, int) else 0) + 1
                try:
                    await self._update_status(d)
                except APIError:
                    pass
                raise
        except APIError as exc:
            msg = f'Failed to create new replica set "{new_rs["metadata"]["name"]}": {exc}'
            if du.has_progress_deadline(d):
                u.set_condition(st, du.condition("Progressing", "False", du.FAILED_RS_CREATE, msg, self._now()))
                try:
                    await self._update_status(d)
                except APIError:
                    pass
            self.recorder.event(d, "Warning", du.FAILED_RS_CREATE, msg)
            raise
        if not already and count > 0:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled up replica set {u.name_of(created_rs)} from 0 to {count}")
        needs_update = self._set_revision(d, new_revision)
        if not already and du.has_progress_deadline(d):
            u.set_condition(st, du.condition("Progressing", "True", du.NEW_RS_CREATED,
                                             f'Created new replica set "{u.name_of(created_rs)}"', self._now()))
            needs_update = True
        if needs_update:
            await self._update_status(d)
        return created_rs

    @staticmethod
    def _set_revision(d: Object, revision: str) -> bool:
        ann = d.setdefault("metadata", {}).setdefault("annotations", {})
        if ann.get(du.REVISION) == revision:
            return False
        ann[du.REVISION] = revision
        return True

    # -- scaling -----------------------------------------------------------------------------------

    async def _scale_rs(self, rs: Object, new_scale: int, d: Object, operation: str | None = None) -> tuple[bool, Object]:
        old_scale = du.replicas(rs)
        if operation is None:
            if old_scale == new_scale:
                return False, rs
            operation = "up" if old_scale < new_scale else "down"
        size_changes = old_scale != new_scale
        desired, max_replicas = du.replicas(d), du.replicas(d) + du.max_surge(d)
        if not size_changes and not du.replicas_annotations_need_update(rs, desired, max_replicas):
            return False, rs
        rs_copy = u.copy(rs)
        rs_copy["spec"]["replicas"] = new_scale
        du.set_replicas_annotations(rs_copy, desired, max_replicas)
        updated = await self.client.update(REPLICASETS, rs_copy)
        if size_changes:
            self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                f"Scaled {operation} replica set {u.name_of(rs)} from {old_scale} to {new_scale}")
        return size_changes, updated

    async def _scale(self, d: Object, new_rs: Object | None, old_rss: list[Object]) -> None:
        target = du.find_active_or_latest(new_rs, old_rss)
        if target is not None:
            if du.replicas(target) == du.replicas(d):
                return
            await self._scale_rs(target, du.replicas(d), d)
            return
        if du.is_saturated(d, new_rs):
            for old in du.active(old_rss):
                await self._scale_rs(old, 0, d)
            return
        if not du.is_rolling(d):
            return
        all_rss = du.active([*old_rss, new_rs])
        allowed = du.replicas(d) + du.max_surge(d) if du.replicas(d) > 0 else 0
        to_add = allowed - du.spec_count(all_rss)
        operation = ""
        if to_add > 0:
            all_rss.sort(key=lambda r: (-du.replicas(r), -u.created(r), u.name_of(r)))
            operation = "up"
        elif to_add < 0:
            all_rss.sort(key=lambda r: (-du.replicas(r), u.created(r), u.name_of(r)))
            operation = "down"
        added = 0
        sizes: dict[str, int] = {}
        for rs in all_rss:
            if to_add != 0:
                p = du.proportion(rs, d, to_add, added)
                sizes[u.name_of(rs)] = du.replicas(rs) + p
                added += p
            else:
                sizes[u.name_of(rs)] = du.replicas(rs)
        for i, rs in enumerate(all_rss):
            if i == 0 and to_add != 0:
                sizes[u.name_of(rs)] = max(sizes[u.name_of(rs)] + to_add - added, 0)
            await self._scale_rs(rs, sizes[u.name_of(rs)], d, operation or None)

    async def _sync(self, d: Object, rss: list[Object]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rss, False)
        await self._scale(d, new_rs, old_rss)
        if u.spec(d).get("paused"):
            await self._cleanup(d, old_rss)
        await self._sync_status(d, self._fresh([*old_rss, new_rs]), self._fresh_one(new_rs))

    async def _sync_status_only(self, d: Object, rss: list[Object]) -> None:
        new_rs, old_rss = await self._new_and_old(d, rss, False)
        await self._sync_status(d, [*old_rss, new_rs], new_rs)

    def _fresh_one(self, rs: Object | None) -> Object | None:
        if rs is None:
            return None
        cached = self.rs_lister.get(u.name_of(rs), u.namespace_of(rs))
        if cached is not None and int(u.meta(cached).get("resourceVersion", 0) or 0) > \
                int(u.meta(rs).get("resourceVersion", 0) or 0):
            return cached
        return rs

    def _fresh(self, rss: list[Object | None]) -> list[Object | None]:
        return [self._fresh_one(rs) for rs in rss]

    async def _sync_status(self, d: Object, all_rss: list[Object | None], new_rs: Object | None) -> None:
        new_status = du.calculate_status(d, all_rss, new_rs, self._now())
        if du.normalize(new_status) == du.normalize(u.status(d)):
            return
        d["status"] = new_status
        await self._update_status(d)

    # -- rollouts ----------------------------------------------------------------------------------

    async def _rollout_rolling(self, d: Object, rss: list[Object]) -> float | None:
        new_rs, old_rss = await self._new_and_old(d, rss, True)
        assert new_rs is not None
        all_rss: list[Object | None] = [*old_rss, new_rs]
        if await self._reconcile_new(d, all_rss, new_rs):
            return await self._sync_rollout_status(d, all_rss, new_rs)
        if await self._reconcile_old(d, all_rss, du.active(old_rss), new_rs):
            return await self._sync_rollout_status(d, all_rss, new_rs)
        if du.complete(d, u.status(d)):
            await self._cleanup(d, old_rss)
        return await self._sync_rollout_status(d, all_rss, new_rs)

    async def _reconcile_new(self, d: Object, all_rss: list[Object | None], new_rs: Object) -> bool:
        want = du.replicas(d)
        if du.replicas(new_rs) == want:
            return False
        if du.replicas(new_rs) > want:
            scaled, _ = await self._scale_rs(new_rs, want, d)
            return scaled
        count = du.new_rs_new_replicas(d, all_rss, new_rs)
        scaled, _ = await self._scale_rs(new_rs, count, d)
        return scaled

    async def _reconcile_old(self, d: Object, all_rss: list[Object | None], old_rss: list[Object],
                             new_rs: Object) -> bool:
        if du.spec_count(old_rss) == 0:
            return False
        all_count = du.spec_count(all_rss)
        min_available = du.replicas(d) - du.max_unavailable(d)
        new_unavailable = du.replicas(new_rs) - u.int_value(u.status(new_rs).get("availableReplicas"))
        max_scaled_down = all_count - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        old_rss, cleaned = await self._cleanup_unhealthy(d, old_rss, max_scaled_down)
        scaled = await self._scale_down_old_rolling(d, [*old_rss, new_rs], old_rss)
        return cleaned + scaled > 0

    async def _cleanup_unhealthy(self, d: Object, old_rss: list[Object], max_cleanup: int) -> tuple[list[Object], int]:
        olds = du.by_creation(old_rss)
        total = 0
        for i, rs in enumerate(olds):
            if total >= max_cleanup:
                break
            n, avail = du.replicas(rs), u.int_value(u.status(rs).get("availableReplicas"))
            if n == 0 or n == avail:
                continue
            down = min(max_cleanup - total, n - avail)
            _, olds[i] = await self._scale_rs(rs, n - down, d)
            total += down
        return olds, total

    async def _scale_down_old_rolling(self, d: Object, all_rss: list[Object | None], old_rss: list[Object]) -> int:
        min_available = du.replicas(d) - du.max_unavailable(d)
        available = du.available_count(all_rss)
        if available <= min_available:
            return 0
        total = 0
        budget = available - min_available
        for rs in du.by_creation(old_rss):
            if total >= budget:
                break
            if du.replicas(rs) == 0:
                continue
            down = min(du.replicas(rs), budget - total)
            await self._scale_rs(rs, du.replicas(rs) - down, d)
            total += down
        return total

    async def _rollout_recreate(self, d: Object, rss: list[Object]) -> float | None:
        new_rs, old_rss = await self._new_and_old(d, rss, False)
        all_rss: list[Object | None] = [*old_rss, new_rs]
        scaled_down = False
        for rs in du.active(old_rss):
            scaled, _ = await self._scale_rs(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down:
            return await self._sync_rollout_status(d, all_rss, new_rs)
        if self._old_pods_running(new_rs, old_rss):
            return await self._sync_rollout_status(d, all_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = await self._new_and_old(d, rss, True)
            all_rss = [*old_rss, new_rs]
        assert new_rs is not None
        await self._scale_rs(new_rs, du.replicas(d), d)
        if du.complete(d, u.status(d)):
            await self._cleanup(d, old_rss)
        return await self._sync_rollout_status(d, all_rss, new_rs)

    def _old_pods_running(self, new_rs: Object | None, old_rss: list[Object]) -> bool:
        if du.actual_count(old_rss) > 0:
            return True
        for rs in old_rss:
            for pod in self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(rs)):
                if u.pod_phase(pod) not in ("Failed", "Succeeded"):
                    return True
        return False

    async def _cleanup(self, d: Object, old_rss: list[Object]) -> None:
        if not du.has_revision_history_limit(d):
            return
        alive = [rs for rs in old_rss if not u.deleting(rs)]
        diff = len(alive) - u.int_value(u.spec(d).get("revisionHistoryLimit"))
        if diff <= 0:
            return
        alive.sort(key=lambda r: (du.revision(r), u.created(r), u.name_of(r)))
        for rs in alive[:diff]:
            st = u.status(rs)
            if u.int_value(st.get("replicas")) != 0 or du.replicas(rs) != 0 or u.deleting(rs) or \
                    u.int_value(u.meta(rs).get("generation")) > u.int_value(st.get("observedGeneration")):
                continue
            try:
                await self.client.delete(REPLICASETS, u.name_of(rs), namespace=u.namespace_of(rs),
                                         preconditions={"uid": u.uid_of(rs)})
            except NotFound:
                pass

    async def _sync_rollout_status(self, d: Object, all_rss: list[Object | None], new_rs: Object | None) -> float | None:
        all_rss = self._fresh(all_rss)
        new_rs = self._fresh_one(new_rs)
        now_f = self.clock.time()
        now = u.now_text(now_f)
        new_status = du.calculate_status(d, all_rss, new_rs, now)
        if not du.has_progress_deadline(d):
            u.remove_condition(new_status, "Progressing")
        current = u.get_condition(u.status(d), "Progressing")
        complete_already = (new_status["replicas"] == new_status["updatedReplicas"] and current is not None
                            and current.get("reason") == du.NEW_RS_AVAILABLE)
        if du.has_progress_deadline(d) and not complete_already:
            if du.complete(d, new_status):
                msg = f'Deployment "{u.name_of(d)}" has successfully progressed.'
                if new_rs is not None:
                    msg = f'ReplicaSet "{u.name_of(new_rs)}" has successfully progressed.'
                u.set_condition(new_status, du.condition("Progressing", "True", du.NEW_RS_AVAILABLE, msg, now))
            elif du.progressing(d, new_status):
                msg = f'Deployment "{u.name_of(d)}" is progressing.'
                if new_rs is not None:
                    msg = f'ReplicaSet "{u.name_of(new_rs)}" is progressing.'
                cond = du.condition("Progressing", "True", du.RS_UPDATED, msg, now)
                if current is not None:
                    if current.get("status") == "True" and current.get("lastTransitionTime"):
                        cond["lastTransitionTime"] = current["lastTransitionTime"]
                    u.remove_condition(new_status, "Progressing")
                u.set_condition(new_status, cond)
            elif du.timed_out(d, new_status, now_f):
                msg = f'Deployment "{u.name_of(d)}" has timed out progressing.'
                if new_rs is not None:
                    msg = f'ReplicaSet "{u.name_of(new_rs)}" has timed out progressing.'
                u.set_condition(new_status, du.condition("Progressing", "False", du.TIMED_OUT, msg, now))
        failure = self._replica_failure(all_rss, new_rs)
        if failure is not None:
            u.set_condition(new_status, failure)
        else:
            u.remove_condition(new_status, "ReplicaFailure")
        if du.normalize(new_status) == du.normalize(u.status(d)):
            return self._requeue_stuck(d, new_status, now_f)
        d["status"] = new_status
        await self._update_status(d)
        return None

    @staticmethod
    def _replica_failure(all_rss: list[Object | None], new_rs: Object | None) -> Object | None:
        for rs in [new_rs, *all_rss]:
            if rs is None:
                continue
            cond = u.get_condition(u.status(rs), "ReplicaFailure")
            if cond is not None:
                ts = cond.get("lastTransitionTime", "")
                return {"type": "ReplicaFailure", "status": cond.get("status"), "lastUpdateTime": ts,
                        "lastTransitionTime": ts, "reason": cond.get("reason", ""), "message": cond.get("message", "")}
        return None

    def _requeue_stuck(self, d: Object, new_status: Object, now: float) -> float | None:
        current = u.get_condition(u.status(d), "Progressing")
        if not du.has_progress_deadline(d) or current is None or du.complete(d, new_status) \
                or current.get("reason") == du.TIMED_OUT:
            return None
        after = u.timestamp(current.get("lastUpdateTime")) + u.int_value(u.spec(d).get("progressDeadlineSeconds")) - now
        return max(after, 1.0)


def new_deployment_controller(ctx: ControllerContext) -> DeploymentController:
    return DeploymentController(ctx, workers=ctx.options.concurrent_syncs.get("deployment", 5))
