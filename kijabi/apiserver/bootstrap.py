"""Objects every cluster has from the start (DEFAULTS-AND-VALIDATION.md section 5)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from kijabi.apiserver.store import WriteOptions
from kijabi.apiserver.strategies.core import ServiceStrategy
from kijabi.machinery import errors

if TYPE_CHECKING:
    from kijabi.apiserver.app import APIServer

log = logging.getLogger(__name__)

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
PRIORITY_CLASSES = (
    ("system-node-critical", 2000001000, "Used for system critical pods that must not be moved from their current node."),
    ("system-cluster-critical", 2000000000, "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary."),
)


async def _ensure(server: APIServer, group: str, version: str, plural: str, namespace: str, obj: dict[str, Any]) -> None:
    res = server.registry.get(group, version, plural)
    assert res is not None and res.strategy is not None
    try:
        await server.store.get(res, namespace, obj["metadata"]["name"])
        return
    except errors.StatusError as exc:
        if exc.code != 404:
            raise
    res.strategy.decode(obj, "Ignore")
    try:
        await server.store.create(res, namespace, obj, WriteOptions(field_manager="kube-apiserver"))
    except errors.StatusError as exc:
        if exc.reason != "AlreadyExists":
            raise


async def bootstrap(server: APIServer) -> None:
    services = server.registry.get("", "v1", "services")
    assert services is not None and isinstance(services.strategy, ServiceStrategy)
    for co in server.cache.list(services.storage_prefix, services.storage_prefix):
        services.strategy.track(co.obj())
    for ns in SYSTEM_NAMESPACES:
        await _ensure(server, "", "v1", "namespaces", "", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    first_ip = services.strategy.ips.ip(0)
    await _ensure(server, "", "v1", "services", "default", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": first_ip, "clusterIPs": [first_ip], "sessionAffinity": "None",
                 "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": server.port or 6443}]},
    })
    for name, value, description in PRIORITY_CLASSES:
        await _ensure(server, "scheduling.k8s.io", "v1", "priorityclasses", "", {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "metadata": {"name": name},
            "value": value, "globalDefault": False, "description": description, "preemptionPolicy": "PreemptLowerPriority",
        })
