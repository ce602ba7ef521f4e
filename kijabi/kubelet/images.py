"""Local images: the pod sandbox ("pause") image and a busybox image, built offline as OCI image tarballs.

No registry is needed to run pods: `write_builtin_images(dir)` writes both tarballs (deterministically:
same inputs, same bytes, same image ids) and `import_images(containerd, files)` loads tarballs into
containerd's `k8s.io` namespace, where the CRI plugin sees them. The agent imports every tarball of its
auto-import directory `<data-dir>/agent/images` at start (`import_directory`), like k3s's airgap images.

Image names (choose these in pod specs and in containerd's `sandbox_image`):

    PAUSE_IMAGE    docker.io/kijabi/pause:3.10        one file, /pause: a 267-byte static x86-64 program
    BUSYBOX_IMAGE  docker.io/library/busybox:kijabi   /bin/busybox of Debian's busybox-static, with a
                                                      /bin/<applet> symlink for every applet; pods say
                                                      `image: busybox:kijabi`

The "kijabi" tag keeps kubelet pull policies at IfNotPresent (only `:latest` defaults to Always), so a
pod naming an imported image never makes containerd go to a registry.

The pause program is written here as machine code (no compiler at build time): it blocks SIGINT, SIGTERM
and SIGCHLD, then loops on rt_sigtimedwait; SIGCHLD reaps every exited child (it is PID 1 of the pod when
the PID namespace is shared), SIGINT or SIGTERM exit with status 0. Blocked signals are delivered even
to a namespace's init, which ignores signals left at their default action. x86-64 only for now
(`ImageBuildError` elsewhere).

Tarball layout (OCI image layout 1.0, as `ctr images import` reads it):
`oci-layout`, `index.json` (one manifest, annotated with `io.containerd.image.name` = full name and
`org.opencontainers.image.ref.name` = tag), `blobs/sha256/<digest>` for manifest, config and one gzip
layer. Every tar entry has mtime 0, uid/gid 0 and sorted order; gzip has mtime 0 and no file name.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import hashlib
import io
import os
import platform
import struct
import subprocess
import tarfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from kijabi.kubelet.containerd import Containerd

PAUSE_IMAGE = "docker.io/kijabi/pause:3.10"
BUSYBOX_IMAGE = "docker.io/library/busybox:kijabi"
BUSYBOX_BINARY = Path("/bin/busybox")  # Debian busybox-static (a dynamically linked busybox will not do)
K8S_NAMESPACE = "k8s.io"  # containerd namespace of the CRI plugin
IMAGE_SUFFIXES = (".tar", ".tar.gz", ".tgz")
PAUSE_FILE = "pause.tar"
BUSYBOX_FILE = "busybox.tar"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
EPOCH = "1970-01-01T00:00:00Z"


class ImageBuildError(Exception):
    """An image cannot be built here (missing busybox-static, unsupported architecture)."""


class ImageImportError(Exception):
    """`ctr images import` failed; the message carries ctr's own error line."""


# --- the pause program -----------------------------------------------------------------------------------

_SIGINT, _SIGTERM, _SIGCHLD = 2, 15, 17
_SIGSET = (1 << (_SIGINT - 1)) | (1 << (_SIGTERM - 1)) | (1 << (_SIGCHLD - 1))

# x86-64 Linux, position-dependent, no data: the signal set lives on the stack.
_PAUSE_CODE_X86_64 = b"".join([
    b"\x68" + struct.pack("<I", _SIGSET),  # 0  push SIGSET             ; the set at [rsp]
    b"\xb8\x0e\x00\x00\x00",               # 5  mov eax, 14             ; rt_sigprocmask(
    b"\x31\xff",                           # 10 xor edi, edi            ;   SIG_BLOCK,
    b"\x48\x89\xe6",                       # 12 mov rsi, rsp            ;   &set,
    b"\x31\xd2",                           # 15 xor edx, edx            ;   NULL,
    b"\x41\xba\x08\x00\x00\x00",           # 17 mov r10d, 8             ;   sizeof set)
    b"\x0f\x05",                           # 23 syscall
    b"\xb8\x80\x00\x00\x00",               # 25 wait: mov eax, 128      ; rt_sigtimedwait(
    b"\x48\x89\xe7",                       # 30 mov rdi, rsp            ;   &set,
    b"\x31\xf6",                           # 33 xor esi, esi            ;   NULL,
    b"\x31\xd2",                           # 35 xor edx, edx            ;   NULL (no timeout),
    b"\x41\xba\x08\x00\x00\x00",           # 37 mov r10d, 8             ;   sizeof set)
    b"\x0f\x05",                           # 43 syscall
    b"\x83\xf8\x11",                       # 45 cmp eax, SIGCHLD
    b"\x75\x1c",                           # 48 jne other (78)
    b"\xb8\x3d\x00\x00\x00",               # 50 reap: mov eax, 61       ; wait4(
    b"\xbf\xff\xff\xff\xff",               # 55 mov edi, -1             ;   any child,
    b"\x31\xf6",                           # 60 xor esi, esi            ;   NULL,
    b"\xba\x01\x00\x00\x00",               # 62 mov edx, 1              ;   WNOHANG,
    b"\x45\x31\xd2",                       # 67 xor r10d, r10d          ;   NULL)
    b"\x0f\x05",                           # 70 syscall
    b"\x85\xc0",                           # 72 test eax, eax
    b"\x7f\xe6",                           # 74 jg reap (50)            ; reaped one: try again
    b"\xeb\xcb",                           # 76 jmp wait (25)
    b"\x85\xc0",                           # 78 other: test eax, eax
    b"\x78\xc7",                           # 80 js wait (25)            ; interrupted: wait again
    b"\xb8\xe7\x00\x00\x00",               # 82 mov eax, 231            ; exit_group(
    b"\x31\xff",                           # 87 xor edi, edi            ;   0)
    b"\x0f\x05",                           # 89 syscall
])


def pause_program(arch: str | None = None) -> bytes:
    """The pause program as a static ELF executable for `arch` (Go/OCI name, default: this machine)."""
    arch = arch or host_arch()
    if arch != "amd64":
        raise ImageBuildError(f"the pause program exists for amd64 only, not {arch}")
    base, ehsize, phsize, phnum = 0x400000, 64, 56, 2
    code_off = ehsize + phsize * phnum
    size = code_off + len(_PAUSE_CODE_X86_64)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little endian, version 1, System V
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, base + code_off, ehsize, 0, 0,
                                 ehsize, phsize, phnum, 0, 0, 0)
    load = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)  # PT_LOAD, R+X, whole file
    stack = struct.pack("<IIQQQQQQ", 0x6474E551, 6, 0, 0, 0, 0, 0, 16)      # PT_GNU_STACK, RW (no exec)
    return header + load + stack + _PAUSE_CODE_X86_64


def host_arch() -> str:
    """This machine's architecture in OCI/Go naming (amd64, arm64, ...)."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "i386": "386"}.get(machine, machine)


# --- layers and layouts ----------------------------------------------------------------------------------

@dataclass
class _Entry:
    name: str
    kind: bytes                  # tarfile.DIRTYPE / REGTYPE / SYMTYPE
    mode: int
    data: bytes = b""
    link: str = ""


@dataclass
class ImageSpec:
    """What an image is made of: its name, one layer's entries and its runtime config."""

    name: str
    entries: list[_Entry]
    config: dict[str, Any]
    arch: str = field(default_factory=host_arch)


def _layer_tar(entries: Iterable[_Entry]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for e in sorted(entries, key=lambda e: e.name):
            info = tarfile.TarInfo(e.name)
            info.type, info.mode, info.mtime = e.kind, e.mode, 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if e.kind == tarfile.SYMTYPE:
                info.linkname = e.link
                tar.addfile(info)
            elif e.kind == tarfile.REGTYPE:
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", fileobj=buf, mode="wb", compresslevel=6, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(doc: dict[str, Any]) -> bytes:
    return orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)


def _split_name(name: str) -> tuple[str, str]:
    repo, _, tag = name.rpartition(":")
    if not repo or "/" in tag:
        raise ImageBuildError(f"image name {name!r} needs an explicit :tag")
    return repo, tag


@dataclass(frozen=True)
class BuiltImage:
    """A written image tarball: its name, its CRI image id (config digest) and where it is."""

    name: str
    id: str
    path: Path


def build_image(spec: ImageSpec, path: Path) -> BuiltImage:
    """Write `spec` as an OCI image-layout tarball at `path` (atomically); returns name, id and path."""
    _, tag = _split_name(spec.name)
    layer_tar = _layer_tar(spec.entries)
    layer = _gzip(layer_tar)
    config = _json({
        "architecture": spec.arch,
        "os": "linux",
        "created": EPOCH,
        "config": spec.config,
        "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar)]},
        "history": [{"created": EPOCH, "created_by": "kijabi.kubelet.images"}],
    })
    manifest = _json({
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": MEDIA_LAYER_GZIP, "digest": _digest(layer), "size": len(layer)}],
    })
    index = _json({
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{
            "mediaType": MEDIA_MANIFEST, "digest": _digest(manifest), "size": len(manifest),
            "annotations": {"io.containerd.image.name": spec.name, "org.opencontainers.image.ref.name": tag},
            "platform": {"architecture": spec.arch, "os": "linux"},
        }],
    })
    files: list[_Entry] = [
        _Entry("blobs", tarfile.DIRTYPE, 0o755),
        _Entry("blobs/sha256", tarfile.DIRTYPE, 0o755),
        _Entry("oci-layout", tarfile.REGTYPE, 0o644, _json({"imageLayoutVersion": "1.0.0"})),
        _Entry("index.json", tarfile.REGTYPE, 0o644, index),
    ]
    for blob in (config, manifest, layer):
        files.append(_Entry("blobs/sha256/" + _digest(blob).removeprefix("sha256:"), tarfile.REGTYPE, 0o644, blob))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(_layer_tar(files))
    os.replace(tmp, path)
    return BuiltImage(name=spec.name, id=_digest(config), path=path)


def _dirs(*names: str) -> list[_Entry]:
    return [_Entry(n, tarfile.DIRTYPE, 0o1777 if n == "tmp" else 0o755) for n in names]


def pause_spec(name: str = PAUSE_IMAGE, *, arch: str | None = None) -> ImageSpec:
    """The sandbox image: /pause only, run as 65535:65535 like the upstream pause image."""
    arch = arch or host_arch()
    return ImageSpec(
        name=name,
        entries=[_Entry("pause", tarfile.REGTYPE, 0o755, pause_program(arch))],
        config={"Entrypoint": ["/pause"], "Env": [f"PATH={DEFAULT_PATH}"], "User": "65535:65535",
                "WorkingDir": "/"},
        arch=arch,
    )


def busybox_applets(binary: Path = BUSYBOX_BINARY) -> list[str]:
    """The applet names the busybox binary provides (`busybox --list`)."""
    try:
        out = subprocess.run([str(binary), "--list"], capture_output=True, check=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise ImageBuildError(f"cannot run {binary} (install Debian's busybox-static): {exc}") from exc
    return sorted({a.strip() for a in out.split() if a.strip() and "/" not in a} - {"busybox"})


def busybox_spec(name: str = BUSYBOX_IMAGE, *, binary: Path = BUSYBOX_BINARY) -> ImageSpec:
    """A busybox root filesystem: /bin/busybox, applet symlinks, /etc/passwd and /etc/group, /tmp (1777)."""
    try:
        data = binary.read_bytes()
    except OSError as exc:
        raise ImageBuildError(f"cannot read {binary} (install Debian's busybox-static): {exc}") from exc
    if not data.startswith(b"\x7fELF"):
        raise ImageBuildError(f"{binary} is not an ELF executable")
    entries = _dirs("bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin", "var", "var/www")
    entries.append(_Entry("bin/busybox", tarfile.REGTYPE, 0o755, data))
    entries += [_Entry(f"bin/{a}", tarfile.SYMTYPE, 0o777, link="busybox") for a in busybox_applets(binary)]
    entries.append(_Entry("usr/bin/env", tarfile.SYMTYPE, 0o777, link="../../bin/busybox"))
    entries.append(_Entry("etc/passwd", tarfile.REGTYPE, 0o644,
                          b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"))
    entries.append(_Entry("etc/group", tarfile.REGTYPE, 0o644, b"root:x:0:\nnobody:x:65534:\n"))
    return ImageSpec(name=name, entries=entries, config={"Cmd": ["sh"], "Env": [f"PATH={DEFAULT_PATH}"]})


def write_builtin_images(directory: Path) -> list[BuiltImage]:
    """Write pause.tar and busybox.tar into `directory` (e.g. the auto-import dir); returns what was written.

    A file already holding exactly the image is left untouched, so repeated calls do not rewrite it.
    """
    out = []
    for spec, fname in ((pause_spec(), PAUSE_FILE), (busybox_spec(), BUSYBOX_FILE)):
        path = directory / fname
        tmp_dir = directory / ".build"
        built = build_image(spec, tmp_dir / fname)
        if path.exists() and path.read_bytes() == built.path.read_bytes():
            built.path.unlink()
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(built.path, path)
        with contextlib.suppress(OSError):
            tmp_dir.rmdir()
        out.append(BuiltImage(name=built.name, id=built.id, path=path))
    return out


# --- import into containerd ------------------------------------------------------------------------------

def image_files(directory: Path) -> list[Path]:
    """The image tarballs of an auto-import directory (*.tar, *.tar.gz, *.tgz), sorted by name."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.is_file() and p.name.endswith(IMAGE_SUFFIXES))


def _socket_of(target: Containerd | str | os.PathLike[str]) -> str:
    if isinstance(target, str | os.PathLike):
        return os.fspath(target)
    return str(target.paths.socket)


async def import_images(target: Containerd | str | os.PathLike[str], files: Sequence[Path], *,
                        ctr: str = "ctr", namespace: str = K8S_NAMESPACE, timeout: float = 300) -> list[str]:
    """Import image tarballs into containerd (`ctr images import`, unpacked to overlayfs); returns the
    image names imported, in order.

    `target` is a `Containerd` or the path of its socket. Gzip-compressed tarballs are decompressed on the
    way in. Importing an image that is already there is a no-op for containerd (same digest). Raises
    `ImageImportError` with ctr's message when a file is not a valid image archive.
    """
    socket = _socket_of(target)
    if not Path(socket).is_socket():
        raise ImageImportError(f"no containerd socket at {socket}")
    names: list[str] = []
    for path in files:
        names += await _import_one(socket, Path(path), ctr=ctr, namespace=namespace, timeout=timeout)
    return names


async def _import_one(socket: str, path: Path, *, ctr: str, namespace: str, timeout: float) -> list[str]:
    compressed = path.name.endswith((".gz", ".tgz"))
    cmd = [ctr, "--address", socket, "--namespace", namespace, "images", "import",
           "-" if compressed else str(path)]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdin=asyncio.subprocess.PIPE if compressed else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    data = await asyncio.to_thread(_gunzip, path) if compressed else None
    try:
        async with asyncio.timeout(timeout):
            out, err = await proc.communicate(data)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines() or ["(no output)"]
        raise ImageImportError(f"importing {path.name} failed: {lines[-1]}")
    return _imported_names(out.decode(errors="replace"))


def _gunzip(path: Path) -> bytes:
    with gzip.open(path, "rb") as f:
        return f.read()


def _imported_names(output: str) -> list[str]:
    """Names from ctr's progress lines: `unpacking NAME (sha256:...)...done`."""
    names = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("unpacking ") and " (" in line:
            name = line[len("unpacking "):].split(" (", 1)[0]
            if "@sha256:" not in name:
                names.append(name)
    return names


async def import_directory(target: Containerd | str | os.PathLike[str], directory: Path, *,
                           ctr: str = "ctr") -> list[str]:
    """Import every tarball of an auto-import directory (k3s airgap style); returns the image names."""
    return await import_images(target, image_files(directory), ctr=ctr)
