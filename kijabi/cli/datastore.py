"""`kijabi datastore`: datastore tools.

    kijabi datastore migrate --from ENDPOINT --to ENDPOINT [--force]
                             [--cafile F --certfile F --keyfile F]        (TLS files of etcd endpoints)

ENDPOINT is a `--datastore-endpoint` value: `sqlite:///path/state.db` or `etcd://host:2379,host:2379`
(also `http(s)://`). Every key under /registry/ (built-in objects, CRDs and custom resources) is copied
byte for byte; resourceVersions become the target's revisions, so clients re-list. A SQLite datastore
must not be in use by a running server; a target that already holds objects is refused unless --force
(which makes it hold exactly the source's objects).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from kijabi.storage import StorageError
from kijabi.storage.snapshot import migrate, parse_datastore


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kijabi datastore", description="Datastore tools.")
    sub = parser.add_subparsers(dest="action", required=True)
    p = sub.add_parser("migrate", help="copy every object from one datastore to another (SQLite <-> etcd)")
    p.add_argument("--from", dest="source", required=True, metavar="ENDPOINT", help="the datastore to copy from")
    p.add_argument("--to", dest="target", required=True, metavar="ENDPOINT", help="the datastore to copy into")
    p.add_argument("--force", action="store_true", help="replace the objects a non-empty target holds")
    p.add_argument("--cafile", default="", help="CA bundle for etcd endpoints")
    p.add_argument("--certfile", default="", help="client certificate for etcd endpoints")
    p.add_argument("--keyfile", default="", help="client key for etcd endpoints")
    return parser


def main(argv: list[str]) -> int:
    """`kijabi datastore ...`: errors are one line on stderr and exit code 1."""
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(_migrate(args))
    except (StorageError, OSError) as exc:
        print(f"kijabi: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _migrate(args: argparse.Namespace) -> int:
    tls = {"ca_file": args.cafile, "cert_file": args.certfile, "key_file": args.keyfile}
    for endpoint in (args.source, args.target):
        if not endpoint.startswith(("sqlite://", "etcd://", "http://", "https://")):
            print(f"kijabi: unsupported endpoint {endpoint!r} (sqlite:///path or etcd://host:2379,...)", file=sys.stderr)
            return 1
    source = parse_datastore(args.source, data_dir=Path("."), **tls)
    target = parse_datastore(args.target, data_dir=Path("."), **tls)
    print(f"kijabi: migrating {source} -> {target}", flush=True)

    def progress(done: int, total: int) -> None:
        print(f"kijabi: copied {done}/{total} keys", flush=True)

    copied = await migrate(source, target, force=args.force, progress=progress)
    print(f"kijabi: migrated {copied} keys from {source} to {target}")
    return 0
