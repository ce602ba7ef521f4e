"""One worker per pod: a task that syncs its pod whenever something about it changed (upstream pod_workers.go).

A worker goes through three states and never back:

    SYNCING      the pod should run: each pass brings the runtime to the spec and publishes the status
    TERMINATING  it should stop (deleted, removed from its source, evicted, refused, or every container
                 is done): kill its containers with the grace period, stop the sandbox, final status
    TERMINATED   nothing runs; once the pod is deleted (or gone from its source) its volumes, directories,
                 containers, sandboxes and cgroup are removed, the deletion is confirmed, the worker ends

Passes of one pod never overlap. `wake()` asks for a pass now (a new spec, a container event from the
relist, a probe result, a changed ConfigMap); otherwise the worker sleeps until the time its last pass
asked for (a backoff expiring, a retry) or the periodic resync. A pass that raises is retried with
backoff (0.5 s doubling to 10 s) and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from kijabi.kubelet import podutil

log = logging.getLogger(__name__)

SYNCING = "syncing"
TERMINATING = "terminating"
TERMINATED = "terminated"


@dataclass
class PodWorker:
    uid: str
    pod: dict[str, Any]
    static: bool = False
    state: str = SYNCING
    removed: bool = False                   # gone from its source (API object deleted, manifest removed)
    forced: tuple[str, str, str] | None = None   # (phase, reason, message): evicted or refused
    grace_override: int | None = None
    extra_conditions: list[dict[str, Any]] = field(default_factory=list)
    admitted: bool = False
    reasons: dict[str, tuple[str, str]] = field(default_factory=dict)
    next_sync: float = 0.0                  # monotonic time of the next pass wanted (0: only when woken)
    failures: int = 0
    wake_event: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)
    syncs: int = 0

    def wake(self) -> None:
        self.wake_event.set()

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        self.wake()

    @property
    def should_stop(self) -> bool:
        return self.removed or podutil.is_deleted(self.pod) or self.forced is not None

    def request_sync_in(self, seconds: float) -> None:
        at = time.monotonic() + max(seconds, 0.0)
        if self.next_sync == 0.0 or at < self.next_sync:
            self.next_sync = at


async def run_worker(w: PodWorker, sync: Callable[[PodWorker], Awaitable[bool]]) -> None:
    """Loop `sync(w)` until it returns True (the pod is gone)."""
    try:
        while True:
            if w.next_sync:
                timeout = w.next_sync - time.monotonic()
                if timeout > 0 and not w.wake_event.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(timeout):
                            await w.wake_event.wait()
            else:
                await w.wake_event.wait()
            w.wake_event.clear()
            w.next_sync = 0.0
            try:
                finished = await sync(w)
                w.failures = 0
                w.syncs += 1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = min(0.5 * 2 ** w.failures, 10.0)
                w.failures += 1
                log.warning("pod %s: sync failed (retrying in %.1fs): %s", podutil.full_name(w.pod), delay, exc,
                            exc_info=not isinstance(exc, (OSError,)) and w.failures <= 1)
                w.request_sync_in(delay)
                continue
            if finished:
                return
    finally:
        w.done.set()
