"""ResourceQuota evaluation: what an object uses, which quotas it falls under, and whether a request fits
(upstream pkg/quota/v1 and the ResourceQuota admission plugin's CheckRequest). Pure code: the
resourcequota controller sums usage with it and the API server's admission checks requests with it.

Resource lists are `dict[str, Quantity]`. Evaluators know one resource each:
- pods: `pods` (non-terminal pods only), `count/pods` (every pod), compute resources (`cpu`/`memory` =
  `requests.cpu`/`requests.memory`, `limits.cpu`, `limits.memory`, ephemeral storage, hugepages,
  `requests.<extended>`); scopes Terminating, NotTerminating, BestEffort, NotBestEffort, PriorityClass,
  CrossNamespacePodAffinity;
- services: `services`, `count/services`, `services.nodeports`, `services.loadbalancers`;
- persistentvolumeclaims: `persistentvolumeclaims`, `count/persistentvolumeclaims`, `requests.storage`
  and the per-storage-class `<class>.storageclass.storage.k8s.io/{requests.storage,persistentvolumeclaims}`;
- anything else: the object count `count/<resource>.<group>` (`count/<resource>` for the core group)
  and, for configmaps, secrets, replicationcontrollers and resourcequotas, their legacy names.

Admission (`check_request`) rejects with a 403 Forbidden Status whose message is upstream's, e.g.
`pods "web" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2`.

How the API server uses it (upstream's ResourceQuota admission plugin): for a CREATE (or an UPDATE the
evaluator `handles`) of a namespaced object, after defaulting and validation and before the write, list
the ResourceQuotas of the namespace, call `check_request`, write each returned `QuotaUpdate` as the
quota's status.used with its resourceVersion as precondition (skip on dry run), and on a conflict re-read
the quotas and check again (upstream tries 3 times). The resourcequota controller later recomputes
usage from what really exists, so a failed write after admission is corrected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kijabi.machinery import errors
from kijabi.machinery.meta import parse_time
from kijabi.machinery.quantity import DECIMAL_SI, Quantity, from_json

ResourceList = dict[str, Quantity]
Object = Mapping[str, Any]

ZERO = Quantity(0, 0, DECIMAL_SI)
ONE = Quantity(1, 0, DECIMAL_SI)

# -- resource lists ------------------------------------------------------------------------------------


def parse_list(raw: Mapping[str, Any] | None) -> ResourceList:
    """A ResourceList from JSON (entries that are not quantities are skipped)."""
    out: ResourceList = {}
    for k, v in (raw or {}).items():
        try:
            out[str(k)] = from_json(v)
        except ValueError:
            continue
    return out


def to_json(rl: Mapping[str, Quantity]) -> dict[str, str]:
    return {k: str(v) for k, v in sorted(rl.items())}


def add(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] + v if k in out else v
    return out


def subtract(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        out[k] = out[k] - v if k in out else -v
    return out


def subtract_non_negative(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> ResourceList:
    out = subtract(a, b)
    return {k: (v if v.sign() >= 0 else ZERO) for k, v in out.items()}


def mask(rl: Mapping[str, Quantity], names: Iterable[str]) -> ResourceList:
    keep = set(names)
    return {k: v for k, v in rl.items() if k in keep}


def equals(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> bool:
    if set(a) != set(b):
        return False
    return all(a[k] == b[k] for k in a)


def less_than_or_equal(a: Mapping[str, Quantity], b: Mapping[str, Quantity]) -> tuple[bool, list[str]]:
    """Whether every entry of `a` is <= the same entry of `b` (missing in `b`: fine); the exceeded names."""
    exceeded = sorted(k for k, v in a.items() if k in b and v > b[k])
    return not exceeded, exceeded


def remove_zeros(rl: Mapping[str, Quantity]) -> ResourceList:
    return {k: v for k, v in rl.items() if not v.is_zero()}


def negative(rl: Mapping[str, Quantity]) -> list[str]:
    return sorted(k for k, v in rl.items() if v.sign() < 0)


def pretty(rl: Mapping[str, Quantity]) -> str:
    return ",".join(f"{k}={rl[k]}" for k in sorted(rl))


# -- scopes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScopeRequirement:
    """One scope selector requirement (a plain spec.scopes entry is `Exists`)."""

    scope: str
    operator: str = "Exists"
    values: tuple[str, ...] = ()


def quota_scopes(quota: Object) -> list[ScopeRequirement]:
    spec = quota.get("spec") or {}
    out = [ScopeRequirement(str(s)) for s in spec.get("scopes") or []]
    for expr in ((spec.get("scopeSelector") or {}).get("matchExpressions") or []):
        out.append(ScopeRequirement(str(expr.get("scopeName", "")), str(expr.get("operator", "")),
                                    tuple(str(v) for v in expr.get("values") or [])))
    return out


def _selector_matches(req: ScopeRequirement, value: str | None) -> bool:
    op = req.operator
    if op == "In":
        return value is not None and value in req.values
    if op == "NotIn":
        return value is None or value not in req.values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    return False


# -- pods ------------------------------------------------------------------------------------------------

COMPUTE = ("cpu", "memory", "ephemeral-storage")
POD_RESOURCES = frozenset({
    "pods", "count/pods", "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage",
})
# Resources that every container must declare when a quota tracks them (backward compatibility).
VALIDATION_SET = frozenset({"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"})


def _is_extended(name: str) -> bool:
    if "/" not in name:
        return False
    domain = name.split("/", 1)[0]
    return not (domain == "kubernetes.io" or domain.endswith(".kubernetes.io"))


def _pod_resource_name(name: str) -> bool:
    if name in POD_RESOURCES:
        return True
    if name.startswith("hugepages-") or name.startswith("requests.hugepages-"):
        return True
    return name.startswith("requests.") and _is_extended(name[len("requests."):])


def _container_list(container: Object, which: str) -> ResourceList:
    return parse_list((container.get("resources") or {}).get(which))


def _max(a: ResourceList, b: ResourceList) -> ResourceList:
    out = dict(a)
    for k, v in b.items():
        if k not in out or v > out[k]:
            out[k] = v
    return out


def pod_requests(pod: Object, which: str = "requests") -> ResourceList:
    """The pod's effective requests (or limits): containers and sidecars summed, the largest regular init
    container (plus the sidecars started before it) taken if larger, plus the pod overhead."""
    spec = pod.get("spec") or {}
    total: ResourceList = {}
    for c in spec.get("containers") or []:
        total = add(total, _container_list(c, which))
    sidecars: ResourceList = {}
    init_max: ResourceList = {}
    for c in spec.get("initContainers") or []:
        own = _container_list(c, which)
        if c.get("restartPolicy") == "Always":
            sidecars = add(sidecars, own)
            init_max = _max(init_max, sidecars)
        else:
            init_max = _max(init_max, add(own, sidecars))
    total = _max(add(total, sidecars), init_max)
    overhead = parse_list(spec.get("overhead"))
    return add(total, overhead) if overhead else total


def _compute_usage(requests: ResourceList, limits: ResourceList) -> ResourceList:
    result: ResourceList = {"pods": ONE}
    for name in COMPUTE:
        if name in requests:
            result[name] = requests[name]
            result[f"requests.{name}"] = requests[name]
        if name in limits:
            result[f"limits.{name}"] = limits[name]
    for name, q in requests.items():
        if name.startswith("hugepages-"):
            result[name] = q
            result[f"requests.{name}"] = q
        elif _is_extended(name):
            result[f"requests.{name}"] = q
    return result


def pod_counts(pod: Object, now: float) -> bool:
    """Whether a pod counts for `pods` and compute quota (not terminal, not stuck terminating)."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Failed", "Succeeded"):
        return False
    m = pod.get("metadata") or {}
    if m.get("deletionTimestamp") and m.get("deletionGracePeriodSeconds") is not None:
        try:
            deadline = parse_time(str(m["deletionTimestamp"])) + float(m["deletionGracePeriodSeconds"])
        except ValueError:
            return True
        if now > deadline:
            return False
    return True


def pod_usage(pod: Object, now: float) -> ResourceList:
    result: ResourceList = {"count/pods": ONE}
    if not pod_counts(pod, now):
        return result
    return add(result, _compute_usage(pod_requests(pod, "requests"), pod_requests(pod, "limits")))


def is_best_effort(pod: Object) -> bool:
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        res = c.get("resources") or {}
        for which in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in (res.get(which) or {})):
                return False
    return True


def _cross_namespace_affinity(pod: Object) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        a = affinity.get(kind) or {}
        terms = list(a.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in a.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        for t in terms:
            if t.get("namespaces") or t.get("namespaceSelector") is not None:
                return True
    return False


def pod_matches_scope(req: ScopeRequirement, pod: Object) -> bool:
    spec = pod.get("spec") or {}
    scope = req.scope
    if scope in ("Terminating", "NotTerminating"):
        deadline = spec.get("activeDeadlineSeconds")
        terminating = deadline is not None and int(deadline) >= 0
        return terminating if scope == "Terminating" else not terminating
    if scope in ("BestEffort", "NotBestEffort"):
        best = is_best_effort(pod)
        return best if scope == "BestEffort" else not best
    if scope == "PriorityClass":
        pc = spec.get("priorityClassName") or None
        return _selector_matches(req, pc)
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    return False


def pod_constraints(required: Iterable[str], pod: Object) -> str | None:
    """The 'must specify ...' complaint when a container lacks a request/limit a quota tracks."""
    required_set = set(required) & VALIDATION_SET
    if not required_set:
        return None
    missing: dict[str, set[str]] = {}
    spec = pod.get("spec") or {}
    for c in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        usage = _compute_usage(_container_list(c, "requests"), _container_list(c, "limits"))
        for name in sorted(required_set - set(usage)):
            missing.setdefault(name, set()).add(str(c.get("name", "")))
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return f"must specify {'; '.join(parts)}"


# -- services and claims ----------------------------------------------------------------------------------

SERVICE_RESOURCES = frozenset({"services", "count/services", "services.nodeports", "services.loadbalancers"})
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
PVC_RESOURCES = frozenset({"persistentvolumeclaims", "count/persistentvolumeclaims", "requests.storage"})


def service_usage(svc: Object) -> ResourceList:
    spec = svc.get("spec") or {}
    ports = spec.get("ports") or []
    result: ResourceList = {"count/services": ONE, "services": ONE, "services.loadbalancers": ZERO,
                            "services.nodeports": ZERO}
    stype = spec.get("type")
    if stype == "NodePort":
        result["services.nodeports"] = Quantity(len(ports), 0, DECIMAL_SI)
    elif stype == "LoadBalancer":
        count = len(ports)
        if spec.get("allocateLoadBalancerNodePorts") is False:
            count = sum(1 for p in ports if p.get("nodePort"))
        result["services.nodeports"] = Quantity(count, 0, DECIMAL_SI)
        result["services.loadbalancers"] = ONE
    return result


def claim_class(pvc: Object) -> str:
    annotations = (pvc.get("metadata") or {}).get("annotations") or {}
    beta = annotations.get("volume.beta.kubernetes.io/storage-class")
    if beta:
        return str(beta)
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def pvc_usage(pvc: Object) -> ResourceList:
    result: ResourceList = {"count/persistentvolumeclaims": ONE, "persistentvolumeclaims": ONE}
    sc = claim_class(pvc)
    if sc:
        result[f"{sc}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = ONE
    requests = parse_list(((pvc.get("spec") or {}).get("resources") or {}).get("requests"))
    allocated = parse_list((pvc.get("status") or {}).get("allocatedResources"))
    storage = requests.get("storage")
    if "storage" in allocated and (storage is None or allocated["storage"] > storage):
        storage = allocated["storage"]
    if storage is not None:
        result["requests.storage"] = storage
        if sc:
            result[f"{sc}{STORAGE_CLASS_SUFFIX}requests.storage"] = storage
    return result


def _pvc_resource_name(name: str) -> bool:
    if name in PVC_RESOURCES:
        return True
    if STORAGE_CLASS_SUFFIX in name:
        return name.split(STORAGE_CLASS_SUFFIX, 1)[1] in ("requests.storage", "persistentvolumeclaims")
    return False


# -- evaluators -------------------------------------------------------------------------------------------

LEGACY_COUNT_NAMES = {"configmaps": "configmaps", "secrets": "secrets", "replicationcontrollers": "replicationcontrollers",
                      "resourcequotas": "resourcequotas"}


def object_count_name(group: str, resource: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


@dataclass(frozen=True)
class Evaluator:
    """Quota evaluation of one resource."""

    group: str
    resource: str

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        """The names among `names` this evaluator measures."""
        if self.group == "" and self.resource == "pods":
            return sorted(n for n in names if _pod_resource_name(n))
        if self.group == "" and self.resource == "services":
            return sorted(n for n in names if n in SERVICE_RESOURCES)
        if self.group == "" and self.resource == "persistentvolumeclaims":
            return sorted(n for n in names if _pvc_resource_name(n))
        own = {object_count_name(self.group, self.resource)}
        if self.group == "" and self.resource in LEGACY_COUNT_NAMES:
            own.add(LEGACY_COUNT_NAMES[self.resource])
        return sorted(n for n in names if n in own)

    def usage(self, obj: Object, now: float) -> ResourceList:
        if self.group == "" and self.resource == "pods":
            return pod_usage(obj, now)
        if self.group == "" and self.resource == "services":
            return service_usage(obj)
        if self.group == "" and self.resource == "persistentvolumeclaims":
            return pvc_usage(obj)
        result: ResourceList = {object_count_name(self.group, self.resource): ONE}
        if self.group == "" and self.resource in LEGACY_COUNT_NAMES:
            result[LEGACY_COUNT_NAMES[self.resource]] = ONE
        return result

    def matches_scope(self, req: ScopeRequirement, obj: Object) -> bool:
        if self.group == "" and self.resource == "pods":
            return pod_matches_scope(req, obj)
        return False

    def constraints(self, required: Iterable[str], obj: Object) -> str | None:
        if self.group == "" and self.resource == "pods":
            return pod_constraints(required, obj)
        return None

    def handles(self, operation: str, subresource: str = "") -> bool:
        """Whether a request may change this resource's usage (upstream Evaluator.Handles)."""
        if self.group == "" and self.resource in ("pods", "services", "persistentvolumeclaims"):
            if self.resource == "pods":
                return operation == "CREATE" or (operation == "UPDATE" and subresource == "resize")
            return operation in ("CREATE", "UPDATE")
        return operation == "CREATE"


def evaluator(group: str, resource: str) -> Evaluator:
    return Evaluator(group, resource)


def matches(quota: Object, ev: Evaluator, obj: Object, *, hard: Mapping[str, Any] | None = None) -> bool:
    """Whether `obj` falls under `quota`: the quota tracks one of its resources (in status.hard unless
    `hard` is given) and the object is in every scope."""
    hard_raw = (quota.get("status") or {}).get("hard") if hard is None else hard
    if not ev.matching_resources(hard_raw or {}):
        return False
    return all(ev.matches_scope(req, obj) for req in quota_scopes(quota))


# -- the controller's sum ---------------------------------------------------------------------------------


def calculate_usage(quota: Object, objects: Mapping[tuple[str, str], Iterable[Object]], now: float) -> ResourceList:
    """Usage of `quota`'s hard resources over `objects` ((group, resource) -> objects of the quota's
    namespace), masked to what the quota tracks. Resources nobody measures are left out."""
    hard = parse_list((quota.get("spec") or {}).get("hard"))
    hard_names = list(hard)
    scopes = quota_scopes(quota)
    used: ResourceList = {}
    matched: set[str] = set()
    for (group, resource), items in objects.items():
        ev = evaluator(group, resource)
        names = ev.matching_resources(hard_names)
        if not names:
            continue
        matched.update(names)
        stats: ResourceList = {n: ZERO for n in names}
        for obj in items:
            if all(ev.matches_scope(req, obj) for req in scopes):
                stats = add(stats, ev.usage(obj, now))
        used = add(used, mask(stats, names))
    return mask(used, matched)


# -- admission -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaUpdate:
    """A quota whose status.used must become `used` for the request to be admitted."""

    name: str
    resource_version: str
    used: dict[str, str]


def check_request(quotas: Sequence[Object], *, group: str, resource: str, obj: Object, old: Object | None = None,
                  operation: str = "CREATE", subresource: str = "", name: str = "", now: float) -> list[QuotaUpdate]:
    """Admit one request against the quotas of its namespace (upstream CheckRequest).

    Returns the quota status updates to persist (compare-and-swap on their resourceVersion; on a conflict
    re-read the quotas and call again) before the object is stored. Raises a 403 StatusError when the
    request does not fit: "failed quota: ...", "status unknown for quota: ...", "quota usage is negative
    for resource(s): ...", "exceeded quota: ...".
    """
    ev = evaluator(group, resource)
    if not ev.handles(operation, subresource):
        return []
    obj_name = name or str((obj.get("metadata") or {}).get("name") or "")

    def forbid(why: str) -> errors.StatusError:
        return errors.forbidden(resource, group, obj_name, why)

    interesting: list[int] = []
    for i, q in enumerate(quotas):
        if not matches(q, ev, obj):
            continue
        hard = parse_list((q.get("status") or {}).get("hard"))
        restricted = ev.matching_resources(hard)
        complaint = ev.constraints(restricted, obj)
        if complaint:
            raise forbid(f"failed quota: {q['metadata']['name']}: {complaint}")
        used_raw = (q.get("status") or {}).get("used") or {}
        if any(n not in used_raw for n in restricted):
            raise forbid(f"status unknown for quota: {q['metadata']['name']}, resources: {','.join(sorted(restricted))}")
        interesting.append(i)
    if not interesting:
        return []
    input_usage = ev.usage(obj, now)
    bad = negative(input_usage)
    if bad:
        raise forbid(f"quota usage is negative for resource(s): {','.join(bad)}")
    delta: dict[int, ResourceList] = {i: input_usage for i in interesting}
    if operation == "UPDATE" and old is not None and (old.get("metadata") or {}).get("resourceVersion"):
        prev = ev.usage(old, now)
        diff = subtract_non_negative(input_usage, prev)
        for i in interesting:
            if matches(quotas[i], ev, old):
                delta[i] = diff
    delta = {i: d for i, d in ((i, remove_zeros(d)) for i, d in delta.items()) if d}
    updates: list[QuotaUpdate] = []
    for i in interesting:
        d = delta.get(i)
        if d is None:
            continue
        q = quotas[i]
        status = q.get("status") or {}
        hard = parse_list(status.get("hard"))
        used = parse_list(status.get("used"))
        requested = mask(d, hard)
        new_used = add(used, requested)
        if subresource != "status":
            ok, exceeded = less_than_or_equal(mask(new_used, requested), hard)
            if not ok:
                raise forbid(f"exceeded quota: {q['metadata']['name']}, requested: {pretty(mask(requested, exceeded))}, "
                             f"used: {pretty(mask(used, exceeded))}, limited: {pretty(mask(hard, exceeded))}")
        updates.append(QuotaUpdate(str(q["metadata"]["name"]), str((q.get("metadata") or {}).get("resourceVersion", "")),
                                   to_json(new_used)))
    return updates
