"""The scheduler's view of pods and nodes: `PodInfo`, `NodeInfo`, `Resource`, `QueuedPodInfo`.

Pods and nodes stay plain JSON dicts (shared with the informer cache: never change them). What the
plugins need over and over is parsed ONCE per object version into a `PodInfo` (requests, affinity
terms, host ports, priority) or kept as running aggregates in a `NodeInfo` (requested resources, pods,
used ports, images, PVC references), like upstream pkg/scheduler/framework/types.go.

Resource amounts are ints: CPU in millicores, everything else in whole units, as upstream's Resource.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kijabi.machinery.meta import parse_time
from kijabi.machinery.quantity import from_json
from kijabi.scheduler.framework.selectors import (
    NOTHING,
    LabelSelector,
    SelectorError,
    compile_label_selector,
)

Pod = dict[str, Any]
Node = dict[str, Any]

DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0

CPU = "cpu"
MEMORY = "memory"
EPHEMERAL_STORAGE = "ephemeral-storage"
PODS = "pods"


# -- resources -------------------------------------------------------------------------------------


def is_extended_resource_name(name: str) -> bool:
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def is_scalar_resource_name(name: str) -> bool:
    """Extended, hugepages, prefixed-native and attachable-volume resources (upstream IsScalarResourceName)."""
    return (is_extended_resource_name(name) or name.startswith("hugepages-")
            or "kubernetes.io/" in name or name.startswith("attachable-volumes-"))


@functools.lru_cache(maxsize=16384)
def _amount_text(name: str, raw: str) -> int:
    try:
        q = from_json(raw)
    except ValueError:
        return 0
    return q.milli_value() if name == CPU else q.value()


def amount(name: str, raw: Any) -> int:
    """The int amount of one ResourceList entry: millicores for cpu, whole units otherwise."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw * 1000 if name == CPU else raw
    return _amount_text(name, str(raw))


class Resource:
    """Amounts of the resources the scheduler tracks (upstream framework.Resource)."""

    __slots__ = ("allowed_pod_number", "ephemeral_storage", "memory", "milli_cpu", "scalar")

    def __init__(self, milli_cpu: int = 0, memory: int = 0, ephemeral_storage: int = 0,
                 allowed_pod_number: int = 0, scalar: dict[str, int] | None = None) -> None:
        self.milli_cpu = milli_cpu
        self.memory = memory
        self.ephemeral_storage = ephemeral_storage
        self.allowed_pod_number = allowed_pod_number
        self.scalar: dict[str, int] = scalar if scalar is not None else {}

    @classmethod
    def from_amounts(cls, amounts: Mapping[str, int]) -> Resource:
        r = cls()
        for name, value in amounts.items():
            r.set(name, value)
        return r

    @classmethod
    def from_list(cls, resources: Mapping[str, Any] | None) -> Resource:
        """From a v1.ResourceList (e.g. node.status.allocatable)."""
        r = cls()
        for name, raw in (resources or {}).items():
            r.set(name, amount(name, raw))
        return r

    def set(self, name: str, value: int) -> None:
        if name == CPU:
            self.milli_cpu = value
        elif name == MEMORY:
            self.memory = value
        elif name == EPHEMERAL_STORAGE:
            self.ephemeral_storage = value
        elif name == PODS:
            self.allowed_pod_number = value
        elif is_scalar_resource_name(name):
            self.scalar[name] = value

    def get(self, name: str) -> int:
        if name == CPU:
            return self.milli_cpu
        if name == MEMORY:
            return self.memory
        if name == EPHEMERAL_STORAGE:
            return self.ephemeral_storage
        if name == PODS:
            return self.allowed_pod_number
        return self.scalar.get(name, 0)

    def add(self, other: Resource, sign: int = 1) -> None:
        self.milli_cpu += sign * other.milli_cpu
        self.memory += sign * other.memory
        self.ephemeral_storage += sign * other.ephemeral_storage
        self.allowed_pod_number += sign * other.allowed_pod_number
        if other.scalar:
            scalar = self.scalar
            for k, v in other.scalar.items():
                scalar[k] = scalar.get(k, 0) + sign * v

    def clone(self) -> Resource:
        return Resource(self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number, dict(self.scalar))

    def is_zero(self) -> bool:
        return not (self.milli_cpu or self.memory or self.ephemeral_storage or any(self.scalar.values()))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        return (self.milli_cpu, self.memory, self.ephemeral_storage, self.allowed_pod_number,
                {k: v for k, v in self.scalar.items() if v}) == (
            other.milli_cpu, other.memory, other.ephemeral_storage, other.allowed_pod_number,
            {k: v for k, v in other.scalar.items() if v})

    def __repr__(self) -> str:
        return (f"Resource(cpu={self.milli_cpu}m, memory={self.memory}, ephemeral={self.ephemeral_storage}, "
                f"pods={self.allowed_pod_number}, scalar={self.scalar})")


def _container_amounts(container: Mapping[str, Any], defaults: bool) -> dict[str, int]:
    requests = (container.get("resources") or {}).get("requests") or {}
    out = {name: amount(name, raw) for name, raw in requests.items()}
    if defaults:
        if CPU not in out:
            out[CPU] = DEFAULT_MILLI_CPU_REQUEST
        if MEMORY not in out:
            out[MEMORY] = DEFAULT_MEMORY_REQUEST
    return out


def _add_to(total: dict[str, int], amounts: Mapping[str, int]) -> None:
    for k, v in amounts.items():
        total[k] = total.get(k, 0) + v


def _max_into(total: dict[str, int], amounts: Mapping[str, int]) -> None:
    for k, v in amounts.items():
        if k not in total or v > total[k]:
            total[k] = v


def pod_request_amounts(pod: Mapping[str, Any], *, non_missing_defaults: bool = False,
                        exclude_overhead: bool = False) -> dict[str, int]:
    """Upstream resourcehelper.PodRequests: the sum of the app containers and restartable (sidecar) init
    containers, at least the largest init container (plus the sidecars started before it), plus the
    pod overhead. With `non_missing_defaults`, a container without a cpu/memory request counts as
    100m / 200Mi (what the scoring plugins use)."""
    spec = pod.get("spec") or {}
    reqs: dict[str, int] = {}
    for c in spec.get("containers") or []:
        _add_to(reqs, _container_amounts(c, non_missing_defaults))
    init_max: dict[str, int] = {}
    sidecars: dict[str, int] = {}
    for c in spec.get("initContainers") or []:
        amounts = _container_amounts(c, non_missing_defaults)
        if c.get("restartPolicy") == "Always":
            _add_to(reqs, amounts)
            _add_to(sidecars, amounts)
            effective = dict(sidecars)
        else:
            effective = dict(amounts)
            _add_to(effective, sidecars)
        _max_into(init_max, effective)
    _max_into(reqs, init_max)
    if not exclude_overhead:
        overhead = spec.get("overhead")
        if overhead:
            _add_to(reqs, {name: amount(name, raw) for name, raw in overhead.items()})
    return reqs


def compute_pod_resources(pod: Mapping[str, Any]) -> tuple[Resource, int, int]:
    """(requests, non-zero milli-CPU, non-zero memory) of a pod, as NodeInfo accounts for it."""
    requests = Resource.from_amounts(pod_request_amounts(pod))
    non0 = pod_request_amounts(pod, non_missing_defaults=True)
    return requests, non0.get(CPU, 0), non0.get(MEMORY, 0)


# -- pods ------------------------------------------------------------------------------------------


def pod_priority(pod: Mapping[str, Any]) -> int:
    p = (pod.get("spec") or {}).get("priority")
    return int(p) if p is not None else 0


def pod_key(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def pod_uid(pod: Mapping[str, Any]) -> str:
    meta = pod.get("metadata") or {}
    return str(meta.get("uid") or pod_key(pod))


@functools.lru_cache(maxsize=65536)
def _parsed_time(raw: str) -> float | None:
    try:
        return parse_time(raw)
    except ValueError:
        return None


def pod_start_time(pod: Mapping[str, Any], default: float) -> float:
    raw = (pod.get("status") or {}).get("startTime")
    if not raw:
        return default
    t = _parsed_time(str(raw))
    return default if t is None else t


class AffinityTerm:
    """A parsed v1.PodAffinityTerm (upstream framework.AffinityTerm)."""

    __slots__ = ("namespace_selector", "namespaces", "selector", "topology_key")

    def __init__(self, namespaces: set[str], selector: LabelSelector, topology_key: str,
                 namespace_selector: LabelSelector) -> None:
        self.namespaces = namespaces
        self.selector = selector
        self.topology_key = topology_key
        self.namespace_selector = namespace_selector

    @classmethod
    def parse(cls, pod_namespace: str, term: Mapping[str, Any]) -> AffinityTerm:
        try:
            selector = compile_label_selector(term.get("labelSelector"))
        except SelectorError:
            selector = NOTHING
        ns_sel_raw = term.get("namespaceSelector")
        try:
            ns_selector = compile_label_selector(ns_sel_raw)
        except SelectorError:
            ns_selector = NOTHING
        namespaces = set(term.get("namespaces") or [])
        if not namespaces and ns_sel_raw is None:
            namespaces = {pod_namespace}
        return cls(namespaces, selector, str(term.get("topologyKey") or ""), ns_selector)

    def matches(self, pod: Mapping[str, Any], ns_labels: Mapping[str, str] | None) -> bool:
        """The term selects `pod`: its namespace is listed or selected, and its labels match."""
        meta = pod.get("metadata") or {}
        if meta.get("namespace", "") in self.namespaces or self.namespace_selector.matches(ns_labels):
            return self.selector.matches(meta.get("labels"))
        return False

    def copy(self) -> AffinityTerm:
        return AffinityTerm(set(self.namespaces), self.selector, self.topology_key, self.namespace_selector)


class WeightedAffinityTerm:
    __slots__ = ("term", "weight")

    def __init__(self, term: AffinityTerm, weight: int) -> None:
        self.term = term
        self.weight = weight


def _terms(pod_ns: str, raw: Iterable[Mapping[str, Any]] | None) -> list[AffinityTerm]:
    return [AffinityTerm.parse(pod_ns, t) for t in raw or []]


def _weighted(pod_ns: str, raw: Iterable[Mapping[str, Any]] | None) -> list[WeightedAffinityTerm]:
    return [WeightedAffinityTerm(AffinityTerm.parse(pod_ns, t.get("podAffinityTerm") or {}), int(t.get("weight") or 0))
            for t in raw or []]


HostPort = tuple[str, str, int]  # host IP, protocol, port


def _host_ports(spec: Mapping[str, Any], only_with_host_port: bool) -> list[HostPort]:
    out: list[HostPort] = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            port = int(p.get("hostPort") or 0)
            if only_with_host_port and port <= 0:
                continue
            out.append((p.get("hostIP") or "", p.get("protocol") or "", port))
    return out


class PodInfo:
    """A pod plus everything the scheduler derives from it (upstream framework.PodInfo)."""

    __slots__ = ("has_affinity", "host_ports", "key", "labels", "name", "namespace", "non0_cpu", "non0_mem",
                 "pod", "preferred_affinity_terms", "preferred_anti_affinity_terms", "priority", "pvc_keys",
                 "requests", "required_affinity_terms", "required_anti_affinity_terms", "uid", "used_ports")

    def __init__(self, pod: Pod) -> None:
        self.update(pod)

    def update(self, pod: Pod) -> None:
        self.pod = pod
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.namespace = ns = meta.get("namespace", "")
        self.name = meta.get("name", "")
        self.key = f"{ns}/{self.name}"
        self.uid = str(meta.get("uid") or self.key)
        self.labels = meta.get("labels") or {}
        self.priority = pod_priority(pod)
        self.requests, self.non0_cpu, self.non0_mem = compute_pod_resources(pod)
        affinity = spec.get("affinity") or {}
        pa = affinity.get("podAffinity") or {}
        paa = affinity.get("podAntiAffinity") or {}
        self.required_affinity_terms = _terms(ns, pa.get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.required_anti_affinity_terms = _terms(ns, paa.get("requiredDuringSchedulingIgnoredDuringExecution"))
        self.preferred_affinity_terms = _weighted(ns, pa.get("preferredDuringSchedulingIgnoredDuringExecution"))
        self.preferred_anti_affinity_terms = _weighted(ns, paa.get("preferredDuringSchedulingIgnoredDuringExecution"))
        self.has_affinity = bool(pa or paa)
        self.used_ports = _host_ports(spec, only_with_host_port=False)
        self.host_ports = [p for p in self.used_ports if p[2] > 0]
        keys: list[str] = []
        for v in spec.get("volumes") or []:
            claim = v.get("persistentVolumeClaim")
            if claim is not None:
                keys.append(f"{ns}/{claim.get('claimName', '')}")
            elif v.get("ephemeral") is not None:
                keys.append(f"{ns}/{self.name}-{v.get('name', '')}")
        self.pvc_keys = keys

    def derived(self, pod: Pod) -> PodInfo:
        """The PodInfo of `pod`, a newer version of this pod (the assumed copy with spec.nodeName, or
        the bound pod from the API): what the spec and identity determine is reused when they did not
        change apart from spec.nodeName, otherwise everything is parsed again."""
        meta = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        old_spec = self.pod.get("spec") or {}
        same = meta.get("name", "") == self.name and meta.get("namespace", "") == self.namespace \
            and str(meta.get("uid") or self.key) == self.uid \
            and (spec == old_spec or {**spec, "nodeName": None} == {**old_spec, "nodeName": None})
        if not same:
            return PodInfo(pod)
        c = PodInfo.__new__(PodInfo)
        for slot in PodInfo.__slots__:
            setattr(c, slot, getattr(self, slot))
        c.pod = pod
        c.labels = meta.get("labels") or {}
        return c

    @property
    def node_name(self) -> str:
        return str((self.pod.get("spec") or {}).get("nodeName") or "")

    def __repr__(self) -> str:
        return f"PodInfo({self.key})"


# -- nodes -----------------------------------------------------------------------------------------

DEFAULT_BIND_ALL_HOST_IP = "0.0.0.0"

# NodeInfo generations are unique across all NodeInfos (and their clones): a (node, generation) pair
# names one exact set of pods. `NodeInfo.memo` holds what plugins worked out for the current generation.
_generations = itertools.count(1)
MEMO_LIMIT = 256


class HostPortInfo:
    """Host ports in use on a node: ip -> {(protocol, port)} (upstream framework.HostPortInfo)."""

    __slots__ = ("ports",)

    def __init__(self) -> None:
        self.ports: dict[str, set[tuple[str, int]]] = {}

    @staticmethod
    def _sanitize(ip: str, protocol: str) -> tuple[str, str]:
        return ip or DEFAULT_BIND_ALL_HOST_IP, protocol or "TCP"

    def add(self, ip: str, protocol: str, port: int) -> None:
        if port <= 0:
            return
        ip, protocol = self._sanitize(ip, protocol)
        self.ports.setdefault(ip, set()).add((protocol, port))

    def remove(self, ip: str, protocol: str, port: int) -> None:
        if port <= 0:
            return
        ip, protocol = self._sanitize(ip, protocol)
        entries = self.ports.get(ip)
        if entries is not None:
            entries.discard((protocol, port))
            if not entries:
                del self.ports[ip]

    def __len__(self) -> int:
        return sum(len(v) for v in self.ports.values())

    def check_conflict(self, ip: str, protocol: str, port: int) -> bool:
        if port <= 0:
            return False
        ip, protocol = self._sanitize(ip, protocol)
        pp = (protocol, port)
        if ip == DEFAULT_BIND_ALL_HOST_IP:
            return any(pp in entries for entries in self.ports.values())
        for key in (DEFAULT_BIND_ALL_HOST_IP, ip):
            entries = self.ports.get(key)
            if entries is not None and pp in entries:
                return True
        return False

    def clone(self) -> HostPortInfo:
        c = HostPortInfo()
        c.ports = {k: set(v) for k, v in self.ports.items()}
        return c


class ImageState:
    """One image's size and the nodes that have it (shared by the NodeInfos of those nodes)."""

    __slots__ = ("nodes", "size")

    def __init__(self, size: int) -> None:
        self.size = size
        self.nodes: set[str] = set()

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)


class NodeInfo:
    """A node and the pods on it, with running aggregates (upstream framework.NodeInfo).

    `node` is None for a "ghost" entry: pods reference a node the scheduler has not seen (yet), or the
    node was deleted while pods were still on it. Such entries are never offered to plugins.
    """

    __slots__ = ("allocatable", "generation", "image_states", "labels", "memo", "name", "node", "non_zero_requested",
                 "pods", "pods_with_affinity", "pods_with_required_anti_affinity", "pvc_ref_counts",
                 "requested", "taints", "unschedulable", "used_ports")

    def __init__(self, node: Node | None = None, pods: Iterable[PodInfo] = ()) -> None:
        self.node: Node | None = None
        self.name = ""
        self.labels: dict[str, str] = {}
        self.taints: list[dict[str, Any]] = []
        self.unschedulable = False  # node.spec.unschedulable
        self.pods: list[PodInfo] = []
        self.pods_with_affinity: list[PodInfo] = []
        self.pods_with_required_anti_affinity: list[PodInfo] = []
        self.used_ports = HostPortInfo()
        self.requested = Resource()
        self.non_zero_requested = Resource()
        self.allocatable = Resource()
        self.image_states: dict[str, ImageState] = {}
        self.pvc_ref_counts: dict[str, int] = {}
        self.generation = 0
        self.memo: dict[Any, Any] | None = None
        if node is not None:
            self.set_node(node)
        for p in pods:
            self.add_pod_info(p)

    def set_node(self, node: Node) -> None:
        meta = node.get("metadata") or {}
        self.node = node
        self.name = meta.get("name", "")
        self.labels = meta.get("labels") or {}
        spec = node.get("spec") or {}
        self.taints = spec.get("taints") or []
        self.unschedulable = bool(spec.get("unschedulable"))
        self.allocatable = Resource.from_list((node.get("status") or {}).get("allocatable"))
        self._bump()

    def remove_node(self) -> None:
        self.node = None
        self._bump()

    def _bump(self) -> None:
        """A new generation: what plugins remembered of the old one is gone."""
        self.generation = next(_generations)
        self.memo = None

    def memo_of(self) -> dict[Any, Any]:
        """Plugins' results for this generation of the node (pods, allocatable), by a key of their
        own that includes what of the pod they depend on. Shared with clones of the same generation.
        At most MEMO_LIMIT entries: a node that stays unchanged while pods of many shapes come by
        starts over rather than grow."""
        memo = self.memo
        if memo is None:
            memo = self.memo = {}
        elif len(memo) >= MEMO_LIMIT:
            memo.clear()
        return memo

    def add_pod_info(self, pi: PodInfo) -> None:
        self.pods.append(pi)
        if pi.has_affinity:
            self.pods_with_affinity.append(pi)
        if pi.required_anti_affinity_terms:
            self.pods_with_required_anti_affinity.append(pi)
        self._update(pi, 1)

    def add_pod(self, pod: Pod) -> PodInfo:
        pi = PodInfo(pod)
        self.add_pod_info(pi)
        return pi

    def remove_pod(self, pod: Mapping[str, Any]) -> bool:
        """Remove the pod with `pod`'s UID; False if it is not on this node."""
        uid = pod_uid(pod)
        for i, pi in enumerate(self.pods):
            if pi.uid == uid:
                last = self.pods.pop()
                if i < len(self.pods):
                    self.pods[i] = last  # order is not significant (upstream swaps too)
                if pi.has_affinity:
                    self.pods_with_affinity = [p for p in self.pods_with_affinity if p.uid != uid]
                if pi.required_anti_affinity_terms:
                    self.pods_with_required_anti_affinity = [
                        p for p in self.pods_with_required_anti_affinity if p.uid != uid]
                self._update(pi, -1)
                return True
        return False

    def _update(self, pi: PodInfo, sign: int) -> None:
        self.requested.add(pi.requests, sign)
        nz = self.non_zero_requested
        nz.milli_cpu += sign * pi.non0_cpu
        nz.memory += sign * pi.non0_mem
        for ip, proto, port in pi.used_ports:
            if sign > 0:
                self.used_ports.add(ip, proto, port)
            else:
                self.used_ports.remove(ip, proto, port)
        counts = self.pvc_ref_counts
        for key in pi.pvc_keys:
            n = counts.get(key, 0) + sign
            if n > 0:
                counts[key] = n
            else:
                counts.pop(key, None)
        self._bump()

    def _sharing_node(self) -> NodeInfo:
        """A new, half-built NodeInfo sharing this one's node-level fields (the caller sets the rest)."""
        c = NodeInfo.__new__(NodeInfo)
        c.node = self.node
        c.name = self.name
        c.labels = self.labels
        c.taints = self.taints
        c.unschedulable = self.unschedulable
        c.allocatable = self.allocatable
        c.image_states = self.image_states
        return c

    def clone(self) -> NodeInfo:
        """A copy whose pod list and aggregates can be changed (PodInfos and the node are shared)."""
        c = self._sharing_node()
        c.pods = list(self.pods)
        c.pods_with_affinity = list(self.pods_with_affinity)
        c.pods_with_required_anti_affinity = list(self.pods_with_required_anti_affinity)
        c.used_ports = self.used_ports.clone()
        c.requested = self.requested.clone()
        c.non_zero_requested = self.non_zero_requested.clone()
        c.pvc_ref_counts = dict(self.pvc_ref_counts)
        c.generation = self.generation
        c.memo = self.memo
        return c

    def with_added(self, added: Sequence[PodInfo]) -> NodeInfo:
        """A copy with the `added` pods too, to be read only (filtering with nominated pods): one pass,
        and what the added pods leave unchanged (ports, PVC counts, affinity lists) is shared with
        this NodeInfo instead of copied."""
        c = self._sharing_node()
        c.pods = self.pods + list(added)
        with_affinity = [pi for pi in added if pi.has_affinity]
        c.pods_with_affinity = self.pods_with_affinity + with_affinity if with_affinity else self.pods_with_affinity
        with_anti = [pi for pi in added if pi.required_anti_affinity_terms]
        c.pods_with_required_anti_affinity = (self.pods_with_required_anti_affinity + with_anti if with_anti
                                              else self.pods_with_required_anti_affinity)
        c.used_ports = self.used_ports
        c.pvc_ref_counts = self.pvc_ref_counts
        req = c.requested = self.requested.clone()
        nz = c.non_zero_requested = self.non_zero_requested.clone()
        for pi in added:
            req.add(pi.requests)
            nz.milli_cpu += pi.non0_cpu
            nz.memory += pi.non0_mem
            if pi.used_ports:
                if c.used_ports is self.used_ports:
                    c.used_ports = self.used_ports.clone()
                for ip, proto, port in pi.used_ports:
                    c.used_ports.add(ip, proto, port)
            if pi.pvc_keys:
                if c.pvc_ref_counts is self.pvc_ref_counts:
                    c.pvc_ref_counts = dict(self.pvc_ref_counts)
                for key in pi.pvc_keys:
                    c.pvc_ref_counts[key] = c.pvc_ref_counts.get(key, 0) + 1
        c._bump()
        return c

    def without(self, removed: Iterable[PodInfo]) -> NodeInfo:
        """A clone without the `removed` pods (which must be on this node): one pass over the pods
        instead of a clone and one `remove_pod` scan each."""
        gone = {pi.uid for pi in removed}
        c = self.clone()
        c.pods = [pi for pi in self.pods if pi.uid not in gone]
        if c.pods_with_affinity:
            c.pods_with_affinity = [pi for pi in c.pods_with_affinity if pi.uid not in gone]
        if c.pods_with_required_anti_affinity:
            c.pods_with_required_anti_affinity = [pi for pi in c.pods_with_required_anti_affinity
                                                  if pi.uid not in gone]
        for pi in self.pods:
            if pi.uid in gone:
                c._update(pi, -1)
        return c

    def __repr__(self) -> str:
        return f"NodeInfo({self.name or '<none>'}, pods={len(self.pods)})"


class QueuedPodInfo:
    """A pod in the scheduling queue with its queue bookkeeping (upstream framework.QueuedPodInfo)."""

    __slots__ = ("attempts", "gated", "initial_attempt_timestamp", "pending_plugins", "pod_info", "timestamp",
                 "unschedulable_plugins")

    def __init__(self, pod_info: PodInfo, timestamp: float) -> None:
        self.pod_info = pod_info
        self.timestamp = timestamp
        self.attempts = 0
        self.initial_attempt_timestamp: float | None = None
        self.unschedulable_plugins: set[str] = set()
        self.pending_plugins: set[str] = set()
        self.gated = False

    @property
    def pod(self) -> Pod:
        return self.pod_info.pod

    @property
    def uid(self) -> str:
        return self.pod_info.uid

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.pod_info.key}, attempts={self.attempts})"
