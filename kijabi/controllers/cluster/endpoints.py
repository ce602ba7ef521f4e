"""The endpoints controller: one Endpoints object per Service with a selector, listing the IPs of the
matching pods (upstream pkg/controller/endpoint).

Per service (skipped when it has no selector: those get Endpoints written by hand; default/kubernetes is
one of them and belongs to the API server):
- pods in the service's namespace matching its selector, not terminal, with an IP, and (unless
  publishNotReadyAddresses) not terminating;
- each pod becomes an address (IP of the service's family, nodeName, targetRef to the pod, hostname when
  the pod's subdomain is the service's name) under `addresses` when Ready (or when the service publishes
  not-ready addresses) and under `notReadyAddresses` otherwise;
- each service port resolves its targetPort per pod (a named targetPort is looked up among that pod's
  container ports with the same protocol; a pod without it is left out of that port);
- subsets are then repacked: addresses with the same port set share one subset.
The Endpoints carries the service's labels (plus service.kubernetes.io/headless for headless services),
is updated only when subsets or labels changed, and is deleted with its service. Over 1000 addresses
are truncated, with the annotation endpoints.kubernetes.io/over-capacity: truncated.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.client.cache import DeletedFinalStateUnknown, Lister, copy_object
from kijabi.client.errors import ClientError, Forbidden, NotFound
from kijabi.client.informers import EventHandlerFuncs, SharedIndexInformer
from kijabi.client.rest import ENDPOINTS, PODS, SERVICES
from kijabi.controllers.cluster._base import (
    ClusterController,
    Object,
    being_deleted,
    get_condition,
    is_pod_ready,
    is_pod_terminal,
    labels_of,
    namespace_of,
    namespace_terminating,
    node_name_of,
    pod_ips,
    timestamp,
    workers,
)
from kijabi.controllers.context import ControllerContext
from kijabi.machinery import labels
from kijabi.machinery.meta import rfc3339

API_SERVER_SERVICE = "default/kubernetes"
HEADLESS_LABEL = "service.kubernetes.io/headless"
LAST_CHANGE_ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY_ANNOTATION = "endpoints.kubernetes.io/over-capacity"
MAX_CAPACITY = 1000


# -- pure helpers shared with the endpointslice controller -----------------------------------------------


def service_selector(svc: Mapping[str, Any]) -> labels.Selector | None:
    """The service's pod selector; None when it has none (such services get no managed endpoints)."""
    sel = (svc.get("spec") or {}).get("selector")
    if sel is None:
        return None
    return labels.from_label_selector({"matchLabels": dict(sel)})


def should_pod_be_in_endpoints(pod: Mapping[str, Any], include_terminating: bool) -> bool:
    if is_pod_terminal(pod):
        return False
    if not pod_ips(pod):
        return False
    return include_terminating or not being_deleted(pod)


def should_set_hostname(pod: Mapping[str, Any], svc: Mapping[str, Any]) -> bool:
    spec = pod.get("spec") or {}
    return bool(spec.get("hostname")) and spec.get("subdomain") == svc["metadata"]["name"] and \
        namespace_of(pod) == namespace_of(svc)


def is_ipv6(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 6
    except ValueError:
        return False


def service_ip_family(svc: Mapping[str, Any], pod: Mapping[str, Any] | None = None) -> str:
    spec = svc.get("spec") or {}
    families = spec.get("ipFamilies") or []
    if families:
        return str(families[0])
    cluster_ip = spec.get("clusterIP") or ""
    if cluster_ip and cluster_ip != "None":
        return "IPv6" if is_ipv6(cluster_ip) else "IPv4"
    if pod is not None:
        ips = pod_ips(pod)
        if ips and is_ipv6(ips[0]):
            return "IPv6"
    return "IPv4"


def pod_ip_for_family(pod: Mapping[str, Any], family: str) -> str | None:
    for ip in pod_ips(pod):
        if is_ipv6(ip) == (family == "IPv6"):
            return ip
    return None


def find_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """The container port a service port's targetPort means on `pod` (upstream podutil.FindPort)."""
    target = service_port.get("targetPort")
    if target is None:
        target = service_port.get("port")
    protocol = service_port.get("protocol") or "TCP"
    if isinstance(target, int):
        return target
    if isinstance(target, str):
        if target.isdigit():
            return int(target)
        spec = pod.get("spec") or {}
        for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
            for port in container.get("ports") or []:
                if port.get("name") == target and (port.get("protocol") or "TCP") == protocol:
                    return int(port.get("containerPort"))
    return None


def pod_reference(pod: Mapping[str, Any]) -> dict[str, Any]:
    m = pod.get("metadata") or {}
    return {"kind": "Pod", "namespace": m.get("namespace", ""), "name": m.get("name", ""), "uid": m.get("uid", "")}


def pod_change_time(pod: Mapping[str, Any]) -> float | None:
    """When the pod last changed in a way endpoints care about: its Ready transition, else its creation."""
    cond = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    if cond is not None:
        t = timestamp(cond.get("lastTransitionTime"))
        if t is not None:
            return t
    return timestamp((pod.get("metadata") or {}).get("creationTimestamp"))


# -- subsets -------------------------------------------------------------------------------------------


def _port_key(port: Mapping[str, Any]) -> tuple[Any, ...]:
    return (port.get("name", ""), port.get("port", 0), port.get("protocol", ""), port.get("appProtocol", ""))


def _address_key(addr: Mapping[str, Any]) -> tuple[str, str]:
    return (str(addr.get("ip", "")), str((addr.get("targetRef") or {}).get("uid", "")))


def _ip_sort_key(addr: Mapping[str, Any]) -> tuple[Any, ...]:
    ip = str(addr.get("ip", ""))
    try:
        packed = ipaddress.ip_address(ip).packed
    except ValueError:
        packed = ip.encode()
    return (packed, str((addr.get("targetRef") or {}).get("uid", "")))


def repack_subsets(subsets: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Group addresses that offer the same set of ports into one subset; not ready wins over ready for an
    address seen both ways on a port (upstream endpoints.RepackSubsets). Sorted for stable comparison."""
    all_addrs: dict[tuple[str, str], dict[str, Any]] = {}
    port_to_addrs: dict[tuple[Any, ...], tuple[dict[str, Any] | None, dict[tuple[str, str], bool]]] = {}

    def note(addr: dict[str, Any], port: dict[str, Any] | None, ready: bool) -> None:
        key = _address_key(addr)
        all_addrs.setdefault(key, addr)
        pkey = _port_key(port) if port is not None else ("", -1, "", "")
        entry = port_to_addrs.setdefault(pkey, (port, {}))
        readiness = entry[1]
        if key not in readiness or readiness[key]:
            readiness[key] = ready

    for ss in subsets:
        ports = ss.get("ports") or [None]
        for port in ports:
            for addr in ss.get("addresses") or []:
                note(addr, port, True)
            for addr in ss.get("notReadyAddresses") or []:
                note(addr, port, False)
    groups: dict[tuple[tuple[tuple[str, str], bool], ...], list[dict[str, Any]]] = {}
    for port, readiness in port_to_addrs.values():
        key = tuple(sorted(readiness.items()))
        ports = groups.setdefault(key, [])
        if port is not None:
            ports.append(port)
    final = []
    for key, ports in groups.items():
        ready = sorted((all_addrs[k] for k, r in key if r), key=_ip_sort_key)
        not_ready = sorted((all_addrs[k] for k, r in key if not r), key=_ip_sort_key)
        subset: dict[str, Any] = {}
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        if ports:
            subset["ports"] = sorted(ports, key=_port_key)
        final.append(subset)
    return sorted(final, key=_subset_sort_key)


def _subset_sort_key(ss: Mapping[str, Any]) -> tuple[Any, ...]:
    first = (ss.get("addresses") or ss.get("notReadyAddresses") or [{}])[0]
    return (_ip_sort_key(first), [_port_key(p) for p in ss.get("ports") or []])


def desired_subsets(svc: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> tuple[list[dict[str, Any]], float | None]:
    """The repacked subsets for `svc` over `pods` (already selected), and the latest change time seen."""
    spec = svc.get("spec") or {}
    publish_not_ready = bool(spec.get("publishNotReadyAddresses"))
    ports = spec.get("ports") or []
    subsets: list[dict[str, Any]] = []
    trigger = timestamp((svc.get("metadata") or {}).get("creationTimestamp"))
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, publish_not_ready):
            continue
        ip = pod_ip_for_family(pod, service_ip_family(svc, pod))
        if ip is None:
            continue
        addr: dict[str, Any] = {"ip": ip}
        if should_set_hostname(pod, svc):
            addr["hostname"] = pod["spec"]["hostname"]
        node = node_name_of(pod)
        if node:
            addr["nodeName"] = node
        addr["targetRef"] = pod_reference(pod)
        ready = publish_not_ready or is_pod_ready(pod)
        changed = pod_change_time(pod)
        if changed is not None and (trigger is None or changed > trigger):
            trigger = changed
        if not ports:
            if spec.get("clusterIP") == "None":
                subsets.append({"addresses" if ready else "notReadyAddresses": [addr]})
            continue
        for sp in ports:
            num = find_port(pod, sp)
            if num is None:
                continue
            ep: dict[str, Any] = {"port": num, "protocol": sp.get("protocol") or "TCP"}
            if sp.get("name"):
                ep["name"] = sp["name"]
            if sp.get("appProtocol"):
                ep["appProtocol"] = sp["appProtocol"]
            subsets.append({"addresses" if ready else "notReadyAddresses": [dict(addr)], "ports": [ep]})
    return repack_subsets(subsets), trigger


def truncate(subsets: list[dict[str, Any]], limit: int = MAX_CAPACITY) -> bool:
    """Keep at most `limit` addresses, ready ones first, spread over subsets in proportion (upstream
    truncateEndpoints); True if anything was cut."""
    total = sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)
    if total <= limit:
        return False
    ready_total = sum(len(s.get("addresses") or []) for s in subsets)
    can_ready = min(limit, ready_total)
    can_not_ready = limit - can_ready
    not_ready_total = total - ready_total
    for field, allowed, whole in (("addresses", can_ready, ready_total), ("notReadyAddresses", can_not_ready, not_ready_total)):
        left = allowed
        for i, s in enumerate(subsets):
            addrs = s.get(field) or []
            if not addrs:
                continue
            share = left if i == len(subsets) - 1 else min(len(addrs), int(allowed * len(addrs) / whole) if whole else 0)
            share = min(share, left, len(addrs))
            if addrs[share:]:
                s[field] = addrs[:share]
                if not s[field]:
                    del s[field]
            left -= share
    return True


def _comparable(subsets: Sequence[Mapping[str, Any]]) -> list[Any]:
    """Subsets without the pods' resourceVersions (which upstream ignores when comparing)."""
    out = []
    for ss in subsets:
        item = {}
        for field in ("addresses", "notReadyAddresses"):
            addrs = []
            for a in ss.get(field) or []:
                ref = {k: v for k, v in (a.get("targetRef") or {}).items() if k != "resourceVersion"}
                addrs.append({**a, "targetRef": ref} if a.get("targetRef") else dict(a))
            if addrs:
                item[field] = addrs
        if ss.get("ports"):
            item["ports"] = list(ss["ports"])
        out.append(item)
    return out


class ServicePodsController(ClusterController):
    """What the endpoints and endpointslice controllers share: a service's key is queued whenever a pod
    its selector matches (before or after a change) is added, updated or deleted."""

    services: Lister

    def watch_pods(self, pod_informer: SharedIndexInformer) -> None:
        pod_informer.add_event_handler(EventHandlerFuncs(add=self._pod_changed, update=self._pod_updated,
                                                         delete=self._pod_changed))

    def _services_for(self, pod: Mapping[str, Any]) -> set[str]:
        ns = namespace_of(pod)
        pod_labels = labels_of(pod)
        keys = set()
        for svc in self.services.list(ns):
            sel = service_selector(svc)
            if sel is not None and not sel.empty() and sel.matches(pod_labels):
                keys.add(self.key_of(svc))
        return keys

    def _pod_changed(self, obj: Object | DeletedFinalStateUnknown) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        for key in self._services_for(pod):
            self.queue.add(key)

    def _pod_updated(self, old: Object, new: Object) -> None:
        if (old.get("metadata") or {}).get("resourceVersion") == (new.get("metadata") or {}).get("resourceVersion"):
            return
        keys = self._services_for(new)
        if labels_of(old) != labels_of(new):
            keys |= self._services_for(old)
        for key in keys:
            self.queue.add(key)


class EndpointsController(ServicePodsController):
    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__("endpoints", workers=workers(ctx, "endpoints", 2), clock=ctx.clock)
        self.client = ctx.client
        self.recorder = ctx.recorder("endpoint-controller")
        svc_informer = ctx.informers.informer(SERVICES)
        pod_informer = ctx.informers.informer(PODS)
        ep_informer = ctx.informers.informer(ENDPOINTS)
        self.services = svc_informer.lister()
        self.pods = pod_informer.lister()
        self.endpoints = ep_informer.lister()
        svc_informer.add_event_handler(self.handler())
        self.watch_pods(pod_informer)
        ep_informer.add_event_handler(EventHandlerFuncs(delete=self._endpoints_deleted))
        self.watches(svc_informer, pod_informer, ep_informer)
        self._left_over_checked = False

    # -- handlers ----------------------------------------------------------------------------------

    def _endpoints_deleted(self, obj: Object | DeletedFinalStateUnknown) -> None:
        ep = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = self.key_of(ep)
        if self.services.get_by_key(key) is not None:
            self.queue.add(key)

    def check_left_over_endpoints(self) -> None:
        """Endpoints whose service is gone are queued for deletion (once, after the caches synced)."""
        for ep in self.endpoints.list():
            key = self.key_of(ep)
            annotations = (ep.get("metadata") or {}).get("annotations") or {}
            if "control-plane.alpha.kubernetes.io/leader" in annotations:
                continue
            if self.services.get_by_key(key) is None:
                self.queue.add(key)

    # -- sync --------------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        if not self._left_over_checked:
            self._left_over_checked = True
            self.check_left_over_endpoints()
        ns, name = key.split("/", 1)
        svc = self.services.get(name, ns)
        if svc is None:
            try:
                await self.client.delete(ENDPOINTS, name, namespace=ns)
            except NotFound:
                pass
            return
        if (svc.get("spec") or {}).get("type") == "ExternalName":
            return
        if key == API_SERVER_SERVICE:
            return  # the API server keeps its own endpoints
        selector = service_selector(svc)
        if selector is None:
            return
        pods = [p for p in self.pods.list(ns) if selector.matches(labels_of(p))]
        subsets, trigger = desired_subsets(svc, pods)
        current = self.endpoints.get(name, ns)
        creating = current is None or not (current.get("metadata") or {}).get("resourceVersion")
        svc_labels = labels_of(svc)
        if current is not None and not creating:
            current_labels = labels_of(current)
            current_labels.pop(HEADLESS_LABEL, None)
            annotations = (current.get("metadata") or {}).get("annotations") or {}
            capacity_ok = _count(current.get("subsets") or []) <= MAX_CAPACITY and OVER_CAPACITY_ANNOTATION not in annotations
            if _comparable(current.get("subsets") or []) == _comparable(subsets) and current_labels == svc_labels and capacity_ok:
                return
        new: dict[str, Any] = copy_object(current) if current is not None else {
            "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": ns}}
        new["apiVersion"] = "v1"
        new["kind"] = "Endpoints"
        m: dict[str, Any] = new.setdefault("metadata", {})
        new_labels = dict(svc_labels)
        headless = (svc.get("spec") or {}).get("clusterIP") in (None, "", "None")
        if headless:
            new_labels[HEADLESS_LABEL] = ""
        m["labels"] = new_labels
        annotations = dict(m.get("annotations") or {})
        if trigger is not None:
            annotations[LAST_CHANGE_ANNOTATION] = rfc3339(trigger)
        else:
            annotations.pop(LAST_CHANGE_ANNOTATION, None)
        if truncate(subsets):
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)
        m["annotations"] = annotations
        if subsets:
            new["subsets"] = subsets
        else:
            new.pop("subsets", None)
        try:
            if creating:
                m.pop("resourceVersion", None)
                await self.client.create(ENDPOINTS, new, namespace=ns)
            else:
                await self.client.update(ENDPOINTS, new, namespace=ns)
        except ClientError as exc:
            if creating and isinstance(exc, Forbidden) and namespace_terminating(exc):
                return
            if creating:
                self.recorder.event(new, "Warning", "FailedToCreateEndpoint",
                                    f"Failed to create endpoint for service {ns}/{name}: {exc}")
            else:
                self.recorder.event(new, "Warning", "FailedToUpdateEndpoint",
                                    f"Failed to update endpoint {ns}/{name}: {exc}")
            raise


def _count(subsets: Sequence[Mapping[str, Any]]) -> int:
    return sum(len(s.get("addresses") or []) + len(s.get("notReadyAddresses") or []) for s in subsets)


def new(ctx: ControllerContext) -> EndpointsController:
    return EndpointsController(ctx)
