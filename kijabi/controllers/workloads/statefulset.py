"""The StatefulSet controller (upstream pkg/controller/statefulset).

Pods are <set>-<ordinal> with stable identity (hostname, subdomain = serviceName, labels
statefulset.kubernetes.io/pod-name and apps.kubernetes.io/pod-index) and storage: one PVC
<claim>-<set>-<ordinal> per volumeClaimTemplate, created before the pod and kept (Retain) unless
persistentVolumeClaimRetentionPolicy says Delete. OrderedReady creates pods one at a time in ordinal
order, each after its predecessors are Running and Ready, and removes them from the highest ordinal
down; Parallel does both at once. Templates are versioned as ControllerRevisions (currentRevision /
updateRevision); RollingUpdate replaces pods from the highest ordinal down to `partition`, one at a
time; OnDelete waits for the user to delete pods.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.controller import Controller
from kijabi.client.errors import AlreadyExists, APIError, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import PERSISTENTVOLUMECLAIMS, PODS, STATEFULSETS
from kijabi.controllers.context import ControllerContext
from kijabi.controllers.workloads import _history as h
from kijabi.controllers.workloads import _util as u
from kijabi.controllers.workloads._expectations import Expectations

log = logging.getLogger(__name__)

Object = dict[str, Any]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


def parent_and_ordinal(pod: Mapping[str, Any]) -> tuple[str, int]:
    m = _ORDINAL.match(u.name_of(pod))
    return (m.group(1), int(m.group(2))) if m else ("", -1)


def claim_name(claim: str, set_name: str, ordinal: int) -> str:
    return f"{claim}-{set_name}-{ordinal}"


def running_and_ready(pod: Mapping[str, Any]) -> bool:
    return u.pod_phase(pod) == "Running" and u.pod_ready(pod)


class StatefulSetController(Controller):
    def __init__(self, ctx: ControllerContext, *, workers: int = 5) -> None:
        super().__init__("statefulset", workers=workers, clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("statefulset-controller")
        self.expectations = Expectations(ctx.clock)
        self.set_informer = ctx.informers.informer(STATEFULSETS)
        self.pod_informer = ctx.informers.informer(PODS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.rev_informer = ctx.informers.informer(h.CONTROLLERREVISIONS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.pvc_informer = ctx.informers.informer(PERSISTENTVOLUMECLAIMS)
        self.set_lister = self.set_informer.lister()
        self.pod_lister = self.pod_informer.lister()
        self.rev_lister = self.rev_informer.lister()
        self.pvc_lister = self.pvc_informer.lister()
        self.set_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda o, n: self.enqueue(n),
                                                              delete=self.enqueue))
        self.pod_informer.add_event_handler(EventHandlerFuncs(add=self._pod_event, update=self._update_pod,
                                                              delete=self._pod_event))
        self.watches(self.set_informer, self.pod_informer, self.rev_informer, self.pvc_informer)

    def _resolve(self, pod: Object) -> Object | None:
        return u.resolve_controller_ref(u.controller_ref(pod), "StatefulSet",
                                        lambda n: self.set_lister.get(n, u.namespace_of(pod)))

    def _pod_event(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = u.unwrap(obj)
        owner = self._resolve(pod)
        if owner is not None:
            self.enqueue(owner)
            return
        if u.controller_ref(pod) is None:
            for s in self.set_lister.list(u.namespace_of(pod)):
                if u.selector_of(s).matches(u.meta(pod).get("labels")):
                    self.enqueue(s)

    def _update_pod(self, old: Object, new: Object) -> None:
        if u.meta(old).get("resourceVersion") == u.meta(new).get("resourceVersion"):
            return
        if u.controller_ref(old) != u.controller_ref(new):
            self._pod_event(old)
        self._pod_event(new)
        owner = self._resolve(new)
        min_ready = u.int_value(u.spec(owner).get("minReadySeconds")) if owner is not None else 0
        if owner is not None and min_ready > 0 and not u.pod_ready(old) and u.pod_ready(new):
            self.enqueue_after(owner, min_ready + 1)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.set_lister.get_by_key(key)
        if cached is None:
            return None
        sset = u.copy(cached)
        selector = u.selector_of(sset)
        owned = self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(sset))
        orphans = self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, f"orphan/{u.namespace_of(sset)}")
        name = u.name_of(sset)
        manager = u.RefManager(self.client, sset, selector, api_version="apps/v1", kind="StatefulSet",
                               can_adopt=u.recheck_owner(self.client, STATEFULSETS, sset))
        pods = await manager.claim(PODS, owned + orphans, filter=lambda p: parent_and_ordinal(p)[0] == name)
        revisions = self.rev_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(sset))
        return await _SetSync(self, sset, pods, revisions).run()


class _SetSync:
    def __init__(self, c: StatefulSetController, sset: Object, pods: list[Object], revisions: list[Object]) -> None:
        self.c = c
        self.set = sset
        self.pods = pods
        self.revisions = h.sort_revisions(revisions)
        self.spec = u.spec(sset)
        self.name = u.name_of(sset)
        self.ns = u.namespace_of(sset)
        self.requeue: float | None = None

    async def _revisions(self) -> tuple[Object, Object, int]:
        st = u.status(self.set)
        collision = u.int_value(st.get("collisionCount"))
        nxt = (h.number(self.revisions[-1]) + 1) if self.revisions else 1
        candidate = h.new_revision(self.set, api_version="apps/v1", kind="StatefulSet", revision=nxt)
        equal = [r for r in self.revisions if h.same_data(r, candidate)]
        if equal and self.revisions and h.same_data(self.revisions[-1], equal[-1]):
            update = self.revisions[-1]
        elif equal:
            bumped = u.copy(equal[-1])
            bumped["revision"] = nxt
            update = await self.c.client.update(h.CONTROLLERREVISIONS, bumped)
        else:
            update, collision = await h.create_revision(self.c.client, self.set, candidate, collision)
        current = next((r for r in self.revisions if u.name_of(r) == st.get("currentRevision")), update)
        return current, update, collision

    def _pod_for(self, ordinal: int, template: Mapping[str, Any], revision: str) -> Object:
        pod_name = f"{self.name}-{ordinal}"
        ref = u.new_controller_ref(self.set, "apps/v1", "StatefulSet")
        pod = u.pod_from_template(template, self.set, ref, name=pod_name)
        labels = pod["metadata"].setdefault("labels", {})
        labels[POD_NAME_LABEL] = pod_name
        labels[POD_INDEX_LABEL] = str(ordinal)
        labels[u.CONTROLLER_REVISION_HASH] = revision
        ps = pod["spec"]
        ps["hostname"] = pod_name
        if self.spec.get("serviceName"):
            ps["subdomain"] = self.spec["serviceName"]
        claims = self.spec.get("volumeClaimTemplates") or []
        if claims:
            names = {c["metadata"]["name"] for c in claims}
            vols = [v for v in ps.get("volumes") or [] if v.get("name") not in names]
            for c in claims:
                cname = c["metadata"]["name"]
                vols.append({"name": cname, "persistentVolumeClaim": {"claimName": claim_name(cname, self.name, ordinal)}})
            ps["volumes"] = vols
        return pod

    async def _create_claims(self, ordinal: int, pod_name: str) -> None:
        policy = self.spec.get("persistentVolumeClaimRetentionPolicy") or {}
        match = dict((self.spec.get("selector") or {}).get("matchLabels") or {})
        for tmpl in self.spec.get("volumeClaimTemplates") or []:
            cname = claim_name(tmpl["metadata"]["name"], self.name, ordinal)
            if self.c.pvc_lister.get(cname, self.ns) is not None:
                continue
            meta: Object = {"name": cname, "namespace": self.ns,
                            "labels": {**(tmpl.get("metadata", {}).get("labels") or {}), **match}}
            if tmpl.get("metadata", {}).get("annotations"):
                meta["annotations"] = dict(tmpl["metadata"]["annotations"])
            if policy.get("whenDeleted") == "Delete":
                meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": self.name,
                                            "uid": u.uid_of(self.set), "blockOwnerDeletion": True}]
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                     "spec": u.copy(tmpl.get("spec") or {})}
            try:
                await self.c.client.create(PERSISTENTVOLUMECLAIMS, claim, namespace=self.ns)
            except AlreadyExists:
                continue
            except APIError as exc:
                self.c.recorder.event(self.set, "Warning", "FailedCreate",
                                      f"create Claim {cname} for Pod {pod_name} in StatefulSet {self.name} failed error: {exc}")
                raise
            self.c.recorder.event(self.set, "Normal", "SuccessfulCreate",
                                  f"create Claim {cname} Pod {pod_name} in StatefulSet {self.name} success")

    async def _create_pod(self, pod: Object, ordinal: int) -> None:
        pod_name = u.name_of(pod)
        await self._create_claims(ordinal, pod_name)
        try:
            await self.c.client.create(PODS, pod, namespace=self.ns)
        except AlreadyExists:
            return
        except APIError as exc:
            self.c.recorder.event(self.set, "Warning", "FailedCreate",
                                  f"create Pod {pod_name} in StatefulSet {self.name} failed error: {exc}")
            raise
        self.c.recorder.event(self.set, "Normal", "SuccessfulCreate",
                              f"create Pod {pod_name} in StatefulSet {self.name} successful")

    async def _delete_pod(self, pod: Object, scaled_down: bool = False) -> None:
        pod_name = u.name_of(pod)
        policy = self.spec.get("persistentVolumeClaimRetentionPolicy") or {}
        if scaled_down and policy.get("whenScaled") == "Delete":
            for tmpl in self.spec.get("volumeClaimTemplates") or []:
                cname = claim_name(tmpl["metadata"]["name"], self.name, parent_and_ordinal(pod)[1])
                ref = {"apiVersion": "v1", "kind": "Pod", "name": pod_name, "uid": u.uid_of(pod)}
                try:
                    await self.c.client.patch(PERSISTENTVOLUMECLAIMS, cname, {"metadata": {"ownerReferences": [ref]}},
                                              namespace=self.ns, patch_type="strategic")
                except NotFound:
                    pass
        try:
            await self.c.client.delete(PODS, pod_name, namespace=self.ns, preconditions={"uid": u.uid_of(pod)})
        except NotFound:
            return
        except APIError as exc:
            self.c.recorder.event(self.set, "Warning", "FailedDelete",
                                  f"delete Pod {pod_name} in StatefulSet {self.name} failed error: {exc}")
            raise
        self.c.recorder.event(self.set, "Normal", "SuccessfulDelete",
                              f"delete Pod {pod_name} in StatefulSet {self.name} successful")

    def _available(self, pod: Object) -> bool:
        return running_and_ready(pod) and u.pod_available(pod, u.int_value(self.spec.get("minReadySeconds")),
                                                          self.c.clock.time())

    async def run(self) -> float | None:
        current, update, collision = await self._revisions()
        cur_name, upd_name = u.name_of(current), u.name_of(update)
        cur_template, upd_template = h.template_of(current), u.spec(self.set).get("template") or {}
        replicas = u.int_value(self.spec.get("replicas"), 1)
        start = u.int_value((self.spec.get("ordinals") or {}).get("start"))
        strategy = self.spec.get("updateStrategy") or {"type": "RollingUpdate"}
        partition = u.int_value((strategy.get("rollingUpdate") or {}).get("partition"))
        st: Object = {"replicas": 0, "readyReplicas": 0, "currentReplicas": 0, "updatedReplicas": 0,
                      "availableReplicas": 0}
        slots: list[Object | None] = [None] * replicas
        condemned: list[Object] = []
        for pod in self.pods:
            st["replicas"] += 1
            if running_and_ready(pod):
                st["readyReplicas"] += 1
                if self._available(pod):
                    st["availableReplicas"] += 1
            if not u.deleting(pod):
                rev = u.labels_of(pod).get(u.CONTROLLER_REVISION_HASH)
                if rev == cur_name:
                    st["currentReplicas"] += 1
                if rev == upd_name:
                    st["updatedReplicas"] += 1
            ordinal = parent_and_ordinal(pod)[1]
            if start <= ordinal < start + replicas:
                slots[ordinal - start] = pod
            else:
                condemned.append(pod)
        existing = u.int_value(u.status(self.set).get("currentReplicas"))
        for i in range(replicas):
            if slots[i] is None:
                ordinal = start + i
                use_current = strategy.get("type", "RollingUpdate") == "RollingUpdate" and cur_name != upd_name and (
                    ordinal < start + partition if strategy.get("rollingUpdate") else ordinal < start + existing)
                slots[i] = self._pod_for(ordinal, cur_template if use_current else upd_template,
                                         cur_name if use_current else upd_name)
                slots[i]["_new"] = True  # type: ignore[index]
        condemned.sort(key=lambda p: parent_and_ordinal(p)[1])
        monotonic = self.spec.get("podManagementPolicy", "OrderedReady") != "Parallel"
        if not u.deleting(self.set):
            await self._reconcile(slots, condemned, monotonic, st, cur_name, upd_name, strategy, partition)
        await self._write_status(st, cur_name, upd_name, collision, strategy)
        await self._truncate_history(cur_name, upd_name)
        return self.requeue

    async def _reconcile(self, slots: list[Object | None], condemned: list[Object], monotonic: bool, st: Object,
                         cur_name: str, upd_name: str, strategy: Mapping[str, Any], partition: int) -> None:
        pods = [p for p in slots if p is not None]
        unhealthy = next((p for p in pods + condemned if "_new" not in p and (not running_and_ready(p) or u.deleting(p))), None)
        for pod in pods:
            if "_new" not in pod and u.pod_phase(pod) in ("Failed", "Succeeded") and not u.deleting(pod):
                await self._delete_pod(pod)
                if monotonic:
                    return
                continue
            if "_new" in pod:
                pod.pop("_new")
                ordinal = parent_and_ordinal(pod)[1]
                await self._create_pod(pod, ordinal)
                st["replicas"] += 1
                rev = u.labels_of(pod).get(u.CONTROLLER_REVISION_HASH)
                if rev == cur_name:
                    st["currentReplicas"] += 1
                if rev == upd_name:
                    st["updatedReplicas"] += 1
                if monotonic:
                    return
                continue
            if u.deleting(pod) and monotonic:
                return
            if not running_and_ready(pod) and monotonic:
                return
            if not self._available(pod) and monotonic:
                self.requeue = float(max(u.int_value(self.spec.get("minReadySeconds")), 1))
                return
        for pod in reversed(condemned):
            if u.deleting(pod):
                if monotonic:
                    return
                continue
            if monotonic and not running_and_ready(pod) and pod is not unhealthy:
                return
            await self._delete_pod(pod, scaled_down=True)
            if monotonic:
                return
        if strategy.get("type") == "OnDelete":
            return
        for pod in reversed(pods[partition:] if partition < len(pods) else []):
            if u.labels_of(pod).get(u.CONTROLLER_REVISION_HASH) != upd_name and not u.deleting(pod):
                await self._delete_pod(pod)
                return
            if not running_and_ready(pod) or u.deleting(pod):
                return

    async def _write_status(self, st: Object, cur_name: str, upd_name: str, collision: int,
                            strategy: Mapping[str, Any]) -> None:
        st["currentRevision"] = cur_name
        st["updateRevision"] = upd_name
        st["collisionCount"] = collision
        st["observedGeneration"] = u.meta(self.set).get("generation", 0)
        if strategy.get("type", "RollingUpdate") == "RollingUpdate" and st["updatedReplicas"] == st["replicas"] \
                and st["readyReplicas"] == st["replicas"]:
            st["currentReplicas"] = st["updatedReplicas"]
            st["currentRevision"] = upd_name
        old = dict(u.status(self.set))
        new = {**{k: v for k, v in old.items() if k == "conditions"}, **st}
        if {k: v for k, v in new.items() if v not in (0, None)} == {k: v for k, v in old.items() if v not in (0, None)}:
            return
        try:
            await u.update_status(self.c.client, STATEFULSETS, self.set, new)
        except NotFound:
            pass

    async def _truncate_history(self, cur_name: str, upd_name: str) -> None:
        live = {cur_name, upd_name} | {u.labels_of(p).get(u.CONTROLLER_REVISION_HASH, "") for p in self.pods}
        old = [r for r in self.revisions if u.name_of(r) not in live]
        limit = u.int_value(self.spec.get("revisionHistoryLimit"), 10)
        for r in old[:max(len(old) - limit, 0)]:
            try:
                await self.c.client.delete(h.CONTROLLERREVISIONS, u.name_of(r), namespace=self.ns)
            except NotFound:
                pass


def new_statefulset_controller(ctx: ControllerContext) -> StatefulSetController:
    return StatefulSetController(ctx, workers=ctx.options.concurrent_syncs.get("statefulset", 5))
