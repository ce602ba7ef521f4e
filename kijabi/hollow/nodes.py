"""`HollowNodes`: N fake Nodes and their fake kubelet, for scale tests and benchmarks.

What one instance does, all through the API:
- registers the Nodes with their status (capacity/allocatable, Ready, nodeInfo), concurrently but
  bounded, then removes the node.kubernetes.io/not-ready:NoSchedule taint the API server adds on
  create (what the node-lifecycle controller does once a node is Ready);
- keeps one Lease per node in kube-node-lease fresh: every `lease_period` seconds each lease is renewed
  once, the renewals spread evenly over the period in batches, at most `concurrency` in flight (the
  client's QPS limit applies on top);
- acts as the kubelet of its nodes through one informer over all pods (filtered by spec.nodeName): a
  pod bound to one of them becomes Running and Ready `ready_delay` seconds after it is first seen
  (`ready_delay < 0`: never); a pod of theirs with a deletionTimestamp is deleted for good (grace 0,
  uid precondition), as a kubelet does once the containers have stopped.

Ordering: `registered` is set once every node exists, is untainted and has its lease; pods are
handled from the start (a pod cannot be bound to a node before the node exists). API errors on one
object are logged and retried later (leases on the next period, pods on the next informer event or a
re-queue on conflict, or a retry after `RETRY_DELAY`); they never stop the process.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.clock import Clock
from kijabi.client.errors import AlreadyExists, ClientError, Conflict, NotFound
from kijabi.client.informers import EventHandlerFuncs, SharedInformerFactory
from kijabi.client.rest import LEASES, NODES, PODS, Client
from kijabi.hollow.objects import (
    LEASE_NAMESPACE,
    NodeShape,
    lease_object,
    node_ip,
    node_object,
    pod_ip,
    running_status,
    without_not_ready,
)
from kijabi.machinery.meta import rfc3339_micro

log = logging.getLogger(__name__)

FIELD_MANAGER = "kijabi-hollow-node"
RETRY_DELAY = 1.0  # seconds before a pod whose write failed is tried again


class HollowNodes:
    """The nodes of one `NodeShape` and their kubelet; `run()` until cancelled."""

    def __init__(self, client: Client, shape: NodeShape, *, ready_delay: float = 0.5, lease_period: float = 10.0,
                 concurrency: int = 32, workers: int = 16) -> None:
        self.client = client
        self.shape = shape
        self.ready_delay = ready_delay
        self.lease_period = lease_period
        self.concurrency = concurrency
        self.workers = workers
        self.clock: Clock = client.clock
        self.index = {shape.name(i): i for i in range(shape.count)}
        self.node_uids: dict[str, str] = {}
        self.leases: dict[str, dict[str, Any]] = {}
        self.lease_renewals = 0
        self.registered = asyncio.Event()
        self.factory = SharedInformerFactory(client)
        self.pods = self.factory.informer(PODS)
        self.pods.add_event_handler(EventHandlerFuncs(
            add=self._observe, update=lambda _o, n: self._observe(n),
            delete=self._forget))
        self._queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        self._waiting: set[tuple[str, str]] = set()  # keys with a ready timer pending
        self._started: set[tuple[str, str]] = set()  # keys this kubelet already made Running
        self._ips = itertools.count(1)

    # -- pods ---------------------------------------------------------------------------------------

    def _observe(self, pod: dict[str, Any]) -> None:
        node = (pod.get("spec") or {}).get("nodeName")
        if node not in self.index:
            return
        meta = pod.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        if meta.get("deletionTimestamp"):
            self._queue.put_nowait(key)
        elif key not in self._waiting and key not in self._started and self.ready_delay >= 0:
            if running_status(pod, "", "", 0) is None:
                self._started.add(key)
                return
            self._later(key, self.ready_delay)

    def _later(self, key: tuple[str, str], delay: float) -> None:
        """Queue `key` for a worker after `delay` seconds (marked waiting meanwhile)."""
        self._waiting.add(key)
        self.clock.call_later(delay, lambda: self._queue.put_nowait(key))

    def _forget(self, pod: dict[str, Any] | DeletedFinalStateUnknown) -> None:
        obj = pod.obj if isinstance(pod, DeletedFinalStateUnknown) else pod
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        self._started.discard(key)

    async def _pod_worker(self) -> None:
        lister = self.pods.lister()
        while True:
            ns, name = await self._queue.get()
            pod = lister.get(name, ns)
            if pod is None or (pod.get("spec") or {}).get("nodeName") not in self.index:
                self._waiting.discard((ns, name))
                continue
            try:
                await self._sync_pod(pod)
            except Conflict:
                self._queue.put_nowait((ns, name))
            except NotFound:
                pass
            except ClientError as exc:
                log.warning("hollow kubelet: pod %s/%s (retrying in %.0fs): %s", ns, name, RETRY_DELAY, exc)
                self._later((ns, name), RETRY_DELAY)

    async def _sync_pod(self, pod: dict[str, Any]) -> None:
        meta = pod["metadata"]
        ns, name = meta.get("namespace", ""), meta["name"]
        if meta.get("deletionTimestamp"):
            await self.client.delete(PODS, name, namespace=ns, grace_period_seconds=0,
                                     preconditions={"uid": meta["uid"]})
            return
        key = (ns, name)
        self._waiting.discard(key)
        node = pod["spec"]["nodeName"]
        status = running_status(pod, pod_ip(next(self._ips)), node_ip(self.index[node]), self.clock.time())
        if status is None:
            self._started.add(key)
            return
        body = {"metadata": {"uid": meta["uid"]}, "status": status}
        await self.client.patch(PODS, name, body, namespace=ns, subresource="status", patch_type="strategic",
                                field_manager=FIELD_MANAGER)
        self._started.add(key)

    # -- nodes --------------------------------------------------------------------------------------

    async def _register(self, index: int) -> None:
        name = self.shape.name(index)
        body = node_object(self.shape, index, self.clock.time())
        try:
            node = await self.client.create(NODES, body, field_manager=FIELD_MANAGER)
        except AlreadyExists:
            # a restart: refresh the status, keep the node
            node = await self.client.patch(NODES, name, {"status": body["status"]}, subresource="status",
                                           field_manager=FIELD_MANAGER)
        taints = list((node.get("spec") or {}).get("taints") or [])
        kept = without_not_ready(taints)
        if kept != taints:
            node = await self.client.patch(
                NODES, name, [{"op": "test", "path": "/spec/taints", "value": taints},
                              {"op": "replace", "path": "/spec/taints", "value": kept}],
                patch_type="json", field_manager=FIELD_MANAGER)
        self.node_uids[name] = node["metadata"]["uid"]
        await self._renew(name)

    async def register_all(self) -> None:
        sem = asyncio.Semaphore(self.concurrency)

        async def one(i: int) -> None:
            async with sem:
                for attempt in range(5):
                    try:
                        await self._register(i)
                        return
                    except ClientError as exc:
                        if attempt == 4:
                            raise
                        log.info("hollow node %s: retrying registration: %s", self.shape.name(i), exc)

        await asyncio.gather(*(one(i) for i in range(self.shape.count)))
        self.registered.set()
        log.info("%d hollow nodes registered", self.shape.count)

    # -- leases -------------------------------------------------------------------------------------

    async def _renew(self, name: str) -> None:
        """Renew (or create) the node's Lease: one PUT of the cached copy in the common case, one POST the
        first time (a GET first only when the Lease already exists, after a restart)."""
        now = self.clock.time()
        cached = self.leases.get(name)
        try:
            if cached is None:
                try:
                    self.leases[name] = await self.client.create(
                        LEASES, lease_object(name, self.node_uids.get(name), now), field_manager=FIELD_MANAGER)
                    self.lease_renewals += 1
                    return
                except AlreadyExists:
                    cached = await self.client.get(LEASES, name, namespace=LEASE_NAMESPACE)
            lease = {**cached, "spec": {**(cached.get("spec") or {}), "holderIdentity": name,
                                        "renewTime": rfc3339_micro(now)}}
            self.leases[name] = await self.client.update(LEASES, lease, field_manager=FIELD_MANAGER)
            self.lease_renewals += 1
        except (Conflict, NotFound):
            self.leases.pop(name, None)  # re-read next time
            raise

    async def _lease_loop(self) -> None:
        """Each period, every lease once: batches start at evenly spread times and overlap when the
        server is slow, at most `concurrency` renewals in flight; a lease whose renewal is still in
        flight when its turn comes again is skipped (that renewal is as fresh as this one would be)."""
        names = [self.shape.name(i) for i in range(self.shape.count)]
        batch = max(1, min(self.concurrency, len(names)))
        batches = [names[i:i + batch] for i in range(0, len(names), batch)]
        gap = self.lease_period / max(1, len(batches))
        slots = asyncio.Semaphore(self.concurrency)
        in_flight: set[str] = set()

        async def renew(name: str) -> None:
            try:
                await self._renew(name)
            except ClientError as exc:
                log.warning("hollow node %s: lease renewal failed: %s", name, exc)
            finally:
                in_flight.discard(name)
                slots.release()

        await self.clock.sleep(self.lease_period)  # registration renewed every lease just now
        async with asyncio.TaskGroup() as tg:
            while True:
                start = self.clock.now()
                for n, chunk in enumerate(batches):
                    delay = start + n * gap - self.clock.now()
                    if delay > 0:
                        await self.clock.sleep(delay)
                    for name in chunk:
                        if name in in_flight:
                            continue
                        await slots.acquire()
                        in_flight.add(name)
                        tg.create_task(renew(name), name=f"lease {name}")
                rest = start + self.lease_period - self.clock.now()
                if rest > 0:
                    await self.clock.sleep(rest)

    # -- the process --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Register, then renew leases and run the kubelet until cancelled."""
        try:
            async with asyncio.TaskGroup() as tg:
                self.factory.start(tg)
                for i in range(self.workers):
                    tg.create_task(self._pod_worker(), name=f"hollow pod worker {i}")
                await self.register_all()
                tg.create_task(self._lease_loop(), name="hollow lease renewal")
        finally:
            await self.factory.shutdown()
