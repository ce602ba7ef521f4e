"""The disruption controller: the status of PodDisruptionBudgets (policy/v1), which the eviction
subresource reads (upstream pkg/controller/disruption).

For a PDB, from the pods of its namespace that its selector matches (a missing selector matches nothing,
an empty one everything):
- expectedPods and desiredHealthy: with maxUnavailable or a percentage minAvailable, expectedPods is the
  sum of the scales of the pods' controllers (ReplicationController, the Deployment of a ReplicaSet, a
  ReplicaSet, a StatefulSet, else the scale subresource of whatever controls the pod) and percentages
  round up; with an integer minAvailable, expectedPods is the number of pods;
- currentHealthy: Ready pods that are not being deleted and not in disruptedPods;
- disruptedPods: pods the eviction subresource just allowed to go, dropped once deleted or after
  `disruption_deletion_timeout` (2 min) with a NotDeleted event;
- disruptionsAllowed = currentHealthy - desiredHealthy (never below 0; 0 while expectedPods is 0);
- condition DisruptionAllowed: True/SufficientPods or False/InsufficientPods; when the status cannot be
  computed it is False/SyncFailed with the error (and disruptionsAllowed 0, failing safe).
Pods whose DisruptionTarget condition was set but that were never deleted get it reset to False after
`stale_pod_disruption_timeout` (2 min).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.errors import ClientError, Conflict, NoMatchError, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import DEPLOYMENTS, GVR, PODS, REPLICASETS, STATEFULSETS, Client
from kijabi.controllers.cluster._base import (
    ClusterController,
    Object,
    being_deleted,
    controller_of,
    get_condition,
    is_pod_ready,
    is_pod_terminal,
    labels_of,
    namespace_of,
    now_text,
    set_condition,
    settings,
    timestamp,
    uid_of,
    workers,
)
from kijabi.controllers.context import ControllerContext
from kijabi.machinery import labels
from kijabi.machinery.meta import rfc3339

log = logging.getLogger(__name__)

PDBS = GVR("policy", "v1", "poddisruptionbudgets")
REPLICATIONCONTROLLERS = GVR("", "v1", "replicationcontrollers")


class IntOrPercentError(ValueError):
    pass


def scaled_value(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if isinstance(value, bool):
        raise IntOrPercentError("invalid value for IntOrString: invalid type: bool")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        if not value.endswith("%"):
            raise IntOrPercentError("invalid value for IntOrString: invalid type: string is not a percentage")
        try:
            pct = int(value[:-1])
        except ValueError:
            raise IntOrPercentError(f'invalid value "{value}": strconv.Atoi: parsing "{value[:-1]}": invalid syntax') from None
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    raise IntOrPercentError("invalid value for IntOrString: invalid type: neither int nor percentage")


def pdb_selector(pdb: Mapping[str, Any]) -> labels.Selector | None:
    """None selects nothing (a PDB without selector); an empty selector selects every pod."""
    sel = (pdb.get("spec") or {}).get("selector")
    if sel is None:
        return None
    return labels.from_label_selector(sel)


def count_healthy(pods: Sequence[Mapping[str, Any]], disrupted: Mapping[str, str], now: float, timeout: float) -> int:
    healthy = 0
    for pod in pods:
        if being_deleted(pod):
            continue
        when = timestamp(disrupted.get(pod["metadata"]["name"]))
        if when is not None and when + timeout > now:
            continue
        if is_pod_ready(pod):
            healthy += 1
    return healthy


def _split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


class ControllerLookup:
    """Finds the scale of the controller of a pod (upstream's podControllerFinder chain)."""

    def __init__(self, client: Client, listers: Mapping[str, Any]) -> None:
        self.client = client
        self.listers = listers

    async def scale_of(self, ref: Mapping[str, Any], namespace: str) -> tuple[str, int] | None:
        """(controller uid, replicas) or None when no finder knows the controller."""
        for finder in (self._rc, self._deployment, self._replicaset, self._statefulset, self._scale):
            found = await finder(ref, namespace)
            if found is not None:
                return found
        return None

    @staticmethod
    def _kind(ref: Mapping[str, Any], kind: str, groups: tuple[str, ...]) -> bool:
        group, _ = _split_api_version(str(ref.get("apiVersion", "")))
        return ref.get("kind") == kind and group in groups

    def _owner(self, ref: Mapping[str, Any], ns: str, kind: str, groups: tuple[str, ...],
               resource: str) -> dict[str, Any] | None:
        """The object `ref` names, if it is a `kind` of one of `groups` and still has the uid `ref` says."""
        if not self._kind(ref, kind, groups):
            return None
        obj = self.listers[resource].get(ref.get("name", ""), ns)
        return obj if obj is not None and uid_of(obj) == ref.get("uid") else None

    @staticmethod
    def _scale_of(obj: Mapping[str, Any]) -> tuple[str, int]:
        return uid_of(obj), int((obj.get("spec") or {}).get("replicas", 1))

    async def _rc(self, ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
        rc = self._owner(ref, ns, "ReplicationController", ("",), "replicationcontrollers")
        return self._scale_of(rc) if rc is not None else None

    async def _deployment(self, ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
        rs = self._owner(ref, ns, "ReplicaSet", ("apps", "extensions"), "replicasets")
        owner = controller_of(rs) if rs is not None else None
        d = self._owner(owner, ns, "Deployment", ("apps", "extensions"), "deployments") if owner is not None else None
        return self._scale_of(d) if d is not None else None

    async def _replicaset(self, ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
        rs = self._owner(ref, ns, "ReplicaSet", ("apps", "extensions"), "replicasets")
        if rs is None:
            return None
        owner = controller_of(rs)
        if owner is not None and owner.get("kind") == "Deployment":
            return None
        return self._scale_of(rs)

    async def _statefulset(self, ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
        ss = self._owner(ref, ns, "StatefulSet", ("apps",), "statefulsets")
        return self._scale_of(ss) if ss is not None else None

    async def _scale(self, ref: Mapping[str, Any], ns: str) -> tuple[str, int] | None:
        resource = await self.client.resource_for(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        try:
            scale = await self.client.get_scale(resource.gvr, str(ref.get("name", "")), namespace=ns)
        except NotFound:
            if "scale" not in resource.subresources:
                gr = f"{resource.resource}.{resource.group}" if resource.group else resource.resource
                raise ClientError(f"{gr} does not implement the scale subresource") from None
            return None
        if uid_of(scale) != ref.get("uid"):
            return None
        return uid_of(scale), int((scale.get("spec") or {}).get("replicas") or 0)


class DisruptionController(ClusterController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("disruption", workers=workers(ctx, "disruption", 1), clock=ctx.clock)
        s = settings(ctx)
        self.client = ctx.client
        self.deletion_timeout = s.disruption_deletion_timeout
        self.recorder = ctx.recorder("controllermanager")
        f = ctx.informers
        pod_informer = f.informer(PODS)
        pdb_informer = f.informer(PDBS)
        infs = {"replicationcontrollers": f.informer(REPLICATIONCONTROLLERS), "replicasets": f.informer(REPLICASETS),
                "deployments": f.informer(DEPLOYMENTS), "statefulsets": f.informer(STATEFULSETS)}
        self.pods = pod_informer.lister()
        self.pdbs = pdb_informer.lister()
        self.lookup = ControllerLookup(ctx.client, {k: v.lister() for k, v in infs.items()})
        self.stale = StalePodDisruptionCleaner(ctx, s.stale_pod_disruption_timeout, pod_informer)
        pdb_informer.add_event_handler(self.handler())
        pod_informer.add_event_handler(EventHandlerFuncs(add=self._pod_changed, update=lambda o, n: self._pod_changed(n),
                                                         delete=self._pod_changed))
        self.watches(pod_informer, pdb_informer, *infs.values())

    def _pod_changed(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        pdbs = self.pdbs_for(pod)
        if not pdbs:
            return
        if len(pdbs) > 1 and not isinstance(obj, DeletedFinalStateUnknown):
            msg = (f'Pod "{namespace_of(pod)}"/"{pod["metadata"]["name"]}" matches multiple PodDisruptionBudgets.  '
                   f'Chose "{pdbs[0]["metadata"]["name"]}" arbitrarily.')
            self.recorder.event(pod, "Warning", "MultiplePodDisruptionBudgets", msg)
        self.enqueue(pdbs[0])

    def pdbs_for(self, pod: Mapping[str, Any]) -> list[Object]:
        out = []
        for pdb in self.pdbs.list(namespace_of(pod)):
            sel = pdb_selector(pdb)
            if sel is not None and sel.matches(labels_of(pod)):
                out.append(pdb)
        return sorted(out, key=lambda p: p["metadata"]["name"])

    async def run(self, informers: Any = ()) -> None:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.stale.run(), name="disruption: stale pod disruption conditions")
            tg.create_task(super().run(informers), name="disruption: budgets")

    async def sync(self, key: str) -> float | None:
        ns, name = key.split("/", 1)
        pdb = self.pdbs.get(name, ns)
        if pdb is None:
            return None
        try:
            return await self.try_sync(pdb)
        except Conflict:
            raise
        except (ClientError, IntOrPercentError, NoMatchError) as exc:
            log.info("disruption: failed to sync PDB %s: %s", key, exc)
            await self.fail_safe(pdb, exc)
            raise

    async def try_sync(self, pdb: Object) -> float | None:
        ns = namespace_of(pdb)
        sel = pdb_selector(pdb)
        pods = [p for p in self.pods.list(ns) if sel is not None and sel.matches(labels_of(p))]
        if not pods:
            self.recorder.event(pdb, "Normal", "NoPods", "No matching pods found")
        try:
            expected, desired, unmanaged = await self.expected_pod_count(pdb, pods)
        except (ClientError, IntOrPercentError, NoMatchError) as exc:
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {_err(exc)}")
            raise
        if unmanaged:
            self.recorder.event(pdb, "Warning", "UnmanagedPods", (
                f"Pods selected by this PodDisruptionBudget (selector: {_selector_text(pdb)}) were found to be unmanaged. "
                "As a result, the status of the PDB cannot be calculated correctly, which may result in undefined "
                'behavior. To account for these pods please set ".spec.minAvailable" field of the PDB to an integer value.'))
        now = self.clock.time()
        disrupted, recheck = self.build_disrupted_pod_map(pods, pdb, now)
        healthy = count_healthy(pods, disrupted, now, self.deletion_timeout)
        await self.update_status(pdb, healthy, desired, expected, disrupted)
        return None if recheck is None else max(recheck - now, 0.0)

    async def expected_pod_count(self, pdb: Object, pods: list[Object]) -> tuple[int, int, list[str]]:
        spec = pdb.get("spec") or {}
        expected, desired = 0, 0
        unmanaged: list[str] = []
        if spec.get("maxUnavailable") is not None:
            expected, unmanaged = await self.expected_scale(pods)
            desired = max(expected - scaled_value(spec["maxUnavailable"], expected, True), 0)
        elif spec.get("minAvailable") is not None:
            min_available = spec["minAvailable"]
            if isinstance(min_available, int) and not isinstance(min_available, bool):
                desired = min_available
                expected = len(pods)
            else:
                expected, unmanaged = await self.expected_scale(pods)
                desired = scaled_value(min_available, expected, True)
        return expected, desired, unmanaged

    async def expected_scale(self, pods: list[Object]) -> tuple[int, list[str]]:
        scales: dict[str, int] = {}
        unmanaged: list[str] = []
        for pod in pods:
            ref = controller_of(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            if ref.get("uid") in scales:
                continue
            found = await self.lookup.scale_of(ref, namespace_of(pod))
            if found is None:
                raise ClientError(f'found no controllers for pod "{pod["metadata"]["name"]}"')
            scales[found[0]] = found[1]
        return sum(scales.values()), unmanaged

    def build_disrupted_pod_map(self, pods: list[Object], pdb: Object, now: float) -> tuple[dict[str, str], float | None]:
        disrupted = (pdb.get("status") or {}).get("disruptedPods") or {}
        result: dict[str, str] = {}
        recheck: float | None = None
        if not disrupted:
            return result, None
        for pod in pods:
            if being_deleted(pod):
                continue
            name = pod["metadata"]["name"]
            when = disrupted.get(name)
            t = timestamp(when)
            if t is None:
                continue
            expected_deletion = t + self.deletion_timeout
            if expected_deletion < now:
                self.recorder.event(pod, "Warning", "NotDeleted",
                                    f"Pod was expected by PDB {namespace_of(pdb)}/{namespace_of(pdb)} to be deleted but it wasn't")
            else:
                if recheck is None or expected_deletion < recheck:
                    recheck = expected_deletion
                result[name] = str(when)
        return result, recheck

    async def update_status(self, pdb: Object, healthy: int, desired: int, expected: int, disrupted: dict[str, str]) -> None:
        allowed = healthy - desired
        if expected <= 0 or allowed <= 0:
            allowed = 0
        status = pdb.get("status") or {}
        generation = int((pdb.get("metadata") or {}).get("generation") or 0)
        if (status.get("currentHealthy") == healthy and status.get("desiredHealthy") == desired
                and status.get("expectedPods") == expected and status.get("disruptionsAllowed") == allowed
                and (status.get("disruptedPods") or {}) == disrupted and status.get("observedGeneration") == generation
                and _conditions_up_to_date(pdb)):
            return
        fresh = copy_object(pdb)
        new_status: dict[str, Any] = {"currentHealthy": healthy, "desiredHealthy": desired, "expectedPods": expected,
                                      "disruptionsAllowed": allowed, "observedGeneration": generation,
                                      "conditions": [dict(c) for c in status.get("conditions") or []]}
        if disrupted:
            new_status["disruptedPods"] = disrupted
        reason, cstatus = ("SufficientPods", "True") if allowed > 0 else ("InsufficientPods", "False")
        set_condition(new_status["conditions"], {"type": "DisruptionAllowed", "status": cstatus, "reason": reason,
                                                 "message": "", "observedGeneration": generation}, now_text(self.clock))
        fresh["status"] = new_status
        await self.client.update_status(PDBS, fresh)

    async def fail_safe(self, pdb: Object, exc: BaseException) -> None:
        fresh = copy_object(pdb)
        status = fresh.setdefault("status", {})
        status["disruptionsAllowed"] = 0
        conditions = status.setdefault("conditions", [])
        set_condition(conditions, {"type": "DisruptionAllowed", "status": "False", "reason": "SyncFailed",
                                   "message": _err(exc), "observedGeneration": status.get("observedGeneration", 0)},
                      now_text(self.clock))
        try:
            await self.client.update_status(PDBS, fresh)
        except ClientError as err:
            log.info("disruption: fail-safe status update of %s/%s failed: %s", namespace_of(pdb),
                     pdb["metadata"]["name"], err)


def _conditions_up_to_date(pdb: Mapping[str, Any]) -> bool:
    status = pdb.get("status") or {}
    cond = get_condition(status.get("conditions"), "DisruptionAllowed")
    if cond is None:
        return False
    if status.get("observedGeneration") != (pdb.get("metadata") or {}).get("generation"):
        return False
    if (status.get("disruptionsAllowed") or 0) > 0:
        return cond.get("status") == "True" and cond.get("reason") == "SufficientPods"
    return cond.get("status") == "False" and cond.get("reason") == "InsufficientPods"


def _err(exc: BaseException) -> str:
    message = getattr(exc, "message", None)
    return str(message) if isinstance(message, str) else str(exc)


def _selector_text(pdb: Mapping[str, Any]) -> str:
    sel = (pdb.get("spec") or {}).get("selector") or {}
    parts = []
    if sel.get("matchLabels"):
        parts.append("MatchLabels:map[" + " ".join(f"{k}:{v}" for k, v in sorted(sel["matchLabels"].items())) + "]")
    if sel.get("matchExpressions"):
        parts.append(f"MatchExpressions:{sel['matchExpressions']}")
    return "&LabelSelector{" + ",".join(parts) + ",}"


class StalePodDisruptionCleaner(ClusterController):
    """Resets a pod's DisruptionTarget=True condition to False when the pod was not deleted within the
    timeout (upstream syncStalePodDisruption)."""

    def __init__(self, ctx: ControllerContext, timeout: float, pod_informer: Any) -> None:
        super().__init__("disruption-stale-pods", workers=workers(ctx, "disruption-stale-pods", 1), clock=ctx.clock)
        self.client = ctx.client
        self.timeout = timeout
        self.pods = pod_informer.lister()
        pod_informer.add_event_handler(EventHandlerFuncs(add=self._check, update=lambda o, n: self._check(n)))
        self.watches(pod_informer)

    def stale_after(self, pod: Mapping[str, Any]) -> float | None:
        """Seconds until the pod's DisruptionTarget condition is stale; None when it has no such condition."""
        if being_deleted(pod) or is_pod_terminal(pod):
            return None
        cond = get_condition((pod.get("status") or {}).get("conditions"), "DisruptionTarget")
        if cond is None or cond.get("status") != "True" or cond.get("reason") == "TerminationByKubelet":
            return None
        since = timestamp(cond.get("lastTransitionTime")) or self.clock.time()
        return max(self.timeout - (self.clock.time() - since), 0.0)

    def _check(self, pod: Object) -> None:
        wait = self.stale_after(pod)
        if wait is not None:
            self.enqueue_after(pod, wait)

    async def sync(self, key: str) -> float | None:
        ns, name = key.split("/", 1)
        pod = self.pods.get(name, ns)
        if pod is None:
            return None
        wait = self.stale_after(pod)
        if wait is None:
            return None
        if wait > 0:
            return wait
        fresh = copy_object(pod)
        conditions = fresh.setdefault("status", {}).setdefault("conditions", [])
        fresh["status"]["conditions"] = [
            {"type": "DisruptionTarget", "status": "False", "lastTransitionTime": rfc3339(self.clock.time())}
            if c.get("type") == "DisruptionTarget" else c for c in conditions]
        try:
            await self.client.update_status(PODS, fresh)
        except NotFound:
            pass
        return None


def new(ctx: ControllerContext) -> DisruptionController:
    return DisruptionController(ctx)
