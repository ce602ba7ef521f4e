"""The controller-manager process: leader election, then every enabled controller in one TaskGroup.

`--controllers` follows upstream: `*` enables the defaults, `foo` enables one, `-foo` disables one.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import logging
from collections.abc import Iterable

from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import SharedInformerFactory
from kijabi.client.leaderelection import LeaderElectionConfig, LeaderElector, default_identity
from kijabi.client.rest import Client
from kijabi.controllers import cluster, workloads
from kijabi.controllers.context import Constructor, ControllerContext, Options

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
    options = Options(cluster_cidr=args.cluster_cidr, node_cidr_mask_size=args.node_cidr_mask_size,
                      service_cidr=args.service_cluster_ip_range, root_ca_file=args.root_ca_file or "")
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


def add_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kubeconfig", default=None)
    p.add_argument("--controllers", default="*")
    p.add_argument("--leader-elect", type=lambda s: s.lower() != "false", default=True)
    p.add_argument("--leader-elect-lease-duration", type=float, default=15.0)
    p.add_argument("--leader-elect-renew-deadline", type=float, default=10.0)
    p.add_argument("--leader-elect-retry-period", type=float, default=2.0)
    p.add_argument("--kube-api-qps", type=float, default=20.0)
    p.add_argument("--kube-api-burst", type=int, default=30)
    p.add_argument("--cluster-cidr", default="10.42.0.0/16")
    p.add_argument("--node-cidr-mask-size", type=int, default=24)
    p.add_argument("--service-cluster-ip-range", default="10.43.0.0/16")
    p.add_argument("--root-ca-file", default="")
