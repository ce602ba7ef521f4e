"""One robustness run end to end: start a server on a backend, drive the workload with a fault, judge it.

Shared by tests/robustness/test_faults.py (the short form) and bench/robustness.py (the long form).
Backends and faults are looked up by name, so that the etcd backend and its faults (leader kill, a second
API server) are added here as entries without touching the callers.
"""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.e2e.cluster import Cluster
from tests.robustness.checker import Violation, check_watch, check_writes
from tests.robustness.etcd_faults import EtcdBackend, KillEtcdLeader, SecondAPIServer
from tests.robustness.history import Report
from tests.robustness.workload import (
    Endpoint,
    Fault,
    Run,
    Starter,
    drive,
    free_port,
    kill_and_restart,
    start_sqlite,
)

BACKENDS: dict[str, Starter] = {"sqlite": start_sqlite, "etcd": EtcdBackend()}
FAULTS: dict[str, Callable[[Starter], Fault | None]] = {
    "none": lambda start: None,
    "kill-apiserver": kill_and_restart,
    "kill-etcd-leader": KillEtcdLeader,
    "second-apiserver": SecondAPIServer,
}
BACKEND_FAULTS = {"sqlite": ("none", "kill-apiserver"), "etcd": tuple(FAULTS)}
"""The faults that apply to each backend."""


def close_backends() -> None:
    """End what the backends started for their servers (the etcd cluster)."""
    for start in BACKENDS.values():
        if isinstance(start, EtcdBackend):
            start.close()


@dataclass
class Summary:
    backend: str
    fault: str
    seed: int
    seconds: float
    report: Report
    violations: list[Violation]
    unverified: list[str]
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)
    restarted: bool = False
    """The run ended on another API server process than it began with."""
    notes: list[str] = field(default_factory=list)
    """What the fault did."""

    @property
    def acknowledged(self) -> int:
        return sum(n for (_, outcome), n in self.writes.items() if outcome == "ok")

    @property
    def lost(self) -> int:
        return sum(1 for v in self.violations if v.check == "lost")

    def line(self) -> str:
        by_check = Counter(v.check for v in self.violations)
        return (f"{self.backend:6} {self.fault:16} seed={self.seed:<4} {self.seconds:5.1f}s "
                f"acked={self.acknowledged:5} unknown={sum(n for (_, o), n in self.writes.items() if o == 'unknown'):3} "
                f"streams={len(self.report.streams):3} lists={len(self.report.lists):2} "
                f"unverified={len(self.unverified):3} violations={dict(by_check) or 0}")


def run_once(backend: str, fault: str, *, seed: int = 0, before: float = 3.0, after: float = 3.0,
             watch_list: bool = False, server: list[Cluster] | None = None) -> Summary:
    """The workload with `fault` injected after `before` seconds, then `after` seconds more, in a fresh
    namespace. By default on a fresh server on `backend`, stopped (and its data dir removed) before
    returning; `server`: a one-element list holding a running server of that backend to use instead,
    left running (replaced in the list if the fault restarted it)."""
    start = BACKENDS[backend]
    if fault not in BACKEND_FAULTS[backend]:
        raise ValueError(f"fault {fault} does not apply to backend {backend}")
    own = server is None
    cluster = start(None, free_port()) if server is None else server[0]
    t0 = time.monotonic()
    run = Run(f"robust-{backend}-{fault}-{seed}", Endpoint(cluster))
    try:
        drive(run, FAULTS[fault](start), before=before, after=after, seed=seed, watch_list=watch_list)
    finally:
        current = run.ep.cluster  # the restarted server, or the one that took over, also after a failure
        if server is not None:
            server[0] = current
        if own:
            current.stop()
            cluster.stop()
            shutil.rmtree(cluster.data_dir, ignore_errors=True)
            shutil.rmtree(current.data_dir, ignore_errors=True)
    report = run.report
    unverified: list[str] = []
    violations = check_watch(report) + check_writes(report, unverified)
    return Summary(backend, fault, seed, time.monotonic() - t0, report, violations, unverified,
                   Counter((w.kind, w.outcome) for w in report.writes), run.ep.cluster is not cluster, run.notes)
