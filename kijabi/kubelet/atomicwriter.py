"""Atomic writes of a volume's files (configMap, secret, downwardAPI, projected), as upstream's AtomicWriter.

A reader of the volume sees either the old set of files or the new one, never a mix:

    <dir>/..2026_11_28_03_46_15.123456789/   the files of one version (a fresh directory per write)
    <dir>/..data -> ..2026_11_28_...          swapped atomically: symlink ..data_tmp, then rename()
    <dir>/<key>  -> ..data/<key>              one symlink per top-level name of the payload

`write(payload)` does nothing (returns False) when the files already hold exactly the payload, so
calling it on every pod sync is cheap. Payload paths are relative, without `..` elements, and must not
start with `..`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"


@dataclass(frozen=True)
class FileProjection:
    data: bytes
    mode: int = 0o644
    uid: int = -1
    gid: int = -1


class PayloadError(ValueError):
    """A payload path is not acceptable."""


def _validate(path: str) -> None:
    if not path or path.startswith("/") or path.startswith(".."):
        raise PayloadError(f"invalid path {path!r}: must be relative and may not start with '..'")
    if any(part == ".." for part in path.split("/")):
        raise PayloadError(f"invalid path {path!r}: must not contain '..'")
    if len(path) > 4096:
        raise PayloadError("path too long")


def _current(target: Path) -> Path | None:
    link = target / DATA_DIR
    try:
        name = os.readlink(link)
    except OSError:
        return None
    return target / name


def _matches(ts_dir: Path, payload: Mapping[str, FileProjection]) -> bool:
    seen: set[str] = set()
    for root, _dirs, files in os.walk(ts_dir):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), ts_dir)
            seen.add(rel)
            proj = payload.get(rel)
            if proj is None:
                return False
            p = Path(root) / f
            try:
                st = p.stat()
                if (st.st_mode & 0o7777) != proj.mode or p.read_bytes() != proj.data:
                    return False
                if proj.gid >= 0 and st.st_gid != proj.gid:
                    return False
            except OSError:
                return False
    return seen == set(payload)


def write(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """Make `target` hold exactly `payload`; returns whether anything changed."""
    for path in payload:
        _validate(path)
    target.mkdir(parents=True, exist_ok=True)
    old = _current(target)
    top_level = {p.split("/", 1)[0] for p in payload}
    if old is not None and old.is_dir() and _matches(old, payload) and all(
            (target / name).is_symlink() for name in top_level):
        return False
    stamp = _dt.datetime.now(_dt.UTC).strftime("..%Y_%m_%d_%H_%M_%S.%f")
    new = target / stamp
    n = 0
    while new.exists():
        n += 1
        new = target / f"{stamp}{n}"
    new.mkdir(mode=0o755)
    for rel, proj in payload.items():
        f = new / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(proj.data)
        os.chmod(f, proj.mode)
        if proj.uid >= 0 or proj.gid >= 0:
            os.chown(f, proj.uid, proj.gid)
    tmp = target / DATA_TMP
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    os.symlink(new.name, tmp)
    os.rename(tmp, target / DATA_DIR)
    for name in top_level:
        link = target / name
        if not link.is_symlink():
            if link.exists():
                shutil.rmtree(link) if link.is_dir() else link.unlink()
            os.symlink(f"{DATA_DIR}/{name}", link)
    for entry in os.listdir(target):
        p = target / entry
        if entry.startswith(".."):
            continue
        if entry not in top_level and p.is_symlink():
            p.unlink()
    if old is not None and old != new and old.name.startswith("..") and old.exists():
        shutil.rmtree(old, ignore_errors=True)
    return True
