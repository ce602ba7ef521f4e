"""Resource usage from cgroups: the kubelet's /stats/summary, /metrics/resource and node figures.

Reads cgroup v1 (cpuacct.usage, memory.usage_in_bytes/memory.stat) where those controllers are mounted,
else cgroup v2 (cpu.stat, memory.current/memory.stat); the node falls back to /proc when the root cgroup
has no figures (cgroup v2's root has none).

- working set = usage - inactive file pages (cAdvisor's definition, which metrics-server and eviction use);
- usageNanoCores is a rate: the CPU time used between this sample and the previous one of the same
  cgroup (at least MIN_WINDOW apart). For cgroups never sampled, `prime()` takes a first sample; the server
  then waits PRIME_WAIT before the real scrape, so even the first answer has rates.

Paths are cgroupfs paths as the runtime reports them (`/kubepods/pod<uid>/<container id>`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kijabi.kubelet.streaming.lookup import PodEntry

MIN_WINDOW_NS = 50_000_000  # 50 ms between two samples used for a rate
PRIME_WAIT = 0.1            # seconds between a priming sample and the scrape


@dataclass(frozen=True)
class Usage:
    cpu_ns: int | None = None           # cumulative CPU time
    memory_usage: int | None = None
    working_set: int | None = None
    rss: int | None = None
    page_faults: int | None = None
    major_page_faults: int | None = None
    memory_limit: int | None = None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _read_kv(path: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = path.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        try:
            out[key] = int(value.strip())
        except ValueError:
            continue
    return out


@dataclass
class Cgroups:
    """Where the cgroup hierarchies are mounted, found from /proc/self/mountinfo (under `root`)."""

    root: Path = Path("/")
    v1: dict[str, Path] = field(default_factory=dict)  # controller -> mount point
    v2: Path | None = None

    def __post_init__(self) -> None:
        if not self.v1 and self.v2 is None:
            self._discover()

    def _discover(self) -> None:
        try:
            lines = (self.root / "proc/self/mountinfo").read_text().splitlines()
        except OSError:
            return
        for line in lines:
            left, _, right = line.partition(" - ")
            fields = left.split()
            rfields = right.split()
            if len(fields) < 5 or len(rfields) < 3:
                continue
            mount_point = self.root / fields[4].lstrip("/")
            fstype, options = rfields[0], rfields[2].split(",")
            if fstype == "cgroup":
                for opt in options:
                    if opt in ("cpuacct", "memory", "cpu", "pids"):
                        self.v1.setdefault(opt, mount_point)
            elif fstype == "cgroup2" and self.v2 is None:
                self.v2 = mount_point

    def usage(self, path: str) -> Usage:
        """What one cgroup (cgroupfs path, "/" for the root) has used."""
        rel = path.strip("/")
        cpu = memory = None
        stat: dict[str, int] = {}
        limit = None
        if "cpuacct" in self.v1:
            cpu = _read_int(self.v1["cpuacct"] / rel / "cpuacct.usage")
        elif self.v2 is not None:
            usec = _read_kv(self.v2 / rel / "cpu.stat").get("usage_usec")
            cpu = usec * 1000 if usec is not None else None
        if "memory" in self.v1:
            base = self.v1["memory"] / rel
            memory = _read_int(base / "memory.usage_in_bytes")
            raw = _read_kv(base / "memory.stat")
            stat = {"inactive_file": raw.get("total_inactive_file", 0), "rss": raw.get("total_rss", 0),
                    "pgfault": raw.get("total_pgfault", 0), "pgmajfault": raw.get("total_pgmajfault", 0)}
            limit = _read_int(base / "memory.limit_in_bytes")
            if limit is not None and limit >= 1 << 62:
                limit = None
        elif self.v2 is not None:
            base = self.v2 / rel
            memory = _read_int(base / "memory.current")
            raw = _read_kv(base / "memory.stat")
            stat = {"inactive_file": raw.get("inactive_file", 0), "rss": raw.get("anon", 0),
                    "pgfault": raw.get("pgfault", 0), "pgmajfault": raw.get("pgmajfault", 0)}
            limit = _read_int(base / "memory.max")
        working = max(0, memory - stat.get("inactive_file", 0)) if memory is not None else None
        return Usage(cpu, memory, working, stat.get("rss") if memory is not None else None,
                     stat.get("pgfault") if memory is not None else None,
                     stat.get("pgmajfault") if memory is not None else None, limit)


def _meminfo(root: Path) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = (root / "proc/meminfo").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            try:
                out[key] = int(parts[0]) * (1024 if len(parts) > 1 else 1)
            except ValueError:
                continue
    return out


def _proc_cpu_ns(root: Path) -> int | None:
    try:
        first = (root / "proc/stat").read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not first or first[0] != "cpu":
        return None
    values = [int(v) for v in first[1:]]
    busy = sum(values) - values[3] - (values[4] if len(values) > 4 else 0)  # minus idle and iowait
    return busy * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


@dataclass
class StatsProvider:
    """Samples cgroups and builds the Summary API document and resource metrics."""

    node_name: str
    cgroups: Cgroups = field(default_factory=Cgroups)
    clock: Callable[[], int] = time.time_ns
    boot_time: float = field(default_factory=lambda: time.time() - time.monotonic())
    _samples: dict[str, tuple[int, int]] = field(default_factory=dict)
    _rates: dict[str, int] = field(default_factory=dict)

    def _rate(self, key: str, now: int, cpu_ns: int | None) -> int | None:
        if cpu_ns is None:
            return None
        prev = self._samples.get(key)
        if prev is None:
            self._samples[key] = (now, cpu_ns)
            return None
        elapsed = now - prev[0]
        if elapsed < MIN_WINDOW_NS:
            return self._rates.get(key)
        rate = max(0, (cpu_ns - prev[1]) * 1_000_000_000 // elapsed)
        self._samples[key] = (now, cpu_ns)
        self._rates[key] = rate
        return rate

    def prime(self, pods: list[PodEntry]) -> bool:
        """Take a first CPU sample of every cgroup (node included) that has none; True if any was new."""
        now = self.clock()
        fresh = False
        keys = [("node", "/")] + [(c.cgroup, c.cgroup) for e in pods for c in e.containers if c.cgroup]
        keys += [(e.sandbox.cgroup, e.sandbox.cgroup) for e in pods if e.sandbox.cgroup]
        for key, path in keys:
            if key in self._samples:
                continue
            cpu = self.node_usage().cpu_ns if key == "node" else self.cgroups.usage(path).cpu_ns
            if cpu is not None:
                self._samples[key] = (now, cpu)
                fresh = True
        return fresh

    def forget(self, live: Iterable[str]) -> None:
        keep = set(live) | {"node"}
        for key in [k for k in self._samples if k not in keep]:
            self._samples.pop(key, None)
            self._rates.pop(key, None)

    def node_usage(self) -> Usage:
        usage = self.cgroups.usage("/")
        root = self.cgroups.root
        cpu = usage.cpu_ns if usage.cpu_ns is not None else _proc_cpu_ns(root)
        mem = _meminfo(root)
        if usage.working_set is None and mem:
            total, available = mem.get("MemTotal", 0), mem.get("MemAvailable", 0)
            return Usage(cpu, total - mem.get("MemFree", 0), total - available, None, None, None, total)
        return Usage(cpu, usage.memory_usage, usage.working_set, usage.rss, usage.page_faults,
                     usage.major_page_faults, mem.get("MemTotal"))

    # -- Summary API ---------------------------------------------------------------------------------

    def _cpu(self, key: str, now: int, usage: Usage, stamp: str) -> dict[str, Any]:
        out: dict[str, Any] = {"time": stamp}
        rate = self._rate(key, now, usage.cpu_ns)
        if rate is not None:
            out["usageNanoCores"] = rate
        if usage.cpu_ns is not None:
            out["usageCoreNanoSeconds"] = usage.cpu_ns
        return out

    @staticmethod
    def _memory(usage: Usage, stamp: str, capacity: int | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"time": stamp}
        limit = capacity if capacity is not None else usage.memory_limit
        if limit is not None and usage.working_set is not None:
            out["availableBytes"] = max(0, limit - usage.working_set)
        for key, value in (("usageBytes", usage.memory_usage), ("workingSetBytes", usage.working_set),
                           ("rssBytes", usage.rss), ("pageFaults", usage.page_faults),
                           ("majorPageFaults", usage.major_page_faults)):
            if value is not None:
                out[key] = value
        return out

    def summary(self, pods: list[PodEntry]) -> dict[str, Any]:
        now = self.clock()
        stamp = _rfc3339(now)
        node = self.node_usage()
        doc: dict[str, Any] = {
            "node": {
                "nodeName": self.node_name,
                "startTime": _rfc3339(int(self.boot_time * 1e9)),
                "cpu": self._cpu("node", now, node, stamp),
                "memory": self._memory(node, stamp, node.memory_limit),
                "systemContainers": [],
            },
            "pods": [],
        }
        live: list[str] = []
        for entry in pods:
            sb = entry.sandbox
            containers: list[dict[str, Any]] = []
            for c in entry.containers:
                if not c.cgroup:
                    continue
                live.append(c.cgroup)
                usage = self.cgroups.usage(c.cgroup)
                containers.append({
                    "name": c.name, "startTime": _rfc3339(c.started_at) if c.started_at else stamp,
                    "cpu": self._cpu(c.cgroup, now, usage, stamp), "memory": self._memory(usage, stamp),
                })
            pod: dict[str, Any] = {
                "podRef": {"name": sb.name, "namespace": sb.namespace, "uid": sb.uid},
                "startTime": min((c["startTime"] for c in containers), default=stamp),
                "containers": containers,
            }
            if sb.cgroup:
                live.append(sb.cgroup)
                usage = self.cgroups.usage(sb.cgroup)
                pod["cpu"] = self._cpu(sb.cgroup, now, usage, stamp)
                pod["memory"] = self._memory(usage, stamp)
            doc["pods"].append(pod)
        self.forget(live)
        return doc

    # -- Prometheus ----------------------------------------------------------------------------------

    def resource_metrics(self, pods: list[PodEntry]) -> str:
        """The kubelet's /metrics/resource (what metrics-server scrapes), Prometheus text format."""
        now_ms = self.clock() // 1_000_000
        node = self.node_usage()
        out = _Metrics()
        out.family("container_cpu_usage_seconds_total", "counter",
                   "[STABLE] Cumulative cpu time consumed by the container in core-seconds")
        out.family("container_memory_working_set_bytes", "gauge",
                   "[STABLE] Current working set of the container in bytes")
        out.family("container_start_time_seconds", "gauge", "[STABLE] Start time of the container since unix epoch in seconds")
        out.family("node_cpu_usage_seconds_total", "counter",
                   "[STABLE] Cumulative cpu time consumed by the node in core-seconds")
        out.family("node_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the node in bytes")
        out.family("pod_cpu_usage_seconds_total", "counter",
                   "[STABLE] Cumulative cpu time consumed by the pod in core-seconds")
        out.family("pod_memory_working_set_bytes", "gauge", "[STABLE] Current working set of the pod in bytes")
        out.family("scrape_error", "gauge", "[ALPHA] 1 if there was an error while getting container metrics, 0 otherwise")
        for entry in pods:
            sb = entry.sandbox
            for c in entry.containers:
                if not c.cgroup:
                    continue
                usage = self.cgroups.usage(c.cgroup)
                lbl = {"container": c.name, "namespace": sb.namespace, "pod": sb.name}
                if usage.cpu_ns is not None:
                    out.sample("container_cpu_usage_seconds_total", lbl, usage.cpu_ns / 1e9, now_ms)
                if usage.working_set is not None:
                    out.sample("container_memory_working_set_bytes", lbl, usage.working_set, now_ms)
                if c.started_at:
                    out.sample("container_start_time_seconds", lbl, c.started_at / 1e9, now_ms)
            if sb.cgroup:
                usage = self.cgroups.usage(sb.cgroup)
                lbl = {"namespace": sb.namespace, "pod": sb.name}
                if usage.cpu_ns is not None:
                    out.sample("pod_cpu_usage_seconds_total", lbl, usage.cpu_ns / 1e9, now_ms)
                if usage.working_set is not None:
                    out.sample("pod_memory_working_set_bytes", lbl, usage.working_set, now_ms)
        if node.cpu_ns is not None:
            out.sample("node_cpu_usage_seconds_total", {}, node.cpu_ns / 1e9, now_ms)
        if node.working_set is not None:
            out.sample("node_memory_working_set_bytes", {}, node.working_set, now_ms)
        out.sample("scrape_error", {}, 0, None)
        return out.text()


class _Metrics:
    """A tiny Prometheus text-format writer: families in declaration order, samples under them."""

    def __init__(self) -> None:
        self._families: dict[str, tuple[str, str, list[str]]] = {}

    def family(self, name: str, kind: str, help_text: str) -> None:
        self._families[name] = (kind, help_text, [])

    def sample(self, name: str, labels: dict[str, str], value: float, timestamp_ms: int | None) -> None:
        text = name
        if labels:
            text += "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"
        text += f" {_number(value)}"
        if timestamp_ms is not None:
            text += f" {timestamp_ms}"
        self._families[name][2].append(text)

    def text(self) -> str:
        lines: list[str] = []
        for name, (kind, help_text, samples) in self._families.items():
            lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}", *samples]
        return "\n".join(lines) + "\n"


def prometheus_text(families: Iterable[tuple[str, str, str, list[tuple[dict[str, str], float]]]]) -> str:
    """Families of (name, type, help, [(labels, value)]) in the Prometheus text format."""
    out = _Metrics()
    for name, kind, help_text, samples in families:
        out.family(name, kind, help_text)
        for labels, value in samples:
            out.sample(name, labels, value, None)
    return out.text()


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def _rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))
