"""Pod-level cgroups (cgroupfs driver): <cgroup-root>/kubepods[/burstable|/besteffort]/pod<uid>.

The runtime creates a pod's cgroup implicitly (its sandbox and containers live below it) but never
removes it; the kubelet creates it first with the pod's limits (cgroup v1 memory and cpu controllers:
memory limit = the sum of the containers' limits when every container has one, cpu shares from the
requests, cfs quota when every container has a cpu limit) and removes it, in every hierarchy, once the
pod's sandboxes are gone. Synchronous and quick; failures are logged, never fatal (runc still works).
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kijabi.kubelet import podconfig, podutil
from kijabi.kubelet.cleanup import cgroup_mounts, remove_cgroups

log = logging.getLogger(__name__)


@functools.cache
def _v1(controller: str) -> Path | None:
    """The mount point of a cgroup v1 controller's hierarchy. Cached: hierarchies are mounted at boot and
    never move while a kubelet runs, while the mount table it is read from grows with every pod."""
    for m in cgroup_mounts():
        if m.name == controller and (m / "cgroup.procs").exists():
            return m
    return None


def ensure_pod_cgroup(pod: Mapping[str, Any], parent: str) -> None:
    """Create the pod's cgroup in the memory and cpu hierarchies and write its limits."""
    rel = parent.strip("/")
    containers = podutil.containers(pod)
    mem_limits = [podutil.resource(c, "limits", "memory") for c in containers]
    cpu_limits = [podutil.resource(c, "limits", "cpu") for c in containers]
    requests = podutil.pod_requests(pod)
    memory = _v1("memory")
    if memory is not None:
        d = memory / rel
        with contextlib.suppress(OSError):
            d.mkdir(parents=True, exist_ok=True)
            if containers and all(q is not None and not q.is_zero() for q in mem_limits):
                total = sum(q.value() for q in mem_limits if q is not None)
                _write(d / "memory.limit_in_bytes", str(total))
    cpu = _v1("cpu")
    if cpu is not None:
        d = cpu / rel
        with contextlib.suppress(OSError):
            d.mkdir(parents=True, exist_ok=True)
            req = requests.get("cpu")
            _write(d / "cpu.shares", str(podconfig.milli_cpu_to_shares(req.milli_value() if req is not None else 0)))
            if containers and all(q is not None and not q.is_zero() for q in cpu_limits):
                milli = sum(q.milli_value() for q in cpu_limits if q is not None)
                _write(d / "cpu.cfs_period_us", str(podconfig.QUOTA_PERIOD))
                _write(d / "cpu.cfs_quota_us", str(podconfig.milli_cpu_to_quota(milli)))


def _write(path: Path, value: str) -> None:
    try:
        path.write_text(value)
    except OSError as exc:
        log.debug("writing %s=%s: %s", path, value, exc)


def remove_pod_cgroup(parent: str) -> list[str]:
    """rmdir the pod's cgroup (and what is left below it) in every hierarchy; returns what went."""
    errors: list[str] = []
    removed = remove_cgroups([parent], errors=errors)
    for e in errors:
        log.debug("removing pod cgroup: %s", e)
    return removed


def pod_cgroup_parents(cgroup_root: str) -> list[str]:
    """The QoS-level parents under which pod cgroups live."""
    root = "/" + "/".join(p for p in [cgroup_root.strip("/"), "kubepods"] if p)
    return [root, root + "/burstable", root + "/besteffort"]


def existing_pod_cgroups(cgroup_root: str) -> dict[str, str]:
    """pod uid -> cgroup parent, for every pod cgroup found in the memory (or first) hierarchy."""
    out: dict[str, str] = {}
    base = _v1("memory")
    if base is None:
        mounts = cgroup_mounts()
        base = mounts[0] if mounts else None
    if base is None:
        return out
    for parent in pod_cgroup_parents(cgroup_root):
        d = base / parent.strip("/")
        if not d.is_dir():
            continue
        for child in d.iterdir():
            if child.is_dir() and child.name.startswith("pod"):
                out[child.name[3:]] = f"{parent}/{child.name}"
    return out
