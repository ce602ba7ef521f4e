"""Container log rotation (upstream logs/container_log_manager.go).

The runtime writes each container's log to `<pod log dir>/<container>/<restart>.log` in the CRI format.
Every period the kubelet checks the running containers' logs; one bigger than `max_size` (10 MiB) is
rotated:

    <restart>.log                         current file (reopened by the runtime after the rename)
    <restart>.log.20261128-034615         the newest rotated file, kept uncompressed
    <restart>.log.20261128-031205.gz      older rotated files, gzip-compressed
    at most `max_files` (5) files per container in all; the oldest rotated files are removed first.

Rotation renames the current file and calls CRI ReopenContainerLog; if that fails the rename is undone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from kijabi.kubelet.cri import CRIConnection, CRIError

log = logging.getLogger(__name__)

TIMESTAMP = "%Y%m%d-%H%M%S"
TMP_SUFFIX = ".tmp"
GZ_SUFFIX = ".gz"


def rotated_logs(path: Path) -> list[Path]:
    """The rotated files of log `path`, oldest first (timestamps sort as text)."""
    parent = path.parent
    if not parent.is_dir():
        return []
    prefix = path.name + "."
    out = [parent / f for f in os.listdir(parent) if f.startswith(prefix) and not f.endswith(TMP_SUFFIX)]
    return sorted(out, key=lambda p: p.name.removesuffix(GZ_SUFFIX))


def _compress(path: Path) -> Path:
    target = path.with_name(path.name + GZ_SUFFIX)
    tmp = target.with_name(target.name + TMP_SUFFIX)
    with open(path, "rb") as src, gzip.open(tmp, "wb") as dst:
        shutil.copyfileobj(src, dst)
    os.replace(tmp, target)
    path.unlink()
    return target


class LogRotator:
    def __init__(self, cri: CRIConnection, *, max_size: int = 10 * 1024 * 1024, max_files: int = 5) -> None:
        self.cri = cri
        self.max_size = max_size
        self.max_files = max(max_files, 2)
        self.rotations = 0

    async def rotate_all(self, containers: Iterable[tuple[str, str]]) -> None:
        """Check (container id, log path) pairs of running containers and rotate what is too big. The sizes
        are read in one thread (a stat per running container must not hold the event loop)."""
        pairs = [(cid, Path(path)) for cid, path in containers if path]
        for cid, path in await asyncio.to_thread(self._too_big, pairs):
            try:
                await self.rotate(cid, path)
            except OSError as exc:
                log.warning("rotating log %s: %s", path, exc)

    def _too_big(self, pairs: list[tuple[str, Path]]) -> list[tuple[str, Path]]:
        out = []
        for cid, path in pairs:
            with contextlib.suppress(OSError):
                if path.stat().st_size > self.max_size:
                    out.append((cid, path))
        return out

    async def rotate(self, container_id: str, path: Path) -> bool:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return False
        if size <= self.max_size:
            return False
        await asyncio.to_thread(self._tidy, path)
        stamp = time.strftime(TIMESTAMP, time.gmtime())
        taken = [p.name.removesuffix(GZ_SUFFIX) for p in rotated_logs(path)]
        name = f"{path.name}.{stamp}"
        n = 0
        while taken and name <= max(taken):   # rotated twice within a second: keep names in age order
            n += 1
            name = f"{path.name}.{stamp}-{n:03d}"
        rotated = path.with_name(name)
        os.rename(path, rotated)
        try:
            await self.cri.runtime.reopen_container_log(container_id)
        except CRIError as exc:
            with contextlib.suppress(OSError):
                os.rename(rotated, path)
            log.warning("container %s: reopening its log failed, rotation undone: %s", container_id, exc.details)
            return False
        self.rotations += 1
        return True

    def _tidy(self, path: Path) -> None:
        """Before a rotation: compress all but the newest rotated file, and drop the oldest so that the
        new rotated file and the current one fit in max_files."""
        for tmp in path.parent.glob(path.name + ".*" + TMP_SUFFIX):
            tmp.unlink(missing_ok=True)
        rotated = rotated_logs(path)
        for p in rotated[:-1]:
            if not p.name.endswith(GZ_SUFFIX):
                _compress(p)
        rotated = rotated_logs(path)
        keep = self.max_files - 2
        excess = len(rotated) - keep
        for p in rotated[:max(excess, 0)]:
            p.unlink(missing_ok=True)
        rotated = rotated_logs(path)
        if rotated and not rotated[-1].name.endswith(GZ_SUFFIX):
            _compress(rotated[-1])
