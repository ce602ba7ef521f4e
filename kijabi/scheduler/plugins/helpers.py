"""Small helpers several plugins share (upstream framework/plugins/helper)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kijabi.scheduler.framework.interface import Listers
from kijabi.scheduler.framework.selectors import LabelSelector, SelectorError, compile_label_selector
from kijabi.scheduler.framework.types import MAX_NODE_SCORE


def go_div(a: int, b: int) -> int:
    """Integer division truncating toward zero, like Go's `/` on ints."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def default_normalize_score(scores: list[int], reverse: bool, max_priority: int = MAX_NODE_SCORE) -> None:
    """Scale scores to [0, max_priority] by the highest one, optionally reversed (in place)."""
    max_count = max(scores, default=0)
    if max_count <= 0:
        if reverse:
            scores[:] = [max_priority] * len(scores)
        return
    for i, s in enumerate(scores):
        v = go_div(max_priority * s, max_count)
        scores[i] = max_priority - v if reverse else v


def labels_of(obj: Mapping[str, Any] | None) -> dict[str, str]:
    if not obj:
        return {}
    return (obj.get("metadata") or {}).get("labels") or {}


def controller_of(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref  # type: ignore[no-any-return]
    return None


def pod_services(listers: Listers, pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The services in the pod's namespace whose selector selects the pod."""
    meta = pod.get("metadata") or {}
    pod_labels = meta.get("labels") or {}
    out = []
    for svc in listers.services.list(meta.get("namespace", "")):
        sel = (svc.get("spec") or {}).get("selector")
        if not sel:
            continue
        if all(pod_labels.get(k) == v for k, v in sel.items()):
            out.append(svc)
    return out


def default_selector(pod: Mapping[str, Any], listers: Listers) -> LabelSelector:
    """The selector of the pod's "group": its services' selectors merged with its controller's (RC, RS
    or StatefulSet). Upstream helper.DefaultSelector; empty when the pod belongs to nothing."""
    merged: dict[str, str] = {}
    for svc in pod_services(listers, pod):
        merged.update((svc.get("spec") or {}).get("selector") or {})
    selector = LabelSelector.from_set(merged)
    owner = controller_of(pod)
    if owner is None:
        return selector
    ns = (pod.get("metadata") or {}).get("namespace", "")
    api_version, kind, name = owner.get("apiVersion", ""), owner.get("kind", ""), owner.get("name", "")
    if api_version == "v1" and kind == "ReplicationController":
        rc = listers.replication_controllers.get(name, ns)
        if rc is not None:
            merged.update((rc.get("spec") or {}).get("selector") or {})
            selector = LabelSelector.from_set(merged)
    elif api_version == "apps/v1" and kind in ("ReplicaSet", "StatefulSet"):
        lister = listers.replica_sets if kind == "ReplicaSet" else listers.stateful_sets
        obj = lister.get(name, ns)
        if obj is not None:
            try:
                other = compile_label_selector((obj.get("spec") or {}).get("selector"))
            except SelectorError:
                return selector
            if not other.nothing:
                selector = selector.merged(other)
    return selector


def get_persistent_volume_claim_class(pvc: Mapping[str, Any]) -> str:
    ann = (pvc.get("metadata") or {}).get("annotations") or {}
    if "volume.beta.kubernetes.io/storage-class" in ann:
        return str(ann["volume.beta.kubernetes.io/storage-class"])
    return str((pvc.get("spec") or {}).get("storageClassName") or "")


def get_persistent_volume_class(pv: Mapping[str, Any]) -> str:
    ann = (pv.get("metadata") or {}).get("annotations") or {}
    if "volume.beta.kubernetes.io/storage-class" in ann:
        return str(ann["volume.beta.kubernetes.io/storage-class"])
    return str((pv.get("spec") or {}).get("storageClassName") or "")
