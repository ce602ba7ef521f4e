"""Pure helpers of the deployment controller (upstream pkg/controller/deployment/util): revisions and
their annotations, the rolling-update fenceposts, proportional scaling, status and conditions."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kijabi.controllers.workloads import _util as u

Object = dict[str, Any]

REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SKIP_COPY = frozenset({LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO})
MAX_REV_HISTORY_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Reasons (upstream deploymentutil)
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_CREATED = "NewReplicaSetCreated"
FAILED_RS_CREATE = "ReplicaSetCreateError"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


def replicas(obj: Mapping[str, Any]) -> int:
    return u.int_value(u.spec(obj).get("replicas"), 1)


def annots(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(u.meta(obj).get("annotations") or {})


def revision(obj: Mapping[str, Any]) -> int:
    try:
        return int(annots(obj).get(REVISION, "0") or 0)
    except ValueError:
        return 0


def max_revision(rss: Sequence[Mapping[str, Any]]) -> int:
    return max((revision(rs) for rs in rss), default=0)


def strategy_type(d: Mapping[str, Any]) -> str:
    return str((u.spec(d).get("strategy") or {}).get("type") or "RollingUpdate")


def is_rolling(d: Mapping[str, Any]) -> bool:
    return strategy_type(d) == "RollingUpdate"


def fenceposts(d: Mapping[str, Any]) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as absolute numbers: surge rounds up, unavailable down, both 0 -> 1."""
    ru = (u.spec(d).get("strategy") or {}).get("rollingUpdate") or {}
    desired = replicas(d)
    surge = u.scaled_value(ru.get("maxSurge", "25%"), desired, True)
    unavailable = u.scaled_value(ru.get("maxUnavailable", "25%"), desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def max_surge(d: Mapping[str, Any]) -> int:
    return fenceposts(d)[0] if is_rolling(d) else 0


def max_unavailable(d: Mapping[str, Any]) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(fenceposts(d)[1], replicas(d))


def has_progress_deadline(d: Mapping[str, Any]) -> bool:
    pds = u.spec(d).get("progressDeadlineSeconds")
    return isinstance(pds, int) and pds != MAX_INT32


def has_revision_history_limit(d: Mapping[str, Any]) -> bool:
    limit = u.spec(d).get("revisionHistoryLimit")
    return isinstance(limit, int) and limit != MAX_INT32


def template_without_hash(template: Mapping[str, Any] | None) -> Object:
    t = u.copy(template or {})
    lbls = (t.get("metadata") or {}).get("labels")
    if isinstance(lbls, dict):
        lbls.pop(u.POD_TEMPLATE_HASH, None)
        if not lbls:
            del t["metadata"]["labels"]
    if isinstance(t.get("metadata"), dict) and not t["metadata"]:
        del t["metadata"]
    return t


def equal_ignore_hash(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return template_without_hash(a) == template_without_hash(b)


def by_creation(rss: Sequence[Object]) -> list[Object]:
    return sorted(rss, key=lambda r: (u.created(r), u.name_of(r)))


def find_new(d: Mapping[str, Any], rss: Sequence[Object]) -> Object | None:
    template = u.spec(d).get("template")
    for rs in by_creation(rss):
        if equal_ignore_hash(u.spec(rs).get("template"), template):
            return rs
    return None


def find_old(d: Mapping[str, Any], rss: Sequence[Object], new_rs: Object | None) -> tuple[list[Object], list[Object]]:
    """(old RSes with pods, all old RSes)."""
    new_uid = u.uid_of(new_rs) if new_rs is not None else None
    all_old = [rs for rs in rss if u.uid_of(rs) != new_uid]
    with_pods = [rs for rs in all_old if replicas(rs) != 0]
    return with_pods, all_old


def active(rss: Sequence[Object | None]) -> list[Object]:
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def spec_count(rss: Sequence[Object | None]) -> int:
    return sum(replicas(rs) for rs in rss if rs is not None)


def actual_count(rss: Sequence[Object | None]) -> int:
    return sum(u.int_value(u.status(rs).get("replicas")) for rs in rss if rs is not None)


def ready_count(rss: Sequence[Object | None]) -> int:
    return sum(u.int_value(u.status(rs).get("readyReplicas")) for rs in rss if rs is not None)


def available_count(rss: Sequence[Object | None]) -> int:
    return sum(u.int_value(u.status(rs).get("availableReplicas")) for rs in rss if rs is not None)


def set_replicas_annotations(rs: Object, desired: int, max_replicas: int) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(k) != v:
            ann[k] = v
            changed = True
    return changed


def replicas_annotations_need_update(rs: Mapping[str, Any], desired: int, max_replicas: int) -> bool:
    ann = annots(rs)
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def desired_annotation(rs: Mapping[str, Any]) -> int | None:
    try:
        return int(annots(rs)[DESIRED_REPLICAS])
    except (KeyError, ValueError):
        return None


def max_replicas_annotation(rs: Mapping[str, Any]) -> int | None:
    try:
        return int(annots(rs)[MAX_REPLICAS])
    except (KeyError, ValueError):
        return None


def copy_annotations(d: Mapping[str, Any], rs: Object) -> bool:
    ann = rs.setdefault("metadata", {}).setdefault("annotations", {})
    changed = False
    for k, v in annots(d).items():
        if k in SKIP_COPY or ann.get(k) == v:
            continue
        ann[k] = v
        changed = True
    return changed


def set_new_rs_annotations(d: Mapping[str, Any], rs: Object, new_revision: str, exists: bool) -> bool:
    """Upstream SetNewReplicaSetAnnotations: copy the deployment's annotations, bump the revision
    (keeping the history of revisions this template had when it is rolled back to), and for a new
    RS set desired/max replicas."""
    changed = copy_annotations(d, rs)
    ann = rs["metadata"]["annotations"]
    had = REVISION in ann
    old_revision = ann.get(REVISION, "")
    try:
        old_int = int(old_revision) if old_revision else 0
    except ValueError:
        return False
    new_int = int(new_revision)
    if old_int < new_int:
        ann[REVISION] = new_revision
        changed = True
    if had and old_int < new_int:
        history = ann.get(REVISION_HISTORY, "")
        olds = history.split(",") if history else []
        if not olds:
            ann[REVISION_HISTORY] = old_revision
        else:
            total = len(history) + len(old_revision) + 1
            start = 0
            while total > MAX_REV_HISTORY_CHARS and start < len(olds):
                total -= len(olds[start]) + 1
                start += 1
            if total <= MAX_REV_HISTORY_CHARS:
                ann[REVISION_HISTORY] = ",".join(olds[start:] + [old_revision])
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def new_rs_new_replicas(d: Mapping[str, Any], all_rss: Sequence[Object | None], new_rs: Object) -> int:
    if is_rolling(d):
        surge = max_surge(d)
        current = spec_count(all_rss)
        max_total = replicas(d) + surge
        if current >= max_total:
            return replicas(new_rs)
        scale_up = min(max_total - current, replicas(d) - replicas(new_rs))
        return replicas(new_rs) + scale_up
    return replicas(d)


def is_saturated(d: Mapping[str, Any], rs: Object | None) -> bool:
    if rs is None:
        return False
    want = replicas(d)
    return (desired_annotation(rs) == want and u.int_value(u.status(rs).get("availableReplicas")) == want
            and replicas(rs) == want)


def find_active_or_latest(new_rs: Object | None, old_rss: Sequence[Object]) -> Object | None:
    if new_rs is None and not old_rss:
        return None
    olds = sorted(old_rss, key=lambda r: (u.created(r), u.name_of(r)), reverse=True)
    all_active = active([*olds, new_rs])
    if not all_active:
        return new_rs if new_rs is not None else olds[0]
    if len(all_active) == 1:
        return all_active[0]
    return None


def proportion(rs: Object, d: Mapping[str, Any], to_add: int, added: int) -> int:
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _fraction(rs: Object, d: Mapping[str, Any]) -> int:
    if replicas(d) == 0:
        return -replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = max_replicas_annotation(rs)
    if annotated is None:
        annotated = u.int_value(u.status(d).get("replicas"))
    if annotated == 0:
        return 0
    return u.round_half_away(replicas(rs) * deployment_replicas / annotated) - replicas(rs)


def condition(ctype: str, cstatus: str, reason: str, message: str, now: str) -> Object:
    return {"type": ctype, "status": cstatus, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def complete(d: Mapping[str, Any], st: Mapping[str, Any]) -> bool:
    want = replicas(d)
    return (u.int_value(st.get("updatedReplicas")) == want and u.int_value(st.get("replicas")) == want
            and u.int_value(st.get("availableReplicas")) == want
            and u.int_value(st.get("observedGeneration")) >= u.int_value(u.meta(d).get("generation")))


def progressing(d: Mapping[str, Any], st: Mapping[str, Any]) -> bool:
    old = u.status(d)
    old_old = u.int_value(old.get("replicas")) - u.int_value(old.get("updatedReplicas"))
    new_old = u.int_value(st.get("replicas")) - u.int_value(st.get("updatedReplicas"))
    return (u.int_value(st.get("updatedReplicas")) > u.int_value(old.get("updatedReplicas")) or new_old < old_old
            or u.int_value(st.get("readyReplicas")) > u.int_value(old.get("readyReplicas"))
            or u.int_value(st.get("availableReplicas")) > u.int_value(old.get("availableReplicas")))


def timed_out(d: Mapping[str, Any], st: Mapping[str, Any], now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    cond = u.get_condition(st, "Progressing")
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    since = u.timestamp(cond.get("lastUpdateTime"))
    return since + u.int_value(u.spec(d).get("progressDeadlineSeconds")) < now


def calculate_status(d: Mapping[str, Any], all_rss: Sequence[Object | None], new_rs: Object | None,
                     now: str) -> Object:
    available = available_count(all_rss)
    unavailable = max(spec_count(all_rss) - available, 0)
    st: Object = {
        "observedGeneration": u.meta(d).get("generation", 0),
        "replicas": actual_count(all_rss),
        "updatedReplicas": actual_count([new_rs]),
        "readyReplicas": ready_count(all_rss),
        "availableReplicas": available,
        "unavailableReplicas": unavailable,
    }
    old = u.status(d)
    if old.get("collisionCount") is not None:
        st["collisionCount"] = old["collisionCount"]
    if old.get("conditions"):
        st["conditions"] = u.copy({"c": old["conditions"]})["c"]
    if available >= replicas(d) - max_unavailable(d):
        u.set_condition(st, condition("Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now))
    else:
        u.set_condition(st, condition("Available", "False", MIN_UNAVAILABLE,
                                      "Deployment does not have minimum availability.", now))
    return st


def normalize(st: Mapping[str, Any]) -> Object:
    """A status as it reads back from the API (zero counters omitted), for comparison."""
    return {k: v for k, v in st.items() if v not in (0, None, [], {}) or (k == "collisionCount" and v is not None)}
