"""Resource usage from cgroups (v1 and v2 layouts), the Summary API document and /metrics/resource."""

from __future__ import annotations

from pathlib import Path

import pytest

from kijabi.kubelet.streaming.lookup import ContainerRef, PodEntry, SandboxRef
from kijabi.kubelet.streaming.stats import Cgroups, StatsProvider

POD = "/kubepods/podabc"
CTR = "/kubepods/podabc/c1"


def _v1(root: Path) -> Cgroups:
    """A fake cgroup v1 hybrid host: cpuacct and memory hierarchies plus a unified mount."""
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mountinfo").write_text(
        "30 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
        "31 25 0:27 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
        "32 25 0:28 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n"
        "33 25 0:29 / /proc rw - proc proc rw\n")
    (root / "proc/meminfo").write_text("MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\n")
    for path, cpu, usage, inactive in (("/", 50_000, 900_000, 100_000), (POD, 3_000, 9_000, 1_000), (CTR, 2_000, 8_000, 500)):
        cpu_dir = root / "sys/fs/cgroup/cpu,cpuacct" / path.strip("/")
        mem_dir = root / "sys/fs/cgroup/memory" / path.strip("/")
        cpu_dir.mkdir(parents=True, exist_ok=True)
        mem_dir.mkdir(parents=True, exist_ok=True)
        (cpu_dir / "cpuacct.usage").write_text(f"{cpu}\n")
        (mem_dir / "memory.usage_in_bytes").write_text(f"{usage}\n")
        (mem_dir / "memory.limit_in_bytes").write_text("9223372036854771712\n")
        (mem_dir / "memory.stat").write_text(
            f"cache 1\ntotal_inactive_file {inactive}\ntotal_rss 42\ntotal_pgfault 7\ntotal_pgmajfault 1\n")
    return Cgroups(root)


def _v2(root: Path) -> Cgroups:
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/mountinfo").write_text("40 25 0:30 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n")
    (root / "proc/meminfo").write_text("MemTotal: 1000 kB\nMemFree: 200 kB\nMemAvailable: 600 kB\n")
    (root / "proc/stat").write_text("cpu  100 0 100 1000 0 0 0 0 0 0\n")
    d = root / "sys/fs/cgroup" / CTR.strip("/")
    d.mkdir(parents=True)
    (d / "cpu.stat").write_text("usage_usec 2\nuser_usec 1\n")
    (d / "memory.current").write_text("8000\n")
    (d / "memory.max").write_text("max\n")
    (d / "memory.stat").write_text("anon 42\ninactive_file 500\npgfault 7\npgmajfault 1\n")
    return Cgroups(root)


def test_cgroup_v1_usage(tmp_path: Path) -> None:
    """Working set is usage minus inactive file pages; an unlimited memory limit reads as none."""
    cg = _v1(tmp_path)
    assert set(cg.v1) >= {"cpuacct", "memory"}
    usage = cg.usage(CTR)
    assert (usage.cpu_ns, usage.memory_usage, usage.working_set, usage.rss) == (2_000, 8_000, 7_500, 42)
    assert (usage.page_faults, usage.major_page_faults, usage.memory_limit) == (7, 1, None)


def test_cgroup_v2_usage(tmp_path: Path) -> None:
    cg = _v2(tmp_path)
    usage = cg.usage(CTR)
    assert (usage.cpu_ns, usage.memory_usage, usage.working_set, usage.rss, usage.memory_limit) == (2_000, 8_000, 7_500, 42, None)


def test_missing_cgroups_report_nothing(tmp_path: Path) -> None:
    usage = _v1(tmp_path).usage("/kubepods/gone")
    assert (usage.cpu_ns, usage.working_set) == (None, None)


def test_node_memory_falls_back_to_meminfo_without_root_figures(tmp_path: Path) -> None:
    """cgroup v2 has no root memory.current: the node's working set is MemTotal - MemAvailable."""
    provider = StatsProvider("n1", cgroups=_v2(tmp_path))
    node = provider.node_usage()
    assert (node.working_set, node.memory_limit) == (400 * 1024, 1000 * 1024)
    assert node.cpu_ns is not None and node.cpu_ns > 0  # from /proc/stat


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000 * 10**9

    def __call__(self) -> int:
        return self.now


def _entries() -> list[PodEntry]:
    sandbox = SandboxRef("sb1", "ns1", "web", "abc", cgroup=POD)
    return [PodEntry(sandbox, (ContainerRef("c1", "sb1", "main", "", True, started_at=1_700_000_000 * 10**9, cgroup=CTR),))]


def test_summary_reports_rates_from_the_second_sample_on(tmp_path: Path) -> None:
    clock = FakeClock()
    cg = _v1(tmp_path)
    provider = StatsProvider("n1", cgroups=cg, clock=clock)
    first = provider.summary(_entries())
    pod = first["pods"][0]
    assert pod["podRef"] == {"name": "web", "namespace": "ns1", "uid": "abc"}
    container = pod["containers"][0]
    assert container["name"] == "main" and "usageNanoCores" not in container["cpu"]
    assert container["cpu"]["usageCoreNanoSeconds"] == 2_000
    assert container["memory"]["workingSetBytes"] == 7_500
    assert first["node"]["nodeName"] == "n1" and first["node"]["memory"]["workingSetBytes"] == 800_000
    # Half a second later the container used another 100 ms of CPU: 0.2 cores.
    (tmp_path / "sys/fs/cgroup/cpu,cpuacct" / CTR.strip("/") / "cpuacct.usage").write_text(f"{2_000 + 100_000_000}\n")
    clock.now += 500_000_000
    second = provider.summary(_entries())
    assert second["pods"][0]["containers"][0]["cpu"]["usageNanoCores"] == 200_000_000
    assert second["node"]["cpu"]["usageNanoCores"] == 0


def test_resource_metrics_are_prometheus_text(tmp_path: Path) -> None:
    provider = StatsProvider("n1", cgroups=_v1(tmp_path), clock=FakeClock())
    text = provider.resource_metrics(_entries())
    lines = text.splitlines()
    assert "# TYPE container_cpu_usage_seconds_total counter" in lines
    assert 'container_memory_working_set_bytes{container="main",namespace="ns1",pod="web"} 7500 1800000000000' in lines
    assert 'container_start_time_seconds{container="main",namespace="ns1",pod="web"} 1700000000 1800000000000' in lines
    assert 'pod_memory_working_set_bytes{namespace="ns1",pod="web"} 8000 1800000000000' in lines
    assert "node_memory_working_set_bytes 800000 1800000000000" in lines
    assert "scrape_error 0" in lines
    assert text.endswith("\n")


@pytest.mark.parametrize("value,text", [(1.5, "1.5"), (2.0, "2"), (7, "7")])
def test_metric_values_print_compactly(tmp_path: Path, value: float, text: str) -> None:
    from kijabi.kubelet.streaming.stats import prometheus_text

    assert prometheus_text([("m", "gauge", "h", [({"a": 'q"uote'}, value)])]).splitlines()[-1] == f'm{{a="q\\"uote"}} {text}'
