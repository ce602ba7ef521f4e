"""The node-ipam controller with the range allocator: each Node gets a pod CIDR (spec.podCIDR and
spec.podCIDRs), a /node_cidr_mask_size slice of --cluster-cidr (10.42.0.0/16 -> /24s), never the same
twice; a deleted node's CIDR is released (upstream pkg/controller/nodeipam/ipam RangeAllocator and
cidrset.CidrSet).

Before any allocation the CIDRs of existing nodes are marked used, so a restarted controller never hands
out a CIDR twice. Allocation is next-fit, starting after the last one handed out. A CIDR this controller
chose for a node is remembered until the node shows it (or is deleted), so an informer that lags behind
our own write cannot make us allocate a second one. Events as upstream: CIDRNotAvailable when the range
is exhausted, CIDRAssignmentFailed when the node cannot be updated.
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown
from kijabi.client.errors import NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import NODES
from kijabi.controllers.cluster._base import ClusterController, Object, settings, uid_of, workers
from kijabi.controllers.context import ControllerContext

log = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class CIDRRangeFull(Exception):
    """No free CIDR left in the cluster range."""


class CIDRSet:
    """The /mask subnets of one cluster CIDR, with the used ones marked (upstream cidrset)."""

    def __init__(self, cluster_cidr: str, mask_size: int) -> None:
        self.network: IPNetwork = ipaddress.ip_network(cluster_cidr, strict=False)
        if mask_size < self.network.prefixlen:
            raise ValueError(f"node CIDR mask /{mask_size} is larger than the cluster CIDR {cluster_cidr}")
        self.mask_size = mask_size
        self.max_cidrs = 1 << (mask_size - self.network.prefixlen)
        self.used: set[int] = set()
        self.next_candidate = 0

    def _index(self, cidr: str) -> int:
        net = ipaddress.ip_network(cidr, strict=False)
        if net.version != self.network.version or not net.subnet_of(self.network):  # type: ignore[arg-type]
            raise ValueError(f"cidr {cidr} is out of the range of cluster cidr {self.network}")
        if net.prefixlen != self.mask_size:
            raise ValueError(f"cidr {cidr} does not have the node mask size /{self.mask_size}")
        step = 1 << (self.network.max_prefixlen - self.mask_size)
        return (int(net.network_address) - int(self.network.network_address)) // step

    def cidr(self, index: int) -> str:
        step = 1 << (self.network.max_prefixlen - self.mask_size)
        base = int(self.network.network_address) + index * step
        return str(ipaddress.ip_network((base, self.mask_size)))

    def occupy(self, cidr: str) -> None:
        self.used.add(self._index(cidr))

    def release(self, cidr: str) -> None:
        self.used.discard(self._index(cidr))

    def allocate_next(self) -> str:
        if len(self.used) >= self.max_cidrs:
            raise CIDRRangeFull("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")
        for i in range(self.max_cidrs):
            candidate = (self.next_candidate + i) % self.max_cidrs
            if candidate not in self.used:
                self.used.add(candidate)
                self.next_candidate = (candidate + 1) % self.max_cidrs
                return self.cidr(candidate)
        raise CIDRRangeFull("CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range")


def node_cidrs(node: Object) -> list[str]:
    spec = node.get("spec") or {}
    cidrs = [str(c) for c in spec.get("podCIDRs") or []]
    if not cidrs and spec.get("podCIDR"):
        cidrs = [str(spec["podCIDR"])]
    return cidrs


class NodeIPAMController(ClusterController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("node-ipam", workers=workers(ctx, "node-ipam", 1), clock=ctx.clock)
        s = settings(ctx)
        self.client = ctx.client
        self.recorder = ctx.recorder("cidrAllocator")
        self.cidrs = CIDRSet(s.cluster_cidr, s.node_cidr_mask_size)
        self.informer = ctx.informers.informer(NODES)
        self.nodes = self.informer.lister()
        self.pending: dict[str, tuple[str, str]] = {}  # node name -> (uid, cidr) we chose, until observed
        self.informer.add_event_handler(EventHandlerFuncs(add=self.enqueue, update=self._updated, delete=self._deleted))
        self.watches(self.informer)

    def _updated(self, old: Object, new: Object) -> None:
        if not node_cidrs(new):
            self.enqueue(new)
        else:
            self.pending.pop(new["metadata"]["name"], None)

    def _deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        node = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        name = node["metadata"]["name"]
        released = set(node_cidrs(node))
        pending = self.pending.pop(name, None)
        if pending is not None:
            released.add(pending[1])
        for cidr in released:
            try:
                self.cidrs.release(cidr)
            except ValueError as exc:
                log.info("node-ipam: not releasing %s of node %s: %s", cidr, name, exc)

    async def run(self, informers: Any = ()) -> None:
        await self.informer.wait_for_sync()
        for node in self.nodes.list():
            for cidr in node_cidrs(node):
                try:
                    self.cidrs.occupy(cidr)
                except ValueError as exc:
                    log.warning("node-ipam: node %s has a CIDR outside the cluster range: %s", node["metadata"]["name"], exc)
        await super().run(informers)

    async def sync(self, key: str) -> None:
        node = self.nodes.get(key)
        if node is None or node_cidrs(node):
            return
        pending = self.pending.get(key)
        if pending is not None and pending[0] == uid_of(node):
            cidr = pending[1]
        else:
            try:
                cidr = self.cidrs.allocate_next()
            except CIDRRangeFull:
                self._status_event(node, "CIDRNotAvailable")
                raise
            self.pending[key] = (uid_of(node), cidr)
        patch = {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
        try:
            await self.client.patch(NODES, key, patch)
        except NotFound:
            self.pending.pop(key, None)
            self.cidrs.release(cidr)
            return
        except Exception:
            self._status_event(node, "CIDRAssignmentFailed")
            raise
        log.info("node-ipam: node %s got pod CIDR %s", key, cidr)

    def _status_event(self, node: Object, status: str) -> None:
        name = node["metadata"]["name"]
        ref = {"apiVersion": "v1", "kind": "Node", "name": name, "uid": uid_of(node)}
        self.recorder.event(ref, "Normal", status, f"Node {name} status is now: {status}")


def new(ctx: ControllerContext) -> NodeIPAMController:
    return NodeIPAMController(ctx)
