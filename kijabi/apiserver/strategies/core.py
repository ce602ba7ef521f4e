"""Core/v1 resources whose behaviour differs from the default strategy."""

from __future__ import annotations

import ipaddress
import random
from typing import TYPE_CHECKING, Any

from kijabi.apiserver.strategy import Strategy
from kijabi.machinery import errors

if TYPE_CHECKING:
    from kijabi.apiserver.resources import Resource
    from kijabi.apiserver.store import Store


def _qos(pod: dict[str, Any]) -> str:
    """Upstream's QoS class: Guaranteed, Burstable or BestEffort (from requests and limits)."""
    containers = list((pod.get("spec") or {}).get("containers") or []) + list((pod.get("spec") or {}).get("initContainers") or [])
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req = res.get("requests") or {}
        lim = res.get("limits") or {}
        relevant_req = {k: v for k, v in req.items() if k in ("cpu", "memory")}
        relevant_lim = {k: v for k, v in lim.items() if k in ("cpu", "memory")}
        if relevant_req or relevant_lim:
            any_set = True
        if set(relevant_lim) != {"cpu", "memory"}:
            guaranteed = False
        for k, v in relevant_req.items():
            if relevant_lim.get(k) != v:
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


async def _admit_priority(store: Store, pod: dict[str, Any], spec: dict[str, Any],
                          memo: dict[tuple[tuple[str, int], ...], list[dict[str, Any]]]) -> None:
    """The Priority admission plugin: priority and preemptionPolicy from the PriorityClass."""
    classes = store.registry.get("scheduling.k8s.io", "v1", "priorityclasses")
    assert classes is not None
    name = spec.get("priorityClassName")
    pc: dict[str, Any] | None = None
    if name:
        co = store.cache.get(classes.key("", name))
        if co is None:
            kv = await store.storage.get(classes.key("", name))
            pc = store.decode(classes, kv) if kv else None
        else:
            pc = co.obj()
        if pc is None:
            raise errors.forbidden("pods", "", pod["metadata"].get("name", ""), f"no PriorityClass with name {name} was found")
    else:
        defaults = _global_defaults(list(store.cache.list(classes.storage_prefix, classes.storage_prefix)), memo)
        if defaults:
            pc = min(defaults, key=lambda d: d.get("value", 0))
            spec["priorityClassName"] = pc["metadata"]["name"]
    value = pc.get("value", 0) if pc else 0
    policy = (pc.get("preemptionPolicy") if pc else None) or "PreemptLowerPriority"
    if spec.get("priority") is not None and spec["priority"] != value:
        raise errors.forbidden("pods", "", pod["metadata"].get("name", ""),
                               f"the integer value of priority ({spec['priority']}) must not be provided in pod spec; "
                               f"priority admission controller computed {value} from the given PriorityClass name")
    spec["priority"] = value
    spec["preemptionPolicy"] = policy


def _global_defaults(cached: list[Any], memo: dict[tuple[tuple[str, int], ...], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The PriorityClasses marked globalDefault among `cached` (CachedObjects), remembered in `memo`
    by the classes' keys and revisions: every pod create without a class asks, and the classes rarely
    change. The dicts are shared: read-only."""
    ident = tuple((co.key, co.rv) for co in cached)
    hit = memo.get(ident)
    if hit is None:
        hit = [d for d in (co.obj() for co in cached) if d.get("globalDefault")]
        if len(memo) >= 16:
            memo.clear()
        memo[ident] = hit
    return hit


_NOT_READY = "node.kubernetes.io/not-ready"
_UNREACHABLE = "node.kubernetes.io/unreachable"


def _default_toleration_seconds(spec: dict[str, Any]) -> None:
    """The DefaultTolerationSeconds admission plugin (create only)."""
    tolerations = list(spec.get("tolerations") or [])

    def tolerated(key: str) -> bool:
        return any(t.get("key", "") in ("", key) and t.get("effect", "") in ("", "NoExecute") for t in tolerations)

    for key in (_NOT_READY, _UNREACHABLE):
        if not tolerated(key):
            tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300})
    spec["tolerations"] = tolerations


class PodStrategy(Strategy):
    return_deleted_object = True
    selectable_fields = (
        "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
        "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName",
    )

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource)
        # PriorityClass keys and revisions -> the global default classes among them (see _admit_priority).
        self._default_classes: dict[tuple[tuple[str, int], ...], list[dict[str, Any]]] = {}

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Pending", "qosClass": _qos(obj)}

    def prepare_for_status_update(self, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        result = super().prepare_for_status_update(new, old)
        # The kubelet may not change the QoS class.
        if "qosClass" in (old.get("status") or {}):
            result.setdefault("status", {})["qosClass"] = old["status"]["qosClass"]
        return result

    async def admit_create(self, store: Store, obj: dict[str, Any], *, dry_run: bool) -> None:
        spec = obj.setdefault("spec", {})
        await _admit_priority(store, obj, spec, self._default_classes)
        _default_toleration_seconds(spec)
        if spec.get("schedulingGates"):
            obj.setdefault("status", {})["conditions"] = [{
                "type": "PodScheduled", "status": "False", "reason": "SchedulingGated",
                "message": "Scheduling is blocked due to non-empty scheduling gates", "lastProbeTime": None,
                "lastTransitionTime": None,
            }]

    def graceful_period(self, obj: dict[str, Any], requested: int | None) -> int:
        spec = obj.get("spec") or {}
        phase = (obj.get("status") or {}).get("phase")
        if not spec.get("nodeName") or phase in ("Succeeded", "Failed"):
            return 0
        if requested is not None:
            return requested
        grace = spec.get("terminationGracePeriodSeconds")
        return int(grace) if grace is not None else 30


class NamespaceStrategy(Strategy):
    return_deleted_object = True
    selectable_fields = ("status.phase",)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        m = obj["metadata"]
        m.setdefault("labels", {})["kubernetes.io/metadata.name"] = m.get("name", "")
        spec = obj.setdefault("spec", {})
        fins = spec.get("finalizers") or []
        if "kubernetes" not in fins:
            fins.append("kubernetes")
        spec["finalizers"] = fins
        obj["status"] = {"phase": "Active"}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        new["metadata"].setdefault("labels", {})["kubernetes.io/metadata.name"] = new["metadata"].get("name", "")
        new["spec"] = old.get("spec") or {}
        new["status"] = old.get("status") or {}

    def prepare_for_finalize(self, new: dict[str, Any], old: dict[str, Any]) -> dict[str, Any]:
        """The finalize subresource changes only spec.finalizers."""
        result: dict[str, Any] = {**old, "spec": {**(old.get("spec") or {}), "finalizers": (new.get("spec") or {}).get("finalizers") or []}}
        if not result["spec"]["finalizers"]:
            result["spec"].pop("finalizers")
        return result

    def delete_pending(self, obj: dict[str, Any]) -> bool:
        return bool((obj.get("spec") or {}).get("finalizers"))

    async def admit_delete(self, store: Store, obj: dict[str, Any]) -> None:
        name = obj["metadata"].get("name", "")
        if name in ("default", "kube-system", "kube-public"):
            raise errors.forbidden("namespaces", "", name, "this namespace may not be deleted")

    def prepare_for_delete(self, obj: dict[str, Any]) -> None:
        obj.setdefault("status", {})["phase"] = "Terminating"


class NodeStrategy(Strategy):
    selectable_fields = ("spec.unschedulable",)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        # Nodes register with their status (the kubelet posts it), so status is kept on create.
        pass

    async def admit_create(self, store: Store, obj: dict[str, Any], *, dry_run: bool) -> None:
        """TaintNodesByCondition: a new Node is not-ready until its kubelet says otherwise."""
        spec = obj.setdefault("spec", {})
        taints = list(spec.get("taints") or [])
        if not any(t.get("key") == _NOT_READY and t.get("effect") == "NoSchedule" for t in taints):
            taints.append({"key": _NOT_READY, "effect": "NoSchedule"})
        spec["taints"] = taints


def _fold_string_data(obj: dict[str, Any]) -> None:
    """stringData is write-only: its entries are base64-encoded into data (and win over data)."""
    import base64

    string_data = obj.pop("stringData", None)
    if string_data:
        data = obj.setdefault("data", {}) or {}
        for k, v in string_data.items():
            data[k] = base64.b64encode(str(v).encode()).decode()
        obj["data"] = data


class SecretStrategy(Strategy):
    selectable_fields = ("type",)

    def decode(self, obj: dict[str, Any], validation: str) -> list[str]:
        warnings = super().decode(obj, validation)
        _fold_string_data(obj)
        return warnings


class EventStrategy(Strategy):
    selectable_fields = (
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid",
        "involvedObject.apiVersion", "involvedObject.resourceVersion", "involvedObject.fieldPath",
        "reason", "reportingComponent", "source", "type",
    )

    def fields(self, obj: dict[str, Any]) -> dict[str, str]:
        out = super().fields(obj)
        out["source"] = (obj.get("source") or {}).get("component", "") or obj.get("reportingComponent", "")
        return out


class PhaseStrategy(Strategy):
    """PVs and PVCs start Pending."""

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"phase": "Pending"}


class PVStrategy(PhaseStrategy):
    pass


class PVCStrategy(PhaseStrategy):
    pass


# -- Services: ClusterIP and NodePort allocation -----------------------------------------------------


class Allocator:
    """Values handed out from a range, with upstream's static/dynamic split (DEFAULTS section 4).

    Allocations happen on the event loop (no awaits in between), so concurrent creates in one
    process never get the same value. The set is rebuilt from stored Services at start.
    """

    def __init__(self, base: int, size: int, offset: int, render: Any, describe: str) -> None:
        self.base = base
        self.size = size
        self.offset = offset
        self.render = render
        self.describe = describe
        self.used: set[int] = set()

    def allocate_next(self) -> int:
        for _ in range(32):
            i = random.randrange(self.offset, self.size)
            if i not in self.used:
                self.used.add(i)
                return i
        upper = [i for i in range(self.offset, self.size) if i not in self.used]
        pool = upper or [i for i in range(0, self.offset) if i not in self.used]
        if not pool:
            raise errors.internal(f"failed to allocate a {self.describe}: range is full")
        i = random.choice(pool)
        self.used.add(i)
        return i

    def allocate(self, index: int) -> None:
        self.used.add(index)

    def release(self, index: int) -> None:
        self.used.discard(index)


class ServiceIPs:
    def __init__(self, cidr: str) -> None:
        self.net = ipaddress.ip_network(cidr)
        size = self.net.num_addresses - 2 if self.net.version == 4 else min(self.net.num_addresses - 1, 65536)
        offset = 0 if size <= 16 else min(max(16, size // 16), 256)
        self.alloc = Allocator(int(self.net.network_address) + 1, size, offset, None, "serviceIP")

    def index(self, ip: str) -> int | None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if addr not in self.net:
            return None
        i = int(addr) - self.alloc.base
        return i if 0 <= i < self.alloc.size else None

    def ip(self, index: int) -> str:
        return str(ipaddress.ip_address(self.alloc.base + index))


class NodePorts:
    def __init__(self, first: int = 30000, last: int = 32767) -> None:
        size = last - first + 1
        self.first, self.last = first, last
        self.alloc = Allocator(first, size, min(max(16, size // 32), 128), None, "nodePort")


def _needs_node_ports(spec: dict[str, Any]) -> bool:
    t = spec.get("type", "ClusterIP")
    return t == "NodePort" or (t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is not False)


class ServiceStrategy(Strategy):
    return_deleted_object = True
    ips: ServiceIPs = ServiceIPs("10.43.0.0/16")
    ports: NodePorts = NodePorts()

    @classmethod
    def configure(cls, service_cidr: str, node_port_range: tuple[int, int]) -> None:
        cls.ips = ServiceIPs(service_cidr)
        cls.ports = NodePorts(*node_port_range)

    def prepare_for_create(self, obj: dict[str, Any]) -> None:
        super().prepare_for_create(obj)
        obj["status"] = {"loadBalancer": {}}

    def prepare_for_update(self, new: dict[str, Any], old: dict[str, Any]) -> None:
        super().prepare_for_update(new, old)
        spec, ospec = new.setdefault("spec", {}), old.get("spec") or {}
        # Omitted allocated values are kept, so re-applying the original manifest works.
        for k in ("clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy", "healthCheckNodePort"):
            if k not in spec and k in ospec and spec.get("type", "ClusterIP") != "ExternalName":
                spec[k] = ospec[k]
        if _needs_node_ports(spec):
            old_ports = {p.get("name", ""): p.get("nodePort") for p in ospec.get("ports") or []}
            for p in spec.get("ports") or []:
                if not p.get("nodePort") and old_ports.get(p.get("name", "")):
                    p["nodePort"] = old_ports[p.get("name", "")]

    def _held(self, obj: dict[str, Any]) -> tuple[list[int], list[int]]:
        spec = obj.get("spec") or {}
        ips = [i for ip in (spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else []))
               if (i := self.ips.index(ip)) is not None]
        ports = [p["nodePort"] - self.ports.first for p in spec.get("ports") or [] if p.get("nodePort")]
        if spec.get("healthCheckNodePort"):
            ports.append(spec["healthCheckNodePort"] - self.ports.first)
        return ips, ports

    def track(self, obj: dict[str, Any]) -> None:
        """Mark a stored Service's addresses and ports as used (at start)."""
        ips, ports = self._held(obj)
        for i in ips:
            self.ips.alloc.allocate(i)
        for p in ports:
            self.ports.alloc.allocate(p)

    async def admit_create(self, store: Store, obj: dict[str, Any], *, dry_run: bool) -> None:
        spec = obj.setdefault("spec", {})
        stype = spec.get("type", "ClusterIP")
        reserved_ips: list[int] = []
        reserved_ports: list[int] = []
        try:
            if stype != "ExternalName":
                requested = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
                if requested and requested[0] == "None":
                    spec["clusterIP"] = "None"
                    spec["clusterIPs"] = ["None"]
                elif requested:
                    ip = requested[0]
                    idx = self.ips.index(ip)
                    if idx is None:
                        raise errors.invalid("Service", "", obj["metadata"].get("name", ""), [errors.invalid_value(
                            "spec.clusterIPs", requested, f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. The range of valid IPs is {self.ips.net}")])
                    if idx in self.ips.alloc.used:
                        raise errors.invalid("Service", "", obj["metadata"].get("name", ""), [errors.invalid_value(
                            "spec.clusterIPs", requested, f"failed to allocate IP {ip}: provided IP is already allocated")])
                    self.ips.alloc.allocate(idx)
                    reserved_ips.append(idx)
                    spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
                else:
                    idx = self.ips.alloc.allocate_next()
                    reserved_ips.append(idx)
                    spec["clusterIP"] = self.ips.ip(idx)
                    spec["clusterIPs"] = [spec["clusterIP"]]
                if spec["clusterIP"] == "None" and not spec.get("selector"):
                    spec.setdefault("ipFamilyPolicy", "RequireDualStack")
                else:
                    spec.setdefault("ipFamilyPolicy", "SingleStack")
                spec.setdefault("ipFamilies", ["IPv4"])
            if _needs_node_ports(spec):
                by_port: dict[int, int] = {}
                for i, p in enumerate(spec.get("ports") or []):
                    want = p.get("nodePort")
                    if want:
                        idx = want - self.ports.first
                        if not 0 <= idx < self.ports.alloc.size:
                            raise errors.invalid("Service", "", obj["metadata"].get("name", ""), [errors.invalid_value(
                                f"spec.ports[{i}].nodePort", want, f"provided port is not in the valid range. The range of valid ports is {self.ports.first}-{self.ports.last}")])
                        if idx in self.ports.alloc.used and by_port.get(p.get("port")) != want:
                            raise errors.invalid("Service", "", obj["metadata"].get("name", ""), [errors.invalid_value(
                                f"spec.ports[{i}].nodePort", want, "provided port is already allocated")])
                        if idx not in self.ports.alloc.used:
                            self.ports.alloc.allocate(idx)
                            reserved_ports.append(idx)
                    elif p.get("port") in by_port:
                        p["nodePort"] = by_port[p["port"]]
                    else:
                        idx = self.ports.alloc.allocate_next()
                        reserved_ports.append(idx)
                        p["nodePort"] = self.ports.first + idx
                    by_port[p.get("port")] = p["nodePort"]
        except BaseException:
            for i in reserved_ips:
                self.ips.alloc.release(i)
            for p in reserved_ports:
                self.ports.alloc.release(p)
            raise
        if dry_run:
            for i in reserved_ips:
                self.ips.alloc.release(i)
            for p in reserved_ports:
                self.ports.alloc.release(p)

    async def after_create_failed(self, store: Store, obj: dict[str, Any]) -> None:
        await self.after_delete(store, obj)

    async def after_delete(self, store: Store, obj: dict[str, Any]) -> None:
        ips, ports = self._held(obj)
        for i in ips:
            self.ips.alloc.release(i)
        for p in ports:
            self.ports.alloc.release(p)


STRATEGIES: dict[tuple[str, str], type[Strategy]] = {
    ("", "pods"): PodStrategy,
    ("", "namespaces"): NamespaceStrategy,
    ("", "nodes"): NodeStrategy,
    ("", "secrets"): SecretStrategy,
    ("", "events"): EventStrategy,
    ("", "services"): ServiceStrategy,
    ("", "persistentvolumes"): PVStrategy,
    ("", "persistentvolumeclaims"): PVCStrategy,
}


class BindingStrategy(Strategy):
    """POST .../bindings: the legacy way to bind a pod (same as pods/binding)."""

    async def create_virtual(self, ctx: Any, request: Any, namespace: str, obj: dict[str, Any]) -> dict[str, Any]:
        from kijabi.apiserver.subresources import bind

        name = (obj.get("metadata") or {}).get("name", "")
        if not name:
            raise errors.invalid("Binding", "", "", [errors.required("metadata.name", "")])
        await bind(ctx, request, namespace, name, obj)
        return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


STRATEGIES[("", "bindings")] = BindingStrategy
