"""DefaultPreemption: when no node fits, find lower-priority pods whose removal would let the pod in,
evict them, and nominate the node (upstream framework/preemption + plugins/defaultpreemption).

For every node that failed with a resolvable status (Unschedulable), a dry run removes all pods of
lower priority, checks the filters, then "reprieves" as many of them as possible, highest priority
first, pods whose eviction would violate a PodDisruptionBudget before the others. Among the nodes
that work, the one chosen has the fewest PDB violations, then the lowest highest-victim priority, the
smallest priority sum, the fewest victims, the latest start of its most important victims.

The victims are deleted by background tasks (a DisruptionTarget condition first, then DELETE, then a
"Preempted" event); the pod gets status.nominatedNodeName and waits in the queue for them to go.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.scheduler.framework.interface import (
    MODE_OVERRIDE,
    CycleState,
    Handle,
    NominatingInfo,
    PostFilterResult,
)
from kijabi.scheduler.framework.selectors import SelectorError, compile_label_selector
from kijabi.scheduler.framework.status import Code, Diagnosis, FitError, NodeToStatus, Status
from kijabi.scheduler.framework.types import (
    NodeInfo,
    Pod,
    PodInfo,
    Resource,
    pod_priority,
    pod_start_time,
    pod_uid,
)
from kijabi.scheduler.plugins.noderesources import prefilter_request, resources_cannot_fit

log = logging.getLogger(__name__)

NAME = "DefaultPreemption"
FIT = "NodeResourcesFit"
# Filters whose verdict depends on the node alone, not on the pods on it.
NODE_ONLY_FILTERS = frozenset({"NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity"})
MAX_INT32 = 2**31 - 1
MSG_NOT_HELPFUL = "Preemption is not helpful for scheduling"
MSG_NO_VICTIMS = "No preemption victims found for incoming pod"


# A dry-run outcome: NodeResourcesFit rejects the pod even with every lower-priority pod gone.
_HOPELESS: tuple[list[Pod], int, Status | None] = ([], 0, None)


def _versions(objects: Sequence[Mapping[str, Any]]) -> str:
    """uid@resourceVersion of each object: changes whenever one of them does."""
    return ",".join(f"{(o.get('metadata') or {}).get('uid')}@{(o.get('metadata') or {}).get('resourceVersion')}"
                    for o in objects)


class Candidate:
    __slots__ = ("name", "num_pdb_violations", "victims")

    def __init__(self, name: str, victims: list[Pod], num_pdb_violations: int) -> None:
        self.name = name
        self.victims = victims
        self.num_pdb_violations = num_pdb_violations


def _importance(pod: Mapping[str, Any], now: float) -> tuple[int, float]:
    """Sort key, most important first: higher priority, then earlier start (upstream MoreImportantPod)."""
    return -pod_priority(pod), pod_start_time(pod, now)


def _sort_important(pods: list[Any], key: Any, now: float) -> list[Any]:
    """`pods` (stable) sorted most important first; `key` gives each item's pod."""
    return sorted(pods, key=lambda x: _importance(key(x), now))


def _terminating_by_preemption(pod: Mapping[str, Any]) -> bool:
    if not (pod.get("metadata") or {}).get("deletionTimestamp"):
        return False
    return any(c.get("type") == "DisruptionTarget" and c.get("status") == "True"
               and c.get("reason") == "PreemptionByScheduler"
               for c in (pod.get("status") or {}).get("conditions") or [])


def pods_with_pdb_violation(victims: Sequence[PodInfo], pdbs: Sequence[Mapping[str, Any]]
                            ) -> tuple[list[PodInfo], list[PodInfo]]:
    """Split victims into those whose eviction would violate a PDB and the others (in order)."""
    allowed = [int((p.get("status") or {}).get("disruptionsAllowed") or 0) for p in pdbs]
    violating: list[PodInfo] = []
    ok: list[PodInfo] = []
    for pi in victims:
        violated = False
        if pi.labels:
            for i, pdb in enumerate(pdbs):
                meta = pdb.get("metadata") or {}
                if meta.get("namespace") != pi.namespace:
                    continue
                try:
                    selector = compile_label_selector((pdb.get("spec") or {}).get("selector"))
                except SelectorError:
                    continue
                if selector.nothing or selector.empty() or not selector.matches(pi.labels):
                    continue
                if pi.name in ((pdb.get("status") or {}).get("disruptedPods") or {}):
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else ok).append(pi)
    return violating, ok


class DefaultPreemption:
    name = NAME

    def __init__(self, args: Mapping[str, Any], handle: Handle) -> None:
        self.handle = handle
        self.min_candidate_nodes_percentage = int(args.get("minCandidateNodesPercentage", 10))
        self.min_candidate_nodes_absolute = int(args.get("minCandidateNodesAbsolute", 100))
        # preemptor uid -> victim uids whose deletion is still being sent
        self.in_flight: dict[str, set[str]] = {}

    # -- the extension point -----------------------------------------------------------------------

    def post_filter(self, state: CycleState, pod: Pod,
                    statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        result, status = self.preempt(state, pod, statuses)
        msg = status.message() if status is not None else ""
        if status is not None and msg:
            return result, Status(status.code, "preemption: " + msg)
        return result, status

    def preempt(self, state: CycleState, pod: Pod,
                statuses: NodeToStatus) -> tuple[PostFilterResult | None, Status | None]:
        meta = pod.get("metadata") or {}
        latest = self.handle.listers.pods.get(meta.get("name", ""), meta.get("namespace", ""))
        if latest is not None:
            pod = latest
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        eligible, msg = self.eligible(pod, statuses.get(nominated) if nominated else None)
        if not eligible:
            return None, Status(Code.UNSCHEDULABLE, msg)
        all_nodes = self.handle.snapshot.list()
        if not all_nodes:
            return None, Status(Code.ERROR, "no nodes available")
        candidates, node_statuses = self.find_candidates(state, pod, all_nodes, statuses)
        if not candidates:
            node_statuses.absent = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, MSG_NOT_HELPFUL)
            fit = FitError(pod, len(all_nodes), Diagnosis(node_to_status=node_statuses))
            return None, Status(Code.UNSCHEDULABLE, str(fit))
        best = self.select_candidate(candidates)
        self.prepare_candidate(best, pod)
        return PostFilterResult(NominatingInfo(best.name, MODE_OVERRIDE)), Status(Code.SUCCESS)

    def eligible(self, pod: Pod, nominated_status: Status | None) -> tuple[bool, str]:
        """Upstream PodEligibleToPreemptOthers."""
        if (pod.get("spec") or {}).get("preemptionPolicy") == "Never":
            return False, "not eligible due to preemptionPolicy=Never."
        if self.in_flight.get(pod_uid(pod)):
            return False, "not eligible due to a terminating pod on the nominated node."
        nominated = (pod.get("status") or {}).get("nominatedNodeName") or ""
        if nominated:
            if nominated_status is not None and nominated_status.code == Code.UNSCHEDULABLE_AND_UNRESOLVABLE:
                return True, ""
            ni = self.handle.snapshot.get(nominated)
            if ni is not None:
                prio = pod_priority(pod)
                for p in ni.pods:
                    if p.priority < prio and _terminating_by_preemption(p.pod):
                        return False, "not eligible due to a terminating pod on the nominated node."
        return True, ""

    # -- candidates --------------------------------------------------------------------------------

    def num_candidates(self, num_nodes: int) -> int:
        n = num_nodes * self.min_candidate_nodes_percentage // 100
        n = max(n, self.min_candidate_nodes_absolute)
        return min(n, num_nodes)

    def find_candidates(self, state: CycleState, pod: Pod, all_nodes: list[NodeInfo],
                        statuses: NodeToStatus) -> tuple[list[Candidate], NodeToStatus]:
        potential = statuses.nodes_for_code(all_nodes, Code.UNSCHEDULABLE)
        if not potential:
            if (pod.get("status") or {}).get("nominatedNodeName"):
                self._clear_nominated([pod])
            return [], NodeToStatus()
        pdbs = self.handle.listers.pod_disruption_budgets.list()
        offset = self.handle.rng.randrange(len(potential))
        want = self.num_candidates(len(potential))
        non_violating: list[Candidate] = []
        violating: list[Candidate] = []
        node_statuses = NodeToStatus()
        fit = next((f for f, name in state.filters or () if name == FIT), None)
        prio = pod_priority(pod)
        # Without AddPod/RemovePod extensions in this cycle, the dry run's state needs no copy and the
        # lower-priority pods can leave the node copy in one pass.
        plain = not self.handle.has_active_pre_filter_extensions(state)
        on_sums = self._dry_run_on_sums(state)
        uid = pod_uid(pod)
        nominated_to = self.handle.nominated_pods_for_node
        # A dry run on sums is remembered in the node's memo, with the node's nominated list, for pods
        # of this priority, filters and PDBs (not on a node this pod is itself nominated to).
        memo_key = None if on_sums is None or state.filters_key is None else \
            f"preemption:{prio}:{state.filters_key}:{_versions(pdbs)}"
        hopeless: list[NodeInfo] = []
        for i in range(len(potential)):
            node_info = potential[(offset + i) % len(potential)]
            listed = nominated_to(node_info.name)
            memo = node_info.memo
            known = memo.get(memo_key) if memo_key is not None and memo is not None else None
            found: tuple[list[Pod], int, Status | None] | None
            itself = any(pi.uid == uid for pi in listed)
            if known is not None and known[0] is listed and not itself:
                found = known[1]
                lower = []
            else:
                lower = [pi for pi in node_info.pods if pi.priority < prio]
                # The pods nominated to the node with at least the pod's priority (upstream addGENominatedPods).
                nominated = [pi for pi in listed if pi.priority >= prio and pi.uid != uid] if lower else []
                if fit is not None and lower and self._cannot_fit(state, pod, node_info, lower, nominated, fit):
                    found = _HOPELESS
                else:
                    found = self._select_victims_on_sums(state, pod, node_info, lower, nominated, pdbs, on_sums) \
                        if on_sums is not None and lower else None
                if memo_key is not None and found is not None and not itself:
                    node_info.memo_of()[memo_key] = (listed, found)
            if found is _HOPELESS:
                hopeless.append(node_info)
                continue
            if found is not None:
                victims, num_violations, status = found
            elif plain and lower:
                victims, num_violations, status = self.select_victims_on_node(state, pod, node_info.without(lower),
                                                                              pdbs, lower)
            else:
                victims, num_violations, status = self.select_victims_on_node(state.clone(), pod, node_info.clone(),
                                                                              pdbs)
            if (status is None or status.is_success()) and victims:
                c = Candidate(node_info.name, victims, num_violations)
                (non_violating if num_violations == 0 else violating).append(c)
                if non_violating and len(non_violating) + len(violating) >= want:
                    break
                continue
            if status is None or status.is_success():
                status = Status(Code.ERROR, f'expected at least one victim pod on node "{node_info.name}"')
            node_statuses.set(node_info.name, status)
        if not non_violating and not violating:
            # The statuses only matter when preemption fails: then say exactly why each skipped node failed.
            for node_info in hopeless:
                _, _, status = self.select_victims_on_node(state.clone(), pod, node_info.clone(), pdbs)
                if status is None or status.is_success():  # cannot happen: _cannot_fit is conservative
                    status = Status(Code.ERROR, f'expected at least one victim pod on node "{node_info.name}"')
                node_statuses.set(node_info.name, status)
        return non_violating + violating, node_statuses

    def _cannot_fit(self, state: CycleState, pod: Pod, node_info: NodeInfo, lower: list[PodInfo],
                    nominated: list[PodInfo], fit: Any) -> bool:
        """True when NodeResourcesFit rejects the pod on the node as its dry run first filters it: the
        node without its `lower`-priority pods, plus the `nominated` ones with at least the pod's
        priority. That dry run is then bound to fail (the filters fail with the nominated pods, or
        without them as these only add), so it is skipped; the node's status is worked out only if no
        node at all can be a candidate. Without extended resources in the request, Fit's checks are
        done on sums, without a copy of the node."""
        request = prefilter_request(state)
        if request is not None and not request.scalar:
            return resources_cannot_fit(request, node_info, lower, nominated)
        probe = node_info.without(lower)
        for pi in nominated:
            probe.add_pod_info(pi)
        st: Status | None = fit(state, pod, probe)
        return st is not None and not st.is_success()

    def _dry_run_on_sums(self, state: CycleState) -> Resource | None:
        """The pod's requests when a dry run can be done on sums: no PreFilter extension active, no
        extended resources requested, and only NodeResourcesFit among this attempt's filters looks at
        the node's pods (the others' verdicts do not change as pods leave or come back)."""
        request = prefilter_request(state)
        if request is None or request.scalar or state.filters is None \
                or self.handle.has_active_pre_filter_extensions(state):
            return None
        if not all(name == FIT or name in NODE_ONLY_FILTERS for _, name in state.filters):
            return None
        return request

    def _select_victims_on_sums(self, state: CycleState, pod: Pod, ni: NodeInfo, lower: list[PodInfo],
                                nominated: list[PodInfo], pdbs: Sequence[Mapping[str, Any]], request: Resource
                                ) -> tuple[list[Pod], int, Status | None] | None:
        """`select_victims_on_node` without copies of the node, for the attempts `_dry_run_on_sums`
        allows: the node-only filters run once on the node, NodeResourcesFit is worked out on sums as
        the lower-priority pods leave and come back (with the `nominated` pods, as the two-pass filter
        has them). None when some filter rejects the node even with every lower-priority pod gone: the
        plain dry run then gives the exact status."""
        h = self.handle
        if resources_cannot_fit(request, ni, lower, nominated):
            return None
        for flt, name in state.filters or ():
            if name != FIT:
                st = flt(state, pod, ni)
                if st is not None and not st.is_success():
                    return None
        now = h.clock.time()
        potential = sorted(lower, key=lambda pi: (-pi.priority, pod_start_time(pi.pod, now)))
        violating, non_violating = pods_with_pdb_violation(potential, pdbs)
        away = list(potential)  # the pods not (yet) back on the node
        victims: list[Pod] = []
        num_violations = 0
        for group, violates in ((violating, True), (non_violating, False)):
            for pi in group:
                away.remove(pi)
                if resources_cannot_fit(request, ni, away, nominated):
                    away.append(pi)
                    victims.append(pi.pod)
                    num_violations += violates
        if violating and non_violating:
            victims = _sort_important(victims, lambda p: p, now)
        return victims, num_violations, Status(Code.SUCCESS)

    def select_victims_on_node(self, state: CycleState, pod: Pod, ni: NodeInfo, pdbs: Sequence[Mapping[str, Any]],
                               removed: list[PodInfo] | None = None) -> tuple[list[Pod], int, Status | None]:
        """Upstream SelectVictimsOnNode on `ni`, a copy this call may change (and `state`, when some
        PreFilter extension is active). `removed`: the lower-priority pods, already taken off `ni`
        (only when no extension is active, so that none of them has to see the pods leave one by one)."""
        h = self.handle
        prio = pod_priority(pod)
        if removed is not None:
            potential = removed
        else:
            potential = [p for p in ni.pods if p.priority < prio]
            for pi in potential:
                ni.remove_pod(pi.pod)
                st = h.run_pre_filter_extension_remove_pod(state, pod, pi, ni)
                if st is not None and not st.is_success():
                    return [], 0, st
        if not potential:
            return [], 0, Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, MSG_NO_VICTIMS)
        # The node's nominated pods do not change during the dry run: without any, one filter pass
        # is what the two-pass filter would do; without active extensions, AddPod/RemovePod do nothing.
        run_filters = h.run_filter_plugins_with_nominated_pods if h.nominated_pods_for_node(ni.name) \
            else h.run_filter_plugins
        extensions = removed is None
        st = run_filters(state, pod, ni)
        if st is not None and not st.is_success():
            return [], 0, st
        now = h.clock.time()
        potential = sorted(potential, key=lambda pi: (-pi.priority, pod_start_time(pi.pod, now)))
        violating, non_violating = pods_with_pdb_violation(potential, pdbs)
        victims: list[Pod] = []
        num_violations = 0

        def reprieve(pi: PodInfo) -> bool:
            ni.add_pod_info(pi)
            if extensions:
                st = h.run_pre_filter_extension_add_pod(state, pod, pi, ni)
                if st is not None and not st.is_success():
                    raise _Abort(st)
            fits = run_filters(state, pod, ni)
            if fits is not None and not fits.is_success():
                ni.remove_pod(pi.pod)
                if extensions:
                    st = h.run_pre_filter_extension_remove_pod(state, pod, pi, ni)
                    if st is not None and not st.is_success():
                        raise _Abort(st)
                victims.append(pi.pod)
                return False
            return True

        try:
            for pi in violating:
                if not reprieve(pi):
                    num_violations += 1
            for pi in non_violating:
                reprieve(pi)
        except _Abort as abort:
            return [], 0, abort.status
        if violating and non_violating:
            victims = _sort_important(victims, lambda p: p, now)
        return victims, num_violations, Status(Code.SUCCESS)

    def select_candidate(self, candidates: list[Candidate]) -> Candidate:
        """Upstream pickOneNodeForPreemption over the candidates (first one wins remaining ties)."""
        if len(candidates) == 1:
            return candidates[0]
        now = self.handle.clock.time()

        def rank(c: Candidate) -> tuple[int, int, int, int, float]:
            """Fewest PDB violations, then the lowest highest-priority victim, the lowest sum of
            priorities, the fewest victims, the latest start among the highest-priority victims."""
            priorities = [pod_priority(p) for p in c.victims]
            top = priorities[0]
            earliest = min(pod_start_time(p, now) for p, prio in zip(c.victims, priorities, strict=True) if prio == top)
            return (-c.num_pdb_violations, -top, -sum(priorities) - len(priorities) * (MAX_INT32 + 1),
                    -len(priorities), earliest)

        return max(candidates, key=rank)  # the first of the best, as upstream's successive filters

    # -- acting ------------------------------------------------------------------------------------

    def prepare_candidate(self, c: Candidate, preemptor: Pod) -> None:
        """Reject waiting victims at once; delete the others in the background; drop the nominations
        of lower-priority pods on the chosen node."""
        h = self.handle
        to_delete = []
        for victim in c.victims:
            waiting = h.get_waiting_pod(pod_uid(victim))
            if waiting is not None:
                waiting.reject(NAME, "preempted")
            else:
                to_delete.append(victim)
        prio = pod_priority(preemptor)
        lower = [pi.pod for pi in h.nominated_pods_for_node(c.name) if pi.priority < prio
                 and pi.uid != pod_uid(preemptor)]
        if lower:
            self._clear_nominated(lower)
        if to_delete:
            uid = pod_uid(preemptor)
            self.in_flight[uid] = {pod_uid(v) for v in to_delete}
            h.spawn(self._delete_victims(preemptor, c.name, to_delete), f"preemption of {len(to_delete)} pod(s)")

    async def _delete_victims(self, preemptor: Pod, node: str, victims: list[Pod]) -> None:
        """Evict the victims concurrently, as upstream's preemption does in parallel: per victim, the
        DisruptionTarget condition, then DELETE, then a "Preempted" event."""
        import asyncio

        from kijabi.client.errors import NotFound
        from kijabi.client.rest import PODS

        h = self.handle
        scheduler_name = (preemptor.get("spec") or {}).get("schedulerName") or "default-scheduler"
        uid = pod_uid(preemptor)

        async def evict(victim: Pod) -> None:
            meta = victim.get("metadata") or {}
            ns, name = meta.get("namespace", ""), meta.get("name", "")
            cond = {"type": "DisruptionTarget", "status": "True", "reason": "PreemptionByScheduler",
                    "message": f"{scheduler_name}: preempting to accommodate a higher priority pod",
                    "lastTransitionTime": _now_rfc3339(h)}
            try:
                await h.client.patch(PODS, name, {"status": {"conditions": [cond]}}, namespace=ns,
                                     patch_type="strategic", subresource="status")
                await h.client.delete(PODS, name, namespace=ns)
            except NotFound:
                return
            except Exception:
                log.exception("preempting pod %s/%s failed", ns, name)
                return
            h.recorder.event(victim, "Normal", "Preempted", f"Preempted by pod {uid} on node {node}")

        try:
            await asyncio.gather(*(evict(v) for v in victims))
        finally:
            self.in_flight.pop(uid, None)

    def _clear_nominated(self, pods: list[Pod]) -> None:
        from kijabi.client.rest import PODS

        h = self.handle

        async def clear() -> None:
            for p in pods:
                meta = p.get("metadata") or {}
                if not (p.get("status") or {}).get("nominatedNodeName"):
                    continue
                try:
                    await h.client.patch(PODS, meta.get("name", ""), {"status": {"nominatedNodeName": None}},
                                         namespace=meta.get("namespace", ""), patch_type="merge",
                                         subresource="status")
                except Exception as exc:  # not critical: the nomination is only a hint
                    log.warning("cannot clear the nominatedNodeName of %s/%s: %s",
                                meta.get("namespace"), meta.get("name"), exc)

        h.spawn(clear(), "clear nominated node names")


def _now_rfc3339(h: Handle) -> str:
    from kijabi.machinery.meta import rfc3339

    return rfc3339(h.clock.time())


class _Abort(Exception):
    def __init__(self, status: Status) -> None:
        super().__init__(status.message())
        self.status = status
