"""Benchmark: scheduling throughput on hollow nodes, shaped like upstream's scheduler_perf.

    python bench/scheduler.py [--full] [--only NAME ...] [--concurrency 32] [--lease-period 600] [--profile DIR]

For each workload: a fresh `kijabi apiserver`, `kijabi hollow-nodes` (a subprocess; pods are never
started, deletions are confirmed as a kubelet would) and `kijabi scheduler` (a subprocess, no leader
election, no client QPS limit, as scheduler_perf runs it). A probe pod, bound before anything is
measured, proves the scheduler has its caches. Then the workload's init pods are created and waited
for (not measured), and finally its measured pods: pods/s = measured pods / (first create -> last of
them seen bound by a watch on the namespace). Creation runs `--concurrency` requests in flight and is
part of the measured time, as in scheduler_perf.

Workloads (default size / --full size, nodes and init + measured pods):
    SchedulingBasic    500 / 5,000 nodes;  500 + 1,000  /  1,000 + 10,000 plain pods
    NodeAffinity       500 / 5,000;        500 + 1,000  /  5,000 + 10,000 pods with required node affinity
    TopologySpreading  500 / 5,000;      1,000 + 1,000  / 10,000 + 10,000 zone spread, maxSkew 5, DoNotSchedule
    PodAntiAffinity    500 / 5,000;        100 + 400    /  1,000 + 1,000 required anti-affinity per hostname
    PreemptionBasic    500 / 5,000;      2,000 + 500    / 20,000 + 5,000 low-priority pods fill every node,
                                                           high-priority pods preempt them
Upstream's CI floors (5,000-node workloads, `SchedulingThroughput` average) are printed next to each
figure with the ratio; smaller default runs are compared with the same floors. Each line also says how
much CPU other processes of the machine took during the measurement (in cores, of 2): figures taken
while the machine was shared are lower bounds. It also gives the CPU seconds the apiserver, the hollow
nodes and the scheduler used meanwhile, and the scheduler's CPU per measured pod (ms/pod), which other
load changes much less than pods/s; and, after the measurement, how long ago the least recently renewed
node Lease was renewed.

Upstream's scheduler_perf creates bare Node objects: no kubelet, no Lease renewals, and its floors are
measured that way. So by default the hollow nodes renew their Leases only every 600 s (nothing in the
benchmark reads them; they go stale). `--lease-period 10` renews them as kubelets do: at 5,000 nodes that
is 500 writes/s, which on 2 cores costs the API server about half a core and the hollow process a third
of one, whatever the scheduler does, so the figures are then lower than the like-for-like ones.

`--profile DIR` runs the scheduler under cProfile (bench/_common.py's profiled server) and writes
DIR/<workload>/segment-0.prof (start-up, caches, init pods) and segment-1.prof (the measured pods), then
prints the heaviest functions of the measured segment.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CLK_TCK, machine_busy_seconds, self_cpu_times, top_functions
from kijabi.client.rest import GVR, LEASES, NAMESPACES, PODS, Client
from kijabi.machinery.meta import parse_time
from tests.e2e.cluster import Cluster, start_cluster

PRIORITYCLASSES = GVR("scheduling.k8s.io", "v1", "priorityclasses")
ZONE = "topology.kubernetes.io/zone"
HOSTNAME = "kubernetes.io/hostname"

Spec = dict[str, Any]


def container(cpu: str = "100m", memory: str = "500Mi") -> Spec:
    return {"name": "pause", "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": {"cpu": cpu, "memory": memory}, "limits": {"cpu": cpu, "memory": memory}}}


def basic(_: str) -> Spec:
    return {"containers": [container()]}


def node_affinity(_: str) -> Spec:
    return {"containers": [container()], "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": ZONE, "operator": "In",
                                                     "values": ["zone-0", "zone-1", "zone-2"]}]}]}}}}


def topology_spreading(group: str) -> Spec:
    return {"containers": [container()], "topologySpreadConstraints": [{
        "maxSkew": 5, "topologyKey": ZONE, "whenUnsatisfiable": "DoNotSchedule",
        "labelSelector": {"matchLabels": {"group": group}}}]}


def anti_affinity(group: str) -> Spec:
    return {"containers": [container()], "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"group": group}}, "topologyKey": HOSTNAME}]}}}


def low_priority(_: str) -> Spec:
    return {"containers": [container("900m", "500Mi")], "priorityClassName": "bench-low"}


def high_priority(_: str) -> Spec:
    return {"containers": [container("3000m", "500Mi")], "priorityClassName": "bench-high"}


@dataclass(frozen=True)
class Workload:
    name: str
    floor: float  # upstream CI floor, pods/s
    nodes: tuple[int, int]  # default, --full
    init_pods: tuple[int, int]
    pods: tuple[int, int]
    init_spec: Callable[[str], Spec]
    spec: Callable[[str], Spec]
    zones: int = 3


WORKLOADS = [
    Workload("SchedulingBasic", 270, (500, 5000), (500, 1000), (1000, 10000), basic, basic),
    Workload("NodeAffinity", 220, (500, 5000), (500, 5000), (1000, 10000), node_affinity, node_affinity),
    Workload("TopologySpreading", 85, (500, 5000), (1000, 10000), (1000, 10000), basic, topology_spreading),
    Workload("PodAntiAffinity", 60, (500, 5000), (100, 1000), (400, 1000), anti_affinity, anti_affinity),
    Workload("PreemptionBasic", 18, (500, 5000), (2000, 20000), (500, 5000), low_priority, high_priority),
]


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pod(name: str, group: str, spec: Spec) -> Spec:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"group": group}}, "spec": spec}


class Process:
    """A `python -m MODULE ...` child with its log in the data dir; with `profile_dir`, `kijabi COMMAND ...`
    under cProfile instead, cut into segments by `profile_segment()`."""

    def __init__(self, data_dir: Path, name: str, module: str, *args: str, command: str = "",
                 profile_dir: Path | None = None) -> None:
        self.log_path = data_dir / f"{name}.log"
        self.log = open(self.log_path, "w")
        self.profile_dir = profile_dir
        self.segments = 0
        if profile_dir is not None:
            profile_dir.mkdir(parents=True, exist_ok=True)
            argv = [sys.executable, str(Path(__file__).resolve().parent / "_common.py"), "profiled-server",
                    str(profile_dir), "--", command, *args]
        else:
            argv = [sys.executable, "-m", module, *args]
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, text=True)

    async def profile_segment(self, timeout: float = 60.0) -> Path | None:
        """Close the current profile segment (SIGUSR1); its file once written, None when not profiling."""
        if self.profile_dir is None:
            return None
        path = self.profile_dir / f"segment-{self.segments}.prof"
        self.segments += 1
        self.proc.send_signal(signal.SIGUSR1)
        start = time.perf_counter()
        while not path.exists():
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"no {path} after {timeout}s")
            await asyncio.sleep(0.1)
        return path

    async def wait_for_log(self, text: str, timeout: float) -> float:
        start = time.perf_counter()
        while text not in self.log_path.read_text(errors="replace"):
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.log_path.name}: exited with {self.proc.returncode}:\n"
                                   f"{self.log_path.read_text()[-3000:]}")
            if time.perf_counter() - start > timeout:
                raise TimeoutError(f"{self.log_path.name}: no {text!r} after {timeout}s")
            await asyncio.sleep(0.2)
        return time.perf_counter() - start

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class BoundWatch:
    """Counts the pods of one namespace seen with spec.nodeName, from a watch opened before any create."""

    def __init__(self, client: Client, namespace: str) -> None:
        self.client = client
        self.namespace = namespace
        self.bound: set[str] = set()
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        listed = await self.client.list(PODS, namespace=self.namespace)
        self.task = asyncio.create_task(self._run(listed["metadata"]["resourceVersion"]), name="bound watch")

    async def _run(self, rv: str) -> None:
        async with self.client.watch(PODS, namespace=self.namespace, resource_version=rv) as w:
            async for ev in w:
                if ev.type in ("ADDED", "MODIFIED") and (ev.object.get("spec") or {}).get("nodeName"):
                    self.bound.add(ev.object["metadata"]["name"])
                    self.changed.set()

    async def wait_bound(self, names: set[str], timeout: float) -> float:
        """Seconds (from now) until every pod in `names` was seen bound."""
        start = time.perf_counter()
        while not names <= self.bound:
            self.changed.clear()
            left = timeout - (time.perf_counter() - start)
            if left <= 0:
                raise TimeoutError(f"{len(names - self.bound)} of {len(names)} pods still unbound after {timeout}s")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                continue
        return time.perf_counter() - start

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


async def create_pods(client: Client, ns: str, prefix: str, count: int, spec: Callable[[str], Spec],
                      concurrency: int) -> set[str]:
    names = [f"{prefix}-{i}" for i in range(count)]
    it = iter(names)

    async def creator() -> None:
        for name in it:
            await client.create(PODS, pod(name, prefix, spec(prefix)), namespace=ns)

    await asyncio.gather(*(creator() for _ in range(concurrency)))
    return set(names)


async def lease_ages(client: Client) -> tuple[int, float]:
    """(node leases, seconds since the least recently renewed one was renewed): are the hollow nodes
    keeping their leases fresh under the load of the benchmark?"""
    listed = await client.list(LEASES, namespace="kube-node-lease")
    now = time.time()
    ages = [now - parse_time(str((item.get("spec") or {}).get("renewTime") or "1970-01-01T00:00:00Z"))
            for item in listed.get("items") or []]
    return len(ages), max(ages, default=0.0)


@dataclass
class Result:
    workload: Workload
    nodes: int
    init_pods: int
    pods: int
    seconds: float
    other_cores: float  # CPU that processes outside this benchmark used meanwhile, in cores
    apiserver_cpu: float  # CPU seconds of each of our processes during the measurement
    hollow_cpu: float
    scheduler_cpu: float

    @property
    def scheduler_ms_per_pod(self) -> float:
        """Scheduler CPU per measured pod: the figure the machine's other load does not change much."""
        return 1000 * self.scheduler_cpu / self.pods

    @property
    def rate(self) -> float:
        return self.pods / self.seconds

    @property
    def ratio(self) -> float:
        return self.rate / self.workload.floor


async def run_workload(w: Workload, full: bool, concurrency: int, timeout: float, keep: bool,
                       profile: Path | None = None, lease_period: float = 600.0) -> Result:
    n_nodes, n_init, n_pods = (w.nodes[full], w.init_pods[full], w.pods[full])
    cluster: Cluster = start_cluster()
    procs: list[Process] = []
    try:
        kc = str(cluster.kubeconfig)
        hollow = Process(cluster.data_dir, "hollow", "kijabi.hollow.main", "--kubeconfig", kc, "--count", str(n_nodes),
                         "--zones", str(w.zones), "--ready-delay", "-1", "--qps", "-1",
                         "--lease-period", str(lease_period))
        procs.append(hollow)
        t_reg = await hollow.wait_for_log("hollow nodes registered", timeout)
        sched = Process(cluster.data_dir, "scheduler", "kijabi.scheduler.main", "--kubeconfig", kc,
                        "--leader-elect", "false", "--secure-port", "0", "--kube-api-qps", "-1",
                        command="scheduler", profile_dir=None if profile is None else profile / w.name)
        procs.append(sched)
        async with Client.from_kubeconfig(kc, qps=-1) as client:
            for name, value in (("bench-low", 100), ("bench-high", 1000)):
                await client.create(PRIORITYCLASSES, {"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                                                      "metadata": {"name": name}, "value": value})
            ns = "bench-" + uuid.uuid4().hex[:6]
            await client.create(NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
            watch = BoundWatch(client, ns)
            await watch.start()
            try:
                probe = await create_pods(client, ns, "probe", 1, basic, 1)
                await watch.wait_bound(probe, timeout)
                await client.delete(PODS, "probe-0", namespace=ns, grace_period_seconds=0)
                if n_init:
                    init = await create_pods(client, ns, "init", n_init, w.init_spec, concurrency)
                    t_init = await watch.wait_bound(init, timeout)
                else:
                    t_init = 0.0
                print(f"  {w.name}: {n_nodes} nodes registered in {t_reg:.1f}s; {n_init} init pods bound in "
                      f"{t_init:.1f}s", flush=True)
                pids = [cluster.proc.pid, hollow.proc.pid, sched.proc.pid]

                def ours() -> float:
                    return sum(self_cpu_times()) + sum(process_cpu_seconds(p) for p in pids)

                await sched.profile_segment()
                cpu0 = [process_cpu_seconds(p) for p in pids]
                start, busy0, ours0 = time.perf_counter(), machine_busy_seconds(), ours()
                names = await create_pods(client, ns, "measured", n_pods, w.spec, concurrency)
                await watch.wait_bound(names, timeout)
                elapsed = time.perf_counter() - start
                others = max(0.0, (machine_busy_seconds() - busy0) - (ours() - ours0)) / elapsed
                cpu = [process_cpu_seconds(p) - c for p, c in zip(pids, cpu0, strict=True)]
                leases, oldest = await lease_ages(client)
                print(f"  {w.name}: {leases} node leases, the oldest renewed {oldest:.1f}s ago "
                      f"(lease duration 40s)", flush=True)
                measured = await sched.profile_segment()
                if measured is not None:
                    print(f"  scheduler profile of the measured pods: {measured}", flush=True)
                    for line in top_functions(measured, limit=40):
                        print("    " + line, flush=True)
            finally:
                await watch.stop()
        return Result(w, n_nodes, n_init, n_pods, elapsed, others, cpu[0], cpu[1], cpu[2])
    finally:
        for p in reversed(procs):
            p.stop()
        cluster.stop()
        if keep:
            print(f"  logs kept in {cluster.data_dir}", flush=True)
        else:
            shutil.rmtree(cluster.data_dir, ignore_errors=True)


async def main_async(args: argparse.Namespace) -> None:
    chosen = [w for w in WORKLOADS if not args.only or w.name in args.only]
    results: list[Result] = []
    for w in chosen:
        r = await run_workload(w, args.full, args.concurrency, args.timeout, args.keep, args.profile, args.lease_period)
        print(f"{w.name:<18} {r.nodes:>5} nodes {r.pods:>6} pods  {r.rate:8.1f} pods/s   upstream floor "
              f"{w.floor:>4.0f}   ratio {r.ratio:.2f}   (other processes used {r.other_cores:.2f} cores; CPU s: "
              f"scheduler {r.scheduler_cpu:.1f} = {r.scheduler_ms_per_pod:.1f} ms/pod, apiserver {r.apiserver_cpu:.1f}, "
              f"hollow {r.hollow_cpu:.1f})", flush=True)
        results.append(r)
    print("\nworkload            nodes    init  measured    pods/s   floor   ratio   other-load(cores)  sched-ms/pod")
    for r in results:
        print(f"{r.workload.name:<18} {r.nodes:>6} {r.init_pods:>7} {r.pods:>9} {r.rate:>9.1f} {r.workload.floor:>7.0f}"
              f" {r.ratio:>7.2f} {r.other_cores:>10.2f} {r.scheduler_ms_per_pod:>13.1f}")
    print("RESULT " + " ".join(f"{r.workload.name}={r.rate:.1f}pods/s(ratio {r.ratio:.2f})" for r in results))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--full", action="store_true", help="upstream's 5,000-node sizes")
    p.add_argument("--only", nargs="*", choices=[w.name for w in WORKLOADS], help="run only these workloads")
    p.add_argument("--concurrency", type=int, default=32, help="pod creates in flight")
    p.add_argument("--keep", action="store_true", help="keep each workload's data dir and process logs")
    p.add_argument("--timeout", type=float, default=600, help="seconds allowed for each wait")
    p.add_argument("--lease-period", type=float, default=600.0, metavar="SECONDS",
                   help="seconds between renewals of each hollow node's Lease (default 600: as scheduler_perf, "
                        "which has no kubelets, nearly without these writes; 10 is the kubelet's)")
    p.add_argument("--profile", type=Path, default=None, metavar="DIR",
                   help="run the scheduler under cProfile; segment files go to DIR/<workload>/")
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
