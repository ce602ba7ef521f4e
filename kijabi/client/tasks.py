"""Named, guarded background tasks (STYLE 11), and how a component's main coroutine and children run.

`spawn()` names a task and logs its failure when it ends with an exception, even when nothing awaits it.
Given a TaskGroup the task is created inside it (the group still sees the failure and stops); without one
the caller keeps the returned task and cancels it on shutdown.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


def _report(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        log.error("task %s failed", task.get_name(), exc_info=exc)


def run_main(main_coro: Coroutine[Any, Any, None]) -> int:
    """`python -m <component module>`: log to stderr and run `main_coro` on uvloop, as `kijabi <component>`
    does (the default asyncio loop costs a client-heavy component such as the scheduler ~10% more CPU)."""
    import uvloop

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        uvloop.run(main_coro)
    except KeyboardInterrupt:
        pass
    return 0


def dying_with_parent(argv: Sequence[str]) -> list[str]:
    """`argv` run through setpriv(1) (util-linux) so that the child gets SIGKILL when the thread that
    started it ends, even on kill -9 of this process (PR_SET_PDEATHSIG), with the same PID. setpriv
    sets it after the fork, so no Python runs between fork and exec: a preexec_fn there is unsafe in a
    process with threads (gRPC, the SQLite writer). Without setpriv, `argv` as it is."""
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", *argv] if setpriv else list(argv)


def spawn(coro: Coroutine[Any, Any, T], *, name: str, tg: asyncio.TaskGroup | None = None) -> asyncio.Task[T]:
    task = tg.create_task(coro, name=name) if tg is not None else asyncio.create_task(coro, name=name)
    task.add_done_callback(_report)
    return task


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and wait until they have finished (their exceptions were logged by `spawn`)."""
    for t in tasks:
        t.cancel()
    for t in tasks:
        try:
            await t
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
        except Exception:
            pass


async def freeze_heap_when(ready: asyncio.Event) -> None:
    """Once `ready` is set, move everything alive into the collector's permanent generation: what a
    component built by then (informer caches, nodes, leases) lives as long as the process, and full
    collections would otherwise walk it again and again. A process-wide setting: for a component's
    own process only."""
    await ready.wait()
    gc.collect()
    gc.freeze()
