"""Local images: deterministic OCI tarballs of busybox and pause, and the pause program itself."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from kijabi.kubelet import images
from tests.kubelet.node import requires_runtime

needs_busybox = pytest.mark.skipif(not images.BUSYBOX_BINARY.exists(), reason="busybox-static not installed")


def read_layout(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def layer_members(path: Path) -> dict[str, tarfile.TarInfo]:
    files = read_layout(path)
    index = json.loads(files["index.json"])
    manifest = json.loads(files["blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]])
    layer = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    with tarfile.open(fileobj=io.BytesIO(layer), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


@needs_busybox
def test_builds_are_byte_for_byte_reproducible(tmp_path: Path) -> None:
    """Same inputs, same tarball and image id: nothing depends on time, umask or order."""
    a = images.build_image(images.busybox_spec(), tmp_path / "a.tar")
    os.umask(0o077)
    try:
        b = images.build_image(images.busybox_spec(), tmp_path / "b.tar")
    finally:
        os.umask(0o022)
    assert a.id == b.id
    assert a.path.read_bytes() == b.path.read_bytes()


@needs_busybox
def test_busybox_layout_is_a_valid_oci_image(tmp_path: Path) -> None:
    """index -> manifest -> config/layer digests and sizes agree; diff_id is the uncompressed layer's."""
    built = images.build_image(images.busybox_spec(), tmp_path / "bb.tar")
    files = read_layout(built.path)
    assert json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}
    for name, data in files.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    entry = json.loads(files["index.json"])["manifests"][0]
    assert entry["annotations"] == {"io.containerd.image.name": images.BUSYBOX_IMAGE,
                                    "org.opencontainers.image.ref.name": "kijabi"}
    manifest_bytes = files["blobs/sha256/" + entry["digest"].split(":")[1]]
    assert entry["size"] == len(manifest_bytes)
    manifest = json.loads(manifest_bytes)
    config = json.loads(files["blobs/sha256/" + manifest["config"]["digest"].split(":")[1]])
    assert built.id == manifest["config"]["digest"]
    assert (config["os"], config["architecture"]) == ("linux", images.host_arch())
    assert config["config"]["Cmd"] == ["sh"] and config["config"]["Env"][0].startswith("PATH=")
    layer = files["blobs/sha256/" + manifest["layers"][0]["digest"].split(":")[1]]
    import gzip

    assert config["rootfs"]["diff_ids"] == ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()]


@needs_busybox
def test_busybox_rootfs_has_applets_users_and_sticky_tmp(tmp_path: Path) -> None:
    members = layer_members(images.build_image(images.busybox_spec(), tmp_path / "bb.tar").path)
    assert members["bin/busybox"].isfile() and members["bin/busybox"].mode == 0o755
    for applet in ("sh", "httpd", "wget", "sleep", "ping", "ps", "echo"):
        assert members[f"bin/{applet}"].issym() and members[f"bin/{applet}"].linkname == "busybox"
    assert members["tmp"].isdir() and members["tmp"].mode == 0o1777
    assert members["etc/passwd"].isfile() and members["etc/group"].isfile()
    assert {(m.mtime, m.uid, m.gid) for m in members.values()} == {(0, 0, 0)}
    assert list(members) == sorted(members)


def test_pause_image_holds_only_the_pause_program(tmp_path: Path) -> None:
    built = images.build_image(images.pause_spec(arch="amd64"), tmp_path / "pause.tar")
    members = layer_members(built.path)
    assert list(members) == ["pause"] and members["pause"].mode == 0o755
    files = read_layout(built.path)
    config = json.loads(next(d for d in files.values() if b'"Entrypoint"' in d))
    assert config["config"]["Entrypoint"] == ["/pause"] and config["config"]["User"] == "65535:65535"


def test_pause_program_is_a_static_x86_64_elf() -> None:
    elf = images.pause_program("amd64")
    assert elf[:4] == b"\x7fELF" and elf[4] == 2 and elf[18] == 0x3E  # ELF64, x86-64
    assert len(elf) < 512


ERRORS = [
    ("pause on arm64", lambda: images.pause_program("arm64"), "amd64 only"),
    ("image name without tag", lambda: images.build_image(images.ImageSpec("docker.io/x/y", [], {}), Path("/nonexistent/x.tar")), "explicit :tag"),
    ("busybox binary missing", lambda: images.busybox_spec(binary=Path("/nonexistent/busybox")), "busybox-static"),
]


@pytest.mark.parametrize(("make", "message"), [(m, e) for _, m, e in ERRORS], ids=[n for n, _, _ in ERRORS])
def test_build_errors(make, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(images.ImageBuildError, match=message):
        make()


def _wait_blocked(pid: int) -> None:
    """Wait until the pause program sits in rt_sigtimedwait (signals blocked; sending earlier would kill it)."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/syscall").read_text().split()[0] == "128":
                return
        time.sleep(0.005)
    raise AssertionError("pause never reached rt_sigtimedwait")


needs_amd64 = pytest.mark.skipif(images.host_arch() != "amd64", reason="the pause program is x86-64")


@needs_amd64
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_pause_exits_zero_on_term_and_int(tmp_path: Path, sig: signal.Signals) -> None:
    binary = tmp_path / "pause"
    binary.write_bytes(images.pause_program())
    binary.chmod(0o755)
    proc = subprocess.Popen([str(binary)])
    try:
        _wait_blocked(proc.pid)
        proc.send_signal(signal.SIGCHLD)  # no child: it must keep waiting
        assert proc.poll() is None
        proc.send_signal(sig)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_amd64
@requires_runtime
def test_pause_reaps_orphans_as_pid_1(tmp_path: Path) -> None:
    """As PID 1 of a PID namespace, pause reaps orphans that exit (they would stay zombies otherwise)."""
    binary = tmp_path / "pause"
    binary.write_bytes(images.pause_program())
    binary.chmod(0o755)
    proc = subprocess.Popen(["unshare", "--fork", "--pid", str(binary)])
    try:
        deadline = time.monotonic() + 5
        children: list[str] = []
        while not children and time.monotonic() < deadline:
            children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        pause = int(children[0])
        _wait_blocked(pause)
        subprocess.run(["nsenter", "-t", str(pause), "-p", "--", "sh", "-c", "sleep 0.05 & sleep 0.05 & exit 0"],
                       check=True)

        def zombie_or_live_children() -> list[str]:
            return Path(f"/proc/{pause}/task/{pause}/children").read_text().split()

        while zombie_or_live_children() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert zombie_or_live_children() == []
        os.kill(pause, signal.SIGTERM)
        assert proc.wait(timeout=5) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@needs_busybox
def test_write_builtin_images_is_idempotent(tmp_path: Path) -> None:
    """Both tarballs land in the directory; a second call leaves identical files untouched."""
    first = images.write_builtin_images(tmp_path)
    assert [(b.name, b.path.name) for b in first] == [(images.PAUSE_IMAGE, "pause.tar"),
                                                      (images.BUSYBOX_IMAGE, "busybox.tar")]
    stamps = {b.path: b.path.stat().st_mtime_ns for b in first}
    second = images.write_builtin_images(tmp_path)
    assert [b.id for b in second] == [b.id for b in first]
    assert {b.path: b.path.stat().st_mtime_ns for b in second} == stamps
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busybox.tar", "pause.tar"]


def test_auto_import_directory_lists_image_tarballs_only(tmp_path: Path) -> None:
    for name in ("b.tar", "a.tar.gz", "c.tgz", "notes.txt", "d.tar.zst"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub.tar").mkdir()
    assert [p.name for p in images.image_files(tmp_path)] == ["a.tar.gz", "b.tar", "c.tgz"]
    assert images.image_files(tmp_path / "missing") == []


CTR_OUTPUT = [
    ("one image", "unpacking docker.io/library/busybox:kijabi (sha256:32ec)...done\n", ["docker.io/library/busybox:kijabi"]),
    ("digest images skipped", "unpacking x/y@sha256:ab (sha256:ab)...done\nunpacking x/y:1 (sha256:ab)...done\n", ["x/y:1"]),
    ("no images", "", []),
]


@pytest.mark.parametrize(("output", "names"), [(o, n) for _, o, n in CTR_OUTPUT], ids=[i for i, _, _ in CTR_OUTPUT])
def test_imported_names_come_from_ctr_progress_lines(output: str, names: list[str]) -> None:
    assert images._imported_names(output) == names


@pytest.mark.skipif(shutil.which("ctr") is None, reason="ctr not installed")
async def test_import_without_a_containerd_socket_fails_at_once(tmp_path: Path) -> None:
    tar = tmp_path / "p.tar"
    images.build_image(images.pause_spec(arch="amd64"), tar)
    with pytest.raises(images.ImageImportError, match="no containerd socket at"):
        await images.import_images(str(tmp_path / "no.sock"), [tar], timeout=30)
