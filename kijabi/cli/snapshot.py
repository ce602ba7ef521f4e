"""`kijabi etcd-snapshot`: save, list, delete, prune and restore datastore snapshots, like k3s's command,
for both backends; and the scheduled snapshots that `kijabi server` / `apiserver` take.

    kijabi etcd-snapshot save [--name NAME] [--dir DIR]      on-demand-<node>-<unix seconds>
    kijabi etcd-snapshot ls|list                             Name / Location / Size / Created
    kijabi etcd-snapshot delete NAME...
    kijabi etcd-snapshot prune [--name NAME] --snapshot-retention N
    kijabi etcd-snapshot restore FILE

The datastore is chosen with the server's flags (`--data-dir`, `--datastore-endpoint`, `--datastore-*file`);
snapshots live in `--dir` (alias `--etcd-snapshot-dir`, default `<data-dir>/server/db/snapshots`). The
formats and the restore procedure of each backend are described in `kijabi.storage.snapshot`.

Names follow k3s: `<name>-<node name>-<unix seconds>`, where `<name>` is `on-demand` for `save` and
`etcd-snapshot` for the schedule unless `--name` / `--etcd-snapshot-name` says otherwise. Retention counts
the snapshots of one name prefix and node only (`<name>-<node>-`), so the schedule never prunes on-demand
snapshots and `prune` (default prefix `on-demand`) never prunes scheduled ones.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import logging
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from kijabi.machinery import cron
from kijabi.storage import StorageError
from kijabi.storage.snapshot import Datastore, SnapshotError, parse_datastore, restore, save, snapshot_kind

log = logging.getLogger("kijabi.snapshot")

DEFAULT_DATA_DIR = Path("/var/lib/kijabi")
ON_DEMAND = "on-demand"
SCHEDULED = "etcd-snapshot"
DEFAULT_CRON = "0 */12 * * *"
DEFAULT_RETENTION = 5
_PARTIAL = ".partial"


# --- snapshot files in a directory ----------------------------------------------------------------------


@dataclass(frozen=True)
class SnapshotFile:
    name: str
    path: Path
    size: int
    created: dt.datetime  # from the name's unix seconds, else the file's modification time

    @property
    def location(self) -> str:
        return self.path.resolve().as_uri()


def snapshot_dir(args: argparse.Namespace) -> Path:
    explicit: Path | None = getattr(args, "etcd_snapshot_dir", None) or getattr(args, "dir", None)
    return explicit or Path(args.data_dir) / "server" / "db" / "snapshots"


def node_name(args: argparse.Namespace) -> str:
    return str(getattr(args, "node_name", None) or socket.gethostname())


def snapshot_name(prefix: str, node: str, when: dt.datetime) -> str:
    return f"{prefix}-{node}-{int(when.timestamp())}"


def list_snapshots(directory: Path) -> list[SnapshotFile]:
    """The snapshot files in `directory`, oldest first (a missing directory has none)."""
    out: list[SnapshotFile] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        if not entry.is_file(follow_symlinks=False) or entry.name.endswith(_PARTIAL):
            continue
        st = entry.stat()
        created = dt.datetime.fromtimestamp(st.st_mtime, dt.UTC)
        stamp = entry.name.rsplit("-", 1)[-1]
        if stamp.isdigit():
            created = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
        out.append(SnapshotFile(entry.name, Path(entry.path), st.st_size, created))
    out.sort(key=lambda s: (s.created, s.name))
    return out


def prune(directory: Path, prefix: str, retention: int) -> list[SnapshotFile]:
    """Delete all but the newest `retention` snapshots named `<prefix>-...`; returns the deleted ones.
    Snapshots of other prefixes are never touched."""
    mine = [s for s in list_snapshots(directory) if s.name.startswith(prefix + "-")]
    doomed = mine[: max(len(mine) - max(retention, 0), 0)]
    for s in doomed:
        with contextlib.suppress(FileNotFoundError):
            s.path.unlink()
    return doomed


def format_table(snapshots: list[SnapshotFile]) -> str:
    rows = [("Name", "Location", "Size", "Created")]
    rows += [(s.name, s.location, str(s.size), s.created.strftime("%Y-%m-%dT%H:%M:%SZ")) for s in snapshots]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    return "\n".join(
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:3])) + "  " + r[3] for r in rows
    )


# --- the command -------------------------------------------------------------------------------------------


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", "-d", type=Path, default=DEFAULT_DATA_DIR, help="folder for state (default %(default)s)")
    p.add_argument("--datastore-endpoint", default="",
                   help="sqlite:///path (default: <data-dir>/server/db/state.db) or etcd://host:2379,host:2379")
    p.add_argument("--datastore-cafile", default="", help="CA bundle for the etcd endpoints")
    p.add_argument("--datastore-certfile", default="", help="client certificate for the etcd endpoints")
    p.add_argument("--datastore-keyfile", default="", help="client key for the etcd endpoints")
    p.add_argument("--dir", "--etcd-snapshot-dir", dest="dir", type=Path, default=None,
                   help="directory of the snapshots (default: <data-dir>/server/db/snapshots)")
    p.add_argument("--node-name", default=None, help="node name in snapshot names (default: the host name)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kijabi etcd-snapshot", description="Save, list and restore datastore snapshots.")
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("save", help="save a snapshot now")
    _common(p)
    p.add_argument("--name", "--etcd-snapshot-name", dest="name", default=ON_DEMAND,
                   help="prefix of the snapshot's name (default %(default)s)")
    for alias in ("ls", "list"):
        _common(sub.add_parser(alias, help="list the snapshots"))
    p = sub.add_parser("delete", help="delete snapshots by name")
    _common(p)
    p.add_argument("names", nargs="+", metavar="NAME")
    p = sub.add_parser("prune", help="delete all but the newest snapshots of one name prefix")
    _common(p)
    p.add_argument("--name", "--etcd-snapshot-name", dest="name", default=ON_DEMAND,
                   help="prefix of the snapshots to prune (default %(default)s)")
    p.add_argument("--snapshot-retention", "--etcd-snapshot-retention", dest="retention", type=int,
                   default=DEFAULT_RETENTION, help="snapshots to keep (default %(default)s)")
    p = sub.add_parser("restore", help="restore the datastore from a snapshot file (SQLite: with the server stopped)")
    _common(p)
    p.add_argument("file", type=Path, metavar="FILE", help="a snapshot file, or the name of one in --dir")
    return parser


def main(argv: list[str]) -> int:
    """`kijabi etcd-snapshot ...`: errors are one line on stderr and exit code 1."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["save", *argv]  # like k3s: `etcd-snapshot` alone saves
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return asyncio.run(_run(args))
    except (StorageError, OSError) as exc:
        print(f"kijabi: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    else:
        text = str(exc)
    return " ".join(text.split())


def datastore_from_args(args: argparse.Namespace) -> Datastore:
    """The datastore named by the server's flags."""
    return parse_datastore(
        args.datastore_endpoint, data_dir=Path(args.data_dir), ca_file=args.datastore_cafile,
        cert_file=args.datastore_certfile, key_file=args.datastore_keyfile,
    )


async def _run(args: argparse.Namespace) -> int:
    directory = snapshot_dir(args)
    if args.action == "save":
        ds = datastore_from_args(args)
        name = snapshot_name(args.name, node_name(args), dt.datetime.now(dt.UTC))
        size = await save(ds, directory / name)
        print(f"kijabi: snapshot {name} saved to {directory / name} ({size} bytes)")
    elif args.action in ("ls", "list"):
        print(format_table(list_snapshots(directory)))
    elif args.action == "delete":
        known = {s.name: s for s in list_snapshots(directory)}
        missing = [n for n in args.names if Path(n).name not in known]
        if missing:
            raise SnapshotError(f"no snapshot named {', '.join(missing)} in {directory}")
        for name in dict.fromkeys(Path(n).name for n in args.names):
            known[name].path.unlink()
            print(f"kijabi: snapshot {name} deleted")
    elif args.action == "prune":
        if args.retention < 1:
            raise SnapshotError("--snapshot-retention must be at least 1")
        for s in prune(directory, f"{args.name}-{node_name(args)}", args.retention):
            print(f"kijabi: snapshot {s.name} pruned")
    else:
        ds = datastore_from_args(args)
        path: Path = args.file
        if not path.exists() and path.parent == Path(".") and (directory / path).exists():
            path = directory / path
        snapshot_kind(path)  # a missing or foreign file is refused before anything is said or done
        print(f"kijabi: restoring {ds} from {path}", flush=True)
        result = await restore(ds, path, progress=_progress("restored"))
        print(f"kijabi: restored {result.keys} keys ({result.written} written, {result.deleted} deleted)")
    return 0


def _progress(verb: str) -> Callable[[int, int], None]:
    def report(done: int, total: int) -> None:
        print(f"kijabi: {verb} {done}/{total} keys", flush=True)

    return report


# --- scheduled snapshots ----------------------------------------------------------------------------------


def _cron_spec(text: str) -> str:

    try:
        cron.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid cron schedule {text!r}: {exc}") from exc
    return text


def add_snapshot_flags(parser: argparse.ArgumentParser) -> None:
    """The server's flags for scheduled snapshots (k3s names and defaults)."""
    parser.add_argument("--etcd-snapshot-schedule-cron", type=_cron_spec, default=DEFAULT_CRON,
                        help="when to take snapshots, in cron syntax (default %(default)r)")
    parser.add_argument("--etcd-snapshot-retention", type=int, default=DEFAULT_RETENTION,
                        help="scheduled snapshots to keep (default %(default)s)")
    parser.add_argument("--etcd-snapshot-dir", type=Path, default=None,
                        help="directory of the snapshots (default: <data-dir>/server/db/snapshots)")
    parser.add_argument("--etcd-snapshot-name", default=SCHEDULED,
                        help="prefix of scheduled snapshots' names (default %(default)s)")
    parser.add_argument("--etcd-disable-snapshots", action="store_true", help="take no scheduled snapshots")


class Clock:
    """Wall-clock time and sleeping, injectable so that tests run a schedule on fake time."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


async def run_snapshot_schedule(
    args: argparse.Namespace,
    datastore: Datastore,
    stop: asyncio.Event,
    *,
    clock: Clock | None = None,
    take: Callable[[Datastore, Path], Awaitable[int]] = save,
) -> None:
    """Take a snapshot at every activation of `--etcd-snapshot-schedule-cron` until `stop` is set, then
    keep the newest `--etcd-snapshot-retention` scheduled ones. Returns at once with
    `--etcd-disable-snapshots`. A failed snapshot is logged and the schedule goes on. Activations missed
    while a snapshot was being taken are skipped (the next one is computed from the time it ended)."""
    if args.etcd_disable_snapshots:
        return

    clock = clock or Clock()
    schedule = cron.parse(args.etcd_snapshot_schedule_cron)
    directory = snapshot_dir(args)
    prefix: str = getattr(args, "etcd_snapshot_name", SCHEDULED) or SCHEDULED
    node = node_name(args)
    retention = max(int(args.etcd_snapshot_retention), 1)
    log.info("scheduled snapshots %r into %s, keeping %d", args.etcd_snapshot_schedule_cron, directory, retention)
    while not stop.is_set():
        due = schedule.next(clock.now())
        if due is None:
            log.warning("the snapshot schedule %r never fires", args.etcd_snapshot_schedule_cron)
            return
        while (left := (due - clock.now()).total_seconds()) > 0:
            if await _sleep_or_stop(clock, left, stop):
                return
        name = snapshot_name(prefix, node, due)
        try:
            size = await take(datastore, directory / name)
            log.info("scheduled snapshot %s saved (%d bytes)", name, size)
            for old in prune(directory, f"{prefix}-{node}", retention):
                log.info("scheduled snapshot %s pruned", old.name)
        except (StorageError, OSError) as exc:
            log.error("scheduled snapshot %s failed: %s", name, _one_line(exc))
        except Exception:  # a bug: say so, and keep the schedule going
            log.exception("scheduled snapshot %s failed", name)


async def _sleep_or_stop(clock: Clock, seconds: float, stop: asyncio.Event) -> bool:
    """Sleep on the clock; True if `stop` was set first."""
    sleeper = asyncio.ensure_future(clock.sleep(seconds))
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({sleeper, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sleeper, stopper):
            task.cancel()
        await asyncio.gather(sleeper, stopper, return_exceptions=True)
    return stop.is_set()
