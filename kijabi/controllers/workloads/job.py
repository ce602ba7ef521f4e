"""The Job controller (upstream pkg/controller/job, v1.32 semantics).

Pods are created with the `batch.kubernetes.io/job-tracking` finalizer. A finished pod is first
recorded in status.uncountedTerminatedPods, then its finalizer is removed, then it moves into
status.succeeded / status.failed (and, for Indexed jobs, completedIndexes / failedIndexes), so every
pod is counted exactly once even across restarts. Failures go through the pod failure policy (FailJob,
FailIndex, Ignore, Count), count against backoffLimit (or backoffLimitPerIndex) and delay replacements
by 10 s, 20 s, ... up to 6 min. A job that must fail first gets FailureTarget and loses its pods, then
Failed; one that succeeded gets SuccessCriteriaMet, then Complete with completionTime. Suspending
deletes active pods (Suspended=True JobSuspended); resuming resets startTime.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.controller import Controller
from kijabi.client.errors import APIError, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import JOBS, PODS
from kijabi.controllers.context import ControllerContext
from kijabi.controllers.workloads import _jobutil as ju
from kijabi.controllers.workloads import _util as u
from kijabi.controllers.workloads._expectations import Expectations

log = logging.getLogger(__name__)

Object = dict[str, Any]
ORPHAN_POD = "~pod/"


@dataclass
class _Backoff:
    failures: int = 0
    last_failure: float = 0.0


class JobController(Controller):
    def __init__(self, ctx: ControllerContext, *, workers: int = 5) -> None:
        super().__init__("job", workers=workers, clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("job-controller")
        self.pod_control = u.PodControl(ctx.client, self.recorder)
        self.expectations = Expectations(ctx.clock)
        self.rm_finalizers: dict[str, set[str]] = {}
        self.backoffs: dict[str, _Backoff] = {}
        self.job_informer = ctx.informers.informer(JOBS)
        self.pod_informer = ctx.informers.informer(PODS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.job_lister = self.job_informer.lister()
        self.pod_lister = self.pod_informer.lister()
        self.job_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda o, n: self.enqueue(n),
                                                              delete=self._delete_job))
        self.pod_informer.add_event_handler(EventHandlerFuncs(add=self._add_pod, update=self._update_pod,
                                                              delete=self._delete_pod))
        self.watches(self.job_informer, self.pod_informer)

    # -- event handlers ----------------------------------------------------------------------------

    def _resolve(self, pod: Object) -> Object | None:
        return u.resolve_controller_ref(u.controller_ref(pod), "Job",
                                        lambda n: self.job_lister.get(n, u.namespace_of(pod)))

    def _delete_job(self, obj: Object | DeletedFinalStateUnknown) -> None:
        job = u.unwrap(obj)
        key = u.key_of(job)
        self.expectations.delete(key)
        self.backoffs.pop(key, None)
        for pod in self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(job)):
            if ju.has_finalizer(pod):
                self.queue.add(ORPHAN_POD + u.key_of(pod))

    def _observe_finalizer(self, pod: Object, job_key: str) -> None:
        if not ju.has_finalizer(pod):
            pending = self.rm_finalizers.get(job_key)
            if pending is not None:
                pending.discard(u.uid_of(pod))

    def _add_pod(self, pod: Object) -> None:
        job = self._resolve(pod)
        if job is None:
            ref = u.controller_ref(pod)
            if ref is not None and ref.get("kind") == "Job" and ju.has_finalizer(pod):
                self.queue.add(ORPHAN_POD + u.key_of(pod))
            return
        key = u.key_of(job)
        if u.deleting(pod):
            self.expectations.deletion_observed(key, u.key_of(pod))
        else:
            self.expectations.creation_observed(key)
        self.queue.add(key)

    def _update_pod(self, old: Object, new: Object) -> None:
        if u.meta(old).get("resourceVersion") == u.meta(new).get("resourceVersion"):
            return
        if u.controller_ref(old) != u.controller_ref(new):
            old_job = self._resolve(old)
            if old_job is not None:
                self.enqueue(old_job)
        job = self._resolve(new)
        if job is None:
            ref = u.controller_ref(new)
            if ref is not None and ref.get("kind") == "Job" and ju.has_finalizer(new):
                self.queue.add(ORPHAN_POD + u.key_of(new))
            return
        key = u.key_of(job)
        self._observe_finalizer(new, key)
        if u.deleting(new) and not u.deleting(old):
            self.expectations.deletion_observed(key, u.key_of(new))
        self.queue.add(key)

    def _delete_pod(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = u.unwrap(obj)
        job = self._resolve(pod)
        if job is None:
            return
        key = u.key_of(job)
        self.expectations.deletion_observed(key, u.key_of(pod))
        pending = self.rm_finalizers.get(key)
        if pending is not None:
            pending.discard(u.uid_of(pod))
        self.queue.add(key)

    # -- sync --------------------------------------------------------------------------------------

    def _now(self) -> str:
        return u.now_text(self.clock.time())

    async def _remove_finalizer(self, pod: Object) -> bool:
        fins = [f for f in (u.meta(pod).get("finalizers") or []) if f != ju.TRACKING_FINALIZER]
        patch = [{"op": "test", "path": "/metadata/uid", "value": u.uid_of(pod)},
                 {"op": "replace", "path": "/metadata/finalizers", "value": fins}]
        try:
            await self.client.patch(PODS, u.name_of(pod), patch, namespace=u.namespace_of(pod), patch_type="json")
        except NotFound:
            return True
        except APIError as exc:
            log.info("job: removing the finalizer of %s: %s", u.key_of(pod), exc)
            return False
        return True

    async def sync(self, key: str) -> float | None:
        if key.startswith(ORPHAN_POD):
            pod = self.pod_lister.get_by_key(key[len(ORPHAN_POD):])
            if pod is not None and ju.has_finalizer(pod) and self._resolve(pod) is None:
                await self._remove_finalizer(pod)
            return None
        cached = self.job_lister.get_by_key(key)
        if cached is None:
            self.expectations.delete(key)
            return None
        job = u.copy(cached)
        pods = await self._claim_pods(job)
        if ju.finished_condition(job) is not None:
            await asyncio.gather(*(self._remove_finalizer(p) for p in pods if ju.has_finalizer(p)))
            return None
        return await _JobSync(self, key, job, pods).run()

    async def _claim_pods(self, job: Object) -> list[Object]:
        ns = u.namespace_of(job)
        owned = self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(job))
        orphans = [p for p in self.pod_lister.by_index(u.CONTROLLER_UID_INDEX, f"orphan/{ns}") if u.pod_active(p)]
        manager = u.RefManager(self.client, job, u.selector_of(job), api_version="batch/v1", kind="Job",
                               can_adopt=u.recheck_owner(self.client, JOBS, job))
        return await manager.claim(PODS, owned + orphans)


class _JobSync:
    """One pass over one job (upstream syncJob); holds the counts computed along the way."""

    def __init__(self, c: JobController, key: str, job: Object, pods: list[Object]) -> None:
        self.c = c
        self.key = key
        self.job = job
        self.pods = pods
        self.spec = u.spec(job)
        self.st: Object = job.setdefault("status", {})
        self.now = c.clock.time()
        self.now_text = u.now_text(self.now)
        self.indexed = ju.is_indexed(job)
        self.completions: int | None = self.spec.get("completions")
        self.parallelism = u.int_value(self.spec.get("parallelism"), 1)
        self.requeue: float | None = None

    # counts ------------------------------------------------------------------------------------------

    def _uncounted(self) -> tuple[list[str], list[str]]:
        unc = self.st.get("uncountedTerminatedPods") or {}
        return list(unc.get("succeeded") or []), list(unc.get("failed") or [])

    async def run(self) -> float | None:
        c, job, st = self.c, self.job, self.st
        satisfied = c.expectations.satisfied(self.key)
        expected_rm = c.rm_finalizers.setdefault(self.key, set())
        unc_succ, unc_fail = self._uncounted()
        uncounted = set(unc_succ) | set(unc_fail)
        active_pods = [p for p in self.pods if u.pod_active(p)]
        terminating = [p for p in self.pods if u.deleting(p) and u.pod_phase(p) not in ("Succeeded", "Failed")]

        new_succ: list[Object] = []
        new_fail: list[Object] = []
        ignored: list[Object] = []
        fail_message: str | None = None
        fail_index_pods: list[Object] = []
        for p in self.pods:
            uid = u.uid_of(p)
            if not ju.has_finalizer(p) or uid in uncounted or uid in expected_rm:
                continue
            if u.pod_phase(p) == "Succeeded":
                new_succ.append(p)
            elif ju.pod_failed(p, job):
                message, action = ju.match_failure_policy(job, p) if self.spec.get("podFailurePolicy") else (None, None)
                if action == "Ignore":
                    ignored.append(p)
                    continue
                if action == "FailJob" and fail_message is None:
                    fail_message = message
                if action == "FailIndex":
                    fail_index_pods.append(p)
                new_fail.append(p)

        backoff = c.backoffs.setdefault(self.key, _Backoff())
        if new_succ:
            backoff.failures = 0
        if new_fail:
            backoff.failures += len(new_fail)
            backoff.last_failure = max(ju.finish_time(p, self.now) for p in new_fail)

        succeeded = u.int_value(st.get("succeeded")) + len(unc_succ) + len(new_succ)
        failed = u.int_value(st.get("failed")) + len(unc_fail) + len(new_fail)
        completed_idx = ju.parse_indexes(st.get("completedIndexes"), self.completions)
        failed_idx = ju.parse_indexes(st.get("failedIndexes"), self.completions)
        if self.indexed:
            for p in new_succ:
                i = ju.pod_index(p)
                if i is not None and self.completions is not None and 0 <= i < self.completions:
                    completed_idx.add(i)
            failed_idx |= self._newly_failed_indexes(new_fail, fail_index_pods, completed_idx)

        # terminal decisions --------------------------------------------------------------------------
        failure: tuple[str, str] | None = None
        cond = u.get_condition(st, "FailureTarget")
        if cond is not None and cond.get("status") == "True":
            failure = (str(cond.get("reason", "")), str(cond.get("message", "")))
        elif fail_message is not None:
            failure = ("PodFailurePolicy", fail_message)
        elif self.spec.get("backoffLimitPerIndex") is None and failed > u.int_value(self.spec.get("backoffLimit"), 6):
            failure = ju.BACKOFF_LIMIT_EXCEEDED
        elif self._past_deadline():
            failure = ju.DEADLINE_EXCEEDED
        elif self.indexed and self.spec.get("maxFailedIndexes") is not None and \
                len(failed_idx) > u.int_value(self.spec.get("maxFailedIndexes")):
            failure = ju.MAX_FAILED_INDEXES_EXCEEDED
        elif self.indexed and failed_idx and self.completions is not None and \
                len(completed_idx) + len(failed_idx) >= self.completions:
            failure = ju.FAILED_INDEXES

        success: tuple[str, str] | None = None
        met = u.get_condition(st, "SuccessCriteriaMet")
        if failure is None:
            if met is not None and met.get("status") == "True":
                success = (str(met.get("reason", "")), str(met.get("message", "")))
            elif self.indexed and self.spec.get("successPolicy") and \
                    (rule := ju.success_policy_match(job, completed_idx)) is not None:
                success = ("SuccessPolicy", f"Matched rules at index {rule}")
            elif self._complete(succeeded, completed_idx, active_pods, new_succ):
                success = ju.COMPLETIONS_REACHED

        suspended = bool(self.spec.get("suspend"))
        to_delete: list[Object] = []
        creations: int = 0
        if failure is not None or success is not None:
            to_delete = active_pods
        elif suspended:
            to_delete = active_pods
        elif satisfied:
            to_delete, creations = self._plan(active_pods, terminating, succeeded, completed_idx, failed_idx)

        # suspension bookkeeping ----------------------------------------------------------------------
        if failure is None and success is None:
            self._suspension(suspended)
        if not suspended and st.get("startTime") is None and failure is None and success is None:
            st["startTime"] = self.now_text
        if failure is not None:
            u.set_condition(st, ju.condition("FailureTarget", failure[0], failure[1], self.now_text))
        elif success is not None:
            u.set_condition(st, ju.condition("SuccessCriteriaMet", success[0], success[1], self.now_text))

        # pods ----------------------------------------------------------------------------------------
        deleted = await self._delete_pods(to_delete)
        created_error: BaseException | None = None
        created = 0
        if creations:
            created, created_error = await self._create_pods(creations, completed_idx, failed_idx, active_pods,
                                                             terminating)

        # status --------------------------------------------------------------------------------------
        st["active"] = max(len(active_pods) - deleted + created, 0)
        st["ready"] = sum(1 for p in active_pods if u.pod_ready(p) and p not in to_delete)
        st["terminating"] = len(terminating) + deleted
        if self.indexed:
            st["completedIndexes"] = ju.format_indexes(completed_idx)
            if self.spec.get("backoffLimitPerIndex") is not None:
                st["failedIndexes"] = ju.format_indexes(failed_idx)
        await self._flush(new_succ, new_fail, ignored, unc_succ, unc_fail)
        await self._finish_if_done(failure, success)
        if created_error is not None:
            raise created_error
        return self.requeue

    def _newly_failed_indexes(self, new_fail: list[Object], fail_index: list[Object], completed: set[int]) -> set[int]:
        limit = self.spec.get("backoffLimitPerIndex")
        if limit is None:
            return set()
        out: set[int] = set()
        for p in fail_index:
            i = ju.pod_index(p)
            if i is not None:
                out.add(i)
        counts: dict[int, int] = {}
        for p in self.pods:
            if ju.pod_failed(p, self.job):
                i = ju.pod_index(p)
                if i is not None:
                    counts[i] = counts.get(i, 0) + 1
        for p in new_fail:
            i = ju.pod_index(p)
            if i is not None and counts.get(i, 0) > u.int_value(limit) and i not in completed:
                out.add(i)
        return out

    def _past_deadline(self) -> bool:
        ads = self.spec.get("activeDeadlineSeconds")
        start = u.timestamp(self.st.get("startTime"))
        if not isinstance(ads, int) or not start or self.spec.get("suspend"):
            return False
        remaining = start + ads - self.now
        if remaining <= 0:
            return True
        self._requeue_after(remaining)
        return False

    def _requeue_after(self, delay: float) -> None:
        self.requeue = delay if self.requeue is None else min(self.requeue, delay)

    def _complete(self, succeeded: int, completed_idx: set[int], active: list[Object], new_succ: list[Object]) -> bool:
        if self.indexed:
            return self.completions is not None and len(completed_idx) >= self.completions
        if self.completions is None:
            return succeeded > 0 and not [p for p in active if p not in new_succ]
        return succeeded >= self.completions

    def _suspension(self, suspended: bool) -> None:
        cond = u.get_condition(self.st, "Suspended")
        if suspended:
            if cond is None or cond.get("status") != "True":
                u.set_condition(self.st, ju.condition("Suspended", "JobSuspended", "Job suspended", self.now_text))
                self.c.recorder.event(self.job, "Normal", "Suspended", "Job suspended")
        elif cond is not None and cond.get("status") == "True":
            u.set_condition(self.st, ju.condition("Suspended", "JobResumed", "Job resumed", self.now_text, "False"))
            self.st["startTime"] = self.now_text
            self.c.recorder.event(self.job, "Normal", "Resumed", "Job resumed")

    # planning ------------------------------------------------------------------------------------

    def _plan(self, active: list[Object], terminating: list[Object], succeeded: int, completed: set[int],
              failed_idx: set[int]) -> tuple[list[Object], int]:
        """Which active pods to delete and how many to create (upstream manageJob)."""
        to_delete: list[Object] = []
        if self.indexed:
            seen: set[int] = set()
            keep: list[Object] = []
            for p in sorted(active, key=lambda p: (not u.pod_ready(p), u.created(p))):
                i = ju.pod_index(p)
                if i is None or self.completions is None or not 0 <= i < self.completions or i in seen \
                        or i in completed or i in failed_idx:
                    to_delete.append(p)
                else:
                    seen.add(i)
                    keep.append(p)
            active = keep
        if self.completions is None:
            want = len(active) if succeeded > 0 else self.parallelism
        else:
            want = max(min(self.completions - succeeded, self.parallelism), 0)
            if self.indexed:
                want = max(min(self.completions - len(completed) - len(failed_idx), self.parallelism), 0)
        excess = len(active) - want
        if excess > 0:
            ranked = sorted(active, key=lambda p: (bool(u.spec(p).get("nodeName")), u.pod_ready(p), -u.created(p)))
            to_delete.extend(ranked[:excess])
            return to_delete, 0
        if self.spec.get("podReplacementPolicy") == "Failed":
            want -= len(terminating)
        missing = want - len(active)
        if missing <= 0:
            return to_delete, 0
        record = self.c.backoffs.get(self.key)
        if record is not None and record.failures > 0:
            remaining = record.last_failure + ju.backoff_delay(record.failures) - self.now
            if remaining > 0:
                self._requeue_after(remaining)
                return to_delete, 0
        return to_delete, min(missing, ju.MAX_PODS_PER_SYNC)

    # writes --------------------------------------------------------------------------------------

    async def _delete_pods(self, pods: list[Object]) -> int:
        if not pods:
            return 0
        c = self.c
        c.expectations.expect_deletions(self.key, [u.key_of(p) for p in pods])
        results = await asyncio.gather(*(c.pod_control.delete(self.job, u.namespace_of(p), u.name_of(p), u.uid_of(p))
                                         for p in pods), return_exceptions=True)
        deleted = 0
        for p, r in zip(pods, results, strict=True):
            if isinstance(r, BaseException):
                c.expectations.deletion_observed(self.key, u.key_of(p))
            else:
                deleted += 1
        return deleted

    async def _create_pods(self, count: int, completed: set[int], failed_idx: set[int], active: list[Object],
                           terminating: list[Object]) -> tuple[int, BaseException | None]:
        c, job = self.c, self.job
        template = u.copy(self.spec.get("template") or {})
        tmeta = template.setdefault("metadata", {})
        fins = list(tmeta.get("finalizers") or [])
        if ju.TRACKING_FINALIZER not in fins:
            fins.append(ju.TRACKING_FINALIZER)
        tmeta["finalizers"] = fins
        ref = u.new_controller_ref(job, "batch/v1", "Job")
        indexes: list[int] = []
        if self.indexed:
            template = ju.with_completion_index_env(template)
            busy = {ju.pod_index(p) for p in active}
            if self.spec.get("podReplacementPolicy") == "Failed":
                busy |= {ju.pod_index(p) for p in terminating}
            assert self.completions is not None
            indexes = [i for i in range(self.completions) if i not in completed and i not in failed_idx
                       and i not in busy][:count]
            count = len(indexes)
            if count == 0:
                return 0, None
        failures = self._failures_per_index() if self.spec.get("backoffLimitPerIndex") is not None else {}
        c.expectations.expect_creations(self.key, count)
        queue = list(indexes)
        failures_seen = 0

        async def create_one() -> None:
            nonlocal failures_seen
            pod_template = template
            gen = f"{u.name_of(job)}-"
            if self.indexed:
                index = queue.pop(0)
                pod_template = u.copy(template)
                pm = pod_template.setdefault("metadata", {})
                pm.setdefault("annotations", {})[ju.COMPLETION_INDEX] = str(index)
                pm.setdefault("labels", {})[ju.COMPLETION_INDEX] = str(index)
                if failures:
                    pm["annotations"][ju.INDEX_FAILURE_COUNT] = str(failures.get(index, 0))
                ps = pod_template.setdefault("spec", {})
                if not ps.get("hostname"):
                    ps["hostname"] = f"{u.name_of(job)}-{index}"
                gen = f"{u.name_of(job)}-{index}-"
            pod = u.pod_from_template(pod_template, job, ref, generate_name=gen)
            try:
                await c.pod_control.create(job, pod)
            except BaseException:
                failures_seen += 1
                c.expectations.creation_observed(self.key)
                raise

        successes, error = await u.slow_start_batch(count, u.SLOW_START_INITIAL_BATCH, create_one)
        attempted = successes + failures_seen
        for _ in range(count - attempted):
            c.expectations.creation_observed(self.key)
        return successes, error

    def _failures_per_index(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for p in self.pods:
            if ju.pod_failed(p, self.job):
                i = ju.pod_index(p)
                if i is not None:
                    counts[i] = counts.get(i, 0) + 1
        return counts

    async def _write_status(self) -> None:
        try:
            updated = await u.update_status(self.c.client, JOBS, self.job, self.st)
        except NotFound:
            return
        self.job = updated
        self.st = updated.setdefault("status", {})

    async def _flush(self, new_succ: list[Object], new_fail: list[Object], ignored: list[Object],
                     unc_succ: list[str], unc_fail: list[str]) -> None:
        """Record new finished pods as uncounted, remove their finalizers, then count them."""
        c = self.c
        unc_succ = unc_succ + [u.uid_of(p) for p in new_succ]
        unc_fail = unc_fail + [u.uid_of(p) for p in new_fail]
        self.st["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", unc_succ), ("failed", unc_fail)) if v}
        if new_succ or new_fail or self._status_changed():
            await self._write_status()
        by_uid = {u.uid_of(p): p for p in self.pods}
        uncounted = set(unc_succ) | set(unc_fail)
        targets = [by_uid[uid] for uid in uncounted if uid in by_uid and ju.has_finalizer(by_uid[uid])]
        targets += [p for p in ignored if ju.has_finalizer(p)]
        expected = c.rm_finalizers.setdefault(self.key, set())
        expected.update(u.uid_of(p) for p in targets)
        results = await asyncio.gather(*(c._remove_finalizer(p) for p in targets))
        still = {u.uid_of(p) for p, ok in zip(targets, results, strict=True) if not ok}
        for uid in still:
            expected.discard(uid)
        done_succ = [x for x in unc_succ if x not in still]
        done_fail = [x for x in unc_fail if x not in still]
        if not done_succ and not done_fail:
            return
        self.st["succeeded"] = u.int_value(self.st.get("succeeded")) + len(done_succ)
        self.st["failed"] = u.int_value(self.st.get("failed")) + len(done_fail)
        rest_s = [x for x in unc_succ if x in still]
        rest_f = [x for x in unc_fail if x in still]
        self.st["uncountedTerminatedPods"] = {k: v for k, v in (("succeeded", rest_s), ("failed", rest_f)) if v}
        await self._write_status()

    def _status_changed(self) -> bool:
        cached = self.c.job_lister.get_by_key(self.key)
        old = dict(u.status(cached)) if cached is not None else {}
        return old != self.st

    async def _finish_if_done(self, failure: tuple[str, str] | None, success: tuple[str, str] | None) -> None:
        if failure is None and success is None:
            if self._status_changed():
                await self._write_status()
            return
        unc = self.st.get("uncountedTerminatedPods") or {}
        if unc.get("succeeded") or unc.get("failed"):
            self._requeue_after(1.0)
            if self._status_changed():
                await self._write_status()
            return
        if u.int_value(self.st.get("active")) > 0 or u.int_value(self.st.get("terminating")) > 0:
            if self._status_changed():
                await self._write_status()
            return
        if failure is not None:
            u.set_condition(self.st, ju.condition("Failed", failure[0], failure[1], self.now_text))
            self.c.recorder.event(self.job, "Warning", failure[0], failure[1])
        elif success is not None:
            u.set_condition(self.st, ju.condition("Complete", success[0], success[1], self.now_text))
            self.st["completionTime"] = self.now_text
            self.c.recorder.event(self.job, "Normal", "Completed", "Job completed")
        await self._write_status()


def new_job_controller(ctx: ControllerContext) -> JobController:
    return JobController(ctx, workers=ctx.options.concurrent_syncs.get("job", 5))
