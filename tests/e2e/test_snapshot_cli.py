"""`kijabi etcd-snapshot` and `kijabi datastore migrate` against real `kijabi apiserver` processes on SQLite
and on a real etcd, driven with kubectl; and the snapshot schedule (fake clock, then real time)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kijabi.cli import datastore as datastore_cli
from kijabi.cli import snapshot as snapshot_cli
from kijabi.storage.snapshot import Datastore, SnapshotError, SQLiteDatastore, save
from kijabi.storage.sqlite import SQLiteStorage
from tests.e2e.cluster import Cluster, start_cluster
from tests.storage.etcd_cluster import EtcdCluster
from tests.storage.storage_testlib import require_etcd

CRD = textwrap.dedent("""
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: gadgets.example.com}
    spec:
      group: example.com
      scope: Namespaced
      names: {plural: gadgets, singular: gadget, kind: Gadget}
      versions:
      - name: v1
        served: true
        storage: true
        schema:
          openAPIV3Schema:
            type: object
            properties:
              spec: {type: object, properties: {size: {type: integer}}}
""")

OBJECTS = textwrap.dedent("""
    apiVersion: v1
    kind: Namespace
    metadata: {name: snap}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cm-a, namespace: snap}
    data: {a: "1"}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cm-b, namespace: snap}
    data: {b: "2"}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: s1, namespace: snap}
    stringData: {password: hunter2}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: svc1, namespace: snap}
    spec: {ports: [{port: 80}], selector: {app: x}}
    ---
    apiVersion: example.com/v1
    kind: Gadget
    metadata: {name: g1, namespace: snap}
    spec: {size: 3}
""")

KINDS = "configmaps,secrets,services,gadgets.example.com"


# --- helpers ----------------------------------------------------------------------------------------------


def kijabi(*args: str) -> subprocess.CompletedProcess[str]:
    """The real `kijabi` command in a process of its own."""
    return subprocess.run([sys.executable, "-m", "kijabi.cli.main", *args], capture_output=True, text=True, timeout=120)


def tool(main: Callable[[list[str]], int], argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """A tool's main(argv) in this process (cheaper than a process): (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def populate(c: Cluster) -> None:
    c.kubectl("apply", "-f", "-", input=CRD)
    c.kubectl("wait", "--for=condition=Established", "crd/gadgets.example.com", "--timeout=30s")
    deadline = time.monotonic() + 30
    while True:  # the custom resource is served once discovery has it
        if c.kubectl("apply", "-f", "-", input=OBJECTS, check=False).returncode == 0:
            return
        assert time.monotonic() < deadline, "the objects could not be created"
        time.sleep(0.1)


def inventory(c: Cluster) -> dict[tuple[str, str], object]:
    """(kind, name) -> content of every object of several kinds in namespace snap."""
    deadline = time.monotonic() + 30
    while True:  # after a restart, the CRD's resource is served once discovery has it
        result = c.kubectl("get", KINDS, "-n", "snap", "-o", "json", check=False)
        if result.returncode == 0:
            break
        assert time.monotonic() < deadline, result.stderr
        time.sleep(0.1)
    out: dict[tuple[str, str], object] = {}
    for item in json.loads(result.stdout)["items"]:
        content = item.get("spec", item.get("data"))
        out[(item["kind"], item["metadata"]["name"])] = content
    return out


class Writer:
    """Creates configmaps w00000, w00001, ... in namespace snap, one after the other, until stopped."""

    def __init__(self, c: Cluster) -> None:
        self.c = c
        self.written: list[str] = []
        self._stop = threading.Event()
        self._underway = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Writer:
        self._thread.start()
        assert self._underway.wait(30), "the writer did not get going"
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        while not self._stop.is_set():
            name = f"w{len(self.written):05d}"
            body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}).encode()
            status, _, _ = self.c.request("POST", "/api/v1/namespaces/snap/configmaps", body)
            assert status == 201
            self.written.append(name)
            if len(self.written) == 5:
                self._underway.set()


def split_writes(found: dict[tuple[str, str], object]) -> tuple[dict[tuple[str, str], object], list[str]]:
    fixed = {k: v for k, v in found.items() if not (k[0] == "ConfigMap" and k[1].startswith("w"))}
    return fixed, sorted(k[1] for k in found if k[0] == "ConfigMap" and k[1].startswith("w"))


def mutate(c: Cluster) -> None:
    c.kubectl("delete", "configmap", "cm-a", "-n", "snap")
    c.kubectl("patch", "gadget", "g1", "-n", "snap", "--type=merge", "-p", '{"spec":{"size":7}}')
    c.kubectl("create", "configmap", "cm-new", "-n", "snap")


@pytest.fixture
def servers() -> Iterator[list[Cluster]]:
    """Servers started by a test; stopped and their data dirs removed at the end."""
    started: list[Cluster] = []
    try:
        yield started
    finally:
        for c in started:
            c.stop()
            shutil.rmtree(c.data_dir, ignore_errors=True)


@pytest.fixture
def etcd() -> Iterator[EtcdCluster]:
    require_etcd()
    cluster = EtcdCluster.start(1)
    try:
        yield cluster
    finally:
        cluster.stop()


# --- save and restore ---------------------------------------------------------------------------------------


def test_sqlite_save_while_writing_restore_after_stop(servers: list[Cluster], capsys: pytest.CaptureFixture[str]) -> None:
    """SQLite: a snapshot saved while the API server writes restores (with the server stopped) exactly the
    objects of one consistent moment; a restore while the server runs is refused and changes nothing."""
    c = start_cluster()
    servers.append(c)
    populate(c)
    with Writer(c) as writer:
        code, out, err = tool(snapshot_cli.main, ["save", "--data-dir", str(c.data_dir), "--name", "before",
                                                  "--node-name", "n1"], capsys)
    assert code == 0, err
    assert "saved" in out
    snapshots = snapshot_cli.list_snapshots(c.data_dir / "server" / "db" / "snapshots")
    assert [s.name.rsplit("-", 1)[0] for s in snapshots] == ["before-n1"]
    expected = inventory(c)
    expected_fixed, _ = split_writes(expected)
    mutate(c)
    mutated = inventory(c)

    code, _, err = tool(snapshot_cli.main, ["restore", "--data-dir", str(c.data_dir), snapshots[0].name], capsys)
    assert code == 1 and "in use by a running server" in err and err.count("\n") == 1
    assert inventory(c) == mutated  # nothing changed

    c.stop()
    restored = kijabi("etcd-snapshot", "restore", "--data-dir", str(c.data_dir), snapshots[0].name)
    assert restored.returncode == 0, restored.stderr
    c2 = start_cluster(c.data_dir)
    servers.append(c2)
    fixed, writes = split_writes(inventory(c2))
    assert fixed == expected_fixed
    assert writes == writer.written[: len(writes)] and len(writes) >= 5, "one consistent moment"
    assert ("ConfigMap", "cm-new") not in fixed and fixed[("Gadget", "g1")] == {"size": 3}


def test_etcd_save_while_writing_restore_into_running_cluster(
    servers: list[Cluster], etcd: EtcdCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    """etcd: the snapshot is a real etcd snapshot; restoring it into the running etcd brings back the saved
    objects, and a server started afterwards serves exactly them."""
    endpoint = "etcd://" + ",".join(etcd.endpoints)
    c = start_cluster(None, "--datastore-endpoint", endpoint)
    servers.append(c)
    populate(c)
    flags = ["--data-dir", str(c.data_dir), "--datastore-endpoint", endpoint]
    with Writer(c) as writer:
        code, out, err = tool(snapshot_cli.main, ["save", *flags], capsys)
    assert code == 0, err
    (snap,) = snapshot_cli.list_snapshots(c.data_dir / "server" / "db" / "snapshots")
    assert snap.name.startswith("on-demand-")
    status = subprocess.run(["etcdctl", "snapshot", "status", str(snap.path)], capture_output=True, text=True,
                            env={"ETCDCTL_API": "3"}, check=False)
    assert status.returncode == 0, status.stderr
    expected_fixed, _ = split_writes(inventory(c))
    mutate(c)

    code, out, err = tool(snapshot_cli.main, ["restore", *flags, str(snap.path)], capsys)
    assert code == 0, err
    assert "restored" in out
    c.stop()
    c2 = start_cluster(None, "--datastore-endpoint", endpoint)
    servers.append(c2)
    fixed, writes = split_writes(inventory(c2))
    assert fixed == expected_fixed
    assert writes == writer.written[: len(writes)] and len(writes) >= 5, "one consistent moment"


# --- ls, delete, prune and bad input ---------------------------------------------------------------------


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data dir with a (small) SQLite datastore and no server."""

    async def create() -> None:
        store = SQLiteStorage(str(tmp_path / "server" / "db" / "state.db"), compact_interval=0)
        await store.start()
        await store.create("/registry/configmaps/default/x", b"{}")
        await store.close()

    asyncio.run(create())
    return tmp_path


def test_ls_delete_prune(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """ls lists every snapshot as a k3s-like table; delete removes named ones (all or nothing); prune keeps
    the newest N of one prefix and never touches other prefixes."""
    snaps = data_dir / "server" / "db" / "snapshots"
    base = ["--data-dir", str(data_dir), "--node-name", "n1"]
    assert tool(snapshot_cli.main, ["save", *base], capsys)[0] == 0
    (first,) = snaps.iterdir()
    for stamp in (1700000001, 1700000002, 1700000003):
        shutil.copy(first, snaps / f"on-demand-n1-{stamp}")
    shutil.copy(first, snaps / "etcd-snapshot-n1-1700000000")

    code, out, _ = tool(snapshot_cli.main, ["ls", *base], capsys)
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["Name", "Location", "Size", "Created"]
    names = [line.split()[0] for line in lines[1:]]
    assert names[:4] == ["etcd-snapshot-n1-1700000000", "on-demand-n1-1700000001", "on-demand-n1-1700000002",
                         "on-demand-n1-1700000003"]
    assert len(names) == 5 and lines[1].split()[1] == (snaps / names[0]).as_uri()
    assert lines[1].split()[2] == str(first.stat().st_size) and lines[1].split()[3] == "2023-11-14T22:13:20Z"

    code, _, err = tool(snapshot_cli.main, ["delete", *base, "on-demand-n1-1700000001", "nope"], capsys)
    assert code == 1 and "nope" in err and (snaps / "on-demand-n1-1700000001").exists()
    code, _, _ = tool(snapshot_cli.main, ["delete", *base, "on-demand-n1-1700000001"], capsys)
    assert code == 0 and not (snaps / "on-demand-n1-1700000001").exists()

    code, out, _ = tool(snapshot_cli.main, ["prune", *base, "--snapshot-retention", "1"], capsys)
    assert code == 0
    assert sorted(p.name for p in snaps.iterdir()) == ["etcd-snapshot-n1-1700000000", first.name]


def test_bare_command_saves(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`kijabi etcd-snapshot` with flags only saves an on-demand snapshot, as k3s does."""
    code, out, err = tool(snapshot_cli.main, ["--data-dir", str(data_dir), "--node-name", "n9"], capsys)
    assert code == 0, err
    (snap,) = (data_dir / "server" / "db" / "snapshots").iterdir()
    assert snap.name.startswith("on-demand-n9-") and snap.name in out


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["restore", "missing.db"], "does not exist", id="restore-missing-file"),
        pytest.param(["restore", "{text}"], "not a kijabi snapshot", id="restore-wrong-file-type"),
        pytest.param(["restore", "--datastore-endpoint", "etcd://127.0.0.1:1", "{sqlite_snap}"],
                     "datastore migrate", id="restore-sqlite-snapshot-into-etcd"),
        pytest.param(["save", "--datastore-endpoint", "mysql://x"], "unsupported datastore endpoint",
                     id="save-unknown-endpoint"),
        pytest.param(["save", "--datastore-endpoint", "sqlite:///nowhere/state.db"], "no sqlite datastore",
                     id="save-missing-sqlite"),
        pytest.param(["prune", "--snapshot-retention", "0"], "at least 1", id="prune-zero"),
    ],
)
def test_bad_input_is_one_line_and_changes_nothing(
    data_dir: Path, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bad input: one line on stderr, exit code 1, the datastore unchanged."""
    db = data_dir / "server" / "db" / "state.db"
    (data_dir / "text").write_text("hello\n")
    sqlite_snap = data_dir / "sqlite-snap"
    asyncio.run(save(SQLiteDatastore(db), sqlite_snap))
    before = db.read_bytes()
    argv = [a.format(text=data_dir / "text", sqlite_snap=sqlite_snap) for a in argv]
    code, _, err = tool(snapshot_cli.main, [argv[0], "--data-dir", str(data_dir), *argv[1:]], capsys)
    assert code == 1
    assert message in err and err.startswith("kijabi: ") and err.count("\n") == 1
    assert db.read_bytes() == before


# --- migration ----------------------------------------------------------------------------------------------


def test_migrate_sqlite_to_etcd_to_sqlite(
    servers: list[Cluster], etcd: EtcdCluster, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every object (CRD and custom resources included) goes sqlite -> etcd -> sqlite; a server started
    on each target serves the same objects. A non-empty target is refused without --force."""
    c1 = start_cluster()
    servers.append(c1)
    populate(c1)
    expected = inventory(c1)
    c1.stop()
    etcd_endpoint = "etcd://" + ",".join(etcd.endpoints)
    sqlite_a = f"sqlite://{c1.data_dir}/server/db/state.db"
    moved = kijabi("datastore", "migrate", "--from", sqlite_a, "--to", etcd_endpoint)
    assert moved.returncode == 0, moved.stderr
    assert "copied" in moved.stdout and "migrated" in moved.stdout

    code, _, err = tool(datastore_cli.main, ["migrate", "--from", sqlite_a, "--to", etcd_endpoint], capsys)
    assert code == 1 and "already holds" in err and err.count("\n") == 1

    c2 = start_cluster(None, "--datastore-endpoint", etcd_endpoint)
    servers.append(c2)
    assert inventory(c2) == expected
    c2.kubectl("create", "configmap", "on-etcd", "-n", "snap")
    expected2 = inventory(c2)
    c2.stop()

    data_b = tmp_path / "b"
    data_b.mkdir()
    sqlite_b = f"sqlite://{data_b}/server/db/state.db"
    code, _, err = tool(datastore_cli.main, ["migrate", "--from", etcd_endpoint, "--to", sqlite_b], capsys)
    assert code == 0, err
    c3 = start_cluster(data_b)
    servers.append(c3)
    assert inventory(c3) == expected2


# --- the schedule ---------------------------------------------------------------------------------------


class FakeClock(snapshot_cli.Clock):
    """Time that jumps forward whenever the schedule sleeps."""

    def __init__(self, start: dt.datetime) -> None:
        self.t = start

    def now(self) -> dt.datetime:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += dt.timedelta(seconds=seconds)
        await asyncio.sleep(0)


def schedule_args(data_dir: Path, *flags: str) -> argparse.Namespace:
    """The server's flags that the schedule reads."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--node-name")
    for flag in ("--datastore-endpoint", "--datastore-cafile", "--datastore-certfile", "--datastore-keyfile"):
        parser.add_argument(flag, default="")
    snapshot_cli.add_snapshot_flags(parser)
    return parser.parse_args(["--data-dir", str(data_dir), "--node-name", "n1", *flags])


def test_schedule_keeps_the_newest_scheduled_snapshots(data_dir: Path) -> None:
    """On a fake clock, the default cron (every 12 hours) names snapshots etcd-snapshot-<node>-<due time>,
    keeps the newest --etcd-snapshot-retention of them, survives a failed snapshot and never prunes
    on-demand snapshots."""
    args = schedule_args(data_dir, "--etcd-snapshot-retention", "3")
    snaps = data_dir / "server" / "db" / "snapshots"
    snaps.mkdir(parents=True)
    (snaps / "on-demand-n1-1").write_bytes(b"x")
    clock = FakeClock(dt.datetime(2026, 1, 1, 0, 30, tzinfo=dt.UTC))
    stop = asyncio.Event()
    calls: list[str] = []

    async def take(ds: Datastore, dest: Path) -> int:
        calls.append(dest.name)
        if len(calls) == 2:
            raise SnapshotError("disk full")
        if len(calls) == 7:
            stop.set()
        return await save(ds, dest)

    ds = snapshot_cli.datastore_from_args(args)
    asyncio.run(snapshot_cli.run_snapshot_schedule(args, ds, stop, clock=clock, take=take))
    due = [dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC) + dt.timedelta(hours=12 * i) for i in range(7)]
    assert calls == [f"etcd-snapshot-n1-{int(t.timestamp())}" for t in due]
    assert sorted(p.name for p in snaps.iterdir()) == sorted([*calls[-3:], "on-demand-n1-1"])


def test_schedule_disabled_and_bad_cron(data_dir: Path) -> None:
    """--etcd-disable-snapshots takes none; a bad cron is refused when the flags are parsed."""
    args = schedule_args(data_dir, "--etcd-disable-snapshots")
    ds = snapshot_cli.datastore_from_args(args)
    asyncio.run(snapshot_cli.run_snapshot_schedule(args, ds, asyncio.Event()))
    assert not (data_dir / "server" / "db" / "snapshots").exists()
    with pytest.raises(SystemExit):
        schedule_args(data_dir, "--etcd-snapshot-schedule-cron", "61 * * * *")


def test_schedule_on_real_time_while_the_store_is_written(data_dir: Path) -> None:
    """With `@every 1s` (robfig/cron syntax, as k3s accepts), real snapshots of a store being written
    appear, and retention 1 keeps one."""
    args = schedule_args(data_dir, "--etcd-snapshot-schedule-cron", "@every 1s", "--etcd-snapshot-retention", "1")
    snaps = data_dir / "server" / "db" / "snapshots"
    taken: list[str] = []

    async def run() -> None:
        store = SQLiteStorage(str(data_dir / "server" / "db" / "state.db"), compact_interval=0)
        await store.start()  # holds the store like a running server
        stop = asyncio.Event()

        async def take(ds: Datastore, dest: Path) -> int:
            size = await save(ds, dest)
            taken.append(dest.name)
            if len(taken) == 2:
                stop.set()
            return size

        async def write() -> None:
            i = 0
            while not stop.is_set():
                await store.create(f"/registry/configmaps/default/k{i}", b"{}")
                i += 1
                await asyncio.sleep(0.01)

        ds = snapshot_cli.datastore_from_args(args)
        try:
            async with asyncio.timeout(20):
                await asyncio.gather(snapshot_cli.run_snapshot_schedule(args, ds, stop, take=take), write())
        finally:
            await store.close()

    asyncio.run(run())
    assert len(taken) == 2 and taken[0] != taken[1]
    assert [p.name for p in snaps.iterdir()] == [taken[1]]


def test_server_runs_the_schedule(servers: list[Cluster], tmp_path: Path) -> None:
    """`kijabi apiserver --etcd-snapshot-schedule-cron '@every 1s' --etcd-snapshot-retention 2` takes
    snapshots while it runs and keeps two."""
    data_dir = tmp_path / "server"
    data_dir.mkdir()
    c = start_cluster(data_dir, "--etcd-snapshot-schedule-cron", "@every 1s", "--etcd-snapshot-retention", "2",
                      "--etcd-snapshot-name", "sched")
    servers.append(c)
    snaps = data_dir / "server" / "db" / "snapshots"
    seen: set[str] = set()
    deadline = time.monotonic() + 30
    while len(seen) < 3:
        assert time.monotonic() < deadline, f"scheduled snapshots seen: {sorted(seen)}"
        current = {s.name for s in snapshot_cli.list_snapshots(snaps)}
        assert len(current) <= 2
        seen |= current
        time.sleep(0.2)
    assert all(name.startswith("sched-") for name in seen)

