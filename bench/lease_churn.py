"""Bounded growth of the SQLite store under lease churn (k3s#10396: a 12 GB state.db from Lease renewals).

1,000 coordination.k8s.io Leases (kubelet-style node leases, ~0.7 KB each) renewed every 10 s for a
simulated hour: 360 rounds, 360k compare-and-swap updates, each round's 1,000 renewals in parallel (so
they group-commit, as concurrent API requests do). Time is simulated: the store's own periodic compactor is
off, and the benchmark compacts as it would, every `compact_interval` simulated seconds to
`current - compact_keep`, with the server's defaults (SQLiteStorage's: 300 s and 1,000 revisions).

Prints, every 5 simulated minutes, the database file size (db + wal) and the log rows, just before the
compaction of that tick (the peak of the cycle) and after it; at the end the ratio
size(end) / size(after 10 min), for the peaks and after compaction. Expected: flat, ratio ~1.
The same churn with compaction off is run for comparison (the log keeps every version: linear growth).

The database lives on tmpfs (/dev/shm) when there is one: sizes are the same as on disk, and the run is
not bound by this machine's fsync latency (the WAL is checkpointed every ~1000 pages).

Usage: .venv/bin/python bench/lease_churn.py [--leases 1000] [--minutes 60] [--period 10] [--no-raw]
       [--dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import os
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kijabi.storage.sqlite import SQLiteStorage

_DEFAULTS = inspect.signature(SQLiteStorage.__init__).parameters
COMPACT_INTERVAL = float(_DEFAULTS["compact_interval"].default)
COMPACT_KEEP = int(_DEFAULTS["compact_keep"].default)
REPORT_EVERY = 300.0  # simulated seconds between size lines
EPOCH = 1_800_000_000.0  # simulated wall clock at the start


def file_size(path: str) -> int:
    return sum(os.path.getsize(path + s) for s in ("", "-wal") if os.path.exists(path + s))


def log_rows(path: str) -> int:
    with sqlite3.connect(path) as raw:
        return int(raw.execute("SELECT count(*) FROM kine").fetchall()[0][0])


def stamp(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1e6) % 1_000_000:06d}Z"


def lease(i: int, now: float) -> bytes:
    """A node lease as the API server stores it (no resourceVersion), renewed at `now`."""
    node = f"node-{i:05d}"
    return orjson.dumps({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node,
            "namespace": "kube-node-lease",
            "uid": f"6f1c2a4e-0000-4000-8000-{i:012d}",
            "creationTimestamp": stamp(EPOCH)[:19] + "Z",
            "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": node,
                                 "uid": f"0b7d9e21-0000-4000-8000-{i:012d}"}],
            "managedFields": [{"manager": "kubelet", "operation": "Update", "apiVersion": "coordination.k8s.io/v1",
                               "time": stamp(now)[:19] + "Z", "fieldsType": "FieldsV1",
                               "fieldsV1": {"f:metadata": {"f:ownerReferences": {".": {}, f"k:{{\"uid\":\"{i}\"}}": {}}},
                                            "f:spec": {"f:holderIdentity": {}, "f:leaseDurationSeconds": {},
                                                       "f:renewTime": {}}}}],
        },
        "spec": {"holderIdentity": node, "leaseDurationSeconds": 40, "renewTime": stamp(now)},
    })  # fmt: skip


@dataclass
class Sample:
    minute: float
    peak: int  # db + wal before this tick's compaction
    after: int  # after it (== peak without compaction)
    rows_peak: int
    rows_after: int


@dataclass
class Result:
    samples: list[Sample] = field(default_factory=list)
    updates: int = 0
    seconds: float = 0.0


async def churn(path: str, *, leases: int, minutes: float, period: float, compaction: bool, quiet: bool = False) -> Result:
    """Renew `leases` leases every `period` simulated seconds for `minutes`; compact like the server if
    `compaction`. Returns the size samples (one per REPORT_EVERY simulated seconds)."""
    result = Result()
    rounds = int(minutes * 60 / period)
    keys = [f"/registry/leases/kube-node-lease/node-{i:05d}" for i in range(leases)]
    t0 = time.monotonic()
    async with SQLiteStorage(path, compact_interval=0) as store:
        kvs = list(await asyncio.gather(*(store.create(k, lease(i, EPOCH)) for i, k in enumerate(keys))))
        next_compaction = COMPACT_INTERVAL
        next_report = REPORT_EVERY
        for r in range(1, rounds + 1):
            now = r * period
            kvs = list(await asyncio.gather(*(
                store.update(kv.key, lease(i, EPOCH + now), expected_revision=kv.mod_revision)
                for i, kv in enumerate(kvs)
            )))  # fmt: skip
            result.updates += len(kvs)
            if now < next_report and now < next_compaction:
                continue
            peak, rows_peak = file_size(path), log_rows(path)
            if compaction and now >= next_compaction:
                next_compaction += COMPACT_INTERVAL
                target = await store.current_revision() - COMPACT_KEEP
                if target > await store.compacted_revision():
                    await store.compact(target)
            if now >= next_report:
                next_report += REPORT_EVERY
                s = Sample(now / 60, peak, file_size(path), rows_peak, log_rows(path))
                result.samples.append(s)
                if not quiet:
                    line = f"  {s.minute:4.0f} min  updates={result.updates:7}  db+wal {mb(s.peak):>9} ({s.rows_peak:6} rows)"
                    if compaction:
                        line += f"  after compaction {mb(s.after):>8} ({s.rows_after:5} rows)"
                    print(line, flush=True)
    result.seconds = time.monotonic() - t0
    return result


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def ratio(samples: list[Sample], attr: str, at_minute: float = 10) -> float:
    base = next(s for s in samples if s.minute >= at_minute)
    return float(getattr(samples[-1], attr)) / float(getattr(base, attr))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--leases", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=60.0, help="simulated minutes")
    p.add_argument("--period", type=float, default=10.0, help="simulated seconds between renewals")
    p.add_argument("--no-raw", action="store_true", help="skip the run without compaction")
    p.add_argument("--dir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                   help="where to put the database files (default: /dev/shm, else the temp dir)")
    args = p.parse_args()
    print(f"{args.leases} leases renewed every {args.period:.0f} s for {args.minutes:.0f} simulated minutes; "
          f"compaction every {COMPACT_INTERVAL:.0f} s to current - {COMPACT_KEEP} (the server's defaults)")
    with tempfile.TemporaryDirectory(prefix="kijabi-lease-churn-", dir=args.dir) as tmp:
        print("with compaction:")
        on = asyncio.run(churn(str(Path(tmp) / "on.db"), leases=args.leases, minutes=args.minutes,
                               period=args.period, compaction=True))
        off = None
        if not args.no_raw:
            print("without compaction (raw log growth):")
            off = asyncio.run(churn(str(Path(tmp) / "off.db"), leases=args.leases, minutes=args.minutes,
                                    period=args.period, compaction=False))
    print()
    print(f"with compaction:    {on.updates} updates in {on.seconds:.0f} s ({on.updates / on.seconds:,.0f}/s); "
          f"end {mb(on.samples[-1].after)} after compaction, {mb(on.samples[-1].peak)} peak")
    print(f"  size(end) / size(10 min): {ratio(on.samples, 'after'):.2f} after compaction, "
          f"{ratio(on.samples, 'peak'):.2f} peak (expected ~1: flat)")
    if off is not None:
        print(f"without compaction: {off.updates} updates in {off.seconds:.0f} s; end {mb(off.samples[-1].peak)}")
        print(f"  size(end) / size(10 min): {ratio(off.samples, 'peak'):.2f} (linear growth); "
              f"end size vs. with compaction: {off.samples[-1].peak / on.samples[-1].peak:.1f}x the peak")
    return 0


if __name__ == "__main__":
    sys.exit(main())
