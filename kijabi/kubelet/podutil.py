"""Small, pure helpers over Pod dicts: identity, QoS class, container kinds, grace periods, requests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from kijabi.kubelet import labels
from kijabi.machinery.quantity import Quantity, parse_quantity

Pod = Mapping[str, Any]
Container = Mapping[str, Any]

GUARANTEED = "Guaranteed"
BURSTABLE = "Burstable"
BEST_EFFORT = "BestEffort"
DEFAULT_GRACE_PERIOD = 30
ZERO = Quantity(0)


def meta(pod: Pod) -> Mapping[str, Any]:
    m = pod.get("metadata")
    return m if isinstance(m, Mapping) else {}


def spec(pod: Pod) -> Mapping[str, Any]:
    s = pod.get("spec")
    return s if isinstance(s, Mapping) else {}


def status(pod: Pod) -> Mapping[str, Any]:
    s = pod.get("status")
    return s if isinstance(s, Mapping) else {}


def uid(pod: Pod) -> str:
    return str(meta(pod).get("uid", ""))


def name(pod: Pod) -> str:
    return str(meta(pod).get("name", ""))


def namespace(pod: Pod) -> str:
    return str(meta(pod).get("namespace") or "default")


def full_name(pod: Pod) -> str:
    """`namespace/name`, as the kubelet logs pods."""
    return f"{namespace(pod)}/{name(pod)}"


def pod_annotations(pod: Pod) -> Mapping[str, str]:
    a = meta(pod).get("annotations")
    return a if isinstance(a, Mapping) else {}


def is_mirror(pod: Pod) -> bool:
    return labels.CONFIG_MIRROR in pod_annotations(pod)


def is_static(pod: Pod) -> bool:
    return pod_annotations(pod).get(labels.CONFIG_SOURCE, "api") not in ("api", "")


def is_deleted(pod: Pod) -> bool:
    return bool(meta(pod).get("deletionTimestamp"))


def is_terminal_phase(pod: Pod) -> bool:
    return status(pod).get("phase") in ("Succeeded", "Failed")


SYNC_METADATA = ("labels", "annotations", "deletionTimestamp", "deletionGracePeriodSeconds")


def needs_sync(old: Pod, new: Pod) -> bool:
    """Whether an update of a pod from the API asks for a sync pass (upstream's pod config source tells an
    update from a reconcile the same way): its spec or the metadata the kubelet uses changed, another writer
    set a terminal phase, or the conditions of its readiness gates changed. A change of the status alone,
    mostly the echo of the kubelet's own status write, does not."""
    if spec(old) != spec(new):
        return True
    old_meta, new_meta = meta(old), meta(new)
    if any(old_meta.get(key) != new_meta.get(key) for key in SYNC_METADATA):
        return True
    if is_terminal_phase(new) and not is_terminal_phase(old):
        return True
    return bool(spec(new).get("readinessGates")) and status(old).get("conditions") != status(new).get("conditions")


def host_network(pod: Pod) -> bool:
    return bool(spec(pod).get("hostNetwork"))


def restart_policy(pod: Pod) -> str:
    return str(spec(pod).get("restartPolicy") or "Always")


def containers(pod: Pod) -> list[Container]:
    return list(spec(pod).get("containers") or [])


def init_containers(pod: Pod) -> list[Container]:
    return list(spec(pod).get("initContainers") or [])


def is_sidecar(container: Container) -> bool:
    """A restartable init container (restartPolicy: Always on an init container)."""
    return container.get("restartPolicy") == "Always"


def all_containers(pod: Pod) -> Iterator[tuple[Container, str]]:
    """Every init and regular container with its kind (labels.INIT / SIDECAR / REGULAR)."""
    for c in init_containers(pod):
        yield c, labels.SIDECAR if is_sidecar(c) else labels.INIT
    for c in containers(pod):
        yield c, labels.REGULAR


def container_spec(pod: Pod, container_name: str) -> tuple[Container, str] | None:
    for c, kind in all_containers(pod):
        if c.get("name") == container_name:
            return c, kind
    return None


def termination_grace_period(pod: Pod) -> int:
    """The grace period a kill of this pod gets now: the deletion's, else the spec's (default 30 s)."""
    m = meta(pod)
    if m.get("deletionTimestamp") and m.get("deletionGracePeriodSeconds") is not None:
        return max(int(m["deletionGracePeriodSeconds"]), 0)
    grace = spec(pod).get("terminationGracePeriodSeconds")
    return max(int(grace), 0) if grace is not None else DEFAULT_GRACE_PERIOD


def container_hash(container: Container) -> str:
    """A stable hash of a container's spec: a running container whose spec hash differs is restarted."""
    return hashlib.sha256(orjson.dumps(container, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def quantity(raw: Any) -> Quantity:
    if raw is None:
        return ZERO
    try:
        return parse_quantity(str(raw))
    except (ValueError, TypeError):
        return ZERO


def resource(container: Container, kind: str, name: str) -> Quantity | None:
    """container.resources.<kind>[<name>] (kind "requests" or "limits"), None if unset."""
    res = (container.get("resources") or {}).get(kind) or {}
    if name not in res:
        return None
    return quantity(res[name])


def qos_class(pod: Pod) -> str:
    """Upstream's QoS class from the requests and limits of every (init) container."""
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for c, _ in all_containers(pod):
        res = c.get("resources") or {}
        req = {k: quantity(v) for k, v in (res.get("requests") or {}).items() if k in ("cpu", "memory")}
        lim = {k: quantity(v) for k, v in (res.get("limits") or {}).items() if k in ("cpu", "memory")}
        for k, q in req.items():
            if not q.is_zero():
                requests[k] = requests.get(k, ZERO) + q
        for k, q in lim.items():
            if not q.is_zero():
                limits[k] = limits.get(k, ZERO) + q
        if set(k for k, q in lim.items() if not q.is_zero()) != {"cpu", "memory"}:
            guaranteed = False
    if not requests and not limits:
        return BEST_EFFORT
    if guaranteed:
        for k, q in requests.items():
            if limits.get(k) is None or limits[k] != q:
                guaranteed = False
                break
    return GUARANTEED if guaranteed and len(requests) == len(limits) else BURSTABLE


def pod_requests(pod: Pod) -> dict[str, Quantity]:
    """The pod's effective requests (upstream PodRequests): the larger of the regular containers plus
    the sidecars, and the largest init container plus the sidecars started before it; plus overhead."""
    total: dict[str, Quantity] = {}
    for c in containers(pod):
        _add(total, (c.get("resources") or {}).get("requests") or {})
    sidecars: dict[str, Quantity] = {}
    init_max: dict[str, Quantity] = {}
    for c in init_containers(pod):
        req = {k: quantity(v) for k, v in ((c.get("resources") or {}).get("requests") or {}).items()}
        if is_sidecar(c):
            _add(sidecars, req)
            candidate = dict(sidecars)
        else:
            candidate = dict(sidecars)
            _add(candidate, req)
        for k, q in candidate.items():
            if k not in init_max or q > init_max[k]:
                init_max[k] = q
    _add(total, sidecars)
    for k, q in init_max.items():
        if k not in total or q > total[k]:
            total[k] = q
    _add(total, spec(pod).get("overhead") or {})
    return total


def _add(into: dict[str, Quantity], more: Mapping[str, Any]) -> None:
    for k, v in more.items():
        q = v if isinstance(v, Quantity) else quantity(v)
        into[k] = into.get(k, ZERO) + q


def find_port(container: Container, port: Any) -> int | None:
    """A probe's or hook's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        for p in container.get("ports") or []:
            if p.get("name") == port:
                return int(p.get("containerPort", 0))
    return None
