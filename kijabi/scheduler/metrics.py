"""Prometheus metrics of the scheduler, in the text exposition format (no client library needed).

Names, labels and buckets follow upstream pkg/scheduler/metrics: scheduler_schedule_attempts_total
{result, profile}, scheduler_scheduling_attempt_duration_seconds{result, profile},
scheduler_pending_pods{queue}, scheduler_pod_scheduling_attempts, scheduler_preemption_attempts_total,
scheduler_preemption_victims, scheduler_scheduling_algorithm_duration_seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence


def exponential_buckets(start: float, factor: float, count: int) -> list[float]:
    return [start * factor**i for i in range(count)]


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "+Inf"
    if v == int(v) and abs(v) < 1e15:
        return str(int(v))
    return repr(v)


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{v}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Counter:
    def __init__(self, name: str, help: str, labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + amount

    def get(self, *labels: str) -> float:
        return self.values.get(labels, 0.0)

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for labels, v in sorted(self.values.items()):
            out.append(f"{self.name}{_labels(self.label_names, labels)} {_fmt(v)}")
        return out


class Gauge:
    """A gauge whose values are read from a callback at scrape time."""

    def __init__(self, name: str, help: str, labels: Sequence[str], read: Callable[[], dict[tuple[str, ...], float]]) -> None:
        self.name, self.help, self.label_names, self.read = name, help, tuple(labels), read

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge"]
        for labels, v in sorted(self.read().items()):
            out.append(f"{self.name}{_labels(self.label_names, labels)} {_fmt(v)}")
        return out


class Histogram:
    def __init__(self, name: str, help: str, buckets: Sequence[float], labels: Sequence[str] = ()) -> None:
        self.name, self.help, self.label_names = name, help, tuple(labels)
        self.buckets = list(buckets)
        self.series: dict[tuple[str, ...], tuple[list[int], list[float]]] = {}

    def observe(self, value: float, *labels: str) -> None:
        counts, acc = self.series.setdefault(labels, ([0] * len(self.buckets), [0.0, 0.0]))
        for i, b in enumerate(self.buckets):
            if value <= b:
                counts[i] += 1
        acc[0] += value
        acc[1] += 1

    def count(self, *labels: str) -> int:
        s = self.series.get(labels)
        return int(s[1][1]) if s else 0

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
        for labels, (counts, (total, n)) in sorted(self.series.items()):
            for b, c in zip(self.buckets, counts, strict=True):
                le = 'le="' + _fmt(b) + '"'
                out.append(f"{self.name}_bucket{_labels(self.label_names, labels, le)} {c}")
            inf = 'le="+Inf"'
            out.append(f"{self.name}_bucket{_labels(self.label_names, labels, inf)} {int(n)}")
            out.append(f"{self.name}_sum{_labels(self.label_names, labels)} {_fmt(total)}")
            out.append(f"{self.name}_count{_labels(self.label_names, labels)} {int(n)}")
        return out


class Metrics:
    """The scheduler's metric families."""

    def __init__(self, pending: Callable[[], dict[str, int]] | None = None) -> None:
        self.schedule_attempts = Counter(
            "scheduler_schedule_attempts_total",
            "Number of attempts to schedule pods, by the result. 'unschedulable' means a pod could not be "
            "scheduled, while 'error' means an internal scheduler problem.", ("profile", "result"))
        self.attempt_duration = Histogram(
            "scheduler_scheduling_attempt_duration_seconds",
            "Scheduling attempt latency in seconds (scheduling algorithm + binding)",
            exponential_buckets(0.001, 2, 15), ("profile", "result"))
        self.algorithm_duration = Histogram(
            "scheduler_scheduling_algorithm_duration_seconds", "Scheduling algorithm latency in seconds",
            exponential_buckets(0.001, 2, 15))
        self.pod_scheduling_attempts = Histogram(
            "scheduler_pod_scheduling_attempts", "Number of attempts to successfully schedule a pod.",
            exponential_buckets(1, 2, 5))
        self.pod_scheduling_sli_duration = Histogram(
            "scheduler_pod_scheduling_sli_duration_seconds",
            "E2e latency for a pod being scheduled, from the time the pod enters the scheduling queue.",
            exponential_buckets(0.01, 2, 20), ("attempts",))
        self.preemption_attempts = Counter("scheduler_preemption_attempts_total",
                                           "Total preemption attempts in the cluster till now")
        self.preemption_victims = Histogram("scheduler_preemption_victims", "Number of selected preemption victims",
                                            exponential_buckets(1, 2, 7))
        self._pending = pending
        self.pending_pods = Gauge(
            "scheduler_pending_pods",
            "Number of pending pods, by the queue type. 'active' means number of pods in activeQ; 'backoff' "
            "means number of pods in backoffQ; 'unschedulable' means number of pods in unschedulablePods "
            "that the scheduler attempted to schedule and failed; 'gated' is the number of unschedulable "
            "pods that the scheduler never attempted to schedule because they are gated.",
            ("queue",), self._read_pending)

    def _read_pending(self) -> dict[tuple[str, ...], float]:
        if self._pending is None:
            return {}
        return {(q,): float(n) for q, n in self._pending().items()}

    def set_pending_source(self, pending: Callable[[], dict[str, int]]) -> None:
        self._pending = pending

    def observe_attempt(self, profile: str, result: str, duration: float) -> None:
        self.schedule_attempts.inc(profile, result)
        self.attempt_duration.observe(duration, profile, result)

    def render(self) -> str:
        lines: list[str] = []
        for m in (self.schedule_attempts, self.attempt_duration, self.algorithm_duration, self.pending_pods,
                  self.pod_scheduling_attempts, self.pod_scheduling_sli_duration, self.preemption_attempts,
                  self.preemption_victims):
            lines.extend(m.render())
        return "\n".join(lines) + "\n"
