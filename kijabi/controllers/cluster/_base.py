"""What the cluster controllers share: their settings, the controller shape with a quiet requeue, and
small readers of pods, nodes, conditions, owner references, taints and tolerations.

Objects are plain JSON dicts; the readers here never change what they are given (cached objects are
shared, kijabi.client.cache).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kijabi.client.clock import Clock
from kijabi.client.controller import Controller
from kijabi.client.errors import APIError
from kijabi.controllers.context import ControllerContext, Options
from kijabi.machinery.meta import parse_time, rfc3339

log = logging.getLogger(__name__)

Object = dict[str, Any]

# Finalizers the garbage collector and the API server agree on.
FINALIZER_ORPHAN = "orphan"
FINALIZER_FOREGROUND = "foregroundDeletion"

# Node taints set by the node lifecycle controller (k8s.io/api/core/v1 well-known taints).
TAINT_NOT_READY = "node.kubernetes.io/not-ready"
TAINT_UNREACHABLE = "node.kubernetes.io/unreachable"
TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure"
TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure"
TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure"
TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable"
TAINT_OUT_OF_SERVICE = "node.kubernetes.io/out-of-service"

NODE_LEASE_NAMESPACE = "kube-node-lease"


# -- settings ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """The controller-manager flags the cluster controllers read (upstream defaults).

    The first group comes from `Options`; the rest from `Options.extra` under the same names, so tests
    and the command line can shorten periods without new Options fields. Upstream flags they stand for:
    --node-startup-grace-period, --terminated-pod-gc-threshold; pod GC's 20 s check period and 40 s
    quarantine; the garbage collector's 30 s discovery resync and --concurrent-gc-syncs; the namespace
    controller's 5 min resync, 5 s deletion grace and 15 s finalizer estimate; --resource-quota-sync-period;
    --max-endpoints-per-slice; the disruption controller's 2 min timeouts; and
    --horizontal-pod-autoscaler-{sync-period,downscale-stabilization,tolerance,cpu-initialization-period,
    initial-readiness-delay}.
    """

    cluster_cidr: str = "10.42.0.0/16"
    node_cidr_mask_size: int = 24
    node_monitor_grace_period: float = 40.0
    node_monitor_period: float = 5.0
    terminated_pod_gc_threshold: int = 12500
    root_ca_file: str = ""
    node_startup_grace_period: float = 60.0
    pod_gc_period: float = 20.0
    pod_gc_quarantine: float = 40.0
    gc_discovery_period: float = 30.0
    gc_workers: int = 5
    namespace_sync_period: float = 300.0
    namespace_deletion_grace: float = 5.0
    namespace_finalizer_estimate: int = 15
    max_endpoints_per_slice: int = 100
    resource_quota_sync_period: float = 300.0
    disruption_deletion_timeout: float = 120.0
    stale_pod_disruption_timeout: float = 120.0
    hpa_sync_period: float = 15.0
    hpa_downscale_stabilization: float = 300.0
    hpa_tolerance: float = 0.1
    hpa_cpu_initialization_period: float = 300.0
    hpa_initial_readiness_delay: float = 30.0

    @classmethod
    def from_options(cls, options: Options) -> Settings:
        extra = options.extra or {}
        values: dict[str, Any] = {
            "cluster_cidr": options.cluster_cidr,
            "node_cidr_mask_size": options.node_cidr_mask_size,
            "node_monitor_grace_period": options.node_monitor_grace_period,
            "node_monitor_period": options.node_monitor_period,
            "terminated_pod_gc_threshold": options.terminated_pod_gc_threshold,
            "root_ca_file": options.root_ca_file,
        }
        for name in cls.__dataclass_fields__:
            if name in extra:
                values[name] = extra[name]
        return cls(**values)


def settings(ctx: ControllerContext) -> Settings:
    return Settings.from_options(ctx.options)


def workers(ctx: ControllerContext, name: str, default: int) -> int:
    """Worker count of controller `name`: Options.concurrent_syncs[name] (the --concurrent-*-syncs flags),
    else upstream's default."""
    return max(1, int((ctx.options.concurrent_syncs or {}).get(name, default)))


# -- the controller shape ------------------------------------------------------------------------------


class Requeue(Exception):
    """Raised by `sync` to process the key again after the rate limiter's delay, without logging an error
    (the situation is expected: an informer has not caught up yet, a dependent is still going away)."""


class ClusterController(Controller):
    """kijabi.client.Controller plus `Requeue`. Subclasses implement `sync(key)`."""

    async def process(self, key: str) -> None:
        try:
            again = await self.sync(key)
        except Requeue as exc:
            log.debug("controller %s: %s requeued: %s", self.name, key, exc)
            self.queue.add_rate_limited(key)
        except Exception as exc:
            retries = self.queue.num_requeues(key)
            if self.max_retries is not None and retries >= self.max_retries:
                log.error("controller %s: dropping %s after %d retries: %s", self.name, key, retries, exc)
                self.queue.forget(key)
            else:
                level = logging.INFO if isinstance(exc, APIError) and exc.code == 409 else logging.WARNING
                log.log(level, "controller %s: syncing %s failed (retry %d): %s", self.name, key, retries + 1, exc,
                        exc_info=None if isinstance(exc, APIError) else exc)
                self.queue.add_rate_limited(key)
        else:
            self.queue.forget(key)
            if again is not None:
                self.queue.add_after(key, again)
        finally:
            self.queue.done(key)


# -- metadata ------------------------------------------------------------------------------------------


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace") or "")


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid") or "")


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def being_deleted(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def has_finalizer(obj: Mapping[str, Any], finalizer: str) -> bool:
    return finalizer in (meta(obj).get("finalizers") or [])


def owner_references(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    refs = meta(obj).get("ownerReferences") or []
    return [r for r in refs if isinstance(r, dict)]


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ownerReference with controller=true, if any (metav1.GetControllerOf)."""
    for ref in owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def timestamp(text: Any) -> float | None:
    """Unix seconds of an RFC 3339 timestamp, None when absent or malformed."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return parse_time(text)
    except ValueError:
        return None


def now_text(clock: Clock) -> str:
    return rfc3339(clock.time())


# -- conditions ----------------------------------------------------------------------------------------


def get_condition(conditions: Iterable[Mapping[str, Any]] | None, ctype: str) -> Mapping[str, Any] | None:
    for c in conditions or ():
        if c.get("type") == ctype:
            return c
    return None


def set_condition(conditions: list[dict[str, Any]], new: Mapping[str, Any], now: str) -> bool:
    """Set condition `new` (with its type) in `conditions` in place, as upstream's SetStatusCondition:
    lastTransitionTime changes only when the status changes. Returns whether anything changed."""
    for c in conditions:
        if c.get("type") != new.get("type"):
            continue
        changed = False
        if c.get("status") != new.get("status"):
            c["lastTransitionTime"] = new.get("lastTransitionTime") or now
            changed = True
        for k, v in new.items():
            if k in ("lastTransitionTime", "type"):
                continue
            if c.get(k) != v:
                c[k] = v
                changed = True
        return changed
    item = dict(new)
    item.setdefault("lastTransitionTime", now)
    conditions.append(item)
    return True


# -- pods ----------------------------------------------------------------------------------------------


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str((pod.get("status") or {}).get("phase") or "")


def is_pod_terminal(pod: Mapping[str, Any]) -> bool:
    return pod_phase(pod) in ("Succeeded", "Failed")


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    cond = get_condition((pod.get("status") or {}).get("conditions"), "Ready")
    return cond is not None and cond.get("status") == "True"


def pod_ips(pod: Mapping[str, Any]) -> list[str]:
    status = pod.get("status") or {}
    ips = [str(p.get("ip")) for p in status.get("podIPs") or [] if isinstance(p, Mapping) and p.get("ip")]
    if not ips and status.get("podIP"):
        ips = [str(status["podIP"])]
    return ips


def node_name_of(pod: Mapping[str, Any]) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")


# -- nodes ---------------------------------------------------------------------------------------------


def node_ready_status(node: Mapping[str, Any]) -> str | None:
    """The status of a node's Ready condition ("True", "False", "Unknown"), None when it has none."""
    cond = get_condition((node.get("status") or {}).get("conditions"), "Ready")
    return None if cond is None else str(cond.get("status"))


def taints_of(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [t for t in (node.get("spec") or {}).get("taints") or [] if isinstance(t, dict)]


def taint_matches(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Same taint for the purposes of adding/removing (key and effect, as upstream's MatchTaint)."""
    return a.get("key") == b.get("key") and a.get("effect") == b.get("effect")


# -- tolerations ---------------------------------------------------------------------------------------


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether `toleration` tolerates `taint` (upstream Toleration.ToleratesTaint)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key and key != taint.get("key"):
        return False
    if operator == "Exists":
        return True
    if operator == "Equal":
        if not key:
            return False
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def matching_tolerations(taints: Sequence[Mapping[str, Any]], tolerations: Sequence[Mapping[str, Any]]) -> tuple[bool, list[Mapping[str, Any]]]:
    """(every taint tolerated, the tolerations used), as upstream's GetMatchingTolerations."""
    if not taints:
        return True, []
    if not tolerations:
        return False, []
    used: list[Mapping[str, Any]] = []
    for taint in taints:
        found = False
        for tol in tolerations:
            if tolerates(tol, taint):
                used.append(tol)
                found = True
                break
        if not found:
            return False, []
    return True, used


def min_toleration_seconds(tolerations: Sequence[Mapping[str, Any]]) -> float:
    """Seconds until eviction for the used tolerations: -1 means forever, 0 at once (upstream
    getMinTolerationTime)."""
    if not tolerations:
        return 0.0
    best: int | None = None
    for tol in tolerations:
        seconds = tol.get("tolerationSeconds")
        if seconds is None:
            continue
        if int(seconds) <= 0:
            return 0.0
        if best is None or int(seconds) < best:
            best = int(seconds)
    return -1.0 if best is None else float(best)


# -- errors --------------------------------------------------------------------------------------------


def has_status_cause(exc: BaseException, reason: str) -> bool:
    """Whether an API error's Status carries a cause with `reason` (apierrors.HasStatusCause)."""
    if not isinstance(exc, APIError):
        return False
    return any(c.get("reason") == reason for c in exc.causes)


def namespace_terminating(exc: BaseException) -> bool:
    return has_status_cause(exc, "NamespaceTerminating")
