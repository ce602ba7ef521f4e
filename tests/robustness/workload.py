"""A Kubernetes-shaped workload on ConfigMaps through a real API server, with a fault in the middle.

8 writers (75% update / 15% delete / 10% create, updates and deletes conditioned on the resourceVersion
they read just before), 4 list-then-watch clients that resume from the last resourceVersion they saw
(re-listing on 410 Expired); optionally (`watch_list`) the last of them lists with a watch-list request
(sendInitialEvents), so that its streams carry the initial-events-end bookmark. A `Fault` acts on the run:
`setup` before the clients start (e.g. a second API server that half of them use), `inject` while they
work (the default one, `KillAndRestart`, kills the API server with SIGKILL and restarts it on the same
data dir and port), `teardown` after. Threads, one persistent HTTPS connection each; everything is
recorded into a `Report` for the checker.

The backend is a parameter: `start` starts a server (the extra `kijabi` arguments select the datastore).
"""

from __future__ import annotations

import http.client
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.e2e.cluster import Cluster, start_cluster
from tests.robustness.history import Event, Get, List, Outcome, Report, WatchStream, Write, WriteKind

Obj = dict[str, Any]

KEYS = 12
Starter = Callable[[Path | None, int], Cluster]


def start_sqlite(data_dir: Path | None, port: int) -> Cluster:
    """`kijabi apiserver` on the default embedded SQLite store."""
    return start_cluster(data_dir, "--https-listen-port", str(port))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Endpoint:
    """Where a client's API server is now; replaced on restart (same host and port, new process) or on
    failover to another server (as a load balancer would)."""

    def __init__(self, cluster: Cluster) -> None:
        self.set(cluster)

    def set(self, cluster: Cluster, *, ctx: ssl.SSLContext | None = None) -> None:
        """Point at `cluster`; `ctx`: keep using this TLS context (the CA and the client certificate of
        another server of the same cluster) instead of the server's own."""
        host, port = cluster.url.removeprefix("https://").rsplit(":", 1)
        self.ctx: ssl.SSLContext = ctx or cluster.ssl_context()
        self.host, self.port = host, int(port)
        self.cluster = cluster

    def connect(self, timeout: float = 10) -> http.client.HTTPSConnection:
        return http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=timeout)


class Conn:
    """One persistent connection; any transport error drops it and raises OSError."""

    def __init__(self, ep: Endpoint) -> None:
        self.ep = ep
        self.conn: http.client.HTTPSConnection | None = None

    def call(self, method: str, path: str, body: Obj | None = None) -> tuple[int, Obj]:
        if self.conn is None:
            self.conn = self.ep.connect()
        try:
            self.conn.request(method, path, body=orjson.dumps(body) if body is not None else None,
                              headers={"Content-Type": "application/json", "Accept": "application/json"})
            resp = self.conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = None
            raise OSError(str(exc)) from exc
        return resp.status, orjson.loads(data) if data else {}


@dataclass
class Run:
    namespace: str
    ep: Endpoint
    """The primary server: the namespace, the sentinel and the final list go through it."""
    eps: list[Endpoint] = field(default_factory=list)
    """Every server clients use (client i uses eps[i % len(eps)]); [ep] unless a fault adds servers."""
    stop_writes: threading.Event = field(default_factory=threading.Event)
    stop_watch: threading.Event = field(default_factory=threading.Event)
    report: Report = field(default_factory=Report)
    lock: threading.Lock = field(default_factory=threading.Lock)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the fault did, in words (for the summary line and the tests)."""

    def __post_init__(self) -> None:
        if not self.eps:
            self.eps = [self.ep]

    @property
    def base_path(self) -> str:
        return f"/api/v1/namespaces/{self.namespace}/configmaps"


class Fault:
    """Something done to the servers during a run. `setup`: before the clients start; `inject`: after
    the first part of the workload; `teardown`: after the run, also when it failed (ends whatever the
    fault started and no longer serves, leaving `run.ep.cluster` running)."""

    def setup(self, run: Run) -> None:
        pass

    def inject(self, run: Run) -> None:
        raise NotImplementedError

    def teardown(self, run: Run) -> None:
        pass


def _token(obj: Obj) -> str | None:
    return (obj.get("data") or {}).get("token")


def _rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def writer(run: Run, wid: int, seed: int, ep: Endpoint) -> None:
    """Until told to stop: 10% create of a random key; otherwise GET a random key (recorded as a read)
    and, if it exists, 75% update / 15% delete conditioned on the resourceVersion just read (an update
    carries it in metadata.resourceVersion, a delete in DeleteOptions.preconditions). Every create and
    update writes a fresh token into data.token."""
    rnd = random.Random(seed)
    conn = Conn(ep)
    seq = 0
    while not run.stop_writes.is_set():
        seq += 1
        token = f"w{wid}-{seq}"
        key = f"cm-{rnd.randrange(KEYS)}"
        roll = rnd.random()
        if roll < 0.10:
            _write(run, conn, "create", key, token, None, "POST", run.base_path,
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": key}, "data": {"token": token}})
            continue
        begin = time.monotonic()
        try:
            status, obj = conn.call("GET", f"{run.base_path}/{key}")
        except OSError:
            _pause(run)
            continue
        if status == 404:
            with run.lock:
                run.report.gets.append(Get(key, begin, time.monotonic(), None, None))
            continue
        if status != 200:
            _pause(run)
            continue
        rv = _rv(obj)
        with run.lock:
            run.report.gets.append(Get(key, begin, time.monotonic(), rv, _token(obj)))
        if roll < 0.85:
            obj["data"] = {"token": token}
            _write(run, conn, "update", key, token, rv, "PUT", f"{run.base_path}/{key}", obj)
        else:
            _write(run, conn, "delete", key, None, rv, "DELETE", f"{run.base_path}/{key}",
                   {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"resourceVersion": str(rv)}})


def _pause(run: Run) -> None:
    run.stop_writes.wait(0.05)  # the server is down: back off a little before reconnecting


def _write(run: Run, conn: Conn, kind: WriteKind, key: str, token: str | None, pre: int | None,
           method: str, path: str, body: Obj) -> None:
    begin = time.monotonic()
    revision = None
    outcome: Outcome
    try:
        status, obj = conn.call(method, path, body)
    except OSError:
        outcome = "unknown"
        _pause(run)
    else:
        if 200 <= status < 300:
            outcome = "ok"
            if kind != "delete":
                revision = _rv(obj)
        elif status in (404, 409, 422):
            outcome = "failed"
        else:
            outcome = "unknown"
    with run.lock:
        run.report.writes.append(Write(kind, key, token, pre, begin, time.monotonic(), outcome, revision))


def watcher(run: Run, name: str, last_seen: dict[str, int], ep: Endpoint, streaming: bool = False) -> None:
    """List, then watch from the list's resourceVersion; on a broken stream resume from the last
    revision seen; on 410 (or an ERROR event) re-list. `streaming`: list with a watch-list request
    (sendInitialEvents=true, the state arrives as ADDED events closed by an initial-events-end bookmark)
    instead of a GET."""
    conn = Conn(ep)
    rv: int | None = None
    while not run.stop_watch.is_set():
        if rv is None and not streaming:
            begin = time.monotonic()
            try:
                status, body = conn.call("GET", run.base_path)
            except OSError:
                run.stop_watch.wait(0.05)
                continue
            if status != 200:
                run.stop_watch.wait(0.05)
                continue
            rv = int(body["metadata"]["resourceVersion"])
            items = {o["metadata"]["name"]: (_rv(o), _token(o)) for o in body.get("items", [])}
            with run.lock:
                run.report.lists.append(List(rv, items, begin, time.monotonic()))
        rv = _watch(run, ep, rv, last_seen, name)


def _watch(run: Run, ep: Endpoint, start: int | None, last_seen: dict[str, int], name: str) -> int | None:
    """One watch request from `start` (None: a watch-list); returns the revision to resume from (None:
    re-list). The stream is recorded once the server accepted it (a watch-list: once its initial
    events ended, with that list recorded too)."""
    query = "watch=1&allowWatchBookmarks=true"
    query += f"&resourceVersion={start}" if start is not None else "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan"
    rv = start
    stream = WatchStream(name, start) if start is not None else None
    early: list[Obj] = []
    begin = time.monotonic()
    conn = ep.connect(timeout=2)
    try:
        conn.request("GET", f"{run.base_path}?{query}", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        if resp.status == 410:
            return None
        if resp.status != 200:
            run.stop_watch.wait(0.05)
            return rv
        if stream is not None:
            with run.lock:
                run.report.streams.append(stream)
        while True:
            try:
                line = resp.readline()
            except TimeoutError:
                if run.stop_watch.is_set():
                    return rv
                continue
            if not line:
                run.stop_watch.wait(0.05)
                return rv
            ev = orjson.loads(line)
            obj = ev["object"]
            if ev["type"] == "ERROR":
                return None
            r = _rv(obj)
            if stream is None:
                if ev["type"] != "BOOKMARK" or not (obj["metadata"].get("annotations") or {}).get("k8s.io/initial-events-end"):
                    early.append(ev)
                    continue
                # Objects up to the bookmark's revision are the initial state; anything newer is a live
                # event that was sent before the bookmark (recorded so, for the checker to judge).
                initial = {o["metadata"]["name"]: (_rv(o), _token(o)) for o in (e["object"] for e in early) if _rv(o) <= r}
                stream = WatchStream(name, r, [_event(e) for e in early if _rv(e["object"]) > r])
                with run.lock:
                    run.report.lists.append(List(r, initial, begin, time.monotonic()))
                    run.report.streams.append(stream)
            stream.events.append(_event(ev))
            rv = r
            last_seen[name] = r
    except (OSError, http.client.HTTPException):
        run.stop_watch.wait(0.05)
        return rv
    finally:
        conn.close()


def _event(ev: Obj) -> Event:
    obj = ev["object"]
    etype = ev["type"]
    return Event(etype, _rv(obj), obj["metadata"].get("name", "") if etype != "BOOKMARK" else "",
                 _token(obj) if etype in ("ADDED", "MODIFIED") else None)


class KillAndRestart(Fault):
    """SIGKILL the API server, start a new one on the same data dir and port."""

    def __init__(self, start: Starter) -> None:
        self.start = start

    def inject(self, run: Run) -> None:
        old = run.ep.cluster
        old.kill9()
        run.ep.set(self.start(old.data_dir, run.ep.port))
        run.notes.append("API server killed and restarted")


def kill_and_restart(start: Starter) -> Fault:
    return KillAndRestart(start)


def drive(run: Run, fault: Fault | None, *, before: float = 3.0, after: float = 3.0, seed: int = 0,
          writers: int = 8, watchers: int = 4, watch_list: bool = False, settle: float = 20.0) -> None:
    """Create the run's namespace, run the workload `before` seconds, inject `fault`, run `after` seconds
    more, stop the writers, wait (at most `settle` s) until every watcher has reached the final list's
    revision, and record the final list. `watch_list`: the last watcher lists by watch-list. On return
    the run's `report` is complete; whether it returns or raises, the clients are told to stop, the
    fault's teardown has run, and `run.ep.cluster` is the server running now (the caller stops it)."""
    try:
        _drive(run, fault, before=before, after=after, seed=seed, writers=writers, watchers=watchers,
               watch_list=watch_list, settle=settle)
    finally:
        run.stop_writes.set()
        run.stop_watch.set()
        if fault is not None:
            fault.teardown(run)


def _drive(run: Run, fault: Fault | None, *, before: float, after: float, seed: int, writers: int,
           watchers: int, watch_list: bool, settle: float) -> None:
    ep = run.ep
    conn = Conn(ep)
    namespace = run.namespace
    status, body = conn.call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    assert status == 201, body
    run.report.base = _rv(body)
    if fault is not None:
        fault.setup(run)
    eps = run.eps
    last_seen: dict[str, int] = {}
    threads = [threading.Thread(target=watcher, args=(run, f"watch-{i}", last_seen, eps[i % len(eps)],
                                                      watch_list and i == watchers - 1),
                                name=f"watch-{i}", daemon=True) for i in range(watchers)]
    threads += [threading.Thread(target=writer, args=(run, i, seed * 1000 + i, eps[i % len(eps)]),
                                 name=f"writer-{i}", daemon=True)
                for i in range(writers)]
    for t in threads:
        t.start()
    run.stop_writes.wait(before)
    if fault is not None:
        fault.inject(run)
    run.stop_writes.wait(after)
    run.stop_writes.set()
    for t in threads[watchers:]:
        t.join()
    conn = Conn(ep)
    deadline = time.monotonic() + settle
    # A last write every watcher must see: once all have it, nothing before it is still in flight.
    sentinel = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "sentinel"}, "data": {"token": "sentinel"}}
    while True:
        _write(run, conn, "create", "sentinel", "sentinel", None, "POST", run.base_path, sentinel)
        if run.report.writes[-1].outcome == "ok" or time.monotonic() > deadline:
            break
        run.stop_watch.wait(0.05)
    target = run.report.writes[-1].revision or 0
    while time.monotonic() < deadline and any(last_seen.get(f"watch-{i}", 0) < target for i in range(watchers)):
        run.stop_watch.wait(0.02)
    while True:
        try:
            status, body = conn.call("GET", run.base_path)
        except OSError as exc:
            status, body = 0, {"error": str(exc)}
        if status == 200:
            break
        if time.monotonic() > deadline + settle:
            raise AssertionError(f"the final list failed: {status} {body}")
        run.stop_watch.wait(0.05)
    run.report.final = List(int(body["metadata"]["resourceVersion"]),
                            {o["metadata"]["name"]: (_rv(o), _token(o)) for o in body.get("items", [])})
    run.stop_watch.set()
    for t in threads[:watchers]:
        t.join(timeout=5)
