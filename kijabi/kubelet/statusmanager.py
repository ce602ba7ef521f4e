"""Writes pod statuses to the API server (upstream status/status_manager.go).

`set(key, ref, status)` records the newest status the kubelet generated for a pod and, if it differs
from what was last written, schedules a write; writes for one pod are serialised and coalesced (a status
superseded before its write went out is never sent), writes for different pods run in parallel.

A write is a strategic merge patch of pods/<name>/status carrying `metadata.uid` (so a recreated pod of
the same name is not patched) and the whole kubelet-owned status: conditions merge by type (conditions
other writers own survive), podIPs/hostIPs are replaced, fields the new status lacks are nulled. A pod
that is gone (404) is forgotten; other failures are retried with backoff (0.5 s doubling to 10 s).
`wait(key)` returns once the newest status of the pod is written (or the pod is gone). `on_written` is
called after every acknowledged write (the kubelet's start traces use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kijabi.client import Client, NotFound
from kijabi.client.errors import APIError, ClientError, Conflict
from kijabi.client.rest import PODS
from kijabi.client.tasks import spawn
from kijabi.kubelet import podstatus

log = logging.getLogger(__name__)

Object = dict[str, Any]
OWNED = ("phase", "reason", "message", "podIP", "podIPs", "hostIP", "hostIPs", "startTime",
         "initContainerStatuses", "containerStatuses")


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str
    uid: str           # the API object's uid (a mirror pod's own uid for static pods)


def status_patch(old: Mapping[str, Any], new: Mapping[str, Any], uid: str) -> Object:
    body: Object = {k: v for k, v in new.items()}
    for key in OWNED:
        if key in old and key not in new:
            body[key] = None
    for key in ("podIPs", "hostIPs"):
        if key in new:
            body[key] = [{"$patch": "replace"}, *new[key]]
    return {"metadata": {"uid": uid}, "status": body}


class StatusManager:
    def __init__(self, client: Client, *, on_written: Callable[[str, Object, float, float], None] | None = None) -> None:
        self.client = client
        self.on_written = on_written    # (key, status, sent, acknowledged: monotonic) after each write
        self._generated: dict[str, Object] = {}
        self._written: dict[str, Object] = {}
        self._pending: dict[str, tuple[PodRef, Object]] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._done: dict[str, asyncio.Event] = {}
        self.writes = 0

    def get(self, key: str) -> Object | None:
        """The newest status generated for pod `key` (None before the first)."""
        return self._generated.get(key)

    def remember(self, key: str, status: Object) -> None:
        """Keep a generated status without writing it (a static pod whose mirror pod does not exist yet)."""
        self._generated[key] = status

    async def shutdown(self) -> None:
        """Stop the writes under way (statuses not written yet are lost; the next kubelet rewrites them)."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        self._tasks.clear()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(BaseException):
                await t

    def seed(self, key: str, status: Mapping[str, Any]) -> None:
        """What the API holds already (so an unchanged status is not written again after a restart)."""
        self._written.setdefault(key, dict(status))

    def set(self, key: str, ref: PodRef, status: Object) -> None:
        self._generated[key] = status
        last = self._written.get(key)
        if last is not None and podstatus.semantically_equal(last, status) and key not in self._pending:
            return
        self._pending[key] = (ref, status)
        done = self._done.setdefault(key, asyncio.Event())
        done.clear()
        task = self._tasks.get(key)
        if task is None or task.done():
            self._tasks[key] = spawn(self._flush(key), name=f"status {ref.namespace}/{ref.name}")

    async def wait(self, key: str) -> None:
        task = self._tasks.get(key)
        done = self._done.get(key)
        if task is None or task.done() or done is None:
            return
        await done.wait()

    def forget(self, key: str) -> None:
        self._generated.pop(key, None)
        self._written.pop(key, None)
        self._pending.pop(key, None)
        task = self._tasks.pop(key, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()
        done = self._done.pop(key, None)
        if done is not None:
            done.set()

    async def _flush(self, key: str) -> None:
        delay = 0.5
        try:
            while key in self._pending:
                ref, status = self._pending.pop(key)
                last = self._written.get(key, {})
                if podstatus.semantically_equal(last, status):
                    continue
                sent = time.monotonic()
                try:
                    await self.client.patch(PODS, ref.name, status_patch(last, status, ref.uid),
                                            namespace=ref.namespace, patch_type="strategic", subresource="status")
                except NotFound:
                    log.debug("pod %s/%s is gone; not writing its status", ref.namespace, ref.name)
                    self._written[key] = status
                    return
                except (Conflict, APIError, ClientError) as exc:
                    log.warning("writing the status of pod %s/%s failed (retrying in %.1fs): %s", ref.namespace,
                                ref.name, delay, exc)
                    self._pending.setdefault(key, (ref, status))
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10.0)
                    continue
                self.writes += 1
                self._written[key] = status
                delay = 0.5
                if self.on_written is not None:
                    self.on_written(key, status, sent, time.monotonic())
        finally:
            if key not in self._pending:
                done = self._done.get(key)
                if done is not None:
                    done.set()

    async def delete(self, ref: PodRef) -> None:
        """Confirm a pod's deletion: DELETE with gracePeriodSeconds=0 and the uid as precondition."""
        try:
            await self.client.delete(PODS, ref.name, namespace=ref.namespace, grace_period_seconds=0,
                                     preconditions={"uid": ref.uid})
        except (NotFound, Conflict):
            pass
