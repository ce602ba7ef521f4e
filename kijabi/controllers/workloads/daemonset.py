"""The DaemonSet controller (upstream pkg/controller/daemon).

One pod per eligible node (nodeSelector, required node affinity, taints against the pod's tolerations
plus the DaemonSet tolerations every daemon pod gets). Pods are not bound here: each is pinned to its
node with required node affinity `metadata.name In [node]` and the scheduler binds it. The template is
versioned as ControllerRevisions <ds>-<hash>; pods carry controller-revision-hash=<hash>.
RollingUpdate replaces old pods within maxUnavailable (or, with maxSurge, starts the new pod first);
OnDelete only creates missing pods. Status: desired/current/ready/available/updated/misscheduled/
unavailable counts and observedGeneration.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.controller import Controller
from kijabi.client.errors import AlreadyExists, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import DAEMONSETS, NODES, PODS
from kijabi.controllers.context import ControllerContext
from kijabi.controllers.workloads import _history as h
from kijabi.controllers.workloads import _nodes as n
from kijabi.controllers.workloads import _util as u
from kijabi.controllers.workloads._expectations import Expectations

log = logging.getLogger(__name__)

Object = dict[str, Any]
TEMPLATE_GENERATION = "pod-template-generation"
FAILED_BACKOFF = 1.0


class DaemonSetController(Controller):
    def __init__(self, ctx: ControllerContext, *, workers: int = 2) -> None:
        super().__init__("daemonset", workers=workers, clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("daemonset-controller")
        self.pod_control = u.PodControl(ctx.client, self.recorder)
        self.expectations = Expectations(ctx.clock)
        self.ds_informer = ctx.informers.informer(DAEMONSETS)
        self.pod_informer = ctx.informers.informer(PODS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.node_informer = ctx.informers.informer(NODES)
        self.rev_informer = ctx.informers.informer(h.CONTROLLERREVISIONS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.ds_lister = self.ds_informer.lister()
        self.pod_lister = self.pod_informer.lister()
        self.node_lister = self.node_informer.lister()
        self.rev_lister = self.rev_informer.lister()
        self.ds_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda o, n_: self.enqueue(n_),
                                                             delete=self._delete_ds))
        self.pod_informer.add_event_handler(EventHandlerFuncs(add=self._add_pod, update=self._update_pod,
                                                              delete=self._delete_pod))
        self.node_informer.add_event_handler(EventHandlerFuncs(add=self._node_event, update=self._update_node,
                                                               delete=self._node_event))
        self.watches(self.ds_informer, self.pod_informer, self.node_informer, self.rev_informer)

    # -- handlers ----------------------------------------------------------------------------------

    def _delete_ds(self, obj: Object | DeletedFinalStateUnknown) -> None:
        key = u.key_of(u.unwrap(obj))
        self.expectations.delete(key)
        self.queue.add(key)

    def _resolve(self, pod: Object) -> Object | None:
        return u.resolve_controller_ref(u.controller_ref(pod), "DaemonSet",
                                        lambda name: self.ds_lister.get(name, u.namespace_of(pod)))

    def _add_pod(self, pod: Object) -> None:
        ds = self._resolve(pod)
        if ds is None:
            if u.controller_ref(pod) is None:
                for d in self.ds_lister.list(u.namespace_of(pod)):
                    if u.selector_of(d).matches(u.meta(pod).get("labels")):
                        self.enqueue(d)
            return
        key = u.key_of(ds)
        if u.deleting(pod):
            self.expectations.deletion_observed(key, u.key_of(pod))
        else:
            self.expectations.creation_observed(key)
        self.queue.add(key)

    def _update_pod(self, old: Object, new: Object) -> None:
        if u.meta(old).get("resourceVersion") == u.meta(new).get("resourceVersion"):
            return
        ds = self._resolve(new)
        if ds is None:
            if u.controller_ref(new) is None:
                self._add_pod(new)
            return
        if u.deleting(new) and not u.deleting(old):
            self.expectations.deletion_observed(u.key_of(ds), u.key_of(new))
        self.enqueue(ds)
        min_ready = u.int_value(u.spec(ds).get("minReadySeconds"))
        if min_ready > 0 and not u.pod_ready(old) and u.pod_ready(new):
            self.enqueue_after(ds, min_ready + 1)

    def _delete_pod(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = u.unwrap(obj)
        ds = self._resolve(pod)
        if ds is None:
            return
        self.expectations.deletion_observed(u.key_of(ds), u.key_of(pod))
        self.enqueue(ds)

    def _node_event(self, obj: Object | DeletedFinalStateUnknown) -> None:
        for ds in self.ds_lister.list():
            self.enqueue(ds)

    def _update_node(self, old: Object, new: Object) -> None:
        if u.labels_of(old) == u.labels_of(new) and u.spec(old).get("taints") == u.spec(new).get("taints") \
                and u.spec(old).get("unschedulable") == u.spec(new).get("unschedulable"):
            return
        self._node_event(new)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> float | None:
        cached = self.ds_lister.get_by_key(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        ds = u.copy(cached)
        sel = u.spec(ds).get("selector") or {}
        if not sel.get("matchLabels") and not sel.get("matchExpressions"):
            self.recorder.event(ds, "Warning", "SelectingAll",
                                "This daemon set is selecting all pods. A non-empty selector is required.")
            return None
        if u.deleting(ds):
            return None
        nodes = self.node_lister.list()
        cur, old = await self._construct_history(ds)
        hash_ = u.labels_of(cur).get(u.CONTROLLER_REVISION_HASH, "")
        node_pods = await self._node_to_pods(ds)
        requeue: float | None = None
        if self.expectations.satisfied(key):
            requeue = await self._manage(ds, key, nodes, node_pods, hash_)
            if self.expectations.satisfied(key) and \
                    (u.spec(ds).get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate":
                node_pods = await self._node_to_pods(ds)
                await self._rolling_update(ds, key, nodes, node_pods, hash_)
            await self._cleanup_history(ds, old, node_pods)
        status_requeue = await self._update_status(ds, nodes, await self._node_to_pods(ds), hash_)
        delays = [d for d in (requeue, status_requeue) if d is not None]
        return min(delays) if delays else None

    async def _node_to_pods(self, ds: Object) -> dict[str, list[Object]]:
        owned = self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(ds))
        orphans = [p for p in self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, f"orphan/{u.namespace_of(ds)}")
                   if u.pod_active(p)]
        manager = u.RefManager(self.client, ds, u.selector_of(ds), api_version="apps/v1", kind="DaemonSet",
                               can_adopt=u.recheck_owner(self.client, DAEMONSETS, ds))
        out: dict[str, list[Object]] = {}
        for pod in await manager.claim(PODS, owned + orphans):
            node = n.target_node(pod)
            if node:
                out.setdefault(node, []).append(pod)
        return out

    async def _construct_history(self, ds: Object) -> tuple[Object, list[Object]]:
        revisions = self.rev_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(ds))
        patch = h.raw(h.patch_of(ds))
        current = [r for r in revisions if h.raw(r.get("data")) == patch]
        old = [r for r in revisions if h.raw(r.get("data")) != patch]
        next_rev = max((h.number(r) for r in old), default=0) + 1
        if not current:
            collision = u.status(ds).get("collisionCount")
            hash_ = u.compute_hash(u.spec(ds).get("template") or {}, collision if isinstance(collision, int) else None)
            rev = h.new_revision(ds, api_version="apps/v1", kind="DaemonSet", revision=next_rev,
                                 name=f"{u.name_of(ds)}-{hash_}", extra_labels={u.CONTROLLER_REVISION_HASH: hash_})
            if u.meta(ds).get("annotations"):
                rev["metadata"]["annotations"] = dict(u.meta(ds)["annotations"])
            try:
                return await self.client.create(h.CONTROLLERREVISIONS, rev, namespace=u.namespace_of(ds)), old
            except AlreadyExists:
                existing = await self.client.get(h.CONTROLLERREVISIONS, rev["metadata"]["name"], namespace=u.namespace_of(ds))
                if h.raw(existing.get("data")) == patch:
                    return existing, old
                st = dict(u.status(ds))
                st["collisionCount"] = (collision if isinstance(collision, int) else 0) + 1
                await u.update_status(self.client, DAEMONSETS, ds, st)
                raise
        current = h.sort_revisions(current)
        cur = current[-1]
        for dup in current[:-1]:
            try:
                await self.client.delete(h.CONTROLLERREVISIONS, u.name_of(dup), namespace=u.namespace_of(ds))
            except NotFound:
                pass
        if h.number(cur) < next_rev:
            bumped = u.copy(cur)
            bumped["revision"] = next_rev
            cur = await self.client.update(h.CONTROLLERREVISIONS, bumped)
        return cur, old

    async def _cleanup_history(self, ds: Object, old: list[Object], node_pods: dict[str, list[Object]]) -> None:
        limit = u.int_value(u.spec(ds).get("revisionHistoryLimit"), 10)
        if len(old) <= limit:
            return
        live = {u.labels_of(p).get(u.CONTROLLER_REVISION_HASH) for pods in node_pods.values() for p in pods}
        candidates = [r for r in h.sort_revisions(old) if u.labels_of(r).get(u.CONTROLLER_REVISION_HASH) not in live]
        for r in candidates[:len(old) - limit]:
            try:
                await self.client.delete(h.CONTROLLERREVISIONS, u.name_of(r), namespace=u.namespace_of(ds))
            except NotFound:
                pass

    def _allows_surge(self, ds: Object) -> bool:
        strategy = u.spec(ds).get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return False
        surge = (strategy.get("rollingUpdate") or {}).get("maxSurge")
        return surge not in (None, 0, "0", "0%")

    async def _manage(self, ds: Object, key: str, nodes: list[Object], node_pods: dict[str, list[Object]],
                      hash_: str) -> float | None:
        to_create: list[str] = []
        to_delete: list[Object] = []
        requeue: float | None = None
        node_names = {u.name_of(nd) for nd in nodes}
        for node in nodes:
            run, keep = n.should_run(ds, node)
            pods = node_pods.get(u.name_of(node), [])
            if run and not pods:
                to_create.append(u.name_of(node))
            elif keep:
                running: list[Object] = []
                for pod in pods:
                    if u.deleting(pod):
                        continue
                    if u.pod_phase(pod) == "Failed":
                        self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                            f"Found failed daemon pod {u.namespace_of(pod)}/{u.name_of(pod)} on node "
                                            f"{u.name_of(node)}, will try to kill it")
                        to_delete.append(pod)
                        requeue = FAILED_BACKOFF
                    elif u.pod_phase(pod) == "Succeeded":
                        to_delete.append(pod)
                    else:
                        running.append(pod)
                if not self._allows_surge(ds) and len(running) > 1:
                    running.sort(key=lambda p: (u.created(p), u.name_of(p)))
                    to_delete.extend(running[1:])
            elif pods:
                to_delete.extend(p for p in pods if not u.deleting(p))
        for name, pods in node_pods.items():
            if name not in node_names:
                to_delete.extend(p for p in pods if not u.spec(p).get("nodeName") and not u.deleting(p))
        await self._sync_nodes(ds, key, to_delete, to_create, hash_)
        return requeue

    async def _sync_nodes(self, ds: Object, key: str, to_delete: list[Object], to_create: list[str], hash_: str) -> None:
        to_create = to_create[:u.BURST_REPLICAS]
        to_delete = to_delete[:u.BURST_REPLICAS]
        if not to_create and not to_delete:
            return
        self.expectations.expect(key, len(to_create), [u.key_of(p) for p in to_delete])
        template = u.copy(u.spec(ds).get("template") or {})
        tmeta = template.setdefault("metadata", {})
        tlabels = tmeta.setdefault("labels", {})
        tlabels[u.CONTROLLER_REVISION_HASH] = hash_
        tlabels[TEMPLATE_GENERATION] = str(u.meta(ds).get("generation", 1))
        n.add_daemon_tolerations(template.setdefault("spec", {}))
        ref = u.new_controller_ref(ds, "apps/v1", "DaemonSet")
        queue = list(to_create)

        async def create_one() -> None:
            node = queue.pop(0)
            pod_template = u.copy(template)
            n.pin_to_node(pod_template["spec"], node)
            try:
                await self.pod_control.create(ds, u.pod_from_template(pod_template, ds, ref))
            except BaseException:
                self.expectations.creation_observed(key)
                raise

        errors: list[BaseException] = []
        if to_create:
            _, error = await u.slow_start_batch(len(to_create), u.SLOW_START_INITIAL_BATCH, create_one)
            for _ in range(len(queue)):
                self.expectations.creation_observed(key)
            if error is not None:
                errors.append(error)

        async def delete_one(pod: Object) -> None:
            try:
                await self.pod_control.delete(ds, u.namespace_of(pod), u.name_of(pod), u.uid_of(pod))
            except NotFound:
                self.expectations.deletion_observed(key, u.key_of(pod))
            except BaseException as exc:
                self.expectations.deletion_observed(key, u.key_of(pod))
                errors.append(exc)

        await asyncio.gather(*(delete_one(p) for p in to_delete))
        if errors:
            raise errors[0]

    def _updated(self, ds: Object, pod: Object, hash_: str) -> bool:
        return u.labels_of(pod).get(u.CONTROLLER_REVISION_HASH) == hash_

    def _split(self, ds: Object, pods: list[Object], hash_: str) -> tuple[Object | None, Object | None, bool]:
        new: Object | None = None
        old: Object | None = None
        for pod in pods:
            if u.deleting(pod):
                continue
            if self._updated(ds, pod, hash_):
                if new is not None:
                    return None, None, False
                new = pod
            else:
                if old is not None:
                    return None, None, False
                old = pod
        return new, old, True

    async def _rolling_update(self, ds: Object, key: str, nodes: list[Object], node_pods: dict[str, list[Object]],
                              hash_: str) -> None:
        desired = sum(1 for nd in nodes if n.should_run(ds, nd)[0])
        ru = (u.spec(ds).get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_surge = u.scaled_value(ru.get("maxSurge", 0), desired, True) if self._allows_surge(ds) else 0
        max_unavailable = u.scaled_value(ru.get("maxUnavailable", 1), desired, True)
        if max_surge == 0 and max_unavailable == 0:
            max_unavailable = 1
        min_ready = u.int_value(u.spec(ds).get("minReadySeconds"))
        now = self.clock.time()
        if max_surge == 0:
            unavailable = 0
            replace: list[Object] = []
            candidates: list[Object] = []
            for _, pods in sorted(node_pods.items()):
                new, old, ok = self._split(ds, pods, hash_)
                if not ok or (new is None) == (old is None):
                    unavailable += 1
                elif new is not None:
                    if not u.pod_available(new, min_ready, now):
                        unavailable += 1
                elif old is not None:
                    if not u.pod_available(old, min_ready, now):
                        replace.append(old)
                    elif unavailable < max_unavailable:
                        candidates.append(old)
            room = min(max(max_unavailable - unavailable, 0), len(candidates))
            await self._sync_nodes(ds, key, replace + candidates[:room], [], hash_)
            return
        surge = 0
        to_delete: list[Object] = []
        to_create: list[str] = []
        should = {u.name_of(nd): n.should_run(ds, nd)[0] for nd in nodes}
        for node, pods in sorted(node_pods.items()):
            new, old, ok = self._split(ds, pods, hash_)
            if not ok or old is None:
                continue
            if new is None:
                if not should.get(node, False):
                    continue
                if not u.pod_available(old, min_ready, now) or surge < max_surge:
                    surge += u.pod_available(old, min_ready, now)
                    to_create.append(node)
            elif u.pod_available(new, min_ready, now):
                to_delete.append(old)
            else:
                surge += 1
        await self._sync_nodes(ds, key, to_delete, to_create, hash_)

    async def _update_status(self, ds: Object, nodes: list[Object], node_pods: dict[str, list[Object]],
                             hash_: str) -> float | None:
        desired = current = misscheduled = ready = available = updated = 0
        min_ready = u.int_value(u.spec(ds).get("minReadySeconds"))
        now = self.clock.time()
        for node in nodes:
            run, _ = n.should_run(ds, node)
            pods = node_pods.get(u.name_of(node), [])
            if run:
                desired += 1
                if not pods:
                    continue
                current += 1
                pod = sorted(pods, key=lambda p: (u.created(p), u.name_of(p)))[0]
                if u.pod_ready(pod):
                    ready += 1
                    if u.pod_available(pod, min_ready, now):
                        available += 1
                if self._updated(ds, pod, hash_):
                    updated += 1
            elif pods:
                misscheduled += 1
        st: Object = {**{k: v for k, v in u.status(ds).items() if k in ("conditions", "collisionCount")},
                      "currentNumberScheduled": current, "numberMisscheduled": misscheduled,
                      "desiredNumberScheduled": desired, "numberReady": ready,
                      "observedGeneration": u.meta(ds).get("generation", 0), "updatedNumberScheduled": updated,
                      "numberAvailable": available, "numberUnavailable": desired - available}
        old = {k: v for k, v in u.status(ds).items() if v not in (0, None)}
        if {k: v for k, v in st.items() if v not in (0, None)} != old:
            try:
                await u.update_status(self.client, DAEMONSETS, ds, st)
            except NotFound:
                return None
        if min_ready > 0 and ready != available:
            return float(min_ready)
        return None


def new_daemonset_controller(ctx: ControllerContext) -> DaemonSetController:
    return DaemonSetController(ctx, workers=ctx.options.concurrent_syncs.get("daemonset", 2))
