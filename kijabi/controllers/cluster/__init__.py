"""Cluster controllers: garbage collector, namespace, endpoints, endpointslice, serviceaccount,
root-ca-cert-publisher, node-ipam, node-lifecycle (with taint-based eviction), pod-gc, resourcequota,
disruption, ttl-after-finished, horizontal-pod-autoscaler. `CONTROLLERS` maps upstream's names to
constructors.

Settings beyond `Options` fields are read from `Options.extra` (see `_base.Settings`): shorter periods
for tests, or flags the command line may add later.
"""

from __future__ import annotations

from kijabi.controllers.cluster import (
    disruption,
    endpoints,
    endpointslice,
    garbagecollector,
    namespace,
    nodeipam,
    nodelifecycle,
    podautoscaler,
    podgc,
    resourcequota,
    rootcacert,
    serviceaccount,
    ttlafterfinished,
)
from kijabi.controllers.context import Constructor

CONTROLLERS: dict[str, Constructor] = {
    "garbage-collector": garbagecollector.new,
    "namespace": namespace.new,
    "endpoints": endpoints.new,
    "endpointslice": endpointslice.new,
    "serviceaccount": serviceaccount.new,
    "root-ca-cert-publisher": rootcacert.new,
    "node-ipam": nodeipam.new,
    "node-lifecycle": nodelifecycle.new,
    "pod-garbage-collector": podgc.new,
    "resourcequota": resourcequota.new,
    "disruption": disruption.new,
    "ttl-after-finished": ttlafterfinished.new,
    "horizontal-pod-autoscaling": podautoscaler.new,
}
