"""Helpers every workload controller shares (upstream pkg/controller/controller_utils.go and friends):
pod predicates, conditions, owner references, adoption/orphaning, slow-start batches, template hashing.

Objects are plain dicts. Functions here never change their arguments unless their name says so
(`set_condition`, `remove_condition` change the status dict they are given).
"""

from __future__ import annotations

import asyncio
import math
import struct
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson

from kijabi.client.cache import DeletedFinalStateUnknown, copy_object
from kijabi.client.errors import APIError, Conflict, NotFound
from kijabi.client.rest import GVR, Client
from kijabi.machinery import labels
from kijabi.machinery.meta import parse_time, rfc3339

Object = dict[str, Any]

CONTROLLER_UID_INDEX = "controllerUID"
POD_TEMPLATE_HASH = "pod-template-hash"
CONTROLLER_REVISION_HASH = "controller-revision-hash"
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
BURST_REPLICAS = 500
SLOW_START_INITIAL_BATCH = 1
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


# -- small accessors -------------------------------------------------------------------------------


def meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    m = obj.get("metadata")
    return m if isinstance(m, Mapping) else {}


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("spec")
    return s if isinstance(s, Mapping) else {}


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    s = obj.get("status")
    return s if isinstance(s, Mapping) else {}


def name_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("name", ""))


def namespace_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("namespace", ""))


def uid_of(obj: Mapping[str, Any]) -> str:
    return str(meta(obj).get("uid", ""))


def labels_of(obj: Mapping[str, Any]) -> dict[str, str]:
    return dict(meta(obj).get("labels") or {})


def key_of(obj: Mapping[str, Any]) -> str:
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def unwrap(obj: Object | DeletedFinalStateUnknown) -> Object:
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def timestamp(text: Any) -> float:
    """Seconds of an RFC 3339 time (0 when absent or malformed)."""
    if not isinstance(text, str) or not text:
        return 0.0
    try:
        return parse_time(text)
    except ValueError:
        return 0.0


def created(obj: Mapping[str, Any]) -> float:
    return timestamp(meta(obj).get("creationTimestamp"))


def deleting(obj: Mapping[str, Any]) -> bool:
    return bool(meta(obj).get("deletionTimestamp"))


def now_text(t: float) -> str:
    return rfc3339(t)


def selector_of(obj: Mapping[str, Any]) -> labels.Selector:
    """The spec.selector of a workload (nil selects nothing, as upstream)."""
    sel = spec(obj).get("selector")
    if sel is None:
        return labels.Selector((labels.Requirement("!nothing", "exists"),))
    return labels.from_label_selector(sel)


def int_value(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


# -- pods ------------------------------------------------------------------------------------------


def pod_phase(pod: Mapping[str, Any]) -> str:
    return str(status(pod).get("phase") or "")


def pod_active(pod: Mapping[str, Any]) -> bool:
    """Upstream IsPodActive: not finished and not being deleted."""
    return pod_phase(pod) not in ("Succeeded", "Failed") and not deleting(pod)


def pod_condition(pod: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    for c in status(pod).get("conditions") or []:
        if isinstance(c, Mapping) and c.get("type") == ctype:
            return c
    return None


def pod_ready(pod: Mapping[str, Any]) -> bool:
    c = pod_condition(pod, "Ready")
    return c is not None and c.get("status") == "True"


def pod_ready_since(pod: Mapping[str, Any]) -> float:
    c = pod_condition(pod, "Ready")
    return timestamp(c.get("lastTransitionTime")) if c is not None else 0.0


def pod_available(pod: Mapping[str, Any], min_ready_seconds: int, now: float) -> bool:
    """Ready for at least `min_ready_seconds` (upstream IsPodAvailable)."""
    if not pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = pod_ready_since(pod)
    return since > 0 and since + min_ready_seconds <= now


def restart_count(pod: Mapping[str, Any]) -> int:
    counts = [int_value(cs.get("restartCount")) for cs in status(pod).get("containerStatuses") or []
              if isinstance(cs, Mapping)]
    return max(counts, default=0)


def controlled_by_index(obj: Object) -> list[str]:
    """Index function: the uid of the object's controller, if any (shared by every workload controller)."""
    ref = controller_ref(obj)
    return [str(ref["uid"])] if ref is not None and ref.get("uid") else []


# -- conditions -------------------------------------------------------------------------------------


def get_condition(status_obj: Mapping[str, Any], ctype: str) -> Object | None:
    for c in status_obj.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == ctype:
            return c
    return None


def set_condition(status_obj: Object, condition: Object) -> bool:
    """Upstream SetXCondition: same status and reason -> unchanged; same status -> keep the old
    lastTransitionTime; the new condition goes to the end. Returns whether anything changed."""
    conds: list[Object] = list(status_obj.get("conditions") or [])
    current = next((c for c in conds if c.get("type") == condition["type"]), None)
    if current is not None and current.get("status") == condition.get("status") \
            and current.get("reason") == condition.get("reason"):
        return False
    if current is not None and current.get("status") == condition.get("status") and "lastTransitionTime" in current:
        condition = {**condition, "lastTransitionTime": current["lastTransitionTime"]}
    status_obj["conditions"] = [c for c in conds if c.get("type") != condition["type"]] + [condition]
    return True


def remove_condition(status_obj: Object, ctype: str) -> bool:
    conds = list(status_obj.get("conditions") or [])
    kept = [c for c in conds if c.get("type") != ctype]
    if len(kept) == len(conds):
        return False
    if kept:
        status_obj["conditions"] = kept
    else:
        status_obj.pop("conditions", None)
    return True


# -- owner references -------------------------------------------------------------------------------


def controller_ref(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for ref in meta(obj).get("ownerReferences") or []:
        if isinstance(ref, Mapping) and ref.get("controller") is True:
            return ref
    return None


def new_controller_ref(owner: Mapping[str, Any], api_version: str, kind: str) -> Object:
    return {"apiVersion": api_version, "kind": kind, "name": name_of(owner), "uid": uid_of(owner),
            "controller": True, "blockOwnerDeletion": True}


def resolve_controller_ref(ref: Mapping[str, Any] | None, kind: str, get: Callable[[str], Object | None]) -> Object | None:
    """The owner `ref` names if it is of `kind`, the cache has it and its uid matches."""
    if ref is None or ref.get("kind") != kind:
        return None
    owner = get(str(ref.get("name", "")))
    if owner is None or uid_of(owner) != ref.get("uid"):
        return None
    return owner


class RefManager:
    """Adopts matching orphans and releases owned objects that stopped matching (upstream
    BaseControllerRefManager.ClaimObject), writing ownerReferences with strategic-merge patches that
    carry the object's uid as a precondition."""

    def __init__(self, client: Client, owner: Mapping[str, Any], selector: labels.Selector, *, api_version: str,
                 kind: str, can_adopt: Callable[[], Awaitable[None]]) -> None:
        self.client = client
        self.owner = owner
        self.selector = selector
        self.ref = new_controller_ref(owner, api_version, kind)
        self._can_adopt = can_adopt
        self._checked: Exception | bool | None = False

    async def _adoptable(self) -> bool:
        if self._checked is False:
            try:
                await self._can_adopt()
                self._checked = None
            except Exception as exc:
                self._checked = exc
        return self._checked is None

    async def claim(self, gvr: GVR, objects: Iterable[Object],
                    filter: Callable[[Object], bool] | None = None) -> list[Object]:
        """The objects the owner controls after adoption/release (the cached dicts, or patched copies)."""
        claimed: list[Object] = []
        owner_uid = uid_of(self.owner)
        for obj in objects:
            ref = controller_ref(obj)
            matches = self.selector.matches(meta(obj).get("labels")) and (filter is None or filter(obj))
            if ref is not None:
                if ref.get("uid") != owner_uid:
                    continue
                if matches:
                    claimed.append(obj)
                    continue
                if deleting(self.owner):
                    continue
                await self._release(gvr, obj)
                continue
            if not matches or deleting(self.owner) or deleting(obj):
                continue
            if not await self._adoptable():
                continue
            adopted = await self._adopt(gvr, obj)
            if adopted is not None:
                claimed.append(adopted)
        return claimed

    async def _adopt(self, gvr: GVR, obj: Object) -> Object | None:
        patch = {"metadata": {"ownerReferences": [self.ref], "uid": uid_of(obj)}}
        try:
            return await self.client.patch(gvr, name_of(obj), patch, namespace=namespace_of(obj),
                                           patch_type="strategic")
        except (NotFound, Conflict):
            return None
        except APIError as exc:
            if exc.code == 422:
                return None
            raise

    async def _release(self, gvr: GVR, obj: Object) -> None:
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": uid_of(self.owner)}],
                              "uid": uid_of(obj)}}
        try:
            await self.client.patch(gvr, name_of(obj), patch, namespace=namespace_of(obj), patch_type="strategic")
        except (NotFound, Conflict):
            pass
        except APIError as exc:
            if exc.code != 422:
                raise


def recheck_owner(client: Client, gvr: GVR, owner: Mapping[str, Any]) -> Callable[[], Awaitable[None]]:
    """The canAdopt check: a fresh read of the owner must have the same uid and no deletionTimestamp."""

    async def check() -> None:
        fresh = await client.get(gvr, name_of(owner), namespace=namespace_of(owner) or None)
        if uid_of(fresh) != uid_of(owner):
            raise RuntimeError(f"original {name_of(owner)} is gone: got uid {uid_of(fresh)}, wanted {uid_of(owner)}")
        if deleting(fresh):
            raise RuntimeError(f"{name_of(owner)} has just been deleted at {meta(fresh).get('deletionTimestamp')}")

    return check


# -- creating pods ----------------------------------------------------------------------------------


def pod_from_template(template: Mapping[str, Any], owner: Mapping[str, Any], ref: Object | None,
                      *, generate_name: str | None = None, name: str | None = None) -> Object:
    """A Pod from a pod template (upstream GetPodFromTemplate): labels, annotations, finalizers, spec."""
    tmeta = template.get("metadata") or {}
    pmeta: Object = {"namespace": namespace_of(owner)}
    if name:
        pmeta["name"] = name
    else:
        pmeta["generateName"] = generate_name if generate_name is not None else f"{name_of(owner)}-"
    for field in ("labels", "annotations"):
        if tmeta.get(field):
            pmeta[field] = dict(tmeta[field])
    if tmeta.get("finalizers"):
        pmeta["finalizers"] = list(tmeta["finalizers"])
    if ref is not None:
        pmeta["ownerReferences"] = [ref]
    pod_spec = orjson.loads(orjson.dumps(template.get("spec") or {}))
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pmeta, "spec": pod_spec}


async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, BaseException | None]:
    """Call `fn` `count` times in batches of 1, 2, 4, ... (each batch concurrently); stop after the
    first batch with a failure. Returns (successes, first error)."""
    remaining = count
    successes = 0
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        successes += batch - len(errors)
        if errors:
            return successes, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None


# -- hashing ----------------------------------------------------------------------------------------


def fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for b in data:
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def safe_encode(text: str) -> str:
    """Upstream rand.SafeEncodeString: every character mapped into the alphabet without vowels."""
    return "".join(SAFE_ALPHABET[ord(ch) % len(SAFE_ALPHABET)] for ch in text)


def compute_hash(template: Mapping[str, Any], collision_count: int | None) -> str:
    """pod-template-hash: FNV-32a over a canonical rendering of the template (sorted-key JSON; upstream
    hashes Go's dump of the struct), then the collision count as 4 little-endian bytes padded to 8,
    the decimal sum safe-encoded."""
    h = fnv32a(orjson.dumps(template, option=orjson.OPT_SORT_KEYS))
    if collision_count is not None:
        h = fnv32a(struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\x00" * 4, h)
    return safe_encode(str(h))


# -- int-or-percent --------------------------------------------------------------------------------


def scaled_value(value: Any, total: int, round_up: bool, default: int = 0) -> int:
    """Upstream intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return default
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError as exc:
            raise ValueError(f"invalid value for IntOrString: invalid value {value!r}") from exc
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError as exc:
            raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage") from exc
    raise ValueError(f"invalid value for IntOrString: {value!r}")


def round_half_away(x: float) -> int:
    return math.floor(x + 0.5) if x >= 0 else -math.floor(-x + 0.5)


def copy(obj: Mapping[str, Any]) -> Object:
    return copy_object(obj)


def owner_index(obj: Object) -> list[str]:
    """Index function (CONTROLLER_UID_INDEX): the controller's uid, or "orphan/<namespace>" for objects
    without a controller, so both owned objects and adoption candidates are found without a scan."""
    ref = controller_ref(obj)
    if ref is not None and ref.get("uid"):
        return [str(ref["uid"])]
    return [f"orphan/{namespace_of(obj)}"]


class PodControl:
    """Creates and deletes pods for a controller and records upstream's events about it."""

    PODS = GVR("", "v1", "pods")

    def __init__(self, client: Client, recorder: Any) -> None:
        self.client = client
        self.recorder = recorder

    async def create(self, owner: Mapping[str, Any], pod: Object) -> Object:
        if not (meta(pod).get("labels") or {}):
            raise ValueError("unable to create pods, no labels")
        try:
            created_pod = await self.client.create(self.PODS, pod, namespace=namespace_of(owner))
        except APIError as exc:
            self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {exc}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {name_of(created_pod)}")
        return created_pod

    async def delete(self, owner: Mapping[str, Any], namespace: str, name: str, uid: str | None = None) -> None:
        try:
            await self.client.delete(self.PODS, name, namespace=namespace,
                                     preconditions={"uid": uid} if uid else None)
        except NotFound:
            raise
        except APIError as exc:
            self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {exc}")
            raise
        self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")


async def update_status(client: Client, gvr: GVR, obj: Mapping[str, Any], new_status: Mapping[str, Any]) -> Object:
    """PUT `new_status` on a copy of `obj` through the status subresource; on a conflict re-read the
    object once and try again (upstream's statusUpdateRetries)."""
    target = copy(obj)
    target["status"] = copy(new_status)
    try:
        return await client.update_status(gvr, target, namespace=namespace_of(obj) or None)
    except Conflict:
        fresh = await client.get(gvr, name_of(obj), namespace=namespace_of(obj) or None)
        fresh["status"] = copy(new_status)
        return await client.update_status(gvr, fresh, namespace=namespace_of(obj) or None)
