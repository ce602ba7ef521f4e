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
from tests.robustness.history import Report
from tests.robustness.workload import Run, Starter, free_port, kill_and_restart, run_workload, start_sqlite

BACKENDS: dict[str, Starter] = {"sqlite": start_sqlite}
FAULTS: dict[str, Callable[[Starter], Callable[[Run], None] | None]] = {
    "none": lambda start: None,
    "kill-apiserver": kill_and_restart,
}


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

    @property
    def acknowledged(self) -> int:
        return sum(n for (_, outcome), n in self.writes.items() if outcome == "ok")

    @property
    def lost(self) -> int:
        return sum(1 for v in self.violations if v.check == "lost")

    def line(self) -> str:
        by_check = Counter(v.check for v in self.violations)
        return (f"{self.backend:7} {self.fault:15} seed={self.seed:<4} {self.seconds:5.1f}s "
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
    own = server is None
    cluster = start(None, free_port()) if server is None else server[0]
    t0 = time.monotonic()
    run: Run | None = None
    try:
        run = run_workload(cluster, f"robust-{backend}-{fault}-{seed}", FAULTS[fault](start), before=before,
                           after=after, seed=seed, watch_list=watch_list)
    finally:
        current = run.ep.cluster if run is not None else cluster
        if server is not None:
            server[0] = current
        if own:
            current.stop()
            cluster.stop()
            shutil.rmtree(cluster.data_dir, ignore_errors=True)
    report = run.report
    unverified: list[str] = []
    violations = check_watch(report) + check_writes(report, unverified)
    return Summary(backend, fault, seed, time.monotonic() - t0, report, violations, unverified,
                   Counter((w.kind, w.outcome) for w in report.writes), run.ep.cluster is not cluster)
