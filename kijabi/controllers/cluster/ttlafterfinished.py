"""The ttl-after-finished controller: deletes a finished Job (condition Complete or Failed True) once
spec.ttlSecondsAfterFinished have passed since it finished (upstream pkg/controller/ttlafterfinished).

A Job whose time has not come is looked at again when it will have. Before deleting, the Job is read
live and checked again (its TTL may have just changed); the delete carries the Job's UID as a
precondition and, as upstream does, foreground propagation, so the Job disappears after its pods.
"""

from __future__ import annotations

import logging
from typing import Any

from kijabi.client.errors import NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import JOBS
from kijabi.controllers.cluster._base import ClusterController, Object, being_deleted, timestamp, workers
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)


def finish_time(job: Object) -> float | None:
    """When the job finished: the lastTransitionTime of its true Complete or Failed condition."""
    for c in (job.get("status") or {}).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return timestamp(c.get("lastTransitionTime"))
    return None


def needs_cleanup(job: Object) -> bool:
    return (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finish_time(job) is not None


def time_left(job: Object, now: float) -> float | None:
    """Seconds until the job expires (<= 0: expired), None when it needs no clean up."""
    if being_deleted(job) or not needs_cleanup(job):
        return None
    finished = finish_time(job)
    assert finished is not None
    if finished > now:
        log.info("ttl-after-finished: job %s/%s finished in the future (clock skew?); clean up deferred",
                 job["metadata"].get("namespace"), job["metadata"].get("name"))
    return finished + float(job["spec"]["ttlSecondsAfterFinished"]) - now


class TTLAfterFinishedController(ClusterController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("ttl-after-finished", workers=workers(ctx, "ttl-after-finished", 2), clock=ctx.clock)
        self.client = ctx.client
        informer = ctx.informers.informer(JOBS)
        self.jobs = informer.lister()
        informer.add_event_handler(EventHandlerFuncs(add=self._maybe_enqueue, update=lambda o, n: self._maybe_enqueue(n)))
        self.watches(informer)

    def _maybe_enqueue(self, job: Object) -> None:
        if not being_deleted(job) and needs_cleanup(job):
            self.enqueue(job)

    async def sync(self, key: str) -> float | None:
        ns, name = key.split("/", 1)
        job = self.jobs.get(name, ns)
        if job is None:
            return None
        left = time_left(job, self.clock.time())
        if left is None:
            return None
        if left > 0:
            return left
        try:
            fresh = await self.client.get(JOBS, name, namespace=ns)
        except NotFound:
            return None
        left = time_left(fresh, self.clock.time())
        if left is None:
            return None
        if left > 0:
            return left
        log.info("ttl-after-finished: cleaning up job %s", key)
        options: dict[str, Any] = {"uid": fresh["metadata"].get("uid", "")}
        try:
            await self.client.delete(JOBS, name, namespace=ns, propagation_policy="Foreground", preconditions=options)
        except NotFound:
            pass
        return None


def new(ctx: ControllerContext) -> TTLAfterFinishedController:
    return TTLAfterFinishedController(ctx)
