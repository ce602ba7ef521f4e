"""What the node is made of, read from /proc, /sys and the filesystems (cAdvisor's MachineInfo, in small).

Everything here is synchronous and quick (a few small file reads); `observe()` is what the eviction
manager and the node status read every 10 s.
"""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

CGROUP_MEMORY_ROOT = Path("/sys/fs/cgroup/memory")


@dataclass(frozen=True)
class MachineInfo:
    cpus: int
    memory_bytes: int
    machine_id: str
    system_uuid: str
    boot_id: str
    kernel_version: str
    os_image: str
    architecture: str
    operating_system: str = "linux"


def _read(path: str | Path, default: str = "") -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return default


def meminfo(path: Path = Path("/proc/meminfo")) -> dict[str, int]:
    """/proc/meminfo in bytes."""
    out: dict[str, int] = {}
    for line in _read(path).splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            value = int(parts[0])
            out[key] = value * 1024 if len(parts) > 1 and parts[1] == "kB" else value
    return out


def os_image(path: Path = Path("/etc/os-release")) -> str:
    for line in _read(path).splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return "Linux"


def _architecture() -> str:
    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}.get(
        machine, machine)


def machine_info() -> MachineInfo:
    return MachineInfo(
        cpus=os.cpu_count() or 1,
        memory_bytes=meminfo().get("MemTotal", 0),
        machine_id=_read("/etc/machine-id"),
        system_uuid=_read("/sys/class/dmi/id/product_uuid").lower(),
        boot_id=_read("/proc/sys/kernel/random/boot_id"),
        kernel_version=platform.release(),
        os_image=os_image(),
        architecture=_architecture(),
    )


def hostname() -> str:
    return socket.gethostname().lower()


def default_route_ip() -> str:
    """The IPv4 address of the interface holding the default route (127.0.0.1 if there is none)."""
    iface = ""
    for line in _read("/proc/net/route").splitlines()[1:]:
        parts = line.split()
        if len(parts) > 3 and parts[1] == "00000000" and int(parts[3], 16) & 2:
            iface = parts[0]
            break
    if iface:
        ip = interface_ip(iface)
        if ip:
            return ip
    return "127.0.0.1"


def interface_ip(iface: str) -> str:
    import fcntl

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", iface[:15].encode()))  # SIOCGIFADDR
        return socket.inet_ntoa(packed[20:24])
    except OSError:
        return ""
    finally:
        s.close()


@dataclass(frozen=True)
class FsStats:
    capacity_bytes: int
    available_bytes: int
    inodes: int
    inodes_free: int


def fs_stats(path: Path) -> FsStats:
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    st = os.statvfs(p)
    return FsStats(capacity_bytes=st.f_blocks * st.f_frsize, available_bytes=st.f_bavail * st.f_frsize,
                   inodes=st.f_files, inodes_free=st.f_favail)


def memory_working_set(capacity: int) -> int:
    """The node's memory working set: the root memory cgroup's usage minus inactive file pages (cgroup v1),
    else MemTotal - MemAvailable."""
    usage = _read(CGROUP_MEMORY_ROOT / "memory.usage_in_bytes")
    stat = _read(CGROUP_MEMORY_ROOT / "memory.stat")
    if usage.isdigit() and stat:
        inactive = 0
        for line in stat.splitlines():
            key, _, value = line.partition(" ")
            if key == "total_inactive_file" and value.isdigit():
                inactive = int(value)
        return max(int(usage) - inactive, 0)
    info = meminfo()
    return max(capacity - info.get("MemAvailable", capacity), 0)


def pid_stats() -> tuple[int, int]:
    """(maximum number of processes, processes running now)."""
    pid_max = 32768
    with contextlib.suppress(ValueError):
        pid_max = int(_read("/proc/sys/kernel/pid_max", "32768"))
    with contextlib.suppress(ValueError):
        threads_max = int(_read("/proc/sys/kernel/threads-max", str(pid_max)))
        pid_max = min(pid_max, threads_max)
    running = sum(1 for e in os.listdir("/proc") if e.isdigit())
    return pid_max, running
