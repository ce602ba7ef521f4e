"""`kijabi images`: the node's container images, in the `k8s.io` namespace of the agent's containerd.

    kijabi images import FILE... [--data-dir D | --address SOCKET]   OCI/docker archives (.tar, .tar.gz, .tgz)
    kijabi images ls [--data-dir D | --address SOCKET]               what the CRI plugin sees (like crictl images)

The agent's containerd must be running (`kijabi agent` or `kijabi server`); otherwise one error line.
To have images imported at every agent start instead, drop the tarballs into `<data-dir>/agent/images`.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from kijabi.kubelet import images
from kijabi.kubelet.containerd import AgentPaths
from kijabi.kubelet.cri import CRIError, connect

DEFAULT_DATA_DIR = Path("/var/lib/kijabi")


class ImagesError(Exception):
    """A one-line error for the user."""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kijabi images", description="Container images of the node's containerd.")
    common = argparse.ArgumentParser(add_help=False)
    where = common.add_mutually_exclusive_group()
    where.add_argument("--data-dir", "-d", type=Path, default=DEFAULT_DATA_DIR,
                       help="the agent's data dir (default %(default)s)")
    where.add_argument("--address", "-a", type=Path, default=None, help="a containerd socket instead")
    sub = p.add_subparsers(dest="verb", required=True)
    imp = sub.add_parser("import", parents=[common], help="import image tarballs")
    imp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    sub.add_parser("ls", aliases=["list"], parents=[common], help="list images")
    return p


def containerd_socket(args: argparse.Namespace) -> Path:
    """The socket of a running containerd (--address, or the agent's under --data-dir)."""
    path: Path = args.address or AgentPaths(args.data_dir.absolute()).socket
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(2.0)
        s.connect(str(path))
    except OSError:
        raise ImagesError(f"containerd is not running (nothing listens on {path}); "
                          "start `kijabi agent` (or `kijabi server`) first") from None
    finally:
        s.close()
    return path


async def import_files(sock: Path, files: Sequence[Path]) -> list[str]:
    for f in files:
        if not f.is_file():
            raise ImagesError(f"{f}: no such file")
        if not f.name.endswith(images.IMAGE_SUFFIXES):
            raise ImagesError(f"{f}: expected an image archive ({', '.join(images.IMAGE_SUFFIXES)})")
    try:
        return await images.import_images(sock, list(files))
    except images.ImageImportError as exc:
        raise ImagesError(str(exc)) from None


async def list_images(sock: Path) -> list[tuple[str, str, int]]:
    """(name, image id, size) of every tagged image (digest-only images by digest), sorted by name."""
    try:
        async with await connect(sock, timeout=10) as cri:
            found = await cri.images.list_images()
    except CRIError as exc:
        raise ImagesError(f"listing images: {exc}") from None
    rows = [(name, im.id, im.size) for im in found for name in (im.repo_tags or im.repo_digests[:1])]
    return sorted(rows)


def _size(n: int) -> str:
    """Decimal units, as crictl prints them."""
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000:
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{value:.1f}GB"


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        sock = containerd_socket(args)
        if args.verb == "import":
            for name in asyncio.run(import_files(sock, args.files)):
                print(f"imported {name}", flush=True)
        else:
            rows = asyncio.run(list_images(sock))
            width = max([len("IMAGE"), *(len(r[0]) for r in rows)])
            print(f"{'IMAGE':<{width}}  {'IMAGE ID':<13}  SIZE")
            for name, image_id, size in rows:
                print(f"{name:<{width}}  {image_id.removeprefix('sha256:')[:13]:<13}  {_size(size)}")
    except ImagesError as exc:
        print(f"kijabi images: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
