"""Pure helpers of the Job controller: completion-index sets and their interval strings, pod failure
policy matching, the pod failure backoff, and the conditions' reasons and messages (upstream v1.32)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from kijabi.controllers.workloads import _util as u

Object = dict[str, Any]

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_IGNORED_FAILURE_COUNT = "batch.kubernetes.io/job-index-ignored-failure-count"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"
BACKOFF_BASE = 10.0
BACKOFF_MAX = 360.0
MAX_PODS_PER_SYNC = 500

# reason -> message of the terminal conditions
BACKOFF_LIMIT_EXCEEDED = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
DEADLINE_EXCEEDED = ("DeadlineExceeded", "Job was active longer than specified deadline")
MAX_FAILED_INDEXES_EXCEEDED = ("MaxFailedIndexesExceeded", "Job has exceeded the specified maximum number of failed indexes")
FAILED_INDEXES = ("FailedIndexes", "Job has failed indexes")
COMPLETIONS_REACHED = ("CompletionsReached", "Reached expected number of succeeded pods")


def parse_indexes(text: str | None, completions: int | None = None) -> set[int]:
    """"1,3-5,7" -> {1, 3, 4, 5, 7} (indexes >= completions dropped when completions is given)."""
    out: set[int] = set()
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                out.update(range(int(a), int(b) + 1))
            else:
                out.add(int(part))
        except ValueError:
            continue
    if completions is not None:
        out = {i for i in out if 0 <= i < completions}
    return out


def format_indexes(indexes: Iterable[int]) -> str:
    """{1, 3, 4, 5, 7} -> "1,3-5,7"."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def pod_index(pod: Mapping[str, Any]) -> int | None:
    m = u.meta(pod)
    raw = (m.get("annotations") or {}).get(COMPLETION_INDEX)
    if raw is None:
        raw = (m.get("labels") or {}).get(COMPLETION_INDEX)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def has_finalizer(pod: Mapping[str, Any]) -> bool:
    return TRACKING_FINALIZER in (u.meta(pod).get("finalizers") or [])


def is_indexed(job: Mapping[str, Any]) -> bool:
    return u.spec(job).get("completionMode") == "Indexed"


def pod_failed(pod: Mapping[str, Any], job: Mapping[str, Any]) -> bool:
    """Upstream isPodFailed: phase Failed, or (without a pod failure policy) being deleted unfinished."""
    if u.pod_phase(pod) == "Failed":
        return True
    if u.spec(job).get("podFailurePolicy") is not None:
        return False
    return u.deleting(pod) and u.pod_phase(pod) != "Succeeded"


def finish_time(pod: Mapping[str, Any], default: float) -> float:
    """When a pod finished: its containers' latest finishedAt, else its Ready condition's last change."""
    latest = 0.0
    for cs in (u.status(pod).get("containerStatuses") or []):
        term = ((cs or {}).get("state") or {}).get("terminated") or {}
        latest = max(latest, u.timestamp(term.get("finishedAt")))
    if latest:
        return latest
    since = u.pod_ready_since(pod)
    if since:
        return since
    return u.timestamp(u.meta(pod).get("deletionTimestamp")) or default


def match_failure_policy(job: Mapping[str, Any], pod: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(message, action) of the first pod failure policy rule matching a failed pod, or (None, None)."""
    policy = u.spec(job).get("podFailurePolicy") or {}
    st = u.status(pod)
    ns, name = u.namespace_of(pod), u.name_of(pod)
    for index, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action", ""))
        on_codes = rule.get("onExitCodes")
        if on_codes is not None:
            statuses = list(st.get("initContainerStatuses") or []) + list(st.get("containerStatuses") or [])
            for cs in statuses:
                term = ((cs or {}).get("state") or {}).get("terminated")
                if not term:
                    continue
                if on_codes.get("containerName") and on_codes["containerName"] != cs.get("name"):
                    continue
                code = u.int_value(term.get("exitCode"))
                if code == 0:
                    continue
                values = on_codes.get("values") or []
                matched = code in values if on_codes.get("operator") == "In" else code not in values
                if matched:
                    return (f"Container {cs.get('name')} for pod {ns}/{name} failed with exit code {code} "
                            f"matching {action} rule at index {index}"), action
        for pattern in rule.get("onPodConditions") or []:
            want_status = pattern.get("status", "True")
            for cond in st.get("conditions") or []:
                if cond.get("type") == pattern.get("type") and cond.get("status") == want_status:
                    return f"Pod {ns}/{name} has condition {cond.get('type')} matching {action} rule at index {index}", action
    return None, None


def backoff_delay(failures: int) -> float:
    if failures <= 0:
        return 0.0
    return float(min(BACKOFF_BASE * (2 ** (failures - 1)), BACKOFF_MAX))


def condition(ctype: str, reason: str, message: str, now: str, cstatus: str = "True") -> Object:
    return {"type": ctype, "status": cstatus, "lastProbeTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def finished_condition(job: Mapping[str, Any]) -> str | None:
    for c in u.status(job).get("conditions") or []:
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def with_completion_index_env(template: Object) -> Object:
    """Every (init) container gets JOB_COMPLETION_INDEX from the pod's completion-index annotation."""
    pod_spec = template.setdefault("spec", {})
    env_var = {"name": COMPLETION_INDEX_ENV, "valueFrom": {"fieldRef": {
        "apiVersion": "v1", "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}}
    for field in ("initContainers", "containers"):
        for c in pod_spec.get(field) or []:
            env = c.setdefault("env", [])
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                env.append(dict(env_var))
    return template


def success_policy_match(job: Mapping[str, Any], succeeded: set[int]) -> int | None:
    """The index of the first successPolicy rule the succeeded indexes satisfy."""
    rules = (u.spec(job).get("successPolicy") or {}).get("rules") or []
    completions = u.int_value(u.spec(job).get("completions"))
    for i, rule in enumerate(rules):
        want = parse_indexes(rule.get("succeededIndexes"), completions) if rule.get("succeededIndexes") is not None \
            else set(range(completions))
        have = succeeded & want
        count = rule.get("succeededCount")
        if count is None:
            if want and have == want:
                return i
        elif len(have) >= count:
            return i
    return None
