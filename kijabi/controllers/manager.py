"""The controller-manager process: leader election, then every enabled controller in one TaskGroup.

`--controllers` follows upstream: `*` enables the defaults, `foo` enables one, `-foo` disables one.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import Any

from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from kijabi.client.rest import Client
from kijabi.controllers import cluster, workloads
from kijabi.controllers.context import Constructor, ControllerContext, Options
from kijabi.machinery import duration

log = logging.getLogger(__name__)

LEASE_NAMESPACE = "kube-system"
LEASE_NAME = "kube-controller-manager"


def all_controllers() -> dict[str, Constructor]:
    return {**workloads.CONTROLLERS, **cluster.CONTROLLERS}


def enabled(spec: Iterable[str], known: Iterable[str]) -> list[str]:
    names = list(known)
    chosen: set[str] = set()
    for item in spec:
        item = item.strip()
        if item == "*":
            chosen |= set(names)
        elif item.startswith("-"):
            chosen.discard(item[1:])
        elif item:
            chosen.add(item)
    for item in spec:
        if item.startswith("-"):
            chosen.discard(item[1:])
    return [n for n in names if n in chosen]


async def run_controllers(client: Client, names: list[str], options: Options) -> None:
    """Build the enabled controllers, start the informers, run until cancelled or one fails."""
    factory = SharedInformerFactory(client)
    events = EventBroadcaster(client)
    ctx = ControllerContext(client=client, informers=factory, events=events, options=options)
    constructors = all_controllers()
    controllers = []
    for name in names:
        built = constructors[name](ctx)
        if inspect.isawaitable(built):
            built = await built
        controllers.append((name, built))
    async with asyncio.TaskGroup() as tg:
        events.start(tg)
        factory.start(tg)
        for name, c in controllers:
            tg.create_task(c.run(), name=f"controller:{name}")
        log.info("started controllers: %s", ", ".join(names))


async def run(args: argparse.Namespace) -> None:
    client = Client.from_kubeconfig(args.kubeconfig, qps=args.kube_api_qps, burst=args.kube_api_burst)
    names = enabled(args.controllers.split(","), all_controllers())
    options = options_from_args(args)
    async with client:
        if not args.leader_elect:
            await run_controllers(client, names, options)
            return
        identity = default_identity()

        async def lead() -> None:
            await run_controllers(client, names, options)

        elector = LeaderElector(client, LeaderElectionConfig(
            namespace=LEASE_NAMESPACE, name=LEASE_NAME, identity=identity, on_started_leading=lead,
            lease_duration=args.leader_elect_lease_duration, renew_deadline=args.leader_elect_renew_deadline,
            retry_period=args.leader_elect_retry_period,
        ))
        await elector.run()


# --concurrent-*-syncs flags: flag stem -> the controllers whose worker count it sets (upstream names).
CONCURRENCY_FLAGS = {
    "deployment": ("deployment",), "replicaset": ("replicaset",), "rc": ("replicationcontroller",),
    "statefulset": ("statefulset",), "daemonset": ("daemonset",), "job": ("job",), "cron-job": ("cronjob",),
    "namespace": ("namespace",), "service-endpoint": ("endpoints", "endpointslice"),
    "resource-quota": ("resourcequota",), "ttl-after-finished": ("ttl-after-finished",),
    "horizontal-pod-autoscaler": ("horizontal-pod-autoscaling",), "gc": ("gc_workers",),
}

def _duration(text: str) -> float:
    try:
        return duration.seconds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# Tunables the cluster controllers read from Options.extra (see controllers/cluster/_base.Settings):
# flag -> (Settings field, parser).
SETTING_FLAGS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "--node-startup-grace-period": ("node_startup_grace_period", _duration),
    "--namespace-sync-period": ("namespace_sync_period", _duration),
    "--resource-quota-sync-period": ("resource_quota_sync_period", _duration),
    "--max-endpoints-per-slice": ("max_endpoints_per_slice", int),
    "--horizontal-pod-autoscaler-sync-period": ("hpa_sync_period", _duration),
    "--horizontal-pod-autoscaler-downscale-stabilization": ("hpa_downscale_stabilization", _duration),
    "--horizontal-pod-autoscaler-tolerance": ("hpa_tolerance", float),
    "--horizontal-pod-autoscaler-cpu-initialization-period": ("hpa_cpu_initialization_period", _duration),
    "--horizontal-pod-autoscaler-initial-readiness-delay": ("hpa_initial_readiness_delay", _duration),
}


def add_flags(p: argparse.ArgumentParser) -> None:
    """kube-controller-manager's flags (durations in Go form: 40s, 5m0s; bare numbers are seconds)."""
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--controllers", default="*")
    p.add_argument("--leader-elect", type=lambda s: s.lower() != "false", default=True)
    p.add_argument("--leader-elect-lease-duration", type=_duration, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=_duration, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=_duration, default=2.0)
    p.add_argument("--kube-api-qps", type=float, default=20.0)
    p.add_argument("--kube-api-burst", type=int, default=30)
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--node-cidr-mask-size", type=int, default=24)
    p.add_argument("--service-cluster-ip-range", default="10.43.0.0/16")
    p.add_argument("--root-ca-file", default="")
    p.add_argument("--node-monitor-grace-period", type=_duration, default=40.0)
    p.add_argument("--node-monitor-period", type=_duration, default=5.0)
    p.add_argument("--terminated-pod-gc-threshold", type=int, default=12500)
    for stem in CONCURRENCY_FLAGS:
        p.add_argument(f"--concurrent-{stem}-syncs", type=int, default=None, metavar="N")
    for flag, (_field, parse) in SETTING_FLAGS.items():
        p.add_argument(flag, type=parse, default=None)


def options_from_args(args: argparse.Namespace) -> Options:
    concurrency: dict[str, int] = {}
    extra: dict[str, object] = {}
    for stem, names in CONCURRENCY_FLAGS.items():
        value = getattr(args, f"concurrent_{stem.replace('-', '_')}_syncs")
        if value is not None:
            for name in names:
                concurrency[name] = value
    if "gc_workers" in concurrency:
        extra["gc_workers"] = concurrency.pop("gc_workers")
    for flag, (field_name, _parse) in SETTING_FLAGS.items():
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            extra[field_name] = value
    return Options(cluster_cidr=args.cluster_cidr, node_cidr_mask_size=args.node_cidr_mask_size,
                   service_cidr=args.service_cluster_ip_range, root_ca_file=args.root_ca_file or "",
                   node_monitor_grace_period=args.node_monitor_grace_period,
                   node_monitor_period=args.node_monitor_period,
                   terminated_pod_gc_threshold=args.terminated_pod_gc_threshold,
                   concurrent_syncs=concurrency, extra=extra)
