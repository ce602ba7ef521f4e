"""`kijabi scheduler`: the scheduler process (upstream cmd/kube-scheduler).

`run(argv)` parses the flags, loads the KubeSchedulerConfiguration, connects to the API server,
starts the informers, serves /healthz and /metrics, and schedules while it holds the leader Lease
(kube-system/kube-scheduler by default). `SchedulerApp` is the same process as an object, for the
CLI's all-in-one server and for tests.

Flags follow upstream: --kubeconfig, --config, --leader-elect (default true),
--leader-elect-lease-duration / -renew-deadline / -retry-period / -resource-name / -resource-namespace,
--bind-address (default 127.0.0.1) and --secure-port (default 10259; plain HTTP for now),
--kube-api-qps / --kube-api-burst, -v.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import socket
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.config import load_default
from kijabi.client.events import EventBroadcaster
from kijabi.client.informers import EventHandlerFuncs, FilteringEventHandler, SharedInformerFactory
from kijabi.client.leaderelection import LeaderElectionConfig, LeaderElector
from kijabi.client.rest import (
    GVR,
    NAMESPACES,
    NODES,
    PERSISTENTVOLUMECLAIMS,
    PERSISTENTVOLUMES,
    PODS,
    REPLICASETS,
    SERVICES,
    STATEFULSETS,
    Client,
)
from kijabi.client.tasks import freeze_heap_when, run_main, spawn
from kijabi.scheduler.config import ConfigError, SchedulerConfig, default_config, load_config, parse_duration
from kijabi.scheduler.framework import events as ev
from kijabi.scheduler.framework.interface import Listers
from kijabi.scheduler.framework.runtime import FrameworkError
from kijabi.scheduler.metrics import Metrics
from kijabi.scheduler.scheduler import Scheduler, assigned
from kijabi.scheduler.server import HealthServer

log = logging.getLogger(__name__)

REPLICATIONCONTROLLERS = GVR("", "v1", "replicationcontrollers")
STORAGECLASSES = GVR("storage.k8s.io", "v1", "storageclasses")
CSINODES = GVR("storage.k8s.io", "v1", "csinodes")
CSIDRIVERS = GVR("storage.k8s.io", "v1", "csidrivers")
PODDISRUPTIONBUDGETS = GVR("policy", "v1", "poddisruptionbudgets")
# Terminal pods hold no resources: the scheduler does not watch them (upstream's pod informer filter).
POD_FIELD_SELECTOR = "status.phase!=Succeeded,status.phase!=Failed"


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "t", "yes"):
        return True
    if value in ("false", "0", "f", "no"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {text!r}")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def build_parser(prog: str = "kijabi scheduler") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="The kijabi scheduler: assigns pods to nodes.")
    p.add_argument("--kubeconfig", default=None, help="kubeconfig of the API server (default: admin kubeconfig, "
                                                      "$KUBECONFIG, in-cluster)")
    p.add_argument("--config", default=None, help="path to a KubeSchedulerConfiguration file")
    p.add_argument("--leader-elect", type=_bool, nargs="?", const=True, default=None,
                   help="hold a Lease before scheduling (default true)")
    p.add_argument("--leader-elect-lease-duration", type=_duration, default=None)
    p.add_argument("--leader-elect-renew-deadline", type=_duration, default=None)
    p.add_argument("--leader-elect-retry-period", type=_duration, default=None)
    p.add_argument("--leader-elect-resource-name", default=None)
    p.add_argument("--leader-elect-resource-namespace", default=None)
    p.add_argument("--bind-address", default="127.0.0.1", help="address of /healthz and /metrics")
    p.add_argument("--secure-port", type=int, default=10259, help="port of /healthz and /metrics (0: any)")
    p.add_argument("--kube-api-qps", type=float, default=None)
    p.add_argument("--kube-api-burst", type=int, default=None)
    p.add_argument("-v", "--v", type=int, default=None, dest="verbosity", help="log verbosity")
    return p


def build_config(args: argparse.Namespace) -> SchedulerConfig:
    """The configuration file (or the defaults) with the flags that were given applied over it."""
    cfg = load_config(args.config) if args.config else default_config()
    le = cfg.leader_election
    if args.leader_elect is not None:
        le.leader_elect = args.leader_elect
    if args.leader_elect_lease_duration is not None:
        le.lease_duration = args.leader_elect_lease_duration
    if args.leader_elect_renew_deadline is not None:
        le.renew_deadline = args.leader_elect_renew_deadline
    if args.leader_elect_retry_period is not None:
        le.retry_period = args.leader_elect_retry_period
    if args.leader_elect_resource_name:
        le.resource_name = args.leader_elect_resource_name
    if args.leader_elect_resource_namespace:
        le.resource_namespace = args.leader_elect_resource_namespace
    if args.kube_api_qps is not None:
        cfg.client_connection.qps = args.kube_api_qps
    if args.kube_api_burst is not None:
        cfg.client_connection.burst = args.kube_api_burst
    if args.kubeconfig is None and cfg.client_connection.kubeconfig:
        args.kubeconfig = cfg.client_connection.kubeconfig
    return cfg


class _ObjectEvents:
    """Informer handler for objects that only move waiting pods (PVs, PVCs, StorageClasses, ...)."""

    def __init__(self, scheduler: Scheduler, resource: str) -> None:
        self.scheduler = scheduler
        self.resource = resource

    def on_add(self, obj: dict[str, Any], is_initial_list: bool) -> None:
        self.scheduler.on_object_event(self.resource, ev.ActionType.ADD, None, obj)

    def on_update(self, old: dict[str, Any], new: dict[str, Any]) -> None:
        self.scheduler.on_object_event(self.resource, ev.ActionType.UPDATE, old, new)

    def on_delete(self, obj: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        target = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self.scheduler.on_object_event(self.resource, ev.ActionType.DELETE, target, None)


class SchedulerApp:
    """The whole scheduler process around one API client: informers, scheduler, HTTP, leader election."""

    def __init__(self, client: Client, config: SchedulerConfig, *, bind_address: str = "127.0.0.1",
                 port: int = 10259, identity: str | None = None, rng: random.Random | None = None) -> None:
        self.client = client
        self.config = config
        self.identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
        self.factory = SharedInformerFactory(client)
        f = self.factory
        pods = f.informer(PODS, field_selector=POD_FIELD_SELECTOR)
        self.informers = {
            "pods": pods, "nodes": f.informer(NODES), "pvs": f.informer(PERSISTENTVOLUMES),
            "pvcs": f.informer(PERSISTENTVOLUMECLAIMS), "storageclasses": f.informer(STORAGECLASSES),
            "csinodes": f.informer(CSINODES), "csidrivers": f.informer(CSIDRIVERS),
            "pdbs": f.informer(PODDISRUPTIONBUDGETS), "namespaces": f.informer(NAMESPACES),
            "services": f.informer(SERVICES), "rcs": f.informer(REPLICATIONCONTROLLERS),
            "replicasets": f.informer(REPLICASETS), "statefulsets": f.informer(STATEFULSETS),
        }
        inf = self.informers
        listers = Listers(
            pods=pods.lister(), services=inf["services"].lister(), replication_controllers=inf["rcs"].lister(),
            replica_sets=inf["replicasets"].lister(), stateful_sets=inf["statefulsets"].lister(),
            namespaces=inf["namespaces"].lister(), persistent_volumes=inf["pvs"].lister(),
            persistent_volume_claims=inf["pvcs"].lister(), storage_classes=inf["storageclasses"].lister(),
            pod_disruption_budgets=inf["pdbs"].lister(), csi_nodes=inf["csinodes"].lister(),
            csi_drivers=inf["csidrivers"].lister(),
        )
        self.broadcaster = EventBroadcaster(client)
        host = socket.gethostname()
        self.metrics = Metrics()
        self.scheduler = Scheduler(config, client=client, listers=listers, clock=client.clock, rng=rng,
                                   recorder_factory=lambda name: self.broadcaster.new_recorder(name, host),
                                   metrics=self.metrics)
        self._register_handlers()
        self.health = HealthServer(self.metrics, bind_address, port, ready=self.synced)
        self.started = asyncio.Event()  # informers synced, HTTP serving
        self.leading = asyncio.Event()

    def synced(self) -> bool:
        return all(i.has_synced() for i in self.informers.values())

    def _register_handlers(self) -> None:
        s = self.scheduler

        def obj(o: Any) -> Any:
            return o.obj if isinstance(o, DeletedFinalStateUnknown) else o

        self.informers["nodes"].add_event_handler(EventHandlerFuncs(
            add=s.on_node_add, update=s.on_node_update, delete=lambda o: s.on_node_delete(obj(o))))
        pods = self.informers["pods"]
        pods.add_event_handler(FilteringEventHandler(assigned, EventHandlerFuncs(
            add=s.on_assigned_pod_add, update=s.on_assigned_pod_update,
            delete=lambda o: s.on_assigned_pod_delete(obj(o)))))
        pods.add_event_handler(FilteringEventHandler(
            lambda p: not assigned(p) and s.responsible_for(p), EventHandlerFuncs(
                add=s.on_unscheduled_pod_add, update=s.on_unscheduled_pod_update,
                delete=lambda o: s.on_unscheduled_pod_delete(obj(o)))))
        for key, resource in (("pvs", ev.PERSISTENT_VOLUME), ("pvcs", ev.PERSISTENT_VOLUME_CLAIM),
                              ("storageclasses", ev.STORAGE_CLASS), ("csinodes", ev.CSI_NODE),
                              ("csidrivers", ev.CSI_DRIVER)):
            self.informers[key].add_event_handler(_ObjectEvents(s, resource))

    async def run(self) -> None:
        """Run until cancelled (or until leadership is lost, which raises SystemExit(1))."""
        await self.health.start()
        self.broadcaster.start()
        self.factory.start()
        try:
            synced = await self.factory.wait_for_cache_sync()
            missing = [str(g) for g, ok in synced.items() if not ok]
            if missing:
                log.warning("informers not synced: %s", ", ".join(missing))
            self.started.set()
            le = self.config.leader_election
            if not le.leader_elect:
                await self._lead()
                return
            lost = False

            def stopped() -> None:
                nonlocal lost
                lost = True

            elector = LeaderElector(self.client, LeaderElectionConfig(
                namespace=le.resource_namespace, name=le.resource_name, identity=self.identity,
                on_started_leading=self._lead, on_stopped_leading=stopped,
                lease_duration=le.lease_duration, renew_deadline=le.renew_deadline, retry_period=le.retry_period))
            await elector.run()
            if lost:
                log.error("leaderelection lost")
                raise SystemExit(1)
        finally:
            self.scheduler.queue.close()
            await self.scheduler.cancel_tasks()
            await self.factory.shutdown()
            await self.broadcaster.shutdown()
            await self.health.stop()

    async def _lead(self) -> None:
        self.leading.set()
        log.info("scheduler %s started leading", self.identity)
        try:
            await self.scheduler.run()
        finally:
            self.leading.clear()


async def run(args: Sequence[str] | argparse.Namespace | None = None) -> None:
    """Entry point of `kijabi scheduler` (argv without the program name, or parsed flags)."""
    ns = args if isinstance(args, argparse.Namespace) else build_parser().parse_args(
        list(args) if args is not None else sys.argv[1:])
    if ns.verbosity is not None:
        logging.getLogger("kijabi").setLevel(logging.DEBUG if ns.verbosity >= 4 else logging.INFO)
    try:
        cfg = build_config(ns)
    except ConfigError as exc:
        raise SystemExit(f"kijabi scheduler: invalid configuration: {exc}") from None
    try:
        client_cfg = load_default(ns.kubeconfig)
    except Exception as exc:
        raise SystemExit(f"kijabi scheduler: {exc}") from None
    client = Client(client_cfg.with_options(qps=cfg.client_connection.qps, burst=cfg.client_connection.burst))
    try:
        try:
            app = SchedulerApp(client, cfg, bind_address=ns.bind_address, port=ns.secure_port)
        except FrameworkError as exc:
            raise SystemExit(f"kijabi scheduler: {exc}") from None
        freezer = spawn(freeze_heap_when(app.started), name="gc freeze")  # informers synced
        try:
            await app.run()
        finally:
            freezer.cancel()
    finally:
        await client.close()


def main(argv: Sequence[str] | None = None) -> int:
    return run_main(run(argv))


if __name__ == "__main__":
    sys.exit(main())
