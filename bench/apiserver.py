"""Benchmark of the API server: a real `kijabi apiserver` process driven over HTTPS, against raw SQLite.

Each run starts a fresh `kijabi apiserver` (own data dir, free loopback port, embedded SQLite store) and
drives it with aiohttp (client certificate from the kubeconfig it wrote, keep-alive pool, 64 concurrent
workers, ~4 KB pods with several containers, env, probes, resources and labels, in one namespace):

    creates     --pods pod creates (POST), 64 workers: creates/s, latency p50/p99
    gets        --gets GETs of random stored pods, 64 workers: gets/s, latency p50/p99
    list        the namespace's --pods pods in one request, as JSON and as a Table: median of 5 each
    rss         the apiserver's VmRSS with the pods stored and after the lists, and its peak in each phase
    watch       --watchers watches on pods from the list's resourceVersion, then --watch-writes writes (half
                creates, half merge patches of those pods): every watcher must get every event; total
                events delivered per second
    raw store   after the server stopped, the very values it stored, inserted with plain sqlite3 on the
                same schema and pragmas (one transaction per row, and 64 rows per transaction), plus raw
                point gets and a raw SELECT of the same rows: the baselines of the ratios
    pipeline    the same creates without HTTP: a child process builds the API server's store and watch
                cache on a fresh database and runs each body through what the POST handler does (decode,
                type checks, defaults, admission, validation, managedFields, the write, the watch cache),
                64 at a time: its CPU per create is what the API work costs whatever the web stack

The figures printed are medians over --runs runs. The load generator runs in this process and shares the
machine's cores with the server: each phase also prints the CPU the server, the client and every other
process used, and the server's peak RSS. Server CPU per operation is the figure least moved by other load.
An HTTP floor (aiohttp + uvloop + the same TLS, handlers that do no API work) is measured with the same
client and bodies, to tell the web stack's cost from kijabi's own.

--profile DIR runs the server under cProfile (one run; figures are then slower than normal) and prints,
per phase, the time its garbage collector took and its heaviest functions by cumulative and by own time;
DIR keeps one .prof per phase (open with `python -m pstats` or snakeviz).

Usage: .venv/bin/python bench/apiserver.py [--quick] [--runs N] [--pods N] [--watchers N] [--profile DIR]
(full run: ~6 min on an idle 2-core machine; --quick: one small run, ~15 s)
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (
    EventCounter,
    Latencies,
    Report,
    ServerProcess,
    client_ssl,
    machine_busy_seconds,
    median,
    raise_fd_limit,
    scratch_dir,
    self_cpu_times,
    start_apiserver,
    start_floor_server,
    top_functions,
)

from kijabi.storage import _sqlite_schema as sql

NAMESPACE = "bench"
CONCURRENCY = 64
LIST_REPEATS = 5
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io, application/json"
PODS_PATH = f"/api/v1/namespaces/{NAMESPACE}/pods"
PREFIX = f"/registry/pods/{NAMESPACE}/"

TARGET_CREATE_RATIO = 0.25
TARGET_CREATES = 2000.0
TARGET_CREATE_P99_MS = 50.0
TARGET_LIST_S = 1.0
TARGET_WATCH_EVENTS = 50_000.0
TARGET_RSS_MB = 150.0


# --- the workload ------------------------------------------------------------------------------------


def pod(name: str, i: int) -> dict[str, Any]:
    """A realistic pod of a web tier: app + sidecar + init container, env, probes, resources, volumes."""
    app = f"shop-{i % 20}"
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/instance": f"{app}-prod",
              "app.kubernetes.io/component": "frontend", "app.kubernetes.io/part-of": "shop",
              "pod-template-hash": f"{7000000 + i % 97:x}", "tier": "web", "bench/index": str(i)}
    env = [{"name": k, "value": v} for k, v in (
        ("LOG_LEVEL", "info"), ("HTTP_PORT", "8080"), ("METRICS_PORT", "9090"), ("CACHE_TTL_SECONDS", "300"),
        ("UPSTREAM_URL", "http://catalog.shop.svc.cluster.local:8080"), ("FEATURE_FLAGS", "checkout-v2,search-v3"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://otel-collector.observability.svc.cluster.local:4317"),
        ("OTEL_SERVICE_NAME", app), ("SESSION_STORE_URL", "redis://sessions.shop.svc.cluster.local:6379/0"),
        ("TZ", "UTC"),
    )] + [
        {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"containerName": "app", "resource": "limits.cpu"}}},
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": f"{app}-db", "key": "password"}}},
    ]
    probe = {"httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"}, "initialDelaySeconds": 5,
             "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 3}
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "labels": labels,
            "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
                            "kubectl.kubernetes.io/default-container": "app",
                            "checksum/config": f"{random.getrandbits(256):064x}"},
        },
        "spec": {
            "serviceAccountName": "default",
            "terminationGracePeriodSeconds": 30,
            "nodeSelector": {"kubernetes.io/os": "linux"},
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute",
                             "tolerationSeconds": 300}],
            "initContainers": [{
                "name": "migrate", "image": f"registry.local/shop/{app}-migrate:1.{i % 7}.3",
                "command": ["/bin/migrate", "--database", "$(DB_URL)", "--timeout", "60s"],
                "env": [{"name": "DB_URL", "value": f"postgres://{app}-db.shop.svc:5432/shop"}],
                "resources": {"requests": {"cpu": "50m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
            }],
            "containers": [
                {
                    "name": "app", "image": f"registry.local/shop/{app}:2.{i % 11}.0",
                    "args": ["--port=8080", "--metrics-port=9090", "--config=/etc/app/config.yaml"],
                    "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"},
                              {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}],
                    "env": env,
                    "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                                  "limits": {"cpu": "1", "memory": "512Mi"}},
                    "livenessProbe": probe,
                    "readinessProbe": {**probe, "httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTP"}},
                    "volumeMounts": [{"name": "config", "mountPath": "/etc/app", "readOnly": True},
                                     {"name": "cache", "mountPath": "/var/cache/app"}],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "readOnlyRootFilesystem": True,
                                        "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                },
                {
                    "name": "log-shipper", "image": "registry.local/infra/fluent-bit:3.0.4",
                    "env": [{"name": "FLUENT_HOST", "value": "logs.observability.svc.cluster.local"},
                            {"name": "FLUENT_PORT", "value": "24224"},
                            {"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
                    "resources": {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
                    "volumeMounts": [{"name": "cache", "mountPath": "/var/cache/app", "readOnly": True}],
                },
                {
                    "name": "proxy", "image": "registry.local/infra/envoy:1.30.2",
                    "args": ["-c", "/etc/envoy/envoy.yaml", "--log-level", "warn"],
                    "ports": [{"name": "https", "containerPort": 8443, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"},
                                  "limits": {"cpu": "500m", "memory": "128Mi"}},
                    "readinessProbe": {"tcpSocket": {"port": 8443}, "periodSeconds": 5},
                    "volumeMounts": [{"name": "envoy", "mountPath": "/etc/envoy", "readOnly": True}],
                },
            ],
            "volumes": [{"name": "config", "configMap": {"name": f"{app}-config"}},
                        {"name": "envoy", "configMap": {"name": "envoy-sidecar"}},
                        {"name": "cache", "emptyDir": {"sizeLimit": "1Gi"}}],
        },
    }


def pod_name(prefix: str, i: int) -> str:
    return f"{prefix}-{i:06d}"


# --- the client --------------------------------------------------------------------------------------


class Client:
    """Keep-alive HTTPS sessions to one server: `pool` for request/response, `streams` for watches."""

    def __init__(self, server: ServerProcess, scratch: Path, watchers: int) -> None:
        ctx = client_ssl(server.kubeconfig, scratch)
        self.url = server.url
        timeout = aiohttp.ClientTimeout(total=120)
        # Idle pooled connections stay open across long phases (aiohttp closes them after 15 s by default).
        self.pool = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=CONCURRENCY, keepalive_timeout=3600),
            timeout=timeout, auto_decompress=False)
        self.streams = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ctx, limit=watchers + 1),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=120), auto_decompress=False)

    async def close(self) -> None:
        await self.pool.close()
        await self.streams.close()

    async def request(self, method: str, path: str, *, body: bytes | None = None, expect: int = 200,
                      content_type: str = "application/json", accept: str = "application/json") -> bytes:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        async with self.pool.request(method, self.url + path, data=body, headers=headers) as resp:
            data = await resp.read()
            if resp.status != expect:
                raise RuntimeError(f"{method} {path}: {resp.status} {data[:300]!r}")
            return data


async def run_workers(n: int, call: Callable[[int], Awaitable[Any]], concurrency: int = CONCURRENCY) -> Latencies:
    """`call(i)` for i in range(n) by `concurrency` workers; per-call latencies. The first error stops all
    workers and is raised."""
    result = Latencies()
    items = iter(range(n))

    async def worker() -> None:
        for i in items:
            t0 = time.perf_counter()
            await call(i)
            result.samples.append(time.perf_counter() - t0)

    start = time.perf_counter()
    async with asyncio.TaskGroup() as tg:
        for _ in range(concurrency):
            tg.create_task(worker())
    result.wall = time.perf_counter() - start
    return result


@dataclass
class Phase:
    """Wall time and CPU (user, system) of one phase: the server process, this (client) process, and every
    other process of the machine (other work competing for the cores makes the figures noisy)."""

    name: str
    wall: float = 0.0
    server_cpu: tuple[float, float] = (0.0, 0.0)
    client_cpu: tuple[float, float] = (0.0, 0.0)
    others_cpu: float = 0.0
    peak_rss_mb: float = math.nan  # the server's VmHWM during the phase (since start if it cannot be reset)
    rss_after_mb: float = math.nan

    def line(self) -> str:
        w = self.wall or math.nan

        def cpu(who: str, t: tuple[float, float]) -> str:
            return f"{who} {sum(t):6.2f}s {100 * sum(t) / w:3.0f}% (sys {t[1]:5.2f}s)"

        return (f"{self.name:<11} {self.wall:6.2f}s wall; CPU: {cpu('server', self.server_cpu)},"
                f" {cpu('client', self.client_cpu)}, other processes {100 * self.others_cpu / w:3.0f}%;"
                f" server RSS peak {self.peak_rss_mb:,.0f} MB, after {self.rss_after_mb:,.0f} MB")


def _minus(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    return a[0] - b[0], a[1] - b[1]


class Meter:
    """Measures phases: wall time, server and client CPU, and a profile segment when profiling."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.phases: list[Phase] = []
        self.profiles: dict[str, Path] = {}

    async def __call__(self, name: str, work: Awaitable[Any]) -> Any:
        self.server.profile_segment()  # drop whatever the server did between phases
        phase = Phase(name)
        self.server.reset_peak_rss()
        s0, c0, m0, t0 = self.server.cpu_times(), self_cpu_times(), machine_busy_seconds(), time.perf_counter()
        result = await work
        phase.wall = time.perf_counter() - t0
        phase.server_cpu = _minus(self.server.cpu_times(), s0)
        phase.client_cpu = _minus(self_cpu_times(), c0)
        phase.others_cpu = max(0.0, machine_busy_seconds() - m0 - sum(phase.server_cpu) - sum(phase.client_cpu))
        phase.peak_rss_mb = self.server.peak_rss_mb()
        phase.rss_after_mb = self.server.rss_mb()
        seg = self.server.profile_segment()
        if seg is not None:
            seg.with_suffix(".gc.json").rename(seg.with_name(f"{name}.gc.json"))
            self.profiles[name] = seg.rename(seg.with_name(f"{name}.prof"))
        self.phases.append(phase)
        return result


# --- one run -----------------------------------------------------------------------------------------


@dataclass
class WatchResult:
    watchers: int
    expected: int
    connect_s: float
    elapsed: float
    delivered: int
    complete: int  # watchers that got exactly the expected events
    writes_per_s: float
    problems: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        return self.delivered / self.elapsed if self.elapsed else math.nan


@dataclass
class RawResult:
    inserts_1: float  # rows/s, one transaction per row
    inserts_64: float  # rows/s, 64 rows per transaction
    gets: float  # point gets/s, one connection
    select_s: float  # SELECT of every row of the namespace, seconds
    rows: int


@dataclass
class FloorResult:
    gets: Latencies
    posts: Latencies
    phases: list[Phase]


@dataclass
class ApiResult:
    """What one run measured on the kijabi apiserver."""

    creates: Latencies
    gets: Latencies
    list_json: list[float]
    list_table: list[float]
    list_bytes: int
    table_bytes: int
    rss_start: float
    rss_stored: float
    rss_listed: float
    watch: WatchResult
    phases: list[Phase]
    profiles: dict[str, Path]


@dataclass
class RunResult:
    api: ApiResult
    raw: RawResult
    floor: FloorResult
    value_bytes: float  # mean size of the values the server stored for the pods
    pipeline_cpu: float  # CPU seconds per create of the API work alone (no HTTP), see `pipeline`

    @property
    def phases(self) -> list[Phase]:
        return self.api.phases + self.floor.phases

    def phase(self, name: str) -> Phase:
        return next(p for p in self.phases if p.name == name)

    def server_cpu_per(self, phase: str, ops: float) -> float:
        """Server CPU seconds (all threads) per operation in `phase`: unlike rates, barely moved by other
        processes competing for the cores."""
        return sum(self.phase(phase).server_cpu) / ops if ops else math.nan


class WatchFanout:
    """`watchers` watches on the namespace's pods from `rv` (`connect`), then `writes` writes: half creates of
    new pods, half merge patches of those pods (`run`). Each watcher counts the events it receives."""

    CONNECT_TIMEOUT = 120.0

    def __init__(self, client: Client, rv: str, watchers: int, writes: int, index_base: int) -> None:
        self.client = client
        self.path = f"{PODS_PATH}?watch=1&resourceVersion={rv}&timeoutSeconds=600"
        self.watchers = watchers
        self.creates = writes // 2
        self.updates = writes - self.creates
        self.expected = self.creates + self.updates
        self.index_base = index_base
        self.connected = 0
        self.all_connected = asyncio.Event()
        self.finished: list[float] = []  # when each watcher had all its events
        self.counts: list[tuple[int, int, int]] = []  # (ADDED, MODIFIED, anything else) per watcher
        self.problems: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.connect_s = math.nan

    async def connect(self) -> None:
        t0 = time.perf_counter()
        self.tasks = [asyncio.ensure_future(self._watch_one()) for _ in range(self.watchers)]
        try:
            await asyncio.wait_for(self.all_connected.wait(), self.CONNECT_TIMEOUT)
        except TimeoutError:
            self.problems.append(f"only {self.connected} of {self.watchers} watches connected in {self.CONNECT_TIMEOUT:.0f}s")
        self.connect_s = time.perf_counter() - t0

    async def _watch_one(self) -> None:
        events = EventCounter()
        async with self.client.streams.get(self.client.url + self.path, headers={"Accept": "application/json"}) as resp:
            self.connected += 1
            if self.connected == self.watchers:
                self.all_connected.set()
            if resp.status != 200:
                self.problems.append(f"watch: {resp.status} {(await resp.read())[:200]!r}")
                return
            async for chunk in resp.content.iter_any():
                events.feed(chunk)
                if events.total >= self.expected:
                    break
        self.finished.append(time.perf_counter())
        self.counts.append((events.added, events.modified, events.other))
        if events.samples and len(self.problems) < 5:
            self.problems.append(f"unexpected watch events, starting: {events.samples}")

    async def run(self) -> WatchResult:
        client = self.client
        names = [pod_name("w", self.index_base + i) for i in range(self.creates)]
        bodies = [orjson.dumps(pod(n, self.index_base + i)) for i, n in enumerate(names)]
        patch = orjson.dumps({"metadata": {"labels": {"bench/updated": "true"}}})
        # The server may have closed idle keep-alive connections during the long phases before: open them
        # again now, while the watchers are idle, rather than handshaking while the fan-out runs.
        await run_workers(CONCURRENCY, lambda i: client.request("GET", f"/api/v1/namespaces/{NAMESPACE}"))
        start = time.perf_counter()
        await run_workers(self.creates, lambda i: client.request("POST", PODS_PATH, body=bodies[i], expect=201))
        await run_workers(self.updates, lambda i: client.request(
            "PATCH", f"{PODS_PATH}/{names[i % self.creates]}", body=patch, content_type="application/merge-patch+json"))
        writes_s = time.perf_counter() - start
        done, pending = await asyncio.wait(self.tasks, timeout=max(120.0, 20 * writes_s))
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None and len(self.problems) < 5:
                self.problems.append(f"watch failed: {t.exception()!r}")
        if pending:
            self.problems.append(f"{len(pending)} of {self.watchers} watchers had not received every event when the wait ended")
        await asyncio.gather(*pending, return_exceptions=True)
        complete = sum(1 for a, m, o in self.counts if a == self.creates and m == self.updates and o == 0)
        delivered = sum(a + m + o for a, m, o in self.counts)
        end = max(self.finished) if self.finished else time.perf_counter()
        return WatchResult(self.watchers, self.expected, self.connect_s, end - start, delivered, complete,
                           (self.creates + self.updates) / writes_s, self.problems)


async def drive(server: ServerProcess, scratch: Path, args: argparse.Namespace, bodies: list[bytes]) -> ApiResult:
    client = Client(server, scratch, args.watchers)
    meter = Meter(server)
    rss_start = server.rss_mb()
    try:
        await client.request("POST", "/api/v1/namespaces", body=orjson.dumps(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}), expect=201)
        # Warm-up: open the 64 keep-alive connections and run the create path once per worker, storing nothing.
        warm = orjson.dumps(pod("warm-up", 0))
        await run_workers(4 * CONCURRENCY, lambda i: client.request("POST", PODS_PATH + "?dryRun=All", body=warm, expect=201))

        creates = await meter("creates", run_workers(
            len(bodies), lambda i: client.request("POST", PODS_PATH, body=bodies[i], expect=201)))
        rss_stored = server.rss_mb()

        rng = random.Random(7)
        picks = [pod_name("p", rng.randrange(len(bodies))) for _ in range(args.gets)]
        gets = await meter("gets", run_workers(args.gets, lambda i: client.request("GET", f"{PODS_PATH}/{picks[i]}")))

        async def timed_lists(accept: str) -> tuple[list[float], bytes]:
            times, body = [], b""
            for _ in range(LIST_REPEATS):
                t0 = time.perf_counter()
                body = await client.request("GET", PODS_PATH, accept=accept)
                times.append(time.perf_counter() - t0)
            return times, body

        list_json, body = await meter("list-json", timed_lists("application/json"))
        doc = orjson.loads(body)
        if len(doc["items"]) != len(bodies):
            raise RuntimeError(f"list returned {len(doc['items'])} pods, expected {len(bodies)}")
        list_bytes = len(body)
        rv = doc["metadata"]["resourceVersion"]
        del doc
        list_table, body = await meter("list-table", timed_lists(TABLE_ACCEPT))
        table = orjson.loads(body)
        if table.get("kind") != "Table" or len(table["rows"]) != len(bodies):
            raise RuntimeError(f"Table list: kind {table.get('kind')}, {len(table.get('rows', []))} rows")
        table_bytes = len(body)
        del table, body
        rss_listed = server.rss_mb()

        fanout = WatchFanout(client, rv, args.watchers, args.watch_writes, len(bodies))
        await meter("watch-open", fanout.connect())
        watch = await meter("watch", fanout.run())
    finally:
        await client.close()
    return ApiResult(creates, gets, list_json, list_table, list_bytes, table_bytes, rss_start, rss_stored, rss_listed,
                     watch, meter.phases, meter.profiles)


async def drive_floor(floor: ServerProcess, scratch: Path, args: argparse.Namespace, bodies: list[bytes]) -> FloorResult:
    """The same client and requests against a server that does no API work (see start_floor_server)."""
    client = Client(floor, scratch, 1)
    meter = Meter(floor)
    try:
        await run_workers(4 * CONCURRENCY, lambda i: client.request("GET", f"{PODS_PATH}/warm-up"))
        gets = await meter("floor-gets", run_workers(args.gets, lambda i: client.request("GET", f"{PODS_PATH}/p-{i:06d}")))
        posts = await meter("floor-posts", run_workers(
            len(bodies), lambda i: client.request("POST", PODS_PATH, body=bodies[i], expect=201)))
    finally:
        await client.close()
    return FloorResult(gets, posts, meter.phases)


# --- raw SQLite baseline -----------------------------------------------------------------------------


def stored_rows(db_path: Path, prefix: str) -> list[tuple[str, bytes]]:
    """(key, value) of the live keys under `prefix` of the server's database, in revision order."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT name, value FROM kine WHERE name >= ? AND name < ? AND deleted = 0 ORDER BY id",
            (prefix, prefix[:-1] + chr(ord(prefix[-1]) + 1))).fetchall()
    finally:
        conn.close()
    return [(str(k), bytes(v)) for k, v in rows]


def raw_inserts(path: Path, rows: list[tuple[str, bytes]], per_txn: int) -> float:
    """Rows/s inserting `rows` as create rows of the kine log with the store's own connection settings."""
    if path.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    conn = sql.open_writer(str(path), "NORMAL")
    try:
        rev = 1
        start = time.perf_counter()
        for i in range(0, len(rows), per_txn):
            conn.execute("BEGIN IMMEDIATE")
            for key, value in rows[i:i + per_txn]:
                rev += 1
                conn.execute(sql.INSERT_ROW, (rev, key, 1, 0, rev, 0, value))
            conn.execute("COMMIT")
        return len(rows) / (time.perf_counter() - start)
    finally:
        conn.close()


def raw_reads(path: Path, rows: list[tuple[str, bytes]], n_gets: int) -> tuple[float, float]:
    """(point gets/s, seconds to SELECT every row) on the database `raw_inserts` left behind."""
    conn = sql.open_reader(str(path))
    try:
        rng = random.Random(7)
        keys = [rows[rng.randrange(len(rows))][0] for _ in range(n_gets)]
        start = time.perf_counter()
        for key in keys:
            conn.execute(sql.SELECT_LATEST, (key,)).fetchall()
        gets = n_gets / (time.perf_counter() - start)
        start = time.perf_counter()
        got = conn.execute("SELECT id, name, create_revision, value FROM kine WHERE name >= ? AND name < ?",
                           (PREFIX, PREFIX[:-1] + "0")).fetchall()
        select_s = time.perf_counter() - start
        assert len(got) == len(rows)
    finally:
        conn.close()
    return gets, select_s


def raw_baseline(server_db: Path, scratch: Path, n_gets: int) -> tuple[RawResult, float]:
    """The baselines on the values the server stored for the benchmark's pods; also their mean size."""
    rows = stored_rows(server_db, PREFIX + "p-")
    if not rows:
        raise RuntimeError(f"no pods found in {server_db}")
    path = scratch / "raw.db"
    batched = raw_inserts(path, rows, CONCURRENCY)
    one = raw_inserts(path, rows, 1)
    gets, select_s = raw_reads(path, rows, n_gets)
    return RawResult(one, batched, gets, select_s, len(rows)), sum(len(v) for _, v in rows) / len(rows)


# --- the API work without HTTP ---------------------------------------------------------------------


def pipeline_cpu(scratch: Path, pods: int) -> float:
    """CPU seconds per create of `pipeline` run in a child process (its own CPU only)."""
    out = subprocess.run([sys.executable, __file__, "pipeline", str(scratch / "pipeline"), str(pods)],
                         capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"pipeline run failed:\n{out.stderr[-3000:]}")
    return float(orjson.loads(out.stdout.strip().splitlines()[-1])["cpu_per_create"])


async def pipeline(data_dir: Path, pods: int) -> float:
    """Create `pods` pods through the POST handler's steps, minus HTTP, 64 at a time, on a fresh
    database, until the watch cache has applied the last one; the process's CPU seconds per create."""
    from kijabi.apiserver import handlers
    from kijabi.apiserver.app import APIServer, Config
    from kijabi.apiserver.bootstrap import bootstrap
    from kijabi.apiserver.codec import decode_json
    from kijabi.apiserver.store import WriteOptions
    from kijabi.storage.sqlite import SQLiteStorage

    data_dir.mkdir(parents=True)
    (data_dir / "db").mkdir()
    server = APIServer(Config(data_dir=data_dir, storage=SQLiteStorage(str(data_dir / "db" / "state.db"))))
    await server.storage.start()
    await server.cache.start()
    for r in server.registry.all():
        if r.strategy is not None and r.stored:
            server.cache.set_fields(r.storage_prefix, r.strategy.fields)
    await bootstrap(server)
    store = server.store
    res = server.registry.get("", "v1", "pods")
    assert res is not None and res.strategy is not None
    namespaces = server.registry.get("", "v1", "namespaces")
    assert namespaces is not None
    await store.create(namespaces, "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}},
                       WriteOptions(field_manager="bench"))
    bodies = [orjson.dumps(pod(pod_name("p", i), i)) for i in range(pods)]
    last = 0

    async def create(i: int) -> None:
        nonlocal last
        obj = decode_json(bodies[i])
        handlers.check_body_type(res, obj)
        res.strategy.decode(obj, "Strict")
        created, served = await store.create_with_body(res, NAMESPACE, obj, WriteOptions(field_manager="bench"))
        assert served is not None
        last = max(last, int(created["metadata"]["resourceVersion"]))

    start = time.process_time()
    await run_workers(pods, create)
    await server.cache.wait_for(last, timeout=60)
    cpu = time.process_time() - start
    await server.cache.close()
    await server.storage.close()
    return cpu / pods


# --- driver ------------------------------------------------------------------------------------------


def one_run(args: argparse.Namespace, run: int, loop_runner: Callable[[Any], Any]) -> RunResult:
    scratch = scratch_dir("kijabi-bench-apiserver-")
    profile_dir = Path(args.profile) / f"run-{run}" if args.profile else None
    bodies = [orjson.dumps(pod(pod_name("p", i), i)) for i in range(args.pods)]
    try:
        data_dir = scratch / "data"
        data_dir.mkdir()
        server = start_apiserver(data_dir, profile_dir=profile_dir)
        try:
            api = loop_runner(drive(server, scratch, args, bodies))
        except BaseException:
            sys.stderr.write(server.log()[-4000:])
            raise
        finally:
            server.stop()
        db = data_dir / "server" / "db" / "state.db"
        raw, value_bytes = raw_baseline(db, scratch, args.gets)
        floor = start_floor_server(data_dir, stored_rows(db, PREFIX + "p-")[0][1])
        try:
            floor_result = loop_runner(drive_floor(floor, scratch, args, bodies))
        finally:
            floor.stop()
        return RunResult(api, raw, floor_result, value_bytes, pipeline_cpu(scratch, args.pods))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _peak_rss(phase: str) -> Callable[[RunResult], float]:
    return lambda run: run.phase(phase).peak_rss_mb


def summarize(runs: list[RunResult], args: argparse.Namespace) -> Report:
    r = Report()

    def m(fn: Callable[[RunResult], float]) -> float:
        return median(fn(x) for x in runs)

    raw1 = m(lambda x: x.raw.inserts_1)
    raw64 = m(lambda x: x.raw.inserts_64)
    creates = m(lambda x: x.api.creates.rate)
    c99 = m(lambda x: x.api.creates.p(99)) * 1000
    r.section(f"creates: {args.pods} pods, {CONCURRENCY} concurrent clients")
    r.add("pod creates", creates, "/s", target=f">= {TARGET_CREATES:,.0f}/s", ok=creates >= TARGET_CREATES)
    r.add("  ratio to raw inserts, 1 row/txn", creates / raw1, "x", target=f">= {TARGET_CREATE_RATIO}",
          ok=creates / raw1 >= TARGET_CREATE_RATIO)
    r.add("  ratio to raw inserts, 64 rows/txn", creates / raw64, "x")
    floor_posts = m(lambda x: x.floor.posts.rate)
    r.add("  ratio to the HTTP floor's POSTs", creates / floor_posts, "x")
    r.add("  server CPU per create", m(lambda x: x.server_cpu_per("creates", args.pods)) * 1e6, "us",
          note=f"floor POST: {m(lambda x: x.server_cpu_per('floor-posts', args.pods)) * 1e6:.0f} us")
    r.add("  of which API work (no HTTP)", m(lambda x: x.pipeline_cpu) * 1e6, "us",
          note="the same creates in-process, see `pipeline`")
    r.add("  create latency p50", m(lambda x: x.api.creates.p(50)) * 1000, "ms")
    r.add("  create latency p99", c99, "ms", target=f"< {TARGET_CREATE_P99_MS:.0f} ms", ok=c99 < TARGET_CREATE_P99_MS)
    gets = m(lambda x: x.api.gets.rate)
    r.section(f"gets: {args.gets} GETs of random pods, {CONCURRENCY} concurrent clients")
    floor_gets = m(lambda x: x.floor.gets.rate)
    r.add("pod gets", gets, "/s", note=f"x{gets / m(lambda x: x.raw.gets):.3f} of raw point gets")
    r.add("  ratio to the HTTP floor's GETs", gets / floor_gets, "x")
    r.add("  server CPU per get", m(lambda x: x.server_cpu_per("gets", args.gets)) * 1e6, "us",
          note=f"floor GET: {m(lambda x: x.server_cpu_per('floor-gets', args.gets)) * 1e6:.0f} us")
    r.add("  get latency p50", m(lambda x: x.api.gets.p(50)) * 1000, "ms")
    r.add("  get latency p99", m(lambda x: x.api.gets.p(99)) * 1000, "ms")
    lj = m(lambda x: median(x.api.list_json))
    lt = m(lambda x: median(x.api.list_table))
    raw_sel = m(lambda x: x.raw.select_s)
    r.section(f"list: {args.pods} pods in one request, median of {LIST_REPEATS} per run")
    r.add("list as JSON", lj * 1000, "ms", target=f"< {TARGET_LIST_S * 1000:.0f} ms", ok=lj < TARGET_LIST_S,
          note=f"{m(lambda x: x.api.list_bytes) / 1e6:.1f} MB; x{lj / raw_sel:.1f} of a raw SELECT of the rows")
    r.add("  server CPU per JSON list", m(lambda x: x.server_cpu_per("list-json", LIST_REPEATS)) * 1000, "ms")
    r.add("list as Table", lt * 1000, "ms", target=f"< {TARGET_LIST_S * 1000:.0f} ms", ok=lt < TARGET_LIST_S,
          note=f"{m(lambda x: x.api.table_bytes) / 1e6:.1f} MB")
    r.add("  server CPU per Table list", m(lambda x: x.server_cpu_per("list-table", LIST_REPEATS)) * 1000, "ms")
    r.section("apiserver memory (VmRSS)")
    r.add("RSS after start", m(lambda x: x.api.rss_start), "MB")
    stored = m(lambda x: x.api.rss_stored)
    r.add(f"RSS with {args.pods} pods stored", stored, "MB", target=f"<= {TARGET_RSS_MB:.0f} MB", ok=stored <= TARGET_RSS_MB)
    listed = m(lambda x: x.api.rss_listed)
    r.add("RSS after the lists", listed, "MB", target=f"<= {TARGET_RSS_MB:.0f} MB", ok=listed <= TARGET_RSS_MB)
    for name in ("creates", "gets", "list-json", "list-table", "watch"):
        r.add(f"  peak RSS during {name}", m(_peak_rss(name)), "MB")
    w = [x.api.watch for x in runs]
    ev = median(x.events_per_s for x in w)
    all_ok = all(x.complete == x.watchers and not x.problems for x in w)
    r.section(f"watch: {args.watchers} watchers from the list's RV, {args.watch_writes} writes (half creates, half patches)")
    r.add("watch connections established", median(x.connect_s for x in w), "s")
    r.add("watchers that got every event", min(x.complete for x in w), f"of {args.watchers}",
          target="all", ok=all_ok)
    r.add("events delivered, all watchers", ev, "/s", target=f">= {TARGET_WATCH_EVENTS:,.0f}/s", ok=ev >= TARGET_WATCH_EVENTS and all_ok)
    r.add("  server CPU per delivered event", m(lambda x: x.server_cpu_per("watch", x.api.watch.delivered)) * 1e6, "us",
          note="includes the writes")
    r.add("  writes during the fan-out", median(x.writes_per_s for x in w), "/s")
    r.section("HTTP floor: aiohttp + uvloop + the same TLS, no API work (GET: a stored pod; POST: parse + echo)")
    r.add("floor GETs", floor_gets, "/s")
    r.add("  floor GET latency p99", m(lambda x: x.floor.gets.p(99)) * 1000, "ms")
    r.add("floor POSTs of the pod bodies", floor_posts, "/s")
    r.add("  floor POST latency p99", m(lambda x: x.floor.posts.p(99)) * 1000, "ms")
    r.section("raw sqlite3, same schema, pragmas and values (the server's stored pods)")
    r.add("raw inserts, 1 row/txn", raw1, "/s")
    r.add("raw inserts, 64 rows/txn", raw64, "/s")
    r.add("raw point gets, 1 connection", m(lambda x: x.raw.gets), "/s")
    r.add(f"raw SELECT of {args.pods} rows", raw_sel * 1000, "ms")
    r.add("stored value size", m(lambda x: x.value_bytes), "bytes")
    return r


def print_profiles(runs: list[RunResult], top: int) -> None:
    def skip(where: str) -> bool:
        # Frames that only wrap everything else (the loop, the CLI entry) say nothing about costs.
        return where in ("<built-in method builtins.exec>",) or where.startswith(("kijabi/cli/main.py", "uvloop/"))

    for run in runs:
        for phase, path in run.api.profiles.items():
            print(f"\n== server profile: {phase} ({path}) ==")
            gc = orjson.loads(path.with_suffix(".gc.json").read_bytes())
            wall = next(p.wall for p in run.phases if p.name == phase)
            gens = ", ".join(f"gen{g} {gc['runs'][g]} x {gc['seconds'][g]:.2f}s" for g in range(3))
            print(f"   garbage collector: {sum(gc['seconds']):.2f}s of {wall:.2f}s wall ({gens});"
                  f" {gc['tracked_objects']:,} objects tracked at the end of the phase")
            print("   cumulative          own       calls  function   [sorted by cumulative; a coroutine's calls count"
                  " its resumptions]")
            print("\n".join(top_functions(path, sort="cumulative", limit=top, skip=skip)))
            print("   [sorted by own time]")
            print("\n".join(top_functions(path, sort="tottime", limit=top, skip=skip)))


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=Path(__file__).resolve().parent,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() or "unknown"


def main() -> None:
    if sys.argv[1:2] == ["pipeline"]:  # the child of pipeline_cpu()
        import uvloop

        per = uvloop.run(pipeline(Path(sys.argv[2]), int(sys.argv[3])))
        print(orjson.dumps({"cpu_per_create": per}).decode())
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small run: 1k pods, 100 watchers, one run (< 60 s)")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs, each on a fresh server (default 3; 1 with --quick or --profile)")
    parser.add_argument("--pods", type=int, default=None, help="pods to create (default 10000; 1000 with --quick)")
    parser.add_argument("--gets", type=int, default=None, help="GETs (default: as many as pods)")
    parser.add_argument("--watchers", type=int, default=None, help="watch connections (default 1000; 100 with --quick)")
    parser.add_argument("--watch-writes", type=int, default=None,
                        help="writes while watched (default 1000; 200 with --quick)")
    parser.add_argument("--profile", metavar="DIR", default="", help="run the server under cProfile; keep profiles in DIR")
    parser.add_argument("--profile-top", type=int, default=25, help="functions per profile listing")
    parser.add_argument("--asyncio", action="store_true", help="client on the default event loop instead of uvloop")
    args = parser.parse_args()
    args.pods = args.pods or (1000 if args.quick else 10_000)
    args.gets = args.gets or args.pods
    args.watchers = args.watchers or (100 if args.quick else 1000)
    args.watch_writes = args.watch_writes or (200 if args.quick else 1000)
    args.runs = args.runs or (1 if args.profile or args.quick else 3)
    raise_fd_limit(4 * args.watchers + 1024)

    runner: Callable[[Any], Any] = asyncio.run
    loop_name = "asyncio"
    if not args.asyncio:
        try:
            import uvloop

            runner, loop_name = uvloop.run, "uvloop"
        except ImportError:
            pass

    print(f"kijabi apiserver benchmark (commit {_commit()}, Python {sys.version.split()[0]}, SQLite"
          f" {sqlite3.sqlite_version}): {args.runs} run(s), each on a fresh `kijabi apiserver` (embedded SQLite,"
          f" WAL + synchronous=NORMAL) over HTTPS on 127.0.0.1")
    print(f"client: aiohttp on {loop_name} in this process, {CONCURRENCY} concurrent workers, keep-alive, TLS client"
          f" certificate; it shares the machine's {os.cpu_count()} cores with the server (see CPU per phase)")
    if args.profile:
        print("profiling: the server runs under cProfile, so every figure below is slower than without it")
    started = time.perf_counter()
    runs: list[RunResult] = []
    for i in range(args.runs):
        t0 = time.perf_counter()
        res = one_run(args, i, runner)
        runs.append(res)
        w = res.api.watch
        print(f"\nrun {i + 1}/{args.runs} ({time.perf_counter() - t0:.0f}s): creates {res.api.creates.rate:,.0f}/s"
              f" (p99 {res.api.creates.p(99) * 1000:.1f} ms), gets {res.api.gets.rate:,.0f}/s, list {median(res.api.list_json) * 1000:.0f} ms"
              f" / Table {median(res.api.list_table) * 1000:.0f} ms, watch {w.events_per_s:,.0f} events/s"
              f" ({w.complete}/{w.watchers} complete), RSS {res.api.rss_stored:.0f} MB, raw {res.raw.inserts_1:,.0f} inserts/s,"
              f" floor {res.floor.gets.rate:,.0f} GETs/s {res.floor.posts.rate:,.0f} POSTs/s")
        for p in w.problems:
            print(f"  watch problem: {p}")
        for phase in res.phases:
            print("  " + phase.line())
    phases = [p for r in runs for p in r.phases]
    others = sum(p.others_cpu for p in phases) / (sum(p.wall for p in phases) or math.nan)
    print()
    print(f"pod body {len(orjson.dumps(pod(pod_name('p', 0), 0))):,} bytes as sent; medians of {args.runs} run(s);"
          f" total {time.perf_counter() - started:.0f}s; other processes used {100 * others:.0f}% of one core on"
          f" average during the measured phases (0% on an idle machine)")
    print(summarize(runs, args).render())
    if args.profile:
        print_profiles(runs, args.profile_top)


if __name__ == "__main__":
    main()
