"""Benchmark: the workload controllers at scale against a real `kijabi server`.

    python bench/controllers.py [--replicas 5000] [--raw 2000] [--concurrency 64]

Phases, all in one run against one server (started with no controller-manager and no scheduler: the
deployment and replicaset controllers run in this process, on their own event loop thread, with no
client QPS limit):
1. raw: `--raw` pods created straight through the API, `--concurrency` requests in flight: the API's
   pod create throughput, the baseline.
2. scale-out: one Deployment of `--replicas` replicas; the time until its ReplicaSet reports every pod
   created (status.replicas). Figure: pods/s as a ratio to the raw rate (target >= 0.5).
3. ready: a fake kubelet (tests/controllers/workloads/harness.py) marks every pod Running and Ready;
   time until the Deployment is available.
4. rolling update: a new image; time until the rollout completes (every replica updated and
   available), with the fake kubelet making new pods ready as they come.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from kijabi.client.rest import DEPLOYMENTS, NAMESPACES, PODS, REPLICASETS, Client
from tests.controllers.workloads.harness import ControllerThread
from tests.e2e.cluster import start_cluster


def pod(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "raw"}},
            "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}


def deployment(replicas: int) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"}, "spec": {
        "replicas": replicas, "selector": {"matchLabels": {"app": "big"}},
        "template": {"metadata": {"labels": {"app": "big"}},
                     "spec": {"containers": [{"name": "c", "image": "busybox:1"}]}}}}


async def raw_creates(client: Client, ns: str, count: int, concurrency: int) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> None:
        async with sem:
            await client.create(PODS, pod(f"raw-{i}"), namespace=ns)

    start = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    return count / (time.perf_counter() - start)


async def wait(cond: Any, timeout: float, what: str) -> float:
    start = time.perf_counter()
    deadline = start + timeout
    while time.perf_counter() < deadline:
        if await cond():
            return time.perf_counter() - start
        await asyncio.sleep(0.2)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


async def main_async(args: argparse.Namespace) -> None:
    cluster = start_cluster(None, "--disable-controller-manager", "--disable-scheduler")
    threads: ControllerThread | None = None
    try:
        async with Client.from_kubeconfig(str(cluster.kubeconfig), qps=-1) as client:
            raw_ns, ns = "raw-" + uuid.uuid4().hex[:6], "big-" + uuid.uuid4().hex[:6]
            for name in (raw_ns, ns):
                await client.create(NAMESPACES, {"metadata": {"name": name}})
            raw_rate = await raw_creates(client, raw_ns, args.raw, args.concurrency)
            print(f"raw API pod creates: {args.raw} in flight {args.concurrency}: {raw_rate:.0f} pods/s", flush=True)

            threads = ControllerThread(str(cluster.kubeconfig), ["deployment", "replicaset"]).start()
            assert threads.kubelet is not None
            threads.kubelet.enabled = False
            await client.create(DEPLOYMENTS, deployment(args.replicas), namespace=ns)

            async def all_created() -> bool:
                rss = (await client.list(REPLICASETS, namespace=ns))["items"]
                return bool(rss) and (rss[0].get("status") or {}).get("replicas", 0) >= args.replicas

            t_create = await wait(all_created, args.timeout, f"{args.replicas} pods")
            rate = args.replicas / t_create
            print(f"deployment of {args.replicas}: all pods created in {t_create:.1f}s = {rate:.0f} pods/s; "
                  f"ratio to raw {rate / raw_rate:.2f} (target >= 0.5)", flush=True)

            kubelet = threads.kubelet

            def enable() -> None:
                kubelet.enabled = True
                for p in kubelet.lister.list(ns):
                    kubelet.queue.put_nowait((ns, p["metadata"]["name"]))

            threads.call(enable)

            async def complete(image: str) -> bool:
                d = await client.get(DEPLOYMENTS, "big", namespace=ns)
                st = d.get("status") or {}
                return (st.get("observedGeneration") == d["metadata"]["generation"]
                        and st.get("updatedReplicas") == args.replicas and st.get("availableReplicas") == args.replicas
                        and st.get("replicas") == args.replicas
                        and d["spec"]["template"]["spec"]["containers"][0]["image"] == image)

            t_ready = await wait(lambda: complete("busybox:1"), args.timeout, "all pods ready")
            print(f"fake kubelet made {args.replicas} pods ready: deployment available after {t_ready:.1f}s", flush=True)
            await client.patch(DEPLOYMENTS, "big", {"spec": {"template": {"spec": {"containers": [
                {"name": "c", "image": "busybox:2"}]}}}}, namespace=ns, patch_type="strategic")
            t_roll = await wait(lambda: complete("busybox:2"), args.timeout, "the rolling update")
            print(f"rolling update of {args.replicas} replicas (maxSurge 25%, maxUnavailable 25%): {t_roll:.1f}s",
                  flush=True)
            print(f"RESULT replicas={args.replicas} raw_pods_per_s={raw_rate:.0f} controller_pods_per_s={rate:.0f} "
                  f"ratio={rate / raw_rate:.2f} ready_s={t_ready:.1f} rolling_update_s={t_roll:.1f}")
    finally:
        if threads is not None:
            threads.stop()
        cluster.stop()
        shutil.rmtree(cluster.data_dir, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicas", type=int, default=5000)
    p.add_argument("--raw", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--timeout", type=float, default=900)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
