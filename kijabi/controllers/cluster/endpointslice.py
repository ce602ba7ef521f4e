"""The endpointslice controller: EndpointSlices (discovery.k8s.io/v1) for every Service with a selector
(upstream pkg/controller/endpointslice and staging endpointslice reconciler).

Per service and address type (the service's first IP family):
- the desired endpoints are the selected pods that have an IP and are not terminal (terminating pods are
  kept, with conditions ready/serving/terminating), each with its addresses, nodeName, zone (the node's
  topology.kubernetes.io/zone label), hostname (subdomain = service name) and targetRef; pods bound to
  a node that does not exist are left out and the service is retried, unless it publishes not-ready
  addresses;
- endpoints are grouped by their resolved port list; each group fills slices of at most
  `max_endpoints_per_slice` (100) endpoints. Existing slices keep their endpoints where possible; changed
  endpoints are updated in place, new ones fill slices being updated before new slices are created
  (generateName "<service>-"), emptied slices are deleted, and a create paired with a delete becomes
  an update. A service with no endpoints keeps one placeholder slice with no ports and no endpoints;
- slices carry the service's labels plus kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by
  = endpointslice-controller.k8s.io (and service.kubernetes.io/headless for headless services) and a
  controller ownerReference to the service, so the garbage collector removes them with it.

The controller remembers the resourceVersion of every slice it wrote; while its informer has not caught
up with its own writes, a sync is retried instead of acting on a stale cache (upstream's
EndpointSliceTracker), so slices are never created twice.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.errors import ClientError, NotFound
from kijabi.client.informers import EventHandlerFuncs
from kijabi.client.rest import ENDPOINTSLICES, NODES, PODS, SERVICES
from kijabi.controllers.cluster._base import (
    Object,
    Requeue,
    being_deleted,
    is_pod_ready,
    labels_of,
    namespace_of,
    namespace_terminating,
    node_name_of,
    pod_ips,
    settings,
    workers,
)
from kijabi.controllers.cluster.endpoints import (
    LAST_CHANGE_ANNOTATION,
    ServicePodsController,
    find_port,
    is_ipv6,
    pod_change_time,
    pod_reference,
    service_ip_family,
    service_selector,
    should_pod_be_in_endpoints,
    should_set_hostname,
)
from kijabi.controllers.context import ControllerContext
from kijabi.machinery.meta import rfc3339

log = logging.getLogger(__name__)

API_SERVER_SERVICE = "default/kubernetes"

LABEL_SERVICE_NAME = "kubernetes.io/service-name"
LABEL_MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
HEADLESS_LABEL = "service.kubernetes.io/headless"
ZONE_LABEL = "topology.kubernetes.io/zone"
RESERVED_LABELS = (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, HEADLESS_LABEL)
MAX_ENDPOINTS_PER_SLICE = 100
SERVICE_INDEX = "service"


def _service_index(slice_: Object) -> list[str]:
    name = labels_of(slice_).get(LABEL_SERVICE_NAME)
    return [f"{namespace_of(slice_)}/{name}"] if name else []


def address_types(svc: Mapping[str, Any]) -> list[str]:
    families = (svc.get("spec") or {}).get("ipFamilies") or []
    if families:
        return [str(f) for f in families]
    return [service_ip_family(svc)]


def endpoint_ports(svc: Mapping[str, Any], pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = svc.get("spec") or {}
    ports: list[dict[str, Any]] = []
    if not spec.get("ports") and spec.get("clusterIP") == "None":
        return ports
    for sp in spec.get("ports") or []:
        num = find_port(pod, sp)
        if num is None:
            continue
        port: dict[str, Any] = {"name": sp.get("name") or "", "port": num, "protocol": sp.get("protocol") or "TCP"}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        ports.append(port)
    return ports


def ports_key(ports: Sequence[Mapping[str, Any]] | None) -> tuple[Any, ...]:
    return tuple(sorted((p.get("name") or "", p.get("port") or 0, p.get("protocol") or "", p.get("appProtocol") or "")
                        for p in ports or []))


def pod_to_endpoint(pod: Mapping[str, Any], node: Mapping[str, Any] | None, svc: Mapping[str, Any],
                    address_type: str) -> dict[str, Any]:
    serving = is_pod_ready(pod)
    terminating = being_deleted(pod)
    ready = bool((svc.get("spec") or {}).get("publishNotReadyAddresses")) or (serving and not terminating)
    want_v6 = address_type == "IPv6"
    ep: dict[str, Any] = {
        "addresses": [ip for ip in pod_ips(pod) if is_ipv6(ip) == want_v6],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    if should_set_hostname(pod, svc):
        ep["hostname"] = pod["spec"]["hostname"]
    ep["targetRef"] = pod_reference(pod)
    node_name = node_name_of(pod)
    if node_name:
        ep["nodeName"] = node_name
    zone = labels_of(node).get(ZONE_LABEL) if node is not None else None
    if zone:
        ep["zone"] = zone
    return ep


def endpoint_key(ep: Mapping[str, Any]) -> tuple[str, str]:
    addrs = ep.get("addresses") or [""]
    return (str(addrs[0]), str((ep.get("targetRef") or {}).get("uid", "")))


def slice_labels(svc: Mapping[str, Any]) -> dict[str, str]:
    out = {k: v for k, v in labels_of(svc).items() if k not in RESERVED_LABELS}
    if (svc.get("spec") or {}).get("clusterIP") in (None, "", "None"):
        out[HEADLESS_LABEL] = ""
    out[LABEL_SERVICE_NAME] = svc["metadata"]["name"]
    out[LABEL_MANAGED_BY] = CONTROLLER_NAME
    return out


def slice_prefix(service_name: str) -> str:
    prefix = f"{service_name}-"
    return prefix if len(prefix) <= 253 else service_name


def owner_reference(svc: Mapping[str, Any]) -> dict[str, Any]:
    m = svc["metadata"]
    return {"apiVersion": "v1", "kind": "Service", "name": m["name"], "uid": m.get("uid", ""), "controller": True,
            "blockOwnerDeletion": True}


def new_slice(svc: Mapping[str, Any], address_type: str, ports: list[dict[str, Any]]) -> dict[str, Any]:
    m = svc["metadata"]
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"generateName": slice_prefix(m["name"]), "namespace": m.get("namespace", ""),
                         "labels": slice_labels(svc), "ownerReferences": [owner_reference(svc)]},
            "addressType": address_type, "endpoints": [], "ports": ports}


@dataclass
class Plan:
    """What one reconcile wants written."""

    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    delete: list[dict[str, Any]] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def plan_slices(svc: Mapping[str, Any], desired: dict[str, dict[tuple[Any, ...], tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]]],
                existing: Sequence[Mapping[str, Any]], *, max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """The writes that turn `existing` slices into `desired` endpoints.

    `desired` maps address type -> ports key -> (ports, endpoint key -> endpoint). Pure: inputs are not
    changed; slices in the plan are fresh copies.
    """
    plan = Plan()
    labels = slice_labels(svc)
    types = set(desired)
    for s in existing:
        if s.get("addressType") not in types:
            plan.delete.append(copy_object(s))
    for address_type, groups in desired.items():
        _plan_address_type(plan, svc, address_type, groups, [s for s in existing if s.get("addressType") == address_type],
                           labels, max_per_slice)
    return plan


def _plan_address_type(plan: Plan, svc: Mapping[str, Any], address_type: str,
                       groups: dict[tuple[Any, ...], tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]],
                       existing: Sequence[Mapping[str, Any]], labels: dict[str, str], max_per_slice: int) -> None:
    to_create: list[dict[str, Any]] = []
    to_update: list[dict[str, Any]] = []
    to_delete: list[dict[str, Any]] = []
    placed: set[tuple[tuple[Any, ...], tuple[str, str]]] = set()
    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for s in existing:
        key = ports_key(s.get("ports"))
        group = groups.get(key)
        if group is None:
            to_delete.append(copy_object(s))
            continue
        wanted = group[1]
        kept: list[dict[str, Any]] = []
        changed = False
        for ep in s.get("endpoints") or []:
            k = endpoint_key(ep)
            target = wanted.get(k)
            if target is None or (key, k) in placed:
                changed = True
                continue
            placed.add((key, k))
            kept.append(target)
            if target != ep:
                changed = True
        if labels_of(s) != labels:
            changed = True
        fresh = copy_object(s)
        fresh["endpoints"] = kept
        fresh["metadata"]["labels"] = dict(labels)
        if not kept:
            to_delete.append(fresh)
        elif changed:
            to_update.append(fresh)
            by_key.setdefault(key, []).append(fresh)
        else:
            by_key.setdefault(key, []).append(fresh)
    updating = {id(s) for s in to_update}
    for key, (ports, wanted) in groups.items():
        left = [ep for k, ep in wanted.items() if (key, k) not in placed]
        if not left:
            continue
        # First into slices already being updated, then into new slices.
        for s in [s for s in by_key.get(key, []) if id(s) in updating]:
            room = max_per_slice - len(s["endpoints"])
            if room > 0 and left:
                s["endpoints"].extend(left[:room])
                left = left[room:]
        created: list[dict[str, Any]] = []
        while left:
            s = new_slice(svc, address_type, ports)
            s["endpoints"] = left[:max_per_slice]
            left = left[max_per_slice:]
            created.append(s)
        # The last new slice goes into the fullest unchanged slice that can take it, if any.
        if created:
            last = created[-1]
            fits = [s for s in by_key.get(key, []) if id(s) not in updating
                    and max_per_slice - len(s["endpoints"]) >= len(last["endpoints"])]
            if fits:
                target = max(fits, key=lambda s: len(s["endpoints"]))
                target["endpoints"].extend(last["endpoints"])
                to_update.append(target)
                updating.add(id(target))
                created.pop()
        to_create.extend(created)
    if len(existing) == len(to_delete) and not to_create:
        placeholder = new_slice(svc, address_type, [])
        reusable = [s for s in to_delete if not s.get("ports") and not s.get("endpoints")
                    and labels_of(s) == labels]
        if len(to_delete) == 1 and reusable:
            to_delete = []
        else:
            to_create.append(placeholder)
    # A create paired with a delete becomes an update of the slice that would have been deleted.
    while to_create and to_delete:
        made = to_create.pop()
        reused = to_delete.pop()
        reused["endpoints"] = made["endpoints"]
        reused["ports"] = made["ports"]
        reused["metadata"]["labels"] = dict(labels)
        to_update.append(reused)
    plan.create.extend(to_create)
    plan.update.extend(to_update)
    plan.delete.extend(to_delete)


class SliceTracker:
    """The slices this controller wrote, per service, until its informer shows them (stale-cache guard)."""

    def __init__(self) -> None:
        self.written: dict[str, dict[str, int]] = {}
        self.deleted: dict[str, set[str]] = {}

    def wrote(self, service_key: str, slice_: Mapping[str, Any]) -> None:
        m = slice_.get("metadata") or {}
        self.written.setdefault(service_key, {})[m.get("name", "")] = int(m.get("resourceVersion") or 0)
        self.deleted.get(service_key, set()).discard(m.get("name", ""))

    def removed(self, service_key: str, name: str) -> None:
        self.deleted.setdefault(service_key, set()).add(name)
        self.written.get(service_key, {}).pop(name, None)

    def stale(self, service_key: str, cached: Sequence[Mapping[str, Any]]) -> bool:
        """True while the cache misses one of our writes; forgets writes once the cache shows them."""
        by_name = {(s.get("metadata") or {}).get("name"): s for s in cached}
        pending = self.written.get(service_key, {})
        for name, rv in list(pending.items()):
            s = by_name.get(name)
            if s is None or int((s.get("metadata") or {}).get("resourceVersion") or 0) < rv:
                return True
            del pending[name]
        gone = self.deleted.get(service_key, set())
        for name in list(gone):
            if name in by_name and not being_deleted(by_name[name]):
                return True
            gone.discard(name)
        return False

    def forget(self, service_key: str) -> None:
        self.written.pop(service_key, None)
        self.deleted.pop(service_key, None)


class EndpointSliceController(ServicePodsController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("endpointslice", workers=workers(ctx, "endpointslice", 2), clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("endpoint-slice-controller")
        self.max_per_slice = settings(ctx).max_endpoints_per_slice
        svc_informer = ctx.informers.informer(SERVICES)
        pod_informer = ctx.informers.informer(PODS)
        node_informer = ctx.informers.informer(NODES)
        slice_informer = ctx.informers.informer(ENDPOINTSLICES, label_selector={LABEL_MANAGED_BY: CONTROLLER_NAME},
                                                indexers={SERVICE_INDEX: _service_index})
        self.services = svc_informer.lister()
        self.pods = pod_informer.lister()
        self.nodes = node_informer.lister()
        self.slices = slice_informer.lister()
        self.tracker = SliceTracker()
        svc_informer.add_event_handler(self.handler())
        self.watch_pods(pod_informer)
        slice_informer.add_event_handler(EventHandlerFuncs(add=self._slice_changed, update=lambda o, n: self._slice_changed(n),
                                                           delete=self._slice_changed))
        self.watches(svc_informer, pod_informer, node_informer, slice_informer)

    # -- handlers ----------------------------------------------------------------------------------

    def _slice_changed(self, obj: Object | DeletedFinalStateUnknown) -> None:
        s = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        for key in _service_index(s):
            self.queue.add(key)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ns, name = key.split("/", 1)
        svc = self.services.get(name, ns)
        if svc is None:
            self.tracker.forget(key)
            return  # the garbage collector removes the slices through their ownerReference
        spec = svc.get("spec") or {}
        if spec.get("type") == "ExternalName":
            return
        if key == API_SERVER_SERVICE:
            return  # the API server keeps its own endpoints
        selector = service_selector(svc)
        if selector is None:
            return
        cached = self.slices.by_index(SERVICE_INDEX, key)
        if self.tracker.stale(key, cached):
            raise Requeue(f"EndpointSlice informer cache is out of date for service {key}")
        existing = [s for s in cached if not being_deleted(s)]
        errors: list[str] = []
        desired: dict[str, dict[tuple[Any, ...], tuple[list[dict[str, Any]], dict[tuple[str, str], dict[str, Any]]]]] = {}
        trigger: float | None = None
        pods = [p for p in self.pods.list(ns) if selector.matches(labels_of(p))]
        publish = bool(spec.get("publishNotReadyAddresses"))
        for address_type in address_types(svc):
            groups = desired.setdefault(address_type, {})
            for pod in pods:
                if not should_pod_be_in_endpoints(pod, True):
                    continue
                ports = endpoint_ports(svc, pod)
                group = groups.setdefault(ports_key(ports), (ports, {}))
                node_name = node_name_of(pod)
                node = self.nodes.get(node_name) if node_name else None
                if node is None and not publish:
                    errors.append(f"skipping Pod {pod['metadata']['name']} for Service {ns}/{name}: Node {node_name} Not Found")
                    continue
                ep = pod_to_endpoint(pod, node, svc, address_type)
                if ep["addresses"]:
                    group[1][endpoint_key(ep)] = ep
                    changed = pod_change_time(pod)
                    if changed is not None and (trigger is None or changed > trigger):
                        trigger = changed
        plan = plan_slices(svc, desired, existing, max_per_slice=self.max_per_slice)
        if not plan.empty():
            try:
                await self._write(key, svc, plan, trigger)
            except ClientError as exc:
                if namespace_terminating(exc):
                    return
                self.recorder.event(svc, "Warning", "FailedToUpdateEndpointSlices",
                                    f"Error updating Endpoint Slices for Service {ns}/{name}: {exc}")
                raise
        if errors:
            raise Requeue("; ".join(errors))

    async def _write(self, key: str, svc: Mapping[str, Any], plan: Plan, trigger: float | None) -> None:
        def stamp(s: dict[str, Any]) -> None:
            if trigger is not None:
                s["metadata"].setdefault("annotations", {})[LAST_CHANGE_ANNOTATION] = rfc3339(trigger)

        ns = namespace_of(svc)
        for s in plan.create:
            stamp(s)
            created = await self.client.create(ENDPOINTSLICES, s, namespace=ns)
            self.tracker.wrote(key, created)
        for s in plan.update:
            stamp(s)
            updated = await self.client.update(ENDPOINTSLICES, s, namespace=ns)
            self.tracker.wrote(key, updated)
        for s in plan.delete:
            name = s["metadata"]["name"]
            try:
                await self.client.delete(ENDPOINTSLICES, name, namespace=ns,
                                         preconditions={"uid": s["metadata"].get("uid", "")})
            except NotFound:
                pass
            self.tracker.removed(key, name)


def new(ctx: ControllerContext) -> EndpointSliceController:
    return EndpointSliceController(ctx)
