"""`kijabi server` runs every component as its own OS process and keeps it running.

A child that exits is restarted with exponential backoff (1 s doubling to 30 s, reset after a minute
of uptime). Children get PR_SET_PDEATHSIG (through setpriv), so they die with the server even on
`kill -9`; on a clean stop they get SIGTERM, then SIGKILL after `grace` seconds.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time

from kijabi.client.tasks import dying_with_parent

log = logging.getLogger(__name__)


class Child:
    def __init__(self, name: str, argv: list[str], *, env: dict[str, str] | None = None, grace: float = 10.0) -> None:
        self.name = name
        self.argv = argv
        self.env = {**os.environ, **(env or {})}
        self.grace = grace
        self.proc: asyncio.subprocess.Process | None = None
        self._stopping = False
        self.restarts = 0

    async def run(self) -> None:
        backoff = 1.0
        while not self._stopping:
            started = time.monotonic()
            self.proc = await asyncio.create_subprocess_exec(*dying_with_parent(self.argv), env=self.env)
            log.info("started %s (pid %d)", self.name, self.proc.pid)
            code = await self.proc.wait()
            if self._stopping:
                return
            uptime = time.monotonic() - started
            backoff = 1.0 if uptime > 60 else min(backoff * 2, 30.0)
            self.restarts += 1
            log.warning("%s exited with %s after %.1fs; restarting in %.0fs", self.name, code, uptime, backoff)
            await asyncio.sleep(backoff)

    async def stop(self) -> None:
        self._stopping = True
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.grace)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def kijabi_argv(*args: str) -> list[str]:
    """The command line that runs `kijabi <args>` with this interpreter."""
    return [sys.executable, "-m", "kijabi.cli.main", *args]


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, child: Child) -> None:
        self.children.append(child)
        self._tasks.append(asyncio.create_task(child.run(), name=f"supervise:{child.name}"))

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.children), return_exceptions=True)
        for t in self._tasks:
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
