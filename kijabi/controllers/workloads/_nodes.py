"""Does a DaemonSet pod belong on a node? (upstream NodeShouldRunDaemonPod and the scheduler
predicates it uses: node name, nodeSelector + required node affinity, taints and tolerations), plus the
tolerations every DaemonSet pod gets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.controllers.workloads import _util as u

Object = dict[str, Any]

DAEMON_TOLERATIONS: list[Object] = [
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
]
NETWORK_UNAVAILABLE: Object = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists", "effect": "NoSchedule"}


def add_daemon_tolerations(pod_spec: Object) -> None:
    """Upstream AddOrUpdateDaemonPodTolerations (network-unavailable only for host-network pods)."""
    wanted = list(DAEMON_TOLERATIONS)
    if pod_spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE)
    tolerations: list[Object] = list(pod_spec.get("tolerations") or [])
    for t in wanted:
        tolerations = [x for x in tolerations if not (x.get("key") == t["key"] and x.get("effect") == t["effect"])]
        tolerations.append(dict(t))
    pod_spec["tolerations"] = tolerations


def pin_to_node(pod_spec: Object, node_name: str) -> None:
    """Upstream ReplaceDaemonSetPodNodeNameNodeAffinity: required affinity = metadata.name In [node]."""
    term = {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}
    affinity = pod_spec.setdefault("affinity", {})
    node_aff = affinity.setdefault("nodeAffinity", {})
    node_aff["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [term]}


def target_node(pod: Mapping[str, Any]) -> str | None:
    """The node a daemon pod is on or is pinned to."""
    name = u.spec(pod).get("nodeName")
    if name:
        return str(name)
    aff = (u.spec(pod).get("affinity") or {}).get("nodeAffinity") or {}
    for term in (aff.get("requiredDuringSchedulingIgnoredDuringExecution") or {}).get("nodeSelectorTerms") or []:
        for f in term.get("matchFields") or []:
            if f.get("key") == "metadata.name" and f.get("operator") == "In" and len(f.get("values") or []) == 1:
                return str(f["values"][0])
    return None


def _requirement(req: Mapping[str, Any], value: str | None) -> bool:
    op = req.get("operator")
    values = [str(v) for v in req.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            a, b = int(value), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _term(term: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
    if not exprs and not fields:
        return False
    labels = u.labels_of(node)
    if not all(_requirement(e, labels.get(str(e.get("key")))) for e in exprs):
        return False
    return all(_requirement(f, u.name_of(node) if f.get("key") == "metadata.name" else None) for f in fields)


def fits_affinity(pod_spec: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    labels = u.labels_of(node)
    for k, v in (pod_spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    aff = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = aff.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is None:
        return True
    return any(_term(t, node) for t in required.get("nodeSelectorTerms") or [])


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    if toleration.get("effect") and toleration.get("effect") != taint.get("effect"):
        return False
    if toleration.get("key") and toleration.get("key") != taint.get("key"):
        return False
    op = toleration.get("operator") or "Equal"
    if op == "Exists":
        return True
    return bool(toleration.get("key")) and (toleration.get("value") or "") == (taint.get("value") or "")


def untolerated(taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]],
                effects: tuple[str, ...]) -> bool:
    return any(t.get("effect") in effects and not any(tolerates(x, t) for x in tolerations) for t in taints)


def should_run(ds: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[bool, bool]:
    """(should run, should continue running) of `ds`'s pod on `node`."""
    template_spec = u.copy((u.spec(ds).get("template") or {}).get("spec") or {})
    add_daemon_tolerations(template_spec)
    if template_spec.get("nodeName") and template_spec["nodeName"] != u.name_of(node):
        return False, False
    if not fits_affinity(template_spec, node):
        return False, False
    taints = u.spec(node).get("taints") or []
    tolerations = template_spec.get("tolerations") or []
    if untolerated(taints, tolerations, ("NoExecute", "NoSchedule")):
        return False, not untolerated(taints, tolerations, ("NoExecute",))
    return True, True
