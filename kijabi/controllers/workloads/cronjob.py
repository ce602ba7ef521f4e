"""The CronJob controller (upstream pkg/controller/cronjob, the v2 controller).

Each sync reconciles status.active with the Jobs the CronJob owns, then, unless suspended, finds the
most recent unmet schedule time (not older than startingDeadlineSeconds) and creates the Job
<cronjob>-<scheduled time in minutes since the epoch> for it, honouring concurrencyPolicy
(Allow / Forbid / Replace). Finished Jobs beyond successful/failedJobsHistoryLimit are deleted. The key
is requeued for the next schedule time. Time comes from the controller's clock, so tests can move it.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.controller import Controller
from kijabi.client.errors import AlreadyExists, APIError, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import GVR, JOBS
from kijabi.controllers.context import ControllerContext
from kijabi.controllers.workloads import _util as u
from kijabi.machinery import cron

log = logging.getLogger(__name__)

Object = dict[str, Any]
CRONJOBS = GVR("batch", "v1", "cronjobs")
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
NEXT_SCHEDULE_DELTA = 0.1
MANY_MISSED = 100


def job_finished(job: Object) -> str | None:
    for c in u.status(job).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def job_name(cronjob: Object, scheduled: dt.datetime) -> str:
    return f"{u.name_of(cronjob)}-{int(scheduled.timestamp()) // 60}"


def most_recent_schedule(cj: Object, now: dt.datetime, sched: cron.Schedule,
                         with_deadline: bool) -> tuple[dt.datetime, dt.datetime | None, int]:
    """(earliest time considered, most recent unmet schedule time or None, number missed)."""
    tz = now.tzinfo
    earliest = dt.datetime.fromtimestamp(u.created(cj), tz)
    last = u.status(cj).get("lastScheduleTime")
    if last:
        earliest = dt.datetime.fromtimestamp(u.timestamp(last), tz)
    deadline = u.spec(cj).get("startingDeadlineSeconds")
    if with_deadline and isinstance(deadline, int):
        limit = now - dt.timedelta(seconds=deadline)
        if limit > earliest:
            earliest = limit
    t1 = sched.next(earliest)
    if t1 is None or now < t1:
        return earliest, None, 0
    t2 = sched.next(t1)
    if t2 is None or now < t2:
        return earliest, t1, 1
    between = round((t2 - t1).total_seconds())
    if between < 1:
        raise cron.ScheduleError("time difference between two schedules is less than 1 second")
    missed = int((now - t1).total_seconds()) // between + 1
    recent = dt.datetime.fromtimestamp(int(t1.timestamp()) + (missed - 1) * between, tz)
    t = sched.next(recent)
    while t is not None and t <= now:
        recent = t
        t = sched.next(t)
    return earliest, recent, missed


class CronJobController(Controller):
    def __init__(self, ctx: ControllerContext, *, workers: int = 5) -> None:
        super().__init__("cronjob", workers=workers, clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("cronjob-controller")
        self.cj_informer = ctx.informers.informer(CRONJOBS)
        self.job_informer = ctx.informers.informer(JOBS, indexers={u.CONTROLLER_UID_INDEX: u.owner_index})
        self.cj_lister = self.cj_informer.lister()
        self.job_lister = self.job_informer.lister()
        self.cj_informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=lambda o, n: self.enqueue(n),
                                                             delete=self.enqueue))
        self.job_informer.add_event_handler(EventHandlerFuncs(add=self._job_event, update=lambda o, n: self._job_event(n),
                                                              delete=self._job_event))
        self.watches(self.cj_informer, self.job_informer)

    def _job_event(self, obj: Object | DeletedFinalStateUnknown) -> None:
        job = u.unwrap(obj)
        cj = u.resolve_controller_ref(u.controller_ref(job), "CronJob",
                                      lambda n: self.cj_lister.get(n, u.namespace_of(job)))
        if cj is not None:
            self.enqueue(cj)

    def _now(self, tz: dt.tzinfo) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.clock.time(), tz)

    async def sync(self, key: str) -> float | None:
        cached = self.cj_lister.get_by_key(key)
        if cached is None:
            return None
        cj = u.copy(cached)
        jobs = [j for j in self.job_lister.by_index(u.CONTROLLER_UID_INDEX, u.uid_of(cj))]
        requeue, changed = await self._sync(cj, jobs)
        if await self._cleanup(cj, jobs):
            changed = True
        if changed:
            try:
                await u.update_status(self.client, CRONJOBS, cached, u.status(cj))
            except NotFound:
                return None
        return requeue

    @staticmethod
    def _active_uids(cj: Object) -> set[str]:
        return {str(r.get("uid")) for r in u.status(cj).get("active") or []}

    @staticmethod
    def _remove_active(cj: Object, uid: str) -> None:
        st = cj.setdefault("status", {})
        st["active"] = [r for r in st.get("active") or [] if r.get("uid") != uid]
        if not st["active"]:
            del st["active"]

    async def _sync(self, cj: Object, jobs: list[Object]) -> tuple[float | None, bool]:
        changed = False
        st = cj.setdefault("status", {})
        children: set[str] = set()
        for j in jobs:
            uid = u.uid_of(j)
            children.add(uid)
            found = uid in self._active_uids(cj)
            finished = job_finished(j)
            if not found and finished is None:
                fresh = await self.client.get(CRONJOBS, u.name_of(cj), namespace=u.namespace_of(cj))
                if uid in self._active_uids(fresh):
                    cj.clear()
                    cj.update(fresh)
                    st = cj.setdefault("status", {})
                    continue
                self.recorder.event(cj, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {u.name_of(j)}")
            elif found and finished is not None:
                self._remove_active(cj, uid)
                self.recorder.event(cj, "Normal", "SawCompletedJob",
                                    f"Saw completed job: {u.name_of(j)}, condition: {finished}")
                changed = True
            if finished == "Complete":
                done = u.status(j).get("completionTime")
                if done and u.timestamp(done) > u.timestamp(st.get("lastSuccessfulTime")):
                    st["lastSuccessfulTime"] = done
                    changed = True
        for ref in list(st.get("active") or []):
            if ref.get("uid") in children:
                continue
            try:
                await self.client.get(JOBS, str(ref.get("name")), namespace=u.namespace_of(cj))
            except NotFound:
                self.recorder.event(cj, "Normal", "MissingJob", f"Active job went missing: {ref.get('name')}")
                self._remove_active(cj, str(ref.get("uid")))
                changed = True
        if u.deleting(cj):
            return None, changed
        spec = u.spec(cj)
        tz_name = spec.get("timeZone")
        try:
            tz = cron.zone(tz_name)
        except cron.ScheduleError as exc:
            self.recorder.event(cj, "Warning", "UnknownTimeZone", f'invalid timeZone: "{tz_name}": {exc}')
            return None, changed
        if spec.get("suspend"):
            return None, changed
        try:
            sched = cron.parse(str(spec.get("schedule", "")))
        except cron.ScheduleError as exc:
            self.recorder.event(cj, "Warning", "UnparseableSchedule", f'unparseable schedule: "{spec.get("schedule")}" : {exc}')
            return None, changed
        now = self._now(tz)
        try:
            _, scheduled, missed = most_recent_schedule(cj, now, sched, True)
        except cron.ScheduleError as exc:
            self.recorder.event(cj, "Warning", "InvalidSchedule", f"invalid schedule: {spec.get('schedule')} : {exc}")
            return None, changed
        if scheduled is not None and missed > MANY_MISSED:
            self.recorder.event(cj, "Warning", "TooManyMissedTimes", "too many missed start times. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
        if scheduled is None:
            return self._next_delay(cj, now, sched), changed
        deadline = spec.get("startingDeadlineSeconds")
        if isinstance(deadline, int) and scheduled + dt.timedelta(seconds=deadline) < now:
            self.recorder.event(cj, "Warning", "MissSchedule", "Missed scheduled time to start a job: "
                                + scheduled.astimezone(dt.UTC).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return self._next_delay(cj, now, sched), changed
        name = job_name(cj, scheduled)
        last = st.get("lastScheduleTime")
        if any(r.get("name") == name for r in st.get("active") or []) or \
                (last and int(u.timestamp(last)) == int(scheduled.timestamp())):
            return self._next_delay(cj, now, sched), changed
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and st.get("active"):
            self.recorder.event(cj, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return self._next_delay(cj, now, sched), changed
        if policy == "Replace":
            for ref in list(st.get("active") or []):
                await self._delete_job(cj, str(ref.get("name")), str(ref.get("uid")))
                changed = True
        job = self._job_from_template(cj, scheduled, tz)
        try:
            created = await self.client.create(JOBS, job, namespace=u.namespace_of(cj))
        except AlreadyExists:
            return None, changed
        except APIError as exc:
            self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {exc}")
            raise
        self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {u.name_of(created)}")
        ref = {"kind": "Job", "namespace": u.namespace_of(created), "name": u.name_of(created),
               "uid": u.uid_of(created), "apiVersion": "batch/v1",
               "resourceVersion": u.meta(created).get("resourceVersion")}
        st.setdefault("active", []).append(ref)
        st["lastScheduleTime"] = u.now_text(scheduled.timestamp())
        return self._next_delay(cj, now, sched), True

    def _next_delay(self, cj: Object, now: dt.datetime, sched: cron.Schedule) -> float | None:
        try:
            earliest, recent, _ = most_recent_schedule(cj, now, sched, False)
        except cron.ScheduleError:
            return NEXT_SCHEDULE_DELTA
        base = recent if recent is not None else earliest
        nxt = sched.next(base)
        if nxt is None:
            return None
        return max((nxt - now).total_seconds() + NEXT_SCHEDULE_DELTA, NEXT_SCHEDULE_DELTA)

    @staticmethod
    def _job_from_template(cj: Object, scheduled: dt.datetime, tz: dt.tzinfo) -> Object:
        template = u.spec(cj).get("jobTemplate") or {}
        tmeta = template.get("metadata") or {}
        annotations = dict(tmeta.get("annotations") or {})
        annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(tz).isoformat().replace("+00:00", "Z")
        meta: Object = {"name": job_name(cj, scheduled), "namespace": u.namespace_of(cj),
                        "annotations": annotations,
                        "ownerReferences": [u.new_controller_ref(cj, "batch/v1", "CronJob")]}
        if tmeta.get("labels"):
            meta["labels"] = dict(tmeta["labels"])
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": u.copy(template.get("spec") or {})}

    async def _delete_job(self, cj: Object, name: str, uid: str) -> bool:
        try:
            await self.client.delete(JOBS, name, namespace=u.namespace_of(cj), propagation_policy="Background")
        except NotFound:
            pass
        except APIError as exc:
            self.recorder.event(cj, "Warning", "FailedDelete", f"Deleted job: {exc}")
            return False
        self._remove_active(cj, uid)
        self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")
        return True

    async def _cleanup(self, cj: Object, jobs: list[Object]) -> bool:
        spec = u.spec(cj)
        ok_limit, failed_limit = spec.get("successfulJobsHistoryLimit"), spec.get("failedJobsHistoryLimit")
        if ok_limit is None and failed_limit is None:
            return False
        changed = False
        for kind, limit in (("Complete", ok_limit), ("Failed", failed_limit)):
            if limit is None:
                continue
            done = [j for j in jobs if job_finished(j) == kind and not u.deleting(j)]
            if len(done) <= limit:
                continue
            done.sort(key=lambda j: (u.timestamp(u.status(j).get("startTime")) or u.created(j), u.name_of(j)))
            for j in done[:len(done) - limit]:
                if await self._delete_job(cj, u.name_of(j), u.uid_of(j)):
                    changed = True
        return changed


def new_cronjob_controller(ctx: ControllerContext) -> CronJobController:
    return CronJobController(ctx, workers=ctx.options.concurrent_syncs.get("cronjob", 5))
