"""Cluster controllers: garbage collector, namespace, endpoints, endpointslice, serviceaccount,
root-ca-cert-publisher, node-ipam, node-lifecycle, pod-gc, resourcequota, disruption,
ttl-after-finished, horizontal-pod-autoscaler. `CONTROLLERS` maps upstream's names to constructors."""

from __future__ import annotations

from kijabi.controllers.context import Constructor

CONTROLLERS: dict[str, Constructor] = {}
