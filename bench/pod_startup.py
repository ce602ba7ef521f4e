"""Pod startup through the whole node: API create -> kubelet -> CRI -> Running seen by a watch.

In one run, on this machine, with nothing shared with a system containerd:
- a `kijabi apiserver` (embedded SQLite store) and a private containerd with the test bridge network
  (`kjbench0`, 10.42.249.0/24, no default route: nothing leaves the bridge) and the built-in images;
- the baseline: `ctr run --rm` of the same busybox image (create + start + wait + delete, no CNI), the
  same figure as bench/pod_startup_raw.py, measured here in the same run;
- the kubelet as its own process (`python -m kijabi.kubelet.main`) on that containerd;
- 100 busybox pods (`sleep 3600`, spec.nodeName set: there is no scheduler in this picture), created one
  after the other, each once the previous one runs (like the `ctr run` baseline, which is sequential
  too), or with --rate N at N pods per second regardless (then the node's throughput shows: on this
  2-core machine containerd + CNI + runc start about 4-7 pods/s, so a higher rate builds a queue); a
  watch on the namespace records when each pod is first seen in phase Running; latency = Running seen -
  create request sent.

It prints p50/p99 of that latency, the ratio of p50 to the raw `ctr run` median, throughput, and the
kubelet's RSS with the 100 pods running. Targets: p99 <= 2 s; p50 <= 3 x raw. Everything is removed at
the end (pods through the kubelet, then the agent cleanup for the containerd, bridge and cgroups).

With --trace the kubelet logs a start trace per pod (kijabi.kubelet.startuptrace: the time of each phase
from the pod reaching the kubelet to its Running status acknowledged by the API server) and the bench
prints p50/p99 of each phase, plus the API -> kubelet delay (create sent -> pod seen by the kubelet's
watch) and the ack -> watch delay (status PATCH acknowledged -> Running seen by the bench's watch).

Usage (root; Debian packages containerd, runc, containernetworking-plugins, busybox-static, iptables):
    .venv/bin/python bench/pod_startup.py [--pods 100] [--rate 0] [--raw-runs 10] [--profile FILE] [--trace]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import Report, percentile, start_apiserver
from pod_startup_raw import ctr_run

from kijabi.client import Client
from kijabi.client.rest import NAMESPACES, NODES, PODS
from kijabi.kubelet import cleanup, cni, images, startuptrace
from kijabi.kubelet.containerd import Containerd

NET = cni.BridgeNetwork("10.42.249.0/24", bridge="kjbench0", name="kjbench", default_route=False)
NODE = "bench-node"
IDLE_WINDOW = 10.0   # seconds over which the idle CPU of the kubelet and containerd is measured
NAMESPACE = "bench"


def rss_mb(pid: int) -> float:
    m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) / 1024 if m else float("nan")


# runs kijabi.kubelet.main with the start-trace logger at debug level (the rest at the level given)
TRACED_MAIN = """import logging, os, runpy, sys
sys.path.insert(0, os.getcwd())
logging.getLogger("kijabi.kubelet.startuptrace").setLevel(logging.DEBUG)
runpy.run_module("kijabi.kubelet.main", run_name="__main__", alter_sys=True)
"""


def spawn_kubelet(root: Path, kubeconfig: Path, socket: Path, cgroup_root: str, log: Path,
                  profile: Path | None, trace: bool = False) -> subprocess.Popen[bytes]:
    """The kubelet as its own process (optionally under cProfile, optionally tracing), logging to `log`."""
    prefix = ["-m", "cProfile", "-o", str(profile)] if profile else []
    if trace:
        script = root / "kubelet_traced.py"
        script.write_text(TRACED_MAIN)
        prefix.append(str(script))
    else:
        prefix += ["-m", "kijabi.kubelet.main"]
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, *prefix, "--kubeconfig", str(kubeconfig), "--node-name", NODE,
             "--data-dir", str(root / "kubelet"), "--container-runtime-endpoint", str(socket),
             "--cgroup-root", cgroup_root, "--pod-log-dir", str(root / "pod-logs"), "--node-ip", "127.0.0.1",
             "--log-level", "warning"],
            stdout=out, stderr=out, cwd=Path(__file__).resolve().parent.parent)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def trace_report(report: Report, log: Path, sent_wall: dict[str, float], seen_wall: dict[str, float]) -> None:
    """p50/p99 of each start phase from the kubelet's trace lines (milliseconds)."""
    phases: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        parsed = startuptrace.parse(line)
        if parsed is None:
            continue
        key, values = parsed
        name = key.rsplit("/", 1)[-1]
        if name not in sent_wall or "seen" not in values:
            continue
        phases.setdefault("api -> kubelet (create sent -> seen)", []).append(
            (values["seen"] - sent_wall[name]) * 1000)
        for phase, ms in values.items():
            if phase != "seen":
                phases.setdefault(phase, []).append(ms)
        if name in seen_wall and "total" in values:
            acked = values["seen"] + values["total"] / 1000
            phases.setdefault("ack -> watch (PATCH acked -> Running seen)", []).append((seen_wall[name] - acked) * 1000)
    count = len(phases.get("total", []))
    report.section(f"start phases, ms (kubelet trace of {count} pods): p50 / p99 / max")
    for phase, values in phases.items():
        report.add(phase, percentile(values, 50), "ms",
                   note=f"p99 {percentile(values, 99):.1f}, max {max(values):.1f}, n={len(values)}")
    # what held every pod up at once, while the pods were being started
    first, last = min(sent_wall.values()), max(seen_wall.values(), default=0.0)
    stalls: dict[str, list[float]] = {"event loop stalls": [], "gc pauses": []}
    busy: list[float] = []   # of the stalls: CPU the loop's thread used meanwhile
    for line in log.read_text(errors="replace").splitlines():
        m = re.search(r"(event loop stalled|gc pause) ([\d.]+) ms(?: cpu ([\d.]+) ms)?.* at ([\d.]+)$", line)
        if m and first <= float(m.group(4)) <= last:
            stalls["event loop stalls" if m.group(1).startswith("event") else "gc pauses"].append(float(m.group(2)))
            if m.group(3):
                busy.append(float(m.group(3)))
    for what, values in stalls.items():
        note = f"total {sum(values):.0f} ms, max {max(values, default=0):.1f} ms"
        if what == "event loop stalls":
            note += f", loop thread on CPU {sum(busy):.0f} ms of it"
        report.add(f"{what} during the starts", len(values), "", note=note)


def pod_body(i: int) -> dict:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"bench-{i:03d}", "namespace": NAMESPACE, "labels": {"app": "bench"}},
            "spec": {"nodeName": NODE, "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "main", "image": "busybox:kijabi", "command": ["sleep", "3600"]}]}}


class Watcher:
    """Records when each pod is first seen Running."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.running: dict[str, float] = {}
        self.running_wall: dict[str, float] = {}
        self.changed = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        listed = await self.client.list(PODS, namespace=NAMESPACE)
        rv = listed["metadata"]["resourceVersion"]
        async with self.client.watch(PODS, namespace=NAMESPACE, resource_version=rv) as watch:
            self.ready.set()
            async for ev in watch:
                name = ev.object["metadata"]["name"]
                if ev.object.get("status", {}).get("phase") == "Running" and name not in self.running:
                    self.running[name] = time.perf_counter()
                    self.running_wall[name] = time.time()
                    self.changed.set()


async def wait_count(w: Watcher, n: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(w.running) < n:
        w.changed.clear()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise SystemExit(f"only {len(w.running)}/{n} pods Running after {timeout:.0f}s")
        try:
            async with asyncio.timeout(remaining):
                await w.changed.wait()
        except TimeoutError:
            pass


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="kjb", dir="/tmp"))
    cgroup_root = f"/kjbench-{root.name}"
    (root / "api").mkdir()
    api = start_apiserver(root / "api")
    containerd = Containerd(root)
    kubelet: subprocess.Popen[bytes] | None = None
    report = Report()
    try:
        cni.write_conflist(containerd.paths.cni_conf_dir, NET, ipam_dir=containerd.paths.cni_ipam_dir)
        await containerd.start()
        images.write_builtin_images(containerd.paths.images_dir)
        await images.import_directory(containerd, containerd.paths.images_dir)
        # baseline: raw ctr run of the same image
        await ctr_run(containerd, "warmup", cgroup_root)
        raw = [await ctr_run(containerd, f"raw-{i}", cgroup_root) for i in range(args.raw_runs)]
        raw_median = statistics.median(raw)

        log = root / "kubelet.log"
        kubelet = spawn_kubelet(root, api.kubeconfig, containerd.paths.socket, cgroup_root, log, args.profile,
                                args.trace)
        async with Client.from_kubeconfig(str(api.kubeconfig), qps=0) as client:
            await client.create(NAMESPACES, {"metadata": {"name": NAMESPACE}})
            deadline = time.monotonic() + 60
            while True:
                try:
                    node = await client.get(NODES, NODE)
                    if any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"]):
                        break
                except Exception:
                    pass
                if time.monotonic() > deadline or kubelet.poll() is not None:
                    raise SystemExit(f"the kubelet did not register:\n{log.read_text()[-2000:]}")
                await asyncio.sleep(0.1)
            watcher = Watcher(client)
            watch_task = asyncio.create_task(watcher.run())
            await watcher.ready.wait()
            # warm-up pod (first CNI ADD creates the bridge)
            await client.create(PODS, {**pod_body(999), "metadata": {"name": "warmup", "namespace": NAMESPACE}})
            await wait_count(watcher, 1, 60)
            sent: dict[str, float] = {}
            sent_wall: dict[str, float] = {}
            cpu_before = cpu_seconds(kubelet.pid)
            started = time.perf_counter()
            for i in range(args.pods):
                body = pod_body(i)
                sent[body["metadata"]["name"]] = time.perf_counter()
                sent_wall[body["metadata"]["name"]] = time.time()
                await client.create(PODS, body)
                if args.rate > 0:
                    delay = started + (i + 1) / args.rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                else:
                    await wait_count(watcher, i + 2, 60)
            await wait_count(watcher, args.pods + 1, 300)
            wall = time.perf_counter() - started
            latencies = [watcher.running[n] - t for n, t in sent.items()]
            cpu = cpu_seconds(kubelet.pid) - cpu_before
            idle_kubelet, idle_containerd = cpu_seconds(kubelet.pid), cpu_seconds(containerd.pid or 0)
            await asyncio.sleep(IDLE_WINDOW)
            idle_kubelet = (cpu_seconds(kubelet.pid) - idle_kubelet) / IDLE_WINDOW
            idle_containerd = (cpu_seconds(containerd.pid or 0) - idle_containerd) / IDLE_WINDOW
            rss = rss_mb(kubelet.pid)
            watch_task.cancel()
            # teardown through the kubelet
            await client.delete_collection(PODS, namespace=NAMESPACE, grace_period_seconds=0)
            for _ in range(240):
                if not (await client.list(PODS, namespace=NAMESPACE))["items"]:
                    break
                await asyncio.sleep(0.5)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        mode = f"{args.rate:g} pods/s" if args.rate > 0 else "one at a time"
        report.section(f"{args.pods} busybox pods on one node, created {mode}; create -> Running seen by a watch")
        report.add("ctr run --rm busybox true (raw, median)", raw_median * 1000, "ms", note=f"{args.raw_runs} runs")
        report.add("pod startup p50", p50 * 1000, "ms", target=f"<= {3 * raw_median * 1000:.0f} (3 x raw)",
                   ok=p50 <= 3 * raw_median)
        report.add("pod startup p99", p99 * 1000, "ms", target="<= 2000", ok=p99 <= 2.0)
        report.add("pod startup max", max(latencies) * 1000, "ms")
        report.add("p50 / raw", p50 / raw_median, "x", target="<= 3", ok=p50 / raw_median <= 3)
        report.add("throughput", args.pods / wall, "pods/s", note=f"{wall:.1f}s for {args.pods} pods")
        report.add("kubelet RSS with the pods running", rss, "MiB")
        report.add("kubelet CPU per pod started", cpu / args.pods * 1000, "ms", note="user + system")
        report.add("kubelet CPU with the pods running, idle", idle_kubelet * 100, "% core",
                   note=f"over {IDLE_WINDOW:.0f}s")
        report.add("containerd CPU with the pods running, idle", idle_containerd * 100, "% core",
                   note=f"over {IDLE_WINDOW:.0f}s")
        if args.trace:
            trace_report(report, log, sent_wall, watcher.running_wall)
        print(report.render())
    finally:
        if kubelet is not None and kubelet.poll() is None:
            kubelet.send_signal(signal.SIGTERM)
            try:
                kubelet.wait(timeout=30)
            except subprocess.TimeoutExpired:
                kubelet.kill()
                kubelet.wait()
        await containerd.stop()
        result = cleanup.cleanup(root, bridge=NET.bridge, network_name=NET.name, cgroup_parents=[cgroup_root],
                                 service_cidr=None, remove_images=True)
        if result.errors:
            print("cleanup: " + result.summary(), file=sys.stderr)
        cleanup.unmount_below(root)
        if api.proc.poll() is None:
            api.proc.send_signal(signal.SIGINT)
            try:
                api.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                api.proc.kill()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pods", type=int, default=100)
    parser.add_argument("--rate", type=float, default=0.0, help="pods created per second (0: one at a time)")
    parser.add_argument("--raw-runs", type=int, default=10)
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs)")
    parser.add_argument("--profile", type=Path, default=None, help="run the kubelet under cProfile, write here")
    parser.add_argument("--trace", action="store_true", help="per-phase start timings from the kubelet's trace")
    asyncio.run(main(parser.parse_args()))
