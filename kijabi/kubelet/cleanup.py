"""`kijabi agent --cleanup`: tear down everything a node agent created, even after a crash. Idempotent.

What it removes, in this order (each step finds its objects from the data dir and the names given, never
by broad patterns, so a system containerd or another agent on the same host is left alone):

1. our containerd (processes started with `<data-dir>/agent/containerd/config.toml`);
2. the shims of that containerd (`containerd-shim-* -address <our socket>`) with every process below them,
   and any process left in the pod cgroups (`cgroup_parents`, every hierarchy);
3. every mount under `<data-dir>/agent` (container rootfs overlays, /dev/shm of sandboxes, pod network
   namespaces), deepest first, lazily (MNT_DETACH);
4. the bridge (default `cni0`) with the veths still attached;
5. iptables/ip6tables rules and chains the CNI plugins made for our network (kijabi.kubelet.cni), then
   nftables tables `ip nat`, `ip6 nat`, `ip filter`, `ip6 filter` if iptables-nft left them with no rule;
6. the pod cgroups (`cgroup_parents`, in every v1 hierarchy and the unified tree), deepest first;
7. files: containerd's state dir, runc roots, FIFOs, sockets and pid file, host-local IPAM state, libcni's
   cache entries for our network and our sandboxes, stale shim sockets in /run/containerd/s (and that
   directory when it ends up empty); with `remove_images`, containerd's root (images, snapshots) too;
8. the unreachable route of the service CIDR.

Before deleting a directory it re-reads the mount table: a directory with anything still mounted below it
is never deleted (it would reach into the mounted filesystem), and the failure is reported instead.

The agent records its bridge, network name, pod cgroup parents and service CIDR in
`<data-dir>/agent/cleanup.json` (`write_record`) before it creates anything; `cleanup_agent(data_dir)`
runs `cleanup` with them (k3s defaults when there is no record).

`cleanup()` returns a `CleanupReport` listing what each step removed and what failed; running it again
right after reports nothing removed. It is synchronous (run it from a thread in async code) and must run
as root.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path

from kijabi.kubelet import cni
from kijabi.kubelet.containerd import AgentPaths, stop_stale

DEFAULT_CGROUP_PARENT = "/kubepods"  # the kubelet's pod cgroup root with the cgroupfs driver
SHIM_SOCKET_DIR = Path("/run/containerd/s")
MNT_DETACH = 2
NFT_TABLES = (("ip", "nat"), ("ip6", "nat"), ("ip", "filter"), ("ip6", "filter"))
AGENT_RECORD = "cleanup.json"


@dataclass
class CleanupReport:
    """What `cleanup` removed, per kind, and what it could not remove (`errors`)."""

    containerd: list[int] = field(default_factory=list)
    processes: list[int] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    iptables: list[str] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    routes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def removed_anything(self) -> bool:
        return any(getattr(self, f.name) for f in fields(self) if f.name != "errors")

    def summary(self) -> str:
        """One line: counts per kind, then errors."""
        parts = [f"{len(getattr(self, f.name))} {f.name}" for f in fields(self)
                 if f.name != "errors" and getattr(self, f.name)]
        text = "removed " + ", ".join(parts) if parts else "nothing to remove"
        if self.errors:
            text += f"; {len(self.errors)} errors: " + "; ".join(self.errors)
        return text

    def lines(self) -> list[str]:
        """One line per removed thing (`kind: what`), then one per error (`error: what`)."""
        out = [f"{f.name}: {item}" for f in fields(self) if f.name != "errors" for item in getattr(self, f.name)]
        return out + [f"error: {e}" for e in self.errors]


@dataclass(frozen=True)
class AgentRecord:
    """What a running agent may create, recorded before it creates anything so that `cleanup_agent`
    finds it again after a crash: its bridge and CNI network, pod cgroup parents and service CIDR."""

    bridge: str = cni.DEFAULT_BRIDGE
    network_name: str = cni.DEFAULT_NETWORK_NAME
    cgroup_parents: tuple[str, ...] = (DEFAULT_CGROUP_PARENT,)
    service_cidr: str = cni.DEFAULT_SERVICE_CIDR


def record_path(data_dir: Path) -> Path:
    return AgentPaths(Path(data_dir).absolute()).agent / AGENT_RECORD


def write_record(data_dir: Path, record: AgentRecord) -> Path:
    """Write `<data-dir>/agent/cleanup.json` (atomically); returns its path."""
    path = record_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"bridge": record.bridge, "networkName": record.network_name,
                               "cgroupParents": list(record.cgroup_parents),
                               "serviceCIDR": record.service_cidr}, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def read_record(data_dir: Path) -> AgentRecord:
    """The agent's record, or the defaults (cni0, kijabi, /kubepods, 10.43.0.0/16) when there is none."""
    default = AgentRecord()
    try:
        doc = json.loads(record_path(data_dir).read_text())
    except (OSError, ValueError):
        return default
    if not isinstance(doc, dict):
        return default
    parents = doc.get("cgroupParents")
    return AgentRecord(
        bridge=str(doc.get("bridge") or default.bridge),
        network_name=str(doc.get("networkName") or default.network_name),
        cgroup_parents=tuple(str(p) for p in parents) if isinstance(parents, list) and parents
        else default.cgroup_parents,
        service_cidr=str(doc.get("serviceCIDR") or default.service_cidr))


def cleanup_agent(data_dir: Path, *, remove_images: bool = False, timeout: float = 10.0) -> CleanupReport:
    """`kijabi agent --cleanup`: `cleanup` with the names the agent of `data_dir` recorded."""
    record = read_record(data_dir)
    return cleanup(data_dir, bridge=record.bridge, network_name=record.network_name,
                   cgroup_parents=record.cgroup_parents, service_cidr=record.service_cidr,
                   remove_images=remove_images, timeout=timeout)


def cleanup(data_dir: Path, *, bridge: str = cni.DEFAULT_BRIDGE, network_name: str = cni.DEFAULT_NETWORK_NAME,
            cgroup_parents: Sequence[str] = (DEFAULT_CGROUP_PARENT,),
            service_cidr: str | None = cni.DEFAULT_SERVICE_CIDR, remove_images: bool = False,
            timeout: float = 10.0) -> CleanupReport:
    """Tear down what the agent of `data_dir` created (see the module docstring); safe to repeat."""
    paths = AgentPaths(Path(data_dir).absolute())
    report = CleanupReport()
    sandbox_ids = _sandbox_ids(paths)
    report.containerd = stop_stale(paths, timeout=timeout)
    report.processes = kill_processes(paths, cgroup_parents, timeout=timeout, errors=report.errors)
    report.mounts = unmount_below(paths.agent, errors=report.errors)
    with _step(report, "links"):
        report.links = cni.delete_bridge(bridge)
    with _step(report, "iptables"):
        report.iptables = cni.remove_iptables_rules(network_name) + remove_empty_nft_tables()
    report.cgroups = remove_cgroups(cgroup_parents, errors=report.errors)
    report.files = remove_files(paths, network_name, sandbox_ids, remove_images=remove_images, errors=report.errors)
    if service_cidr:
        with _step(report, "route"):
            if cni.remove_unreachable_route(service_cidr):
                report.routes.append(f"unreachable {service_cidr}")
    return report


@contextlib.contextmanager
def _step(report: CleanupReport, what: str) -> Iterator[None]:
    try:
        yield
    except (OSError, cni.NetworkConfigError) as exc:
        report.errors.append(f"{what}: {exc}")


# --- processes -------------------------------------------------------------------------------------------

def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _pids() -> list[int]:
    return [int(e) for e in os.listdir("/proc") if e.isdigit()]


def _ppid(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(stat.rsplit(")", 1)[1].split()[1])


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def find_shims(paths: AgentPaths) -> list[int]:
    """PIDs of containerd shims serving our containerd (their `-address` is our socket)."""
    socket = str(paths.socket)
    out = []
    for pid in _pids():
        argv = _cmdline(pid)
        if argv and os.path.basename(argv[0]).startswith("containerd-shim") and _arg(argv, "-address") == socket:
            out.append(pid)
    return sorted(out)


def _arg(argv: list[str], flag: str) -> str:
    for i, a in enumerate(argv):
        if a == flag and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return ""


def _descendants(roots: Iterable[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid in _pids():
        children.setdefault(_ppid(pid), []).append(pid)
    out: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo += children.get(pid, [])
    return out


def cgroup_mounts() -> list[Path]:
    """Mount points of every cgroup v1 hierarchy and of the cgroup2 tree."""
    return [Path(m.target) for m in mounts() if m.fstype in ("cgroup", "cgroup2")]


def _cgroup_dirs(parents: Sequence[str]) -> list[Path]:
    """Every existing cgroup directory at or below our parents, deepest first."""
    dirs: list[Path] = []
    for mount in cgroup_mounts():
        for parent in parents:
            top = mount / parent.strip("/")
            if parent.strip("/") and top.is_dir():
                for root, subdirs, _ in os.walk(top):
                    dirs += [Path(root) / d for d in subdirs]
                dirs.append(top)
    return sorted(set(dirs), key=lambda p: len(p.parts), reverse=True)


def _cgroup_pids(dirs: Iterable[Path]) -> set[int]:
    pids: set[int] = set()
    for d in dirs:
        with contextlib.suppress(OSError):
            pids |= {int(x) for x in (d / "cgroup.procs").read_text().split()}
    return pids


def kill_processes(paths: AgentPaths, cgroup_parents: Sequence[str], *, timeout: float = 10.0,
                   errors: list[str] | None = None) -> list[int]:
    """SIGKILL our shims, everything below them and everything in our pod cgroups; wait until gone."""
    targets = _descendants(find_shims(paths)) | _cgroup_pids(_cgroup_dirs(cgroup_parents))
    targets.discard(os.getpid())
    _thaw(cgroup_parents)
    for pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in targets) and time.monotonic() < deadline:
        time.sleep(0.01)
    stuck = sorted(p for p in targets if _alive(p))
    if stuck and errors is not None:
        errors.append(f"processes still alive after SIGKILL: {stuck}")
    return sorted(targets)


def _thaw(parents: Sequence[str]) -> None:
    """Thaw frozen pod cgroups (a frozen process cannot die)."""
    for d in _cgroup_dirs(parents):
        for name, value in (("freezer.state", "THAWED"), ("cgroup.freeze", "0")):
            f = d / name
            if f.exists():
                with contextlib.suppress(OSError):
                    f.write_text(value)


# --- mounts ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Mount:
    target: str
    fstype: str
    source: str


def _unescape(field_: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \ooo octal.
    out, i = [], 0
    while i < len(field_):
        if field_[i] == "\\" and field_[i + 1:i + 4].isdigit() and len(field_[i + 1:i + 4]) == 3:
            out.append(chr(int(field_[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field_[i])
            i += 1
    return "".join(out)


def mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Mount]:
    """The mount table of this process's mount namespace."""
    out = []
    for line in mountinfo.read_text().splitlines():
        left, _, right = line.partition(" - ")
        parts, rparts = left.split(), right.split()
        if len(parts) >= 5 and len(rparts) >= 2:
            out.append(Mount(target=_unescape(parts[4]), fstype=rparts[0], source=_unescape(rparts[1])))
    return out


def mounts_below(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (a path mounted twice is listed twice)."""
    base = str(path).rstrip("/")
    found = [m.target for m in mounts() if m.target == base or m.target.startswith(base + "/")]
    return sorted(found, key=lambda t: t.count("/"), reverse=True)


def _umount(target: str) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(target.encode(), MNT_DETACH) != 0:
        return ctypes.get_errno()
    return 0


def unmount_below(path: Path, *, errors: list[str] | None = None) -> list[str]:
    """Lazily unmount everything mounted at or below `path`, deepest first; returns the mount points."""
    done: list[str] = []
    for _ in range(8):  # stacked mounts come off one layer per pass
        targets = mounts_below(path)
        if not targets:
            break
        failed = 0
        for target in targets:
            err = _umount(target)
            if err == 0:
                done.append(target)
            elif err != 22:  # EINVAL: already gone in this pass (stacked)
                failed += 1
                if errors is not None:
                    errors.append(f"umount {target}: {os.strerror(err)}")
        if failed:
            break
    return done


# --- nftables --------------------------------------------------------------------------------------------

def remove_empty_nft_tables() -> list[str]:
    """Delete the iptables-nft tables (ip/ip6 nat/filter) left holding no rule, set or map and only
    accept-policy chains: iptables-nft creates them on first use and they then do nothing."""
    if shutil.which("nft") is None:
        return []
    removed = []
    for family, name in NFT_TABLES:
        result = subprocess.run(["nft", "-j", "list", "table", family, name], capture_output=True, text=True,
                                timeout=30)
        if result.returncode != 0:
            continue  # no such table
        if not removable_nft_table(result.stdout):
            continue
        if subprocess.run(["nft", "delete", "table", family, name], capture_output=True, timeout=30).returncode == 0:
            removed.append(f"nft table {family} {name}")
    return removed


def removable_nft_table(listing: str) -> bool:
    """Whether `nft -j list table ...` output shows a table that does nothing: no rule, set or map, and
    every chain's policy accept (a base chain with policy drop filters on its own)."""
    try:
        items = json.loads(listing).get("nftables", [])
    except (ValueError, AttributeError):
        return False
    if any("rule" in item or "set" in item or "map" in item for item in items):
        return False
    return all(item.get("chain", {}).get("policy", "accept") == "accept" for item in items)


# --- cgroups ---------------------------------------------------------------------------------------------

def remove_cgroups(parents: Sequence[str], *, errors: list[str] | None = None) -> list[str]:
    """rmdir our pod cgroups, deepest first, in every hierarchy; returns the removed directories."""
    removed = []
    for d in _cgroup_dirs(parents):
        try:
            d.rmdir()
            removed.append(str(d))
        except FileNotFoundError:
            pass
        except OSError as exc:
            if errors is not None:
                errors.append(f"rmdir {d}: {exc.strerror}")
    return removed


# --- files -----------------------------------------------------------------------------------------------

def _sandbox_ids(paths: AgentPaths) -> set[str]:
    """Ids of the CRI sandboxes our containerd knows (from its state and root dirs)."""
    ids: set[str] = set()
    for base in (paths.state, paths.root):
        d = base / "io.containerd.grpc.v1.cri" / "sandboxes"
        if d.is_dir():
            ids |= {p.name for p in d.iterdir()}
    return ids


def _remove_tree(path: Path, removed: list[str], errors: list[str]) -> None:
    if not path.exists() and not path.is_symlink():
        return
    busy = mounts_below(path)
    if busy:
        errors.append(f"not removing {path}: still mounted below it: {busy[0]}")
        return
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
        removed.append(str(path))
    except OSError as exc:
        errors.append(f"remove {path}: {exc}")


def _listening_unix_paths() -> set[str]:
    try:
        lines = Path("/proc/net/unix").read_text().splitlines()[1:]
    except OSError:
        return set()
    return {parts[7] for parts in (ln.split() for ln in lines) if len(parts) >= 8}


def remove_files(paths: AgentPaths, network_name: str, sandbox_ids: Iterable[str], *,
                 remove_images: bool = False, errors: list[str] | None = None) -> list[str]:
    """Remove containerd's runtime state, CNI state and stale shim sockets (see the module docstring)."""
    errs = errors if errors is not None else []
    removed: list[str] = []
    for p in (paths.state, paths.runc_root, paths.runc_root_v1, paths.fifo_dir, paths.socket,
              paths.ttrpc_socket, paths.pid_file, paths.cni_ipam_dir):
        _remove_tree(p, removed, errs)
    if remove_images:
        _remove_tree(paths.root, removed, errs)
    results = cni.CNI_CACHE_DIR / "results"
    for sid in sandbox_ids:
        f = results / f"cni-loopback-{sid}-lo"
        if f.exists():
            f.unlink()
            removed.append(str(f))
    removed += [str(p) for p in cni.remove_cni_cache(network_name)]
    if SHIM_SOCKET_DIR.is_dir():
        live = _listening_unix_paths()
        for sock in SHIM_SOCKET_DIR.iterdir():
            if sock.is_socket() and str(sock) not in live:
                sock.unlink(missing_ok=True)
                removed.append(str(sock))
        for d in (SHIM_SOCKET_DIR, SHIM_SOCKET_DIR.parent):
            with contextlib.suppress(OSError):
                d.rmdir()
                removed.append(str(d))
    return removed
