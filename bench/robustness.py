"""Fault runs, the long form of tests/robustness: many workload runs through a real API server, each
judged by the watch-guarantee and lost-write checkers (tests/robustness/checker.py).

Each run: a fresh namespace, 8 writers (75% update / 15% delete / 10% create, resourceVersion
preconditions) and 4 list-then-watch clients on ConfigMaps, the fault injected after --before seconds,
--after seconds more, then a sentinel write every watcher must see and a final list. Runs share one
server per backend (a kill-apiserver run restarts it on the same data dir and port), unless --fresh.

Prints one line per run and the totals: acknowledged writes, lost writes, violations per property, and
"unverified" (writes that fell between a broken watch refused with 410 and the re-list, overwritten
before any list: the history cannot show them). Exits 1 if any violation was found.

The etcd backend runs the API servers on a real 3-member etcd cluster on 127.0.0.1 (Debian's etcd-server),
with two more faults: kill -9 of the etcd leader (restarted a second later), and a second API server on
the same cluster serving half of the clients while the first is killed.

Usage: .venv/bin/python bench/robustness.py [--runs 50] [--backend sqlite|etcd]
       [--fault none|kill-apiserver|kill-etcd-leader|second-apiserver]
       [--before 3] [--after 3] [--watch-list] [--fresh] [-v]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.cluster import Cluster
from tests.robustness.checker import PROPERTIES, WRITE_CHECKS
from tests.robustness.runner import BACKEND_FAULTS, BACKENDS, FAULTS, close_backends, run_once
from tests.robustness.workload import free_port


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--backend", choices=sorted(BACKENDS), default="sqlite")
    p.add_argument("--fault", choices=sorted(FAULTS), default="kill-apiserver")
    p.add_argument("--before", type=float, default=3.0, help="seconds of workload before the fault")
    p.add_argument("--after", type=float, default=3.0, help="seconds of workload after the fault")
    p.add_argument("--watch-list", action="store_true", help="the last watcher lists by watch-list (sendInitialEvents)")
    p.add_argument("--fresh", action="store_true", help="a fresh server for every run")
    p.add_argument("--seed", type=int, default=0, help="seed of the first run (run i uses seed+i)")
    p.add_argument("-v", "--verbose", action="store_true", help="print every violation and unverified item")
    args = p.parse_args()
    if args.fault not in BACKEND_FAULTS[args.backend]:
        p.error(f"--fault {args.fault} does not apply to --backend {args.backend} ({', '.join(BACKEND_FAULTS[args.backend])})")

    server: list[Cluster] | None = None if args.fresh else [BACKENDS[args.backend](None, free_port())]
    totals: Counter[str] = Counter()
    acked = unverified = failed_runs = 0
    t0 = time.monotonic()
    try:
        for i in range(args.runs):
            s = run_once(args.backend, args.fault, seed=args.seed + i, before=args.before, after=args.after,
                         watch_list=args.watch_list, server=server)
            print(f"run {i + 1:3}/{args.runs}  {s.line()}", flush=True)
            if args.verbose:
                for note in s.notes:
                    print(f"    fault: {note}")
                for v in s.violations:
                    print(f"    VIOLATION {v}")
                for u in s.unverified:
                    print(f"    unverified {u}")
            totals.update(v.check for v in s.violations)
            acked += s.acknowledged
            unverified += len(s.unverified)
            failed_runs += bool(s.violations)
    finally:
        if server is not None:
            server[0].stop()
            shutil.rmtree(server[0].data_dir, ignore_errors=True)
        close_backends()

    print()
    print(f"{args.runs} runs, backend {args.backend}, fault {args.fault}, {time.monotonic() - t0:.0f} s")
    print(f"acknowledged writes        {acked}")
    print(f"lost acknowledged writes   {totals['lost']}")
    print(f"unverified (history gaps)  {unverified}")
    for name in PROPERTIES:
        print(f"watch {name:20} {totals[name]} violations")
    for name in WRITE_CHECKS:
        if name != "lost":
            print(f"writes/reads {name:13} {totals[name]} violations")
    print(f"runs with a violation      {failed_runs}")
    return 1 if failed_runs else 0


if __name__ == "__main__":
    sys.exit(main())
