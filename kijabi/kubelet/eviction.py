"""Node-pressure eviction (upstream pkg/kubelet/eviction): hard thresholds, pressure conditions, pod ranking.

Every monitoring period the manager observes the signals (memory.available, nodefs.available,
nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available) and compares them with the hard
thresholds (`--eviction-hard`, default memory.available<100Mi, nodefs.available<10%,
nodefs.inodesFree<5%, imagefs.available<15%, imagefs.inodesFree<5%). A met threshold sets its node
condition (MemoryPressure, DiskPressure, PIDPressure), which stays set for the pressure transition
period (5 min) after the last time it was met, and evicts one pod per period:

    memory   pods using more than they request first, then lower priority, then usage above request
    disk     same with ephemeral-storage (writable layer + logs + emptyDir)
    pids     lower priority first, then more processes

The evicted pod is killed at once (grace period 0) and marked Failed with reason Evicted, upstream's
message ("The node was low on resource: memory. Threshold quantity: 100Mi, available: 51200Ki. Container
x was using 1Gi, request is 0, has larger consumption of memory.") and a DisruptionTarget condition.
Under pressure, admission refuses new BestEffort pods (memory pressure) or every new pod (disk, PID).

Observation, per-pod usage, the active pods and the eviction itself are injected callables.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kijabi.kubelet import machine, podutil
from kijabi.machinery.quantity import BINARY_SI, Quantity

log = logging.getLogger(__name__)

Pod = Mapping[str, Any]

SIGNAL_CONDITION = {
    "memory.available": "MemoryPressure",
    "nodefs.available": "DiskPressure",
    "nodefs.inodesFree": "DiskPressure",
    "imagefs.available": "DiskPressure",
    "imagefs.inodesFree": "DiskPressure",
    "pid.available": "PIDPressure",
}
SIGNAL_RESOURCE = {
    "memory.available": "memory",
    "nodefs.available": "ephemeral-storage",
    "nodefs.inodesFree": "inodes",
    "imagefs.available": "ephemeral-storage",
    "imagefs.inodesFree": "inodes",
    "pid.available": "pids",
}
SIGNAL_ORDER = ("memory.available", "nodefs.available", "nodefs.inodesFree", "imagefs.available",
                "imagefs.inodesFree", "pid.available")


@dataclass(frozen=True)
class Threshold:
    signal: str
    quantity: int | None = None        # absolute (bytes, inodes, pids)
    percentage: float | None = None    # share of capacity, 0..1
    text: str = ""

    def value(self, capacity: int) -> int:
        if self.quantity is not None:
            return self.quantity
        return int(capacity * (self.percentage or 0.0))


def parse_thresholds(spec: Mapping[str, str]) -> list[Threshold]:
    out = []
    for signal, raw in spec.items():
        if signal not in SIGNAL_CONDITION:
            raise ValueError(f"unsupported eviction signal {signal!r}")
        raw = raw.strip()
        if raw.endswith("%"):
            out.append(Threshold(signal, percentage=float(raw[:-1]) / 100.0, text=raw))
        else:
            out.append(Threshold(signal, quantity=podutil.quantity(raw).value(), text=raw))
    return out


def parse_flag(text: str) -> dict[str, str]:
    """`memory.available<100Mi,nodefs.available<10%` -> {signal: threshold}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        signal, sep, value = part.partition("<")
        if not sep:
            raise ValueError(f"invalid eviction threshold {part!r} (want signal<quantity)")
        out[signal.strip()] = value.strip()
    return out


@dataclass(frozen=True)
class Observation:
    available: int
    capacity: int


@dataclass(frozen=True)
class PodUsage:
    memory: int = 0                     # working set bytes
    disk: int = 0                       # bytes
    pids: int = 0
    containers: Mapping[str, tuple[int, int]] = field(default_factory=dict)   # name -> (memory, disk)


def observe_node(data_dir: Path, image_dir: Path) -> dict[str, Observation]:
    """The signals of this machine, now."""
    info = machine.meminfo()
    capacity = info.get("MemTotal", 0)
    out = {"memory.available": Observation(max(capacity - machine.memory_working_set(capacity), 0), capacity)}
    node = machine.fs_stats(data_dir)
    out["nodefs.available"] = Observation(node.available_bytes, node.capacity_bytes)
    out["nodefs.inodesFree"] = Observation(node.inodes_free, node.inodes)
    image = machine.fs_stats(image_dir)
    out["imagefs.available"] = Observation(image.available_bytes, image.capacity_bytes)
    out["imagefs.inodesFree"] = Observation(image.inodes_free, image.inodes)
    pid_max, running = machine.pid_stats()
    out["pid.available"] = Observation(max(pid_max - running, 0), pid_max)
    return out


def format_bytes(n: int) -> str:
    return str(Quantity(n, 0, BINARY_SI))


class EvictionManager:
    def __init__(self, thresholds: Sequence[Threshold], *, observe: Callable[[], Mapping[str, Observation]],
                 pod_usage: Callable[[], Awaitable[Mapping[str, PodUsage]]],
                 active_pods: Callable[[], Sequence[Pod]],
                 evict: Callable[[Pod, str], Awaitable[None]],
                 transition_period: float = 300.0, clock: Callable[[], float] = time.monotonic,
                 on_pressure_change: Callable[[], None] = lambda: None) -> None:
        self.thresholds = list(thresholds)
        self.observe = observe
        self.pod_usage = pod_usage
        self.active_pods = active_pods
        self.evict = evict
        self.transition_period = transition_period
        self.clock = clock
        self._last_met: dict[str, float] = {}
        self.on_pressure_change = on_pressure_change
        self.last_observations: Mapping[str, Observation] = {}
        self.evictions = 0

    def pressure(self) -> dict[str, bool]:
        now = self.clock()
        return {cond: now - t < self.transition_period for cond, t in self._last_met.items()}

    def admit(self, pod: Pod) -> tuple[bool, str, str]:
        """(admitted, reason, message) for a new pod under the current pressure."""
        under = sorted(c for c, v in self.pressure().items() if v)
        if not under:
            return True, "", ""
        if podutil.spec(pod).get("priorityClassName") in ("system-node-critical", "system-cluster-critical"):
            return True, "", ""
        if under == ["MemoryPressure"] and podutil.qos_class(pod) != podutil.BEST_EFFORT:
            return True, "", ""
        if under == ["MemoryPressure"] and any(
                t.get("key") == "node.kubernetes.io/memory-pressure" and t.get("effect") == "NoSchedule"
                for t in podutil.spec(pod).get("tolerations") or []):
            return True, "", ""
        return False, "Evicted", f"The node was low on resource: [{', '.join(under)}]. "

    def met(self, observations: Mapping[str, Observation]) -> list[Threshold]:
        out = []
        for t in self.thresholds:
            obs = observations.get(t.signal)
            if obs is not None and obs.available < t.value(obs.capacity):
                out.append(t)
        return sorted(out, key=lambda t: SIGNAL_ORDER.index(t.signal))

    async def synchronize(self) -> Pod | None:
        """One monitoring pass; returns the evicted pod, if any."""
        observations = await asyncio.to_thread(self.observe)   # /proc, cgroup files, statvfs: off the loop
        self.last_observations = observations
        met = self.met(observations)
        now = self.clock()
        before = self.pressure()
        for t in met:
            self._last_met[SIGNAL_CONDITION[t.signal]] = now
        if self.pressure() != before:
            self.on_pressure_change()
        if not met:
            return None
        threshold = met[0]
        pods = [p for p in self.active_pods() if not podutil.is_static(p)
                and podutil.spec(p).get("priorityClassName") not in ("system-node-critical",)]
        if not pods:
            log.warning("eviction: threshold %s<%s met but there is no pod to evict", threshold.signal, threshold.text)
            return None
        usage = await self.pod_usage()
        victim = rank(pods, usage, threshold.signal)[0]
        obs = observations[threshold.signal]
        message = self.message(victim, usage.get(podutil.uid(victim), PodUsage()), threshold, obs)
        log.warning("evicting pod %s: %s", podutil.full_name(victim), message)
        await self.evict(victim, message)
        self.evictions += 1
        return victim

    @staticmethod
    def message(pod: Pod, usage: PodUsage, t: Threshold, obs: Observation) -> str:
        resource = SIGNAL_RESOURCE[t.signal]
        if resource in ("memory", "ephemeral-storage"):
            avail = format_bytes(obs.available)
        else:
            avail = str(obs.available)
        text = f"The node was low on resource: {resource}. Threshold quantity: {t.text}, available: {avail}. "
        if resource in ("memory", "ephemeral-storage"):
            idx = 0 if resource == "memory" else 1
            for c in podutil.containers(pod):
                name = str(c.get("name", ""))
                used = usage.containers.get(name)
                if used is None:
                    continue
                req = podutil.resource(c, "requests", resource)
                req_value = req.value() if req is not None else 0
                if used[idx] > req_value:
                    text += (f"Container {name} was using {format_bytes(used[idx])}, request is "
                             f"{req if req is not None else 0}, has larger consumption of {resource}. ")
        return text

    async def run(self, period: float) -> None:
        while True:
            try:
                await self.synchronize()
            except Exception:
                log.exception("eviction manager pass failed")
            await asyncio.sleep(period)


def rank(pods: Sequence[Pod], usage: Mapping[str, PodUsage], signal: str) -> list[Pod]:
    resource = SIGNAL_RESOURCE[signal]

    def request(p: Pod, name: str) -> int:
        q = podutil.pod_requests(p).get(name)
        return q.value() if q is not None else 0

    def key(p: Pod) -> tuple[int, int, int]:
        u = usage.get(podutil.uid(p), PodUsage())
        priority = int(podutil.spec(p).get("priority") or 0)
        if resource == "memory":
            used, req = u.memory, request(p, "memory")
        elif resource == "ephemeral-storage":
            used, req = u.disk, request(p, "ephemeral-storage")
        else:
            return (0, priority, -u.pids)
        exceeds = 0 if used > req else 1
        return (exceeds, priority, -(used - req))

    return sorted(pods, key=key)
